//! Items: the known links a run loads, the stored states and taken times a commit's merge reads, the rows it
//! writes, retention, and the reads of feeds, the web page and `status`.
//!
//! What a run and a merge read comes from the covering index `items_known` (ids, hashes, times), never from the
//! item rows: those hold the bodies, about 5 KB each, and a 10,000-item history read through them was 191 MB.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use url::Url;

use super::{Failure, Result, StoredItems, merge, time, url, utc};

use crate::model::{DateSource, Item, ItemId, SourceId};
use crate::store::merge::{Row, Stored, Taken};
use crate::store::{Entry, Known};

/// The known links of a source, read from `links` and the covering index: no item row is touched.
pub(super) const KNOWN_LINKS: &str = "SELECT l.url, i.id, i.content_hash, i.first_seen, i.last_checked
     FROM links l JOIN items i INDEXED BY items_known ON i.source = l.source AND i.id = l.item_id
     WHERE l.source = ?1";

pub(super) fn known_links(c: &Connection, source: &SourceId) -> Result<HashMap<String, Known>> {
    let mut stmt = c.prepare_cached(KNOWN_LINKS)?;
    let mut rows = stmt.query([source.as_str()])?;
    let mut known = HashMap::new();
    while let Some(r) = rows.next()? {
        let (first_seen, last_checked): (String, String) = (r.get(3)?, r.get(4)?);
        known.insert(
            r.get(0)?,
            Known {
                item_id: ItemId::from_stored(r.get(1)?),
                hash: r.get(2)?,
                first_seen: utc(&first_seen)?,
                last_checked: utc(&last_checked)?,
            },
        );
    }
    Ok(known)
}

/// What is stored about `ids` (those stored), as the merge needs it; from the covering index.
pub(super) fn stored<'a>(
    c: &Connection,
    source: &SourceId,
    ids: impl Iterator<Item = &'a ItemId>,
) -> Result<StoredItems> {
    let mut stmt = c.prepare_cached(
        "SELECT content_hash, published, date_source, updated FROM items INDEXED BY items_known
         WHERE source = ?1 AND id = ?2",
    )?;
    let mut out = HashMap::new();
    for id in ids {
        let row = stmt
            .query_row([source.as_str(), id.as_str()], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })
            .optional()?;
        if let Some((hash, published, date_source, updated)) = row {
            let stored = Stored {
                hash,
                published: time(&published)?,
                date_source: date_source_of(&date_source)?,
                updated: time(&updated)?,
            };
            out.insert(id.clone(), stored);
        }
    }
    Ok(out)
}

/// The `updated` times taken in `source`: one pass over the `(source, updated)` index.
pub(super) fn taken(c: &Connection, source: &SourceId) -> Result<Taken> {
    let mut stmt = c.prepare_cached("SELECT updated FROM items INDEXED BY items_updated WHERE source = ?1")?;
    let mut rows = stmt.query([source.as_str()])?;
    let mut times = Vec::new();
    while let Some(r) = rows.next()? {
        times.push(time(&r.get::<_, String>(0)?)?);
    }
    Ok(Taken::new(times))
}

/// Writes the merged rows. The first-seen time is the insert's; an update keeps it, and keeps the time of the
/// last edit unless this is one.
pub(super) fn write(c: &Connection, source: &SourceId, rows: &[Row<'_>], now: DateTime<Utc>) -> Result<()> {
    let mut stmt = c.prepare_cached(
        "INSERT INTO items (source, id, url, title, published, published_ts, date_source, updated, author, summary,
            content_html, image, image_caption, content_hash, first_seen, last_seen, last_checked, edited, categories,
            image_length, image_type)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?15, ?15, ?16, ?17, ?18, ?19)
         ON CONFLICT (source, id) DO UPDATE SET url = excluded.url, title = excluded.title,
            published = excluded.published, published_ts = excluded.published_ts,
            date_source = excluded.date_source, updated = excluded.updated, author = excluded.author,
            summary = excluded.summary, content_html = excluded.content_html, image = excluded.image,
            image_caption = excluded.image_caption, content_hash = excluded.content_hash,
            last_seen = excluded.last_seen, last_checked = excluded.last_checked,
            edited = coalesce(excluded.edited, items.edited), categories = excluded.categories,
            image_length = excluded.image_length, image_type = excluded.image_type",
    )?;
    let now_text = now.to_rfc3339();
    for row in rows {
        let item = row.item;
        let edited = (row.verdict == crate::store::merge::Verdict::Edited).then_some(now_text.as_str());
        stmt.execute(params![
            source.as_str(),
            item.id.as_str(),
            item.url.as_str(),
            item.title,
            row.published.to_rfc3339(),
            row.published.timestamp(),
            item.date_source.as_str(),
            row.updated.to_rfc3339(),
            item.author,
            item.summary,
            item.content_html,
            item.image.as_ref().map(Url::as_str),
            item.image_caption,
            row.hash,
            now_text,
            edited,
            serde_json::to_string(&item.categories).expect("strings always serialize"),
            item.image_length.and_then(|n| i64::try_from(n).ok()),
            item.image_type,
        ])?;
    }
    Ok(())
}

/// Known items listed again without being fetched (`seen`), and those whose re-check answered 304 (`checked`).
pub(super) fn touch(
    c: &Connection,
    source: &SourceId,
    seen: &[ItemId],
    checked: &[ItemId],
    now: DateTime<Utc>,
) -> Result<()> {
    let now = now.to_rfc3339();
    let mut stmt = c.prepare_cached("UPDATE items SET last_seen = ?3 WHERE source = ?1 AND id = ?2")?;
    for id in seen {
        stmt.execute(params![source.as_str(), id.as_str(), now])?;
    }
    let mut stmt =
        c.prepare_cached("UPDATE items SET last_seen = ?3, last_checked = ?3 WHERE source = ?1 AND id = ?2")?;
    for id in checked {
        stmt.execute(params![source.as_str(), id.as_str(), now])?;
    }
    Ok(())
}

