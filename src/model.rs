//! Domain types shared by the pipeline stages.
//!
//! `extract` produces [`RawArticle`]s (text exactly as found on the page), `normalize` turns each into an [`Item`]
//! (clean text, absolute URLs, a dated and sanitized entry), `store` keeps items across runs and `render` writes
//! them out together with a [`FeedMeta`]. Nothing here does I/O or reads the clock.

use std::fmt;

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use url::Url;

/// The id of a configured source; also the stem of its feed files (`<id>.atom`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SourceId(String);

impl SourceId {
    /// Accepts `[a-z0-9_-]+` (at most 64 characters), so the id is safe as a file name and in a URL path.
    pub fn parse(id: &str) -> Option<Self> {
        let ok = !id.is_empty()
            && id.len() <= 64
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        ok.then(|| Self(id.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The stable identity of an item: its canonical article URL, without fragment or tracking parameters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ItemId(String);

impl ItemId {
    /// Wraps an already canonical URL; `normalize::url::canonical` is the one place that makes them.
    pub fn from_canonical(url: &Url) -> Self {
        Self(url.as_str().to_owned())
    }

    /// Rebuilds an id read back from the store.
    pub fn from_stored(id: String) -> Self {
        Self(id)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ItemId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What the listing page says about one article link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedLink {
    /// Absolute, resolved against the listing page's final URL.
    pub url: Url,
    /// The link text, as found.
    pub title: Option<String>,
    /// A date printed beside the link, as found (used when the article itself shows none).
    pub date_text: Option<String>,
    /// What a feed says about the entry, when the link came from a feed rather than a listing page.
    pub feed: Option<Box<FeedEntry>>,
}

/// One entry of a feed read as a source, as the feed writes it: text not cleaned, HTML not sanitized, the date
/// not parsed (`normalize` does all three, as for a page).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedEntry {
    pub title: Option<String>,
    /// `published` (RSS `pubDate`, `dc:date`), else `updated`, as written.
    pub date_text: Option<String>,
    pub author: Option<String>,
    /// RSS `description`, Atom `summary`, JSON Feed `summary`: HTML or escaped text.
    pub summary_html: Option<String>,
    /// RSS `content:encoded`, Atom `content`, JSON Feed `content_html` (or `content_text`, escaped).
    pub content_html: Option<String>,
    /// Category names (Atom `label`, else `term`; RSS `category`; JSON Feed `tags`), as written.
    pub categories: Vec<String>,
    /// The first image the entry attaches (RSS `enclosure`, Media RSS `media:content`, Atom `link rel=enclosure`,
    /// JSON Feed `attachments`), with the byte length the feed states for it, if it does.
    pub image: Option<Enclosure>,
    /// What relative links in the summary and content are relative to (the entry's link unless `xml:base` says
    /// otherwise).
    pub base: Url,
    /// The feed's language (`<language>`, `xml:lang`), as written: a hint for the zone of dates written without one.
    pub language: Option<String>,
}

/// A media file a feed entry attaches, as the feed describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enclosure {
    /// Resolved against the feed's base.
    pub url: Url,
    /// The size in bytes the feed states (RSS `length`, Media RSS `fileSize`, JSON Feed `size_in_bytes`).
    pub length: Option<u64>,
    /// The media type the feed states, as written.
    pub mime_type: Option<String>,
}

impl Enclosure {
    /// The media type an image URL's file extension gives away, if it does; the one list of them, used where a
    /// feed names no type.
    pub fn image_type_of(url: &Url) -> Option<&'static str> {
        let (_, ext) = url.path().rsplit_once('.')?;
        match ext.to_ascii_lowercase().as_str() {
            "jpg" | "jpeg" => Some("image/jpeg"),
            "png" => Some("image/png"),
            "gif" => Some("image/gif"),
            "webp" => Some("image/webp"),
            "avif" => Some("image/avif"),
            "svg" => Some("image/svg+xml"),
            _ => None,
        }
    }
}

/// One article page's fields, as found: raw text, raw HTML, possibly relative URLs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawArticle {
    /// The URL the article was served from (after redirects); the base for relative links.
    pub url: Option<Url>,
    /// `<link rel="canonical">`, as written on the page.
    pub canonical: Option<String>,
    pub title: Option<String>,
    /// The text of the element the `date` selector matched.
    pub date_text: Option<String>,
    /// A machine-readable date: `<time datetime>` inside the date element or `article:published_time` meta.
    pub date_machine: Option<String>,
    pub author: Option<String>,
    /// Inner HTML of the body, with the `remove` selectors already taken out; not yet sanitized.
    pub content_html: Option<String>,
    /// What relative links in `content_html` are relative to, when not `url` (a feed's `xml:base`).
    pub content_base: Option<Url>,
    /// Lead image URL as written (`src`, or `data-src` for lazy images).
    pub image: Option<String>,
    pub image_caption: Option<String>,
    /// The lead image's size in bytes and media type, when a feed states them for that same image (nothing reads
    /// them from a page, and the image is never fetched to learn them).
    pub image_length: Option<u64>,
    pub image_type: Option<String>,
    /// Tags and categories as found (the `tags` selector's matches, JSON-LD `articleSection` and `keywords`,
    /// `article:section`/`article:tag`, or the feed's categories): untrimmed, possibly repeated, possibly markup.
    pub tags: Vec<String>,
    /// Where each field was found.
    pub provenance: Provenance,
    /// The page's language (`<html lang>`), as written.
    pub language: Option<String>,
}

/// Where each field of a [`RawArticle`] was found; `None` for a field the page did not give.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    pub title: Option<Origin>,
    pub date_machine: Option<Origin>,
    pub date_text: Option<Origin>,
    pub author: Option<Origin>,
    pub content: Option<Origin>,
    pub image: Option<Origin>,
    pub caption: Option<Origin>,
    #[serde(default)]
    pub tags: Option<Origin>,
}

/// Where an extracted field's value came from, so `preview` can show why a value is what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    /// The source's configured selector.
    Selector,
    JsonLd,
    Microdata,
    /// `og:*` and OpenGraph's `article:*` properties.
    OpenGraph,
    /// Other `<meta>`/`<link>`/`<time>` markup (`meta name=author`, `meta name=pubdate`, `time[datetime]`).
    Meta,
    /// Detected by automatic extraction.
    Heuristic,
    /// Read from the article URL (a date folder).
    Url,
    /// Printed on the listing page.
    Listing,
    /// Given by the feed the source reads.
    Feed,
    /// Given by the feed because the article page could not be read (`full_text`).
    FeedFallback,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Selector => "selector",
            Self::JsonLd => "json-ld",
            Self::Microdata => "microdata",
            Self::OpenGraph => "opengraph",
            Self::Meta => "meta",
            Self::Heuristic => "heuristic",
            Self::Url => "url",
            Self::Listing => "listing",
            Self::Feed => "feed",
            Self::FeedFallback => "feed, page failed",
        }
    }
}

