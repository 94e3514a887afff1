//! The connection's own thread: the sync `postgres` client blocks on a small runtime of its own, which tokio
//! forbids inside the async runtime's threads, so the client lives on a `std::thread` that runs one job at a time
//! from a channel and answers each over a channel of its own. A store call sends its job and waits for the answer:
//! one short blocking wait, as a SQLite call waits for its fsync.
//!
//! Jobs get a [`Session`]: the client, reconnected if the server dropped it (a restarted database costs the
//! calls made while it was down, not the `watch` process), and a cache of prepared statements per connection.
//! Each job runs in one transaction ([`Session::transaction`]).

use std::collections::HashMap;
use std::sync::mpsc;

use postgres::types::ToSql;
use postgres::{Client, NoTls, Row, Statement};

use super::Failure;

type Job = Box<dyn FnOnce(&mut Session) + Send>;

/// A client on its own thread. Dropping it closes the connection (the thread ends with the channel).
pub(super) struct Conn {
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Conn {
    /// Connects (on the connection's thread) with `config`; `setup` runs once on each new connection.
    pub(super) fn open(config: postgres::Config, setup: &'static str) -> Result<Conn, Failure> {
        let (jobs, inbox) = mpsc::channel::<Job>();
        let (ready, connected) = mpsc::sync_channel(1);
        let thread = std::thread::Builder::new()
            .name("feedwright-postgres".into())
            .spawn(move || {
                let mut session = Session {
                    config,
                    setup,
                    client: None,
                    statements: HashMap::new(),
                };
                let first = session.client().map(|_| ());
                let ok = first.is_ok();
                let _ = ready.send(first);
                if ok {
                    for job in inbox {
                        job(&mut session);
                    }
                }
            })
            .map_err(|e| Failure::Thread(e.to_string()))?;
        let conn = Conn {
            jobs: Some(jobs),
            thread: Some(thread),
        };
        connected
            .recv()
            .map_err(|_| Failure::Thread("the connection thread stopped".into()))??;
        Ok(conn)
    }

    /// Runs `job` on the connection's thread and waits for its answer.
    pub(super) fn call<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Session) -> Result<T, Failure> + Send + 'static,
    ) -> Result<T, Failure> {
        let stopped = || Failure::Thread("the connection thread stopped".into());
        let (answer, answered) = mpsc::sync_channel(1);
        let jobs = self.jobs.as_ref().ok_or_else(stopped)?;
        jobs.send(Box::new(move |session: &mut Session| {
            let _ = answer.send(job(session));
        }))
        .map_err(|_| stopped())?;
        answered.recv().map_err(|_| stopped())?
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        drop(self.jobs.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// What a job works with, on the connection's thread.
pub(super) struct Session {
    config: postgres::Config,
    setup: &'static str,
    client: Option<Client>,
    statements: HashMap<String, Statement>,
}

impl Session {
    /// The client, connected anew when there is none or the server closed it.
    fn client(&mut self) -> Result<&mut Client, Failure> {
        if self.client.as_ref().is_none_or(Client::is_closed) {
            self.statements.clear();
            self.client = None;
            let mut client = self.config.connect(NoTls).map_err(Failure::Connect)?;
            client.batch_execute(self.setup)?;
            self.client = Some(client);
        }
        Ok(self.client.as_mut().expect("connected above"))
    }

    /// Runs `f` in one transaction: all of it, or nothing. `read` starts a read-only, repeatable-read one (a
    /// load's queries see one snapshot). A failure that is not an SQL error (the socket, a terminated session)
    /// drops the connection, so the next call connects again.
    pub(super) fn transaction<T>(
        &mut self,
        read: bool,
        f: impl FnOnce(&mut Tx<'_>) -> Result<T, Failure>,
    ) -> Result<T, Failure> {
        self.client()?;
        let out = self.run(read, f);
        if let Err(Failure::Sql(e)) = &out
            && e.as_db_error().is_none_or(|db| db.severity() != "ERROR")
        {
            self.client = None;
        }
        out
    }

    fn run<T>(&mut self, read: bool, f: impl FnOnce(&mut Tx<'_>) -> Result<T, Failure>) -> Result<T, Failure> {
        let Session { client, statements, .. } = self;
        let client = client.as_mut().expect("connected by the caller");
        let mut builder = client.build_transaction();
        if read {
            builder = builder
                .read_only(true)
                .isolation_level(postgres::IsolationLevel::RepeatableRead);
        }
        let mut tx = Tx {
            tx: builder.start()?,
            statements,
        };
        let out = f(&mut tx)?;
        tx.tx.commit()?;
        Ok(out)
    }
}

/// A transaction with the connection's prepared statements.
pub(super) struct Tx<'a> {
    tx: postgres::Transaction<'a>,
    statements: &'a mut HashMap<String, Statement>,
}

pub(super) type Params<'p> = [&'p (dyn ToSql + Sync)];

impl Tx<'_> {
    /// `sql` prepared once per connection.
    fn prepared(&mut self, sql: &str) -> Result<Statement, Failure> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.tx.prepare(sql)?;
        self.statements.insert(sql.to_owned(), s.clone());
        Ok(s)
    }

    pub(super) fn query(&mut self, sql: &str, params: &Params<'_>) -> Result<Vec<Row>, Failure> {
        let s = self.prepared(sql)?;
        Ok(self.tx.query(&s, params)?)
    }

    pub(super) fn query_opt(&mut self, sql: &str, params: &Params<'_>) -> Result<Option<Row>, Failure> {
        let s = self.prepared(sql)?;
        Ok(self.tx.query_opt(&s, params)?)
    }

    pub(super) fn query_one(&mut self, sql: &str, params: &Params<'_>) -> Result<Row, Failure> {
        let s = self.prepared(sql)?;
        Ok(self.tx.query_one(&s, params)?)
    }

    pub(super) fn execute(&mut self, sql: &str, params: &Params<'_>) -> Result<u64, Failure> {
        let s = self.prepared(sql)?;
        Ok(self.tx.execute(&s, params)?)
    }

    /// Statements without parameters (migrations), unprepared.
    pub(super) fn batch(&mut self, sql: &str) -> Result<(), Failure> {
        Ok(self.tx.batch_execute(sql)?)
    }
}
