//! Page metadata: what a page says about itself in machine-readable form, read once per page.
//!
//! News pages describe themselves several ways at once, none of them everywhere: JSON-LD (`NewsArticle`, `Article`,
//! `ReportageNewsArticle`, `BlogPosting`, also inside `@graph` and arrays), microdata (`itemprop`), OpenGraph and
//! `article:*`, `<meta name=author>`, `<time datetime>`, `<link rel=canonical>`, and `<link rel=alternate>` for the
//! feeds the site already publishes. [`read`] collects all of them into one [`PageMeta`], each value with the
//! [`Origin`] it came from, so the article extractor can fall back field by field and `preview` can say where a
//! value was found. Values are as written (trimmed, whitespace collapsed); nothing is resolved or parsed here.

use scraper::Html;

use crate::model::Origin;

/// A value and where it was found.
pub type Found = (String, Origin);

/// Everything a page's metadata says about the article on it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageMeta {
    /// The headline (JSON-LD `headline`/`name`, microdata, `og:title`), without any site suffix removed yet.
    pub title: Option<Found>,
    /// The publication date as written (`datePublished`, `article:published_time`, `<time datetime>`, …).
    pub published: Option<Found>,
    pub modified: Option<Found>,
    pub author: Option<Found>,
    /// The lead image URL as written (`image`, `og:image`).
    pub image: Option<Found>,
    pub description: Option<String>,
    pub canonical: Option<String>,
    pub site_name: Option<String>,
    /// JSON-LD `keywords` and `article:tag`, in page order, each once.
    pub keywords: Vec<String>,
    /// JSON-LD `articleSection` or `article:section`.
    pub section: Option<String>,
    /// Feeds the page advertises with `<link rel="alternate">`.
    pub feeds: Vec<Advertised>,
    /// `<link rel="next">`, as written.
    pub next: Option<String>,
}

/// A feed a page points to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advertised {
    /// The `href`, as written.
    pub href: String,
    pub kind: FeedKind,
    pub title: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedKind {
    Rss,
    Atom,
    Json,
}

/// Reads every kind of metadata the page carries.
pub fn read(doc: &Html) -> PageMeta {
    let _ = doc;
    PageMeta::default()
}
