//! Config edits take effect on the next run, and selector changes can be tested offline against saved pages:
//! a widened listing selector while the listing answers 304, an added `remove` selector re-extracting stored
//! items from their saved pages (edits, not new items, no article requests), `run --refetch`, and
//! `snapshot` + `test`. The real binary against the Chinese fixture site with ETags on 127.0.0.1.

mod common;

use std::time::Duration;

use common::Setup;
use serde_json::Value;
use wiremock::{MockServer, Request};

const ZH: &str = "wic-news-zh";
const LISTING: &str = "/web15/news/index.shtml";

/// Edits the Chinese source's section of the config.
fn edit(setup: &Setup, from: &str, to: &str) {
    let text = std::fs::read_to_string(setup.config()).unwrap();
    let zh = text.find("id = \"wic-news-zh\"").unwrap();
    let at = zh
        + text[zh..]
            .find(from)
            .unwrap_or_else(|| panic!("{from:?} not in the zh source"));
    let text = format!("{}{to}{}", &text[..at], &text[at + from.len()..]);
    std::fs::write(setup.config(), text).unwrap();
}

fn feed(setup: &Setup) -> Value {
    serde_json::from_slice(&setup.read(&format!("{ZH}.json"))).unwrap()
}

fn items(feed: &Value) -> Vec<&Value> {
    feed["items"].as_array().unwrap().iter().collect()
}

