//! A fixed corpus written by the team for benchmarks: stories recombined
//! deterministically from a bank of sentences on four subjects, so every run
//! sees the same text and no evaluation data is needed.
#![allow(dead_code)]

/// Sentences per subject; the first of each is the lede.
const SUBJECTS: [&[&str]; 4] = [
    &[
        "Russian and U.S. diplomats ended more than seven hours of talks on European security in Geneva on Monday without a breakthrough.",
        "Moscow insisted that NATO rule out any further expansion to the east and pull back forces from member states that joined after 1997.",
        "Deputy Foreign Minister Sergei Ryabkov said Russia needed legally binding guarantees that Ukraine would never join the alliance.",
        "U.S. Deputy Secretary of State Wendy Sherman said Washington had firmly pushed back on proposals that were simply non-starters.",
        "The two sides found some room to discuss missile deployments and limits on the scale of military exercises.",
        "The talks opened a week of diplomacy that moves to Brussels on Wednesday and to Vienna on Thursday.",
        "Western governments accuse Russia of massing around 100,000 troops near the Ukrainian border.",
        "Moscow denies planning an invasion and says it is responding to threats from the alliance.",
        "Sherman said any decision about Ukraine's future belonged to Ukraine and its people alone.",
        "Ryabkov said Russia would decide after the meetings whether there was any point in continuing.",
    ],
    &[
        "The city council approved a 4.2 million euro budget for road repairs late on Tuesday after a six-hour debate.",
        "Residents of the northern districts complained about potholes, broken kerbs and slow bus lanes.",
        "Councillor Maria Lindqvist, who chairs the transport committee, said the first crews would start work in March.",
        "The streets that had caused the most complaints will be repaired first, beginning near the central station.",
        "Opposition members voted against the plan, arguing that the money should have gone to cycle paths.",
        "They said the repairs would only patch over a network that needed to be rebuilt from the ground up.",
        "The budget passed by 31 votes to 24, with two members abstaining.",
        "A spokesman for the mayor said the city would publish a map of planned works next month.",
        "Local shopkeepers welcomed the decision but asked for the works to avoid the Christmas season.",
        "The council will review progress on the repairs in a public meeting in September.",
    ],
    &[
        "Inflation in the euro zone rose to 5.1 percent in January, the highest since records began, official figures showed on Wednesday.",
        "Economists polled by news agencies had expected inflation to ease to 4.4 percent.",
        "Energy prices, up 28.6 percent from a year earlier, accounted for more than half of the increase.",
        "The European Central Bank has said it expects inflation to fall back below its 2 percent target later this year.",
        "Some members of its governing council have begun to argue that the bank should end its bond purchases sooner.",
        "Markets now price in a first interest rate rise before the end of the year.",
        "Core inflation, which excludes food and energy, slowed slightly to 2.3 percent.",
        "Germany, the bloc's largest economy, reported inflation of 5.1 percent on its own measure.",
        "Unions in several countries have called for wage rises to offset the higher cost of living.",
        "The bank's next policy meeting is scheduled for Thursday next week.",
    ],
    &[
        "Heavy snow closed the main mountain pass between the two valleys on Friday, stranding hundreds of drivers overnight.",
        "Rescue teams handed out blankets and hot drinks to people waiting in their cars.",
        "The regional weather service issued its highest warning level for the weekend.",
        "Up to 80 centimetres of fresh snow fell in some places within 24 hours.",
        "Schools in the area will stay closed on Monday, the regional government said.",
        "Several villages were cut off after power lines came down under the weight of the snow.",
        "Engineers worked through the night to restore electricity to about 2,000 homes.",
        "Avalanche risk was rated high above 1,500 metres, and ski resorts closed several runs.",
        "Police asked drivers to avoid all but essential journeys until the roads were cleared.",
        "Forecasters expect milder weather and rain from the middle of next week.",
    ],
];

/// A tiny deterministic generator (a 64-bit LCG), enough to shuffle text.
pub struct Lcg(u64);

impl Lcg {
    pub fn new(seed: u64) -> Lcg {
        Lcg(seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407))
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// `count` stories: each leads with its subject's lede, then 8 to 20 more
/// sentences drawn from the same subject (with repeats), in paragraphs.
pub fn stories(count: usize) -> Vec<String> {
    let mut rng = Lcg::new(7);
    (0..count)
        .map(|i| {
            let subject = SUBJECTS[i % SUBJECTS.len()];
            let mut paragraphs = vec![subject[0].to_owned()];
            let extra = 8 + rng.below(13);
            for _ in 0..extra {
                paragraphs.push(subject[1 + rng.below(subject.len() - 1)].to_owned());
            }
            paragraphs.join("\n\n")
        })
        .collect()
}

/// The lede of the subject of story `i`.
pub fn lede(i: usize) -> &'static str {
    SUBJECTS[i % SUBJECTS.len()][0]
}
