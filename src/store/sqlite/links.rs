//! Listing links: which item each fetched link became, and the listed links that failed or were skipped (with
//! their backoff), for the next run and for people.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};
use url::Url;

use super::{Result, url, utc};
use crate::model::{ItemId, ListedLink, SourceId};
use crate::store::{FailedArticle, FailedLink, SKIPPED};

/// Each fetched link → the item it became; a link that succeeded is no longer a failed one.
pub(super) fn write(c: &Connection, source: &SourceId, links: &[(Url, ItemId)]) -> Result<()> {
    let mut upsert = c.prepare_cached(
        "INSERT INTO links (source, url, item_id) VALUES (?1, ?2, ?3)
         ON CONFLICT (source, url) DO UPDATE SET item_id = excluded.item_id",
    )?;
    let mut forget = c.prepare_cached("DELETE FROM failed_links WHERE source = ?1 AND url = ?2")?;
    for (url, id) in links {
        upsert.execute(params![source.as_str(), url.as_str(), id.as_str()])?;
        forget.execute(params![source.as_str(), url.as_str()])?;
    }
    Ok(())
}

/// Records failed links (with their error; the backoff grows) and skipped ones (no attempt was made, so it does
/// not).
pub(super) fn remember_failures(
    c: &Connection,
    source: &SourceId,
    failed: &[(ListedLink, String)],
    skipped: &[ListedLink],
    now: DateTime<Utc>,
) -> Result<()> {
    let mut stmt = c.prepare_cached(
        "INSERT INTO failed_links (source, url, title, date_text, first_failed, last_failed, attempts, error)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7)
         ON CONFLICT (source, url) DO UPDATE SET title = excluded.title, date_text = excluded.date_text,
            last_failed = excluded.last_failed, attempts = attempts + excluded.attempts, error = excluded.error",
    )?;
    let now = now.to_rfc3339();
    let attempts = failed
        .iter()
        .map(|(link, error)| (link, Some(error.as_str())))
        .chain(skipped.iter().map(|link| (link, None)));
    for (link, error) in attempts {
        stmt.execute(params![
            source.as_str(),
            link.url.as_str(),
            link.title,
            link.date_text,
            now,
            i64::from(error.is_some()),
            error.unwrap_or(SKIPPED),
        ])?;
    }
    Ok(())
}

pub(super) fn failed_links(c: &Connection, source: &SourceId) -> Result<HashMap<String, FailedLink>> {
    let mut stmt =
        c.prepare_cached("SELECT url, title, date_text, last_failed, attempts FROM failed_links WHERE source = ?1")?;
    let mut rows = stmt.query([source.as_str()])?;
    let mut out = HashMap::new();
    while let Some(r) = rows.next()? {
        let (link, last_failed): (String, String) = (r.get(0)?, r.get(3)?);
        let failed = FailedLink {
            link: ListedLink {
                url: url("failed link", &link)?,
                title: r.get(1)?,
                date_text: r.get(2)?,
                feed: None,
            },
            last_failed: utc(&last_failed)?,
            attempts: r.get::<_, i64>(4)? as u32,
        };
        out.insert(link, failed);
    }
    Ok(out)
}

pub(super) fn failed_articles(c: &Connection, source: &SourceId) -> Result<Vec<FailedArticle>> {
    let mut stmt = c.prepare_cached(
        "SELECT url, title, first_failed, last_failed, attempts, error FROM failed_links WHERE source = ?1
         ORDER BY last_failed DESC, url",
    )?;
    let mut rows = stmt.query([source.as_str()])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let (first_failed, last_failed): (String, String) = (r.get(2)?, r.get(3)?);
        out.push(FailedArticle {
            url: r.get(0)?,
            title: r.get(1)?,
            first_failed: utc(&first_failed)?,
            last_failed: utc(&last_failed)?,
            attempts: r.get::<_, i64>(4)? as u32,
            error: r.get(5)?,
        });
    }
    Ok(out)
}
