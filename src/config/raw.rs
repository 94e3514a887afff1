//! The serde mirror of `feedwright.toml`: every field as written, with its position for error messages.
//!
//! Nothing here is checked beyond TOML syntax, types and unknown keys; `validate` turns this into typed config.
//! [`read`] reports all of those at once rather than stopping at the first: it parses the file into a table that
//! keeps every key's position, reports and drops the keys no struct here has (the structs are the one list of
//! keys: [`keys_of`] reads it from their serde derive), then deserializes `[settings]` and each `[[source]]`,
//! `[[merge]]` and `[[notify]]` on its own, so a type error in one table hides nothing in the others.

use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// One problem found while reading the file: where, in which source (its id as written), and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawProblem {
    pub span: Range<usize>,
    pub source: Option<String>,
    pub message: String,
}

/// What [`read`] found.
#[derive(Debug)]
pub struct Read {
    /// Every table that deserialized; a table with a type error is left out (its problem is reported).
    pub config: RawConfig,
    pub problems: Vec<RawProblem>,
    /// The `id` of every `[[source]]` table as written (`None` where it has no string id), read or not.
    pub source_ids: Vec<Option<String>>,
    /// Whether the file is valid TOML; when it is not, `problems` has the syntax errors and nothing else is read.
    pub syntax_ok: bool,
}

/// Reads config text into its serde mirror, with every syntax error, unknown key and type error found.
pub fn read(text: &str) -> Read {
    let mut problems = Vec::new();
    let mut raw = RawConfig {
        settings: RawSettings::default(),
        sources: Vec::new(),
        merges: Vec::new(),
        notify: Vec::new(),
    };
    let mut source_ids = Vec::new();
    let (root, errors) = DeTable::parse_recoverable(text);
    if !errors.is_empty() {
        for e in errors {
            problems.push(RawProblem {
                span: e.span().unwrap_or(0..0),
                source: None,
                message: e.message().trim().to_owned(),
            });
        }
        return Read {
            config: raw,
            problems,
            source_ids,
            syntax_ok: false,
        };
    }
    let mut root = root.into_inner();
    drop_unknown_keys(&mut root, &[], None, &mut problems);
    for (key, value) in root {
        let span = value.span();
        match (key.get_ref().as_ref(), value.into_inner()) {
            ("settings", value) => {
                if let Some(settings) = table(Spanned::new(span, value), None, &mut problems) {
                    raw.settings = settings;
                }
            }
            ("source", DeValue::Array(list)) => {
                for value in list {
                    let id = source_id(value.get_ref());
                    source_ids.push(id.clone());
                    raw.sources.extend(table(value, id, &mut problems));
                }
            }
            ("merge", DeValue::Array(list)) => {
                for value in list {
                    raw.merges.extend(table(value, None, &mut problems));
                }
            }
            ("notify", DeValue::Array(list)) => {
                for value in list {
                    raw.notify.extend(table(value, None, &mut problems));
                }
            }
            (key, _) => problems.push(RawProblem {
                span,
                source: None,
                message: format!("{key} must be a list of tables: write [[{key}]]"),
            }),
        }
    }
    Read {
        config: raw,
        problems,
        source_ids,
        syntax_ok: true,
    }
}

/// Deserializes one table of the file on its own; a type error becomes a problem naming the key.
fn table<'de, T: Deserialize<'de>>(
    value: Spanned<DeValue<'de>>,
    source: Option<String>,
    problems: &mut Vec<RawProblem>,
) -> Option<T> {
    let whole = value.span();
    let copy = value.clone();
    T::deserialize(toml::de::ValueDeserializer::from(value))
        .map_err(|e| {
            let span = e.span().unwrap_or(whole);
            let message = e.message().trim();
            let message = match key_at(&copy, &span) {
                Some(key) => format!("{key}: {message}"),
                None => message.to_owned(),
            };
            problems.push(RawProblem { span, source, message });
        })
        .ok()
}

/// The dotted key (from the table `value` down) whose value sits at `span`, for type errors.
fn key_at(value: &Spanned<DeValue<'_>>, span: &Range<usize>) -> Option<String> {
    let DeValue::Table(table) = value.get_ref() else {
        return None;
    };
    table.iter().find_map(|(key, value)| {
        let inner = value.span();
        if inner == *span {
            Some(key.get_ref().to_string())
        } else if inner.start <= span.start && span.end <= inner.end {
            Some(match key_at(value, span) {
                Some(below) => format!("{}.{below}", key.get_ref()),
                None => key.get_ref().to_string(),
            })
        } else {
            None
        }
    })
}

/// The `id` of a `[[source]]` table as written, for messages about it.
fn source_id(value: &DeValue<'_>) -> Option<String> {
    let DeValue::Table(table) = value else {
        return None;
    };
    let (_, id) = table.iter().find(|(key, _)| key.get_ref() == "id")?;
    id.get_ref().as_str().map(str::to_owned)
}

