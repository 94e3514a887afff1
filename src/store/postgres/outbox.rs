//! The notification outbox, as in `sqlite/outbox.rs`: events queued in a run's own transaction (one row per
//! target), drained by `notify`.

use chrono::{DateTime, Utc};

use super::conn::Tx;
use super::{Failure, Result};
use crate::model::Event;

/// Queues each of `events`, in order, for each of `targets`.
pub(super) fn enqueue(tx: &mut Tx<'_>, targets: &[String], events: &[Event], now: DateTime<Utc>) -> Result<()> {
    if targets.is_empty() || events.is_empty() {
        return Ok(());
    }
    let now = now.to_rfc3339();
    for event in events {
        // JSON escapes a NUL, so the text holds none.
        let json = serde_json::to_string(event).expect("plain data serializes");
        for target in targets {
            tx.execute(
                "INSERT INTO outbox (target, event, created) VALUES ($1, $2, $3)",
                &[target, &json, &now],
            )?;
        }
    }
    Ok(())
}

pub(super) fn pending(tx: &mut Tx<'_>, target: &str) -> Result<Vec<(i64, Event)>> {
    let rows = tx.query("SELECT id, event FROM outbox WHERE target = $1 ORDER BY id", &[&target])?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let (id, json): (i64, &str) = (r.try_get(0)?, r.try_get(1)?);
        let event = serde_json::from_str(json).map_err(|e| Failure::Corrupt(format!("outbox event {id}: {e}")))?;
        out.push((id, event));
    }
    Ok(out)
}

pub(super) fn delivered(tx: &mut Tx<'_>, id: i64, result: Result<(), String>) -> Result<()> {
    match result {
        Ok(()) => tx.execute("DELETE FROM outbox WHERE id = $1", &[&id])?,
        Err(e) => tx.execute(
            "UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE id = $1",
            &[&id, &super::clean(&e)],
        )?,
    };
    Ok(())
}
