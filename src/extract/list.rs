//! Listing pages: HTML in, the article links it announces and the next listing page out.
//!
//! A listing page links to far more than its stories: navigation, a "most popular" sidebar, related-story blocks.
//! With an `item` selector only links inside story elements count, and a date printed in the same story is kept
//! beside its link. Links are resolved against the page's final URL (or its `<base href>`), restricted to http(s),
//! and de-duplicated in page order, because real listings show the same article twice (a headline and a thumbnail,
//! or a tracking-tagged copy). Titles and dates stay raw apart from collapsed whitespace; `normalize` cleans them.
//! Nothing here fetches the next page: the caller decides whether to follow [`Listing::next`].

use std::collections::HashMap;
use std::sync::LazyLock;

use scraper::{ElementRef, Html, Selector};
use url::Url;

use super::dom;
use super::{auto, meta};
use crate::model::{ListedLink, Origin};

pub(super) static ANCHOR: LazyLock<Selector> = LazyLock::new(|| dom::selector("a[href]"));
static BASE: LazyLock<Selector> = LazyLock::new(|| dom::selector("base[href]"));

/// Schemes that never lead to an article. Resolution would reject them too (only http(s) is kept), but naming them
/// states the intent and skips the work.
const SKIPPED_SCHEMES: [&str; 4] = ["javascript:", "mailto:", "tel:", "data:"];

/// Where the stories are on a listing page; compiled from a source's config. Without `item` and `links` the
/// stories are found automatically ([`auto::links`]), so [`ListRules::default`] reads any listing page.
#[derive(Debug, Clone, Default)]
pub struct ListRules {
    /// One element per story. When set, links and dates are looked for inside each story only.
    pub item: Option<Selector>,
    /// The article link: an `<a href>`, or an element whose first `<a href>` is the link (with `item` and without
    /// `links`, the story's first link).
    pub links: Option<Selector>,
    /// A date printed inside a story; ignored without `item`, since nothing would tie it to a link.
    pub date: Option<Selector>,
    /// The link to the next listing page.
    pub next: Option<Selector>,
}

/// What one listing page yields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    /// Article links in page order, each URL once (fragment and `utm_*` parameters removed).
    pub links: Vec<ListedLink>,
    /// The next listing page, if the page links to one other than itself.
    pub next: Option<Url>,
    /// Where the links were found: the configured selectors, or automatic detection.
    pub origin: Option<Origin>,
    /// Feeds the page advertises (`<link rel="alternate">`), resolved: the site may already have what is wanted.
    pub feeds: Vec<Url>,
}

/// Reads a listing page. `base` is the page's final URL, after redirects.
pub fn parse(html: &str, base: &Url, rules: &ListRules) -> Listing {
    let doc = dom::parse(html, base);
    let resolve_base = document_base(&doc, base);
    let mut links = Links::default();

    let mut origin = Some(Origin::Selector);
    match (&rules.item, &rules.links) {
        (Some(item), link_sel) => {
            for story in doc.select(item) {
                let found = match link_sel {
                    Some(sel) => story.select(sel).next(),
                    None => story.select(&ANCHOR).next(),
                };
                let Some((url, anchor)) = found.and_then(|found| link(found, &resolve_base)) else {
                    continue;
                };
                let date = rules
                    .date
                    .as_ref()
                    .and_then(|sel| story.select(sel).next())
                    .and_then(dom::text);
                links.add(url, title(anchor), date);
            }
        }
        (None, Some(sel)) => {
            for found in doc.select(sel) {
                if let Some((url, anchor)) = link(found, &resolve_base) {
                    links.add(url, title(anchor), None);
                }
            }
        }
        (None, None) => {
            origin = None;
            if let Some(detected) = auto::links::find(&doc, base) {
                origin = Some(Origin::Heuristic);
                for found in detected.links {
                    links.add(found.url, found.title, found.date_text);
                }
            }
        }
    }

    // Only the first match counts: on the last page the "next" control is often still there but disabled
    // (`href="#"`, `javascript:`), and a later match would be some other pager link.
    let next = match &rules.next {
        Some(sel) => doc
            .select(sel)
            .next()
            .and_then(|found| link(found, &resolve_base))
            .map(|(url, _)| url),
        None => auto::pager::next_listing(&doc, &resolve_base),
    }
    .filter(|url| !same_page(url, base));

    let feeds = meta::links_only(&doc)
        .feeds
        .iter()
        .filter_map(|feed| resolve(&feed.href, &resolve_base))
        .collect();
    Listing {
        links: links.list,
        next,
        origin,
        feeds,
    }
}

