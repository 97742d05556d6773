//! The rule language parser: query text to an expression of atoms.
//!
//! Grammar (X's filtered-stream syntax, see the crate docs):
//!
//! ```text
//! query   = or
//! or      = and { "OR" and }
//! and     = unary { unary }              (juxtaposition; binds tighter than OR)
//! unary   = "-" primary | primary        (the "-" touches its term)
//! primary = "(" or ")" | atom
//! atom    = word | "quoted phrase" | #tag | @handle | $CASH | operator ":" value
//! ```

use crate::text;
use streamer_model::Platform;

/// A parsed query.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    Atom(Atom),
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
}

/// One atom and where it was written.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Atom {
    pub op: Op,
    /// The atom as written, for `AtomMatch::value` and X translation.
    pub raw: String,
    pub line: usize,
    pub column: usize,
}

/// A stable account reference, `PLATFORM:AUTHOR_ID`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Account {
    pub platform: Platform,
    pub id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum HasFlag {
    Links,
    Geo,
    Media,
    Ioc,
    Hashtags,
    Mentions,
    Cashtags,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum IsFlag {
    Retweet,
    Reply,
    Quote,
}

/// What an atom tests.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Op {
    /// Consecutive normalised tokens; `quoted` marks a phrase written in quotes.
    Text {
        tokens: Vec<String>,
        quoted: bool,
    },
    Hashtag(String),
    Mention(String),
    Cashtag(String),
    From(Account),
    FromHandle(String),
    To(Account),
    /// Watch-list account: same test as `From`, reported as kind `account`.
    Account(Account),
    Url(String),
    Domain(String),
    Has(HasFlag),
    Is(IsFlag),
    Lang(String),
    Platform(Platform),
    EntitySltt,
    EntityState(String),
    Regex(String),
}

impl Op {
    /// The `AtomMatch::kind` of this atom.
    pub fn kind(&self) -> &'static str {
        match self {
            Op::Text { quoted: true, .. } => "phrase",
            Op::Text { .. } => "keyword",
            Op::Hashtag(_) => "hashtag",
            Op::Mention(_) => "mention",
            Op::Cashtag(_) => "cashtag",
            Op::From(_) | Op::FromHandle(_) => "from",
            Op::To(_) => "to",
            Op::Account(_) => "account",
            Op::Url(_) => "url",
            Op::Domain(_) => "domain",
            Op::Has(_) => "has",
            Op::Is(_) => "is",
            Op::Lang(_) => "lang",
            Op::Platform(_) => "platform",
            Op::EntitySltt | Op::EntityState(_) => "entity",
            Op::Regex(_) => "regex",
        }
    }
}

/// A parse error at a position inside the query (1-based line and column, in chars).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ParseError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// A notice about a rule that parses: reported as a [`crate::RuleWarning`].
pub(crate) type Notice = String;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    Or,
    Neg,
    Word(String),
    Quoted(String),
    /// `name:value`, `quoted` when the value was a quoted string.
    Operator {
        name: String,
        value: String,
        quoted: bool,
    },
}

#[derive(Debug, Clone)]
struct Spanned {
    tok: Tok,
    raw: String,
    line: usize,
    column: usize,
}

const OPERATORS: &[&str] = &[
    "from", "to", "url", "domain", "has", "is", "lang", "platform", "entity", "regex",
];

/// X operators that Streamer does not evaluate: named in the error so that users know why.
const X_ONLY_OPERATORS: &[&str] = &[
    "retweets_of",
    "context",
    "conversation_id",
    "bio",
    "bio_name",
    "bio_location",
    "place",
    "place_country",
    "point_radius",
    "bounding_box",
    "sample",
    "source",
    "url_title",
    "url_description",
    "url_contains",
    "followers_count",
    "tweets_count",
    "following_count",
    "listed_count",
    "min_followers",
    "in_reply_to_tweet_id",
    "retweets_of_tweet_id",
    "from_affiliate_of",
    "to_affiliate_of",
    "embedding",
    "embedding_threshold",
];

