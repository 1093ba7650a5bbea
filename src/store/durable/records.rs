//! The file's layout: the records the durable store writes, owned here and
//! nowhere else.
//!
//! The core's types (a story, the figures of a decision, a cluster, a
//! version and its changes) derive nothing for the file. Each has a row
//! type here, and the conversions destructure every field on both sides:
//! a field added to a core type fails to compile in this file until the
//! store decides what the file keeps of it (and whether that is a new
//! [`super::SCHEMA_VERSION`]). Postcard encodes fields by position, so the
//! order of the fields below is the layout: never reorder them.

use std::ops::Range;
use std::time::SystemTime;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::StoryRecord;
use crate::dedup::changes::{ChangedSentence, Changes, Passage, VersionChanges};
use crate::dedup::{ClusterId, ClusterRecord, Evidence, IndexCounters, PlacementRecord};
use crate::store::VersionRecord;
use crate::story::Story;
use crate::text::agency::Agency;

/// A value the file holds, written as its row.
pub(super) trait OnDisk: Sized {
    /// The layout it is written in.
    type Row: Serialize + DeserializeOwned;

    /// The row to write.
    fn to_row(&self) -> Self::Row;

    /// The value a row read back holds.
    fn from_row(row: Self::Row) -> Self;
}

/// A story's fields, as schema versions 2 to 5 store them.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct StoryRow {
    id: String,
    title: String,
    body: String,
    published_at: Option<SystemTime>,
    source: String,
    language: String,
}

impl StoryRow {
    /// When the story says it was published (the schema 2 upgrade reads
    /// it).
    pub(super) fn published_at(&self) -> Option<SystemTime> {
        self.published_at
    }
}

impl From<&Story> for StoryRow {
    fn from(story: &Story) -> StoryRow {
        let Story {
            id,
            title,
            body,
            published_at,
            source,
            language,
        } = story;
        StoryRow {
            id: id.clone(),
            title: title.clone(),
            body: body.clone(),
            published_at: *published_at,
            source: source.clone(),
            language: language.clone(),
        }
    }
}

impl From<StoryRow> for Story {
    fn from(row: StoryRow) -> Story {
        let StoryRow {
            id,
            title,
            body,
            published_at,
            source,
            language,
        } = row;
        Story {
            id,
            title,
            body,
            published_at,
            source,
            language,
        }
    }
}

/// The figures a story was folded on (schema version 3 on).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub(super) struct EvidenceRow {
    jaccard: f64,
    containment: f64,
    lede_overlap: f64,
    title_similarity: f64,
    word_overlap: f64,
    head_overlap: Option<f64>,
    hours_apart: Option<f64>,
}

impl From<Evidence> for EvidenceRow {
    fn from(evidence: Evidence) -> EvidenceRow {
        let Evidence {
            jaccard,
            containment,
            lede_overlap,
            title_similarity,
            word_overlap,
            head_overlap,
            hours_apart,
        } = evidence;
        EvidenceRow {
            jaccard,
            containment,
            lede_overlap,
            title_similarity,
            word_overlap,
            head_overlap,
            hours_apart,
        }
    }
}

impl From<EvidenceRow> for Evidence {
    fn from(row: EvidenceRow) -> Evidence {
        let EvidenceRow {
            jaccard,
            containment,
            lede_overlap,
            title_similarity,
            word_overlap,
            head_overlap,
            hours_apart,
        } = row;
        Evidence {
            jaccard,
            containment,
            lede_overlap,
            title_similarity,
            word_overlap,
            head_overlap,
            hours_apart,
        }
    }
}

/// Where the index placed a story.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct PlacementRow {
    sequence: u64,
    cluster: ClusterId,
    duplicate_of: Option<(String, EvidenceRow)>,
}

impl From<&PlacementRecord> for PlacementRow {
    fn from(placement: &PlacementRecord) -> PlacementRow {
        let PlacementRecord {
            sequence,
            cluster,
            duplicate_of,
        } = placement;
        PlacementRow {
            sequence: *sequence,
            cluster: *cluster,
            duplicate_of: duplicate_of
                .as_ref()
                .map(|(id, evidence)| (id.clone(), (*evidence).into())),
        }
    }
}

impl From<PlacementRow> for PlacementRecord {
    fn from(row: PlacementRow) -> PlacementRecord {
        let PlacementRow {
            sequence,
            cluster,
            duplicate_of,
        } = row;
        PlacementRecord {
            sequence,
            cluster,
            duplicate_of: duplicate_of.map(|(id, evidence)| (id, evidence.into())),
        }
    }
}

