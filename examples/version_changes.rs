//! What each version changes against its group's original, for scoring
//! (`scripts/score_changes.py`): reads a JSON Lines file of versions with
//! `id`, `title`, `text`, `gold` (the group) and `ops` (what was done; the
//! group's source versions have `original`), and prints one line a version:
//! `{"id","ops","top_changed","trimmed","cut","added","removed","changed"}`.
//! Versions of a group with no original are skipped.
//!
//! `cargo run --release --example version_changes -- wire_dev.jsonl`

use std::collections::HashMap;
use std::io::{BufRead, Write};

use copydesk::dedup::changes::compare_versions;
use serde_json::{Value, json};

type Error = Box<dyn std::error::Error>;

fn main() -> Result<(), Error> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: version_changes VERSIONS.jsonl")?;
    let mut groups: HashMap<String, Vec<Value>> = HashMap::new();
    let mut order = Vec::new();
    for line in std::io::BufReader::new(std::fs::File::open(path)?).lines() {
        let value: Value = serde_json::from_str(&line?)?;
        let gold = value["gold"].as_str().unwrap_or_default().to_owned();
        if !groups.contains_key(&gold) {
            order.push(gold.clone());
        }
        groups.entry(gold).or_default().push(value);
    }
    let is_original = |v: &Value| {
        v["ops"]
            .as_array()
            .is_some_and(|ops| ops.iter().any(|op| op == "original"))
    };
    let text = |v: &Value, field: &str| v[field].as_str().unwrap_or_default().to_owned();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for gold in order {
        let versions = &groups[&gold];
        let originals: Vec<&Value> = versions.iter().filter(|v| is_original(v)).collect();
        for version in versions.iter().filter(|v| !is_original(v)) {
            // A group may hold several near-identical source articles: a
            // version is scored against the one it differs from least.
            let Some(changes) = originals
                .iter()
                .map(|original| {
                    compare_versions(
                        &text(original, "title"),
                        &text(original, "text"),
                        &text(version, "title"),
                        &text(version, "text"),
                    )
                })
                .min_by_key(|c| {
                    (
                        c.added.len() + c.removed.len() + c.changed.len(),
                        c.top_changed,
                    )
                })
            else {
                continue;
            };
            writeln!(
                out,
                "{}",
                json!({
                    "id": version["id"],
                    "ops": version["ops"],
                    "top_changed": changes.top_changed,
                    "trimmed": changes.trimmed,
                    "cut": changes.cut,
                    "added": changes.added.len(),
                    "removed": changes.removed.len(),
                    "changed": changes.changed.len(),
                })
            )?;
        }
    }
    Ok(())
}
