//! A JSON reader for the objects of big lists (pods): it walks an object's members itself,
//! skips what no projection reads (managedFields, env, probes, most of each container) by
//! looking only for the quotes and brackets that end it, and hands the small parts that are
//! kept to serde_json as the bytes they span. serde's `IgnoredAny` tokenizes every skipped
//! key and value, which was most of the cost of reading a pod.

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::Error as _;

pub(crate) type Result<T> = std::result::Result<T, serde_json::Error>;

/// A cursor over one JSON text, or over the part of it that has arrived so far: a value
/// cut off by the end of the bytes is an error that says so (`ended`), and is read again
/// once more bytes have come.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    ended: Cell<bool>,
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Self {
            bytes,
            pos: 0,
            ended: Cell::new(false),
        }
    }

    /// How many bytes have been read.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Whether an error came from the end of the bytes rather than from what they hold:
    /// with more of the text, the same read may succeed.
    pub fn ended(&self) -> bool {
        self.ended.get()
    }

    pub fn error(&self, what: &str) -> serde_json::Error {
        serde_json::Error::custom(format_args!("{what} at byte {}", self.pos))
    }

    pub fn eof(&self) -> serde_json::Error {
        self.ended.set(true);
        self.error("EOF while parsing a value")
    }

    /// The next byte that is not whitespace, not consumed.
    pub fn peek(&mut self) -> Option<u8> {
        while let Some(&b) = self.bytes.get(self.pos) {
            if !matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
                return Some(b);
            }
            self.pos += 1;
        }
        None
    }

    pub fn eat(&mut self, want: u8) -> Result<()> {
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
        let rest = self.bytes.get(self.pos..).unwrap_or_default();
        if rest.starts_with(b"null") {
            self.pos += 4;
            Ok(true)
        } else if b"null".starts_with(rest) {
            Err(self.eof())
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
    pub fn closed(&mut self, close: u8) -> Result<bool> {
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
    pub fn key(&mut self) -> Result<Cow<'a, [u8]>> {
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

    /// An object of strings (labels, a node selector), `None` for `null`: read as serde
    /// reads a `BTreeMap<String, String>`, in one pass.
    pub fn string_map(&mut self) -> Result<Option<BTreeMap<String, String>>> {
        let mut map = BTreeMap::new();
        let present = self.object(|r, key| {
            let key = std::str::from_utf8(key)
                .map_err(|_| r.error("invalid unicode in a string"))?
                .to_owned();
            map.insert(key, r.string()?.into_owned());
            Ok(())
        })?;
        Ok(present.then_some(map))
    }

    /// The raw bytes of a string without escapes, or the unescaped string.
    fn string_bytes(&mut self) -> Result<Cow<'a, [u8]>> {
        match self.peek() {
            Some(b'"') => {}
            Some(_) => return Err(self.error("expected a string")),
            None => return Err(self.eof()),
        }
        let start = self.pos + 1;
        // Most strings (keys, names) are short and plain: one pass over words finds their
        // end and that they hold no escape or control character.
        if let Some(end) = plain_end(self.bytes, start) {
            let raw = self.bytes.get(start..end).ok_or_else(|| self.eof())?;
            self.pos = end + 1;
            return Ok(Cow::Borrowed(raw));
        }
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
        // A short string ends within a word or two: no `memchr` set up for it.
        for _ in 0..2 {
            let Some(word) = self.bytes.get(at..).and_then(<[u8]>::first_chunk::<8>) else {
                break;
            };
            let word = u64::from_le_bytes(*word);
            let stops = bytes_equal(word, b'"') | bytes_equal(word, b'\\');
            if stops == 0 {
                at += 8;
                continue;
            }
            let n = (stops.trailing_zeros() / 8) as usize;
            if self.bytes.get(at + n) == Some(&b'"') {
                return Ok(at + n);
            }
            // A backslash: the byte after it is escaped, whatever it is.
            at += n + 2;
        }
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
                        return Ok(());
                    }
                    self.pos += 1;
                }
                // A number or a literal is followed by what holds it: at the end of the
                // bytes it may be cut short.
                Err(self.eof())
            }
            None => Err(self.eof()),
        }
    }

    /// Skips an object or an array, 64 bytes at a time: each block's quotes, backslashes and
    /// brackets are found as bit masks (compares the compiler makes vector ones), the bytes
    /// inside strings are masked out by a running parity of the unescaped quotes, and the
    /// brackets are counted rather than visited unless the nesting may end in the block.
    /// managedFields, most of a pod's bytes, is dense with short keys and `{}`: looking at
    /// it byte by byte, or a `memchr` per string, was most of the cost of reading a pod.
    fn skip_nested(&mut self) -> Result<()> {
        // An empty value at once: the blocks take `{}` for nothing, not for a value's end.
        let first = self.bytes.get(self.pos).copied().unwrap_or_default();
        if self.bytes.get(self.pos + 1) == Some(&first.wrapping_add(2)) {
            self.pos += 2;
            return Ok(());
        }
        let mut at = self.pos;
        let mut nesting = Nesting::default();
        while let Some(rest) = self.bytes.get(at..).filter(|r| !r.is_empty()) {
            let mut padded = [b' '; BLOCK];
            let block: &[u8; BLOCK] = match rest.first_chunk::<BLOCK>() {
                Some(block) => block,
                None => {
                    for (to, from) in padded.iter_mut().zip(rest) {
                        *to = *from;
                    }
                    &padded
                }
            };
            if let Some(end) = nesting.end_in(block) {
                self.pos = at + end + 1;
                return Ok(());
            }
            at += BLOCK;
        }
        self.pos = self.bytes.len();
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

/// The top bit of each byte of `word` that is `byte`.
fn bytes_equal(word: u64, byte: u8) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let x = word ^ (u64::from(byte) * 0x0101_0101_0101_0101);
    !(((x & LOW7) + LOW7) | x | LOW7)
}

