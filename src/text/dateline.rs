//! Datelines, and the head matter a scraped page puts above them.
//!
//! Wire copy opens its first paragraph with a dateline: the place in
//! capitals, perhaps a date, perhaps the outlet's tag, then a dash
//! (`GLASGOW, Scotland —`, `WASHINGTON (AP) —`, `(CNN) --`). On a scraped
//! page whatever stands above that paragraph is the page's, not the
//! story's: the headline again, a photo and its caption, the byline and
//! time stamp, share buttons, a weather widget. Summaries start at the
//! dateline.
//!
//! Compute only: no I/O, no gRPC types.

use super::caption::is_photo_caption_line;
use super::furniture::{is_furniture_line, lines};

/// Non-empty lines from the top in which a lead's dateline is looked for:
/// head matter is a handful of lines, and a dateline further down belongs
/// to a second story or a "Related" block.
const HEAD_LINES: usize = 20;

/// Most words of prose (furniture not counted) above a dateline: more is
/// a story of its own with a second story's dateline further down, not a
/// page's head.
const HEAD_MAX_WORDS: usize = 150;

/// A dateline's place and date run to this many words at most
/// (`NEW YORK, Jan. 10`, `TURNBERRY/GLASGOW, Scotland`).
const MAX_PLACE_WORDS: usize = 6;

/// An outlet's tag is a word or two of letters (`(AP)`, `(Reuters)`,
/// `(KABC)`).
const MAX_TAG_BYTES: usize = 16;

/// A place word with a full stop in it is an abbreviation this short
/// (`Jan.`, `ST.`, `D.C.`).
const MAX_ABBREVIATION_BYTES: usize = 5;

/// Dashes that close a dateline; a hyphen only with spaces around it, as
/// a word's hyphen is not one.
const DASHES: &[&str] = &["\u{2014}", "\u{2013}", "--", " - "];

/// Whether `line` opens with a dateline: `(TAG) —`, `PLACE (TAG)` with or
/// without a dash, or `PLACE —` with the place's first word in capitals,
/// which is how wire copy sets it apart from a sentence that opens with a
/// name and a dash.
pub fn opens_with_dateline(line: &str) -> bool {
    let line = line.trim_start();
    let head = &line[..line.floor_char_boundary(100.min(line.len()))];
    let open = head.find('(');
    let dash = DASHES.iter().filter_map(|d| head.find(d)).min();
    match (open, dash) {
        (Some(open), dash) if dash.is_none_or(|dash| open < dash) => {
            let place = &head[..open];
            let Some(after_tag) = tag_len(&head[open..]).map(|len| &head[open + len..]) else {
                return false;
            };
            // `WASHINGTON (AP)` or `(CNN)`, dash or not; a place in small
            // letters only as one word before a dash (`Washington (CNN) —`),
            // as `The Screen Actors Guild (SAG) represents…` is a sentence.
            place.trim().is_empty()
                || is_place(place, true)
                || (place.split_whitespace().count() == 1
                    && is_place(place, false)
                    && DASHES
                        .iter()
                        .any(|d| after_tag.trim_start().starts_with(d.trim())))
        }
        (_, Some(dash)) => is_place(&head[..dash], true),
        _ => false,
    }
}

/// A place (and perhaps a date): a few words, each opening with a capital
/// or a digit (`New York, Jan. 10`). With `capitals`, as wire copy sets a
/// place before a dash: a run of words in capitals, then, after a comma,
/// a region or a date (`GLASGOW, Scotland`), so that a sentence such as
/// `NATO allies met - and disagreed` is not taken for one.
fn is_place(place: &str, capitals: bool) -> bool {
    let words: Vec<&str> = place.split_whitespace().collect();
    let plain = |word: &&str| {
        !word.contains(['!', '?', '"', '\u{201c}', ':', ';'])
            && (!word.contains('.') || word.len() <= MAX_ABBREVIATION_BYTES)
            && word
                .chars()
                .find(|c| c.is_alphanumeric())
                .is_some_and(|c| c.is_uppercase() || c.is_ascii_digit())
    };
    if words.is_empty() || words.len() > MAX_PLACE_WORDS || !words.iter().all(plain) {
        return false;
    }
    if !capitals {
        return true;
    }
    let in_capitals = |word: &&&str| {
        let mut letters = word.chars().filter(|c| c.is_alphabetic()).peekable();
        letters.peek().is_some() && letters.all(char::is_uppercase)
    };
    let run = words.iter().take_while(in_capitals).count();
    run > 0
        && words[0].chars().filter(|c| c.is_alphabetic()).count() >= 2
        && (run == words.len() || words[run - 1].ends_with(','))
}

/// The length of `(TAG)` at the start of `text`, a word or two of letters.
fn tag_len(text: &str) -> Option<usize> {
    let close = text.find(')')?;
    let tag = text[1..close].trim();
    (!tag.is_empty()
        && tag.len() <= MAX_TAG_BYTES
        && tag.split_whitespace().count() <= 2
        && tag.chars().all(|c| c.is_alphabetic() || c == ' '))
    .then_some(close + 1)
}

