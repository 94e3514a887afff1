//! Tests for the three renderers against one fixture feed built in code: parsed back with `feed-rs` field by field,
//! pinned with insta snapshots, and checked for determinism and for the empty feed.
//!
//! The fixture is what breaks naive feed writers: `&`, `<` and quotes in titles and HTML, CJK text, `]]>` inside
//! the HTML (which would end a careless CDATA section), an item without author, an edited item, an image, mixed
//! time-zone offsets and an empty summary.

use chrono::{DateTime, FixedOffset, Utc};
use serde_json::Value;
use url::Url;

use super::*;
use crate::model::{DateSource, ItemId, SourceId};

fn url(s: &str) -> Url {
    Url::parse(s).unwrap()
}

fn date(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(s).unwrap()
}

fn meta() -> FeedMeta {
    FeedMeta {
        source: SourceId::parse("wic-news").unwrap(),
        title: "WIC News & Views".to_owned(),
        description: "News from the World Internet Conference <Wuzhen Summit>".to_owned(),
        home_page: url("https://www.wuzhenwic.org/news/node_12345.htm"),
        feed_base: url("https://feeds.example.org/"),
        language: Some("en".to_owned()),
        author: "World Internet Conference".to_owned(),
        updated: date("2015-12-17T09:30:00+08:00"),
        alternates: vec![Alternate {
            href: url("https://feeds.example.org/wic-news-zh"),
            hreflang: "zh-CN".to_owned(),
            title: "世界互联网大会 新闻".to_owned(),
        }],
        hub: Some(url("https://hub.example.org/")),
    }
}

fn item(path: &str, title: &str, published: &str, updated: &str) -> Item {
    let url = url(&format!("https://www.wuzhenwic.org{path}"));
    Item {
        id: ItemId::from_canonical(&url),
        url,
        title: title.to_owned(),
        published: date(published),
        date_source: DateSource::Page,
        updated: date(updated),
        author: None,
        summary: String::new(),
        content_html: String::new(),
        image: None,
        image_caption: None,
        image_length: None,
        image_type: None,
        categories: Vec::new(),
    }
}

/// Newest first, as `render` receives them.
fn items() -> Vec<Item> {
    vec![
        // Edited after publication, with author and image.
        Item {
            author: Some("Xinhua".to_owned()),
            summary: "Xi urges a \"community of shared future\" in cyberspace & five proposals <to the end>."
                .to_owned(),
            content_html: concat!(
                "<p><img src=\"https://www.wuzhenwic.org/images/W020151216508.jpg\" alt=\"Xi Jinping\"></p>\n",
                "<p>(Xinhua/Li Tao)</p>\n",
                "<p>WUZHEN, Dec. 16 (Xinhua) -- \u{201c}Cyberspace is the common space of mankind,\u{201d} ",
                "Xi said &amp; added: &lt;the two wings of a bird&gt;. It's \"shared\".</p>"
            )
            .to_owned(),
            image: Some(url("https://www.wuzhenwic.org/images/W020151216508.jpg")),
            image_caption: Some("(Xinhua/Li Tao)".to_owned()),
            categories: vec!["World".to_owned(), "Internet & <Society>".to_owned()],
            ..item(
                "/2015-12/16/c_47822.htm",
                "President Xi urges to build a \"community of shared future\" in cyberspace",
                "2015-12-16T10:23:00+08:00",
                "2015-12-17T09:30:00+08:00",
            )
        },
        // No author (the feed's applies), CJK, markup-like title, `]]>` in the HTML.
        Item {
            summary: "习近平：共同构建网络空间命运共同体".to_owned(),
            content_html: concat!(
                "<p>网络空间是人类共同的活动空间 &amp; “命运共同体”。</p>\n",
                "<pre>if (a[b[0]]> 1) { x = 'y'; }</pre>"
            )
            .to_owned(),
            ..item(
                "/system/2015/12/16/020951986.shtml",
                "世界互联网大会 & <乌镇峰会> 开幕",
                "2015-12-16T09:00:00+08:00",
                "2015-12-16T09:00:00+08:00",
            )
        },
        // Another offset, an author, no summary, an image whose size a feed stated, a CJK category.
        Item {
            author: Some("Li Tao".to_owned()),
            image: Some(url("https://www.wuzhenwic.org/images/closing")),
            image_length: Some(48213),
            image_type: Some("image/png".to_owned()),
            categories: vec!["乌镇".to_owned()],
            content_html:
                "<p>The conference closed with the <a href=\"https://www.wuzhenwic.org/\">Wuzhen Initiative</a>.</p>"
                    .to_owned(),
            ..item(
                "/2015-12/15/c_47800.htm",
                "Conference ends with the 'Wuzhen Initiative'",
                "2015-12-15T23:30:00+00:00",
                "2015-12-15T23:30:00+00:00",
            )
        },
    ]
}

