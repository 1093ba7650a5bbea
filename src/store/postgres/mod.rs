//! The shared store: stories, versions and clusters in PostgreSQL, so that
//! several copydesk processes (replicas) serve one index with no
//! coordination besides the database.
//!
//! The database is the authority. Each replica keeps the matching index in
//! memory as the embedded backends do, as a cache that follows the
//! database: every committed unit of work appends a row to a change log
//! (`copydesk_changes`: which stories and clusters it wrote), and before
//! any decision or answer a replica puts in what the rows after its last
//! one name, as they were decided (`follow.rs`, never re-deciding). A
//! story ingested through replica A is therefore matched by replica B on
//! its next ingest.
//!
//! One ingest (or batch) is one transaction:
//! 1. lock the story's version keys (its LSH band keys and headline key,
//!    hashed to a bigint) with `pg_advisory_xact_lock`, in sorted order so
//!    that two writers never wait on each other in a cycle; a boilerplate
//!    key held by many stories is not locked (see
//!    [`crate::dedup::HOT_KEY_STORIES`]);
//! 2. follow the log, so the index holds every version committed under
//!    those keys;
//! 3. decide and write the story, its version and the clusters changed;
//! 4. in one round trip: take the log lock, check that no unit committed
//!    since step 2 wrote the same stories or clusters (two stories joining
//!    one cluster through different keys), append the log row and commit;
//!    then answer.
//!
//! A conflict at step 4, a serialization failure or a deadlock (40001,
//! 40P01) rolls back, puts the database's state of what the unit touched
//! back into the index, and tries again, a bounded number of times.
//!
//! The log lock is held from the check to the commit only, so rows get
//! their sequence numbers in commit order and a replica that has read row
//! `n` has seen every row before it. Version keys are what serialize
//! ingests of one story; the log lock serializes only the last
//! statements and the commit, which the server runs without waiting on
//! this process between them.

mod follow;
mod records;
mod schema;

use std::collections::BTreeSet;
use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio::runtime::Handle;
use tokio::sync::watch;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::Type;
use tokio_postgres::{Client, NoTls};

use super::engine;
use super::versions::VersionRecord;
use super::{
    ClusterDetail, ClusterPage, IndexStats, OpenError, OpenReport, Store, StoreError, WriteState,
    chain,
};
use crate::dedup::{ClusterChanges, ClusterId, Index, IndexConfig, IngestReport, Placement};
use crate::story::{PreparedStory, StoredStory};
use records::{Param, PgRecords};
use schema::failed;

pub use schema::PG_SCHEMA_VERSION;

/// The first key of every advisory lock copydesk takes with two keys
/// ("cdk1"); the two-key form never meets the one-key form, which the
/// version keys use.
const LOCK_CLASS: i32 = 0x6364_6b31;
/// Second key: one replica at a time makes or checks the tables.
const MIGRATION_LOCK: i32 = 1;
/// Second key: held from the conflict check to the commit.
const LOG_LOCK: i32 = 2;

/// Tries of one unit of work before the caller is told to retry.
const MAX_ATTEMPTS: u32 = 8;

/// How long change-log rows are kept; a replica that has read none for
/// longer rebuilds its index from the tables.
const CHANGE_LOG_KEPT_SECONDS: f64 = 600.0;
/// Every this many log rows, the writer of one prunes the log.
const PRUNE_EVERY: i64 = 256;

/// Settings of the shared store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PostgresOptions {
    /// Keep evicted stories readable (see `DurableOptions`).
    pub keep_evicted: bool,
    /// Most connections this replica holds.
    pub pool_size: usize,
}

impl Default for PostgresOptions {
    fn default() -> PostgresOptions {
        PostgresOptions {
            keep_evicted: false,
            pool_size: 8,
        }
    }
}

/// Stories and clusters in PostgreSQL; the matching index in memory,
/// following the database.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    follower: Mutex<Follower>,
    config: IndexConfig,
    options: PostgresOptions,
    handle: Handle,
    writes: Arc<watch::Sender<WriteState>>,
    /// The database, without a password, for logs.
    target: String,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

