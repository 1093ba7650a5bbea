//! Writes summaries of a JSON Lines corpus under many scorer weights, one
//! prediction file per setting, for `scripts/tune_summary.py` to score with
//! ROUGE. This is how the defaults in `summarize::Weights` were chosen.
//!
//! ```sh
//! cargo run --release --example tune_summary -- CORPUS.jsonl OUT_DIR
//! ```

use std::io::{BufRead, Write};

use copydesk::summarize::{Budget, Weights, summarize_with};
use serde::Deserialize;

#[derive(Deserialize)]
struct Line {
    id: String,
    text: String,
    #[serde(default)]
    title: String,
}

/// Coordinate search: the base weights, then one parameter changed at a
/// time. Edit `base` to the round's winner and run again.
fn grid() -> Vec<(String, Weights)> {
    let base = Weights::default();
    let mut out = vec![("base".to_owned(), base)];
    let mut vary = |name: &str, values: &[f64], set: fn(&mut Weights, f64)| {
        for &v in values {
            let mut w = base;
            set(&mut w, v);
            out.push((format!("{name}{v}"), w));
        }
    };
    vary("min_words", &[13.0, 14.0], |w, v| w.min_words = v as usize);
    vary("max_words", &[30.0, 35.0, 45.0], |w, v| {
        w.max_words = v as usize
    });
    vary("long_penalty", &[0.6, 0.7, 0.9], |w, v| w.long_penalty = v);
    vary("short_penalty", &[0.3], |w, v| w.short_penalty = v);
    vary("max_redundancy", &[0.5, 0.7], |w, v| w.max_redundancy = v);
    out
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, corpus, out_dir] = args.as_slice() else {
        return Err("usage: tune_summary CORPUS.jsonl OUT_DIR".into());
    };
    let stories: Vec<Line> = std::io::BufReader::new(std::fs::File::open(corpus)?)
        .lines()
        .map(|l| Ok(serde_json::from_str(&l?)?))
        .collect::<Result<_, Box<dyn std::error::Error>>>()?;
    std::fs::create_dir_all(out_dir)?;
    for (name, weights) in grid() {
        let mut out =
            std::io::BufWriter::new(std::fs::File::create(format!("{out_dir}/{name}.jsonl"))?);
        for story in &stories {
            let summary = summarize_with(&story.title, &story.text, Budget::default(), &weights);
            let sentences: Vec<&str> = summary.texts().collect();
            serde_json::to_writer(
                &mut out,
                &serde_json::json!({"id": story.id, "sentences": sentences}),
            )?;
            out.write_all(b"\n")?;
        }
    }
    Ok(())
}
