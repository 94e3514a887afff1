//! RSS 2.0 output, written with the `rss` crate, following the RSS Advisory Board's Best Practices Profile.
//!
//! What RSS lacks is borrowed from the usual namespaces: `atom:link` for the self, alternate-language and hub links,
//! `content:encoded` for the full HTML, `dc:creator` for author names (RSS's own `<author>` wants an e-mail
//! address). Dates are RFC 822 with a four-digit year and the item's own offset. Categories are `<category>`.
//!
//! The lead image is an `<enclosure>` only when its length is known (a feed the source reads stated it): RSS
//! requires `length`, and a made-up one misleads the readers that preallocate or show it. Any other lead image is a
//! Media RSS `<media:content medium="image">`, which has no required size, with the caption as its
//! `<media:description>`. The image is never fetched to learn its size: that would be one more request per item on
//! every site, for one optional attribute. No I/O, no clock.

use std::collections::BTreeMap;

use ::rss::extension::atom::{AtomExtension, Link};
use ::rss::extension::dublincore::{self, DublinCoreExtension};
use ::rss::extension::{Extension, ExtensionMap};
use ::rss::{Category, Channel, Enclosure, Guid, Item as RssItem};

use super::{Format, GENERATOR, XML_DECLARATION, alternate_url, non_empty, xml_text};
use crate::model::{FeedMeta, Item};

const CONTENT_NS: &str = "http://purl.org/rss/1.0/modules/content/";
const MEDIA_NS: &str = "http://search.yahoo.com/mrss/";
const SPEC: &str = "https://www.rssboard.org/rss-specification";

/// Renders `meta` and `items` (in the order given) as an indented RSS 2.0 document ending with a newline.
pub fn render(meta: &FeedMeta, items: &[Item]) -> String {
    let mut links = vec![Link {
        href: meta.feed_url(Format::Rss.ext()).to_string(),
        rel: "self".to_owned(),
        mime_type: Some(Format::Rss.media_type().to_owned()),
        ..Link::default()
    }];
    for alternate in &meta.alternates {
        links.push(Link {
            href: alternate_url(alternate, Format::Rss).to_string(),
            rel: "alternate".to_owned(),
            hreflang: non_empty(&alternate.hreflang).map(|l| xml_text(l).into_owned()),
            mime_type: Some(Format::Rss.media_type().to_owned()),
            title: non_empty(&alternate.title).map(|t| xml_text(t).into_owned()),
            ..Link::default()
        });
    }
    if let Some(hub) = &meta.hub {
        links.push(Link {
            href: hub.to_string(),
            rel: "hub".to_owned(),
            ..Link::default()
        });
    }

    // Declared on the root whether or not an item uses them, so the header does not change with the items.
    let namespaces = BTreeMap::from([
        ("atom".to_owned(), ::rss::extension::atom::NAMESPACE.to_owned()),
        ("content".to_owned(), CONTENT_NS.to_owned()),
        ("dc".to_owned(), dublincore::NAMESPACE.to_owned()),
        ("media".to_owned(), MEDIA_NS.to_owned()),
    ]);

    let channel = Channel {
        title: xml_text(&meta.title).into_owned(),
        link: meta.home_page.to_string(),
        // Required and must not be empty; the title is the most honest stand-in.
        description: xml_text(non_empty(&meta.description).unwrap_or(&meta.title)).into_owned(),
        language: meta
            .language
            .as_deref()
            .and_then(non_empty)
            .map(|l| xml_text(l).into_owned()),
        last_build_date: Some(meta.updated.to_rfc2822()),
        generator: Some(GENERATOR.to_owned()),
        docs: Some(SPEC.to_owned()),
        atom_ext: Some(AtomExtension { links }),
        items: items.iter().map(|item| rss_item(meta, item)).collect(),
        namespaces,
        ..Channel::default()
    };

    let body = channel
        .pretty_write_to(Vec::new(), b' ', 2)
        .expect("writing XML into memory cannot fail");
    let body = String::from_utf8(body).expect("the rss crate writes UTF-8");
    // The crate writes its own declaration (the same one as ours); checked so the two XML formats cannot drift.
    debug_assert!(body.starts_with(XML_DECLARATION.trim_end()));
    let mut out = hex_char_refs(&body);
    out.push('\n');
    out
}

