//! What HTTP leaves behind between runs, as in `sqlite/http.rs`: validators for conditional requests (by URL) and
//! robots.txt (by host).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use url::Url;

use super::conn::Tx;
use super::{Result, clean_opt, utc};
use crate::model::{SourceId, Validators};
use crate::store::StoredRobots;

pub(super) fn validators(tx: &mut Tx<'_>, url: &Url) -> Result<Option<Validators>> {
    let row = tx.query_opt(
        "SELECT etag, last_modified FROM validators WHERE url = $1",
        &[&url.as_str()],
    )?;
    row.map(|r| {
        Ok(Validators {
            etag: r.try_get(0)?,
            last_modified: r.try_get(1)?,
        })
    })
    .transpose()
}

/// The validators of the listing pages `source` has saved (the pages a listing request may be conditional for).
pub(super) fn listing_validators(tx: &mut Tx<'_>, source: &SourceId) -> Result<HashMap<String, Validators>> {
    let rows = tx.query(
        "SELECT v.url, v.etag, v.last_modified FROM pages p JOIN validators v ON v.url = p.url
         WHERE p.source = $1 AND p.kind = 'listing'",
        &[&source.as_str()],
    )?;
    let mut out = HashMap::with_capacity(rows.len());
    for r in rows {
        let v = Validators {
            etag: r.try_get(1)?,
            last_modified: r.try_get(2)?,
        };
        out.insert(r.try_get(0)?, v);
    }
    Ok(out)
}

pub(super) fn save_validators(tx: &mut Tx<'_>, validators: &[(Url, Validators)]) -> Result<()> {
    for (url, v) in validators {
        tx.execute(
            "INSERT INTO validators (url, etag, last_modified) VALUES ($1, $2, $3)
             ON CONFLICT (url) DO UPDATE SET etag = excluded.etag, last_modified = excluded.last_modified",
            &[&url.as_str(), &clean_opt(&v.etag), &clean_opt(&v.last_modified)],
        )?;
    }
    Ok(())
}

/// The robots.txt files fetched at or after `since`.
pub(super) fn robots(tx: &mut Tx<'_>, since: DateTime<Utc>) -> Result<Vec<StoredRobots>> {
    let rows = tx.query(
        "SELECT host, body, fetched FROM robots WHERE fetched >= $1",
        &[&since.to_rfc3339()],
    )?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push(StoredRobots {
            host: r.try_get(0)?,
            body: r.try_get(1)?,
            fetched: utc(r.try_get(2)?)?,
        });
    }
    Ok(out)
}

pub(super) fn save_robots(tx: &mut Tx<'_>, fetched: &[(String, Option<String>)], now: DateTime<Utc>) -> Result<()> {
    let now = now.to_rfc3339();
    for (host, body) in fetched {
        tx.execute(
            "INSERT INTO robots (host, body, fetched) VALUES ($1, $2, $3)
             ON CONFLICT (host) DO UPDATE SET body = excluded.body, fetched = excluded.fetched",
            &[host, &clean_opt(body), &now],
        )?;
    }
    Ok(())
}
