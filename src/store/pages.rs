//! Saved pages and rule fingerprints: what lets a config edit take effect without asking the site again.
//!
//! The store keeps, per source, the last fetched text of each listing page and of each article still in the feed
//! window, brotli-compressed, and the fingerprint of the extraction rules the last committed run used. When the
//! rules change, the pipeline re-extracts the window from these pages; `snapshot` copies them out for `test`.
//! Pages are written and pruned in the run's own transaction (articles that left the newest `max_items`, listing
//! pages no longer configured), so the saved set always matches the committed items. What is kept is the text
//! as decoded at fetch time (UTF-8, whatever the site's charset), with the URL it was served from: exactly what
//! extraction reads. Compression happens when a page is made, outside the store lock.

use std::io::{Read, Write};

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};
use url::Url;

use super::{Known, Store, StoreError};
use crate::model::{ItemId, ListedLink, SourceId};

/// brotli quality 6 with a 4 MiB window: HTML shrinks about 5-10x at a few ms per article page; quality 11 gains
/// a little more for ten times the CPU.
const QUALITY: u32 = 6;
const WINDOW: u32 = 22;

/// A fetched page as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedPage {
    /// The URL asked for: a configured listing page (or one reached from it), or the article link as listed.
    pub url: Url,
    /// Where the page was served from, after redirects: the base for its relative links.
    pub final_url: Url,
    /// The charset it was decoded from (for people; the text is already UTF-8).
    pub encoding: String,
    pub fetched: DateTime<Utc>,
    pub kind: PageKind,
    compressed: Vec<u8>,
    size: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageKind {
    /// A listing page: the configured listing URL it continues, and its number there (1 for that URL itself).
    Listing { start: Url, number: usize },
    /// An article page: the link that led to it, and the item it became (known once it is parsed).
    Article { listed: ListedLink, item: Option<ItemId> },
}

/// A page as it was served: where from, its decoded text, and the charset it was decoded from.
#[derive(Debug, Clone, Copy)]
pub struct Served<'a> {
    pub final_url: &'a Url,
    pub text: &'a str,
    pub encoding: &'a str,
}

/// What the pruning of a commit keeps: the articles of the newest `max_items` items, and listing pages that
/// continue one of `listing` up to `max_pages`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keep {
    pub max_items: usize,
    pub listing: Vec<Url>,
    pub max_pages: usize,
}

/// An item of the feed window, with what is needed to read it again.
#[derive(Debug, Clone)]
pub struct Windowed {
    pub known: Known,
    /// A listing link that led to it (to fetch it again when no page is saved).
    pub link: Option<Url>,
    /// Its last fetched page, when one is saved.
    pub page: Option<SavedPage>,
}

impl SavedPage {
    /// Listing page `number` of the configured listing URL `start`, fetched from `url` at `fetched`.
    pub fn listing(url: &Url, (start, number): (&Url, usize), served: Served<'_>, fetched: DateTime<Utc>) -> Self {
        let kind = PageKind::Listing {
            start: start.clone(),
            number,
        };
        Self::new(url, kind, served, fetched)
    }

    /// The article page `listed` led to, fetched at `fetched`.
    pub fn article(listed: &ListedLink, served: Served<'_>, fetched: DateTime<Utc>) -> Self {
        let kind = PageKind::Article {
            listed: listed.clone(),
            item: None,
        };
        Self::new(&listed.url, kind, served, fetched)
    }

    fn new(url: &Url, kind: PageKind, served: Served<'_>, fetched: DateTime<Utc>) -> Self {
        let Served {
            final_url,
            text,
            encoding,
        } = served;
        let mut compressed = Vec::with_capacity(text.len() / 6);
        {
            let mut w = brotli::CompressorWriter::new(&mut compressed, 4096, QUALITY, WINDOW);
            w.write_all(text.as_bytes()).expect("writing to a Vec cannot fail");
        }
        Self {
            url: url.clone(),
            final_url: final_url.clone(),
            encoding: encoding.to_owned(),
            fetched,
            kind,
            compressed,
            size: text.len(),
        }
    }

    /// The decoded page text, or why it cannot be had back.
    pub fn text(&self) -> Result<String, std::io::Error> {
        let mut text = String::with_capacity(self.size);
        brotli::Decompressor::new(self.compressed.as_slice(), 4096).read_to_string(&mut text)?;
        Ok(text)
    }

    /// Bytes on disk (compressed) and bytes of text.
    pub fn sizes(&self) -> (usize, usize) {
        (self.compressed.len(), self.size)
    }