/// Respells `&amp;` and `&lt;` outside CDATA sections as `&#x26;` and `&#x3C;`.
///
/// The RSS Best Practices Profile asks for hexadecimal character references for `&` and `<` in plain-text elements
/// (titles, the channel description, names), because readers that do not parse XML properly cannot tell an escaped
/// `&lt;b&gt;` in a title from markup; the W3C validator warns otherwise. To an XML parser both spellings are the
/// same character, so this changes no element's value. Inside CDATA (`description`, `content:encoded`) the text is
/// literal and must stay as written; outside it every `&` and `<` in text is escaped, so `<![CDATA[` can only be
/// real markup there.
pub(super) fn hex_char_refs(xml: &str) -> String {
    let mut out = String::with_capacity(xml.len() + xml.len() / 16);
    let mut rest = xml;
    while !rest.is_empty() {
        let (outside, cdata) = match rest.find("<![CDATA[") {
            Some(start) => {
                let end = rest[start..]
                    .find("]]>")
                    .map_or(rest.len(), |end| start + end + "]]>".len());
                (&rest[..start], &rest[start..end])
            }
            None => (rest, ""),
        };
        out.push_str(&outside.replace("&amp;", "&#x26;").replace("&lt;", "&#x3C;"));
        out.push_str(cdata);
        rest = &rest[outside.len() + cdata.len()..];
    }
    out
}

fn rss_item(meta: &FeedMeta, item: &Item) -> RssItem {
    // RSS has no feed-level author that items inherit, unlike Atom and JSON Feed, so the feed's author is named
    // on every item the page names nobody for: readers then show the same author in every format.
    let author = item.author.as_deref().and_then(non_empty).unwrap_or(&meta.author);
    RssItem {
        title: Some(xml_text(&item.title).into_owned()),
        link: Some(item.url.to_string()),
        // `description` is HTML in RSS, so the plain summary is escaped once more: a literal `<` or `&` in it must
        // show as such, not start a tag or an entity. Without a summary the full HTML stands in, because readers
        // that ignore `content:encoded` show only this, and the profile wants a description before the content.
        description: match non_empty(&item.summary) {
            Some(summary) => Some(escape_html(&xml_text(summary))),
            None => non_empty(&item.content_html).map(|html| xml_text(html).into_owned()),
        },
        guid: Some(Guid {
            value: item.id.to_string(),
            permalink: true,
        }),
        pub_date: Some(item.published.to_rfc2822()),
        // Written as CDATA; the crate splits the section at any `]]>` inside, so such HTML stays well-formed.
        content: non_empty(&item.content_html).map(|html| xml_text(html).into_owned()),
        dublin_core_ext: non_empty(author).map(|name| DublinCoreExtension {
            creators: vec![xml_text(name).into_owned()],
            ..Default::default()
        }),
        categories: item
            .categories
            .iter()
            .filter_map(|c| non_empty(c))
            .map(|c| Category {
                name: xml_text(c).into_owned(),
                domain: None,
            })
            .collect(),
        enclosure: enclosure(item),
        extensions: media_content(item).map_or_else(ExtensionMap::default, |content| {
            ExtensionMap::from([(
                "media".to_owned(),
                BTreeMap::from([("content".to_owned(), vec![content])]),
            )])
        }),
        ..RssItem::default()
    }
}

/// The lead image as an `<enclosure>`: only with its length and type both known.
fn enclosure(item: &Item) -> Option<Enclosure> {
    Some(Enclosure {
        url: item.image.as_ref()?.to_string(),
        length: item.image_length?.to_string(),
        mime_type: item.image_media_type()?.to_owned(),
    })
}

/// The lead image as `<media:content>`, when it is no [`enclosure`].
fn media_content(item: &Item) -> Option<Extension> {
    let image = item.image.as_ref().filter(|_| enclosure(item).is_none())?;
    let mut attrs = BTreeMap::from([
        ("url".to_owned(), image.to_string()),
        ("medium".to_owned(), "image".to_owned()),
    ]);
    if let Some(mime) = item.image_media_type() {
        attrs.insert("type".to_owned(), mime.to_owned());
    }
    let description = item
        .image_caption
        .as_deref()
        .and_then(non_empty)
        .map(|caption| Extension {
            name: "media:description".to_owned(),
            value: Some(xml_text(caption).into_owned()),
            attrs: BTreeMap::from([("type".to_owned(), "plain".to_owned())]),
            children: BTreeMap::new(),
        });
    Some(Extension {
        name: "media:content".to_owned(),
        value: None,
        attrs,
        children: description
            .map(|d| BTreeMap::from([("description".to_owned(), vec![d])]))
            .unwrap_or_default(),
    })
}

pub(super) fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            _ => out.push(c),
        }
    }
    out
}
