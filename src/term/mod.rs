//! The terminal: whether log lines get colour and `run` gets progress bars, stdout writes that end quietly when
//! the reader goes away (`| head -1`), and the log writer that prints above the bars without tearing them.
//!
//! Decided once per process by `main` ([`init`]) from the command line, the environment (`NO_COLOR`) and whether
//! stdout and stderr are terminals. Knows nothing of sources or feeds: `app` decides what to print, this module
//! only how it reaches the screen. Nothing here may panic on a closed stdout or stderr.

pub mod out;
pub mod progress;
pub mod text;

use std::ffi::OsStr;
use std::io::{IsTerminal, Write};
use std::sync::OnceLock;

use indicatif::{MultiProgress, ProgressDrawTarget};

use crate::cli::ColorChoice;

/// How this process talks to its terminal.
#[derive(Debug, Clone)]
pub struct Terminal {
    /// Where the progress bars live (on stderr); hidden when there are none, so `suspend` just runs its closure.
    multi: MultiProgress,
    bars: bool,
    /// ANSI colour in log lines on stderr.
    pub color: bool,
}

static TERMINAL: OnceLock<Terminal> = OnceLock::new();

impl Terminal {
    /// The terminal this process has, for the command line's `--color` and `--quiet`.
    pub fn detect(color: ColorChoice, quiet: bool) -> Self {
        let stdout = std::io::stdout().is_terminal();
        let stderr = std::io::stderr().is_terminal();
        let bars = wants_bars(quiet, stdout, stderr);
        Terminal {
            multi: if bars {
                MultiProgress::with_draw_target(ProgressDrawTarget::stderr())
            } else {
                MultiProgress::with_draw_target(ProgressDrawTarget::hidden())
            },
            bars,
            color: use_color(color, std::env::var_os("NO_COLOR").as_deref(), stderr),
        }
    }

    /// No bars, no colour: what library callers and tests get when `main` did not [`init`] one.
    pub fn plain() -> Self {
        Terminal {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::hidden()),
            bars: false,
            color: false,
        }
    }

    /// Whether `run` draws progress bars.
    pub fn bars(&self) -> bool {
        self.bars
    }

    /// Runs `f` (which writes to the terminal) with the bars cleared, then redraws them.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        self.multi.suspend(f)
    }
}

/// Sets this process's terminal (the first call wins) and returns it.
pub fn init(terminal: Terminal) -> &'static Terminal {
    TERMINAL.get_or_init(|| terminal)
}

/// This process's terminal; [`Terminal::plain`] unless `main` set one up.
pub fn get() -> &'static Terminal {
    TERMINAL.get_or_init(Terminal::plain)
}

/// Colour or not: `--color always|never` decide; `auto` means a terminal and no `NO_COLOR` (any non-empty value,
/// as <https://no-color.org> asks; the command line overrides it).
pub fn use_color(choice: ColorChoice, no_color: Option<&OsStr>, terminal: bool) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => terminal && no_color.is_none_or(OsStr::is_empty),
    }
}

/// Progress bars are for a person watching: they are drawn on stderr (stdout carries the summary, which is data),
/// and only when stdout is a terminal too. A redirected stdout (`> file`, `| mail`, cron) means nobody watches.
pub fn wants_bars(quiet: bool, stdout_terminal: bool, stderr_terminal: bool) -> bool {
    !quiet && stdout_terminal && stderr_terminal
}

/// The writer for log lines: each formatted line goes to stderr above the progress bars. A stderr that is closed
/// or full drops the line: there is nowhere left to report that, and logging must never panic.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogWriter;

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = LogWriter;

    fn make_writer(&'a self) -> Self::Writer {
        LogWriter
    }
}

impl Write for LogWriter {
    /// tracing-subscriber formats a whole event and writes it with one `write_all`, so one call is one line.
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        get().suspend(|| {
            let _ = std::io::stderr().write_all(buf);
        });
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_turns_auto_off_and_the_command_line_wins() {
        let set = Some(OsStr::new("1"));
        assert!(use_color(ColorChoice::Auto, None, true));
        assert!(!use_color(ColorChoice::Auto, None, false), "not a terminal");
        assert!(!use_color(ColorChoice::Auto, set, true));
        assert!(
            use_color(ColorChoice::Auto, Some(OsStr::new("")), true),
            "empty NO_COLOR is unset"
        );
        assert!(use_color(ColorChoice::Always, set, false));
        assert!(!use_color(ColorChoice::Never, None, true));
    }

    #[test]
    fn bars_only_for_a_person_at_a_terminal() {
        assert!(wants_bars(false, true, true));
        assert!(!wants_bars(true, true, true), "--quiet");
        assert!(!wants_bars(false, false, true), "stdout redirected");
        assert!(!wants_bars(false, true, false), "stderr redirected");
    }
}
