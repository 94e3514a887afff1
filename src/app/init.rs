//! `init URL`: fetch a listing and a few of its articles, detect everything, append a `[[source]]` to the config.
//!
//! The detection and the text written are [`crate::init`]'s; this file fetches, appends and checks. The config
//! file is created when there is none; an existing one only ever gains the new block at its end (its own text is
//! never rewritten), and the result must load: a block that would make the config invalid is not written.

use std::io::Write;
use std::path::Path;

use url::Url;

use super::{AppError, Exit, fetcher, print};
use crate::config;
use crate::extract::{self, ListRules};
use crate::init::{self as propose, Proposal};

/// How many of the listing's articles are read to detect the article fields.
const SAMPLES: usize = 5;

pub(super) async fn init(path: &Path, url: &str, id: Option<&str>) -> Result<Exit, AppError> {
    let url = Url::parse(url)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .ok_or_else(|| AppError::Usage(format!("init needs the listing page's http(s) URL, not \"{url}\"")))?;
    let existing = match std::fs::read_to_string(path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(source) => {
            return Err(config::ConfigError::Read {
                path: path.to_owned(),
                source,
            }
            .into());
        }
    };
    let id = id.map_or_else(|| propose::id_for(&url), str::to_owned);
    if let Some(text) = &existing {
        let config = config::parse(text, path)?;
        if config.source(&id).is_some() {
            return Err(AppError::Usage(format!(
                "{} already has a source \"{id}\": pick another with --id",
                path.display()
            )));
        }
    }
    let bare = propose::bare_config(&url, Some(&id))?;
    let source = &bare.sources[0];
    let fetcher = fetcher(&bare)?
        .for_source(&source.http)
        .map_err(|e| AppError::Fetch(Box::new(e)))?;
    let listing = get(&fetcher, &url).await?;
    let links = extract::list::parse(&listing.text, &listing.url, &ListRules::default()).links;
    let mut articles = Vec::new();
    for link in links.iter().take(SAMPLES) {
        match get(&fetcher, &link.url).await {
            Ok(page) => articles.push(page),
            Err(e) => tracing::warn!(url = %link.url, error = %crate::error_chain(&e), "sample article not read"),
        }
    }
    let mut proposal = propose::propose(&id, &listing, &articles);
    if let Some(feed) = proposal.feeds.first().cloned() {
        let fetched = match get(&fetcher, &feed).await {
            Ok(page) => Some(page),
            Err(e) => {
                tracing::warn!(url = %feed, error = %crate::error_chain(&e), "advertised feed not read");
                None
            }
        };
        proposal = proposal.with_feed(fetched.as_ref());
    }
    let block = proposal.toml();
    let text = match &existing {
        Some(text) if text.ends_with('\n') || text.is_empty() => format!("{text}{block}"),
        Some(text) => format!("{text}\n{block}"),
        None => block.trim_start().to_owned(),
    };
    // The block must leave a valid config, or nothing is written.
    config::parse(&text, path)?;
    write(path, &text, existing.is_some())?;
    report(path, &proposal, articles.len())?;
    Ok(Exit::Ok)
}

async fn get(fetcher: &crate::fetch::Fetcher, url: &Url) -> Result<propose::Fetched, AppError> {
    let page = super::preview::fetch_page(fetcher, url).await?;
    Ok(propose::Fetched {
        url: page.final_url,
        text: page.text,
    })
}

/// Appends (or creates) the config file: the old text is rewritten unchanged followed by the block, through a
/// temporary file renamed into place, so an interrupted `init` leaves the old file whole.
fn write(path: &Path, text: &str, existed: bool) -> Result<(), AppError> {
    let io = |source| AppError::Io {
        what: format!("cannot write the config file {}", path.display()),
        source,
    };
    if !existed && let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    crate::publish::write_atomic(path, text.as_bytes())?;
    Ok(())
}

fn report(path: &Path, proposal: &Proposal, sampled: usize) -> Result<(), AppError> {
    if let Some(feed) = proposal.feed.as_ref().filter(|_| proposal.reads_feed()) {
        print(&format!(
            "Added source \"{}\" to {}, reading the feed {}: the listing showed no article links, and it \
             advertises this feed.",
            proposal.id,
            path.display(),
            feed.url
        ))?;
        print(&format!(
            "Next: feedwright check, then feedwright preview {}",
            proposal.id
        ))?;
        return Ok(());
    }
    print(&format!(
        "Added source \"{}\" to {}: {} article links on the listing, {sampled} articles sampled.",
        proposal.id,
        path.display(),
        proposal.links
    ))?;
    for field in proposal
        .listing
        .iter()
        .map(|f| ("listing", f))
        .chain(proposal.article.iter().map(|f| ("article", f)))
    {
        let (table, f) = field;
        let value = f
            .selector
            .as_deref()
            .map_or_else(|| "(automatic)".to_owned(), |s| format!("\"{s}\""));
        print(&format!("  {table}.{:<8} {value:<40} {}", f.key, f.note))?;
    }
    for (i, feed) in proposal.feeds.iter().enumerate() {
        print(&match i {
            0 => format!(
                "The site advertises a feed: {feed} (a [[source]] reading it instead is in the block, commented out)"
            ),
            _ => format!("It also advertises {feed}"),
        })?;
    }
    print(&format!(
        "Next: feedwright check, then feedwright preview {}",
        proposal.id
    ))?;
    let _ = std::io::stdout().flush();
    Ok(())
}
