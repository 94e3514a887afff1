//! The article's own headline: `<h1>`, `og:title`, JSON-LD, `<title>` and the listing's link text compared, with
//! site suffixes and prefixes such as `_网易新闻`, `-中国日报网`, `| Site`, ` - World Internet Conference`,
//! ` – Site Name` or `:: Site` removed.
//!
//! The printed `<h1>` is the headline readers see, but a page may have none, several, or one that is the site's
//! logo; metadata is clean but is sometimes a social-media variant; `<title>` nearly always carries the site's name.
//! So [`choose`] takes the best `<h1>` (inside `<article>`/`<main>`, marked as a headline, not a logo, not in a
//! sidebar or related list) when another source confirms it, else the metadata's title, else the `<title>` segment
//! that best matches what the page prints, else an unconfirmed `<h1>`, else the listing's link text. Titles are
//! split at separators (`_`, `|`, `–`, `—`, `::`, `»`, ` - `, and `-` next to Chinese text, never inside
//! `COVID-19`), and the segments that are the site's name are dropped. Choices derived from the `<h1>` or `<title>`
//! are [`Origin::Heuristic`]; a metadata value keeps its origin, the listing's text is [`Origin::Listing`].

use std::sync::LazyLock;

use scraper::{ElementRef, Html, Selector};

use crate::extract::dom;
use crate::extract::meta::{self, Found, PageMeta};
use crate::model::Origin;

/// How alike (0 to 1, see [`similarity`]) two titles must be to count as the same headline.
const SAME: f64 = 0.6;

/// Chooses the headline. `listed` is the link text the listing page showed for this article, if any.
pub fn choose(doc: &Html, meta: &PageMeta, listed: Option<&str>) -> Option<Found> {
    let site = meta.site_name.as_deref();
    let h1 = element(doc, site).and_then(dom::text);
    let listed = listed.and_then(dom::collapse);
    let reference = h1.as_deref().or(listed.as_deref());
    let from_meta = meta
        .title
        .as_ref()
        .and_then(|(t, origin)| Some((strip_site(t, site, reference, false)?, *origin)));
    let from_title = meta::document_title(doc)
        .and_then(|t| strip_site(&t, site, reference, true))
        .filter(|t| site.is_none_or(|s| normalized(t) != normalized(s)));

    if let Some(h1) = &h1 {
        if let Some((m, origin)) = &from_meta
            && normalized(m) == normalized(h1)
        {
            return Some((m.clone(), *origin));
        }
        let confirmed = [from_meta.as_ref().map(|(m, _)| m), from_title.as_ref(), listed.as_ref()]
            .into_iter()
            .flatten()
            .any(|other| similarity(h1, other) >= SAME);
        if confirmed {
            return Some((h1.clone(), Origin::Heuristic));
        }
    }
    from_meta
        .or_else(|| from_title.map(|t| (t, Origin::Heuristic)))
        .or_else(|| h1.map(|h| (h, Origin::Heuristic)))
        .or_else(|| listed.map(|l| (l, Origin::Listing)))
}

/// The `<h1>` most likely to be the article's headline, for [`super::dateline`] to look near.
pub(crate) fn element<'a>(doc: &'a Html, site: Option<&str>) -> Option<ElementRef<'a>> {
    static H1: LazyLock<Selector> = LazyLock::new(|| dom::selector("h1"));
    let mut best: Option<(i32, ElementRef<'a>)> = None;
    for h1 in doc.select(&H1) {
        let Some(text) = dom::text(h1) else { continue };
        if meta::peripheral(h1) || is_logo(h1) || site.is_some_and(|s| normalized(s) == normalized(&text)) {
            continue;
        }
        let score = h1_score(h1);
        if best.is_none_or(|(b, _)| score > b) {
            best = Some((score, h1));
        }
    }
    best.map(|(_, h1)| h1)
}

