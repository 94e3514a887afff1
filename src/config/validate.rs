//! Turns a [`RawConfig`] into a [`Config`], collecting every problem with its line instead of stopping at the first.

use std::collections::HashSet;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono_tz::Tz;
use regex::Regex;
use scraper::Selector;
use toml::Spanned;
use url::Url;

use super::raw::{RawArticle, RawHttp, RawListing, RawMerge, RawNotify, RawRule, RawSettings, RawSource};
use super::{
    Config, ConfigError, FeedOptions, Merge, Notify, PageTemplate, PathLines, Problem, Refresh, Schedule, Settings,
    Source, Target,
};
use crate::extract::{ArticleRules, ListRules};
use crate::fetch::guard::Policy;
use crate::fetch::{self, HostLimits};
use crate::model::SourceId;
use crate::normalize;
use crate::normalize::filter::{Field, Filters, Rule};
use crate::render::Format;
use crate::store::Location;

const DEFAULT_SUMMARY_CHARS: usize = 280;
/// The shortest `max_content` accepted: room for a few paragraphs and the closing link.
const MIN_MAX_CONTENT: u64 = 1024;
/// The shortest `every` accepted: more often than this is unkind to the site.
const MIN_EVERY: Duration = Duration::from_secs(60);
/// The deepest nesting of `(` (and `[`) a configured CSS selector may have; real ones stay under 5, and about
/// 3,000 overflow the parser's stack (which aborts the process: it cannot be caught).
const MAX_SELECTOR_NESTING: usize = 32;

/// Parses and validates config text; `path` names the file in messages and anchors relative paths.
pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    let mut v = Validator {
        text,
        file: path,
        source: None,
        problems: Vec::new(),
    };
    let read = super::raw::read(text);
    for p in read.problems.iter().cloned() {
        v.source = p.source;
        v.error(p.span, p.message);
    }
    v.source = None;
    let raw = read.config;
    let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let settings = v.settings(&raw.settings, &base_dir);

    let mut seen = HashSet::new();
    let mut sources = Vec::new();
    for raw_source in &raw.sources {
        if let Some(source) = v.source(raw_source, &settings) {
            if !seen.insert(source.id.clone()) {
                v.error(
                    raw_source.get_ref().id.span(),
                    format!("duplicate source id \"{}\"", source.id),
                );
            }
            sources.push(source);
        }
        v.source = None;
    }
    // By the ids as written, so a source that failed validation neither hides nor misnames these problems.
    for raw_source in &raw.sources {
        let r = raw_source.get_ref();
        for alt in &r.alternates {
            if !read.source_ids.iter().flatten().any(|id| id == alt.get_ref()) {
                v.source = Some(r.id.get_ref().clone());
                v.error(
                    alt.span(),
                    format!("alternate \"{}\" is not a source in this file", alt.get_ref()),
                );
            }
        }
    }
    v.source = None;
    let merges = raw
        .merges
        .iter()
        .filter_map(|m| v.merge(m, &read.source_ids, &raw.merges, &sources, &settings))
        .collect();
    let notify = raw.notify.iter().filter_map(|n| v.notify(n)).collect();
    if read.source_ids.is_empty() && read.syntax_ok {
        v.problems.push(v.problem(1, "no [[source]] is configured".into()));
    }

    // In file order, whichever stage found them.
    v.problems.sort_by_key(|p| p.line);
    if v.problems.is_empty() {
        Ok(Config {
            path: path.to_owned(),
            settings,
            sources,
            merges,
            notify,
        })
    } else {
        Err(ConfigError::Invalid { problems: v.problems })
    }
}

struct Validator<'a> {
    text: &'a str,
    file: &'a Path,
    /// The id of the source being validated, for messages.
    source: Option<String>,
    problems: Vec<Problem>,
}

