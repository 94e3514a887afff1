//! A publication date printed on the page near the headline, when metadata gives none: the text that holds it, as
//! written (`来源：新华网 2019年09月07日 08:05`, `Updated: Dec 16, 2015`, `3小时前`). Never from comments, related
//! stories, sidebars, navigation or the footer. Parsing it (and resolving relative dates against the fetch time) is
//! `normalize::date`'s job.
//!
//! A candidate is a short element (at most [`MAX_CHARS`] characters) that looks dated (a year-first or Chinese
//! date, a month name with a day, a `10-08`-style month and day, or a relative `3小时前` / `2 hours ago`) and is
//! either a `<time>`, named like a dateline (`date`, `time`, `pubtime`, `publish`, `info`, `meta`, `byline`,
//! `source`, …), or opens with a label (`来源`, `发布时间`, `Updated`, `Published`, `Posted`). Of nested candidates
//! the outermost is kept, so `<div class=info><span class=date>…</span> <span class=time>…</span></div>` yields the
//! date and the time together. The candidate closest to the headline wins, one after it before one above it; with
//! no headline, the first in the page.

use std::collections::HashSet;

use ego_tree::NodeId;
use scraper::{ElementRef, Html};

use crate::extract::dom;
use crate::extract::meta;

/// A dateline is one line; an element with more text is a container (the article body, a whole header).
pub const MAX_CHARS: usize = 120;

/// The text of the element that prints the article's date, as written, looked for near the page's headline.
pub fn find(doc: &Html) -> Option<String> {
    find_near(doc, super::headline::element(doc, None))
}

/// [`find`], near a headline element the caller already chose.
pub fn find_near(doc: &Html, headline: Option<ElementRef<'_>>) -> Option<String> {
    let mut candidates: HashSet<NodeId> = HashSet::new();
    // (position in page order, text) of the outermost candidates.
    let mut outermost: Vec<(usize, String)> = Vec::new();
    let mut headline_at = None;
    for (position, el) in doc
        .root_element()
        .descendants()
        .filter_map(ElementRef::wrap)
        .enumerate()
    {
        if headline.is_some_and(|h| h.id() == el.id()) {
            headline_at = Some(position);
        }
        let Some(text) = candidate(el, headline) else { continue };
        candidates.insert(el.id());
        let nested = el.ancestors().any(|a| candidates.contains(&a.id()));
        if !nested {
            outermost.push((position, text));
        }
    }
    let distance = |position: usize| match headline_at {
        // Below the headline is where datelines usually are; above it, they count double.
        Some(h) if position > h => position - h,
        Some(h) => 2 * (h - position),
        None => position,
    };
    outermost
        .into_iter()
        .min_by_key(|(position, _)| distance(*position))
        .map(|(_, text)| text)
}

/// The element's dateline text, if it is a candidate.
fn candidate(el: ElementRef<'_>, headline: Option<ElementRef<'_>>) -> Option<String> {
    let v = el.value();
    if matches!(v.name(), "script" | "style" | "head" | "title" | "html" | "body" | "a") {
        return None;
    }
    if !short(el) {
        return None;
    }
    let text = dom::text(el).or_else(|| {
        // An empty `<time>` prints nothing, but its machine date is the page's own statement of the date.
        if v.name() == "time" {
            dom::attr(el, "datetime").map(str::to_owned)
        } else {
            None
        }
    })?;
    if text.chars().count() > MAX_CHARS || !looks_dated(&text) {
        return None;
    }
    let named = v.name() == "time" || [v.attr("class"), v.attr("id")].into_iter().flatten().any(dateline_name);
    if !(named || labelled(&text)) {
        return None;
    }
    let holds_headline = headline.is_some_and(|h| h.ancestors().any(|a| a.id() == el.id()));
    if holds_headline || meta::peripheral(el) {
        return None;
    }
    Some(text)
}

