//! `copydesk summarize`: one summary line per input story.

use serde::Serialize;

use super::batch::{Batch, Item};
use super::{CliError, SummarizeArgs};
use std::time::SystemTime;

use crate::dedup::{Index, IndexConfig};
use crate::story::PreparedStory;
use crate::summarize::{Budget, SummarySentence, summarize_learned};

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
    let mut index = learn_furniture.then(|| Index::new(IndexConfig::default()));
    let learned_ahead = match (&mut index, batch.read_ahead()?) {
        (Some(index), Some(mut ahead)) => {
            while let Some(story) = ahead.next_story()? {
                PreparedStory::new(story).ingest_into(index, SystemTime::now());
            }
            true
        }
        _ => false,
    };
    while let Some(Item {
        story,
        budget: own_budget,
        ninjs,
    }) = batch.next_item()?
    {
        // A canceled ninjs item has nothing to summarize.
        if ninjs.is_some_and(|n| n.canceled) {
            continue;
        }
        let story = match &mut index {
            Some(index) if !learned_ahead => {
                PreparedStory::new(story)
                    .ingest_into(index, SystemTime::now())
                    .0
            }
            _ => story,
        };
        let learned = |line: u64| {
            index
                .as_ref()
                .is_some_and(|index| index.learned_furniture().is_furniture(line))
        };
        let summary = summarize_learned(
            &story.title,
            &story.body,
            own_budget.unwrap_or(budget),
            &learned,
        );
        batch.write(&SummaryLine {
            id: &story.id,
            sentences: &summary.sentences,
        })?;
    }
    batch.finish()
}
