//! The feed stage of a run: the stored feed window rendered in every configured format and published atomically;
//! and, after its sources ran, a `[[merge]]` feed through the same writer ([`publish_merge`]).
//!
//! Rendering starts from the store, never from what this run read, so a run that read little still publishes the
//! whole window. Identical bytes are not rewritten. Every format is tried even when one fails: a folder squatting
//! on one file name does not keep the others stale.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use url::Url;

use crate::config::{Config, Merge, Source};
use crate::error_chain;
use crate::model::{Alternate, FeedMeta, Item, SourceId};
use crate::publish;
use crate::render;
use crate::store::{Store, StoreError};

/// What publishing one feed's files did.
#[derive(Debug, Default, Clone)]
pub struct Published {
    /// Files whose bytes changed.
    pub written: Vec<PathBuf>,
    /// Why a file could not be written, one message per file.
    pub unwritten: Vec<String>,
}

/// Renders `items` in every configured format and writes the files that changed.
pub(super) fn publish(config: &Config, source: &Source, items: &[Item], now: DateTime<Utc>) -> Published {
    if items.is_empty() {
        return Published::default();
    }
    write(config, &feed_meta(config, source, items, now), items)
}

/// Writes the feed `meta` names (`meta.source`) in every configured format: the one writer of sources and merges.
fn write(config: &Config, meta: &FeedMeta, items: &[Item]) -> Published {
    let mut out = Published::default();
    for &format in &config.settings.formats {
        let path = config.settings.feed_path(&meta.source, format);
        match publish::write_atomic(&path, render::render(format, meta, items).as_bytes()) {
            Ok(true) => out.written.push(path),
            Ok(false) => {}
            Err(e) => out.unwritten.push(error_chain(&e)),
        }
    }
    out
}

/// Publishes `merge` from what the store holds of its sources (whatever their last runs did: a broken source's
/// last good items stay in it). Returns what was written and the number of items in the feed.
///
/// The store stays locked until the files are written: two sources of one merge finishing at once under `watch`
/// would otherwise write the same files at once, through the same temporary name.
pub fn publish_merge(
    store: &std::sync::Mutex<Store>,
    config: &Config,
    merge: &Merge,
    now: DateTime<Utc>,
) -> Result<(Published, usize), StoreError> {
    let store = crate::store::lock(store);
    let lists = merge
        .sources
        .iter()
        .map(|id| store.feed_items(id, merge.max_items))
        .collect::<Result<Vec<_>, _>>()?;
    let items = crate::merged::items(lists, merge.max_items);
    if items.is_empty() {
        return Ok((Published::default(), 0));
    }
    let published = write(config, &merge_meta(config, merge, &items, now), &items);
    drop(store);
    if !published.unwritten.is_empty() {
        tracing::error!(merge = %merge.id, errors = %published.unwritten.join("; "), "merged feed files not written");
    }
    Ok((published, items.len()))
}

/// The newest `updated` of `items` (never the render time, so an unchanged feed renders to the same bytes).
fn updated(items: &[Item], now: DateTime<Utc>) -> chrono::DateTime<chrono::FixedOffset> {
    items
        .iter()
        .map(|i| i.updated)
        .max()
        .unwrap_or_else(|| now.fixed_offset())
}

/// Feed-level data for a merged feed: its own id (so its own file names and self link), no alternates.
pub fn merge_meta(config: &Config, merge: &Merge, items: &[Item], now: DateTime<Utc>) -> FeedMeta {
    FeedMeta {
        source: merge.id.clone(),
        title: merge.title.clone(),
        description: merge.description.clone(),
        home_page: merge.home_page.clone(),
        feed_base: config.settings.feed_base_url.clone(),
        language: merge.language.clone(),
        author: merge.author.clone(),
        updated: updated(items, now),
        alternates: Vec::new(),
        hub: config.settings.hub.clone(),
    }
}

/// Feed-level data for `source`; `updated` follows the items, so an unchanged feed renders to the same bytes.
pub fn feed_meta(config: &Config, source: &Source, items: &[Item], now: DateTime<Utc>) -> FeedMeta {
    let updated = updated(items, now);
    let alternates = source
        .alternates
        .iter()
        .filter_map(|id| config.source(id.as_str()))
        .map(|alt| Alternate {
            href: feed_base(config, &alt.id),
            hreflang: alt.language.clone().unwrap_or_default(),
            title: alt.title.clone(),
        })
        .collect();
    FeedMeta {
        source: source.id.clone(),
        title: source.title.clone(),
        description: source.description.clone(),
        home_page: source.urls[0].clone(),
        feed_base: config.settings.feed_base_url.clone(),
        language: source.language.clone(),
        author: source.author.clone(),
        updated,
        alternates,
        hub: config.settings.hub.clone(),
    }
}

fn feed_base(config: &Config, id: &SourceId) -> Url {
    config
        .settings
        .feed_base_url
        .join(id.as_str())
        .expect("a source id is a valid relative URL")
}
