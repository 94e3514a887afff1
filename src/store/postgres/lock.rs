//! The writer lock of a PostgreSQL state: a session advisory lock, `(APP_KEY, WRITER)`, held by a connection of
//! its own for as long as [`WriterLock`] lives. The server drops it when that connection ends, even when the
//! process is killed (the socket closes), like the OS drops SQLite's file lock.

use super::conn::Conn;
use super::schema::{APP_KEY, WRITER};
use super::{Failure, Postgres, SETUP, failure};
use crate::store::{DbUrl, StoreError};

pub struct WriterLock {
    conn: Conn,
    shown: std::path::PathBuf,
}

impl WriterLock {
    /// Connects, without taking the lock yet.
    pub fn connect(url: &DbUrl) -> Result<WriterLock, StoreError> {
        let Postgres { conn, shown } = Postgres::connect(url, SETUP)?;
        Ok(WriterLock { conn, shown })
    }

    /// Takes the lock if no other session holds it.
    pub fn try_lock(&self) -> Result<bool, StoreError> {
        self.conn
            .call(|s| {
                s.transaction(false, |tx| {
                    let row = tx.query_one("SELECT pg_try_advisory_lock($1, $2)", &[&APP_KEY, &WRITER])?;
                    Ok(row.try_get::<_, bool>(0)?)
                })
            })
            .map_err(|e: Failure| failure(&self.shown, e))
    }
}
