//! Writes the evidence `compare` finds for each labelled pair, one JSON
//! object per line with the label, for choosing the decision thresholds in
//! `dedup::compare` (see the README, "How a wire editor reads them").
//!
//! ```sh
//! cargo run --release --example pair_evidence -- CORPUS.jsonl PAIRS.jsonl > evidence.jsonl
//! ```

use std::collections::HashMap;
use std::io::{BufRead, Write};

use copydesk::dedup::{Fingerprint, compare};
use serde::Deserialize;

#[derive(Deserialize)]
struct Story {
    id: String,
    text: String,
    #[serde(default)]
    title: String,
}

#[derive(Deserialize)]
struct Pair {
    a_id: String,
    b_id: String,
    label: String,
    #[serde(default)]
    borderline: bool,
}

fn lines(path: &str) -> std::io::Result<impl Iterator<Item = std::io::Result<String>>> {
    Ok(std::io::BufReader::new(std::fs::File::open(path)?).lines())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, corpus, pairs] = args.as_slice() else {
        return Err("usage: pair_evidence CORPUS.jsonl PAIRS.jsonl".into());
    };
    let mut fingerprints = HashMap::new();
    for line in lines(corpus)? {
        let story: Story = serde_json::from_str(&line?)?;
        fingerprints.insert(story.id, Fingerprint::of(&story.title, &story.text));
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for line in lines(pairs)? {
        let pair: Pair = serde_json::from_str(&line?)?;
        let (Some(a), Some(b)) = (fingerprints.get(&pair.a_id), fingerprints.get(&pair.b_id))
        else {
            continue;
        };
        let evidence = compare(a, b);
        let record = serde_json::json!({
            "a_id": pair.a_id,
            "b_id": pair.b_id,
            "label": pair.label,
            "borderline": pair.borderline,
            "relation": format!("{:?}", evidence.relation()),
            "evidence": evidence,
        });
        writeln!(out, "{record}")?;
    }
    Ok(())
}
