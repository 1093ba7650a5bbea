//! Keeping a replica's index with the database: the rows of the change log
//! it has not read, each naming what a unit of work wrote, and the stories
//! and clusters they name as the database holds them now, read in one
//! REPEATABLE READ snapshot (so the stories and clusters put in are of one
//! moment), then put in as decided. A fresh index, or one that cannot be
//! trusted, is rebuilt from the tables.

use std::collections::BTreeSet;

use tokio::runtime::Handle;
use tokio_postgres::types::Type;
use tokio_postgres::{GenericClient, IsolationLevel};

use super::records::Param;
use super::schema::failed;
use super::{Follower, Inner, Touched};
use crate::dedup::{ClusterId, ClusterRecord, Index, IndexCounters};
use crate::parallel::{available_threads, map_in_order};
use crate::store::StoreError;
use crate::store::durable::{StoryRecord, decode};

impl Inner {
    /// Puts in what the log rows after the last one read name.
    pub(super) fn catch_up(&self, follower: &mut Follower) -> Result<(), StoreError> {
        let handle = &self.handle;
        let client = self.connection()?;
        // Most calls find nothing new: one statement (its own snapshot)
        // tells, before any transaction is begun.
        if !handle
            .block_on(news_since(&**client, follower.applied))
            .map_err(failed("read the change log"))?
        {
            return Ok(());
        }
        // One snapshot, two round trips: the rows first, then what they
        // name, each fetched by its primary key. One statement joining the
        // log to the stories left the join to the planner, which, on a
        // young table or one whose statistics lag, read every live story
        // at each catch-up (seen with auto_explain: 1-3 ms a call, growing
        // with the archive).
        let own: Vec<i64> = follower.own.iter().copied().collect();
        let after: [Param<'_>; 2] = [(&follower.applied, Type::INT8), (&own, Type::INT8_ARRAY)];
        let read = handle.block_on(async {
            let (_, pruned, rows) = futures::try_join!(
                client.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"),
                client.query_typed_one(
                    "SELECT value FROM copydesk_meta WHERE key = 'pruned_through'",
                    &[],
                ),
                client.query_typed(
                    "SELECT seq, stories, clusters, aliases FROM copydesk_changes \
                     WHERE seq > $1 AND seq <> ALL($2) ORDER BY seq",
                    &after,
                ),
            )?;
            let named = Touched::of_log_rows(&rows);
            let (current, _) = futures::try_join!(
                read_current(&**client, &named),
                client.batch_execute("COMMIT")
            )?;
            let last = rows.last().map(|row| row.get::<_, i64>(0));
            Ok::<_, tokio_postgres::Error>((pruned.get::<_, i64>(0), last, named, current))
        });
        let (pruned, last, named, current) = match read {
            Ok(read) => read,
            Err(err) => {
                // The connection goes back to the pool: end what was begun
                // (a failed statement leaves the transaction open).
                let _ = handle.block_on(client.batch_execute("ROLLBACK"));
                return Err(failed("read the change log")(err));
            }
        };
        let last = last.unwrap_or(follower.applied);
        if pruned > follower.applied {
            // Rows this replica has not read are gone: start again.
            tracing::info!("this replica fell behind the change log: rebuilding its index");
            drop(client);
            return self.rebuild(follower);
        }
        put_in(&mut follower.index, &named, current)?;
        let applied = last.max(follower.own.last().copied().unwrap_or(last));
        follower.applied = applied;
        follower.own.retain(|&seq| seq > applied);
        Ok(())
    }

    /// Builds the index again from every live story and cluster.
    pub(super) fn rebuild(&self, follower: &mut Follower) -> Result<(), StoreError> {
        let handle = &self.handle;
        let mut client = self.connection()?;
        let txn = handle
            .block_on(
                (**client)
                    .build_transaction()
                    .isolation_level(IsolationLevel::RepeatableRead)
                    .read_only(true)
                    .start(),
            )
            .map_err(failed("begin a read"))?;
        // Rows are numbered in commit order: the snapshot holds every row
        // up to its highest.
        let applied: i64 = handle
            .block_on(txn.query_one(
                "SELECT greatest((SELECT coalesce(max(seq), 0) FROM copydesk_changes), \
                 (SELECT value FROM copydesk_meta WHERE key = 'pruned_through'))",
                &[],
            ))
            .map_err(failed("read the change log"))?
            .get(0);
        let story_rows = handle
            .block_on(txn.query(
                "SELECT id, record FROM copydesk_stories WHERE NOT evicted",
                &[],
            ))
            .map_err(failed("read stories"))?;
        let mut records = Vec::with_capacity(story_rows.len());
        for row in &story_rows {
            let id: &str = row.get(0);
            records.push(decode::<StoryRecord>(
                row.get(1),
                format_args!("story {id:?}"),
            )?);
        }
        drop(story_rows);
        let clusters = read_all_clusters(handle, &txn)?;
        let aliases = read_aliases(handle, &txn)?;
        let stories = map_in_order(records, available_threads(), StoryRecord::into_indexed);
        // The counters come from the database's sequences at each ingest.
        let counters = IndexCounters {
            next_cluster: 1,
            next_sequence: 0,
        };
        let mut index = Index::restore(self.config, stories, clusters, counters)
            .map_err(StoreError::Restore)?;
        index.restore_aliases(aliases);
        follower.index = index;
        follower.applied = applied;
        follower.own.clear();
        follower.stale = false;
        Ok(())
    }
}

/// Whether the log has rows after `applied`, or has been pruned past it.
pub(super) async fn news_since(
    db: &impl GenericClient,
    applied: i64,
) -> Result<bool, tokio_postgres::Error> {
    let row = db
        .query_typed_one(
            // max(seq) is read from the end of the primary key's index
            // whatever the table's statistics say; EXISTS (seq > $1) may
            // be planned as a scan from the start of the log.
            "SELECT coalesce((SELECT max(seq) FROM copydesk_changes), 0) > $1 \
             OR (SELECT value FROM copydesk_meta WHERE key = 'pruned_through') > $1",
            &[(&applied, Type::INT8)],
        )
        .await?;
    Ok(row.get(0))
}

/// Puts what `touched` names into `index` as the database holds it.
pub(super) fn put_current(
    handle: &Handle,
    db: &impl GenericClient,
    index: &mut Index,
    touched: &Touched,
) -> Result<(), StoreError> {
    let current = handle
        .block_on(read_current(db, touched))
        .map_err(failed("read stories and clusters"))?;
    put_in(index, touched, current)
}

impl Touched {
    /// What a run of change-log rows (seq, stories, clusters, aliases)
    /// names.
    fn of_log_rows(rows: &[tokio_postgres::Row]) -> Touched {
        let mut named = Touched::default();
        for row in rows {
            named.stories.extend(row.get::<_, Vec<String>>(1));
            named.clusters.extend(
                row.get::<_, Vec<i64>>(2)
                    .into_iter()
                    .map(|c| c as ClusterId),
            );
            named.aliases |= row.get::<_, bool>(3);
        }
        named
    }
}

/// The rows of what `named` names, as read: its live stories, its
/// clusters, and every alias when it changed aliases.
struct Current {
    stories: Vec<tokio_postgres::Row>,
    clusters: Vec<tokio_postgres::Row>,
    aliases: Option<Vec<tokio_postgres::Row>>,
}

/// Reads what `named` names in one round trip, each by primary key.
async fn read_current(
    db: &impl GenericClient,
    named: &Touched,
) -> Result<Current, tokio_postgres::Error> {
    let stories: Vec<&str> = named.stories.iter().map(String::as_str).collect();
    let clusters: Vec<i64> = named.clusters.iter().map(|&c| c as i64).collect();
    let stories: [Param<'_>; 1] = [(&stories, Type::TEXT_ARRAY)];
    let clusters: [Param<'_>; 1] = [(&clusters, Type::INT8_ARRAY)];
    let (stories, clusters, aliases) = futures::try_join!(
        db.query_typed(
            "SELECT id, record FROM copydesk_stories WHERE id = ANY($1) AND NOT evicted",
            &stories,
        ),
        db.query_typed(
            "SELECT id, record FROM copydesk_clusters WHERE id = ANY($1)",
            &clusters,
        ),
        async {
            match named.aliases {
                true => db.query_typed(ALL_ALIASES, &[]).await.map(Some),
                false => Ok(None),
            }
        },
    )?;
    Ok(Current {
        stories,
        clusters,
        aliases,
    })
}

/// The live story records of `rows` (id, record); a damaged one is left
/// out, as the embedded store leaves it out of its index (reading it
/// answers DATA_LOSS).
fn decode_stories(rows: &[tokio_postgres::Row]) -> Result<Vec<StoryRecord>, StoreError> {
    let mut live = Vec::with_capacity(rows.len());
    for row in rows {
        let id: &str = row.get(0);
        match decode::<StoryRecord>(row.get(1), format_args!("story {id:?}")) {
            Ok(record) => live.push(record),
            Err(StoreError::Damaged(what)) => tracing::warn!(%what, "damaged story left out"),
            Err(other) => return Err(other),
        }
    }
    Ok(live)
}

fn decode_clusters(rows: &[tokio_postgres::Row]) -> Result<Vec<ClusterRecord>, StoreError> {
    rows.iter()
        .map(|row| {
            let id: i64 = row.get(0);
            decode(row.get(1), format_args!("cluster {id}"))
        })
        .collect()
}

fn decode_aliases(rows: &[tokio_postgres::Row]) -> Vec<(ClusterId, ClusterId)> {
    rows.iter()
        .map(|row| {
            (
                row.get::<_, i64>(0) as ClusterId,
                row.get::<_, i64>(1) as ClusterId,
            )
        })
        .collect()
}

/// Puts what `named` names in as read: stories first, so that the
/// clusters find their members; one not read (gone, evicted) is taken
/// out.
fn put_in(index: &mut Index, named: &Touched, current: Current) -> Result<(), StoreError> {
    let live = decode_stories(&current.stories)?;
    let found = decode_clusters(&current.clusters)?;
    let present: BTreeSet<String> = live.iter().map(|r| r.story.id.clone()).collect();
    for id in named.stories.difference(&present) {
        index.forget_story(id);
    }
    let fingerprinted = map_in_order(live, available_threads(), StoryRecord::into_indexed);
    for (meta, fingerprint, placement) in fingerprinted {
        index.put_placed(meta, fingerprint, placement);
    }
    let read: BTreeSet<ClusterId> = found.iter().map(|r| r.id).collect();
    for &id in named.clusters.difference(&read) {
        index.forget_cluster(id);
    }
    for record in found {
        index.put_cluster(record);
    }
    if let Some(aliases) = &current.aliases {
        index.put_aliases(decode_aliases(aliases));
    }
    Ok(())
}

/// Every alias: the index takes them whole (`Index::put_aliases`).
const ALL_ALIASES: &str = "SELECT cluster, into_cluster FROM copydesk_aliases";

/// Every cluster.
fn read_all_clusters(
    handle: &Handle,
    db: &impl GenericClient,
) -> Result<Vec<ClusterRecord>, StoreError> {
    let rows = handle
        .block_on(db.query("SELECT id, record FROM copydesk_clusters", &[]))
        .map_err(failed("read clusters"))?;
    decode_clusters(&rows)
}

/// Every folded cluster id with the cluster it lives on in.
fn read_aliases(
    handle: &Handle,
    db: &impl GenericClient,
) -> Result<Vec<(ClusterId, ClusterId)>, StoreError> {
    let rows = handle
        .block_on(db.query(ALL_ALIASES, &[]))
        .map_err(failed("read cluster aliases"))?;
    Ok(decode_aliases(&rows))
}
