//! The terminal side of the real binary: what reaches stdout and stderr when they are pipes, closed pipes
//! (`| head -1`), or files; progress bars and colour only where a person watches.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::{Setup, serve_site};

/// `feedwright --config <setup> <args>` as a plain `std` command, for wiring its pipes by hand.
fn feedwright(setup: &Setup, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_feedwright"));
    cmd.arg("--config")
        .arg(setup.config())
        .args(args)
        .env_remove("FEEDWRIGHT_LOG")
        .env_remove("NO_COLOR")
        .stdin(Stdio::null());
    cmd
}

/// Runs `cmd` with stdout (and stderr too when `both`, as `2>&1` does) on a pipe whose reader is gone before the
/// first byte is written, so every write hits a closed pipe. Returns the exit code and stderr (empty when `both`).
fn closed_pipe(mut cmd: Command, both: bool) -> (Option<i32>, String) {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    cmd.stdout(writer.try_clone().unwrap());
    if both {
        cmd.stderr(writer);
    } else {
        drop(writer);
        cmd.stderr(Stdio::piped());
    }
    let out = cmd.output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Like `cmd | head -1` (or `cmd 2>&1 | head -1`): reads one line, closes the pipe, waits.
fn head_1(mut cmd: Command, both: bool) -> (Option<i32>, String, String) {
    let (reader, writer) = std::io::pipe().unwrap();
    cmd.stdout(writer.try_clone().unwrap());
    cmd.stderr(if both { Stdio::from(writer) } else { Stdio::piped() });
    let mut child = cmd.spawn().unwrap();
    // The command keeps copies of the pipe's writer: drop them, or the pipe never closes.
    drop(cmd);
    let mut first = String::new();
    BufReader::new(reader).read_line(&mut first).unwrap();
    let stderr = child.stderr.take();
    let status = child.wait().unwrap();
    let stderr = stderr.map_or(String::new(), |mut e| {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut e, &mut text).unwrap();
        text
    });
    (status.code(), first, stderr)
}

