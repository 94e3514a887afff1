//! Saved pages and rule fingerprints (see `store/pages.rs` for why they are kept): written and pruned in the run's
//! own transaction, after its items, so the saved set always matches the committed feed window.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use url::Url;

use super::{Failure, Result, url, utc};
use crate::model::{ItemId, ListedLink, SourceId};
use crate::store::{Keep, Known, PageKind, SavedPage, Windowed};

pub(super) fn rules(c: &Connection, source: &SourceId) -> Result<Option<String>> {
    Ok(c.prepare_cached("SELECT fingerprint FROM rules WHERE source = ?1")?
        .query_row([source.as_str()], |r| r.get(0))
        .optional()?)
}

pub(super) fn published(c: &Connection, source: &SourceId) -> Result<Option<String>> {
    Ok(c.prepare_cached("SELECT published FROM rules WHERE source = ?1")?
        .query_row([source.as_str()], |r| r.get(0))
        .optional()?
        .flatten())
}

/// Keeps (or, with `None`, forgets) the digest of what `source`'s feeds were written from. A source with no rules row
/// (no committed run) keeps nothing: its feeds are rendered next time.
pub(super) fn set_published(c: &Connection, source: &SourceId, digest: Option<&str>) -> Result<()> {
    c.prepare_cached("UPDATE rules SET published = ?2 WHERE source = ?1")?
        .execute(params![source.as_str(), digest])?;
    Ok(())
}

pub(super) fn window(c: &Connection, source: &SourceId, max_items: usize) -> Result<Vec<Windowed>> {
    let mut stmt = c.prepare_cached(
        "SELECT i.id, i.content_hash, i.first_seen, i.last_checked,
            (SELECT min(l.url) FROM links l WHERE l.source = i.source AND l.item_id = i.id)
         FROM items i WHERE i.source = ?1 ORDER BY i.published_ts DESC, i.id LIMIT ?2",
    )?;
    let rows = stmt
        .query_map(params![source.as_str(), max_items as i64], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Option<String>>(4)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut out = Vec::new();
    for (id, hash, first_seen, last_checked, link) in rows {
        let item_id = ItemId::from_stored(id);
        out.push(Windowed {
            page: article_page(c, source, &item_id)?,
            known: Known {
                item_id,
                hash,
                first_seen: utc(&first_seen)?,
                last_checked: utc(&last_checked)?,
            },
            link: link.map(|l| url("saved page url", &l)).transpose()?,
        });
    }
    Ok(out)
}

pub(super) fn listing_pages(c: &Connection, source: &SourceId) -> Result<Vec<SavedPage>> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM pages WHERE source = ?1 AND kind = 'listing' ORDER BY start, number, url"
    ))?;
    let rows = stmt
        .query_map([source.as_str()], Row::read)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter().map(Row::page).collect()
}

pub(super) fn saved_size(c: &Connection, source: &SourceId) -> Result<(usize, usize, usize)> {
    Ok(c.prepare_cached(
        "SELECT count(*), coalesce(sum(length(body)), 0), coalesce(sum(size), 0) FROM pages WHERE source = ?1",
    )?
    .query_row([source.as_str()], |r| {
        Ok((
            r.get::<_, i64>(0)? as usize,
            r.get::<_, i64>(1)? as usize,
            r.get::<_, i64>(2)? as usize,
        ))
    })?)
}

fn article_page(c: &Connection, source: &SourceId, item: &ItemId) -> Result<Option<SavedPage>> {
    let row = c
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM pages WHERE source = ?1 AND kind = 'article' AND item_id = ?2
             ORDER BY fetched DESC, url LIMIT 1"
        ))?
        .query_row([source.as_str(), item.as_str()], Row::read)
        .optional()?;
    row.map(Row::page).transpose()
}

const COLUMNS: &str =
    "url, kind, start, number, item_id, link_title, link_date, final_url, encoding, fetched, body, size";

/// One `pages` row as read, before its text columns are checked.
struct Row {
    url: String,
    kind: String,
    start: Option<String>,
    number: Option<i64>,
    item: Option<String>,
    link_title: Option<String>,
    link_date: Option<String>,
    final_url: String,
    encoding: String,
    fetched: String,
    body: Vec<u8>,
    size: i64,
}

