//! Text primitives shared by summaries and deduplication.
//!
//! Compute only: no gRPC types, no I/O. Every stage works on `&str` and,
//! where a later stage must point back into what the client sent, keeps byte
//! offsets into the original text.
//!
//! - [`agency`]: the news agency the copy names (dateline tag, byline).
//! - [`dateline`]: datelines, and the head matter a page sets above them.
//! - [`furniture`]: lines that are page or wire furniture, not story.
//! - [`caption`]: photo captions and credits, by their marks and grammar.
//! - [`headline`]: a story's headline, from its title or its text's top.
//! - [`normalize`]: folds the surface differences between versions of one
//!   wire story (Unicode forms, quotes, dashes, invisible characters, case).
//! - [`sentences`]: splits a story into sentences with byte offsets.
//! - [`words`]: Unicode word tokens, lowercased, for scoring and matching.
//! - [`sparse`]: dot products of sorted sparse term vectors.
//! - [`stopwords`]: English function words as a fast hash set.

pub mod agency;
pub mod caption;
pub mod dateline;
pub mod furniture;
pub mod headline;
pub mod markup;
pub mod normalize;
pub mod sentences;
pub mod sparse;
pub mod stopwords;
pub mod words;

pub use normalize::normalize;
pub use sentences::{SentenceSpan, split_sentences};