/// Whether the element's visible text is at most [`MAX_CHARS`] characters, not counting spaces; stops counting
/// there, so the page's big containers cost little to rule out.
fn short(el: ElementRef<'_>) -> bool {
    let mut n = 0;
    for node in el.descendants() {
        let Some(t) = node.value().as_text() else { continue };
        let hidden = node
            .parent()
            .and_then(|p| {
                p.value()
                    .as_element()
                    .map(|e| matches!(e.name(), "script" | "style" | "noscript"))
            })
            .unwrap_or(false);
        if !hidden {
            n += t.chars().filter(|c| !c.is_whitespace()).count();
            if n > MAX_CHARS {
                return false;
            }
        }
    }
    true
}

/// Class or id names of dateline elements, as CMSes name them (`pubtime`, `post-date`, `article-info`,
/// `pages-date`, `newsTime`, `source`).
fn dateline_name(names: &str) -> bool {
    const HINTS: [&str; 12] = [
        "date", "time", "pub", "publish", "info", "meta", "byline", "source", "posted", "dateline", "stamp", "laiyuan",
    ];
    let lower = names.to_lowercase();
    HINTS.iter().any(|h| lower.contains(h))
}

/// Text that opens with a dateline's label, whatever the element is called.
fn labelled(text: &str) -> bool {
    const LABELS: [&str; 10] = [
        "来源",
        "发布时间",
        "发布日期",
        "时间：",
        "日期：",
        "updated",
        "published",
        "posted",
        "last updated",
        "date:",
    ];
    let lower = text.to_lowercase();
    LABELS.iter().any(|l| lower.starts_with(l))
}

/// A cheap test for text that holds a date `normalize::date` can read: a four-digit year with `-`, `/`, `.` or
/// `年` after it, a month and day (`10-08`, `10月08日`, `Oct 8`), or a relative date. A time alone (`08:05`) is
/// not: it is as likely a video's length.
/// Whether a lower-case word is an English month name, whole or cut to at least three letters (`dec`, `sept`).
pub(crate) fn is_month_name(word: &str) -> bool {
    const MONTHS: [&str; 12] = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    word.len() >= 3 && MONTHS.iter().any(|m| m.starts_with(word))
}