/// Reports and removes the keys of `table` (at `path` in the file) that its struct does not have, and descends
/// into the tables below it that have a struct of their own.
fn drop_unknown_keys(table: &mut DeTable<'_>, path: &[&str], source: Option<&str>, problems: &mut Vec<RawProblem>) {
    let Some(known) = table_keys(path) else {
        return;
    };
    let mut unknown = Vec::new();
    for (key, _) in table.iter() {
        if !known.contains(&key.get_ref().as_ref()) {
            unknown.push(key.get_ref().to_string());
            let place = match path {
                [] => String::new(),
                ["source"] => " in [[source]]".to_owned(),
                ["notify"] => " in [[notify]]".to_owned(),
                ["merge"] => " in [[merge]]".to_owned(),
                path => format!(" in [{}]", path.join(".")),
            };
            problems.push(RawProblem {
                span: key.span(),
                source: source.map(str::to_owned),
                message: format!(
                    "unknown key `{}`{place} (expected one of: {})",
                    key.get_ref(),
                    known.join(", ")
                ),
            });
        }
    }
    if !unknown.is_empty() {
        for (key, value) in std::mem::replace(table, DeTable::new()) {
            if !unknown.iter().any(|u| u.as_str() == key.get_ref()) {
                table.insert(key, value);
            }
        }
    }
    for (key, value) in table.iter_mut() {
        let key: &str = key.get_ref();
        let mut below = path.to_vec();
        below.push(key);
        match value.get_mut() {
            DeValue::Table(inner) => drop_unknown_keys(inner, &below, source, problems),
            DeValue::Array(list) if path.is_empty() => {
                for item in list.iter_mut() {
                    let id = source_id(item.get_ref());
                    let source = if key == "source" { id.as_deref() } else { None };
                    if let DeValue::Table(inner) = item.get_mut() {
                        drop_unknown_keys(inner, &below, source, problems);
                    }
                }
            }
            _ => {}
        }
    }
}

/// The keys a table of the file accepts, by its path (`["source", "article"]` for `[source.article]`); `None`
/// for values that are not one of these structs (such as the free-form `http.headers`).
fn table_keys(path: &[&str]) -> Option<&'static [&'static str]> {
    Some(match path {
        [] => keys_of::<RawConfig>(),
        ["settings"] => keys_of::<RawSettings>(),
        ["source"] => keys_of::<RawSource>(),
        ["source", "listing"] => keys_of::<RawListing>(),
        ["source", "article"] => keys_of::<RawArticle>(),
        ["source", "refresh"] => keys_of::<RawRefresh>(),
        ["source", "http"] => keys_of::<RawHttp>(),
        ["notify"] => keys_of::<RawNotify>(),
        ["merge"] => keys_of::<RawMerge>(),
        _ => return None,
    })
}

/// The field names of a struct, as its `Deserialize` derive knows them (renames applied).
pub fn keys_of<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    let mut keys: &'static [&'static str] = &[];
    let _ = T::deserialize(FieldNames(&mut keys));
    keys
}

/// A deserializer that only notes the field names a struct asks for, then gives up.
struct FieldNames<'a>(&'a mut &'static [&'static str]);

