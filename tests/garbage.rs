//! Garbage in, no panic out: every fixture page, cut short, with bytes flipped and odd characters spliced in,
//! through the pure stages (charset decoding, listing and article extraction, normalization, rendering), and the
//! hostile pages of issue 8 (deep nesting, piles of unclosed formatting elements, bidi controls, a stray invalid
//! byte, obfuscated `javascript:` URLs). Every body that comes out is checked to be sanitized. A small,
//! deterministic stand-in for the coverage-guided fuzzer in `fuzz/` (docs/fuzzing.md), so it runs on every
//! `cargo test`.

use std::path::Path;

use scraper::{Html, Node};

use chrono::{TimeZone, Utc};
use feedwright::fetch::charset;
use feedwright::model::ListedLink;
use feedwright::{demo, extract, normalize, render};
use url::Url;

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const SPLICES: &[&str] = &[
    "<",
    ">",
    "&",
    "&#",
    "&#x110000;",
    "\"",
    "'",
    "<!--",
    "]]>",
    "<script>",
    "</div>",
    "\u{0}",
    "\u{8}",
    "\u{feff}",
    "\u{200b}",
    "新",
    "年",
    "月",
    "日",
    "：",
    " a",
    ".m.",
    "2015-",
    "12-16 ",
    "10:23",
    "Dec",
    "年12月",
    "\u{fffd}",
    "\u{202e}",
    "\u{2066}",
    "\u{200f}",
    "<b id=1>",
    "<div>",
    "<a href=\"java\tscript:x\">",
    "<img src=\"\u{1}javascript:x\" onerror=x>",
    "&#106;avascript:",
    "<svg><a xlink:href=\"javascript:x\">",
    "<math><mi><mglyph><style>",
    " style=\"x\" onclick=\"y\"",
    "\u{ffff}",
];

fn mutate(rng: &mut Rng, bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    for _ in 0..1 + rng.below(6) {
        let at = rng.below(out.len());
        match rng.below(4) {
            0 => out.truncate(at),
            1 => {
                if let Some(b) = out.get_mut(at) {
                    *b ^= 1 << rng.below(8);
                }
            }
            2 => {
                let splice = SPLICES[rng.below(SPLICES.len())].as_bytes();
                out.splice(at..at, splice.iter().copied());
            }
            _ => {
                let end = (at + rng.below(64)).min(out.len());
                out.drain(at..end);
            }
        }
    }
    out
}

#[test]
fn mutated_pages_never_panic_a_stage() {
    let config = feedwright::config::parse(demo::CONFIG, Path::new(demo::CONFIG_PATH)).unwrap();
    let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let mut rng = Rng(0x5eed_f00d_dead_beef);
    let mut pages = 0;
    for (site, source) in [(&demo::WIC_EN, &config.sources[0]), (&demo::WIC_ZH, &config.sources[1])] {
        let mut files: Vec<_> = Vec::new();
        let mut dirs = vec![site];
        while let Some(dir) = dirs.pop() {
            dirs.extend(dir.dirs());
            files.extend(dir.files().filter(|f| {
                f.path()
                    .extension()
                    .is_some_and(|e| e.to_str().unwrap().contains("htm"))
            }));
        }
        for file in files.into_iter().filter(|f| f.contents().len() < 200_000) {
            let url = Url::parse(&format!("http://127.0.0.1/{}", file.path().display())).unwrap();
            for _ in 0..12 {
                let bytes = mutate(&mut rng, file.contents());
                let text = charset::decode_page(&bytes, Some("text/html")).text;
                let listing = extract::list::parse(&text, &url, &source.listing);
                let raw = extract::article::parse(&text, &url, &source.article, None).article;
                let listed = listing.links.first().cloned().unwrap_or(ListedLink {
                    url: url.clone(),
                    title: None,
                    date_text: None,
                    feed: None,
                });
                if let Ok(item) = normalize::item(&raw, &listed, &source.normalize, now) {
                    assert_sanitized(&item.content_html);
                    let meta = feedwright::pipeline::feed_meta(&config, source, std::slice::from_ref(&item), now);
                    for format in render::Format::ALL {
                        assert!(!render::render(format, &meta, std::slice::from_ref(&item)).is_empty());
                    }
                }
                for text in [raw.date_text.as_deref(), listed.date_text.as_deref()]
                    .into_iter()
                    .flatten()
                {
                    let _ = normalize::date::parse(text, &[], source.timezone);
                }
                pages += 1;
            }
        }
    }
    assert!(pages > 200, "{pages} mutated pages");
}