fn parse(feed: &str) -> feed_rs::model::Feed {
    // Sanitizing would rewrite the HTML we want to compare byte for byte.
    feed_rs::parser::Builder::new()
        .sanitize_content(false)
        .build()
        .parse(feed.as_bytes())
        .unwrap()
}

fn utc(d: DateTime<FixedOffset>) -> DateTime<Utc> {
    d.with_timezone(&Utc)
}

fn names(people: &[feed_rs::model::Person]) -> Vec<&str> {
    people.iter().map(|p| p.name.as_str()).collect()
}

/// What every format must carry back: id, title, link, publish date and the HTML body.
fn assert_common(format: Format, parsed: &feed_rs::model::Feed) {
    let (meta, items) = (meta(), items());
    assert_eq!(parsed.title.as_ref().unwrap().content, meta.title, "{format}");
    assert_eq!(parsed.entries.len(), items.len(), "{format}");
    for (entry, item) in parsed.entries.iter().zip(&items) {
        assert_eq!(entry.id, item.id.as_str(), "{format}");
        assert_eq!(entry.title.as_ref().unwrap().content, item.title, "{format}");
        assert_eq!(entry.links[0].href, item.url.as_str(), "{format}");
        assert_eq!(entry.published, Some(utc(item.published)), "{format}");
        let content = entry.content.as_ref().unwrap();
        assert_eq!(content.body.as_deref(), Some(item.content_html.as_str()), "{format}");
        assert_eq!(content.content_type.to_string(), "text/html", "{format}");
    }
}

#[test]
fn atom_parses_back_field_by_field() {
    let (meta, items) = (meta(), items());
    let parsed = parse(&render(Format::Atom, &meta, &items));
    assert_common(Format::Atom, &parsed);
    assert_eq!(parsed.id, "https://feeds.example.org/wic-news.atom");
    assert_eq!(parsed.updated, Some(utc(meta.updated)));
    assert_eq!(names(&parsed.authors), ["World Internet Conference"]);
    assert_eq!(parsed.language.as_deref(), Some("en"));
    assert_eq!(parsed.description.as_ref().unwrap().content, meta.description);
    let link = |rel: &str| {
        parsed
            .links
            .iter()
            .filter(|l| l.rel.as_deref() == Some(rel))
            .collect::<Vec<_>>()
    };
    assert_eq!(link("self")[0].href, "https://feeds.example.org/wic-news.atom");
    assert_eq!(link("hub")[0].href, "https://hub.example.org/");
    let alternates = link("alternate");
    assert_eq!(alternates[0].href, meta.home_page.as_str());
    assert_eq!(alternates[1].href, "https://feeds.example.org/wic-news-zh.atom");
    assert_eq!(alternates[1].href_lang.as_deref(), Some("zh-CN"));
    assert_eq!(alternates[1].media_type.as_deref(), Some("application/atom+xml"));

    for (entry, item) in parsed.entries.iter().zip(&items) {
        assert_eq!(entry.updated, Some(utc(item.updated)));
        assert_eq!(
            names(&entry.authors),
            item.author.iter().map(String::as_str).collect::<Vec<_>>()
        );
        assert_eq!(
            entry.summary.as_ref().map(|s| s.content.as_str()),
            non_empty(&item.summary)
        );
        let enclosure = entry.links.iter().find(|l| l.rel.as_deref() == Some("enclosure"));
        assert_eq!(enclosure.map(|l| l.href.as_str()), item.image.as_ref().map(Url::as_str));
        assert_eq!(enclosure.and_then(|l| l.length), item.image_length, "only when known");
        let terms: Vec<&str> = entry.categories.iter().map(|c| c.term.as_str()).collect();
        assert_eq!(terms, item.categories);
    }
    let stated = parsed.entries[2]
        .links
        .iter()
        .find(|l| l.rel.as_deref() == Some("enclosure"));
    assert_eq!(
        stated.unwrap().media_type.as_deref(),
        Some("image/png"),
        "the feed's type"
    );
    let image = parsed.entries[0]
        .links
        .iter()
        .find(|l| l.rel.as_deref() == Some("enclosure"))
        .unwrap();
    assert_eq!(image.media_type.as_deref(), Some("image/jpeg"));
    assert_eq!(image.title.as_deref(), Some("(Xinhua/Li Tao)"));
}

