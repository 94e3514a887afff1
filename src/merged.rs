//! The rule of a `[[merge]]` feed: which stored items of its sources it publishes, and in what order.
//!
//! Input: each member source's items (or the web page's entries) as the store returns them, newest first, in
//! config order; output: the newest `max_items` of all of them, newest first, each item id once. Pure: no store,
//! no clock, no rendering. An item keeps its own id, so a reader subscribed to a source and to the merge sees one
//! entry, not two. Items of two sources updated in the same second are nudged apart by a second, as the store
//! does within one source ([`Taken`]): Atom readers expect entries to differ in `updated`. Publishing the result
//! is `pipeline`'s job; how a merged feed is doing is `status`'s.

use chrono::{DateTime, FixedOffset};

use crate::model::Item;
use crate::store::Entry;
use crate::store::merge::Taken;

/// The newest `max_items` of `lists`, newest first (ties: by id, as the store orders one source), each id once.
/// Of items with the same id the one from the earlier list is kept, so config order decides, not chance.
pub fn newest<T>(
    lists: impl IntoIterator<Item = Vec<T>>,
    max_items: usize,
    key: impl Fn(&T) -> (&str, DateTime<FixedOffset>),
) -> Vec<T> {
    let mut seen = std::collections::HashSet::new();
    let mut all: Vec<T> = Vec::new();
    for list in lists {
        for item in list {
            if seen.insert(key(&item).0.to_owned()) {
                all.push(item);
            }
        }
    }
    // A stable sort: equal keys (one id twice cannot happen any more) keep config order.
    all.sort_by(|a, b| {
        let ((a_id, a_at), (b_id, b_at)) = (key(a), key(b));
        b_at.cmp(&a_at).then_with(|| a_id.cmp(b_id))
    });
    all.truncate(max_items);
    all
}

/// A merged feed's items, from each member's stored items: [`newest`], then `updated` times shared by items of
/// different sources nudged apart (oldest first, so the newer item moves on, as in the store).
pub fn items(lists: Vec<Vec<Item>>, max_items: usize) -> Vec<Item> {
    let mut items = newest(lists, max_items, |i| (i.id.as_str(), i.published));
    let mut taken = Taken::default();
    for item in items.iter_mut().rev() {
        item.updated = taken.claim(item.updated);
    }
    items
}

/// A merged feed's entries for the web page and its counts, from each member's entries.
pub fn entries(lists: Vec<Vec<Entry>>, max_items: usize) -> Vec<Entry> {
    newest(lists, max_items, |e| (e.url.as_str(), e.published))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DateSource, ItemId};

    fn item(url: &str, published: &str, title: &str) -> Item {
        let url = url::Url::parse(url).unwrap();
        let published = DateTime::parse_from_rfc3339(published).unwrap();
        Item {
            id: ItemId::from_canonical(&url),
            url,
            title: title.into(),
            published,
            date_source: DateSource::Page,
            updated: published,
            author: None,
            summary: String::new(),
            content_html: String::new(),
            image: None,
            image_caption: None,
            image_length: None,
            image_type: None,
            categories: Vec::new(),
        }
    }

    fn ids(items: &[Item]) -> Vec<&str> {
        items.iter().map(|i| i.id.as_str()).collect()
    }

    #[test]
    fn newest_first_across_sources_and_cut_to_max_items() {
        let en = vec![
            item("https://en.example/3", "2015-12-18T10:00:00+08:00", "en 3"),
            item("https://en.example/1", "2015-12-14T10:00:00+08:00", "en 1"),
        ];
        let zh = vec![
            item("https://zh.example/2", "2015-12-16T10:00:00+08:00", "zh 2"),
            // The same instant as en 3, written in another zone: instants are compared, then ids.
            item("https://a.example/4", "2015-12-18T02:00:00Z", "zh 4"),
        ];
        let all = items(vec![en.clone(), zh.clone()], 10);
        assert_eq!(
            ids(&all),
            [
                "https://a.example/4",
                "https://en.example/3",
                "https://zh.example/2",
                "https://en.example/1"
            ]
        );
        assert_eq!(ids(&items(vec![en.clone(), zh.clone()], 2)), ids(&all[..2]));
        assert_eq!(
            ids(&items(vec![zh, en], 10)),
            ids(&all),
            "the order of the sources does not change the feed"
        );
        assert!(items(vec![vec![], vec![]], 10).is_empty());
        assert!(items(vec![all.clone()], 0).is_empty());
    }

    #[test]
    fn an_item_in_two_sources_is_published_once_as_the_first_source_has_it() {
        let first = vec![item("https://example.org/a", "2015-12-16T10:00:00Z", "first")];
        let second = vec![
            item("https://example.org/a", "2015-12-17T10:00:00Z", "second"),
            item("https://example.org/b", "2015-12-15T10:00:00Z", "b"),
        ];
        let all = items(vec![first, second], 10);
        assert_eq!(ids(&all), ["https://example.org/a", "https://example.org/b"]);
        assert_eq!(all[0].title, "first");
    }

    #[test]
    fn items_of_two_sources_updated_in_the_same_second_are_nudged_apart() {
        let en = vec![item("https://en.example/1", "2015-12-16T10:00:00Z", "en")];
        let zh = vec![item("https://zh.example/1", "2015-12-16T18:00:00+08:00", "zh")];
        let all = items(vec![en.clone(), zh], 10);
        let updated: Vec<String> = all.iter().map(|i| i.updated.to_rfc3339()).collect();
        assert_eq!(
            ids(&all),
            ["https://en.example/1", "https://zh.example/1"],
            "same instant: by id"
        );
        assert_eq!(updated, ["2015-12-16T10:00:01+00:00", "2015-12-16T18:00:00+08:00"]);
        assert_eq!(all[0].published, en[0].published, "the publish date is the source's");
        assert_eq!(
            items(vec![en], 10)[0].updated,
            all[0].updated - chrono::Duration::seconds(1)
        );
    }

    #[test]
    fn entries_follow_the_same_rule() {
        let entry = |url: &str, at: &str| Entry {
            title: url.into(),
            url: url.into(),
            published: DateTime::parse_from_rfc3339(at).unwrap(),
            first_seen: DateTime::parse_from_rfc3339(at).unwrap().to_utc(),
            edited: None,
        };
        let merged = entries(
            vec![
                vec![entry("https://e/1", "2015-12-14T00:00:00Z")],
                vec![
                    entry("https://e/2", "2015-12-15T00:00:00Z"),
                    entry("https://e/1", "2015-12-14T00:00:00Z"),
                ],
            ],
            5,
        );
        let urls: Vec<&str> = merged.iter().map(|e| e.url.as_str()).collect();
        assert_eq!(urls, ["https://e/2", "https://e/1"]);
    }
}
