//! The store across runs: pages that change between runs, conditional requests, edits, breakage alarms,
//! notifications, locking, `kill -9` and foreign state files. The real binary against a local server.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{Setup, fixture, mount_site, parse_feed, serve_site};
use serde_json::Value;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const LISTING: &str = "/news/node_35363.htm";

fn json(setup: &Setup, id: &str) -> Value {
    serde_json::from_slice(&setup.read(&format!("{id}.json"))).unwrap()
}

fn item<'a>(feed: &'a Value, suffix: &str) -> Option<&'a Value> {
    feed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"].as_str().unwrap().ends_with(suffix))
}

fn english_listing() -> String {
    String::from_utf8(fixture("wic-en", LISTING)).unwrap()
}

/// Serves `body` at `path` ahead of the fixture mocks.
async fn override_page(server: &MockServer, at: &str, body: String) {
    Mock::given(method("GET"))
        .and(path(at))
        .respond_with(ResponseTemplate::new(200).set_body_raw(body.into_bytes(), "text/html"))
        .with_priority(1)
        .mount(server)
        .await;
}

fn without_story(listing: &str, article: &str) -> String {
    let at = listing.find(article).unwrap();
    let start = listing[..at].rfind("<li>").unwrap();
    let end = at + listing[at..].find("</li>").unwrap() + "</li>".len();
    format!("{}{}", &listing[..start], &listing[end..])
}

fn with_new_story(listing: &str) -> String {
    listing.replacen(
        "<div class=\"tw3_01_2\">\n      <ul>",
        "<div class=\"tw3_01_2\">\n      <ul>\n      <li><h4><a href=\"/2015-12/18/c_47901.htm\">Conference closes with Wuzhen Declaration</a></h4><span class=\"tw3_01_2_t\"><b>2015-12-18</b></span></li>",
        1,
    )
}

fn new_article() -> String {
    String::from_utf8(fixture("wic-en", "/2015-12/17/c_47850.htm"))
        .unwrap()
        .replace(
            "Experts call for global rules at cyber security sub-forum",
            "Conference closes with Wuzhen Declaration",
        )
        .replace(
            "Cyber attacks do not respect borders",
            "The Wuzhen Declaration was read out",
        )
}

