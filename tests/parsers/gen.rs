//! The property harness: a small deterministic generator (SplitMix64), a byte-level mutator for
//! valid samples, and [`property`], which runs cases and names the one that fails.

use std::fmt::Debug;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

/// A deterministic random source.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`0` when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % ((hi - lo) as u64 + 1)) as i64
    }

    /// True `percent` times in a hundred.
    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }

    /// Up to `max` random bytes.
    pub fn bytes(&mut self, max: usize) -> Vec<u8> {
        let n = self.below(max + 1);
        (0..n).map(|_| self.next() as u8).collect()
    }

    /// Up to `max` pieces from `pool`, joined.
    pub fn string_of(&mut self, pool: &[&str], max: usize) -> String {
        let n = self.below(max + 1);
        (0..n).map(|_| *self.pick(pool)).collect()
    }
}

/// Byte sequences worth splicing into any text format: markup, escapes, separators, invalid
/// and unusual UTF-8.
const TOKENS: &[&[u8]] = &[
    b"<",
    b">",
    b"</",
    b"/>",
    b"&",
    b"&amp;",
    b"&lt;",
    b"&#x0;",
    b"&#xD800;",
    b"&#1114112;",
    b"&#x41;",
    b"&unknown;",
    b"<!DOCTYPE a>",
    b"<![CDATA[",
    b"]]>",
    b"<!--",
    b"-->",
    b"<?x ?>",
    b"xmlns:p=\"urn:p\"",
    b"xmlns=\"\"",
    b"p:",
    b"=",
    b"\"",
    b"'",
    b":",
    b"%",
    b"%00",
    b"%FF",
    b"%2",
    b"%C3%A9",
    b"+",
    b";",
    b",",
    b"&&",
    b"\0",
    b"\xff",
    b"\xc3",
    b"\xe2\x80\x8b",
    b"\xf0\x9f\x98\x80",
    b" ",
    b"\t",
    b"\n",
    b"\r\n",
    b"[",
    b"]",
    b"::",
    b"@",
    b"\\",
    b"==",
    b"AAAA",
    b"-",
    b"_",
    b".",
    b"9999-99-99T99:99:99Z",
    b"2026-11-23T05:14:18Z",
];

/// `sample` with one to six random edits: bit flips, byte changes, token insertions, deletions,
/// duplicated ranges, truncation, random runs.
pub fn mutate(rng: &mut Rng, sample: &[u8]) -> Vec<u8> {
    let mut v = sample.to_vec();
    for _ in 0..1 + rng.below(6) {
        let at = rng.below(v.len() + 1);
        let len = 1 + rng.below(16);
        let end = (at + len).min(v.len());
        match rng.below(8) {
            0 if at < v.len() => v[at] ^= 1 << rng.below(8),
            1 if at < v.len() => v[at] = rng.next() as u8,
            2 | 3 => {
                let t = rng.pick(TOKENS);
                v.splice(at..at, t.iter().copied());
            }
            4 => {
                v.drain(at..end);
            }
            5 => {
                let piece: Vec<u8> = v[at..end].to_vec();
                let to = rng.below(v.len() + 1);
                v.splice(to..to, piece);
            }
            6 if rng.chance(30) => v.truncate(at),
            _ => {
                let run = rng.bytes(8);
                v.splice(at..end, run);
            }
        }
    }
    v
}

/// `mutate`, as text (invalid UTF-8 replaced).
pub fn mutate_str(rng: &mut Rng, sample: &str) -> String {
    String::from_utf8_lossy(&mutate(rng, sample.as_bytes())).into_owned()
}

fn env(name: &str) -> Option<u64> {
    std::env::var(name).ok()?.parse().ok()
}

fn name_hash(name: &str) -> u64 {
    name.bytes().fold(0xCBF2_9CE4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01B3)
    })
}

/// Runs `cases` cases (or `ALTGATE_PARSER_CASES`) of property `name`: `generate` makes an input
/// from a generator seeded by the run's seed, the property and the case number; `check` judges
/// it. A failing case is printed with what reproduces it.
pub fn property<I: Debug>(
    name: &str,
    cases: usize,
    mut generate: impl FnMut(&mut Rng) -> I,
    mut check: impl FnMut(&I),
) {
    let seed = env("ALTGATE_PARSER_SEED").unwrap_or(0x616C_7467_6174_6521);
    let cases = env("ALTGATE_PARSER_CASES").map_or(cases, |n| n as usize);
    for case in 0..cases {
        let mut rng = Rng::new(seed ^ name_hash(name) ^ (case as u64).wrapping_mul(0x2545_F491));
        let input = generate(&mut rng);
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| check(&input))) {
            let shown: String = format!("{input:?}").chars().take(4000).collect();
            eprintln!(
                "property {name} failed at case {case} (ALTGATE_PARSER_SEED={seed}); input:\n{shown}"
            );
            resume_unwind(panic);
        }
    }
}
