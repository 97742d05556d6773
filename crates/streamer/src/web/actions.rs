//! Every write the dashboard makes: feedback on alerts, suppressions, and the audit log.
//! Each action and its audit entry commit in one transaction, so the log never misses one.

use anyhow::{bail, Result};
use rusqlite::{params, Connection, OptionalExtension};
use streamer_rules::{RuleSpec, Suppressions, WatchSpec};

/// Longest reason or term kept (longer input is refused, not cut silently).
pub const MAX_TEXT: usize = 500;

fn clean(s: &str, what: &str, required: bool) -> Result<String> {
    let s: String = s
        .chars()
        .filter(|c| !c.is_control() || *c == '\n')
        .collect();
    let s = s.trim().to_string();
    if required && s.is_empty() {
        bail!("{what} is required");
    }
    if s.chars().count() > MAX_TEXT {
        bail!("{what} is longer than {MAX_TEXT} characters");
    }
    Ok(s)
}

/// Writes one audit entry (who did what to which target, and why).
pub fn audit(
    conn: &Connection,
    who: &str,
    action: &str,
    target: &str,
    reason: &str,
    detail: Option<&str>,
) -> Result<()> {
    conn.execute(
        "INSERT INTO audit_log (at, who, action, target, reason, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![crate::storage::now_rfc3339(), who, action, target, reason, detail],
    )?;
    Ok(())
}

/// Marks an alert a false positive (with a reason), or reopens it (`undo`).
pub(crate) fn false_positive(
    conn: &Connection,
    who: &str,
    alert_id: &str,
    reason: &str,
    undo: bool,
) -> Result<()> {
    let reason = clean(reason, "A reason", !undo)?;
    let tx = conn.unchecked_transaction()?;
    let now = crate::storage::now_rfc3339();
    if undo {
        let n = tx.execute(
            "UPDATE alert_feedback SET revoked_at = ?2, revoked_by = ?3
             WHERE alert_id = ?1 AND kind = 'false_positive' AND revoked_at IS NULL",
            params![alert_id, now, who],
        )?;
        if n == 0 {
            bail!("this alert is not marked as a false positive");
        }
        audit(
            &tx,
            who,
            "reopen",
            &format!("alert {alert_id}"),
            &reason,
            None,
        )?;
    } else {
        tx.execute(
            "INSERT INTO alert_feedback (alert_id, kind, reason, who, at) VALUES (?1, 'false_positive', ?2, ?3, ?4)",
            params![alert_id, reason, who, now],
        )?;
        audit(
            &tx,
            who,
            "false_positive",
            &format!("alert {alert_id}"),
            &reason,
            None,
        )?;
    }
    tx.commit()?;
    Ok(())
}

/// Checks a suppression the way the matcher will read it, so that a stored suppression can
/// never make the rules fail to compile: authors must parse as `PLATFORM:AUTHOR_ID`, and a
/// term must hold a token (letters or digits; the matcher ignores a term without one).
fn check(kind: &str, value: &str) -> Result<()> {
    let s = match kind {
        "author" => Suppressions {
            muted_authors: vec![value.to_string()],
            ..Suppressions::default()
        },
        "term" => {
            if !value.chars().any(char::is_alphanumeric) {
                bail!("a suppressed term needs letters or digits (symbols are not tokens)");
            }
            Suppressions {
                suppressed_terms: vec![value.to_string()],
                ..Suppressions::default()
            }
        }
        _ => bail!("unknown suppression kind {kind:?}"),
    };
    let probe = [RuleSpec::new("probe", "probe")];
    if streamer_rules::compile_with(&probe, &WatchSpec::default(), &s).is_err() {
        bail!("an author is PLATFORM:AUTHOR_ID, e.g. x:783214 or mastodon:infosec.exchange:1090");
    }
    Ok(())
}

