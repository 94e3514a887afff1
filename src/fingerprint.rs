//! The fingerprint of a source's extraction rules: a digest that changes exactly when a config edit could change
//! what a run extracts from the same pages.
//!
//! Input is the validated [`Source`] (never the TOML text), so reformatting the file, reordering keys or editing a
//! comment changes nothing, while a new selector, `remove` entry, date format, time zone or page limit does.
//! Selectors enter in the canonical form `scraper` serializes them to (`div  >a` and `div > a` are one rule). The
//! pipeline compares it with the one stored by the last committed run to decide that stored items must be read
//! again. Pure: no I/O, no clock.
//!
//! Left out on purpose: the listing URLs (each has its own validators, so a new one is read in full anyway), HTTP
//! settings, schedules, titles and `max_items` (they change requests or presentation, not extraction).

use scraper::Selector;
use scraper::selector::ToCss;
use sha2::{Digest, Sha256};

use crate::config::Source;

/// Bumped when the meaning of a rule changes in a way the config text does not show (a new built-in date shape,
/// say), so every source is read again once after an upgrade that needs it.
const VERSION: &str = "feedwright rules 2";

/// The hex SHA-256 of [`canonical`].
pub fn of(source: &Source) -> String {
    let digest = Sha256::digest(canonical(source).as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The extraction-relevant part of `source` as text, one `key = value` line each, in a fixed order.
pub fn canonical(source: &Source) -> String {
    let (l, a, n) = (&source.listing, &source.article, &source.normalize);
    let mut lines = vec![VERSION.to_owned()];
    let mut put = |key: &str, value: String| lines.push(format!("{key} = {value:?}"));
    put("listing.item", optional(l.item.as_ref()));
    put("listing.links", optional(l.links.as_ref()));
    put("listing.date", optional(l.date.as_ref()));
    put("listing.next", optional(l.next.as_ref()));
    put("listing.max_pages", source.max_pages.to_string());
    put(
        "listing.pages",
        source
            .pages
            .as_ref()
            .and_then(|p| p.url(0))
            .map_or_else(String::new, |u| u.to_string()),
    );
    put("article.title", optional(a.title.as_ref()));
    put("article.date", optional(a.date.as_ref()));
    put("article.author", optional(a.author.as_ref()));
    put("article.content", optional(a.content.as_ref()));
    put("article.image", optional(a.image.as_ref()));
    put("article.caption", optional(a.caption.as_ref()));
    // Order kept: it does not change the result, but a reordered list is rare and costs only one re-read.
    let remove: Vec<String> = a.remove.iter().map(ToCss::to_css_string).collect();
    put("article.remove", format!("{remove:?}"));
    put("article.next", optional(a.next.as_ref()));
    put("article.max_pages", a.max_pages.to_string());
    put("article.date_formats", format!("{:?}", n.date_formats));
    put("timezone", n.timezone.name().to_owned());
    put("timezone.from_page", n.zone_from_page.to_string());
    put("summary_chars", n.summary_chars.to_string());
    put("max_content", n.max_content.to_string());
    // Only when set, so a source without it keeps the fingerprint it had before tags existed (no re-read of every
    // stored item on upgrade).
    if let Some(tags) = &a.tags {
        put("article.tags", tags.to_css_string());
    }
    // Only for feed sources, so a listing source's fingerprint is what it was before feeds were sources.
    if let Some(feed) = source.feed {
        put("feed.full_text", feed.full_text.to_string());
    }
    lines.join("\n")
}

fn optional(selector: Option<&Selector>) -> String {
    selector.map_or_else(String::new, ToCss::to_css_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(listing: &str, article: &str, extra: &str) -> Source {
        let text = format!(
            "# a comment\n[[source]]\nid = \"s\"\ntitle = \"S\"\nurl = \"https://e.org/news/\"\n{extra}\n[source.listing]\n{listing}\n[source.article]\n{article}\n"
        );
        crate::config::parse(&text, std::path::Path::new("t.toml"))
            .unwrap()
            .sources
            .remove(0)
    }

    const LISTING: &str = "links = \"ul > li a\"";
    const ARTICLE: &str = "title = \"h1\"\ncontent = \"#body\"\nremove = [\"div.ad\"]";

    #[test]
    fn formatting_of_the_file_and_selectors_does_not_change_it() {
        let base = of(&source(LISTING, ARTICLE, ""));
        let reformatted = source(
            "links   =   'ul>li   a'",
            "content = '#body'   # the body\ntitle = 'h1'\nremove = ['div.ad']",
            "description = \"not a rule\"\nmax_items = 7",
        );
        assert_eq!(of(&reformatted), base);
        assert_eq!(base.len(), 64);
    }

    #[test]
    fn each_rule_changes_it() {
        let base = of(&source(LISTING, ARTICLE, ""));
        let edits = [
            source("links = \"ul > li a, ol a\"", ARTICLE, ""),
            source(&format!("{LISTING}\nitem = \"li\""), ARTICLE, ""),
            source(&format!("{LISTING}\nmax_pages = 2"), ARTICLE, ""),
            source(
                LISTING,
                "title = \"h1\"\ncontent = \"#body\"\nremove = [\"div.ad\", \"p.share\"]",
                "",
            ),
            source(
                LISTING,
                "title = \"h2\"\ncontent = \"#body\"\nremove = [\"div.ad\"]",
                "",
            ),
            source(LISTING, &format!("{ARTICLE}\ndate_formats = [\"%d/%m/%Y\"]"), ""),
            source(LISTING, &format!("{ARTICLE}\nauthor = \".by\""), ""),
            source(LISTING, ARTICLE, "timezone = \"Asia/Shanghai\""),
            source(LISTING, &format!("{ARTICLE}\ntags = \".tags a\""), ""),
        ];
        let mut seen = std::collections::HashSet::from([base]);
        for edit in &edits {
            assert!(seen.insert(of(edit)), "{}", canonical(edit));
        }
    }
}
