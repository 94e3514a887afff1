//! A feed from any site: the commands that need no hand-written selectors, run as a user runs them (the real
//! binary against the fixture sites on 127.0.0.1).
//!
//! `preview --article URL --json` is a contract outside benchmarks read: exactly one object, fixed keys, each value
//! a string or null but `tags` (an array of strings, empty when the page names none), exit 0 even when fields are missing and 1 when the page cannot be fetched. `preview URL` works
//! without a config, `init` writes a source that `check` accepts and `preview ID` reads the same articles from, and
//! `preview ID --explain` says what each selector matched. Last, the conference editions with nothing configured
//! but their URL (and time zone, which no page states) come out with title, date and clean body right on every
//! article but at most two.

mod common;

use std::collections::BTreeSet;

use assert_cmd::Command;
use common::{Setup, expected, mount_page, parse_feed, serve_site};
use serde_json::Value;

fn feedwright(dir: &std::path::Path, args: &[&str]) -> Command {
    let mut cmd = Command::cargo_bin("feedwright").unwrap();
    cmd.current_dir(dir)
        .arg("--config")
        .arg(dir.join("feedwright.toml"))
        .args(args)
        .env_remove("FEEDWRIGHT_LOG")
        .env_remove("FEEDWRIGHT_CONFIG");
    cmd
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn keys(v: &Value) -> BTreeSet<&str> {
    v.as_object().unwrap().keys().map(String::as_str).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn preview_article_json_is_one_object_with_the_documented_keys() {
    let en = serve_site("wic-en").await;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("{}/2015-12/16/c_47822.htm", en.uri());
    let out = feedwright(dir.path(), &["preview", "--article", &url, "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let text = stdout(&out);
    assert_eq!(text.trim_end().lines().count(), 1, "one object on one line: {text}");
    let object: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        keys(&object),
        BTreeSet::from([
            "url",
            "title",
            "published",
            "author",
            "image",
            "content_html",
            "tags",
            "provenance"
        ])
    );
    assert_eq!(
        keys(&object["provenance"]),
        BTreeSet::from(["title", "published", "author", "image", "content_html", "tags"])
    );
    let tags = object["tags"].as_array().expect("tags is an array");
    assert!(tags.iter().all(Value::is_string), "{tags:?}");
    for (key, value) in object
        .as_object()
        .unwrap()
        .iter()
        .chain(object["provenance"].as_object().unwrap())
    {
        if key != "provenance" && key != "tags" {
            assert!(value.is_string() || value.is_null(), "{key} is {value}");
        }
    }
    assert_eq!(object["url"], url);
    assert_eq!(
        object["title"],
        "President Xi urges to build a community of shared future in cyberspace"
    );
    let published = object["published"].as_str().unwrap();
    assert!(chrono::DateTime::parse_from_rfc3339(published).is_ok(), "{published}");
    assert!(published.starts_with("2015-12-16"), "{published}");
    let body = object["content_html"].as_str().unwrap();
    assert!(body.contains("community of shared future"), "{body}");
    assert!(!body.contains("<script") && !body.contains("onclick"), "{body}");
    assert!(
        object["image"].as_str().unwrap().starts_with("http"),
        "absolute: {}",
        object["image"]
    );
    assert!(object["provenance"]["title"].is_string() && object["provenance"]["content_html"].is_string());
}

#[tokio::test(flavor = "multi_thread")]
async fn preview_article_json_gives_the_pages_tags_and_where_they_came_from() {
    let server = wiremock::MockServer::start().await;
    mount_page(&server, "/a.htm", common::fixture("feeds", "tagged-a.htm")).await;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("{}/a.htm", server.uri());
    let out = feedwright(dir.path(), &["preview", "--article", &url, "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let object: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        object["tags"],
        serde_json::json!(["World", "Internet", "Governance", "Wuzhen"])
    );
    assert_eq!(object["provenance"]["tags"], "json-ld");

    let out = feedwright(dir.path(), &["preview", "--article", &url])
        .output()
        .unwrap();
    let table = stdout(&out);
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("tags") && l.contains("json-ld") && l.contains("World · Internet")),
        "{table}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn preview_article_json_exits_0_with_nulls_when_fields_are_missing_and_1_when_unreachable() {
    let server = wiremock::MockServer::start().await;
    mount_page(
        &server,
        "/empty.htm",
        b"<html><head></head><body><nav><a href='/'>Home</a></nav></body></html>".to_vec(),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("{}/empty.htm", server.uri());
    let out = feedwright(dir.path(), &["preview", "--article", &url, "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let object: Value = serde_json::from_str(&stdout(&out)).unwrap();
    for key in ["title", "published", "author", "image", "content_html"] {
        assert!(object[key].is_null(), "{key}: {}", object[key]);
        assert!(object["provenance"][key].is_null(), "provenance.{key}");
    }
    assert_eq!(object["tags"], serde_json::json!([]), "an empty array, not null");
    assert!(object["provenance"]["tags"].is_null());

    let missing = format!("{}/nothing-here.htm", server.uri());
    let out = feedwright(dir.path(), &["preview", "--article", &missing, "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "nothing on stdout: {}", stdout(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("nothing-here.htm") && stderr.contains("404"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn preview_url_needs_no_config_and_says_where_each_field_came_from() {
    let zh = serve_site("wic-zh").await;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("{}/web15/news/index.shtml", zh.uri());
    let out = feedwright(dir.path(), &["preview", &url]).output().unwrap();
    let text = stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("第二届世界互联网大会在乌镇开幕"), "{text}");
    assert!(text.contains("from: title "), "{text}");
    assert!(
        text.contains("+08:00"),
        "a GBK page is read in Beijing time without a configured zone: {text}"
    );
    assert!(!dir.path().join("feedwright.toml").exists() && std::fs::read_dir(dir.path()).unwrap().next().is_none());
}

/// The article URLs `preview` lists, in its order.
fn previewed(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.starts_with("20"))
        .filter_map(|l| l.split_whitespace().last().map(str::to_owned))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn init_appends_a_source_that_check_accepts_and_preview_reads_alike() {
    let zh = serve_site("wic-zh").await;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("{}/web15/news/index.shtml", zh.uri());
    let out = feedwright(dir.path(), &["init", &url, "--id", "zh"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let config = std::fs::read_to_string(dir.path().join("feedwright.toml")).unwrap();
    assert!(config.contains("[[source]]\nid = \"zh\""), "{config}");
    assert!(config.contains("timezone = \"Asia/Shanghai\""), "{config}");
    assert!(config.contains("# title:"), "a comment per field: {config}");
    feedwright(dir.path(), &["check"]).assert().success();

    let configured = stdout(&feedwright(dir.path(), &["preview", "zh"]).output().unwrap());
    let automatic = stdout(&feedwright(dir.path(), &["preview", &url]).output().unwrap());
    assert!(!previewed(&configured).is_empty(), "{configured}");
    assert_eq!(previewed(&configured), previewed(&automatic));

    // A second source is appended; the first stays byte for byte.
    let out = feedwright(dir.path(), &["init", &url, "--id", "zh2"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let after = std::fs::read_to_string(dir.path().join("feedwright.toml")).unwrap();
    assert!(after.starts_with(&config) && after.contains("id = \"zh2\""));
    let again = feedwright(dir.path(), &["init", &url, "--id", "zh"]).output().unwrap();
    assert_eq!(again.status.code(), Some(2), "an id in use is a usage error");
}

/// `bytes` with `<link rel=alternate>` to `/feeds/rss2.xml` put right after `<head>`.
fn advertising(bytes: &[u8]) -> Vec<u8> {
    let at = bytes.windows(6).position(|w| w == b"<head>").unwrap() + 6;
    let link = b"\n<link rel=\"alternate\" type=\"application/rss+xml\" title=\"News\" href=\"/feeds/rss2.xml\" />";
    [&bytes[..at], &link[..], &bytes[at..]].concat()
}

#[tokio::test(flavor = "multi_thread")]
async fn init_proposes_the_feed_a_listing_advertises_and_chooses_it_when_the_listing_has_no_links() {
    let server = serve_site("wic-zh").await;
    let rss = String::from_utf8(common::fixture("feeds", "rss2.xml"))
        .unwrap()
        .replace("http://SERVER", &server.uri());
    wiremock::Mock::given(wiremock::matchers::path("/feeds/rss2.xml"))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_raw(rss, "application/rss+xml"))
        .mount(&server)
        .await;
    let listing = advertising(&common::fixture("wic-zh", "web15/news/index.shtml"));
    mount_page(&server, "/web15/news/advertised.shtml", listing).await;
    let empty = advertising(b"<html><head><title>WIC</title></head><body><p>Welcome.</p></body></html>");
    mount_page(&server, "/welcome.htm", empty).await;
    let feed_url = format!("{}/feeds/rss2.xml", server.uri());

    // Links on the listing: the listing is the source, the feed the commented alternative.
    let dir = tempfile::tempdir().unwrap();
    let url = format!("{}/web15/news/advertised.shtml", server.uri());
    let out = feedwright(dir.path(), &["init", &url, "--id", "zh"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout(&out).contains(&format!(
        "The site advertises a feed: {feed_url} (a [[source]] reading it"
    )));
    let config = std::fs::read_to_string(dir.path().join("feedwright.toml")).unwrap();
    assert!(config.contains(&format!("\nurl = \"{url}\"\n")), "{config}");
    assert!(config.contains(&format!("#   feed = \"{feed_url}\"\n")), "{config}");
    assert!(
        config.contains("summaries only") && config.contains("#   full_text = true"),
        "{config}"
    );
    feedwright(dir.path(), &["check"]).assert().success();

    // No links: the feed is the source, with full_text since its items are summaries.
    let url = format!("{}/welcome.htm", server.uri());
    let out = feedwright(dir.path(), &["init", &url, "--id", "wic"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout(&out).contains("reading the feed"), "{}", stdout(&out));
    let after = std::fs::read_to_string(dir.path().join("feedwright.toml")).unwrap();
    assert!(after.starts_with(&config));
    let block = &after[config.len()..];
    assert!(block.contains(&format!("\nfeed = \"{feed_url}\"\n")), "{block}");
    assert!(
        block.contains("\nfull_text = true\n"),
        "its items are summaries: {block}"
    );
    assert!(!block.contains("\nurl = "), "{block}");
    feedwright(dir.path(), &["check"]).assert().success();
}

#[tokio::test(flavor = "multi_thread")]
async fn preview_explain_shows_what_each_selector_matched() {
    let en = serve_site("wic-en").await;
    let zh = serve_site("wic-zh").await;
    let setup = Setup::new(&en.uri(), &zh.uri(), "");
    let config = std::fs::read_to_string(setup.config()).unwrap();
    let links = expected("wic-en")["selectors"]["links"].as_str().unwrap().to_owned();
    // The redesign users hit: the headline moved from h4 to h5, and the selector silently found nothing.
    let broken = config.replacen(&format!("links = \"{links}\""), "links = \"h5 > a\"", 1);
    assert_ne!(broken, config);
    std::fs::write(setup.config(), broken).unwrap();
    let out = setup.cmd(&["preview", "wic-news", "--explain"]).output().unwrap();
    let text = stdout(&out);
    let line = text
        .lines()
        .find(|l| l.contains("listing.links"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(line.contains(" 0 matches") && line.contains("h5 > a"), "{line}");
    assert!(text.contains("listing.item"), "{text}");
}

/// The conference editions with only their URL: every article's title, date and clean body right but at most two.
#[tokio::test(flavor = "multi_thread")]
async fn the_conference_editions_come_out_right_with_no_selectors() {
    for (site, listing) in [
        ("wic-en", "/news/node_35363.htm"),
        ("wic-zh", "/web15/news/index.shtml"),
    ] {
        let server = serve_site(site).await;
        let dir = tempfile::tempdir().unwrap();
        let config = format!(
            "[settings]\noutput_dir = \"feeds\"\nstate = \"state.sqlite\"\n\n[[source]]\nid = \"s\"\ntitle = \"S\"\n\
             url = \"{}{listing}\"\ntimezone = \"Asia/Shanghai\"\nmax_content = \"4MiB\"\n",
            server.uri()
        );
        std::fs::write(dir.path().join("feedwright.toml"), config).unwrap();
        let out = feedwright(dir.path(), &["run"]).output().unwrap();
        assert!(
            matches!(out.status.code(), Some(0 | 4)),
            "{site}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let feed = parse_feed(&std::fs::read(dir.path().join("feeds/s.atom")).unwrap());
        let want = expected(site);
        let mut wrong = Vec::new();
        let mut checked = 0;
        for article in want["articles"].as_array().unwrap() {
            let path = article["canonical_path"].as_str().unwrap();
            let Some(entry) = feed
                .entries
                .iter()
                .find(|e| e.links.iter().any(|l| l.href.ends_with(path)))
            else {
                wrong.push(format!("{path}: not in the feed"));
                continue;
            };
            checked += 1;
            let title = entry.title.as_ref().map(|t| t.content.clone()).unwrap_or_default();
            if title != article["title"].as_str().unwrap() {
                wrong.push(format!("{path}: title {title:?}"));
            }
            if let Some(date) = article["published"].as_str() {
                let got = entry.published.map(|d| d.to_rfc3339()).unwrap_or_default();
                let want = chrono::DateTime::parse_from_rfc3339(date)
                    .unwrap()
                    .to_utc()
                    .to_rfc3339();
                if got != want {
                    wrong.push(format!("{path}: published {got}, expected {want}"));
                }
            }
            let body = entry.content.as_ref().and_then(|c| c.body.clone()).unwrap_or_default();
            let text = body.split_whitespace().collect::<Vec<_>>().join(" ");
            let missing: Vec<&str> = article["body_contains"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(Value::as_str)
                .filter(|p| !text.contains(&p.split_whitespace().collect::<Vec<_>>().join(" ")))
                .collect();
            let present: Vec<&str> = article["body_excludes"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(Value::as_str)
                .filter(|p| body.contains(p))
                .collect();
            if !missing.is_empty() || !present.is_empty() {
                wrong.push(format!("{path}: body lacks {missing:?}, has {present:?}"));
            }
        }
        println!("{site}: {checked} articles checked, {} wrong: {wrong:#?}", wrong.len());
        assert!(
            checked >= want["articles"].as_array().unwrap().len() - 2,
            "{site}: {wrong:#?}"
        );
        assert!(wrong.len() <= 2, "{site}: {wrong:#?}");
    }
}

/// A story split over two pages (`c_…_2.htm`, a 下一页 pager) used to end at its first page, with the pager in the
/// body. Both pages are read now, joined in order, and the pager is gone.
#[tokio::test(flavor = "multi_thread")]
async fn a_story_split_over_two_pages_is_read_whole_without_its_pager() {
    let server = serve_site("portal").await;
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "[settings]\noutput_dir = \"feeds\"\nstate = \"state.sqlite\"\n\n[[source]]\nid = \"portal\"\ntitle = \"P\"\n\
         url = \"{}/listing.html\"\n",
        server.uri()
    );
    std::fs::write(dir.path().join("feedwright.toml"), config).unwrap();
    let out = feedwright(dir.path(), &["run"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let feed: Value = serde_json::from_slice(&std::fs::read(dir.path().join("feeds/portal.json")).unwrap()).unwrap();
    let want = expected("portal");
    let story = &want["articles"][0];
    let path = story["path"].as_str().unwrap();
    let item = feed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["url"].as_str().unwrap().ends_with(path))
        .unwrap_or_else(|| panic!("{path} in {feed}"));
    let body = item["content_html"].as_str().unwrap();
    let expected_body = story["body"].as_str().unwrap();
    let (first, last) = (
        expected_body.split_whitespace().next().unwrap(),
        expected_body.split_whitespace().last().unwrap(),
    );
    assert!(
        body.contains(first) && body.contains(last),
        "both pages, in order: {body}"
    );
    assert!(body.find(first) < body.find(last));
    assert!(
        !body.contains("下一页") && !body.contains("_2.htm"),
        "the pager is cut: {body}"
    );
    assert_eq!(item["date_published"], story["published"].as_str().unwrap());
    assert_eq!(item["title"], story["title"]);
}