/// A row of the `stories` table.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct StoryRecordRow {
    story: StoryRow,
    ingested_at: SystemTime,
    placement: PlacementRow,
    evicted: bool,
}

impl StoryRecordRow {
    /// A row from its parts (the schema 2 upgrade builds one).
    pub(super) fn new(
        story: StoryRow,
        ingested_at: SystemTime,
        placement: &PlacementRecord,
        evicted: bool,
    ) -> StoryRecordRow {
        StoryRecordRow {
            story,
            ingested_at,
            placement: placement.into(),
            evicted,
        }
    }
}

impl OnDisk for StoryRecord {
    type Row = StoryRecordRow;

    fn to_row(&self) -> StoryRecordRow {
        let StoryRecord {
            story,
            ingested_at,
            placement,
            evicted,
        } = self;
        StoryRecordRow::new(story.into(), *ingested_at, placement, *evicted)
    }

    fn from_row(row: StoryRecordRow) -> StoryRecord {
        let StoryRecordRow {
            story,
            ingested_at,
            placement,
            evicted,
        } = row;
        StoryRecord {
            story: story.into(),
            ingested_at,
            placement: placement.into(),
            evicted,
        }
    }
}

/// A row of the `clusters` table.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct ClusterRow {
    id: ClusterId,
    members: Vec<String>,
    canonical: String,
    related: Vec<ClusterId>,
    created: SystemTime,
    updated: SystemTime,
}

impl OnDisk for ClusterRecord {
    type Row = ClusterRow;

    fn to_row(&self) -> ClusterRow {
        let ClusterRecord {
            id,
            members,
            canonical,
            related,
            created,
            updated,
        } = self;
        ClusterRow {
            id: *id,
            members: members.clone(),
            canonical: canonical.clone(),
            related: related.clone(),
            created: *created,
            updated: *updated,
        }
    }

    fn from_row(row: ClusterRow) -> ClusterRecord {
        let ClusterRow {
            id,
            members,
            canonical,
            related,
            created,
            updated,
        } = row;
        ClusterRecord {
            id,
            members,
            canonical,
            related,
            created,
            updated,
        }
    }
}

/// The `meta/counters` record.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct CountersRow {
    next_cluster: ClusterId,
    next_sequence: u64,
}

impl OnDisk for IndexCounters {
    type Row = CountersRow;

    fn to_row(&self) -> CountersRow {
        let IndexCounters {
            next_cluster,
            next_sequence,
        } = *self;
        CountersRow {
            next_cluster,
            next_sequence,
        }
    }

    fn from_row(row: CountersRow) -> IndexCounters {
        let CountersRow {
            next_cluster,
            next_sequence,
        } = row;
        IndexCounters {
            next_cluster,
            next_sequence,
        }
    }
}

/// The `meta/cluster_aliases` record: each folded cluster id with the
/// cluster it lives on in.
pub(super) type AliasesRow = Vec<(ClusterId, ClusterId)>;

impl OnDisk for AliasesRow {
    type Row = AliasesRow;

    fn to_row(&self) -> AliasesRow {
        self.clone()
    }

    fn from_row(row: AliasesRow) -> AliasesRow {
        row
    }
}

/// The agency a version names. Variants are written by position: add new
/// ones at the end.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub(super) enum AgencyRow {
    AssociatedPress,
    Reuters,
    Afp,
    Bloomberg,
    Upi,
    Dpa,
}

impl From<Agency> for AgencyRow {
    fn from(agency: Agency) -> AgencyRow {
        match agency {
            Agency::AssociatedPress => AgencyRow::AssociatedPress,
            Agency::Reuters => AgencyRow::Reuters,
            Agency::Afp => AgencyRow::Afp,
            Agency::Bloomberg => AgencyRow::Bloomberg,
            Agency::Upi => AgencyRow::Upi,
            Agency::Dpa => AgencyRow::Dpa,
        }
    }
}

impl From<AgencyRow> for Agency {
    fn from(row: AgencyRow) -> Agency {
        match row {
            AgencyRow::AssociatedPress => Agency::AssociatedPress,
            AgencyRow::Reuters => Agency::Reuters,
            AgencyRow::Afp => Agency::Afp,
            AgencyRow::Bloomberg => Agency::Bloomberg,
            AgencyRow::Upi => Agency::Upi,
            AgencyRow::Dpa => Agency::Dpa,
        }
    }
}

