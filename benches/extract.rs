//! Automatic extraction measured on a folder of saved pages in the layout of the Readability.js test pages
//! (`pages/<name>/source.html`, `expected.html`, `expected-metadata.json`): each page goes through
//! [`feedwright::extract::article::parse`] with no selector at all, as a source without rules would. Printed: body
//! precision, recall and F1 with the shingle metric of [`feedwright::extract::auto::measure`] (as words, and with
//! CJK characters as tokens), title, byline and date agreement with the expected metadata, pages where no body was
//! found, and milliseconds per page for parse + extract + sanitize (the fastest of three rounds).
//!
//! Run with `scripts/bench-extract CORPUS` (or `cargo bench --bench extract -- CORPUS`); set `VERBOSE=1` for one
//! line per page, worst first, or `EXPLAIN=<name>` for what was chosen on one page. The corpus is never copied into the repository: the bench takes its path. Not a
//! test: nothing here asserts. Numbers go to `docs/extraction.md`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use feedwright::extract::article::{self, ArticleRules};
use feedwright::extract::auto::body;
use feedwright::extract::auto::measure::{Overlap, Tokens, f1, overlap};
use feedwright::normalize::date;
use feedwright::normalize::sanitize::{clean, to_text};
use url::Url;

/// The URL the Readability.js test suite reads its pages at; relative links resolve against it.
const PAGE_URL: &str = "http://fakehost/test/page.html";

/// Each page is extracted this many times; its time is the fastest round.
const ROUNDS: usize = 3;

/// What one page yielded, timed.
struct Page {
    name: String,
    words: Overlap,
    cjk: Overlap,
    found: bool,
    /// Agreement with the expected metadata; `None` when it has no value for the field.
    title: Option<bool>,
    byline: Option<bool>,
    date: Option<bool>,
    ms: f64,
    /// The same page again, step by step: the bounded parse, the body finder, the sanitizer.
    steps: [f64; 3],
}

/// Whitespace-collapsed, for comparing a field with the expected value.
fn same(got: Option<&str>, want: Option<&str>) -> Option<bool> {
    let norm = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let want = want.map(norm).filter(|w| !w.is_empty())?;
    Some(got.map(norm) == Some(want))
}

/// Whether two date texts name the same instant (naive ones read as UTC).
fn same_instant(got: Option<&str>, want: Option<&str>) -> Option<bool> {
    let want = want.filter(|w| !w.trim().is_empty())?;
    let instant = |s: &str| date::parse(s, &[], chrono_tz::UTC).map(|d| d.timestamp());
    Some(got.and_then(instant).is_some_and(|g| Some(g) == instant(want)))
}

fn pages(corpus: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(corpus.join("pages"))
        .unwrap_or_else(|e| panic!("reading {}/pages: {e}", corpus.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.join("source.html").is_file() && p.join("expected.html").is_file())
        .collect();
    dirs.sort();
    dirs
}

fn measure(dir: &Path, url: &Url) -> Page {
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap_or_else(|e| panic!("{}/{f}: {e}", dir.display()));
    let source = read("source.html");
    let expected = to_text(&clean(&read("expected.html"), url));
    let meta: serde_json::Value = serde_json::from_str(&read("expected-metadata.json")).unwrap_or_default();
    // The fastest of a few rounds: the machine is shared, and the minimum is the least disturbed measurement.
    let mut ms = f64::INFINITY;
    let mut out = None;
    for _ in 0..ROUNDS {
        let start = Instant::now();
        let raw = article::parse(&source, url, &ArticleRules::default(), None).article;
        let got = raw.content_html.as_deref().map(|h| clean(h, url));
        ms = ms.min(start.elapsed().as_secs_f64() * 1000.0);
        out = Some((raw, got));
    }
    let (raw, got) = out.expect("at least one round");
    let text = got.as_deref().map(to_text).unwrap_or_default();
    let [mut parse_ms, mut find_ms, mut clean_ms] = [f64::INFINITY; 3];
    for _ in 0..ROUNDS {
        let t = Instant::now();
        let doc = feedwright::html::parse_document(&source).html;
        parse_ms = parse_ms.min(t.elapsed().as_secs_f64() * 1000.0);
        let t = Instant::now();
        let found = body::find(&doc).map(|b| b.noise.len());
        find_ms = find_ms.min(t.elapsed().as_secs_f64() * 1000.0);
        let t = Instant::now();
        let _ = (found, raw.content_html.as_deref().map(|h| clean(h, url)));
        clean_ms = clean_ms.min(t.elapsed().as_secs_f64() * 1000.0);
    }
    Page {
        name: dir.file_name().unwrap_or_default().to_string_lossy().into_owned(),
        words: overlap(&text, &expected, Tokens::Words),
        cjk: overlap(&text, &expected, Tokens::Cjk),
        found: !text.is_empty(),
        title: same(raw.title.as_deref(), meta["title"].as_str()),
        byline: same(raw.author.as_deref(), meta["byline"].as_str()),
        date: same_instant(
            raw.date_machine.as_deref().or(raw.date_text.as_deref()),
            meta["publishedTime"].as_str(),
        ),
        ms,
        steps: [parse_ms, find_ms, clean_ms],
    }
}

/// How many pages agree on a field, of those whose expected metadata has it.
fn agreement(pages: &[Page], pick: impl Fn(&Page) -> Option<bool>) -> String {
    let known: Vec<bool> = pages.iter().filter_map(pick).collect();
    let ok = known.iter().filter(|&&b| b).count();
    format!(
        "{ok}/{} ({:.0}%)",
        known.len(),
        100.0 * ok as f64 / known.len().max(1) as f64
    )
}

/// Mean precision and recall over pages, and the F1 of those means (the corpus README's definition).
fn prf(pages: &[Page], pick: impl Fn(&Page) -> Overlap) -> (f64, f64, f64) {
    let n = pages.len() as f64;
    let p = pages.iter().map(|pg| pick(pg).precision()).sum::<f64>() / n;
    let r = pages.iter().map(|pg| pick(pg).recall()).sum::<f64>() / n;
    (p, r, f1(p, r))
}

/// Prints what the body finder chose on one page: the root, the selector, the noise and the lead image.
fn explain(source: &Path) {
    let html = std::fs::read_to_string(source).unwrap_or_else(|e| panic!("{}: {e}", source.display()));
    let doc = feedwright::html::parse_document(&html).html;
    let describe = |el: scraper::ElementRef<'_>| {
        let v = el.value();
        let text: String = el
            .text()
            .collect::<String>()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let short: String = text.chars().take(80).collect();
        format!(
            "<{} class={:?} id={:?}> {short}",
            v.name(),
            v.attr("class").unwrap_or(""),
            v.attr("id").unwrap_or("")
        )
    };
    let Some(found) = body::find(&doc) else {
        println!("nothing found");
        return;
    };
    println!("root      {}", describe(found.root));
    println!(
        "selector  {:?}",
        feedwright::extract::auto::css::unique(&doc, found.root)
    );
    println!(
        "image     {:?} caption {:?}",
        found.image.map(|i| i.value().attr("src")),
        found.caption
    );
    let url = Url::parse(PAGE_URL).expect("valid URL");
    let raw = article::parse(&html, &url, &ArticleRules::default(), None).article;
    let got = raw.content_html.map(|h| to_text(&clean(&h, &url))).unwrap_or_default();
    println!(
        "title     {:?}  byline {:?}  date {:?} / {:?}",
        raw.title, raw.author, raw.date_machine, raw.date_text
    );
    let expected = source.with_file_name("expected.html");
    let want = std::fs::read_to_string(&expected)
        .map(|h| to_text(&clean(&h, &url)))
        .unwrap_or_default();
    println!("got       {got}");
    println!("expected  {want}");
    for id in &found.noise {
        if let Some(el) = doc.tree.get(*id).and_then(scraper::ElementRef::wrap) {
            println!("noise     {}", describe(el));
        }
    }
}

