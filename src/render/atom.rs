//! Atom 1.0 (RFC 4287) output, written with `atom_syndication`.
//!
//! The feed's id is its own published Atom URL: stable for as long as the feed lives where it is, and an absolute
//! IRI as RFC 4287 requires. The feed-level author covers entries whose page names none, so every entry has an
//! author without inventing one per entry. Dates keep the offset the item was published with. Categories are
//! `<category term>` (the name is the term: there is no scheme to name). No I/O, no clock.

use atom_syndication::{Category, Content, Entry, Feed, Generator, Link, Person, Text, WriteConfig};

use super::{Format, GENERATOR, GENERATOR_URI, XML_DECLARATION, alternate_url, non_empty, xml_text};
use crate::model::{FeedMeta, Item};

/// Renders `meta` and `items` (in the order given) as an indented Atom document ending with a newline.
pub fn render(meta: &FeedMeta, items: &[Item]) -> String {
    let self_url = meta.feed_url(Format::Atom.ext());
    let mut links = vec![
        link(self_url.as_str(), "self", Format::Atom.media_type()),
        link(meta.home_page.as_str(), "alternate", "text/html"),
    ];
    for alternate in &meta.alternates {
        links.push(Link {
            hreflang: non_empty(&alternate.hreflang).map(|l| xml_text(l).into_owned()),
            title: non_empty(&alternate.title).map(|t| xml_text(t).into_owned()),
            ..link(
                alternate_url(alternate, Format::Atom).as_str(),
                "alternate",
                Format::Atom.media_type(),
            )
        });
    }
    if let Some(hub) = &meta.hub {
        links.push(Link {
            href: hub.to_string(),
            rel: "hub".to_owned(),
            ..Link::default()
        });
    }

    let feed = Feed {
        id: self_url.to_string(),
        title: plain(&meta.title),
        subtitle: non_empty(&meta.description).map(plain),
        updated: meta.updated,
        authors: vec![person(&meta.author)],
        generator: Some(Generator {
            value: GENERATOR.to_owned(),
            uri: Some(GENERATOR_URI.to_owned()),
            version: None,
        }),
        links,
        lang: meta
            .language
            .as_deref()
            .and_then(non_empty)
            .map(|l| xml_text(l).into_owned()),
        entries: items.iter().map(entry).collect(),
        ..Feed::default()
    };

    let config = WriteConfig {
        write_document_declaration: false,
        indent_size: Some(2),
    };
    let body = feed
        .write_with_config(Vec::new(), config)
        .expect("writing XML into memory cannot fail");
    let body = String::from_utf8(body).expect("atom_syndication writes UTF-8");
    format!("{XML_DECLARATION}{body}\n")
}

fn entry(item: &Item) -> Entry {
    let mut links = vec![link(item.url.as_str(), "alternate", "text/html")];
    links.extend(image_link(item));
    Entry {
        id: item.id.to_string(),
        title: plain(&item.title),
        updated: item.updated,
        published: Some(item.published),
        // Omitted when the page names nobody: the feed-level author then applies (RFC 4287, 4.2.1).
        authors: item
            .author
            .as_deref()
            .and_then(non_empty)
            .map(person)
            .into_iter()
            .collect(),
        links,
        categories: item
            .categories
            .iter()
            .filter_map(|c| non_empty(c))
            .map(|c| Category {
                term: xml_text(c).into_owned(),
                ..Category::default()
            })
            .collect(),
        summary: non_empty(&item.summary).map(plain),
        content: non_empty(&item.content_html).map(|html| Content {
            content_type: Some("html".to_owned()),
            value: Some(xml_text(html).into_owned()),
            ..Content::default()
        }),
        ..Entry::default()
    }
}

/// The lead image as `rel="enclosure"`, so readers that show a thumbnail find it without parsing the content.
///
/// RFC 4287 makes `length` optional on a link, unlike RSS's `<enclosure>`, so it is written only when a feed
/// stated it. The media type is only named when a feed stated it or the file extension gives it away; a wrong type
/// would be worse than none.
fn image_link(item: &Item) -> Option<Link> {
    Some(Link {
        href: item.image.as_ref()?.to_string(),
        rel: "enclosure".to_owned(),
        mime_type: item.image_media_type().map(str::to_owned),
        title: item
            .image_caption
            .as_deref()
            .and_then(non_empty)
            .map(|c| xml_text(c).into_owned()),
        length: item.image_length.map(|n| n.to_string()),
        ..Link::default()
    })
}

fn link(href: &str, rel: &str, media_type: &str) -> Link {
    Link {
        href: href.to_owned(),
        rel: rel.to_owned(),
        mime_type: Some(media_type.to_owned()),
        ..Link::default()
    }
}

fn person(name: &str) -> Person {
    Person {
        name: xml_text(name).into_owned(),
        ..Person::default()
    }
}

/// Plain text (`type="text"`, the default, so no attribute is written): titles and summaries are text after
/// `normalize`, and `text` makes readers show `<` and `&` literally instead of interpreting them.
fn plain(s: &str) -> Text {
    Text::plain(xml_text(s))
}
