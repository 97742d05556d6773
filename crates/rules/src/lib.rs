//! Streamer's rule language: parse, compile once, match every post in microseconds.
//!
//! Rules are written in a syntax close to X's filtered-stream rules (see `DESIGN.md`, "Rule
//! language") and evaluated locally for every platform; where they translate, they are also
//! pushed to X as server-side rules ([`to_x_rules`]). Matching is pure: no I/O, and no
//! allocation per post beyond the returned hits.
//!
//! ```
//! use streamer_model::{Enrichment, Platform, Post, Severity};
//! use streamer_rules::{compile, RuleSpec, WatchSpec};
//!
//! let rules = [RuleSpec::new(
//!     "ransom-local-gov",
//!     r#"(ransomware OR lockbit) (county OR city OR "school district") -is:retweet"#,
//! )];
//! let watch = WatchSpec { keywords: vec!["lockbit".into()], ..WatchSpec::default() };
//! let compiled = compile(&rules, &watch).expect("rules compile");
//!
//! let mut post = Post::new(Platform::X, "1", "783214");
//! post.text = "LockBit claims the Springfield School-District attack".into();
//! let hits = compiled.rules.matches(&post, &Enrichment::default());
//! let ids: Vec<&str> = hits.iter().map(|h| h.id.as_str()).collect();
//! assert_eq!(ids, ["ransom-local-gov", "keyword:lockbit"]);
//! assert_eq!(hits[1].matched[0].span, Some([0, 7]));
//! ```
//!
//! # Layout
//!
//! - `syntax`: lexer and recursive-descent parser, query text to an expression of atoms, with
//!   errors that say where and what was expected.
//! - `text`: NFKC + lower-case normalisation and tokenisation, shared by rules and posts.
//! - `compile`: all rules and watch entries into one [`RuleSet`]: a whole-token index for
//!   keywords and phrases (`tokens`: token hashes behind a cache-sized bitset), one
//!   Aho-Corasick automaton over the token stream for keywords in scripts written without
//!   spaces (and one over URLs for `url:`), a domain-suffix index, hash maps for accounts, tags and other exact
//!   atoms, one multi-pattern regex, and per atom the rules it can trigger.
//! - `matcher`: [`RuleSet::matches`]; per-post scratch buffers are reused.
//! - `xrules`: translation to X filtered-stream rules, and the warnings for rules X cannot take.
//!
//! # Semantics (every decision, in one place)
//!
//! ## Syntax
//! - AND is juxtaposition and binds tighter than `OR` (`a OR b c` = `a OR (b c)`); `OR` must be
//!   upper-case (a lower-case `or` is a keyword, as on X). A bare `AND` is an error, not the
//!   keyword "and" (quote it to match the word).
//! - `-` negates the term it touches (`-a`, `-"a b"`, `-(a OR b)`, `-from:1`); `- a` is an
//!   error. Negated groups run locally; X refuses them, so they are dropped from the X push (see
//!   below). Double negation (`--a`) is an error. Groups nest at most 64 deep.
//! - A bare word is tokenised like post text: `co-op` is the phrase `co op`, `evil.com` the
//!   phrase `evil com` (so it also matches `evil[.]com` in text). A word with no letter or
//!   digit (an emoji, `!!!`) is an error: symbols are not tokens; use `regex:` for them.
//! - Quoted strings escape `"` and `\` with a backslash.
//! - Errors give the rule id, the line and column (1-based, in chars) and what was expected.
//!   When [`RuleSpec::line`] is known the line is counted in the config file (that field names
//!   the line the query starts on) and the column within the query's line; otherwise both are
//!   within the query. Watch entries have no line: positions are within the entry.
//!
//! ## Atoms
//! - `word`, `"phrase"`: whole tokens of the text (below). A phrase is consecutive tokens with
//!   any non-token characters between them: `"school district"` matches `school-district`,
//!   `school, district` and `School District`.
//! - `#tag`, `@handle`, `$CASH`: equal (after NFKC + lower-case) to an entry of
//!   `post.hashtags` / `post.mentions` / `post.cashtags`. `$` followed by a digit is a keyword
//!   (`$5` is not a cashtag). Their span is the first `#tag` / `@handle` / `$CASH` written in
//!   the text (case-insensitively), when there is one.
//! - `from:ID`, `to:ID`: the post's author / `reply_to_author` is that `PLATFORM:AUTHOR_ID`;
//!   a bare number means X and a bare `did:...` means Bluesky. Ids compare exactly. `from:@h`
//!   and `from:h` (an X-style username) compare `author.handle` (without a leading `@`)
//!   case-insensitively, with a warning that handles change. `to:@h` is an error: posts carry
//!   the reply target's id only.
//! - `url:text`: case-insensitive substring (ASCII case folding; the value is lower-cased) of
//!   any `post.urls` entry or `iocs.urls` entry.
//! - `domain:D`: some host in `Enrichment::hosts` is `D` or ends with `.D` (label boundary:
//!   `a.example.gov` yes, `notexample.gov` no). The value is lower-cased and refanged
//!   (`[.]`, `(.)`, `{.}`, `[dot]`, `\.`), and a leading `*.` and a trailing dot are dropped.
//!   Defanged indicators in the post text are the IOC extractor's job: it puts their refanged
//!   hosts into `Enrichment::hosts`, which is what this crate reads.
//! - `has:links` (`post.urls`), `has:media`, `has:geo`, `has:ioc` (any IOC), `has:hashtags`,
//!   `has:mentions`, `has:cashtags`: the list is not empty / the value is set.
//! - `is:retweet` (also `is:repost`, `is:boost`) = `repost_of` set, `is:reply` = `reply_to`
//!   set, `is:quote` = `quote_of` set.
//! - `lang:xx`: the primary subtag (before `-` or `_`) of `post.lang` or of any `post.langs`
//!   entry, compared case-insensitively.
//! - `platform:x|mastodon|bluesky`.
//! - `entity:sltt`: some entity with [`Entity::is_sltt`](streamer_model::Entity::is_sltt);
//!   `entity:state:TX`: some SLTT entity of that state (case-insensitive).
//! - `regex:"..."`: a regex (Rust `regex` syntax, linear-time engine, no look-around or
//!   back-references) searched in the original `post.text`, case-insensitive unless the
//!   pattern says `(?-i)`. Its span is the first match.
//!
//! ## Matching
//! - Text is NFKC-normalised, then lower-cased (Unicode default case mapping). Text that is all
//!   ASCII skips both (it is already NFKC, and lower-cases byte for byte). NFKC is applied per
//!   chunk of a character plus the combining characters after it, which equals whole-text NFKC
//!   except for a few exotic sequences, and lets every span point at the original characters.
//! - Invisible characters (Unicode `Default_Ignorable_Code_Point`: zero-width space and
//!   joiners, variation selectors, bidi controls, soft hyphen, tag characters) are dropped
//!   after NFKC, as NFKC_Casefold drops them: `lock\u{200B}bit` is the token `lockbit`, and
//!   the variation selector of `⚠️LockBit` (a mark) does not glue itself to `lockbit`.
//!   DESIGN.md counts every mark as a token character; this is the one exception, because
//!   otherwise an invisible character hides a keyword from every rule.
//! - A token is a run of letters (Rust `Alphabetic`), marks, digits (Rust `Numeric`) and `_`.
//!   A token also ends where a letter of one script follows a letter of another script
//!   (`LockBitによる攻撃` holds `lockbit`); digits, `_`, marks and Common/Inherited characters
//!   never end a token (`lockbit3` is one token). Scripts are `Script`, not `Script_Extensions`.
//! - Keywords and phrases match whole tokens. In scripts written without spaces (Han,
//!   Hiragana, Katakana, Thai, Lao, Khmer, Myanmar), an end of a keyword or phrase written in
//!   such a script matches anywhere inside a token (`攻撃` matches inside `大規模攻撃`), while
//!   the inner tokens of a phrase still match whole.
//! - Hashtags and mentions are text: `#ransomware` holds the token `ransomware`.
//! - Overlapping keywords all match (`lock`, `lockbit` and `"lockbit ransomware"` together).
//! - [`AtomMatch`] lists the positive atoms (not those under a negation) that are true for the
//!   post, once each, in the order they appear in the rule. Text atoms carry the span of their
//!   first occurrence, in chars of the original `post.text`, end exclusive; a span that NFKC
//!   produced from a ligature or a combining sequence covers the whole original sequence.
//!
//! ## Watch lists
//! Each `[watch]` entry is its own rule with the watch severity and no tags: `keyword:ENTRY`
//! (the entry is parsed as a query, so `"\"school district\""` is a phrase), `domain:ENTRY`,
//! `account:ENTRY` (`PLATFORM:AUTHOR_ID` only; kind `account`), and `sltt` (`entity:sltt`)
//! when `sltt_domains` is set. Watch rules come after the `[[rules]]`, in that order. A
//! duplicate id anywhere is an error.
//!
//! ## X push
//! See [`to_x_rules`]: each rule is pushed as a rule that X can evaluate and that delivers at
//! least every X post the local rule matches (never fewer); everything X delivers is matched
//! again locally, so alerts name the local rule.
//!
//! ## Suppressions
//! [`compile_with`] takes [`Suppressions`]: posts by a muted author, or whose text holds a
//! suppressed term (a keyword or phrase, same token semantics), match no rule at all.
//!
//! # Performance
//! Only rules whose *trigger* atoms are true are evaluated: for every rule the compiler picks a
//! set of positive atoms at least one of which must be true for the rule to match (for an AND,
//! the cheapest child; for an OR, all children). Rules that have no such set (a negation only)
//! are evaluated for every post. Scratch buffers live in a thread-local [`Scratch`], or one the
//! caller passes to [`RuleSet::matches_with`].
//!
//! Keywords and phrases that trigger a rule sit in a token index: every token of the post is
//! hashed once and probed in a two-bit filter small enough to stay in cache, and only the rare
//! candidates reach a hash map and a compare. Those that trigger nothing (the `the` of
//! `lockbit (the OR county)`) are looked up only while a rule that uses them is evaluated.
//! Text that is ASCII, or ASCII but for separators (dashes, curly quotes, emoji), is split in
//! place with word-at-a-time bit tricks and no normalised copy; other text is normalised
//! chunk by chunk, with a per-thread cache of what each non-ASCII character is. Every fast
//! path has a property test against the plain one.