/// A sentence of one version, by its bytes in that version's body.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct PassageRow {
    range: Range<usize>,
    text: String,
}

impl From<&Passage> for PassageRow {
    fn from(passage: &Passage) -> PassageRow {
        let Passage { range, text } = passage;
        PassageRow {
            range: range.clone(),
            text: text.clone(),
        }
    }
}

impl From<PassageRow> for Passage {
    fn from(row: PassageRow) -> Passage {
        let PassageRow { range, text } = row;
        Passage { range, text }
    }
}

fn passage_rows(passages: &[Passage]) -> Vec<PassageRow> {
    passages.iter().map(PassageRow::from).collect()
}

fn passages(rows: Vec<PassageRow>) -> Vec<Passage> {
    rows.into_iter().map(Passage::from).collect()
}

/// A reworded sentence.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct ChangedSentenceRow {
    old: PassageRow,
    new: PassageRow,
    words_removed: Vec<String>,
    words_added: Vec<String>,
}

impl From<&ChangedSentence> for ChangedSentenceRow {
    fn from(changed: &ChangedSentence) -> ChangedSentenceRow {
        let ChangedSentence {
            old,
            new,
            words_removed,
            words_added,
        } = changed;
        ChangedSentenceRow {
            old: old.into(),
            new: new.into(),
            words_removed: words_removed.clone(),
            words_added: words_added.clone(),
        }
    }
}

impl From<ChangedSentenceRow> for ChangedSentence {
    fn from(row: ChangedSentenceRow) -> ChangedSentence {
        let ChangedSentenceRow {
            old,
            new,
            words_removed,
            words_added,
        } = row;
        ChangedSentence {
            old: old.into(),
            new: new.into(),
            words_removed,
            words_added,
        }
    }
}

/// What a version changed against the one it followed.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct VersionChangesRow {
    against: String,
    added: Vec<PassageRow>,
    removed: Vec<PassageRow>,
    changed: Vec<ChangedSentenceRow>,
    top_changed: bool,
    trimmed: bool,
    cut: bool,
    update_summary: Vec<PassageRow>,
}

impl From<&VersionChanges> for VersionChangesRow {
    fn from(version: &VersionChanges) -> VersionChangesRow {
        let VersionChanges { against, changes } = version;
        let Changes {
            added,
            removed,
            changed,
            top_changed,
            trimmed,
            cut,
            update_summary,
        } = changes;
        VersionChangesRow {
            against: against.clone(),
            added: passage_rows(added),
            removed: passage_rows(removed),
            changed: changed.iter().map(ChangedSentenceRow::from).collect(),
            top_changed: *top_changed,
            trimmed: *trimmed,
            cut: *cut,
            update_summary: passage_rows(update_summary),
        }
    }
}

impl From<VersionChangesRow> for VersionChanges {
    fn from(row: VersionChangesRow) -> VersionChanges {
        let VersionChangesRow {
            against,
            added,
            removed,
            changed,
            top_changed,
            trimmed,
            cut,
            update_summary,
        } = row;
        VersionChanges {
            against,
            changes: Changes {
                added: passages(added),
                removed: passages(removed),
                changed: changed.into_iter().map(ChangedSentence::from).collect(),
                top_changed,
                trimmed,
                cut,
                update_summary: passages(update_summary),
            },
        }
    }
}

/// A row of the `versions` table (schema version 5).
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct VersionRow {
    number: u32,
    title: String,
    published_at: Option<SystemTime>,
    ingested_at: SystemTime,
    source: String,
    agency: Option<AgencyRow>,
    body_bytes: u64,
    cluster: ClusterId,
    changes: Option<VersionChangesRow>,
    superseded_body: Option<String>,
}

impl OnDisk for VersionRecord {
    type Row = VersionRow;

    fn to_row(&self) -> VersionRow {
        let VersionRecord {
            number,
            title,
            published_at,
            ingested_at,
            source,
            agency,
            body_bytes,
            cluster,
            changes,
            superseded_body,
        } = self;
        VersionRow {
            number: *number,
            title: title.clone(),
            published_at: *published_at,
            ingested_at: *ingested_at,
            source: source.clone(),
            agency: agency.map(AgencyRow::from),
            body_bytes: *body_bytes,
            cluster: *cluster,
            changes: changes.as_ref().map(VersionChangesRow::from),
            superseded_body: superseded_body.clone(),
        }
    }

