//! Measures how the parsing stages cope with hostile article pages (issue 8, items 2 and 3): deep nesting, unclosed
//! formatting elements multiplied by the HTML parser, and the demo's 2 MB live blog.
//!
//! Usage: `cargo run --release --example bench_hostile [-- NAME]`. For each page it prints the page size, the time
//! of `Html::parse_document` alone and of extract + normalize (the pipeline's parse step), and the size of the
//! item's sanitized body; numbers go to `docs/benchmarks.md`. Not a test: nothing here asserts.

use std::time::Instant;

use chrono::{TimeZone, Utc};
use feedwright::model::ListedLink;
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

fn formatting_bomb() -> String {
    let bold: String = (0..1000).map(|n| format!("<b id={n}>")).collect();
    page(&format!("<p>{bold}{}", "<div>x</div>".repeat(1000)))
}

fn main() {
    let only = std::env::args().nth(1);
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
        ("b1000-div1000", formatting_bomb()),
        ("live-blog-2mb", live_blog),
    ];
    let url = Url::parse("http://127.0.0.1/2015-12/14/c_1.htm").unwrap();
    let listed = ListedLink {
        url: url.clone(),
        title: None,
        date_text: None,
    };
    let now = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
    for (name, html) in &pages {
        if only.as_deref().is_some_and(|o| o != *name) {
            continue;
        }
        let start = Instant::now();
        let doc = scraper::Html::parse_document(html);
        let parse = start.elapsed();
        let nodes = doc.tree.nodes().count();
        drop(doc);
        let start = Instant::now();
        let raw = extract::article::parse(html, &url, &source.article);
        let item = normalize::item(&raw, &listed, &source.normalize, now);
        let total = start.elapsed();
        let content = item.as_ref().map_or(0, |i| i.content_html.len());
        println!(
            "{name:<15} page {:>9} B  parse_document {:>10.2?} ({nodes} nodes)  extract+normalize {:>10.2?}  content_html {content} B",
            html.len(),
            parse,
            total,
        );
    }
}
