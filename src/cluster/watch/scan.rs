//! A JSON reader for the objects of big lists (pods): it walks an object's members itself,
//! skips what no projection reads (managedFields, env, probes, most of each container) by
//! looking only for the quotes and brackets that end it, and hands the small parts that are
//! kept to serde_json as the bytes they span. serde's `IgnoredAny` tokenizes every skipped
//! key and value, which was most of the cost of reading a pod.

use std::borrow::Cow;

use serde::Deserialize;
use serde::de::Error as _;

pub(crate) type Result<T> = std::result::Result<T, serde_json::Error>;

/// A cursor over one JSON text.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }

    pub fn error(&self, what: &str) -> serde_json::Error {
        serde_json::Error::custom(format_args!("{what} at byte {}", self.pos))
    }

    fn eof(&self) -> serde_json::Error {
        self.error("EOF while parsing a value")
    }

    /// The next byte that is not whitespace, not consumed.
    fn peek(&mut self) -> Option<u8> {
        while let Some(&b) = self.bytes.get(self.pos) {
            if !matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
                return Some(b);
            }
            self.pos += 1;
        }
        None
    }

    fn eat(&mut self, want: u8) -> Result<()> {
        match self.peek() {
            Some(b) if b == want => {
                self.pos += 1;
                Ok(())
            }
            Some(_) => Err(self.error(&format!("expected `{}`", want as char))),
            None => Err(self.eof()),
        }
    }

    /// Reads `null` if that is what comes.
    pub fn null(&mut self) -> Result<bool> {
        if self.peek() != Some(b'n') {
            return Ok(false);
        }
        if self.bytes.get(self.pos..self.pos + 4) == Some(b"null") {
            self.pos += 4;
            Ok(true)
        } else {
            Err(self.error("expected `null`"))
        }
    }

    /// Reads an object member by member: `member` gets each key (unescaped) and must read or
    /// skip its value. `false` for `null`.
    pub fn object(
        &mut self,
        mut member: impl FnMut(&mut Self, &[u8]) -> Result<()>,
    ) -> Result<bool> {
        if self.null()? {
            return Ok(false);
        }
        self.eat(b'{')?;
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(true);
        }
        loop {
            let key = self.key()?;
            self.eat(b':')?;
            member(self, &key)?;
            if self.closed(b'}')? {
                return Ok(true);
            }
        }
    }

    /// After a member or an item: reads the `,` before the next (`false`) or the `close`
    /// that ends them (`true`).
    fn closed(&mut self, close: u8) -> Result<bool> {
        match self.peek() {
            Some(b',') => {
                self.pos += 1;
                Ok(false)
            }
            Some(b) if b == close => {
                self.pos += 1;
                Ok(true)
            }
            Some(_) => Err(self.error(&format!("expected `,` or `{}`", close as char))),
            None => Err(self.eof()),
        }
    }

    /// An object that must be one (not `null`): an array's item.
    pub fn record(&mut self, member: impl FnMut(&mut Self, &[u8]) -> Result<()>) -> Result<()> {
        if self.object(member)? {
            Ok(())
        } else {
            Err(self.error("invalid type: null, expected an object"))
        }
    }

    /// Reads an array item by item: `item` must read or skip each. `false` for `null`.
    pub fn array(&mut self, mut item: impl FnMut(&mut Self) -> Result<()>) -> Result<bool> {
        if self.null()? {
            return Ok(false);
        }
        self.eat(b'[')?;
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(true);
        }
        loop {
            item(self)?;
            if self.closed(b']')? {
                return Ok(true);
            }
        }
    }

    /// An array's items in a `Vec`, `None` for `null`.
    pub fn list<T>(
        &mut self,
        mut item: impl FnMut(&mut Self) -> Result<T>,
    ) -> Result<Option<Vec<T>>> {
        let mut items = Vec::new();
        let present = self.array(|r| {
            items.push(item(r)?);
            Ok(())
        })?;
        Ok(present.then_some(items))
    }

    /// A key: its bytes as they are when it has no escape (every key Kubernetes writes).
    fn key(&mut self) -> Result<Cow<'a, [u8]>> {
        self.string_bytes()
    }

    /// A string, borrowed from the text when it has no escape.
    pub fn string(&mut self) -> Result<Cow<'a, str>> {
        match self.string_bytes()? {
            Cow::Borrowed(b) => match std::str::from_utf8(b) {
                Ok(s) => Ok(Cow::Borrowed(s)),
                Err(_) => Err(self.error("invalid unicode in a string")),
            },
            Cow::Owned(s) => String::from_utf8(s)
                .map(Cow::Owned)
                .map_err(|_| self.error("invalid unicode in a string")),
        }
    }

    /// A string or `null`.
    pub fn opt_string(&mut self) -> Result<Option<String>> {
        if self.null()? {
            return Ok(None);
        }
        Ok(Some(self.string()?.into_owned()))
    }

    /// A string, `null` read as empty.
    pub fn string_or_empty(&mut self) -> Result<String> {
        Ok(self.opt_string()?.unwrap_or_default())
    }

    /// The raw bytes of a string without escapes, or the unescaped string.
    fn string_bytes(&mut self) -> Result<Cow<'a, [u8]>> {
        if self.peek() != Some(b'"') {
            return Err(self.error("expected a string"));
        }
        let start = self.pos + 1;
        let end = self.string_end(start)?;
        let raw = self.bytes.get(start..end).ok_or_else(|| self.eof())?;
        self.pos = end + 1;
        if raw.contains(&b'\\') {
            return unescape(raw)
                .map(|s| Cow::Owned(s.into_bytes()))
                .map_err(|what| self.error(what));
        }
        if raw.iter().any(|&b| b < 0x20) {
            return Err(self.error("control character in a string"));
        }
        Ok(Cow::Borrowed(raw))
    }

    /// Where the string whose text starts at `from` ends (its closing quote).
    fn string_end(&self, from: usize) -> Result<usize> {
        let mut at = from;
        loop {
            let rest = self.bytes.get(at..).ok_or_else(|| self.eof())?;
            let Some(n) = memchr::memchr2(b'"', b'\\', rest) else {
                return Err(self.eof());
            };
            if rest.get(n) == Some(&b'"') {
                return Ok(at + n);
            }
            // A backslash: the byte after it is escaped, whatever it is.
            at += n + 2;
        }
    }

    /// Skips one value of any kind. Strings and nesting are followed; what is skipped is
    /// not otherwise checked.
    pub fn skip(&mut self) -> Result<()> {
        match self.peek() {
            Some(b'"') => {
                self.pos = self.string_end(self.pos + 1)? + 1;
                Ok(())
            }
            Some(b'{' | b'[') => self.skip_nested(),
            Some(b',' | b'}' | b']' | b':') => Err(self.error("expected a value")),
            Some(_) => {
                while let Some(&b) = self.bytes.get(self.pos) {
                    if matches!(b, b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t') {
                        break;
                    }
                    self.pos += 1;
                }
                Ok(())
            }
            None => Err(self.eof()),
        }
    }

    fn skip_nested(&mut self) -> Result<()> {
        let mut depth = 0usize;
        let mut at = self.pos;
        while let Some(&b) = self.bytes.get(at) {
            match b {
                b'"' => {
                    at = self.string_end(at + 1)?;
                }
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth -= 1;
                    if depth == 0 {
                        self.pos = at + 1;
                        return Ok(());
                    }
                }
                _ => {}
            }
            at += 1;
        }
        self.pos = at;
        Err(self.eof())
    }

    /// Reads one value with serde_json, from the bytes it spans: for the small parts that
    /// are kept whole (labels, owner references, times, a pod's status).
    pub fn value<T: Deserialize<'a>>(&mut self) -> Result<T> {
        self.peek();
        let start = self.pos;
        self.skip()?;
        let span = self.bytes.get(start..self.pos).ok_or_else(|| self.eof())?;
        serde_json::from_slice(span)
    }

    /// Only whitespace is left.
    pub fn end(&mut self) -> Result<()> {
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(self.error("trailing characters")),
        }
    }
}