fn h1_score(h1: ElementRef<'_>) -> i32 {
    let mut score = 0;
    let own = names(h1);
    if h1.value().attr("itemprop").is_some_and(|p| p.contains("headline")) {
        score += 3;
    }
    if ["title", "headline", "heading", "article"]
        .iter()
        .any(|w| own.contains(w))
    {
        score += 2;
    }
    let mut in_header = false;
    for (depth, a) in h1.ancestors().filter_map(ElementRef::wrap).enumerate() {
        match a.value().name() {
            "article" | "main" => return score + 3,
            "header" => in_header = true,
            _ => {}
        }
        let names = names(a);
        if depth < 3
            && ["article", "content", "detail", "post", "story", "main"]
                .iter()
                .any(|w| names.contains(w))
        {
            score += 1;
        }
    }
    // A `<header>` outside any `<article>` is the site's masthead.
    if in_header { score - 2 } else { score }
}

/// An `<h1>` that holds the site's logo: named so itself or by a close ancestor, or wrapping a link to the home page.
fn is_logo(h1: ElementRef<'_>) -> bool {
    let logo_name = |e: ElementRef<'_>| {
        let n = names(e);
        n.contains("logo") || n.contains("brand") || n.contains("site-title") || n.contains("site-name")
    };
    static HOME: LazyLock<Selector> = LazyLock::new(|| dom::selector(r#"a[href="/"], img"#));
    logo_name(h1)
        || h1.ancestors().filter_map(ElementRef::wrap).take(3).any(logo_name)
        || (h1.select(&HOME).next().is_some() && dom::text(h1).is_none_or(|t| t.chars().count() < 8))
}

/// The element's class and id, lower-cased, for substring tests.
fn names(e: ElementRef<'_>) -> String {
    let v = e.value();
    format!("{} {}", v.attr("class").unwrap_or(""), v.attr("id").unwrap_or("")).to_lowercase()
}

/// Removes the site's name from a title. With a `reference` (what the page prints as the headline), the run of
/// segments most like it is kept; otherwise the segments that are the site's name go, and with `guess` the longest
/// remaining segment is kept (the headline is nearly always longer than the site's or section's name). `None` when
/// nothing is left.
pub(crate) fn strip_site(title: &str, site: Option<&str>, reference: Option<&str>, guess: bool) -> Option<String> {
    let title = dom::collapse(title)?;
    let mut segs = segments(&title);
    if segs.len() <= 1 {
        return Some(title);
    }
    if let Some(site) = site.map(normalized).filter(|s| s.chars().count() >= 2) {
        let is_site = |seg: &(usize, usize)| {
            let n = normalized(&title[seg.0..seg.1]);
            !n.is_empty() && (n == site || n.contains(&site) || site.contains(&n))
        };
        while segs.len() > 1 && segs.last().is_some_and(is_site) {
            segs.pop();
        }
        while segs.len() > 1 && segs.first().is_some_and(is_site) {
            segs.remove(0);
        }
    }
    let run = |i: usize, j: usize| title[segs[i].0..segs[j].1].to_owned();
    if let Some(reference) = reference {
        let mut best: Option<(f64, String)> = None;
        for i in 0..segs.len() {
            for j in i..segs.len() {
                let candidate = run(i, j);
                let s = similarity(&candidate, reference);
                if best.as_ref().is_none_or(|(b, _)| s > *b) {
                    best = Some((s, candidate));
                }
            }
        }
        if let Some((s, candidate)) = best
            && s >= SAME
        {
            return Some(candidate);
        }
    }
    if guess {
        let longest = (0..segs.len()).max_by_key(|&i| {
            // The first of equally long segments: `max_by_key` keeps the last, so earlier ones rank higher.
            (title[segs[i].0..segs[i].1].chars().count(), std::cmp::Reverse(i))
        })?;
        return Some(run(longest, longest));
    }
    Some(run(0, segs.len() - 1))
}

/// The byte ranges of a title's segments between separators, trimmed, non-empty.
fn segments(title: &str) -> Vec<(usize, usize)> {
    let chars: Vec<(usize, char)> = title.char_indices().collect();
    let mut cuts: Vec<(usize, usize)> = Vec::new();
    let mut k = 0;
    while k < chars.len() {
        let (i, c) = chars[k];
        let prev = k.checked_sub(1).map(|p| chars[p].1);
        let next = chars.get(k + 1).map(|n| n.1);
        let spaced = prev.is_some_and(char::is_whitespace) && next.is_some_and(char::is_whitespace);
        let len = match c {
            '|' | '｜' | '_' | '–' | '—' | '»' | '«' => 1,
            ':' if next == Some(':') => 2,
            '-' | '·' | '/' | '•' if spaced => 1,
            // `标题-中国日报网`: a hyphen touching Chinese text separates; `COVID-19` and `Wi-Fi` do not.
            '-' if prev.is_some_and(is_cjk) || next.is_some_and(is_cjk) => 1,
            _ => 0,
        };
        if len > 0 {
            let end = chars.get(k + len).map_or(title.len(), |n| n.0);
            cuts.push((i, end));
            k += len;
        } else {
            k += 1;
        }
    }
    let mut segs = Vec::new();
    let mut start = 0;
    for (cut_start, cut_end) in cuts.into_iter().chain([(title.len(), title.len())]) {
        let piece = &title[start..cut_start];
        let lead = piece.len() - piece.trim_start().len();
        let trimmed = piece.trim();
        if !trimmed.is_empty() {
            segs.push((start + lead, start + lead + trimmed.len()));
        }
        start = cut_end;
    }
    segs
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3000..=0x30ff | 0x3400..=0x4dbf | 0x4e00..=0x9fff | 0xf900..=0xfaff | 0xff00..=0xffef)
}

