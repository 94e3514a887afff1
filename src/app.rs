//! Wires a command together: loads the config, builds the HTTP client and the store once, runs the pipeline for
//! each source and turns the outcome into output and an exit code. The only place that reads the clock.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, SubsecRound, Utc};

use crate::cli::{Cli, Command};
use crate::config::{Config, ConfigError, Source};
use crate::demo;
use crate::fetch::Fetcher;
use crate::pipeline::{self, Context, Report, error_chain};
use crate::publish;
use crate::render::{self, Format};
use crate::scheduler;
use crate::store::{LockError, Outcome, StateLock, Store, StoreError};

/// Process exit codes, as documented in `--help`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Ok = 0,
    Failure = 1,
    Usage = 2,
    Config = 3,
    SourcesFailed = 4,
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
}

impl AppError {
    pub fn exit(&self) -> Exit {
        match self {
            Self::Config(_) => Exit::Config,
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

pub async fn main(cli: Cli) -> Result<Exit, AppError> {
    match &cli.command {
        Command::Check => check(&cli.config),
        Command::Run { sources } => {
            let config = Config::load(&cli.config)?;
            let selected = select(&config, sources)?;
            let _lock = StateLock::acquire(&config.settings.state, config.settings.lock_timeout).await?;
            let store = Store::open(&config.settings.state)?;
            let exit = run(&config, &selected, store, cli.quiet).await?;
            publish::opml::write(&config)?;
            Ok(exit)
        }
        Command::Demo { out } => demo(out, cli.quiet).await,
        Command::Preview { source, format } => preview(&cli.config, source, *format).await,
        Command::Status { json } => status(&cli.config, *json),
        Command::Watch { serve } => watch(&cli.config, *serve, cli.quiet).await,
        Command::Serve { addr } => serve(&cli.config, *addr, cli.quiet).await,
    }
}

fn check(path: &Path) -> Result<Exit, AppError> {
    let config = Config::load(path)?;
    println!(
        "{}: ok, {} sources ({})",
        path.display(),
        config.sources.len(),
        ids(&config.sources)
    );
    Ok(Exit::Ok)
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
    for source in &config.sources {
        for url in &source.urls {
            fetcher.configure_host(url, source.http.limits);
        }
    }
    Ok(fetcher)
}

/// Runs `sources` at once (they are usually on different hosts) and prints one line per source.
async fn run(config: &Config, sources: &[Source], store: Store, quiet: bool) -> Result<Exit, AppError> {
    let ctx = Context {
        fetcher: fetcher(config)?,
        store: Arc::new(Mutex::new(store)),
    };
    let started = now();
    // Only for a person watching: never in cron mail, pipes or logs.
    let progress = (!quiet && std::io::stdout().is_terminal() && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(sources.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {pos}/{len} sources {wide_msg}")
                .expect("valid template"),
        );
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        bar
    });
    let runs = sources.iter().map(|source| {
        let (ctx, progress) = (&ctx, &progress);
        async move {
            let report = pipeline::run(ctx, config, source, started).await;
            if let Some(bar) = progress {
                bar.inc(1);
                bar.set_message(source.id.to_string());
            }
            (source, report)
        }
    });
    let results = futures_util::future::join_all(runs).await;
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    notify(config, &ctx).await;

    let mut exit = Exit::Ok;
    let mut changed = Vec::new();
    let mut out = std::io::stdout().lock();
    for (source, result) in results {
        // Warnings and errors were logged as they happened; stdout gets one line per source.
        match result {
            Ok(report) => {
                changed.extend(report.written.iter().cloned());
                if report.record.outcome == Outcome::Failed {
                    exit = Exit::SourcesFailed;
                }
                if !quiet {
                    let _ = writeln!(out, "{}", summary(&report));
                }
            }
            Err(e) => {
                exit = Exit::SourcesFailed;
                tracing::error!(source = %source.id, error = %error_chain(&e), "source failed");
            }
        }
    }
    drop(out);
    ping_hub(config, &pinger(config), &changed).await;
    Ok(exit)
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

fn summary(report: &Report) -> String {
    let r = &report.record;
    format!(
        "{:<16} {:<8} links {:>3}  new {:>3}  updated {:>3}  failed {:>3}  items {:>3}  requests {:>3}  files written {}  {:.2}s",
        r.source.as_str(),
        r.outcome.as_str(),
        r.links,
        r.new,
        r.updated,
        r.failed,
        report.items,
        r.requests,
        report.written.len(),
        r.duration.as_secs_f64()
    )
}

async fn demo(out: &Path, quiet: bool) -> Result<Exit, AppError> {
    let config = demo::start(out).await?;
    if !quiet {
        for source in &config.sources {
            println!("serving the bundled site for {} at {}", source.id, source.urls[0]);
        }
    }
    // A fresh memory each time: the site's port changes on every demo, and with it every article URL.
    let exit = run(&config, &config.sources, Store::in_memory()?, quiet).await?;
    if !quiet {
        println!("published:");
        for source in &config.sources {
            for format in &config.settings.formats {
                let path = out.join(format!("{}.{}", source.id, format.ext()));
                if path.exists() {
                    println!("  {}", path.display());
                }
            }
        }
    }
    Ok(exit)
}

async fn preview(path: &Path, id: &str, format: Option<Format>) -> Result<Exit, AppError> {
    let config = Config::load(path)?;
    let source = select(&config, &[id.to_owned()])?.remove(0);
    let ctx = Context {
        fetcher: fetcher(&config)?,
        store: Arc::new(Mutex::new(Store::in_memory()?)),
    };
    let now = now();
    let collected = pipeline::collect(&ctx, &source, source.http.limits.concurrency, now).await?;
    for e in &collected.errors {
        eprintln!("warning: {e}");
    }
    let mut items = collected.changes.items;
    items.sort_by(|a, b| b.published.cmp(&a.published).then_with(|| a.id.cmp(&b.id)));
    items.truncate(source.max_items);
    let mut out = std::io::stdout().lock();
    let written = match format {
        Some(format) => {
            let meta = pipeline::feed_meta(&config, &source, &items, now);
            out.write_all(render::render(format, &meta, &items).as_bytes())
        }
        None => write_preview_table(&mut out, &items, collected.links.len()),
    };
    written.map_err(|source| AppError::Io {
        what: "cannot write to stdout".into(),
        source,
    })?;
    Ok(if items.is_empty() {
        Exit::SourcesFailed
    } else {
        Exit::Ok
    })
}

fn write_preview_table(out: &mut impl Write, items: &[crate::model::Item], links: usize) -> std::io::Result<()> {
    writeln!(out, "{links} links on the listing, {} articles extracted", items.len())?;
    writeln!(
        out,
        "{:<25}  {:<10}  {:>6}  {:<22}  {:<50}  URL",
        "DATE", "DATE FROM", "BODY", "MISSING", "TITLE"
    )?;
    for item in items {
        let missing: Vec<&str> = [
            (item.date_source != crate::model::DateSource::Page, "date"),
            (item.author.is_none(), "author"),
            (item.image.is_none(), "image"),
            (item.image.is_some() && item.image_caption.is_none(), "caption"),
        ]
        .into_iter()
        .filter_map(|(missing, name)| missing.then_some(name))
        .collect();
        let title: String = item.title.chars().take(50).collect();
        writeln!(
            out,
            "{:<25}  {:<10}  {:>6}  {:<22}  {:<50}  {}",
            item.published.to_rfc3339(),
            item.date_source.as_str(),
            item.content_html.len(),
            missing.join(","),
            title,
            item.url
        )?;
    }
    Ok(())
}

#[derive(Debug, serde::Serialize)]
struct SourceStatus {
    source: String,
    health: &'static str,
    last_run: Option<DateTime<Utc>>,
    last_outcome: Option<Outcome>,
    last_success: Option<DateTime<Utc>>,
    items_in_feed: usize,
    new_last_24h: usize,
    consecutive_failures: usize,
    last_error: Option<String>,
}

fn status(path: &Path, json: bool) -> Result<Exit, AppError> {
    let config = Config::load(path)?;
    let state: PathBuf = config.settings.state.clone();
    if !state.exists() {
        eprintln!("no state at {} yet: run `feedwright run` first", state.display());
        return Ok(Exit::Ok);
    }
    let store = Store::open(&state)?;
    let now = now();
    let mut rows = Vec::new();
    for source in &config.sources {
        let runs = store.recent_runs(&source.id, 100)?;
        let (items, new) = store.item_counts(&source.id, now - chrono::Duration::hours(24))?;
        let failures = runs.iter().take_while(|r| r.outcome == Outcome::Failed).count();
        let last = runs.first();
        rows.push(SourceStatus {
            source: source.id.to_string(),
            health: match last.map(|r| r.outcome) {
                None => "unknown",
                Some(Outcome::Failed) => "broken",
                Some(_) => "healthy",
            },
            last_run: last.map(|r| r.started),
            last_outcome: last.map(|r| r.outcome),
            last_success: runs.iter().find(|r| r.outcome != Outcome::Failed).map(|r| r.started),
            items_in_feed: items.min(source.max_items),
            new_last_24h: new,
            consecutive_failures: failures,
            last_error: runs
                .iter()
                .find_map(|r| r.reason.clone().or_else(|| r.errors.first().cloned())),
        });
    }
    let mut out = std::io::stdout().lock();
    let io = |source| AppError::Io {
        what: "cannot write to stdout".into(),
        source,
    };
    if json {
        serde_json::to_writer_pretty(&mut out, &rows).map_err(|e| io(e.into()))?;
        writeln!(out).map_err(io)?;
    } else {
        let time =
            |t: Option<DateTime<Utc>>| t.map_or("never".to_owned(), |t| t.format("%Y-%m-%d %H:%M:%SZ").to_string());
        writeln!(
            out,
            "{:<16} {:<8} {:<21} {:<21} {:>5} {:>7} {:>8}  LAST ERROR",
            "SOURCE", "HEALTH", "LAST RUN", "LAST SUCCESS", "ITEMS", "NEW 24H", "FAILURES"
        )
        .map_err(io)?;
        for r in &rows {
            writeln!(
                out,
                "{:<16} {:<8} {:<21} {:<21} {:>5} {:>7} {:>8}  {}",
                r.source,
                r.health,
                time(r.last_run),
                time(r.last_success),
                r.items_in_feed,
                r.new_last_24h,
                r.consecutive_failures,
                r.last_error.as_deref().unwrap_or("-")
            )
            .map_err(io)?;
        }
    }
    Ok(if rows.iter().any(|r| r.health == "broken") {
        Exit::SourcesFailed
    } else {
        Exit::Ok
    })
}

/// A pinger for the configured hub, or `None` when there is no hub (or no client could be built, which is logged:
/// pings never fail a run).
fn pinger(config: &Config) -> Option<publish::websub::Pinger> {
    config.settings.hub.as_ref()?;
    let s = &config.settings;
    publish::websub::Pinger::new(&s.user_agent, s.timeout)
        .map_err(|e| tracing::error!(error = %error_chain(&e), "cannot build the WebSub client; no hub pings"))
        .ok()
}

/// Tells the hub about each feed file in `written`; failures are logged, never returned.
async fn ping_hub(config: &Config, pinger: &Option<publish::websub::Pinger>, written: &[PathBuf]) {
    let (Some(hub), Some(pinger)) = (&config.settings.hub, pinger) else {
        return;
    };
    let pings = written.iter().filter_map(|path| {
        let name = path.file_name()?.to_str()?;
        let feed = config.settings.feed_base_url.join(name).ok()?;
        Some(async move {
            match pinger.ping(hub, &feed).await {
                Ok(attempts) => tracing::info!(hub = %hub, feed = %feed, attempts, "hub pinged"),
                Err(e) => tracing::warn!(error = %error_chain(&e), "hub ping failed; subscribers will poll"),
            }
        })
    });
    futures_util::future::join_all(pings).await;
}

/// A number in `[0, 1)` for scheduling jitter, from the standard library's per-process random hash keys.
fn random_unit() -> f64 {
    use std::hash::BuildHasher;
    let bits = std::hash::RandomState::new().hash_one(());
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// SIGINT/SIGTERM (stop) and SIGHUP (reload), for `watch` and `serve`.
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

enum Signal {
    Stop,
    Reload,
}

impl Signals {
    fn new() -> Result<Self, AppError> {
        use tokio::signal::unix::{SignalKind, signal};
        let io = |source| AppError::Io {
            what: "cannot install signal handlers".into(),
            source,
        };
        Ok(Signals {
            term: signal(SignalKind::terminate()).map_err(io)?,
            int: signal(SignalKind::interrupt()).map_err(io)?,
            hup: signal(SignalKind::hangup()).map_err(io)?,
        })
    }

    async fn next(&mut self) -> Signal {
        tokio::select! {
            _ = self.term.recv() => Signal::Stop,
            _ = self.int.recv() => Signal::Stop,
            _ = self.hup.recv() => Signal::Reload,
        }
    }
}

/// Re-reads the config at `path` for a reload; an invalid one, or one that moves the state, is reported and `None`.
fn reload_config(path: &Path, running: &Config) -> Option<Config> {
    match Config::load(path) {
        Ok(config) if config.settings.state != running.settings.state => {
            tracing::error!(
                path = %path.display(),
                "config reload refused: `state` changed, which needs a restart; the old config keeps running"
            );
            None
        }
        Ok(config) => {
            tracing::info!(path = %path.display(), sources = config.sources.len(), "config reloaded");
            Some(config)
        }
        Err(e) => {
            tracing::error!(path = %path.display(), error = %error_chain(&e), "config reload failed; the old config keeps running");
            None
        }
    }
}

/// Binds `addr` and serves `site` until the returned sender fires (or is dropped).
async fn start_server(
    addr: std::net::SocketAddr,
    site: Arc<publish::serve::Site>,
    quiet: bool,
) -> Result<
    (
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<std::io::Result<()>>,
    ),
    AppError,
> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| AppError::Io {
            what: format!("cannot listen on {addr}"),
            source,
        })?;
    let bound = listener.local_addr().unwrap_or(addr);
    if !quiet {
        eprintln!("serving feeds on http://{bound}/");
    }
    tracing::info!(addr = %bound, "serving feeds");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(publish::serve::serve(listener, site, async {
        let _ = stopped.await;
    }));
    Ok((stop, server))
}

async fn stop_server(
    server: Option<(
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<std::io::Result<()>>,
    )>,
) -> Result<(), AppError> {
    let Some((stop, handle)) = server else {
        return Ok(());
    };
    let _ = stop.send(());
    match handle.await {
        Ok(result) => result.map_err(|source| AppError::Io {
            what: "the HTTP server failed".into(),
            source,
        }),
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

/// `feedwright serve`: the feeds over HTTP until SIGINT/SIGTERM; SIGHUP re-reads the config.
async fn serve(path: &Path, addr: std::net::SocketAddr, quiet: bool) -> Result<Exit, AppError> {
    let config = Config::load(path)?;
    let mut signals = Signals::new()?;
    let site = publish::serve::Site::new(Arc::new(config.clone()), None);
    let server = start_server(addr, site.clone(), quiet).await?;
    let mut running = config;
    loop {
        match signals.next().await {
            Signal::Stop => break,
            Signal::Reload => {
                if let Some(config) = reload_config(path, &running) {
                    site.set_config(Arc::new(config.clone()));
                    running = config;
                }
            }
        }
    }
    stop_server(Some(server)).await?;
    Ok(Exit::Ok)
}

/// What every scheduled run of `watch` shares; rebuilt on reload.
struct Watched {
    config: Config,
    ctx: Context,
    metrics: Arc<publish::metrics::Metrics>,
    pinger: Option<publish::websub::Pinger>,
    quiet: bool,
}

fn watch_plan(
    config: Config,
    store: &Arc<Mutex<Store>>,
    metrics: &Arc<publish::metrics::Metrics>,
    quiet: bool,
) -> Result<scheduler::Plan<Watched>, AppError> {
    let mut jobs = Vec::new();
    {
        let store = store.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for source in &config.sources {
            jobs.push(scheduler::Job {
                id: source.id.clone(),
                schedule: source.schedule.clone(),
                last: store.recent_runs(&source.id, 1)?.first().map(|r| r.started),
            });
        }
    }
    Ok(scheduler::Plan {
        max_running: config.settings.max_running,
        backoff_max: config.settings.backoff_max,
        context: Arc::new(Watched {
            ctx: Context {
                fetcher: fetcher(&config)?,
                store: store.clone(),
            },
            pinger: pinger(&config),
            metrics: metrics.clone(),
            config,
            quiet,
        }),
        jobs,
    })
}

/// One scheduled run of one source: the pipeline, then counters, the OPML list and hub pings.
async fn watch_run(w: Arc<Watched>, id: crate::model::SourceId) -> scheduler::Verdict {
    let Some(source) = w.config.source(id.as_str()) else {
        return scheduler::Verdict::Failure;
    };
    match pipeline::run(&w.ctx, &w.config, source, now()).await {
        Ok(report) => {
            w.metrics.record(&report.record, report.items);
            if !w.quiet {
                println!("{}", summary(&report));
            }
            if let Err(e) = publish::opml::write(&w.config) {
                tracing::error!(error = %error_chain(&e), "cannot write the OPML list");
            }
            ping_hub(&w.config, &w.pinger, &report.written).await;
            notify(&w.config, &w.ctx).await;
            if report.record.outcome == Outcome::Failed {
                scheduler::Verdict::Failure
            } else {
                scheduler::Verdict::Success
            }
        }
        Err(e) => {
            tracing::error!(source = %id, error = %error_chain(&e), "source failed");
            scheduler::Verdict::Failure
        }
    }
}

/// `feedwright watch`: runs sources on their schedules until SIGINT/SIGTERM, optionally serving the feeds.
async fn watch(path: &Path, serve: Option<std::net::SocketAddr>, quiet: bool) -> Result<Exit, AppError> {
    let config = Config::load(path)?;
    let mut signals = Signals::new()?;
    let _lock = StateLock::acquire(&config.settings.state, config.settings.lock_timeout).await?;
    let store = Arc::new(Mutex::new(Store::open(&config.settings.state)?));
    let metrics = Arc::new(publish::metrics::Metrics::default());
    publish::opml::write(&config)?;
    let site = publish::serve::Site::new(Arc::new(config.clone()), Some(metrics.clone()));
    let server = match serve {
        Some(addr) => Some(start_server(addr, site.clone(), quiet).await?),
        None => None,
    };
    let plan = watch_plan(config.clone(), &store, &metrics, quiet)?;
    tracing::info!(sources = plan.jobs.len(), max_running = plan.max_running, "watching");

    let (control, controlled) = tokio::sync::mpsc::channel(4);
    let relay = async {
        let mut running = config;
        loop {
            match signals.next().await {
                Signal::Stop => {
                    tracing::info!("stopping: no new runs; running ones may finish");
                    let _ = control.send(scheduler::Control::Shutdown).await;
                    return;
                }
                Signal::Reload => {
                    let Some(new) = reload_config(path, &running) else {
                        continue;
                    };
                    match watch_plan(new.clone(), &store, &metrics, quiet) {
                        Ok(plan) => {
                            if let Err(e) = publish::opml::write(&new) {
                                tracing::error!(error = %error_chain(&e), "cannot write the OPML list");
                            }
                            site.set_config(Arc::new(new.clone()));
                            let _ = control.send(scheduler::Control::Reload(plan)).await;
                            running = new;
                        }
                        Err(e) => {
                            tracing::error!(error = %error_chain(&e), "config reload failed; the old config keeps running")
                        }
                    }
                }
            }
        }
    };
    let schedule = scheduler::run(
        plan,
        scheduler::Clock::new(now()),
        random_unit,
        watch_run,
        controlled,
        scheduler::SHUTDOWN_GRACE,
    );
    // The relay ends after sending Shutdown; the scheduler then drains and returns.
    let ((), ()) = tokio::join!(relay, schedule);
    stop_server(server).await?;
    Ok(Exit::Ok)
}
