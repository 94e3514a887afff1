//! The web page `serve` answers at `/` and `/source/ID`: where to look after the feeds. Server-rendered HTML with a
//! small inline stylesheet (no JavaScript, readable on a phone), built from the same [`SourceState`] that `status`
//! and `/healthz` show.
//!
//! Pure: config, states, store rows and the time in, a string out. Every value that comes from a config, a site or
//! the store goes through [`crate::html::escape_into`]; a link is only made of an `http(s)` URL.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use crate::config::{Config, Merge, Publication, Source};
use crate::html::escape_into;
use crate::model::SourceId;
use crate::render::Format;
use crate::status::{Health, SourceState, count};
use crate::store::{Entry, RunRecord};

/// `s` escaped for HTML text.
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    escape_into(&mut out, s, false);
    out
}

/// `s` escaped for a double-quoted attribute value.
fn attr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    escape_into(&mut out, s, true);
    out
}

/// `url` without its scheme, for showing: `www.example.org/news/`.
fn bare(url: &str) -> &str {
    url.split_once("://").map_or(url, |(_, rest)| rest)
}

/// A link to `url` showing `label` (HTML), or just the label when `url` is not `http(s)`.
fn link(url: &str, label: &str) -> String {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        format!("<a href=\"{}\">{label}</a>", attr(url))
    } else {
        label.to_owned()
    }
}

fn format_name(format: Format) -> &'static str {
    match format {
        Format::Atom => "Atom",
        Format::Rss => "RSS",
        Format::Json => "JSON Feed",
    }
}

