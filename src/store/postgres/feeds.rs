//! The published feeds, as in `sqlite/feeds.rs`: one row per feed and format, replaced only when its ETag
//! changes, read by every `serve` sharing the database.

use super::conn::Tx;
use super::{Result, utc};
use crate::model::SourceId;
use crate::store::{FeedTag, StoredFeed};

pub(super) fn save(tx: &mut Tx<'_>, feeds: &[StoredFeed]) -> Result<()> {
    for f in feeds {
        tx.execute(
            "INSERT INTO feeds (feed, ext, etag, modified, body) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (feed, ext) DO UPDATE SET etag = excluded.etag, modified = excluded.modified,
                body = excluded.body
             WHERE feeds.etag <> excluded.etag",
            &[
                &f.feed.as_str(),
                &f.ext,
                &f.tag.etag,
                &f.tag.modified.to_rfc3339(),
                &f.body,
            ],
        )?;
    }
    Ok(())
}

pub(super) fn tag(tx: &mut Tx<'_>, feed: &SourceId, ext: &str) -> Result<Option<FeedTag>> {
    let row = tx.query_opt(
        "SELECT etag, modified FROM feeds WHERE feed = $1 AND ext = $2",
        &[&feed.as_str(), &ext],
    )?;
    row.map(|r| {
        Ok(FeedTag {
            etag: r.try_get(0)?,
            modified: utc(r.try_get(1)?)?,
        })
    })
    .transpose()
}

pub(super) fn stored(tx: &mut Tx<'_>, feed: &SourceId, ext: &str) -> Result<Option<StoredFeed>> {
    let row = tx.query_opt(
        "SELECT etag, modified, body FROM feeds WHERE feed = $1 AND ext = $2",
        &[&feed.as_str(), &ext],
    )?;
    row.map(|r| {
        Ok(StoredFeed {
            feed: feed.clone(),
            ext: ext.to_owned(),
            tag: FeedTag {
                etag: r.try_get(0)?,
                modified: utc(r.try_get(1)?)?,
            },
            body: r.try_get(2)?,
        })
    })
    .transpose()
}
