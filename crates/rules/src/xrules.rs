//! Translation to X filtered-stream rules (placeholder until implemented below).
use crate::syntax::Expr;

/// Limits of the X tier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XLimits {
    pub max_rule_len: usize,
    pub max_rules: usize,
}
/// One X rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XRule {
    pub value: String,
    pub tag: String,
}
pub(crate) fn push_notes(_e: &Expr) -> Vec<String> {
    Vec::new()
}
/// Translate.
pub fn to_x_rules(
    _rules: &[crate::RuleSpec],
    _watch: &crate::WatchSpec,
    _limits: &XLimits,
    _tag_prefix: &str,
) -> (Vec<XRule>, Vec<crate::RuleWarning>) {
    (Vec::new(), Vec::new())
}
