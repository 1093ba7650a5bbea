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
use super::{Follower, Inner};
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
            let named = Named::of(&rows);
            let wanted: Vec<&str> = named.stories.iter().map(String::as_str).collect();
            let ids: Vec<i64> = named.clusters.iter().map(|&c| c as i64).collect();
            let wanted: [Param<'_>; 1] = [(&wanted, Type::TEXT_ARRAY)];
            let ids: [Param<'_>; 1] = [(&ids, Type::INT8_ARRAY)];
            let (story_rows, cluster_rows, alias_rows, _) = futures::try_join!(
                client.query_typed(
                    "SELECT id, record FROM copydesk_stories WHERE id = ANY($1) AND NOT evicted",
                    &wanted,
                ),
                client.query_typed(
                    "SELECT id, record FROM copydesk_clusters WHERE id = ANY($1)",
                    &ids,
                ),
                async {
                    if named.aliases {
                        client
                            .query_typed("SELECT cluster, into_cluster FROM copydesk_aliases", &[])
                            .await
                    } else {
                        Ok(Vec::new())
                    }
                },
                client.batch_execute("COMMIT"),
            )?;
            let last = rows.last().map(|row| row.get::<_, i64>(0));
            Ok::<_, tokio_postgres::Error>((
                pruned.get::<_, i64>(0),
                last,
                named,
                story_rows,
                cluster_rows,
                alias_rows,
            ))
        });
        let (pruned, last, named, story_rows, cluster_rows, alias_rows) = match read {
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
        let Named {
            stories,
            clusters,
            aliases,
        } = named;
        let live = decode_stories(&story_rows)?;
        let found = decode_clusters(&cluster_rows)?;
        let aliases = aliases.then(|| decode_aliases(&alias_rows));
        put_in(
            &mut follower.index,
            &stories,
            live,
            &clusters,
            found,
            aliases,
        );
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
        let clusters = read_clusters(handle, &txn, None)?;
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

/// Puts `stories`, `clusters` (and, when `aliases`, every alias) into
/// `index` as the database holds them.
pub(super) fn put_current(
    handle: &Handle,
    db: &impl GenericClient,
    index: &mut Index,
    stories: &BTreeSet<String>,
    clusters: &BTreeSet<ClusterId>,
    aliases: bool,
) -> Result<(), StoreError> {
    let wanted: Vec<&str> = stories.iter().map(String::as_str).collect();
    let rows = handle
        .block_on(db.query_typed(
            "SELECT id, record FROM copydesk_stories WHERE id = ANY($1) AND NOT evicted",
            &[(&wanted, Type::TEXT_ARRAY)],
        ))
        .map_err(failed("read stories"))?;
    let live = decode_stories(&rows)?;
    let found = read_clusters(handle, db, Some(clusters))?;
    let aliases = if aliases {
        Some(read_aliases(handle, db)?)
    } else {
        None
    };
    put_in(index, stories, live, clusters, found, aliases);
    Ok(())
}

/// What a run of change-log rows (seq, stories, clusters, aliases) names.
struct Named {
    stories: BTreeSet<String>,
    clusters: BTreeSet<ClusterId>,
    /// Some row changed cluster aliases: read them all.
    aliases: bool,
}

impl Named {
    fn of(rows: &[tokio_postgres::Row]) -> Named {
        let mut named = Named {
            stories: BTreeSet::new(),
            clusters: BTreeSet::new(),
            aliases: false,
        };
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

/// Puts the named stories and clusters in as read: stories first, so that
/// the clusters find their members; one not read (gone, evicted) is taken
/// out.
fn put_in(
    index: &mut Index,
    stories: &BTreeSet<String>,
    live: Vec<StoryRecord>,
    clusters: &BTreeSet<ClusterId>,
    found: Vec<ClusterRecord>,
    aliases: Option<Vec<(ClusterId, ClusterId)>>,
) {
    let present: BTreeSet<String> = live.iter().map(|r| r.story.id.clone()).collect();
    for id in stories.difference(&present) {
        index.forget_story(id);
    }
    let fingerprinted = map_in_order(live, available_threads(), StoryRecord::into_indexed);
    for (meta, fingerprint, placement) in fingerprinted {
        index.put_placed(meta, fingerprint, placement);
    }
    let read: BTreeSet<ClusterId> = found.iter().map(|r| r.id).collect();
    for &id in clusters.difference(&read) {
        index.forget_cluster(id);
    }
    for record in found {
        index.put_cluster(record);
    }
    if let Some(aliases) = aliases {
        index.put_aliases(aliases);
    }
}

/// The clusters `ids` (every cluster when `None`).
fn read_clusters(
    handle: &Handle,
    db: &impl GenericClient,
    ids: Option<&BTreeSet<ClusterId>>,
) -> Result<Vec<ClusterRecord>, StoreError> {
    let rows = match ids {
        Some(ids) => {
            let ids: Vec<i64> = ids.iter().map(|&c| c as i64).collect();
            handle.block_on(db.query_typed(
                "SELECT id, record FROM copydesk_clusters WHERE id = ANY($1)",
                &[(&ids, Type::INT8_ARRAY)],
            ))
        }
        None => handle.block_on(db.query("SELECT id, record FROM copydesk_clusters", &[])),
    }
    .map_err(failed("read clusters"))?;
    rows.iter()
        .map(|row| {
            let id: i64 = row.get(0);
            decode(row.get(1), format_args!("cluster {id}"))
        })
        .collect()
}

/// Every folded cluster id with the cluster it lives on in.
fn read_aliases(
    handle: &Handle,
    db: &impl GenericClient,
) -> Result<Vec<(ClusterId, ClusterId)>, StoreError> {
    Ok(handle
        .block_on(db.query("SELECT cluster, into_cluster FROM copydesk_aliases", &[]))
        .map_err(failed("read cluster aliases"))?
        .iter()
        .map(|row| {
            (
                row.get::<_, i64>(0) as ClusterId,
                row.get::<_, i64>(1) as ClusterId,
            )
        })
        .collect())
}
