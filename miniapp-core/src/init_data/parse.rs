//! `application/x-www-form-urlencoded` decoding of init data into sorted, unique fields.
//!
//! One pass over the input splits the pairs and decodes them into a scratch buffer on the stack;
//! the decoded pairs (except `hash`) are then copied, sorted by key, into one buffer laid out as
//! the data-check-string (`k=v` joined by `\n`). The HMAC runs over that buffer and the verified
//! result keeps it, so verification allocates a handful of times, not once per field.

use std::borrow::Cow;
use std::ops::Range;

use super::InitDataError;

/// Longest init data accepted, in bytes. Real init data is well under 4 KiB; the limit is checked
/// before anything else so an oversized input costs nothing.
pub const MAX_INIT_DATA_LEN: usize = 16 * 1024;

/// Most pairs accepted; Telegram sends about ten.
pub const MAX_PAIRS: usize = 64;

/// Decoded fields, sorted by key, in data-check-string layout.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Fields {
    /// `k=v` lines joined by `\n`, sorted by key, `hash` left out.
    buf: String,
    /// (key, value) byte ranges into `buf`, in key order.
    index: Vec<(Range<usize>, Range<usize>)>,
}

impl Fields {
    /// The value of `key`.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        // A dozen short keys: a length check before the bytes beats a binary search of memcmps.
        self.index
            .iter()
            .find(|(k, _)| k.len() == key.len() && &self.buf[k.clone()] == key)
            .map(|(_, v)| &self.buf[v.clone()])
    }

    /// The data-check-string of every field.
    pub(crate) fn data_check_string(&self) -> &str {
        &self.buf
    }

    /// The data-check-string without `key` (the Ed25519 message leaves `signature` out).
    pub(crate) fn data_check_string_without(&self, key: &str) -> String {
        let mut out = String::with_capacity(self.buf.len());
        for (k, v) in self.iter().filter(|(k, _)| *k != key) {
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(k);
            out.push('=');
            out.push_str(v);
        }
        out
    }

    /// All fields, sorted by key.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.index
            .iter()
            .map(|(k, v)| (&self.buf[k.clone()], &self.buf[v.clone()]))
    }

    /// Only the keys, for `Debug`.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &str> {
        self.index.iter().map(|(k, _)| &self.buf[k.clone()])
    }
}

/// The parse result: the fields and the decoded `hash`, if any.
pub(crate) struct Parsed<'a> {
    pub(crate) fields: Fields,
    pub(crate) hash: Option<Cow<'a, [u8]>>,
}

/// Decodes `raw`, rejecting malformed encoding and duplicate keys.
///
/// One pass over `raw` splits the pairs and decodes them, in input order, into a scratch buffer;
/// the pairs are then sorted by key and copied out in data-check-string layout.
pub(crate) fn parse(raw: &str) -> Result<Parsed<'_>, InitDataError> {
    if raw.len() > MAX_INIT_DATA_LEN {
        return Err(InitDataError::TooLarge {
            len: raw.len(),
            max: MAX_INIT_DATA_LEN,
        });
    }
    if raw.is_empty() {
        return Err(InitDataError::Malformed("empty init data"));
    }
    // Decoding never lengthens, so `raw.len()` bytes of scratch suffice. Typical init data fits
    // on the stack, which spares an allocation (one of the larger costs of a verification).
    let mut on_stack = [0; STACK_SCRATCH];
    let mut on_heap = Vec::new();
    let scratch = if raw.len() <= STACK_SCRATCH {
        &mut on_stack[..]
    } else {
        on_heap.resize(raw.len(), 0);
        &mut on_heap[..]
    };
    let mut index = Vec::with_capacity(12);
    let (hash_at, decoded_len) = split_and_decode(raw.as_bytes(), scratch, &mut index)?;
    let scratch = &*scratch;
    // Telegram's keys mostly differ in their first byte: comparing it first spares most calls to
    // `memcmp`, which showed in profiles.
    index.sort_unstable_by(|(a, _), (b, _)| {
        let (a, b) = (&scratch[a.clone()], &scratch[b.clone()]);
        a.first().cmp(&b.first()).then_with(|| a.cmp(b))
    });
    if let Some(w) = index
        .windows(2)
        .find(|w| scratch[w[0].0.clone()] == scratch[w[1].0.clone()])
    {
        return Err(InitDataError::DuplicateKey(super::shorten(
            &String::from_utf8_lossy(&scratch[w[0].0.clone()]),
        )));
    }
    // `hash` is not part of the data-check-string. Its raw value is decoded again on its own:
    // it is short and, as Telegram sends it, borrowed as it is.
    let hash = hash_at.map(|at| decode(&raw[at]));
    // Each pair adds its `=` and at most one `\n` to its decoded bytes.
    let mut buf = Vec::with_capacity(decoded_len + 2 * index.len());
    index.retain_mut(|(key, value)| {
        if scratch[key.clone()] == *b"hash" {
            return false;
        }
        if !buf.is_empty() {
            buf.push(b'\n');
        }
        let key_start = buf.len();
        buf.extend_from_slice(&scratch[key.clone()]);
        let key_end = buf.len();
        buf.push(b'=');
        buf.extend_from_slice(&scratch[value.clone()]);
        *key = key_start..key_end;
        *value = key_end + 1..buf.len();
        true
    });
    // One UTF-8 check for everything; the ranges fall on ASCII '=' and '\n', so on char boundaries.
    let buf = String::from_utf8(buf)
        .map_err(|_| InitDataError::Malformed("a value is not valid UTF-8"))?;
    Ok(Parsed {
        fields: Fields { buf, index },
        hash,
    })
}

