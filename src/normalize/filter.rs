//! A source's filters: which normalized items are published, and how their titles are trimmed.
//!
//! Input is an [`Item`] as [`super::item`] made it, the source's [`Filters`] (patterns compiled by `config`) and
//! the run's `now` (a parameter: this never reads the clock). [`apply`] first removes `title_strip` from the
//! title, then drops the item when an `exclude` rule matches, when `include` rules are given and none matches, or
//! when it is older than `max_age` (in that order: the first reason is the one given); the [`Dropped`] reason names the rule, for `preview`. Rules match the item's
//! fields as published: the title, the summary and body as plain text, the author, the URL.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use regex::Regex;

use super::{sanitize, text};
use crate::model::Item;

/// The filters of one source; the default keeps every item as it is.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    /// When not empty, only items matching at least one of these are kept.
    pub include: Vec<Rule>,
    /// Items matching any of these are dropped.
    pub exclude: Vec<Rule>,
    /// Items published longer ago than this are dropped.
    pub max_age: Option<Duration>,
    /// Removed from every title (each match), before the rules are matched.
    pub title_strip: Option<Regex>,
}

impl Filters {
    /// Whether these filters leave every item as it is.
    pub fn is_empty(&self) -> bool {
        self.include.is_empty() && self.exclude.is_empty() && self.max_age.is_none() && self.title_strip.is_none()
    }
}

/// One `include` or `exclude` rule: a pattern matched against one field, or against all of them.
#[derive(Debug, Clone)]
pub struct Rule {
    pub field: Field,
    pub pattern: Regex,
}

/// Which part of an item a rule reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// Any of the others.
    Any,
    Title,
    /// The summary and the body, as plain text.
    Text,
    Author,
    Url,
    /// Any one of the item's categories (as published, after [`super::tags::clean`]).
    Categories,
}

impl Field {
    pub const NAMES: [&'static str; 6] = ["any", "title", "text", "author", "url", "categories"];

    pub fn parse(name: &str) -> Option<Field> {
        Some(match name {
            "any" => Field::Any,
            "title" => Field::Title,
            "text" => Field::Text,
            "author" => Field::Author,
            "url" => Field::Url,
            "categories" => Field::Categories,
            _ => return None,
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            Field::Any => "any",
            Field::Title => "title",
            Field::Text => "text",
            Field::Author => "author",
            Field::Url => "url",
            Field::Categories => "categories",
        }
    }
}

/// Why [`apply`] dropped an item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dropped {
    TooOld { max_age: Duration },
    Excluded { field: Field, pattern: String },
    NotIncluded,
}

impl fmt::Display for Dropped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dropped::TooOld { max_age } => {
                write!(f, "older than max_age {}", humantime::format_duration(*max_age))
            }
            Dropped::Excluded { field, pattern } => write!(f, "exclude: {} matches \"{pattern}\"", field.as_str()),
            Dropped::NotIncluded => f.write_str("include: no rule matches"),
        }
    }
}

