//! A fast path for reading a [`WebAppUser`] from JSON as Telegram writes it: one object, no
//! whitespace, known keys once each, integers, booleans and strings with short escapes.
//!
//! It answers `None` for anything else, and the caller then asks `serde_json`, so the result and
//! the errors are `serde_json`'s; this path only ever returns what `serde_json` would. It exists
//! because `serde_json`'s generic machinery was a fifth of a verification, as much as the HMAC.

use super::parse::first_of;
use super::types::WebAppUser;

/// The user `json` describes, or `None` if the fast path does not handle it. A field added to
/// [`WebAppUser`] must be added here too (the struct literal below stops compiling until it is).
pub(super) fn parse_user(json: &str) -> Option<WebAppUser> {
    let mut json = Cursor { json, at: 0 };
    let mut user = WebAppUser {
        id: 0,
        is_bot: None,
        first_name: String::new(),
        last_name: None,
        username: None,
        language_code: None,
        is_premium: None,
        added_to_attachment_menu: None,
        allows_write_to_pm: None,
        photo_url: None,
    };
    json.expect(b'{')?;
    // One bit per field, to refuse duplicates (an error for `serde_json`) and require `id`.
    let mut seen = 0u16;
    loop {
        let key = json.key()?;
        json.expect(b':')?;
        let bit = match key {
            "id" => {
                user.id = json.integer()?;
                1
            }
            "is_bot" => {
                user.is_bot = json.optional_bool()?;
                1 << 1
            }
            "first_name" => {
                user.first_name = json.string()?;
                1 << 2
            }
            "last_name" => {
                user.last_name = json.optional_string()?;
                1 << 3
            }
            "username" => {
                user.username = json.optional_string()?;
                1 << 4
            }
            "language_code" => {
                user.language_code = json.optional_string()?;
                1 << 5
            }
            "is_premium" => {
                user.is_premium = json.optional_bool()?;
                1 << 6
            }
            "added_to_attachment_menu" => {
                user.added_to_attachment_menu = json.optional_bool()?;
                1 << 7
            }
            "allows_write_to_pm" => {
                user.allows_write_to_pm = json.optional_bool()?;
                1 << 8
            }
            "photo_url" => {
                user.photo_url = json.optional_string()?;
                1 << 9
            }
            // `serde_json` skips unknown fields; that is its job, not this path's.
            _ => return None,
        };
        if seen & bit != 0 {
            return None;
        }
        seen |= bit;
        match json.next()? {
            b',' => {}
            b'}' => break,
            _ => return None,
        }
    }
    (json.at == json.json.len() && seen & 1 != 0).then_some(user)
}

/// A position in the JSON text.
struct Cursor<'a> {
    json: &'a str,
    at: usize,
}

impl<'a> Cursor<'a> {
    fn next(&mut self) -> Option<u8> {
        let b = *self.json.as_bytes().get(self.at)?;
        self.at += 1;
        Some(b)
    }

    fn expect(&mut self, expected: u8) -> Option<()> {
        (self.next()? == expected).then_some(())
    }

    fn rest(&self) -> &'a [u8] {
        self.json.as_bytes().get(self.at..).unwrap_or_default()
    }

    /// Whether the text goes on with `word`, consuming it if so.
    fn eat(&mut self, word: &str) -> bool {
        let found = self.rest().starts_with(word.as_bytes());
        if found {
            self.at += word.len();
        }
        found
    }

    /// A key: a string without escapes (`serde_json` would unescape it before matching).
    fn key(&mut self) -> Option<&'a str> {
        let (raw, escaped) = self.raw_string()?;
        (!escaped).then_some(raw)
    }

    /// `-?[1-9][0-9]{0,17}` or `0`: always within `i64`, and read by `serde_json` the same way.
    /// Anything else (`-0`, leading zeros, larger numbers) is left to it, and so is a fraction or
    /// an exponent: the caller then finds no `,` or `}`.
    fn integer(&mut self) -> Option<i64> {
        let negative = self.eat("-");
        let digits = self
            .rest()
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        let text = self.json.get(self.at..self.at + digits)?;
        let plain = match text.as_bytes() {
            [b'0'] => !negative,
            [b'1'..=b'9', ..] => digits <= 18,
            _ => false,
        };
        if !plain {
            return None;
        }
        self.at += digits;
        let value: i64 = text.parse().ok()?;
        Some(if negative { -value } else { value })
    }

    fn optional_bool(&mut self) -> Option<Option<bool>> {
        if self.eat("true") {
            Some(Some(true))
        } else if self.eat("false") {
            Some(Some(false))
        } else if self.eat("null") {
            Some(None)
        } else {
            None
        }
    }

    fn optional_string(&mut self) -> Option<Option<String>> {
        if self.eat("null") {
            Some(None)
        } else {
            self.string().map(Some)
        }
    }

    /// A string, unescaped. `\u` escapes are left to `serde_json` (surrogate pairs).
    fn string(&mut self) -> Option<String> {
        let (raw, escaped) = self.raw_string()?;
        if !escaped {
            return Some(raw.to_owned());
        }
        let mut out = String::with_capacity(raw.len());
        let mut rest = raw;
        // Escapes are few and the text between them short: a byte search beats `memchr` calls.
        while let Some(at) = rest.bytes().position(|b| b == b'\\') {
            out.push_str(&rest[..at]);
            let mut after = rest[at + 1..].chars();
            out.push(match after.next()? {
                '"' => '"',
                '\\' => '\\',
                '/' => '/',
                'b' => '\u{8}',
                'f' => '\u{c}',
                'n' => '\n',
                'r' => '\r',
                't' => '\t',
                _ => return None,
            });
            rest = after.as_str();
        }
        out.push_str(rest);
        Some(out)
    }

    /// The text between a pair of quotes, and whether it has a backslash. Control characters
    /// (an error for `serde_json`) end the fast path.
    fn raw_string(&mut self) -> Option<(&'a str, bool)> {
        self.expect(b'"')?;
        let start = self.at;
        let mut escaped = false;
        loop {
            self.at += plain_prefix(self.rest());
            match self.next()? {
                b'"' => break,
                b'\\' => {
                    escaped = true;
                    self.next()?;
                }
                _ => return None,
            }
        }
        // The quotes are ASCII, so the range falls on character boundaries.
        Some((self.json.get(start..self.at - 1)?, escaped))
    }
}