/// The URL relative links resolve against: the first `<base href>` if it makes a usable http(s) URL, otherwise the
/// page's own URL. A relative `<base href>` is itself resolved against the page URL, as browsers do.
pub(super) fn document_base(doc: &Html, page: &Url) -> Url {
    doc.select(&BASE)
        .next()
        .and_then(|b| b.attr("href"))
        .and_then(|href| page.join(href.trim()).ok())
        .filter(is_http)
        .unwrap_or_else(|| page.clone())
}

/// The link a selector match stands for: the match itself if it is an `<a href>`, otherwise the first `<a href>`
/// inside it; with the cleaned absolute URL it points to.
pub(super) fn link<'a>(found: ElementRef<'a>, base: &Url) -> Option<(Url, ElementRef<'a>)> {
    let anchor = if ANCHOR.matches(&found) {
        found
    } else {
        found.select(&ANCHOR).next()?
    };
    let url = resolve(anchor.attr("href")?, base)?;
    Some((strip_tracking(url), anchor))
}

/// The link's text; an image-only link has none, and then its `title` attribute is the best the page offers.
pub(super) fn title(anchor: ElementRef<'_>) -> Option<String> {
    dom::text(anchor).or_else(|| dom::attr(anchor, "title").and_then(dom::collapse))
}

/// Resolves an `href` as written, keeping only links that can lead to another http(s) page.
pub(super) fn resolve(href: &str, base: &Url) -> Option<Url> {
    let href = href.trim();
    // An empty href or a bare fragment points back at the listing itself.
    if href.is_empty() || href.starts_with('#') {
        return None;
    }
    let skipped = SKIPPED_SCHEMES.iter().any(|scheme| {
        href.get(..scheme.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(scheme))
    });
    if skipped {
        return None;
    }
    base.join(href).ok().filter(is_http)
}

fn is_http(url: &Url) -> bool {
    matches!(url.scheme(), "http" | "https")
}

/// Removes the fragment and `utm_*` query parameters: they never change which article a link names. The remaining
/// parameters are kept byte for byte (re-encoding them could change what a picky server returns).
pub(super) fn strip_tracking(mut url: Url) -> Url {
    url.set_fragment(None);
    let Some(query) = url.query() else { return url };
    let pairs: Vec<&str> = query.split('&').collect();
    let kept: Vec<&str> = pairs.iter().copied().filter(|pair| !is_utm(pair)).collect();
    if kept.len() != pairs.len() {
        let kept = kept.join("&");
        url.set_query((!kept.is_empty()).then_some(kept.as_str()));
    }
    url
}

fn is_utm(pair: &str) -> bool {
    pair.get(..4).is_some_and(|key| key.eq_ignore_ascii_case("utm_"))
}

/// Whether `url` is the listing page itself, ignoring fragments: following it would loop.
pub(super) fn same_page(url: &Url, page: &Url) -> bool {
    let mut page = page.clone();
    page.set_fragment(None);
    *url == page
}

/// Links in page order, one per URL.
#[derive(Default)]
pub(super) struct Links {
    pub(super) list: Vec<ListedLink>,
    index: HashMap<Url, usize>,
}

