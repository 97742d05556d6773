//! A bounded set of recently seen keys: the source side of "every post exactly once" when a
//! server delivers twice (X duplicates, Jetstream rewind, Mastodon gap-fill overlap). The
//! store's (platform, id) dedup stays the final guard; this one keeps duplicates out of the
//! pipeline and counts them.

use std::collections::{HashSet, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};

/// Remembers the last `cap` keys (as 64-bit hashes: 16 bytes each, not the keys).
#[derive(Debug)]
pub(crate) struct RecentSet {
    set: HashSet<u64>,
    order: VecDeque<u64>,
    cap: usize,
}

impl RecentSet {
    pub(crate) fn new(cap: usize) -> RecentSet {
        RecentSet {
            set: HashSet::with_capacity(cap.min(4096)),
            order: VecDeque::with_capacity(cap.min(4096)),
            cap: cap.max(1),
        }
    }

    /// True when the key was not seen among the last `cap` keys (and remembers it).
    pub(crate) fn insert<K: Hash + ?Sized>(&mut self, key: &K) -> bool {
        let mut h = DefaultHasher::new();
        key.hash(&mut h);
        let h = h.finish();
        if !self.set.insert(h) {
            return false;
        }
        self.order.push_back(h);
        if self.order.len() > self.cap {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_the_last_cap_keys_only() {
        let mut s = RecentSet::new(2);
        assert!(s.insert("a"));
        assert!(!s.insert("a"));
        assert!(s.insert("b"));
        assert!(s.insert("c"));
        assert!(s.insert("a"), "a was evicted");
        assert!(!s.insert("c"));
    }
}
