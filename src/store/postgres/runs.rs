//! Run records, as in `sqlite/runs.rs`: one per source per run, the last [`RUNS_KEPT`] kept.

use std::time::Duration;

use super::conn::Tx;
use super::{Failure, Result, clean_opt, utc};
use crate::model::SourceId;
use crate::store::{Outcome, RUNS_KEPT, RunRecord, RunSummary};

pub(super) fn insert(tx: &mut Tx<'_>, run: &RunRecord) -> Result<()> {
    let count = |n: usize| n as i64;
    tx.execute(
        "INSERT INTO runs (source, started, duration_ms, outcome, reason, links, new, updated, failed, fetched,
            with_date, with_body, requests, listing, errors)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        &[
            &run.source.as_str(),
            &run.started.to_rfc3339(),
            &(run.duration.as_millis() as i64),
            &run.outcome.as_str(),
            &clean_opt(&run.reason),
            &count(run.links),
            &count(run.new),
            &count(run.updated),
            &count(run.failed),
            &count(run.fetched),
            &count(run.with_date),
            &count(run.with_body),
            &count(run.requests),
            &serde_json::to_string(&run.listing).expect("plain data serializes"),
            &serde_json::to_string(&run.errors).expect("plain data serializes"),
        ],
    )?;
    tx.execute(
        "DELETE FROM runs WHERE source = $1
            AND id <= (SELECT id FROM runs WHERE source = $1 ORDER BY id DESC LIMIT 1 OFFSET $2)",
        &[&run.source.as_str(), &(RUNS_KEPT as i64)],
    )?;
    Ok(())
}

/// Rewrites the outcome, reason, errors and duration of the source's latest record.
pub(super) fn amend(tx: &mut Tx<'_>, run: &RunRecord) -> Result<()> {
    tx.execute(
        "UPDATE runs SET outcome = $2, reason = $3, errors = $4, duration_ms = $5
         WHERE id = (SELECT max(id) FROM runs WHERE source = $1)",
        &[
            &run.source.as_str(),
            &run.outcome.as_str(),
            &clean_opt(&run.reason),
            &serde_json::to_string(&run.errors).expect("plain data serializes"),
            &(run.duration.as_millis() as i64),
        ],
    )?;
    Ok(())
}

pub(super) fn recent(tx: &mut Tx<'_>, source: &SourceId, limit: usize) -> Result<Vec<RunRecord>> {
    let rows = tx.query(
        "SELECT started, duration_ms, outcome, reason, links, new, updated, failed, fetched, with_date,
            with_body, requests, listing, errors
         FROM runs WHERE source = $1 ORDER BY id DESC LIMIT $2",
        &[&source.as_str(), &(limit as i64)],
    )?;
    let mut runs = Vec::with_capacity(rows.len());
    for r in rows {
        let count = |i| r.try_get::<_, i64>(i).map(|n| n as usize);
        let (listing, errors): (&str, &str) = (r.try_get(12)?, r.try_get(13)?);
        runs.push(RunRecord {
            source: source.clone(),
            started: utc(r.try_get(0)?)?,
            duration: Duration::from_millis(r.try_get::<_, i64>(1)? as u64),
            outcome: Outcome::parse(r.try_get(2)?),
            reason: r.try_get(3)?,
            links: count(4)?,
            new: count(5)?,
            updated: count(6)?,
            failed: count(7)?,
            fetched: count(8)?,
            with_date: count(9)?,
            with_body: count(10)?,
            requests: count(11)?,
            listing: serde_json::from_str(listing).map_err(|e| Failure::Corrupt(format!("run listing: {e}")))?,
            errors: serde_json::from_str(errors).map_err(|e| Failure::Corrupt(format!("run errors: {e}")))?,
        });
    }
    Ok(runs)
}

pub(super) fn summary(tx: &mut Tx<'_>, source: &SourceId) -> Result<RunSummary> {
    let r = tx.query_one(
        "WITH good AS (SELECT id, started FROM runs WHERE source = $1 AND outcome <> 'failed'
                       ORDER BY id DESC LIMIT 1)
         SELECT (SELECT started FROM good),
                (SELECT count(*) FROM runs WHERE source = $1 AND outcome = 'failed'
                    AND id > coalesce((SELECT id FROM good), 0))",
        &[&source.as_str()],
    )?;
    Ok(RunSummary {
        last_success: r.try_get::<_, Option<&str>>(0)?.map(utc).transpose()?,
        consecutive_failures: r.try_get::<_, i64>(1)? as usize,
    })
}

/// Counts the transactions that wrote a run (a commit, a recorded or amended run), the last statement of each so
/// the row is locked for as short as possible: what `Backend::version` answers, for `serve` to tell that what it
/// keeps in memory is still current, whichever worker committed.
pub(super) fn changed(tx: &mut Tx<'_>) -> Result<()> {
    tx.execute("UPDATE changes SET n = n + 1", &[])?;
    Ok(())
}

pub(super) fn version(tx: &mut Tx<'_>) -> Result<i64> {
    Ok(tx.query_one("SELECT n FROM changes", &[])?.try_get(0)?)
}
