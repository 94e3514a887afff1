//! Next pages without a selector: the next page of a listing (`rel=next`, "Next", "下一页", numbered pagers), and
//! the next page of an article split over several (`c_48010_2.htm`, `下一页`, numbered pagers inside or right
//! after the body).
//!
//! Signals are tried from the most explicit to the least: a `rel=next` declaration, a link whose text says "next",
//! then a numbered pager whose current page is marked (a `current`/`active`/`cur` class, or a number that is not a
//! link) and which links the following number. A next page is never the page itself and never a disabled control
//! (`href="#"`, `javascript:`): links resolve as in [`super::super::list`]. Nothing here fetches; the caller decides
//! whether to follow, and how far.

use std::sync::LazyLock;

use ego_tree::NodeId;
use scraper::{ElementRef, Html, Selector};
use url::Url;

use super::super::dom;
use super::super::list;

static LINK_NEXT: LazyLock<Selector> = LazyLock::new(|| dom::selector("link[rel~=next][href], a[rel~=next][href]"));

/// Link texts that mean "the next page" once arrows and spaces are stripped (lowercase).
const NEXT_WORDS: [&str; 9] = [
    "next",
    "next page",
    "下一页",
    "下页",
    "后页",
    "older posts",
    "older entries",
    "more posts",
    "next posts",
];

/// Texts that are only an arrow.
const NEXT_ARROWS: [&str; 5] = ["›", "»", ">", ">>", "→"];

/// Class words that mark the current page in a numbered pager.
const CURRENT: [&str; 6] = ["current", "active", "cur", "on", "selected", "curr"];

/// The next listing page, if the page links to one other than itself.
pub fn next_listing(doc: &Html, base: &Url) -> Option<Url> {
    let resolve = list::document_base(doc, base);
    let usable = |url: &Url| !list::same_page(url, base);
    let declared = doc
        .select(&LINK_NEXT)
        .filter_map(|el| el.attr("href"))
        .filter_map(|href| list::resolve(href, &resolve).map(list::strip_tracking))
        .find(usable);
    if declared.is_some() {
        return declared;
    }
    let anchors: Vec<ElementRef<'_>> = doc.select(&list::ANCHOR).collect();
    let worded = anchors
        .iter()
        .filter(|a| says_next(**a))
        .filter_map(|a| list::link(*a, &resolve).map(|(u, _)| u))
        .find(usable);
    if worded.is_some() {
        return worded;
    }
    numbered(doc.root_element(), &resolve)
        .map(|(url, _)| url)
        .filter(usable)
}

/// The next page of a multi-page article, and the pager element to cut from the body.
pub fn next_article_page(doc: &Html, body: ElementRef<'_>, base: &Url) -> Option<(Url, NodeId)> {
    let resolve = list::document_base(doc, base);
    for area in pager_areas(body) {
        let anchors: Vec<ElementRef<'_>> = area
            .select(&list::ANCHOR)
            .chain(list::ANCHOR.matches(&area).then_some(area))
            .collect();
        let usable = |url: &Url| !list::same_page(url, base) && same_article(url, base);
        // A worded link first, then the URL pattern `stem_N`, then a marked number.
        let worded = anchors.iter().find_map(|a| {
            let (url, _) = list::link(*a, &resolve)?;
            (says_next(*a) && usable(&url)).then_some((url, *a))
        });
        let patterned = || {
            let want = page_number(base).map(|(stem, n)| (stem, n + 1))?;
            anchors.iter().find_map(|a| {
                let (url, _) = list::link(*a, &resolve)?;
                (page_number(&url).as_ref() == Some(&want) && usable(&url)).then_some((url, *a))
            })
        };
        let numbered = || numbered(area, &resolve).filter(|(url, _)| usable(url));
        if let Some((url, anchor)) = worded.or_else(patterned).or_else(numbered) {
            return Some((url, pager_of(anchor, body)));
        }
    }
    None
}

/// Where an article's pager sits: inside the body, or in one of the few elements right after it (or after the
/// body's parent, when the body is wrapped).
fn pager_areas(body: ElementRef<'_>) -> Vec<ElementRef<'_>> {
    let mut areas = vec![body];
    areas.extend(body.next_siblings().filter_map(ElementRef::wrap).take(3));
    if let Some(parent) = body.parent().and_then(ElementRef::wrap) {
        areas.extend(parent.next_siblings().filter_map(ElementRef::wrap).take(2));
    }
    areas
}

/// The pager element to cut: the highest ancestor of the link, below the body, that holds little text besides
/// the page controls; the link itself when it stands alone in the body.
fn pager_of(anchor: ElementRef<'_>, body: ElementRef<'_>) -> NodeId {
    let mut pager = anchor;
    for el in anchor.ancestors().filter_map(ElementRef::wrap) {
        if el.id() == body.id() || el.value().name() == "body" {
            break;
        }
        let short = dom::text(el).is_none_or(|t| t.chars().count() <= 80);
        if !short {
            break;
        }
        pager = el;
    }
    pager.id()
}

/// Whether a link's text (or its `rel`, or a `next` class on it or its list item) says "next page".
fn says_next(anchor: ElementRef<'_>) -> bool {
    let text = dom::text(anchor)
        .or_else(|| dom::attr(anchor, "title").map(str::to_owned))
        .unwrap_or_default();
    if NEXT_ARROWS.contains(&text.as_str()) {
        return true;
    }
    let words: String = text
        .to_lowercase()
        .chars()
        .filter(|c| !matches!(c, '›' | '»' | '>' | '→' | '<' | '«'))
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if NEXT_WORDS.contains(&words.as_str()) {
        return true;
    }
    let classed = |el: ElementRef<'_>| {
        el.value()
            .classes()
            .any(|c| c.eq_ignore_ascii_case("next") || c.eq_ignore_ascii_case("nextpostslink"))
    };
    // A `next` class counts only on a control without text of its own beyond an arrow or a word like "Next".
    (classed(anchor)
        || anchor
            .parent()
            .and_then(ElementRef::wrap)
            .is_some_and(|p| p.value().name() == "li" && classed(p)))
        && text.chars().count() <= 12
}