/// Strips the title and decides whether `item` is kept.
pub fn apply(item: &mut Item, filters: &Filters, now: DateTime<Utc>) -> Result<(), Dropped> {
    if let Some(strip) = &filters.title_strip {
        let stripped = text::collapse(&strip.replace_all(&item.title, ""));
        // A pattern that takes the whole title leaves it as it was: an item needs a title.
        if !stripped.is_empty() {
            item.title = stripped;
        }
    }
    let body = std::cell::OnceCell::new();
    let matches = |rule: &Rule| {
        let text = || body.get_or_init(|| format!("{} {}", item.summary, sanitize::to_text(&item.content_html)));
        let is = |field: Field| match field {
            Field::Title => rule.pattern.is_match(&item.title),
            Field::Text => rule.pattern.is_match(text()),
            Field::Author => item.author.as_deref().is_some_and(|a| rule.pattern.is_match(a)),
            Field::Url => rule.pattern.is_match(item.url.as_str()),
            Field::Categories => item.categories.iter().any(|c| rule.pattern.is_match(c)),
            Field::Any => false,
        };
        match rule.field {
            Field::Any => [Field::Title, Field::Text, Field::Author, Field::Url, Field::Categories]
                .into_iter()
                .any(is),
            field => is(field),
        }
    };
    if let Some(rule) = filters.exclude.iter().find(|r| matches(r)) {
        return Err(Dropped::Excluded {
            field: rule.field,
            pattern: rule.pattern.as_str().to_owned(),
        });
    }
    if !filters.include.is_empty() && !filters.include.iter().any(matches) {
        return Err(Dropped::NotIncluded);
    }
    if let Some(max_age) = filters.max_age {
        let age = now.signed_duration_since(item.published).to_std().unwrap_or_default();
        if age > max_age {
            return Err(Dropped::TooOld { max_age });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DateSource, ItemId};

    fn item(title: &str, published: &str) -> Item {
        let url = url::Url::parse("https://news.example/world/1.htm").unwrap();
        let published = DateTime::parse_from_rfc3339(published).unwrap();
        Item {
            id: ItemId::from_canonical(&url),
            url,
            title: title.into(),
            published,
            date_source: DateSource::Page,
            updated: published,
            author: Some("Ann Lee".into()),
            summary: "A summary.".into(),
            content_html: "<p>The body speaks of <b>Wuzhen</b>.</p>".into(),
            image: None,
            image_caption: None,
            image_length: None,
            image_type: None,
            categories: vec!["World".into(), "Sponsored Content".into()],
        }
    }

    fn rule(field: Field, pattern: &str) -> Rule {
        Rule {
            field,
            pattern: Regex::new(pattern).unwrap(),
        }
    }

    fn now() -> DateTime<Utc> {
        "2026-01-10T00:00:00Z".parse().unwrap()
    }

    #[test]
    fn no_filters_keep_everything() {
        let mut it = item("Hello", "2000-01-01T00:00:00Z");
        assert_eq!(apply(&mut it, &Filters::default(), now()), Ok(()));
        assert!(Filters::default().is_empty());
    }

    #[test]
    fn exclude_names_the_rule_that_matched() {
        let filters = Filters {
            exclude: vec![rule(Field::Title, "(?i)sponsored"), rule(Field::Text, "Wuzhen")],
            ..Filters::default()
        };
        let mut it = item("SPONSORED: buy", "2026-01-09T00:00:00Z");
        let dropped = apply(&mut it, &filters, now()).unwrap_err();
        assert_eq!(dropped.to_string(), "exclude: title matches \"(?i)sponsored\"");
        let mut it = item("News", "2026-01-09T00:00:00Z");
        assert_eq!(
            apply(&mut it, &filters, now()).unwrap_err().to_string(),
            "exclude: text matches \"Wuzhen\"",
            "the body's text, not its markup"
        );
    }

    #[test]
    fn include_keeps_only_matching_items_on_any_field() {
        let filters = Filters {
            include: vec![rule(Field::Any, "/world/"), rule(Field::Author, "^Bob")],
            ..Filters::default()
        };
        assert_eq!(apply(&mut item("x", "2026-01-09T00:00:00Z"), &filters, now()), Ok(()));
        let only_bob = Filters {
            include: vec![rule(Field::Author, "^Bob")],
            ..Filters::default()
        };
        assert_eq!(
            apply(&mut item("x", "2026-01-09T00:00:00Z"), &only_bob, now()),
            Err(Dropped::NotIncluded)
        );
    }

    #[test]
    fn a_categories_rule_matches_any_one_category_and_any_covers_them() {
        let exclude = |field, pattern| Filters {
            exclude: vec![rule(field, pattern)],
            ..Filters::default()
        };
        let dropped = apply(
            &mut item("x", "2026-01-09T00:00:00Z"),
            &exclude(Field::Categories, "(?i)^sponsored"),
            now(),
        );
        assert_eq!(
            dropped.unwrap_err().to_string(),
            "exclude: categories matches \"(?i)^sponsored\""
        );
        let any = exclude(Field::Any, "Sponsored Content");
        assert!(apply(&mut item("x", "2026-01-09T00:00:00Z"), &any, now()).is_err());
        let mut untagged = item("x", "2026-01-09T00:00:00Z");
        untagged.categories.clear();
        assert_eq!(apply(&mut untagged, &exclude(Field::Categories, ""), now()), Ok(()));
    }

    #[test]
    fn max_age_is_counted_from_now() {
        let filters = Filters {
            max_age: Some(Duration::from_secs(7 * 24 * 3600)),
            ..Filters::default()
        };
        assert_eq!(apply(&mut item("new", "2026-01-05T00:00:00Z"), &filters, now()), Ok(()));
        let dropped = apply(&mut item("old", "2026-01-01T00:00:00Z"), &filters, now()).unwrap_err();
        assert_eq!(dropped.to_string(), "older than max_age 7days");
    }

    #[test]
    fn title_strip_removes_the_pattern_but_never_the_whole_title() {
        let filters = Filters {
            title_strip: Some(Regex::new(r"^\[[^\]]*\]\s*|\s*\| Site$").unwrap()),
            exclude: vec![rule(Field::Title, "^\\[")],
            ..Filters::default()
        };
        let mut it = item("[Video]  Opening day | Site", "2026-01-09T00:00:00Z");
        assert_eq!(
            apply(&mut it, &filters, now()),
            Ok(()),
            "stripped before the rules match"
        );
        assert_eq!(it.title, "Opening day");
        let mut it = item("[Only]", "2026-01-09T00:00:00Z");
        let _ = apply(&mut it, &filters, now());
        assert_eq!(it.title, "[Only]");
    }
}