/// Letters and digits only, lower-cased: what two titles share once punctuation and spacing are ignored.
fn normalized(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Dice's coefficient over character bigrams of the normalized texts: 1 for the same title, near 0 for unrelated
/// ones. Character bigrams work for English and Chinese alike, where words are not separated.
fn similarity(a: &str, b: &str) -> f64 {
    let grams = |s: &str| -> Vec<(char, char)> {
        let chars: Vec<char> = normalized(s).chars().collect();
        match chars.len() {
            0 => Vec::new(),
            1 => vec![(chars[0], ' ')],
            _ => chars.windows(2).map(|w| (w[0], w[1])).collect(),
        }
    };
    let (a, mut b) = (grams(a), grams(b));
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let total = a.len() + b.len();
    let mut shared = 0;
    for g in &a {
        if let Some(at) = b.iter().position(|h| h == g) {
            b.swap_remove(at);
            shared += 1;
        }
    }
    2.0 * shared as f64 / total as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(head: &str, body: &str) -> Html {
        let html = format!("<!doctype html><html><head>{head}</head><body>{body}</body></html>");
        crate::html::parse_document(&html).html
    }

    fn pick(head: &str, body: &str, listed: Option<&str>) -> Option<(String, Origin)> {
        let d = doc(head, body);
        choose(&d, &meta::read(&d), listed)
    }

    fn strip(title: &str, site: Option<&str>, reference: Option<&str>) -> Option<String> {
        strip_site(title, site, reference, true)
    }

    fn s(v: &str) -> Option<String> {
        Some(v.to_owned())
    }

    #[test]
    fn each_suffix_style_is_stripped_against_the_h1() {
        let cases = [
            ("乌镇峰会开幕_网易新闻", "乌镇峰会开幕"),
            ("乌镇峰会开幕_新华网", "乌镇峰会开幕"),
            ("乌镇峰会开幕-中国日报网", "乌镇峰会开幕"),
            ("Rates rise again | Example Times", "Rates rise again"),
            ("Rates rise again - World Internet Conference", "Rates rise again"),
            ("Rates rise again – Site Name", "Rates rise again"),
            ("Example News :: Rates rise again", "Rates rise again"),
            ("Rates rise again — Example » World", "Rates rise again"),
        ];
        for (title, h1) in cases {
            assert_eq!(strip(title, None, Some(h1)).as_deref(), Some(h1), "{title}");
            let head = format!("<title>{title}</title>");
            let body = format!("<h1>{h1}</h1>");
            assert_eq!(
                pick(&head, &body, None),
                Some((h1.to_owned(), Origin::Heuristic)),
                "{title}"
            );
        }
    }

    #[test]
    fn without_a_reference_the_site_name_and_then_the_longest_segment() {
        assert_eq!(strip("Short | Example Times", Some("Example Times"), None), s("Short"));
        assert_eq!(strip("Example Times | Short", Some("example times"), None), s("Short"));
        assert_eq!(
            strip("A long headline here - World - Example", None, None),
            s("A long headline here")
        );
        assert_eq!(
            strip("新华网 | 一个很长的新闻标题在这里", None, None),
            s("一个很长的新闻标题在这里")
        );
    }

    #[test]
    fn hyphens_inside_words_and_a_title_with_its_own_dash_survive() {
        assert_eq!(
            strip("COVID-19 cases fall in Wi-Fi era", None, None),
            s("COVID-19 cases fall in Wi-Fi era")
        );
        let title = "Apple - the company - posts record profit | Example Times";
        assert_eq!(
            strip(title, None, Some("Apple - the company - posts record profit")),
            s("Apple - the company - posts record profit")
        );
    }

    #[test]
    fn og_site_name_suffix_is_removed_from_og_title() {
        let head = r#"<meta property="og:title" content="Markets calm after vote - Example Post">
            <meta property="og:site_name" content="Example Post">"#;
        assert_eq!(
            pick(head, "<p>no headline element</p>", None),
            Some(("Markets calm after vote".into(), Origin::OpenGraph))
        );
    }

    #[test]
    fn the_article_h1_beats_the_logo_h1() {
        let head = "<title>峰会闭幕 互联网发展报告发布_新华网</title>";
        let body = r#"<header><h1 class="logo"><a href="/"><img src="logo.png" alt="新华网"></a></h1></header>
            <h1 class="site">新华网</h1>
            <div class="main"><h1 class="article-title">峰会闭幕 互联网发展报告发布</h1></div>"#;
        let head_with_site = format!(r#"{head}<meta property="og:site_name" content="新华网">"#);
        assert_eq!(
            pick(&head_with_site, body, None),
            Some(("峰会闭幕 互联网发展报告发布".into(), Origin::Heuristic))
        );
    }

    #[test]
    fn h1_in_a_related_list_is_not_the_headline() {
        let head = "<title>Real story | Example</title>";
        let body = r#"<div class="related"><h1>Other story</h1></div><article><h1>Real story</h1></article>"#;
        assert_eq!(pick(head, body, None), Some(("Real story".into(), Origin::Heuristic)));
    }

    #[test]
    fn metadata_that_agrees_with_the_h1_keeps_its_origin() {
        let head = r#"<script type="application/ld+json">{"@type":"NewsArticle","headline":"Rates rise again"}</script>
            <title>Rates rise again | Example</title>"#;
        assert_eq!(
            pick(head, "<h1>Rates  rise again</h1>", None),
            Some(("Rates rise again".into(), Origin::JsonLd))
        );
    }

    #[test]
    fn metadata_wins_over_an_unconfirmed_h1() {
        let head =
            r#"<meta property="og:title" content="Storm hits the coast"><title>Storm hits the coast - Example</title>"#;
        assert_eq!(
            pick(head, "<h1>Weather</h1>", None),
            Some(("Storm hits the coast".into(), Origin::OpenGraph))
        );
    }

    #[test]
    fn listing_text_confirms_the_h1_or_stands_in_for_it() {
        assert_eq!(
            pick("", "<h1>Storm hits the coast</h1>", Some(" Storm hits the coast ")),
            Some(("Storm hits the coast".into(), Origin::Heuristic))
        );
        assert_eq!(
            pick("", "<p>nothing</p>", Some("Storm hits the coast")),
            Some(("Storm hits the coast".into(), Origin::Listing))
        );
    }

    #[test]
    fn title_alone_is_stripped_by_guess() {
        assert_eq!(
            pick("<title>习近平出席第二届世界互联网大会开幕式_网易新闻</title>", "", None),
            Some(("习近平出席第二届世界互联网大会开幕式".into(), Origin::Heuristic))
        );
    }

    #[test]
    fn a_title_that_is_only_the_site_name_does_not_beat_the_h1() {
        let head = r#"<title>Example Times</title><meta property="og:site_name" content="Example Times">"#;
        assert_eq!(
            pick(head, "<h1>Unconfirmed headline</h1>", None),
            Some(("Unconfirmed headline".into(), Origin::Heuristic))
        );
    }

    #[test]
    fn nothing_gives_none() {
        assert_eq!(pick("", "<p>text</p>", None), None);
    }

    #[test]
    fn similarity_is_symmetric_and_bounded() {
        assert_eq!(similarity("Rates rise", "rates, rise!"), 1.0);
        assert!(similarity("乌镇峰会开幕", "乌镇峰会开幕_网易新闻") > 0.6);
        assert!(similarity("Weather", "Storm hits the coast") < 0.3);
        assert_eq!(similarity("", "x"), 0.0);
    }
}
