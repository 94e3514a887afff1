//! The `feedwright` binary: parses the command line, sets up logging, runs the command, maps the result to an
//! exit code (documented in `--help`).

use std::process::ExitCode;

use clap::Parser;
use feedwright::app::{self, Exit};
use feedwright::cli::{Cli, LogFormat};
use feedwright::term::{self, out};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                Exit::Usage as u8
            } else {
                Exit::Ok as u8
            });
        }
    };
    let terminal = term::init(term::Terminal::detect(cli.color, cli.quiet));
    init_tracing(&cli, terminal);
    raise_open_files_limit();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            out::eline(&format!("error: cannot start the async runtime: {e}"));
            return ExitCode::from(Exit::Failure as u8);
        }
    };
    match runtime.block_on(app::main(cli)) {
        Ok(exit) => ExitCode::from(exit as u8),
        Err(e) => {
            out::eline(&format!("error: {}", feedwright::error_chain(&e)));
            ExitCode::from(e.exit() as u8)
        }
    }
}

/// Every connection, feed file and database file is a file descriptor, and the common soft limit of 1,024 is far
/// below what hundreds of sources on hundreds of hosts hold at once; the hard limit is what the operator allows
/// (`LimitNOFILE=` in a systemd unit, `ulimit -Hn`), so the soft one is raised to it. What is still short is waited
/// out where descriptors are opened (`fetch::retry::short_of_files`, `pipeline::feed::publish_patiently`).
fn raise_open_files_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::debug!(limit, "open files limit"),
        Err(e) => tracing::warn!(error = %e, "cannot raise the open files limit; keeping the one given"),
    }
}

/// Log lines go to stderr through [`term::LogWriter`], which prints them above the progress bars and never panics
/// on a closed stderr (`2>&1 | head -1`).
fn init_tracing(cli: &Cli, terminal: &term::Terminal) {
    let default = match (cli.quiet, cli.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, _) => "debug",
    };
    let filter =
        EnvFilter::try_from_env("FEEDWRIGHT_LOG").unwrap_or_else(|_| EnvFilter::new(format!("feedwright={default}")));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(term::LogWriter)
        .with_ansi(terminal.color);
    match cli.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.with_target(false).init(),
    }
}
