//! Items, as in `sqlite/items.rs`: the known links a run loads, the stored states and taken times a commit's merge
//! reads, the rows it writes, retention, and the reads of feeds, the web page and `status`. What a run and a merge
//! read is in the index `items_known` (ids, with hashes and times included), never the rows with their bodies.

use std::borrow::Cow;
use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use url::Url;

use super::conn::Tx;
use super::{Failure, Result, StoredItems, clean, clean_opt, time, url, utc};
use crate::model::{DateSource, Item, ItemId, SourceId};
use crate::store::merge;
use crate::store::merge::{Row, Stored, Taken, Verdict};
use crate::store::{Entry, Known};

pub(super) fn known_links(tx: &mut Tx<'_>, source: &SourceId) -> Result<HashMap<String, Known>> {
    let rows = tx.query(
        "SELECT l.url, i.id, i.content_hash, i.first_seen, i.last_checked
         FROM links l JOIN items i ON i.source = l.source AND i.id = l.item_id
         WHERE l.source = $1",
        &[&source.as_str()],
    )?;
    let mut known = HashMap::with_capacity(rows.len());
    for r in rows {
        known.insert(
            r.try_get(0)?,
            Known {
                item_id: ItemId::from_stored(r.try_get(1)?),
                hash: r.try_get(2)?,
                first_seen: utc(r.try_get(3)?)?,
                last_checked: utc(r.try_get(4)?)?,
            },
        );
    }
    Ok(known)
}

/// What is stored about `ids` (those stored), as the merge needs it: one query for all of them.
pub(super) fn stored<'a>(
    tx: &mut Tx<'_>,
    source: &SourceId,
    ids: impl Iterator<Item = &'a ItemId>,
) -> Result<StoredItems> {
    let ids: Vec<&str> = ids.map(ItemId::as_str).collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = tx.query(
        "SELECT id, content_hash, published, date_source, updated FROM items
         WHERE source = $1 AND id = ANY($2)",
        &[&source.as_str(), &ids],
    )?;
    let mut out = HashMap::with_capacity(rows.len());
    for r in rows {
        let stored = Stored {
            hash: r.try_get(1)?,
            published: time(r.try_get(2)?)?,
            date_source: date_source_of(r.try_get(3)?)?,
            updated: time(r.try_get(4)?)?,
        };
        out.insert(ItemId::from_stored(r.try_get(0)?), stored);
    }
    Ok(out)
}

/// The `updated` times taken in `source`: one pass over the `(source, updated)` index.
pub(super) fn taken(tx: &mut Tx<'_>, source: &SourceId) -> Result<Taken> {
    let rows = tx.query("SELECT updated FROM items WHERE source = $1", &[&source.as_str()])?;
    let times = rows.iter().map(|r| time(r.try_get(0)?)).collect::<Result<Vec<_>>>()?;
    Ok(Taken::new(times))
}

/// Rows per `INSERT`: a first run of a big site sends a few MB per statement, not one per item.
const BATCH: usize = 500;

