//! What HTTP leaves behind between runs: validators for conditional requests (by URL) and robots.txt (by host).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use url::Url;

use super::{Result, utc};
use crate::model::{SourceId, Validators};
use crate::store::StoredRobots;

pub(super) fn validators(c: &Connection, url: &Url) -> Result<Option<Validators>> {
    Ok(
        c.prepare_cached("SELECT etag, last_modified FROM validators WHERE url = ?1")?
            .query_row([url.as_str()], |r| {
                Ok(Validators {
                    etag: r.get(0)?,
                    last_modified: r.get(1)?,
                })
            })
            .optional()?,
    )
}

/// The validators of the listing pages `source` has saved (the pages a listing request may be conditional for).
pub(super) fn listing_validators(c: &Connection, source: &SourceId) -> Result<HashMap<String, Validators>> {
    let mut stmt = c.prepare_cached(
        "SELECT v.url, v.etag, v.last_modified FROM pages p JOIN validators v ON v.url = p.url
         WHERE p.source = ?1 AND p.kind = 'listing'",
    )?;
    let rows = stmt.query_map([source.as_str()], |r| {
        Ok((
            r.get(0)?,
            Validators {
                etag: r.get(1)?,
                last_modified: r.get(2)?,
            },
        ))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub(super) fn save_validators(c: &Connection, validators: &[(Url, Validators)]) -> Result<()> {
    let mut stmt = c.prepare_cached(
        "INSERT INTO validators (url, etag, last_modified) VALUES (?1, ?2, ?3)
         ON CONFLICT (url) DO UPDATE SET etag = excluded.etag, last_modified = excluded.last_modified",
    )?;
    for (url, v) in validators {
        stmt.execute(params![url.as_str(), v.etag, v.last_modified])?;
    }
    Ok(())
}

/// The robots.txt files fetched at or after `since`.
pub(super) fn robots(c: &Connection, since: DateTime<Utc>) -> Result<Vec<StoredRobots>> {
    let mut stmt = c.prepare_cached("SELECT host, body, fetched FROM robots WHERE fetched >= ?1")?;
    let mut rows = stmt.query([since.to_rfc3339()])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let fetched: String = r.get(2)?;
        out.push(StoredRobots {
            host: r.get(0)?,
            body: r.get(1)?,
            fetched: utc(&fetched)?,
        });
    }
    Ok(out)
}

pub(super) fn save_robots(c: &Connection, fetched: &[(String, Option<String>)], now: DateTime<Utc>) -> Result<()> {
    let mut stmt = c.prepare_cached(
        "INSERT INTO robots (host, body, fetched) VALUES (?1, ?2, ?3)
         ON CONFLICT (host) DO UPDATE SET body = excluded.body, fetched = excluded.fetched",
    )?;
    for (host, body) in fetched {
        stmt.execute(params![host, body, now.to_rfc3339()])?;
    }
    Ok(())
}
