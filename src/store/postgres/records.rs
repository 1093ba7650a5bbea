//! The engine's records in PostgreSQL. A unit of work reads what it needs
//! of its own stories in one statement up front ([`PgRecords::prefetch`]),
//! keeps its writes in memory (reads see them), and writes them in a few
//! multi-row statements at the end ([`PgRecords::flush`]): a statement
//! costs a round trip, so a batch of 64 stories costs about as many
//! statements as one.
//!
//! The engine is synchronous and runs on the blocking pool; each statement
//! waits for the database there (`Handle::block_on`), never on the async
//! executor.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::time::SystemTime;

use tokio::runtime::Handle;
use tokio_postgres::GenericClient;
use tokio_postgres::types::Type;

use super::schema::failed;
use crate::dedup::{IndexCounters, PlacementRecord};
use crate::store::durable::{StoryRecord, decode, encode};
use crate::store::engine::Records;
use crate::store::{StoreError, VersionRecord};
use crate::story::{StoredStory, Story};

/// A typed statement parameter.
pub(super) type Param<'a> = (&'a (dyn tokio_postgres::types::ToSql + Sync), Type);

/// The latest version of a story as the unit knows it (see
/// [`Records::last_version`]).
type LastVersion = Option<(u32, Option<VersionRecord>)>;

/// The records as one client (a transaction, or a plain connection for
/// reads) sees them, with the unit's writes.
pub(super) struct PgRecords<'a, C: GenericClient> {
    db: &'a C,
    handle: &'a Handle,
    keep_evicted: bool,
    /// Stories read or written in this unit (`None`: not stored).
    stories: RefCell<HashMap<String, Option<StoryRecord>>>,
    /// Latest versions read or written in this unit.
    last: RefCell<HashMap<String, LastVersion>>,
    /// Stories to write, by id (the last write of each wins).
    story_writes: BTreeMap<String, StoryRecord>,
    /// Stories to remove with their versions.
    removed: Vec<String>,
    /// Versions to write, by story and number.
    version_writes: BTreeMap<(String, u32), VersionRecord>,
    /// Stories written, removed or evicted: what the change log names.
    pub(super) written: Vec<String>,
    /// The first failed read the engine took for "not stored", or a
    /// record that would not encode: the unit of work fails with it.
    failure: RefCell<Option<StoreError>>,
}

