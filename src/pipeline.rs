//! One source, one run: the only place that knows the order of the stages.
//!
//! listing pages (conditional GET) → article links → which articles to (re)fetch → article pages → extract →
//! normalize → health verdict → store (one transaction) → render from the store → publish only what changed.
//! A failure anywhere in a source is reported in its [`Report`] and never touches the published files or the
//! stored items; one bad article only costs that article.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use tracing::Instrument;
use url::Url;

use crate::config::{Config, Source};
use crate::error_chain;
use crate::extract;
use crate::fetch::{Fetched, Fetcher, Page};
use crate::health::{self, Observed};
use crate::model::{Alternate, DateSource, Event, FeedMeta, Item, ItemId, ListedLink, SourceId, Validators};
use crate::normalize;
use crate::publish;
use crate::render;
use crate::store::{Changes, FailedLink, Known, ListingStatus, Outcome, RunRecord, Store, StoreError, lock};

/// What a run needs besides the source: built once per command by `app`.
#[derive(Debug, Clone)]
pub struct Context {
    pub fetcher: Fetcher,
    pub store: Arc<Mutex<Store>>,
}

/// The result of one source's run.
#[derive(Debug, Clone)]
pub struct Report {
    pub record: RunRecord,
    /// Feed files whose bytes changed this run.
    pub written: Vec<PathBuf>,
    /// Items in the published feed.
    pub items: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Publish(#[from] publish::PublishError),
}

/// Articles read for one source, before anything is stored: what `run` commits and `preview` prints.
#[derive(Debug, Default)]
pub struct Collected {
    pub links: Vec<ListedLink>,
    pub changes: Changes,
    pub observed: Observed,
    pub listing: Vec<ListingStatus>,
    /// Listing pages that failed; when none succeeded the source failed.
    pub listing_failures: usize,
    pub failed: usize,
    pub requests: usize,
    pub errors: Vec<String>,
    /// Articles not read because the source's time budget ran out (counted in `failed` too). They degrade a run,
    /// never fail it: the next run reads them.
    pub skipped: usize,
}

impl Collected {
    /// The listing's errors: `collect` reads the listing before any article, so they come first in `errors`.
    pub fn listing_errors(&self) -> &[String] {
        &self.errors[..self.listing_failures.min(self.errors.len())]
    }
}

enum Job {
    /// Not stored yet: fetch it.
    New(ListedLink),
    /// Stored: re-check it with a conditional request.
    Recheck(ListedLink, Known),
}

/// An article read and normalized, with what the store needs to find it again.
struct Parsed {
    item: Item,
    validators: Validators,
    listed: ListedLink,
}

enum ArticleResult {
    Parsed(Box<Parsed>),
    NotModified(ItemId),
    /// The listed link and why.
    Unparsable(ListedLink, String),
    Failed(ListedLink, String),
    /// Not read: the source's time budget was used up first.
    Skipped(ListedLink, String),
}

/// How far a run is, for whoever shows it (a progress bar in `app`); the pipeline knows no terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// The listing is read: this many articles will be read.
    Planned(usize),
    /// One more of them was read, or failed.
    Read,
}

/// A progress callback that ignores everything.
pub fn no_progress(_: Progress) {}

/// Fetches the listing and the articles that need reading, and normalizes them. Reads the store, never writes.
/// Its log lines name no source: run it in [`source_span`].
pub async fn collect(ctx: &Context, source: &Source, now: DateTime<Utc>) -> Result<Collected, StoreError> {
    collect_reporting(ctx, source, now, &no_progress).await
}

