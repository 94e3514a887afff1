//! Extraction: a fetched page's decoded HTML in, what the page says out, exactly as found.
//!
//! [`list`] reads a listing page into the article links it announces (resolved, de-duplicated, in page order) and
//! the next listing page; [`article`] reads one article page into a [`RawArticle`](crate::model::RawArticle). Both
//! are driven by the CSS selectors a source configures, take `&str` and return plain values: no I/O, no clock, no
//! errors (a selector that matches nothing yields an empty or `None` field, and `normalize` decides whether that is
//! fatal). Text is only whitespace-collapsed here and HTML only has the configured noise cut out; cleaning dates,
//! resolving relative URLs and sanitizing belong to `normalize`. Pages are parsed within the depth and node bounds
//! of [`crate::html`], so a hostile page costs time and memory in proportion to its size, never more.
//! [`feed`] reads a feed that a source names instead of a listing, into the same listed links.
//! Fields a source gives no selector for are found automatically: [`meta`] reads the page's own metadata and
//! [`auto`] detects links, bodies, headlines, dates and pagers; a configured selector always wins.

pub mod article;
pub mod auto;
pub mod explain;
pub mod feed;
pub mod list;
pub mod meta;

pub use article::ArticleRules;
pub use list::{ListRules, Listing};

mod dom;