    /// Records which item an article page became.
    pub fn set_item(&mut self, id: &ItemId) {
        if let PageKind::Article { item, .. } = &mut self.kind {
            *item = Some(id.clone());
        }
    }
}

impl Store {
    /// The rule fingerprint stored by the last committed run of `source` (`None` before its first).
    pub fn rules(&self, source: &SourceId) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row(
                "SELECT fingerprint FROM rules WHERE source = ?1",
                [source.as_str()],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.sql(e))
    }

    /// The newest `max_items` items of `source` (the feed window, newest first), each with its last saved page.
    pub fn window(&self, source: &SourceId, max_items: usize) -> Result<Vec<Windowed>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT i.id, i.first_seen, i.last_checked,
                    (SELECT min(l.url) FROM links l WHERE l.source = i.source AND l.item_id = i.id)
                 FROM items i WHERE i.source = ?1 ORDER BY i.published_ts DESC, i.id LIMIT ?2",
            )
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map(params![source.as_str(), max_items as i64], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?,
                ))
            })
            .map_err(|e| self.sql(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, first_seen, last_checked, link) = row.map_err(|e| self.sql(e))?;
            let item_id = ItemId::from_stored(id);
            out.push(Windowed {
                page: self.article_page(source, &item_id)?,
                known: Known {
                    item_id,
                    first_seen: self.time(&first_seen)?.to_utc(),
                    last_checked: self.time(&last_checked)?.to_utc(),
                },
                link: link.map(|l| self.url(&l)).transpose()?,
            });
        }
        Ok(out)
    }

    /// The saved listing pages of `source`, in configured order.
    pub fn listing_pages(&self, source: &SourceId) -> Result<Vec<SavedPage>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM pages WHERE source = ?1 AND kind = 'listing' ORDER BY start, number, url"
            ))
            .map_err(|e| self.sql(e))?;
        let rows = stmt.query_map([source.as_str()], Row::read).map_err(|e| self.sql(e))?;
        let mut out = Vec::new();
        for row in rows {
            out.push(row.map_err(|e| self.sql(e))?.page(self)?);
        }
        Ok(out)
    }

    /// Disk used by the saved pages of `source`: (pages, compressed bytes, text bytes).
    pub fn saved_size(&self, source: &SourceId) -> Result<(usize, usize, usize), StoreError> {
        self.conn
            .query_row(
                "SELECT count(*), coalesce(sum(length(body)), 0), coalesce(sum(size), 0) FROM pages WHERE source = ?1",
                [source.as_str()],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)? as usize,
                        r.get::<_, i64>(1)? as usize,
                        r.get::<_, i64>(2)? as usize,
                    ))
                },
            )
            .map_err(|e| self.sql(e))
    }

    fn article_page(&self, source: &SourceId, item: &ItemId) -> Result<Option<SavedPage>, StoreError> {
        let row = self
            .conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM pages WHERE source = ?1 AND kind = 'article' AND item_id = ?2
                 ORDER BY fetched DESC, url LIMIT 1"
            ))
            .and_then(|mut stmt| stmt.query_row([source.as_str(), item.as_str()], Row::read).optional())
            .map_err(|e| self.sql(e))?;
        row.map(|r| r.page(self)).transpose()
    }

    fn url(&self, text: &str) -> Result<Url, StoreError> {
        Url::parse(text).map_err(|e| self.corrupt(format!("saved page url {text}: {e}")))
    }
}

const COLUMNS: &str =
    "url, kind, start, number, item_id, link_title, link_date, final_url, encoding, fetched, body, size";

/// One `pages` row as read, before its text columns are checked.
struct Row {
    url: String,
    kind: String,
    start: Option<String>,
    number: Option<i64>,
    item: Option<String>,
    link_title: Option<String>,
    link_date: Option<String>,
    final_url: String,
    encoding: String,
    fetched: String,
    body: Vec<u8>,
    size: i64,
}

impl Row {
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
        Ok(Row {
            url: r.get(0)?,
            kind: r.get(1)?,
            start: r.get(2)?,
            number: r.get(3)?,
            item: r.get(4)?,
            link_title: r.get(5)?,
            link_date: r.get(6)?,
            final_url: r.get(7)?,
            encoding: r.get(8)?,
            fetched: r.get(9)?,
            body: r.get(10)?,
            size: r.get(11)?,
        })
    }

    fn page(self, store: &Store) -> Result<SavedPage, StoreError> {
        let url = store.url(&self.url)?;
        let kind = match (self.kind.as_str(), self.start, self.number) {
            ("listing", Some(start), Some(number)) => PageKind::Listing {
                start: store.url(&start)?,
                number: number as usize,
            },
            ("article", _, _) => PageKind::Article {
                listed: ListedLink {
                    url: url.clone(),
                    title: self.link_title,
                    date_text: self.link_date,
                },
                item: self.item.map(ItemId::from_stored),
            },
            (kind, _, _) => return Err(store.corrupt(format!("saved page {} of kind {kind:?}", self.url))),
        };
        Ok(SavedPage {
            final_url: store.url(&self.final_url)?,
            url,
            encoding: self.encoding,
            fetched: store.time(&self.fetched)?.to_utc(),
            kind,
            compressed: self.body,
            size: self.size as usize,
        })
    }
}