#[test]
fn date_like_token_soup_never_panics_the_date_reader() {
    const TOKENS: &[&str] = &[
        "2015",
        "-",
        "12",
        "16",
        "/",
        ".",
        " ",
        "10",
        ":",
        "23",
        "45",
        "年",
        "月",
        "日",
        "时",
        "分",
        "a",
        "p",
        "am",
        "p.m.",
        ".m.",
        "Dec",
        "December",
        "Sept",
        ",",
        "+08:00",
        "Z",
        "GMT",
        "UTC+8",
        "T",
        "新华网",
        "来源：",
        "Updated:",
        "１２",
        "\u{a0}",
        "\u{3000}",
        "0",
        "99",
        "2100",
        "1989",
        " a ",
        " p",
        "新",
        "\u{200b}",
    ];
    const DATES: &[&str] = &[
        "2015-12-16 10:23",
        "2015-12-16 10:23:45",
        "2015年12月16日 10:23",
        "Dec 16, 2015 10:23",
        "16 Dec 2015",
        "2015/12/16",
        "2015-12-16T10:23:00+08:00",
        "Wed, 16 Dec 2015 10:23:00 +0800",
        "2015-12-16 10:23 a",
    ];
    let tz = chrono_tz::Asia::Shanghai;
    let formats = vec!["%Y-%m-%d %H:%M".to_owned(), "%d/%m/%Y".to_owned()];
    let mut rng = Rng(0x0da7_e5a1_ad00_0001);
    for _ in 0..20_000 {
        // Mostly a real date with noise around it, which is what pages print; sometimes pure soup.
        let mut text = String::new();
        if rng.below(4) > 0 {
            text.push_str(DATES[rng.below(DATES.len())]);
        }
        for _ in 0..rng.below(6) {
            let token = TOKENS[rng.below(TOKENS.len())];
            if rng.below(2) == 0 {
                text.push_str(token)
            } else {
                text.insert_str(0, token)
            }
        }
        let _ = normalize::date::parse(&text, &formats, tz);
        let _ = normalize::date::parse(&text, &[], chrono_tz::America::New_York);
    }
}

/// Fails unless `html` is what the sanitizer promises, read back as a browser would: no scripts, styles, frames,
/// forms or embedded SVG/MathML, no `on*` or `style` attribute, and every `href`/`src` absolute http(s) (or a
/// `mailto:` link) once the URL parser's trimming (leading C0 controls and spaces, tabs and newlines) is applied.
fn assert_sanitized(html: &str) {
    let doc = Html::parse_fragment(html);
    for node in doc.root_element().descendants().skip(1) {
        let Node::Element(el) = node.value() else { continue };
        let name = el.name();
        assert!(
            ![
                "script", "style", "iframe", "object", "embed", "form", "svg", "math", "base", "meta", "link"
            ]
            .contains(&name),
            "<{name}> in {html:.300}"
        );
        for (attr, value) in el.attrs() {
            assert!(
                !attr.starts_with("on") && attr != "style",
                "{attr}={value:?} in {html:.300}"
            );
            if attr == "srcset" {
                // Candidates as browsers read them: a URL up to whitespace (less trailing commas), then maybe a
                // width or density descriptor.
                for token in value.split_ascii_whitespace().map(|t| t.trim_matches(',')) {
                    let descriptor = token.len() > 1
                        && token.ends_with(['w', 'x'])
                        && token[..token.len() - 1].parse::<f64>().is_ok();
                    assert!(
                        descriptor || token.starts_with("http://") || token.starts_with("https://"),
                        "srcset={value:?} in {html:.300}"
                    );
                }
            }
            if matches!(attr, "href" | "src") {
                let trimmed: String = value
                    .trim_matches(|c: char| c <= ' ')
                    .chars()
                    .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
                    .collect();
                let scheme = trimmed.split_once(':').map(|(s, _)| s.to_ascii_lowercase());
                assert!(
                    matches!(scheme.as_deref(), Some("http" | "https"))
                        || (attr == "href" && scheme.as_deref() == Some("mailto")),
                    "{attr}={value:?} in {html:.300}"
                );
            }
        }
    }
}

