//! Wires a command together: loads the config, builds the HTTP client and the store once, runs the pipeline for
//! each source and turns the outcome into output and an exit code. The only place that reads the clock.

mod init;
mod preview;
mod service;
mod snapshot;
mod worker;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, SubsecRound, Utc};

use crate::cli::{Cli, Command};
use crate::config::{Config, ConfigError, Source, check_paths};
use crate::demo;
use crate::error_chain;
use crate::fetch::Fetcher;
use crate::pipeline::{self, Context, Report};
use crate::publish;
use crate::status::{self, Facts, Health, SourceState};
use crate::store::{Claim, LockError, Outcome, StateLock, Store, StoreError};
use crate::term::{self, out};
use service::{ping_hub, pinger, serve, watch};
use worker::Worker;

/// Process exit codes, as documented in `--help`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Ok = 0,
    Failure = 1,
    Usage = 2,
    Config = 3,
    SourcesFailed = 4,
    /// `test`: a snapshot and the current config disagree.
    SnapshotDiffers = 5,
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot build the HTTP client")]
    Client(#[source] reqwest::Error),
    #[error(transparent)]
    Pipeline(#[from] pipeline::PipelineError),
    #[error(transparent)]
    Demo(#[from] demo::DemoError),
    #[error("{what}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Publish(#[from] publish::PublishError),
    #[error(transparent)]
    Snapshot(#[from] crate::snapshot::SnapshotError),
    /// A page a command needs (`preview --article`, `init`) could not be fetched.
    #[error(transparent)]
    Fetch(Box<crate::fetch::FetchError>),
    #[error("the {what} {} cannot be written", path.display())]
    Unwritable {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl AppError {
    pub fn exit(&self) -> Exit {
        match self {
            Self::Config(_) | Self::Unwritable { .. } => Exit::Config,
            Self::Usage(_) => Exit::Usage,
            _ => Exit::Failure,
        }
    }
}

/// The clock, to whole seconds: every format can carry that exactly (RSS dates have no fractions), so a
/// first-seen date reads the same in all three feeds.
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(0)
}

/// The clock to the millisecond, for claims and their leases (compared across workers, and seconds long in tests).
fn clock() -> DateTime<Utc> {
    Utc::now()
}

pub async fn main(cli: Cli) -> Result<Exit, AppError> {
    match &cli.command {
        Command::Check => check(&cli.config),
        Command::Run { sources, refetch } => {
            let config = Config::load(&cli.config)?;
            let selected = select(&config, sources)?;
            check_paths(&config)?;
            check_writable(&config)?;
            let _lock = StateLock::acquire(&config.settings.state, config.settings.lock_timeout).await?;
            let store = Store::open(&config.settings.state)?;
            remove_stale_temp_files(&config);
            let options = pipeline::Options { refetch: *refetch };
            let exit = run_with(&config, &selected, store, cli.quiet, options).await?;
            publish::opml::write(&config)?;
            Ok(exit)
        }
        Command::Demo { out, latency, .. } => demo(out, *latency, cli.quiet).await,
        Command::Preview {
            target,
            format,
            article,
            json,
            explain,
        } => {
            let ask = preview::Ask {
                format: *format,
                article: *article,
                json: *json,
                explain: *explain,
            };
            preview::preview(&cli.config, target, ask).await
        }
        Command::Init { url, id } => init::init(&cli.config, url, id.as_deref()).await,
        Command::Snapshot { source } => snapshot::snapshot(&cli.config, source),
        Command::Test { sources } => snapshot::test(&cli.config, sources),
        Command::Status { json } => status(&cli.config, *json),
        Command::Watch { serve } => watch(&cli.config, serve.as_ref(), cli.quiet).await,
        Command::Serve { addr } => serve(&cli.config, addr, cli.quiet).await,
    }
}

fn check(path: &Path) -> Result<Exit, AppError> {
    let config = Config::load(path)?;
    check_paths(&config)?;
    check_writable(&config)?;
    let mut line = format!(
        "{}: ok, {} sources ({})",
        path.display(),
        config.sources.len(),
        ids(&config.sources)
    );
    if !config.merges.is_empty() {
        let merges: Vec<&str> = config.merges.iter().map(|m| m.id.as_str()).collect();
        line.push_str(&format!(
            ", {} ({})",
            status::count(merges.len(), "merged feed", "merged feeds"),
            merges.join(", ")
        ));
    }
    print(&line)?;
    Ok(Exit::Ok)
}

/// Removes the temporary files that runs killed while publishing left in the output folder. Only while holding the
/// state lock: then no writer of this config's files is alive. A shared (PostgreSQL) state has no such lock, and
/// another worker may be publishing into the same folder: its temporary files stay. A failure is logged; it never
/// fails the run.
fn remove_stale_temp_files(config: &Config) {
    if config.settings.state.file().is_none() {
        return;
    }
    let names = publish::file_names(config);
    for result in publish::remove_stale_temp_files(&config.settings.output_dir, &names) {
        match result {
            Ok(path) => tracing::info!(path = %path.display(), "removed a temporary file left by an interrupted run"),
            Err(e) => tracing::warn!(error = %error_chain(&e), "stale temporary file kept"),
        }
    }
}

/// One line on stdout (above any progress bars); a closed pipe is fine, any other failure is not.
fn print(line: &str) -> Result<(), AppError> {
    out::line(line).map_err(stdout_error)
}

fn stdout_error(source: std::io::Error) -> AppError {
    AppError::Io {
        what: "cannot write to stdout".into(),
        source,
    }
}

/// Whether `run` will be able to write the feeds and the state, so `check` can say so and `run` can stop before
/// fetching anything. Creates no folder (`run` creates the missing ones): the nearest folder that exists must be
/// a directory, and a probe file is created in it and removed, which permission bits, read-only mounts and a
/// file in the way all answer. An existing state file must open for writing.
fn check_writable(config: &Config) -> Result<(), AppError> {
    writable_dir("output folder", &config.settings.output_dir)?;
    // A database is checked by opening it, which `run` does before it fetches.
    let Some(state) = config.settings.state.file() else {
        return Ok(());
    };
    writable_dir("state folder", state.parent().unwrap_or(Path::new("")))?;
    if std::fs::metadata(state).is_ok_and(|m| m.is_file()) {
        std::fs::OpenOptions::new()
            .write(true)
            .open(state)
            .map_err(|source| AppError::Unwritable {
                what: "state file",
                path: state.to_owned(),
                source,
            })?;
    }
    Ok(())
}

fn writable_dir(what: &'static str, dir: &Path) -> Result<(), AppError> {
    let fail = |source| AppError::Unwritable {
        what,
        path: dir.to_owned(),
        source,
    };
    let mut existing = dir;
    loop {
        let at = if existing.as_os_str().is_empty() {
            Path::new(".")
        } else {
            existing
        };
        match std::fs::metadata(at) {
            Ok(meta) if meta.is_dir() => {
                let probe = at.join(format!(".feedwright-check-{}", std::process::id()));
                std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&probe)
                    .map_err(fail)?;
                let _ = std::fs::remove_file(&probe);
                return Ok(());
            }
            Ok(_) if at == dir => return Err(fail(std::io::Error::other("it is a file, not a folder"))),
            Ok(_) => {
                return Err(fail(std::io::Error::other(format!(
                    "{} is a file, not a folder",
                    at.display()
                ))));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => match existing.parent() {
                Some(parent) => existing = parent,
                None => return Err(fail(e)),
            },
            Err(e) => return Err(fail(e)),
        }
    }
}

fn ids(sources: &[Source]) -> String {
    sources.iter().map(|s| s.id.as_str()).collect::<Vec<_>>().join(", ")
}

fn select(config: &Config, ids: &[String]) -> Result<Vec<Source>, AppError> {
    if ids.is_empty() {
        return Ok(config.sources.clone());
    }
    ids.iter()
        .map(|id| {
            config.source(id).cloned().ok_or_else(|| {
                AppError::Usage(format!(
                    "no source \"{id}\" in {} (have: {})",
                    config.path.display(),
                    self::ids(&config.sources)
                ))
            })
        })
        .collect()
}

/// One client for the whole command, so sources on one host share its per-host limits and robots.txt.
fn fetcher(config: &Config) -> Result<Fetcher, AppError> {
    let fetcher = Fetcher::new(config.settings.fetch_options(), now).map_err(AppError::Client)?;
    configure_hosts(&fetcher, config);
    Ok(fetcher)
}

/// Gives each source's listing hosts its per-host limits (the strictest win where sources share a host).
fn configure_hosts(fetcher: &Fetcher, config: &Config) {
    for source in &config.sources {
        for url in &source.urls {
            fetcher.configure_host(url, source.http.limits);
        }
    }
}

/// Runs `sources`, at most `max_running` at once, each on a task of its own (so parsing, store work and I/O of
/// different sources use every core), and prints one line per source: as each finishes, above the progress bars
/// of those still running, on a terminal; otherwise all at the end, in config order. A source waiting for its
/// turn holds nothing but its config: what a run keeps in memory (its articles until its commit, its connections)
/// is bounded by the sources in flight, not by how many there are.
async fn run(config: &Config, sources: &[Source], store: Store, quiet: bool) -> Result<Exit, AppError> {
    run_with(config, sources, store, quiet, pipeline::Options::default()).await
}

async fn run_with(
    config: &Config,
    sources: &[Source],
    store: Store,
    quiet: bool,
    options: pipeline::Options,
) -> Result<Exit, AppError> {
    let ctx = Context {
        fetcher: fetcher(config)?,
        store: Arc::new(Mutex::new(store)),
    };
    let started = now();
    // To the millisecond: a `run` right after another (in the same second) runs again; `started` is whole seconds.
    let asked = clock();
    let worker = Worker::new(ctx.store.clone(), config.settings.lease, clock, service::random_unit());
    let renewer = tokio::spawn(worker.clone().renew());
    // Only for a person watching: never in cron mail, pipes or logs (see `term::wants_bars`).
    let terminal = term::get();
    let shared = Arc::new(config.clone());
    let slots = Arc::new(tokio::sync::Semaphore::new(config.settings.max_running.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for (n, source) in sources.iter().enumerate() {
        let (ctx, config, slots, source, worker) = (
            ctx.clone(),
            Arc::clone(&shared),
            Arc::clone(&slots),
            source.clone(),
            worker.clone(),
        );
        tasks.spawn(async move {
            let _slot = slots.acquire_owned().await.expect("the semaphore is never closed");
            // Another `run` or `watch` on a shared state may be running this source, or have run it since this
            // run started: then it is theirs.
            match worker.claim(&source, asked).await {
                Ok(Claim::Granted { .. }) => {}
                Ok(other) => return (n, Ran::Elsewhere(other)),
                Err(e) => return (n, Ran::Here(Err(e.into()))),
            }
            let bar = terminal.source_bar(source.id.as_str());
            let progress = |step| match (&bar, step) {
                (Some(bar), pipeline::Progress::Planned(n)) => bar.planned(n),
                (Some(bar), pipeline::Progress::Read) => bar.advance(),
                (None, _) => {}
            };
            let report = pipeline::run_with(&ctx, &config, &source, started, options, &progress).await;
            worker.release(&source.id, report.is_ok()).await;
            if let Some(bar) = bar {
                bar.finish();
                if let Ok(report) = &report {
                    let _ = out::line(&summary(report, &state_after(&ctx, &source, report).await));
                }
            }
            (n, Ran::Here(report))
        });
    }
    let mut results: Vec<Option<Ran>> = sources.iter().map(|_| None).collect();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((n, ran)) => results[n] = Some(ran),
            // A bug in feedwright: it costs that source (exit 1, below), not the others.
            Err(e) => tracing::error!(error = %e, "a source's run panicked"),
        }
    }
    renewer.abort();
    notify(config, &ctx).await;

    let ran: Vec<&crate::model::SourceId> = sources
        .iter()
        .zip(&results)
        .filter(|(_, r)| matches!(r, Some(Ran::Here(Ok(_)))))
        .map(|(s, _)| &s.id)
        .collect();
    let merged = publish_merges(config, &ctx, &ran, started).await;
    let mut changed: Vec<PathBuf> = merged.iter().flat_map(|m| m.written.iter().cloned()).collect();
    let mut exit = if merged.iter().all(|m| m.ok) {
        Exit::Ok
    } else {
        Exit::SourcesFailed
    };
    for (source, ran) in sources.iter().zip(results) {
        let result = match ran {
            Some(Ran::Here(result)) => Some(result),
            // Not a failure (exit 0): the source is run, elsewhere.
            Some(Ran::Elsewhere(claim)) => {
                tracing::info!(source = %source.id, ?claim, "not run here: another worker has it");
                if !quiet {
                    let _ = out::line(&elsewhere(source, claim));
                }
                continue;
            }
            None => None,
        };
        // Warnings and errors were logged as they happened; stdout gets one line per source.
        match result {
            Some(Ok(report)) => {
                changed.extend(report.written.iter().cloned());
                if report.record.outcome == Outcome::Failed && exit == Exit::Ok {
                    exit = Exit::SourcesFailed;
                }
                if !quiet && !terminal.bars() {
                    let _ = out::line(&summary(&report, &state_after(&ctx, source, &report).await));
                }
            }
            // The state database failed, not the site: that is exit 1, as documented. (A feed file that cannot be
            // written is that source's failure, in its report: exit 4.)
            Some(Err(e)) => {
                exit = Exit::Failure;
                tracing::error!(source = %source.id, error = %error_chain(&e), "source failed");
            }
            None => {
                exit = Exit::Failure;
                tracing::error!(source = %source.id, "source failed: its run panicked");
            }
        }
    }
    if !quiet {
        for m in &merged {
            let _ = out::line(&merge_summary(&ctx, config, m, started));
        }
    }
    ping_hub(config, &pinger(config), &changed).await;
    Ok(exit)
}

/// What publishing one merged feed did.
struct MergeDone<'a> {
    merge: &'a crate::config::Merge,
    written: Vec<PathBuf>,
    items: usize,
    /// Whether every file could be written (and the store read).
    ok: bool,
}

/// One line per merged feed, like a source's: its state (its sources'), items and files written.
fn merge_summary(ctx: &Context, config: &Config, done: &MergeDone<'_>, now: DateTime<Utc>) -> String {
    let store = crate::store::lock(&ctx.store);
    let state = config
        .sources
        .iter()
        .filter(|s| done.merge.sources.contains(&s.id))
        .map(|s| status::read(&store, s, now, None))
        .collect::<Result<Vec<_>, StoreError>>()
        .and_then(|members| status::read_merge(&store, done.merge, &members, now));
    let (word, headline) = match &state {
        Ok(s) => (s.health.as_str(), (s.health != Health::Ok).then(|| s.headline())),
        Err(e) => ("unknown", Some(error_chain(e))),
    };
    let sources: Vec<&str> = done.merge.sources.iter().map(|s| s.as_str()).collect();
    let mut line = format!(
        "{:<16} {:<9} merge of {}  items {:>3}  files written {}",
        done.merge.id.as_str(),
        word,
        sources.join(", "),
        done.items,
        done.written.len()
    );
    if let Some(headline) = headline {
        line.push_str(&format!("\n  {headline}"));
    }
    line
}

/// Publishes every merge that one of `ran` is a source of, from the store (once each, after its sources ran);
/// a failure is logged here.
async fn publish_merges<'a>(
    config: &'a Config,
    ctx: &Context,
    ran: &[&crate::model::SourceId],
    now: DateTime<Utc>,
) -> Vec<MergeDone<'a>> {
    let mut out = Vec::new();
    for merge in config
        .merges
        .iter()
        .filter(|m| m.sources.iter().any(|s| ran.contains(&s)))
    {
        out.push(match pipeline::publish_merge(&ctx.store, config, merge, now).await {
            Ok((published, items)) => {
                tracing::info!(merge = %merge.id, items, written = published.written.len(), "merged feed done");
                MergeDone {
                    merge,
                    ok: published.unwritten.is_empty(),
                    written: published.written,
                    items,
                }
            }
            Err(e) => {
                tracing::error!(merge = %merge.id, error = %error_chain(&e), "merged feed not published");
                MergeDone {
                    merge,
                    written: Vec::new(),
                    items: 0,
                    ok: false,
                }
            }
        });
    }
    out
}

/// How a source of `run` went: run here, or left to the worker that holds or ran it.
#[expect(
    clippy::large_enum_variant,
    reason = "one per source of a run, and nearly always `Here`"
)]
enum Ran {
    Here(Result<Report, pipeline::PipelineError>),
    Elsewhere(Claim),
}

