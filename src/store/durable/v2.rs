//! Schema version 2, read once to upgrade a file in place: its figures had
//! no head overlap (left absent) and no time between the stories. The
//! upgrade fills the time in from the two stories' publication times where
//! the earlier version is still stored, within the open's write
//! transaction, so a crash leaves version 2 whole.

use std::collections::HashMap;
use std::time::SystemTime;

use redb::{ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::records::{OnDisk, StoryRow};
use super::{STORIES, StoreError, backend, decode_plain, encode_plain};
use crate::dedup::{ClusterId, Evidence};
use crate::story::Story;

pub(super) const VERSION: u32 = 2;

#[derive(Serialize, Deserialize)]
pub(super) struct StoryRecord {
    pub story: StoryRow,
    pub ingested_at: SystemTime,
    pub placement: PlacementRecord,
    pub evicted: bool,
}

#[derive(Serialize, Deserialize)]
pub(super) struct PlacementRecord {
    pub sequence: u64,
    pub cluster: ClusterId,
    pub duplicate_of: Option<(String, Figures)>,
}

#[derive(Serialize, Deserialize)]
pub(super) struct Figures {
    pub jaccard: f64,
    pub containment: f64,
    pub lede_overlap: f64,
    pub title_similarity: f64,
    pub word_overlap: f64,
}

/// Rewrites every story record in the version 3 layout.
pub(super) fn upgrade(txn: &WriteTransaction) -> Result<(), StoreError> {
    let mut stories = txn.open_table(STORIES).map_err(backend("open stories"))?;
    let mut published: HashMap<String, Option<SystemTime>> = HashMap::new();
    for row in stories.iter().map_err(backend("read stories"))? {
        let (id, value) = row.map_err(backend("read story"))?;
        let record: StoryRecord =
            decode_plain(value.value(), format_args!("story {:?}", id.value()))?;
        published.insert(
            id.value().to_owned(),
            Story::from_row(record.story).published_at,
        );
    }
    let ids: Vec<String> = published.keys().cloned().collect();
    for id in ids {
        let old: StoryRecord = match stories.get(id.as_str()).map_err(backend("read story"))? {
            Some(value) => decode_plain(value.value(), format_args!("story {id:?}"))?,
            None => continue,
        };
        let story = Story::from_row(old.story);
        let duplicate_of = old.placement.duplicate_of.map(|(other, f)| {
            let evidence = Evidence {
                jaccard: f.jaccard,
                containment: f.containment,
                lede_overlap: f.lede_overlap,
                title_similarity: f.title_similarity,
                word_overlap: f.word_overlap,
                head_overlap: None,
                hours_apart: None,
            }
            .with_publication_times(story.published_at, published.get(&other).copied().flatten());
            (other, evidence)
        });
        let record = super::StoryRecord {
            story,
            ingested_at: old.ingested_at,
            placement: crate::dedup::PlacementRecord {
                sequence: old.placement.sequence,
                cluster: old.placement.cluster,
                duplicate_of,
            },
            evicted: old.evicted,
        };
        stories
            .insert(id.as_str(), encode_plain(&record.to_row())?.as_slice())
            .map_err(backend("upgrade story"))?;
    }
    Ok(())
}
