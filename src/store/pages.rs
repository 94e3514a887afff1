//! Saved pages and rule fingerprints: what lets a config edit take effect without asking the site again.
//!
//! The store keeps, per source, the last fetched text of each listing page and of each article still in the feed
//! window, brotli-compressed, and the fingerprint of the extraction rules the last committed run used. When the
//! rules change, the pipeline re-extracts the window from these pages; `snapshot` copies them out for `test`.
//! Pages are written and pruned in the run's own transaction (articles that left the newest `max_items`, listing
//! pages no longer configured), so the saved set always matches the committed items. What is kept is the text
//! as decoded at fetch time (UTF-8, whatever the site's charset), with the URL it was served from: exactly what
//! extraction reads. Compression happens when a page is made, outside the store lock. The SQL is in
//! `sqlite/pages.rs`; these are the types every backend shares.

use std::io::{Read, Write};

use chrono::{DateTime, Utc};
use url::Url;

use super::Known;
use crate::model::{ItemId, ListedLink};

/// brotli quality 1: HTML still shrinks about 2.5-7x, and a saved page is a cache bounded by the feed windows,
/// while compressing is on every fetched page's path. Quality 4 made pages 10-20 % smaller for 3-4.5 times the
/// CPU (a 13 KB article 0.45 → 0.15 ms, the demo's 2 MB page 25 → 5.6 ms; `docs/benchmarks.md`), and was still a
/// seventh of a cold run's CPU.
const QUALITY: u32 = 1;

/// The brotli window (log2 of its size) for a page of `len` bytes: the smallest that holds the whole page, from 17
/// (below it, quality 6 took a path 30x slower on small pages) to 22 (4 MiB, the largest that decoders must
/// accept by default). A window larger than the page compresses no better and costs the encoder larger tables:
/// the demo's 2 MB page took 43 ms with a fixed 4 MiB window, 30 ms with its own.
fn window(len: usize) -> u32 {
    // A window of 2^w bytes holds 2^w - 16 of them.
    (17..22).find(|&w| len <= (1usize << w) - 16).unwrap_or(22)
}

/// The encoder's memory, kept for the next page: a compressor allocates its hash table and buffers (about 1 MiB at
/// quality 4) for every page, and fresh memory of that size costs page faults, zeroing and, when it is given back,
/// a TLB flush on every core (keeping it took about 7 % off a cold run's CPU, `docs/benchmarks.md`). Buffers of
/// [`REUSED_FROM`] bytes or more are kept here (at most [`REUSED_AT_MOST`] bytes, over all threads) and handed out
/// again, reset to their default values, for the same type and length.
#[derive(Default, Clone, Copy)]
struct Reusing;

const REUSED_FROM: usize = 64 * 1024;
const REUSED_AT_MOST: usize = 16 * 1024 * 1024;

/// Buffers given back, with their sizes in bytes.
static POOL: std::sync::Mutex<Vec<(Box<dyn std::any::Any + Send>, usize)>> = std::sync::Mutex::new(Vec::new());

/// What the standard allocator hands out: a boxed slice.
type Cells<T> = <brotli::enc::StandardAlloc as brotli::Allocator<T>>::AllocatedMemory;

impl<T: Clone + Default + Send + 'static> brotli::Allocator<T> for Reusing {
    type AllocatedMemory = Cells<T>;
    fn alloc_cell(&mut self, len: usize) -> Self::AllocatedMemory {
        if len * size_of::<T>() >= REUSED_FROM {
            let mut pool = POOL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(at) = pool
                .iter()
                .position(|(b, _)| b.downcast_ref::<Box<[T]>>().is_some_and(|b| b.len() == len))
            {
                let (any, _) = pool.swap_remove(at);
                drop(pool);
                let mut cells = *any.downcast::<Box<[T]>>().expect("checked above");
                cells.fill(T::default());
                return Vec::from(cells).into();
            }
        }
        vec![T::default(); len].into()
    }
    fn free_cell(&mut self, data: Self::AllocatedMemory) {
        let cells: Box<[T]> = data.into();
        let bytes = cells.len() * size_of::<T>();
        if bytes < REUSED_FROM {
            return;
        }
        let mut pool = POOL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if pool.iter().map(|(_, n)| n).sum::<usize>() + bytes <= REUSED_AT_MOST {
            pool.push((Box::new(cells), bytes));
        }
    }
}

