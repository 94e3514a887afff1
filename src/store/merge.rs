//! The rules of a commit, without a database: which fetched items are new, edited or unchanged, which stored
//! values an item keeps, which free second an item's `updated` moves to, and which events the run queues.
//!
//! Inputs: the run's items (newest first, as listed), what the store holds about those same items ([`Stored`]),
//! the `updated` times already taken in the source ([`Taken`], asked for only when something is new or edited),
//! and the commit's clock. Output: the rows to write ([`Merge`]). Every backend writes what this decides, so
//! SQLite and PostgreSQL cannot drift apart; nothing here does I/O or reads a clock.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, FixedOffset, Utc};
use sha2::{Digest, Sha256};
use url::Url;

use crate::model::{DateSource, Event, EventItem, Item, ItemId, SourceId};

/// What the store holds about an item, as far as a commit's rules need it (never its body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// [`content_hash`] of the stored version.
    pub hash: String,
    pub published: DateTime<FixedOffset>,
    pub date_source: DateSource,
    pub updated: DateTime<FixedOffset>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Not stored yet: inserted, with a `NewItems` event.
    New,
    /// Stored with other content: updated in place (same id), `updated` moves to when the edit was noticed.
    Edited,
    /// Stored with the same content: rewritten as fetched, keeping its `updated`.
    Unchanged,
}

/// One item as it is to be written.
#[derive(Debug, Clone, PartialEq)]
pub struct Row<'a> {
    pub item: &'a Item,
    pub verdict: Verdict,
    pub hash: String,
    /// The publish date to store: the item's, except that an item dated by when it was first seen keeps that date.
    pub published: DateTime<FixedOffset>,
    /// Distinct from every other item's of the source.
    pub updated: DateTime<FixedOffset>,
}

/// What a commit writes for the run's items.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Merge<'a> {
    /// In write order: oldest listed first.
    pub rows: Vec<Row<'a>>,
    pub new: usize,
    pub updated: usize,
    /// The new items, newest first, for the `NewItems` event.
    pub inserted: Vec<EventItem>,
}

/// Decides what a commit writes for `items` (newest first, as the run listed them), given what is `stored` about
/// them. `taken` is called at most once, and only when an item needs a new `updated` time (a new or edited item).
///
/// Items are merged oldest first, so that when same-second items are nudged apart, the one the site lists higher
/// ends up later. An item listed twice in one run (two links, one canonical id) is merged against its first
/// occurrence, as if they were committed one after the other.
pub fn merge<'a, E>(
    items: &'a [Item],
    stored: &HashMap<ItemId, Stored>,
    now: DateTime<Utc>,
    taken: impl FnOnce() -> Result<Taken, E>,
) -> Result<Merge<'a>, E> {
    let mut taken = Lazy::Pending(Some(taken));
    let mut out = Merge::default();
    // What this merge already decided, for an id that comes twice.
    let mut written: HashMap<&ItemId, Stored> = HashMap::new();
    for item in items.iter().rev() {
        let hash = content_hash(item);
        let before = written.get(&item.id).or_else(|| stored.get(&item.id));
        let (verdict, updated) = match before {
            None => (Verdict::New, taken.get()?.claim(item.updated)),
            Some(old) if old.hash != hash && !tagged_only(&old.hash, item) => {
                let taken = taken.get()?;
                // The item's own old time is no longer taken once it moves.
                taken.release(old.updated);
                (Verdict::Edited, taken.claim(now.with_timezone(item.published.offset())))
            }
            Some(old) => (Verdict::Unchanged, old.updated),
        };
        let published = match before {
            Some(old) if old.date_source == DateSource::FirstSeen && item.date_source == DateSource::FirstSeen => {
                old.published
            }
            _ => item.published,
        };
        match verdict {
            Verdict::New => {
                out.new += 1;
                out.inserted.push(EventItem {
                    id: item.id.clone(),
                    url: item.url.clone(),
                    title: item.title.clone(),
                    published,
                });
            }
            Verdict::Edited => out.updated += 1,
            Verdict::Unchanged => {}
        }
        written.insert(
            &item.id,
            Stored {
                hash: hash.clone(),
                published,
                date_source: item.date_source,
                updated,
            },
        );
        out.rows.push(Row {
            item,
            verdict,
            hash,
            published,
            updated,
        });
    }
    out.inserted.reverse();
    Ok(out)
}

/// The events a commit queues, in order: what it inserted (when anything), then the run's own health events.
/// Each is queued once per notify target.
pub fn events(source: &SourceId, inserted: Vec<EventItem>, run_events: &[Event]) -> Vec<Event> {
    let new = (!inserted.is_empty()).then(|| Event::NewItems {
        source: source.clone(),
        items: inserted,
    });
    new.into_iter().chain(run_events.iter().cloned()).collect()
}

