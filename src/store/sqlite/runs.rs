//! Run records: one per source per run, the last [`RUNS_KEPT`] kept, for health, `status`, `serve` and `watch`.

use std::time::Duration;

use rusqlite::{Connection, params};

use super::{Failure, Result, utc};
use crate::model::SourceId;
use crate::store::{Outcome, RUNS_KEPT, RunRecord, RunSummary};

pub(super) fn insert(c: &Connection, run: &RunRecord) -> Result<()> {
    c.prepare_cached(
        "INSERT INTO runs (source, started, duration_ms, outcome, reason, links, new, updated, failed, fetched,
            with_date, with_body, requests, listing, errors)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
    )?
    .execute(params![
        run.source.as_str(),
        run.started.to_rfc3339(),
        run.duration.as_millis() as i64,
        run.outcome.as_str(),
        run.reason,
        run.links as i64,
        run.new as i64,
        run.updated as i64,
        run.failed as i64,
        run.fetched as i64,
        run.with_date as i64,
        run.with_body as i64,
        run.requests as i64,
        serde_json::to_string(&run.listing).expect("plain data serializes"),
        serde_json::to_string(&run.errors).expect("plain data serializes"),
    ])?;
    c.prepare_cached(
        "DELETE FROM runs WHERE source = ?1
            AND id <= (SELECT id FROM runs WHERE source = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
    )?
    .execute(params![run.source.as_str(), RUNS_KEPT as i64])?;
    Ok(())
}

/// Rewrites the outcome, reason, errors and duration of the source's latest record.
pub(super) fn amend(c: &Connection, run: &RunRecord) -> Result<()> {
    c.prepare_cached(
        "UPDATE runs SET outcome = ?2, reason = ?3, errors = ?4, duration_ms = ?5
         WHERE id = (SELECT MAX(id) FROM runs WHERE source = ?1)",
    )?
    .execute(params![
        run.source.as_str(),
        run.outcome.as_str(),
        run.reason,
        serde_json::to_string(&run.errors).expect("plain data serializes"),
        run.duration.as_millis() as i64,
    ])?;
    Ok(())
}

pub(super) fn recent(c: &Connection, source: &SourceId, limit: usize) -> Result<Vec<RunRecord>> {
    let mut stmt = c.prepare_cached(
        "SELECT started, duration_ms, outcome, reason, links, new, updated, failed, fetched, with_date,
            with_body, requests, listing, errors
         FROM runs WHERE source = ?1 ORDER BY id DESC LIMIT ?2",
    )?;
    let mut rows = stmt.query(params![source.as_str(), limit as i64])?;
    let mut runs = Vec::new();
    while let Some(r) = rows.next()? {
        let count = |i| r.get::<_, i64>(i).map(|n| n as usize);
        let (started, outcome, listing, errors): (String, String, String, String) =
            (r.get(0)?, r.get(2)?, r.get(12)?, r.get(13)?);
        runs.push(RunRecord {
            source: source.clone(),
            started: utc(&started)?,
            duration: Duration::from_millis(r.get::<_, i64>(1)? as u64),
            outcome: Outcome::parse(&outcome),
            reason: r.get(3)?,
            links: count(4)?,
            new: count(5)?,
            updated: count(6)?,
            failed: count(7)?,
            fetched: count(8)?,
            with_date: count(9)?,
            with_body: count(10)?,
            requests: count(11)?,
            listing: serde_json::from_str(&listing).map_err(|e| Failure::Corrupt(format!("run listing: {e}")))?,
            errors: serde_json::from_str(&errors).map_err(|e| Failure::Corrupt(format!("run errors: {e}")))?,
        });
    }
    Ok(runs)
}

pub(super) fn summary(c: &Connection, source: &SourceId) -> Result<RunSummary> {
    let (last_success, failures): (Option<String>, i64) = c
        .prepare_cached(
            "WITH good AS (SELECT id, started FROM runs WHERE source = ?1 AND outcome != 'failed'
                           ORDER BY id DESC LIMIT 1)
             SELECT (SELECT started FROM good),
                    (SELECT count(*) FROM runs WHERE source = ?1 AND outcome = 'failed'
                        AND id > coalesce((SELECT id FROM good), 0))",
        )?
        .query_row([source.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(RunSummary {
        last_success: last_success.map(|t| utc(&t)).transpose()?,
        consecutive_failures: failures as usize,
    })
}