#[tokio::test(flavor = "multi_thread")]
async fn new_edited_vanished_and_broken_between_runs() {
    let en = serve_site("wic-en").await;
    let setup = Setup::new(&en.uri(), "http://127.0.0.1:9", "");
    setup.cmd(&["run", "--source", "wic-news"]).assert().success();
    let first = json(&setup, "wic-news");
    let undated = item(&first, "/specials/c_47999.htm").unwrap()["date_published"].clone();
    let count = first["items"].as_array().unwrap().len();

    // Run 2: a new story on top, one story edited, one gone from the listing.
    en.reset().await;
    mount_site(&en, "wic-en").await;
    override_page(
        &en,
        LISTING,
        with_new_story(&without_story(&english_listing(), "c_47790.htm")),
    )
    .await;
    override_page(&en, "/2015-12/18/c_47901.htm", new_article()).await;
    let edited = String::from_utf8(fixture("wic-en", "/2015-12/16/c_47812.htm"))
        .unwrap()
        .replace("Two years ago few people", "Two years ago hardly anyone");
    override_page(&en, "/2015-12/16/c_47812.htm", edited).await;
    tokio::time::sleep(Duration::from_millis(1100)).await; // so the edit time differs from the first run's
    let out = setup.cmd(&["run", "--source", "wic-news"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("new   1") && stdout.contains("updated   1"), "{stdout}");

    let second = json(&setup, "wic-news");
    let items = second["items"].as_array().unwrap();
    assert_eq!(items.len(), count + 1, "one new item, nothing lost, nothing doubled");
    assert!(item(&second, "/2015-12/18/c_47901.htm").is_some(), "the new story");
    assert!(
        item(&second, "/2015-12/15/c_47790.htm").is_some(),
        "a story that left the listing stays"
    );
    let edit = item(&second, "/2015-12/16/c_47812.htm").unwrap();
    assert!(edit["content_html"].as_str().unwrap().contains("hardly anyone"));
    assert!(
        edit["date_modified"].is_string(),
        "an edit bumps date_modified: {edit:#}"
    );
    assert_eq!(
        edit["date_published"],
        item(&first, "/2015-12/16/c_47812.htm").unwrap()["date_published"]
    );
    assert_eq!(
        item(&second, "/specials/c_47999.htm").unwrap()["date_published"],
        undated,
        "first-seen is stored once"
    );
    let atom = parse_feed(&setup.read("wic-news.atom"));
    let entry = atom.entries.iter().find(|e| e.id.ends_with("c_47812.htm")).unwrap();
    assert!(entry.updated.unwrap() > entry.published.unwrap());

    // Run 3: a redesign; the selectors match nothing. The feed stays as it was.
    let before: Vec<Vec<u8>> = ["atom", "rss", "json"]
        .iter()
        .map(|e| setup.read(&format!("wic-news.{e}")))
        .collect();
    en.reset().await;
    mount_site(&en, "wic-en").await;
    override_page(&en, LISTING, english_listing().replace("tw3_01_2", "news-list-v2")).await;
    let out = setup.cmd(&["run", "--source", "wic-news"]).output().unwrap();
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no article links"));
    let after: Vec<Vec<u8>> = ["atom", "rss", "json"]
        .iter()
        .map(|e| setup.read(&format!("wic-news.{e}")))
        .collect();
    assert_eq!(before, after, "a broken source keeps its last good feed");

    let out = setup.cmd(&["status", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(4), "status says something is broken");
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    let s = &status[0];
    assert_eq!(
        (s["source"].as_str(), s["health"].as_str()),
        (Some("wic-news"), Some("broken"))
    );
    assert_eq!(s["consecutive_failures"], 1);
    assert_eq!(s["items_in_feed"], count + 1);
    assert!(s["reason"].as_str().unwrap().contains("no article links"));
    let table = setup.cmd(&["status"]).output().unwrap();
    assert!(String::from_utf8_lossy(&table.stdout).contains("broken"));
}

/// Moves every remembered failure `ago` into the past, as if that much time had passed.
fn age_failures(setup: &Setup, ago: &str) {
    let conn = rusqlite::Connection::open(setup.state()).unwrap();
    let moved = conn
        .execute(
            &format!(
                "UPDATE failed_links SET last_failed = strftime('%Y-%m-%dT%H:%M:%S+00:00', last_failed, '-{ago}')"
            ),
            [],
        )
        .unwrap();
    assert!(moved > 0, "there were failures to age");
}

/// Mounts `site` with ETags: a request carrying the current ETag gets 304.
async fn mount_with_etags(server: &MockServer, pages: &[(&str, Vec<u8>)]) {
    for (at, body) in pages {
        let etag = format!(
            "\"{:x}\"",
            body.len() * 31 + body.iter().map(|&b| b as usize).sum::<usize>()
        );
        Mock::given(method("GET"))
            .and(path(*at))
            .and(header("if-none-match", etag.as_str()))
            .respond_with(ResponseTemplate::new(304))
            .with_priority(1)
            .mount(server)
            .await;
        Mock::given(method("GET"))
            .and(path(*at))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("ETag", etag.as_str())
                    .set_body_raw(body.clone(), "text/html"),
            )
            .with_priority(2)
            .mount(server)
            .await;
    }
}

fn zh_pages() -> Vec<(&'static str, Vec<u8>)> {
    let exp = common::expected("wic-zh");
    let mut pages = vec![("/web15/news/index.shtml", fixture("wic-zh", "/web15/news/index.shtml"))];
    for a in exp["articles"].as_array().unwrap() {
        let p: &'static str = Box::leak(a["path"].as_str().unwrap().to_owned().into_boxed_str());
        pages.push((p, fixture("wic-zh", p)));
    }
    pages
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unchanged_site_costs_one_conditional_request_and_rewrites_nothing() {
    let zh = MockServer::start().await;
    mount_with_etags(&zh, &zh_pages()).await;
    let setup = Setup::new("http://127.0.0.1:9", &zh.uri(), "");
    setup.cmd(&["run", "-q", "--source", "wic-news-zh"]).assert().success();
    let cold = zh.received_requests().await.unwrap().len();
    let stamp = |p: &Path| {
        (
            std::fs::read(p).unwrap(),
            std::fs::metadata(p).unwrap().modified().unwrap(),
        )
    };
    let files: Vec<_> = ["atom", "rss", "json"]
        .iter()
        .map(|e| setup.feed(&format!("wic-news-zh.{e}")))
        .collect();
    let before: Vec<_> = files.iter().map(|p| stamp(p)).collect();

    tokio::time::sleep(Duration::from_millis(50)).await;
    let out = setup.cmd(&["run", "--source", "wic-news-zh"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let requests = zh.received_requests().await.unwrap();
    assert_eq!(
        requests[..cold]
            .iter()
            .filter(|r| r.url.path() == "/robots.txt")
            .count(),
        1,
        "the cold run asked for robots.txt"
    );
    // robots.txt is remembered for a day, so the warm run asks for nothing but the listing.
    let warm = &requests[cold..];
    assert_eq!(warm.len(), 1, "only the listing, conditionally: {warm:#?}");
    assert!(warm[0].headers.contains_key("if-none-match"));
    assert!(String::from_utf8_lossy(&out.stdout).contains("files written 0"));

    // The article that 404ed is retried once its backoff is over, although the listing answers 304.
    age_failures(&setup, "1 hour");
    let before_retry = zh.received_requests().await.unwrap().len();
    setup.cmd(&["run", "-q", "--source", "wic-news-zh"]).assert().success();
    let retry: Vec<String> = zh.received_requests().await.unwrap()[before_retry..]
        .iter()
        .map(|r| r.url.path().to_owned())
        .collect();
    let missing = common::expected("wic-zh")["missing"][0].as_str().unwrap().to_owned();
    assert_eq!(
        retry,
        ["/web15/news/index.shtml".to_owned(), missing],
        "the listing (304), then the retry"
    );
    assert_eq!(
        files.iter().map(|p| stamp(p)).collect::<Vec<_>>(),
        before,
        "bytes and mtime unchanged"
    );

    // The listing changes (a new ETag) but no article did: the known articles answer 304 and nothing is rewritten.
    zh.reset().await;
    let mut pages = zh_pages();
    pages[0].1.extend_from_slice(b"<!-- changed -->");
    mount_with_etags(&zh, &pages).await;
    setup.cmd(&["run", "-q", "--source", "wic-news-zh"]).assert().success();
    let requests = zh.received_requests().await.unwrap();
    let missing = common::expected("wic-zh")["missing"].clone();
    let rechecks: Vec<_> = requests
        .iter()
        .filter(|r| !missing.as_array().unwrap().iter().any(|m| m == r.url.path()))
        .filter(|r| r.url.path() != "/robots.txt")
        .collect();
    assert!(rechecks.len() > 1);
    assert!(
        rechecks.iter().all(|r| r.headers.contains_key("if-none-match")),
        "re-checks are conditional"
    );
    assert_eq!(files.iter().map(|p| stamp(p)).collect::<Vec<_>>(), before);
}

#[tokio::test(flavor = "multi_thread")]
async fn events_reach_webhooks_and_commands_and_survive_a_failing_one() {
    let zh = serve_site("wic-zh").await;
    let hook = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(3)
        .with_priority(1)
        .mount(&hook)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(204))
        .with_priority(2)
        .mount(&hook)
        .await;
    let setup = Setup::new("http://127.0.0.1:9", &zh.uri(), "");
    let log = setup.dir.path().join("events.jsonl");
    let mut config = std::fs::read_to_string(setup.config()).unwrap();
    config.push_str(&format!(
        "\n[[notify]]\nwebhook = \"{}/hook\"\n\n[[notify]]\ncommand = [\"sh\", \"-c\", \"cat >> '{}'; echo >> '{}'\"]\nevents = [\"new_items\", \"broken\"]\n",
        hook.uri(),
        log.display(),
        log.display()
    ));
    std::fs::write(setup.config(), config).unwrap();

    // Run 1: the webhook fails all its attempts; the run does not, and the command gets the event.
    setup.cmd(&["run", "-q", "--source", "wic-news-zh"]).assert().success();
    let lines = std::fs::read_to_string(&log).unwrap();
    let event: Value = serde_json::from_str(lines.lines().next().unwrap()).unwrap();
    assert_eq!(event["event"], "new_items");
    assert_eq!(event["source"], "wic-news-zh");
    assert_eq!(event["items"].as_array().unwrap().len(), 6);
    assert_eq!(hook.received_requests().await.unwrap().len(), 3);

    // Run 2: the listing is gone; the kept new_items event and the new broken event reach the webhook.
    zh.reset().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&zh)
        .await;
    setup.cmd(&["run", "-q", "--source", "wic-news-zh"]).assert().code(4);
    let posted: Vec<Value> = hook.received_requests().await.unwrap()[3..]
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert_eq!(
        posted.iter().map(|e| e["event"].as_str().unwrap()).collect::<Vec<_>>(),
        ["new_items", "broken"]
    );
    assert_eq!(posted[0], event, "the same event, delivered late");

    // Run 3: back; the webhook hears it recovered, the command (not subscribed to that) does not.
    zh.reset().await;
    mount_site(&zh, "wic-zh").await;
    setup.cmd(&["run", "-q", "--source", "wic-news-zh"]).assert().success();
    let last: Value = serde_json::from_slice(&hook.received_requests().await.unwrap().last().unwrap().body).unwrap();
    assert_eq!(last["event"], "recovered");
    let kinds: Vec<String> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["event"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(kinds, ["new_items", "broken"]);
}

#[test]
fn a_second_run_waits_for_the_lock_then_says_why_it_gave_up() {
    let setup = Setup::new("http://127.0.0.1:9", "http://127.0.0.1:9", "lock_timeout = \"1s\"");
    std::fs::create_dir_all(setup.state().parent().unwrap()).unwrap();
    let lock = std::fs::File::create(setup.state().with_extension("lock")).unwrap();
    lock.lock().unwrap();
    let out = setup.cmd(&["run"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("another feedwright run holds"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!setup.state().exists(), "nothing was touched");
}

#[test]
fn a_foreign_state_file_is_refused_and_left_alone() {
    let setup = Setup::new("http://127.0.0.1:9", "http://127.0.0.1:9", "");
    std::fs::create_dir_all(setup.state().parent().unwrap()).unwrap();
    let garbage = b"SQLite format 2? no: a spreadsheet someone saved here\n".repeat(200);
    std::fs::write(setup.state(), &garbage).unwrap();
    let out = setup.cmd(&["run"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a feedwright state database"));
    assert_eq!(std::fs::read(setup.state()).unwrap(), garbage);
}

/// Kills the binary at many moments of runs against a slow server. After every kill the database passes SQLite's
/// integrity check and opens, and each feed file is absent or complete; the last run finishes the work.
#[tokio::test(flavor = "multi_thread")]
async fn kill_9_at_any_moment_loses_nothing() {
    let zh = MockServer::start().await;
    for (at, body) in zh_pages() {
        Mock::given(method("GET"))
            .and(path(at))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_raw(body, "text/html")
                    .set_delay(Duration::from_millis(40)),
            )
            .mount(&zh)
            .await;
    }
    let setup = Setup::new("http://127.0.0.1:9", &zh.uri(), "concurrency = 1");
    let bin = assert_cmd::cargo::cargo_bin("feedwright");
    let mut published = 0;
    for step in 0..12u64 {
        let mut child = std::process::Command::new(&bin)
            .args([
                "--config",
                setup.config().to_str().unwrap(),
                "run",
                "-q",
                "--source",
                "wic-news-zh",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(15 + step * 23)).await;
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();

        if setup.state().exists() {
            let conn = rusqlite::Connection::open(setup.state()).unwrap();
            let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
            assert_eq!(check, "ok", "after a kill at step {step}");
            drop(conn);
            feedwright::store::Store::open(&feedwright::store::Location::File(setup.state())).unwrap();
        }
        for ext in ["atom", "rss", "json"] {
            if let Ok(bytes) = std::fs::read(setup.feed(&format!("wic-news-zh.{ext}"))) {
                let feed = parse_feed(&bytes);
                assert!(feed.entries.len() >= published, "a feed never shrinks (step {step})");
                published = published.max(feed.entries.len());
            }
        }
        let leftovers: Vec<_> = std::fs::read_dir(setup.dir.path().join("feeds"))
            .map(|d| {
                d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        assert!(
            leftovers
                .iter()
                .all(|n: &String| !n.ends_with(".tmp") || n.starts_with('.')),
            "{leftovers:?}"
        );
    }
    setup.cmd(&["run", "-q", "--source", "wic-news-zh"]).assert().success();
    let feed = json(&setup, "wic-news-zh");
    let ids: Vec<&str> = feed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 6, "{ids:#?}");
}

/// 15 of 15 SIGKILLs at the publish moment used to leave a `.NAME.PID.tmp` that nothing removed. The next run,
/// holding the state lock, removes those of its own feeds and OPML, and nothing that merely looks like them.
#[tokio::test(flavor = "multi_thread")]
async fn a_kill_during_publish_leaves_no_temp_file_after_the_next_run() {
    let zh = serve_site("wic-zh").await;
    let setup = Setup::new("http://127.0.0.1:9", &zh.uri(), "");
    let feeds = setup.dir.path().join("feeds");
    std::fs::create_dir_all(&feeds).unwrap();
    let leftovers = [
        ".wic-news-zh.atom.31337.tmp",
        ".wic-news.json.7.tmp",
        ".index.opml.123456.tmp",
    ];
    for name in leftovers {
        std::fs::write(feeds.join(name), vec![b'<'; 512 << 10]).unwrap();
    }
    let look_alikes = [
        ".wic-news-zh.atom.tmp",
        ".wic-news-zh.atom.31337.tmp.orig",
        ".wic-news-zh.atom.x1.tmp",
        ".someone-else.atom.1.tmp",
        "wic-news-zh.atom.1.tmp",
        "README.txt",
    ];
    for name in look_alikes {
        std::fs::write(feeds.join(name), b"not ours").unwrap();
    }
    setup.cmd(&["run", "-q", "--source", "wic-news-zh"]).assert().success();
    for name in leftovers {
        assert!(!feeds.join(name).exists(), "{name} was left behind");
    }
    for name in look_alikes {
        assert_eq!(
            std::fs::read(feeds.join(name)).unwrap(),
            b"not ours",
            "{name} must survive"
        );
    }
    assert!(feeds.join("wic-news-zh.atom").exists());
}

/// A listed article that keeps failing (the fixture's 404) is remembered, so a listing page that brings nothing
/// else new does not send the run on to the next page.
#[tokio::test(flavor = "multi_thread")]
async fn a_failing_link_is_not_news_so_a_routine_run_reads_one_listing_page() {
    let en = serve_site("wic-en").await;
    let setup = Setup::new(&en.uri(), "http://127.0.0.1:9", "");
    setup.cmd(&["run", "-q", "--source", "wic-news"]).assert().success();
    let page_two = "/news/node_35363_2.htm";
    let reads = |requests: &[wiremock::Request]| requests.iter().filter(|r| r.url.path() == page_two).count();
    let cold = en.received_requests().await.unwrap();
    assert_eq!(reads(&cold), 1, "the cold run reads page 2");

    // The listing page changes (a new "most popular" block, say) but lists no new story.
    override_page(
        &en,
        LISTING,
        english_listing().replace("</body>", "<!-- sidebar refreshed --></body>"),
    )
    .await;
    setup.cmd(&["run", "-q", "--source", "wic-news"]).assert().success();
    let warm = en.received_requests().await.unwrap();
    assert_eq!(reads(&warm[cold.len()..]), 0, "page 2 is not read again");
    let missing = common::expected("wic-en")["missing"][0].as_str().unwrap().to_owned();
    let tries = |requests: &[wiremock::Request]| requests.iter().filter(|r| r.url.path() == missing).count();
    assert_eq!(tries(&warm[cold.len()..]), 0, "the dead article waits out its backoff");

    // An hour later it is due again, and tried once.
    age_failures(&setup, "1 hour");
    setup.cmd(&["run", "-q", "--source", "wic-news"]).assert().success();
    let later = en.received_requests().await.unwrap();
    assert_eq!(tries(&later[warm.len()..]), 1);
}