impl Links {
    /// Keeps the first occurrence of a URL, but lets a later duplicate fill in what the first lacked: a thumbnail
    /// link has no text and the headline link after it does; one block prints a date and another does not.
    pub(super) fn add(&mut self, url: Url, title: Option<String>, date_text: Option<String>) {
        match self.index.get(&url) {
            Some(&i) => {
                let first = &mut self.list[i];
                if first.title.is_none() {
                    first.title = title;
                }
                if first.date_text.is_none() {
                    first.date_text = date_text;
                }
            }
            None => {
                self.index.insert(url.clone(), self.list.len());
                self.list.push(ListedLink {
                    url,
                    title,
                    date_text,
                    feed: None,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(css: &str) -> Selector {
        Selector::parse(css).unwrap()
    }

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    fn base() -> Url {
        url("https://www.wicinternet.org/news/node_123.htm")
    }

    fn item_rules() -> ListRules {
        ListRules {
            item: Some(sel("ul.news li")),
            links: Some(sel("a.title")),
            date: Some(sel("span.date")),
            next: Some(sel("a.next")),
        }
    }

    fn found(link_url: &str, title: Option<&str>, date: Option<&str>) -> ListedLink {
        ListedLink {
            url: url(link_url),
            title: title.map(str::to_owned),
            date_text: date.map(str::to_owned),
            feed: None,
        }
    }

    const LISTING: &str = r#"<!DOCTYPE html>
<html><head><title>News</title></head><body>
<div class="nav"><a href="/">Home</a> &gt; <a href="/news/node_123.htm">News</a>
  <a href="/2015-12/01/c_1.htm">Featured: nav story</a></div>
<ul class="news">
  <li><a class="title" href="../2015-12/16/c_47822.htm">Xi calls for
      shared   future in cyberspace</a> <span class="date">2015-12-16</span>
      <p>Summary with <a href="/2015-12/01/c_2.htm">an inline link</a>.</p></li>
  <li><a class="title" href="/2015-12/16/c_47823.htm">Root-relative</a><span class="date"> Dec&nbsp;16, 2015 </span></li>
  <li><a class="title" href="//www.wicinternet.org/2015-12/15/c_47800.htm">Protocol-relative</a></li>
  <li><a class="title" href=" https://en.wicinternet.org/2015-12/14/c_47700.htm ">Absolute</a></li>
  <li><span>no link in this story</span></li>
</ul>
<div class="sidebar"><h3>Most popular</h3>
  <a class="title" href="/2015-11/30/c_40000.htm">Popular story</a></div>
<div class="pager"><a class="next" href="node_123_2.htm">Next</a></div>
</body></html>"#;

    #[test]
    fn item_scoped_links_skip_nav_and_sidebar_and_resolve_every_form() {
        let listing = parse(LISTING, &base(), &item_rules());
        assert_eq!(
            listing.links,
            vec![
                found(
                    "https://www.wicinternet.org/2015-12/16/c_47822.htm",
                    Some("Xi calls for shared future in cyberspace"),
                    Some("2015-12-16"),
                ),
                found(
                    "https://www.wicinternet.org/2015-12/16/c_47823.htm",
                    Some("Root-relative"),
                    Some("Dec 16, 2015")
                ),
                found(
                    "https://www.wicinternet.org/2015-12/15/c_47800.htm",
                    Some("Protocol-relative"),
                    None
                ),
                found(
                    "https://en.wicinternet.org/2015-12/14/c_47700.htm",
                    Some("Absolute"),
                    None
                ),
            ]
        );
        assert_eq!(
            listing.next,
            Some(url("https://www.wicinternet.org/news/node_123_2.htm"))
        );
    }

    #[test]
    fn protocol_relative_links_take_the_scheme_of_the_page() {
        let listing = parse(
            LISTING,
            &url("http://www.wicinternet.org/news/node_123.htm"),
            &item_rules(),
        );
        assert_eq!(
            listing.links[2].url,
            url("http://www.wicinternet.org/2015-12/15/c_47800.htm")
        );
    }

    #[test]
    fn without_item_every_match_in_the_document_counts_and_dates_are_ignored() {
        let rules = ListRules {
            item: None,
            ..item_rules()
        };
        let listing = parse(LISTING, &base(), &rules);
        let urls: Vec<&str> = listing.links.iter().map(|l| l.url.as_str()).collect();
        assert_eq!(
            urls,
            [
                "https://www.wicinternet.org/2015-12/16/c_47822.htm",
                "https://www.wicinternet.org/2015-12/16/c_47823.htm",
                "https://www.wicinternet.org/2015-12/15/c_47800.htm",
                "https://en.wicinternet.org/2015-12/14/c_47700.htm",
                "https://www.wicinternet.org/2015-11/30/c_40000.htm",
            ]
        );
        assert!(listing.links.iter().all(|l| l.date_text.is_none()));
        assert_eq!(listing.links[4].title.as_deref(), Some("Popular story"));
    }

    #[test]
    fn base_href_overrides_the_page_url() {
        let html = r#"<html><head><base href="/archive/2015/"></head><body>
            <div class="list"><a href="c_1.htm">One</a><a href="/c_2.htm">Two</a>
            <a href="//cdn.example.com/c_3.htm">Three</a></div>
            <a class="next" href="page2.htm">Next</a></body></html>"#;
        let rules = ListRules {
            item: None,
            links: Some(sel("div.list a")),
            date: None,
            next: Some(sel("a.next")),
        };
        let listing = parse(html, &base(), &rules);
        let urls: Vec<&str> = listing.links.iter().map(|l| l.url.as_str()).collect();
        assert_eq!(
            urls,
            [
                "https://www.wicinternet.org/archive/2015/c_1.htm",
                "https://www.wicinternet.org/c_2.htm",
                "https://cdn.example.com/c_3.htm",
            ]
        );
        assert_eq!(
            listing.next,
            Some(url("https://www.wicinternet.org/archive/2015/page2.htm"))
        );
    }

    #[test]
    fn unusable_base_href_falls_back_to_the_page_url() {
        let html = r#"<head><base href="javascript:void(0)"></head><a href="c_1.htm">One</a>"#;
        let rules = ListRules {
            item: None,
            links: Some(sel("a")),
            date: None,
            next: None,
        };
        let listing = parse(html, &base(), &rules);
        assert_eq!(listing.links[0].url, url("https://www.wicinternet.org/news/c_1.htm"));
    }

    #[test]
    fn duplicates_collapse_to_the_first_in_page_order() {
        let html = r#"<ul>
          <li><a href="/c_1.htm#comments"><img src="t1.jpg"></a></li>
          <li><a href="/c_2.htm?utm_source=wechat&amp;id=7&amp;utm_medium=social">Two</a></li>
          <li><a href="/c_1.htm?utm_campaign=x">One</a> <span class="date">2015-12-16</span></li>
          <li><a href="/c_2.htm?id=7">Two again</a><span class="date">2015-12-15</span></li>
          <li><a href="/c_2.htm?id=7#top">Two, third time</a><span class="date">2015-12-14</span></li>
          <li><a href="/c_3.htm?UTM_Source=x">Three</a></li>
        </ul>"#;
        let rules = ListRules {
            item: Some(sel("li")),
            links: Some(sel("a")),
            date: Some(sel(".date")),
            next: None,
        };
        let listing = parse(html, &base(), &rules);
        assert_eq!(
            listing.links,
            vec![
                // The thumbnail link came first; the headline later filled in its title and date.
                found("https://www.wicinternet.org/c_1.htm", Some("One"), Some("2015-12-16")),
                // The first title stays; the first had no date, so the next duplicate's date is used.
                found(
                    "https://www.wicinternet.org/c_2.htm?id=7",
                    Some("Two"),
                    Some("2015-12-15")
                ),
                found("https://www.wicinternet.org/c_3.htm", Some("Three"), None),
            ]
        );
    }

    #[test]
    fn tracking_removal_keeps_other_parameters_byte_for_byte() {
        let cleaned = strip_tracking(url("https://a.example/x?q=b%20c&utm_source=x&flag&n=a+b#frag"));
        assert_eq!(cleaned.as_str(), "https://a.example/x?q=b%20c&flag&n=a+b");
        let only_tracking = strip_tracking(url("https://a.example/x?utm_source=x"));
        assert_eq!(only_tracking.as_str(), "https://a.example/x");
        let untouched = strip_tracking(url("https://a.example/x?utmost=1"));
        assert_eq!(untouched.as_str(), "https://a.example/x?utmost=1");
    }

    #[test]
    fn non_web_links_and_fragments_are_skipped() {
        let html = r##"<div class="list">
          <a href="javascript:void(0)">Share</a>
          <a href=" JavaScript:openWin('c_9.htm')">Popup</a>
          <a href="mailto:editor@wicinternet.org">Mail us</a>
          <a href="tel:+86-10-1234">Call</a>
          <a href="data:text/html,hi">Data</a>
          <a href="#top">Top</a>
          <a href="">Self</a>
          <a href="ftp://files.example.com/a.htm">FTP</a>
          <a name="anchor-without-href">No href</a>
          <a href="/c_1.htm">Kept</a>
        </div>"##;
        let rules = ListRules {
            item: None,
            links: Some(sel("div.list a")),
            date: None,
            next: None,
        };
        let listing = parse(html, &base(), &rules);
        assert_eq!(
            listing.links,
            vec![found("https://www.wicinternet.org/c_1.htm", Some("Kept"), None)]
        );
    }

    #[test]
    fn a_non_anchor_match_uses_the_first_link_inside_it() {
        let html = r#"<div class="story"><h3><span>Label</span><a href="/c_1.htm">Headline</a>
            <a href="/c_2.htm">Second</a></h3></div><h3>No link</h3>"#;
        let rules = ListRules {
            item: None,
            links: Some(sel("h3")),
            date: None,
            next: None,
        };
        let listing = parse(html, &base(), &rules);
        assert_eq!(
            listing.links,
            vec![found("https://www.wicinternet.org/c_1.htm", Some("Headline"), None)]
        );
    }

    #[test]
    fn titles_and_dates_are_collapsed_and_entities_decoded() {
        let html = "<li><a href='/c_1.htm'>\n  AT&amp;T&nbsp;&amp; China\u{3000}Mobile  </a>\
                    <span class='date'><b>2015-12-16</b><br>10:23</span></li>\
                    <li><a href='/c_2.htm' title=' Full   headline '><img src='x.jpg'></a><span class='date'> </span></li>";
        let rules = ListRules {
            item: Some(sel("li")),
            links: Some(sel("a")),
            date: Some(sel(".date")),
            next: None,
        };
        let listing = parse(html, &base(), &rules);
        assert_eq!(
            listing.links,
            vec![
                found(
                    "https://www.wicinternet.org/c_1.htm",
                    Some("AT&T & China Mobile"),
                    Some("2015-12-16 10:23")
                ),
                found("https://www.wicinternet.org/c_2.htm", Some("Full headline"), None),
            ]
        );
    }

    #[test]
    fn next_is_none_when_missing_disabled_or_pointing_at_the_page_itself() {
        let rules = item_rules();
        let none = |html: &str| parse(html, &base(), &rules).next;
        assert_eq!(none("<p>no pager</p>"), None);
        assert_eq!(none(r##"<a class="next" href="#">Next</a>"##), None);
        assert_eq!(none(r#"<a class="next" href="javascript:;">Next</a>"#), None);
        assert_eq!(none(r#"<a class="next" href="node_123.htm#list">Next</a>"#), None);
        let no_selector = ListRules {
            next: None,
            ..item_rules()
        };
        // Without a selector the pager is found automatically: the page's "Next" link.
        assert_eq!(
            parse(LISTING, &base(), &no_selector).next,
            Some(url("https://www.wicinternet.org/news/node_123_2.htm"))
        );
    }

    #[test]
    fn next_may_be_a_wrapper_around_the_link() {
        let rules = ListRules {
            next: Some(sel("li.next")),
            ..item_rules()
        };
        let html = r#"<ul class="pager"><li class="next"><a href="?page=3#x">&raquo;</a></li></ul>"#;
        assert_eq!(
            parse(html, &base(), &rules).next,
            Some(url("https://www.wicinternet.org/news/node_123.htm?page=3"))
        );
    }
}
