//! The file's layout: the records the durable store writes, owned here and
//! nowhere else.
//!
//! The core's types (a story, the figures of a decision, a cluster, a
//! version and its changes) derive nothing for the file. Each has a row
//! type here, declared by [`rows!`] with the core type's fields, and the
//! conversions destructure every field on both sides: a field added to a
//! core type fails to compile here ("pattern does not mention field") until
//! the store decides what the file keeps of it (and whether that is a new
//! [`super::SCHEMA_VERSION`]). Postcard encodes a struct as its fields in
//! order, with nothing between them, so the order of the fields below is
//! the layout: never reorder them.

use std::ops::Range;
use std::time::SystemTime;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::StoryRecord;
use crate::dedup::changes::{ChangedSentence, Changes, Passage, VersionChanges};
use crate::dedup::{ClusterRecord, Evidence, IndexCounters, PlacementRecord};
use crate::store::VersionRecord;
use crate::story::Story;
use crate::text::agency::Agency;

/// A value the file holds, written as its row.
pub(in crate::store) trait OnDisk: Sized {
    /// The layout it is written in.
    type Row: Serialize + DeserializeOwned;

    /// The row to write.
    fn to_row(&self) -> Self::Row;

    /// The value a row read back holds.
    fn from_row(row: Self::Row) -> Self;
}

/// Values written as they are.
macro_rules! as_is {
    ($($ty:ty),* $(,)?) => {$(
        impl OnDisk for $ty {
            type Row = $ty;

            fn to_row(&self) -> $ty {
                self.clone()
            }

            fn from_row(row: $ty) -> $ty {
                row
            }
        }
    )*};
}

as_is!(String, bool, u32, u64, f64, SystemTime, Range<usize>);

impl<T: OnDisk> OnDisk for Option<T> {
    type Row = Option<T::Row>;

    fn to_row(&self) -> Self::Row {
        self.as_ref().map(T::to_row)
    }

    fn from_row(row: Self::Row) -> Self {
        row.map(T::from_row)
    }
}

impl<T: OnDisk> OnDisk for Vec<T> {
    type Row = Vec<T::Row>;

    fn to_row(&self) -> Self::Row {
        self.iter().map(T::to_row).collect()
    }

    fn from_row(row: Self::Row) -> Self {
        row.into_iter().map(T::from_row).collect()
    }
}

impl<A: OnDisk, B: OnDisk> OnDisk for (A, B) {
    type Row = (A::Row, B::Row);

    fn to_row(&self) -> Self::Row {
        (self.0.to_row(), self.1.to_row())
    }

    fn from_row((a, b): Self::Row) -> Self {
        (A::from_row(a), B::from_row(b))
    }
}

