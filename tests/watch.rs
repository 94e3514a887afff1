//! `feedwright watch --serve` as a user runs it: the real binary against a local site and a local WebSub hub. It
//! publishes, serves (with the scheduler's next run on `/healthz` and the web page), writes index.opml, pings the hub, holds the state lock against `run`, survives a bad config
//! on SIGHUP and exits 0 on SIGTERM, leaving no temporary files.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The news site of `common`, which also takes WebSub pings at `/hub`.
async fn site() -> MockServer {
    let server = common::news_site(Duration::ZERO).await;
    Mock::given(method("POST"))
        .and(path("/hub"))
        .respond_with(ResponseTemplate::new(202))
        .mount(&server)
        .await;
    server
}

fn config(site: &str, port: u16) -> String {
    format!(
        r##"[settings]
output_dir = "feeds"
state = "state/feedwright.sqlite"
feed_base_url = "http://127.0.0.1:{port}/"
hub = "{site}/hub"
every = "1h"
lock_timeout = "1s"

[[source]]
id = "local-news"
title = "Local News"
url = "{site}/news/"
timezone = "UTC"

[source.listing]
links = "h4 > a"

[source.article]
title = "h1"
date = "p.date"
content = "#Content"
"##
    )
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .args([format!("-{name}"), child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Polls `done` every 50 ms for at most 60 s (a bound against hanging, not a timing assertion).
async fn eventually(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let start = Instant::now();
    while !done().await {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread")]
async fn watch_publishes_serves_pings_reloads_and_stops_cleanly() {
    let site = site().await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config_path = dir.path().join("feedwright.toml");
    std::fs::write(&config_path, config(&site.uri(), port)).unwrap();
    let bin = assert_cmd::cargo::cargo_bin("feedwright");
    let mut child = Command::new(&bin)
        .arg("--config")
        .arg(&config_path)
        .args(["--quiet", "watch", "--serve", &format!("127.0.0.1:{port}")])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();

    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    eventually("the feed to be served", async || {
        client
            .get(format!("{base}/local-news.atom"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
    })
    .await;
    let atom = client.get(format!("{base}/local-news.atom")).send().await.unwrap();
    assert_eq!(atom.headers()["content-type"], "application/atom+xml; charset=utf-8");
    let atom = atom.text().await.unwrap();
    assert!(atom.contains("Story number 3"), "{atom}");
    assert!(
        atom.contains(&format!("<link href=\"{}/hub\" rel=\"hub\"/>", site.uri())),
        "{atom}"
    );
    let healthz = async || {
        let health = client.get(format!("{base}/healthz")).send().await.unwrap();
        assert_eq!(health.status(), 200);
        let health: serde_json::Value = serde_json::from_str(&health.text().await.unwrap()).unwrap();
        health["sources"][0].clone()
    };
    let state = healthz().await;
    assert_eq!(
        (state["source"].as_str(), state["health"].as_str()),
        (Some("local-news"), Some("ok"))
    );
    // The scheduler's next run once the first has finished: the source's point of the hour (`every = "1h"`) that is
    // more than half an hour after the start-up run.
    let parse = |t: &serde_json::Value| chrono::DateTime::parse_from_rfc3339(t.as_str().unwrap()).unwrap();
    let mut state = serde_json::Value::Null;
    eventually("the next run to be scheduled", async || {
        state = healthz().await;
        parse(&state["next_run"]) - parse(&state["last_run"]) >= chrono::Duration::minutes(29)
    })
    .await;
    assert!(parse(&state["next_run"]) - parse(&state["last_run"]) <= chrono::Duration::minutes(90));
    let next = parse(&state["next_run"]);
    let page = client
        .get(format!("{base}/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(&format!(
            "<td data-label=\"Next run\"><time datetime=\"{}\">",
            next.to_utc().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )),
        "{page}"
    );
    let metrics = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("feedwright_runs_total{source=\"local-news\",outcome=\"ok\"} 1"),
        "{metrics}"
    );
    assert!(dir.path().join("feeds/index.opml").exists());

    // One ping per feed file that changed: atom, rss and json.
    eventually("three hub pings", async || {
        site.received_requests()
            .await
            .unwrap()
            .iter()
            .filter(|r| r.method.as_str() == "POST")
            .count()
            == 3
    })
    .await;
    let pings: Vec<String> = site
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == "POST")
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect();
    let expected = format!("hub.mode=publish&hub.url=http%3A%2F%2F127.0.0.1%3A{port}%2Flocal-news.atom");
    assert!(pings.contains(&expected), "{pings:?}");

    // `run` cannot race the service on the same state.
    let run = Command::new(&bin)
        .arg("--config")
        .arg(&config_path)
        .arg("run")
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&run.stderr).contains("another feedwright run holds"));

    // A broken config on SIGHUP is reported; the old one keeps serving.
    std::fs::write(&config_path, "[settings]\nevery = \"soon\"\n").unwrap();
    signal(&child, "HUP");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        client
            .get(format!("{base}/local-news.rss"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert!(child.try_wait().unwrap().is_none(), "still running");

    signal(&child, "TERM");
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    assert_eq!(
        files(&dir.path().join("feeds")),
        ["index.opml", "local-news.atom", "local-news.json", "local-news.rss"],
        "no temporary files left"
    );
}

/// Under `watch`, a merged feed is published after its sources' runs, served, and its hub pinged. Its two sources
/// read the same listing, so every item comes twice and is published once.
#[tokio::test(flavor = "multi_thread")]
async fn watch_publishes_a_merged_feed_after_its_sources_run() {
    let site = site().await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config_path = dir.path().join("feedwright.toml");
    let one = config(&site.uri(), port);
    let second = one[one.find("[[source]]").unwrap()..].replace("id = \"local-news\"", "id = \"local-copy\"");
    let text = format!(
        "{one}\n{second}\n[[merge]]\nid = \"both\"\ntitle = \"Both\"\nsources = [\"local-news\", \"local-copy\"]\n"
    );
    std::fs::write(&config_path, text).unwrap();
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("feedwright"))
        .arg("--config")
        .arg(&config_path)
        .args(["--quiet", "watch", "--serve", &format!("127.0.0.1:{port}")])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    eventually("the merged feed and both its sources to be published", async || {
        let served = client.get(format!("{base}/both.atom")).send().await;
        if !served.is_ok_and(|r| r.status() == 200) {
            return false;
        }
        let healthz = client
            .get(format!("{base}/healthz"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let health: serde_json::Value = serde_json::from_str(&healthz).unwrap();
        health["sources"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["health"] == "ok")
            && health["merges"][0]["health"] == "ok"
    })
    .await;
    let atom = client
        .get(format!("{base}/both.atom"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(atom.matches("<entry>").count(), 3, "each item once: {atom}");
    for n in 1..=3 {
        assert!(
            atom.contains(&format!("<id>{}/news/a{n}.html</id>", site.uri())),
            "{atom}"
        );
    }
    let expected = format!("hub.mode=publish&hub.url=http%3A%2F%2F127.0.0.1%3A{port}%2Fboth.atom");
    eventually("the merged feed's hub ping", async || {
        site.received_requests()
            .await
            .unwrap()
            .iter()
            .any(|r| String::from_utf8_lossy(&r.body) == expected)
    })
    .await;
    signal(&child, "TERM");
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.code(), Some(0));
}