/// The line `run` prints for a source another worker has.
fn elsewhere(source: &Source, claim: Claim) -> String {
    let why = match claim {
        Claim::Done { started } => format!("already run by another worker since this run started (at {started})"),
        _ => "running elsewhere (another worker holds it)".to_owned(),
    };
    format!("{:<16} skipped   {why}", source.id.as_str())
}

/// Drains the outbox; a notifier that fails is logged and keeps its events, and never changes the exit code.
async fn notify(config: &Config, ctx: &Context) {
    if config.notify.is_empty() {
        return;
    }
    let client = reqwest::Client::builder()
        .user_agent(config.settings.user_agent.clone())
        .timeout(std::time::Duration::from_secs(10))
        .build();
    let result = match client {
        Ok(client) => crate::notify::deliver(&config.notify, &client, &ctx.store)
            .await
            .map_err(|e| error_chain(&e)),
        Err(e) => Err(error_chain(&e)),
    };
    match result {
        Ok(n) => tracing::info!(delivered = n, "notifications sent"),
        Err(e) => tracing::warn!(error = %e, "notifications not sent; kept for the next run"),
    }
}

/// The state `source` is in after `report`'s run, as `status` would show it (the run alone, if the store cannot say).
/// Read on a blocking thread, as a run's store calls are: other sources may be running.
async fn state_after(ctx: &Context, source: &Source, report: &Report) -> SourceState {
    let (read_source, started) = (source.clone(), report.record.started);
    let read = pipeline::on_store(&ctx.store, move |store| {
        status::read(store, &read_source, started, None)
    })
    .await;
    read.unwrap_or_else(|e| {
        tracing::warn!(source = %source.id, error = %error_chain(&e), "cannot read the source's state back");
        SourceState::new(
            source.id.clone(),
            &Facts {
                last: Some(&report.record),
                items_in_feed: report.items,
                ..Facts::default()
            },
        )
    })
}

