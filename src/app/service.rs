//! The long-running commands: `watch` (the scheduler, with `--serve`) and `serve`, their signal handling and
//! config reloads, and the WebSub hub pings that `run` shares.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::worker::Worker;
use super::{
    AppError, Exit, clock, configure_hosts, fetcher, notify, now, publish_merges, remove_stale_temp_files, state_after,
    summary,
};
use crate::cli::ListenAddr;
use crate::config::Config;
use crate::error_chain;
use crate::fetch::Fetcher;
use crate::pipeline::{self, Context};
use crate::publish;
use crate::scheduler;
use crate::store::{Claim, Outcome, StateLock, Store};

/// A pinger for the configured hub, or `None` when there is no hub (or no client could be built, which is logged:
/// pings never fail a run).
pub(super) fn pinger(config: &Config) -> Option<publish::websub::Pinger> {
    config.settings.hub.as_ref()?;
    let s = &config.settings;
    publish::websub::Pinger::new(&s.user_agent, s.timeout)
        .map_err(|e| tracing::error!(error = %error_chain(&e), "cannot build the WebSub client; no hub pings"))
        .ok()
}

/// Tells the hub about each feed file in `written`; failures are logged, never returned.
pub(super) async fn ping_hub(config: &Config, pinger: &Option<publish::websub::Pinger>, written: &[PathBuf]) {
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
pub(super) fn random_unit() -> f64 {
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

/// Resolves `addr` and binds the first of its addresses that works, IPv4 first (so `localhost:8080` is where the
/// default `127.0.0.1:8080` and `feed_base_url` are).
async fn bind(addr: &ListenAddr) -> Result<tokio::net::TcpListener, AppError> {
    let io = |source| AppError::Io {
        what: format!("cannot listen on {addr}"),
        source,
    };
    let mut candidates: Vec<std::net::SocketAddr> = tokio::net::lookup_host((addr.host.as_str(), addr.port))
        .await
        .map_err(io)?
        .collect();
    candidates.sort_by_key(std::net::SocketAddr::is_ipv6);
    let mut last = std::io::Error::new(std::io::ErrorKind::NotFound, "the host name has no address");
    for candidate in candidates {
        match tokio::net::TcpListener::bind(candidate).await {
            Ok(listener) => return Ok(listener),
            Err(e) => last = e,
        }
    }
    Err(io(last))
}

/// Binds `addr` and serves `site` until the returned sender fires (or is dropped).
async fn start_server(
    addr: &ListenAddr,
    site: Arc<crate::serve::Site>,
    quiet: bool,
) -> Result<
    (
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<std::io::Result<()>>,
    ),
    AppError,
> {
    let listener = bind(addr).await?;
    let bound = listener.local_addr().map_err(|source| AppError::Io {
        what: format!("cannot listen on {addr}"),
        source,
    })?;
    if !quiet {
        crate::term::out::eline(&format!("serving feeds on http://{bound}/"));
    }
    tracing::info!(addr = %bound, "serving feeds");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(crate::serve::serve(listener, site, async {
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
pub(super) async fn serve(path: &Path, addr: &ListenAddr, quiet: bool) -> Result<Exit, AppError> {
    let config = Config::load(path)?;
    let mut signals = Signals::new()?;
    let site = crate::serve::Site::new(Arc::new(config.clone()), None, now);
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
    live: crate::serve::Live,
    pinger: Option<publish::websub::Pinger>,
    quiet: bool,
    worker: Arc<Worker>,
}

/// A plan for `config`, using `client` (kept across reloads, so the per-host limits and the robots.txt cache hold
/// for runs of the old and the new config alike).
fn watch_plan(
    config: Config,
    client: Fetcher,
    store: &Arc<Mutex<Store>>,
    live: &crate::serve::Live,
    quiet: bool,
    worker: &Arc<Worker>,
) -> Result<scheduler::Plan<Watched>, AppError> {
    let mut jobs = Vec::new();
    {
        let store = store.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for source in &config.sources {
            jobs.push(scheduler::Job {
                id: source.id.clone(),
                schedule: source.schedule.clone(),
                phase: scheduler::phase(&source.id),
                last: store.recent_runs(&source.id, 1)?.first().map(|r| r.started),
            });
        }
    }
    Ok(scheduler::Plan {
        max_running: config.settings.max_running,
        backoff_max: config.settings.backoff_max,
        timetable: live.timetable.clone(),
        context: Arc::new(Watched {
            ctx: Context {
                fetcher: client,
                store: store.clone(),
            },
            pinger: pinger(&config),
            live: live.clone(),
            config,
            quiet,
            worker: worker.clone(),
        }),
        jobs,
    })
}

/// Claims a due run of `source` for this worker; the verdict to give the scheduler when it is not ours to run.
///
/// Which run is due is its time on the timetable (a running source keeps the time it was due). Workers sharing a
/// state plan the same runs, give or take their jitter ([`scheduler::spread`]): another worker's run that started
/// at most that long before this one was due is this run, already done.
async fn claim(w: &Watched, source: &crate::config::Source) -> Option<scheduler::Verdict> {
    let due = w.live.timetable.next(&source.id).unwrap_or_else(now);
    let spread = scheduler::spread(scheduler::period(&source.schedule, due));
    let since = due - chrono::Duration::from_std(spread).unwrap_or(chrono::Duration::zero());
    match w.worker.claim(source, since).await {
        Ok(Claim::Granted { .. }) => None,
        Ok(Claim::Done { started }) => {
            tracing::info!(source = %source.id, started = %started, "already run by another worker");
            Some(scheduler::Verdict::Elsewhere { started })
        }
        Ok(Claim::Held { until }) => Some(scheduler::Verdict::Deferred { until }),
        Err(e) => {
            tracing::error!(source = %source.id, error = %error_chain(&e), "cannot claim the source");
            Some(scheduler::Verdict::Failure)
        }
    }
}

/// One scheduled run of one source on a task of its own, so runs of different sources use every core. The task is
/// aborted when the scheduler drops the run (its shutdown grace is over), as the run itself would have been.
async fn watch_run(w: Arc<Watched>, id: crate::model::SourceId) -> scheduler::Verdict {
    struct AbortOnDrop(tokio::task::JoinHandle<scheduler::Verdict>);
    impl Drop for AbortOnDrop {
        fn drop(&mut self) {
            self.0.abort();
        }
    }
    let mut task = AbortOnDrop(tokio::spawn(watch_run_here(w, id)));
    match (&mut task.0).await {
        Ok(verdict) => verdict,
        // The scheduler counts a panicking run as a failure and logs it.
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => scheduler::Verdict::Failure,
    }
}

/// One scheduled run of one source: its claim, the pipeline, then counters, merged feeds, the OPML list and hub
/// pings.
async fn watch_run_here(w: Arc<Watched>, id: crate::model::SourceId) -> scheduler::Verdict {
    let Some(source) = w.config.source(id.as_str()) else {
        return scheduler::Verdict::Failure;
    };
    if let Some(verdict) = claim(&w, source).await {
        return verdict;
    }
    let started = now();
    let result = pipeline::run(&w.ctx, &w.config, source, started).await;
    // A run whose store write failed is not done: another worker (or the next run here) tries it.
    w.worker.release(&id, result.is_ok()).await;
    match result {
        Ok(report) => {
            let merged: Vec<PathBuf> = publish_merges(&w.config, &w.ctx, &[&source.id], started)
                .await
                .into_iter()
                .flat_map(|m| m.written)
                .collect();
            ping_hub(&w.config, &w.pinger, &merged).await;
            w.live.metrics.record(&report.record);
            if !w.quiet {
                // The scheduler decides the next run after this returns, so the summary cannot tell it yet.
                let _ = crate::term::out::line(&summary(&report, &state_after(&w.ctx, source, &report).await));
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
pub(super) async fn watch(path: &Path, serve: Option<&ListenAddr>, quiet: bool) -> Result<Exit, AppError> {
    let config = Config::load(path)?;
    let mut signals = Signals::new()?;
    crate::config::check_paths(&config)?;
    super::check_writable(&config)?;
    let _lock = StateLock::acquire(&config.settings.state, config.settings.lock_timeout).await?;
    let store = Arc::new(Mutex::new(Store::open(&config.settings.state)?));
    remove_stale_temp_files(&config);
    let worker = Worker::new(store.clone(), config.settings.lease, clock, random_unit());
    let renewer = tokio::spawn(worker.clone().renew());
    tracing::info!(worker = %worker.id, "worker started");
    let live = crate::serve::Live::default();
    publish::opml::write(&config)?;
    let site = crate::serve::Site::new(Arc::new(config.clone()), Some(live.clone()), now);
    let server = match serve {
        Some(addr) => Some(start_server(addr, site.clone(), quiet).await?),
        None => None,
    };
    let mut client = fetcher(&config)?;
    let plan = watch_plan(config.clone(), client.clone(), &store, &live, quiet, &worker)?;
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
                    if new.settings.fetch_options() != running.settings.fetch_options() {
                        // New timeouts or a new user agent need a new client; its host limits start afresh.
                        match fetcher(&new) {
                            Ok(fresh) => client = fresh,
                            Err(e) => {
                                tracing::error!(error = %error_chain(&e), "config reload failed; the old config keeps running");
                                continue;
                            }
                        }
                    }
                    configure_hosts(&client, &new);
                    match watch_plan(new.clone(), client.clone(), &store, &live, quiet, &worker) {
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
    renewer.abort();
    stop_server(server).await?;
    Ok(Exit::Ok)
}
