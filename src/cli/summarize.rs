//! `copydesk summarize`: one summary line per input story.

use serde::Serialize;

use super::batch::Batch;
use super::{CliError, SummarizeArgs};
use std::time::SystemTime;

use crate::dedup::furniture::{LearnedFurniture, learned_lines};
use crate::dedup::{Index, IndexConfig};
use crate::parallel::{in_rounds, map_in_order};
use crate::story::{PreparedStory, Story};
use crate::summarize::{Budget, SummarySentence, summarize_learned};

/// Stories read, worked on across the threads, and written per round:
/// enough to keep every core busy, few enough to hold in memory.
const ROUND: usize = 1024;

/// What a story's summary leaves out as learned furniture.
enum Learned {
    /// Nothing (`--learn-furniture false`).
    Nothing,
    /// What the index learned from the whole file.
    Index,
    /// These of its lines, learned once it was in (stdin).
    Lines(Vec<u64>),
}

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
    let threads = batch.threads();
    // Furniture is learned as the server learns it: the batch goes through
    // a near-duplicate index, so the same line in twenty copies of one wire
    // story stays story while a line under three different stories is not.
    // A file is read through once first, so the first stories of a batch
    // are summarized with all it teaches; stdin is learned as it is read.
    let mut index = learn_furniture.then(|| Index::new(IndexConfig::default()));
    let learned_ahead = match (&mut index, batch.read_ahead()?) {
        (Some(index), Some(mut ahead)) => {
            // Fingerprints on every core, the next round's while the
            // index learns this one's in order; each against what the
            // index had learned a round before (checked as it goes in).
            let overlap = threads.get() > 1;
            in_rounds(
                overlap,
                None::<LearnedFurniture>,
                |learned| {
                    ahead.next_stories(ROUND, |story| PreparedStory::ahead(story, learned.as_ref()))
                },
                |prepared| {
                    for prepared in prepared {
                        prepared.ingest_into(index, SystemTime::now());
                    }
                    Ok(overlap.then(|| index.learned_furniture().clone()))
                },
            )?;
            true
        }
        _ => false,
    };
    // The next round is read and parsed while this one is summarized and
    // written.
    let (input, output) = batch.halves();
    in_rounds(
        threads.get() > 1,
        (),
        |_| input.next_items(ROUND),
        |items| {
            // A canceled ninjs item has nothing to summarize.
            let stories: Vec<(Story, Budget)> = items
                .into_iter()
                .filter(|item| !item.ninjs.as_ref().is_some_and(|n| n.canceled))
                .map(|item| (item.story, item.budget.unwrap_or(budget)))
                .collect();
            let work: Vec<(Story, Budget, Learned)> = match &mut index {
                None => stories
                    .into_iter()
                    .map(|(story, budget)| (story, budget, Learned::Nothing))
                    .collect(),
                Some(_) if learned_ahead => stories
                    .into_iter()
                    .map(|(story, budget)| (story, budget, Learned::Index))
                    .collect(),
                // Learned as read: each story is summarized with what the
                // index had learned once it was in, as if one at a time.
                Some(index) => {
                    let (stories, budgets): (Vec<Story>, Vec<Budget>) = stories.into_iter().unzip();
                    let ahead = (threads.get() > 1).then_some(index.learned_furniture());
                    map_in_order(stories, threads, |s| PreparedStory::ahead(s, ahead))
                        .into_iter()
                        .zip(budgets)
                        .map(|(prepared, budget)| {
                            let story = prepared.ingest_into(index, SystemTime::now()).0;
                            let lines = learned_lines(&story.text(), index.learned_furniture());
                            (story, budget, Learned::Lines(lines))
                        })
                        .collect()
                }
            };
            let index = index.as_ref();
            let summaries = map_in_order(work, threads, |(story, budget, learned)| {
                let learned = |line: u64| match &learned {
                    Learned::Nothing => false,
                    Learned::Index => {
                        index.is_some_and(|i| i.learned_furniture().is_furniture(line))
                    }
                    Learned::Lines(lines) => lines.contains(&line),
                };
                let summary = summarize_learned(&story.title, &story.body, budget, &learned);
                (story.id, summary)
            });
            for (id, summary) in &summaries {
                output.write(&SummaryLine {
                    id,
                    sentences: &summary.sentences,
                })?;
            }
            Ok(())
        },
    )?;
    batch.finish()
}
