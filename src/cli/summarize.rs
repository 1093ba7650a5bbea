//! `copydesk summarize`: one summary line per input story.
//!
//! Summaries are independent per story, so they stream through every core
//! ([`crate::parallel::in_order`]) and are written in input order. What
//! ties stories together is learned furniture: the batch first goes
//! through a near-duplicate index in order, fingerprints made on the other
//! threads meanwhile.

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use serde::Serialize;

use super::batch::{Batch, Input, Output, ReadAhead, json_line};
use super::{CliError, SummarizeArgs};
use crate::dedup::furniture::{LearnedFurniture, learned_lines};
use crate::dedup::{Index, IndexConfig};
use crate::parallel::in_order;
use crate::story::{PreparedStory, Story};
use crate::summarize::{Budget, SummarySentence, summarize_learned};

/// Stories ingested between two copies of what the index has learned
/// for the fingerprinting threads: a copy costs about what fingerprinting
/// a story does, and a story fingerprinted against a copy this far behind
/// is seldom made again at its ingest.
const PUBLISH_EVERY: usize = 64;

/// One output line: the story's id and its summary's sentences.
#[derive(Serialize)]
struct SummaryLine<'a> {
    id: &'a str,
    sentences: &'a [SummarySentence],
}

pub fn run(args: SummarizeArgs) -> Result<(), CliError> {
    let SummarizeArgs {
        batch,
        sentences,
        words,
        ratio,
        learn_furniture,
    } = args;
    let budget = match (sentences, words, ratio) {
        (Some(n), _, _) => Budget::sentences(n),
        (_, Some(n), _) => Budget::words(n),
        (_, _, Some(r)) => Budget::ratio(r),
        (None, None, None) => Ok(Budget::default()),
    }
    .map_err(|e| CliError::Usage(format!("budget: {e}")))?;

    let mut batch = Batch::open(&batch)?;
    // Furniture is learned as the server learns it: the batch goes through
    // a near-duplicate index, so the same line in twenty copies of one wire
    // story stays story while a line under three different stories is not.
    // A file is read through once first, so the first stories of a batch
    // are summarized with all it teaches; stdin is learned as it is read.
    let ahead = match learn_furniture {
        true => batch.read_ahead()?,
        false => None,
    };
    let (input, output) = batch.halves();
    match (learn_furniture, ahead) {
        (false, _) => summarize_each(input, output, budget, &|_| false)?,
        (true, Some(ahead)) => {
            let index = learn_ahead(ahead)?;
            let learned = index.learned_furniture();
            summarize_each(input, output, budget, &|line| learned.is_furniture(line))?;
        }
        (true, None) => learn_as_read(input, output, budget)?,
    }
    batch.finish()
}

/// Every story summarized across the threads with `learned` furniture
/// left out, written in input order.
fn summarize_each(
    input: &mut Input,
    output: &mut Output,
    budget: Budget,
    learned: &(dyn Fn(u64) -> bool + Sync),
) -> Result<(), CliError> {
    input.stream(
        |item| {
            // A canceled ninjs item has nothing to summarize.
            (!item.ninjs.as_ref().is_some_and(|n| n.canceled))
                .then(|| summary_line(&item.story, item.budget.unwrap_or(budget), learned))
        },
        |line| match line {
            Some(line) => output.write_line(line),
            None => Ok(()),
        },
    )
}

/// The index after the whole file went through it in order, each story
/// fingerprinted ahead on another thread.
fn learn_ahead(ahead: ReadAhead) -> Result<Index, CliError> {
    let mut index = Index::new(IndexConfig::default());
    let published = Published::new(ahead.threads().get() > 1);
    let mut ingested = 0;
    ahead.stream(
        |story| PreparedStory::ahead(story, published.latest().as_deref()),
        |prepared| {
            prepared.ingest_into(&mut index, SystemTime::now());
            ingested += 1;
            published.now_and_then(ingested, &index);
        },
    )?;
    Ok(index)
}

/// Stdin, which is read once: each story fingerprinted ahead on another
/// thread, ingested in order, then summarized across the threads with what
/// the index had learned once it was in, as if one at a time.
fn learn_as_read(input: &mut Input, output: &mut Output, budget: Budget) -> Result<(), CliError> {
    let (lines, rules, checks, threads) = input.parts();
    let mut index = Index::new(IndexConfig::default());
    let published = Published::new(threads.get() > 1);
    let published = &published;
    let mut ingested = 0;
    std::thread::scope(|scope| {
        let prepared = in_order(scope, threads, lines, move |raw| {
            raw.map(|raw| {
                let made = raw.parse(rules).map(|item| {
                    let canceled = item.ninjs.as_ref().is_some_and(|n| n.canceled);
                    let budget = item.budget.unwrap_or(budget);
                    (!canceled).then(|| {
                        let latest = published.latest();
                        (PreparedStory::ahead(item.story, latest.as_deref()), budget)
                    })
                });
                (raw.line, made)
            })
        });
        let ingested = prepared
            .map(|answer| {
                let (line, made) = answer?;
                let Some(Some((prepared, budget))) = checks.admit(line, made)? else {
                    return Ok(None);
                };
                let story = prepared.ingest_into(&mut index, SystemTime::now()).0;
                let learned = learned_lines(&story.text(), index.learned_furniture());
                ingested += 1;
                published.now_and_then(ingested, &index);
                Ok(Some((story, budget, learned)))
            })
            // Nothing after a line that stops the run.
            .scan(false, |stopped, answer: Result<_, CliError>| {
                (!*stopped).then(|| {
                    *stopped = answer.is_err();
                    answer
                })
            });
        let summaries = in_order(scope, threads, ingested, |answer| {
            answer.map(|ingested| {
                ingested.map(|(story, budget, learned): (Story, Budget, Vec<u64>)| {
                    summary_line(&story, budget, &|line| learned.contains(&line))
                })
            })
        });
        for line in summaries {
            if let Some(line) = line? {
                output.write_line(line)?;
            }
        }
        Ok(())
    })
}

/// `story`'s summary within `budget`, without `learned` furniture, as an
/// output line.
fn summary_line(
    story: &Story,
    budget: Budget,
    learned: &dyn Fn(u64) -> bool,
) -> std::io::Result<Vec<u8>> {
    let summary = summarize_learned(&story.title, &story.body, budget, learned);
    json_line(&SummaryLine {
        id: &story.id,
        sentences: &summary.sentences,
    })
}

/// A copy of what the index had learned a few stories ago, for the
/// threads that fingerprint stories ahead of their ordered ingest (which
/// checks each fingerprint against what the index has learned by then).
/// Nothing on one thread, where the ingest fingerprints each story itself.
struct Published(Option<Mutex<Arc<LearnedFurniture>>>);

impl Published {
    fn new(ahead: bool) -> Published {
        Published(ahead.then(Default::default))
    }

    /// The latest copy.
    fn latest(&self) -> Option<Arc<LearnedFurniture>> {
        let latest = self.0.as_ref()?;
        Some(latest.lock().unwrap_or_else(|p| p.into_inner()).clone())
    }

    /// After the `ingested`th ingest: a new copy every [`PUBLISH_EVERY`].
    fn now_and_then(&self, ingested: usize, index: &Index) {
        if let Some(latest) = &self.0
            && ingested.is_multiple_of(PUBLISH_EVERY)
        {
            let copy = Arc::new(index.learned_furniture().clone());
            *latest.lock().unwrap_or_else(|p| p.into_inner()) = copy;
        }
    }
}
