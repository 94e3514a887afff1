//! Checks on disk of the paths a config names, before any command creates them: the state database must be a
//! regular file (or not exist yet) in something that is (or can become) a folder, and so must `output_dir` be a
//! folder. Validation (`validate`) stays pure, text in and config out, so `serve`, `status` and `preview`, which
//! create nothing, can load a config whose paths are not usable yet; [`check_paths`] is called by `check` and by
//! every command that opens the state for writing (`run`, `watch`) before it takes the state lock, so a bad path
//! creates nothing (no `/dev/null.lock`). Its problems carry file and line like every config problem (exit 3).
//! This is the one place for such checks: that the folders are writable belongs here too.

use std::fs;
use std::path::Path;

use super::{Config, ConfigError, Problem};

/// Every problem with the paths of `config` as they are on disk now; creates and changes nothing.
pub fn check_paths(config: &Config) -> Result<(), ConfigError> {
    let settings = &config.settings;
    let problem = |line: usize, message: String| Problem {
        file: config.path.clone(),
        line,
        source: None,
        message,
    };
    let mut problems = Vec::new();
    // A database's state is checked by connecting (`run`, `watch`); there is no path to look at.
    if let Some(state) = settings.state.file() {
        state_problems(state, settings.lines.state, &problem, &mut problems);
    }
    let out = &settings.output_dir;
    match fs::metadata(out) {
        Ok(meta) if !meta.is_dir() => problems.push(problem(
            settings.lines.output_dir,
            format!(
                "output_dir: {} exists and is not a folder (it is {})",
                out.display(),
                kind(&meta)
            ),
        )),
        Ok(_) => {}
        Err(_) => {
            if let Some(message) = folder_problem(out.parent(), "output_dir", out) {
                problems.push(problem(settings.lines.output_dir, message));
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ConfigError::Invalid { problems })
    }
}

/// What is wrong with the state file `state` as it is on disk (given on line `line`).
fn state_problems(state: &Path, line: usize, problem: &impl Fn(usize, String) -> Problem, problems: &mut Vec<Problem>) {
    match fs::metadata(state) {
        Ok(meta) if !meta.is_file() => problems.push(problem(
            line,
            format!(
                "state: {} exists and is not a regular file (it is {}); name a file for the state database",
                state.display(),
                kind(&meta)
            ),
        )),
        Ok(_) => {}
        Err(_) => {
            if let Some(message) = folder_problem(state.parent(), "state", state) {
                problems.push(problem(line, message));
            }
        }
    }
}

/// Why `path` (named by `key`) cannot be created below `folder`: the nearest part of `folder` that exists is not
/// a folder. `None` when it is one (or nothing of it exists, as for a relative path's missing first part).
fn folder_problem(folder: Option<&Path>, key: &str, path: &Path) -> Option<String> {
    let existing = folder?
        .ancestors()
        .filter(|a| !a.as_os_str().is_empty())
        .find_map(|a| fs::metadata(a).ok().map(|meta| (a, meta)))?;
    let (at, meta) = existing;
    (!meta.is_dir()).then(|| {
        format!(
            "{key}: {} is not a folder (it is {}), so {} cannot be created in it",
            at.display(),
            kind(&meta),
            path.display()
        )
    })
}

/// What a file system entry is, for messages: "a folder", "a character device", ...
fn kind(meta: &fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_dir() {
        "a folder"
    } else if t.is_file() {
        "a regular file"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_fifo() {
        "a named pipe"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &Path, settings: &str) -> Config {
        let text = format!(
            "[settings]\n{settings}\n\n[[source]]\nid = \"a\"\ntitle = \"A\"\nurl = \"https://example.org/\"\n\
             [source.listing]\nlinks = \"a\"\n[source.article]\ntitle = \"h1\"\ncontent = \"#c\"\n"
        );
        super::super::parse(&text, &dir.join("f.toml")).unwrap()
    }

    fn messages(config: &Config) -> Vec<String> {
        match check_paths(config) {
            Ok(()) => Vec::new(),
            Err(ConfigError::Invalid { problems }) => problems.iter().map(ToString::to_string).collect(),
            Err(e) => vec![e.to_string()],
        }
    }

    #[test]
    fn a_state_at_dev_null_is_a_config_error_and_creates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let c = config(dir.path(), "output_dir = \"feeds\"\nstate = \"/dev/null\"");
        let found = messages(&c);
        let file = dir.path().join("f.toml");
        assert_eq!(
            found,
            [format!(
                "{}:3: state: /dev/null exists and is not a regular file (it is a character device); name a file \
                 for the state database",
                file.display()
            )]
        );
    }

    #[test]
    fn a_state_that_is_a_folder_or_below_a_file_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("state.sqlite")).unwrap();
        fs::write(dir.path().join("plain"), b"x").unwrap();
        let c = config(dir.path(), "state = \"state.sqlite\"");
        assert!(messages(&c)[0].contains("state: ") && messages(&c)[0].contains("(it is a folder)"));
        let c = config(dir.path(), "state = \"plain/deeper/x.sqlite\"\noutput_dir = \"plain\"");
        let found = messages(&c);
        assert_eq!(found.len(), 2, "{found:#?}");
        assert!(found[0].contains(":2: state: ") && found[0].contains("plain is not a folder (it is a regular file)"));
        assert!(found[1].contains(":3: output_dir: ") && found[1].contains("exists and is not a folder"));
        let before: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(before.len(), 2, "nothing was created");
    }

    #[test]
    fn a_postgres_state_is_a_database_not_a_path_and_a_bad_url_is_a_problem_on_its_line() {
        let dir = tempfile::tempdir().unwrap();
        for url in [
            "postgres://fw@db.internal/feeds",
            "postgresql://fw@%2Frun%2Fpostgresql/feeds",
        ] {
            let c = config(dir.path(), &format!("state = \"{url}\""));
            assert!(matches!(c.settings.state, crate::store::Location::Postgres(_)), "{url}");
            assert_eq!(messages(&c), Vec::<String>::new());
        }
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0, "nothing was created");
        let text = "[settings]\nstate = \"postgres://fw:s3cret@db:port/feeds\"\n";
        let problems = match super::super::parse(text, &dir.path().join("f.toml")) {
            Err(ConfigError::Invalid { problems }) => problems,
            other => panic!("{other:?}"),
        };
        let state = problems.iter().find(|p| p.message.starts_with("state: ")).unwrap();
        assert_eq!(state.line, 2, "{problems:?}");
        assert!(
            state
                .message
                .starts_with("state: postgres://fw:***@db:port/feeds is not a PostgreSQL URL"),
            "{}",
            state.message
        );
        assert!(!format!("{problems:?}").contains("s3cret"));
    }

    #[test]
    fn paths_that_do_not_exist_yet_or_are_right_are_fine() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(messages(&config(dir.path(), "")), Vec::<String>::new());
        fs::create_dir(dir.path().join("feeds")).unwrap();
        fs::create_dir(dir.path().join("state")).unwrap();
        fs::write(dir.path().join("state/feedwright.sqlite"), b"").unwrap();
        assert_eq!(messages(&config(dir.path(), "")), Vec::<String>::new());
    }
}
