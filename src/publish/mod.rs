//! Publishing: puts rendered feeds on disk so that a reader never sees a half-written file.
//!
//! A file is written to a temporary name in the same folder, synced, then renamed over the old one (rename is
//! atomic within a file system). A file whose bytes would not change is left alone, so its mtime, and any ETag a
//! web server derives from it, stay the same.
//!
//! Around the files: [`opml`] lists every feed and [`websub`] tells a hub when a feed changed. Answering for them
//! over HTTP is `crate::serve`'s job, not publishing's.

pub mod opml;
pub mod websub;

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("cannot write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Writes `bytes` to `path` atomically. Returns `false` when the file already held exactly these bytes.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<bool, PublishError> {
    let fail = |source| PublishError::Write {
        path: path.to_owned(),
        source,
    };
    if fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok(false);
    }
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(fail)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("feed");
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        // The rename itself is durable only once the directory entry is synced.
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(fail)?;
    Ok(true)
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
}
