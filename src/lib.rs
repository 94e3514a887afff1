//! feedwright: turns news sites without a usable feed into clean, stable Atom, RSS 2.0 and JSON Feed files.
//!
//! The modules are the pipeline, in order: `fetch` → `extract` → `normalize` → `store` → `render` → `publish`.
//! `pipeline` is the only place that knows that order for one source, `health` judges whether a run looks broken,
//! `merged` is the rule of `[[merge]]` feeds, `status` says how each source is doing (for `status`, `run` and `serve` alike), `serve` is the HTTP face, and
//! `app` wires config, client and store together for a command; `term` is how output reaches the terminal.
//! Stages share only the types in `model`.

pub mod app;
pub mod cli;
pub mod config;
pub mod demo;
pub mod extract;
pub mod fetch;
pub mod fingerprint;
pub mod health;
pub mod html;
pub mod init;
pub mod merged;
pub mod model;
pub mod normalize;
pub mod notify;
pub mod pipeline;
pub mod publish;
pub mod render;
pub mod scheduler;
pub mod serve;
pub mod snapshot;
pub mod status;
pub mod store;
pub mod term;

/// Whether `e` or one of its causes is the process (EMFILE) or the system (ENFILE) running out of open files: a
/// moment's shortage while connections and files close, which callers wait out instead of failing (backpressure).
pub fn out_of_files(e: &(dyn std::error::Error + 'static)) -> bool {
    const ENFILE: i32 = 23;
    const EMFILE: i32 = 24;
    let mut cause = Some(e);
    while let Some(c) = cause {
        if let Some(io) = c.downcast_ref::<std::io::Error>()
            && matches!(io.raw_os_error(), Some(EMFILE | ENFILE))
        {
            return true;
        }
        cause = c.source();
    }
    false
}

/// An error with all its causes on one line (`GET … failed: connection refused: …`), for logs and run records.
/// Error types keep the cause in `#[source]`, never in their own text, so each cause appears once.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}
