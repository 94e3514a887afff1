//! The notification outbox, as in `sqlite/outbox.rs`: events queued in a run's own transaction (one row per
//! target), drained by `notify`.
//!
//! Several workers share the outbox, so a target is drained by one connection at a time: a session-level
//! advisory lock `(OUTBOX, hashtext(target))`, taken with `pg_try_advisory_lock` (a worker that finds it held
//! leaves the target) and given back after the drain. The server drops it with the session, so a worker killed
//! mid-drain holds nothing once its socket closes, and a connection that `conn.rs` replaced (the server dropped
//! it) has lost it: [`holds`] asks the server whether this session still has it, and `notify` stops that target's
//! drain when it does not. Two targets whose names hash alike are drained one after the other: harmless. No
//! table: nothing to migrate or to clean up after a crash.

use chrono::{DateTime, Utc};

use super::conn::Tx;
use super::schema::OUTBOX;
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

/// Takes `target`'s drain lock for this session, unless another session holds it.
pub(super) fn lock(tx: &mut Tx<'_>, target: &str) -> Result<bool> {
    let row = tx.query_one("SELECT pg_try_advisory_lock($1, hashtext($2))", &[&OUTBOX, &target])?;
    Ok(row.try_get(0)?)
}

/// Whether this session holds `target`'s drain lock (a new session, after a lost connection, does not).
pub(super) fn holds(tx: &mut Tx<'_>, target: &str) -> Result<bool> {
    // The two-key form shows as (classid, objid, objsubid = 2), the keys as unsigned oids.
    let row = tx.query_one(
        "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted
            AND pid = pg_backend_pid() AND objsubid = 2
            AND classid = ($1::int4)::oid AND objid = (hashtext($2))::oid)",
        &[&OUTBOX, &target],
    )?;
    Ok(row.try_get(0)?)
}

/// Gives `target`'s drain lock back, however many times this session took it (a session's advisory locks count,
/// and an interrupted drain may have taken it without giving it back).
pub(super) fn unlock(tx: &mut Tx<'_>, target: &str) -> Result<()> {
    while holds(tx, target)? {
        let row = tx.query_one("SELECT pg_advisory_unlock($1, hashtext($2))", &[&OUTBOX, &target])?;
        if !row.try_get::<_, bool>(0)? {
            break;
        }
    }
    Ok(())
}
