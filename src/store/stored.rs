//! How every backend writes values as text and reads them back: times in RFC 3339 (a publish date keeps its
//! offset), URLs, an item's date source. A stored value that does not read back is a corrupt row; the `Err` says
//! which value, for the backend's own `Corrupt` error.

use chrono::{DateTime, FixedOffset, Utc};
use url::Url;

use crate::model::DateSource;

pub fn time(text: &str) -> Result<DateTime<FixedOffset>, String> {
    DateTime::parse_from_rfc3339(text).map_err(|e| format!("time {text:?}: {e}"))
}

pub fn utc(text: &str) -> Result<DateTime<Utc>, String> {
    time(text).map(|t| t.to_utc())
}

/// `what` names the column, for the error.
pub fn url(what: &str, text: &str) -> Result<Url, String> {
    Url::parse(text).map_err(|e| format!("{what} {text}: {e}"))
}

pub fn date_source(text: &str) -> Result<DateSource, String> {
    DateSource::parse(text).ok_or_else(|| format!("date source {text}"))
}