/// The top bit of each byte of `word` below 0x20 (a control character).
fn bytes_control(word: u64) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    !(((word & LOW7) + 0x6060_6060_6060_6060) | word | LOW7)
}

/// Where the string whose text starts at `from` ends, if it has no escape and no control
/// character before its closing quote; `None` otherwise (or at the end of the text).
fn plain_end(bytes: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    let rest = bytes.get(at..)?;
    let (words, tail) = rest.as_chunks::<8>();
    for word in words {
        let word = u64::from_le_bytes(*word);
        let stops = bytes_equal(word, b'"') | bytes_equal(word, b'\\') | bytes_control(word);
        if stops != 0 {
            let end = at + (stops.trailing_zeros() / 8) as usize;
            return (bytes.get(end) == Some(&b'"')).then_some(end);
        }
        at += 8;
    }
    let n = tail
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
    (tail.get(n) == Some(&b'"')).then_some(at + n)
}

/// The bytes a nested value is skipped by at a time (`Reader::skip_nested`).
const BLOCK: usize = 64;

/// Where a skip through nested values stands between blocks.
#[derive(Default)]
struct Nesting {
    /// Open objects and arrays.
    depth: u32,
    /// All ones while inside a string.
    in_string: u64,
    /// The last block ended with a backslash that escapes this block's first byte.
    escape_next: bool,
}

impl Nesting {
    /// Reads one block: the offset of the bracket that closes the outermost value, if it is
    /// in this block.
    fn end_in(&mut self, block: &[u8; BLOCK]) -> Option<usize> {
        let marks = Marks::of(block);
        let escaped = self.escaped(marks.backslash);
        let quotes = marks.quote & !escaped;
        // Bit i: byte i is inside a string (its opening quote included, its closing one not).
        let inside = prefix_xor(quotes) ^ self.in_string;
        self.in_string = 0u64.wrapping_sub(inside >> (BLOCK - 1));
        let mut open = marks.open & !inside;
        let mut close = marks.close & !inside;
        // `{}` and `[]` change nothing: most of managedFields' brackets.
        let empty = open & (close >> 1);
        open &= !empty;
        close &= !(empty << 1);
        if close.count_ones() < self.depth {
            self.depth += open.count_ones();
            self.depth -= close.count_ones();
            return None;
        }
        let mut brackets = open | close;
        while brackets != 0 {
            let at = brackets.trailing_zeros();
            if open >> at & 1 == 1 {
                self.depth += 1;
            } else {
                self.depth = self.depth.saturating_sub(1);
                if self.depth == 0 {
                    return Some(at as usize);
                }
            }
            brackets &= brackets - 1;
        }
        None
    }