fn ids(feed: &Value) -> Vec<String> {
    let mut ids: Vec<String> = items(feed)
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

/// Runs `feedwright <args>` and returns (exit code, stdout, stderr).
fn run(setup: &Setup, args: &[&str]) -> (i32, String, String) {
    let out = setup.cmd(args).output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The requests the server got since `since`, robots.txt left out (it is remembered for a day).
async fn requests_since(server: &MockServer, since: usize) -> Vec<Request> {
    server.received_requests().await.unwrap()[since..]
        .iter()
        .filter(|r| r.url.path() != "/robots.txt")
        .cloned()
        .collect()
}

async fn count(server: &MockServer) -> usize {
    server.received_requests().await.unwrap().len()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_widened_listing_selector_takes_effect_though_the_listing_answers_304() {
    let zh = common::zh_site_with_etags().await;
    let setup = Setup::new("http://127.0.0.1:9", &zh.uri(), "");
    edit(
        &setup,
        "item = \"ul.lb_list > li\"",
        "item = \"ul.lb_list > li:nth-child(-n+3)\"",
    );
    let (code, _, err) = run(&setup, &["run", "--source", ZH]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(items(&feed(&setup)).len(), 3, "the narrow selector lists three stories");

    // Unchanged config: the listing answers 304 and nothing new is found (the reported bug's "links 0").
    let before = count(&zh).await;
    let (_, out, _) = run(&setup, &["run", "--source", ZH]);
    assert!(out.contains("links   0"), "{out}");
    let warm = requests_since(&zh, before).await;
    assert_eq!(warm.len(), 1);
    assert!(warm[0].headers.contains_key("if-none-match"));

    // Widened: the listing is asked for without validators, and the stories it now matches are published.
    edit(
        &setup,
        "item = \"ul.lb_list > li:nth-child(-n+3)\"",
        "item = \"ul.lb_list > li\"",
    );
    let before = count(&zh).await;
    let (code, out, err) = run(&setup, &["run", "--source", ZH]);
    assert_eq!(code, 0, "{err}");
    let listing: Vec<Request> = requests_since(&zh, before)
        .await
        .into_iter()
        .filter(|r| r.url.path() == LISTING)
        .collect();
    assert_eq!(listing.len(), 1);
    assert!(
        !listing[0].headers.contains_key("if-none-match"),
        "an unconditional GET"
    );
    assert!(out.contains("new   3"), "{out}");
    assert_eq!(items(&feed(&setup)).len(), 6);

    // The new rules are stored with that run: the next one is routine again.
    let before = count(&zh).await;
    run(&setup, &["run", "-q", "--source", ZH]);
    let warm = requests_since(&zh, before).await;
    assert_eq!(warm.len(), 1, "{warm:#?}");
    assert!(warm[0].headers.contains_key("if-none-match"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_added_remove_selector_edits_stored_bodies_from_saved_pages_without_fetching_them() {
    let zh = common::zh_site_with_etags().await;
    let setup = Setup::new("http://127.0.0.1:9", &zh.uri(), "");
    run(&setup, &["run", "-q", "--source", ZH]);
    let first = feed(&setup);
    let caption = "新华社记者 李涛 摄";
    assert!(
        items(&first)
            .iter()
            .any(|i| i["content_html"].as_str().unwrap().contains(caption)),
        "the photo caption is in a body before"
    );

    tokio::time::sleep(Duration::from_millis(1100)).await; // so an edit's time differs from the first run's
    edit(
        &setup,
        "remove = [\"script\", \"style\"]",
        "remove = [\"script\", \"style\", 'p[align=\"center\"]']",
    );
    let before = count(&zh).await;
    let (code, out, err) = run(&setup, &["run", "--source", ZH]);
    assert_eq!(code, 0, "{err}");
    let asked: Vec<String> = requests_since(&zh, before)
        .await
        .iter()
        .map(|r| r.url.path().to_owned())
        .collect();
    let missing = common::expected("wic-zh")["missing"][0].as_str().unwrap().to_owned();
    assert_eq!(
        asked,
        [LISTING.to_owned(), missing],
        "the listing, and the link that failed (the new rules may fix it); the stored articles come from their saved pages"
    );
    assert!(out.contains("new   0") && !out.contains("updated   0"), "{out}");

    let second = feed(&setup);
    assert_eq!(ids(&second), ids(&first), "the same items: edits, not new ones");
    let mut edited = 0;
    for item in items(&second) {
        let old = items(&first).into_iter().find(|i| i["id"] == item["id"]).unwrap();
        assert_eq!(item["date_published"], old["date_published"], "{}", item["id"]);
        assert!(!item["content_html"].as_str().unwrap().contains(caption));
        if item["content_html"] != old["content_html"] {
            edited += 1;
            let (published, modified) = (
                item["date_published"].as_str().unwrap(),
                item["date_modified"].as_str().unwrap_or_default(),
            );
            assert!(
                chrono::DateTime::parse_from_rfc3339(modified).unwrap()
                    > chrono::DateTime::parse_from_rfc3339(published).unwrap(),
                "an edit bumps date_modified: {item:#}"
            );
        }
    }
    assert!(edited > 0);
    assert!(out.contains(&format!("updated {edited:>3}")), "{out}");

    // Nothing changes on the next run: the rules are stored, the site unchanged.
    let (_, out, _) = run(&setup, &["run", "--source", ZH]);
    assert!(out.contains("updated   0") && out.contains("files written 0"), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn refetch_ignores_stored_validators_once() {
    let zh = common::zh_site_with_etags().await;
    let setup = Setup::new("http://127.0.0.1:9", &zh.uri(), "");
    run(&setup, &["run", "-q", "--source", ZH]);
    let before = count(&zh).await;
    let (code, out, err) = run(&setup, &["run", "--refetch", "--source", ZH]);
    assert_eq!(code, 0, "{err}");
    let asked = requests_since(&zh, before).await;
    assert_eq!(asked.len(), 1 + 6, "the listing and every stored article: {asked:#?}");
    assert!(
        asked.iter().all(|r| !r.headers.contains_key("if-none-match")),
        "no validators sent"
    );
    assert!(out.contains("updated   0") && out.contains("files written 0"), "{out}");

    let before = count(&zh).await;
    run(&setup, &["run", "-q", "--source", ZH]);
    let asked = requests_since(&zh, before).await;
    assert_eq!(asked.len(), 1, "only once: back to one conditional request");
    assert!(asked[0].headers.contains_key("if-none-match"));
}

#[tokio::test(flavor = "multi_thread")]
async fn snapshot_and_test_catch_a_selector_change_offline() {
    let zh = common::zh_site_with_etags().await;
    let setup = Setup::new("http://127.0.0.1:9", &zh.uri(), "");
    let (code, _, err) = run(&setup, &["snapshot", ZH]);
    assert_eq!(code, 1, "no run yet, so no pages");
    assert!(err.contains("run `feedwright run --source wic-news-zh` first"), "{err}");
    run(&setup, &["run", "-q", "--source", ZH]);

    let before = count(&zh).await;
    let (code, out, err) = run(&setup, &["snapshot", ZH]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("1 listing pages and 6 articles saved"), "{out}");
    let dir = setup.dir.path().join("snapshots").join(ZH);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 1 + 1 + 6, "{names:?}");
    assert!(names.contains(&"expected.json".to_owned()));
    for name in names.iter().filter(|n| *n != "expected.json") {
        assert!(
            (name.starts_with("listing-") || name.starts_with("article-"))
                && name.ends_with(".html")
                && name[..name.len() - 5]
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_'),
            "a safe name from the URL: {name}"
        );
    }
    let expected: Value = serde_json::from_slice(&std::fs::read(dir.join("expected.json")).unwrap()).unwrap();
    let article = &expected["articles"][0];
    for field in [
        "title",
        "published",
        "author",
        "image",
        "body_sha256",
        "body_first",
        "body_last",
    ] {
        assert!(article["found"]["fields"][field].is_string(), "{field}: {article:#}");
    }
    assert_eq!(expected["listing"][0]["found"]["links"].as_array().unwrap().len(), 7);

    let (code, out, err) = run(&setup, &["test"]);
    assert_eq!(
        (code, out.trim()),
        (0, "wic-news-zh: ok (1 listing pages, 6 articles)"),
        "{err}"
    );
    assert_eq!(count(&zh).await, before, "snapshot and test make no request");

    // A selector change shows up as the field it changes, per article, old → new; exit 5.
    edit(&setup, "author = \"#source_baidu\"", "author = \"div.editor\"");
    let (code, out, _) = run(&setup, &["test", ZH]);
    assert_eq!(code, 5, "{out}");
    assert!(out.starts_with("wic-news-zh: 6 differences"), "{out}");
    let line = out.lines().find(|l| l.contains("020951986.shtml")).unwrap();
    assert!(
        line.contains("author: \"") && line.contains("→ \"（责任编辑：陈佳）\""),
        "{line}"
    );
    let help = setup.cmd(&["--help"]).output().unwrap();
    assert!(String::from_utf8_lossy(&help.stdout).contains("  5  `test` found differences"));

    // A file name in expected.json that leaves the folder is refused, not read.
    let text = std::fs::read_to_string(dir.join("expected.json")).unwrap();
    let file = expected["articles"][0]["file"].as_str().unwrap();
    std::fs::write(dir.join("expected.json"), text.replace(file, "../../feedwright.toml")).unwrap();
    let (code, _, err) = run(&setup, &["test", ZH]);
    assert_eq!(code, 1);
    assert!(err.contains("not a plain file name"), "{err}");

    let (code, _, err) = run(&setup, &["test", "no-such-source"]);
    assert_eq!(code, 2, "{err}");
}

/// The disk cost of saved pages, measured on the fixture sites (13 + 6 articles, 3 listing pages):
/// `cargo test --test config_edits -- --ignored --nocapture saved_pages_cost`. Prints, asserts nothing timed.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "a measurement for docs, not a check"]
async fn saved_pages_cost() {
    let en = common::serve_site("wic-en").await;
    let zh = common::serve_site("wic-zh").await;
    let setup = Setup::new(&en.uri(), &zh.uri(), "");
    setup.cmd(&["run", "-q"]).assert().success();
    let conn = rusqlite::Connection::open(setup.state()).unwrap();
    let mut stmt = conn
        .prepare("SELECT kind, count(*), sum(size), sum(length(body)), max(size) FROM pages GROUP BY kind")
        .unwrap();
    let rows: Vec<(String, i64, i64, i64, i64)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let items: i64 = conn.query_row("SELECT count(*) FROM items", [], |r| r.get(0)).unwrap();
    let mut stmt = conn
        .prepare("SELECT size, length(body) FROM pages WHERE kind = 'article' ORDER BY size")
        .unwrap();
    let articles: Vec<(i64, i64)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    println!("article pages (text B, compressed B): {articles:?}");
    println!("items stored: {items}");
    for (kind, n, text, disk, max) in &rows {
        println!(
            "{kind:<8} pages {n:>3}  text {text:>8} B  compressed {disk:>7} B  ratio {:.1}x  largest text {max} B",
            *text as f64 / *disk as f64
        );
    }
    // What the table costs in the file, b-tree pages and overflow included: the file with and without it.
    let size = |p: &std::path::Path| std::fs::metadata(p).unwrap().len();
    let cost = |name: &str, items: i64| {
        let with = setup.dir.path().join(format!("{name}-with.sqlite"));
        let without = setup.dir.path().join(format!("{name}-without.sqlite"));
        conn.execute("VACUUM INTO ?1", [with.to_str().unwrap()]).unwrap();
        let copy = rusqlite::Connection::open(&with).unwrap();
        copy.execute("DELETE FROM pages WHERE kind = 'article'", []).unwrap();
        copy.execute("VACUUM INTO ?1", [without.to_str().unwrap()]).unwrap();
        let extra = size(&with) - size(&without);
        println!(
            "{name}: article pages cost {extra} B in the state file for {items} items: {:.0} B per item, {:.2} MiB per 1,000 items",
            extra as f64 / items as f64,
            extra as f64 / items as f64 * 1000.0 / 1024.0 / 1024.0
        );
    };
    cost("all 19", items);
    // One fixture page is a 2 MB trap (a page of repeated markup); the others are ordinary 6-13 KB pages.
    conn.execute("DELETE FROM pages WHERE size > 1000000", []).unwrap();
    cost("the 18 ordinary", items - 1);
}