/// The byte offset where the story's lead starts when a page puts head
/// matter above it: the start of the first line, among the top
/// [`HEAD_LINES`] non-empty ones but not the first, that opens with a
/// dateline, with at most [`HEAD_MAX_WORDS`] words above it. `None` when
/// the text opens with its dateline or has none near the top.
pub fn lead_start(text: &str) -> Option<usize> {
    let mut words_above = 0;
    for (n, range) in lines(text)
        .filter(|range| !text[range.clone()].trim().is_empty())
        .take(HEAD_LINES)
        .enumerate()
    {
        let line = &text[range.clone()];
        // `FILE - In this photo…` opens like a dateline and is a caption.
        if opens_with_dateline(line) && !is_photo_caption_line(line) {
            return (n > 0).then_some(range.start);
        }
        // Captions, credits and widgets above a lead can run long; only
        // prose counts against a page's head.
        if !is_furniture_line(line) {
            words_above += line.split_whitespace().count();
        }
        if words_above > HEAD_MAX_WORDS {
            return None;
        }
    }
    None
}

/// A dateline in its full wire form, the only one read inside a sentence:
/// a place in capitals, the agency in brackets and a dash (`WASHINGTON
/// (CNN) —`). Shorter forms there are prose: an acronym (`radio frequency
/// ID (RFID) tags`, `The IAAF - athletics' body`), a name (`Charles
/// (Chuck) Schumer`).
fn full_wire_dateline(text: &str) -> bool {
    let Some((place, rest)) = text.split_once(char::is_whitespace) else {
        return false;
    };
    let is_place = place.chars().next().is_some_and(char::is_uppercase)
        && place.chars().filter(|c| c.is_alphabetic()).count() >= 2
        && !place.chars().any(char::is_lowercase);
    let rest = rest.trim_start();
    is_place
        && rest.starts_with('(')
        && tag_len(rest).is_some_and(|tag| {
            let after = rest[tag..].trim_start();
            DASHES.iter().any(|dash| after.starts_with(dash.trim()))
        })
        && opens_with_dateline(text)
}

/// Words of page matter a lead's first sentence may carry before its
/// dateline ("Follow the station Facebook | Twitter WASHINGTON (CNN) —").
const INLINE_HEAD_MAX_WORDS: usize = 10;

/// Where the dateline starts when a sentence opens with a few words of
/// page matter run into it (share buttons, a site's follow line): the byte
/// offset of the dateline, if one opens at a word within the first
/// [`INLINE_HEAD_MAX_WORDS`] and no sentence ends before it. `None` for a
/// sentence that opens with its dateline.
pub fn dateline_within(sentence: &str) -> Option<usize> {
    if opens_with_dateline(sentence) {
        return None;
    }
    let found = sentence
        .char_indices()
        .zip(sentence.chars().skip(1))
        .filter(|((_, c), next)| c.is_whitespace() && !next.is_whitespace())
        .map(|((at, c), _)| at + c.len_utf8())
        .take(INLINE_HEAD_MAX_WORDS)
        .find(|&at| full_wire_dateline(&sentence[at..]))?;
    (!sentence[..found].contains(['.', '!', '?'])).then_some(found)
}

/// The longest dateline [`strip_tagged_dateline`] strips: a city, a date
/// and a tag.
const MAX_DATELINE_BYTES: usize = 80;

