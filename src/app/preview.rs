//! `preview`: what a source, or any site by its URL, extracts right now, printed and never stored.
//!
//! Four forms: `preview ID` (the configured rules; a table, or the feed with `--format`), `preview URL` (no config:
//! a source made of only that URL, everything found automatically), `preview --article URL [--json]` (one article
//! page; `--json` prints the stable object outside benchmarks read), and `preview ID --explain` (what each
//! configured selector matches on the listing and the first article). Each table row says where every field came
//! from (`feed`, or `feed, page failed` when a `full_text` page could not be read), and the items the source's
//! filters dropped follow the table with the rule that dropped each.

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::Serialize;
use tracing::Instrument;
use url::Url;

use super::{AppError, Exit, fetcher, now, select, stdout_error};
use crate::config::{Config, Source};
use crate::extract::{self, explain::Matched};
use crate::fetch::{Fetched, Fetcher, Page};
use crate::init;
use crate::model::{DateSource, Item, ItemId, ListedLink, Origin, Provenance};
use crate::normalize;
use crate::pipeline::{self, Context};
use crate::render::{self, Format};
use crate::store::Store;
use crate::term::{self, out};

/// What `preview` was asked for.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Ask {
    pub format: Option<Format>,
    pub article: bool,
    pub json: bool,
    pub explain: bool,
}

pub(super) async fn preview(path: &Path, target: &str, ask: Ask) -> Result<Exit, AppError> {
    let url = Url::parse(target)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"));
    match (url, ask.article) {
        (Some(url), true) => article(&url, ask.json).await,
        (None, true) => Err(AppError::Usage(format!(
            "preview --article needs the article's http(s) URL, not \"{target}\""
        ))),
        (Some(url), false) => {
            if ask.explain {
                return Err(AppError::Usage(
                    "preview --explain shows a configured source's selectors: give its id".into(),
                ));
            }
            let config = init::bare_config(&url, None).map_err(AppError::Config)?;
            let source = config.sources[0].clone();
            listing(&config, &source, ask.format).await
        }
        (None, false) => {
            let config = Config::load(path)?;
            let source = select(&config, &[target.to_owned()])?.remove(0);
            if ask.explain {
                explain(&config, &source).await
            } else {
                listing(&config, &source, ask.format).await
            }
        }
    }
}

/// Reads a source as a run would, into an in-memory store, and prints the table or the feed.
async fn listing(config: &Config, source: &Source, format: Option<Format>) -> Result<Exit, AppError> {
    let ctx = Context {
        fetcher: fetcher(config)?,
        store: Arc::new(Mutex::new(Store::in_memory()?)),
    };
    let now = now();
    let span = pipeline::source_span(&source.id);
    let collected = pipeline::collect(&ctx, source, now).instrument(span.clone()).await?;
    // Each failed article was logged by the pipeline as it failed; only the listing's failures are not.
    span.in_scope(|| {
        for e in collected.listing_errors() {
            tracing::error!(error = %e, "listing page failed");
        }
    });
    let mut items = collected.changes.items;
    items.sort_by(|a, b| b.published.cmp(&a.published).then_with(|| a.id.cmp(&b.id)));
    items.truncate(source.max_items);
    let mut out = out::stdout();
    let written = match format {
        Some(format) => {
            let meta = pipeline::feed_meta(config, source, &items, now);
            out.write_all(render::render(format, &meta, &items).as_bytes())
        }
        None => write_table(&mut out, &items, &collected.provenance, collected.links.len())
            .and_then(|()| write_dropped(&mut out, &collected.dropped))
            .and_then(|()| write_advertised(&mut out, &collected.advertised)),
    };
    written.and_then(|()| out.flush()).map_err(stdout_error)?;
    Ok(if items.is_empty() {
        Exit::SourcesFailed
    } else {
        Exit::Ok
    })
}

/// Terminal cells for a title in `preview`'s table; longer ones end in "…".
const TITLE_CELLS: usize = 50;

fn write_table(
    out: &mut impl Write,
    items: &[Item],
    provenance: &[(ItemId, Provenance)],
    links: usize,
) -> std::io::Result<()> {
    use term::text::column;
    writeln!(out, "{links} links on the listing, {} articles extracted", items.len())?;
    writeln!(
        out,
        "{:<25}  {:<10}  {:>8}  {:<22}  {}  URL",
        "DATE",
        "DATE FROM",
        "BODY",
        "MISSING",
        column("TITLE", TITLE_CELLS)
    )?;
    for item in items {
        let missing: Vec<&str> = [
            (item.date_source != DateSource::Page, "date"),
            (item.author.is_none(), "author"),
            (item.image.is_none(), "image"),
            (item.image.is_some() && item.image_caption.is_none(), "caption"),
        ]
        .into_iter()
        .filter_map(|(missing, name)| missing.then_some(name))
        .collect();
        writeln!(
            out,
            "{:<25}  {:<10}  {:>8}  {:<22}  {}  {}",
            item.published.to_rfc3339(),
            item.date_source.as_str(),
            item.content_html.len(),
            missing.join(","),
            column(&item.title, TITLE_CELLS),
            item.url
        )?;
        if let Some((_, from)) = provenance.iter().find(|(id, _)| *id == item.id) {
            writeln!(out, "    from: {}", origins(from, item.date_source))?;
        }
        if !item.categories.is_empty() {
            writeln!(out, "    tags: {}", item.categories.join(" · "))?;
        }
    }
    Ok(())
}

