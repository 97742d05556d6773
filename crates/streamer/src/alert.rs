//! The alert record of DESIGN.md, its stable id and its merge key.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use streamer_model::{Entity, Iocs, Post, RuleHit, Severity};

/// One alert: a post and the rules it matched, with its indicators and targeted entities.
/// Serialised, this is exactly the record the `jsonl` sink writes (one line per alert).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertRecord {
    pub alert_id: String,
    pub created_at: String,
    pub rules: Vec<RuleHit>,
    pub post: Post,
    pub iocs: Iocs,
    pub entities: Vec<Entity>,
}

impl AlertRecord {
    /// The highest severity among the matched rules.
    pub fn severity(&self) -> Severity {
        self.rules
            .iter()
            .map(|r| r.severity)
            .max()
            .unwrap_or(Severity::Info)
    }

    /// The rule ids, in record order.
    pub fn rule_ids(&self) -> Vec<&str> {
        self.rules.iter().map(|r| r.id.as_str()).collect()
    }
}

/// A stable alert id: the same post and rules always give the same id, so a re-delivery after
/// a crash carries the id (and Message-ID) of the first attempt.
pub fn alert_id(post: &Post, hits: &[RuleHit]) -> String {
    let mut ids: Vec<&str> = hits.iter().map(|h| h.id.as_str()).collect();
    ids.sort_unstable();
    let mut h = Sha256::new();
    h.update(post.platform.as_str());
    h.update([0]);
    h.update(&post.id);
    for id in ids {
        h.update([0]);
        h.update(id);
    }
    hex(&h.finalize()[..16])
}

/// The key under which people-facing sinks merge alerts: the same rules and the same text
/// (after trimming and whitespace folding, case kept).
pub fn merge_key(text: &str, hits: &[RuleHit]) -> String {
    let mut ids: Vec<&str> = hits.iter().map(|h| h.id.as_str()).collect();
    ids.sort_unstable();
    let mut h = Sha256::new();
    for id in ids {
        h.update(id);
        h.update([0]);
    }
    for (i, word) in text.split_whitespace().enumerate() {
        if i > 0 {
            h.update(b" ");
        }
        h.update(word);
    }
    hex(&h.finalize()[..16])
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use streamer_model::Platform;

    fn hit(id: &str) -> RuleHit {
        RuleHit {
            id: id.into(),
            severity: Severity::High,
            tags: vec![],
            matched: vec![],
        }
    }

    #[test]
    fn alert_id_is_stable_and_depends_on_post_and_rules() {
        let p = Post::new(Platform::X, "1", "a");
        let a = alert_id(&p, &[hit("a"), hit("b")]);
        assert_eq!(a, alert_id(&p, &[hit("b"), hit("a")]));
        assert_eq!(a.len(), 32);
        assert_ne!(a, alert_id(&p, &[hit("a")]));
        let q = Post::new(Platform::Mastodon, "1", "a");
        assert_ne!(a, alert_id(&q, &[hit("a"), hit("b")]));
    }

    #[test]
    fn merge_key_folds_whitespace_but_not_rules() {
        assert_eq!(
            merge_key("DDoS  on\ncounty", &[hit("r")]),
            merge_key(" DDoS on county ", &[hit("r")])
        );
        assert_ne!(
            merge_key("DDoS on county", &[hit("r")]),
            merge_key("DDoS on county", &[hit("s")])
        );
    }
}
