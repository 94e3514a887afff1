//! JSON Feed 1.1 output (<https://jsonfeed.org/version/1.1>), written with serde.
//!
//! The structs below mirror the parts of the spec we fill; optional members are left out rather than written as
//! `null` or `""`. Feed-level `authors` cover items whose page names nobody (the spec says items inherit them), so
//! items carry `authors` only when they have their own. Alternate-language feeds have no place in the spec, so they
//! go into the `_feedwright` extension object, as the spec allows for custom data. Categories are `tags`; the lead
//! image is `image` and never an attachment, whose size the spec leaves optional but which readers treat as a
//! download (a podcast episode), not a picture. No I/O, no clock.

use serde::Serialize;

use super::{Format, GENERATOR_URI, alternate_url, non_empty};
use crate::model::{FeedMeta, Item};

const VERSION: &str = "https://jsonfeed.org/version/1.1";

#[derive(Serialize)]
struct JsonFeed<'a> {
    version: &'static str,
    title: &'a str,
    home_page_url: &'a str,
    feed_url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    language: Option<&'a str>,
    authors: Vec<Author<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    hubs: Vec<Hub<'a>>,
    #[serde(rename = "_feedwright", skip_serializing_if = "Option::is_none")]
    extension: Option<Extension<'a>>,
    items: Vec<JsonItem<'a>>,
}

#[derive(Serialize)]
struct Author<'a> {
    name: &'a str,
}

#[derive(Serialize)]
struct Hub<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    url: &'a str,
}

/// Our custom object; `about` is where the spec asks a publisher to document one.
#[derive(Serialize)]
struct Extension<'a> {
    about: &'static str,
    alternates: Vec<JsonAlternate<'a>>,
}

#[derive(Serialize)]
struct JsonAlternate<'a> {
    url: String,
    language: &'a str,
    title: &'a str,
}

#[derive(Serialize)]
struct JsonItem<'a> {
    id: &'a str,
    url: &'a str,
    title: &'a str,
    content_html: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    image: Option<&'a str>,
    date_published: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    date_modified: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    authors: Vec<Author<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<&'a str>,
}

/// Renders `meta` and `items` (in the order given) as pretty-printed JSON ending with a newline.
pub fn render(meta: &FeedMeta, items: &[Item]) -> String {
    let feed = JsonFeed {
        version: VERSION,
        title: &meta.title,
        home_page_url: meta.home_page.as_str(),
        feed_url: meta.feed_url(Format::Json.ext()).to_string(),
        description: non_empty(&meta.description),
        language: meta.language.as_deref().and_then(non_empty),
        authors: non_empty(&meta.author)
            .map(|name| Author { name })
            .into_iter()
            .collect(),
        hubs: meta
            .hub
            .iter()
            .map(|hub| Hub {
                kind: "WebSub",
                url: hub.as_str(),
            })
            .collect(),
        extension: (!meta.alternates.is_empty()).then(|| Extension {
            about: GENERATOR_URI,
            alternates: meta
                .alternates
                .iter()
                .map(|alternate| JsonAlternate {
                    url: alternate_url(alternate, Format::Json).to_string(),
                    language: &alternate.hreflang,
                    title: &alternate.title,
                })
                .collect(),
        }),
        items: items.iter().map(item).collect(),
    };
    let mut out = serde_json::to_string_pretty(&feed).expect("these structs always serialize");
    out.push('\n');
    out
}

fn item(item: &Item) -> JsonItem<'_> {
    JsonItem {
        id: item.id.as_str(),
        url: item.url.as_str(),
        title: &item.title,
        // Always present: the spec requires `content_html` or `content_text` on every item.
        content_html: &item.content_html,
        summary: non_empty(&item.summary),
        image: item.image.as_ref().map(|image| image.as_str()),
        date_published: item.published.to_rfc3339(),
        // Only an edit is news; a copy of `date_published` would say nothing.
        date_modified: (item.updated != item.published).then(|| item.updated.to_rfc3339()),
        authors: item
            .author
            .as_deref()
            .and_then(non_empty)
            .map(|name| Author { name })
            .into_iter()
            .collect(),
        tags: item.categories.iter().filter_map(|c| non_empty(c)).collect(),
    }
}
