//! The notification outbox: events queued in a run's own transaction (one row per target), drained by `notify`.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};

use super::{Failure, Result};
use crate::model::Event;

/// Queues each of `events`, in order, for each of `targets`.
pub(super) fn enqueue(c: &Connection, targets: &[String], events: &[Event], now: DateTime<Utc>) -> Result<()> {
    if targets.is_empty() || events.is_empty() {
        return Ok(());
    }
    let mut stmt = c.prepare_cached("INSERT INTO outbox (target, event, created) VALUES (?1, ?2, ?3)")?;
    let now = now.to_rfc3339();
    for event in events {
        let json = serde_json::to_string(event).expect("plain data serializes");
        for target in targets {
            stmt.execute(params![target, json, now])?;
        }
    }
    Ok(())
}

pub(super) fn pending(c: &Connection, target: &str) -> Result<Vec<(i64, Event)>> {
    let mut stmt = c.prepare_cached("SELECT id, event FROM outbox WHERE target = ?1 ORDER BY id")?;
    let mut rows = stmt.query([target])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let (id, json): (i64, String) = (r.get(0)?, r.get(1)?);
        let event = serde_json::from_str(&json).map_err(|e| Failure::Corrupt(format!("outbox event {id}: {e}")))?;
        out.push((id, event));
    }
    Ok(out)
}

pub(super) fn delivered(c: &Connection, id: i64, result: Result<(), String>) -> Result<()> {
    match result {
        Ok(()) => c.prepare_cached("DELETE FROM outbox WHERE id = ?1")?.execute([id])?,
        Err(e) => c
            .prepare_cached("UPDATE outbox SET attempts = attempts + 1, last_error = ?2 WHERE id = ?1")?
            .execute(params![id, e])?,
    };
    Ok(())
}
