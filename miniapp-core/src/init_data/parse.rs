//! `application/x-www-form-urlencoded` decoding of init data into sorted, unique pairs.

use std::borrow::Cow;

use percent_encoding::percent_decode;

use super::InitDataError;

/// Longest init data accepted, in bytes. Real init data is well under 4 KiB; the limit is checked
/// before anything else so an oversized input costs nothing.
pub const MAX_INIT_DATA_LEN: usize = 16 * 1024;

/// Most pairs accepted; Telegram sends about ten.
pub const MAX_PAIRS: usize = 64;

/// One decoded `key=value` pair.
pub(crate) type Pair<'a> = (Cow<'a, str>, Cow<'a, str>);

/// Decodes `raw` into pairs sorted by key, rejecting malformed encoding and duplicate keys.
pub(crate) fn sorted_pairs(raw: &str) -> Result<Vec<Pair<'_>>, InitDataError> {
    if raw.len() > MAX_INIT_DATA_LEN {
        return Err(InitDataError::TooLarge {
            len: raw.len(),
            max: MAX_INIT_DATA_LEN,
        });
    }
    if raw.is_empty() {
        return Err(InitDataError::Malformed("empty init data"));
    }
    let mut pairs = Vec::with_capacity(12);
    for segment in raw.split('&') {
        if pairs.len() == MAX_PAIRS {
            return Err(InitDataError::Malformed("too many pairs"));
        }
        let (key, value) = segment
            .split_once('=')
            .ok_or(InitDataError::Malformed("a pair has no '='"))?;
        let key = decode(key)?;
        if key.is_empty() {
            return Err(InitDataError::Malformed("a pair has an empty key"));
        }
        pairs.push((key, decode(value)?));
    }
    pairs.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    if let Some(w) = pairs.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(InitDataError::DuplicateKey(super::shorten(&w[0].0)));
    }
    Ok(pairs)
}

/// Form decoding: `+` is a space, `%XX` is a byte, and the result must be UTF-8. A `%` not followed
/// by two hex digits stays as it is (the WHATWG and Python behaviour).
fn decode(s: &str) -> Result<Cow<'_, str>, InitDataError> {
    if !s.bytes().any(|b| b == b'%' || b == b'+') {
        return Ok(Cow::Borrowed(s));
    }
    let spaced: Cow<'_, [u8]> = if s.contains('+') {
        Cow::Owned(
            s.bytes()
                .map(|b| if b == b'+' { b' ' } else { b })
                .collect(),
        )
    } else {
        Cow::Borrowed(s.as_bytes())
    };
    let bytes: Vec<u8> = percent_decode(&spaced).collect();
    String::from_utf8(bytes)
        .map(Cow::Owned)
        .map_err(|_| InitDataError::Malformed("a value is not valid UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(raw: &str) -> Result<Vec<(String, String)>, InitDataError> {
        sorted_pairs(raw).map(|v| v.into_iter().map(|(k, v)| (k.into(), v.into())).collect())
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
    fn rejects_malformed() {
        assert!(matches!(pairs(""), Err(InitDataError::Malformed(_))));
        assert!(matches!(pairs("a"), Err(InitDataError::Malformed(_))));
        assert!(matches!(
            pairs("a=1&&b=2"),
            Err(InitDataError::Malformed(_))
        ));
        assert!(matches!(pairs("=1"), Err(InitDataError::Malformed(_))));
        assert!(matches!(pairs("a=%FF"), Err(InitDataError::Malformed(_))));
        assert!(matches!(pairs("a=1&b=2&a=3"), Err(InitDataError::DuplicateKey(k)) if k == "a"));
        assert!(matches!(
            pairs("a=1&%61=2"),
            Err(InitDataError::DuplicateKey(_))
        ));
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