/// `title json-ld · date meta · …`: where each field of one article came from.
fn origins(from: &Provenance, date: DateSource) -> String {
    let date = match date {
        DateSource::Page => from.date_machine.or(from.date_text).map_or("page", Origin::as_str),
        DateSource::UrlPath => Origin::Url.as_str(),
        DateSource::Listing => Origin::Listing.as_str(),
        DateSource::FirstSeen => "first-seen",
    };
    let name = |o: Option<Origin>| o.map_or("none", Origin::as_str);
    format!(
        "title {} · date {date} · author {} · body {} · image {} · caption {} · tags {}",
        name(from.title),
        name(from.author),
        name(from.content),
        name(from.image),
        name(from.caption),
        name(from.tags)
    )
}

/// The items the source's filters dropped, each with the rule that dropped it.
fn write_dropped(out: &mut impl Write, dropped: &[(Item, normalize::filter::Dropped)]) -> std::io::Result<()> {
    use term::text::column;
    if dropped.is_empty() {
        return Ok(());
    }
    writeln!(out, "{} dropped by the source's filters:", dropped.len())?;
    for (item, reason) in dropped {
        writeln!(out, "  {}  {}", column(&item.title, TITLE_CELLS), item.url)?;
        writeln!(out, "    dropped: {reason}")?;
    }
    Ok(())
}

fn write_advertised(out: &mut impl Write, feeds: &[Url]) -> std::io::Result<()> {
    for feed in feeds {
        writeln!(
            out,
            "The site advertises a feed: {feed} (it may already have what you want; `feedwright init` proposes it)"
        )?;
    }
    Ok(())
}

/// The object `preview --article --json` prints; outside benchmarks read it, so its shape stays as it is.
#[derive(Debug, Serialize)]
struct ArticleJson {
    url: String,
    title: Option<String>,
    published: Option<String>,
    author: Option<String>,
    image: Option<String>,
    content_html: Option<String>,
    /// Always an array (empty when the page names none): the one key that is not a string or null.
    tags: Vec<String>,
    provenance: ProvenanceJson,
}

#[derive(Debug, Serialize)]
struct ProvenanceJson {
    title: Option<&'static str>,
    published: Option<&'static str>,
    author: Option<&'static str>,
    image: Option<&'static str>,
    content_html: Option<&'static str>,
    tags: Option<&'static str>,
}

/// Extracts one article page automatically (no config) and prints its fields.
async fn article(url: &Url, json: bool) -> Result<Exit, AppError> {
    let config = init::bare_config(url, None).map_err(AppError::Config)?;
    let source = &config.sources[0];
    let fetcher = fetcher(&config)?
        .for_source(&source.http)
        .map_err(|e| AppError::Fetch(Box::new(e)))?;
    let page = fetch_page(&fetcher, url).await?;
    let now = now();
    let object = article_json(source, &page, now);
    let mut out = out::stdout();
    let written = if json {
        serde_json::to_writer(&mut out, &object)
            .map_err(std::io::Error::other)
            .and_then(|()| writeln!(out))
    } else {
        write_article(&mut out, &object)
    };
    written.and_then(|()| out.flush()).map_err(stdout_error)?;
    Ok(Exit::Ok)
}

/// One page, whatever its status: a 304 cannot happen to a request without validators.
pub(super) async fn fetch_page(fetcher: &Fetcher, url: &Url) -> Result<Page, AppError> {
    match fetcher.get(url, None).await {
        Ok(Fetched::Page(page)) => Ok(page),
        Ok(Fetched::NotModified) => Err(AppError::Usage(format!("GET {url} answered 304 to a plain request"))),
        Err(e) => Err(AppError::Fetch(Box::new(e))),
    }
}

fn article_json(source: &Source, page: &Page, now: DateTime<Utc>) -> ArticleJson {
    let listed = ListedLink {
        url: page.final_url.clone(),
        title: None,
        date_text: None,
        feed: None,
    };
    let read = extract::article::parse(&page.text, &page.final_url, &source.article, None).article;
    let draft = normalize::draft(&read, &listed, &source.normalize, now);
    let from = read.provenance;
    let origin = |o: Option<Origin>| o.map(Origin::as_str);
    let (published, published_from) = match draft.date_source {
        DateSource::Page => (
            Some(draft.published.to_rfc3339()),
            origin(from.date_machine.or(from.date_text)),
        ),
        DateSource::UrlPath => (Some(draft.published.to_rfc3339()), Some(Origin::Url.as_str())),
        // No date on the page: the fetch time is no publication date.
        DateSource::Listing | DateSource::FirstSeen => (None, None),
    };
    ArticleJson {
        url: page.final_url.to_string(),
        provenance: ProvenanceJson {
            title: draft.title.as_ref().and(origin(from.title)),
            published: published_from,
            author: draft.author.as_ref().and(origin(from.author)),
            image: draft.image.as_ref().and(origin(from.image)),
            content_html: draft.content_html.as_ref().and(origin(from.content)),
            tags: origin(from.tags).filter(|_| !draft.categories.is_empty()),
        },
        title: draft.title,
        published,
        author: draft.author,
        image: draft.image.map(String::from),
        content_html: draft.content_html,
        tags: draft.categories,
    }
}

