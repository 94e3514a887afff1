//! One status, told the same way everywhere, and the web page in a real browser.
//!
//! The real binary runs against a local site (wiremock) with three sources: one that reads fine (ok), one with a
//! dead article (degraded) and one whose listing was redesigned after a good run (broken, its last good feed
//! kept). Then `run`'s summary, `status` (table and `--json`), and a real `serve`'s `/healthz`, `/metrics` and `/`
//! must say the same thing about each, and headless Chromium (the Debian package, `/usr/bin/chromium`) must render
//! the source table with the broken source's reason. Chromium missing is a failure, never a skip.
//!
//! With `FEEDWRIGHT_SCREENSHOTS=<dir>` set (as `scripts/screenshots.sh` does) the test also saves screenshots of
//! the pages there; otherwise it writes nothing outside its temporary folder.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const CHROMIUM: &str = "/usr/bin/chromium";

fn listing(section: &str, stories: &[(&str, &str)]) -> String {
    let items: String = stories
        .iter()
        .map(|(slug, title)| format!("<li><h4><a href=\"/{section}/{slug}.html\">{title}</a></h4></li>\n"))
        .collect();
    format!("<html><body><h1>{section}</h1><ul>\n{items}</ul></body></html>")
}

fn article(title: &str, day: usize) -> String {
    format!(
        r#"<html><body><h1>{title}</h1><p class="date">2026-01-{day:02} 09:30</p>
<div id="Content"><p>{title}. The full story, with enough words in it to count as the body of an article.</p></div>
</body></html>"#
    )
}

const CITY: &[(&str, &str)] = &[
    ("bus-lanes", "Council approves new bus lanes on the ring road"),
    ("library", "Central library reopens after two years of works"),
    ("market", "Saturday market moves to the old station square"),
];
const SPORT: &[(&str, &str)] = &[
    ("derby", "Late goal settles the derby"),
    ("marathon", "Record field for the spring marathon"),
    ("pool", "Swimming pool to stay open until midnight in summer"),
];
const CULTURE: &[(&str, &str)] = &[
    ("festival", "Film festival announces its programme"),
    ("museum", "Museum night draws record crowds"),
];

async fn mount(server: &MockServer, at: &str, status: u16, body: String) {
    Mock::given(method("GET"))
        .and(path(at))
        .respond_with(ResponseTemplate::new(status).set_body_raw(body, "text/html; charset=utf-8"))
        .mount(server)
        .await;
}

async fn site() -> MockServer {
    let server = MockServer::start().await;
    for (section, stories) in [("city", CITY), ("sport", SPORT), ("culture", CULTURE)] {
        mount(&server, &format!("/{section}/"), 200, listing(section, stories)).await;
        for (n, (slug, title)) in stories.iter().enumerate() {
            // The marathon story is gone: the listing links it, the page answers 500.
            let (status, body) = match *slug {
                "marathon" => (500, "<h1>Internal Server Error</h1>".to_owned()),
                _ => (200, article(title, n + 10)),
            };
            mount(&server, &format!("/{section}/{slug}.html"), status, body).await;
        }
    }
    server
}

fn config(site: &str) -> String {
    let source = |id: &str, title: &str, section: &str| {
        format!(
            r##"
[[source]]
id = "{id}"
title = "{title}"
url = "{site}/{section}/"
timezone = "UTC"

[source.listing]
links = "h4 > a"

[source.article]
title = "h1"
date = "p.date"
content = "#Content"
"##
        )
    };
    format!(
        "[settings]\noutput_dir = \"feeds\"\nstate = \"state/feedwright.sqlite\"\n\
         feed_base_url = \"https://feeds.example.org/\"\nlock_timeout = \"1s\"\n{}{}{}",
        source("city", "City News", "city"),
        source("sport", "Sport", "sport"),
        source("culture", "Culture & Events", "culture"),
    )
}

struct Setup {
    dir: tempfile::TempDir,
    bin: PathBuf,
}

impl Setup {
    fn cmd(&self, args: &[&str]) -> std::process::Output {
        Command::new(&self.bin)
            .arg("--config")
            .arg(self.dir.path().join("feedwright.toml"))
            .args(args)
            .env_remove("FEEDWRIGHT_LOG")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }
}