/// This replica's index and how far it has followed the log.
#[derive(Debug)]
struct Follower {
    index: Index,
    /// The last log row put into the index.
    applied: i64,
    /// Rows after `applied` that this replica wrote itself: what they
    /// name is in the index already, so following skips them.
    own: BTreeSet<i64>,
    /// The index cannot be trusted (a unit failed and what it touched
    /// could not be read back): rebuilt before the next use.
    stale: bool,
}

/// What one unit of work wrote, as its log row names it.
#[derive(Debug, Default)]
struct Touched {
    stories: BTreeSet<String>,
    clusters: BTreeSet<ClusterId>,
    aliases: bool,
}

impl Touched {
    fn is_empty(&self) -> bool {
        self.stories.is_empty() && self.clusters.is_empty() && !self.aliases
    }
}

/// How a try of a unit of work ended.
enum Tried<T> {
    Done(T),
    /// Another writer committed to what this unit wrote: roll back, try
    /// again.
    Conflict,
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user@host/db`),
    /// makes or checks the tables, and builds the index from them.
    pub async fn open(
        url: &str,
        config: IndexConfig,
        options: PostgresOptions,
    ) -> Result<(PostgresStore, OpenReport), OpenError> {
        let started = Instant::now();
        let mut pg = tokio_postgres::Config::from_str(url).map_err(|e| OpenError::Database {
            target: "(the store address)".into(),
            source: Box::new(e),
        })?;
        pg.connect_timeout(Duration::from_secs(5));
        pg.application_name("copydesk");
        let target = describe(&pg);
        let manager = Manager::from_config(
            pg,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let database = |source: EngineErrorSource| OpenError::Database {
            target: target.clone(),
            source,
        };
        let pool = Pool::builder(manager)
            .max_size(options.pool_size.max(2))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(10)))
            .create_timeout(Some(Duration::from_secs(5)))
            .build()
            .map_err(|e| database(Box::new(e)))?;
        {
            let mut client = pool.get().await.map_err(|e| database(Box::new(e)))?;
            schema::migrate(&mut client, &target).await?;
        }
        let inner = Arc::new(Inner {
            pool,
            follower: Mutex::new(Follower {
                index: Index::new(config),
                applied: 0,
                own: BTreeSet::new(),
                stale: true,
            }),
            config,
            options,
            handle: Handle::current(),
            writes: Arc::new(watch::channel(WriteState::Accepting).0),
            target: target.clone(),
        });
        let opening = Arc::clone(&inner);
        let (stories, clusters) = tokio::task::spawn_blocking(move || {
            let mut follower = opening.lock();
            opening.rebuild(&mut follower)?;
            Ok::<_, StoreError>((follower.index.len(), follower.index.cluster_count()))
        })
        .await
        .map_err(|e| database(Box::new(e)))?
        .map_err(|e| database(Box::new(e)))?;
        Ok((
            PostgresStore { inner },
            OpenReport {
                stories,
                clusters,
                seconds: started.elapsed().as_secs_f64(),
                damaged: Vec::new(),
            },
        ))
    }

    /// The database, without a password.
    pub fn target(&self) -> &str {
        &self.inner.target
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Inner) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || work(&inner))
            .await
            .map_err(StoreError::Task)?
    }
}

type EngineErrorSource = Box<dyn std::error::Error + Send + Sync + 'static>;

/// `user@host:port/dbname`, for logs (never the password).
fn describe(pg: &tokio_postgres::Config) -> String {
    let host = pg
        .get_hosts()
        .first()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(name) => name.clone(),
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .unwrap_or_default();
    let port = pg.get_ports().first().copied().unwrap_or(5432);
    format!(
        "postgres://{}@{host}:{port}/{}",
        pg.get_user().unwrap_or(""),
        pg.get_dbname().unwrap_or("")
    )
}

/// Whether `err` is PostgreSQL telling a writer to try again.
fn is_retryable(err: &StoreError) -> bool {
    let StoreError::Engine { source, .. } = err else {
        return false;
    };
    source
        .downcast_ref::<tokio_postgres::Error>()
        .and_then(tokio_postgres::Error::code)
        .is_some_and(|code| {
            *code == SqlState::T_R_SERIALIZATION_FAILURE || *code == SqlState::T_R_DEADLOCK_DETECTED
        })
}

/// Whether `err` says the database cannot be reached (rather than that it
/// refused one statement).
fn is_unreachable(err: &StoreError) -> bool {
    let StoreError::Engine { source, .. } = err else {
        return false;
    };
    match source.downcast_ref::<tokio_postgres::Error>() {
        Some(pg) => pg.is_closed() || pg.code().is_none(),
        // Not a statement's error: the pool could not connect.
        None => source
            .downcast_ref::<deadpool_postgres::PoolError>()
            .is_some(),
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, Follower> {
        // A panic while the index was held leaves it suspect: rebuild.
        self.follower.lock().unwrap_or_else(|poisoned| {
            let mut follower = poisoned.into_inner();
            follower.stale = true;
            follower
        })
    }

    /// A pooled connection, waited for on this blocking thread.
    fn connection(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.handle
            .block_on(self.pool.get())
            .map_err(|e| StoreError::engine("connect to the database", e))
    }

    /// Notes whether the database answered, for health.
    fn observe<T>(&self, result: &Result<T, StoreError>) {
        match result {
            Err(err) if is_unreachable(err) => {
                self.writes.send_if_modified(|state| {
                    let changed = *state == WriteState::Accepting;
                    if changed {
                        tracing::warn!(cause = %chain(err), "the database does not answer: refusing work until it does");
                    }
                    *state = WriteState::Refusing("the database does not answer".into());
                    changed
                });
            }
            Err(_) => {}
            Ok(_) => {
                self.writes.send_if_modified(|state| {
                    let changed = *state != WriteState::Accepting;
                    if changed {
                        tracing::info!("the database answers again");
                    }
                    *state = WriteState::Accepting;
                    changed
                });
            }
        }
    }

    /// The index, up to date with the database.
    fn follow(&self) -> Result<MutexGuard<'_, Follower>, StoreError> {
        let mut follower = self.lock();
        let result = self.ready(&mut follower);
        self.observe(&result);
        result.map(|()| follower)
    }

    /// Rebuilds a stale index, else follows the log.
    fn ready(&self, follower: &mut Follower) -> Result<(), StoreError> {
        if follower.stale {
            self.rebuild(follower)
        } else {
            self.catch_up(follower)
        }
    }

    /// Runs one unit of work in a transaction (see the module doc),
    /// trying again after a conflict or a serialization failure. `keys`
    /// gives the version keys to lock from the index; `ids` the stories
    /// the work may change in the index (put back from the database if it
    /// does not commit).
    fn unit<T>(
        &self,
        ids: &[String],
        keys: impl Fn(&Index) -> Vec<u64>,
        mut work: impl FnMut(&mut Index, &mut PgRecords<'_, Client>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut follower = self.lock();
        for attempt in 1..=MAX_ATTEMPTS {
            let tried = self
                .ready(&mut follower)
                .and_then(|()| self.try_unit(&mut follower, ids, &keys, &mut work));
            self.observe(&tried);
            match tried {
                Ok(Tried::Done(answer)) => return Ok(answer),
                Ok(Tried::Conflict) => {
                    tracing::debug!(
                        attempt,
                        "another replica wrote the same clusters: trying again"
                    );
                }
                Err(err) if is_retryable(&err) => {
                    tracing::debug!(attempt, cause = %chain(&err), "trying again");
                }
                Err(err) => return Err(err),
            }
        }
        Err(StoreError::Contended {
            attempts: MAX_ATTEMPTS,
        })
    }

    fn try_unit<T>(
        &self,
        follower: &mut Follower,
        ids: &[String],
        keys: &impl Fn(&Index) -> Vec<u64>,
        work: &mut impl FnMut(&mut Index, &mut PgRecords<'_, Client>) -> Result<T, StoreError>,
    ) -> Result<Tried<T>, StoreError> {
        let handle = &self.handle;
        let client = self.connection()?;
        // READ COMMITTED: each statement sees what was committed before it
        // began, so the log read after the key locks are granted sees the
        // rows of the writer that held them. Under REPEATABLE READ the
        // snapshot would be taken at the first statement, the lock wait,
        // and miss that writer's story: two versions would both start a
        // cluster.
        let mut open = OpenTransaction::begin(handle, &client)?;
        let txn: &Client = &client;
        let mut locked = keys(&follower.index);
        if lock_keys(handle, txn, &locked, follower.applied)? {
            self.catch_up(follower)?;
        }
        // What the index learned meanwhile (furniture, common words) can
        // change the keys: lock the new ones too, and follow again.
        let extra: Vec<u64> = keys(&follower.index)
            .into_iter()
            .filter(|k| locked.binary_search(k).is_err())
            .collect();
        if !extra.is_empty() {
            if lock_keys(handle, txn, &extra, follower.applied)? {
                self.catch_up(follower)?;
            }
            locked.extend(extra);
        }
        let mut records = PgRecords::new(txn, handle, self.options.keep_evicted);
        let answer = work(&mut follower.index, &mut records).and_then(|answer| {
            match records.take_failure() {
                Some(err) => Err(err),
                None => records.flush().map(|()| answer),
            }
        });
        let changes = follower.index.take_changes();
        let mut touched = Touched {
            stories: records.written.drain(..).collect(),
            clusters: changes
                .changed
                .iter()
                .map(|c| c.id)
                .chain(changes.removed.iter().copied())
                .collect(),
            aliases: changes.aliases.is_some(),
        };
        drop(records);
        let committed = answer.and_then(|answer| {
            if touched.is_empty() {
                open.commit()?;
                return Ok(Some((answer, None)));
            }
            write_clusters(handle, txn, &changes, &touched)?;
            Ok(append_and_commit(&mut open, follower.applied, &touched)?
                .map(|logged| (answer, Some(logged))))
        });
        drop(open);
        touched.stories.extend(ids.iter().cloned());
        match committed {
            Ok(Some((answer, logged))) => {
                if let Some(Logged {
                    seq,
                    follows_applied,
                }) = logged
                {
                    // Only when no row came between: otherwise the rows
                    // between are still to be read, and this one is
                    // skipped when they are.
                    if follows_applied {
                        follower.applied = seq;
                    } else {
                        follower.own.insert(seq);
                    }
                    if seq % PRUNE_EVERY == 0 {
                        self.prune(&client);
                    }
                }
                Ok(Tried::Done(answer))
            }
            Ok(None) => {
                // The transaction is dropped, which rolls it back.
                self.put_back(follower, &touched);
                Ok(Tried::Conflict)
            }
            Err(err) => {
                self.put_back(follower, &touched);
                Err(err)
            }
        }
    }

    /// After a unit that did not commit: what it touched, as the database
    /// holds it, back into the index; a rebuild before the next use when
    /// even that fails.
    fn put_back(&self, follower: &mut Follower, touched: &Touched) {
        let result = self.connection().and_then(|client| {
            follow::put_current(&self.handle, &**client, &mut follower.index, touched)
        });
        if let Err(err) = result {
            tracing::warn!(cause = %chain(&err), "could not put back what a failed write touched: the index is rebuilt before the next use");
            follower.stale = true;
        }
    }

    /// Drops log rows older than every replica needs, noting how far, so
    /// that a replica that has not read them rebuilds instead.
    fn prune(&self, client: &tokio_postgres::Client) {
        let pruned = self.handle.block_on(client.execute(
            "WITH gone AS (DELETE FROM copydesk_changes \
                 WHERE at < clock_timestamp() - make_interval(secs => $1) RETURNING seq) \
             UPDATE copydesk_meta SET value = greatest(value, (SELECT max(seq) FROM gone)) \
             WHERE key = 'pruned_through' AND EXISTS (SELECT 1 FROM gone)",
            &[&CHANGE_LOG_KEPT_SECONDS],
        ));
        if let Err(err) = pruned {
            tracing::warn!(cause = %err, "could not prune the change log");
        }
    }
}

/// Locks `keys` (sorted) until the transaction ends, and tells whether
/// the change log has moved past `applied` once they are held. The two
/// statements go in one round trip: PostgreSQL runs them in order, and
/// under READ COMMITTED the second's snapshot is taken after the locks
/// are granted.
fn lock_keys(
    handle: &Handle,
    txn: &Client,
    keys: &[u64],
    applied: i64,
) -> Result<bool, StoreError> {
    let keys: Vec<i64> = keys.iter().map(|&k| k as i64).collect();
    let (_, news) = handle
        .block_on(futures::future::try_join(
            txn.query_typed(
                "SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) WITH ORDINALITY AS t(k, n) ORDER BY n",
                &[(&keys, Type::INT8_ARRAY)],
            ),
            follow::news_since(txn, applied),
        ))
        .map_err(failed("lock version keys"))?;
    Ok(news)
}

/// Writes the clusters a unit changed, and the aliases of those clusters,
/// in one round trip.
fn write_clusters(
    handle: &Handle,
    txn: &Client,
    changes: &ClusterChanges,
    touched: &Touched,
) -> Result<(), StoreError> {
    let ids: Vec<i64> = changes.changed.iter().map(|c| c.id as i64).collect();
    let records = changes
        .changed
        .iter()
        .map(crate::store::durable::encode)
        .collect::<Result<Vec<_>, _>>()?;
    let removed: Vec<i64> = changes.removed.iter().map(|&c| c as i64).collect();
    // The aliases of the clusters this unit wrote are its own; other
    // writers own the rest (their clusters are theirs until they commit,
    // and a unit that wrote the same ones meanwhile is a conflict).
    let mine: Vec<i64> = touched.clusters.iter().map(|&c| c as i64).collect();
    let (alias_from, alias_into): (Vec<i64>, Vec<i64>) = changes
        .aliases
        .iter()
        .flatten()
        .filter(|(from, into)| touched.clusters.contains(from) || touched.clusters.contains(into))
        .map(|&(from, into)| (from as i64, into as i64))
        .unzip();
    let changed: [Param<'_>; 2] = [(&ids, Type::INT8_ARRAY), (&records, Type::BYTEA_ARRAY)];
    let removed: [Param<'_>; 1] = [(&removed, Type::INT8_ARRAY)];
    let mine: [Param<'_>; 1] = [(&mine, Type::INT8_ARRAY)];
    let aliases: [Param<'_>; 2] = [
        (&alias_from, Type::INT8_ARRAY),
        (&alias_into, Type::INT8_ARRAY),
    ];
    let mut statements = Vec::new();
    if !changes.changed.is_empty() {
        statements.push(txn.query_typed(
            "INSERT INTO copydesk_clusters (id, record) \
             SELECT * FROM unnest($1::bigint[], $2::bytea[]) \
             ON CONFLICT (id) DO UPDATE SET record = EXCLUDED.record",
            &changed,
        ));
    }
    if !changes.removed.is_empty() {
        statements
            .push(txn.query_typed("DELETE FROM copydesk_clusters WHERE id = ANY($1)", &removed));
    }
    if changes.aliases.is_some() {
        statements.push(txn.query_typed(
            "DELETE FROM copydesk_aliases WHERE cluster = ANY($1) OR into_cluster = ANY($1)",
            &mine,
        ));
        statements.push(txn.query_typed(
            "INSERT INTO copydesk_aliases (cluster, into_cluster) \
             SELECT * FROM unnest($1::bigint[], $2::bigint[]) \
             ON CONFLICT (cluster) DO UPDATE SET into_cluster = EXCLUDED.into_cluster",
            &aliases,
        ));
    }
    handle
        .block_on(futures::future::try_join_all(statements))
        .map_err(failed("write clusters"))?;
    Ok(())
}

/// A unit's row in the change log.
struct Logged {
    seq: i64,
    /// No row came between the last one the index read and this one.
    follows_applied: bool,
}

/// Takes the log lock, appends the unit's row unless a unit that
/// committed after `applied` wrote the same stories or clusters (`None`: a
/// conflict, rolled back), and commits: one round trip, so the log lock is
/// held for the server's own work only, never for a trip back to this
/// process and its scheduling. Held across that trip, it serialized every
/// replica's commits behind the slowest-scheduled one.
///
/// The statements run in order, each after the lock with a snapshot taken
/// once it is held. A conflict raises in `copydesk_append_change` (see
/// `schema.rs`), which turns the COMMIT after it into a rollback.
fn append_and_commit(
    open: &mut OpenTransaction<'_>,
    applied: i64,
    touched: &Touched,
) -> Result<Option<Logged>, StoreError> {
    let stories: Vec<&str> = touched.stories.iter().map(String::as_str).collect();
    let clusters: Vec<i64> = touched.clusters.iter().map(|&c| c as i64).collect();
    let txn = open.client;
    let since: [Param<'_>; 1] = [(&applied, Type::INT8)];
    let unit: [Param<'_>; 4] = [
        (&applied, Type::INT8),
        (&stories, Type::TEXT_ARRAY),
        (&clusters, Type::INT8_ARRAY),
        (&touched.aliases, Type::BOOL),
    ];
    let (appended, committed) = open.handle.block_on(through_commit(
        async {
            futures::try_join!(
                txn.query_typed(
                    "SELECT pg_advisory_xact_lock($1, $2)",
                    &[(&LOCK_CLASS, Type::INT4), (&LOG_LOCK, Type::INT4)],
                ),
                txn.query_typed_one(
                    "SELECT coalesce(max(seq), 0) > $1 FROM copydesk_changes",
                    &since,
                ),
                txn.query_typed_one("SELECT copydesk_append_change($1, $2, $3, $4)", &unit),
            )
        },
        txn.batch_execute("COMMIT"),
    ));
    // The COMMIT was answered (or refused by the server): the transaction
    // is over, committed or, after an error before it, rolled back. Any
    // other failure means the connection itself failed: the guard tries a
    // rollback, and a broken connection is not recycled by the pool.
    if committed
        .as_ref()
        .map_or_else(|err| err.as_db_error().is_some(), |()| true)
    {
        open.ended();
    }
    match (appended, committed) {
        (Ok((_, between, appended)), Ok(())) => Ok(Some(Logged {
            seq: appended.get(0),
            follows_applied: !between.get::<_, bool>(0),
        })),
        (Err(err), _) if err.code().map(SqlState::code) == Some(schema::CONFLICT_SQLSTATE) => {
            Ok(None)
        }
        (Err(err), _) | (Ok(_), Err(err)) => {
            Err(failed("append to the change log and commit")(err))
        }
    }
}

/// Drives `statements` and the `commit` after them to their answers,
/// both, whatever the first gives. Each statement is sent when its future
/// is first polled; `try_join` stops polling at the first error, so when a
/// statement's error was already in by its first poll (the thread was
/// descheduled between sending it and polling for the answer, seen under
/// load) the COMMIT behind it was never sent, and the connection went
/// back to the pool inside an aborted transaction: every later unit on it
/// failed to begin. `join` polls both on the first poll, in order.
async fn through_commit<T, E>(
    statements: impl Future<Output = Result<T, E>>,
    commit: impl Future<Output = Result<(), E>>,
) -> (Result<T, E>, Result<(), E>) {
    futures::join!(statements, commit)
}

/// A transaction begun by hand on a pooled connection, so that its COMMIT
/// can share a round trip with its last statements; rolled back if it is
/// dropped before it ends, so the connection goes back to the pool clean.
struct OpenTransaction<'a> {
    client: &'a Client,
    handle: &'a Handle,
    open: bool,
}

impl<'a> OpenTransaction<'a> {
    /// READ COMMITTED: see `try_unit`.
    ///
    /// Armed before the BEGIN is sent: should the BEGIN fail because the
    /// connection is still inside a transaction, the drop ends that one,
    /// and the connection goes back to the pool usable.
    fn begin(handle: &'a Handle, client: &'a Client) -> Result<OpenTransaction<'a>, StoreError> {
        let open = OpenTransaction {
            client,
            handle,
            open: true,
        };
        handle
            .block_on(client.batch_execute("BEGIN ISOLATION LEVEL READ COMMITTED"))
            .map_err(failed("begin"))?;
        Ok(open)
    }

    fn commit(&mut self) -> Result<(), StoreError> {
        let result = self.handle.block_on(self.client.batch_execute("COMMIT"));
        self.ended();
        result.map_err(failed("commit"))
    }

    /// The server has ended the transaction (or the connection is gone).
    fn ended(&mut self) {
        self.open = false;
    }
}

impl Drop for OpenTransaction<'_> {
    fn drop(&mut self) {
        if self.open {
            // A broken connection is not recycled by the pool; a live one
            // must not keep a transaction open.
            let _ = self.handle.block_on(self.client.batch_execute("ROLLBACK"));
        }
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn ingest(
        &self,
        story: PreparedStory,
        now: SystemTime,
    ) -> Result<IngestReport, StoreError> {
        let mut reports = self.ingest_batch(vec![story], now).await?;
        reports
            .pop()
            .ok_or_else(|| StoreError::Inconsistent("an ingest answered nothing".into()))
    }

    async fn ingest_batch(
        &self,
        batch: Vec<PreparedStory>,
        now: SystemTime,
    ) -> Result<Vec<IngestReport>, StoreError> {
        self.blocking(move |inner| {
            let ids: Vec<String> = batch.iter().map(|p| p.story.id.clone()).collect();
            let keys = |index: &Index| {
                let mut keys: Vec<u64> = batch
                    .iter()
                    .flat_map(|p| {
                        let mut keys = index.version_keys(&p.fingerprint_for(index));
                        // A new version of a stored story also locks the
                        // keys of the text it replaces.
                        keys.extend(index.story_version_keys(&p.story.id).unwrap_or_default());
                        keys
                    })
                    .collect();
                keys.sort_unstable();
                keys.dedup();
                keys
            };
            inner.unit(&ids, keys, |index, records| {
                let counters = records.prefetch(&ids)?;
                let mut reports = Vec::with_capacity(batch.len());
                for (prepared, counters) in batch.iter().zip(counters) {
                    index.set_counters(counters);
                    reports.push(engine::ingest(index, records, prepared.clone(), now)?);
                }
                Ok(reports)
            })
        })
        .await
    }

    async fn evict_before(
        &self,
        cutoff: SystemTime,
        now: SystemTime,
        limit: usize,
    ) -> Result<usize, StoreError> {
        self.blocking(move |inner| {
            let ids: Vec<String> = {
                let client = inner.connection()?;
                inner
                    .handle
                    .block_on(client.query(
                        "SELECT id FROM copydesk_stories WHERE NOT evicted AND story_time < $1 \
                         ORDER BY story_time LIMIT $2",
                        &[&cutoff, &(limit as i64)],
                    ))
                    .map_err(failed("find stories to evict"))?
                    .iter()
                    .map(|row| row.get(0))
                    .collect()
            };
            if ids.is_empty() {
                return Ok(0);
            }
            inner.unit(
                &ids,
                |_| Vec::new(),
                |index, records| engine::evict(index, records, &ids, now),
            )
        })
        .await
    }

    async fn find_duplicates(&self, prepared: PreparedStory) -> Result<Placement, StoreError> {
        self.blocking(move |inner| {
            let follower = inner.follow()?;
            Ok(engine::find_duplicates(&follower.index, &prepared))
        })
        .await
    }

    async fn get_story(&self, id: &str) -> Result<StoredStory, StoreError> {
        let id = id.to_owned();
        self.blocking(move |inner| {
            let follower = inner.follow()?;
            let client = inner.connection()?;
            let records = PgRecords::new(&**client, &inner.handle, inner.options.keep_evicted);
            engine::get_story(&follower.index, &records, &id)
        })
        .await
    }

    async fn delete_story(&self, id: &str, now: SystemTime) -> Result<(), StoreError> {
        let id = id.to_owned();
        self.blocking(move |inner| {
            let ids = [id.clone()];
            inner.unit(
                &ids,
                |_| Vec::new(),
                |index, records| engine::delete(index, records, &id, now),
            )
        })
        .await
    }

    async fn get_cluster(&self, id: ClusterId) -> Result<ClusterDetail, StoreError> {
        self.blocking(move |inner| {
            let follower = inner.follow()?;
            let client = inner.connection()?;
            let records = PgRecords::new(&**client, &inner.handle, inner.options.keep_evicted);
            engine::get_cluster(&follower.index, &records, id)
        })
        .await
    }

    async fn story_versions(&self, id: &str) -> Result<Vec<VersionRecord>, StoreError> {
        let id = id.to_owned();
        // The database alone answers: no index, no wait for an ingest.
        self.blocking(move |inner| {
            let client = inner.connection()?;
            let records = PgRecords::new(&**client, &inner.handle, inner.options.keep_evicted);
            engine::story_versions(&records, &id)
        })
        .await
    }

    async fn list_clusters(
        &self,
        before: Option<ClusterId>,
        limit: usize,
    ) -> Result<ClusterPage, StoreError> {
        self.blocking(move |inner| {
            let follower = inner.follow()?;
            let client = inner.connection()?;
            let records = PgRecords::new(&**client, &inner.handle, inner.options.keep_evicted);
            engine::list_clusters(&follower.index, &records, before, limit)
        })
        .await
    }

    fn write_state(&self) -> watch::Receiver<WriteState> {
        self.inner.writes.subscribe()
    }

    async fn recheck_writes(&self) -> WriteState {
        let answered = self
            .blocking(|inner| {
                let follower = inner.follow();
                follower.map(|_| ())
            })
            .await;
        self.inner.observe(&answered);
        self.inner.writes.borrow().clone()
    }

    async fn index_stats(&self) -> IndexStats {
        self.blocking(|inner| Ok(IndexStats::of(&inner.lock().index)))
            .await
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use futures::FutureExt;

    use super::through_commit;

    /// The race the replica fault test met: the append's error is already
    /// in when its future is first polled. The COMMIT must be sent all
    /// the same (with `try_join` it was not).
    #[tokio::test]
    async fn a_statement_that_failed_before_its_first_poll_still_sends_the_commit() {
        let sent = AtomicBool::new(false);
        let (appended, committed) = through_commit(
            futures::future::ready(Err::<(), _>("another unit committed first")),
            async {
                sent.store(true, Ordering::SeqCst);
                Ok(())
            },
        )
        .await;
        assert!(sent.load(Ordering::SeqCst), "the COMMIT was never sent");
        assert_eq!(appended, Err("another unit committed first"));
        assert_eq!(committed, Ok(()));
    }

    /// And it goes after the statements, never before: PostgreSQL runs a
    /// pipeline in the order it was sent.
    #[tokio::test]
    async fn the_commit_is_sent_after_the_statements() {
        let order = std::sync::Mutex::new(Vec::new());
        let _ = through_commit(
            async {
                order.lock().unwrap().push("statements");
                futures::future::pending::<()>().await;
                Ok::<_, ()>(())
            },
            async {
                order.lock().unwrap().push("commit");
                Ok(())
            },
        )
        .now_or_never();
        assert_eq!(*order.lock().unwrap(), ["statements", "commit"]);
    }
}
