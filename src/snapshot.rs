//! Selector regression tests from saved pages: the format of `snapshots/<id>/`, and how two extractions differ.
//!
//! `feedwright snapshot ID` writes a source's saved listing and article pages there with `expected.json`, which
//! records for each page what went into extraction (the URLs, the listing's link text and date, the first-seen
//! time) and what came out (links; title, date, author, image, caption, and the body's plain-text digest with its
//! first and last sentence). `feedwright test` extracts the same pages again with the current config and reports
//! every field that differs. This module is pure: the data model, safe file names, the fields of an item and the
//! comparison. Reading the store, extracting (through the pipeline's own path) and the files are `app`'s.
//!
//! File names come from the URL only (a slug of its last path segment and a hash of the whole URL), never from
//! page content, and a name read back from `expected.json` is used only when it is a plain file name.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use url::Url;

use crate::model::Item;
use crate::normalize::sanitize;

/// The file in `snapshots/<id>/` that holds a [`Snapshot`].
pub const EXPECTED: &str = "expected.json";

/// The longest sentence kept; a CJK paragraph without punctuation would otherwise be kept whole.
const SENTENCE_CHARS: usize = 200;

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not a feedwright snapshot", path.display())]
    Format {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{} names the page file {name:?}, which is not a plain file name; refusing to read it", path.display())]
    UnsafeName { path: PathBuf, name: String },
    #[error("no snapshot of source \"{source_id}\" at {}: run `feedwright snapshot {source_id}` first", path.display())]
    Missing { source_id: String, path: PathBuf },
    #[error("no snapshots under {}: run `feedwright snapshot ID` first", path.display())]
    None { path: PathBuf },
    #[error("no saved pages of source \"{source_id}\" in {}: run `feedwright run --source {source_id}` first", path.display())]
    NoPages { source_id: String, path: PathBuf },
}

/// `snapshots/<id>/expected.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    pub source: String,
    pub listing: Vec<ListingPage>,
    pub articles: Vec<Article>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListingPage {
    /// The URL asked for.
    pub url: Url,
    /// Where it was served from: the base its links resolve against.
    pub final_url: Url,
    pub file: String,
    /// What the listing rules find on it.
    pub found: ListingFields,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListingFields {
    /// Article links, canonical, in page order.
    pub links: Vec<String>,
    pub next: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Article {
    /// The link as listed.
    pub url: Url,
    pub final_url: Url,
    pub file: String,
    /// What the listing said beside the link (a fallback title and date).
    pub link_title: Option<String>,
    pub link_date: Option<String>,
    /// The item's first-seen time: an undated article's date.
    pub first_seen: DateTime<Utc>,
    pub found: Extracted,
}

/// What the article rules make of a page: its fields, or why it is no item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum Extracted {
    Fields(Fields),
    Error(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fields {
    pub title: String,
    /// RFC 3339.
    pub published: String,
    /// Where the date came from (`page`, `url`, `listing`, `first-seen`).
    pub date_from: String,
    pub author: Option<String>,
    pub image: Option<String>,
    pub caption: Option<String>,
    /// SHA-256 (hex) of the body as plain text.
    pub body_sha256: String,
    pub body_first: String,
    pub body_last: String,
}

/// One field of one page that differs between the snapshot and now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    pub page: Url,
    pub field: &'static str,
    pub old: String,
    pub new: String,
}

impl Fields {
    pub fn of(item: &Item) -> Fields {
        let text = sanitize::to_text(&item.content_html);
        let sentences = sentences(&text);
        let digest = Sha256::digest(text.as_bytes());
        Fields {
            title: item.title.clone(),
            published: item.published.to_rfc3339(),
            date_from: item.date_source.as_str().to_owned(),
            author: item.author.clone(),
            image: item.image.as_ref().map(Url::to_string),
            caption: item.image_caption.clone(),
            body_sha256: digest.iter().map(|b| format!("{b:02x}")).collect(),
            body_first: sentences.first().copied().map(cut).unwrap_or_default(),
            body_last: sentences.last().copied().map(cut).unwrap_or_default(),
        }
    }

    fn named(&self) -> [(&'static str, Option<&str>); 9] {
        [
            ("title", Some(&self.title)),
            ("published", Some(&self.published)),
            ("date_from", Some(&self.date_from)),
            ("author", self.author.as_deref()),
            ("image", self.image.as_deref()),
            ("caption", self.caption.as_deref()),
            ("body_sha256", Some(&self.body_sha256)),
            ("body_first", Some(&self.body_first)),
            ("body_last", Some(&self.body_last)),
        ]
    }
}

/// The sentences of plain text: split after `.`, `!` or `?` before a space, after `。`, `！` or `？`, and at line
/// breaks (a heading has no full stop); trimmed, empty ones dropped.
pub fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let next = chars.peek().map(|&(_, n)| n);
        let end = match c {
            '。' | '！' | '？' | '\n' => true,
            '.' | '!' | '?' => next.is_none_or(char::is_whitespace),
            _ => false,
        };
        if end {
            let stop = i + c.len_utf8();
            out.push(text[start..stop].trim());
            start = stop;
        }
    }
    out.push(text[start..].trim());
    out.retain(|s| !s.is_empty());
    out
}

fn cut(sentence: &str) -> String {
    match sentence.char_indices().nth(SENTENCE_CHARS) {
        Some((at, _)) => format!("{}…", &sentence[..at]),
        None => sentence.to_owned(),
    }
}

/// A file name for the page at `url`: `<prefix>-<slug of the last path segment>-<12 hex of SHA-256(url)>.html`,
/// of ASCII letters, digits, `-` and `_` only.
pub fn file_name(prefix: &str, url: &Url) -> String {
    let digest = Sha256::digest(url.as_str().as_bytes());
    let hash: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    let segment = url
        .path_segments()
        .and_then(|mut s| s.rfind(|s| !s.is_empty()))
        .unwrap_or("");
    let slug: String = segment
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '_' => c.to_ascii_lowercase(),
            _ => '-',
        })
        .take(40)
        .collect();
    match slug.trim_matches('-') {
        "" => format!("{prefix}-{hash}.html"),
        slug => format!("{prefix}-{slug}-{hash}.html"),
    }
}