    /// The bytes escaped by a backslash (one not itself escaped), the last block's included.
    fn escaped(&mut self, mut backslashes: u64) -> u64 {
        let mut escaped = 0;
        if std::mem::take(&mut self.escape_next) {
            escaped |= 1;
            backslashes &= !1;
        }
        while backslashes != 0 {
            let at = backslashes.trailing_zeros();
            if at as usize == BLOCK - 1 {
                self.escape_next = true;
            } else {
                escaped |= 1 << (at + 1);
                backslashes &= !(1 << (at + 1));
            }
            backslashes &= backslashes - 1;
        }
        escaped
    }
}

/// Each bit set where the block holds that byte.
#[derive(Debug, PartialEq, Eq)]
struct Marks {
    quote: u64,
    backslash: u64,
    /// `{` or `[`.
    open: u64,
    /// `}` or `]`.
    close: u64,
}

impl Marks {
    /// With SSE2 (every x86_64): sixteen bytes compared at once and their matches taken as
    /// bits by `pmovmskb`, through `safe_arch`'s safe wrappers; 1.7x the skip's speed of
    /// the portable way below (3.2 against 1.9 GB/s on managedFields, hot, one core).
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    fn of(block: &[u8; BLOCK]) -> Self {
        use safe_arch::{cmp_eq_mask_i8_m128i, m128i, move_mask_i8_m128i, set_splat_i8_m128i};
        let splat = |byte: u8| set_splat_i8_m128i(i8::from_ne_bytes([byte]));
        let (quote, backslash, open, close, lower) = (
            splat(b'"'),
            splat(b'\\'),
            splat(b'{'),
            splat(b'}'),
            splat(0x20),
        );
        let (chunks, _) = block.as_chunks::<16>();
        let mut marks = Self {
            quote: 0,
            backslash: 0,
            open: 0,
            close: 0,
        };
        for (k, chunk) in chunks.iter().enumerate() {
            let bytes = m128i::from(*chunk);
            // `{` and `[` differ by 0x20 only, as `}` and `]` do.
            let folded = bytes | lower;
            let bits =
                |same: m128i| u64::from(move_mask_i8_m128i(same).cast_unsigned()) << (16 * k);
            marks.quote |= bits(cmp_eq_mask_i8_m128i(bytes, quote));
            marks.backslash |= bits(cmp_eq_mask_i8_m128i(bytes, backslash));
            marks.open |= bits(cmp_eq_mask_i8_m128i(folded, open));
            marks.close |= bits(cmp_eq_mask_i8_m128i(folded, close));
        }
        marks
    }

    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
    fn of(block: &[u8; BLOCK]) -> Self {
        Self::portable(block)
    }

    /// Without SSE2: a byte of 0xff per match first (compares the compiler makes vector
    /// ones), then eight bytes' top bits gathered into one byte by a multiply.
    #[cfg_attr(all(target_arch = "x86_64", target_feature = "sse2"), allow(dead_code))]
    fn portable(block: &[u8; BLOCK]) -> Self {
        let mut quote = [0u8; BLOCK];
        let mut backslash = [0u8; BLOCK];
        let mut open = [0u8; BLOCK];
        let mut close = [0u8; BLOCK];
        let flag = |yes: bool| 0u8.wrapping_sub(u8::from(yes));
        for ((((&b, q), s), o), c) in block
            .iter()
            .zip(&mut quote)
            .zip(&mut backslash)
            .zip(&mut open)
            .zip(&mut close)
        {
            *q = flag(b == b'"');
            *s = flag(b == b'\\');
            *o = flag(b | 0x20 == b'{');
            *c = flag(b | 0x20 == b'}');
        }
        Self {
            quote: gather(&quote),
            backslash: gather(&backslash),
            open: gather(&open),
            close: gather(&close),
        }
    }
}

/// Bit i set where byte i of `flags` is 0xff (flags are 0x00 or 0xff).
fn gather(flags: &[u8; BLOCK]) -> u64 {
    let (words, _) = flags.as_chunks::<8>();
    words.iter().enumerate().fold(0, |mask, (k, word)| {
        let tops = (u64::from_le_bytes(*word) >> 7) & 0x0101_0101_0101_0101;
        mask | (tops.wrapping_mul(0x0102_0408_1020_4080) >> 56) << (8 * k)
    })
}

