//! A stable CSS selector for an element that detection picked, so `init` can write it into the config: the source
//! then finds the same element on every run without depending on heuristics.
//!
//! Stable means built from names the site's template chose (an id, class names), never from positions
//! (`:nth-child`), which shift with every extra paragraph, and never from ids or classes that look generated
//! (long digit runs, hashes): those change from page to page. The selector must match the element first on its
//! page; `None` when no such selector exists.

use scraper::{ElementRef, Html, Selector};

/// How many ancestors a selector may name before it is given up as too fragile.
const MAX_STEPS: usize = 4;

/// A selector that matches `el` first in `doc`, as short as possible.
pub fn unique(doc: &Html, el: ElementRef<'_>) -> Option<String> {
    let mut steps = Vec::new();
    let mut current = Some(el);
    while let Some(node) = current {
        if steps.len() == MAX_STEPS || node.value().name() == "html" {
            break;
        }
        let step = step(node);
        let is_id = step.contains('#');
        steps.insert(0, step);
        let css = steps.join(" > ");
        if first_match_is(doc, &css, el) {
            return Some(css);
        }
        // An id is unique by intent: a longer chain above it only adds ways to break.
        if is_id {
            break;
        }
        current = node.parent().and_then(ElementRef::wrap);
    }
    None
}

/// The same for a set of elements (one per story on a listing): a selector matching exactly them, in order.
pub fn all(doc: &Html, els: &[ElementRef<'_>]) -> Option<String> {
    let first = *els.first()?;
    let mut css = step_without_id(first);
    for parent in first.ancestors().filter_map(ElementRef::wrap).take(MAX_STEPS) {
        if matches_exactly(doc, &css, els) {
            return Some(css);
        }
        if parent.value().name() == "html" {
            break;
        }
        css = format!("{} > {css}", step(parent));
    }
    matches_exactly(doc, &css, els).then_some(css)
}

fn matches_exactly(doc: &Html, css: &str, els: &[ElementRef<'_>]) -> bool {
    let Ok(sel) = Selector::parse(css) else { return false };
    let found: Vec<_> = doc.select(&sel).map(|e| e.id()).collect();
    found == els.iter().map(|e| e.id()).collect::<Vec<_>>()
}

fn first_match_is(doc: &Html, css: &str, el: ElementRef<'_>) -> bool {
    Selector::parse(css).is_ok_and(|sel| doc.select(&sel).next().is_some_and(|found| found.id() == el.id()))
}

/// One element's part of a selector: `tag#id`, or `tag.class.class` with its stable classes.
fn step(el: ElementRef<'_>) -> String {
    match el.value().id().filter(|id| stable(id)) {
        Some(id) => format!("{}#{}", el.value().name(), id),
        None => step_without_id(el),
    }
}

fn step_without_id(el: ElementRef<'_>) -> String {
    let mut out = el.value().name().to_owned();
    for class in el.value().classes().filter(|c| stable(c)).take(2) {
        out.push('.');
        out.push_str(class);
    }
    out
}

/// Whether a class or id name is a plain CSS identifier a person would write: an ASCII letter first, at most 40
/// characters, and no run of three digits or four digits in all (post ids, build hashes like `css-1x2y3z4`, which
/// change from page to page or from deploy to deploy).
fn stable(name: &str) -> bool {
    let ascii_ident = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    let starts = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
    let digits = name.chars().filter(char::is_ascii_digit).count();
    let longest_digit_run = name
        .split(|c: char| !c.is_ascii_digit())
        .map(str::len)
        .max()
        .unwrap_or(0);
    ascii_ident && starts && name.len() <= 40 && longest_digit_run < 3 && digits < 4
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pick<'a>(doc: &'a Html, css: &str) -> ElementRef<'a> {
        doc.select(&Selector::parse(css).unwrap()).next().unwrap()
    }

    #[test]
    fn an_id_wins_and_classes_come_next() {
        let doc = Html::parse_document(
            r#"<div id="Content"><p>a</p></div><div class="main body"><h1 class="title">T</h1></div>"#,
        );
        assert_eq!(unique(&doc, pick(&doc, "#Content")).as_deref(), Some("div#Content"));
        assert_eq!(unique(&doc, pick(&doc, "h1")).as_deref(), Some("h1.title"));
    }

    #[test]
    fn generated_names_are_skipped_and_ancestors_disambiguate() {
        let doc = Html::parse_document(
            r#"<div class="side"><h2>x</h2></div><div class="art" id="post-482913"><h2>Headline</h2></div>"#,
        );
        assert_eq!(unique(&doc, pick(&doc, ".art h2")).as_deref(), Some("div.art > h2"));
    }

    #[test]
    fn generated_names_are_not_stable() {
        assert!(stable("article-body") && stable("TRS_Editor") && stable("h4"));
        assert!(!stable("post-48213") && !stable("css-1x2y3z4") && !stable("9col") && !stable("正文"));
    }

    #[test]
    fn a_set_of_stories_gets_one_selector_for_exactly_them() {
        let doc = Html::parse_document(
            r#"<ul class="nav"><li><a href="/">Home</a></li></ul>
               <ul class="list"><li><a href="/a">A</a></li><li><a href="/b">B</a></li></ul>"#,
        );
        let stories: Vec<_> = doc.select(&Selector::parse("ul.list li").unwrap()).collect();
        assert_eq!(all(&doc, &stories).as_deref(), Some("ul.list > li"));
    }
}
