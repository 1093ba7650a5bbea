//! The engine's records in PostgreSQL: each read and write is a statement
//! in the unit of work's transaction, so reads see its writes. The engine
//! is synchronous and runs on the blocking pool; each statement waits for
//! the database there (`Handle::block_on`), never on the async executor.

use std::cell::RefCell;
use std::time::SystemTime;

use tokio::runtime::Handle;
use tokio_postgres::GenericClient;

use super::schema::failed;
use crate::dedup::PlacementRecord;
use crate::store::durable::{StoryRecord, decode, encode};
use crate::store::engine::Records;
use crate::store::{StoreError, VersionRecord};
use crate::story::{StoredStory, Story};

/// The records as one client (a transaction, or a plain connection for
/// reads) sees them.
pub(super) struct PgRecords<'a, C: GenericClient> {
    db: &'a C,
    handle: &'a Handle,
    keep_evicted: bool,
    /// Stories written, removed or evicted: what the change log names.
    pub(super) written: Vec<String>,
    /// The first failed write (the engine's writes cannot fail), or a
    /// failed read the engine took for "not stored": the unit of work
    /// fails with it.
    failure: RefCell<Option<StoreError>>,
}

impl<'a, C: GenericClient> PgRecords<'a, C> {
    pub(super) fn new(db: &'a C, handle: &'a Handle, keep_evicted: bool) -> PgRecords<'a, C> {
        PgRecords {
            db,
            handle,
            keep_evicted,
            written: Vec::new(),
            failure: RefCell::new(None),
        }
    }

    /// The client the records are read and written through.
    pub(super) fn db(&self) -> &'a C {
        self.db
    }

    /// The failure the engine could not see, if any.
    pub(super) fn take_failure(&self) -> Option<StoreError> {
        self.failure.borrow_mut().take()
    }

    fn keep(&self, err: StoreError) {
        self.failure.borrow_mut().get_or_insert(err);
    }

    fn record(&self, id: &str) -> Result<Option<StoryRecord>, StoreError> {
        let row = self
            .handle
            .block_on(
                self.db
                    .query_opt("SELECT record FROM copydesk_stories WHERE id = $1", &[&id]),
            )
            .map_err(failed("read a story"))?;
        row.map(|row| decode::<StoryRecord>(row.get(0), format_args!("story {id:?}")))
            .transpose()
    }

    fn run(
        &self,
        context: &'static str,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) {
        if let Err(err) = self
            .handle
            .block_on(self.db.execute(sql, params))
            .map_err(failed(context))
        {
            self.keep(err);
        }
    }
}

impl<C: GenericClient> Records for PgRecords<'_, C> {
    fn story(&self, id: &str) -> Option<Story> {
        match self.record(id) {
            Ok(record) => record.map(|r| r.story),
            // Damaged: the answer says nothing of changes (as redb's).
            Err(StoreError::Damaged(_)) => None,
            Err(other) => {
                self.keep(other);
                None
            }
        }
    }

    fn stored(&self, ids: &[&str]) -> Result<Vec<Option<StoredStory>>, StoreError> {
        let wanted: Vec<&str> = ids.to_vec();
        let rows = self
            .handle
            .block_on(self.db.query(
                "SELECT id, record FROM copydesk_stories WHERE id = ANY($1)",
                &[&wanted],
            ))
            .map_err(failed("read stories"))?;
        let mut found = std::collections::HashMap::with_capacity(rows.len());
        for row in rows {
            let id: String = row.get(0);
            let record = decode::<StoryRecord>(row.get(1), format_args!("story {id:?}"))?;
            found.insert(id, record.stored());
        }
        Ok(ids.iter().map(|id| found.get(*id).cloned()).collect())
    }

    fn last_version(&self, id: &str) -> Result<Option<(u32, Option<VersionRecord>)>, StoreError> {
        let row = self
            .handle
            .block_on(self.db.query_opt(
                "SELECT number, record FROM copydesk_versions WHERE story_id = $1 \
                 ORDER BY number DESC LIMIT 1",
                &[&id],
            ))
            .map_err(failed("read a version"))?;
        Ok(row.map(|row| {
            let number: i32 = row.get(0);
            let record = decode::<VersionRecord>(
                row.get(1),
                format_args!("version {number} of story {id:?}"),
            )
            .ok();
            (number as u32, record)
        }))
    }

    fn versions(&self, id: &str) -> Result<Vec<VersionRecord>, StoreError> {
        let rows = self
            .handle
            .block_on(self.db.query(
                "SELECT number, record FROM copydesk_versions WHERE story_id = $1 ORDER BY number",
                &[&id],
            ))
            .map_err(failed("read versions"))?;
        rows.iter()
            .map(|row| {
                let number: i32 = row.get(0);
                decode(row.get(1), format_args!("version {number} of story {id:?}"))
            })
            .collect()
    }

    fn put_version(&mut self, id: &str, version: VersionRecord) {
        let number = version.number as i32;
        match encode(&version) {
            Ok(bytes) => self.run(
                "write a version",
                "INSERT INTO copydesk_versions (story_id, number, record) VALUES ($1, $2, $3) \
                 ON CONFLICT (story_id, number) DO UPDATE SET record = EXCLUDED.record",
                &[&id, &number, &bytes],
            ),
            Err(err) => self.keep(err),
        }
    }

    fn put_story(&mut self, story: Story, ingested_at: SystemTime, placement: PlacementRecord) {
        let id = story.id.clone();
        let time = story.published_at.unwrap_or(ingested_at);
        let record = StoryRecord {
            story,
            ingested_at,
            placement,
            evicted: false,
        };
        match encode(&record) {
            Ok(bytes) => self.run(
                "write a story",
                "INSERT INTO copydesk_stories (id, record, story_time, evicted) \
                 VALUES ($1, $2, $3, false) ON CONFLICT (id) DO UPDATE \
                 SET record = EXCLUDED.record, story_time = EXCLUDED.story_time, evicted = false",
                &[&id, &bytes, &time],
            ),
            Err(err) => self.keep(err),
        }
        self.written.push(id);
    }

    fn remove(&mut self, id: &str) {
        self.run(
            "remove a story",
            "DELETE FROM copydesk_stories WHERE id = $1",
            &[&id],
        );
        self.run(
            "remove versions",
            "DELETE FROM copydesk_versions WHERE story_id = $1",
            &[&id],
        );
        self.written.push(id.to_owned());
    }

    fn evicted(&mut self, id: &str) -> Result<(), StoreError> {
        if !self.keep_evicted {
            self.remove(id);
            return Ok(());
        }
        let Some(mut record) = self.record(id)? else {
            return Ok(());
        };
        record.evicted = true;
        let bytes = encode(&record)?;
        self.handle
            .block_on(self.db.execute(
                "UPDATE copydesk_stories SET record = $2, evicted = true WHERE id = $1",
                &[&id, &bytes],
            ))
            .map_err(failed("evict a story"))?;
        self.written.push(id.to_owned());
        Ok(())
    }
}