/// How many bytes at the start of `text` are neither a quote, a backslash nor a control
/// character; eight at a time, as `serde_json` does.
fn plain_prefix(text: &[u8]) -> usize {
    let (words, tail) = text.as_chunks();
    let mut n = 0;
    for word in words {
        if let Some(plain) = first_of(word, b"\"\\", 0x20) {
            return n + plain;
        }
        n += 8;
    }
    n + tail
        .iter()
        .take_while(|&&b| b != b'"' && b != b'\\' && b >= 0x20)
        .count()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// What `serde_json` makes of `json`, which the fast path must match whenever it answers.
    fn serde(json: &str) -> Option<WebAppUser> {
        serde_json::from_str(json).ok()
    }

    fn assert_agrees(json: &str) {
        if let Some(fast) = parse_user(json) {
            assert_eq!(Some(fast), serde(json), "{json}");
        }
    }

    #[test]
    fn telegram_users_take_the_fast_path() {
        for json in [
            r#"{"id":279058397,"first_name":"Vladislav + - ? \/","last_name":"Kibenko","username":"vdkfrost","language_code":"ru","is_premium":true,"allows_write_to_pm":true,"photo_url":"https:\/\/t.me\/i\/userpic\/320\/4FPEE4tmP3ATHa57u6MqTDih13LTOiMoKoLDRG4PnSA.svg"}"#,
            r#"{"id":1,"is_bot":false,"first_name":"","last_name":null,"username":null}"#,
            r#"{"first_name":"Ann \"A\" \\ B\n\t","id":-42,"added_to_attachment_menu":false}"#,
            r#"{"id":0,"first_name":"Пётр 😀","is_premium":null}"#,
            r#"{"id":999999999999999999}"#,
        ] {
            let fast = parse_user(json);
            assert!(fast.is_some(), "{json}");
            assert_eq!(fast, serde(json), "{json}");
        }
    }

    #[test]
    fn anything_else_is_left_to_serde_json() {
        for json in [
            "",
            "{}",
            "[]",
            r#"[1,"a"]"#,
            r#" {"id":1}"#,
            r#"{"id":1} "#,
            r#"{"id": 1}"#,
            r#"{"id":1,}"#,
            r#"{"id":1}x"#,
            r#"{"id":1,"id":2}"#,
            r#"{"id":1,"other":2}"#,
            r#"{"i\u0064":1}"#,
            r#"{"id":-0}"#,
            r#"{"id":01}"#,
            r#"{"id":1.0}"#,
            r#"{"id":1e3}"#,
            r#"{"id":9223372036854775807}"#,
            r#"{"id":"1"}"#,
            r#"{"id":1,"first_name":null}"#,
            r#"{"id":1,"first_name":"\u00e9"}"#,
            r#"{"id":1,"first_name":"a\qb"}"#,
            "{\"id\":1,\"first_name\":\"a\u{1}b\"}",
            r#"{"id":1,"is_bot":"true"}"#,
            r#"{"id":1,"is_bot":truex}"#,
            r#"{"first_name":"Ann"}"#,
            r#"{"id":1,"first_name":"Ann"#,
        ] {
            assert_eq!(parse_user(json), None, "{json}");
        }
    }

    fn string() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            8 => "[a-zA-Z0-9 .:-]{1,6}",
            4 => r#"\\["\\/bfnrt]"#,
            2 => "[é😀\u{7f}]",
            1 => r"\\[qu0x]",
            1 => Just(r"\u00e9".to_owned()),
            1 => Just(r"\ud83d\ude00".to_owned()),
            1 => "[\u{0}\u{1}\u{1f}]",
        ];
        prop::collection::vec(piece, 0..6).prop_map(|p| format!("\"{}\"", p.concat()))
    }

    /// A JSON value for a field of type `kind`, mostly of that type.
    fn value(kind: &'static str) -> impl Strategy<Value = String> {
        let odd = prop::sample::select(
            "-0 01 1.5 1e3 1E3 - 1000000000000000000 9223372036854775807 9223372036854775808 \
             -9223372036854775808 \"1\" null nul true truex \"true\" [] {} 1"
                .split(' ')
                .collect::<Vec<_>>(),
        )
        .prop_map(str::to_owned);
        let typical = match kind {
            "int" => (-999_999_999_999_999_999i64..=999_999_999_999_999_999)
                .prop_map(|n| n.to_string())
                .boxed(),
            "bool" => prop::sample::select(vec!["true", "false", "null"])
                .prop_map(str::to_owned)
                .boxed(),
            "string" => string().boxed(),
            _ => prop_oneof![Just("null".to_owned()), string()].boxed(),
        };
        prop_oneof![8 => typical, 1 => any::<i64>().prop_map(|n| n.to_string()), 1 => odd]
    }

    /// Objects close to a user: each field present or not, in any order, sometimes a field twice,
    /// an unknown one, whitespace, or bad punctuation.
    fn object() -> impl Strategy<Value = String> {
        let fields = [
            ("id", "int"),
            ("is_bot", "bool"),
            ("first_name", "string"),
            ("last_name", "optional string"),
            ("username", "optional string"),
            ("language_code", "optional string"),
            ("is_premium", "bool"),
            ("added_to_attachment_menu", "bool"),
            ("allows_write_to_pm", "bool"),
            ("photo_url", "optional string"),
        ];
        let members: Vec<_> = fields
            .iter()
            .map(|&(name, kind)| {
                let weight = if name == "id" { 0.95 } else { 0.5 };
                prop::option::weighted(weight, value(kind))
                    .prop_map(move |v| v.map(|v| format!("\"{name}\":{v}")))
            })
            .collect();
        let extra = prop_oneof![
            6 => Just(None),
            1 => Just(Some(r#""id":7"#.to_owned())),
            1 => Just(Some(r#""first_name":"again""#.to_owned())),
            1 => Just(Some(r#""other":{"a":[1]}"#.to_owned())),
            1 => Just(Some(r#""i\u0064":1"#.to_owned())),
        ];
        let punctuation = prop_oneof![
            12 => Just(("", ",", "")),
            1 => Just((" ", ",", "")),
            1 => Just(("", ", ", "")),
            1 => Just(("", ",", " ")),
            1 => Just(("", ",", ",")),
            1 => Just(("", ",", "x")),
            1 => Just(("", ",,", "")),
        ];
        (members, extra, punctuation)
            .prop_flat_map(|(members, extra, punctuation)| {
                let members: Vec<String> = members.into_iter().flatten().chain(extra).collect();
                (Just(members).prop_shuffle(), Just(punctuation))
            })
            .prop_map(|(members, (before, comma, after))| {
                format!("{before}{{{}}}{after}", members.join(comma))
            })
    }

    /// Users as Telegram writes them: the fast path must take them, and agree.
    fn telegram_user() -> impl Strategy<Value = String> {
        let optional_bool = prop_oneof![Just("true"), Just("false"), Just("null")];
        (
            any::<i64>().prop_filter("18 digits at most", |id| id.unsigned_abs() < 10u64.pow(18)),
            "[^\"\\\\\u{0}-\u{1f}]{0,12}",
            prop::option::of("[a-z_]{1,10}"),
            optional_bool,
            prop::option::of("[a-z]{1,4}\\\\/[a-z]{1,4}"),
        )
            .prop_map(|(id, first_name, username, premium, photo)| {
                let first_name = serde_json::to_string(&first_name).unwrap_or_default();
                let mut json = format!(r#"{{"id":{id},"first_name":{first_name}"#);
                if let Some(username) = username {
                    json += &format!(r#","username":"{username}""#);
                }
                json += &format!(r#","is_premium":{premium}"#);
                if let Some(photo) = photo {
                    json += &format!(r#","photo_url":"{photo}""#);
                }
                json + "}"
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

        #[test]
        fn fast_path_agrees_with_serde_json(json in object()) {
            assert_agrees(&json);
        }

        #[test]
        fn fast_path_takes_telegram_users(json in telegram_user()) {
            let fast = parse_user(&json);
            prop_assert!(fast.is_some(), "{}", json);
            prop_assert_eq!(fast, serde(&json));
        }
    }
}