/// Writes the merged rows, a batch per statement (arrays, `unnest`). The first-seen time is the insert's; an
/// update keeps it, and keeps the time of the last edit unless this is one. An id merged twice in one run is
/// written once, as its last row (what writing the rows one by one leaves), edited if either was an edit.
pub(super) fn write(tx: &mut Tx<'_>, source: &SourceId, rows: &[Row<'_>], now: DateTime<Utc>) -> Result<()> {
    let mut at: HashMap<&ItemId, usize> = HashMap::with_capacity(rows.len());
    let mut once: Vec<(&Row<'_>, bool)> = Vec::with_capacity(rows.len());
    for row in rows {
        let edited = row.verdict == Verdict::Edited;
        match at.get(&row.item.id) {
            Some(&i) => once[i] = (row, edited || once[i].1),
            None => {
                at.insert(&row.item.id, once.len());
                once.push((row, edited));
            }
        }
    }
    let now = now.to_rfc3339();
    for batch in once.chunks(BATCH) {
        let mut c = Columns::default();
        for &(row, edited) in batch {
            let item = row.item;
            c.id.push(item.id.as_str());
            c.url.push(item.url.as_str());
            c.title.push(clean(&item.title));
            c.published.push(row.published.to_rfc3339());
            c.published_ts.push(row.published.timestamp());
            c.date_source.push(item.date_source.as_str());
            c.updated.push(row.updated.to_rfc3339());
            c.author.push(clean_opt(&item.author));
            c.summary.push(clean(&item.summary));
            c.content_html.push(clean(&item.content_html));
            c.image.push(item.image.as_ref().map(Url::as_str));
            c.image_caption.push(clean_opt(&item.image_caption));
            c.hash.push(row.hash.as_str());
            c.edited.push(edited);
            c.categories
                .push(serde_json::to_string(&item.categories).expect("strings always serialize"));
            c.image_length
                .push(item.image_length.and_then(|n| i64::try_from(n).ok()));
            c.image_type.push(item.image_type.as_deref().map(clean));
        }
        tx.execute(
            "INSERT INTO items (source, id, url, title, published, published_ts, date_source, updated, author,
                summary, content_html, image, image_caption, content_hash, first_seen, last_seen, last_checked,
                edited, categories, image_length, image_type)
             SELECT $1, r.id, r.url, r.title, r.published, r.published_ts, r.date_source, r.updated, r.author,
                r.summary, r.content_html, r.image, r.image_caption, r.content_hash, $2, $2, $2,
                CASE WHEN r.edited THEN $2 END, r.categories, r.image_length, r.image_type
             FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::text[], $9::text[],
                $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::bool[],
                $17::text[], $18::bigint[], $19::text[])
                AS r(id, url, title, published, published_ts, date_source, updated, author, summary, content_html,
                    image, image_caption, content_hash, edited, categories, image_length, image_type)
             ON CONFLICT (source, id) DO UPDATE SET url = excluded.url, title = excluded.title,
                published = excluded.published, published_ts = excluded.published_ts,
                date_source = excluded.date_source, updated = excluded.updated, author = excluded.author,
                summary = excluded.summary, content_html = excluded.content_html, image = excluded.image,
                image_caption = excluded.image_caption, content_hash = excluded.content_hash,
                last_seen = excluded.last_seen, last_checked = excluded.last_checked,
                edited = coalesce(excluded.edited, items.edited), categories = excluded.categories,
                image_length = excluded.image_length, image_type = excluded.image_type",
            &[
                &source.as_str(),
                &now,
                &c.id,
                &c.url,
                &c.title,
                &c.published,
                &c.published_ts,
                &c.date_source,
                &c.updated,
                &c.author,
                &c.summary,
                &c.content_html,
                &c.image,
                &c.image_caption,
                &c.hash,
                &c.edited,
                &c.categories,
                &c.image_length,
                &c.image_type,
            ],
        )?;
    }
    Ok(())
}

/// One batch of item rows, column by column (what `unnest` takes).
#[derive(Default)]
struct Columns<'a> {
    id: Vec<&'a str>,
    url: Vec<&'a str>,
    title: Vec<Cow<'a, str>>,
    published: Vec<String>,
    published_ts: Vec<i64>,
    date_source: Vec<&'static str>,
    updated: Vec<String>,
    author: Vec<Option<Cow<'a, str>>>,
    summary: Vec<Cow<'a, str>>,
    content_html: Vec<Cow<'a, str>>,
    image: Vec<Option<&'a str>>,
    image_caption: Vec<Option<Cow<'a, str>>>,
    hash: Vec<&'a str>,
    edited: Vec<bool>,
    categories: Vec<String>,
    image_length: Vec<Option<i64>>,
    image_type: Vec<Option<Cow<'a, str>>>,
}

/// Known items listed again without being fetched (`seen`), and those whose re-check answered 304 (`checked`).
pub(super) fn touch(
    tx: &mut Tx<'_>,
    source: &SourceId,
    seen: &[ItemId],
    checked: &[ItemId],
    now: DateTime<Utc>,
) -> Result<()> {
    let now = now.to_rfc3339();
    fn ids(ids: &[ItemId]) -> Vec<&str> {
        ids.iter().map(ItemId::as_str).collect()
    }
    if !seen.is_empty() {
        tx.execute(
            "UPDATE items SET last_seen = $3 WHERE source = $1 AND id = ANY($2)",
            &[&source.as_str(), &ids(seen), &now],
        )?;
    }
    if !checked.is_empty() {
        tx.execute(
            "UPDATE items SET last_seen = $3, last_checked = $3 WHERE source = $1 AND id = ANY($2)",
            &[&source.as_str(), &ids(checked), &now],
        )?;
    }
    Ok(())
}

