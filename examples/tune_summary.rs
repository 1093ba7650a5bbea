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

fn grid() -> Vec<(String, Weights)> {
    let base = Weights::default();
    let mut out = vec![("default".to_owned(), base)];
    for decay in [0.5, 0.7, 1.0, 1.5, 2.0] {
        for centrality in [0.0, 0.2, 0.45, 0.8] {
            for lambda_earlier in [-1.0, -0.3, 0.0] {
                let w = Weights {
                    position_decay: decay,
                    centrality,
                    lambda_earlier,
                    ..base
                };
                out.push((
                    format!("decay{decay}_cent{centrality}_lam{lambda_earlier}"),
                    w,
                ));
            }
        }
    }
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
            let sentences: Vec<&str> = summary.texts(&story.text).collect();
            serde_json::to_writer(
                &mut out,
                &serde_json::json!({"id": story.id, "sentences": sentences}),
            )?;
            out.write_all(b"\n")?;
        }
    }
    Ok(())
}
