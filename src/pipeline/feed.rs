//! The feed stage of a run: the stored feed window rendered in every configured format and published atomically.
//!
//! Rendering starts from the store, never from what this run read, so a run that read little still publishes the
//! whole window. Identical bytes are not rewritten. Every format is tried even when one fails: a folder squatting
//! on one file name does not keep the others stale.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use url::Url;

use crate::config::{Config, Source};
use crate::error_chain;
use crate::model::{Alternate, FeedMeta, Item, SourceId};
use crate::publish;
use crate::render;

/// What publishing one source's feeds did.
#[derive(Debug, Default)]
pub(super) struct Published {
    /// Files whose bytes changed.
    pub written: Vec<PathBuf>,
    /// Why a file could not be written, one message per file.
    pub unwritten: Vec<String>,
}

/// Renders `items` in every configured format and writes the files that changed.
pub(super) fn publish(config: &Config, source: &Source, items: &[Item], now: DateTime<Utc>) -> Published {
    let mut out = Published::default();
    if items.is_empty() {
        return out;
    }
    let meta = feed_meta(config, source, items, now);
    for &format in &config.settings.formats {
        let path = config.settings.feed_path(&source.id, format);
        match publish::write_atomic(&path, render::render(format, &meta, items).as_bytes()) {
            Ok(true) => out.written.push(path),
            Ok(false) => {}
            Err(e) => out.unwritten.push(error_chain(&e)),
        }
    }
    out
}

/// Feed-level data for `source`; `updated` follows the items, so an unchanged feed renders to the same bytes.
pub fn feed_meta(config: &Config, source: &Source, items: &[Item], now: DateTime<Utc>) -> FeedMeta {
    let updated = items
        .iter()
        .map(|i| i.updated)
        .max()
        .unwrap_or_else(|| now.fixed_offset());
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