/// The oldest time retention keeps an item for (`retain` before `now`; the feed window is kept whatever its age);
/// `None` when `retain` reaches before any representable time, and nothing is old enough to go.
pub fn retention_cutoff(now: DateTime<Utc>, retain: std::time::Duration) -> Option<DateTime<Utc>> {
    chrono::Duration::from_std(retain)
        .ok()
        .and_then(|r| now.checked_sub_signed(r))
}

/// What decides whether an article was edited: the fields a reader sees. Categories count only when there are
/// some, so the hash of an item without any is what it was before items had categories, and an upgrade does not
/// make every stored item look edited.
pub fn content_hash(item: &Item) -> String {
    let mut h = hash_untagged(item);
    if !item.categories.is_empty() {
        h.update([0]);
        for c in &item.categories {
            h.update(c.as_bytes());
            h.update([0]);
        }
    }
    hex(h)
}

/// Whether the stored version differs from `item` only by having had no categories: the first categories an
/// item gets are no edit (stored items gain them when they are next read after an upgrade), while any later
/// change of them is.
fn tagged_only(stored_hash: &str, item: &Item) -> bool {
    !item.categories.is_empty() && hex(hash_untagged(item)) == stored_hash
}

fn hex(h: Sha256) -> String {
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn hash_untagged(item: &Item) -> Sha256 {
    let mut h = Sha256::new();
    for part in [
        item.title.as_str(),
        item.content_html.as_str(),
        item.author.as_deref().unwrap_or(""),
    ] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    h.update(item.image.as_ref().map_or("", Url::as_str).as_bytes());
    h
}

/// An instant to the nanosecond, whatever its offset: two items at the same instant in different offsets are
/// the same `updated` time to a feed reader.
type Key = (i64, u32);

fn key(at: DateTime<FixedOffset>) -> Key {
    (at.timestamp(), at.timestamp_subsec_nanos())
}

/// The `updated` times taken in one source, and where the next free second after each is.
///
/// Sites often print only a date, so many items share midnight; Atom readers (and the W3C validator) expect
/// entries to differ in `updated`. [`Taken::claim`] returns the first free second at or after a time in amortized
/// constant time: every taken time points at a later time up to which all seconds are taken, and a claim follows
/// and then shortens those pointers (path compression), so the thousandth item at midnight costs as little as the
/// second. The nudge is decided once, when the value is stored, so it never flaps.
#[derive(Debug, Clone, Default)]
pub struct Taken {
    taken: HashSet<Key>,
    /// For a taken key: a key past it such that every second in between is taken (or was, when it was set).
    next: HashMap<Key, Key>,
    probes: usize,
}

impl Taken {
    /// The times stored items of the source hold.
    pub fn new(times: impl IntoIterator<Item = DateTime<FixedOffset>>) -> Taken {
        Taken {
            taken: times.into_iter().map(key).collect(),
            ..Taken::default()
        }
    }

    /// `at`, or the first second after it that is not taken (a second released since may be passed over: the
    /// result is always free, not always the earliest), which is then taken.
    pub fn claim(&mut self, at: DateTime<FixedOffset>) -> DateTime<FixedOffset> {
        let start = key(at);
        let mut k = start;
        let mut path = Vec::new();
        while self.taken.contains(&k) {
            self.probes += 1;
            path.push(k);
            k = self.next.get(&k).copied().unwrap_or((k.0 + 1, k.1));
        }
        let after = (k.0 + 1, k.1);
        for p in path {
            self.next.insert(p, after);
        }
        self.taken.insert(k);
        self.next.insert(k, after);
        at + chrono::Duration::seconds(k.0 - start.0)
    }

    /// Frees `at` (an item moved away from it).
    pub fn release(&mut self, at: DateTime<FixedOffset>) {
        let k = key(at);
        self.taken.remove(&k);
        self.next.remove(&k);
    }

    /// Taken times looked at by all claims so far: what the claims cost.
    pub fn probes(&self) -> usize {
        self.probes
    }
}

/// `Taken`, asked for when first needed.
enum Lazy<F> {
    Pending(Option<F>),
    Ready(Taken),
}

impl<F> Lazy<F> {
    fn get<E>(&mut self) -> Result<&mut Taken, E>
    where
        F: FnOnce() -> Result<Taken, E>,
    {
        if let Lazy::Pending(load) = self {
            let load = load.take().expect("loaded once");
            *self = Lazy::Ready(load()?);
        }
        match self {
            Lazy::Ready(taken) => Ok(taken),
            Lazy::Pending(_) => unreachable!("loaded above"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use chrono::TimeZone;

    use super::*;

    fn offset() -> FixedOffset {
        FixedOffset::east_opt(8 * 3600).unwrap()
    }

    fn midnight(day: u32) -> DateTime<FixedOffset> {
        offset().with_ymd_and_hms(2015, 12, day, 0, 0, 0).unwrap()
    }

    fn item(n: u32, body: &str) -> Item {
        let url = Url::parse(&format!("https://e.org/{n}.htm")).unwrap();
        Item {
            id: ItemId::from_canonical(&url),
            url,
            title: format!("Story {n}"),
            published: midnight(16),
            date_source: DateSource::Page,
            updated: midnight(16),
            author: None,
            summary: String::new(),
            content_html: format!("<p>{body}</p>"),
            image: None,
            image_caption: None,
            image_length: None,
            image_type: None,
            categories: Vec::new(),
        }
    }

    fn stored(item: &Item) -> Stored {
        Stored {
            hash: content_hash(item),
            published: item.published,
            date_source: item.date_source,
            updated: item.updated,
        }
    }

    fn now() -> DateTime<Utc> {
        "2026-01-01T00:00:00Z".parse().unwrap()
    }

    fn none() -> Result<Taken, Infallible> {
        Ok(Taken::default())
    }

    #[test]
    fn new_items_are_inserted_oldest_first_and_announced_newest_first() {
        let items = [item(2, "b"), item(1, "a")];
        let m = merge(&items, &HashMap::new(), now(), none).unwrap();
        assert_eq!((m.new, m.updated), (2, 0));
        assert!(m.rows.iter().all(|r| r.verdict == Verdict::New));
        let written: Vec<&str> = m.rows.iter().map(|r| r.item.title.as_str()).collect();
        assert_eq!(written, ["Story 1", "Story 2"]);
        let announced: Vec<&str> = m.inserted.iter().map(|i| i.title.as_str()).collect();
        assert_eq!(announced, ["Story 2", "Story 1"]);
        // Same midnight: the one listed higher is a second later.
        assert_eq!(m.rows[0].updated, midnight(16));
        assert_eq!(m.rows[1].updated, midnight(16) + chrono::Duration::seconds(1));
    }

    #[test]
    fn an_edit_is_noticed_by_its_content_and_moves_updated_to_now_in_the_items_offset() {
        let old = item(1, "first");
        let stored = HashMap::from([(old.id.clone(), stored(&old))]);
        let items = [item(1, "second")];
        let m = merge(&items, &stored, now(), none).unwrap();
        assert_eq!((m.new, m.updated), (0, 1));
        assert_eq!(m.rows[0].verdict, Verdict::Edited);
        assert_eq!(m.rows[0].updated.to_rfc3339(), "2026-01-01T08:00:00+08:00");
        assert!(m.inserted.is_empty());
    }

    #[test]
    fn an_item_without_categories_hashes_as_before_categories_existed() {
        let it = item(1, "a");
        let mut h = Sha256::new();
        for part in ["Story 1", "<p>a</p>", ""] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        assert_eq!(content_hash(&it), hex(h), "stored hashes stay valid across the upgrade");
    }

    #[test]
    fn first_categories_are_no_edit_but_changed_ones_are() {
        let old = item(1, "same");
        let stored_untagged = HashMap::from([(old.id.clone(), stored(&old))]);
        let mut tagged = item(1, "same");
        tagged.categories = vec!["World".into()];
        let items = [tagged.clone()];
        let m = merge(&items, &stored_untagged, now(), none).unwrap();
        assert_eq!(
            m.rows[0].verdict,
            Verdict::Unchanged,
            "gained on the first read after an upgrade"
        );
        assert_eq!(m.rows[0].hash, content_hash(&tagged), "stored with them from now on");

        let stored_tagged = HashMap::from([(old.id.clone(), stored(&tagged))]);
        let mut retagged = tagged.clone();
        retagged.categories = vec!["World".into(), "Asia".into()];
        let items = [retagged];
        let m = merge(&items, &stored_tagged, now(), none).unwrap();
        assert_eq!(m.rows[0].verdict, Verdict::Edited, "a re-tag is an edit");
        let items = [item(1, "same")];
        let m = merge(&items, &stored_tagged, now(), none).unwrap();
        assert_eq!(m.rows[0].verdict, Verdict::Edited, "so is losing them");
    }

    #[test]
    fn an_unchanged_item_keeps_its_updated_and_needs_no_taken_times() {
        let mut old = item(1, "same");
        old.updated = midnight(16) + chrono::Duration::seconds(7);
        let stored = HashMap::from([(old.id.clone(), stored(&old))]);
        let mut fetched = item(1, "same");
        fetched.summary = "a summary is not what a reader compares".into();
        let items = [fetched];
        let m = merge(&items, &stored, now(), || -> Result<Taken, &str> { Err("not asked") }).unwrap();
        assert_eq!((m.new, m.updated), (0, 0));
        assert_eq!(m.rows[0].verdict, Verdict::Unchanged);
        assert_eq!(m.rows[0].updated, old.updated);
    }

    #[test]
    fn a_first_seen_date_is_kept_even_when_refetched_later() {
        let mut old = item(1, "a");
        old.date_source = DateSource::FirstSeen;
        old.published = midnight(1);
        let stored = HashMap::from([(old.id.clone(), stored(&old))]);
        let mut again = item(1, "a");
        again.date_source = DateSource::FirstSeen;
        again.published = midnight(20);
        let items = [again.clone()];
        let m = merge(&items, &stored, now(), none).unwrap();
        assert_eq!(m.rows[0].published, midnight(1), "first seen once, stored once");

        // A date found on the page replaces it.
        again.date_source = DateSource::Page;
        let items = [again];
        let m = merge(&items, &stored, now(), none).unwrap();
        assert_eq!(m.rows[0].published, midnight(20));
    }

    #[test]
    fn an_id_listed_twice_is_merged_against_its_first_occurrence() {
        let items = [item(1, "a"), item(1, "a")];
        let m = merge(&items, &HashMap::new(), now(), none).unwrap();
        assert_eq!((m.new, m.updated), (1, 0));
        assert_eq!(m.rows[1].verdict, Verdict::Unchanged);
        assert_eq!(m.rows[0].updated, m.rows[1].updated);
    }

    #[test]
    fn taken_times_of_stored_items_are_skipped() {
        let taken = || Ok::<_, Infallible>(Taken::new((0..3).map(|s| midnight(16) + chrono::Duration::seconds(s))));
        let items = [item(1, "a")];
        let m = merge(&items, &HashMap::new(), now(), taken).unwrap();
        assert_eq!(m.rows[0].updated, midnight(16) + chrono::Duration::seconds(3));
    }

    #[test]
    fn the_same_instant_in_another_offset_is_taken_too() {
        let mut taken = Taken::new([midnight(16).with_timezone(&FixedOffset::east_opt(0).unwrap())]);
        assert_eq!(taken.claim(midnight(16)), midnight(16) + chrono::Duration::seconds(1));
        assert_eq!(taken.claim(midnight(16)).offset(), &offset(), "the offset is kept");
    }

    #[test]
    fn ten_thousand_items_at_one_second_get_distinct_times_in_constant_time_each() {
        const N: usize = 10_000;
        // Half of them already stored at midnight and after, the other half arriving in one run.
        let mut taken = Taken::new((0..N as i64 / 2).map(|s| midnight(16) + chrono::Duration::seconds(s)));
        let times: Vec<_> = (0..N / 2).map(|_| taken.claim(midnight(16))).collect();
        let distinct: HashSet<_> = times.iter().collect();
        assert_eq!(distinct.len(), N / 2);
        assert_eq!(times[0], midnight(16) + chrono::Duration::seconds(N as i64 / 2));
        assert!(times.windows(2).all(|w| w[0] < w[1]), "each next one later");
        // A probe loop would look at 5,000 + 5,001 + ... taken seconds (37.5 million); this looks at each about
        // once, plus one hop a claim.
        assert!(taken.probes() <= 3 * N, "{} probes", taken.probes());
    }

    #[test]
    fn a_released_second_is_never_handed_out_twice() {
        let mut taken = Taken::default();
        let a = taken.claim(midnight(16));
        let b = taken.claim(midnight(16));
        taken.release(a);
        let c = taken.claim(midnight(16));
        let d = taken.claim(midnight(16));
        assert_ne!(b, c);
        assert_ne!(b, d);
        assert_ne!(c, d);
    }

    #[test]
    fn events_announce_what_was_inserted_before_the_runs_own() {
        let source = SourceId::parse("s").unwrap();
        let inserted = merge(&[item(1, "a")], &HashMap::new(), now(), none).unwrap().inserted;
        let recovered = Event::Recovered { source: source.clone() };
        let events = events(&source, inserted, std::slice::from_ref(&recovered));
        assert!(matches!(&events[0], Event::NewItems { items, .. } if items.len() == 1));
        assert_eq!(events[1], recovered);
        assert_eq!(super::events(&source, Vec::new(), &[]), Vec::<Event>::new());
    }
}
