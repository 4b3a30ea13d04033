//! Hostile input for the property tests: a seeded generator, so that every run tries the
//! same cases and a failure names its seed, of the kind of text users, kubeconfigs and
//! clusters can hand meshtop.

/// Texts that have broken parsers before: path and query characters, flags, numbers past
/// every range, YAML's specials, control and bidirectional characters, wide graphemes.
const HOSTILE: &[&str] = &[
    "",
    " ",
    "\n",
    "\t",
    "a/b",
    "a?b",
    "a#b",
    "a%2Fb",
    "%",
    "..",
    ".",
    "-",
    "--",
    "-n",
    "--help",
    "--version",
    "=",
    "k=v",
    "k-",
    "a=b=c",
    ":",
    "\u{0}",
    "\u{7f}",
    "\u{1b}[31m",
    "\u{202e}",
    "é",
    "漢字",
    "👩‍👩‍👧",
    "0",
    "-1",
    "18446744073709551616",
    "9223372036854775807",
    "99999999999999999999999h",
    "1e309",
    "NaN",
    "inf",
    "0s",
    "5m",
    "24h1s",
    "1m30s",
    "true",
    "null",
    "~",
    "{",
    "[",
    "'",
    "\"",
    "\\",
    "*",
    "&a",
    "!!binary",
    "0x10",
    "2020-01-09T07:15:00Z",
    "v1.15.6",
    "istio-system/istio-pilot",
    "k1-node03",
    "50%",
    "-50%",
    "200%",
];

/// splitmix64: small, fast and good enough to pick cases.
pub struct Garbage(u64);

impl Garbage {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`0` when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        (self.next() % n as u64) as usize
    }

    /// True once in `n` times on average.
    pub fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// One hostile text: a known troublemaker, random characters, two joined, or a long run.
    pub fn text(&mut self) -> String {
        match self.below(10) {
            0..=3 => self.pick(HOSTILE).to_string(),
            4..=7 => {
                let len = self.below(40);
                (0..len).map(|_| self.char()).collect()
            }
            8 => format!("{}{}", self.pick(HOSTILE), self.pick(HOSTILE)),
            _ => {
                let unit = self.pick(HOSTILE).to_string();
                let unit = if unit.is_empty() { "x".into() } else { unit };
                unit.repeat(1 + self.below(6000) / unit.len())
            }
        }
    }

    /// Mostly printable ASCII, some control characters and some from anywhere in Unicode.
    fn char(&mut self) -> char {
        match self.below(10) {
            0..=6 => char::from(0x20 + self.below(0x5f) as u8),
            7 => char::from(self.below(0x20) as u8),
            _ => char::from_u32(self.below(0x11_0000) as u32).unwrap_or('\u{fffd}'),
        }
    }

    /// A JSON number past the ranges Kubernetes' fields use, or an ordinary one.
    pub fn number(&mut self) -> serde_json::Value {
        match self.below(8) {
            0 => serde_json::json!(i64::MAX),
            1 => serde_json::json!(i64::MIN),
            2 => serde_json::json!(u64::MAX),
            3 => serde_json::json!(-1),
            4 => serde_json::json!(1e308),
            5 => serde_json::json!(-0.5),
            6 => serde_json::json!(0),
            _ => serde_json::json!(self.below(100)),
        }
    }

    /// `value` with some of its leaves replaced by hostile ones, some keys dropped and some
    /// values of the wrong type: what a cluster or a hand-written file may send.
    pub fn mutate(&mut self, value: &mut serde_json::Value, one_in: usize) {
        use serde_json::Value;
        if self.one_in(one_in * 4) {
            *value = match self.below(4) {
                0 => Value::Null,
                1 => Value::Array(vec![Value::String(self.text())]),
                2 => serde_json::json!({ self.text(): self.text() }),
                _ => Value::Bool(true),
            };
            return;
        }
        match value {
            Value::String(s) if self.one_in(one_in) => *s = self.text(),
            Value::Number(_) if self.one_in(one_in) => *value = self.number(),
            Value::Array(items) => {
                for item in items.iter_mut() {
                    self.mutate(item, one_in);
                }
            }
            Value::Object(map) => {
                let keys: Vec<String> = map.keys().cloned().collect();
                for key in keys {
                    if self.one_in(one_in * 2) {
                        map.remove(&key);
                    } else if let Some(v) = map.get_mut(&key) {
                        self.mutate(v, one_in);
                    }
                }
            }
            _ => {}
        }
    }
}