/// Whether `name` is a plain file name that stays inside the snapshot folder (what [`file_name`] makes).
pub fn is_safe_name(name: &str) -> bool {
    (1..=120).contains(&name.len())
        && !name.starts_with('.')
        && !name.contains("..")
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Every field that differs between `old` (the snapshot) and `new` (the same pages extracted now), in page order.
/// Pages are matched by URL; a page in only one of them is reported as such.
pub fn diff(old: &Snapshot, new: &Snapshot) -> Vec<Difference> {
    let mut out = Vec::new();
    let mut push = |page: &Url, field, old: String, new: String| {
        if old != new {
            out.push(Difference {
                page: page.clone(),
                field,
                old,
                new,
            })
        }
    };
    for was in &old.listing {
        match new.listing.iter().find(|p| p.url == was.url) {
            None => push(&was.url, "page", "saved".into(), "missing".into()),
            Some(now) => {
                let (a, b) = (&was.found.links, &now.found.links);
                if a != b {
                    push(&was.url, "links", links_text(a, b), links_text(b, a));
                }
                push(
                    &was.url,
                    "next",
                    shown(was.found.next.as_deref()),
                    shown(now.found.next.as_deref()),
                );
            }
        }
    }
    for was in &old.articles {
        let Some(now) = new.articles.iter().find(|a| a.url == was.url) else {
            push(&was.url, "page", "saved".into(), "missing".into());
            continue;
        };
        match (&was.found, &now.found) {
            (Extracted::Fields(a), Extracted::Fields(b)) => {
                for ((field, x), (_, y)) in a.named().into_iter().zip(b.named()) {
                    push(&was.url, field, shown(x), shown(y));
                }
            }
            (a, b) => push(&was.url, "item", outcome(a), outcome(b)),
        }
    }
    out
}

/// `n links` and, when `other` differs, the first few links only `these` has.
fn links_text(these: &[String], other: &[String]) -> String {
    let only: Vec<&str> = these
        .iter()
        .filter(|l| !other.contains(l))
        .map(String::as_str)
        .collect();
    let mut text = format!("{} links", these.len());
    if !only.is_empty() {
        let shown: Vec<&str> = only.iter().take(3).copied().collect();
        text.push_str(&format!(" ({} not in the other: {}", only.len(), shown.join(" ")));
        if only.len() > shown.len() {
            text.push_str(" …");
        }
        text.push(')');
    }
    text
}

fn shown(value: Option<&str>) -> String {
    value.map_or_else(|| "(none)".to_owned(), |v| format!("{v:?}"))
}

fn outcome(e: &Extracted) -> String {
    match e {
        Extracted::Fields(f) => format!("an item titled {:?}", f.title),
        Extracted::Error(e) => format!("no item: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_split_on_latin_and_cjk_stops_and_line_breaks() {
        let text =
            "Heading\nDr. Li spoke at 3.5 p.m. today. Was it good? Yes!\n\n大会开幕。与会者讨论了网络安全！最后一句";
        assert_eq!(
            sentences(text),
            [
                "Heading",
                "Dr.",
                "Li spoke at 3.5 p.m.",
                "today.",
                "Was it good?",
                "Yes!",
                "大会开幕。",
                "与会者讨论了网络安全！",
                "最后一句"
            ]
        );
        assert!(sentences("  \n ").is_empty());
        assert_eq!(cut(&"字".repeat(300)).chars().count(), SENTENCE_CHARS + 1);
    }

    #[test]
    fn file_names_come_from_the_url_only_and_stay_in_the_folder() {
        let cases = [
            "https://e.org/2015-12/16/c_47812.htm",
            "https://e.org/../../etc/passwd",
            "https://e.org/a/%2e%2e%2F%2e%2e%2Fsecret",
            "https://e.org/",
            "https://e.org/news/..%5C..%5Cboot.ini?x=/../../y",
            "https://e.org/新闻/详情.shtml",
        ];
        let mut names = std::collections::HashSet::new();
        for url in cases {
            let name = file_name("article", &Url::parse(url).unwrap());
            assert!(is_safe_name(&name), "{url} → {name}");
            assert!(name.starts_with("article-") && name.ends_with(".html"), "{name}");
            assert!(
                !name.contains('/') && !name.contains('\\') && !name.contains(".."),
                "{name}"
            );
            assert!(names.insert(name));
        }
        let name = file_name("article", &Url::parse(cases[0]).unwrap());
        assert!(name.starts_with("article-c_47812-htm-"), "readable: {name}");
        assert_eq!(name.len(), "article-c_47812-htm-".len() + 12 + ".html".len());
        assert_eq!(
            file_name("listing", &Url::parse(cases[3]).unwrap()).len(),
            "listing-".len() + 17
        );
        for bad in [
            "",
            "../x.html",
            "a/b.html",
            ".hidden",
            "a\\b",
            "..",
            "x..html",
            "名.html",
        ] {
            assert!(!is_safe_name(bad), "{bad}");
        }
    }

    fn fields(title: &str, body_last: &str) -> Extracted {
        Extracted::Fields(Fields {
            title: title.into(),
            published: "2015-12-16T10:23:00+08:00".into(),
            date_from: "page".into(),
            author: None,
            image: None,
            caption: None,
            body_sha256: "00".into(),
            body_first: "First.".into(),
            body_last: body_last.into(),
        })
    }

    fn snapshot(links: &[&str], articles: Vec<(&str, Extracted)>) -> Snapshot {
        let url = |s: &str| Url::parse(s).unwrap();
        Snapshot {
            source: "s".into(),
            listing: vec![ListingPage {
                url: url("https://e.org/news/"),
                final_url: url("https://e.org/news/"),
                file: "listing-news-000000000000.html".into(),
                found: ListingFields {
                    links: links.iter().map(|l| l.to_string()).collect(),
                    next: None,
                },
            }],
            articles: articles
                .into_iter()
                .map(|(u, found)| Article {
                    url: url(u),
                    final_url: url(u),
                    file: "article-000000000000.html".into(),
                    link_title: None,
                    link_date: None,
                    first_seen: "2016-01-01T00:00:00Z".parse().unwrap(),
                    found,
                })
                .collect(),
        }
    }

    #[test]
    fn diff_names_each_field_that_changed() {
        let a = "https://e.org/a.htm";
        let b = "https://e.org/b.htm";
        let old = snapshot(&[a, b], vec![(a, fields("A", "Share this.")), (b, fields("B", "End."))]);
        assert!(diff(&old, &old).is_empty());
        let new = snapshot(
            &[a],
            vec![(a, fields("A", "The end.")), (b, Extracted::Error("no body".into()))],
        );
        let found: Vec<(String, &str, String, String)> = diff(&old, &new)
            .into_iter()
            .map(|d| (d.page.path().to_owned(), d.field, d.old, d.new))
            .collect();
        assert_eq!(
            found,
            [
                (
                    "/news/".to_owned(),
                    "links",
                    format!("2 links (1 not in the other: {b})"),
                    "1 links".to_owned()
                ),
                (
                    "/a.htm".to_owned(),
                    "body_last",
                    "\"Share this.\"".into(),
                    "\"The end.\"".into()
                ),
                (
                    "/b.htm".to_owned(),
                    "item",
                    "an item titled \"B\"".into(),
                    "no item: no body".into()
                ),
            ]
        );
    }
}
