//! Property tests for the three renderers: items and feed metadata made of arbitrary strings (every C0 and C1
//! control, U+FFFE/U+FFFF, the literal text `&#xD800;` that a lone surrogate is often escaped as, `]]>`, combining
//! marks, right-to-left text, huge text) always give well-formed XML, checked by a strict parser (roxmltree), and
//! valid JSON, and each feed parses back with feed-rs to the same items with the same ids and titles.
//!
//! What may change on the way: XML cannot carry the characters [`xml_text`] drops (JSON carries every string
//! unchanged), and feed-rs trims the text it reads. (A conforming XML parser also reads CR LF and a lone CR as LF;
//! feed-rs, on quick-xml, does not, and `normalize` never leaves a CR in a title.)

use chrono::{DateTime, FixedOffset, TimeZone};
use proptest::prelude::*;
use url::Url;

use super::*;
use crate::model::{DateSource, ItemId, SourceId};

/// Pieces that break naive writers, mixed with ordinary text.
#[rustfmt::skip]
const PIECES: &[&str] = &[
    "a", "News", " ", "  ", "\t", "\n", "\r", "\r\n", "&", "<", ">", "\"", "'", "&amp;", "&lt;b&gt;", "<b>", "</title>",
    "]]>", "]]", "]", "<![CDATA[", "<!--", "-->", "&#xD800;", "&#xDFFF;", "&#0;", "&#x1;", "&#", "\u{fffe}", "\u{ffff}",
    "\u{fffd}", "\u{feff}", "\u{fdd0}", "\u{1fffe}", "\u{10ffff}", "\u{a0}", "\u{2028}", "\u{2029}", "\u{85}", "\u{7f}",
    "\u{9f}", "\u{301}", "e\u{301}\u{301}\u{301}", "\u{202e}", "\u{202b}", "\u{200f}", "\u{2066}", "\u{2069}",
    "مرحبا", "שלום", "新闻", "乌镇", "😀", "👩‍👩‍👧", "\u{e000}", "<?xml", "?>", "xmlns=", "%s", "{}", "\\", "\\u0000",
];

/// One string: pieces and single characters from anywhere in Unicode, C0 and C1 included.
fn text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        3 => prop::sample::select(PIECES).prop_map(str::to_owned),
        1 => (0u32..0x20).prop_map(|c| char::from_u32(c).unwrap().to_string()),
        1 => (0x7fu32..0xa0).prop_map(|c| char::from_u32(c).unwrap().to_string()),
        1 => any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(piece, 0..12).prop_map(|p| p.concat())
}

fn date() -> impl Strategy<Value = DateTime<FixedOffset>> {
    // 1970..2100, any offset a real zone has had (whole quarter hours up to ±14 h).
    (0i64..4_102_444_800, -56i32..=56).prop_map(|(secs, quarters)| {
        FixedOffset::east_opt(quarters * 900)
            .unwrap()
            .timestamp_opt(secs, 0)
            .unwrap()
    })
}

fn item(n: usize) -> impl Strategy<Value = Item> {
    (
        (text(), text(), text(), text()),
        (prop::option::of(text()), prop::option::of(text()), any::<bool>()),
        (date(), date()),
    )
        .prop_map(
            move |((path, title, summary, content_html), (author, image_caption, image), (published, updated))| {
                // Ids are canonical URLs; whatever the path holds, the URL parser percent-encodes it.
                let url = Url::parse("https://www.wuzhenwic.org/")
                    .unwrap()
                    .join(&format!("/{n}/{}", path.replace(['?', '#', '\\'], "")))
                    .unwrap();
                Item {
                    id: ItemId::from_canonical(&url),
                    image: image.then(|| url.join("a.jpg").unwrap()),
                    url,
                    title,
                    published,
                    date_source: DateSource::Page,
                    updated,
                    author,
                    summary,
                    content_html,
                    image_caption,
                    image_length: None,
                    image_type: None,
                    categories: Vec::new(),
                }
            },
        )
}

fn items() -> impl Strategy<Value = Vec<Item>> {
    (0..5usize).prop_flat_map(|n| (0..n).map(item).collect::<Vec<_>>())
}

