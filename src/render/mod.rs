//! Writes one source's feed in each published format: (`&FeedMeta`, `&[Item]`) -> `String`.
//!
//! The items arrive already normalized (sanitized HTML, absolute URLs, dated), newest first and already cut to the
//! feed's length; rendering neither sorts, filters nor reads the clock, so the same input always gives the same bytes
//! and snapshot tests can pin whole feeds. Each format lives in its own module ([`atom`], [`rss`], [`json`]); this
//! module holds what they share: the [`Format`] names, the alternate-language feed URLs and the XML text guard.
//! Writing files is `publish`'s job, not ours.

pub mod atom;
pub mod json;
pub mod rss;

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use url::Url;

use crate::model::{Alternate, FeedMeta, Item};

/// Named as the generator in Atom and RSS (JSON Feed has no such field).
const GENERATOR: &str = "feedwright";
/// Where the generator name (and the JSON `_feedwright` extension) points; from the manifest, so fixed at build time.
const GENERATOR_URI: &str = env!("CARGO_PKG_REPOSITORY");

/// The XML declaration both XML writers start with; the encoding is stated although UTF-8 is XML's default, so that
/// no reader has to guess.
const XML_DECLARATION: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n";

/// A published feed format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Atom,
    Rss,
    Json,
}

impl Format {
    /// Every format, in the order feeds are written and listed.
    pub const ALL: [Format; 3] = [Format::Atom, Format::Rss, Format::Json];

    /// The file extension (without the dot), which is also the format's name in config and on the command line.
    pub fn ext(self) -> &'static str {
        match self {
            Format::Atom => "atom",
            Format::Rss => "rss",
            Format::Json => "json",
        }
    }

    /// The media type to serve the file with and to name in `type` attributes.
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Atom => "application/atom+xml",
            Format::Rss => "application/rss+xml",
            Format::Json => "application/feed+json",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.ext())
    }
}

/// A format name that is none of `atom`, `rss` or `json`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown feed format {0:?}: expected one of atom, rss, json")]
pub struct UnknownFormat(pub String);

impl FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .into_iter()
            .find(|f| f.ext().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownFormat(s.to_owned()))
    }
}

/// Renders one feed. `items` must already be newest first and limited; they are written in the order given.
pub fn render(format: Format, meta: &FeedMeta, items: &[Item]) -> String {
    match format {
        Format::Atom => atom::render(meta, items),
        Format::Rss => rss::render(meta, items),
        Format::Json => json::render(meta, items),
    }
}

/// The URL of an alternate-language feed in `format`.
///
/// [`Alternate::href`] names the other feed without an extension, the way [`FeedMeta::feed_url`] builds URLs:
/// `https://feeds.example.org/wic-news-zh` becomes `https://feeds.example.org/wic-news-zh.atom` for Atom. One
/// field thus serves every format, and each feed links to its sibling in its own format (a reader following an
/// Atom alternate gets Atom). A `.atom`, `.rss` or `.json` already on the path is replaced rather than doubled, so
/// an href built from the other feed's full URL still works; source ids contain no dots, so this cannot eat part
/// of an id.
pub fn alternate_url(alternate: &Alternate, format: Format) -> Url {
    let path = alternate.href.path();
    let stem = Format::ALL
        .iter()
        .find_map(|f| path.strip_suffix(f.ext()).and_then(|p| p.strip_suffix('.')))
        .unwrap_or(path);
    let mut url = alternate.href.clone();
    url.set_path(&format!("{stem}.{}", format.ext()));
    url
}

/// `Some(s)` unless `s` is blank: the RSS best-practice profile forbids empty elements, and an empty optional
/// field says nothing in any format.
fn non_empty(s: &str) -> Option<&str> {
    (!s.trim().is_empty()).then_some(s)
}

/// Drops the characters XML 1.0 cannot carry (C0 controls other than tab, LF and CR; U+FFFE, U+FFFF) and the C1
/// controls it discourages.
///
/// `normalize` should already have removed them, but one stray control character makes the whole document
/// unreadable to every XML parser, so the XML writers guarantee well-formedness themselves instead of trusting
/// every upstream path. JSON escapes such characters and does not need this.
fn xml_text(s: &str) -> Cow<'_, str> {
    let bad = |c: char| match u32::from(c) {
        0x09 | 0x0a | 0x0d => false,
        c => c < 0x20 || (0x7f..=0x9f).contains(&c) || c == 0xfffe || c == 0xffff,
    };
    // Every such character starts with a control byte, 0x7f, 0xc2 (U+0080-U+009F) or 0xef (U+FFFE, U+FFFF): text
    // without those bytes is looked at no further.
    let suspect = |b: u8| (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r')) || matches!(b, 0x7f | 0xc2 | 0xef);
    if s.bytes().any(suspect) && s.contains(bad) {
        Cow::Owned(s.replace(bad, ""))
    } else {
        Cow::Borrowed(s)
    }
}

#[cfg(test)]
mod props;
#[cfg(test)]
mod tests;