/// An English article page of the demo's first source with `title` and `body` put in.
fn article_page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>x</title></head><body>\
         <div class=\"lft_art\"><h1>{title}</h1><div class=\"info\"><span class=\"time\">2015-12-16 10:23</span>\
         <span class=\"source\">Xinhua</span></div><div id=\"Content\">{body}</div></div></body></html>"
    )
}

/// Runs one page through every pure stage, as `mutated_pages_never_panic_a_stage` does, and returns the item.
fn through_the_stages(bytes: &[u8], content_type: &str) -> Option<feedwright::model::Item> {
    let config = feedwright::config::parse(demo::CONFIG, Path::new(demo::CONFIG_PATH)).unwrap();
    let source = &config.sources[0];
    let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let url = Url::parse("http://127.0.0.1/2015-12/16/c_47822.htm").unwrap();
    let text = charset::decode_page(bytes, Some(content_type)).text;
    let _ = extract::list::parse(&text, &url, &source.listing);
    let raw = extract::article::parse(&text, &url, &source.article, None).article;
    let listed = ListedLink {
        url: url.clone(),
        title: Some("Listed title".to_owned()),
        date_text: None,
        feed: None,
    };
    let item = normalize::item(&raw, &listed, &source.normalize, now).ok()?;
    assert_sanitized(&item.content_html);
    let meta = feedwright::pipeline::feed_meta(&config, source, std::slice::from_ref(&item), now);
    for format in render::Format::ALL {
        assert!(!render::render(format, &meta, std::slice::from_ref(&item)).is_empty());
    }
    Some(item)
}

/// `levels` deep in each of a few element kinds, with a script at the bottom.
fn deeply_nested(levels: usize) {
    for open in ["<div>", "<b>", "<blockquote><p>", "<span><a href=\"/x\">"] {
        let body = format!(
            "{}deep text<script>alert(1)</script>",
            open.repeat(levels / open.matches('<').count())
        );
        match through_the_stages(article_page("Deep", &body).as_bytes(), "text/html") {
            Some(item) => assert!(item.content_html.contains("deep text"), "{open}"),
            // Nested `<a>`s make the tree builder re-open elements over and over (the adoption agency), so at
            // issue 8's depth this page runs into the node budget before its text: the article is then a clear
            // "no body content" error, which costs that article only.
            None => assert!(
                open.contains("<a") && levels > 1_000,
                "{open} at {levels} levels lost its body"
            ),
        }
    }
}

#[test]
fn deeply_nested_markup_is_survived() {
    // 1,000 levels: every shape keeps its text; the walks of our own use explicit stacks at any depth.
    deeply_nested(1_000);
}

#[test]
fn deeply_nested_markup_is_survived_at_issue_8_depth() {
    // Linear since `html::parse` bounds the depth (256) and the nodes (100,000) of every page.
    deeply_nested(20_000);
}

#[test]
fn unclosed_formatting_elements_before_blocks_are_survived() {
    // The adoption agency algorithm reopens every unclosed `<b>` in each new block: n formatting elements times m
    // blocks. 100 x 100 runs fast today; the 1,000-element form of issue 8 waits for the node budget.
    let bs: String = (0..100)
        .map(|n| format!("<b id=\"{n}\" onclick=\"x()\">b{n} "))
        .collect();
    let divs = "<div style=\"color:red\">block</div>".repeat(100);
    let item = through_the_stages(article_page("Unclosed", &format!("{bs}{divs}")).as_bytes(), "text/html").unwrap();
    assert!(item.content_html.contains("block"));
    assert!(!item.content_html.contains("id="));
}