/// Init data up to this long is decoded in a buffer on the stack. Telegram's is usually 300 to
/// 700 bytes (the longest real samples in the test vectors carry a photo URL and a signature).
const STACK_SCRATCH: usize = 1024;

/// Splits `raw` into pairs and decodes them into `out` (at least `raw.len()` bytes long), each key
/// followed by its value. Pushes the (key, value) ranges into `out` to `index`, in input order,
/// and returns the range of the raw `hash` value, if there is one, and the decoded length.
///
/// The separators are found in the same pass that decodes: `&` and the first `=` of a pair are
/// never part of an escape, and a separate scan for them (`split`) was a quarter of the parse's
/// time in profiles.
fn split_and_decode(
    raw: &[u8],
    out: &mut [u8],
    index: &mut Vec<(Range<usize>, Range<usize>)>,
) -> Result<(Option<Range<usize>>, usize), InitDataError> {
    let mut pairs = Pairs {
        index,
        hash_at: None,
        key_start: 0,
        value_at: None,
    };
    // `j <= i`: decoding never lengthens.
    let (mut i, mut j) = (0, 0);
    while i < raw.len() {
        let n = copy_literal(&raw[i..], &mut out[j..]);
        i += n;
        j += n;
        // Escapes mostly come in runs (`%22%3A%22` in the `user` JSON): decode them all here
        // rather than look for literal bytes between them.
        while let Some(&b) = raw.get(i).filter(|&&b| is_special(b)) {
            i += 1;
            let decoded = match b {
                b'&' => {
                    pairs.end(out, i - 1, j)?;
                    continue;
                }
                b'=' if pairs.value_at.is_none() => {
                    pairs.value_at = Some((j, i));
                    continue;
                }
                b'+' => b' ',
                b'%' => match escaped_byte(raw, i) {
                    Some(byte) => {
                        i += 2;
                        byte
                    }
                    None => literal_percent(),
                },
                _ => b,
            };
            if let Some(slot) = out.get_mut(j) {
                *slot = decoded;
            }
            j += 1;
        }
    }
    pairs.end(out, raw.len(), j)?;
    Ok((pairs.hash_at, j))
}

/// The pairs found so far and the bounds of the one being read.
struct Pairs<'a> {
    index: &'a mut Vec<(Range<usize>, Range<usize>)>,
    hash_at: Option<Range<usize>>,
    /// Where the decoded key starts.
    key_start: usize,
    /// Once its `=` is seen: where the decoded value starts and where the raw value starts.
    value_at: Option<(usize, usize)>,
}