impl Validator<'_> {
    fn line(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end].iter().filter(|&&b| b == b'\n').count() + 1
    }

    fn problem(&self, line: usize, message: String) -> Problem {
        Problem {
            file: self.file.to_owned(),
            line,
            source: self.source.clone(),
            message,
        }
    }

    fn error(&mut self, span: Range<usize>, message: String) {
        let problem = self.problem(self.line(span.start), message);
        self.problems.push(problem);
    }

    fn settings(&mut self, raw: &RawSettings, base_dir: &Path) -> Settings {
        let feed_base_url = match &raw.feed_base_url {
            Some(s) => self.url(s, "feed_base_url").map(with_trailing_slash),
            None => None,
        };
        let formats = match &raw.formats {
            None => None,
            Some(list) => {
                let mut formats = Vec::new();
                for name in list.get_ref() {
                    match name.parse::<Format>() {
                        Ok(f) if !formats.contains(&f) => formats.push(f),
                        Ok(_) => {}
                        Err(_) => self.error(list.span(), format!("unknown format \"{name}\" (use atom, rss, json)")),
                    }
                }
                if formats.is_empty() && list.get_ref().is_empty() {
                    self.error(list.span(), "formats is empty".into());
                }
                Some(formats)
            }
        };
        let d = Settings::default();
        let timeout = self.duration(raw.timeout.as_ref(), "timeout").unwrap_or(d.timeout);
        Settings {
            connect_timeout: self
                .duration(raw.connect_timeout.as_ref(), "connect_timeout")
                .unwrap_or(timeout.min(d.connect_timeout)),
            max_redirects: raw.max_redirects.unwrap_or(d.max_redirects),
            retries: raw.retries.unwrap_or(d.retries),
            retry_base: self
                .duration_or_zero(raw.retry_base.as_ref(), "retry_base")
                .unwrap_or(d.retry_base),
            respect_robots: raw.respect_robots.unwrap_or(d.respect_robots),
            allow_private: raw.allow_private.unwrap_or(d.allow_private),
            min_gap: self
                .duration_or_zero(raw.min_gap.as_ref(), "min_gap")
                .unwrap_or(d.min_gap),
            budget: self.duration(raw.budget.as_ref(), "budget").unwrap_or(d.budget),
            retain: self.retain(raw.retain.as_ref()).unwrap_or(d.retain),
            output_dir: base_dir.join(raw.output_dir.as_ref().map_or(d.output_dir, |s| s.get_ref().into())),
            state: match &raw.state {
                None => match d.state {
                    Location::File(path) => Location::File(base_dir.join(path)),
                    other => other,
                },
                Some(s) => Location::parse(s.get_ref(), base_dir).unwrap_or_else(|message| {
                    self.error(s.span(), format!("state: {message}"));
                    Location::File(PathBuf::new())
                }),
            },
            lines: PathLines {
                output_dir: raw.output_dir.as_ref().map_or(1, |s| self.line(s.span().start)),
                state: raw.state.as_ref().map_or(1, |s| self.line(s.span().start)),
            },
            feed_base_url: feed_base_url.unwrap_or(d.feed_base_url),
            user_agent: raw.user_agent.clone().unwrap_or(d.user_agent),
            timeout,
            max_body: raw
                .max_body
                .as_ref()
                .and_then(|s| self.size(s, "max_body"))
                .unwrap_or(d.max_body),
            max_items: self
                .positive(raw.max_items.as_ref(), "max_items")
                .unwrap_or(d.max_items),
            max_content: self.max_content(raw.max_content.as_ref()).unwrap_or(d.max_content),
            formats: formats.unwrap_or(d.formats),
            concurrency: self
                .positive(raw.concurrency.as_ref(), "concurrency")
                .unwrap_or(d.concurrency),
            lock_timeout: self
                .duration(raw.lock_timeout.as_ref(), "lock_timeout")
                .unwrap_or(d.lock_timeout),
            lease: self.duration(raw.lease.as_ref(), "lease").unwrap_or(d.lease),
            schedule: self
                .schedule(raw.every.as_ref(), raw.cron.as_ref())
                .unwrap_or(d.schedule),
            max_running: self
                .positive(raw.max_running.as_ref(), "max_running")
                .unwrap_or(d.max_running),
            backoff_max: self
                .duration(raw.backoff_max.as_ref(), "backoff_max")
                .unwrap_or(d.backoff_max),
            hub: raw.hub.as_ref().and_then(|h| self.url(h, "hub")).or(d.hub),
        }
    }

    fn source(&mut self, raw: &Spanned<RawSource>, settings: &Settings) -> Option<Source> {
        let r = raw.get_ref();
        self.source = Some(r.id.get_ref().clone());
        let id = SourceId::parse(r.id.get_ref());
        if id.is_none() {
            self.error(
                r.id.span(),
                "id must be 1-64 characters of a-z, 0-9, '-' and '_'".into(),
            );
        }

        let mut urls = Vec::new();
        match (&r.url, &r.urls, &r.feed) {
            (Some(url), None, None) => urls.extend(self.listing_url(url, "url")),
            (None, Some(list), None) => {
                for u in list.get_ref() {
                    urls.extend(self.listing_url(&Spanned::new(list.span(), u.clone()), "urls"));
                }
                if list.get_ref().is_empty() {
                    self.error(list.span(), "urls is empty".into());
                }
            }
            (None, None, Some(feed)) => urls.extend(self.listing_url(feed, "feed")),
            (None, None, None) => self.error(
                raw.span(),
                "missing url (the listing page), urls or feed (an RSS, Atom or JSON feed)".into(),
            ),
            (url, urls, feed) => {
                let second = [
                    url.as_ref().map(Spanned::span),
                    urls.as_ref().map(Spanned::span),
                    feed.as_ref().map(Spanned::span),
                ]
                .into_iter()
                .flatten()
                .nth(1)
                .unwrap_or_else(|| raw.span());
                self.error(second, "give one of url, urls or feed, not several".into());
            }
        }
        let feed = self.feed_options(r);
        let filters = self.filters(r);

        let timezone = match &r.timezone {
            None => Some(Tz::UTC),
            Some(tz) => tz.get_ref().parse::<Tz>().ok().or_else(|| {
                self.error(
                    tz.span(),
                    format!(
                        "unknown time zone \"{}\" (use an IANA name like Asia/Shanghai)",
                        tz.get_ref()
                    ),
                );
                None
            }),
        };
        let listing = self.listing(&r.listing);
        let article = self.article(&r.article);
        let every = r
            .refresh
            .every
            .as_ref()
            .and_then(|e| self.duration(Some(e), "refresh.every"));
        let max_items = self
            .positive(r.max_items.as_ref(), "max_items")
            .unwrap_or(settings.max_items);
        let max_content = self.max_content(r.max_content.as_ref()).unwrap_or(settings.max_content);
        let retain = self.retain(r.retain.as_ref()).unwrap_or(settings.retain);
        let max_pages = self
            .positive(r.listing.max_pages.as_ref(), "max_pages")
            .unwrap_or(super::DEFAULT_LISTING_PAGES);
        let alternates = r
            .alternates
            .iter()
            .filter_map(|a| SourceId::parse(a.get_ref()))
            .collect();
        let schedule = self
            .schedule(r.every.as_ref(), r.cron.as_ref())
            .unwrap_or_else(|| settings.schedule.clone());

        let date_formats = self.date_formats(&r.article.date_formats);
        let pages = self.pages(r, &r.listing);
        let http = self.http(&r.http, settings, &urls);
        let budget = self
            .duration(r.http.budget.as_ref(), "http.budget")
            .unwrap_or(settings.budget);

        let (id, timezone, listing, article) = (id?, timezone?, listing?, article?);
        let (pages, http, date_formats) = (pages?, http?, date_formats?);
        let (feed, filters) = (feed?, filters?);
        let home = urls.first()?.clone();
        Some(Source {
            description: r.description.clone().unwrap_or_else(|| {
                format!(
                    "{}: news from {}, as a feed by feedwright",
                    r.title,
                    home.host_str().unwrap_or("the site")
                )
            }),
            author: r
                .author
                .clone()
                .unwrap_or_else(|| home.host_str().unwrap_or("feedwright").to_owned()),
            title: r.title.clone(),
            id,
            urls,
            language: r.language.clone(),
            timezone,
            max_items,
            retain,
            alternates,
            listing,
            max_pages,
            normalize: normalize::Rules {
                timezone,
                zone_from_page: r.timezone.is_none(),
                date_formats,
                summary_chars: DEFAULT_SUMMARY_CHARS,
                max_content,
            },
            article,
            refresh: {
                let d = Refresh::defaults(max_items);
                Refresh {
                    newest: r.refresh.newest.unwrap_or(d.newest),
                    every: every.or(d.every),
                }
            },
            schedule,
            pages,
            http,
            budget,
            feed,
            filters,
        })
    }

    /// One `[[merge]]`. `source_ids` are the ids of every `[[source]]` as written (valid or not), `merges` every
    /// `[[merge]]` (for duplicates), `sources` the sources that validated (for the defaults taken from them).
    fn merge(
        &mut self,
        raw: &Spanned<RawMerge>,
        source_ids: &[Option<String>],
        merges: &[Spanned<RawMerge>],
        sources: &[Source],
        settings: &Settings,
    ) -> Option<Merge> {
        let r = raw.get_ref();
        let name = r.id.get_ref();
        let mut ok = true;
        let mut fail = |v: &mut Self, span: Range<usize>, message: String| {
            v.error(span, format!("merge \"{name}\": {message}"));
            ok = false;
        };
        let id = SourceId::parse(name);
        if id.is_none() {
            fail(
                self,
                r.id.span(),
                "id must be 1-64 characters of a-z, 0-9, '-' and '_'".into(),
            );
        }
        if source_ids.iter().flatten().any(|s| s == name) {
            fail(
                self,
                r.id.span(),
                "a [[source]] has this id already (a merge publishes files of its own: give it another id)".into(),
            );
        }
        let first = merges.iter().position(|m| m.get_ref().id.get_ref() == name);
        if first.is_some_and(|i| !std::ptr::eq(&merges[i], raw)) {
            fail(self, r.id.span(), "duplicate merge id".into());
        }
        let list = r.sources.get_ref();
        if list.is_empty() {
            fail(
                self,
                r.sources.span(),
                "sources is empty (name the [[source]] ids to merge)".into(),
            );
        }
        let mut members = Vec::new();
        for member in list {
            let m = member.get_ref();
            let is_source = source_ids.iter().flatten().any(|s| s == m);
            if members.contains(m) {
                fail(self, member.span(), format!("\"{m}\" is named twice"));
            } else if is_source {
                members.push(m.clone());
            } else if m == name {
                fail(self, member.span(), "a merge cannot include itself".into());
            } else if merges.iter().any(|other| other.get_ref().id.get_ref() == m) {
                fail(
                    self,
                    member.span(),
                    format!("\"{m}\" is a merge: name the sources themselves (merges of merges are not supported)"),
                );
            } else {
                fail(self, member.span(), format!("\"{m}\" is not a source in this file"));
            }
        }
        let max_items = self
            .positive(r.max_items.as_ref(), "max_items")
            .unwrap_or(settings.max_items);
        // Only a valid source has an id and home page to take; an invalid one was reported already.
        let found: Vec<&Source> = members
            .iter()
            .filter_map(|m| sources.iter().find(|s| s.id.as_str() == m))
            .collect();
        if !ok || found.len() < members.len() {
            return None;
        }
        let agreed = |field: fn(&Source) -> Option<&str>| {
            let first = field(found[0]);
            found.iter().all(|s| field(s) == first).then_some(first).flatten()
        };
        let titles: Vec<&str> = found.iter().map(|s| s.title.as_str()).collect();
        Some(Merge {
            id: id?,
            title: r.title.clone(),
            description: r
                .description
                .clone()
                .unwrap_or_else(|| format!("{}: {}, in one feed by feedwright", r.title, titles.join(" and "))),
            author: agreed(|s| Some(s.author.as_str())).unwrap_or(&r.title).to_owned(),
            sources: found.iter().map(|s| s.id.clone()).collect(),
            max_items,
            language: r
                .language
                .clone()
                .or_else(|| agreed(|s| s.language.as_deref()).map(str::to_owned)),
            home_page: found[0].urls[0].clone(),
        })
    }

    /// `full_text`, and the listing keys a feed source has no use for. `None` means invalid; `Some(None)` means
    /// not a feed source.
    fn feed_options(&mut self, r: &RawSource) -> Option<Option<FeedOptions>> {
        let Some(feed) = &r.feed else {
            if let Some(full_text) = &r.full_text {
                self.error(
                    full_text.span(),
                    "full_text is for a feed source (feed = \"URL\")".into(),
                );
                return None;
            }
            return Some(None);
        };
        let l = &r.listing;
        let listing_keys = [
            l.item.as_ref().map(Spanned::span),
            l.links.as_ref().map(Spanned::span),
            l.date.as_ref().map(Spanned::span),
            l.next.as_ref().map(Spanned::span),
            l.pages.as_ref().map(Spanned::span),
            l.max_pages.as_ref().map(Spanned::span),
        ];
        if let Some(span) = listing_keys.into_iter().flatten().next() {
            self.error(
                span,
                format!(
                    "[source.listing] does not apply to a feed source (feed = \"{}\")",
                    feed.get_ref()
                ),
            );
            return None;
        }
        let d = FeedOptions::default();
        Some(Some(FeedOptions {
            full_text: r.full_text.as_ref().map_or(d.full_text, |f| *f.get_ref()),
        }))
    }

    /// `include`, `exclude`, `max_age` and `title_strip`; `None` when any is invalid.
    fn filters(&mut self, r: &RawSource) -> Option<Filters> {
        let include: Vec<Option<Rule>> = r.include.iter().map(|rule| self.rule(rule, "include")).collect();
        let exclude: Vec<Option<Rule>> = r.exclude.iter().map(|rule| self.rule(rule, "exclude")).collect();
        let max_age = match &r.max_age {
            None => Some(None),
            Some(age) => self.duration(Some(age), "max_age").map(Some),
        };
        let title_strip = match &r.title_strip {
            None => Some(None),
            Some(pattern) => self.regex(pattern, "title_strip").map(Some),
        };
        Some(Filters {
            include: include.into_iter().collect::<Option<_>>()?,
            exclude: exclude.into_iter().collect::<Option<_>>()?,
            max_age: max_age?,
            title_strip: title_strip?,
        })
    }

    fn rule(&mut self, raw: &Spanned<RawRule>, key: &str) -> Option<Rule> {
        let r = raw.get_ref();
        let field = match &r.field {
            None => Some(Field::Any),
            Some(name) => Field::parse(name.get_ref()).or_else(|| {
                self.error(
                    name.span(),
                    format!(
                        "{key}: unknown field \"{}\" (use {})",
                        name.get_ref(),
                        Field::NAMES.join(", ")
                    ),
                );
                None
            }),
        };
        let pattern = self.regex(&r.pattern, key);
        Some(Rule {
            field: field?,
            pattern: pattern?,
        })
    }

    /// The one place config compiles regular expressions.
    fn regex(&mut self, s: &Spanned<String>, key: &str) -> Option<Regex> {
        Regex::new(s.get_ref())
            .map_err(|e| {
                let why = match e {
                    regex::Error::Syntax(text) => text.lines().last().unwrap_or("").trim().to_owned(),
                    other => other.to_string(),
                };
                self.error(
                    s.span(),
                    format!(
                        "{key}: invalid regular expression \"{}\" ({why})",
                        shorten(s.get_ref(), 60)
                    ),
                );
            })
            .ok()
    }

    /// `listing.pages`: `None` means invalid; `Some(None)` means not configured.
    fn pages(&mut self, source: &RawSource, raw: &RawListing) -> Option<Option<PageTemplate>> {
        let Some(template) = &raw.pages else {
            return Some(None);
        };
        let Some(pages) = PageTemplate::parse(template.get_ref()) else {
            self.error(
                template.span(),
                format!(
                    "listing.pages: \"{}\" is not an http(s) URL template with {{page}} in it",
                    template.get_ref()
                ),
            );
            return None;
        };
        let problem = if raw.next.is_some() {
            Some("give either listing.next (a link to follow) or listing.pages (a URL template), not both")
        } else if source.urls.is_some() {
            Some("listing.pages continues a single listing url; it cannot follow urls")
        } else if raw.max_pages.is_none() {
            Some("listing.pages needs max_pages (the last page number to read)")
        } else {
            None
        };
        match problem {
            Some(message) => {
                self.error(template.span(), message.into());
                None
            }
            None => Some(Some(pages)),
        }
    }

    /// A source's own listing URL: an http(s) URL on a host feedwright may connect to at all (a source on the
    /// loopback or a private network is fine; link-local, metadata and the like never are).
    fn listing_url(&mut self, s: &Spanned<String>, key: &str) -> Option<Url> {
        let url = self.url(s, key)?;
        match Policy::ALLOW_PRIVATE.check_url(&url) {
            Ok(()) => Some(url),
            Err(reason) => {
                self.error(s.span(), format!("{key}: {reason}"));
                None
            }
        }
    }

    /// `[source.http]` over the `[settings]` defaults; `urls` (the source's own) decide which address classes its
    /// links may reach.
    fn http(&mut self, raw: &RawHttp, settings: &Settings, urls: &[Url]) -> Option<fetch::Profile> {
        let mut ok = true;
        let concurrency = self
            .positive(raw.concurrency.as_ref(), "http.concurrency")
            .unwrap_or(settings.concurrency);
        let min_gap = self
            .duration_or_zero(raw.min_gap.as_ref(), "http.min_gap")
            .unwrap_or(settings.min_gap);
        let proxy = raw.proxy.as_ref().and_then(|p| match Url::parse(p.get_ref()) {
            Ok(u) if matches!(u.scheme(), "http" | "https" | "socks5" | "socks5h") && u.host().is_some() => Some(u),
            _ => {
                self.error(
                    p.span(),
                    format!(
                        "http.proxy: \"{}\" is not a proxy URL (http://, https://, socks5:// or socks5h://)",
                        p.get_ref()
                    ),
                );
                ok = false;
                None
            }
        });
        let mut headers = reqwest::header::HeaderMap::new();
        if let Some(raw_headers) = &raw.headers {
            for (name, value) in raw_headers.get_ref() {
                let parsed = (
                    reqwest::header::HeaderName::from_bytes(name.as_bytes()),
                    reqwest::header::HeaderValue::from_str(value),
                );
                match parsed {
                    (Ok(name), Ok(value)) => {
                        headers.insert(name, value);
                    }
                    (Err(_), _) => {
                        self.error(
                            raw_headers.span(),
                            format!("http.headers: invalid header name \"{name}\""),
                        );
                        ok = false;
                    }
                    (_, Err(_)) => {
                        self.error(
                            raw_headers.span(),
                            format!("http.headers: invalid value for \"{name}\""),
                        );
                        ok = false;
                    }
                }
            }
        }
        if let Some(cookies) = &raw.cookies {
            if headers.contains_key(reqwest::header::COOKIE) {
                self.error(
                    cookies.span(),
                    "give cookies either in http.cookies or as a Cookie header, not both".into(),
                );
                ok = false;
            }
            match reqwest::header::HeaderValue::from_str(cookies.get_ref().trim()) {
                Ok(value) => {
                    headers.insert(reqwest::header::COOKIE, value);
                }
                Err(_) => {
                    self.error(cookies.span(), "http.cookies: not a valid Cookie header value".into());
                    ok = false;
                }
            }
        }
        ok.then(|| fetch::Profile {
            respect_robots: raw.respect_robots.unwrap_or(settings.respect_robots),
            limits: HostLimits { concurrency, min_gap },
            proxy,
            headers,
            addresses: Policy::for_source(urls, raw.allow_private.unwrap_or(settings.allow_private)),
        })
    }

    fn notify(&mut self, raw: &Spanned<RawNotify>) -> Option<Notify> {
        const KINDS: [&str; 3] = ["new_items", "broken", "recovered"];
        let r = raw.get_ref();
        let target = match (&r.webhook, &r.command) {
            (Some(url), None) => Target::Webhook(self.url(url, "notify.webhook")?),
            (None, Some(argv)) if !argv.get_ref().is_empty() => Target::Command(argv.get_ref().clone()),
            (None, Some(argv)) => {
                self.error(argv.span(), "notify.command: give the program and its arguments".into());
                return None;
            }
            _ => {
                self.error(raw.span(), "[[notify]] needs exactly one of webhook or command".into());
                return None;
            }
        };
        let events = match &r.events {
            None => KINDS.map(String::from).to_vec(),
            Some(list) => {
                for kind in list.get_ref().iter().filter(|k| !KINDS.contains(&k.as_str())) {
                    self.error(
                        list.span(),
                        format!("notify.events: unknown event \"{kind}\" (use {})", KINDS.join(", ")),
                    );
                }
                list.get_ref().clone()
            }
        };
        Some(Notify { target, events })
    }

    fn listing(&mut self, raw: &RawListing) -> Option<ListRules> {
        let item = self.optional_selector(raw.item.as_ref(), "listing.item");
        let links = self.optional_selector(raw.links.as_ref(), "listing.links");
        let date = self.optional_selector(raw.date.as_ref(), "listing.date");
        let next = self.optional_selector(raw.next.as_ref(), "listing.next");
        Some(ListRules {
            item: item?,
            links: links?,
            date: date?,
            next: next?,
        })
    }

    fn article(&mut self, raw: &RawArticle) -> Option<ArticleRules> {
        let title = self.optional_selector(raw.title.as_ref(), "article.title");
        let date = self.optional_selector(raw.date.as_ref(), "article.date");
        let author = self.optional_selector(raw.author.as_ref(), "article.author");
        let content = self.optional_selector(raw.content.as_ref(), "article.content");
        let next = self.optional_selector(raw.next.as_ref(), "article.next");
        let max_pages = self.positive(raw.max_pages.as_ref(), "article.max_pages");
        let image = self.optional_selector(raw.image.as_ref(), "article.image");
        let caption = self.optional_selector(raw.caption.as_ref(), "article.caption");
        let tags = self.optional_selector(raw.tags.as_ref(), "article.tags");
        let remove: Vec<Option<Selector>> = raw.remove.iter().map(|s| self.selector(s, "article.remove")).collect();
        Some(ArticleRules {
            title: title?,
            date: date?,
            author: author?,
            content: content?,
            image: image?,
            caption: caption?,
            tags: tags?,
            remove: remove.into_iter().collect::<Option<_>>()?,
            next: next?,
            max_pages: max_pages.unwrap_or(ArticleRules::DEFAULT_MAX_PAGES),
        })
    }

    /// The one place config compiles selectors. The selector parser recurses into `:is(`, `:not(`, `:where(`,
    /// `:has(` and the like, and a stack overflow cannot be caught, so nesting is bounded before it parses.
    fn selector(&mut self, s: &Spanned<String>, key: &str) -> Option<Selector> {
        let depth = nesting_depth(s.get_ref());
        if depth > MAX_SELECTOR_NESTING {
            self.error(
                s.span(),
                format!(
                    "{key}: CSS selector nests {depth} levels of parentheses (at most {MAX_SELECTOR_NESTING}): \"{}\"",
                    shorten(s.get_ref(), 60)
                ),
            );
            return None;
        }
        Selector::parse(s.get_ref())
            .map_err(|_| self.error(s.span(), format!("{key}: invalid CSS selector \"{}\"", s.get_ref())))
            .ok()
    }

    /// `None` means invalid; `Some(None)` means not configured.
    fn optional_selector(&mut self, s: Option<&Spanned<String>>, key: &str) -> Option<Option<Selector>> {
        match s {
            None => Some(None),
            Some(s) => self.selector(s, key).map(Some),
        }
    }

    /// `article.date_formats`: chrono formats, checked here so that a typo is a config error, not a date that
    /// silently never parses.
    fn date_formats(&mut self, raw: &[Spanned<String>]) -> Option<Vec<String>> {
        let mut ok = true;
        for f in raw {
            let broken = f.get_ref().is_empty()
                || chrono::format::StrftimeItems::new(f.get_ref()).any(|i| i == chrono::format::Item::Error);
            if broken {
                self.error(
                    f.span(),
                    format!(
                        "article.date_formats: \"{}\" is not a chrono format (e.g. \"%Y-%m-%d %H:%M\")",
                        shorten(f.get_ref(), 60)
                    ),
                );
                ok = false;
            }
        }
        ok.then(|| raw.iter().map(|f| f.get_ref().clone()).collect())
    }

    fn url(&mut self, s: &Spanned<String>, key: &str) -> Option<Url> {
        match Url::parse(s.get_ref()) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Some(u),
            Ok(_) => {
                self.error(s.span(), format!("{key}: \"{}\" is not an http(s) URL", s.get_ref()));
                None
            }
            Err(e) => {
                self.error(s.span(), format!("{key}: invalid URL \"{}\" ({e})", s.get_ref()));
                None
            }
        }
    }

    fn duration(&mut self, s: Option<&Spanned<String>>, key: &str) -> Option<Duration> {
        let s = s?;
        match humantime::parse_duration(s.get_ref()) {
            Ok(d) if !d.is_zero() => Some(d),
            Ok(_) => {
                self.error(s.span(), format!("{key}: must be longer than zero"));
                None
            }
            Err(e) => {
                self.error(
                    s.span(),
                    format!(
                        "{key}: invalid duration \"{}\" ({e}; e.g. \"20s\", \"30m\")",
                        s.get_ref()
                    ),
                );
                None
            }
        }
    }

    /// `retain`: a duration of at least a day, or `"forever"` (`Some(None)`).
    fn retain(&mut self, s: Option<&Spanned<String>>) -> Option<Option<Duration>> {
        let s = s?;
        if s.get_ref() == "forever" {
            return Some(None);
        }
        match humantime::parse_duration(s.get_ref()) {
            Ok(d) if d >= Duration::from_secs(24 * 60 * 60) => Some(Some(d)),
            Ok(_) => {
                self.error(s.span(), "retain: must be at least a day (or \"forever\")".into());
                None
            }
            Err(e) => {
                self.error(
                    s.span(),
                    format!(
                        "retain: invalid duration \"{}\" ({e}; e.g. \"180d\", or \"forever\")",
                        s.get_ref()
                    ),
                );
                None
            }
        }
    }

    /// Like `duration`, but `"0s"` is allowed.
    fn duration_or_zero(&mut self, s: Option<&Spanned<String>>, key: &str) -> Option<Duration> {
        let s = s?;
        match humantime::parse_duration(s.get_ref()) {
            Ok(d) => Some(d),
            Err(e) => {
                self.error(
                    s.span(),
                    format!(
                        "{key}: invalid duration \"{}\" ({e}; e.g. \"0s\", \"500ms\")",
                        s.get_ref()
                    ),
                );
                None
            }
        }
    }

    fn positive(&mut self, n: Option<&Spanned<usize>>, key: &str) -> Option<usize> {
        let n = n?;
        if *n.get_ref() == 0 {
            self.error(n.span(), format!("{key}: must be at least 1"));
            return None;
        }
        Some(*n.get_ref())
    }

    /// `max_content`: a size of at least [`MIN_MAX_CONTENT`].
    fn max_content(&mut self, s: Option<&Spanned<String>>) -> Option<usize> {
        let s = s?;
        let size = self.size(s, "max_content")?;
        if size < MIN_MAX_CONTENT {
            self.error(
                s.span(),
                format!("max_content: \"{}\" is too small (at least 1KiB)", s.get_ref()),
            );
            return None;
        }
        Some(usize::try_from(size).unwrap_or(usize::MAX))
    }

    fn size(&mut self, s: &Spanned<String>, key: &str) -> Option<u64> {
        let text = s.get_ref().trim();
        let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
        let (digits, unit) = text.split_at(split);
        let factor = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => Some(1),
            "kb" => Some(1_000),
            "kib" => Some(1 << 10),
            "mb" => Some(1_000_000),
            "mib" => Some(1 << 20),
            "gb" => Some(1_000_000_000),
            "gib" => Some(1 << 30),
            _ => None,
        };
        match (digits.parse::<u64>(), factor) {
            (Ok(n), Some(f)) if n > 0 && n.checked_mul(f).is_some() => Some(n * f),
            _ => {
                self.error(
                    s.span(),
                    format!("{key}: invalid size \"{text}\" (e.g. \"8MiB\", \"256KiB\")"),
                );
                None
            }
        }
    }
}