impl<'a, C: GenericClient> PgRecords<'a, C> {
    pub(super) fn new(db: &'a C, handle: &'a Handle, keep_evicted: bool) -> PgRecords<'a, C> {
        PgRecords {
            db,
            handle,
            keep_evicted,
            stories: RefCell::default(),
            last: RefCell::default(),
            story_writes: BTreeMap::new(),
            removed: Vec::new(),
            version_writes: BTreeMap::new(),
            written: Vec::new(),
            failure: RefCell::new(None),
        }
    }

    /// The failure the engine could not see, if any.
    pub(super) fn take_failure(&self) -> Option<StoreError> {
        self.failure.borrow_mut().take()
    }

    fn keep(&self, err: StoreError) {
        self.failure.borrow_mut().get_or_insert(err);
    }

    /// Reads the stories `ids` and their latest versions, for the unit's
    /// later reads, and numbers them: for each, the cluster it would start
    /// and its ingest order, from the database's sequences, so that no two
    /// replicas give out one number (numbers a story does not use are
    /// skipped). One round trip.
    pub(super) fn prefetch(&self, ids: &[String]) -> Result<Vec<IndexCounters>, StoreError> {
        let n = ids.len() as i32;
        let (stories, versions, numbers) = self
            .handle
            .block_on(futures::future::try_join3(
                self.db.query_typed(
                    "SELECT id, record FROM copydesk_stories WHERE id = ANY($1)",
                    &[(&ids, Type::TEXT_ARRAY)],
                ),
                self.db.query_typed(
                    "SELECT DISTINCT ON (story_id) story_id, number, record FROM copydesk_versions \
                     WHERE story_id = ANY($1) ORDER BY story_id, number DESC",
                    &[(&ids, Type::TEXT_ARRAY)],
                ),
                self.db.query_typed(
                    "SELECT nextval('copydesk_cluster_ids'), nextval('copydesk_ingest_order') \
                     FROM generate_series(1, $1)",
                    &[(&n, Type::INT4)],
                ),
            ))
            .map_err(failed("read stories"))?;
        {
            let mut known = self.stories.borrow_mut();
            for id in ids {
                known.insert(id.clone(), None);
            }
            for row in stories {
                let id: String = row.get(0);
                let record = decode::<StoryRecord>(row.get(1), format_args!("story {id:?}"))?;
                known.insert(id, Some(record));
            }
        }
        let mut last = self.last.borrow_mut();
        for id in ids {
            last.insert(id.clone(), None);
        }
        for row in versions {
            let id: String = row.get(0);
            let number: i32 = row.get(1);
            let version = decode_version(row.get(2), number, &id);
            last.insert(id, Some((number as u32, version)));
        }
        Ok(numbers
            .iter()
            .map(|row| IndexCounters {
                next_cluster: row.get::<_, i64>(0) as u64,
                next_sequence: row.get::<_, i64>(1) as u64,
            })
            .collect())
    }

    /// The stored records of `ids` (absent ones left out).
    fn read_stories<S: AsRef<str> + Sync + tokio_postgres::types::ToSql>(
        &self,
        ids: &[S],
    ) -> Result<HashMap<String, Option<StoryRecord>>, StoreError> {
        let rows = self
            .handle
            .block_on(self.db.query_typed(
                "SELECT id, record FROM copydesk_stories WHERE id = ANY($1)",
                &[(&ids, Type::TEXT_ARRAY)],
            ))
            .map_err(failed("read stories"))?;
        let mut found: HashMap<String, Option<StoryRecord>> = ids
            .iter()
            .map(|id| (id.as_ref().to_owned(), None))
            .collect();
        for row in rows {
            let id: String = row.get(0);
            let record = decode::<StoryRecord>(row.get(1), format_args!("story {id:?}"))?;
            found.insert(id, Some(record));
        }
        Ok(found)
    }

    /// A story's record: this unit's, else the database's.
    fn record(&self, id: &str) -> Result<Option<StoryRecord>, StoreError> {
        if let Some(known) = self.stories.borrow().get(id) {
            return Ok(known.clone());
        }
        let mut found = self.read_stories(&[id])?;
        let record = found.remove(id).flatten();
        self.stories
            .borrow_mut()
            .insert(id.to_owned(), record.clone());
        Ok(record)
    }

    /// Writes what the unit put and removed, in one round trip.
    pub(super) fn flush(&mut self) -> Result<(), StoreError> {
        let mut story_ids = Vec::with_capacity(self.story_writes.len());
        let mut story_records = Vec::with_capacity(self.story_writes.len());
        let mut times = Vec::with_capacity(self.story_writes.len());
        let mut evicted = Vec::with_capacity(self.story_writes.len());
        for (id, record) in &self.story_writes {
            story_ids.push(id.as_str());
            story_records.push(encode(record)?);
            times.push(record.story.published_at.unwrap_or(record.ingested_at));
            evicted.push(record.evicted);
        }
        let mut version_ids = Vec::with_capacity(self.version_writes.len());
        let mut numbers = Vec::with_capacity(self.version_writes.len());
        let mut version_records = Vec::with_capacity(self.version_writes.len());
        for ((id, number), version) in &self.version_writes {
            version_ids.push(id.as_str());
            numbers.push(*number as i32);
            version_records.push(encode(version)?);
        }
        let removed: [Param<'_>; 1] = [(&self.removed, Type::TEXT_ARRAY)];
        let stories: [Param<'_>; 4] = [
            (&story_ids, Type::TEXT_ARRAY),
            (&story_records, Type::BYTEA_ARRAY),
            (&times, Type::TIMESTAMPTZ_ARRAY),
            (&evicted, Type::BOOL_ARRAY),
        ];
        let versions: [Param<'_>; 3] = [
            (&version_ids, Type::TEXT_ARRAY),
            (&numbers, Type::INT4_ARRAY),
            (&version_records, Type::BYTEA_ARRAY),
        ];
        let mut statements = Vec::new();
        // Removals first: PostgreSQL runs pipelined statements in order.
        if !self.removed.is_empty() {
            statements.push(
                self.db
                    .query_typed("DELETE FROM copydesk_stories WHERE id = ANY($1)", &removed),
            );
            statements.push(self.db.query_typed(
                "DELETE FROM copydesk_versions WHERE story_id = ANY($1)",
                &removed,
            ));
        }
        if !story_ids.is_empty() {
            statements.push(self.db.query_typed(
                "INSERT INTO copydesk_stories (id, record, story_time, evicted) \
                 SELECT * FROM unnest($1::text[], $2::bytea[], $3::timestamptz[], $4::boolean[]) \
                 ON CONFLICT (id) DO UPDATE SET record = EXCLUDED.record, \
                 story_time = EXCLUDED.story_time, evicted = EXCLUDED.evicted",
                &stories,
            ));
        }
        if !version_ids.is_empty() {
            statements.push(self.db.query_typed(
                "INSERT INTO copydesk_versions (story_id, number, record) \
                 SELECT * FROM unnest($1::text[], $2::integer[], $3::bytea[]) \
                 ON CONFLICT (story_id, number) DO UPDATE SET record = EXCLUDED.record",
                &versions,
            ));
        }
        self.handle
            .block_on(futures::future::try_join_all(statements))
            .map_err(failed("write stories"))?;
        Ok(())
    }
}