const STYLE: &str = "\
:root{color-scheme:light dark;--muted:#666;--line:#ddd;--ok:#186a3b;--degraded:#9a5b00;--broken:#b03a2e}
@media (prefers-color-scheme:dark){:root{--muted:#aaa;--line:#444;--ok:#58d68d;--degraded:#f5b041;--broken:#ff7b6b}}
body{font:16px/1.5 system-ui,sans-serif;margin:1.5rem auto;max-width:72rem;padding:0 1rem}
h1{margin:.2rem 0 .5rem}h2{margin-top:2rem;font-size:1.2rem}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.45rem .6rem;border-bottom:1px solid var(--line);vertical-align:top}
th{font-size:.85rem;color:var(--muted);font-weight:600}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
a{color:inherit}small,.muted{color:var(--muted)}
.health{font-weight:700;white-space:nowrap}
.ok{color:var(--ok)}.degraded{color:var(--degraded)}.broken{color:var(--broken)}.never-run{color:var(--muted)}
tr.source{color:inherit}tr.source.degraded td:first-child{box-shadow:inset 4px 0 var(--degraded)}
tr.source.broken td:first-child{box-shadow:inset 4px 0 var(--broken)}
.reason{font-size:.9rem;overflow-wrap:anywhere}
.url{overflow-wrap:anywhere;font-size:.9rem}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}dl.facts dt{color:var(--muted)}
dl.facts dd{margin:0}
dl.legend dt{font-weight:700;display:inline}dl.legend dd{display:inline;margin:0}
dl.legend dd::after{content:\"\";display:block;margin-bottom:.3rem}
@media (max-width:44rem){
 table.cards thead{display:none}
 table.cards,table.cards tbody,table.cards tr,table.cards td{display:block;width:auto}
 table.cards tr{border:1px solid var(--line);border-radius:.4rem;margin:0 0 .8rem;padding:.3rem .2rem}
 table.cards td{border:0;padding:.2rem .6rem}
 table.cards td.n{text-align:left}
 table.cards td[data-label]::before{content:attr(data-label) \": \";color:var(--muted);font-size:.85rem}
}";

fn head(out: &mut String, title: &str, alternates: &[(String, Format, String)]) {
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n",
        text(title)
    );
    for (feed_title, format, href) in alternates {
        let _ = writeln!(
            out,
            "<link rel=\"alternate\" type=\"{}\" title=\"{} ({})\" href=\"{}\">",
            format.media_type(),
            attr(feed_title),
            format_name(*format),
            attr(href)
        );
    }
    let _ = write!(out, "<style>\n{STYLE}\n</style>\n</head>\n<body>\n");
}

/// A time as `2026-01-01 10:00 UTC`, with how long ago (or how soon) it is from `now`.
fn when(t: Option<DateTime<Utc>>, now: DateTime<Utc>, none: &str) -> String {
    let Some(t) = t else {
        return format!("<span class=\"muted\">{}</span>", text(none));
    };
    format!(
        "<time datetime=\"{}\">{}</time> <small>{}</small>",
        t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        t.format("%Y-%m-%d %H:%M UTC"),
        relative(t, now)
    )
}

/// `5 min ago`, `in 2 h`, `now`.
fn relative(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (t - now).num_seconds();
    let span = secs.unsigned_abs();
    let amount = match span {
        0..60 => return "now".to_owned(),
        60..3600 => format!("{} min", span / 60),
        3600..172_800 => format!("{} h", span / 3600),
        _ => format!("{} days", span / 86_400),
    };
    if secs < 0 {
        format!("{amount} ago")
    } else {
        format!("in {amount}")
    }
}

/// The next run under `watch`: a due time in the past means it runs now (or is running).
fn next_run(state: &SourceState, now: DateTime<Utc>) -> String {
    match state.next_run {
        Some(t) if t <= now => "<span>now</span>".to_owned(),
        Some(t) => when(Some(t), now, ""),
        None => "<span class=\"muted\" title=\"plain serve runs nothing; under watch this is the next scheduled run\">\
                 not scheduled</span>"
            .to_owned(),
    }
}

fn health(state: &SourceState) -> String {
    let word = state.health.as_str();
    format!(
        "<span class=\"health {word}\" title=\"{}\">{word}</span>",
        attr(state.health.meaning())
    )
}

fn subscribe(config: &Config, id: &SourceId, prefix: &str) -> String {
    config
        .settings
        .formats
        .iter()
        .map(|&format| {
            format!(
                "<a href=\"{prefix}{}.{}\" type=\"{}\">{}</a>",
                id,
                format.ext(),
                format.media_type(),
                format_name(format)
            )
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

fn legend(out: &mut String, shown: &[Health]) {
    out.push_str("<h2 id=\"legend\">What the health words mean</h2>\n<dl class=\"legend\">\n");
    for health in Health::ALL.iter().filter(|h| shown.contains(h)) {
        let _ = writeln!(
            out,
            "<dt class=\"{0}\">{0}</dt> <dd>{1}.</dd>",
            health.as_str(),
            text(health.meaning())
        );
    }
    out.push_str("</dl>\n");
}

/// `/`: every configured feed with its state (`states` in config order: the sources', then the merges').
pub fn index(config: &Config, states: &[SourceState], now: DateTime<Utc>) -> String {
    let mut out = String::new();
    let alternates: Vec<(String, Format, String)> = config
        .feeds()
        .flat_map(|s| {
            config
                .settings
                .formats
                .iter()
                .map(move |&f| (s.title().to_owned(), f, format!("{}.{}", s.id(), f.ext())))
        })
        .collect();
    head(&mut out, "feedwright: feeds", &alternates);
    let tally: Vec<String> = Health::ALL
        .iter()
        .filter_map(|&h| {
            let n = states.iter().filter(|s| s.health == h).count();
            (n > 0).then(|| format!("<span class=\"{0}\">{n} {0}</span>", h.as_str()))
        })
        .collect();
    let _ = write!(
        out,
        "<h1>Feeds</h1>\n<p>{}: {}. Subscribe to one feed below, or to all of them with the \
         <a href=\"index.opml\">OPML list</a>.</p>\n",
        match config.merges.len() {
            0 => count(states.len(), "source", "sources"),
            n => format!(
                "{} and {}",
                count(config.sources.len(), "source", "sources"),
                count(n, "merged feed", "merged feeds")
            ),
        },
        tally.join(", ")
    );
    out.push_str(
        "<table class=\"cards sources\">\n<thead><tr><th>Source</th><th>Health</th><th>Last run</th>\
         <th>Next run</th><th class=\"n\">Items</th><th class=\"n\">New in 24 h</th>\
         <th class=\"n\">Failed articles</th><th>Subscribe</th></tr></thead>\n<tbody>\n",
    );
    for (feed, state) in config.feeds().zip(states) {
        let id = feed.id();
        let reason = state
            .reason
            .as_deref()
            .map(|r| format!("<div class=\"reason\">{}</div>", text(r)))
            .unwrap_or_default();
        let failed = match state.failed_articles.len() {
            0 => "0".to_owned(),
            n => format!("<a href=\"source/{id}#failed\">{n}</a>"),
        };
        let home = feed.home_page().as_str();
        let place = match feed {
            Publication::Source(_) => link(home, &text(bare(home))),
            Publication::Merge(m) => format!("merges {}", merged_sources(m, "source/")),
        };
        let _ = writeln!(
            out,
            "<tr id=\"{id}\" class=\"source {word}\">\
             <td data-label=\"Source\"><a href=\"source/{id}\"><strong>{title}</strong></a><br>\
             <span class=\"url\">{place}</span></td>\
             <td data-label=\"Health\">{health}{reason}</td>\
             <td data-label=\"Last run\">{last}</td>\
             <td data-label=\"Next run\">{next}</td>\
             <td data-label=\"Items\" class=\"n\">{items}</td>\
             <td data-label=\"New in 24 h\" class=\"n\">{new}</td>\
             <td data-label=\"Failed articles\" class=\"n\">{failed}</td>\
             <td data-label=\"Subscribe\">{links}</td></tr>",
            word = state.health.as_str(),
            title = text(feed.title()),
            health = health(state),
            last = when(state.last_run, now, "never"),
            next = next_run(state, now),
            items = state.items_in_feed,
            new = state.new_last_24h,
            links = subscribe(config, id, ""),
        );
    }
    out.push_str("</tbody>\n</table>\n");
    let shown: Vec<Health> = states.iter().map(|s| s.health).collect();
    legend(&mut out, &shown);
    out.push_str(
        "<p class=\"muted\"><small>Times are UTC. Machine-readable: <a href=\"healthz\">/healthz</a> (JSON), \
         <a href=\"metrics\">/metrics</a> (Prometheus).</small></p>\n</body>\n</html>\n",
    );
    out
}

/// A merge's sources, each a link to its page (`prefix` leads there).
fn merged_sources(merge: &Merge, prefix: &str) -> String {
    merge
        .sources
        .iter()
        .map(|id| format!("<a href=\"{prefix}{id}\">{id}</a>"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `/source/ID` of a merged feed: its state (its sources'), its sources and its items.
pub fn merge(
    config: &Config,
    merge: &Merge,
    state: &SourceState,
    members: &[SourceState],
    entries: &[Entry],
    now: DateTime<Utc>,
) -> String {
    let mut out = String::new();
    let alternates: Vec<(String, Format, String)> = config
        .settings
        .formats
        .iter()
        .map(|&f| (merge.title.clone(), f, format!("../{}.{}", merge.id, f.ext())))
        .collect();
    head(&mut out, &format!("{}: feedwright", merge.title), &alternates);
    let _ = write!(
        out,
        "<p><a href=\"../\">← All feeds</a></p>\n<h1>{}</h1>\n<p>A merged feed: the newest {} of {}, each once.</p>\n",
        text(&merge.title),
        count(merge.max_items, "item", "items"),
        merged_sources(merge, "")
    );
    let _ = writeln!(
        out,
        "<p id=\"health\">{}{}</p>\n<p class=\"muted\">{} means: {}. A merged feed is broken only when all its \
         sources are.</p>",
        health(state),
        state
            .reason
            .as_deref()
            .map(|r| format!(" <span class=\"reason\">{}</span>", text(r)))
            .unwrap_or_default(),
        state.health.as_str(),
        text(state.health.meaning())
    );
    let _ = writeln!(
        out,
        "<dl class=\"facts\">\n<dt>Last run of a source</dt><dd>{}</dd>\n<dt>Items in the feed</dt><dd>{}</dd>\n\
         <dt>New in 24 h</dt><dd>{}</dd>\n<dt>Subscribe</dt><dd>{}</dd>\n</dl>",
        when(state.last_run, now, "never"),
        state.items_in_feed,
        state.new_last_24h,
        subscribe(config, &merge.id, "../"),
    );
    out.push_str(
        "<h2 id=\"sources\">Sources</h2>\n<table class=\"cards sources\">\n<thead><tr><th>Source</th>\
         <th>Health</th><th>Last run</th></tr></thead>\n<tbody>\n",
    );
    for m in members {
        let _ = writeln!(
            out,
            "<tr class=\"source {word}\"><td data-label=\"Source\"><a href=\"{id}\">{id}</a></td>\
             <td data-label=\"Health\">{health}</td><td data-label=\"Last run\">{last}</td></tr>",
            word = m.health.as_str(),
            id = m.source,
            health = health(m),
            last = when(m.last_run, now, "never"),
        );
    }
    out.push_str("</tbody>\n</table>\n");
    items(&mut out, entries, now);
    out.push_str("<p class=\"muted\"><small>Times are UTC.</small></p>\n</body>\n</html>\n");
    out
}

/// The items table of a feed's page.
fn items(out: &mut String, entries: &[Entry], now: DateTime<Utc>) {
    let _ = writeln!(out, "<h2 id=\"items\">Items ({})</h2>", entries.len());
    if entries.is_empty() {
        out.push_str("<p class=\"muted\">No items yet.</p>\n");
        return;
    }
    out.push_str(
        "<table class=\"cards items\">\n<thead><tr><th>Title</th><th>Date</th><th>First seen</th>\
         <th>Edited</th></tr></thead>\n<tbody>\n",
    );
    for e in entries {
        let edited = match e.edited {
            Some(t) => format!("yes, {}", when(Some(t), now, "")),
            None => "no".to_owned(),
        };
        let _ = writeln!(
            out,
            "<tr><td data-label=\"Title\">{}</td><td data-label=\"Date\"><time datetime=\"{}\">{}</time></td>\
             <td data-label=\"First seen\">{}</td><td data-label=\"Edited\">{}</td></tr>",
            link(&e.url, &text(&e.title)),
            e.published.to_rfc3339(),
            e.published.format("%Y-%m-%d %H:%M %:z"),
            when(Some(e.first_seen), now, ""),
            edited
        );
    }
    out.push_str("</tbody>\n</table>\n");
}

/// What `/source/ID` shows besides the state.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// The feed's items, newest first.
    pub entries: Vec<Entry>,
    /// The latest runs, newest first.
    pub runs: Vec<RunRecord>,
}

/// `/source/ID`: one source's state, failed articles, items and run history.
pub fn source(config: &Config, source: &Source, state: &SourceState, history: &History, now: DateTime<Utc>) -> String {
    let mut out = String::new();
    let alternates: Vec<(String, Format, String)> = config
        .settings
        .formats
        .iter()
        .map(|&f| (source.title.clone(), f, format!("../{}.{}", source.id, f.ext())))
        .collect();
    head(&mut out, &format!("{}: feedwright", source.title), &alternates);
    let home = source.urls[0].as_str();
    let _ = write!(
        out,
        "<p><a href=\"../\">← All feeds</a></p>\n<h1>{}</h1>\n<p class=\"url\">{}</p>\n",
        text(&source.title),
        link(home, &text(bare(home)))
    );
    let _ = writeln!(
        out,
        "<p id=\"health\">{}{}</p>\n<p class=\"muted\">{} means: {}.</p>",
        health(state),
        state
            .reason
            .as_deref()
            .map(|r| format!(" <span class=\"reason\">{}</span>", text(r)))
            .unwrap_or_default(),
        state.health.as_str(),
        text(state.health.meaning())
    );
    let _ = writeln!(
        out,
        "<dl class=\"facts\">\n<dt>Last run</dt><dd>{}</dd>\n<dt>Last success</dt><dd>{}</dd>\n\
         <dt>Next run</dt><dd>{}</dd>\n<dt>Items in the feed</dt><dd>{}</dd>\n<dt>New in 24 h</dt><dd>{}</dd>\n\
         <dt>Failed runs in a row</dt><dd>{}</dd>\n<dt>Subscribe</dt><dd>{}</dd>\n</dl>",
        when(state.last_run, now, "never"),
        when(state.last_success, now, "never"),
        next_run(state, now),
        state.items_in_feed,
        state.new_last_24h,
        state.consecutive_failures,
        subscribe(config, &source.id, "../"),
    );

    let _ = writeln!(
        out,
        "<h2 id=\"failed\">Failed articles ({})</h2>",
        state.failed_articles.len()
    );
    if state.failed_articles.is_empty() {
        out.push_str("<p class=\"muted\">None: the last run that published read every listed article.</p>\n");
    } else {
        out.push_str(
            "<p class=\"muted\">Listed but not in the feed yet; each is retried with a growing pause.</p>\n\
             <table class=\"cards failed\">\n<thead><tr><th>Article</th><th>Last tried</th>\
             <th class=\"n\">Attempts</th><th>Error</th></tr></thead>\n<tbody>\n",
        );
        for f in &state.failed_articles {
            let label = match &f.title {
                Some(title) => format!("{}<br><span class=\"url\">{}</span>", text(title), text(&f.url)),
                None => format!("<span class=\"url\">{}</span>", text(&f.url)),
            };
            let _ = writeln!(
                out,
                "<tr><td data-label=\"Article\">{}</td><td data-label=\"Last tried\">{}</td>\
                 <td data-label=\"Attempts\" class=\"n\">{}</td><td data-label=\"Error\" class=\"reason\">{}</td></tr>",
                link(&f.url, &label),
                when(Some(f.last_failed), now, ""),
                f.attempts,
                text(&f.error)
            );
        }
        out.push_str("</tbody>\n</table>\n");
    }

    items(&mut out, &history.entries, now);

    let _ = writeln!(out, "<h2 id=\"runs\">Run history (latest {})</h2>", history.runs.len());
    if history.runs.is_empty() {
        out.push_str("<p class=\"muted\">No runs yet.</p>\n");
    } else {
        out.push_str(
            "<table class=\"cards runs\">\n<thead><tr><th>Started</th><th>Result</th><th class=\"n\">Took</th>\
             <th class=\"n\">Links</th><th class=\"n\">New</th><th class=\"n\">Edited</th><th class=\"n\">Failed</th>\
             <th class=\"n\">Requests</th><th>Reason</th></tr></thead>\n<tbody>\n",
        );
        for r in &history.runs {
            let word = Health::after(r.outcome).as_str();
            let _ = writeln!(
                out,
                "<tr><td data-label=\"Started\">{}</td><td data-label=\"Result\"><span class=\"health {word}\">{word}</span></td>\
                 <td data-label=\"Took\" class=\"n\">{:.1} s</td><td data-label=\"Links\" class=\"n\">{}</td>\
                 <td data-label=\"New\" class=\"n\">{}</td><td data-label=\"Edited\" class=\"n\">{}</td>\
                 <td data-label=\"Failed\" class=\"n\">{}</td><td data-label=\"Requests\" class=\"n\">{}</td>\
                 <td data-label=\"Reason\" class=\"reason\">{}</td></tr>",
                when(Some(r.started), now, ""),
                r.duration.as_secs_f64(),
                r.links,
                r.new,
                r.updated,
                r.failed,
                r.requests,
                r.reason.as_deref().map(text).unwrap_or_default()
            );
        }
        out.push_str("</tbody>\n</table>\n");
    }
    // The current word is explained at the top; the history may show others.
    let others: Vec<Health> = history
        .runs
        .iter()
        .map(|r| Health::after(r.outcome))
        .filter(|h| *h != state.health)
        .collect();
    if !others.is_empty() {
        legend(&mut out, &others);
    }
    out.push_str("<p class=\"muted\"><small>Times are UTC.</small></p>\n</body>\n</html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_times_read_naturally() {
        let now: DateTime<Utc> = "2026-01-01T12:00:00Z".parse().unwrap();
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        assert_eq!(relative(at("2026-01-01T11:59:30Z"), now), "now");
        assert_eq!(relative(at("2026-01-01T11:55:00Z"), now), "5 min ago");
        assert_eq!(relative(at("2026-01-01T14:30:00Z"), now), "in 2 h");
        assert_eq!(relative(at("2025-12-25T12:00:00Z"), now), "7 days ago");
    }

    #[test]
    fn only_http_urls_become_links_and_everything_is_escaped() {
        assert_eq!(
            link("https://e.org/?a=1&b=\"2\"", "x"),
            "<a href=\"https://e.org/?a=1&amp;b=&quot;2&quot;\">x</a>"
        );
        assert_eq!(link("javascript:alert(1)", "x"), "x");
        assert_eq!(link("HTTP://E.ORG/", "x"), "<a href=\"HTTP://E.ORG/\">x</a>");
        assert_eq!(text("<script>\"x\"</script>"), "&lt;script&gt;\"x\"&lt;/script&gt;");
    }
}