impl Pairs<'_> {
    /// Ends the pair being read: its raw value ends at `raw_end`, its decoded value at `end`.
    /// The checks and their order are those of splitting on `&`, then on the first `=`.
    fn end(&mut self, out: &[u8], raw_end: usize, end: usize) -> Result<(), InitDataError> {
        if self.index.len() == MAX_PAIRS {
            return Err(InitDataError::Malformed("too many pairs"));
        }
        let (value_start, raw_value_start) = self
            .value_at
            .take()
            .ok_or(InitDataError::Malformed("a pair has no '='"))?;
        if value_start == self.key_start {
            return Err(InitDataError::Malformed("a pair has an empty key"));
        }
        let key = self.key_start..value_start;
        if out[key.clone()] == *b"hash" {
            self.hash_at = Some(raw_value_start..raw_end);
        }
        self.index.push((key, value_start..end));
        self.key_start = end;
        Ok(())
    }
}

/// The bytes that end a run of literal bytes: `%`, `+` and the separators.
fn is_special(b: u8) -> bool {
    matches!(b, b'%' | b'+' | b'&' | b'=')
}

/// Copies the literal bytes at the start of `raw` to `out`, up to the first special byte or the end
/// of either; returns how many. Eight bytes are copied at a time, then the count is cut back to the
/// first special byte among them (the bytes after it are overwritten later): the runs are usually
/// long (the signature, the hash, the words of the `user` JSON), and a byte loop's exit was one
/// branch misprediction per run.
fn copy_literal(raw: &[u8], out: &mut [u8]) -> usize {
    let mut n = 0;
    for (src, dst) in raw.as_chunks().0.iter().zip(out.as_chunks_mut().0) {
        *dst = *src;
        if let Some(literal) = literal_prefix(src) {
            return n + literal;
        }
        n += 8;
    }
    while let (Some(&b), Some(slot)) = (raw.get(n), out.get_mut(n)) {
        if is_special(b) {
            break;
        }
        *slot = b;
        n += 1;
    }
    n
}

/// How many bytes of `word` come before its first special byte, if it has one.
fn literal_prefix(word: &[u8; 8]) -> Option<usize> {
    first_of(word, b"%+&=", 0)
}

/// The index of the first byte of `word` that is one of `bytes` or less than `below`, eight
/// bytes at a time with the usual bit tricks: `(y - 0x0101..) & !y & 0x8080..` flags the zero
/// bytes of `y`, `(y - n * 0x0101..) & !y & 0x8080..` the bytes less than `n` (`n <= 0x80`). A
/// borrow can flag a byte above a flagged one wrongly, never below, so the lowest flag is right.
pub(super) fn first_of(word: &[u8; 8], bytes: &[u8], below: u8) -> Option<usize> {
    const HIGH_BITS: u64 = u64::from_le_bytes([0x80; 8]);
    let x = u64::from_le_bytes(*word);
    let less_than = |y: u64, n: u8| y.wrapping_sub(u64::from_le_bytes([n; 8])) & !y & HIGH_BITS;
    let flags = bytes.iter().fold(less_than(x, below), |flags, &b| {
        flags | less_than(x ^ u64::from_le_bytes([b; 8]), 1)
    });
    // The first byte in memory is the lowest in a little-endian load.
    (flags != 0).then(|| flags.trailing_zeros() as usize / 8)
}

/// Form decoding: `+` is a space, `%XX` is a byte. A `%` not followed by two hex digits stays as
/// it is (the WHATWG and Python behaviour). UTF-8 is checked by the caller.
fn decode(s: &str) -> Cow<'_, [u8]> {
    // Checked eight bytes at a time: this runs on every hash.
    let (words, rest) = s.as_bytes().as_chunks();
    let plain = words.iter().all(|word| first_of(word, b"%+", 0).is_none())
        && !rest.iter().any(|&b| b == b'%' || b == b'+');
    if plain {
        return Cow::Borrowed(s.as_bytes());
    }
    let mut out = Vec::with_capacity(s.len());
    decode_into(&mut out, s);
    Cow::Owned(out)
}

