//! The feed stage of a run: the stored feed window rendered in every configured format and published atomically;
//! and, after its sources ran, a `[[merge]]` feed through the same writer ([`publish_merge`]).
//!
//! Rendering starts from the store, never from what this run read, so a run that read little still publishes the
//! whole window. Identical bytes are not rewritten. Every format is tried even when one fails: a folder squatting
//! on one file name does not keep the others stale.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use url::Url;

use crate::config::{Config, Merge, Settings, Source};
use crate::error_chain;
use crate::model::{Alternate, FeedMeta, Item, SourceId};
use crate::publish;
use crate::render;
use crate::store::{FeedTag, Store, StoreError, StoredFeed};

/// What publishing one feed's files did.
#[derive(Debug, Default, Clone)]
pub struct Published {
    /// Files whose bytes changed.
    pub written: Vec<PathBuf>,
    /// Why a file could not be written, one message per file.
    pub unwritten: Vec<String>,
    /// Whether a file could not be written because the process was out of open files (worth waiting for).
    pub short_of_files: bool,
}

/// A feed rendered in every configured format: the copies the store keeps (which `serve` answers from) and, in the
/// same order, the files they are published as.
#[derive(Debug)]
pub struct Rendered {
    /// To [`crate::store::Backend::save_feeds`] before the files are written: a `serve` on another machine then has
    /// the feed even when this machine's folder cannot be written.
    pub stored: Vec<StoredFeed>,
    paths: Vec<PathBuf>,
}

/// Renders the feed `meta` names (`meta.source`) in every configured format at `now` (the copies' modified time),
/// each format on a blocking thread of its own, at the same time: the one renderer of sources and merges.
async fn render(settings: &Settings, meta: FeedMeta, items: Vec<Item>, now: DateTime<Utc>) -> Rendered {
    let (meta, items) = (Arc::new(meta), Arc::new(items));
    let formats = settings.formats.iter().map(|&format| {
        let (meta, items) = (Arc::clone(&meta), Arc::clone(&items));
        super::blocking(move || render::render(format, &meta, &items).into_bytes())
    });
    let bodies = futures_util::future::join_all(formats).await;
    let (stored, paths) = settings
        .formats
        .iter()
        .zip(bodies)
        .map(|(&format, body)| {
            let stored = StoredFeed {
                feed: meta.source.clone(),
                ext: format.ext().to_owned(),
                tag: FeedTag {
                    etag: publish::etag(&body),
                    modified: now,
                },
                body,
            };
            (stored, settings.feed_path(&meta.source, format))
        })
        .unzip();
    Rendered { stored, paths }
}

/// Renders `source`'s feed of `items` (its stored window) off the async runtime.
pub(super) async fn render_source(config: &Config, source: &Source, items: Vec<Item>, now: DateTime<Utc>) -> Rendered {
    let meta = feed_meta(config, source, &items, now);
    render(&config.settings, meta, items, now).await
}

/// Writes the files of `rendered` that changed.
fn write(rendered: &Rendered) -> Published {
    let mut out = Published::default();
    let files: Vec<(&std::path::Path, &[u8])> = rendered
        .paths
        .iter()
        .zip(&rendered.stored)
        .map(|(path, feed)| (path.as_path(), feed.body.as_slice()))
        .collect();
    for (path, result) in rendered.paths.iter().zip(publish::write_atomic_all(&files)) {
        match result {
            Ok(true) => out.written.push(path.clone()),
            Ok(false) => {}
            Err(e) => {
                out.short_of_files |= crate::out_of_files(&e);
                out.unwritten.push(error_chain(&e));
            }
        }
    }
    out
}

/// How long, in all, publishing waits for file descriptors to free up (connections closing) before a file that
/// could not be written for want of one fails its source, and how often it tries again meanwhile.
const FILES_PATIENCE: std::time::Duration = std::time::Duration::from_secs(10);
const FILES_STEP: std::time::Duration = std::time::Duration::from_millis(50);