impl Row {
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
        Ok(Row {
            url: r.get(0)?,
            kind: r.get(1)?,
            start: r.get(2)?,
            number: r.get(3)?,
            item: r.get(4)?,
            link_title: r.get(5)?,
            link_date: r.get(6)?,
            final_url: r.get(7)?,
            encoding: r.get(8)?,
            fetched: r.get(9)?,
            body: r.get(10)?,
            size: r.get(11)?,
        })
    }

    fn page(self) -> Result<SavedPage> {
        let page_url = url("saved page url", &self.url)?;
        let kind = match (self.kind.as_str(), self.start, self.number) {
            ("listing", Some(start), Some(number)) => PageKind::Listing {
                start: url("saved page url", &start)?,
                number: number as usize,
            },
            ("article", _, _) => PageKind::Article {
                listed: ListedLink {
                    url: page_url.clone(),
                    title: self.link_title,
                    date_text: self.link_date,
                    feed: None,
                },
                item: self.item.map(ItemId::from_stored),
            },
            (kind, _, _) => return Err(Failure::Corrupt(format!("saved page {} of kind {kind:?}", self.url))),
        };
        Ok(SavedPage {
            final_url: url("saved page url", &self.final_url)?,
            url: page_url,
            encoding: self.encoding,
            fetched: utc(&self.fetched)?,
            kind,
            compressed: self.body,
            size: self.size as usize,
        })
    }
}

/// Writes a run's pages and fingerprint, then prunes what fell out of `keep`. Called inside the run's commit, after
/// its items are written (the window is the one the feed is rendered from).
pub(super) fn commit(
    c: &Connection,
    source: &SourceId,
    pages: &[SavedPage],
    rules: Option<&str>,
    keep: Option<&Keep>,
    now: DateTime<Utc>,
) -> Result<()> {
    let source = source.as_str();
    let mut stmt = c.prepare_cached(
        "INSERT INTO pages (source, url, kind, start, number, item_id, link_title, link_date, final_url, encoding,
            fetched, body, size)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
         ON CONFLICT (source, url) DO UPDATE SET kind = excluded.kind, start = excluded.start,
            number = excluded.number, item_id = excluded.item_id, link_title = excluded.link_title,
            link_date = excluded.link_date, final_url = excluded.final_url, encoding = excluded.encoding,
            fetched = excluded.fetched, body = excluded.body, size = excluded.size",
    )?;
    for page in pages {
        let (kind, start, number, item, link_title, link_date) = match &page.kind {
            PageKind::Listing { start, number } => {
                ("listing", Some(start.as_str()), Some(*number as i64), None, None, None)
            }
            PageKind::Article { listed, item } => (
                "article",
                None,
                None,
                item.as_ref().map(ItemId::as_str),
                listed.title.as_deref(),
                listed.date_text.as_deref(),
            ),
        };
        stmt.execute(params![
            source,
            page.url.as_str(),
            kind,
            start,
            number,
            item,
            link_title,
            link_date,
            page.final_url.as_str(),
            page.encoding,
            page.fetched.to_rfc3339(),
            page.compressed,
            page.size as i64,
        ])?;
    }
    if let Some(rules) = rules {
        c.prepare_cached(
            "INSERT INTO rules (source, fingerprint, since) VALUES (?1, ?2, ?3)
             ON CONFLICT (source) DO UPDATE SET fingerprint = excluded.fingerprint,
                since = CASE WHEN rules.fingerprint = excluded.fingerprint THEN rules.since ELSE excluded.since END",
        )?
        .execute(params![source, rules, now.to_rfc3339()])?;
    }
    if let Some(keep) = keep {
        c.prepare_cached(
            "DELETE FROM pages WHERE source = ?1 AND kind = 'article' AND (item_id IS NULL OR item_id NOT IN
                (SELECT id FROM items WHERE source = ?1 ORDER BY published_ts DESC, id LIMIT ?2))",
        )?
        .execute(params![source, keep.max_items as i64])?;
        let listing = serde_json::to_string(&keep.listing.iter().map(Url::as_str).collect::<Vec<_>>())
            .expect("strings serialize");
        c.prepare_cached(
            "DELETE FROM pages WHERE source = ?1 AND kind = 'listing'
                AND (number > ?2 OR start NOT IN (SELECT value FROM json_each(?3)))",
        )?
        .execute(params![source, keep.max_pages as i64, listing])?;
    }
    Ok(())
}