/// [`collect`], telling `progress` how far it is.
async fn collect_reporting(
    ctx: &Context,
    source: &Source,
    now: DateTime<Utc>,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Collected, StoreError> {
    let known = lock(&ctx.store).known_links(&source.id)?;
    // Links that failed before are not news either: a listing page of only those should not lead to the next page.
    let failed_before = lock(&ctx.store).failed_links(&source.id)?;
    // robots.txt read by an earlier run within its lifetime is not asked for again.
    let max_age = chrono::Duration::from_std(crate::fetch::robots::MAX_AGE).expect("a day fits");
    for robots in lock(&ctx.store).robots(now - max_age)? {
        let age = (now - robots.fetched).to_std().unwrap_or_default();
        ctx.fetcher.remember_robots(&robots.host, robots.body.as_deref(), age);
    }
    let mut out = Collected::default();
    let mut seen = HashSet::new();
    let deadline = tokio::time::Instant::now() + source.budget;
    let fetcher = match ctx.fetcher.for_source(&source.http) {
        Ok(fetcher) => fetcher.with_budget(deadline, source.budget),
        Err(e) => {
            out.listing_failures += 1;
            out.errors.push(error_chain(&e));
            return Ok(out);
        }
    };

    let mut visited = HashSet::new();
    for start in &source.urls {
        let mut next = Some(start.clone());
        let mut page_number = 0;
        while let Some(url) = next.take() {
            if page_number == source.max_pages || !visited.insert(url.clone()) {
                break;
            }
            page_number += 1;
            let validators = lock(&ctx.store).validators(&url)?;
            out.requests += 1;
            match fetcher.get(&url, validators.as_ref()).await {
                Ok(Fetched::NotModified) => {
                    tracing::debug!(url = %url, "listing not modified");
                    out.listing.push(ListingStatus {
                        url: url.to_string(),
                        status: Some(304),
                    });
                }
                Ok(Fetched::Page(page)) => {
                    out.listing.push(ListingStatus {
                        url: url.to_string(),
                        status: Some(page.status),
                    });
                    out.observed.listing_parsed = true;
                    let listing = extract::list::parse(&page.text, &page.final_url, &source.listing);
                    let mut unknown = 0;
                    for link in listing.links {
                        let key = normalize::url::canonical(&link.url);
                        if seen.insert(key.clone()) {
                            unknown += usize::from(
                                !known.contains_key(key.as_str()) && !failed_before.contains_key(key.as_str()),
                            );
                            out.links.push(ListedLink { url: key, ..link });
                        }
                    }
                    tracing::info!(url = %page.final_url, encoding = page.encoding, bytes = page.bytes, links = out.links.len(), unknown, "listing parsed");
                    out.changes.validators.push((url, page.validators));
                    // A page that brings nothing new means the rest are older still: a routine run reads one page.
                    if unknown > 0 {
                        next = match &source.pages {
                            Some(pages) => pages.url(page_number + 1),
                            None => listing.next.filter(|n| *n != page.final_url),
                        };
                    }
                }
                // A numbered page past the last one is the end of the listing, not a failure.
                Err(crate::fetch::FetchError::Status { status: 404, .. })
                    if page_number > 1 && source.pages.is_some() =>
                {
                    tracing::debug!(url = %url, "no such listing page; the listing ends here");
                }
                Err(e) => {
                    let status = match &e {
                        crate::fetch::FetchError::Status { status, .. } => Some(*status),
                        _ => None,
                    };
                    out.listing.push(ListingStatus {
                        url: url.to_string(),
                        status,
                    });
                    out.listing_failures += 1;
                    out.errors.push(error_chain(&e));
                }
            }
        }
    }
    out.observed.links = out.links.len();

    let jobs = plan(source, &known, &failed_before, &out.links, now);
    progress(Progress::Planned(jobs.len()));
    let mut results = futures_util::stream::iter(jobs)
        .map(|job| read_article(ctx, &fetcher, source, job, now))
        .buffered(source.http.limits.concurrency.max(1));
    let mut listed_ids = HashSet::new();
    while let Some((requests, result)) = results.next().await {
        progress(Progress::Read);
        out.requests += requests;
        match result {
            ArticleResult::Parsed(parsed) => {
                let Parsed {
                    item,
                    validators,
                    listed,
                } = *parsed;
                out.observed.parsed += 1;
                out.observed.with_body += 1;
                out.observed.with_date += usize::from(item.date_source == DateSource::Page);
                listed_ids.insert(item.id.clone());
                out.changes.links.push((listed.url.clone(), item.id.clone()));
                if !validators.is_empty() {
                    out.changes.validators.push((listed.url.clone(), validators));
                }
                out.changes.items.push(item);
            }
            ArticleResult::NotModified(id) => {
                listed_ids.insert(id.clone());
                out.changes.checked.push(id);
            }
            ArticleResult::Unparsable(link, e) => {
                if !known.contains_key(link.url.as_str()) {
                    out.changes.failed.push((link, e.clone()));
                }
                out.observed.parsed += 1;
                out.failed += 1;
                out.errors.push(e);
            }
            ArticleResult::Failed(link, e) => {
                if !known.contains_key(link.url.as_str()) {
                    out.changes.failed.push((link, e.clone()));
                }
                out.failed += 1;
                out.errors.push(e);
            }
            ArticleResult::Skipped(link, e) => {
                if !known.contains_key(link.url.as_str()) {
                    out.changes.skipped.push(link);
                }
                out.failed += 1;
                out.skipped += 1;
                out.errors.push(e);
            }
        }
    }
    // Known articles still on the listing but not re-checked: they were seen.
    for link in &out.links {
        if let Some(k) = known.get(link.url.as_str())
            && !listed_ids.contains(&k.item_id)
        {
            out.changes.seen.push(k.item_id.clone());
        }
    }
    Ok(out)
}

/// Decides which articles to read: every new link; the newest `refresh.newest` known ones still listed (the
/// listing changed, so they may have been edited); any known one not checked for `refresh.every`; and links that
/// failed or were skipped before, once their backoff is over, whether or not the listing was read this run.
fn plan(
    source: &Source,
    known: &HashMap<String, Known>,
    failed: &HashMap<String, FailedLink>,
    links: &[ListedLink],
    now: DateTime<Utc>,
) -> Vec<Job> {
    let mut jobs = Vec::new();
    let mut rechecks = 0;
    for link in links {
        match known.get(link.url.as_str()) {
            None if failed.get(link.url.as_str()).is_some_and(|f| !f.due(now)) => {}
            None => jobs.push(Job::New(link.clone())),
            Some(k) => {
                let due = source.refresh.every.is_some_and(|every| {
                    now.signed_duration_since(k.last_checked)
                        .to_std()
                        .is_ok_and(|age| age >= every)
                });
                if rechecks < source.refresh.newest || due {
                    rechecks += 1;
                    jobs.push(Job::Recheck(link.clone(), k.clone()));
                }
            }
        }
    }
    // Not on the listing this run (it answered 304, or its page was not read): retried from memory.
    let listed: HashSet<&str> = links.iter().map(|l| l.url.as_str()).collect();
    let mut retries: Vec<&FailedLink> = failed
        .iter()
        .filter(|(url, f)| !listed.contains(url.as_str()) && f.due(now))
        .map(|(_, f)| f)
        .collect();
    retries.sort_by(|a, b| a.link.url.cmp(&b.link.url));
    jobs.extend(retries.into_iter().map(|f| Job::New(f.link.clone())));
    jobs
}

/// Reads one article; returns the number of requests made and what came of it.
async fn read_article(
    ctx: &Context,
    fetcher: &Fetcher,
    source: &Source,
    job: Job,
    now: DateTime<Utc>,
) -> (usize, ArticleResult) {
    let (listed, validators, first_seen, known_id) = match job {
        Job::New(link) => (link, None, now, None),
        Job::Recheck(link, known) => match lock(&ctx.store).validators(&link.url) {
            Ok(v) => (link, v, known.first_seen, Some(known.item_id)),
            Err(e) => return (0, ArticleResult::Failed(link, error_chain(&e))),
        },
    };
    match fetcher.get(&listed.url, validators.as_ref()).await {
        Ok(Fetched::NotModified) => match known_id {
            Some(id) => (1, ArticleResult::NotModified(id)),
            None => (
                1,
                ArticleResult::Failed(
                    listed.clone(),
                    format!("GET {} answered 304 to an unconditional request", listed.url),
                ),
            ),
        },
        Ok(Fetched::Page(page)) => (1, parse_article(source, &listed, page, first_seen)),
        Err(e @ crate::fetch::FetchError::Budget { .. }) => {
            tracing::warn!(error = %error_chain(&e), "article skipped");
            (0, ArticleResult::Skipped(listed, error_chain(&e)))
        }
        Err(e) => {
            tracing::warn!(error = %error_chain(&e), "article failed");
            (1, ArticleResult::Failed(listed, error_chain(&e)))
        }
    }
}

fn parse_article(source: &Source, listed: &ListedLink, page: Page, first_seen: DateTime<Utc>) -> ArticleResult {
    // A bug in a parser must cost one article, not the run: the other sources and articles go on.
    let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let raw = extract::article::parse(&page.text, &page.final_url, &source.article);
        normalize::item(&raw, listed, &source.normalize, first_seen)
    }));
    let Ok(parsed) = parsed else {
        let error = format!(
            "article {} could not be parsed (a feedwright bug: please report it)",
            listed.url
        );
        tracing::error!(error = %error, "parser panicked");
        return ArticleResult::Unparsable(listed.clone(), error);
    };
    match parsed {
        Ok(item) => ArticleResult::Parsed(Box::new(Parsed {
            item,
            validators: page.validators,
            listed: listed.clone(),
        })),
        Err(e) => {
            tracing::warn!(error = %e, "article unparsable");
            ArticleResult::Unparsable(listed.clone(), error_chain(&e))
        }
    }
}

