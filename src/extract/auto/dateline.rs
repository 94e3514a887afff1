//! A publication date printed on the page near the headline, when metadata gives none: the text that holds it, as
//! written (`来源：新华网 2019年09月07日 08:05`, `Updated: Dec 16, 2015`, `3小时前`). Never from comments or related
//! stories. Parsing it (and resolving relative dates against the fetch time) is `normalize::date`'s job.

use scraper::Html;

/// The text of the element that prints the article's date, as written.
pub fn find(doc: &Html) -> Option<String> {
    let _ = doc;
    None
}
