//! A real PostgreSQL server for the tests, started by the test binary itself: Debian's `initdb` into a temporary
//! folder, `postgres` listening only on a Unix socket in that folder (no port to collide on), trust login for the
//! user `feedwright`, fsync off. One server per test binary, started on first use; each test gets a database of
//! its own ([`database`]).
//!
//! As root (CI) the server runs as the unprivileged `postgres` user (`setpriv`), since PostgreSQL refuses root.
//! It is stopped, and its folder removed, by a small shell that waits for this process's end: it holds a pipe
//! from us and stops the server when the pipe closes, however the test binary ends. Missing binaries fail the
//! test with what to install: a test that needs PostgreSQL is never skipped.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// What a database URL names, as the app reads a `state`.
pub fn location(url: &str) -> feedwright::store::Location {
    feedwright::store::Location::parse(url, Path::new("/")).unwrap()
}

/// The store on a database URL, opened (and migrated) as the app opens it.
pub fn store(url: &str) -> feedwright::store::Store {
    feedwright::store::Store::open(&location(url)).unwrap()
}

/// The running server: its folder (socket and data) and the pipe whose end stops it.
pub struct Server {
    pub dir: PathBuf,
    _keeper: Child,
    _pipe: ChildStdin,
}

/// The server of this test binary, started on the first call.
pub fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(start)
}

/// A fresh, empty database on the server: the URL of a `state` setting.
pub fn database() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let server = server();
    let name = format!("t{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
    admin(server, &format!("CREATE DATABASE {name}"));
    server.url(&name)
}

impl Server {
    /// The URL of database `name` (through the socket in the server's folder).
    pub fn url(&self, name: &str) -> String {
        format!("postgres://feedwright@{}/{name}", encode(&self.dir))
    }
}

/// Runs `sql` in the `postgres` database, off any async runtime (the sync client refuses to run inside one).
pub fn admin(server: &Server, sql: &str) {
    let url = server.url("postgres");
    let sql = sql.to_owned();
    std::thread::spawn(move || {
        let mut client = postgres::Client::connect(&url, postgres::NoTls).expect("connect to the test server");
        client.batch_execute(&sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    })
    .join()
    .unwrap();
}

/// Runs `sql` in the database at `url`, off any async runtime.
pub fn execute(url: &str, sql: &str) {
    let (url, sql) = (url.to_owned(), sql.to_owned());
    std::thread::spawn(move || {
        let mut client = postgres::Client::connect(&url, postgres::NoTls).expect("connect to the test server");
        client.batch_execute(&sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    })
    .join()
    .unwrap();
}

/// The first column of the first row of `sql` in the database at `url`, as text.
pub fn scalar(url: &str, sql: &str) -> String {
    let (url, sql) = (url.to_owned(), sql.to_owned());
    std::thread::spawn(move || {
        let mut client = postgres::Client::connect(&url, postgres::NoTls).expect("connect to the test server");
        let row = client.query_one(&sql, &[]).unwrap_or_else(|e| panic!("{sql}: {e}"));
        row.get::<_, Option<String>>(0).unwrap_or_default()
    })
    .join()
    .unwrap()
}

fn encode(path: &Path) -> String {
    url::form_urlencoded::byte_serialize(path.to_str().unwrap().as_bytes()).collect()
}

/// The folder of `initdb` and `postgres`: on `PATH`, else the newest of Debian's `/usr/lib/postgresql/<n>/bin`.
fn bindir() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join("initdb")).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .find(|p| p.is_file())
        .and_then(|p| std::fs::canonicalize(p).ok());
    let debian = || {
        let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let version = e.file_name().to_str()?.parse().ok()?;
                let bin = e.path().join("bin");
                bin.join("initdb").is_file().then_some((version, bin.join("initdb")))
            })
            .collect();
        versions.sort();
        versions.pop().map(|(_, initdb)| initdb)
    };
    let initdb = on_path.or_else(debian).unwrap_or_else(|| {
        panic!(
            "PostgreSQL's initdb was not found (on PATH or in /usr/lib/postgresql/*/bin): these tests run a real \
             server; install it with `apt-get install postgresql`"
        )
    });
    let bin = initdb.parent().unwrap().to_owned();
    assert!(
        bin.join("postgres").is_file(),
        "{} has initdb but no postgres: install `postgresql`",
        bin.display()
    );
    bin
}

fn is_root() -> bool {
    let out = Command::new("id").arg("-u").output().expect("run id -u");
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

fn start() -> Server {
    let bin = bindir();
    let dir = tempfile::Builder::new()
        .prefix("feedwright-pg-")
        .tempdir()
        .unwrap()
        .keep();
    // As root, everything runs as `postgres`; otherwise as ourselves.
    let as_user: Vec<String> = if is_root() {
        let chown = Command::new("chown")
            .args(["postgres:postgres"])
            .arg(&dir)
            .status()
            .expect("run chown");
        assert!(
            chown.success(),
            "chown postgres {}: is the postgresql package installed?",
            dir.display()
        );
        ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"]
            .map(String::from)
            .to_vec()
    } else {
        Vec::new()
    };
    let data = dir.join("data");
    let mut initdb = Command::new(as_user.first().map_or(bin.join("initdb").into_os_string(), Into::into));
    initdb.args(as_user.iter().skip(1));
    if !as_user.is_empty() {
        initdb.arg(bin.join("initdb"));
    }
    let out = initdb
        .args([
            "--auth=trust",
            "--username=feedwright",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            "-D",
        ])
        .arg(&data)
        .output()
        .expect("run initdb");
    assert!(
        out.status.success(),
        "initdb -D {} failed: {}{}",
        data.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The keeper: starts the server, waits for our end of its stdin to close, stops the server, removes the folder.
    let script = r#"dir=$1; shift
"$@" -D "$dir/data" -k "$dir" -c listen_addresses= -c fsync=off -c synchronous_commit=off \
  -c full_page_writes=off -c max_connections=200 >"$dir/server.log" 2>&1 &
pid=$!
cat >/dev/null
kill -INT "$pid" 2>/dev/null
wait "$pid"
rm -rf "$dir""#;
    let mut keeper = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg("sh")
        .arg(&dir)
        .args(&as_user)
        .arg(bin.join("postgres"))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run sh");
    let pipe = keeper.stdin.take().unwrap();
    let server = Server {
        dir,
        _keeper: keeper,
        _pipe: pipe,
    };
    let socket = server.dir.join(".s.PGSQL.5432");
    let start = Instant::now();
    let url = server.url("postgres");
    loop {
        let up = socket.exists()
            && std::thread::spawn({
                let url = url.clone();
                move || postgres::Client::connect(&url, postgres::NoTls).is_ok()
            })
            .join()
            .unwrap();
        if up {
            return server;
        }
        if start.elapsed() > Duration::from_secs(60) {
            let mut log = String::new();
            let _ = std::fs::File::open(server.dir.join("server.log")).map(|mut f| f.read_to_string(&mut log));
            panic!("the test PostgreSQL server did not come up in 60 s; its log:\n{log}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Ends every feedwright session on the database of `url` (as a server restart or a network cut would).
pub fn terminate_sessions(url: &str) {
    let name = url.rsplit('/').next().unwrap();
    admin(
        server(),
        &format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = '{name}' AND application_name = 'feedwright'"
        ),
    );
}