/// Declares the row of each core struct, field for field in the order
/// written, with its [`OnDisk`] conversions (each destructures every
/// field, so a field the row does not name is a compile error).
macro_rules! rows {
    ($(
        $(#[$doc:meta])*
        $row:ident for $core:ident { $($field:ident: $ty:ty),* $(,)? }
    )*) => {$(
        $(#[$doc])*
        #[derive(Debug, Serialize, Deserialize)]
        pub(in crate::store) struct $row {
            $($field: <$ty as OnDisk>::Row),*
        }

        impl OnDisk for $core {
            type Row = $row;

            fn to_row(&self) -> $row {
                let $core { $($field),* } = self;
                $row { $($field: $field.to_row()),* }
            }

            fn from_row(row: $row) -> $core {
                let $row { $($field),* } = row;
                $core { $($field: <$ty as OnDisk>::from_row($field)),* }
            }
        }
    )*};
}

rows! {
    /// A story's fields, as schema versions 2 to 5 store them.
    StoryRow for Story {
        id: String,
        title: String,
        body: String,
        published_at: Option<SystemTime>,
        source: String,
        language: String,
    }

    /// The figures a story was folded on (schema version 3 on).
    EvidenceRow for Evidence {
        jaccard: f64,
        containment: f64,
        lede_overlap: f64,
        title_similarity: f64,
        word_overlap: f64,
        head_overlap: Option<f64>,
        hours_apart: Option<f64>,
    }

    /// Where the index placed a story.
    PlacementRow for PlacementRecord {
        sequence: u64,
        cluster: u64,
        duplicate_of: Option<(String, Evidence)>,
    }

    /// A row of the `stories` table.
    StoryRecordRow for StoryRecord {
        story: Story,
        ingested_at: SystemTime,
        placement: PlacementRecord,
        evicted: bool,
    }

    /// A row of the `clusters` table.
    ClusterRow for ClusterRecord {
        id: u64,
        members: Vec<String>,
        canonical: String,
        related: Vec<u64>,
        created: SystemTime,
        updated: SystemTime,
    }

    /// The `meta/counters` record.
    CountersRow for IndexCounters {
        next_cluster: u64,
        next_sequence: u64,
    }

    /// A sentence of one version, by its bytes in that version's body.
    PassageRow for Passage {
        range: Range<usize>,
        text: String,
    }

    /// A reworded sentence.
    ChangedSentenceRow for ChangedSentence {
        old: Passage,
        new: Passage,
        words_removed: Vec<String>,
        words_added: Vec<String>,
    }

    /// What a version changed (the fields follow `against` in the file).
    ChangesRow for Changes {
        added: Vec<Passage>,
        removed: Vec<Passage>,
        changed: Vec<ChangedSentence>,
        top_changed: bool,
        trimmed: bool,
        cut: bool,
        update_summary: Vec<Passage>,
    }

    /// What a version changed against the one it followed.
    VersionChangesRow for VersionChanges {
        against: String,
        changes: Changes,
    }

    /// A row of the `versions` table (schema version 5).
    VersionRow for VersionRecord {
        number: u32,
        title: String,
        published_at: Option<SystemTime>,
        ingested_at: SystemTime,
        source: String,
        agency: Option<Agency>,
        body_bytes: u64,
        cluster: u64,
        changes: Option<VersionChanges>,
        superseded_body: Option<String>,
    }
}

/// The `meta/cluster_aliases` record: each folded cluster id with the
/// cluster it lives on in.
pub(super) type AliasesRow = Vec<(u64, u64)>;

/// The agency a version names, by position: add new ones at the end.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub(in crate::store) enum AgencyRow {
    AssociatedPress,
    Reuters,
    Afp,
    Bloomberg,
    Upi,
    Dpa,
}

impl OnDisk for Agency {
    type Row = AgencyRow;

    fn to_row(&self) -> AgencyRow {
        use Agency as A;
        match self {
            A::AssociatedPress => AgencyRow::AssociatedPress,
            A::Reuters => AgencyRow::Reuters,
            A::Afp => AgencyRow::Afp,
            A::Bloomberg => AgencyRow::Bloomberg,
            A::Upi => AgencyRow::Upi,
            A::Dpa => AgencyRow::Dpa,
        }
    }

    fn from_row(row: AgencyRow) -> Agency {
        // The rows are declared in this order.
        const BY_ROW: [Agency; 6] = [
            Agency::AssociatedPress,
            Agency::Reuters,
            Agency::Afp,
            Agency::Bloomberg,
            Agency::Upi,
            Agency::Dpa,
        ];
        BY_ROW[row as usize]
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
    fn every_agency_reads_back_as_written() {
        use Agency as A;
        for agency in [
            A::AssociatedPress,
            A::Reuters,
            A::Afp,
            A::Bloomberg,
            A::Upi,
            A::Dpa,
        ] {
            assert_eq!(round_trip(&agency), agency);
        }
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
        let agency = Some(Agency::Dpa).to_row();
        assert_eq!(postcard::to_allocvec(&agency).expect("encode"), vec![1, 5]);
    }
}