/// Retention, as in SQLite: drops the items of `source` older than `retain` both by date and by when a run last
/// saw them, except the newest `max_items`; then the links, saved pages and validators of what was dropped, and
/// failed links that last failed before the cutoff. Returns how many items were dropped.
pub(super) fn retain(
    tx: &mut Tx<'_>,
    source: &SourceId,
    (max_items, retain): (usize, Duration),
    now: DateTime<Utc>,
) -> Result<usize> {
    let Some(cutoff) = merge::retention_cutoff(now, retain) else {
        return Ok(0);
    };
    let cutoff_text = cutoff.to_rfc3339();
    let source = source.as_str();
    tx.execute(
        "DELETE FROM failed_links WHERE source = $1 AND last_failed < $2",
        &[&source, &cutoff_text],
    )?;
    let dropped = tx.execute(
        "DELETE FROM items WHERE source = $1 AND id IN (
            SELECT id FROM items WHERE source = $1 AND last_seen < $3 AND published_ts < $4
            EXCEPT SELECT id FROM (SELECT id FROM items WHERE source = $1 ORDER BY published_ts DESC, id LIMIT $2) w)",
        &[&source, &(max_items as i64), &cutoff_text, &cutoff.timestamp()],
    )? as usize;
    if dropped == 0 {
        return Ok(0);
    }
    tracing::info!(source, items = dropped, "retention: items dropped");
    let gone: Vec<String> = tx
        .query(
            "DELETE FROM links WHERE source = $1 AND item_id NOT IN (SELECT id FROM items WHERE source = $1)
             RETURNING url",
            &[&source],
        )?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    tx.execute(
        "DELETE FROM pages WHERE source = $1 AND kind = 'article'
            AND (item_id IS NULL OR item_id NOT IN (SELECT id FROM items WHERE source = $1))",
        &[&source],
    )?;
    tx.execute(
        "DELETE FROM validators v WHERE v.url = ANY($1) AND NOT EXISTS (SELECT 1 FROM links l WHERE l.url = v.url)",
        &[&gone],
    )?;
    Ok(dropped)
}

pub(super) fn feed_items(tx: &mut Tx<'_>, source: &SourceId, limit: usize) -> Result<Vec<Item>> {
    let rows = tx.query(
        "SELECT id, url, title, published, date_source, updated, author, summary, content_html, image,
            image_caption, categories, image_length, image_type
         FROM items WHERE source = $1 ORDER BY published_ts DESC, id LIMIT $2",
        &[&source.as_str(), &(limit as i64)],
    )?;
    let mut items = Vec::with_capacity(rows.len());
    for r in rows {
        items.push(Item {
            id: ItemId::from_stored(r.try_get(0)?),
            url: url("item url", r.try_get(1)?)?,
            title: r.try_get(2)?,
            published: time(r.try_get(3)?)?,
            date_source: date_source_of(r.try_get(4)?)?,
            updated: time(r.try_get(5)?)?,
            author: r.try_get(6)?,
            summary: r.try_get(7)?,
            content_html: r.try_get(8)?,
            image: r.try_get::<_, Option<&str>>(9)?.and_then(|i| Url::parse(i).ok()),
            image_caption: r.try_get(10)?,
            categories: serde_json::from_str(r.try_get(11)?)
                .map_err(|_| Failure::Corrupt("item categories".to_owned()))?,
            image_length: r.try_get::<_, Option<i64>>(12)?.and_then(|n| u64::try_from(n).ok()),
            image_type: r.try_get(13)?,
        });
    }
    Ok(items)
}

pub(super) fn entries(tx: &mut Tx<'_>, source: &SourceId, limit: usize) -> Result<Vec<Entry>> {
    let rows = tx.query(
        "SELECT title, url, published, first_seen, edited FROM items WHERE source = $1
         ORDER BY published_ts DESC, id LIMIT $2",
        &[&source.as_str(), &(limit as i64)],
    )?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push(Entry {
            title: r.try_get(0)?,
            url: r.try_get(1)?,
            published: time(r.try_get(2)?)?,
            first_seen: utc(r.try_get(3)?)?,
            edited: r.try_get::<_, Option<&str>>(4)?.map(utc).transpose()?,
        });
    }
    Ok(out)
}

pub(super) fn counts(tx: &mut Tx<'_>, source: &SourceId, since: DateTime<Utc>) -> Result<(usize, usize)> {
    let r = tx.query_one(
        "SELECT count(*), count(*) FILTER (WHERE first_seen >= $2) FROM items WHERE source = $1",
        &[&source.as_str(), &since.to_rfc3339()],
    )?;
    Ok((r.try_get::<_, i64>(0)? as usize, r.try_get::<_, i64>(1)? as usize))
}

fn date_source_of(text: &str) -> Result<DateSource> {
    crate::store::stored::date_source(text).map_err(Failure::Corrupt)
}
