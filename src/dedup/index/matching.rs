//! Candidates and verified matches: LSH bands for shared text, posted
//! topic words for shared events, the headline table for pages with no
//! story text; each candidate verified by [`compare`] and the agency and
//! event rules.

use std::time::SystemTime;

use smallvec::SmallVec;

use super::entry::topic_hash;
use super::{Index, Match};
use crate::dedup::compare::{Evidence, Relation, compare};
use crate::dedup::fingerprint::Fingerprint;
use crate::dedup::sample::Sample;
use crate::dedup::vocabulary::{self, Vocabulary};
use crate::text::agency::Agency;
use crate::text::headline::HeadlineFrom;

/// A story posts this many of its topic words (the most frequent that are
/// not common), for later reports of the same event to find it by.
pub(super) const POSTED_TOPIC_WORDS: usize = 2;

/// A word posted by more stories than this is no mark of one event (a
/// running story's stock names, a beat's vocabulary): it finds nothing.
/// Bounds the event candidates of one story to a few hundred.
const MAX_EVENT_POSTINGS: usize = 16;

/// Two stories that share this much of their uncommon vocabulary beyond
/// the text they share verbatim ([`Vocabulary::event_overlap`]) report one
/// event: RELATED. Set on the multilingual event pairs (`events_dev`) and
/// checked on the real-wire, wire and CNN/DM sets.
const EVENT_RELATED: f64 = 0.2;

/// A page with no story text (a photo gallery under a wire story's
/// headline) folds into the story whose title it carries only when that
/// headline has this many distinct words: a short label ("Weather",
/// "Obituaries Front") is shared by pages that have nothing in common.
const MIN_HEADLINE_WORDS: usize = 5;

/// The key a story is filed under in the headline table, if any: its
/// headline words, when it is a page with no story text, or a story whose
/// title is its own headline ([`HeadlineFrom::Title`]).
pub(super) fn headline_key(fingerprint: &Fingerprint) -> Option<u64> {
    let words = fingerprint.title_words();
    let files = words.len() >= MIN_HEADLINE_WORDS
        && (fingerprint.shingle_count == 0 || fingerprint.headline == HeadlineFrom::Title);
    files.then(|| {
        // Every ingest asks: no allocation (a headline keeps 32 words at most).
        let mut bytes: SmallVec<[u8; 64]> = SmallVec::new();
        bytes.extend(words.iter().flat_map(|w| w.to_le_bytes()));
        xxhash_rust::xxh3::xxh3_64(&bytes)
    })
}

/// Stories whose copy names different agencies are SAME only when their
/// text is largely one (the `jaccard` of the SAME rule) or one lies whole
/// in the other (the trimmed rule's containment).
const AGENCY_SAME_JACCARD: f64 = 0.7;
const AGENCY_SAME_CONTAINMENT: f64 = 0.9;

/// One agency's copy is a version of the agency's report when a third of
/// the smaller story is the other's text and half its words are the
/// other's: an agency re-tops its main story through the day ("sets
/// expectations low", then "arrives in Finland", then "names EU a foe"),
/// each version several paragraphs of new top over the last one's text,
/// which the rewrite rule (most of the text and nearly all the words)
/// cannot follow. The byline is what makes that safe: two outlets' stories
/// that share a third of their text are follow-ups as often as versions.
/// Set on the real-wire pairs (no labelled pair of one agency's copy
/// between 0.3 and 0.9 of shared text is RELATED); the CNN/DM pairs name
/// no agency and are untouched.
const AGENCY_VERSION_CONTAINMENT: f64 = 1.0 / 3.0;
const AGENCY_VERSION_WORDS: f64 = 0.5;

/// Whether both stories name the same agency.
fn same_agency(a: Option<Agency>, b: Option<Agency>) -> bool {
    a.zip(b).is_some_and(|(a, b)| a == b)
}

/// Whether both stories name an agency and the agencies differ.
fn agencies_differ(a: Option<Agency>, b: Option<Agency>) -> bool {
    a.zip(b).is_some_and(|(a, b)| a != b)
}

