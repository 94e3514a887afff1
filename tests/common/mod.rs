//! Shared helpers for the end-to-end tests: a local copy of a fixture site on 127.0.0.1 (wiremock), a config
//! pointing at it, and the real `feedwright` binary.
#![allow(dead_code)] // each test file uses a different part of this

pub mod pg;

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use wiremock::matchers::{method, path as path_is};
use wiremock::{Mock, MockServer, ResponseTemplate};

pub const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

/// Every file of `tests/fixtures/<site>` under its URL path, `_redirects` as 301s, everything else 404.
pub async fn serve_site(site: &str) -> MockServer {
    let server = MockServer::start().await;
    mount_site(&server, site).await;
    server
}

pub async fn mount_site(server: &MockServer, site: &str) {
    let root = Path::new(FIXTURES).join(site);
    for file in files(&root) {
        let rel = file.strip_prefix(&root).unwrap().to_str().unwrap().replace('\\', "/");
        if rel.starts_with('_') || rel.ends_with(".json") || rel.ends_with(".md") || rel.ends_with(".py") {
            continue;
        }
        mount_page(server, &format!("/{rel}"), std::fs::read(&file).unwrap()).await;
    }
    if let Ok(rules) = std::fs::read_to_string(root.join("_redirects")) {
        for (from, to) in rules
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once(' '))
        {
            Mock::given(method("GET"))
                .and(path_is(from))
                .respond_with(ResponseTemplate::new(301).insert_header("Location", to.trim()))
                .mount(server)
                .await;
        }
    }
}

/// Serves `body` at `path` like the real CMS: `text/html` without a charset.
pub async fn mount_page(server: &MockServer, path: &str, body: Vec<u8>) {
    Mock::given(method("GET"))
        .and(path_is(path))
        .respond_with(ResponseTemplate::new(200).set_body_raw(body, "text/html"))
        .mount(server)
        .await;
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path))
        } else {
            out.push(path)
        }
    }
    out
}

pub fn fixture(site: &str, rel: &str) -> Vec<u8> {
    std::fs::read(Path::new(FIXTURES).join(site).join(rel.trim_start_matches('/'))).unwrap()
}

pub fn expected(site: &str) -> serde_json::Value {
    serde_json::from_slice(&fixture(site, "expected.json")).unwrap()
}

/// A working folder with `feedwright.toml`: the shipped demo config, with the English source on `en` and the
/// Chinese one on `zh`, feeds in `<dir>/feeds` and state in `<dir>/state`. `extra` is appended to `[settings]`.
pub struct Setup {
    pub dir: tempfile::TempDir,
}

impl Setup {
    pub fn new(en: &str, zh: &str, extra_settings: &str) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let demo = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/demo.toml")).unwrap();
        let text = demo
            .replace("http://127.0.0.1/news/", &format!("{en}/news/"))
            .replace("http://127.0.0.1/web15/", &format!("{zh}/web15/"))
            .replace("output_dir = \"../feeds\"", "output_dir = \"feeds\"")
            .replace(
                "state = \"../state/demo.sqlite\"",
                "state = \"state/feedwright.sqlite\"",
            )
            .replace("[settings]\n", &format!("[settings]\n{extra_settings}\n"));
        std::fs::write(dir.path().join("feedwright.toml"), text).unwrap();
        Setup { dir }
    }

    pub fn config(&self) -> PathBuf {
        self.dir.path().join("feedwright.toml")
    }

    pub fn feed(&self, name: &str) -> PathBuf {
        self.dir.path().join("feeds").join(name)
    }

    pub fn state(&self) -> PathBuf {
        self.dir.path().join("state/feedwright.sqlite")
    }

    /// `feedwright --config <this config> <args>`.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::cargo_bin("feedwright").unwrap();
        cmd.arg("--config")
            .arg(self.config())
            .args(args)
            .env_remove("FEEDWRIGHT_LOG")
            .env_remove("FEEDWRIGHT_STATE");
        cmd
    }

    pub fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.feed(name)).unwrap()
    }
}

