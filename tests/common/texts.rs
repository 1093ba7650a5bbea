//! Stories written for copydesk's tests: one wire story on the Russia–US
//! security talks in Geneva in three versions, a follow-up, and an
//! unrelated local story.

pub const GENEVA_TITLE: &str = "Russia, U.S. end Geneva security talks without breakthrough";

const LEDE: &str = "Russian and U.S. diplomats ended more than seven hours of talks on European security in Geneva on Monday without a breakthrough, with Moscow insisting that NATO rule out any further expansion to the east.";

const PARAGRAPHS: [&str; 7] = [
    "Deputy Foreign Minister Sergei Ryabkov told reporters after the meeting at the U.S. mission that Russia needed \"ironclad, waterproof, bulletproof, legally binding guarantees\" that Ukraine and Georgia would never join the alliance.",
    "U.S. Deputy Secretary of State Wendy Sherman said Washington had firmly pushed back on proposals that were simply non-starters, but that the two sides had found some room to discuss missile deployments and the scale of military exercises.",
    "The talks opened a week of diplomacy that moves to Brussels on Wednesday for a meeting of the NATO-Russia Council and to Vienna on Thursday for the Organization for Security and Cooperation in Europe.",
    "Western governments accuse Russia of massing around 100,000 troops near the Ukrainian border and have warned of severe economic sanctions if Moscow launches a new attack on its neighbour.",
    "Moscow denies planning an invasion and says it is responding to threats from the alliance, whose expansion since the end of the Cold War it regards as a betrayal of promises made in 1990.",
    "Sherman said the United States was prepared to move quickly on arms control if Russia chose de-escalation, and that any decision about Ukraine's future belonged to Ukraine and its people alone.",
    "Ryabkov said Russia would decide after the meetings in Brussels and Vienna whether there was any point in continuing the diplomatic effort, adding that Moscow had no intention of invading anyone.",
];

/// The full wire version.
pub fn geneva_full() -> String {
    format!(
        "GENEVA (Reuters) - {LEDE}\n\n{}\n\nReporting by Anna Keller and Tom Brandt; Editing by Mark Heinrich",
        PARAGRAPHS.join("\n\n")
    )
}

/// A paper's version, cut from the bottom to fit.
pub fn geneva_trimmed() -> String {
    format!(
        "GENEVA (Reuters) - {LEDE}\n\n{}",
        PARAGRAPHS[..4].join("\n\n")
    )
}

/// Another outlet's version: a different dateline, curly quotes and dashes,
/// and site furniture at the bottom.
pub fn geneva_restyled() -> String {
    let body = format!(
        "GENEVA, Jan 10 (AP) \u{2014} {LEDE}\n\n{}",
        PARAGRAPHS[..6].join("\n\n")
    )
    .replace(" \"", " \u{201C}")
    .replace("\" ", "\u{201D} ")
    .replace("\",", "\u{201D},");
    format!(
        "{body}\n\nRelated News\nKremlin says NATO reply falls short\nClick here to follow our Ukraine coverage"
    )
}

/// A follow-up: new top news from Brussels over repeated background.
pub fn geneva_follow_up() -> String {
    format!(
        "BRUSSELS (Reuters) - NATO allies on Wednesday rejected Russia's demand to halt the alliance's enlargement and offered instead to open talks on arms control and military transparency, Secretary-General Jens Stoltenberg said after a four-hour meeting of the NATO-Russia Council.\n\n\
         Stoltenberg told a news conference that significant differences remained and that allies would not compromise on the right of every nation to choose its own path, but that Russia had not rejected a proposal for further meetings.\n\n\
         The Brussels meeting followed talks between Russian and U.S. diplomats in Geneva on Monday that ended without a breakthrough.\n\n{}",
        PARAGRAPHS[2..5].join("\n\n")
    )
}

pub const COUNCIL_TITLE: &str = "Council approves pothole budget after marathon session";

/// A story with nothing in common with the others.
pub const COUNCIL: &str = "The city council approved a 4.2 million euro budget for road repairs late on Tuesday after a six-hour debate in which residents of the northern districts complained about potholes, broken kerbs and slow bus lanes.\n\n\
Councillor Maria Lindqvist, who chairs the transport committee, said the first crews would start work in March on the streets that had caused the most complaints, beginning with the area around the central station.\n\n\
Opposition members voted against the plan, arguing that the money should have gone to cycle paths and that the repairs would only patch over a network that needed to be rebuilt from the ground up.";