impl<'de> serde::Deserializer<'de> for FieldNames<'_> {
    type Error = serde::de::value::Error;

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(serde::de::Error::custom("only field names are read"))
    }

    fn deserialize_struct<V: serde::de::Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = fields;
        Err(serde::de::Error::custom("only field names are read"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
        unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub settings: RawSettings,
    #[serde(default, rename = "source")]
    pub sources: Vec<Spanned<RawSource>>,
    #[serde(default, rename = "merge")]
    pub merges: Vec<Spanned<RawMerge>>,
    #[serde(default)]
    pub notify: Vec<Spanned<RawNotify>>,
}

/// `[[merge]]`: one more feed, of the stored items of several sources.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMerge {
    pub id: Spanned<String>,
    pub title: String,
    pub description: Option<String>,
    /// The ids of the `[[source]]`s whose items it publishes.
    pub sources: Spanned<Vec<Spanned<String>>>,
    pub max_items: Option<Spanned<usize>>,
    pub language: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNotify {
    /// POST each event as JSON to this URL.
    pub webhook: Option<Spanned<String>>,
    /// Run this program (argv) with each event as JSON on stdin.
    pub command: Option<Spanned<Vec<String>>>,
    /// Which events: `new_items`, `broken`, `recovered` (default: all).
    pub events: Option<Spanned<Vec<String>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSettings {
    pub output_dir: Option<Spanned<String>>,
    pub state: Option<Spanned<String>>,
    pub feed_base_url: Option<Spanned<String>>,
    pub user_agent: Option<String>,
    pub timeout: Option<Spanned<String>>,
    pub max_body: Option<Spanned<String>>,
    pub max_items: Option<Spanned<usize>>,
    /// The longest item body, as a size of sanitized HTML ("256KiB"); a longer one is cut.
    pub max_content: Option<Spanned<String>>,
    pub formats: Option<Spanned<Vec<String>>>,
    pub concurrency: Option<Spanned<usize>>,
    pub lock_timeout: Option<Spanned<String>>,
    /// A shared state: how long a worker's claim on a source lasts without renewal.
    pub lease: Option<Spanned<String>>,
    /// `watch`: how often each source runs, unless it says otherwise (`every` or `cron`, not both).
    pub every: Option<Spanned<String>>,
    pub cron: Option<Spanned<String>>,
    /// `run` and `watch`: sources running at once; `watch`: the longest wait between runs of a failing source.
    pub max_running: Option<Spanned<usize>>,
    pub backoff_max: Option<Spanned<String>>,
    /// WebSub hub that feeds name and that is pinged when a feed changes.
    pub hub: Option<Spanned<String>>,
    pub connect_timeout: Option<Spanned<String>>,
    pub max_redirects: Option<usize>,
    pub retries: Option<u32>,
    pub retry_base: Option<Spanned<String>>,
    pub respect_robots: Option<bool>,
    pub allow_private: Option<bool>,
    pub min_gap: Option<Spanned<String>>,
    pub budget: Option<Spanned<String>>,
    /// How long stored items are kept after they were last listed ("180d", or "forever"); the feed window always is.
    pub retain: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSource {
    pub id: Spanned<String>,
    pub title: String,
    pub description: Option<String>,
    pub author: Option<String>,
    pub url: Option<Spanned<String>>,
    pub urls: Option<Spanned<Vec<String>>>,
    /// An RSS, Atom or JSON feed read instead of listing pages.
    pub feed: Option<Spanned<String>>,
    /// A feed source: fetch each item's page and extract the article from it.
    pub full_text: Option<Spanned<bool>>,
    /// Filters: items matching an `exclude` rule are dropped, and when `include` rules are given, items matching
    /// none of them.
    #[serde(default)]
    pub include: Vec<Spanned<RawRule>>,
    #[serde(default)]
    pub exclude: Vec<Spanned<RawRule>>,
    /// Items published longer ago than this are dropped.
    pub max_age: Option<Spanned<String>>,
    /// A regular expression removed from titles.
    pub title_strip: Option<Spanned<String>>,
    pub language: Option<String>,
    pub timezone: Option<Spanned<String>>,
    pub max_items: Option<Spanned<usize>>,
    pub max_content: Option<Spanned<String>>,
    pub retain: Option<Spanned<String>>,
    /// Ids of sources that publish the same feed in another language (`hreflang` alternates).
    #[serde(default)]
    pub alternates: Vec<Spanned<String>>,
    /// Every key is optional: what a source does not say is found automatically.
    #[serde(default)]
    pub listing: RawListing,
    #[serde(default)]
    pub article: RawArticle,
    #[serde(default)]
    pub refresh: RawRefresh,
    /// `watch`: this source's own schedule, instead of the one in `[settings]`.
    pub every: Option<Spanned<String>>,
    pub cron: Option<Spanned<String>>,
    #[serde(default)]
    pub http: RawHttp,
}

/// One `include` or `exclude` rule: `{ field = "title", pattern = "(?i)sponsored" }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    /// `title`, `text` (summary and body), `author`, `url`, or `any` (the default).
    pub field: Option<Spanned<String>>,
    pub pattern: Spanned<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawListing {
    pub item: Option<Spanned<String>>,
    pub links: Option<Spanned<String>>,
    pub date: Option<Spanned<String>>,
    pub next: Option<Spanned<String>>,
    pub max_pages: Option<Spanned<usize>>,
    /// A URL template with `{page}` for pages 2..=max_pages, instead of following `next`.
    pub pages: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawArticle {
    pub title: Option<Spanned<String>>,
    pub date: Option<Spanned<String>>,
    #[serde(default)]
    pub date_formats: Vec<Spanned<String>>,
    pub author: Option<Spanned<String>>,
    pub content: Option<Spanned<String>>,
    pub image: Option<Spanned<String>>,
    pub caption: Option<Spanned<String>>,
    /// Tags: each match is one tag.
    pub tags: Option<Spanned<String>>,
    /// The link to an article's next page, for stories split over several pages.
    pub next: Option<Spanned<String>>,
    /// The most pages of one article that are read and joined.
    pub max_pages: Option<Spanned<usize>>,
    #[serde(default)]
    pub remove: Vec<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRefresh {
    /// How many of the known articles still on a changed listing are re-checked (newest first).
    pub newest: Option<usize>,
    /// Also re-check known articles this often, even when the listing did not change.
    pub every: Option<Spanned<String>>,
}

/// `[source.http]`: how this source's requests are made; unset keys take the `[settings]` value.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHttp {
    pub concurrency: Option<Spanned<usize>>,
    pub min_gap: Option<Spanned<String>>,
    pub respect_robots: Option<bool>,
    /// Loopback and private addresses may be fetched even when the source's own URL is not on one.
    pub allow_private: Option<bool>,
    pub budget: Option<Spanned<String>>,
    pub proxy: Option<Spanned<String>>,
    pub headers: Option<Spanned<std::collections::BTreeMap<String, String>>>,
    pub cookies: Option<Spanned<String>>,
}
