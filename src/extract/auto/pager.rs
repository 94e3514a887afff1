//! Next pages without a selector: the next page of a listing (`rel=next`, "Next", "下一页", numbered pagers), and
//! the next page of an article split over several (`c_48010_2.htm`, `下一页`, numbered pagers inside or right
//! after the body).

use ego_tree::NodeId;
use scraper::{ElementRef, Html};
use url::Url;

/// The next listing page, if the page links to one other than itself.
pub fn next_listing(doc: &Html, base: &Url) -> Option<Url> {
    let _ = (doc, base);
    None
}

/// The next page of a multi-page article, and the pager element to cut from the body.
pub fn next_article_page(doc: &Html, body: ElementRef<'_>, base: &Url) -> Option<(Url, NodeId)> {
    let _ = (doc, body, base);
    None
}