/// A numbered pager inside `area`: the current page's number (a marked element, or a number that is not a link)
/// and the link to the following number near it.
fn numbered<'a>(area: ElementRef<'a>, base: &Url) -> Option<(Url, ElementRef<'a>)> {
    for el in area.descendants().filter_map(ElementRef::wrap) {
        let Some(n) = number(el) else { continue };
        let marked = el
            .value()
            .classes()
            .any(|c| CURRENT.iter().any(|w| c.eq_ignore_ascii_case(w)))
            || el.parent().and_then(ElementRef::wrap).is_some_and(|p| {
                p.value()
                    .classes()
                    .any(|c| CURRENT.iter().any(|w| c.eq_ignore_ascii_case(w)))
            });
        let is_link = list::ANCHOR.matches(&el)
            || el
                .ancestors()
                .filter_map(ElementRef::wrap)
                .any(|a| list::ANCHOR.matches(&a));
        if !(marked || (!is_link && matches!(el.value().name(), "span" | "strong" | "b" | "em" | "font"))) {
            continue;
        }
        // The pager is the nearest ancestor that holds links; the next number is one of them.
        let Some(pager) = el
            .ancestors()
            .filter_map(ElementRef::wrap)
            .take(3)
            .find(|p| p.select(&list::ANCHOR).next().is_some())
        else {
            continue;
        };
        let next = pager
            .select(&list::ANCHOR)
            .find(|a| number(*a) == Some(n + 1))
            .and_then(|a| list::link(a, base).map(|(u, _)| (u, a)));
        if next.is_some() {
            return next;
        }
    }
    None
}

