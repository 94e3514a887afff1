//! What each configured selector matches on a page: the count and the first few texts, so a user sees at once why
//! a selector finds nothing (`preview ID --explain`). Pure, like the extractors: a page and the rules in, rows out.

use scraper::selector::ToCss;
use scraper::{ElementRef, Selector};
use url::Url;

use super::{ArticleRules, ListRules, dom};

/// How many texts of matched elements are shown per selector.
const SAMPLES: usize = 3;
/// The longest sample shown, in characters.
const SAMPLE_CHARS: usize = 80;

/// One configured selector on one page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    /// The config key, such as `listing.links`.
    pub key: &'static str,
    pub selector: String,
    pub count: usize,
    /// The text of the first matches (a link's `href` follows its text).
    pub samples: Vec<String>,
}

/// The listing selectors on a listing page. `links` and `date` are counted inside the `item` matches when there is
/// an `item` selector, since that is where the extractor looks for them.
pub fn listing(html: &str, base: &Url, rules: &ListRules) -> Vec<Matched> {
    let doc = dom::parse(html, base);
    let mut rows = Vec::new();
    let scope: Vec<ElementRef<'_>> = match &rules.item {
        Some(item) => {
            let stories: Vec<_> = doc.select(item).collect();
            rows.push(row("listing.item", item, &stories));
            stories
        }
        None => vec![doc.root_element()],
    };
    let inside = |sel: &Selector| -> Vec<ElementRef<'_>> { scope.iter().flat_map(|el| el.select(sel)).collect() };
    if let Some(links) = &rules.links {
        rows.push(row("listing.links", links, &inside(links)));
    }
    if let Some(date) = &rules.date {
        rows.push(row("listing.date", date, &inside(date)));
    }
    if let Some(next) = &rules.next {
        rows.push(row("listing.next", next, &doc.select(next).collect::<Vec<_>>()));
    }
    rows
}

/// The article selectors on an article page. `remove` is counted inside the first `content` match.
pub fn article(html: &str, url: &Url, rules: &ArticleRules) -> Vec<Matched> {
    let doc = dom::parse(html, url);
    let all = |sel: &Selector| doc.select(sel).collect::<Vec<_>>();
    let mut rows = Vec::new();
    let fields = [
        ("article.title", &rules.title),
        ("article.date", &rules.date),
        ("article.author", &rules.author),
        ("article.content", &rules.content),
        ("article.image", &rules.image),
        ("article.caption", &rules.caption),
        ("article.tags", &rules.tags),
        ("article.next", &rules.next),
    ];
    for (key, sel) in fields {
        if let Some(sel) = sel {
            rows.push(row(key, sel, &all(sel)));
        }
    }
    let body = rules.content.as_ref().and_then(|sel| doc.select(sel).next());
    for sel in &rules.remove {
        let found: Vec<_> = body.iter().flat_map(|b| b.select(sel)).collect();
        rows.push(row("article.remove", sel, &found));
    }
    rows
}

fn row(key: &'static str, sel: &Selector, found: &[ElementRef<'_>]) -> Matched {
    Matched {
        key,
        selector: sel.to_css_string(),
        count: found.len(),
        samples: found.iter().take(SAMPLES).map(|el| sample(*el)).collect(),
    }
}

fn sample(el: ElementRef<'_>) -> String {
    let mut text = dom::text(el).unwrap_or_default();
    if text.chars().count() > SAMPLE_CHARS {
        text = text.chars().take(SAMPLE_CHARS - 1).collect::<String>() + "…";
    }
    let href = if el.value().name() == "img" {
        dom::attr(el, "src")
    } else {
        dom::link_href(el)
    };
    match href {
        Some(href) if text.is_empty() => format!("<{href}>"),
        Some(href) if matches!(el.value().name(), "a" | "img") => format!("{text} <{href}>"),
        _ if text.is_empty() => format!("(<{}> with no text)", el.value().name()),
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(css: &str) -> Selector {
        Selector::parse(css).unwrap()
    }

    #[test]
    fn a_selector_that_finds_nothing_says_zero_and_one_that_does_shows_what() {
        let html = r#"<ul class="list"><li><a href="/a.htm">First story</a><span>2015-12-16</span></li>
            <li><a href="/b.htm">Second story</a><span>2015-12-17</span></li></ul>"#;
        let base = Url::parse("https://e.org/news/").unwrap();
        let rules = ListRules {
            item: Some(sel("ul.list > li")),
            links: Some(sel("h4 > a")),
            date: Some(sel("span")),
            next: None,
        };
        let rows = listing(html, &base, &rules);
        assert_eq!(rows[0].count, 2);
        assert_eq!(rows[1].key, "listing.links");
        assert_eq!(rows[1].count, 0, "no h4 in the stories");
        assert_eq!(rows[2].samples, ["2015-12-16", "2015-12-17"]);
        let rules = ListRules {
            links: Some(sel("li > a")),
            ..rules
        };
        assert_eq!(listing(html, &base, &rules)[1].samples[0], "First story </a.htm>");
    }

    #[test]
    fn article_rows_cover_every_configured_selector_and_remove_counts_inside_the_body() {
        let html = r#"<h1>Headline</h1><div id="c"><p>Text</p><div class="share">Share</div></div>
            <div class="share">outside</div>"#;
        let url = Url::parse("https://e.org/a.htm").unwrap();
        let rules = ArticleRules {
            title: Some(sel("h1.title")),
            content: Some(sel("#c")),
            remove: vec![sel(".share")],
            ..ArticleRules::default()
        };
        let rows = article(html, &url, &rules);
        let keys: Vec<_> = rows.iter().map(|r| (r.key, r.count)).collect();
        assert_eq!(
            keys,
            [("article.title", 0), ("article.content", 1), ("article.remove", 1)]
        );
    }
}
