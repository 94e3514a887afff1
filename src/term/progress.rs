//! Progress bars for `run`: one line per running source (articles read of those it will read), removed when the
//! source finishes, with the source's summary printed above the bars still running. Built only when
//! [`Terminal::bars`] allows; the line's text is [`line`], a pure function.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use super::Terminal;

/// Cells in the drawn bar.
const WIDTH: usize = 20;
/// `total` before the listing is read.
const UNKNOWN: usize = usize::MAX;

/// The progress line of one running source.
#[derive(Debug)]
pub struct SourceBar {
    multi: indicatif::MultiProgress,
    bar: ProgressBar,
    id: String,
    done: AtomicUsize,
    total: AtomicUsize,
}

impl Terminal {
    /// A progress line for source `id`, or `None` when this terminal has no bars.
    pub fn source_bar(&self, id: &str) -> Option<SourceBar> {
        if !self.bars {
            return None;
        }
        let bar = self.multi.add(ProgressBar::new_spinner());
        bar.set_style(ProgressStyle::with_template("{spinner} {msg}").expect("a valid template"));
        bar.set_message(line(id, 0, None));
        bar.enable_steady_tick(Duration::from_millis(120));
        Some(SourceBar {
            multi: self.multi.clone(),
            bar,
            id: id.to_owned(),
            done: AtomicUsize::new(0),
            total: AtomicUsize::new(UNKNOWN),
        })
    }
}

impl SourceBar {
    /// The listing is read: `total` articles will be read.
    pub fn planned(&self, total: usize) {
        self.total.store(total, Ordering::Relaxed);
        self.redraw();
    }

    /// One more article read (or failed).
    pub fn advance(&self) {
        self.done.fetch_add(1, Ordering::Relaxed);
        self.redraw();
    }

    fn redraw(&self) {
        let total = self.total.load(Ordering::Relaxed);
        let done = self.done.load(Ordering::Relaxed);
        self.bar
            .set_message(line(&self.id, done, (total != UNKNOWN).then_some(total)));
    }

    /// Removes the line; the caller prints the source's summary in its place (above the bars still running).
    pub fn finish(self) {
        self.bar.finish_and_clear();
        self.multi.remove(&self.bar);
    }
}

/// The text of a source's progress line: `wic-news  [#########           ]  9/20 articles`, or what it is doing
/// before it knows how many articles there are.
pub fn line(id: &str, done: usize, total: Option<usize>) -> String {
    let Some(total) = total else {
        return format!("{id:<16} reading the listing");
    };
    let done = done.min(total);
    let filled = (done * WIDTH).checked_div(total).unwrap_or(WIDTH);
    format!(
        "{id:<16} [{}{}] {done:>3}/{total} articles",
        "#".repeat(filled),
        " ".repeat(WIDTH - filled)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_names_the_source_and_counts_articles() {
        assert_eq!(line("wic-news", 0, None), "wic-news         reading the listing");
        assert_eq!(
            line("wic-news", 9, Some(20)),
            "wic-news         [#########           ]   9/20 articles"
        );
        assert_eq!(
            line("wic-news-zh", 0, Some(0)),
            "wic-news-zh      [####################]   0/0 articles",
            "nothing to read is done"
        );
        assert_eq!(
            line("s", 7, Some(5)),
            format!("s                [{}]   5/5 articles", "#".repeat(WIDTH)),
            "never past the end"
        );
    }

    #[test]
    fn a_plain_terminal_has_no_bars() {
        assert!(Terminal::plain().source_bar("wic-news").is_none());
    }
}