fn main() {
    // `cargo bench` passes `--bench` to a harness-less bench; the corpus is the one argument that is not a flag.
    let Some(corpus) = std::env::args().skip(1).find(|a| !a.starts_with("--")) else {
        eprintln!("usage: scripts/bench-extract CORPUS   (a folder with pages/<name>/source.html and expected.html)");
        std::process::exit(2);
    };
    let url = Url::parse(PAGE_URL).expect("valid URL");
    let dirs = pages(Path::new(&corpus));
    if dirs.is_empty() {
        eprintln!("no pages under {corpus}/pages");
        std::process::exit(2);
    }
    if let Ok(name) = std::env::var("EXPLAIN") {
        explain(&Path::new(&corpus).join("pages").join(name).join("source.html"));
        return;
    }
    // One untimed pass warms the allocator and the lazily compiled selectors.
    let _ = measure(&dirs[0], &url);
    let mut pages: Vec<Page> = dirs.iter().map(|d| measure(d, &url)).collect();

    if std::env::var_os("VERBOSE").is_some() {
        pages.sort_by(|a, b| a.words.f1().total_cmp(&b.words.f1()));
        for p in &pages {
            println!(
                "{:<45} F1 {:.3}  P {:.3}  R {:.3}  {:>6.2} ms",
                p.name,
                p.words.f1(),
                p.words.precision(),
                p.words.recall(),
                p.ms
            );
        }
        println!();
    }
    let (p, r, f) = prf(&pages, |pg| pg.words);
    let (pc, rc, fc) = prf(&pages, |pg| pg.cjk);
    let mut ms: Vec<f64> = pages.iter().map(|p| p.ms).collect();
    ms.sort_by(f64::total_cmp);
    let mean = ms.iter().sum::<f64>() / ms.len() as f64;
    println!("corpus              {corpus} ({} pages)", pages.len());
    println!("body, words         P {p:.3}  R {r:.3}  F1 {f:.3}");
    println!("body, CJK chars     P {pc:.3}  R {rc:.3}  F1 {fc:.3}");
    println!("title agreement     {}", agreement(&pages, |p| p.title));
    println!("byline agreement    {}", agreement(&pages, |p| p.byline));
    println!("date agreement      {}", agreement(&pages, |p| p.date));
    println!("nothing found       {}", pages.iter().filter(|p| !p.found).count());
    println!(
        "ms/page             median {:.2}  mean {mean:.2}  max {:.2}",
        ms[ms.len() / 2],
        ms[ms.len() - 1]
    );
    let step = |k: usize| {
        let mut v: Vec<f64> = pages.iter().map(|p| p.steps[k]).collect();
        v.sort_by(f64::total_cmp);
        (v[v.len() / 2], v.iter().sum::<f64>() / v.len() as f64)
    };
    let [(pm, pa), (fm, fa), (cm, ca)] = [step(0), step(1), step(2)];
    println!("  of which (median/mean) parse {pm:.2}/{pa:.2}  body::find {fm:.2}/{fa:.2}  sanitize {cm:.2}/{ca:.2}");
}