/// Decodes `s` onto the end of `out`. Only a `hash` value with escapes comes here (the pairs are
/// decoded by [`split_and_decode`]); the tests compare it with the `percent_encoding` crate.
fn decode_into(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    let start = out.len();
    // Decoding never lengthens: write into a zeroed tail by index, then cut it to size.
    out.resize(start + bytes.len(), 0);
    let dst = &mut out[start..];
    let (mut i, mut j) = (0, 0);
    while let (Some(&b), Some(slot)) = (bytes.get(i), dst.get_mut(j)) {
        j += 1;
        i += 1;
        *slot = match b {
            b'+' => b' ',
            b'%' => match escaped_byte(bytes, i) {
                Some(byte) => {
                    i += 2;
                    byte
                }
                None => literal_percent(),
            },
            _ => b,
        };
    }
    out.truncate(start + j);
}

/// The byte that the two hex digits at `raw[at..]` stand for, if they are there: a `%` not
/// followed by two hex digits stays literal.
fn escaped_byte(raw: &[u8], at: usize) -> Option<u8> {
    // One table lookup per digit, and one test for both.
    let hi = raw.get(at).map_or(INVALID, |&h| HEX[usize::from(h)]);
    let lo = raw.get(at + 1).map_or(INVALID, |&l| HEX[usize::from(l)]);
    ((hi | lo) & INVALID == 0).then_some(hi << 4 | lo)
}

/// A `%` that does not start an escape. Cold, so that the compiler branches on whether the
/// digits are hex (a branch the processor predicts) rather than select the next position with a
/// conditional move: that put two dependent loads between one escape and the next in a run.
#[cold]
#[inline(never)]
fn literal_percent() -> u8 {
    b'%'
}

/// Marks a byte that is not a hex digit in [`HEX`] and [`LOWER_HEX`].
pub(super) const INVALID: u8 = 0x10;

/// The value of each hex digit byte, [`INVALID`] for every other byte.
static HEX: [u8; 256] = hex_table(true);

/// As [`HEX`], lower-case digits only.
pub(super) static LOWER_HEX: [u8; 256] = hex_table(false);

