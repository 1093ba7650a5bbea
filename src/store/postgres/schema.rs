//! The tables, made and upgraded by copydesk itself at startup, one
//! process at a time (a session advisory lock), with the schema version
//! kept in the database as the redb file keeps its own.
//!
//! Records are the durable store's rows (`store::durable::records`, a
//! checksum in front), so both backends keep the same bytes per story. The
//! columns beside them are what SQL needs: a story's time for retention
//! (indexed, so an eviction reads only what goes), whether it is evicted,
//! and the change log that replicas follow.

use tokio_postgres::Client;

use super::{LOCK_CLASS, MIGRATION_LOCK};
use crate::store::{OpenError, StoreError};

/// Version of the tables' layout. A database written with another version
/// is refused at startup, never misread.
pub const PG_SCHEMA_VERSION: i64 = 2;

/// Version 1, from nothing.
const CREATE: &str = "
CREATE TABLE IF NOT EXISTS copydesk_meta (
    key   text PRIMARY KEY,
    value bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS copydesk_stories (
    id         text PRIMARY KEY,
    record     bytea NOT NULL,
    story_time timestamptz NOT NULL,
    evicted    boolean NOT NULL DEFAULT false
);
CREATE INDEX IF NOT EXISTS copydesk_stories_live_by_time
    ON copydesk_stories (story_time) WHERE NOT evicted;
CREATE TABLE IF NOT EXISTS copydesk_versions (
    story_id text NOT NULL,
    number   integer NOT NULL,
    record   bytea NOT NULL,
    PRIMARY KEY (story_id, number)
);
CREATE TABLE IF NOT EXISTS copydesk_clusters (
    id     bigint PRIMARY KEY,
    record bytea NOT NULL
);
CREATE TABLE IF NOT EXISTS copydesk_aliases (
    cluster      bigint PRIMARY KEY,
    into_cluster bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS copydesk_aliases_by_target ON copydesk_aliases (into_cluster);
CREATE TABLE IF NOT EXISTS copydesk_changes (
    seq        bigint PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    stories    text[] NOT NULL,
    clusters   bigint[] NOT NULL,
    aliases    boolean NOT NULL
);
CREATE INDEX IF NOT EXISTS copydesk_changes_by_time ON copydesk_changes (at);
CREATE SEQUENCE IF NOT EXISTS copydesk_change_seq;
CREATE SEQUENCE IF NOT EXISTS copydesk_cluster_ids;
CREATE SEQUENCE IF NOT EXISTS copydesk_ingest_order;
INSERT INTO copydesk_meta (key, value) VALUES ('pruned_through', 0) ON CONFLICT DO NOTHING;
";

/// Version 2, from version 1: the change log's append as a function, so
/// that a conflict is an error and the commit can go in the same round
/// trip as the append (a conflict turns that COMMIT into a rollback). A
/// volatile function takes a fresh snapshot for each statement, so under
/// READ COMMITTED the check sees every unit committed before the log lock
/// (taken by the statement before) was granted.
const APPEND_FUNCTION: &str = "
CREATE OR REPLACE FUNCTION copydesk_append_change(
    after bigint, wrote_stories text[], wrote_clusters bigint[], wrote_aliases boolean
) RETURNS bigint LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
    appended bigint;
BEGIN
    IF EXISTS (SELECT 1 FROM copydesk_changes WHERE seq > after
               AND (stories && wrote_stories OR clusters && wrote_clusters)) THEN
        RAISE EXCEPTION USING ERRCODE = 'CDK01',
            MESSAGE = 'another unit of work committed to the same stories or clusters';
    END IF;
    INSERT INTO copydesk_changes (seq, at, stories, clusters, aliases)
        VALUES (nextval('copydesk_change_seq'), clock_timestamp(),
                wrote_stories, wrote_clusters, wrote_aliases)
        RETURNING seq INTO appended;
    RETURN appended;
END
$fn$;
";

/// The SQLSTATE `copydesk_append_change` raises on a conflict.
pub(super) const CONFLICT_SQLSTATE: &str = "CDK01";

/// Makes the tables on an empty database, checks the version on one that
/// has them. Several replicas starting at once take turns.
pub(super) async fn migrate(client: &mut Client, target: &str) -> Result<(), OpenError> {
    let failed = |source: tokio_postgres::Error| OpenError::Database {
        target: target.to_owned(),
        source: Box::new(source),
    };
    client
        .execute(
            "SELECT pg_advisory_lock($1, $2)",
            &[&LOCK_CLASS, &MIGRATION_LOCK],
        )
        .await
        .map_err(failed)?;
    let result = migrate_locked(client, target).await;
    // A session lock outlives the call: let it go whatever happened.
    let unlocked = client
        .execute(
            "SELECT pg_advisory_unlock($1, $2)",
            &[&LOCK_CLASS, &MIGRATION_LOCK],
        )
        .await;
    result?;
    unlocked.map_err(failed)?;
    Ok(())
}

async fn migrate_locked(client: &mut Client, target: &str) -> Result<(), OpenError> {
    let failed = |source: tokio_postgres::Error| OpenError::Database {
        target: target.to_owned(),
        source: Box::new(source),
    };
    let txn = client.transaction().await.map_err(failed)?;
    let has_meta: bool = txn
        .query_one("SELECT to_regclass('copydesk_meta') IS NOT NULL", &[])
        .await
        .map_err(failed)?
        .get(0);
    let found: Option<i64> = if has_meta {
        txn.query_opt(
            "SELECT value FROM copydesk_meta WHERE key = 'schema_version'",
            &[],
        )
        .await
        .map_err(failed)?
        .map(|row| row.get(0))
    } else {
        None
    };
    match found {
        Some(PG_SCHEMA_VERSION) => {}
        Some(1) => {
            txn.batch_execute(APPEND_FUNCTION).await.map_err(failed)?;
            record_version(&txn).await.map_err(failed)?;
            tracing::info!(
                from = 1,
                to = PG_SCHEMA_VERSION,
                "upgraded the copydesk tables"
            );
        }
        Some(other) => {
            return Err(OpenError::Schema {
                found: u32::try_from(other).unwrap_or(u32::MAX),
                expected: PG_SCHEMA_VERSION as u32,
            });
        }
        None => {
            txn.batch_execute(CREATE).await.map_err(failed)?;
            txn.batch_execute(APPEND_FUNCTION).await.map_err(failed)?;
            record_version(&txn).await.map_err(failed)?;
            tracing::info!(version = PG_SCHEMA_VERSION, "made the copydesk tables");
        }
    }
    txn.commit().await.map_err(failed)
}

/// Records this copydesk's schema version, made or upgraded to.
async fn record_version(
    txn: &tokio_postgres::Transaction<'_>,
) -> Result<u64, tokio_postgres::Error> {
    txn.execute(
        "INSERT INTO copydesk_meta (key, value) VALUES ('schema_version', $1) \
         ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        &[&PG_SCHEMA_VERSION],
    )
    .await
}

/// A database error while doing `context`, for the caller.
pub(super) fn failed(context: &'static str) -> impl Fn(tokio_postgres::Error) -> StoreError {
    move |source| StoreError::engine(context, source)
}