/// Writes a run's pages and fingerprint, then prunes what fell out of `keep`. Called inside the run's commit, after
/// its items are written (the window is the one the feed is rendered from).
pub(super) fn commit(
    tx: &rusqlite::Transaction<'_>,
    source: &str,
    pages: &[SavedPage],
    rules: Option<&str>,
    keep: Option<&Keep>,
    now: DateTime<Utc>,
) -> rusqlite::Result<()> {
    for page in pages {
        let (kind, start, number, item, link_title, link_date) = match &page.kind {
            PageKind::Listing { start, number } => {
                ("listing", Some(start.as_str()), Some(*number as i64), None, None, None)
            }
            PageKind::Article { listed, item } => (
                "article",
                None,
                None,
                item.as_ref().map(ItemId::as_str),
                listed.title.as_deref(),
                listed.date_text.as_deref(),
            ),
        };
        tx.execute(
            "INSERT INTO pages (source, url, kind, start, number, item_id, link_title, link_date, final_url, encoding,
                fetched, body, size)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
             ON CONFLICT (source, url) DO UPDATE SET kind = excluded.kind, start = excluded.start,
                number = excluded.number, item_id = excluded.item_id, link_title = excluded.link_title,
                link_date = excluded.link_date, final_url = excluded.final_url, encoding = excluded.encoding,
                fetched = excluded.fetched, body = excluded.body, size = excluded.size",
            params![
                source,
                page.url.as_str(),
                kind,
                start,
                number,
                item,
                link_title,
                link_date,
                page.final_url.as_str(),
                page.encoding,
                page.fetched.to_rfc3339(),
                page.compressed,
                page.size as i64,
            ],
        )?;
    }
    if let Some(rules) = rules {
        tx.execute(
            "INSERT INTO rules (source, fingerprint, since) VALUES (?1, ?2, ?3)
             ON CONFLICT (source) DO UPDATE SET fingerprint = excluded.fingerprint,
                since = CASE WHEN rules.fingerprint = excluded.fingerprint THEN rules.since ELSE excluded.since END",
            params![source, rules, now.to_rfc3339()],
        )?;
    }
    if let Some(keep) = keep {
        tx.execute(
            "DELETE FROM pages WHERE source = ?1 AND kind = 'article' AND (item_id IS NULL OR item_id NOT IN
                (SELECT id FROM items WHERE source = ?1 ORDER BY published_ts DESC, id LIMIT ?2))",
            params![source, keep.max_items as i64],
        )?;
        let listing = serde_json::to_string(&keep.listing.iter().map(Url::as_str).collect::<Vec<_>>())
            .expect("strings serialize");
        tx.execute(
            "DELETE FROM pages WHERE source = ?1 AND kind = 'listing'
                AND (number > ?2 OR start NOT IN (SELECT value FROM json_each(?3)))",
            params![source, keep.max_pages as i64, listing],
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::model::{DateSource, Item};
    use crate::store::{Changes, Outcome, RunRecord};

    fn item(n: u32) -> Item {
        let url = url(&format!("https://e.org/{n}.htm"));
        let published = chrono::FixedOffset::east_opt(8 * 3600)
            .unwrap()
            .with_ymd_and_hms(2015, 12, n, 10, 0, 0)
            .unwrap();
        Item {
            id: ItemId::from_canonical(&url),
            url,
            title: format!("Story {n}"),
            published,
            date_source: DateSource::Page,
            updated: published,
            author: None,
            summary: String::new(),
            content_html: format!("<p>Story {n}</p>"),
            image: None,
            image_caption: None,
        }
    }

    fn article(n: u32, at: DateTime<Utc>) -> SavedPage {
        let link = ListedLink {
            url: url(&format!("https://e.org/{n}.htm")),
            title: Some(format!("Story {n}")),
            date_text: None,
        };
        let text = format!("<h1>Story {n}</h1>");
        let served = Served {
            final_url: &link.url,
            text: &text,
            encoding: "UTF-8",
        };
        let mut page = SavedPage::article(&link, served, at);
        page.set_item(&item(n).id);
        page
    }

    fn listing(at: &str, start: &str, number: usize, now: DateTime<Utc>) -> SavedPage {
        let served = Served {
            final_url: &url(at),
            text: "<ul></ul>",
            encoding: "UTF-8",
        };
        SavedPage::listing(&url(at), (&url(start), number), served, now)
    }

    fn commit(store: &mut Store, changes: Changes, now: DateTime<Utc>) {
        let mut run = RunRecord {
            source: SourceId::parse("s").unwrap(),
            started: now,
            duration: std::time::Duration::ZERO,
            outcome: Outcome::Ok,
            reason: None,
            links: 0,
            new: 0,
            updated: 0,
            failed: 0,
            fetched: 0,
            with_date: 0,
            with_body: 0,
            requests: 0,
            listing: vec![],
            errors: vec![],
        };
        store.commit(&changes, &mut run, now).unwrap();
    }

    #[test]
    fn pages_follow_the_feed_window_and_the_configured_listing() {
        let mut store = Store::in_memory().unwrap();
        let source = SourceId::parse("s").unwrap();
        let now: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
        let keep = Keep {
            max_items: 2,
            listing: vec![url("https://e.org/news/")],
            max_pages: 2,
        };
        assert_eq!(store.rules(&source).unwrap(), None);
        commit(
            &mut store,
            Changes {
                items: vec![item(3), item(2), item(1)],
                links: (1..=3).map(|n| (item(n).url, item(n).id)).collect(),
                pages: vec![
                    article(3, now),
                    article(2, now),
                    article(1, now),
                    listing("https://e.org/news/", "https://e.org/news/", 1, now),
                    listing("https://e.org/news/2", "https://e.org/news/", 2, now),
                    listing("https://e.org/news/3", "https://e.org/news/", 3, now),
                    listing("https://e.org/old/", "https://e.org/old/", 1, now),
                ],
                rules: Some("r1".into()),
                keep: Some(keep.clone()),
                ..Changes::default()
            },
            now,
        );
        assert_eq!(store.rules(&source).unwrap().as_deref(), Some("r1"));
        let window = store.window(&source, 2).unwrap();
        let ids: Vec<&str> = window.iter().map(|w| w.known.item_id.as_str()).collect();
        assert_eq!(ids, ["https://e.org/3.htm", "https://e.org/2.htm"]);
        assert_eq!(window[0].page.as_ref().unwrap().text().unwrap(), "<h1>Story 3</h1>");
        assert_eq!(window[0].page, Some(article(3, now)), "read back as written");
        assert_eq!(window[0].link.as_ref().map(Url::as_str), Some("https://e.org/3.htm"));
        assert_eq!(
            store.window(&source, 3).unwrap()[2].page,
            None,
            "item 1 is outside the window: pruned"
        );
        let listed: Vec<String> = store
            .listing_pages(&source)
            .unwrap()
            .iter()
            .map(|p| p.url.to_string())
            .collect();
        assert_eq!(
            listed,
            ["https://e.org/news/", "https://e.org/news/2"],
            "page 3 is past max_pages, /old/ is no longer configured"
        );

        // A newer item pushes item 2 out of the window; its page goes in the same commit.
        commit(
            &mut store,
            Changes {
                items: vec![item(4)],
                links: vec![(item(4).url, item(4).id)],
                pages: vec![article(4, now)],
                rules: Some("r2".into()),
                keep: Some(keep),
                ..Changes::default()
            },
            now,
        );
        assert_eq!(store.rules(&source).unwrap().as_deref(), Some("r2"));
        let (pages, disk, text) = store.saved_size(&source).unwrap();
        assert_eq!(pages, 2 + 2);
        assert!(disk > 0 && text > 0);
        assert!(store.window(&source, 3).unwrap()[2].page.is_none());
    }

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn text_comes_back_as_it_went_in_and_smaller() {
        let text = "<html><body>".to_owned() + &"<p>新闻 news, again and again.</p>\n".repeat(300) + "</body></html>";
        let link = ListedLink {
            url: url("https://e.org/a.htm"),
            title: Some("A".into()),
            date_text: None,
        };
        let served = Served {
            final_url: &url("https://e.org/a.htm"),
            text: &text,
            encoding: "GBK",
        };
        let page = SavedPage::article(&link, served, "2026-01-01T00:00:00Z".parse().unwrap());
        assert_eq!(page.text().unwrap(), text);
        let (disk, size) = page.sizes();
        assert_eq!(size, text.len());
        assert!(disk * 10 < size, "{disk} of {size}");
    }
}
