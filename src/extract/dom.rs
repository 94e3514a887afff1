//! Small DOM helpers shared by [`list`](super::list) and [`article`](super::article): the bounded parse of a page,
//! the visible text of an element, trimmed attribute values, selectors compiled once, and the serializer that writes
//! an element's inner HTML back out without the parts cut from it.
//!
//! Text is whitespace-collapsed and nothing more; entities are already decoded by the parser, and deeper cleaning
//! (zero-width spaces, control characters) is `normalize`'s job.

use std::collections::HashSet;

use ego_tree::NodeId;
use scraper::{ElementRef, Html, Node, Selector};
use url::Url;

use crate::html::escape_into;

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

/// Elements that are always cut from the body, whatever the source's `remove` list says: their text is code or a
/// fallback for pages without JavaScript, never article prose.
const ALWAYS_REMOVED: [&str; 3] = ["script", "style", "noscript"];

/// One step of the serializer's walk: write a node (and queue its children), or close an element.
enum Step<N> {
    Open(N),
    Close(N),
}

/// The inner HTML of `body`, leaving out every node in `removed` (elements with their whole subtree, and text) and
/// every [`ALWAYS_REMOVED`] element. The configured extractor fills `removed` from a source's `remove` selectors, the automatic one
/// from the noise it detected.
///
/// The serializer is small on purpose: text is escaped (`&`, `<`, `>`), attribute values too (`&`, `"`), void
/// elements get no end tag. Comments and `<template>` contents are dropped: they are never displayed. Text inside
/// the few raw-text elements that survive (`iframe`, `xmp`, …) is escaped like any other, which can only make such
/// text more literal, never let it turn into markup.
pub(crate) fn inner_html(body: ElementRef<'_>, removed: &HashSet<NodeId>) -> String {
    let mut out = String::new();
    // An explicit stack instead of recursion, so a pathologically deep page cannot overflow the thread's stack.
    let mut stack: Vec<_> = body.children().rev().map(Step::Open).collect();
    while let Some(step) = stack.pop() {
        let node = match step {
            Step::Open(node) => node,
            Step::Close(node) => {
                if let Some(el) = node.value().as_element() {
                    out.push_str("</");
                    out.push_str(el.name());
                    out.push('>');
                }
                continue;
            }
        };
        if removed.contains(&node.id()) {
            continue;
        }
        match node.value() {
            Node::Text(text) => escape_into(&mut out, text, false),
            Node::Element(el) => {
                let name = el.name();
                if ALWAYS_REMOVED.contains(&name) {
                    continue;
                }
                out.push('<');
                out.push_str(name);
                for (attr, value) in el.attrs.iter() {
                    out.push(' ');
                    // Foreign attributes such as SVG's `xlink:href` keep their prefix, or they would lose their
                    // namespace when parsed again.
                    if let Some(prefix) = &attr.prefix {
                        out.push_str(prefix);
                        out.push(':');
                    }
                    out.push_str(&attr.local);
                    out.push_str("=\"");
                    escape_into(&mut out, value, true);
                    out.push('"');
                }
                out.push('>');
                if crate::html::VOID.contains(&name) {
                    continue;
                }
                // The parser drops one newline right after these start tags, so a body that starts with a newline
                // needs an extra one to survive the next parse.
                if matches!(name, "pre" | "textarea" | "listing")
                    && node
                        .first_child()
                        .and_then(|c| c.value().as_text())
                        .is_some_and(|t| t.starts_with('\n'))
                {
                    out.push('\n');
                }
                stack.push(Step::Close(node));
                stack.extend(node.children().rev().map(Step::Open));
            }
            // Comments and the document fragment holding a `<template>`'s contents.
            _ => {}
        }
    }
    out
}
