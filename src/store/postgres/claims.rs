//! Claims: which worker runs which source, for `run`s and `watch`es sharing one database. One row per source
//! (`claims`): the holder and its lease, when the holder's run started, and when the last finished run started.
//!
//! A claim is one transaction: first the host's advisory lock (`pg_advisory_xact_lock` on a hash of the host),
//! so two workers asking for sources of one host decide one after the other (a row lock cannot serialize a check
//! across the host's other rows); then the source's row `FOR UPDATE`. A live lease of another worker on the source
//! or on another source of its host answers [`Claim::Held`]; a finished run that started at or after the wanted
//! `since` answers [`Claim::Done`]; otherwise the worker becomes the holder until `now + lease`. An expired lease
//! is nobody's: its holder was killed or stalled, and the next claim takes the source over. The transaction that
//! records a run also marks its claim done ([`recorded`]), so a holder killed before its release leaves a source
//! that is done, not due again. Times are
//! milliseconds since the epoch, from the workers' clocks (which must agree to well within a lease).

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::Result;
use super::conn::Tx;
use super::schema::APP_KEY;
use crate::model::SourceId;
use crate::store::{Claim, Want};

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

fn until(now: DateTime<Utc>, lease: Duration) -> i64 {
    ms(now).saturating_add(i64::try_from(lease.as_millis()).unwrap_or(i64::MAX))
}

pub(super) fn claim(tx: &mut Tx<'_>, worker: &str, want: &Want, lease: Duration, now: DateTime<Utc>) -> Result<Claim> {
    let (source, host, at) = (want.source.as_str(), want.host.as_str(), ms(now));
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, $2))",
        &[&host, &i64::from(APP_KEY)],
    )?;
    tx.execute(
        "INSERT INTO claims (source, host) VALUES ($1, $2)
         ON CONFLICT (source) DO UPDATE SET host = EXCLUDED.host WHERE claims.host <> EXCLUDED.host",
        &[&source, &host],
    )?;
    let row = tx.query_one(
        "SELECT holder, lease_until, done FROM claims WHERE source = $1 FOR UPDATE",
        &[&source],
    )?;
    let (holder, lease_until, done): (Option<&str>, Option<i64>, Option<i64>) =
        (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
    if let (Some(holder), Some(until)) = (holder, lease_until)
        && holder != worker
        && until > at
    {
        return Ok(Claim::Held { until: time(until) });
    }
    if let Some(done) = done.filter(|&d| d >= ms(want.since)) {
        return Ok(Claim::Done { started: time(done) });
    }
    let neighbour = tx.query_one(
        "SELECT max(lease_until) FROM claims
         WHERE host = $1 AND source <> $2 AND holder IS NOT NULL AND holder <> $3 AND lease_until > $4",
        &[&host, &source, &worker, &at],
    )?;
    if let Some(until) = neighbour.try_get::<_, Option<i64>>(0)? {
        return Ok(Claim::Held { until: time(until) });
    }
    let until = until(now, lease);
    tx.execute(
        "UPDATE claims SET holder = $2, lease_until = $3, started = $4 WHERE source = $1",
        &[&source, &worker, &until, &at],
    )?;
    Ok(Claim::Granted { until: time(until) })
}

/// Extends the worker's leases; answers the sources among `sources` it no longer holds.
pub(super) fn renew(
    tx: &mut Tx<'_>,
    worker: &str,
    sources: &[SourceId],
    lease: Duration,
    now: DateTime<Utc>,
) -> Result<Vec<SourceId>> {
    let ids: Vec<&str> = sources.iter().map(SourceId::as_str).collect();
    let kept: Vec<String> = tx
        .query(
            "UPDATE claims SET lease_until = $3 WHERE holder = $1 AND source = ANY($2) RETURNING source",
            &[&worker, &ids, &until(now, lease)],
        )?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    Ok(sources
        .iter()
        .filter(|s| !kept.iter().any(|k| k == s.as_str()))
        .cloned()
        .collect())
}

/// Marks the holder's run of `source` finished, in the transaction that records it: a holder killed after that
/// commit and before its [`release`] leaves a source that the next claim finds [`Claim::Done`], not due again.
/// The lease stays until `release` or its expiry, so nobody else starts the source meanwhile.
pub(super) fn recorded(tx: &mut Tx<'_>, source: &SourceId) -> Result<()> {
    tx.execute(
        "UPDATE claims SET done = greatest(started, coalesce(done, started))
         WHERE source = $1 AND holder IS NOT NULL",
        &[&source.as_str()],
    )?;
    Ok(())
}

pub(super) fn release(tx: &mut Tx<'_>, worker: &str, source: &SourceId, done: bool) -> Result<()> {
    tx.execute(
        "UPDATE claims SET holder = NULL, lease_until = NULL,
            done = CASE WHEN $3 THEN greatest(started, coalesce(done, started)) ELSE done END
         WHERE source = $1 AND holder = $2",
        &[&source.as_str(), &worker, &done],
    )?;
    Ok(())
}
