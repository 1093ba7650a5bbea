//! Writes the evidence `compare` finds for each labelled pair, one JSON
//! object per line with the label, for choosing the decision thresholds in
//! `dedup::compare` (see the README, "How a wire editor reads them"), and
//! the event overlap against a vocabulary learned from the whole corpus
//! (`dedup::vocabulary`). Takes the SAME / RELATED / UNRELATED pair files
//! and the event pairs, whose `overall` score is written as it is.
//!
//! ```sh
//! cargo run --release --example pair_evidence -- CORPUS.jsonl PAIRS.jsonl > evidence.jsonl
//! ```

use std::collections::HashMap;
use std::io::{BufRead, Write};

use copydesk::dedup::vocabulary::Vocabulary;
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
    #[serde(default)]
    label: String,
    #[serde(default)]
    overall: Option<f64>,
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
    let mut vocabulary = Vocabulary::default();
    for fingerprint in fingerprints.values() {
        vocabulary.learn(&fingerprint.word_sample());
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for line in lines(pairs)? {
        let pair: Pair = serde_json::from_str(&line?)?;
        let (Some(a), Some(b)) = (fingerprints.get(&pair.a_id), fingerprints.get(&pair.b_id))
        else {
            continue;
        };
        let evidence = compare(a, b);
        let event_overlap =
            vocabulary.event_overlap(&a.word_sample(), &b.word_sample(), evidence.containment);
        let (aw, bw) = (a.word_sample(), b.word_sample());
        let (au, bu) = (vocabulary.uncommon(&aw), vocabulary.uncommon(&bw));
        let uncommon = copydesk::dedup::sample::Sample {
            values: &au,
            level: aw.level,
        }
        .overlap(&copydesk::dedup::sample::Sample {
            values: &bu,
            level: bw.level,
        });
        let record = serde_json::json!({
            "a_id": pair.a_id,
            "b_id": pair.b_id,
            "label": pair.label,
            "overall": pair.overall,
            "event_overlap": event_overlap,
            "uncommon": [uncommon.left, uncommon.right, uncommon.shared],
            "agencies": [a.agency.map(|x| x.as_str()), b.agency.map(|x| x.as_str())],
            "borderline": pair.borderline,
            "relation": format!("{:?}", evidence.relation()),
            "evidence": evidence,
        });
        writeln!(out, "{record}")?;
    }
    Ok(())
}