pub fn parse_feed(bytes: &[u8]) -> feed_rs::model::Feed {
    feed_rs::parser::Builder::new()
        .sanitize_content(false)
        .build()
        .parse(bytes)
        .unwrap()
}

/// A `feedwright serve` child process, killed when dropped.
pub struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `feedwright serve` for `setup` on a free port, answering; returns it and its base URL.
pub async fn serve(setup: &Setup) -> (Server, String) {
    use std::time::{Duration, Instant};
    let port = free_port();
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("feedwright"))
        .arg("--config")
        .arg(setup.config())
        .args(["--quiet", "serve", "--addr", &format!("127.0.0.1:{port}")])
        .env_remove("FEEDWRIGHT_STATE")
        .stdin(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let server = Server(child);
    let base = format!("http://127.0.0.1:{port}");
    let start = Instant::now();
    while reqwest::get(format!("{base}/healthz")).await.is_err() {
        assert!(start.elapsed() < Duration::from_secs(60), "serve never answered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (server, base)
}

/// A webhook on 127.0.0.1 at `/hook` that takes `delay` to answer each POST with 200 (so deliveries overlap).
pub async fn slow_hook(delay: std::time::Duration) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::method("POST"))
        .and(path_is("/hook"))
        .respond_with(ResponseTemplate::new(200).set_delay(delay))
        .mount(&server)
        .await;
    server
}

/// The listing of [`news_site`]: three stories at `/news/a1.html` … `/news/a3.html`.
const NEWS_LISTING: &str = r#"<html><body><ul>
<li><h4><a href="/news/a1.html">First story</a></h4></li>
<li><h4><a href="/news/a2.html">Second story</a></h4></li>
<li><h4><a href="/news/a3.html">Third story</a></h4></li>
</ul></body></html>"#;

fn news_article(n: usize) -> String {
    format!(
        r#"<html><body><h1>Story number {n}</h1><p class="date">2026-01-0{n} 10:00</p>
<div id="Content"><p>The body of story {n}, with enough words to count as an article body.</p></div></body></html>"#
    )
}

/// A small news site on 127.0.0.1 whose listing (`/news/`, links `h4 > a`) takes `delay` to answer, and its three
/// articles (`h1`, date `p.date`, body `#Content`).
pub async fn news_site(delay: std::time::Duration) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::method("GET"))
        .and(path_is("/news/"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(NEWS_LISTING, "text/html; charset=utf-8")
                .set_delay(delay),
        )
        .mount(&server)
        .await;
    for n in 1..=3 {
        Mock::given(wiremock::matchers::method("GET"))
            .and(path_is(format!("/news/a{n}.html")))
            .respond_with(ResponseTemplate::new(200).set_body_raw(news_article(n), "text/html; charset=utf-8"))
            .mount(&server)
            .await;
    }
    server
}

/// The Chinese fixture site (`wic-zh`: its listing and articles) with ETags: a request carrying a page's ETag
/// gets 304, as a real server answers.
pub async fn zh_site_with_etags() -> MockServer {
    use wiremock::matchers::{header, method};
    let server = MockServer::start().await;
    let exp = expected("wic-zh");
    let mut pages = vec!["/web15/news/index.shtml".to_owned()];
    pages.extend(
        exp["articles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["path"].as_str().unwrap().to_owned()),
    );
    for at in pages {
        let body = fixture("wic-zh", &at);
        let etag = format!("\"{}-{}\"", body.len(), body.iter().map(|&b| b as usize).sum::<usize>());
        Mock::given(method("GET"))
            .and(path_is(at.as_str()))
            .and(header("if-none-match", etag.as_str()))
            .respond_with(ResponseTemplate::new(304))
            .with_priority(1)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path_is(at.as_str()))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("ETag", etag.as_str())
                    .set_body_raw(body, "text/html"),
            )
            .with_priority(2)
            .mount(&server)
            .await;
    }
    server
}
