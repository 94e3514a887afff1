//! The three renderers on arbitrary items: Atom and RSS are well-formed XML (roxmltree), JSON is valid, and
//! feed-rs reads back the same ids and titles.
#![no_main]

use arbitrary::Arbitrary;
use chrono::{DateTime, FixedOffset, TimeZone};
use feedwright::model::{Alternate, DateSource, FeedMeta, Item, ItemId, SourceId};
use feedwright::render::{self, Format};
use libfuzzer_sys::fuzz_target;
use url::Url;

#[derive(Arbitrary, Debug)]
struct Input {
    title: String,
    description: String,
    author: String,
    language: Option<String>,
    alternate: Option<(String, String)>,
    updated: (i64, i32),
    items: Vec<InputItem>,
}

#[derive(Arbitrary, Debug)]
struct InputItem {
    path: String,
    title: String,
    summary: String,
    content_html: String,
    author: Option<String>,
    caption: Option<String>,
    image: bool,
    published: (i64, i32),
    updated: (i64, i32),
}

/// An instant between 1970 and about 9000 with any offset chrono accepts. RFC 2822 (RSS) cannot write a year
/// outside 0..=9999 and chrono panics on one; `normalize::date` only lets 1990..=2100 through and the first-seen time
/// is the clock's, so the renderers are not asked to.
fn date((secs, offset): (i64, i32)) -> DateTime<FixedOffset> {
    let offset = FixedOffset::east_opt(offset % 86_400).unwrap();
    offset.timestamp_opt(secs.rem_euclid(222_000_000_000), 0).unwrap()
}

/// What XML can carry of a string: the renderer drops these (see `render::xml_text`).
fn xml_carried(s: &str) -> String {
    s.chars()
        .filter(|&c| !matches!(u32::from(c), 0..=0x08 | 0x0b | 0x0c | 0x0e..=0x1f | 0x7f..=0x9f | 0xfffe | 0xffff))
        .collect::<String>()
        .trim()
        .to_owned()
}

fuzz_target!(|input: Input| {
    let base = Url::parse("https://www.wuzhenwic.org/").unwrap();
    let items: Vec<Item> = input
        .items
        .iter()
        .enumerate()
        .map(|(n, i)| {
            let url = base.join(&format!("/{n}/{}", i.path.replace(['?', '#', '\\'], ""))).unwrap();
            Item {
                id: ItemId::from_canonical(&url),
                image: i.image.then(|| url.join("a.jpg").unwrap()),
                url,
                title: i.title.clone(),
                published: date(i.published),
                date_source: DateSource::Page,
                updated: date(i.updated),
                author: i.author.clone(),
                summary: i.summary.clone(),
                content_html: i.content_html.clone(),
                image_caption: i.caption.clone(),
            }
        })
        .collect();
    let meta = FeedMeta {
        source: SourceId::parse("wic-news").unwrap(),
        title: input.title,
        description: input.description,
        home_page: Url::parse("https://www.wuzhenwic.org/news/node_12345.htm").unwrap(),
        feed_base: Url::parse("https://feeds.example.org/").unwrap(),
        language: input.language,
        author: input.author,
        updated: date(input.updated),
        alternates: input
            .alternate
            .into_iter()
            .map(|(hreflang, title)| Alternate {
                href: Url::parse("https://feeds.example.org/wic-news-zh").unwrap(),
                hreflang,
                title,
            })
            .collect(),
        hub: None,
    };
    for format in Format::ALL {
        let out = render::render(format, &meta, &items);
        match format {
            Format::Json => {
                serde_json::from_str::<serde_json::Value>(&out).unwrap();
            }
            _ => {
                roxmltree::Document::parse(&out).unwrap_or_else(|e| panic!("{format}: {e}"));
            }
        }
        let parsed = feed_rs::parser::Builder::new()
            .sanitize_content(false)
            .build()
            .parse(out.as_bytes())
            .unwrap_or_else(|e| panic!("{format}: {e}"));
        assert_eq!(parsed.entries.len(), items.len(), "{format}");
        for (entry, item) in parsed.entries.iter().zip(&items) {
            assert_eq!(entry.id, item.id.as_str(), "{format}");
            let title = entry.title.as_ref().map(|t| t.content.as_str()).unwrap_or_default();
            let expected = match format {
                Format::Json => item.title.trim().to_owned(),
                _ => xml_carried(&item.title),
            };
            assert_eq!(title, expected, "{format}");
        }
    }
});
