//! The published feeds, kept for `serve`: one row per feed and format, replaced only when its ETag changes.

use rusqlite::{Connection, OptionalExtension, params};

use super::{Result, utc};
use crate::model::SourceId;
use crate::store::{FeedTag, StoredFeed};

pub(super) fn save(c: &Connection, feeds: &[StoredFeed]) -> Result<()> {
    let mut stmt = c.prepare_cached(
        "INSERT INTO feeds (feed, ext, etag, modified, body) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (feed, ext) DO UPDATE SET etag = excluded.etag, modified = excluded.modified, body = excluded.body
         WHERE feeds.etag <> excluded.etag",
    )?;
    for f in feeds {
        stmt.execute(params![
            f.feed.as_str(),
            f.ext,
            f.tag.etag,
            f.tag.modified.to_rfc3339(),
            f.body
        ])?;
    }
    Ok(())
}

pub(super) fn tag(c: &Connection, feed: &SourceId, ext: &str) -> Result<Option<FeedTag>> {
    let row: Option<(String, String)> = c
        .prepare_cached("SELECT etag, modified FROM feeds WHERE feed = ?1 AND ext = ?2")?
        .query_row(params![feed.as_str(), ext], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    row.map(|(etag, modified)| {
        Ok(FeedTag {
            etag,
            modified: utc(&modified)?,
        })
    })
    .transpose()
}

pub(super) fn stored(c: &Connection, feed: &SourceId, ext: &str) -> Result<Option<StoredFeed>> {
    let row: Option<(String, String, Vec<u8>)> = c
        .prepare_cached("SELECT etag, modified, body FROM feeds WHERE feed = ?1 AND ext = ?2")?
        .query_row(params![feed.as_str(), ext], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    row.map(|(etag, modified, body)| {
        Ok(StoredFeed {
            feed: feed.clone(),
            ext: ext.to_owned(),
            tag: FeedTag {
                etag,
                modified: utc(&modified)?,
            },
            body,
        })
    })
    .transpose()
}