/// Retention: drops the items of `source` that are older than `retain` both by date and by when a run last saw
/// them listed (or fetched them), unless they are among the newest `max_items` (the feed window, which is never
/// pruned); then the links, saved pages and validators of what was dropped, and failed links that last failed
/// before the cutoff. Returns how many items were dropped.
pub(super) fn retain(
    c: &Connection,
    source: &SourceId,
    (max_items, retain): (usize, Duration),
    now: DateTime<Utc>,
) -> Result<usize> {
    let Some(cutoff) = merge::retention_cutoff(now, retain) else {
        return Ok(0);
    };
    let cutoff_text = cutoff.to_rfc3339();
    let source = source.as_str();
    c.prepare_cached("DELETE FROM failed_links WHERE source = ?1 AND last_failed < ?2")?
        .execute(params![source, cutoff_text])?;
    let dropped = c
        .prepare_cached(
            "DELETE FROM items WHERE source = ?1 AND id IN (
                SELECT id FROM items INDEXED BY items_seen WHERE source = ?1 AND last_seen < ?3 AND published_ts < ?4
                EXCEPT SELECT id FROM (SELECT id FROM items WHERE source = ?1 ORDER BY published_ts DESC, id LIMIT ?2))",
        )?
        .execute(params![source, max_items as i64, cutoff_text, cutoff.timestamp()])?;
    if dropped == 0 {
        return Ok(0);
    }
    tracing::info!(source, items = dropped, "retention: items dropped");
    // Rare (a few times a day at most), so whole-source passes over links and pages are fine here.
    let gone: Vec<String> = {
        let mut stmt = c.prepare_cached(
            "DELETE FROM links WHERE source = ?1 AND item_id NOT IN (SELECT id FROM items WHERE source = ?1)
             RETURNING url",
        )?;
        stmt.query_map([source], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?
    };
    c.prepare_cached(
        "DELETE FROM pages WHERE source = ?1 AND kind = 'article'
            AND (item_id IS NULL OR item_id NOT IN (SELECT id FROM items WHERE source = ?1))",
    )?
    .execute([source])?;
    let mut stmt =
        c.prepare_cached("DELETE FROM validators WHERE url = ?1 AND NOT EXISTS (SELECT 1 FROM links WHERE url = ?1)")?;
    for url in gone {
        stmt.execute([url])?;
    }
    Ok(dropped)
}

pub(super) fn feed_items(c: &Connection, source: &SourceId, limit: usize) -> Result<Vec<Item>> {
    let mut stmt = c.prepare_cached(
        "SELECT id, url, title, published, date_source, updated, author, summary, content_html, image,
            image_caption, categories, image_length, image_type
         FROM items WHERE source = ?1 ORDER BY published_ts DESC, id LIMIT ?2",
    )?;
    let mut rows = stmt.query(params![source.as_str(), limit as i64])?;
    let mut items = Vec::new();
    while let Some(r) = rows.next()? {
        let (link, published, date_source, updated): (String, String, String, String) =
            (r.get(1)?, r.get(3)?, r.get(4)?, r.get(5)?);
        items.push(Item {
            id: ItemId::from_stored(r.get(0)?),
            url: url("item url", &link)?,
            title: r.get(2)?,
            published: time(&published)?,
            date_source: date_source_of(&date_source)?,
            updated: time(&updated)?,
            author: r.get(6)?,
            summary: r.get(7)?,
            content_html: r.get(8)?,
            image: r.get::<_, Option<String>>(9)?.and_then(|i| Url::parse(&i).ok()),
            image_caption: r.get(10)?,
            categories: serde_json::from_str(&r.get::<_, String>(11)?)
                .map_err(|_| Failure::Corrupt("item categories".to_owned()))?,
            image_length: r.get::<_, Option<i64>>(12)?.and_then(|n| u64::try_from(n).ok()),
            image_type: r.get(13)?,
        });
    }
    Ok(items)
}

pub(super) fn entries(c: &Connection, source: &SourceId, limit: usize) -> Result<Vec<Entry>> {
    let mut stmt = c.prepare_cached(
        "SELECT title, url, published, first_seen, edited FROM items WHERE source = ?1
         ORDER BY published_ts DESC, id LIMIT ?2",
    )?;
    let mut rows = stmt.query(params![source.as_str(), limit as i64])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let (published, first_seen, edited): (String, String, Option<String>) = (r.get(2)?, r.get(3)?, r.get(4)?);
        out.push(Entry {
            title: r.get(0)?,
            url: r.get(1)?,
            published: time(&published)?,
            first_seen: utc(&first_seen)?,
            edited: edited.map(|t| utc(&t)).transpose()?,
        });
    }
    Ok(out)
}

pub(super) fn counts(c: &Connection, source: &SourceId, since: DateTime<Utc>) -> Result<(usize, usize)> {
    Ok(c.prepare_cached(
        "SELECT count(*), count(*) FILTER (WHERE first_seen >= ?2) FROM items INDEXED BY items_known
         WHERE source = ?1",
    )?
    .query_row(params![source.as_str(), since.to_rfc3339()], |r| {
        Ok((r.get::<_, i64>(0)? as usize, r.get::<_, i64>(1)? as usize))
    })?)
}

fn date_source_of(text: &str) -> Result<DateSource> {
    crate::store::stored::date_source(text).map_err(Failure::Corrupt)
}