fn write_article(out: &mut impl Write, a: &ArticleJson) -> std::io::Result<()> {
    let p = &a.provenance;
    let body = a.content_html.as_deref().map(|html| {
        let text = normalize::sanitize::to_text(html);
        let words = text.split_whitespace().count();
        format!(
            "{} bytes of HTML, {words} words: {}",
            html.len(),
            term::text::column(&text, 60).trim_end()
        )
    });
    writeln!(out, "{:<10}  {:<10}  VALUE", "FIELD", "FROM")?;
    let rows = [
        ("url", None, Some(a.url.clone())),
        ("title", p.title, a.title.clone()),
        ("published", p.published, a.published.clone()),
        ("author", p.author, a.author.clone()),
        ("image", p.image, a.image.clone()),
        ("tags", p.tags, (!a.tags.is_empty()).then(|| a.tags.join(" · "))),
        ("body", p.content_html, body),
    ];
    for (field, from, value) in rows {
        writeln!(
            out,
            "{field:<10}  {:<10}  {}",
            from.unwrap_or(if value.is_some() { "" } else { "-" }),
            value.as_deref().unwrap_or("(not found)")
        )?;
    }
    Ok(())
}

/// `preview ID --explain`: each configured selector on the first listing page and on its first article.
async fn explain(config: &Config, source: &Source) -> Result<Exit, AppError> {
    if source.feed.is_some() {
        return Err(AppError::Usage(format!(
            "source \"{}\" reads a feed, which has no listing selectors to explain: `feedwright preview {}` shows its items",
            source.id, source.id
        )));
    }
    let fetcher = fetcher(config)?
        .for_source(&source.http)
        .map_err(|e| AppError::Fetch(Box::new(e)))?;
    let listing_url = &source.urls[0];
    let page = fetch_page(&fetcher, listing_url).await?;
    let rows = extract::explain::listing(&page.text, &page.final_url, &source.listing);
    let found = extract::list::parse(&page.text, &page.final_url, &source.listing);
    let mut out = out::stdout();
    write_matches(&mut out, &format!("listing {}", page.final_url), &rows, found.origin)
        .and_then(|()| {
            writeln!(
                out,
                "  => {} article links{}",
                found.links.len(),
                found
                    .next
                    .as_ref()
                    .map(|n| format!(", next page {n}"))
                    .unwrap_or_default()
            )
        })
        .map_err(stdout_error)?;
    let Some(first) = found.links.first() else {
        writeln!(out, "No article link found, so no article page to explain.").map_err(stdout_error)?;
        return Ok(Exit::SourcesFailed);
    };
    drop(out);
    let page = fetch_page(&fetcher, &first.url).await?;
    let rows = extract::explain::article(&page.text, &page.final_url, &source.article);
    let read = extract::article::parse(&page.text, &page.final_url, &source.article, first.title.as_deref());
    let mut out = out::stdout();
    write_matches(&mut out, &format!("article {}", page.final_url), &rows, None)
        .and_then(|()| {
            let p = read.article.provenance;
            writeln!(
                out,
                "  => fields from: title {} · date {} · author {} · body {} · image {} · caption {} · tags {}",
                name(p.title),
                name(p.date_machine.or(p.date_text)),
                name(p.author),
                name(p.content),
                name(p.image),
                name(p.caption),
                name(p.tags)
            )
        })
        .and_then(|()| out.flush())
        .map_err(stdout_error)?;
    Ok(Exit::Ok)
}

fn name(o: Option<Origin>) -> &'static str {
    o.map_or("none", Origin::as_str)
}

fn write_matches(out: &mut impl Write, page: &str, rows: &[Matched], auto: Option<Origin>) -> std::io::Result<()> {
    writeln!(out, "{page}")?;
    if rows.is_empty() && auto == Some(Origin::Heuristic) {
        writeln!(out, "  no listing selectors configured: links found automatically")?;
    }
    for row in rows {
        writeln!(
            out,
            "  {:<16} {:>4} match{}  {}",
            row.key,
            row.count,
            if row.count == 1 { " " } else { "es" },
            row.selector
        )?;
        for sample in &row.samples {
            writeln!(out, "      {sample}")?;
        }
        if row.count == 0 {
            writeln!(
                out,
                "      (nothing: this field is found automatically instead, if at all)"
            )?;
        }
    }
    Ok(())
}