/// A stored version, or `None` when it is damaged (the next one is
/// numbered after it all the same).
fn decode_version(bytes: &[u8], number: i32, id: &str) -> Option<VersionRecord> {
    match decode(bytes, format_args!("version {number} of story {id:?}")) {
        Ok(version) => Some(version),
        Err(err) => {
            tracing::warn!(record = %err, "damaged version: the next one is numbered after it");
            None
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
        let unknown: Vec<&str> = {
            let known = self.stories.borrow();
            ids.iter()
                .copied()
                .filter(|id| !known.contains_key(*id))
                .collect()
        };
        if !unknown.is_empty() {
            let found = self.read_stories(&unknown)?;
            self.stories.borrow_mut().extend(found);
        }
        let known = self.stories.borrow();
        Ok(ids
            .iter()
            .map(|id| known.get(*id).cloned().flatten().map(StoryRecord::stored))
            .collect())
    }

    fn last_version(&self, id: &str) -> Result<LastVersion, StoreError> {
        if let Some(known) = self.last.borrow().get(id) {
            return Ok(known.clone());
        }
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
            (number as u32, decode_version(row.get(1), number, id))
        }))
    }

    fn versions(&self, id: &str) -> Result<Vec<VersionRecord>, StoreError> {
        let mut kept: Vec<VersionRecord> = if self.removed.iter().any(|r| r == id) {
            Vec::new()
        } else {
            let rows = self
                .handle
                .block_on(self.db.query(
                    "SELECT number, record FROM copydesk_versions WHERE story_id = $1 \
                     ORDER BY number",
                    &[&id],
                ))
                .map_err(failed("read versions"))?;
            rows.iter()
                .map(|row| {
                    let number: i32 = row.get(0);
                    decode(row.get(1), format_args!("version {number} of story {id:?}"))
                })
                .collect::<Result<_, _>>()?
        };
        for ((written, _), version) in &self.version_writes {
            if written == id {
                match kept.iter_mut().find(|v| v.number == version.number) {
                    Some(old) => *old = version.clone(),
                    None => kept.push(version.clone()),
                }
            }
        }
        kept.sort_by_key(|v| v.number);
        Ok(kept)
    }

    fn put_version(&mut self, id: &str, version: VersionRecord) {
        let number = version.number;
        let is_latest = self
            .last
            .get_mut()
            .get(id)
            .and_then(|l| l.as_ref())
            .is_none_or(|(n, _)| number >= *n);
        if is_latest {
            self.last
                .get_mut()
                .insert(id.to_owned(), Some((number, Some(version.clone()))));
        }
        self.version_writes.insert((id.to_owned(), number), version);
    }

    fn put_story(&mut self, story: Story, ingested_at: SystemTime, placement: PlacementRecord) {
        let id = story.id.clone();
        let record = StoryRecord {
            story,
            ingested_at,
            placement,
            evicted: false,
        };
        self.stories
            .get_mut()
            .insert(id.clone(), Some(record.clone()));
        self.story_writes.insert(id.clone(), record);
        self.written.push(id);
    }

    fn remove(&mut self, id: &str) {
        self.stories.get_mut().insert(id.to_owned(), None);
        self.last.get_mut().insert(id.to_owned(), None);
        self.story_writes.remove(id);
        self.version_writes.retain(|(written, _), _| written != id);
        self.removed.push(id.to_owned());
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
        self.stories
            .get_mut()
            .insert(id.to_owned(), Some(record.clone()));
        self.story_writes.insert(id.to_owned(), record);
        self.written.push(id.to_owned());
        Ok(())
    }
}