struct Lexer<'a> {
    chars: Vec<char>,
    pos: usize,
    line: usize,
    column: usize,
    _src: &'a str,
}

impl<'a> Lexer<'a> {
    fn new(src: &'a str) -> Self {
        Lexer {
            chars: src.chars().collect(),
            pos: 0,
            line: 1,
            column: 1,
            _src: src,
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.chars.get(self.pos).copied()?;
        self.pos += 1;
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    fn err(&self, line: usize, column: usize, message: impl Into<String>) -> ParseError {
        ParseError {
            line,
            column,
            message: message.into(),
        }
    }

    /// Reads a `"..."` string (the cursor is on the opening quote); `\"` and `\\` escape.
    fn quoted(&mut self) -> Result<String, ParseError> {
        let (line, column) = (self.line, self.column);
        self.bump();
        let mut s = String::new();
        loop {
            match self.bump() {
                None => {
                    return Err(self.err(
                        line,
                        column,
                        "expected a closing '\"' for the quote opened here",
                    ))
                }
                Some('"') => return Ok(s),
                Some('\\') => match self.peek() {
                    Some(c @ ('"' | '\\')) => {
                        self.bump();
                        s.push(c);
                    }
                    _ => s.push('\\'),
                },
                Some(c) => s.push(c),
            }
        }
    }

    fn is_word_end(c: char) -> bool {
        c.is_whitespace() || c == '(' || c == ')' || c == '"'
    }

    fn tokens(mut self) -> Result<Vec<Spanned>, ParseError> {
        let mut out = Vec::new();
        loop {
            while self.peek().is_some_and(char::is_whitespace) {
                self.bump();
            }
            let (line, column, start) = (self.line, self.column, self.pos);
            let Some(c) = self.peek() else { break };
            let tok = match c {
                '(' => {
                    self.bump();
                    Tok::LParen
                }
                ')' => {
                    self.bump();
                    Tok::RParen
                }
                '"' => Tok::Quoted(self.quoted()?),
                '-' => {
                    self.bump();
                    match self.peek() {
                        Some(n) if !n.is_whitespace() && n != ')' => Tok::Neg,
                        _ => {
                            return Err(self.err(
                                line,
                                column,
                                "expected a term right after '-' (no space between)",
                            ))
                        }
                    }
                }
                _ => {
                    let mut w = String::new();
                    while let Some(c) = self.peek() {
                        if Self::is_word_end(c) {
                            break;
                        }
                        w.push(c);
                        self.bump();
                    }
                    if let Some((name, value)) = w.split_once(':') {
                        let name_l = name.to_ascii_lowercase();
                        if OPERATORS.contains(&name_l.as_str()) {
                            if value.is_empty() && self.peek() == Some('"') {
                                let v = self.quoted()?;
                                Tok::Operator {
                                    name: name_l,
                                    value: v,
                                    quoted: true,
                                }
                            } else if value.is_empty() {
                                return Err(self.err(
                                    line,
                                    column,
                                    format!("expected a value after '{name}:'"),
                                ));
                            } else {
                                Tok::Operator {
                                    name: name_l,
                                    value: value.to_string(),
                                    quoted: false,
                                }
                            }
                        } else if X_ONLY_OPERATORS.contains(&name_l.as_str()) {
                            return Err(self.err(
                                line,
                                column,
                                format!(
                                    "'{name}:' is an X operator that Streamer cannot evaluate; expected one of {}",
                                    OPERATORS.join(":, ") + ":"
                                ),
                            ));
                        } else if !name.is_empty()
                            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                            && name.chars().any(|c| c.is_ascii_alphabetic())
                        {
                            return Err(self.err(
                                line,
                                column,
                                format!(
                                    "unknown operator '{name}:'; expected one of {} (to match the text, quote it: \"{w}\")",
                                    OPERATORS.join(":, ") + ":"
                                ),
                            ));
                        } else {
                            Tok::Word(w)
                        }
                    } else if w == "OR" {
                        Tok::Or
                    } else if w == "AND" {
                        return Err(self.err(
                            line,
                            column,
                            "expected a term: AND is implicit, write the terms side by side (\"AND\" quoted matches the word)",
                        ));
                    } else {
                        Tok::Word(w)
                    }
                }
            };
            let raw: String = self.chars[start..self.pos].iter().collect();
            out.push(Spanned {
                tok,
                raw,
                line,
                column,
            });
        }
        Ok(out)
    }
}

/// Parses a query. Notices (such as `from:@handle`) are appended to `notices`.
pub(crate) fn parse(src: &str, notices: &mut Vec<Notice>) -> Result<Expr, ParseError> {
    let toks = Lexer::new(src).tokens()?;
    let end = end_pos(src);
    let mut p = Parser {
        toks,
        pos: 0,
        end,
        notices,
        depth: 0,
    };
    if p.toks.is_empty() {
        return Err(ParseError {
            line: 1,
            column: 1,
            message: "expected at least one term, found an empty query".into(),
        });
    }
    let e = p.or()?;
    if let Some(t) = p.toks.get(p.pos) {
        return Err(ParseError {
            line: t.line,
            column: t.column,
            message: "unexpected ')': it has no matching '('".into(),
        });
    }
    Ok(e)
}

fn end_pos(src: &str) -> (usize, usize) {
    let mut line = 1;
    let mut column = 1;
    for c in src.chars() {
        if c == '\n' {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
    }
    (line, column)
}

/// Nesting deeper than this is refused, so that hostile input cannot overflow the stack.
const MAX_DEPTH: usize = 64;

struct Parser<'n> {
    toks: Vec<Spanned>,
    pos: usize,
    end: (usize, usize),
    notices: &'n mut Vec<Notice>,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.tok)
    }

    fn here(&self) -> (usize, usize) {
        self.toks
            .get(self.pos)
            .map(|t| (t.line, t.column))
            .unwrap_or(self.end)
    }

    fn found(&self) -> String {
        match self.toks.get(self.pos) {
            None => "the end of the query".into(),
            Some(t) => format!("'{}'", t.raw),
        }
    }

    fn err<T>(&self, message: String) -> Result<T, ParseError> {
        let (line, column) = self.here();
        Err(ParseError {
            line,
            column,
            message,
        })
    }

    fn or(&mut self) -> Result<Expr, ParseError> {
        let mut items = vec![self.and("a term")?];
        while self.peek() == Some(&Tok::Or) {
            self.pos += 1;
            items.push(self.and("a term after OR")?);
        }
        Ok(if items.len() == 1 {
            items.pop().unwrap_or(Expr::Or(Vec::new()))
        } else {
            Expr::Or(items)
        })
    }

    fn and(&mut self, what: &str) -> Result<Expr, ParseError> {
        let mut items = Vec::new();
        while !matches!(self.peek(), None | Some(Tok::RParen) | Some(Tok::Or)) {
            items.push(self.unary()?);
        }
        if items.is_empty() {
            let what = if self.peek() == Some(&Tok::Or) && what == "a term" {
                "a term before OR"
            } else {
                what
            };
            return self.err(format!("expected {what}, found {}", self.found()));
        }
        Ok(if items.len() == 1 {
            items.pop().unwrap_or(Expr::And(Vec::new()))
        } else {
            Expr::And(items)
        })
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        if self.peek() == Some(&Tok::Neg) {
            self.pos += 1;
            if matches!(self.peek(), Some(Tok::Neg) | Some(Tok::Or) | None) {
                return self.err(format!("expected a term after '-', found {}", self.found()));
            }
            return Ok(Expr::Not(Box::new(self.primary()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        let Some(t) = self.toks.get(self.pos).cloned() else {
            return self.err(format!("expected a term, found {}", self.found()));
        };
        match t.tok {
            Tok::LParen => {
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return self.err(format!("expected at most {MAX_DEPTH} nested groups"));
                }
                self.pos += 1;
                if self.peek() == Some(&Tok::RParen) {
                    return self.err("expected a term inside '( )', found ')'".into());
                }
                let e = self.or()?;
                if self.peek() != Some(&Tok::RParen) {
                    return self.err(format!(
                        "expected ')' to close the '(' at line {}, column {}, found {}",
                        t.line,
                        t.column,
                        self.found()
                    ));
                }
                self.pos += 1;
                self.depth -= 1;
                Ok(e)
            }
            Tok::RParen | Tok::Or | Tok::Neg => {
                self.err(format!("expected a term, found {}", self.found()))
            }
            Tok::Word(ref w) => {
                self.pos += 1;
                let op = word_atom(w).map_err(|m| ParseError {
                    line: t.line,
                    column: t.column,
                    message: m,
                })?;
                Ok(atom(op, t))
            }
            Tok::Quoted(ref q) => {
                self.pos += 1;
                let tokens = text::tokens(q);
                if tokens.is_empty() {
                    return Err(ParseError {
                        line: t.line,
                        column: t.column,
                        message: "expected a letter or digit inside the quotes (symbols alone are not tokens; use regex:\"...\")".into(),
                    });
                }
                Ok(atom(
                    Op::Text {
                        tokens,
                        quoted: true,
                    },
                    t,
                ))
            }
            Tok::Operator {
                ref name,
                ref value,
                quoted,
            } => {
                self.pos += 1;
                let op =
                    operator_atom(name, value, quoted, self.notices).map_err(|m| ParseError {
                        line: t.line,
                        column: t.column,
                        message: m,
                    })?;
                Ok(atom(op, t))
            }
        }
    }
}

/// Builds an atom; its `raw` is the value as written: without an operator's `name:` prefix or
/// the quotes around a phrase or value, with the `#`, `@` or `$` of a tag.
fn atom(op: Op, t: Spanned) -> Expr {
    let raw = match t.tok {
        Tok::Quoted(q) => q,
        Tok::Operator { value, .. } => value,
        _ => t.raw,
    };
    Expr::Atom(Atom {
        op,
        raw,
        line: t.line,
        column: t.column,
    })
}

fn word_atom(w: &str) -> Result<Op, String> {
    let mut chars = w.chars();
    let first = chars.next().unwrap_or(' ');
    let rest = chars.as_str();
    let tag = |kind: &str| -> Result<String, String> {
        if rest.is_empty() {
            Err(format!("expected a {kind} after '{first}'"))
        } else {
            Ok(text::fold(rest))
        }
    };
    match first {
        '#' => return Ok(Op::Hashtag(tag("hashtag")?)),
        '@' => return Ok(Op::Mention(tag("handle")?)),
        '$' if rest.chars().next().is_some_and(|c| !c.is_ascii_digit()) => {
            return Ok(Op::Cashtag(tag("cashtag")?))
        }
        _ => {}
    }
    let tokens = text::tokens(w);
    if tokens.is_empty() {
        return Err(format!(
            "expected a word with a letter or digit, found '{w}' (symbols alone are not tokens; use regex:\"...\")"
        ));
    }
    Ok(Op::Text {
        tokens,
        quoted: false,
    })
}

/// Parses a `PLATFORM:AUTHOR_ID` reference; a bare number means X and `did:` means Bluesky.
pub(crate) fn parse_account(v: &str) -> Option<Account> {
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        return Some(Account {
            platform: Platform::X,
            id: v.to_string(),
        });
    }
    if v.starts_with("did:") && v.len() > 4 {
        return Some(Account {
            platform: Platform::Bluesky,
            id: v.to_string(),
        });
    }
    let (p, id) = v.split_once(':')?;
    let platform = Platform::parse(&p.to_ascii_lowercase())?;
    if id.is_empty() || id.chars().any(char::is_whitespace) {
        return None;
    }
    Some(Account {
        platform,
        id: id.to_string(),
    })
}

/// Normalises a domain as written in a rule or watch list: lower-cased, refanged, without a
/// leading `*.`/`.` or a trailing dot. `None` when it is not a plausible host name.
pub(crate) fn parse_domain(v: &str) -> Option<String> {
    let mut d = v.trim().to_lowercase();
    for (from, to) in [
        ("[.]", "."),
        ("(.)", "."),
        ("{.}", "."),
        ("[dot]", "."),
        ("(dot)", "."),
        ("\\.", "."),
    ] {
        if d.contains(from) {
            d = d.replace(from, to);
        }
    }
    let d = d
        .trim_start_matches("*.")
        .trim_start_matches('.')
        .trim_end_matches('.');
    if d.is_empty()
        || d.contains("..")
        || d.chars().any(|c| {
            c.is_whitespace() || matches!(c, '/' | ':' | '@' | '?' | '#' | '[' | ']' | '*')
        })
    {
        return None;
    }
    Some(d.to_string())
}

fn operator_atom(
    name: &str,
    value: &str,
    quoted: bool,
    notices: &mut Vec<Notice>,
) -> Result<Op, String> {
    let lower = value.to_ascii_lowercase();
    match name {
        "from" | "to" => {
            if let Some(a) = parse_account(value) {
                return Ok(if name == "from" { Op::From(a) } else { Op::To(a) });
            }
            let handle = value.strip_prefix('@').unwrap_or(value);
            let plausible = !handle.is_empty()
                && handle
                    .chars()
                    .all(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '-' | '@'));
            if name == "from" && plausible && !value.contains(':') {
                notices.push(format!(
                    "from:{value} matches the author's current handle, which can change; prefer the stable id (from:PLATFORM:ID)"
                ));
                return Ok(Op::FromHandle(text::fold(handle)));
            }
            Err(format!(
                "expected {name}:PLATFORM:ID (x:783214, mastodon:HOST:ID, bluesky:did:plc:...) or a bare X id, found '{value}'"
            ))
        }
        "url" => {
            if value.is_empty() {
                return Err("expected text after url:".into());
            }
            Ok(Op::Url(value.to_lowercase()))
        }
        "domain" => parse_domain(value).map(Op::Domain).ok_or_else(|| {
            format!("expected a domain such as example.gov after domain:, found '{value}'")
        }),
        "has" => Ok(Op::Has(match lower.as_str() {
            "links" => HasFlag::Links,
            "geo" => HasFlag::Geo,
            "media" => HasFlag::Media,
            "ioc" | "iocs" => HasFlag::Ioc,
            "hashtags" => HasFlag::Hashtags,
            "mentions" => HasFlag::Mentions,
            "cashtags" => HasFlag::Cashtags,
            _ => {
                return Err(format!(
                    "expected has:links, has:geo, has:media, has:ioc, has:hashtags, has:mentions or has:cashtags, found 'has:{value}'"
                ))
            }
        })),
        "is" => Ok(Op::Is(match lower.as_str() {
            "retweet" | "repost" | "boost" => IsFlag::Retweet,
            "reply" => IsFlag::Reply,
            "quote" => IsFlag::Quote,
            _ => {
                return Err(format!(
                    "expected is:retweet, is:reply or is:quote, found 'is:{value}'"
                ))
            }
        })),
        "lang" => {
            let ok = (2..=8).contains(&lower.len()) && lower.bytes().all(|b| b.is_ascii_alphabetic());
            if !ok {
                return Err(format!(
                    "expected a language subtag such as lang:en, found 'lang:{value}'"
                ));
            }
            Ok(Op::Lang(lower))
        }
        "platform" => Platform::parse(&lower).map(Op::Platform).ok_or_else(|| {
            format!("expected platform:x, platform:mastodon or platform:bluesky, found 'platform:{value}'")
        }),
        "entity" => {
            if lower == "sltt" {
                return Ok(Op::EntitySltt);
            }
            if let Some(st) = lower.strip_prefix("state:") {
                if st.len() == 2 && st.bytes().all(|b| b.is_ascii_alphabetic()) {
                    return Ok(Op::EntityState(st.to_ascii_uppercase()));
                }
            }
            Err(format!(
                "expected entity:sltt or entity:state:XX (a two-letter state code), found 'entity:{value}'"
            ))
        }
        "regex" => {
            if !quoted && value.is_empty() {
                return Err("expected a pattern after regex:".into());
            }
            Ok(Op::Regex(value.to_string()))
        }
        _ => Err(format!("unknown operator '{name}:'")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Expr {
        parse(s, &mut Vec::new()).unwrap_or_else(|e| panic!("{s}: {e:?}"))
    }

    fn e(s: &str) -> ParseError {
        parse(s, &mut Vec::new()).expect_err(s)
    }

    fn shape(e: &Expr) -> String {
        match e {
            Expr::Atom(a) => a.raw.clone(),
            Expr::And(v) => format!(
                "(and {})",
                v.iter().map(shape).collect::<Vec<_>>().join(" ")
            ),
            Expr::Or(v) => format!("(or {})", v.iter().map(shape).collect::<Vec<_>>().join(" ")),
            Expr::Not(x) => format!("(not {})", shape(x)),
        }
    }

    #[test]
    fn and_binds_tighter_than_or() {
        assert_eq!(
            shape(&p("apple OR iphone ipad")),
            "(or apple (and iphone ipad))"
        );
        assert_eq!(shape(&p("a b OR c -d")), "(or (and a b) (and c (not d)))");
        assert_eq!(shape(&p("(a OR b) c")), "(and (or a b) c)");
        assert_eq!(shape(&p("-(a OR b)")), "(not (or a b))");
        assert_eq!(shape(&p("a or b")), "(and a or b)");
    }

    #[test]
    fn operators_parse_with_quoted_values() {
        let Expr::Atom(a) = p("url:\"example.com/path x\"") else {
            panic!()
        };
        assert_eq!(a.op, Op::Url("example.com/path x".into()));
        let Expr::Atom(a) = p("regex:\"lock\\\"bit\"") else {
            panic!()
        };
        assert_eq!(a.op, Op::Regex("lock\"bit".into()));
        let Expr::Atom(a) = p("from:783214") else {
            panic!()
        };
        assert_eq!(
            a.op,
            Op::From(Account {
                platform: Platform::X,
                id: "783214".into()
            })
        );
        let Expr::Atom(a) = p("domain:Evil[.]COM.") else {
            panic!()
        };
        assert_eq!(a.op, Op::Domain("evil.com".into()));
    }

    #[test]
    fn errors_say_where_and_what_was_expected() {
        let x = e("lockbit (county OR");
        assert_eq!((x.line, x.column), (1, 19));
        assert!(
            x.message.contains("expected a term after OR"),
            "{}",
            x.message
        );
        let x = e("lockbit (county");
        assert!(
            x.message
                .contains("expected ')' to close the '(' at line 1, column 9"),
            "{}",
            x.message
        );
        let x = e("a\n  OR OR b");
        assert_eq!((x.line, x.column), (2, 6));
        let x = e("a - b");
        assert_eq!((x.line, x.column), (1, 3));
        let x = e("a )");
        assert!(x.message.contains("no matching"));
        let x = e("\"open");
        assert!(x.message.contains("closing"));
        assert!(e("").message.contains("expected at least one term"));
        assert!(e("has:everything").message.contains("expected has:links"));
        assert!(e("bio:cats").message.contains("X operator"));
        assert!(e("foo:bar").message.contains("unknown operator"));
        assert!(e("a AND b").message.contains("AND is implicit"));
        assert!(e("()").message.contains("inside"));
        assert!(e("🔥").message.contains("letter or digit"));
        let deep = "(".repeat(100) + "a" + &")".repeat(100);
        assert!(e(&deep).message.contains("nested"));
    }

    #[test]
    fn from_handle_warns() {
        let mut n = Vec::new();
        let x = parse("from:@SomeOne", &mut n).unwrap();
        assert!(matches!(x, Expr::Atom(Atom { op: Op::FromHandle(ref h), .. }) if h == "someone"));
        assert_eq!(n.len(), 1);
        assert!(parse("to:@someone", &mut n).is_err());
    }
}
