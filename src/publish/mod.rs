//! Publishing: puts rendered feeds on disk so that a reader never sees a half-written file.
//!
//! A file is written to a temporary name in the same folder, synced, then renamed over the old one (rename is
//! atomic within a file system). A file whose bytes would not change is left alone, so its mtime, and any ETag a
//! web server derives from it, stay the same. A process killed between create and rename leaves its temporary
//! file behind; the next run, once it holds the state lock (so no writer is alive), removes those of exactly this
//! naming pattern with [`remove_stale_temp_files`]. The pattern lives here alone ([`temp_name`], [`is_temp_of`]).
//!
//! The store keeps a copy of every feed as written, with its [`etag`], so that `serve` on any machine sharing the
//! store answers the same bytes (see `pipeline::feed`).
//!
//! Around the files: [`opml`] lists every feed and [`websub`] tells a hub when a feed changed. Answering for them
//! over HTTP is `crate::serve`'s job, not publishing's.

pub mod opml;
pub mod websub;

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::config::Config;

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("cannot write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot remove the stale temporary file {}", path.display())]
    RemoveTemp {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot list {} for stale temporary files", path.display())]
    ListTemp {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The temporary name [`write_atomic`] gives `name` in process `pid`: hidden, and never a name a feed could have.
fn temp_name(name: &str, pid: u32) -> String {
    format!(".{name}.{pid}.tmp")
}

/// Whether `file_name` is exactly [`temp_name`]`(name, pid)` for one of `names` and some pid.
fn is_temp_of(file_name: &str, names: &[String]) -> bool {
    let Some((name, pid)) = file_name
        .strip_prefix('.')
        .and_then(|rest| rest.strip_suffix(".tmp"))
        .and_then(|rest| rest.rsplit_once('.'))
    else {
        return false;
    };
    !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()) && names.iter().any(|n| n == name)
}

/// The names of every file this config publishes into its output folder: each feed (sources' and merges') in each
/// format, and the OPML.
pub fn file_names(config: &Config) -> Vec<String> {
    let feeds = config.feeds().flat_map(|feed| {
        config.settings.formats.iter().filter_map(move |format| {
            let path = config.settings.feed_path(feed.id(), *format);
            path.file_name()?.to_str().map(str::to_owned)
        })
    });
    feeds.chain([opml::FILE_NAME.to_owned()]).collect()
}

/// Removes the temporary files an interrupted [`write_atomic`] left in `dir` for any of `names`, and nothing else
/// (only regular files named exactly `.<name>.<digits>.tmp`). Call it only while holding the state lock, so no
/// writer of these files is alive. Returns each file removed, or why it could not be; a missing folder has none.
pub fn remove_stale_temp_files(dir: &Path, names: &[String]) -> Vec<Result<PathBuf, PublishError>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(source) => {
            return vec![Err(PublishError::ListTemp {
                path: dir.to_owned(),
                source,
            })];
        }
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let matches = entry.file_name().to_str().is_some_and(|n| is_temp_of(n, names));
        // `file_type` does not follow symlinks: a link or folder of that name is not ours, and stays.
        if !matches || !entry.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        let path = entry.path();
        out.push(match fs::remove_file(&path) {
            Ok(()) => Ok(path),
            Err(source) => Err(PublishError::RemoveTemp { path, source }),
        });
    }
    out
}