fn assert_quiet_end(what: &str, code: Option<i32>, stderr: &str) {
    assert_eq!(code, Some(0), "{what}: {stderr}");
    for bad in ["panicked", "Broken pipe", "os error 32"] {
        assert!(!stderr.contains(bad), "{what}: {stderr}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_closed_stdout_ends_every_command_quietly_with_exit_0() {
    let (en, zh) = (serve_site("wic-en").await, serve_site("wic-zh").await);
    let setup = Setup::new(&en.uri(), &zh.uri(), "");
    for args in [
        &["preview", "wic-news-zh"][..],
        &["preview", "wic-news-zh", "--format", "json"],
        &["run"],
        &["status"],
        &["status", "--json"],
        &["check"],
        &["--help"],
    ] {
        let (code, stderr) = closed_pipe(feedwright(&setup, args), false);
        assert_quiet_end(&format!("{args:?} > closed pipe"), code, &stderr);
        let (code, _) = closed_pipe(feedwright(&setup, args), true);
        assert_eq!(code, Some(0), "{args:?} 2>&1 > closed pipe");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn preview_into_head_1_exits_0_without_a_panic() {
    let (en, zh) = (serve_site("wic-en").await, serve_site("wic-zh").await);
    let setup = Setup::new(&en.uri(), &zh.uri(), "");
    let (code, first, stderr) = head_1(feedwright(&setup, &["preview", "wic-news-zh"]), false);
    assert_quiet_end("preview | head -1", code, &stderr);
    assert!(first.contains("links on the listing"), "{first}");
    let (code, first, _) = head_1(feedwright(&setup, &["preview", "wic-news-zh"]), true);
    assert_eq!(code, Some(0), "preview 2>&1 | head -1: {first}");
}

/// Whether `text` has an SGR (colour or style) escape; cursor movement by the progress bars is not colour.
fn has_colour(text: &str) -> bool {
    text.match_indices("\x1b[").any(|(at, _)| {
        let rest = &text[at + 2..];
        let params = rest
            .find(|c: char| !c.is_ascii_digit() && c != ';')
            .unwrap_or(rest.len());
        rest[params..].starts_with('m')
    })
}

/// `text` without its CSI escape sequences (`ESC [ params letter`).
fn without_escapes(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("\x1b[") {
        out.push_str(&rest[..at]);
        let tail = &rest[at + 2..];
        let end = tail
            .find(|c: char| c.is_ascii_alphabetic())
            .map_or(tail.len(), |i| i + 1);
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn off_a_terminal_there_are_no_bars_and_no_colour() {
    let (en, zh) = (serve_site("wic-en").await, serve_site("wic-zh").await);
    for (args, no_color) in [
        (&["run"][..], None),
        (&["run"], Some("1")),
        (&["run", "--color", "never"], None),
    ] {
        // A fresh state each time: a second run does not retry the 404 article at once, so logs nothing.
        let setup = Setup::new(&en.uri(), &zh.uri(), "");
        let mut cmd = feedwright(&setup, args);
        if let Some(v) = no_color {
            cmd.env("NO_COLOR", v);
        }
        let out = cmd.output().unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        assert!(stderr.contains("WARN"), "the 404 article is logged: {stderr}");
        // A source that is not ok explains itself on indented lines below its summary.
        let summaries = stdout.lines().filter(|l| !l.starts_with(' ')).count();
        assert_eq!(
            summaries, 3,
            "one summary line per source and per merged feed: {stdout}"
        );
        for text in [&stdout, &stderr] {
            assert!(!text.contains('\x1b') && !text.contains('\r'), "{args:?}: {text:?}");
            assert!(
                !text.contains("reading the listing")
                    && !text.contains("/14 articles")
                    && !text.contains("/7 articles"),
                "no progress lines: {text}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn color_always_colours_log_lines_even_with_no_color_set() {
    let (en, zh) = (serve_site("wic-en").await, serve_site("wic-zh").await);
    let setup = Setup::new(&en.uri(), &zh.uri(), "");
    let out = feedwright(&setup, &["run", "--color", "always"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(has_colour(&stderr), "{stderr}");
    assert!(
        !has_colour(&String::from_utf8_lossy(&out.stdout)),
        "the summary table has no colour"
    );
}

/// On a terminal (a pseudo-terminal from util-linux `script`, which must be installed): one line per running
/// source, log lines above the bars, each finished source summarized, and `NO_COLOR` obeyed by the log lines.
#[tokio::test(flavor = "multi_thread")]
async fn on_a_terminal_each_running_source_has_a_progress_line() {
    let has_script = Command::new("script")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        has_script,
        "this test needs util-linux `script` for a pseudo-terminal: apt-get install bsdutils"
    );
    let (en, zh) = (serve_site("wic-en").await, serve_site("wic-zh").await);
    let setup = Setup::new(&en.uri(), &zh.uri(), "");
    let line = format!(
        "{} --config {} run",
        env!("CARGO_BIN_EXE_feedwright"),
        setup.config().display()
    );
    let out = Command::new("script")
        .args(["-qfec", &line, "/dev/null"])
        .env_remove("FEEDWRIGHT_LOG")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let screen = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{screen}");
    for id in ["wic-news ", "wic-news-zh "] {
        assert!(screen.contains(&format!("{id:<17}[")), "{id}'s bar: {screen:?}");
        assert!(
            screen.lines().any(|l| l.contains(id) && l.contains("degraded  links")),
            "{id} summarized: {screen:?}"
        );
    }
    assert!(screen.contains(" articles"), "{screen:?}");
    // Each log line starts after the bars were cleared (`ESC[2K`), never in the middle of a bar.
    for (at, _) in screen.match_indices(" WARN ") {
        let before = &screen[..at];
        let line_start = before.rfind(['\n', '\r']).map_or(0, |i| i + 1);
        let start = without_escapes(&screen[line_start..at]);
        assert!(
            start.chars().all(|c| c.is_ascii_digit() || "-T:.Z ".contains(c)),
            "a log line torn by a bar: {start:?}"
        );
    }
    assert!(!has_colour(&screen), "NO_COLOR: {screen:?}");
}

/// The display cell where `needle` starts in `line`.
fn cell_of(line: &str, needle: &str) -> usize {
    let at = line.find(needle).unwrap_or_else(|| panic!("{needle:?} in {line:?}"));
    feedwright::term::text::width(&line[..at])
}

#[tokio::test(flavor = "multi_thread")]
async fn preview_aligns_chinese_titles_cuts_long_ones_and_reports_a_failed_article_once() {
    let (en, zh) = (serve_site("wic-en").await, serve_site("wic-zh").await);
    let setup = Setup::new(&en.uri(), &zh.uri(), "");
    for (id, base) in [("wic-news-zh", zh.uri()), ("wic-news", en.uri())] {
        let out = feedwright(&setup, &["preview", id]).output().unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        let lines: Vec<&str> = stdout.lines().skip(1).collect();
        let (header, rows) = (lines[0], &lines[1..]);
        // Under each article, where its fields came from.
        let rows: Vec<&str> = rows.iter().copied().filter(|r| !r.starts_with("    from: ")).collect();
        assert!(rows.len() >= 5, "{stdout}");
        let (title, url) = (cell_of(header, "TITLE"), cell_of(header, "URL"));
        for row in &rows {
            assert_eq!(cell_of(row, &base), url, "URL column of {row:?}\n{stdout}");
            // The title column starts where the header says, after two spaces, and ends two cells before the URL.
            assert_eq!(row_title(row, title - 2, title), "  ", "{row:?}");
            assert!(!row_title(row, title, title + 1).trim().is_empty(), "{row:?}");
            assert!(row_title(row, url - 2, url).ends_with("  "), "{row:?}");
        }
        if id == "wic-news" {
            assert!(
                rows.iter()
                    .any(|r| r.contains("Special coverage: the Second World Internet Confe…  ")),
                "a long title ends with an ellipsis: {stdout}"
            );
        }
        // Each failed article is one log line, not a log line and a "warning:" line too.
        let failures = stderr.lines().filter(|l| l.contains("returned HTTP 404")).count();
        let expected = common::expected(if id == "wic-news" { "wic-en" } else { "wic-zh" })["missing"]
            .as_array()
            .unwrap()
            .len();
        assert_eq!(failures, expected, "{stderr}");
    }
}

/// The text between display cells `from` and `to` of `row`.
fn row_title(row: &str, from: usize, to: usize) -> String {
    let mut cell = 0;
    let mut out = String::new();
    for c in row.chars() {
        if cell >= from && cell < to {
            out.push(c);
        }
        cell += feedwright::term::text::width(c.encode_utf8(&mut [0; 4]));
    }
    out
}

/// A local port nothing listens on: connections to it are refused.
fn refused_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_log_line_about_a_source_names_it_and_the_failing_url_once() {
    let zh = serve_site("wic-zh").await;
    let dead = format!("http://127.0.0.1:{}", refused_port());
    let setup = Setup::new(&dead, &zh.uri(), "retry_base = \"1ms\"");
    for args in [&["run"][..], &["run", "--quiet"]] {
        let out = feedwright(&setup, args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(4), "{stderr}");
        let lines: Vec<&str> = stderr.lines().collect();
        assert!(!lines.is_empty());
        for line in &lines {
            assert!(line.contains("source=wic-news"), "{args:?}: {line}");
            if line.contains(&dead) {
                assert!(line.contains("source=wic-news}"), "the dead host is wic-news's: {line}");
            }
        }
        let failed = lines
            .iter()
            .find(|l| l.contains("ERROR") && l.contains("source failed"))
            .unwrap_or_else(|| panic!("{stderr}"));
        assert!(failed.contains("source{source=wic-news}"), "{failed}");
        let listing = format!("{dead}/news/node_35363.htm");
        assert_eq!(failed.matches(&listing).count(), 1, "the URL once: {failed}");
        assert!(failed.contains("Connection refused"), "{failed}");
    }
}

#[tokio::test]
async fn a_refused_connection_names_the_url_once() {
    let url = url::Url::parse(&format!("http://127.0.0.1:{}/news/", refused_port())).unwrap();
    let mut options =
        feedwright::fetch::Options::new("feedwright-test".into(), std::time::Duration::from_secs(5), 1 << 20);
    options.retries = 0;
    let fetcher = feedwright::fetch::Fetcher::new(options, chrono::Utc::now).unwrap();
    let profile = feedwright::fetch::Profile {
        respect_robots: false,
        ..Default::default()
    };
    let e = fetcher.for_source(&profile).unwrap().get(&url, None).await.unwrap_err();
    let chain = feedwright::error_chain(&e);
    assert_eq!(chain.matches(url.as_str()).count(), 1, "{chain}");
    assert!(chain.starts_with(&format!("GET {url}: cannot connect: ")), "{chain}");
}

#[test]
fn check_and_run_name_an_output_or_state_folder_that_cannot_be_written_and_exit_3() {
    // A file where a folder should be stops a write even for root, unlike permission bits.
    for (blocked, what) in [("feeds", "output folder"), ("state", "state folder")] {
        let setup = Setup::new("http://127.0.0.1:9", "http://127.0.0.1:9", "");
        let path = setup.dir.path().join(blocked);
        std::fs::write(&path, "in the way").unwrap();
        for args in [&["check"][..], &["run"]] {
            let out = feedwright(&setup, args).output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(3), "{args:?}: {stderr}");
            // `check_paths` finds the file in the way before the write probe does; either names the path.
            let named = stderr.contains(&format!("the {what} {} cannot be written", path.display()))
                || stderr.contains(&format!("{} exists and is not a folder", path.display()))
                || stderr.contains(&format!("{} is not a folder", path.display()));
            assert!(named, "{args:?}: {stderr}");
            assert!(out.stdout.is_empty(), "no summary, nothing fetched");
        }
        let probes = std::fs::read_dir(setup.dir.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with(".feedwright")
            })
            .count();
        assert_eq!(probes, 0, "the probe file is gone");
    }
    let setup = Setup::new("http://127.0.0.1:9", "http://127.0.0.1:9", "");
    let out = feedwright(&setup, &["check"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        !setup.dir.path().join("feeds").exists() && !setup.dir.path().join("state").exists(),
        "check creates no folder"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_accepts_a_host_name() {
    let setup = Setup::new("http://127.0.0.1:9", "http://127.0.0.1:9", "");
    let port = refused_port();
    let mut child = feedwright(&setup, &["serve", "--addr", &format!("localhost:{port}")])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let answer = reqwest::get(format!("http://127.0.0.1:{port}/healthz")).await;
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        first.trim(),
        format!("serving feeds on http://127.0.0.1:{port}/"),
        "IPv4 first"
    );
    assert!(answer.is_ok(), "{answer:?}");

    let out = feedwright(&setup, &["serve", "--addr", "localhost"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not HOST:PORT"));
}

#[test]
fn demo_explains_its_traps_ends_with_next_steps_and_does_not_offer_config() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_feedwright"))
        .current_dir(dir.path())
        .env_remove("FEEDWRIGHT_LOG")
        .arg("demo")
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    // Both editions, and their merge (degraded while they are).
    assert_eq!(stdout.matches(" degraded ").count(), 3, "{stdout}");
    assert!(stderr.contains("returned HTTP 404"), "{stderr}");
    assert!(stdout.contains("deliberate traps"), "{stdout}");
    let next = stdout.rfind("Next:").expect("next steps");
    assert!(
        stdout[next..].contains("feedwright preview ID") && stdout[next..].contains("README"),
        "{stdout}"
    );
    assert!(
        stdout.trim_end().ends_with("feedwright preview ID"),
        "next steps come last: {stdout}"
    );

    let help = Command::new(env!("CARGO_BIN_EXE_feedwright"))
        .args(["demo", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("--out") && !help.contains("--config"), "{help}");
}