/// Bit i is the parity of bits 0..=i.
fn prefix_xor(mut x: u64) -> u64 {
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    x
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

    /// Where serde_json ends the value that starts `text` (after its whitespace).
    fn serde_end(text: &[u8]) -> usize {
        let mut values =
            serde_json::Deserializer::from_slice(text).into_iter::<serde::de::IgnoredAny>();
        assert!(
            matches!(values.next(), Some(Ok(_))),
            "serde reads {:?}",
            String::from_utf8_lossy(text)
        );
        values.byte_offset()
    }

    #[test]
    fn nested_values_end_where_serde_ends_them_wherever_the_blocks_fall() {
        let values = [
            r#"{}"#,
            r#"[]"#,
            r#"{ }"#,
            r#"[{}, [], {"a": []}]"#,
            r#"{"f:metadata":{"f:labels":{"f:app":{},"f:version":{}},"f:ownerReferences":{"k:{\"name\":\"api-1\"}":{".":{},"f:uid":{}}}}}"#,
            r#"{"a": "}}}]]]", "b": "\\", "c": "\\\"}", "d": ["\"", "\\\\"], "e": {"\\": {}}}"#,
            r#"{"x": "é ü \u00e9 \ud83d\ude00", "y": [1, -2.5e3, true, false, null]}"#,
        ];
        for value in values {
            // Long strings and deep nesting across block boundaries, then every offset of
            // the value within its first block.
            let long = format!(
                r#"{{"pad": "{}", "v": {value}, "deep": [[[[[[{{"q": "{}"}}]]]]]], "tail": {value}}}"#,
                "\\\"".repeat(40),
                "]".repeat(70)
            );
            for text in [value.to_string(), long] {
                for pad in 0..70 {
                    let doc = format!("{}{text} , 1", " ".repeat(pad));
                    let mut r = Reader::new(doc.as_bytes());
                    r.skip().expect("a value");
                    assert_eq!(r.pos, serde_end(doc.as_bytes()), "{doc}");
                }
            }
        }
        // Cut anywhere, a nested value is an error, never a panic.
        let doc = r#"{"a": {"b": ["\\\"", "}"]}, "c": {}}"#;
        for cut in 0..doc.len() {
            assert!(Reader::new(&doc.as_bytes()[..cut]).skip().is_err(), "{cut}");
        }
    }

    #[test]
    fn a_block_marks_the_same_bytes_either_way() {
        // Every byte value at every offset, then blocks of mixed text.
        for byte in 0..=255u8 {
            for at in [0, 1, 15, 16, 31, 32, 47, 48, 63] {
                let mut block = [b'a'; BLOCK];
                block[at] = byte;
                let marks = Marks::of(&block);
                assert_eq!(marks, Marks::portable(&block), "{byte} at {at}");
                let bit = |yes: bool| if yes { 1u64 << at } else { 0 };
                assert_eq!(marks.quote, bit(byte == b'"'), "{byte}");
                assert_eq!(marks.backslash, bit(byte == b'\\'), "{byte}");
                assert_eq!(marks.open, bit(byte == b'{' || byte == b'['), "{byte}");
                assert_eq!(marks.close, bit(byte == b'}' || byte == b']'), "{byte}");
            }
        }
        let text = r#"{"f:spec":{"k:{\"name\":\"app\"}":{".":{},"f:image":[]}}, "\\": "é"}"#;
        for start in 0..text.len() - BLOCK {
            let block = text.as_bytes()[start..start + BLOCK]
                .first_chunk()
                .expect("64 bytes");
            assert_eq!(Marks::of(block), Marks::portable(block), "{start}");
        }
    }

    #[test]
    fn word_scans_find_each_stop_byte_exactly() {
        for byte in 0..=255u8 {
            for at in 0..8 {
                let mut word = [b'a'; 8];
                word[at] = byte;
                let w = u64::from_le_bytes(word);
                let first = |mask: u64| (mask != 0).then(|| mask.trailing_zeros() as usize / 8);
                let want = |hit: bool| hit.then_some(at);
                assert_eq!(first(bytes_equal(w, b'"')), want(byte == b'"'), "{byte}");
                assert_eq!(first(bytes_control(w)), want(byte < 0x20), "{byte}");
            }
        }
        // The end of a plain string, wherever it falls against the words.
        for len in 0..20 {
            let text = format!("{}\" x", "k".repeat(len));
            assert_eq!(plain_end(text.as_bytes(), 0), Some(len));
            let escaped = format!("{}\\\"\" x", "k".repeat(len));
            assert_eq!(plain_end(escaped.as_bytes(), 0), None);
            let control = format!("{}\n\" x", "k".repeat(len));
            assert_eq!(plain_end(control.as_bytes(), 0), None);
            assert_eq!(plain_end("k".repeat(len).as_bytes(), 0), None);
        }
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