/// Runs the three sources: a good run for all, then `culture` again after its listing was redesigned.
async fn prepared() -> (MockServer, Setup, String, String) {
    let site = site().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("feedwright.toml"), config(&site.uri())).unwrap();
    let setup = Setup {
        dir,
        bin: assert_cmd::cargo::cargo_bin("feedwright"),
    };
    let first = setup.cmd(&["run"]);
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    Mock::given(method("GET"))
        .and(path("/culture/"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            "<html><body><div class=\"v2\">New look!</div></body></html>",
            "text/html",
        ))
        .with_priority(1)
        .mount(&site)
        .await;
    let second = setup.cmd(&["run", "--source", "culture"]);
    assert_eq!(
        second.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    let (first, second) = (
        String::from_utf8(first.stdout).unwrap(),
        String::from_utf8(second.stdout).unwrap(),
    );
    (site, setup, first, second)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `feedwright serve` on a free loopback port, stopped when dropped.
struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn serve(setup: &Setup) -> Server {
    let port = free_port();
    let child = Command::new(&setup.bin)
        .arg("--config")
        .arg(setup.dir.path().join("feedwright.toml"))
        .args(["--quiet", "serve", "--addr", &format!("127.0.0.1:{port}")])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let server = Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let client = reqwest::Client::new();
    let start = Instant::now();
    while client.get(format!("{}/healthz", server.base)).send().await.is_err() {
        assert!(start.elapsed() < Duration::from_secs(60), "serve never answered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server
}

async fn get(base: &str, uri: &str) -> (u16, String) {
    let response = reqwest::get(format!("{base}{uri}")).await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// The `run` summary block of `source` (its line and the indented ones below it).
fn block<'a>(stdout: &'a str, source: &str) -> Vec<&'a str> {
    let mut lines = stdout.lines().skip_while(|l| !l.starts_with(&format!("{source} ")));
    let mut out: Vec<&str> = lines.next().into_iter().collect();
    out.extend(lines.take_while(|l| l.starts_with(' ')));
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn run_status_healthz_metrics_and_the_page_tell_one_state() {
    let (_site, setup, first, second) = prepared().await;
    let expected = [("city", "ok"), ("sport", "degraded"), ("culture", "broken")];
    let dead = format!("{}/sport/marathon.html", _site.uri());

    // run: the health word, the reason, the failed article, what the word means.
    let city = block(&first, "city");
    assert_eq!(city.len(), 1, "ok needs no explanation: {first}");
    assert!(city[0].split_whitespace().nth(1) == Some("ok"), "{first}");
    let sport = block(&first, "sport").join("\n");
    assert!(sport.starts_with("sport            degraded "), "{first}");
    assert!(sport.contains("\n  degraded: 1 article failed\n"), "{sport}");
    assert!(
        sport.contains(&format!("\n    {dead}  (attempt 1) GET {dead} returned HTTP 500")),
        "{sport}"
    );
    assert!(
        sport.contains("(degraded means: the last run published, but some articles failed"),
        "{sport}"
    );
    let culture = block(&second, "culture").join("\n");
    assert!(culture.starts_with("culture          broken "), "{second}");
    assert!(
        culture.contains("\n  broken: the listing yielded no article links"),
        "{culture}"
    );

    // status --json: the states, in config order.
    let out = setup.cmd(&["status", "--json"]);
    assert_eq!(out.status.code(), Some(4), "a source is broken");
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    for (i, (id, health)) in expected.iter().enumerate() {
        assert_eq!(
            (status[i]["source"].as_str(), status[i]["health"].as_str()),
            (Some(*id), Some(*health))
        );
    }
    assert_eq!(status[0]["reason"], Value::Null);
    assert_eq!(status[1]["reason"], "1 article failed");
    assert_eq!(status[1]["failed_articles"][0]["url"], dead.as_str());
    assert_eq!(status[1]["failed_articles"][0]["attempts"], 1);
    assert!(status[1]["failed_articles"][0]["last_failed"].is_string());
    assert_eq!(
        status[2]["reason"],
        "the listing yielded no article links (did the site change? check listing.links)"
    );
    assert_eq!(status[2]["items_in_feed"], 2, "the last good feed is kept");
    assert_eq!(status[2]["consecutive_failures"], 1);
    assert_eq!(
        status[2]["last_success"], status[0]["last_run"],
        "the first run published culture too"
    );

    // status: the same words in the table, the failed article listed, the words explained.
    let out = setup.cmd(&["status"]);
    let table = String::from_utf8(out.stdout).unwrap();
    for (id, health) in expected {
        let row = table.lines().find(|l| l.starts_with(&format!("{id} "))).unwrap();
        assert_eq!(row.split_whitespace().nth(1), Some(health), "{table}");
    }
    assert!(table.contains("1 article failed"), "{table}");
    assert!(table.contains(&format!("  {dead}  last tried ")), "{table}");
    assert!(table.contains("\ndegraded: the last run published, but"), "{table}");
    assert!(table.contains("\nbroken: the last run could not publish"), "{table}");

    // serve: /healthz says exactly what status --json says, /metrics and / use the same words.
    let server = serve(&setup).await;
    let (code, body) = get(&server.base, "/healthz").await;
    assert_eq!(code, 503, "a source is broken");
    let health: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["status"], "failing");
    assert_eq!(health["sources"], status, "one state: /healthz and status --json agree");
    let (_, metrics) = get(&server.base, "/metrics").await;
    let (_, page) = get(&server.base, "/").await;
    for (id, health) in expected {
        assert!(
            metrics.contains(&format!(
                "feedwright_source_health{{source=\"{id}\",health=\"{health}\"}} 1\n"
            )),
            "{metrics}"
        );
        assert!(
            page.contains(&format!("<tr id=\"{id}\" class=\"source {health}\">")),
            "{page}"
        );
    }
    assert!(
        metrics.contains("feedwright_failed_articles{source=\"sport\"} 1\n"),
        "{metrics}"
    );
    assert!(page.contains("<div class=\"reason\">1 article failed</div>"), "{page}");
}

/// Runs Chromium headless with `args` and then `url`; its stdout. Fails loudly when Chromium is not installed.
fn chromium(profile: &Path, args: &[&str], url: &str) -> String {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: the web page is tested in a real browser. Install it with \
         `apt-get update && apt-get install -y chromium` (.ci/run does this)"
    );
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    // A bound against a hung browser, not a timing assertion.
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(180) {
            let _ = child.kill();
            panic!("chromium did not finish with {url}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_real_browser_renders_the_source_table_and_the_broken_sources_reason() {
    let (_site, setup, _, _) = prepared().await;
    let server = serve(&setup).await;
    let profile = tempfile::tempdir().unwrap();
    let (base, profile_dir) = (server.base.clone(), profile.path().to_owned());
    let dom = tokio::task::spawn_blocking(move || chromium(&profile_dir, &["--dump-dom"], &format!("{base}/")))
        .await
        .unwrap();
    assert!(dom.contains("<table class=\"cards sources\">"), "{dom}");
    assert!(dom.contains("<th>Source</th><th>Health</th>"), "{dom}");
    assert_eq!(dom.matches("<tr id=").count(), 3, "one row per source: {dom}");
    let broken = dom.lines().find(|l| l.contains("<tr id=\"culture\"")).unwrap();
    assert!(broken.contains("<span class=\"health broken\""), "{broken}");
    assert!(
        broken.contains("<div class=\"reason\">the listing yielded no article links (did the site change? check listing.links)</div>"),
        "{broken}"
    );
    assert!(broken.contains("<strong>Culture &amp; Events</strong>"), "{broken}");

    let (base, profile_dir) = (server.base.clone(), profile.path().to_owned());
    let dom =
        tokio::task::spawn_blocking(move || chromium(&profile_dir, &["--dump-dom"], &format!("{base}/source/sport")))
            .await
            .unwrap();
    assert!(dom.contains("<h2 id=\"failed\">Failed articles (1)</h2>"), "{dom}");
    assert!(dom.contains("/sport/marathon.html"), "{dom}");
    assert!(dom.contains("<h2 id=\"runs\">Run history (latest 1)</h2>"), "{dom}");

    if let Some(dir) = std::env::var_os("FEEDWRIGHT_SCREENSHOTS") {
        let dir = PathBuf::from(dir);
        std::fs::create_dir_all(&dir).unwrap();
        for (file, size, uri) in [
            ("web-index.png", "1200,900", "/"),
            ("web-phone.png", "390,844", "/"),
            ("web-source.png", "1200,1400", "/source/sport"),
        ] {
            let shot = dir.join(file);
            let (base, profile_dir) = (server.base.clone(), profile.path().to_owned());
            let args = [
                format!("--screenshot={}", shot.display()),
                format!("--window-size={size}"),
            ];
            tokio::task::spawn_blocking(move || {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                chromium(&profile_dir, &args, &format!("{base}{uri}"))
            })
            .await
            .unwrap();
            assert!(std::fs::metadata(&shot).unwrap().len() > 1000, "{}", shot.display());
        }
    }
}