#[test]
fn rss_parses_back_field_by_field() {
    let (meta, items) = (meta(), items());
    let rendered = render(Format::Rss, &meta, &items);
    let parsed = parse(&rendered);
    assert_common(Format::Rss, &parsed);
    assert_eq!(parsed.updated, Some(utc(meta.updated)));
    assert_eq!(parsed.language.as_deref(), Some("en"));
    assert_eq!(parsed.description.as_ref().unwrap().content, meta.description);
    assert_eq!(parsed.links[0].href, meta.home_page.as_str());

    for (entry, item) in parsed.entries.iter().zip(&items) {
        // RSS has one date; feed-rs copies it into `updated`.
        assert_eq!(entry.updated, Some(utc(item.published)));
        let author = item.author.as_deref().unwrap_or(&meta.author);
        assert_eq!(names(&entry.authors), [author]);
        // `description` is HTML, so the plain summary comes back escaped once.
        let summary = match non_empty(&item.summary) {
            Some(summary) => super::rss::escape_html(summary),
            None => item.content_html.clone(),
        };
        assert_eq!(entry.summary.as_ref().unwrap().content, summary);
    }
    // Dates keep the item's own offset, with a four-digit year.
    assert!(rendered.contains("<pubDate>Wed, 16 Dec 2015 10:23:00 +0800</pubDate>"));
    assert!(rendered.contains("<pubDate>Tue, 15 Dec 2015 23:30:00 +0000</pubDate>"));
    assert!(rendered.contains("<lastBuildDate>Thu, 17 Dec 2015 09:30:00 +0800</lastBuildDate>"));
    assert!(rendered.contains(
        r#"<atom:link href="https://feeds.example.org/wic-news.rss" rel="self" type="application/rss+xml"/>"#
    ));
    assert!(
        rendered.contains(
            r#"<atom:link href="https://feeds.example.org/wic-news-zh.rss" rel="alternate" hreflang="zh-CN""#
        )
    );
    assert!(rendered.contains(r#"<atom:link href="https://hub.example.org/" rel="hub"/>"#));
    assert!(rendered.contains("<guid>https://www.wuzhenwic.org/2015-12/16/c_47822.htm</guid>"));
    for (entry, item) in parsed.entries.iter().zip(&items) {
        let names: Vec<&str> = entry.categories.iter().map(|c| c.term.as_str()).collect();
        assert_eq!(names, item.categories);
        // feed-rs reads both `<enclosure>` and `<media:content>` as media content.
        let media: Vec<&str> = entry
            .media
            .iter()
            .flat_map(|m| &m.content)
            .filter_map(|c| c.url.as_ref().map(|u| u.as_str()))
            .collect();
        assert_eq!(media, item.image.iter().map(Url::as_str).collect::<Vec<_>>());
    }
    // A known length makes an enclosure; an unknown one a Media RSS image, never an enclosure with a made-up size.
    assert_eq!(rendered.matches("<enclosure").count(), 1);
    assert!(
        rendered
            .contains(r#"<enclosure url="https://www.wuzhenwic.org/images/closing" length="48213" type="image/png"/>"#)
    );
    assert!(rendered.contains(
        r#"<media:content medium="image" type="image/jpeg" url="https://www.wuzhenwic.org/images/W020151216508.jpg">"#
    ));
    assert!(rendered.contains(r#"<media:description type="plain">(Xinhua/Li Tao)</media:description>"#));
    assert!(rendered.contains(r#"xmlns:media="http://search.yahoo.com/mrss/""#));
    assert!(rendered.contains("<category>Internet &#x26; &#x3C;Society&gt;</category>"));
    // Plain text spells `&` and `<` as hexadecimal references (RSS Best Practices Profile).
    assert!(rendered.contains("<title>WIC News &#x26; Views</title>"));
    assert!(rendered.contains("<title>世界互联网大会 &#x26; &#x3C;乌镇峰会&gt; 开幕</title>"));
}

#[test]
fn rss_splits_cdata_around_an_embedded_terminator() {
    let rendered = render(Format::Rss, &meta(), &items());
    // A raw `]]>` inside CDATA would end the section early; the writer must split it.
    let encoded = rendered
        .split("<content:encoded>")
        .nth(2)
        .unwrap()
        .split("</content:encoded>")
        .next()
        .unwrap();
    assert_eq!(encoded.matches("<![CDATA[").count(), 2, "{encoded}");
}

#[test]
fn rss_hex_references_leave_cdata_alone() {
    let xml = "<t>a &amp; &lt;b&gt;</t><d><![CDATA[x &amp; <i>]]]]><![CDATA[>&lt;]]></d><t>&amp;</t>";
    assert_eq!(
        super::rss::hex_char_refs(xml),
        "<t>a &#x26; &#x3C;b&gt;</t><d><![CDATA[x &amp; <i>]]]]><![CDATA[>&lt;]]></d><t>&#x26;</t>"
    );
}

#[test]
fn json_parses_back_field_by_field() {
    let (meta, items) = (meta(), items());
    let rendered = render(Format::Json, &meta, &items);
    let parsed = parse(&rendered);
    assert_common(Format::Json, &parsed);
    for (entry, item) in parsed.entries.iter().zip(&items) {
        assert_eq!(
            entry.updated,
            (item.updated != item.published).then(|| utc(item.updated))
        );
        // feed-rs hands the feed's authors down to items without their own, as the spec says readers should.
        assert_eq!(names(&entry.authors), [item.author.as_deref().unwrap_or(&meta.author)]);
        assert_eq!(
            entry.summary.as_ref().map(|s| s.content.as_str()),
            non_empty(&item.summary)
        );
    }

    // What feed-rs does not read, checked on the raw JSON.
    let json: Value = serde_json::from_str(&rendered).unwrap();
    assert_eq!(json["version"], "https://jsonfeed.org/version/1.1");
    assert_eq!(json["feed_url"], "https://feeds.example.org/wic-news.json");
    assert_eq!(json["home_page_url"], meta.home_page.as_str());
    assert_eq!(json["language"], "en");
    // feed-rs moves feed-level `authors` onto the items, so they are checked here.
    assert_eq!(
        json["authors"],
        serde_json::json!([{"name": "World Internet Conference"}])
    );
    assert_eq!(
        json["hubs"],
        serde_json::json!([{"type": "WebSub", "url": "https://hub.example.org/"}])
    );
    assert_eq!(
        json["_feedwright"]["alternates"][0]["url"],
        "https://feeds.example.org/wic-news-zh.json"
    );
    let first = &json["items"][0];
    assert_eq!(first["image"], "https://www.wuzhenwic.org/images/W020151216508.jpg");
    assert_eq!(first["date_published"], "2015-12-16T10:23:00+08:00");
    assert_eq!(first["date_modified"], "2015-12-17T09:30:00+08:00");
    assert!(json["items"][1].get("date_modified").is_none());
    assert!(json["items"][1].get("authors").is_none());
    assert!(json["items"][2].get("summary").is_none());
    assert_eq!(first["tags"], serde_json::json!(["World", "Internet & <Society>"]));
    assert!(json["items"][1].get("tags").is_none(), "no empty list");
    assert!(first.get("attachments").is_none());
    assert!(rendered.ends_with("}\n"));
}

#[test]
fn xml_starts_with_a_utf8_declaration_and_ends_with_a_newline() {
    for format in [Format::Atom, Format::Rss] {
        let out = render(format, &meta(), &items());
        assert!(out.starts_with(XML_DECLARATION), "{format}: {}", &out[..60]);
        assert!(out.ends_with(">\n") && !out.ends_with("\n\n"), "{format}");
    }
}

#[test]
fn rendering_is_deterministic() {
    for format in Format::ALL {
        assert_eq!(
            render(format, &meta(), &items()),
            render(format, &meta(), &items()),
            "{format}"
        );
    }
}

#[test]
fn an_empty_feed_is_still_a_feed() {
    let meta = FeedMeta {
        alternates: Vec::new(),
        hub: None,
        ..meta()
    };
    for format in Format::ALL {
        let out = render(format, &meta, &[]);
        let parsed = parse(&out);
        assert_eq!(parsed.title.unwrap().content, meta.title, "{format}");
        assert!(parsed.entries.is_empty(), "{format}");
    }
    insta::assert_snapshot!("empty_atom", render(Format::Atom, &meta, &[]));
    insta::assert_snapshot!("empty_rss", render(Format::Rss, &meta, &[]));
    insta::assert_snapshot!("empty_json", render(Format::Json, &meta, &[]));
}

#[test]
fn xml_illegal_characters_are_dropped() {
    let mut items = items();
    items[0].title = "Second\u{8}post\u{0}\u{1f}\u{85}\u{ffff} ok\ttab".to_owned();
    for format in [Format::Atom, Format::Rss] {
        let parsed = parse(&render(format, &meta(), &items));
        assert_eq!(
            parsed.entries[0].title.as_ref().unwrap().content,
            "Secondpost ok\ttab",
            "{format}"
        );
    }
    assert_eq!(xml_text("plain"), Cow::Borrowed("plain"));
    // Full-width punctuation shares its lead byte with U+FFFF, and Latin-1 letters with the C1 controls: kept.
    assert_eq!(xml_text("新闻，é\u{fffd}"), Cow::Borrowed("新闻，é\u{fffd}"));
    assert_eq!(xml_text("，\u{9f}é\u{fffe}\u{7f}"), "，é");
}

/// Found by the render property: the language tags went out unguarded, and one control character in `language`
/// or an alternate's `hreflang` (neither is checked by `config`) made the whole Atom and RSS document unreadable.
#[test]
fn control_characters_in_language_and_hreflang_stay_well_formed() {
    let mut meta = meta();
    meta.language = Some("en\u{0}\u{1}".to_owned());
    meta.alternates[0].hreflang = "zh-CN\u{ffff}\u{8}".to_owned();
    for format in [Format::Atom, Format::Rss] {
        let out = render(format, &meta, &items());
        roxmltree::Document::parse(&out).unwrap_or_else(|e| panic!("{format}: {e}"));
        let parsed = parse(&out);
        assert_eq!(parsed.language.as_deref(), Some("en"), "{format}");
    }
}

#[test]
fn snapshots() {
    let (meta, items) = (meta(), items());
    insta::assert_snapshot!("atom", render(Format::Atom, &meta, &items));
    insta::assert_snapshot!("rss", render(Format::Rss, &meta, &items));
    insta::assert_snapshot!("json", render(Format::Json, &meta, &items));
}

#[test]
fn format_names_round_trip() {
    for format in Format::ALL {
        assert_eq!(format.to_string().parse::<Format>(), Ok(format));
    }
    assert_eq!("RSS".parse::<Format>(), Ok(Format::Rss));
    assert_eq!("xml".parse::<Format>(), Err(UnknownFormat("xml".to_owned())));
    assert_eq!(Format::Json.media_type(), "application/feed+json");
}

#[test]
fn alternate_urls_get_the_format_extension() {
    let alternate = |href: &str| Alternate {
        href: url(href),
        hreflang: "zh".to_owned(),
        title: "zh".to_owned(),
    };
    let stem = alternate("https://feeds.example.org/wic-news-zh");
    assert_eq!(
        alternate_url(&stem, Format::Atom).as_str(),
        "https://feeds.example.org/wic-news-zh.atom"
    );
    assert_eq!(
        alternate_url(&stem, Format::Json).as_str(),
        "https://feeds.example.org/wic-news-zh.json"
    );
    // A full URL in some format is not doubled up.
    let full = alternate("https://feeds.example.org/sub/wic-news-zh.json");
    assert_eq!(
        alternate_url(&full, Format::Rss).as_str(),
        "https://feeds.example.org/sub/wic-news-zh.rss"
    );
}

/// Writes the fixture feeds where the external validators can read them (see `/work/shared/oracles`):
/// `RENDER_CHECK_DIR=/tmp/render-check cargo test --lib render -- --ignored`.
#[test]
#[ignore = "writes files; run by hand before validating with the oracles"]
fn write_fixture_feeds_for_the_oracles() {
    let dir = std::path::PathBuf::from(std::env::var("RENDER_CHECK_DIR").expect("set RENDER_CHECK_DIR"));
    std::fs::create_dir_all(&dir).unwrap();
    let empty = FeedMeta {
        alternates: Vec::new(),
        hub: None,
        ..meta()
    };
    for format in Format::ALL {
        std::fs::write(dir.join(format!("fixture.{format}")), render(format, &meta(), &items())).unwrap();
        std::fs::write(dir.join(format!("empty.{format}")), render(format, &empty, &[])).unwrap();
    }
}