/// How many failed articles a summary lists before it points to `status`.
const SUMMARY_ARTICLES: usize = 5;

/// One line per run, in the words of `status`; a source that is not ok gets its reason, its failed articles and
/// what the word means on the lines below.
fn summary(report: &Report, state: &SourceState) -> String {
    let r = &report.record;
    let mut out = format!(
        "{:<16} {:<9} links {:>3}  new {:>3}  updated {:>3}  failed {:>3}  items {:>3}  requests {:>3}  files written {}  {:.2}s",
        r.source.as_str(),
        state.health.as_str(),
        r.links,
        r.new,
        r.updated,
        r.failed,
        state.items_in_feed,
        r.requests,
        report.written.len(),
        r.duration.as_secs_f64()
    );
    if state.health == Health::Ok {
        return out;
    }
    out.push_str(&format!("\n  {}", state.headline()));
    for f in state.failed_articles.iter().take(SUMMARY_ARTICLES) {
        out.push_str(&format!("\n    {}  (attempt {}) {}", f.url, f.attempts, f.error));
    }
    if state.failed_articles.len() > SUMMARY_ARTICLES {
        out.push_str(&format!(
            "\n    and {} more: `feedwright status` lists them all",
            state.failed_articles.len() - SUMMARY_ARTICLES
        ));
    }
    out.push_str(&format!("\n  ({} means: {})", state.health, state.health.meaning()));
    out
}