/// Runs one source end to end and publishes its feeds when they changed.
pub async fn run(ctx: &Context, config: &Config, source: &Source, now: DateTime<Utc>) -> Result<Report, PipelineError> {
    run_reporting(ctx, config, source, now, &no_progress).await
}

/// [`run`], telling `progress` how far it is.
pub async fn run_reporting(
    ctx: &Context,
    config: &Config,
    source: &Source,
    now: DateTime<Utc>,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Report, PipelineError> {
    run_source(ctx, config, source, now, progress)
        .instrument(source_span(&source.id))
        .await
}

/// The span every log line about `id` is in, so each names the source (`source{source=ID}: ...`), the fetcher's
/// and the normalizer's lines included. Error level, so it is enabled whenever any line is: at the default
/// (warn) level an info span is filtered out and its lines would lose the source.
pub fn source_span(id: &SourceId) -> tracing::Span {
    tracing::error_span!("source", source = %id)
}

async fn run_source(
    ctx: &Context,
    config: &Config,
    source: &Source,
    now: DateTime<Utc>,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Report, PipelineError> {
    let clock = Instant::now();
    let collected = collect_reporting(ctx, source, now, progress).await?;
    lock(&ctx.store).save_robots(&ctx.fetcher.take_fetched_robots(), now)?;
    let recent = lock(&ctx.store).recent_runs(&source.id, 10)?;

    let listing_ok = collected.listing.len() > collected.listing_failures;
    let reason = if !listing_ok {
        Some(format!(
            "no listing page could be read: {}",
            collected.errors.first().map_or("", String::as_str)
        ))
    } else {
        health::broken(&collected.observed, &recent).or_else(|| {
            let failed = collected.failed - collected.skipped;
            let tried = collected.changes.items.len() + failed;
            // One dead link among few is that article's problem; several with nothing read is the source's.
            (collected.changes.items.is_empty() && failed >= 3 && collected.changes.checked.is_empty())
                .then(|| format!("all {tried} articles read this run failed"))
        })
    };
    let outcome = match (&reason, collected.failed + collected.listing_failures) {
        (Some(_), _) => Outcome::Failed,
        (None, 0) => Outcome::Ok,
        (None, _) => Outcome::Degraded,
    };
    let mut record = RunRecord {
        source: source.id.clone(),
        started: now,
        duration: clock.elapsed(),
        outcome,
        reason: reason
            .clone()
            .or_else(|| (outcome == Outcome::Degraded).then(|| degraded_reason(&collected))),
        links: collected.links.len(),
        new: 0,
        updated: 0,
        failed: collected.failed,
        fetched: collected.observed.parsed,
        with_date: collected.observed.with_date,
        with_body: collected.observed.with_body,
        requests: collected.requests,
        listing: collected.listing,
        errors: collected.errors,
    };

    let was_broken = recent.first().is_some_and(|r| r.outcome == Outcome::Failed);
    let event = match (&reason, was_broken) {
        (Some(reason), false) => Some(Event::Broken {
            source: source.id.clone(),
            reason: reason.clone(),
        }),
        (None, true) => Some(Event::Recovered {
            source: source.id.clone(),
        }),
        _ => None,
    };
    let notify: Vec<String> = config.notify.iter().map(|n| n.key()).collect();

    if let Some(reason) = &reason {
        tracing::error!(reason = %reason, "source failed; the published feed is kept");
        record.duration = clock.elapsed();
        lock(&ctx.store).record_run(&record, event.as_slice(), &notify, now)?;
        let items = lock(&ctx.store).item_counts(&source.id, now)?.0.min(source.max_items);
        return Ok(Report {
            record,
            written: Vec::new(),
            items,
        });
    }

    let mut changes = collected.changes;
    changes.events.extend(event);
    changes.notify = notify;
    let items = {
        let mut store = lock(&ctx.store);
        store.commit(&changes, &mut record, now)?;
        store.feed_items(&source.id, source.max_items)?
    };
    let mut written = Vec::new();
    if !items.is_empty() {
        let meta = feed_meta(config, source, &items, now);
        for &format in &config.settings.formats {
            let path = config.settings.feed_path(&source.id, format);
            if publish::write_atomic(&path, render::render(format, &meta, &items).as_bytes())? {
                written.push(path);
            }
        }
    }
    record.duration = clock.elapsed();
    tracing::info!(
        links = record.links,
        new = record.new,
        updated = record.updated,
        failed = record.failed,
        written = written.len(),
        "source done"
    );
    Ok(Report {
        record,
        written,
        items: items.len(),
    })
}

fn degraded_reason(collected: &Collected) -> String {
    match collected.skipped {
        0 => format!("{} articles failed", collected.failed),
        skipped => format!(
            "{} articles failed, {skipped} of them skipped when the time budget ran out",
            collected.failed
        ),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn source(refresh: &str) -> Source {
        let text = format!(
            "[[source]]\nid = \"s\"\ntitle = \"S\"\nurl = \"https://e.org/news/\"\n{refresh}\n[source.listing]\nlinks = \"a\"\n[source.article]\ntitle = \"h1\"\ncontent = \"p\"\n"
        );
        crate::config::parse(&text, std::path::Path::new("t.toml"))
            .unwrap()
            .sources
            .remove(0)
    }

    fn link(n: u32) -> ListedLink {
        ListedLink {
            url: Url::parse(&format!("https://e.org/{n}.htm")).unwrap(),
            title: None,
            date_text: None,
        }
    }

    fn known(n: u32, checked: &str) -> (String, Known) {
        let at = DateTime::parse_from_rfc3339(checked).unwrap().to_utc();
        let id = ItemId::from_canonical(&link(n).url);
        (
            link(n).url.to_string(),
            Known {
                item_id: id,
                first_seen: at,
                last_checked: at,
            },
        )
    }

    fn planned(jobs: &[Job]) -> Vec<String> {
        jobs.iter()
            .map(|j| match j {
                Job::New(l) => format!("new {}", l.url.path()),
                Job::Recheck(l, _) => format!("recheck {}", l.url.path()),
            })
            .collect()
    }

    #[test]
    fn new_links_are_fetched_and_known_ones_rechecked_by_default() {
        let known: HashMap<_, _> = [known(2, "2026-01-01T00:00:00Z")].into();
        let jobs = plan(
            &source(""),
            &known,
            &HashMap::new(),
            &[link(1), link(2)],
            "2026-01-01T01:00:00Z".parse().unwrap(),
        );
        assert_eq!(planned(&jobs), ["new /1.htm", "recheck /2.htm"]);
    }

    #[test]
    fn refresh_newest_limits_rechecks_and_every_forces_old_ones() {
        let links = [link(1), link(2), link(3), link(4)];
        let known: HashMap<_, _> = [
            known(2, "2026-01-01T00:00:00Z"),
            known(3, "2026-01-01T00:00:00Z"),
            known(4, "2025-12-31T00:00:00Z"),
        ]
        .into();
        let now = "2026-01-01T12:00:00Z".parse().unwrap();
        let jobs = plan(
            &source("[source.refresh]\nnewest = 1"),
            &known,
            &HashMap::new(),
            &links,
            now,
        );
        assert_eq!(planned(&jobs), ["new /1.htm", "recheck /2.htm"]);
        let jobs = plan(
            &source("[source.refresh]\nnewest = 1\nevery = \"1d\""),
            &known,
            &HashMap::new(),
            &links,
            now,
        );
        assert_eq!(
            planned(&jobs),
            ["new /1.htm", "recheck /2.htm", "recheck /4.htm"],
            "/4 was last checked 36 h ago"
        );
    }

    #[test]
    fn failed_links_wait_out_their_backoff_and_come_back_even_when_unlisted() {
        let failed = |n: u32, at: &str, attempts: u32| {
            let f = FailedLink {
                link: link(n),
                last_failed: at.parse().unwrap(),
                attempts,
            };
            (link(n).url.to_string(), f)
        };
        let now: DateTime<Utc> = "2026-01-01T12:00:00Z".parse().unwrap();
        let failed: HashMap<_, _> = [
            failed(1, "2026-01-01T11:55:00Z", 1),  // failed 5 minutes ago: waits
            failed(2, "2026-01-01T11:00:00Z", 1),  // an hour ago: due
            failed(3, "2026-01-01T11:59:00Z", 0),  // skipped by the budget: due at once
            failed(4, "2026-01-01T11:30:00Z", 3),  // third failure half an hour ago: waits (60 min after the third)
            failed(5, "2025-01-01T00:00:00Z", 12), // given up
        ]
        .into();
        let listed = [link(1), link(2)];
        let jobs = plan(&source(""), &HashMap::new(), &failed, &listed, now);
        assert_eq!(planned(&jobs), ["new /2.htm", "new /3.htm"]);
        let jobs = plan(&source(""), &HashMap::new(), &failed, &[], now);
        assert_eq!(
            planned(&jobs),
            ["new /2.htm", "new /3.htm"],
            "a 304 listing still retries what is due"
        );
    }
}
