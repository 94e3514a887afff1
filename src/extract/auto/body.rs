//! An article's body without a selector: a readability-style score over the page's blocks.

use std::collections::HashSet;

use ego_tree::NodeId;
use scraper::{ElementRef, Html};

/// The detected body of an article page.
#[derive(Debug, Clone)]
pub struct Body<'a> {
    /// The element whose inner HTML is the body.
    pub root: ElementRef<'a>,
    /// Elements inside `root` to leave out (share bars, related lists, ads, editor lines, pagers), each with its
    /// subtree.
    pub noise: HashSet<NodeId>,
    /// A CSS selector that matches `root` first on this page, when a stable one exists (an id, or classes that are
    /// unique on the page).
    pub selector: Option<String>,
    /// The lead image (an `<img>` element) when it sits outside `root` (inside, it is already in the body).
    pub image: Option<ElementRef<'a>>,
    /// The lead image's caption text.
    pub caption: Option<String>,
}

/// Finds the main text of an article page; `None` when nothing on the page reads like an article.
pub fn find(doc: &Html) -> Option<Body<'_>> {
    let _ = doc;
    None
}
