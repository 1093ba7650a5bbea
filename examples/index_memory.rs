//! The matching index alone at scale: ingests a JSON Lines corpus (`id`,
//! `text`, optional `title`) into an [`Index`] in this process, nothing
//! else kept, and prints the index's own estimate of its heap. Run under
//! `/usr/bin/time -f "%M KB"` on the corpus and on its first line: the
//! difference over the story count is what a story costs (README, index
//! memory). `copydesk dedup` also keeps every id and headline for its
//! output lines, which is not the index.
//!
//! `cargo run --release --example index_memory -- CORPUS.jsonl`

use std::io::BufRead;

use copydesk::dedup::Index;
use copydesk::story::{PreparedStory, Story};

type Error = Box<dyn std::error::Error>;

fn main() -> Result<(), Error> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: index_memory CORPUS.jsonl")?;
    let mut index = Index::new(Default::default());
    let now = std::time::SystemTime::now();
    for line in std::io::BufReader::new(std::fs::File::open(path)?).lines() {
        let value: serde_json::Value = serde_json::from_str(&line?)?;
        let field = |name: &str| value[name].as_str().unwrap_or_default().to_owned();
        let story = Story {
            id: field("id"),
            title: field("title"),
            body: field("text"),
            published_at: None,
            source: String::new(),
            language: String::new(),
        };
        PreparedStory::new(story).ingest_into(&mut index, now);
    }
    let estimate = index.memory_estimate();
    println!(
        "stories {} clusters {} estimated_heap_bytes {} per_story {}",
        index.len(),
        index.cluster_count(),
        estimate,
        estimate / index.len().max(1)
    );
    Ok(())
}