#[test]
fn bidi_controls_do_not_break_a_stage() {
    // What holds today: a page full of directional overrides and isolates still becomes a sanitized item with a
    // title. (Whether they are kept in titles is the text cleanup's decision, tested there.)
    const BIDI: &[char] = &[
        '\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}', '\u{202e}', '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}',
        '\u{200e}', '\u{200f}', '\u{61c}',
    ];
    let noise: String = BIDI.iter().collect();
    let title = format!("{noise}Wuzhen{noise} summit \u{202e}txt.exe{noise}");
    let body = format!(
        "<p dir=\"rtl\">{noise}مرحبا{noise}</p><p>\u{202e}<a href=\"/a\u{202e}b.htm\">link</a>{noise}</p>\
         <img src=\"\u{202e}javascript:x\">"
    );
    let item = through_the_stages(article_page(&title, &body).as_bytes(), "text/html").unwrap();
    assert!(item.title.contains("Wuzhen"), "{:?}", item.title);
    assert!(item.content_html.contains("مرحبا"));
}

#[test]
fn a_stray_invalid_byte_in_a_utf8_page_does_not_break_a_stage() {
    // What holds today: the page still becomes an item, with or without a charset in the header; which decoding
    // the bytes around the stray one get is the charset module's decision, tested there.
    let page = article_page(
        "乌镇峰会 Wuzhen summit",
        "<p>网络空间命运共同体 community of shared future</p>",
    );
    for stray in [0xff_u8, 0x80, 0xc3, 0xe4] {
        let mut bytes = page.clone().into_bytes();
        let at = page.find("community").unwrap();
        bytes.insert(at, stray);
        for content_type in ["text/html", "text/html; charset=utf-8"] {
            let item = through_the_stages(&bytes, content_type).unwrap();
            assert!(
                item.title.contains("Wuzhen"),
                "{stray:#x} {content_type}: {:?}",
                item.title
            );
            assert!(item.content_html.contains("shared future"), "{stray:#x} {content_type}");
        }
    }
}

#[test]
fn obfuscated_script_urls_never_survive_the_stages() {
    // The schemes of issue 8, in every attribute that takes a URL, on tags that are kept and tags that are not.
    const SCHEMES: &[&str] = &[
        "javascript:",
        "JaVaScRiPt:",
        "java\tscript:",
        "java\nscript:",
        "\u{1}javascript:",
        " vbscript:",
        "data:text/html,",
        "&#106;avascript:",
        "&#x6A;avascript&#58;",
        "jav&#x09;ascript:",
        "\u{0}javascript:",
    ];
    let mut body = String::new();
    for scheme in SCHEMES {
        for attr in [
            "href",
            "src",
            "srcset",
            "formaction",
            "xlink:href",
            "action",
            "background",
            "data-src",
        ] {
            for tag in ["a", "img", "form", "button", "svg", "iframe", "p"] {
                body.push_str(&format!("<{tag} {attr}=\"{scheme}alert(1)\" OnClIcK=\"x\">t</{tag}>"));
            }
        }
    }
    let item = through_the_stages(article_page("Schemes", &body).as_bytes(), "text/html").unwrap();
    // Besides `assert_sanitized`: any `script:` left is inside the path of a URL on the page's own server (a NUL
    // before the scheme becomes U+FFFD in the HTML parser, which makes the value a relative URL).
    let html = item.content_html.to_ascii_lowercase();
    for (at, _) in html.match_indices("script:") {
        let value = &html[html[..at].rfind('"').unwrap() + 1..at];
        assert!(value.starts_with("http://127.0.0.1/"), "{value:?} in {html}");
    }
}