const fn hex_table(upper_case: bool) -> [u8; 256] {
    let mut table = [INVALID; 256];
    let mut d: u8 = 0;
    while d < 10 {
        table[(b'0' + d) as usize] = d;
        d += 1;
    }
    let mut d: u8 = 0;
    while d < 6 {
        table[(b'a' + d) as usize] = 10 + d;
        if upper_case {
            table[(b'A' + d) as usize] = 10 + d;
        }
        d += 1;
    }
    table
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn pairs(raw: &str) -> Result<Vec<(String, String)>, InitDataError> {
        parse(raw).map(|p| {
            p.fields
                .iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        })
    }

    #[test]
    fn decodes_plus_and_percent() {
        let p = pairs("b=a+b%20c&a=%D0%9F%F0%9F%98%80").unwrap();
        assert_eq!(
            p,
            [("a".into(), "П😀".into()), ("b".into(), "a b c".into())]
        );
    }

    #[test]
    fn keeps_empty_values_and_literal_percent() {
        let p = pairs("start_param=&x=100%&y=%zz").unwrap();
        assert_eq!(p[0], ("start_param".into(), String::new()));
        assert_eq!(p[1], ("x".into(), "100%".into()));
        assert_eq!(p[2], ("y".into(), "%zz".into()));
    }

    #[test]
    fn hash_is_kept_apart_and_the_rest_is_the_data_check_string() {
        let p = parse("b=2&hash=ab%63&a=1&c=").unwrap();
        assert_eq!(p.hash.as_deref(), Some(&b"abc"[..]));
        assert_eq!(p.fields.data_check_string(), "a=1\nb=2\nc=");
        assert_eq!(p.fields.data_check_string_without("b"), "a=1\nc=");
        assert_eq!(p.fields.data_check_string_without("a"), "b=2\nc=");
        assert_eq!(p.fields.data_check_string_without("c"), "a=1\nb=2");
        assert_eq!(p.fields.get("c"), Some(""));
        assert_eq!(p.fields.get("hash"), None);
    }

    #[test]
    fn rejects_malformed() {
        assert!(matches!(pairs(""), Err(InitDataError::Malformed(_))));
        assert!(matches!(pairs("a"), Err(InitDataError::Malformed(_))));
        assert!(matches!(
            pairs("a=1&&b=2"),
            Err(InitDataError::Malformed(_))
        ));
        assert!(matches!(pairs("=1"), Err(InitDataError::Malformed(_))));
        assert!(matches!(pairs("a=%FF"), Err(InitDataError::Malformed(_))));
        assert!(matches!(pairs("%FF=1"), Err(InitDataError::Malformed(_))));
        assert!(matches!(pairs("a=1&b=2&a=3"), Err(InitDataError::DuplicateKey(k)) if k == "a"));
        assert!(matches!(
            pairs("a=1&%61=2"),
            Err(InitDataError::DuplicateKey(_))
        ));
        assert!(matches!(
            pairs("hash=1&hash=2"),
            Err(InitDataError::DuplicateKey(_))
        ));
    }

    #[test]
    fn decoding_matches_the_percent_encoding_crate() {
        for sample in [
            "a%20b+c",
            "%",
            "%4",
            "%4g",
            "%%41",
            "x%E2%82%ACy",
            "+++",
            "%2B%2b",
            "plain",
        ] {
            let reference: Vec<u8> =
                percent_encoding::percent_decode(sample.replace('+', " ").as_bytes()).collect();
            assert_eq!(&*decode(sample), reference.as_slice(), "{sample}");
        }
    }

    #[test]
    fn bounded() {
        let big = "a=".to_owned() + &"x".repeat(MAX_INIT_DATA_LEN);
        assert!(matches!(pairs(&big), Err(InitDataError::TooLarge { .. })));
        let many: Vec<String> = (0..=MAX_PAIRS).map(|i| format!("k{i}=v")).collect();
        assert!(matches!(
            pairs(&many.join("&")),
            Err(InitDataError::Malformed(_))
        ));
    }

    /// The parse as it was first written: split on `&`, then on the first `=`, then decode each
    /// part with the `percent_encoding` crate. The single-pass parser must agree with it on
    /// every input, errors included.
    #[allow(clippy::type_complexity)]
    fn reference(
        raw: &str,
    ) -> Result<(Vec<(String, String)>, String, Option<Vec<u8>>), InitDataError> {
        let decode = |s: &str| -> Vec<u8> {
            percent_encoding::percent_decode(s.replace('+', " ").as_bytes()).collect()
        };
        if raw.len() > MAX_INIT_DATA_LEN {
            return Err(InitDataError::TooLarge {
                len: raw.len(),
                max: MAX_INIT_DATA_LEN,
            });
        }
        if raw.is_empty() {
            return Err(InitDataError::Malformed("empty init data"));
        }
        let mut pairs = Vec::new();
        for segment in raw.split('&') {
            if pairs.len() == MAX_PAIRS {
                return Err(InitDataError::Malformed("too many pairs"));
            }
            let (key, value) = segment
                .split_once('=')
                .ok_or(InitDataError::Malformed("a pair has no '='"))?;
            let key = decode(key);
            if key.is_empty() {
                return Err(InitDataError::Malformed("a pair has an empty key"));
            }
            pairs.push((key, decode(value)));
        }
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        if let Some(w) = pairs.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(InitDataError::DuplicateKey(super::super::shorten(
                &String::from_utf8_lossy(&w[0].0),
            )));
        }
        let hash = pairs
            .iter()
            .position(|(k, _)| k == b"hash")
            .map(|at| pairs.remove(at).1);
        let fields = pairs
            .into_iter()
            .map(|(k, v)| Ok((String::from_utf8(k)?, String::from_utf8(v)?)))
            .collect::<Result<Vec<_>, std::string::FromUtf8Error>>()
            .map_err(|_| InitDataError::Malformed("a value is not valid UTF-8"))?;
        let dcs = fields
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("\n");
        Ok((fields, dcs, hash))
    }

    fn assert_matches_reference(raw: &str) {
        let ours = parse(raw).map(|p| {
            let fields: Vec<(String, String)> = p
                .fields
                .iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
            let dcs = p.fields.data_check_string().to_owned();
            for (k, v) in &fields {
                assert_eq!(p.fields.get(k), Some(v.as_str()), "{raw:?}");
            }
            (fields, dcs, p.hash.map(|h| h.into_owned()))
        });
        assert_eq!(ours, reference(raw), "{raw:?}");
    }

    /// A key, sometimes `hash`, sometimes encoded, sometimes repeated or empty.
    fn key() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("hash".to_owned()),
            Just("ha%73h".to_owned()),
            Just(String::new()),
            "[a-c]{1,2}",
            "[a-c%+=]{1,4}",
            "%6[1-3]",
        ]
    }

    /// A value mixing literal bytes, valid and broken escapes, `+`, `=`, `&` and non-ASCII text.
    fn value() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            "[a-zA-Z0-9.~_-]{1,12}",
            "%[0-9A-Fa-f]{2}",
            "%[0-9A-Fa-f]?[g-z+%&=]?",
            Just("%C3%A9".to_owned()),
            Just("%F0%9F%98%80".to_owned()),
            Just("%FF".to_owned()),
            Just("%C3".to_owned()),
            "[+=é😀 ]",
        ];
        prop::collection::vec(piece, 0..12).prop_map(|pieces| pieces.concat())
    }

    fn init_data() -> impl Strategy<Value = String> {
        let pair = prop_oneof![
            8 => (key(), value()).prop_map(|(k, v)| format!("{k}={v}")),
            1 => value(),
        ];
        prop_oneof![
            4 => prop::collection::vec(pair, 1..10).prop_map(|pairs| pairs.join("&")),
            1 => "[a-c%+&=0-9A-Fé]{0,40}",
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 3000, ..Default::default() })]

        #[test]
        fn single_pass_matches_split_then_decode(raw in init_data()) {
            assert_matches_reference(&raw);
        }

        /// Init data too long for the buffer on the stack.
        #[test]
        fn long_init_data_matches_split_then_decode(raw in init_data(), filler in value()) {
            let raw = format!("{raw}&z={}", filler.repeat(STACK_SCRATCH / filler.len().max(1) + 1));
            assert_matches_reference(&raw);
        }

        #[test]
        fn first_of_finds_the_first_byte(word in proptest::array::uniform8(prop_oneof![
            Just(b'%'), Just(b'+'), Just(b'&'), Just(b'='), Just(b'"'), Just(b'\\'),
            0u8..0x21, 0x7fu8..=0x81, any::<u8>(), any::<u8>(), any::<u8>(),
        ])) {
            let naive = |found: &dyn Fn(u8) -> bool| word.iter().position(|&b| found(b));
            prop_assert_eq!(first_of(&word, b"%+&=", 0), naive(&|b| is_special(b)));
            prop_assert_eq!(
                first_of(&word, b"\"\\", 0x20),
                naive(&|b| b == b'"' || b == b'\\' || b < 0x20)
            );
        }
    }

    #[test]
    fn single_pass_edge_cases() {
        for raw in [
            "a=1",
            "a=",
            "a==",
            "a=b=c&d=%3D",
            "%61=1&b=2",
            "a=1&",
            "&a=1",
            "a",
            "=",
            "a=%",
            "a=%4",
            "a=%%41",
            "a=%2",
            "hash=ab%63&a=1",
            "hash=%FF&a=1",
            "a=%FF&hash=1",
            "a=1&a=%FF",
            "h=1&hash=2&hash=3",
            "a+b=c+d",
            "a=12345678&b=123456789abcdef%20&c=%41%42%43%44%45%46%47%48%49",
            "user=%7B%22id%22%3A1%7D&auth_date=1&hash=00",
        ] {
            assert_matches_reference(raw);
        }
        let pairs = |n: usize| (0..n).map(|i| format!("k{i}=v")).collect::<Vec<_>>();
        for n in [MAX_PAIRS - 1, MAX_PAIRS, MAX_PAIRS + 1] {
            assert_matches_reference(&pairs(n).join("&"));
            assert_matches_reference(&(pairs(n).join("&") + "&x"));
            assert_matches_reference(&(pairs(n).join("&") + "&k0=v"));
        }
    }
}