/// The element's text when it is a small page number (`2`, `[2]`).
fn number(el: ElementRef<'_>) -> Option<u32> {
    let text = dom::text(el)?;
    let digits = text.trim_matches(|c: char| matches!(c, '[' | ']' | ' '));
    (digits.len() <= 3 && !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

/// An article page URL's stem and page number: `c_48010.htm` is page 1 of `c_48010`, `c_48010_2.htm` page 2,
/// `content_123-3.html` page 3 of `content_123`.
/// `None` for a URL whose last segment has no stem (`/`).
fn page_number(url: &Url) -> Option<((String, String), u32)> {
    let path = url.path();
    let (dir, file) = path.rsplit_once('/')?;
    let (stem, ext) = file.rsplit_once('.').unwrap_or((file, ""));
    if stem.is_empty() {
        return None;
    }
    let key = |s: &str| (format!("{}{dir}/{s}", url.host_str().unwrap_or("")), ext.to_owned());
    if let Some((head, tail)) = stem.rsplit_once(['_', '-'])
        // `c_48010_2` is page 2 of `c_48010`, but `c_2` is an article of its own: a page number follows an id.
        && head.ends_with(|c: char| c.is_ascii_digit())
        && !tail.is_empty()
        && tail.len() <= 3
        && tail.bytes().all(|b| b.is_ascii_digit())
        && let Ok(n) = tail.parse::<u32>()
    {
        return Some((key(head), n));
    }
    Some((key(stem), 1))
}

/// Whether a link can be another page of the same article: the same host and folder.
fn same_article(url: &Url, page: &Url) -> bool {
    let folder = |u: &Url| u.path().rsplit_once('/').map(|(d, _)| d.to_owned());
    url.host_str() == page.host_str() && folder(url) == folder(page)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    fn listing(html: &str) -> Option<String> {
        let base = url("https://news.example.com/news/node_35363.htm");
        next_listing(&Html::parse_document(html), &base).map(|u| u.to_string())
    }

    #[test]
    fn rel_next_in_the_head_or_on_a_link_wins() {
        let html = r#"<head><link rel="next" href="/page/2/"></head><body><a href="node_35363_9.htm">Next</a></body>"#;
        assert_eq!(listing(html).as_deref(), Some("https://news.example.com/page/2/"));
        let html = r#"<a rel="prev" href="?p=1">Prev</a> <a rel="nofollow next" href="?p=3">3</a>"#;
        assert_eq!(
            listing(html).as_deref(),
            Some("https://news.example.com/news/node_35363.htm?p=3")
        );
    }

    #[test]
    fn worded_links_in_english_and_chinese() {
        for text in [
            "Next",
            "Next page",
            "next &raquo;",
            "&rsaquo;",
            "&raquo;",
            "下一页",
            "下页",
            "后页",
            "« Older posts",
        ] {
            let html = format!(
                r#"<div class="pages"><a href="node_35363.htm">1</a><a href="node_35363_2.htm">{text}</a></div>"#
            );
            assert_eq!(
                listing(&html).as_deref(),
                Some("https://news.example.com/news/node_35363_2.htm"),
                "{text}"
            );
        }
    }

    #[test]
    fn numbered_pagers_take_the_number_after_the_current_one() {
        let marked = r#"<div class="page"><a href="index.htm">1</a><a class="cur" href="index_2.htm">2</a>
            <a href="index_3.htm">3</a><a href="index_4.htm">4</a></div>"#;
        assert_eq!(
            listing(marked).as_deref(),
            Some("https://news.example.com/news/index_3.htm")
        );
        let plain = r#"<p><a href="index.htm">[1]</a> <span>2</span> <a href="index_3.htm">[3]</a></p>"#;
        assert_eq!(
            listing(plain).as_deref(),
            Some("https://news.example.com/news/index_3.htm")
        );
        let li =
            r#"<ul class="pagination"><li class="active"><span>1</span></li><li><a href="?page=2">2</a></li></ul>"#;
        assert_eq!(
            listing(li).as_deref(),
            Some("https://news.example.com/news/node_35363.htm?page=2")
        );
    }

    #[test]
    fn the_last_page_has_no_next() {
        assert_eq!(
            listing(
                r#"<a href="node_35363_1.htm">Previous</a> <a href="node_35363_1.htm">1</a> <span class="current">2</span>"#
            ),
            None
        );
        assert_eq!(
            listing(r##"<a href="#">Next</a> <a href="javascript:;">下一页</a>"##),
            None
        );
        assert_eq!(listing(r#"<a href="node_35363.htm#top">Next</a>"#), None);
        assert_eq!(listing("<p>No pager at all.</p>"), None);
    }

    fn article(html: &str, page: &str) -> Option<(String, String)> {
        let doc = Html::parse_document(html);
        let body = doc.select(&Selector::parse(".TRS_Editor").unwrap()).next().unwrap();
        let (next, pager) = next_article_page(&doc, body, &url(page))?;
        let pager = ElementRef::wrap(doc.tree.get(pager).unwrap()).unwrap();
        Some((
            next.path().to_owned(),
            pager.value().name().to_owned() + &dom::text(pager).unwrap_or_default(),
        ))
    }

    const TWO_PAGES: &str = r#"<div class="main"><div class="TRS_Editor"><p>第一页正文。</p>
        <div id="div_page_roll1"><a href="c_48010.htm">上一页</a> <span>1</span> <a href="c_48010_2.htm">2</a>
        <a href="c_48010_2.htm">下一页</a></div></div>
        <div class="related"><a href="/2019-09/08/c_48011.htm">下一篇：另一篇文章</a></div></div>"#;

    #[test]
    fn an_article_pager_inside_the_body_gives_the_next_page_and_the_pager_to_cut() {
        let (next, pager) = article(TWO_PAGES, "http://news.example.cn/2019-09/07/c_48010.htm").unwrap();
        assert_eq!(next, "/2019-09/07/c_48010_2.htm");
        assert_eq!(pager, "div上一页 1 2 下一页");
    }

    #[test]
    fn the_url_pattern_alone_finds_the_next_page_and_the_last_page_has_none() {
        let html = r#"<div class="TRS_Editor"><p>Text.</p></div><div class="pages"><a href="c_48010.htm">1</a>
            <a href="c_48010_2.htm">2</a> <a href="c_48010_3.htm">3</a></div>"#;
        let (next, pager) = article(html, "http://news.example.cn/2019-09/07/c_48010_2.htm").unwrap();
        assert_eq!(
            (next.as_str(), pager.as_str()),
            ("/2019-09/07/c_48010_3.htm", "div1 2 3")
        );
        assert_eq!(article(html, "http://news.example.cn/2019-09/07/c_48010_3.htm"), None);
    }

    #[test]
    fn a_next_article_link_in_another_folder_is_not_a_next_page() {
        let html = r#"<div class="TRS_Editor"><p>Text.</p><p><a href="/2019-09/08/c_48011.htm">Next</a></p></div>"#;
        assert_eq!(article(html, "http://news.example.cn/2019-09/07/c_48010.htm"), None);
    }

    #[test]
    fn page_numbers_of_article_urls() {
        let n = |s: &str| page_number(&url(s)).map(|(_, n)| n);
        assert_eq!(n("http://a.cn/2019-09/07/c_48010.htm"), Some(1));
        assert_eq!(n("http://a.cn/2019-09/07/c_48010_2.htm"), Some(2));
        assert_eq!(
            page_number(&url("http://a.cn/x/c_1_2.htm")).unwrap().0,
            page_number(&url("http://a.cn/x/c_1.htm")).unwrap().0
        );
    }
}