/// The text of a string with escapes (the bytes between its quotes).
fn unescape(raw: &[u8]) -> std::result::Result<String, &'static str> {
    let mut out: Vec<u8> = Vec::with_capacity(raw.len());
    let mut bytes = raw.iter().copied();
    while let Some(b) = bytes.next() {
        if b != b'\\' {
            if b < 0x20 {
                return Err("control character in a string");
            }
            out.push(b);
            continue;
        }
        let escaped = match bytes.next() {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                let first = hex4(&mut bytes)?;
                let code = if (0xD800..0xDC00).contains(&first) {
                    // A high surrogate: its low half must follow as `\uXXXX`.
                    if bytes.next() != Some(b'\\') || bytes.next() != Some(b'u') {
                        return Err("unpaired surrogate in a string");
                    }
                    let second = hex4(&mut bytes)?;
                    if !(0xDC00..0xE000).contains(&second) {
                        return Err("unpaired surrogate in a string");
                    }
                    0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
                } else {
                    first
                };
                char::from_u32(code).ok_or("invalid \\u escape in a string")?
            }
            _ => return Err("invalid escape in a string"),
        };
        let mut buf = [0; 4];
        out.extend_from_slice(escaped.encode_utf8(&mut buf).as_bytes());
    }
    String::from_utf8(out).map_err(|_| "invalid unicode in a string")
}

