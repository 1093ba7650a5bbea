//! Synthetic reports for the version-chain tests: paragraphs drawn from a
//! topic's own words, and a five-version write-through chain.

/// One paragraph of a report on `topic`: thirty words drawn from the
/// topic's own vocabulary in an order fixed by `n`, so paragraphs of one
/// report share their words (as news copy repeats its names and places)
/// but not their word sequences, and reports on different topics share
/// nothing.
pub fn paragraph(topic: usize, n: usize) -> String {
    const WORDS: [&str; 3] = [
        "foreign ministers geneva talks security russia washington moscow delegates nato \
         expansion sanctions troops border treaty envoy proposal summit officials lavrov \
         blinken spokesman agenda missiles guarantees alliance round statement negotiators",
        "flood engineers valley embankment river rain rescue crews villages evacuated \
         water levels dam bridge pumps sandbags residents shelters mayor damage railway \
         forecasters storm barrier insurers drainage farmland volunteers helicopters",
        "league officials stadium final cup goal striker referee supporters coach season \
         penalty keeper captain trophy tickets derby champions transfer midfielder injury \
         squad manager fixtures defender kickoff fans pitch",
    ];
    let vocabulary: Vec<&str> = WORDS[topic].split_whitespace().collect();
    let mut state = (topic as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (n as u64 + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    let words: Vec<&str> = (0..30)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            vocabulary[(state % vocabulary.len() as u64) as usize]
        })
        .collect();
    format!("{}.\n\n", words.join(" "))
}

pub fn text(topic: usize, paragraphs: &[usize]) -> String {
    paragraphs.iter().map(|&n| paragraph(topic, n)).collect()
}

/// Five versions of one story. Each write-through puts three new paragraphs
/// on top and trims three from the bottom of the one before, so each is
/// mostly its predecessor while the first and the last share two of their
/// fourteen paragraphs.
pub fn chain() -> Vec<String> {
    let mut version: Vec<usize> = (0..14).collect();
    let mut versions = vec![text(0, &version)];
    for k in 1..5 {
        let top = (0..3).map(|i| 100 + 10 * k + i);
        version = top.chain(version[..11].iter().copied()).collect();
        versions.push(text(0, &version));
    }
    versions
}