/// Writes the files of `rendered` on a blocking thread ([`publish::write_atomic_all`]), tried again
/// while a file could not be written because the process was out of open files ([`crate::out_of_files`]), for up
/// to [`FILES_PATIENCE`]: a feed is not left stale because the run had many connections open at the moment it was
/// written. The wait is on tokio's clock, so the runtime meanwhile closes the idle connections that free the
/// descriptors.
pub(super) async fn write_patiently(rendered: Arc<Rendered>) -> Published {
    let write_off_runtime = || {
        let rendered = Arc::clone(&rendered);
        super::blocking(move || write(&rendered))
    };
    let mut out = write_off_runtime().await;
    let mut waited = std::time::Duration::ZERO;
    while out.short_of_files && waited < FILES_PATIENCE {
        tokio::time::sleep(FILES_STEP).await;
        waited += FILES_STEP;
        // Files written already are identical now and not written again.
        let again = write_off_runtime().await;
        out.written.extend(again.written);
        out.unwritten = again.unwritten;
        out.short_of_files = again.short_of_files;
    }
    out
}

/// A digest of everything `source`'s feed files are rendered from besides its stored items: the feed-level data
/// (title, links, alternates, hub, ...), the formats and where they go, the window's size, the extraction rules and
/// this build of feedwright (whose renderers may differ from the last one's). The store keeps it once every file
/// is written and forgets it when a commit adds or edits an item, so a run finding it unchanged, with the files
/// in place, has nothing to render: the files would come out byte for byte the same.
pub(super) fn inputs(config: &Config, source: &Source) -> String {
    use sha2::{Digest, Sha256};
    // No items: `updated` is then this fixed time, and the digest is about the feed, not the clock.
    let meta = feed_meta(config, source, &[], DateTime::UNIX_EPOCH);
    let paths: Vec<(&str, PathBuf)> = config
        .settings
        .formats
        .iter()
        .map(|f| (f.ext(), config.settings.feed_path(&source.id, *f)))
        .collect();
    let text = format!(
        "{}\n{meta:?}\n{paths:?}\n{}\n{}",
        env!("CARGO_PKG_VERSION"),
        source.max_items,
        crate::fingerprint::of(source)
    );
    format!("{:x}", Sha256::digest(text.as_bytes()))
}

/// Whether every feed file of `source` is where it is published (one was removed by hand, or never written).
pub(super) fn files_exist(config: &Config, source: &Source) -> bool {
    config
        .settings
        .formats
        .iter()
        .all(|f| config.settings.feed_path(&source.id, *f).is_file())
}

/// Held while a merged feed is published: two sources of one merge finishing at once under `watch` would otherwise
/// write the same files at once, through the same temporary name.
static MERGING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Publishes `merge` from what the store holds of its sources (whatever their last runs did: a broken source's
/// last good items stay in it), rendered and written off the async runtime like a source's feed. Returns what was
/// written and the number of items in the feed.
pub async fn publish_merge(
    store: &Arc<std::sync::Mutex<Store>>,
    config: &Config,
    merge: &Merge,
    now: DateTime<Utc>,
) -> Result<(Published, usize), StoreError> {
    let _merging = MERGING.lock().await;
    let (sources, max_items) = (merge.sources.clone(), merge.max_items);
    let lists = super::on_store(store, move |store| {
        sources
            .iter()
            .map(|id| store.feed_items(id, max_items))
            .collect::<Result<Vec<_>, _>>()
    })
    .await?;
    let items = crate::merged::items(lists, merge.max_items);
    if items.is_empty() {
        return Ok((Published::default(), 0));
    }
    let count = items.len();
    let meta = merge_meta(config, merge, &items, now);
    let rendered = Arc::new(render(&config.settings, meta, items, now).await);
    let stored = Arc::clone(&rendered);
    super::on_store(store, move |store| store.save_feeds(&stored.stored)).await?;
    let published = write_patiently(rendered).await;
    if !published.unwritten.is_empty() {
        tracing::error!(merge = %merge.id, errors = %published.unwritten.join("; "), "merged feed files not written");
    }
    Ok((published, count))
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
