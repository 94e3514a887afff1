//! `[[merge]]` feeds, run as a user runs them: the shipped demo config (which merges both conference editions as
//! `wic-all`) against the fixture sites on 127.0.0.1, then the merged files checked by the shared validators, by
//! newsboat reading them from `feedwright serve`, and by `status`, `/healthz`, the web page and the OPML list.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command as StdCommand, Stdio};

use common::{Setup, parse_feed, serve, serve_site};

const VALIDATE_FEED: &str = "/work/shared/oracles/validate-feed";

/// The entry ids of the feed file `name`, in file order.
fn ids(setup: &Setup, name: &str) -> Vec<String> {
    parse_feed(&setup.read(name))
        .entries
        .into_iter()
        .map(|e| e.id)
        .collect()
}

fn run(setup: &Setup) -> String {
    let out = setup.cmd(&["run"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[tokio::test(flavor = "multi_thread")]
async fn the_merged_feed_has_every_item_of_both_editions_once_newest_first_with_their_ids() {
    let (en, zh) = (serve_site("wic-en").await, serve_site("wic-zh").await);
    let setup = Setup::new(&en.uri(), &zh.uri(), "");
    let stdout = run(&setup);
    assert!(
        stdout.contains("wic-all          degraded  merge of wic-news, wic-news-zh  items  19  files written 3"),
        "{stdout}"
    );

    for ext in ["atom", "rss", "json"] {
        let merged = ids(&setup, &format!("wic-all.{ext}"));
        let mut both: Vec<String> = ids(&setup, &format!("wic-news.{ext}"));
        both.extend(ids(&setup, &format!("wic-news-zh.{ext}")));
        let distinct: BTreeSet<&String> = both.iter().collect();
        assert_eq!(merged.len(), distinct.len(), "{ext}: every item once");
        assert_eq!(
            merged.iter().collect::<BTreeSet<_>>(),
            distinct,
            "{ext}: the editions' own ids"
        );
        let feed = parse_feed(&setup.read(&format!("wic-all.{ext}")));
        let dates: Vec<_> = feed.entries.iter().map(|e| e.published.unwrap()).collect();
        assert!(dates.windows(2).all(|w| w[0] >= w[1]), "{ext}: newest first: {dates:?}");
        assert_eq!(
            feed.title.unwrap().content,
            "World Internet Conference - News (English and 中文)"
        );
    }
    let atom = String::from_utf8(setup.read("wic-all.atom")).unwrap();
    assert!(
        atom.contains("<link href=\"http://127.0.0.1:8080/wic-all.atom\" rel=\"self\""),
        "its own self link"
    );

    // Nothing changed: nothing is rewritten.
    let stdout = run(&setup);
    assert!(
        stdout.contains("merge of wic-news, wic-news-zh  items  19  files written 0"),
        "{stdout}"
    );

    // The merge's own max_items cuts the newest.
    let text = std::fs::read_to_string(setup.config()).unwrap();
    let cut = text.replace(
        "sources = [\"wic-news\", \"wic-news-zh\"]",
        "sources = [\"wic-news\", \"wic-news-zh\"]\nmax_items = 4",
    );
    std::fs::write(setup.config(), cut).unwrap();
    let before = ids(&setup, "wic-all.atom");
    run(&setup);
    assert_eq!(ids(&setup, "wic-all.atom"), before[..4]);
}

/// Runs the shared validators on `files`; any FAIL or warning fails the test, and so does a missing validator.
fn validate(files: &[&Path]) {
    assert!(
        Path::new(VALIDATE_FEED).exists(),
        "{VALIDATE_FEED} is missing: install the shared oracles (/work/shared/oracles/install-oracles)"
    );
    let out = StdCommand::new("/usr/bin/python3")
        .arg(VALIDATE_FEED)
        .args(files)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{report}{}", String::from_utf8_lossy(&out.stderr));
    assert!(!report.contains(": warn") && !report.contains("FAIL"), "{report}");
    assert!(
        report.contains("newsboat: ok"),
        "newsboat must be one of the oracles that ran: {report}"
    );
}

/// How many items newsboat keeps of the feed at `url` after one `newsboat -x reload`, from its cache database.
fn newsboat_items(url: &str) -> usize {
    let newsboat = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|dir| dir.join("newsboat"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("newsboat is not installed: run /work/shared/oracles/install-oracles"));
    let tmp = tempfile::tempdir().unwrap();
    let f = |name: &str| tmp.path().join(name);
    std::fs::write(f("urls"), format!("{url}\n")).unwrap();
    std::fs::write(f("config"), "").unwrap();
    let out = StdCommand::new(newsboat)
        .arg("-u")
        .arg(f("urls"))
        .arg("-c")
        .arg(f("cache.db"))
        .arg("-C")
        .arg(f("config"))
        .arg("-x")
        .arg("reload")
        .env("HOME", tmp.path())
        .env("no_proxy", "*")
        .env_remove("http_proxy")
        .env_remove("HTTP_PROXY")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "newsboat: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let db = rusqlite::Connection::open(f("cache.db")).unwrap();
    let n: i64 = db
        .query_row("SELECT count(*) FROM rss_item WHERE feedurl = ?1", [url], |r| r.get(0))
        .unwrap();
    n as usize
}

#[tokio::test(flavor = "multi_thread")]
async fn the_merged_feed_passes_the_validators_and_newsboat_keeps_every_item_served() {
    let (en, zh) = (serve_site("wic-en").await, serve_site("wic-zh").await);
    let setup = Setup::new(&en.uri(), &zh.uri(), "");
    run(&setup);
    let files: Vec<_> = ["atom", "rss", "json"]
        .iter()
        .map(|ext| setup.feed(&format!("wic-all.{ext}")))
        .collect();
    validate(&files.iter().map(|p| p.as_path()).collect::<Vec<_>>());

    let (_server, base) = serve(&setup).await;
    for ext in ["atom", "rss"] {
        let expected = ids(&setup, &format!("wic-all.{ext}")).len();
        assert!(expected >= 19, "both editions: {expected}");
        let url = format!("{base}/wic-all.{ext}");
        let served = reqwest::get(&url).await.unwrap();
        assert_eq!(served.status(), 200);
        assert!(served.headers().contains_key("etag"), "served like a source's feed");
        assert_eq!(newsboat_items(&url), expected, "newsboat keeps every item of {url}");
    }

    let health = reqwest::get(format!("{base}/healthz"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let health: serde_json::Value = serde_json::from_str(&health).unwrap();
    let merges = health["merges"].as_array().unwrap();
    assert_eq!(merges.len(), 1, "{health}");
    assert_eq!(merges[0]["source"], "wic-all");
    assert_eq!(
        merges[0]["health"], "degraded",
        "each edition misses an article: {health}"
    );
    assert_eq!(merges[0]["merge_of"], serde_json::json!(["wic-news", "wic-news-zh"]));
    assert_eq!(health["sources"].as_array().unwrap().len(), 2);

    let index = reqwest::get(format!("{base}/")).await.unwrap().text().await.unwrap();
    assert!(index.contains("2 sources and 1 merged feed"), "{index}");
    assert!(index.contains("<a href=\"source/wic-all\">"), "{index}");
    let page = reqwest::get(format!("{base}/source/wic-all"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("A merged feed: the newest 50 items of"), "{page}");
    assert_eq!(page.matches("<td data-label=\"Title\">").count(), 19, "{page}");
    let opml = reqwest::get(format!("{base}/index.opml"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(opml.contains("xmlUrl=\"http://127.0.0.1:8080/wic-all.atom\""), "{opml}");
    assert_eq!(reqwest::get(format!("{base}/wic-all.txt")).await.unwrap().status(), 404);
}

/// Every request to `server` answers 503 from now on.
async fn down(server: &wiremock::MockServer) {
    server.reset().await;
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(wiremock::ResponseTemplate::new(503))
        .mount(server)
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_merge_is_broken_only_when_all_its_sources_are() {
    let (en, zh) = (serve_site("wic-en").await, serve_site("wic-zh").await);
    let setup = Setup::new(&en.uri(), &zh.uri(), "");
    run(&setup);
    let status = |setup: &Setup| -> serde_json::Value {
        let out = setup.cmd(&["status", "--json"]).output().unwrap();
        let all: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        all.as_array()
            .unwrap()
            .iter()
            .find(|s| s["source"] == "wic-all")
            .unwrap()
            .clone()
    };
    let before = setup.read("wic-all.atom");

    down(&en).await;
    assert_eq!(setup.cmd(&["run", "-q"]).output().unwrap().status.code(), Some(4));
    let one = status(&setup);
    assert_eq!(one["health"], "degraded", "{one}");
    assert!(
        one["reason"]
            .as_str()
            .unwrap()
            .contains("wic-news is broken: no listing page could be read"),
        "{one}"
    );
    assert_eq!(
        setup.read("wic-all.atom"),
        before,
        "the broken source's stored items stay in the merge"
    );

    down(&zh).await;
    setup.cmd(&["run", "-q"]).output().unwrap();
    let all = status(&setup);
    assert_eq!(all["health"], "broken", "{all}");
    assert!(
        all["reason"]
            .as_str()
            .unwrap()
            .starts_with("all its sources are broken"),
        "{all}"
    );
    let table = setup.cmd(&["status"]).output().unwrap();
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(
        table.lines().any(|l| l.starts_with("wic-all") && l.contains("broken")),
        "{table}"
    );
}