mod compile;
mod matcher;
mod syntax;
mod text;
mod tokens;
mod xrules;

pub use compile::RuleSet;
pub use matcher::Scratch;
pub use streamer_model::{AtomMatch, Enrichment, Post, RuleHit, Severity};
pub use xrules::{to_x_rules, XLimits, XRule};

/// One `[[rules]]` entry of the config, as the binary read it.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleSpec {
    /// Unique among all rules and watch entries: alerts name it.
    pub id: String,
    /// The query in the rule language.
    pub query: String,
    pub severity: Severity,
    pub tags: Vec<String>,
    /// The config line the query starts on (1-based), so that errors point into the file.
    pub line: Option<usize>,
}

impl RuleSpec {
    /// A rule of medium severity, no tags and no known line: for tests and examples.
    pub fn new(id: impl Into<String>, query: impl Into<String>) -> RuleSpec {
        RuleSpec {
            id: id.into(),
            query: query.into(),
            severity: Severity::Medium,
            tags: Vec::new(),
            line: None,
        }
    }
}

/// The `[watch]` table: sugar for one rule per entry (see the crate docs, "Watch lists").
#[derive(Debug, Clone, PartialEq)]
pub struct WatchSpec {
    pub keywords: Vec<String>,
    pub domains: Vec<String>,
    /// `PLATFORM:AUTHOR_ID` entries.
    pub accounts: Vec<String>,
    /// Adds the rule `sltt` = `entity:sltt`.
    pub sltt_domains: bool,
    /// The severity of every watch rule.
    pub severity: Severity,
}