fn hex4(bytes: &mut impl Iterator<Item = u8>) -> std::result::Result<u32, &'static str> {
    let mut n = 0;
    for _ in 0..4 {
        let digit = bytes
            .next()
            .and_then(|b| (b as char).to_digit(16))
            .ok_or("invalid \\u escape in a string")?;
        n = n * 16 + digit;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every member of an object, its value skipped, and where the reader ended.
    fn keys(text: &str) -> Result<Vec<String>> {
        let mut r = Reader::new(text.as_bytes());
        let mut keys = Vec::new();
        r.object(|r, k| {
            keys.push(String::from_utf8_lossy(k).into_owned());
            r.skip()
        })?;
        r.end()?;
        Ok(keys)
    }

    #[test]
    fn skipping_follows_strings_and_nesting() {
        let text = r#"{"a": {"b": ["}", "]", "\"{", {"c": [1, 2.5e3, true, null]}]},
            "f:x\\": "\\", "n": -12 , "e": {}, "z": []}"#;
        assert_eq!(
            keys(text).expect("an object"),
            ["a", "f:x\\", "n", "e", "z"]
        );
    }

    #[test]
    fn strings_are_borrowed_unless_escaped() {
        let mut r = Reader::new(br#"["plain", "tab\tand \"quote\" \u00e9 \ud83d\ude00 \/"]"#);
        let mut read = Vec::new();
        r.array(|r| {
            read.push(r.string()?);
            Ok(())
        })
        .expect("an array");
        assert!(matches!(read[0], Cow::Borrowed("plain")));
        assert_eq!(read[1], "tab\tand \"quote\" \u{e9} \u{1f600} /");
        // An escaped key reads as its text.
        assert_eq!(keys(r#"{"na\u006de": 1}"#).expect("an object"), ["name"]);
    }

    #[test]
    fn broken_text_is_an_error_never_a_panic() {
        for text in [
            "",
            "{",
            r#"{"a""#,
            r#"{"a":"#,
            r#"{"a":1"#,
            r#"{"a":1,}"#,
            r#"{"a":{"b":[1,2}"#,
            r#"{"a":"x\"#,
            r#"{"\u12":1}"#,
            r#"{"\ud800":1}"#,
            r#"{"\q":1}"#,
            r#"{"a" 1}"#,
            r#"{"a":1} x"#,
            r#"{"a":1 "b":2}"#,
            "[",
            "nul",
            r#"{"a":,}"#,
            "{\"\u{1}\":1}",
        ] {
            assert!(keys(text).is_err(), "{text:?} should not read");
        }
        let mut r = Reader::new(b"\"\xff\"");
        assert!(r.string().is_err());
        assert!(Reader::new(b"").skip().is_err());
    }

    #[test]
    fn kept_parts_are_read_by_serde_and_nulls_are_absent() {
        let mut r = Reader::new(br#"{"labels": {"app": "a"}, "n": null, "s": null, "k": "v"}"#);
        let (mut labels, mut n, mut s, mut k) = (None, Some(String::new()), None, None);
        r.object(|r, key| {
            match key {
                b"labels" => {
                    labels = r.value::<Option<std::collections::BTreeMap<String, String>>>()?
                }
                b"n" => n = r.opt_string()?,
                b"s" => s = Some(r.string_or_empty()?),
                b"k" => k = r.opt_string()?,
                _ => r.skip()?,
            }
            Ok(())
        })
        .expect("an object");
        assert_eq!(
            labels.expect("labels").get("app").map(String::as_str),
            Some("a")
        );
        assert_eq!((n, s.as_deref(), k.as_deref()), (None, Some(""), Some("v")));
        let mut r = Reader::new(br#"{"labels": {"app": 7}}"#);
        let wrong = r.object(|r, _| {
            r.value::<std::collections::BTreeMap<String, String>>()
                .map(drop)
        });
        assert!(wrong.is_err());
        assert!(Reader::new(b"null").record(|r, _| r.skip()).is_err());
    }
}
