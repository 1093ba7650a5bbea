//! How the index matches and elects: the settings a store passes in.

use std::str::FromStr;
use std::time::Duration;

use crate::dedup::compare::DEFAULT_FOLLOW_UP_AFTER;
use crate::dedup::minhash::LshParams;

/// Which member of a cluster is its canonical story.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CanonicalPolicy {
    /// The longest story text (furniture excluded): the most complete
    /// version, since papers trim from the bottom. Ties go to the earliest
    /// ingested.
    #[default]
    Longest,
    /// The first published (or first ingested) version.
    Earliest,
    /// The last published (or last ingested) version: the latest update.
    Latest,
}

impl CanonicalPolicy {
    /// The policy's name, as accepted by [`FromStr`] and shown to clients.
    pub fn as_str(&self) -> &'static str {
        match self {
            CanonicalPolicy::Longest => "longest",
            CanonicalPolicy::Earliest => "earliest",
            CanonicalPolicy::Latest => "latest",
        }
    }
}

impl FromStr for CanonicalPolicy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "longest" => Ok(CanonicalPolicy::Longest),
            "earliest" => Ok(CanonicalPolicy::Earliest),
            "latest" => Ok(CanonicalPolicy::Latest),
            other => Err(format!(
                "unknown canonical policy {other:?}: use longest, earliest or latest"
            )),
        }
    }
}

/// LSH candidates are looked for around this Jaccard similarity: low,
/// because related stories can share a tenth of their text or less. Every
/// candidate is then verified on its shingle, lede and word samples.
pub const CANDIDATE_THRESHOLD: f64 = 0.05;

/// How the index matches and elects.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IndexConfig {
    /// LSH banding for candidate search.
    pub lsh: LshParams,
    /// Canonical story policy.
    pub canonical: CanonicalPolicy,
    /// Stories published further apart than this are follow-ups unless
    /// their text is a re-run (see [`crate::dedup::Evidence::relation_within`]).
    pub follow_up_after: Duration,
}

impl Default for IndexConfig {
    fn default() -> Self {
        IndexConfig {
            lsh: LshParams::for_threshold(CANDIDATE_THRESHOLD)
                .expect("the candidate threshold constant is in (0, 1)"),
            canonical: CanonicalPolicy::default(),
            follow_up_after: DEFAULT_FOLLOW_UP_AFTER,
        }
    }
}