impl Index {
    /// Verified matches of `fingerprint`, published at `published_at` (SAME
    /// and RELATED), best first. `exclude` leaves one stored story out (the
    /// text's own earlier version).
    pub fn matches(
        &self,
        fingerprint: &Fingerprint,
        published_at: Option<SystemTime>,
        exclude: Option<&str>,
    ) -> Vec<Match> {
        let excluded = exclude.and_then(|id| self.slot_of(id));
        // A text with no story in it (empty, or a page of nothing but
        // captions and widgets) is a version only of the story whose
        // headline it carries.
        if fingerprint.shingle_count == 0 {
            return self.headline_matches(fingerprint, excluded);
        }
        let words = fingerprint.word_sample();
        let uncommon_words = self.vocabulary.uncommon(&words);
        let uncommon = Sample {
            values: &uncommon_words,
            level: words.level,
        };
        let mut candidates = self.lsh_candidates(fingerprint);
        // Stories found only through a shared word are verified only when
        // their uncommon words could make them RELATED (the event overlap
        // is never above the words' overlap): most share one name and
        // nothing else.
        candidates.extend(
            self.event_candidates(fingerprint, &candidates)
                .into_iter()
                .filter(|&slot| {
                    let other = self.slot_entry(slot).fingerprint.word_sample();
                    Vocabulary::uncommon_dice_bound(&uncommon, &other) >= EVENT_RELATED
                }),
        );
        let mut matches: Vec<Match> = candidates
            .into_iter()
            .filter(|&slot| Some(slot) != excluded)
            .filter(|&slot| self.slot_entry(slot).fingerprint.shingle_count > 0)
            .filter_map(|slot| {
                let entry = self.slot_entry(slot);
                let evidence = compare(fingerprint, &entry.fingerprint)
                    .with_publication_times(published_at, entry.meta.published_at());
                let mut relation = evidence.relation_within(self.config.follow_up_after);
                // Two agencies' copy is two reports, though it shares long
                // quotes from one press conference: SAME then needs the
                // same text, not a rewrite's shared words. (One agency's
                // copy re-tagged by a site, which the synthetic wire set
                // does, still has the same text.)
                if relation == Relation::Same
                    && agencies_differ(fingerprint.agency, entry.fingerprint.agency)
                    && evidence.jaccard < AGENCY_SAME_JACCARD
                    && evidence.containment < AGENCY_SAME_CONTAINMENT
                {
                    relation = Relation::Related;
                }
                if relation != Relation::Same
                    && same_agency(fingerprint.agency, entry.fingerprint.agency)
                    && evidence.containment >= AGENCY_VERSION_CONTAINMENT
                    && evidence.word_overlap >= AGENCY_VERSION_WORDS
                    && !evidence.published_apart_over(self.config.follow_up_after)
                {
                    relation = Relation::Same;
                }
                // Reports of one event by different writers share its
                // names and terms, not its sentences.
                if relation == Relation::Unrelated {
                    let dice = self
                        .vocabulary
                        .uncommon_dice(&uncommon, &entry.fingerprint.word_sample());
                    if vocabulary::event_overlap(dice, evidence.containment) >= EVENT_RELATED {
                        relation = Relation::Related;
                    }
                }
                (relation != Relation::Unrelated).then(|| Match {
                    story_id: entry.meta.id.to_string(),
                    cluster: entry.cluster,
                    relation,
                    evidence,
                })
            })
            .collect();
        matches.extend(self.headline_matches(fingerprint, excluded));
        matches.sort_by(|a, b| {
            a.relation
                .cmp(&b.relation)
                .then(b.evidence.strength().total_cmp(&a.evidence.strength()))
                .then(a.story_id.cmp(&b.story_id))
        });
        matches
    }

    /// A page with no story text and a story whose title is its headline,
    /// the two carrying the same headline: versions of one report (a wire
    /// story's photo page and the story). The evidence is the headline
    /// alone. Pages with no text never match each other: a site's empty
    /// pages share its labels.
    fn headline_matches(&self, fingerprint: &Fingerprint, excluded: Option<u32>) -> Vec<Match> {
        let Some(key) = headline_key(fingerprint) else {
            return Vec::new();
        };
        let empty = fingerprint.shingle_count == 0;
        self.by_headline
            .candidates(key)
            .filter(|&slot| Some(slot) != excluded)
            .map(|slot| self.slot_entry(slot))
            .filter(|entry| {
                (entry.fingerprint.shingle_count == 0) != empty
                    && entry.fingerprint.title_words() == fingerprint.title_words()
            })
            .map(|entry| Match {
                story_id: entry.meta.id.to_string(),
                cluster: entry.cluster,
                relation: Relation::Same,
                evidence: Evidence {
                    title_similarity: 1.0,
                    ..Evidence::default()
                },
            })
            .collect()
    }

    /// Stories that share an LSH band with `fingerprint`: those whose text
    /// it may share. Sorted, each once.
    fn lsh_candidates(&self, fingerprint: &Fingerprint) -> Vec<u32> {
        let mut candidates: Vec<u32> = Vec::new();
        for (band, key) in self
            .config
            .lsh
            .band_keys(&fingerprint.signature)
            .enumerate()
        {
            let rows = self.config.lsh.band(&fingerprint.signature, band);
            candidates.extend(self.buckets[band].candidates(key).filter(|&slot| {
                self.config
                    .lsh
                    .band(&self.slot_entry(slot).fingerprint.signature, band)
                    == rows
            }));
        }
        candidates.sort_unstable();
        candidates.dedup();
        candidates
    }

    /// The stories posted under a word of `fingerprint` that is not
    /// common (its sampled content words and its topic words: a long
    /// story's sample holds one word in eight, its topic words always),
    /// leaving out those in `found` (sorted). A word posted by more than
    /// [`MAX_EVENT_POSTINGS`] stories finds nothing. Sorted, each once.
    fn event_candidates(&self, fingerprint: &Fingerprint, found: &[u32]) -> Vec<u32> {
        let mut candidates = Vec::new();
        let words = fingerprint.word_sample();
        let mut keys: SmallVec<[u16; 128]> = words
            .values
            .iter()
            .map(|&v| vocabulary::key_of(v, words.level))
            .chain(fingerprint.topic_words().iter().copied())
            .filter(|&key| !self.vocabulary.is_common(key))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        let mut posted: SmallVec<[u32; MAX_EVENT_POSTINGS + 1]> = SmallVec::new();
        for key in keys {
            for (table_at, table) in self.by_topic.iter().enumerate() {
                posted.clear();
                posted.extend(
                    table
                        .candidates(topic_hash(key))
                        .filter(|&slot| {
                            self.slot_entry(slot)
                                .fingerprint
                                .topic_words()
                                .get(table_at)
                                == Some(&key)
                        })
                        .take(MAX_EVENT_POSTINGS + 1),
                );
                if posted.len() <= MAX_EVENT_POSTINGS {
                    candidates.extend(
                        posted
                            .iter()
                            .filter(|slot| found.binary_search(slot).is_err()),
                    );
                }
            }
        }
        candidates.sort_unstable();
        candidates.dedup();
        candidates
    }
}