/// Adds a suppression (`author` = `PLATFORM:AUTHOR_ID`, or `term`) and returns its id. An
/// identical active suppression is not duplicated.
pub fn add_suppression(
    conn: &Connection,
    who: &str,
    kind: &str,
    value: &str,
    reason: &str,
    alert_id: Option<&str>,
) -> Result<i64> {
    let value = clean(value, "The value", true)?;
    let reason = clean(reason, "A reason", true)?;
    check(kind, &value)?;
    let tx = conn.unchecked_transaction()?;
    let existing: Option<i64> = tx
        .query_row(
            "SELECT id FROM suppressions WHERE kind = ?1 AND value = ?2 AND removed_at IS NULL",
            params![kind, value],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(id) = existing {
        return Ok(id);
    }
    tx.execute(
        "INSERT INTO suppressions (kind, value, reason, alert_id, created_by, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            kind,
            value,
            reason,
            alert_id,
            who,
            crate::storage::now_rfc3339()
        ],
    )?;
    let id = tx.last_insert_rowid();
    let action = if kind == "author" {
        "mute_author"
    } else {
        "suppress_term"
    };
    let detail = alert_id.map(|a| format!("from alert {a}"));
    audit(&tx, who, action, &value, &reason, detail.as_deref())?;
    tx.commit()?;
    Ok(id)
}

/// Lifts a suppression (kept, marked removed, so the list shows its history).
pub fn remove_suppression(conn: &Connection, who: &str, id: i64, reason: &str) -> Result<()> {
    let reason = clean(reason, "A reason", false)?;
    let tx = conn.unchecked_transaction()?;
    let row: Option<(String, String)> = tx
        .query_row(
            "SELECT kind, value FROM suppressions WHERE id = ?1 AND removed_at IS NULL",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((kind, value)) = row else {
        bail!("no active suppression {id}");
    };
    tx.execute(
        "UPDATE suppressions SET removed_at = ?2, removed_by = ?3 WHERE id = ?1",
        params![id, crate::storage::now_rfc3339(), who],
    )?;
    let action = if kind == "author" {
        "unmute_author"
    } else {
        "unsuppress_term"
    };
    audit(&tx, who, action, &value, &reason, None)?;
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        drop(crate::storage::Storage::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        (dir, conn)
    }

    #[test]
    fn suppressions_round_trip_through_the_audit_log() {
        let (_d, c) = db();
        let id = add_suppression(&c, "ana", "author", "x:42", "spam bot", Some("A1")).unwrap();
        assert_eq!(
            add_suppression(&c, "ana", "author", "x:42", "again", None).unwrap(),
            id
        );
        add_suppression(&c, "ana", "term", "\"bug bounty\"", "noise", None).unwrap();
        let s = super::super::load_suppressions(&c).unwrap();
        assert_eq!(s.muted_authors, ["x:42"]);
        assert_eq!(s.suppressed_terms, ["\"bug bounty\""]);
        remove_suppression(&c, "bob", id, "mistake").unwrap();
        assert!(remove_suppression(&c, "bob", id, "").is_err());
        let s = super::super::load_suppressions(&c).unwrap();
        assert!(s.muted_authors.is_empty());
        let actions: Vec<String> = c
            .prepare("SELECT who || ' ' || action FROM audit_log ORDER BY seq")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(
            actions,
            ["ana mute_author", "ana suppress_term", "bob unmute_author"]
        );
    }

    #[test]
    fn bad_input_is_refused() {
        let (_d, c) = db();
        assert!(add_suppression(&c, "a", "author", "nonsense", "r", None).is_err());
        assert!(add_suppression(&c, "a", "term", "🔥", "r", None).is_err());
        assert!(add_suppression(&c, "a", "term", "ok", "", None).is_err());
        assert!(false_positive(&c, "a", "A1", "", false).is_err());
        assert!(false_positive(&c, "a", "A1", &"x".repeat(MAX_TEXT + 1), false).is_err());
        false_positive(&c, "a", "A1", "benign", false).unwrap();
        false_positive(&c, "a", "A1", "", true).unwrap();
        assert!(false_positive(&c, "a", "A1", "", true).is_err());
    }
}
