//! `application/x-www-form-urlencoded` decoding of init data into sorted, unique fields.
//!
//! The decoded pairs (except `hash`) are written once, sorted by key, into one buffer laid out as
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
    let mut pairs: Vec<(Cow<'_, [u8]>, &str)> = Vec::with_capacity(12);
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
        pairs.push((key, value));
    }
    pairs.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    if let Some(w) = pairs.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(InitDataError::DuplicateKey(super::shorten(
            &String::from_utf8_lossy(&w[0].0),
        )));
    }
    let mut buf = Vec::with_capacity(raw.len());
    let mut index = Vec::with_capacity(pairs.len());
    let mut hash = None;
    for (key, value) in pairs {
        if &*key == b"hash" {
            hash = Some(decode(value));
            continue;
        }
        if !buf.is_empty() {
            buf.push(b'\n');
        }
        let key_start = buf.len();
        buf.extend_from_slice(&key);
        let key_end = buf.len();
        buf.push(b'=');
        decode_into(&mut buf, value);
        index.push((key_start..key_end, key_end + 1..buf.len()));
    }
    // One UTF-8 check for everything; the ranges fall on ASCII '=' and '\n', so on char boundaries.
    let buf = String::from_utf8(buf)
        .map_err(|_| InitDataError::Malformed("a value is not valid UTF-8"))?;
    Ok(Parsed {
        fields: Fields { buf, index },
        hash,
    })
}

/// Form decoding: `+` is a space, `%XX` is a byte. A `%` not followed by two hex digits stays as
/// it is (the WHATWG and Python behaviour). UTF-8 is checked by the caller.
fn decode(s: &str) -> Cow<'_, [u8]> {
    if !s.bytes().any(|b| b == b'%' || b == b'+') {
        return Cow::Borrowed(s.as_bytes());
    }
    let mut out = Vec::with_capacity(s.len());
    decode_into(&mut out, s);
    Cow::Owned(out)
}

/// Written out rather than chained from `percent_encoding` iterators: writing by index into a
/// pre-sized buffer with a hex lookup table is about three times as fast on the `%`-dense `user` JSON, and verification speed is
/// a stated target (benches/README.md). The tests compare it with the `percent_encoding` crate.
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
            b'%' => {
                // One table lookup per digit; both must be hex or the `%` stays literal.
                let hi = bytes.get(i).map_or(INVALID, |&h| HEX[usize::from(h)]);
                let lo = bytes.get(i + 1).map_or(INVALID, |&l| HEX[usize::from(l)]);
                if (hi | lo) & INVALID == 0 {
                    i += 2;
                    hi << 4 | lo
                } else {
                    b'%'
                }
            }
            _ => b,
        };
    }
    out.truncate(start + j);
}

/// Marks a byte that is not a hex digit in [`HEX`].
const INVALID: u8 = 0x10;

/// The value of each hex digit byte, [`INVALID`] for every other byte.
static HEX: [u8; 256] = {
    let mut table = [INVALID; 256];
    let mut d: u8 = 0;
    while d < 10 {
        table[(b'0' + d) as usize] = d;
        d += 1;
    }
    let mut d: u8 = 0;
    while d < 6 {
        table[(b'a' + d) as usize] = 10 + d;
        table[(b'A' + d) as usize] = 10 + d;
        d += 1;
    }
    table
};

#[cfg(test)]
mod tests {
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
}
