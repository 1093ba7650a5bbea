//! Writes a synthetic wire corpus as JSON Lines for scale measurements
//! (index memory, startup, throughput): stories of 150 to 600 words drawn
//! from a made-up vocabulary, a third of them followed by one or two
//! versions (trimmed from the bottom, or with a new top paragraph).
//! Deterministic for a given count.
//!
//! ```sh
//! cargo run --release --example gen_corpus -- 100000 > corpus.jsonl
//! ```

use std::io::Write;

/// A 64-bit LCG: enough to vary text, and reproducible.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const SYLLABLES: &[&str] = &[
    "ka", "ro", "mi", "ten", "sul", "dar", "vo", "li", "nes", "ta", "bri", "gon", "el", "pa",
    "qui", "mor", "sen", "da", "fi", "tor", "lu", "ven", "ra", "cos", "bel", "ni", "stra", "go",
    "ham", "pe",
];

fn vocabulary(rng: &mut Lcg, size: usize) -> Vec<String> {
    (0..size)
        .map(|_| {
            (0..1 + rng.below(3))
                .map(|_| SYLLABLES[rng.below(SYLLABLES.len())])
                .collect()
        })
        .collect()
}

fn sentence(rng: &mut Lcg, words: &[String]) -> String {
    let n = 8 + rng.below(20);
    let mut s: Vec<&str> = (0..n)
        .map(|_| words[rng.below(words.len())].as_str())
        .collect();
    let first = s[0].to_owned();
    let capitalized = first[..1].to_uppercase() + &first[1..];
    s[0] = &capitalized;
    format!("{}.", s.join(" "))
}

fn main() -> std::io::Result<()> {
    let count: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let mut rng = Lcg(42);
    let words = vocabulary(&mut rng, 20_000);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut written = 0;
    let mut base = 0;
    while written < count {
        let paragraphs: Vec<String> = (0..6 + rng.below(18))
            .map(|_| sentence(&mut rng, &words))
            .collect();
        let story = paragraphs.join("\n\n");
        writeln!(
            out,
            "{}",
            serde_json::json!({"id": format!("s{base}"), "text": story})
        )?;
        written += 1;
        if rng.below(3) == 0 {
            for version in 0..1 + rng.below(2) {
                if written >= count {
                    break;
                }
                let text = if version == 0 {
                    paragraphs[..paragraphs.len() * 2 / 3].join("\n\n")
                } else {
                    format!("{}\n\n{story}", sentence(&mut rng, &words))
                };
                writeln!(
                    out,
                    "{}",
                    serde_json::json!({"id": format!("s{base}v{version}"), "text": text})
                )?;
                written += 1;
            }
        }
        base += 1;
    }
    Ok(())
}
