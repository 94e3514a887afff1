//! `snapshot ID` and `test [ID]...`: selector regression tests from saved pages, offline.
//!
//! `snapshot` copies a source's saved pages out of the state database (read-only) into `snapshots/<id>/` beside
//! the config, with `expected.json` of what the config extracts from them now; `test` extracts the same files
//! again with the current config and prints every field that differs. Both extract through the pipeline's own
//! path ([`pipeline::extract_article`], the listing parser and URL canonicalization), so a snapshot says what a
//! run would publish. Neither makes a request, takes the state lock or writes the state.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use url::Url;

use super::{AppError, Exit, select};
use crate::config::{Config, Source};
use crate::extract;
use crate::model::ListedLink;
use crate::normalize;
use crate::pipeline;
use crate::publish;
use crate::snapshot::{self, Article, Extracted, Fields, ListingFields, ListingPage, Snapshot, SnapshotError};
use crate::store::{PageKind, Store};

/// `snapshots/` beside the config file.
fn root(config: &Config) -> PathBuf {
    config
        .path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
        .join("snapshots")
}

pub(super) fn snapshot(path: &Path, id: &str) -> Result<Exit, AppError> {
    let config = Config::load(path)?;
    let source = select(&config, &[id.to_owned()])?.remove(0);
    let state = &config.settings.state;
    let no_pages = || SnapshotError::NoPages {
        source_id: id.to_owned(),
        path: state.shown(),
    };
    let Some(store) = Store::open_read_only(state)? else {
        return Err(no_pages().into());
    };
    let unreadable = |source| SnapshotError::Read {
        path: state.shown(),
        source,
    };
    let mut files = Vec::new();
    let mut snap = Snapshot {
        source: id.to_owned(),
        listing: Vec::new(),
        articles: Vec::new(),
    };
    for page in store.listing_pages(&source.id)? {
        let text = page.text().map_err(unreadable)?;
        let file = snapshot::file_name("listing", &page.url);
        snap.listing.push(ListingPage {
            found: listing_fields(&source, &page.final_url, &text),
            url: page.url,
            final_url: page.final_url,
            file: file.clone(),
        });
        files.push((file, text));
    }
    let mut unsaved = 0;
    for windowed in store.window(&source.id, source.max_items)? {
        let Some(page) = windowed.page else {
            unsaved += 1;
            continue;
        };
        let PageKind::Article { listed, .. } = &page.kind else {
            continue;
        };
        let text = page.text().map_err(unreadable)?;
        let file = snapshot::file_name("article", &page.url);
        let first_seen = windowed.known.first_seen;
        snap.articles.push(Article {
            found: article_found(&source, listed, &page.final_url, text.clone(), first_seen),
            url: page.url.clone(),
            final_url: page.final_url.clone(),
            file: file.clone(),
            link_title: listed.title.clone(),
            link_date: listed.date_text.clone(),
            first_seen,
        });
        files.push((file, text));
    }
    if files.is_empty() {
        return Err(no_pages().into());
    }
    if unsaved > 0 {
        eprintln!(
            "warning: {unsaved} items in the feed of {id} have no saved page yet (stored by an older feedwright); `feedwright run --refetch --source {id}` saves them"
        );
    }

    let dir = root(&config).join(id);
    let write = |name: &str, bytes: &[u8]| {
        publish::write_atomic(&dir.join(name), bytes).map_err(|e| match e {
            publish::PublishError::Write { path, source }
            | publish::PublishError::RemoveTemp { path, source }
            | publish::PublishError::ListTemp { path, source } => SnapshotError::Write { path, source },
        })
    };
    for (name, text) in &files {
        write(name, text.as_bytes())?;
    }
    let mut json = serde_json::to_string_pretty(&snap).expect("plain data serializes");
    json.push('\n');
    write(snapshot::EXPECTED, json.as_bytes())?;
    // Pages of an earlier snapshot that left the feed window go too, so the folder is exactly this snapshot.
    let entries = std::fs::read_dir(&dir).map_err(|source| SnapshotError::Read {
        path: dir.clone(),
        source,
    })?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".html") && snapshot::is_safe_name(&name) && !files.iter().any(|(f, _)| *f == name) {
            std::fs::remove_file(entry.path()).map_err(|source| SnapshotError::Write {
                path: entry.path(),
                source,
            })?;
        }
    }
    println!(
        "{id}: {} listing pages and {} articles saved in {}",
        snap.listing.len(),
        snap.articles.len(),
        dir.display()
    );
    Ok(Exit::Ok)
}

