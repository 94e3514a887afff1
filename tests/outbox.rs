//! The outbox lock (`Backend::lock_outbox`): which process drains a notify target. On PostgreSQL (a real server,
//! `common/pg.rs`) one connection at a time holds a target, another is refused it, and a connection that ends
//! (a killed worker) or is replaced (the server dropped it) holds nothing any more. SQLite, one process under its
//! state lock, grants it at once. `tests/workers.rs` runs the real binary: workers deliver each event once.

mod common;

use std::path::Path;

use feedwright::store::{Location, Store};

use common::pg;

fn open(url: &str) -> Store {
    Store::open(&Location::parse(url, Path::new("/")).unwrap()).unwrap()
}

#[test]
fn one_connection_at_a_time_holds_a_target_and_one_that_closed_holds_nothing() {
    let url = pg::database();
    let (mut a, mut b) = (open(&url), open(&url));
    assert!(a.lock_outbox("webhook http://hook/").unwrap());
    assert!(a.holds_outbox("webhook http://hook/").unwrap());
    assert!(
        !b.lock_outbox("webhook http://hook/").unwrap(),
        "another worker drains it"
    );
    assert!(!b.holds_outbox("webhook http://hook/").unwrap());
    assert!(b.lock_outbox("command notify-send").unwrap(), "another target is free");
    assert!(!a.lock_outbox("command notify-send").unwrap());

    a.unlock_outbox("webhook http://hook/").unwrap();
    assert!(!a.holds_outbox("webhook http://hook/").unwrap());
    assert!(b.lock_outbox("webhook http://hook/").unwrap(), "given back");
    assert!(!a.lock_outbox("webhook http://hook/").unwrap());

    // A worker that ends (as a killed one does: its socket closes) holds nothing.
    drop(b);
    let mut c = open(&url);
    let free = (0..100).any(|_| {
        let free = c.lock_outbox("webhook http://hook/").unwrap();
        if !free {
            // The server ends the session as it reads the closed socket: at once, but not within our call.
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        free
    });
    assert!(free, "the closed connection's lock was dropped with it");
    assert!(c.lock_outbox("command notify-send").unwrap());
}

#[test]
fn a_target_taken_twice_is_given_back_by_one_unlock() {
    let url = pg::database();
    let (mut a, mut b) = (open(&url), open(&url));
    assert!(a.lock_outbox("hook").unwrap());
    assert!(a.lock_outbox("hook").unwrap(), "the same session may take it again");
    a.unlock_outbox("hook").unwrap();
    assert!(b.lock_outbox("hook").unwrap(), "nothing left held");
    a.unlock_outbox("hook").unwrap();
    assert!(
        b.holds_outbox("hook").unwrap(),
        "unlocking what another holds does nothing"
    );
}

#[test]
fn a_replaced_connection_has_lost_its_target() {
    let url = pg::database();
    let mut a = open(&url);
    assert!(a.lock_outbox("hook").unwrap());
    let name = url.rsplit('/').next().unwrap();
    pg::admin(
        pg::server(),
        &format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = '{name}' AND application_name = 'feedwright'"
        ),
    );
    // The call that finds the connection gone may fail; the next one connects again, without the lock.
    if let Ok(held) = a.holds_outbox("hook") {
        assert!(!held);
    }
    assert!(!a.holds_outbox("hook").unwrap(), "a new session holds nothing");
    let mut b = open(&url);
    assert!(b.lock_outbox("hook").unwrap(), "free for another worker");
    assert!(!a.lock_outbox("hook").unwrap());
}

#[test]
fn sqlite_grants_the_outbox_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&Location::File(dir.path().join("state.sqlite"))).unwrap();
    assert!(store.lock_outbox("hook").unwrap());
    assert!(store.lock_outbox("hook").unwrap());
    assert!(store.holds_outbox("hook").unwrap());
    store.unlock_outbox("hook").unwrap();
}
