//! The article links of a listing page without a selector: links grouped by their place in the document, the
//! groups scored, the main repeated block taken.

use scraper::Html;
use url::Url;

use crate::model::ListedLink;

/// What was found on a listing page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detected {
    /// The article links, in page order, resolved and de-duplicated as [`super::super::list`] does.
    pub links: Vec<ListedLink>,
    /// A CSS selector for one story element (the repeated block's items).
    pub item: String,
    /// A CSS selector for the article link inside a story.
    pub link: String,
    /// A CSS selector for a date printed inside a story, when stories print one.
    pub date: Option<String>,
}

/// Finds the main repeated block of article links; `None` when the page has none.
pub fn find(doc: &Html, base: &Url) -> Option<Detected> {
    let _ = (doc, base);
    None
}