pub(crate) fn looks_dated(text: &str) -> bool {
    const RELATIVE: [&str; 12] = [
        "前",
        "昨天",
        "今天",
        "ago",
        "yesterday",
        "today",
        "分钟",
        "小时",
        "hour",
        "minute",
        "mins",
        "days",
    ];
    let lower = text.to_lowercase();
    let chars: Vec<char> = lower.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let n = chars[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            i += 1;
            continue;
        }
        let after = chars.get(i + n).copied();
        let then_digit = chars.get(i + n + 1).is_some_and(char::is_ascii_digit);
        let value: u32 = chars[i..i + n].iter().collect::<String>().parse().unwrap_or(0);
        // Years of web news only, so `0571-8888` (a phone number) is not one.
        let year = n == 4
            && (1990..=2100).contains(&value)
            && (after == Some('年') || (matches!(after, Some('-' | '/' | '.')) && then_digit));
        let month_day = (1..=2).contains(&n) && matches!(after, Some('-' | '/' | '月')) && then_digit;
        if year || month_day {
            return true;
        }
        i += n;
    }
    let has_digit = chars.iter().any(char::is_ascii_digit);
    let month_name = lower.split(|c: char| !c.is_ascii_alphabetic()).any(is_month_name);
    let relative = RELATIVE.iter().any(|r| lower.contains(r));
    (has_digit && (month_name || relative)) || lower.contains("刚刚") || lower.contains("just now")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dateline(body: &str) -> Option<String> {
        let html = format!("<!doctype html><html><head><title>t</title></head><body>{body}</body></html>");
        find(&crate::html::parse_document(&html).html)
    }

    fn s(v: &str) -> Option<String> {
        Some(v.to_owned())
    }

    #[test]
    fn info_line_beats_a_later_date_in_the_comments() {
        let body = r#"<div class="main"><h1>乌镇峰会开幕</h1>
            <div class="info">来源：新华网 <span class="time">2019年09月07日 08:05</span></div>
            <div class="content"><p>正文第一段。</p><p>正文第二段。</p></div></div>
            <div id="comments"><div class="item"><span class="time">2019年09月08日 10:00</span> 网友评论</div></div>"#;
        assert_eq!(dateline(body), s("来源：新华网 2019年09月07日 08:05"));
    }

    #[test]
    fn a_closer_later_date_in_an_unmarked_block_loses_to_proximity() {
        let body = r#"<h1>Rates rise again</h1><p class="byline">By Jane Doe | Updated: Dec 16, 2015</p>
            <div class="body"><p>Text.</p><p>More text.</p></div>
            <ul class="list"><li><span class="date">Dec 20, 2015</span> Other story</li></ul>"#;
        assert_eq!(dateline(body), s("By Jane Doe | Updated: Dec 16, 2015"));
    }

    #[test]
    fn related_stories_sidebar_and_footer_never_count() {
        let body = r#"<h1>Headline</h1>
            <div class="related-news"><span class="date">2019-09-08</span></div>
            <aside><span class="date">2019-09-09</span></aside>
            <footer><span class="pubtime">2019-09-10</span></footer>"#;
        assert_eq!(dateline(body), None);
    }

    #[test]
    fn chinese_cms_ids_and_labels() {
        assert_eq!(
            dateline(r#"<h1>标题</h1><div><span id="pubtime">2019-9-7 08:05</span></div>"#),
            s("2019-9-7 08:05")
        );
        assert_eq!(
            dateline(r#"<h1>标题</h1><div class="pages-date">2019-09-07 08:05<span>来源：人民网</span></div>"#),
            s("2019-09-07 08:05来源：人民网")
        );
        assert_eq!(
            dateline(r#"<h1>标题</h1><p>发布时间：2019年09月07日</p>"#),
            s("发布时间：2019年09月07日")
        );
    }

    #[test]
    fn relative_and_year_less_datelines() {
        assert_eq!(
            dateline(r#"<h1>标题</h1><span class="time">3小时前</span>"#),
            s("3小时前")
        );
        assert_eq!(
            dateline(r#"<h1>T</h1><span class="post-date">2 hours ago</span>"#),
            s("2 hours ago")
        );
        assert_eq!(
            dateline(r#"<h1>标题</h1><span class="time">10-08 12:00</span>"#),
            s("10-08 12:00")
        );
    }

    #[test]
    fn a_dateline_above_the_headline_counts_when_nothing_is_below() {
        let body = r#"<div class="article-date">2015-12-16</div><h1>Headline</h1><p>Text without a date.</p>"#;
        assert_eq!(dateline(body), s("2015-12-16"));
    }

    #[test]
    fn an_empty_time_gives_its_datetime() {
        assert_eq!(
            dateline(r#"<h1>H</h1><time datetime="2015-12-16T10:23:00+08:00"></time>"#),
            s("2015-12-16T10:23:00+08:00")
        );
    }

    #[test]
    fn containers_and_undated_hints_are_not_datelines() {
        let long = "word ".repeat(40);
        let body = format!(r#"<h1>H</h1><div class="info">{long} 2015-12-16</div><div class="time">08:05</div>"#);
        assert_eq!(dateline(&body), None);
    }

    #[test]
    fn what_looks_dated() {
        for yes in [
            "2015-12-16",
            "2019年9月7日",
            "Dec 16, 2015",
            "10-08 12:00",
            "10月08日",
            "3小时前",
            "2 hours ago",
            "刚刚",
            "Updated 2015/1/6",
        ] {
            assert!(looks_dated(yes), "{yes}");
        }
        for no in ["08:05", "浏览次数：1234", "Tel 0571-8888", "Decade", "Page 1 of 3"] {
            assert!(!looks_dated(no), "{no}");
        }
    }
}