fn meta() -> impl Strategy<Value = FeedMeta> {
    (
        (text(), text(), text(), prop::option::of(text())),
        (prop::option::of((text(), text())), any::<bool>(), date()),
    )
        .prop_map(
            |((title, description, author, language), (alternate, hub, updated))| FeedMeta {
                source: SourceId::parse("wic-news").unwrap(),
                title,
                description,
                home_page: Url::parse("https://www.wuzhenwic.org/news/node_12345.htm").unwrap(),
                feed_base: Url::parse("https://feeds.example.org/").unwrap(),
                language,
                author,
                updated,
                alternates: alternate
                    .into_iter()
                    .map(|(hreflang, title)| Alternate {
                        href: Url::parse("https://feeds.example.org/wic-news-zh").unwrap(),
                        hreflang,
                        title,
                    })
                    .collect(),
                hub: hub.then(|| Url::parse("https://hub.example.org/").unwrap()),
            },
        )
}

fn parse(feed: &str) -> Result<feed_rs::model::Feed, String> {
    feed_rs::parser::Builder::new()
        .sanitize_content(false)
        .build()
        .parse(feed.as_bytes())
        .map_err(|e| e.to_string())
}

/// Checks one rendered feed: well-formed (or valid JSON), and the same ids and titles in the same order.
fn check(format: Format, meta: &FeedMeta, items: &[Item]) -> Result<(), TestCaseError> {
    let out = render(format, meta, items);
    match format {
        Format::Atom | Format::Rss => {
            if let Err(e) = roxmltree::Document::parse(&out) {
                let line = out.lines().nth(e.pos().row as usize - 1).unwrap_or_default();
                return Err(TestCaseError::fail(format!(
                    "{format} is not well-formed XML: {e} in {line:?}"
                )));
            }
        }
        Format::Json => {
            if let Err(e) = serde_json::from_str::<serde_json::Value>(&out) {
                return Err(TestCaseError::fail(format!("JSON does not parse: {e}")));
            }
        }
    }
    let parsed = parse(&out).map_err(|e| TestCaseError::fail(format!("feed-rs cannot read the {format}: {e}")))?;
    prop_assert_eq!(parsed.entries.len(), items.len(), "{}", format);
    for (entry, item) in parsed.entries.iter().zip(items) {
        prop_assert_eq!(&entry.id, item.id.as_str(), "{}", format);
        let carried = |s: &str| match format {
            Format::Json => s.trim().to_owned(),
            Format::Atom | Format::Rss => xml_text(s).trim().to_owned(),
        };
        let title = entry.title.as_ref().map(|t| t.content.as_str()).unwrap_or_default();
        prop_assert_eq!(title, carried(&item.title), "{}", format);
        let content = entry
            .content
            .as_ref()
            .and_then(|c| c.body.as_deref())
            .unwrap_or_default();
        // feed-rs trims the content of some formats and not others.
        prop_assert_eq!(content.trim(), carried(&item.content_html), "{}", format);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, max_shrink_iters: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_strings_render_to_well_formed_feeds_that_read_back(meta in meta(), items in items()) {
        for format in Format::ALL {
            check(format, &meta, &items)?;
        }
    }
}

/// Huge text is one case, not a strategy: a few hundred KB through three writers and three parsers is slow in a
/// debug build, and its size, not its variety, is the point.
#[test]
fn huge_text_renders_to_well_formed_feeds_that_read_back() {
    let huge = PIECES.concat().repeat(2_000);
    assert!(huge.len() > 400_000, "{}", huge.len());
    let prefix = |chars: usize| huge.chars().take(chars).collect::<String>();
    let date = FixedOffset::east_opt(8 * 3600)
        .unwrap()
        .timestamp_opt(1_450_232_580, 0)
        .unwrap();
    let url = Url::parse("https://www.wuzhenwic.org/2015-12/16/c_47822.htm").unwrap();
    let item = Item {
        id: ItemId::from_canonical(&url),
        url,
        title: prefix(20_000),
        published: date,
        date_source: DateSource::Page,
        updated: date,
        author: Some(prefix(1_000)),
        summary: huge.clone(),
        content_html: huge.clone(),
        image: None,
        image_caption: None,
        image_length: None,
        image_type: None,
        categories: Vec::new(),
    };
    let meta = FeedMeta {
        source: SourceId::parse("wic-news").unwrap(),
        title: prefix(5_000),
        description: huge.clone(),
        home_page: Url::parse("https://www.wuzhenwic.org/news/node_12345.htm").unwrap(),
        feed_base: Url::parse("https://feeds.example.org/").unwrap(),
        language: Some("en\u{0}".to_owned()),
        author: "World Internet Conference".to_owned(),
        updated: date,
        alternates: Vec::new(),
        hub: None,
    };
    for format in Format::ALL {
        check(format, &meta, std::slice::from_ref(&item)).unwrap();
    }
}
