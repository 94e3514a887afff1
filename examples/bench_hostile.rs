//! Measures how the parsing stages cope with hostile article pages (issue 8, items 2 and 3): deep nesting, unclosed
//! formatting elements multiplied by the HTML parser, and the demo's 2 MB live blog.
//!
//! Usage: `cargo run --release --example bench_hostile [-- [--unbounded] [NAME]]`. For each page it prints the page
//! size, the time of the bounded parse alone (`feedwright::html::parse_document`; with `--unbounded`, scraper's
//! plain `Html::parse_document` too, which takes minutes on the deep pages) and of extract + normalize (what the
//! pipeline runs on a blocking thread per article), the nodes of the tree, and the size of the item's sanitized
//! body; then the sizes of the demo's feed files (`feedwright demo`: both sources, the 2 MB live blog among them)
//! with the default `max_content` and with no cap, which is what they were before `max_content` existed. Numbers
//! go to `docs/benchmarks.md`. Not a test: nothing here asserts.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::{TimeZone, Utc};
use feedwright::fetch::{Fetcher, Options};
use feedwright::model::ListedLink;
use feedwright::pipeline::{self, Context};
use feedwright::store::Store;
use feedwright::{demo, extract, normalize};
use url::Url;

/// An article page of the demo's English site with `body` as its `#Content`.
fn page(body: &str) -> String {
    format!(
        "<html><head><title>t</title></head><body><div class=\"lft_art\"><h1>Hostile</h1>\
         <div id=\"Content\"><p>Healthy lead paragraph.</p>{body}</div></div></body></html>"
    )
}

fn nested(depth: usize) -> String {
    page(&format!("{}deep{}", "<div>".repeat(depth), "</div>".repeat(depth)))
}

/// `bold` unclosed `<b id=N>` in a paragraph, then 1,000 `<div>x</div>`: the page has 1,000; with 200 the
/// nesting stays within the depth bound and only the node budget stops the parser's re-opening of them.
fn formatting_bomb(bold: usize) -> String {
    let bold: String = (0..bold).map(|n| format!("<b id={n}>")).collect();
    page(&format!("<p>{bold}{}", "<div>x</div>".repeat(1000)))
}

fn main() {
    let unbounded = std::env::args().any(|a| a == "--unbounded");
    let only = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    let config = feedwright::config::parse(demo::CONFIG, std::path::Path::new(demo::CONFIG_PATH)).unwrap();
    let source = &config.sources[0];
    let live_blog = demo::WIC_EN
        .get_file("2015-12/14/c_47762.htm")
        .unwrap()
        .contents_utf8()
        .unwrap()
        .to_owned();
    let pages: Vec<(&str, String)> = vec![
        ("nested-50000", nested(50_000)),
        ("nested-100000", nested(100_000)),
        ("b1000-div1000", formatting_bomb(1000)),
        ("b200-div1000", formatting_bomb(200)),
        ("live-blog-2mb", live_blog),
    ];
    let url = Url::parse("http://127.0.0.1/2015-12/14/c_1.htm").unwrap();
    let listed = ListedLink {
        url: url.clone(),
        title: None,
        date_text: None,
        feed: None,
    };
    let now = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
    for (name, html) in &pages {
        if only.as_deref().is_some_and(|o| o != *name) {
            continue;
        }
        if unbounded {
            let start = Instant::now();
            let doc = scraper::Html::parse_document(html);
            let took = start.elapsed();
            println!(
                "{name:<15} unbounded parse_document {took:>10.2?} ({} nodes)",
                doc.tree.nodes().count()
            );
        }
        let start = Instant::now();
        let parsed = feedwright::html::parse_document(html);
        let parse = start.elapsed();
        let nodes = parsed.html.tree.nodes().count();
        let (too_deep, truncated) = (parsed.too_deep, parsed.truncated);
        drop(parsed);
        let start = Instant::now();
        let raw = extract::article::parse(html, &url, &source.article, None).article;
        let extracted = start.elapsed();
        let item = normalize::item(&raw, &listed, &source.normalize, now);
        let total = start.elapsed();
        if std::env::args().any(|a| a == "--phases") {
            let body = raw.content_html.as_deref().unwrap_or_default();
            let start = Instant::now();
            let clean = normalize::sanitize::clean(body, &url);
            let cleaned = start.elapsed();
            let start = Instant::now();
            let text = normalize::sanitize::to_text(&normalize::sanitize::cut(&clean, 256 * 1024));
            println!(
                "{name:<15} extract {extracted:.2?} (body {} B), sanitize {cleaned:.2?} (to {} B), text of the cut {:.2?} ({} chars)",
                body.len(),
                clean.len(),
                start.elapsed(),
                text.len()
            );
        }
        let content = item.as_ref().map_or(0, |i| i.content_html.len());
        println!(
            "{name:<15} page {:>9} B  bounded parse {parse:>10.2?} ({nodes} nodes, {too_deep} tags too deep, truncated: {truncated})  extract+normalize {total:>10.2?}  content_html {content} B",
            html.len(),
        );
    }
    if only.is_none() {
        tokio::runtime::Runtime::new().unwrap().block_on(demo_feeds());
    }
}

/// The demo's six feed files, with the default `max_content` and with none.
async fn demo_feeds() {
    for cap in [None, Some(usize::MAX)] {
        let dir = tempfile::tempdir().unwrap();
        let mut config = demo::start(&dir.path().join("feeds")).await.unwrap();
        for source in &mut config.sources {
            if let Some(cap) = cap {
                source.normalize.max_content = cap;
            }
        }
        let s = &config.settings;
        let fetcher = Fetcher::new(
            Options::new(s.user_agent.clone(), s.timeout, s.max_body),
            chrono::Utc::now,
        )
        .unwrap();
        let ctx = Context {
            fetcher,
            store: Arc::new(Mutex::new(Store::in_memory().unwrap())),
        };
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
        for source in &config.sources {
            let report = pipeline::run(&ctx, &config, source, now).await.unwrap();
            let sizes: Vec<String> = report
                .written
                .iter()
                .map(|p| {
                    format!(
                        "{} {} B",
                        p.file_name().unwrap().to_string_lossy(),
                        std::fs::metadata(p).unwrap().len()
                    )
                })
                .collect();
            let label = if cap.is_some() {
                "no max_content"
            } else {
                "max_content 256KiB"
            };
            println!("demo feeds, {label:<18}: {}", sizes.join(", "));
        }
    }
}
