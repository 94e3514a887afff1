//! Saved pages and rule fingerprints, as in `sqlite/pages.rs` (see `store/pages.rs` for why they are kept):
//! written and pruned in the run's own transaction, after its items.

use chrono::{DateTime, Utc};
use url::Url;

use super::conn::Tx;
use super::{Failure, Result, clean_opt, url, utc};
use crate::model::{ItemId, ListedLink, SourceId};
use crate::store::{Keep, Known, PageKind, SavedPage, Windowed};

pub(super) fn rules(tx: &mut Tx<'_>, source: &SourceId) -> Result<Option<String>> {
    let row = tx.query_opt("SELECT fingerprint FROM rules WHERE source = $1", &[&source.as_str()])?;
    Ok(row.map(|r| r.try_get(0)).transpose()?)
}

pub(super) fn published(tx: &mut Tx<'_>, source: &SourceId) -> Result<Option<String>> {
    let row = tx.query_opt("SELECT published FROM rules WHERE source = $1", &[&source.as_str()])?;
    Ok(row.map(|r| r.try_get(0)).transpose()?.flatten())
}

/// Keeps (or, with `None`, forgets) the digest of what `source`'s feeds were written from. A source with no rules row
/// (no committed run) keeps nothing: its feeds are rendered next time.
pub(super) fn set_published(tx: &mut Tx<'_>, source: &SourceId, digest: Option<&str>) -> Result<()> {
    tx.execute(
        "UPDATE rules SET published = $2 WHERE source = $1",
        &[&source.as_str(), &digest],
    )?;
    Ok(())
}

pub(super) fn window(tx: &mut Tx<'_>, source: &SourceId, max_items: usize) -> Result<Vec<Windowed>> {
    let rows = tx.query(
        "SELECT i.id, i.content_hash, i.first_seen, i.last_checked,
            (SELECT min(l.url) FROM links l WHERE l.source = i.source AND l.item_id = i.id)
         FROM items i WHERE i.source = $1 ORDER BY i.published_ts DESC, i.id LIMIT $2",
        &[&source.as_str(), &(max_items as i64)],
    )?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let item_id = ItemId::from_stored(r.try_get(0)?);
        out.push(Windowed {
            page: article_page(tx, source, &item_id)?,
            known: Known {
                item_id,
                hash: r.try_get(1)?,
                first_seen: utc(r.try_get(2)?)?,
                last_checked: utc(r.try_get(3)?)?,
            },
            link: r
                .try_get::<_, Option<&str>>(4)?
                .map(|l| url("saved page url", l))
                .transpose()?,
        });
    }
    Ok(out)
}

const COLUMNS: &str =
    "url, kind, start, number, item_id, link_title, link_date, final_url, encoding, fetched, body, size";

pub(super) fn listing_pages(tx: &mut Tx<'_>, source: &SourceId) -> Result<Vec<SavedPage>> {
    let sql = format!("SELECT {COLUMNS} FROM pages WHERE source = $1 AND kind = 'listing' ORDER BY start, number, url");
    let rows = tx.query(&sql, &[&source.as_str()])?;
    rows.iter().map(page).collect()
}

pub(super) fn saved_size(tx: &mut Tx<'_>, source: &SourceId) -> Result<(usize, usize, usize)> {
    let r = tx.query_one(
        "SELECT count(*), coalesce(sum(length(body)), 0)::bigint, coalesce(sum(size), 0)::bigint FROM pages
         WHERE source = $1",
        &[&source.as_str()],
    )?;
    Ok((
        r.try_get::<_, i64>(0)? as usize,
        r.try_get::<_, i64>(1)? as usize,
        r.try_get::<_, i64>(2)? as usize,
    ))
}

fn article_page(tx: &mut Tx<'_>, source: &SourceId, item: &ItemId) -> Result<Option<SavedPage>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM pages WHERE source = $1 AND kind = 'article' AND item_id = $2
         ORDER BY fetched DESC, url LIMIT 1"
    );
    let row = tx.query_opt(&sql, &[&source.as_str(), &item.as_str()])?;
    row.as_ref().map(page).transpose()
}

