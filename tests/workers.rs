//! Several workers on one PostgreSQL state (a real server, `common/pg.rs`), as users run them: the real binary,
//! local sites on 127.0.0.1 whose listings answer slowly (so runs overlap). Two `watch`es run every source once
//! per period and never one source twice at once; a `watch` killed with SIGKILL mid-run leaves its source to the
//! other, which finishes it once the lease is over; two `run`s at once share the sources. What ran is read from
//! the run records. Workers that finish together deliver each notification once (a webhook that answers slowly,
//! so their drains overlap), and a worker killed mid-delivery leaves the target to the next.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use wiremock::MockServer;

use common::{news_site, pg, slow_hook};

/// A config on the PostgreSQL database `db` with one source per site (`s0`, `s1`, …), each on `schedule`.
fn config(dir: &Path, db: &str, sites: &[&MockServer], schedule: &str, lease: &str) -> std::path::PathBuf {
    config_notifying(dir, db, sites, schedule, lease, None)
}

/// [`config`], with every event sent to the webhook `hook` when there is one.
fn config_notifying(
    dir: &Path,
    db: &str,
    sites: &[&MockServer],
    schedule: &str,
    lease: &str,
    hook: Option<&str>,
) -> std::path::PathBuf {
    let mut text = format!(
        "[settings]\noutput_dir = \"feeds\"\nstate = \"{db}\"\n{schedule}\nlease = \"{lease}\"\nmax_running = 8\n"
    );
    if let Some(hook) = hook {
        text.push_str(&format!("\n[[notify]]\nwebhook = \"{hook}\"\n"));
    }
    for (n, site) in sites.iter().enumerate() {
        text.push_str(&format!(
            r##"
[[source]]
id = "s{n}"
title = "Source {n}"
url = "{}/news/"
timezone = "UTC"

[source.listing]
links = "h4 > a"

[source.article]
title = "h1"
date = "p.date"
content = "#Content"
"##,
            site.uri()
        ));
    }
    let path = dir.join("feedwright.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn feedwright(config: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("feedwright"));
    cmd.arg("--config")
        .arg(config)
        .args(args)
        .env_remove("FEEDWRIGHT_STATE")
        .env("FEEDWRIGHT_LOG", "feedwright=info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// A fresh database with feedwright's tables, so the tests can read them before a worker has run.
async fn migrated_database() -> String {
    let db = pg::database();
    let url = db.clone();
    tokio::task::spawn_blocking(move || pg::store(&url)).await.unwrap();
    db
}

/// A process of the test's, killed when the test ends while it still runs (a failed assertion included).
struct Running(Option<Child>);

impl Running {
    fn spawn(mut cmd: Command) -> Running {
        Running(Some(cmd.spawn().unwrap()))
    }

    fn child(&mut self) -> &mut Child {
        self.0.as_mut().unwrap()
    }

    fn wait_with_output(mut self) -> Output {
        self.0.take().unwrap().wait_with_output().unwrap()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn signal(child: &mut Running, name: &str) {
    let child = child.child();
    let status = Command::new("kill")
        .args([format!("-{name}"), child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Polls `done` every 100 ms for at most 90 s (a bound against hanging, not a timing assertion).
async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every run record: source → (start in ms since the epoch, duration in ms), oldest first.
fn runs(db: &str) -> BTreeMap<String, Vec<(i64, i64)>> {
    let text = pg::scalar(
        db,
        "SELECT string_agg(source || ' ' || started || ' ' || duration_ms, ',' ORDER BY id) FROM runs",
    );
    let mut out: BTreeMap<String, Vec<(i64, i64)>> = BTreeMap::new();
    for run in text.split(',').filter(|r| !r.is_empty()) {
        let mut parts = run.split(' ');
        let (source, started, duration) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
        let started = chrono::DateTime::parse_from_rfc3339(started)
            .unwrap()
            .timestamp_millis();
        out.entry(source.to_owned())
            .or_default()
            .push((started, duration.parse().unwrap()));
    }
    for starts in out.values_mut() {
        starts.sort();
    }
    out
}

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

/// The lines of `stdout` that report a run of `source` (a summary line starts with the id).
fn summaries(stdout: &str, source: &str) -> usize {
    stdout
        .lines()
        .filter(|l| l.split_whitespace().next() == Some(source) && !l.contains(" skipped "))
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn two_watches_run_every_source_once_per_period_and_never_twice_at_once() {
    let mut sites = Vec::new();
    for _ in 0..3 {
        sites.push(news_site(Duration::from_millis(1500)).await);
    }
    let db = migrated_database().await;
    let dir = tempfile::tempdir().unwrap();
    // Every 6 s: a period is 6000 ms, and jitter moves a run by at most a tenth of it.
    let config = config(
        dir.path(),
        &db,
        &sites.iter().collect::<Vec<_>>(),
        "cron = \"*/6 * * * * *\"",
        "2s",
    );
    let period = 6000;
    // Start just after a period begins, so the first run (at start-up) is not squeezed against the next one.
    while chrono::Utc::now().timestamp_millis() % period > 300 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut workers: Vec<Running> = (0..2)
        .map(|_| Running::spawn(feedwright(&config, &["watch"])))
        .collect();
    eventually("five runs of every source", || {
        let runs = runs(&db);
        runs.len() == 3 && runs.values().all(|r| r.len() >= 5)
    })
    .await;
    for worker in &mut workers {
        signal(worker, "TERM");
    }
    let outputs: Vec<Output> = workers.into_iter().map(|w| w.wait_with_output()).collect();
    for out in &outputs {
        assert!(out.status.success(), "{}", text(&out.stderr));
    }

    let runs = runs(&db);
    for (source, starts) in &runs {
        for pair in starts.windows(2) {
            let ((a, a_took), (b, _)) = (pair[0], pair[1]);
            // Run records keep whole seconds: a second of slack either way.
            assert!(b >= a + a_took - 1000, "{source}: two runs at once: {starts:?}");
            assert!(b - a > period / 2, "{source}: run twice in one period: {starts:?}");
            assert!(b - a < period * 3 / 2, "{source}: a period without a run: {starts:?}");
        }
        let by_worker: Vec<usize> = outputs.iter().map(|o| summaries(&text(&o.stdout), source)).collect();
        eprintln!("{source}: {} runs, by worker {by_worker:?}", starts.len());
        let printed: usize = by_worker.iter().sum();
        assert_eq!(printed, starts.len(), "{source}: each run reported once, by its worker");
    }
    let done = pg::scalar(
        &db,
        "SELECT count(*)::text FROM claims WHERE holder IS NULL AND done IS NOT NULL",
    );
    assert_eq!(done, "3", "every claim released after the workers stopped");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_watch_killed_mid_run_leaves_its_source_to_another_that_finishes_it() {
    let site = news_site(Duration::from_secs(3)).await;
    let db = migrated_database().await;
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &db, &[&site], "every = \"1h\"", "1s");

    let mut first = Running::spawn(feedwright(&config, &["watch"]));
    let pid = format!(":{}:", first.child().id());
    let holder = || {
        pg::scalar(
            &db,
            "SELECT coalesce((SELECT holder FROM claims WHERE source = 's0'), '')",
        )
    };
    eventually("the first worker to claim the source", || holder().contains(&pid)).await;
    let listing_asked = async || {
        site.received_requests()
            .await
            .unwrap()
            .iter()
            .filter(|r| r.url.path() == "/news/")
            .count()
    };
    while listing_asked().await == 0 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut second = Running::spawn(feedwright(&config, &["watch"]));
    signal(&mut first, "KILL");
    let (killed, killed_at) = (Instant::now(), chrono::Utc::now().timestamp_millis());
    assert!(!first.child().wait().unwrap().success());
    assert!(runs(&db).is_empty(), "the killed run committed nothing");

    eventually("the second worker to finish the source", || !runs(&db).is_empty()).await;
    eprintln!(
        "taken over {} ms after the kill (run records keep whole seconds), finished {:?} after it",
        runs(&db)["s0"][0].0 - killed_at,
        killed.elapsed()
    );
    signal(&mut second, "TERM");
    let out = second.wait_with_output();
    assert!(out.status.success(), "{}", text(&out.stderr));

    let runs = runs(&db);
    assert_eq!(runs["s0"].len(), 1, "one run: nothing lost, nothing twice");
    assert_eq!(summaries(&text(&out.stdout), "s0"), 1, "{}", text(&out.stdout));
    assert_eq!(
        pg::scalar(&db, "SELECT count(*)::text FROM items WHERE source = 's0'"),
        "3"
    );
    let feed = std::fs::read_to_string(dir.path().join("feeds/s0.atom")).unwrap();
    assert!(feed.contains("Story number 3"), "{feed}");
    assert_eq!(holder(), "", "released");
}

#[tokio::test(flavor = "multi_thread")]
async fn two_runs_at_once_share_the_sources() {
    let mut sites = Vec::new();
    for _ in 0..4 {
        sites.push(news_site(Duration::from_secs(3)).await);
    }
    let db = migrated_database().await;
    let dir = tempfile::tempdir().unwrap();
    let config = config(
        dir.path(),
        &db,
        &sites.iter().collect::<Vec<_>>(),
        "every = \"1h\"",
        "2s",
    );

    let runs_now: Vec<Running> = (0..2).map(|_| Running::spawn(feedwright(&config, &["run"]))).collect();
    let outputs: Vec<Output> = runs_now.into_iter().map(|r| r.wait_with_output()).collect();
    for out in &outputs {
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
    let runs = runs(&db);
    let stdout: Vec<String> = outputs.iter().map(|o| text(&o.stdout)).collect();
    for n in 0..4 {
        let source = format!("s{n}");
        assert_eq!(runs[&source].len(), 1, "{source} run once: {stdout:?}");
        let ran: usize = stdout.iter().map(|s| summaries(s, &source)).sum();
        let skipped = stdout
            .iter()
            .flat_map(|s| s.lines())
            .filter(|l| l.starts_with(&format!("{source} ")) && l.contains(" skipped   running elsewhere"))
            .count();
        assert_eq!((ran, skipped), (1, 1), "{stdout:?}");
    }
}

/// What `hook` received: (event kind, source) → how many POSTs, from the request bodies.
async fn posted(hook: &MockServer) -> BTreeMap<(String, String), usize> {
    let mut out = BTreeMap::new();
    for request in hook.received_requests().await.unwrap() {
        let event: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
        let key = (
            event["event"].as_str().unwrap().to_owned(),
            event["source"].as_str().unwrap().to_owned(),
        );
        *out.entry(key).or_default() += 1;
    }
    out
}

fn queued(db: &str) -> String {
    pg::scalar(db, "SELECT count(*)::text FROM outbox")
}

#[tokio::test(flavor = "multi_thread")]
async fn workers_finishing_together_deliver_each_event_once() {
    let mut sites = Vec::new();
    for _ in 0..4 {
        sites.push(news_site(Duration::from_secs(1)).await);
    }
    // Each POST takes longer than the workers' ends lie apart, so their drains overlap.
    let hook = slow_hook(Duration::from_millis(700)).await;
    let db = migrated_database().await;
    let dir = tempfile::tempdir().unwrap();
    let config = config_notifying(
        dir.path(),
        &db,
        &sites.iter().collect::<Vec<_>>(),
        "every = \"1h\"",
        "2s",
        Some(&format!("{}/hook", hook.uri())),
    );

    // A worker per source (as cron jobs would be), so all four finish, and drain the one outbox, together.
    let runs_now: Vec<Running> = (0..4)
        .map(|n| Running::spawn(feedwright(&config, &["run", "--source", &format!("s{n}")])))
        .collect();
    let outputs: Vec<Output> = runs_now.into_iter().map(|r| r.wait_with_output()).collect();
    for (n, out) in outputs.iter().enumerate() {
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert_eq!(summaries(&text(&out.stdout), &format!("s{n}")), 1);
    }
    let runs = runs(&db);
    assert_eq!(runs.len(), 4, "{runs:?}");
    let expected: BTreeMap<(String, String), usize> =
        (0..4).map(|n| (("new_items".to_owned(), format!("s{n}")), 1)).collect();
    assert_eq!(posted(&hook).await, expected, "every event once, none twice");
    assert_eq!(queued(&db), "0", "and none left queued");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_killed_mid_delivery_leaves_the_target_to_the_next() {
    let sites = [news_site(Duration::ZERO).await, news_site(Duration::ZERO).await];
    let hook = slow_hook(Duration::from_secs(3)).await;
    let db = migrated_database().await;
    let dir = tempfile::tempdir().unwrap();
    let config = config_notifying(
        dir.path(),
        &db,
        &sites.iter().collect::<Vec<_>>(),
        "every = \"1h\"",
        "2s",
        Some(&format!("{}/hook", hook.uri())),
    );

    let mut first = Running::spawn(feedwright(&config, &["run"]));
    let mut asked = 0;
    while asked == 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        asked = hook.received_requests().await.unwrap().len();
        assert!(
            first.child().try_wait().unwrap().is_none(),
            "the first worker ended before delivering"
        );
    }
    signal(&mut first, "KILL");
    assert!(!first.child().wait().unwrap().success());
    assert_eq!(queued(&db), "2", "nothing was delivered: both events stay");

    let out = Running::spawn(feedwright(&config, &["run"])).wait_with_output();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let posted = posted(&hook).await;
    assert_eq!(posted.len(), 2, "{posted:?}");
    assert_eq!(
        posted.values().copied().collect::<Vec<_>>().iter().sum::<usize>(),
        3,
        "the event in flight at the kill went out again (at least once), the other once: {posted:?}"
    );
    assert_eq!(queued(&db), "0", "the killed worker's lock held nothing back");
}
