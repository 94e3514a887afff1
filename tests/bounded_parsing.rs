//! Hostile pages against the real binary (issue 8, items 2 and 3): parsing is bounded in depth and nodes, runs off
//! the async runtime, and an item's body is capped by `max_content`. Each test is named after what broke.

mod common;

use std::time::Duration;

use common::{Setup, mount_page, serve_site};
use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A working folder with a config for one source on `site`: a listing at `/news/index.htm` linking every
/// `a.story`, articles with an `h1` and a `#Content`. `extra` is appended to `[settings]`.
fn config(site: &str, extra: &str) -> Setup {
    let setup = Setup::new("http://127.0.0.1:9", "http://127.0.0.1:9", "");
    let text = format!(
        r##"[settings]
output_dir = "feeds"
state = "state/feedwright.sqlite"
respect_robots = false
retries = 0
{extra}

[[source]]
id = "hostile"
title = "Hostile site"
url = "{site}/news/index.htm"

[source.listing]
links = "a.story"

[source.article]
title = "h1"
content = "#Content"
"##
    );
    std::fs::write(setup.config(), text).unwrap();
    setup
}

fn article(title: &str, body: &str) -> Vec<u8> {
    format!("<html><head><title>{title}</title></head><body><h1>{title}</h1><div id=\"Content\"><p>{title}: the lead.</p>{body}</div></body></html>").into_bytes()
}

async fn listing(server: &MockServer, paths: &[&str]) {
    let links: String = paths
        .iter()
        .map(|p| format!("<li><a class=\"story\" href=\"{p}\">{p}</a></li>"))
        .collect();
    mount_page(server, "/news/index.htm", format!("<ul>{links}</ul>").into_bytes()).await;
}

fn items(setup: &Setup) -> Vec<Value> {
    let json: Value = serde_json::from_slice(&setup.read("hostile.json")).unwrap();
    json["items"].as_array().unwrap().clone()
}

