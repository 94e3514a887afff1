//! Writing to stdout and stderr without panicking. A reader that goes away (`feedwright status | head -1`)
//! closes the pipe; that ends the output quietly, it is not an error: later writes are dropped and the command
//! finishes with the exit code it would have had.
//!
//! `println!` and `eprintln!` panic on a closed pipe, so commands write through here instead.

use std::io::{self, ErrorKind, Write};
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once stdout's reader went away.
static CLOSED: AtomicBool = AtomicBool::new(false);

/// stdout, locked, where a closed pipe swallows what is written; other errors (a full disk) are returned.
/// Not `Send`, so it cannot be held across an `.await`.
#[derive(Debug)]
pub struct Stdout(io::StdoutLock<'static>);

/// stdout for a table or a feed. Lines printed while progress bars may be showing go through [`line`] instead.
pub fn stdout() -> Stdout {
    Stdout(io::stdout().lock())
}

/// Whether stdout's reader has gone away.
pub fn closed() -> bool {
    CLOSED.load(Ordering::Relaxed)
}

/// `Ok(closed)` for a closed pipe, remembered in `flag`; any other result as it was.
fn quiet<T>(flag: &AtomicBool, result: io::Result<T>, closed: T) -> io::Result<T> {
    match result {
        Err(e) if e.kind() == ErrorKind::BrokenPipe => {
            flag.store(true, Ordering::Relaxed);
            Ok(closed)
        }
        other => other,
    }
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if closed() {
            return Ok(buf.len());
        }
        quiet(&CLOSED, self.0.write(buf), buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if closed() {
            return Ok(());
        }
        quiet(&CLOSED, self.0.flush(), ())
    }
}

/// One line on stdout, above any progress bars, flushed.
pub fn line(text: &str) -> io::Result<()> {
    super::get().suspend(|| {
        let mut out = stdout();
        writeln!(out, "{text}")?;
        out.flush()
    })
}

/// One line on stderr, above any progress bars. Errors are dropped: stderr is where errors would go.
pub fn eline(text: &str) {
    super::get().suspend(|| {
        let _ = writeln!(io::stderr(), "{text}");
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_pipe_is_ok_and_other_errors_are_not() {
        let flag = AtomicBool::new(false);
        assert!(quiet::<usize>(&flag, Err(ErrorKind::StorageFull.into()), 7).is_err());
        assert!(!flag.load(Ordering::Relaxed));
        assert_eq!(quiet(&flag, Err(ErrorKind::BrokenPipe.into()), 7).unwrap(), 7);
        assert!(flag.load(Ordering::Relaxed), "later writes are dropped");
    }
}