/// One `pages` row (in [`COLUMNS`] order) as a page.
fn page(r: &postgres::Row) -> Result<SavedPage> {
    let at: &str = r.try_get(0)?;
    let page_url = url("saved page url", at)?;
    let (kind, start, number): (&str, Option<&str>, Option<i64>) = (r.try_get(1)?, r.try_get(2)?, r.try_get(3)?);
    let kind = match (kind, start, number) {
        ("listing", Some(start), Some(number)) => PageKind::Listing {
            start: url("saved page url", start)?,
            number: number as usize,
        },
        ("article", _, _) => PageKind::Article {
            listed: ListedLink {
                url: page_url.clone(),
                title: r.try_get(5)?,
                date_text: r.try_get(6)?,
                feed: None,
            },
            item: r.try_get::<_, Option<String>>(4)?.map(ItemId::from_stored),
        },
        (kind, _, _) => return Err(Failure::Corrupt(format!("saved page {at} of kind {kind:?}"))),
    };
    Ok(SavedPage {
        final_url: url("saved page url", r.try_get(7)?)?,
        url: page_url,
        encoding: r.try_get(8)?,
        fetched: utc(r.try_get(9)?)?,
        kind,
        compressed: r.try_get(10)?,
        size: r.try_get::<_, i64>(11)? as usize,
    })
}

/// Writes a run's pages and fingerprint, then prunes what fell out of `keep`. Called inside the run's commit, after
/// its items are written (the window is the one the feed is rendered from).
pub(super) fn commit(
    tx: &mut Tx<'_>,
    source: &SourceId,
    pages: &[SavedPage],
    rules: Option<&str>,
    keep: Option<&Keep>,
    now: DateTime<Utc>,
) -> Result<()> {
    let source = source.as_str();
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
                clean_opt(&listed.title),
                clean_opt(&listed.date_text),
            ),
        };
        tx.execute(
            "INSERT INTO pages (source, url, kind, start, number, item_id, link_title, link_date, final_url,
                encoding, fetched, body, size)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
             ON CONFLICT (source, url) DO UPDATE SET kind = excluded.kind, start = excluded.start,
                number = excluded.number, item_id = excluded.item_id, link_title = excluded.link_title,
                link_date = excluded.link_date, final_url = excluded.final_url, encoding = excluded.encoding,
                fetched = excluded.fetched, body = excluded.body, size = excluded.size",
            &[
                &source,
                &page.url.as_str(),
                &kind,
                &start,
                &number,
                &item,
                &link_title,
                &link_date,
                &page.final_url.as_str(),
                &page.encoding,
                &page.fetched.to_rfc3339(),
                &page.compressed,
                &(page.size as i64),
            ],
        )?;
    }
    if let Some(rules) = rules {
        tx.execute(
            "INSERT INTO rules (source, fingerprint, since) VALUES ($1, $2, $3)
             ON CONFLICT (source) DO UPDATE SET fingerprint = excluded.fingerprint,
                since = CASE WHEN rules.fingerprint = excluded.fingerprint THEN rules.since ELSE excluded.since END",
            &[&source, &rules, &now.to_rfc3339()],
        )?;
    }
    if let Some(keep) = keep {
        tx.execute(
            "DELETE FROM pages WHERE source = $1 AND kind = 'article' AND (item_id IS NULL OR item_id NOT IN
                (SELECT id FROM items WHERE source = $1 ORDER BY published_ts DESC, id LIMIT $2))",
            &[&source, &(keep.max_items as i64)],
        )?;
        let listing: Vec<&str> = keep.listing.iter().map(Url::as_str).collect();
        tx.execute(
            "DELETE FROM pages WHERE source = $1 AND kind = 'listing' AND (number > $2 OR NOT (start = ANY($3)))",
            &[&source, &(keep.max_pages as i64), &listing],
        )?;
    }
    Ok(())
}
