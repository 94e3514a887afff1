//! The outbox lock (`Backend::lock_outbox`): which process drains a notify target. On PostgreSQL (a real server,
//! `common/pg.rs`) one connection at a time holds a target, another is refused it, and a connection that ends
//! (a killed worker) or is replaced (the server dropped it) holds nothing any more. SQLite, one process under its
//! state lock, grants it at once. Then `notify::deliver` with it, against a webhook on 127.0.0.1: a target another
//! worker holds is left to it, and that worker also sends what was queued while it drained. `tests/workers.rs`
//! runs the real binary: workers deliver each event once.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use feedwright::config::{Notify, Target};
use feedwright::store::{Location, Store};
use wiremock::MockServer;

use common::pg;

#[test]
fn one_connection_at_a_time_holds_a_target_and_one_that_closed_holds_nothing() {
    let url = pg::database();
    let (mut a, mut b) = (pg::store(&url), pg::store(&url));
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
    let mut c = pg::store(&url);
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
    let (mut a, mut b) = (pg::store(&url), pg::store(&url));
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
    let mut a = pg::store(&url);
    assert!(a.lock_outbox("hook").unwrap());
    pg::terminate_sessions(&url);
    // The call that finds the connection gone may fail; the next one connects again, without the lock.
    if let Ok(held) = a.holds_outbox("hook") {
        assert!(!held);
    }
    assert!(!a.holds_outbox("hook").unwrap(), "a new session holds nothing");
    let mut b = pg::store(&url);
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

/// A webhook on 127.0.0.1 answering each POST after `delay`, and a target sending it every event.
async fn hook(delay: Duration) -> (MockServer, Notify) {
    let server = common::slow_hook(delay).await;
    let target = Notify {
        target: Target::Webhook(format!("{}/hook", server.uri()).parse().unwrap()),
        events: vec!["new_items".into(), "broken".into(), "recovered".into()],
    };
    (server, target)
}

/// Queues a `broken` event of `source` for `target`, as a worker's run would.
fn queue(url: &str, target: &Notify, source: &str) {
    pg::execute(
        url,
        &format!(
            "INSERT INTO outbox (target, event, created) VALUES ('{}', \
             '{{\"event\":\"broken\",\"source\":\"{source}\",\"reason\":\"no links\"}}', '2026-01-01T00:00:00+00:00')",
            target.key()
        ),
    );
}

/// The sources of the events `hook` received, in order.
async fn received(hook: &MockServer) -> Vec<String> {
    hook.received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| {
            serde_json::from_slice::<serde_json::Value>(&r.body).unwrap()["source"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

fn queued(url: &str) -> String {
    pg::scalar(url, "SELECT count(*)::text FROM outbox")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_target_another_worker_is_draining_is_left_to_it() {
    let url = pg::database();
    let store = Mutex::new(pg::store(&url));
    let mut other = pg::store(&url);
    let (server, target) = hook(Duration::ZERO).await;
    let client = reqwest::Client::new();
    queue(&url, &target, "a");

    assert!(other.lock_outbox(&target.key()).unwrap());
    let sent = feedwright::notify::deliver(std::slice::from_ref(&target), &client, &store).await;
    assert_eq!(sent.unwrap(), 0, "left to the worker that holds it");
    assert!(received(&server).await.is_empty());
    assert_eq!(queued(&url), "1", "its event stays queued");

    other.unlock_outbox(&target.key()).unwrap();
    let sent = feedwright::notify::deliver(std::slice::from_ref(&target), &client, &store).await;
    assert_eq!(sent.unwrap(), 1);
    assert_eq!(received(&server).await, ["a"]);
    assert_eq!(queued(&url), "0");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_event_queued_while_another_worker_drains_is_sent_by_that_worker() {
    let url = pg::database();
    let store = Arc::new(Mutex::new(pg::store(&url)));
    let mut other = pg::store(&url);
    let (server, target) = hook(Duration::from_secs(1)).await;
    queue(&url, &target, "a");

    let drain = tokio::spawn({
        let (store, target) = (store.clone(), target.clone());
        async move { feedwright::notify::deliver(&[target], &reqwest::Client::new(), &store).await }
    });
    while received(&server).await.is_empty() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Another worker's run queues an event and finds the target taken: it leaves it.
    queue(&url, &target, "b");
    assert!(!other.lock_outbox(&target.key()).unwrap());
    assert_eq!(
        drain.await.unwrap().unwrap(),
        2,
        "the drain looked again after giving the target back"
    );
    assert_eq!(received(&server).await, ["a", "b"]);
    assert_eq!(queued(&url), "0");
}