/// The strong ETag (quoted) of a feed's bytes: the first 128 bits of their SHA-256 in hex. A tag of the bytes alone,
/// so every copy of a feed (a file on any machine, the store's) has the same one.
pub fn etag(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let hash = Sha256::digest(bytes);
    format!(
        "\"{}\"",
        hash[..16].iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

/// Writes `bytes` to `path` atomically. Returns `false` when the file already held exactly these bytes.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<bool, PublishError> {
    write_atomic_all(&[(path, bytes)]).pop().expect("one result per file")
}

/// [`write_atomic`] for several files at once, one result per file in order: each is written to its temporary
/// name, synced and renamed, and then each folder is synced once for all the renames into it (a source's three
/// feeds cost four syncs, not six).
pub fn write_atomic_all(files: &[(&Path, &[u8])]) -> Vec<Result<bool, PublishError>> {
    let fail = |path: &Path, source| PublishError::Write {
        path: path.to_owned(),
        source,
    };
    let folder = |path: &Path| {
        path.parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_owned()
    };
    let mut results: Vec<Result<bool, PublishError>> = files
        .iter()
        .map(|&(path, bytes)| {
            if fs::read(path).is_ok_and(|old| old == bytes) {
                return Ok(false);
            }
            let dir = folder(path);
            fs::create_dir_all(&dir).map_err(|e| fail(path, e))?;
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("feed");
            let tmp = dir.join(temp_name(name, std::process::id()));
            let result = (|| {
                let mut file = File::create(&tmp)?;
                file.write_all(bytes)?;
                file.sync_all()?;
                fs::rename(&tmp, path)
            })();
            if result.is_err() {
                let _ = fs::remove_file(&tmp);
            }
            result.map(|()| true).map_err(|e| fail(path, e))
        })
        .collect();
    // A rename is durable only once its folder's entry is synced.
    let mut synced: Vec<(PathBuf, Option<std::io::Error>)> = Vec::new();
    for (result, &(path, _)) in results.iter_mut().zip(files) {
        if !matches!(result, Ok(true)) {
            continue;
        }
        let dir = folder(path);
        let at = match synced.iter().position(|(d, _)| *d == dir) {
            Some(at) => at,
            None => {
                let outcome = File::open(&dir).and_then(|d| d.sync_all()).err();
                synced.push((dir, outcome));
                synced.len() - 1
            }
        };
        if let Some(e) = &synced[at].1 {
            // Each file's error is its own copy, the OS error number kept (out of files is waited out).
            let copy = e.raw_os_error().map_or_else(
                || std::io::Error::new(e.kind(), e.to_string()),
                std::io::Error::from_raw_os_error,
            );
            *result = Err(fail(path, copy));
        }
    }
    results
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_replaces_and_leaves_identical_files_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("feeds/a.atom");
        assert!(write_atomic(&path, b"one").unwrap());
        assert_eq!(fs::read(&path).unwrap(), b"one");
        let mtime = fs::metadata(&path).unwrap().modified().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(!write_atomic(&path, b"one").unwrap());
        assert_eq!(fs::metadata(&path).unwrap().modified().unwrap(), mtime);
        assert!(write_atomic(&path, b"two").unwrap());
        assert_eq!(fs::read(&path).unwrap(), b"two");
        let leftovers: Vec<_> = fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary files stay behind");
    }

    #[test]
    fn a_temp_file_left_by_a_killed_write_is_removed_and_look_alikes_stay() {
        let dir = tempfile::tempdir().unwrap();
        let names = vec!["wic-news.atom".to_owned(), "index.opml".to_owned()];
        let leftover = dir.path().join(temp_name("wic-news.atom", 4242));
        fs::write(&leftover, vec![b'x'; 512 << 10]).unwrap();
        let opml_leftover = dir.path().join(".index.opml.7.tmp");
        fs::write(&opml_leftover, b"<opml").unwrap();
        let survivors = [
            "wic-news.atom",
            ".wic-news.atom.tmp",
            ".wic-news.atom..tmp",
            ".wic-news.atom.12a.tmp",
            ".wic-news.atom.-1.tmp",
            "wic-news.atom.123.tmp",
            ".wic-news.atom.123.tmp.bak",
            ".wic-news.atom.123.TMP",
            ".other.atom.123.tmp",
            ".wic-news.rss.123.tmp",
            ".wic-news.123.tmp",
            "notes.txt",
        ];
        for name in survivors {
            fs::write(dir.path().join(name), b"keep").unwrap();
        }
        fs::create_dir(dir.path().join(".wic-news.atom.99.tmp")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("notes.txt"), dir.path().join(".wic-news.atom.98.tmp")).unwrap();

        let removed: Vec<PathBuf> = remove_stale_temp_files(dir.path(), &names)
            .into_iter()
            .map(Result::unwrap)
            .collect();
        let mut removed_sorted = removed.clone();
        removed_sorted.sort();
        let mut expected = vec![leftover.clone(), opml_leftover.clone()];
        expected.sort();
        assert_eq!(removed_sorted, expected);
        assert!(!leftover.exists() && !opml_leftover.exists());
        for name in survivors {
            assert_eq!(fs::read(dir.path().join(name)).unwrap(), b"keep", "{name} must stay");
        }
        assert!(dir.path().join(".wic-news.atom.99.tmp").is_dir());
        assert!(dir.path().join(".wic-news.atom.98.tmp").is_symlink());
        assert!(remove_stale_temp_files(&dir.path().join("missing"), &names).is_empty());
    }

    #[test]
    fn the_temp_name_write_atomic_uses_is_the_one_cleanup_recognises() {
        let names = vec!["a.json".to_owned()];
        assert!(is_temp_of(&temp_name("a.json", std::process::id()), &names));
        assert!(!is_temp_of(&temp_name("b.json", 1), &names));
    }
}