async fn demo(out: &Path, latency: std::time::Duration, quiet: bool) -> Result<Exit, AppError> {
    let config = demo::start_with(out, latency).await?;
    if !quiet {
        for source in &config.sources {
            print(&format!(
                "serving the bundled site for {} at {}",
                source.id, source.urls[0]
            ))?;
        }
    }
    // A fresh memory each time, so every demo shows a first run (new items, and the traps below).
    let exit = run(&config, &config.sources, Store::in_memory()?, quiet).await?;
    if !quiet {
        print("published:")?;
        for feed in config.feeds() {
            for format in &config.settings.formats {
                let path = config.settings.feed_path(feed.id(), *format);
                if path.exists() {
                    print(&format!("  {}", path.display()))?;
                }
            }
        }
        print(DEMO_NOTES)?;
    }
    Ok(exit)
}

/// What the demo's output means, and what to do next.
const DEMO_NOTES: &str = "
The \"article failed ... returned HTTP 404\" warnings and the \"degraded\" lines are deliberate traps: the
bundled sites link articles that are missing, as real sites do. Each costs only that article; the feeds are
published all the same.

Next:
  - open a feed above in a feed reader
  - for a site of your own, see what it extracts with nothing configured: feedwright preview URL
  - then let feedwright init URL write its [[source]] (see \"Config reference\" in the README), and check
    it, without writing anything: feedwright preview ID";

fn status(path: &Path, json: bool) -> Result<Exit, AppError> {
    let config = Config::load(path)?;
    let state = config.settings.state.clone();
    let Some(store) = Store::open_read_only(&state)? else {
        out::eline(&format!("no state at {state} yet: run `feedwright run` first"));
        return Ok(Exit::Ok);
    };
    let now = now();
    let states = status::read_all(&store, &config, now, |_| None)?;
    let mut out = out::stdout();
    let io = stdout_error;
    if json {
        serde_json::to_writer_pretty(&mut out, &states).map_err(|e| io(e.into()))?;
        writeln!(out).map_err(io)?;
    } else {
        write_status_table(&mut out, &states).map_err(io)?;
    }
    out.flush().map_err(io)?;
    Ok(if states.iter().any(|s| s.health == Health::Broken) {
        Exit::SourcesFailed
    } else {
        Exit::Ok
    })
}

/// The `status` table: one row per feed (each source, then each merge), then the failed articles of each, then
/// what the words shown mean.
fn write_status_table(out: &mut impl Write, states: &[SourceState]) -> std::io::Result<()> {
    let time = |t: Option<DateTime<Utc>>| t.map_or("never".to_owned(), |t| t.format("%Y-%m-%d %H:%M:%SZ").to_string());
    writeln!(
        out,
        "{:<16} {:<9} {:<21} {:<21} {:>5} {:>7} {:>6} {:>11}  REASON",
        "SOURCE", "HEALTH", "LAST RUN", "LAST SUCCESS", "ITEMS", "NEW 24H", "FAILED", "FAILED RUNS"
    )?;
    for s in states {
        writeln!(
            out,
            "{:<16} {:<9} {:<21} {:<21} {:>5} {:>7} {:>6} {:>11}  {}",
            s.source.as_str(),
            s.health.as_str(),
            time(s.last_run),
            time(s.last_success),
            s.items_in_feed,
            s.new_last_24h,
            s.failed_articles.len(),
            s.consecutive_failures,
            s.reason.as_deref().unwrap_or("-")
        )?;
    }
    for s in states.iter().filter(|s| !s.failed_articles.is_empty()) {
        writeln!(
            out,
            "\n{}: failed articles (not in the feed yet, retried later)",
            s.source
        )?;
        for f in &s.failed_articles {
            writeln!(
                out,
                "  {}  last tried {}, attempt {}: {}",
                f.url,
                time(Some(f.last_failed)),
                f.attempts,
                f.error
            )?;
        }
    }
    let mut shown: Vec<Health> = states.iter().map(|s| s.health).filter(|h| *h != Health::Ok).collect();
    shown.sort();
    shown.dedup();
    if !shown.is_empty() {
        writeln!(out)?;
    }
    for health in shown {
        writeln!(out, "{health}: {}", health.meaning())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finished_source_is_summarized_in_one_line() {
        let report = Report {
            record: crate::store::RunRecord {
                duration: std::time::Duration::from_millis(2490),
                outcome: Outcome::Degraded,
                links: 14,
                new: 12,
                failed: 2,
                fetched: 14,
                with_date: 12,
                with_body: 12,
                requests: 16,
                ..crate::store::RunRecord::new(
                    crate::model::SourceId::parse("wic-news").unwrap(),
                    "2026-01-01T00:00:00Z".parse().unwrap(),
                )
            },
            written: vec!["a".into(), "b".into(), "c".into()],
            items: 12,
        };
        let state = SourceState::new(
            report.record.source.clone(),
            &Facts {
                last: Some(&report.record),
                items_in_feed: report.items,
                ..Facts::default()
            },
        );
        assert_eq!(
            summary(&report, &state).lines().next().unwrap(),
            "wic-news         degraded  links  14  new  12  updated   0  failed   2  items  12  requests  16  files written 3  2.49s"
        );
    }
}
