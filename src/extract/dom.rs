//! Small DOM helpers shared by [`list`](super::list) and [`article`](super::article): the bounded parse of a page,
//! the visible text of an element, trimmed attribute values and selectors compiled once.
//!
//! Text is whitespace-collapsed and nothing more; entities are already decoded by the parser, and deeper cleaning
//! (zero-width spaces, control characters) is `normalize`'s job.

use scraper::{ElementRef, Html, Node, Selector};
use url::Url;

/// Elements whose text never shows on the page; their content is code, CSS or inert markup, not prose.
const HIDDEN: [&str; 4] = ["script", "style", "noscript", "template"];

/// Whether an element starts a new line when rendered. Its text must not run into a neighbour's: a date in
/// `<div>2015-12-16</div><div>10:23</div>` has to read `2015-12-16 10:23`, not `2015-12-1610:23`.
fn breaks_line(name: &str) -> bool {
    matches!(
        name,
        "address"
            | "article"
            | "aside"
            | "blockquote"
            | "br"
            | "caption"
            | "dd"
            | "div"
            | "dl"
            | "dt"
            | "figcaption"
            | "figure"
            | "footer"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "header"
            | "hr"
            | "li"
            | "main"
            | "nav"
            | "ol"
            | "p"
            | "pre"
            | "section"
            | "table"
            | "td"
            | "th"
            | "tr"
            | "ul"
    )
}

/// Parses a fetched page within the bounds of [`crate::html`]; a page they cut is read as far as they allow, with a
/// warning naming it, never dropped silently.
pub(super) fn parse(html: &str, url: &Url) -> Html {
    let parsed = crate::html::parse_document(html);
    if parsed.bounded() {
        tracing::warn!(
            url = %url,
            too_deep = parsed.too_deep,
            truncated = parsed.truncated,
            max_depth = crate::html::MAX_DEPTH,
            max_nodes = crate::html::MAX_NODES,
            "page exceeds the parsing bounds; read up to them"
        );
    }
    parsed.html
}

/// Compiles one of the built-in selectors; they are literals, so failing is a bug caught by any test run.
pub(super) fn selector(css: &'static str) -> Selector {
    Selector::parse(css).unwrap_or_else(|e| panic!("built-in selector {css:?} is invalid: {e}"))
}

/// The element's rendered text with runs of whitespace collapsed to one space; `None` when nothing is left.
pub(super) fn text(el: ElementRef<'_>) -> Option<String> {
    let mut raw = String::new();
    // An explicit stack instead of recursion: a hostile or broken page can nest elements deeply enough to overflow
    // the thread's stack. `None` on the stack stands for the space that ends a block element.
    let mut stack: Vec<Option<_>> = el.children().rev().map(Some).collect();
    while let Some(entry) = stack.pop() {
        let Some(node) = entry else {
            raw.push(' ');
            continue;
        };
        match node.value() {
            Node::Text(t) => raw.push_str(t),
            Node::Element(e) if HIDDEN.contains(&e.name()) => {}
            Node::Element(e) => {
                if breaks_line(e.name()) {
                    raw.push(' ');
                    stack.push(None);
                }
                stack.extend(node.children().rev().map(Some));
            }
            _ => {}
        }
    }
    collapse(&raw)
}

/// Collapses runs of Unicode whitespace (`&nbsp;` and the ideographic space included) to one ASCII space and trims.
pub(super) fn collapse(s: &str) -> Option<String> {
    let collapsed = s.split_whitespace().collect::<Vec<_>>().join(" ");
    (!collapsed.is_empty()).then_some(collapsed)
}

/// An attribute's value with surrounding whitespace trimmed; `None` when absent or blank.
pub(super) fn attr<'a>(el: ElementRef<'a>, name: &str) -> Option<&'a str> {
    el.attr(name).map(str::trim).filter(|v| !v.is_empty())
}

/// The `href` a link-ish match stands for: its own if it is an `<a href>`, else that of the first `<a href>` inside.
pub(super) fn link_href(el: ElementRef<'_>) -> Option<&str> {
    static ANCHOR: std::sync::LazyLock<Selector> = std::sync::LazyLock::new(|| selector("a[href]"));
    if el.value().name() == "a" && el.attr("href").is_some() {
        return attr(el, "href");
    }
    el.select(&ANCHOR).find_map(|a| attr(a, "href"))
}
