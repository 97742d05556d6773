//! The whole-token index: keywords and phrases found by hashing the tokens of the stream.
//!
//! Why not one Aho-Corasick automaton for everything: its tables for tens of thousands of
//! keywords are megabytes, and a scan touches them at every byte (a cache miss each, on a busy
//! machine). A post has ~30 tokens but ~170 bytes; hashing each token and probing a bitset
//! small enough to stay in cache rejects nearly every token in a few nanoseconds, and only the
//! rare candidates reach the hash map and a string compare. Keywords are keyed by their token's
//! hash, phrases by the hash of their first two tokens. Patterns with an end in a script written
//! without spaces (which match inside a token) stay in an Aho-Corasick automaton, which is
//! small and only runs on text that is not ASCII.

use rustc_hash::FxHashMap;

/// One keyword or phrase: its tokens joined by single spaces, as they appear in the stream.
#[derive(Debug, Clone)]
struct Entry {
    atom: u32,
    tokens: u32,
    text: Box<str>,
}

/// Index of whole-token patterns.
#[derive(Debug, Default)]
pub(crate) struct TokenIndex {
    /// Bloom-style filter over the keys: one bit per key.
    bits: Vec<u64>,
    shift: u32,
    map: FxHashMap<u64, (u32, u32)>,
    entries: Vec<Entry>,
}

const K: u64 = 0x517c_c1b7_2722_0a95;

/// FxHash-style hash of one token's bytes.
#[inline]
pub(crate) fn hash_token(t: &[u8]) -> u64 {
    let mut h: u64 = 0;
    let mut chunks = t.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(w) ^ ((rest.len() as u64) << 59))
            .wrapping_mul(K);
    }
    // Finalise so that the top bits (used by the filter) depend on every input bit.
    h ^= h >> 29;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^ (h >> 32)
}

#[inline]
fn pair(a: u64, b: u64) -> u64 {
    let h = (a.rotate_left(17) ^ b).wrapping_mul(K);
    h ^ (h >> 31)
}

impl TokenIndex {
    /// Builds the index from `(atom, tokens)`; every token is non-empty and contains no space.
    pub(crate) fn new(patterns: &[(u32, &[String])]) -> TokenIndex {
        let mut keyed: Vec<(u64, Entry)> = patterns
            .iter()
            .filter(|(_, toks)| !toks.is_empty())
            .map(|(atom, toks)| {
                let h0 = hash_token(toks[0].as_bytes());
                let key = match toks.get(1) {
                    Some(t1) => pair(h0, hash_token(t1.as_bytes())),
                    None => h0,
                };
                (
                    key,
                    Entry {
                        atom: *atom,
                        tokens: toks.len() as u32,
                        text: toks.join(" ").into(),
                    },
                )
            })
            .collect();
        keyed.sort_by_key(|(k, _)| *k);
        // About 16 bits a key, at least 64 Ki bits, at most 16 Mi bits (2 MiB).
        let want = (keyed.len() * 16)
            .clamp(1 << 16, 1 << 24)
            .next_power_of_two();
        let log = want.trailing_zeros();
        let mut ix = TokenIndex {
            bits: vec![0; want / 64],
            shift: 64 - log,
            map: FxHashMap::default(),
            entries: Vec::with_capacity(keyed.len()),
        };
        ix.map.reserve(keyed.len());
        let mut i = 0;
        while i < keyed.len() {
            let key = keyed[i].0;
            let start = ix.entries.len() as u32;
            while i < keyed.len() && keyed[i].0 == key {
                ix.entries.push(keyed[i].1.clone());
                i += 1;
            }
            ix.map.insert(key, (start, ix.entries.len() as u32));
            let bit = (key >> ix.shift) as usize;
            ix.bits[bit / 64] |= 1 << (bit % 64);
        }
        ix
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    #[inline]
    fn maybe(&self, key: u64) -> bool {
        let bit = (key >> self.shift) as usize;
        self.bits[bit / 64] & (1 << (bit % 64)) != 0
    }

    /// Calls `hit(atom, start, end)` (stream byte offsets) for every pattern in `stream`, a
    /// normalised token stream. `toks` and `hashes` are scratch buffers.
    pub(crate) fn scan(
        &self,
        stream: &str,
        toks: &mut Vec<(u32, u32)>,
        hashes: &mut Vec<u64>,
        mut hit: impl FnMut(u32, u32, u32),
    ) {
        let b = stream.as_bytes();
        toks.clear();
        hashes.clear();
        // The stream is " tok tok ... tok ": tokens lie between consecutive spaces.
        let mut prev = None;
        for sp in memchr::memchr_iter(b' ', b) {
            if let Some(p) = prev {
                if sp > p + 1 {
                    toks.push(((p + 1) as u32, sp as u32));
                    hashes.push(hash_token(&b[p + 1..sp]));
                }
            }
            prev = Some(sp);
        }
        for i in 0..toks.len() {
            let h = hashes[i];
            if self.maybe(h) {
                self.check(stream, toks, i, h, &mut hit);
            }
            if let Some(&h1) = hashes.get(i + 1) {
                let k = pair(h, h1);
                if self.maybe(k) {
                    self.check(stream, toks, i, k, &mut hit);
                }
            }
        }
    }

    fn check(
        &self,
        stream: &str,
        toks: &[(u32, u32)],
        i: usize,
        key: u64,
        hit: &mut impl FnMut(u32, u32, u32),
    ) {
        let Some(&(lo, hi)) = self.map.get(&key) else {
            return;
        };
        for e in &self.entries[lo as usize..hi as usize] {
            let Some(&(_, end)) = toks.get(i + e.tokens as usize - 1) else {
                continue;
            };
            let start = toks[i].0;
            if stream.get(start as usize..end as usize) == Some(&*e.text) {
                hit(e.atom, start, end);
            }
        }
    }

    /// Heap bytes, approximately.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.bits.len() * 8
            + self.map.capacity() * (8 + 8 + 1)
            + self
                .entries
                .iter()
                .map(|e| std::mem::size_of::<Entry>() + e.text.len())
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_keywords_and_phrases_as_whole_tokens() {
        let t = |s: &str| s.split(' ').map(str::to_string).collect::<Vec<_>>();
        let pats = [t("lockbit"), t("school district"), t("lock"), t("a b c")];
        let refs: Vec<(u32, &[String])> = pats
            .iter()
            .enumerate()
            .map(|(i, p)| (i as u32, &p[..]))
            .collect();
        let ix = TokenIndex::new(&refs);
        let mut found = Vec::new();
        let stream = " lockbit hit the school district a b c a b ";
        ix.scan(stream, &mut Vec::new(), &mut Vec::new(), |a, s, e| {
            found.push((a, &stream[s as usize..e as usize]))
        });
        assert_eq!(
            found,
            [(0, "lockbit"), (1, "school district"), (3, "a b c")]
        );
    }
}