    fn from_row(row: VersionRow) -> VersionRecord {
        let VersionRow {
            number,
            title,
            published_at,
            ingested_at,
            source,
            agency,
            body_bytes,
            cluster,
            changes,
            superseded_body,
        } = row;
        VersionRecord {
            number,
            title,
            published_at,
            ingested_at,
            source,
            agency: agency.map(Agency::from),
            body_bytes,
            cluster,
            changes: changes.map(VersionChanges::from),
            superseded_body,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn version() -> VersionRecord {
        let passage = |start: usize, text: &str| Passage {
            range: start..start + text.len(),
            text: text.to_owned(),
        };
        VersionRecord {
            number: 2,
            title: "Talks resume".into(),
            published_at: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)),
            ingested_at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_100),
            source: "wire".into(),
            agency: Some(Agency::Dpa),
            body_bytes: 420,
            cluster: 7,
            changes: Some(VersionChanges {
                against: "a".into(),
                changes: Changes {
                    added: vec![passage(0, "Talks resumed on Monday.")],
                    removed: vec![passage(30, "Talks stalled.")],
                    changed: vec![ChangedSentence {
                        old: passage(10, "Six died."),
                        new: passage(25, "Seven died."),
                        words_removed: vec!["six".into()],
                        words_added: vec!["seven".into()],
                    }],
                    top_changed: true,
                    trimmed: false,
                    cut: true,
                    update_summary: vec![passage(0, "Talks resumed on Monday.")],
                },
            }),
            superseded_body: Some("Talks stalled.".into()),
        }
    }

    fn round_trip<T: OnDisk>(value: &T) -> T {
        let bytes = postcard::to_allocvec(&value.to_row()).expect("encode");
        T::from_row(postcard::from_bytes(&bytes).expect("decode"))
    }

    #[test]
    fn every_record_reads_back_as_written() {
        let version = version();
        assert_eq!(round_trip(&version), version);
        let cluster = ClusterRecord {
            id: 3,
            members: vec!["a".into(), "b".into()],
            canonical: "b".into(),
            related: vec![9],
            created: SystemTime::UNIX_EPOCH + Duration::from_nanos(5),
            updated: SystemTime::UNIX_EPOCH + Duration::from_secs(9),
        };
        assert_eq!(round_trip(&cluster), cluster);
        let counters = IndexCounters {
            next_cluster: 4,
            next_sequence: 12,
        };
        assert_eq!(round_trip(&counters), counters);
        let story = StoryRecord {
            story: Story {
                id: "a".into(),
                title: "Talks".into(),
                body: "Talks resumed.".into(),
                published_at: None,
                source: "wire".into(),
                language: "en".into(),
            },
            ingested_at: SystemTime::UNIX_EPOCH + Duration::from_secs(3),
            placement: PlacementRecord {
                sequence: 2,
                cluster: 3,
                duplicate_of: Some((
                    "b".into(),
                    Evidence {
                        jaccard: 0.5,
                        head_overlap: Some(0.25),
                        ..Evidence::default()
                    },
                )),
            },
            evicted: true,
        };
        let back = round_trip(&story);
        assert_eq!(back.story, story.story);
        assert_eq!(back.placement, story.placement);
        assert_eq!(
            (back.ingested_at, back.evicted),
            (story.ingested_at, story.evicted)
        );
    }

    /// `version()` as schema 5 wrote it when the core's own types were
    /// the layout.
    const GOLDEN_VERSION: &str = "020c54616c6b7320726573756d650180e2cfaa0600e4e2cfaa060004776972650105a403070101610100181854616c6b7320726573756d6564206f6e204d6f6e6461792e011e2c0e54616c6b73207374616c6c65642e010a130953697820646965642e19240b536576656e20646965642e01037369780105736576656e0100010100181854616c6b7320726573756d6564206f6e204d6f6e6461792e010e54616c6b73207374616c6c65642e";

    /// The layout is the file's: these bytes were written by schema 5
    /// before the rows moved here, and must read back the same.
    #[test]
    fn the_layout_of_schema_5_is_kept() {
        let written = postcard::to_allocvec(&version().to_row()).expect("encode");
        let hex: String = written.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, GOLDEN_VERSION);
        let counters = IndexCounters {
            next_cluster: 300,
            next_sequence: 5,
        };
        assert_eq!(
            postcard::to_allocvec(&counters.to_row()).expect("encode"),
            vec![0xac, 0x02, 0x05]
        );
        let agency: Option<AgencyRow> = Some(Agency::Dpa.into());
        assert_eq!(postcard::to_allocvec(&agency).expect("encode"), vec![1, 5]);
    }
}