impl Default for WatchSpec {
    /// An empty watch list whose entries would be of medium severity.
    fn default() -> Self {
        WatchSpec {
            keywords: Vec::new(),
            domains: Vec::new(),
            accounts: Vec::new(),
            sltt_domains: false,
            severity: Severity::Medium,
        }
    }
}

/// What the analyst dashboard silences: applied in the matcher so that muted posts never
/// become alerts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Suppressions {
    /// `PLATFORM:AUTHOR_ID` references (a bare number means X) whose posts match no rule.
    pub muted_authors: Vec<String>,
    /// Keywords or phrases (rule-language words, quoted or not): a post whose text holds one
    /// matches no rule.
    pub suppressed_terms: Vec<String>,
}

/// The result of a successful compile: the rules, and what the user should know about them.
#[derive(Debug)]
pub struct Compiled {
    pub rules: RuleSet,
    /// Rules that run locally but not (or only approximately) on X, and other advice.
    pub warnings: Vec<RuleWarning>,
}

/// A rule that could not be compiled, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rule {rule_id}: line {line}, column {column}: {message}")]
pub struct RuleError {
    pub rule_id: String,
    /// 1-based; in the config file when [`RuleSpec::line`] is known, else in the query.
    pub line: usize,
    /// 1-based, in chars, within the line.
    pub column: usize,
    /// What was wrong and what was expected.
    pub message: String,
}

/// Advice about a rule that compiles: it runs locally, but something about it deserves
/// attention (it cannot be pushed to X, or it uses a handle rather than a stable id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleWarning {
    pub rule_id: String,
    pub message: String,
}

impl std::fmt::Display for RuleWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "rule {}: {}", self.rule_id, self.message)
    }
}

/// Compiles every rule and watch entry; reports all errors, not just the first.
pub fn compile(rules: &[RuleSpec], watch: &WatchSpec) -> Result<Compiled, Vec<RuleError>> {
    compile_with(rules, watch, &Suppressions::default())
}

/// [`compile`] with the dashboard's [`Suppressions`] applied by the matcher.
pub fn compile_with(
    rules: &[RuleSpec],
    watch: &WatchSpec,
    suppressions: &Suppressions,
) -> Result<Compiled, Vec<RuleError>> {
    compile::compile(rules, watch, suppressions)
}
