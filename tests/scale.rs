//! Many sources and many passes, as `run` sees them: the real binary against generated sites on loopback, each on
//! a port of its own, answered by one axum server per site that counts the requests in flight over all of them.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

/// What every generated site shares: requests served and in flight, over all sites.
#[derive(Debug, Default)]
struct Counters {
    requests: AtomicUsize,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

#[derive(Clone)]
struct Site {
    counters: Arc<Counters>,
    /// Articles listed: can grow while the site runs.
    articles: Arc<AtomicUsize>,
    delay: Duration,
}

impl Site {
    fn new(counters: &Arc<Counters>, articles: usize, delay: Duration) -> Site {
        Site {
            counters: Arc::clone(counters),
            articles: Arc::new(AtomicUsize::new(articles)),
            delay,
        }
    }
}

fn listing(articles: usize) -> String {
    let items: String = (1..=articles)
        .map(|n| format!(r#"<li><h4><a href="/news/a{n}.html">Story number {n}</a></h4></li>"#))
        .collect();
    format!("<html><body><ul>{items}</ul></body></html>")
}

fn article(n: usize) -> String {
    format!(
        r#"<html><body><h1>Story number {n}</h1><p class="date">2026-01-{:02} 10:00</p>
<div id="Content"><p>The body of story {n}, with enough words to count as an article body.</p></div></body></html>"#,
        n % 28 + 1
    )
}

/// The number of the article at `path` (`/news/a7.html`), if it is one.
fn article_number(path: &str) -> Option<usize> {
    path.strip_prefix("/news/a")
        .and_then(|p| p.strip_suffix(".html"))
        .and_then(|n| n.parse().ok())
}

async fn answer(State(site): State<Site>, request: Request) -> Response {
    let c = &site.counters;
    c.requests.fetch_add(1, Ordering::SeqCst);
    let now = c.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    c.max_in_flight.fetch_max(now, Ordering::SeqCst);
    tokio::time::sleep(site.delay).await;
    let path = request.uri().path();
    let articles = site.articles.load(Ordering::SeqCst);
    let response = if path == "/news/" {
        Html(listing(articles)).into_response()
    } else if let Some(n) = article_number(path).filter(|n| (1..=articles).contains(n)) {
        Html(article(n)).into_response()
    } else {
        StatusCode::NOT_FOUND.into_response()
    };
    c.in_flight.fetch_sub(1, Ordering::SeqCst);
    response
}

/// Starts one generated site and returns its base URL.
async fn start(site: Site) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(answer).with_state(site);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

fn write_config(dir: &Path, settings: &str, sites: &[String]) -> PathBuf {
    let mut text = format!(
        "[settings]\noutput_dir = \"feeds\"\nstate = \"state/feedwright.sqlite\"\nlock_timeout = \"1s\"\n{settings}\n"
    );
    for (n, site) in sites.iter().enumerate() {
        text.push_str(&format!(
            r##"
[[source]]
id = "site-{n}"
title = "Site {n}"
url = "{site}/news/"
timezone = "UTC"

[source.listing]
links = "h4 > a"

[source.article]
title = "h1"
date = "p.date"
content = "#Content"

[source.http]
concurrency = 1
"##
        ));
    }
    let path = dir.join("feedwright.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn run(config: &Path) -> std::process::Output {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_feedwright"))
        .args(["--config", config.to_str().unwrap(), "run"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "run failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

#[tokio::test(flavor = "multi_thread")]
async fn run_runs_at_most_max_running_sources_at_once_and_all_of_them() {
    let counters = Arc::new(Counters::default());
    let mut sites = Vec::new();
    for _ in 0..6 {
        sites.push(start(Site::new(&counters, 3, Duration::from_millis(40))).await);
    }
    let dir = tempfile::tempdir().unwrap();
    // One request at a time per source (`concurrency = 1`, each on its own host), so requests in flight over all
    // sites are sources running at once.
    let config = write_config(dir.path(), "max_running = 2", &sites);
    let output = tokio::task::spawn_blocking(move || run(&config)).await.unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    for n in 0..6 {
        assert!(stdout.contains(&format!("site-{n} ")), "a line for site-{n}: {stdout}");
        let feed = dir.path().join(format!("feeds/site-{n}.json"));
        let feed: serde_json::Value = serde_json::from_slice(&std::fs::read(&feed).unwrap()).unwrap();
        assert_eq!(feed["items"].as_array().unwrap().len(), 3, "site-{n} is published");
    }
    // robots.txt, the listing and three articles per source.
    assert_eq!(counters.requests.load(Ordering::SeqCst), 6 * 5);
    assert_eq!(
        counters.max_in_flight.load(Ordering::SeqCst),
        2,
        "two sources at a time, never more, and not one after the other"
    );
    // Lines in config order when stdout is no terminal.
    let order: Vec<usize> = (0..6).map(|n| stdout.find(&format!("site-{n} ")).unwrap()).collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "config order: {stdout}");
}

fn modified(path: &Path) -> std::time::SystemTime {
    std::fs::metadata(path).unwrap().modified().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pass_that_changed_nothing_renders_nothing_and_a_change_of_any_feed_input_does() {
    let counters = Arc::new(Counters::default());
    let site = Site::new(&counters, 3, Duration::ZERO);
    let articles = Arc::clone(&site.articles);
    let sites = [start(site).await];
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "", &sites);
    let atom = dir.path().join("feeds/site-0.atom");
    let json = dir.path().join("feeds/site-0.json");
    let run = |config: &Path| {
        let config = config.to_owned();
        async move { tokio::task::spawn_blocking(move || run(&config)).await.unwrap() }
    };
    run(&config).await;
    let written = std::fs::read_to_string(&atom).unwrap();
    assert!(written.contains("Story number 3"));

    // A file changed behind feedwright's back stays as it is: nothing was rendered to notice.
    let marked = written.replace("<title>Site 0</title>", "<title>Edited by hand</title>");
    std::fs::write(&atom, &marked).unwrap();
    let json_before = modified(&json);
    run(&config).await;
    assert_eq!(
        std::fs::read_to_string(&atom).unwrap(),
        marked,
        "a pass that changed nothing"
    );
    assert_eq!(modified(&json), json_before);

    // The feed's title in the config: rendered, and the hand edit is gone.
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("title = \"Site 0\"", "title = \"Site Zero\"");
    std::fs::write(&config, text).unwrap();
    run(&config).await;
    assert!(
        std::fs::read_to_string(&atom)
            .unwrap()
            .contains("<title>Site Zero</title>")
    );
    std::fs::write(&atom, &marked).unwrap();
    run(&config).await;
    assert_eq!(
        std::fs::read_to_string(&atom).unwrap(),
        marked,
        "the new title is the rendered one now"
    );

    // A removed file is written again.
    std::fs::remove_file(&json).unwrap();
    run(&config).await;
    assert!(json.is_file());
    assert!(
        std::fs::read_to_string(&atom)
            .unwrap()
            .contains("<title>Site Zero</title>"),
        "all formats were rendered"
    );

    // A new article: rendered.
    articles.store(4, Ordering::SeqCst);
    run(&config).await;
    let atom_text = std::fs::read_to_string(&atom).unwrap();
    assert!(atom_text.contains("Story number 4") && atom_text.contains("<title>Site Zero</title>"));
    let feed: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(feed["items"].as_array().unwrap().len(), 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn running_out_of_open_files_is_waited_out_not_a_failure() {
    let counters = Arc::new(Counters::default());
    let sites = [start(Site::new(&counters, 24, Duration::from_millis(100))).await];
    let dir = tempfile::tempdir().unwrap();
    // No retries: a request that failed for want of a descriptor would cost its article at once.
    let config = write_config(dir.path(), "retries = 0", &sites);
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("concurrency = 1", "concurrency = 24");
    std::fs::write(&config, text).unwrap();
    // A hard limit (the soft one cannot be raised above it) just over what the process holds before it connects,
    // so most of the 24 articles asked for at once cannot have a socket until others are done.
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "ulimit -n {FILES} && exec \"$0\" --config \"$1\" -v run",
                FILES = open_files_for_test()
            ))
            .arg(env!("CARGO_BIN_EXE_feedwright"))
            .arg(&config)
            .env("FEEDWRIGHT_LOG", "feedwright=debug")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "run failed: {stderr}");
    assert!(
        stderr.contains("out of open files; waiting"),
        "the limit was reached: {stderr}"
    );
    let feed = dir.path().join("feeds/site-0.json");
    let feed: serde_json::Value = serde_json::from_slice(&std::fs::read(&feed).unwrap()).unwrap();
    assert_eq!(feed["items"].as_array().unwrap().len(), 24, "every article was read");
}

/// The open-files limit for [`running_out_of_open_files_is_waited_out_not_a_failure`].
fn open_files_for_test() -> u32 {
    std::env::var("FEEDWRIGHT_TEST_FILES").map_or(20, |v| v.parse().unwrap())
}

/// A listing of two pages whose second page is answered only once an article has been asked for (or after 10 s):
/// whether the articles of the first page were read while the second was still coming.
#[derive(Clone, Default)]
struct Paged {
    article_asked: Arc<tokio::sync::Notify>,
    asked_first: Arc<std::sync::atomic::AtomicBool>,
}

async fn answer_paged(State(site): State<Paged>, request: Request) -> Response {
    let path = request.uri().path();
    let links = |range: std::ops::RangeInclusive<usize>| -> String {
        range
            .map(|n| format!(r#"<li><h4><a href="/news/a{n}.html">Story number {n}</a></h4></li>"#))
            .collect()
    };
    match path {
        "/news/" => Html(format!(
            r#"<html><body><ul>{}</ul><a class="next" href="/news/2">next</a></body></html>"#,
            links(1..=3)
        ))
        .into_response(),
        "/news/2" => {
            let asked = tokio::time::timeout(Duration::from_secs(10), site.article_asked.notified()).await;
            site.asked_first.store(asked.is_ok(), Ordering::SeqCst);
            Html(format!("<html><body><ul>{}</ul></body></html>", links(4..=5))).into_response()
        }
        _ => match article_number(path) {
            Some(n) => {
                site.article_asked.notify_one();
                Html(article(n)).into_response()
            }
            None => StatusCode::NOT_FOUND.into_response(),
        },
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_first_listing_pages_articles_are_read_while_its_next_page_is_coming() {
    let site = Paged::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(answer_paged).with_state(site.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "", &[format!("http://{addr}")]);
    let text = std::fs::read_to_string(&config).unwrap();
    let text = text.replace(
        "links = \"h4 > a\"",
        "links = \"h4 > a\"\nnext = \"a.next\"\nmax_pages = 2",
    );
    std::fs::write(&config, text.replace("concurrency = 1", "concurrency = 2")).unwrap();
    run(&config);
    assert!(
        site.asked_first.load(Ordering::SeqCst),
        "no article was asked for while the second listing page was awaited"
    );
    let feed = std::fs::read_to_string(dir.path().join("feeds/site-0.atom")).unwrap();
    for n in 1..=5 {
        assert!(feed.contains(&format!("Story number {n}<")), "story {n} is in the feed");
    }
}