impl brotli::enc::BrotliAlloc for Reusing {}

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
    /// The text, brotli-compressed: what a backend stores.
    pub(super) compressed: Vec<u8>,
    /// Bytes of text.
    pub(super) size: usize,
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

/// What the pruning of a commit keeps: the articles of the newest `max_items` items, listing pages that continue
/// one of `listing` up to `max_pages`, and (when `retain` is set) the items seen or dated within `retain`; the
/// newest `max_items` items are kept whatever their age.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keep {
    pub max_items: usize,
    pub listing: Vec<Url>,
    pub max_pages: usize,
    pub retain: Option<std::time::Duration>,
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
            let buffer: Cells<u8> = vec![0u8; 4096].into();
            let mut w = brotli::enc::writer::CompressorWriterCustomAlloc::new(
                &mut compressed,
                buffer,
                Reusing,
                QUALITY,
                window(text.len()),
            );
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

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::model::SourceId;
    use crate::model::{DateSource, Item};
    use crate::store::{Changes, RunRecord, Store};

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
            image_length: None,
            image_type: None,
            categories: Vec::new(),
        }
    }

    fn article(n: u32, at: DateTime<Utc>) -> SavedPage {
        let link = ListedLink {
            url: url(&format!("https://e.org/{n}.htm")),
            title: Some(format!("Story {n}")),
            date_text: None,
            feed: None,
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
        let mut run = RunRecord::new(SourceId::parse("s").unwrap(), now);
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
            retain: None,
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
            feed: None,
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

    #[test]
    fn the_window_holds_the_page_and_every_size_comes_back() {
        assert_eq!(window(0), 17);
        assert_eq!(window((1 << 17) - 16), 17);
        assert_eq!(window((1 << 17) - 15), 18);
        assert_eq!(window(2_060_788), 21);
        assert_eq!(window(50 << 20), 22);
        let link = ListedLink {
            url: url("https://e.org/a.htm"),
            title: None,
            date_text: None,
            feed: None,
        };
        // Pages on both sides of each window's edge, with text that repeats from afar (a long-distance match).
        for len in [
            0usize,
            1,
            (1 << 17) - 16,
            (1 << 17) + 1,
            (1 << 21) - 16,
            (1 << 21) + 100,
            5 << 20,
        ] {
            let text: String = (0..len).map(|i| char::from(b'a' + ((i * 7919) % 26) as u8)).collect();
            let served = Served {
                final_url: &link.url,
                text: &text,
                encoding: "UTF-8",
            };
            let page = SavedPage::article(&link, served, DateTime::UNIX_EPOCH);
            assert_eq!(page.text().unwrap(), text, "{len} bytes");
        }
    }

    #[test]
    fn a_reused_encoder_memory_compresses_as_fresh_memory_does() {
        let link = ListedLink {
            url: url("https://e.org/a.htm"),
            title: None,
            date_text: None,
            feed: None,
        };
        let compress = |text: &str| {
            let served = Served {
                final_url: &link.url,
                text,
                encoding: "UTF-8",
            };
            SavedPage::article(&link, served, DateTime::UNIX_EPOCH)
        };
        let page = |seed: usize| -> String {
            (0..60_000)
                .map(|i| char::from(b'a' + ((i * seed) % 26) as u8))
                .collect()
        };
        let (a, b) = (page(7919), page(104_729));
        let b_first = compress(&b).compressed;
        // The same sizes again, so `a` and then `b` get the buffers the first `b` left, still holding its tables.
        let a_after = compress(&a);
        let b_after = compress(&b);
        assert_eq!(a_after.text().unwrap(), a);
        assert_eq!(b_after.compressed, b_first, "the same bytes as with fresh memory");
        assert!(
            POOL.lock().unwrap().iter().any(|(_, bytes)| *bytes >= REUSED_FROM),
            "buffers were kept"
        );
    }
}
