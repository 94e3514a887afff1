//! Listing links, as in `sqlite/links.rs`: which item each fetched link became, and the listed links that failed
//! or were skipped (with their backoff), for the next run and for people.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use url::Url;

use super::conn::Tx;
use super::{Result, clean, clean_opt, url, utc};
use crate::model::{ItemId, ListedLink, SourceId};
use crate::store::{FailedArticle, FailedLink, SKIPPED};

/// Each fetched link → the item it became (one statement; a link listed twice keeps its last item, as row by row
/// upserts would); a link that succeeded is no longer a failed one.
pub(super) fn write(tx: &mut Tx<'_>, source: &SourceId, links: &[(Url, ItemId)]) -> Result<()> {
    if links.is_empty() {
        return Ok(());
    }
    let last: HashMap<&str, &str> = links.iter().map(|(u, id)| (u.as_str(), id.as_str())).collect();
    let (urls, ids): (Vec<&str>, Vec<&str>) = last.into_iter().unzip();
    tx.execute(
        "INSERT INTO links (source, url, item_id) SELECT $1, l.url, l.item_id FROM unnest($2::text[], $3::text[])
            AS l(url, item_id)
         ON CONFLICT (source, url) DO UPDATE SET item_id = excluded.item_id",
        &[&source.as_str(), &urls, &ids],
    )?;
    tx.execute(
        "DELETE FROM failed_links WHERE source = $1 AND url = ANY($2)",
        &[&source.as_str(), &urls],
    )?;
    Ok(())
}

/// Records failed links (with their error; the backoff grows) and skipped ones (no attempt was made, so it does
/// not).
pub(super) fn remember_failures(
    tx: &mut Tx<'_>,
    source: &SourceId,
    failed: &[(ListedLink, String)],
    skipped: &[ListedLink],
    now: DateTime<Utc>,
) -> Result<()> {
    let now = now.to_rfc3339();
    let attempts = failed
        .iter()
        .map(|(link, error)| (link, Some(error.as_str())))
        .chain(skipped.iter().map(|link| (link, None)));
    for (link, error) in attempts {
        tx.execute(
            "INSERT INTO failed_links (source, url, title, date_text, first_failed, last_failed, attempts, error)
             VALUES ($1, $2, $3, $4, $5, $5, $6, $7)
             ON CONFLICT (source, url) DO UPDATE SET title = excluded.title, date_text = excluded.date_text,
                last_failed = excluded.last_failed, attempts = failed_links.attempts + excluded.attempts,
                error = excluded.error",
            &[
                &source.as_str(),
                &link.url.as_str(),
                &clean_opt(&link.title),
                &clean_opt(&link.date_text),
                &now,
                &i64::from(error.is_some()),
                &clean(error.unwrap_or(SKIPPED)),
            ],
        )?;
    }
    Ok(())
}

pub(super) fn failed_links(tx: &mut Tx<'_>, source: &SourceId) -> Result<HashMap<String, FailedLink>> {
    let rows = tx.query(
        "SELECT url, title, date_text, last_failed, attempts FROM failed_links WHERE source = $1",
        &[&source.as_str()],
    )?;
    let mut out = HashMap::with_capacity(rows.len());
    for r in rows {
        let link: String = r.try_get(0)?;
        let failed = FailedLink {
            link: ListedLink {
                url: url("failed link", &link)?,
                title: r.try_get(1)?,
                date_text: r.try_get(2)?,
                feed: None,
            },
            last_failed: utc(r.try_get(3)?)?,
            attempts: r.try_get::<_, i64>(4)? as u32,
        };
        out.insert(link, failed);
    }
    Ok(out)
}

pub(super) fn failed_articles(tx: &mut Tx<'_>, source: &SourceId) -> Result<Vec<FailedArticle>> {
    let rows = tx.query(
        "SELECT url, title, first_failed, last_failed, attempts, error FROM failed_links WHERE source = $1
         ORDER BY last_failed DESC, url",
        &[&source.as_str()],
    )?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push(FailedArticle {
            url: r.try_get(0)?,
            title: r.try_get(1)?,
            first_failed: utc(r.try_get(2)?)?,
            last_failed: utc(r.try_get(3)?)?,
            attempts: r.try_get::<_, i64>(4)? as u32,
            error: r.try_get(5)?,
        });
    }
    Ok(out)
}
