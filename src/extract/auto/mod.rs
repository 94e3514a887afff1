//! Automatic extraction: finding what a selector would have named, on pages nobody wrote rules for.
//!
//! Every function here takes a parsed page and returns what it detected, plus, where one exists, a CSS selector
//! that finds the same thing again (for `init`, so a configured source does not depend on heuristics from run to
//! run). Nothing here fetches, reads the clock or parses dates: [`links`] finds the repeated block of article links
//! on a listing page, [`pager`] the next listing page or article page, [`body`] an article's main text by a
//! readability-style score, [`headline`] the article's own title and [`dateline`] a date printed near it. The
//! extractors in [`super::list`] and [`super::article`] call these only for the fields a source gives no selector
//! for.

pub mod body;
pub mod css;
pub mod dateline;
pub mod headline;
pub mod links;
pub mod measure;
pub mod pager;