/// Drops `GENEVA (Reuters) -` or `WASHINGTON, Jan 10 (AP) —` from the start
/// of the text: everything up to and including an outlet's tag in
/// parentheses and the dash after it, when what comes before the tag is a
/// short run of words with no sentence end in it. Which outlet it is does
/// not matter here (see [`crate::text::agency`] for that): a dateline is
/// not story text.
pub fn strip_tagged_dateline(text: &str) -> &str {
    let window = &text[..text.floor_char_boundary(MAX_DATELINE_BYTES.min(text.len()))];
    let Some(open) = window.find('(') else {
        return text;
    };
    let prefix = &window[..open];
    let dateline_words = prefix.split_whitespace().all(|word| {
        // A full stop in a dateline abbreviates (`Jan.`, `ST.`, `D.C.`).
        !word.contains(['!', '?', '"'])
            && (!word.contains('.') || word.len() <= MAX_ABBREVIATION_BYTES)
    });
    if prefix.split_whitespace().count() > MAX_PLACE_WORDS
        || prefix.contains('\n')
        || !dateline_words
    {
        return text;
    }
    let Some(close) = window[open..].find(')').map(|at| open + at) else {
        return text;
    };
    let tag = window[open + 1..close].trim();
    let tag_words = tag.split_whitespace().count();
    if tag.is_empty()
        || tag.len() > MAX_TAG_BYTES
        || tag_words > 2
        || !tag.chars().all(|c| c.is_alphabetic() || c == ' ')
    {
        return text;
    }
    text[close + 1..].trim_start_matches([' ', '-', '\u{2013}', '\u{2014}', ':'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dateline_is_found_behind_page_matter_in_the_first_sentence() {
        let sentence =
            "Follow the Gazette Facebook | Twitter LAKESIDE (AP) \u{2014} The ferry sank.";
        let at = dateline_within(sentence).expect("a dateline");
        assert!(sentence[at..].starts_with("LAKESIDE (AP)"));
        assert_eq!(
            dateline_within("LAKESIDE (AP) \u{2014} The ferry sank."),
            None
        );
        assert_eq!(
            dateline_within("The mayor spoke. LAKESIDE (AP) \u{2014} The ferry sank."),
            None
        );
        assert_eq!(
            dateline_within("NATO allies met on Monday - and disagreed."),
            None
        );
        assert_eq!(
            dateline_within("Leader Charles SchumerCharles (Chuck) Ellis Schumer said."),
            None
        );
        assert_eq!(
            dateline_within("US car firms General Motors (GM) and Ford cut production."),
            None
        );
        assert_eq!(
            dateline_within("The use of radio frequency ID (RFID) tags in shops worries people."),
            None
        );
        assert_eq!(
            dateline_within("The IAAF - athletics' governing body - met officials."),
            None
        );
    }

    #[test]
    fn wire_datelines_are_found() {
        for line in [
            "GLASGOW, Scotland \u{2014} President Trump said on Sunday.",
            "TURNBERRY/GLASGOW, Scotland \u{2014} Trump played golf.",
            "HELSINKI -- President Trump holds a summit on Monday.",
            "WASHINGTON (AP) \u{2014} The president spoke.",
            "GENEVA (Reuters) - Talks ended.",
            "NEW YORK, Jan. 10 (AP) \u{2014} Markets rose.",
            "(CNN) -- Officials said on Monday.",
            "ST. LOUIS \u{2014} Voters went out.",
            "Washington (CNN) \u{2014} Officials said on Monday.",
            "WASHINGTON (CNN) Officials said on Monday.",
        ] {
            assert!(opens_with_dateline(line), "{line}");
        }
    }

    #[test]
    fn sentences_that_open_with_a_name_and_a_dash_are_not_datelines() {
        for line in [
            "Trump \u{2014} who arrived on Sunday \u{2014} said little.",
            "The talks (the first in years) ended on Monday.",
            "Officials said the group (ISIS) had attacked.",
            "A long-awaited meeting opened on Monday.",
            "NATO allies met on Monday - and disagreed.",
            "Officials said the group (ISIS) had attacked.",
            "Washington said (in a statement) that it would not.",
            "The Screen Actors Guild (SAG) represents film actors.",
            "The Bank's Monetary Policy Committee (MPC) decided to wait.",
            "Washington (AP) officials said on Monday.",
            "\"We are ready\" - Lavrov.",
            "",
        ] {
            assert!(!opens_with_dateline(line), "{line}");
        }
    }

    #[test]
    fn head_matter_ends_at_the_lead_s_dateline() {
        let page = "Talks end without a deal\n\nJane Doe | AP\n\nMinisters leave the hall, Geneva, March 3, 2026.\n\n\
                    GENEVA (AP) \u{2014} Talks ended on Monday.\n\nMore talks are planned.";
        let start = lead_start(page).expect("a lead below head matter");
        assert!(page[start..].starts_with("GENEVA (AP)"));
        assert_eq!(
            lead_start("GENEVA (AP) \u{2014} Talks ended.\n\nMore."),
            None
        );
        assert_eq!(lead_start("Talks ended.\n\nMore talks are planned."), None);
    }

    #[test]
    fn a_dateline_far_down_is_not_a_lead() {
        let prose = "Talks ended in Geneva on Monday without a deal, officials said. ".repeat(20);
        let page = format!("{prose}\n\nGENEVA (AP) \u{2014} A related story.");
        assert_eq!(lead_start(&page), None);
    }

    #[test]
    fn any_outlets_dateline_tag_is_stripped_but_not_a_sentence() {
        assert_eq!(
            strip_tagged_dateline("LOS ANGELES (KABC) -- A fire broke out."),
            "A fire broke out."
        );
        assert_eq!(
            strip_tagged_dateline("ST. LOUIS, Jan. 10 (AP) \u{2014} Voters went out."),
            "Voters went out."
        );
        assert_eq!(
            strip_tagged_dateline("washington ( cnn ) president obama spoke ."),
            "president obama spoke ."
        );
        for sentence in [
            "Officials said on Monday that the group (ISIS) had attacked.",
            "It rained. Then (at last) the sun came out.",
            "The city (pop. 4,000) voted.",
            "Rain fell all day\n(Reuters) photo",
        ] {
            assert_eq!(strip_tagged_dateline(sentence), sentence);
        }
    }
}