pub(super) fn test(path: &Path, ids: &[String]) -> Result<Exit, AppError> {
    let config = Config::load(path)?;
    let root = root(&config);
    let sources = if ids.is_empty() {
        let found: Vec<Source> = config
            .sources
            .iter()
            .filter(|s| root.join(s.id.as_str()).join(snapshot::EXPECTED).exists())
            .cloned()
            .collect();
        if found.is_empty() {
            return Err(SnapshotError::None { path: root }.into());
        }
        found
    } else {
        select(&config, ids)?
    };
    let mut differs = false;
    let mut out = std::io::stdout().lock();
    for source in &sources {
        let dir = root.join(source.id.as_str());
        let expected = read_snapshot(&dir, source.id.as_str())?;
        let now = extract_again(source, &expected, &dir)?;
        let differences = snapshot::diff(&expected, &now);
        let counts = format!(
            "{} listing pages, {} articles",
            expected.listing.len(),
            expected.articles.len()
        );
        let written = if differences.is_empty() {
            writeln!(out, "{}: ok ({counts})", source.id)
        } else {
            differs = true;
            writeln!(out, "{}: {} differences ({counts})", source.id, differences.len()).and_then(|()| {
                differences
                    .iter()
                    .try_for_each(|d| writeln!(out, "  {}  {}: {} → {}", d.page, d.field, d.old, d.new))
            })
        };
        written.map_err(|source| AppError::Io {
            what: "cannot write to stdout".into(),
            source,
        })?;
    }
    Ok(if differs { Exit::SnapshotDiffers } else { Exit::Ok })
}

fn read_snapshot(dir: &Path, id: &str) -> Result<Snapshot, SnapshotError> {
    let path = dir.join(snapshot::EXPECTED);
    let bytes = std::fs::read(&path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => SnapshotError::Missing {
            source_id: id.to_owned(),
            path: path.clone(),
        },
        _ => SnapshotError::Read {
            path: path.clone(),
            source,
        },
    })?;
    serde_json::from_slice(&bytes).map_err(|source| SnapshotError::Format { path, source })
}

/// `expected` with every page's findings replaced by what the current rules find in its file.
fn extract_again(source: &Source, expected: &Snapshot, dir: &Path) -> Result<Snapshot, SnapshotError> {
    let read = |name: &str| {
        if !snapshot::is_safe_name(name) {
            return Err(SnapshotError::UnsafeName {
                path: dir.join(snapshot::EXPECTED),
                name: name.to_owned(),
            });
        }
        let path = dir.join(name);
        std::fs::read_to_string(&path).map_err(|source| SnapshotError::Read { path, source })
    };
    let mut now = expected.clone();
    for page in &mut now.listing {
        page.found = listing_fields(source, &page.final_url, &read(&page.file)?);
    }
    for article in &mut now.articles {
        let listed = ListedLink {
            url: article.url.clone(),
            title: article.link_title.clone(),
            date_text: article.link_date.clone(),
            feed: None,
        };
        let text = read(&article.file)?;
        article.found = article_found(source, &listed, &article.final_url, text, article.first_seen);
    }
    Ok(now)
}

/// What a run finds on a listing page: its article links (canonical, each once) and the next page.
fn listing_fields(source: &Source, final_url: &Url, text: &str) -> ListingFields {
    let listing = extract::list::parse(text, final_url, &source.listing);
    let mut links: Vec<String> = Vec::new();
    for link in listing.links {
        let url = normalize::url::canonical(&link.url).to_string();
        if !links.contains(&url) {
            links.push(url);
        }
    }
    ListingFields {
        links,
        next: listing.next.map(|n| n.to_string()),
    }
}

fn article_found(
    source: &Source,
    listed: &ListedLink,
    final_url: &Url,
    text: String,
    first_seen: DateTime<Utc>,
) -> Extracted {
    match pipeline::extract_article(source, listed, final_url, text, first_seen) {
        Ok(item) => Extracted::Fields(Fields::of(&item)),
        Err(e) => Extracted::Error(e),
    }
}