impl Validator<'_> {
    /// `every` or `cron` (not both); `None` when neither is given or the one given is invalid.
    fn schedule(&mut self, every: Option<&Spanned<String>>, cron: Option<&Spanned<String>>) -> Option<Schedule> {
        match (every, cron) {
            (None, None) => None,
            (Some(_), Some(c)) => {
                self.error(c.span(), "give either every or cron, not both".into());
                None
            }
            (Some(e), None) => {
                let every = self.duration(Some(e), "every")?;
                if every < MIN_EVERY {
                    self.error(
                        e.span(),
                        format!("every: \"{}\" is too often for a web site (at least 1m)", e.get_ref()),
                    );
                    return None;
                }
                Some(Schedule::Every(every))
            }
            (None, Some(c)) => {
                let text = c.get_ref().trim();
                // Classic five-field cron (minute first) gets a zero seconds field; the cron crate wants six or seven.
                let full = if text.split_whitespace().count() == 5 {
                    format!("0 {text}")
                } else {
                    text.to_owned()
                };
                match full.parse::<cron::Schedule>() {
                    Ok(schedule) => Some(Schedule::Cron(Box::new(schedule))),
                    Err(e) => {
                        self.error(
                            c.span(),
                            format!(
                                "cron: invalid expression \"{}\" ({e}; e.g. \"0 */30 * * * *\", seconds first)",
                                shorten(text, 60)
                            ),
                        );
                        None
                    }
                }
            }
        }
    }
}