/// Where an item's publish date came from, most trustworthy first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DateSource {
    /// Printed on the article page (or in its metadata).
    Page,
    /// A date folder in the article URL, such as `/2015-12/16/`.
    UrlPath,
    /// Printed beside the link on the listing page.
    Listing,
    /// No date anywhere: the time feedwright first saw the item, stored once.
    FirstSeen,
}

impl DateSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Page => "page",
            Self::UrlPath => "url-path",
            Self::Listing => "listing",
            Self::FirstSeen => "first-seen",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Page, Self::UrlPath, Self::Listing, Self::FirstSeen]
            .into_iter()
            .find(|d| d.as_str() == s)
    }
}

/// A normalized feed entry: everything the renderers need, already clean and safe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    pub id: ItemId,
    /// The article's canonical URL (the same text as `id`, typed).
    pub url: Url,
    pub title: String,
    pub published: DateTime<FixedOffset>,
    pub date_source: DateSource,
    /// Equal to `published` until the store sees the content change.
    pub updated: DateTime<FixedOffset>,
    pub author: Option<String>,
    /// Plain text, short: for RSS `description` and JSON `summary`.
    pub summary: String,
    /// Sanitized HTML with absolute URLs; renderers trust it.
    pub content_html: String,
    pub image: Option<Url>,
    pub image_caption: Option<String>,
    /// The image's size in bytes, known only when a feed stated it: RSS `<enclosure>` needs it.
    #[serde(default)]
    pub image_length: Option<u64>,
    /// The image's media type as a feed stated it.
    #[serde(default)]
    pub image_type: Option<String>,
    /// Clean category names, at most [`crate::normalize::tags::MAX_TAGS`], each once (compared without case).
    #[serde(default)]
    pub categories: Vec<String>,
}

impl Item {
    /// The lead image's media type: as a feed stated it, else as its file extension says; `None` when neither.
    pub fn image_media_type(&self) -> Option<&str> {
        let image = self.image.as_ref()?;
        self.image_type.as_deref().or_else(|| Enclosure::image_type_of(image))
    }
}

/// A link from a feed to the same feed in another language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alternate {
    pub href: Url,
    pub hreflang: String,
    pub title: String,
}

/// Feed-level data for the renderers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedMeta {
    pub source: SourceId,
    pub title: String,
    pub description: String,
    /// The site page the feed follows (the first listing URL).
    pub home_page: Url,
    /// Where this format's file is published; `render` swaps the extension per format via [`FeedMeta::feed_url`].
    pub feed_base: Url,
    pub language: Option<String>,
    /// Named as the feed's author, so every entry has one even when the page shows none.
    pub author: String,
    /// The newest `updated` of the items, or the first-seen time of an empty feed; never the render time.
    pub updated: DateTime<FixedOffset>,
    pub alternates: Vec<Alternate>,
    pub hub: Option<Url>,
}

impl FeedMeta {
    /// The published URL of this feed in one format: `<feed_base>/<id>.<ext>`.
    pub fn feed_url(&self, ext: &str) -> Url {
        self.feed_base
            .join(&format!("{}.{ext}", self.source))
            .expect("a source id is a valid relative URL")
    }
}

/// HTTP cache validators of one URL, kept between runs for conditional requests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

impl Validators {
    pub fn is_empty(&self) -> bool {
        self.etag.is_none() && self.last_modified.is_none()
    }
}

/// Something a user may want to hear about, delivered by `notify` to webhooks and commands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// Items published for the first time.
    NewItems { source: SourceId, items: Vec<EventItem> },
    /// The source went from healthy to broken; its last good feed stays published.
    Broken { source: SourceId, reason: String },
    /// The source works again.
    Recovered { source: SourceId },
}

/// An item as named in an [`Event`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventItem {
    pub id: ItemId,
    pub url: Url,
    pub title: String,
    pub published: DateTime<FixedOffset>,
}

impl Event {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::NewItems { .. } => "new_items",
            Self::Broken { .. } => "broken",
            Self::Recovered { .. } => "recovered",
        }
    }
}