fn item<'a>(items: &'a [Value], server: &MockServer, path: &str) -> &'a Value {
    let url = format!("{}{path}", server.uri());
    items
        .iter()
        .find(|i| i["url"] == url.as_str())
        .unwrap_or_else(|| panic!("{url} missing from {items:#?}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_page_nested_100000_deep_no_longer_makes_healthy_articles_time_out() {
    let server = MockServer::start().await;
    let depth = 100_000;
    let deep = article(
        "Deep",
        &format!("{}deep{}", "<div>".repeat(depth), "</div>".repeat(depth)),
    );
    assert!(deep.len() > 1_000_000);
    mount_page(&server, "/deep.htm", deep).await;
    let healthy: Vec<String> = (1..=6).map(|n| format!("/healthy-{n}.htm")).collect();
    for (n, p) in healthy.iter().enumerate() {
        // Answering a moment later, so these requests are in flight while the deep page is parsed.
        Mock::given(method("GET"))
            .and(path(p.as_str()))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_raw(article(&format!("Healthy {n}"), "<p>Fine.</p>"), "text/html")
                    .set_delay(Duration::from_millis(300)),
            )
            .mount(&server)
            .await;
    }
    let mut paths = vec!["/deep.htm"];
    paths.extend(healthy.iter().map(String::as_str));
    listing(&server, &paths).await;

    let setup = config(&server.uri(), "timeout = \"5s\"");
    let out = setup.cmd(&["run"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("timed out"), "{stderr}");
    let items = items(&setup);
    assert_eq!(items.len(), 7, "every healthy article and the deep one: {items:#?}");
    for p in &healthy {
        assert!(
            item(&items, &server, p)["content_html"]
                .as_str()
                .unwrap()
                .contains("Fine.")
        );
    }
    // The deep page is read up to the depth bound, with a warning naming it, not dropped.
    let deep = item(&items, &server, "/deep.htm")["content_html"].as_str().unwrap();
    assert!(deep.contains("Deep: the lead.") && deep.contains("deep"), "{deep:.300}");
    assert!(
        stderr.contains("exceeds the parsing bounds") && stderr.contains(&format!("{}/deep.htm", server.uri())),
        "{stderr}"
    );
}

/// `bold` unclosed `<b id=N>` in a paragraph, then 1,000 `<div>x</div>`: each block closes the paragraph and the
/// HTML parser re-opens every `<b>` inside it.
fn formatting_bomb(bold: usize) -> Vec<u8> {
    let tags: String = (0..bold).map(|n| format!("<b id={n}>")).collect();
    article("Bomb", &format!("<p>{tags}{}", "<div>x</div>".repeat(1000)))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_22kb_page_of_unclosed_b_and_divs_no_longer_becomes_a_19mb_entry() {
    let server = MockServer::start().await;
    let bomb = formatting_bomb(1000);
    assert!(bomb.len() < 25_000);
    mount_page(&server, "/bomb.htm", bomb).await;
    // With fewer <b>s the nesting stays within the depth bound and only the node budget stops the multiplication.
    mount_page(&server, "/bomb-200.htm", formatting_bomb(200)).await;
    mount_page(&server, "/fine.htm", article("Fine", "<p>Nothing odd.</p>")).await;
    listing(&server, &["/bomb.htm", "/bomb-200.htm", "/fine.htm"]).await;

    let setup = config(&server.uri(), "");
    let out = setup.cmd(&["run"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let items = items(&setup);
    assert_eq!(items.len(), 3, "{items:#?}");
    for p in ["/bomb.htm", "/bomb-200.htm"] {
        let content = item(&items, &server, p)["content_html"].as_str().unwrap();
        assert!(content.len() <= 256 * 1024, "{p}: {} bytes", content.len());
        let blocks = content.matches("x</b>").count() + content.matches("xx").count();
        assert!(content.contains("Bomb: the lead.") && blocks > 0, "{p}: {content:.300}");
        assert!(
            stderr.contains("exceeds the parsing bounds") && stderr.contains(&format!("{}{p}", server.uri())),
            "{stderr}"
        );
    }
    // The node budget still leaves more than max_content: cut, with a link to the article.
    let content = item(&items, &server, "/bomb-200.htm")["content_html"].as_str().unwrap();
    let link = format!("<a href=\"{}/bomb-200.htm\" rel=\"noopener noreferrer\">", server.uri());
    assert!(
        content.ends_with(&format!("<p>{link}Continue reading on the site</a></p>")),
        "{}",
        &content[content.len() - 300..]
    );
    // Each feed file holds the capped bodies once (escaped in the XML ones); it was 7 MB per file for one page.
    for ext in ["atom", "rss", "json"] {
        let size = setup.read(&format!("hostile.{ext}")).len();
        assert!(size < 2 * 1024 * 1024, "hostile.{ext} is {size} bytes");
    }
    let state = std::fs::metadata(setup.state()).unwrap().len();
    assert!(state < 2 * 1024 * 1024, "the state database is {state} bytes");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_2mb_live_blog_no_longer_makes_a_2mb_feed() {
    let en = serve_site("wic-en").await;
    let setup = Setup::new(&en.uri(), "http://127.0.0.1:9", "");
    let out = setup.cmd(&["run", "--source", "wic-news"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let json: Value = serde_json::from_slice(&setup.read("wic-news.json")).unwrap();
    let url = format!("{}/2015-12/14/c_47762.htm", en.uri());
    let blog = json["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == url.as_str())
        .unwrap();
    let content = blog["content_html"].as_str().unwrap();
    assert!(
        content.len() <= 256 * 1024 && content.len() > 200 * 1024,
        "{} bytes",
        content.len()
    );
    assert!(
        content.ends_with(&format!(
            "<p><a href=\"{url}\" rel=\"noopener noreferrer\">Continue reading on the site</a></p>"
        )),
        "{}",
        &content[content.len() - 300..]
    );
    assert!(content.contains("Follow our live updates as Wuzhen prepares"));
    assert!(!content.contains("This live blog has now ended"), "the end is cut");
    // The summary is the start of the story, not the link.
    let summary = blog["summary"].as_str().unwrap();
    assert!(summary.starts_with("Follow our live updates"), "{summary}");
    for ext in ["atom", "rss", "json"] {
        let size = setup.read(&format!("wic-news.{ext}")).len();
        assert!(size < 1024 * 1024, "wic-news.{ext} is {size} bytes (was 2.2 MB)");
    }
}