/// How deeply `(` nest in `text` (counting those inside quotes too: a real selector never comes near the bound).
fn nesting_depth(text: &str) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    for c in text.chars() {
        match c {
            '(' | '[' => {
                depth += 1;
                max = max.max(depth);
            }
            ')' | ']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// `text` cut to `chars` characters, with an ellipsis when cut, for messages about huge values.
fn shorten(text: &str, chars: usize) -> String {
    match text.char_indices().nth(chars) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

fn with_trailing_slash(mut url: Url) -> Url {
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    url
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    const GOOD: &str = r##"
[settings]
feed_base_url = "https://feeds.example.org/wic"

[[source]]
id = "wic-news"
title = "WIC News"
url = "https://www.wicinternet.org/news/node_35363.htm"
timezone = "Asia/Shanghai"

[source.listing]
links = "h4 a"

[source.article]
title = "h1"
content = "#Content"
"##;

    fn problems(text: &str) -> Vec<String> {
        match parse(text, Path::new("config/test.toml")) {
            Ok(_) => Vec::new(),
            Err(ConfigError::Invalid { problems }) => problems.iter().map(ToString::to_string).collect(),
            Err(e) => vec![e.to_string()],
        }
    }

    const FEED: &str = r##"
[[source]]
id = "blog"
title = "Blog"
feed = "https://blog.example/feed.xml"
full_text = true
max_age = "30d"
title_strip = "^\\[[^]]*\\]\\s*"
exclude = [{ field = "title", pattern = "(?i)sponsored" }]
include = [{ pattern = "wuzhen" }, { field = "url", pattern = "/news/" }]
"##;

    #[test]
    fn a_feed_source_has_its_feed_as_its_url_and_its_filters_compiled() {
        let config = parse(FEED, Path::new("c.toml")).unwrap();
        let source = &config.sources[0];
        assert_eq!(source.urls[0].as_str(), "https://blog.example/feed.xml");
        assert_eq!(source.feed, Some(FeedOptions { full_text: true }));
        assert!(!source.feed_only());
        let f = &source.filters;
        assert_eq!(f.max_age, Some(Duration::from_secs(30 * 24 * 3600)));
        assert_eq!(f.exclude[0].field, Field::Title);
        assert_eq!(f.include[0].field, Field::Any, "the default field");
        assert_eq!(f.include[1].field, Field::Url);
        assert!(f.title_strip.as_ref().unwrap().is_match("[Video] x"));
        let plain = parse(&FEED.replace("full_text = true\n", ""), Path::new("c.toml")).unwrap();
        assert!(plain.sources[0].feed_only(), "full_text is off by default");
        assert!(parse(GOOD, Path::new("c.toml")).unwrap().sources[0].filters.is_empty());
    }

    #[test]
    fn feed_sources_are_checked_with_every_problem_on_its_line() {
        let bad = FEED
            .replace("feed = ", "url = \"https://blog.example/\"\nfeed = ")
            .replace("(?i)sponsored", "(unclosed")
            .replace("field = \"url\"", "field = \"body\"")
            .replace("max_age = \"30d\"", "max_age = \"a while\"");
        let found = problems(&bad);
        assert_eq!(found.len(), 4, "{found:#?}");
        assert!(
            found[0].starts_with("config/test.toml:6: source \"blog\": give one of url, urls or feed"),
            "{found:#?}"
        );
        assert!(
            found[1].starts_with("config/test.toml:8: source \"blog\": max_age: invalid duration"),
            "{found:#?}"
        );
        assert!(
            found[2]
                .starts_with("config/test.toml:10: source \"blog\": exclude: invalid regular expression \"(unclosed\""),
            "{found:#?}"
        );
        assert!(
            found[3].starts_with("config/test.toml:11: source \"blog\": include: unknown field \"body\""),
            "{found:#?}"
        );

        let listing = problems(&format!("{FEED}[source.listing]\nlinks = \"a\"\n"));
        assert_eq!(listing.len(), 1, "{listing:#?}");
        assert!(
            listing[0].contains("[source.listing] does not apply to a feed source"),
            "{listing:#?}"
        );
        let stray = problems(&GOOD.replace("timezone = ", "full_text = true\ntimezone = "));
        assert!(stray[0].contains("full_text is for a feed source"), "{stray:#?}");
    }

    #[test]
    fn good_config_is_typed_and_paths_are_relative_to_the_file() {
        let config = parse(GOOD, Path::new("config/test.toml")).unwrap();
        assert_eq!(config.settings.output_dir, PathBuf::from("config/feeds"));
        assert_eq!(config.settings.feed_base_url.as_str(), "https://feeds.example.org/wic/");
        let source = &config.sources[0];
        assert_eq!(source.timezone, chrono_tz::Asia::Shanghai);
        assert_eq!(source.max_items, 50);
        assert_eq!(source.urls[0].path(), "/news/node_35363.htm");
    }

    #[test]
    fn every_problem_is_reported_with_file_line_and_source() {
        let bad = GOOD
            .replace(r#"links = "h4 a""#, r#"links = "div..title""#)
            .replace("Asia/Shanghai", "Asia/Beijing")
            .replace(r#"url = "https://www"#, r#"url = "ftp://www"#);
        let found = problems(&bad);
        assert_eq!(found.len(), 3, "{found:#?}");
        assert!(
            found.iter().any(|p| p.starts_with(
                "config/test.toml:12: source \"wic-news\": listing.links: invalid CSS selector \"div..title\""
            )),
            "{found:#?}"
        );
        assert!(
            found
                .iter()
                .any(|p| p.starts_with("config/test.toml:9: source \"wic-news\": unknown time zone")),
            "{found:#?}"
        );
        assert!(
            found
                .iter()
                .any(|p| p.starts_with("config/test.toml:8: source \"wic-news\": url: ")),
            "{found:#?}"
        );
    }

    #[test]
    fn unknown_keys_are_rejected_with_their_line() {
        let bad = GOOD.replace("title = \"h1\"", "title = \"h1\"\ntitel = \"h2\"");
        let found = problems(&bad);
        assert_eq!(
            found,
            [
                "config/test.toml:16: source \"wic-news\": unknown key `titel` in [source.article] (expected one of: \
              title, date, date_formats, author, content, image, caption, tags, next, max_pages, remove)"
            ]
        );
    }

    /// A typo in `[source.article]` used to stop validation at the first error, so a file with five problems
    /// needed five rounds of `check`.
    #[test]
    fn config_errors_are_all_reported_at_once() {
        let second = GOOD
            .replace("[settings]\nfeed_base_url = \"https://feeds.example.org/wic\"\n", "")
            .replace("id = \"wic-news\"", "id = \"wic-zh\"\nmax_items = \"many\"");
        let bad = format!("{GOOD}{second}")
            .replace("Asia/Shanghai", "Asia/Beijing")
            .replacen(r#"links = "h4 a""#, r#"links = "div..title""#, 1)
            .replacen(
                "content = \"#Content\"",
                "contnet = \"#Content\"\ncontent = \"#Content\"",
                1,
            )
            .replace("feed_base_url", "feed_base = \"x\"\nfeed_base_url");
        let found = problems(&bad);
        let expected = [
            "config/test.toml:3: unknown key `feed_base` in [settings] (expected one of: output_dir, state, ",
            "config/test.toml:10: source \"wic-news\": unknown time zone \"Asia/Beijing\"",
            "config/test.toml:13: source \"wic-news\": listing.links: invalid CSS selector \"div..title\"",
            "config/test.toml:17: source \"wic-news\": unknown key `contnet` in [source.article] (expected one of: title,",
            "config/test.toml:23: source \"wic-zh\": max_items: invalid type: string \"many\", expected usize",
        ];
        assert_eq!(found.len(), expected.len(), "{found:#?}");
        for (found, expected) in found.iter().zip(expected) {
            assert!(found.starts_with(expected), "{found}\nexpected: {expected}");
        }
    }

    #[test]
    fn a_table_that_is_not_an_array_of_tables_is_reported() {
        let found = problems("[source]\nid = \"x\"\n");
        assert!(
            found
                .iter()
                .any(|p| p.starts_with("config/test.toml:1: source must be a list of tables: write [[source]]")),
            "{found:#?}"
        );
        assert!(
            found.iter().any(|p| p.ends_with("no [[source]] is configured")),
            "{found:#?}"
        );
    }

    #[test]
    fn every_raw_table_lists_its_keys() {
        // The key lists come from the serde derives; a table whose struct is missing from `table_keys` would let
        // its unknown keys through to `deny_unknown_fields`, which stops at the first.
        let bad = GOOD.replace(
            "[source.article]",
            "[source.refresh]\nnewst = 1\n[source.http]\nproxxy = \"x\"\n\n[source.article]",
        ) + "\n[[notify]]\nwebhok = \"https://x.example/\"\n";
        let found = problems(&bad);
        for key in ["newst", "proxxy", "webhok"] {
            assert!(
                found.iter().any(|p| p.contains(&format!("unknown key `{key}`"))),
                "{key}: {found:#?}"
            );
        }
    }

    #[test]
    fn duplicate_ids_and_bad_durations_are_reported() {
        let bad = format!(
            "{GOOD}\n{}",
            GOOD.replace("[settings]\nfeed_base_url = \"https://feeds.example.org/wic\"\n", "")
        )
        .replacen("[settings]", "[settings]\ntimeout = \"soon\"", 1);
        let found = problems(&bad);
        assert!(
            found.iter().any(|p| p.contains("duplicate source id \"wic-news\"")),
            "{found:#?}"
        );
        assert!(
            found
                .iter()
                .any(|p| p.starts_with("config/test.toml:3: timeout: invalid duration \"soon\"")),
            "{found:#?}"
        );
    }

    const MERGED: &str = r##"
[[source]]
id = "en"
title = "News"
author = "WIC"
url = "https://en.example/news/"
language = "en"

[[source]]
id = "zh"
title = "新闻"
author = "WIC"
url = "https://zh.example/news/"
language = "zh-CN"

[[merge]]
id = "all"
title = "All news"
sources = ["en", "zh"]
"##;

    #[test]
    fn a_merge_names_its_sources_and_takes_what_they_agree_on() {
        let config = parse(MERGED, Path::new("c.toml")).unwrap();
        let m = &config.merges[0];
        assert_eq!(m.id.as_str(), "all");
        assert_eq!(m.sources.iter().map(SourceId::as_str).collect::<Vec<_>>(), ["en", "zh"]);
        assert_eq!(m.max_items, Settings::default().max_items);
        assert_eq!(m.author, "WIC", "both sources name the same author");
        assert_eq!(m.language, None, "the sources differ in language");
        assert_eq!(m.home_page.as_str(), "https://en.example/news/");
        assert_eq!(m.description, "All news: News and 新闻, in one feed by feedwright");
        assert!(config.feed("all").is_some() && config.feed("en").is_some() && config.feed("x").is_none());

        let own = MERGED.replace("sources = [", "max_items = 5\nlanguage = \"mul\"\nsources = [");
        let config = parse(&own, Path::new("c.toml")).unwrap();
        assert_eq!(
            (config.merges[0].max_items, config.merges[0].language.as_deref()),
            (5, Some("mul"))
        );
    }

    #[test]
    fn a_merge_of_unknown_sources_itself_or_nothing_is_refused_with_its_line() {
        let cases = [
            (
                MERGED.replace("[\"en\", \"zh\"]", "[\"en\", \"fr\"]"),
                "config/test.toml:19: merge \"all\": \"fr\" is not a source in this file",
            ),
            (
                MERGED.replace("[\"en\", \"zh\"]", "[]"),
                "config/test.toml:19: merge \"all\": sources is empty",
            ),
            (
                MERGED.replace("[\"en\", \"zh\"]", "[\"en\", \"all\"]"),
                "config/test.toml:19: merge \"all\": a merge cannot include itself",
            ),
            (
                MERGED.replace("[\"en\", \"zh\"]", "[\"en\", \"en\"]"),
                "config/test.toml:19: merge \"all\": \"en\" is named twice",
            ),
            (
                MERGED.replace("id = \"all\"", "id = \"zh\""),
                "config/test.toml:17: merge \"zh\": a [[source]] has this id already",
            ),
            (
                format!("{MERGED}\n[[merge]]\nid = \"all\"\ntitle = \"Again\"\nsources = [\"en\"]\n"),
                "config/test.toml:22: merge \"all\": duplicate merge id",
            ),
            (
                format!("{MERGED}\n[[merge]]\nid = \"more\"\ntitle = \"More\"\nsources = [\"all\"]\n"),
                "config/test.toml:24: merge \"more\": \"all\" is a merge",
            ),
            (
                MERGED.replace("sources = [", "colour = \"red\"\nsources = ["),
                "config/test.toml:19: unknown key `colour` in [[merge]]",
            ),
        ];
        for (text, want) in cases {
            let found = problems(&text);
            assert_eq!(found.len(), 1, "{want}: {found:#?}");
            assert!(found[0].starts_with(want), "{want}: {found:#?}");
        }
    }

    #[test]
    fn an_alternate_must_name_a_source() {
        let bad = GOOD.replace(
            "timezone = \"Asia/Shanghai\"",
            "timezone = \"Asia/Shanghai\"\nalternates = [\"wic-zh\"]",
        );
        let found = problems(&bad);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(found[0].contains("alternate \"wic-zh\" is not a source"), "{found:#?}");
    }

    #[test]
    fn retain_defaults_to_half_a_year_and_sources_override_it() {
        let plain = parse(GOOD, Path::new("c.toml")).unwrap();
        assert_eq!(plain.settings.retain, Settings::default().retain);
        assert_eq!(plain.sources[0].retain, Some(Duration::from_secs(180 * 24 * 3600)));

        let text = GOOD
            .replace("[settings]", "[settings]\nretain = \"forever\"")
            .replace("id = \"wic-news\"", "id = \"wic-news\"\nretain = \"90d\"");
        let config = parse(&text, Path::new("c.toml")).unwrap();
        assert_eq!(config.settings.retain, None);
        assert_eq!(config.sources[0].retain, Some(Duration::from_secs(90 * 24 * 3600)));

        let found = problems(&GOOD.replace("id = \"wic-news\"", "id = \"wic-news\"\nretain = \"1h\""));
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(found[0].contains("retain: must be at least a day"), "{found:#?}");
        let found = problems(&GOOD.replace("[settings]", "[settings]\nretain = \"always\""));
        assert!(found[0].contains("retain: invalid duration \"always\""), "{found:#?}");
    }

    #[test]
    fn http_settings_default_from_settings_and_sources_override_them() {
        let text = GOOD
            .replace(
                "[settings]",
                "[settings]\nconcurrency = 3\nmin_gap = \"0s\"\nbudget = \"2m\"\nretry_base = \"10ms\"",
            )
            .replace(
                "[source.article]",
                r#"[source.http]
concurrency = 2
min_gap = "250ms"
respect_robots = false
proxy = "socks5h://127.0.0.1:1080"
headers = { "X-Feed" = "wic", "Accept-Language" = "zh-CN" }
cookies = "a=b; c=d"

[source.article]"#,
            );
        let config = parse(&text, Path::new("c.toml")).unwrap();
        assert_eq!(config.settings.concurrency, 3);
        assert_eq!(config.settings.budget, Duration::from_secs(120));
        assert_eq!(config.settings.fetch_options().retry_base, Duration::from_millis(10));
        let source = &config.sources[0];
        assert_eq!(source.budget, Duration::from_secs(120));
        let http = &source.http;
        assert_eq!(
            http.limits,
            HostLimits {
                concurrency: 2,
                min_gap: Duration::from_millis(250)
            }
        );
        assert!(!http.respect_robots);
        assert_eq!(http.proxy.as_ref().map(Url::as_str), Some("socks5h://127.0.0.1:1080"));
        assert_eq!(http.headers["x-feed"], "wic");
        assert_eq!(http.headers["cookie"], "a=b; c=d");

        let plain = parse(GOOD, Path::new("c.toml")).unwrap();
        let http = &plain.sources[0].http;
        assert!(http.respect_robots);
        assert_eq!(http.limits, HostLimits::default());
        assert_eq!(plain.sources[0].budget, Settings::default().budget);
    }

    #[test]
    fn allow_private_defaults_from_settings_and_the_source_url_sets_its_own_class() {
        let private = "http://10.1.2.3/x".parse::<Url>().unwrap();
        let loopback = "http://127.0.0.1:9/x".parse::<Url>().unwrap();
        let plain = parse(GOOD, Path::new("c.toml")).unwrap();
        assert_eq!(plain.sources[0].http.addresses, Policy::PUBLIC);
        assert!(plain.sources[0].http.addresses.check_url(&private).is_err());

        let everywhere = GOOD.replace("[settings]", "[settings]\nallow_private = true");
        let config = parse(&everywhere, Path::new("c.toml")).unwrap();
        assert_eq!(config.sources[0].http.addresses, Policy::ALLOW_PRIVATE);
        let opted_out = everywhere.replace(
            "[source.article]",
            "[source.http]\nallow_private = false\n\n[source.article]",
        );
        let config = parse(&opted_out, Path::new("c.toml")).unwrap();
        assert_eq!(config.sources[0].http.addresses, Policy::PUBLIC);

        let local = GOOD.replace("https://www.wicinternet.org/", "http://127.0.0.1:8080/");
        let http = &parse(&local, Path::new("c.toml")).unwrap().sources[0].http;
        assert!(http.addresses.check_url(&loopback).is_ok());
        assert!(http.addresses.check_url(&private).is_err());
    }

    #[test]
    fn a_source_url_on_a_metadata_or_link_local_host_is_reported() {
        let bad = GOOD.replace(
            "https://www.wicinternet.org/news/node_35363.htm",
            "http://0xa9fea9fe/latest/",
        );
        let found = problems(&bad);
        assert_eq!(
            found,
            [
                "config/test.toml:8: source \"wic-news\": url: 169.254.169.254 is a link-local address (cloud \
                 metadata); feedwright never connects there"
            ]
        );
    }

    #[test]
    fn bad_http_settings_are_reported() {
        let bad = GOOD.replace(
            "[source.article]",
            "[source.http]\nproxy = \"ftp://x\"\nheaders = { \"Bad Name\" = \"v\" }\nmin_gap = \"soon\"\n\n[source.article]",
        );
        let found = problems(&bad);
        assert_eq!(found.len(), 3, "{found:#?}");
        assert!(
            found.iter().any(|p| p.contains("http.proxy: \"ftp://x\"")),
            "{found:#?}"
        );
        assert!(
            found.iter().any(|p| p.contains("invalid header name \"Bad Name\"")),
            "{found:#?}"
        );
        assert!(
            found.iter().any(|p| p.contains("http.min_gap: invalid duration")),
            "{found:#?}"
        );
    }

    #[test]
    fn a_page_template_fills_in_the_page_number() {
        let text = GOOD.replace(
            "links = \"h4 a\"",
            "links = \"h4 a\"\npages = \"https://www.wicinternet.org/news/node_35363_{page}.htm\"\nmax_pages = 3",
        );
        let config = parse(&text, Path::new("c.toml")).unwrap();
        let pages = config.sources[0].pages.as_ref().unwrap();
        assert_eq!(
            pages.url(2).unwrap().as_str(),
            "https://www.wicinternet.org/news/node_35363_2.htm"
        );
        assert_eq!(config.sources[0].max_pages, 3);
    }

    #[test]
    fn a_page_template_needs_page_max_pages_and_no_next() {
        let with = |extra: &str| GOOD.replace("links = \"h4 a\"", &format!("links = \"h4 a\"\n{extra}"));
        let cases = [
            (
                "pages = \"https://x.example/news.htm\"\nmax_pages = 2",
                "with {page} in it",
            ),
            ("pages = \"https://x.example/n_{page}.htm\"", "needs max_pages"),
            (
                "pages = \"https://x.example/n_{page}.htm\"\nmax_pages = 2\nnext = \"a.next\"",
                "not both",
            ),
        ];
        for (extra, expected) in cases {
            let found = problems(&with(extra));
            assert_eq!(found.len(), 1, "{extra}: {found:#?}");
            assert!(found[0].contains(expected), "{extra}: {found:#?}");
            assert!(
                found[0].starts_with("config/test.toml:13: source \"wic-news\": "),
                "{found:#?}"
            );
        }
    }

    #[test]
    fn sizes_parse_with_units() {
        let text = GOOD.replace("[settings]", "[settings]\nmax_body = \"2MiB\"");
        let config = parse(&text, Path::new("c.toml")).unwrap();
        assert_eq!(config.settings.max_body, 2 * 1024 * 1024);
    }

    #[test]
    fn max_content_defaults_in_one_place_and_sources_override_it() {
        let plain = parse(GOOD, Path::new("c.toml")).unwrap();
        assert_eq!(plain.settings.max_content, Settings::default().max_content);
        assert_eq!(plain.sources[0].normalize.max_content, Settings::default().max_content);

        let text = GOOD.replace("[settings]", "[settings]\nmax_content = \"64KiB\"");
        let config = parse(&text, Path::new("c.toml")).unwrap();
        assert_eq!(config.sources[0].normalize.max_content, 64 * 1024);
        let text = text.replace(
            "timezone = \"Asia/Shanghai\"",
            "timezone = \"Asia/Shanghai\"\nmax_content = \"1MB\"",
        );
        let config = parse(&text, Path::new("c.toml")).unwrap();
        assert_eq!(config.settings.max_content, 64 * 1024);
        assert_eq!(config.sources[0].normalize.max_content, 1_000_000);

        let bad = GOOD
            .replace("[settings]", "[settings]\nmax_content = \"lots\"")
            .replace(
                "timezone = \"Asia/Shanghai\"",
                "timezone = \"Asia/Shanghai\"\nmax_content = \"100\"",
            );
        let found = problems(&bad);
        assert_eq!(found.len(), 2, "{found:#?}");
        assert!(
            found[0].starts_with("config/test.toml:3: max_content: invalid size \"lots\""),
            "{found:#?}"
        );
        assert!(
            found[1].starts_with("config/test.toml:11: source \"wic-news\": max_content: \"100\" is too small"),
            "{found:#?}"
        );
    }

    #[test]
    fn schedules_default_from_settings_and_sources_can_override_them() {
        let text = GOOD
            .replace(
                "[settings]",
                "[settings]\nevery = \"2h\"\nhub = \"https://hub.example.org/\"",
            )
            .replace(
                "timezone = \"Asia/Shanghai\"",
                "timezone = \"Asia/Shanghai\"\ncron = \"*/15 * * * *\"",
            );
        let config = parse(&text, Path::new("c.toml")).unwrap();
        assert_eq!(config.settings.schedule, Schedule::Every(Duration::from_secs(7200)));
        assert_eq!(
            config.settings.hub.as_ref().map(Url::as_str),
            Some("https://hub.example.org/")
        );
        let Schedule::Cron(cron) = &config.sources[0].schedule else {
            panic!("expected a cron schedule, got {:?}", config.sources[0].schedule);
        };
        assert_eq!(
            cron.to_string(),
            "0 */15 * * * *",
            "five fields get a zero seconds field"
        );

        let config = parse(GOOD, Path::new("c.toml")).unwrap();
        assert_eq!(config.sources[0].schedule, Settings::default().schedule);
        assert_eq!(config.settings.max_running, Settings::default().max_running);
        assert_eq!(config.settings.hub, None);
    }

    #[test]
    fn bad_schedules_are_reported_with_their_line() {
        let text = GOOD
            .replace(
                "[settings]",
                "[settings]\nevery = \"10s\"\nhub = \"mailto:x@example.org\"",
            )
            .replace(
                "timezone = \"Asia/Shanghai\"",
                "timezone = \"Asia/Shanghai\"\ncron = \"every day\"\nevery = \"1h\"",
            );
        let found = problems(&text);
        assert_eq!(found.len(), 3, "{found:#?}");
        assert!(
            found[0].starts_with("config/test.toml:3: every: \"10s\" is too often"),
            "{found:#?}"
        );
        assert!(found[1].starts_with("config/test.toml:4: hub: "), "{found:#?}");
        assert!(
            found[2].starts_with("config/test.toml:12: source \"wic-news\": give either every or cron"),
            "{found:#?}"
        );
        let text = GOOD.replace("[settings]", "[settings]\ncron = \"61 * * * * *\"");
        let found = problems(&text);
        assert!(
            found[0].starts_with("config/test.toml:3: cron: invalid expression"),
            "{found:#?}"
        );
    }
    fn nested(depth: usize) -> String {
        let open: String = (0..depth).map(|i| [":is(", ":not(", ":where("][i % 3]).collect();
        format!("h4 a{open}b{}", ")".repeat(depth))
    }

    #[test]
    fn a_deeply_nested_selector_is_a_problem_not_a_stack_overflow() {
        let bad = GOOD.replace(r#"links = "h4 a""#, &format!("links = \"{}\"", nested(3000)));
        let found = problems(&bad);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(
            found[0].starts_with(
                "config/test.toml:12: source \"wic-news\": listing.links: CSS selector nests 3000 levels of parentheses (at most 32)"
            ),
            "{found:#?}"
        );
        assert!(found[0].len() < 300, "the selector is shortened: {found:#?}");
    }

    #[test]
    fn a_selector_nested_to_the_limit_still_parses_on_a_small_stack() {
        // Config is also parsed on tokio worker threads (watch reloads), whose stacks are 2 MiB; keep a margin.
        let good = GOOD.replace(
            r#"links = "h4 a""#,
            &format!("links = \"{}\"", nested(MAX_SELECTOR_NESTING)),
        );
        let parsed = std::thread::Builder::new()
            .stack_size(512 << 10)
            .spawn(move || parse(&good, Path::new("c.toml")).map(|_| ()).map_err(|e| e.to_string()))
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(parsed, Ok(()));
    }
    #[test]
    fn a_date_format_that_is_not_a_chrono_format_is_reported() {
        let bad = GOOD.replace(
            "content = \"#Content\"",
            "content = \"#Content\"\ndate_formats = [\"%Y-%m-%d\", \"%Y-%Q\"]",
        );
        let found = problems(&bad);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(
            found[0].starts_with("config/test.toml:17: source \"wic-news\": article.date_formats: \"%Y-%Q\""),
            "{found:#?}"
        );
    }
    #[test]
    fn a_syntax_error_is_reported_alone_with_its_line() {
        let bad = GOOD.replace("title = \"h1\"", "title = \"h1\"\ntitle = \"h2\"");
        let found = problems(&bad);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(found[0].starts_with("config/test.toml:16: "), "{found:#?}");
    }
}
