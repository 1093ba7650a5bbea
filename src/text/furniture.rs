//! Wire and web furniture: the lines of a scraped or syndicated page that
//! are not the story (bylines, credits, datelines with agency tags, photo
//! captions, widget labels, time stamps, script text, "Related" blocks).
//!
//! Both deduplication (which must not count furniture as shared text) and
//! summaries (which must not pick it) ask this module, one line at a time;
//! it is the one definition of furniture in copydesk. Each kind is one
//! stage, a small test judged on the line's form, not on a list of any
//! site's phrases (a line of prose ends like a sentence, has more than a
//! handful of words and is not code):
//!
//! | stage | test | kind |
//! |---|---|---|
//! | credit | [`is_credit`] | credits, links, copyright, bylines |
//! | label | `is_label` | widget labels, time stamps, repeated headlines |
//! | caption | [`super::caption`] | photo captions and credits |
//! | script | `is_script` | code a scraper left in |
//! | aside, teaser | [`is_furniture_sentence`] | bracketed promotions, "… more" |
//! | dateline | [`super::dateline`] | `GENEVA (Reuters) -` and the page head above it |
//! | slug | [`super::headline::strip_slug`] | `UPDATE 2-` before a headline |
//! | learned | `learned` argument | what the index saw under many clusters |
//!
//! What a given site repeats under every story is learned by the index
//! (`dedup::furniture`), which plugs in here as the `learned` test of
//! [`furniture_lines`]: every caller (fingerprints, summaries, version
//! changes, headlines) takes the same stages in the same order.
//!
//! Compute only: no I/O, no gRPC types.

use std::ops::Range;

pub use super::caption::is_photo_caption_line;
use super::caption::{is_dated_caption, is_photo_caption};

/// Lines that open this way are credits, links or boilerplate: compared
/// lowercased, by prefix. These are the conventions of wire services and
/// news sites in general, not of one site.
const FURNITURE_PREFIXES: &[&str] = &[
    "related news",
    "related stories",
    "related coverage",
    "related content",
    "read more",
    "click here",
    "follow us",
    "follow @",
    "sign up for",
    "subscribe to",
    "reporting by",
    "additional reporting by",
    "writing by",
    "editing by",
    "compiled by",
    "copyright",
    "(c) ",
    "©",
    "all rights reserved",
    "this material may not be published",
    "our standards:",
];

/// A line of prose shorter than this that does not end like a sentence is
/// a label: a headline repeated in the page, a time stamp, a byline, a
/// widget's button ("More", "Close", "Image 1 of 6").
const LABEL_MAX_WORDS: usize = 10;

/// A line this short is a label whatever its punctuation.
const TINY_LINE_WORDS: usize = 3;

/// An unpunctuated line this short with a clock time in it is a time stamp
/// or a byline with one.
const STAMP_MAX_WORDS: usize = 25;

/// Bylines on their own line ("By Jill Colvin, Associated Press").
const BYLINE_MAX_WORDS: usize = 8;

/// A caption is a sentence or two; a longer line is prose.
pub(super) const CAPTION_MAX_WORDS: usize = 150;

/// Script text: share of code punctuation above which a line is not prose.
const CODE_PUNCTUATION_SHARE: f64 = 0.04;

/// Script is judged on a line's first bytes, this many at most: a script
/// blob is code from its start, and a story set on one line (thousands of
/// words) is then judged as fast as a short one.
const SCRIPT_SAMPLE_BYTES: usize = 512;

/// Longest line, in words, that can be learned as furniture (see
/// `dedup::furniture`): labels, widgets, policy lines and teasers are
/// short, and story paragraphs longer.
pub const LEARNED_LINE_MAX_WORDS: usize = 25;

/// Whether `line` is furniture by its form alone.
pub fn is_furniture_line(line: &str) -> bool {
    let line = line.trim();
    if line.is_empty() {
        return false;
    }
    // Counted only as far as any test below needs: a story set on one line
    // (thousands of words) is judged as fast as a short one.
    let words = words_up_to(line, CAPTION_MAX_WORDS + 1);
    is_boilerplate(line)
        || is_byline(line, words)
        || is_label(line, words)
        || is_photo_caption(line, words)
        || is_dated_caption(line, words)
        || is_script(line)
}

/// The credit stage, for a line or a sentence: it opens as a credit, a
/// link or a copyright notice does, or it is a byline. Dedup drops such
/// lines ([`is_furniture_line`]); summaries mark down such sentences.
pub fn is_credit(text: &str) -> bool {
    let text = text.trim();
    is_boilerplate(text) || is_byline(text, words_up_to(text, STAMP_MAX_WORDS))
}

/// Credits, links and copyright lines.
pub(super) fn is_boilerplate(line: &str) -> bool {
    FURNITURE_PREFIXES
        .iter()
        .any(|p| starts_with_ignore_case(line, p))
        || ends_with_ignore_case(line, "all rights reserved.")
}

/// "By Jane Doe" or "By Reuters" on a line of its own, or after the
/// outlet's name and a dash ("The Associated Press — By JILL COLVIN -
/// Associated Press").
pub(super) fn is_byline(line: &str, words: usize) -> bool {
    (words <= BYLINE_MAX_WORDS && starts_with_ignore_case(line, "by "))
        || (words < STAMP_MAX_WORDS
            && !ends_like_sentence(line)
            && ["— by ", "– by ", "- by "]
                .iter()
                .any(|dash_by| contains_ignore_case(line, dash_by)))
}

/// Whether a sentence, wherever it stands, is furniture by its own form: a
/// photo caption or credit by its marks, a byline, an aside in brackets, a
/// teaser cut short before its "more" link, script text, or a label of
/// three words or fewer
/// with no sentence punctuation ("more_vert", "| AP photo"). Scraped pages
/// run a credit or a widget's label into a line of prose, where the line
/// tests of [`is_furniture_line`] cannot see it.
pub fn is_furniture_sentence(sentence: &str) -> bool {
    let sentence = sentence.trim();
    let words = words_up_to(sentence, CAPTION_MAX_WORDS + 1);
    (words <= TINY_LINE_WORDS && !ends_like_sentence(sentence))
        || is_byline(sentence, words)
        || is_photo_caption(sentence, words)
        || is_bracketed_aside(sentence)
        || is_teaser(sentence)
        || is_script(sentence)
}

/// A teaser cut short before a link to the rest ("… in the Finnish ...
/// more"): a page's pointer to another story.
fn is_teaser(sentence: &str) -> bool {
    let Some(before) = sentence
        .strip_suffix("more")
        .or_else(|| sentence.strip_suffix("More"))
    else {
        return false;
    };
    let before = before.trim_end();
    before.ends_with("...") || before.ends_with('…')
}

/// A sentence set off in brackets from the story, whole or as the opening
/// or closing part of a longer aside: an editor's note or a promotion
/// ("(You can also get the newsletter delivered to your inbox daily. Sign
/// up here.)"). A bracket that closes early opens a dateline, `(CNN) —`.
fn is_bracketed_aside(sentence: &str) -> bool {
    if let Some(inside) = sentence.strip_prefix('(') {
        match inside.find(')') {
            None => true,
            Some(close) => inside[close + 1..]
                .trim_matches(|c: char| c == '.' || c.is_whitespace())
                .is_empty(),
        }
    } else {
        sentence.ends_with(')') && !sentence.contains('(')
    }
}

/// A short line that does not end like a sentence, a line of a word or
/// three whatever its punctuation ("Congratulations!"), or a time stamp
/// ("Jul 15, 2018 at 5:28 PM", "Published 3:55 a.m. ET July 16").
fn is_label(line: &str, words: usize) -> bool {
    words <= TINY_LINE_WORDS
        || (words < STAMP_MAX_WORDS
            && !ends_like_sentence(line)
            && (words < LABEL_MAX_WORDS || has_clock_time(line)))
}

/// Whether the line holds a clock time such as `5:28` or `10:14`.
pub(super) fn has_clock_time(line: &str) -> bool {
    let bytes = line.as_bytes();
    bytes.windows(4).enumerate().any(|(i, w)| {
        w[0].is_ascii_digit()
            && w[1] == b':'
            && w[2].is_ascii_digit()
            && w[3].is_ascii_digit()
            && bytes.get(i + 4).is_none_or(|b| !b.is_ascii_digit())
    })
}

/// JavaScript or markup left in the text by a scraper.
pub(super) fn is_script(line: &str) -> bool {
    let judged = &line.as_bytes()[..line.len().min(SCRIPT_SAMPLE_BYTES)];
    let code = judged
        .iter()
        .filter(|b| matches!(b, b'{' | b'}' | b';' | b'=' | b'<' | b'>' | b'[' | b']'))
        .count();
    code >= 3 && code as f64 / judged.len() as f64 >= CODE_PUNCTUATION_SHARE
}

/// ASCII-case-insensitive substring test (`needle` is lowercase ASCII and
/// not empty): candidates are found by their first byte in either case.
pub(super) fn contains_ignore_case(haystack: &str, needle: &str) -> bool {
    let (hay, needle) = (haystack.as_bytes(), needle.as_bytes());
    let Some((&first, rest)) = needle.split_first() else {
        return true;
    };
    memchr::memchr2_iter(first, first.to_ascii_uppercase(), hay).any(|at| {
        hay.get(at + 1..at + needle.len())
            .is_some_and(|tail| tail.eq_ignore_ascii_case(rest))
    })
}

/// Words of `line`, counted up to `limit`.
pub(super) fn words_up_to(line: &str, limit: usize) -> usize {
    line.split_whitespace().take(limit).count()
}

/// Ends with sentence punctuation, perhaps inside closing quotes or
/// brackets.
pub(super) fn ends_like_sentence(line: &str) -> bool {
    let end = line.trim_end_matches(['"', '\'', '”', '’', ')', ']', ' ', '\u{a0}']);
    end.ends_with(['.', '!', '?', '…'])
}

/// ASCII-case-insensitive prefix test (`prefix` is lowercase ASCII or `©`).
pub fn starts_with_ignore_case(text: &str, prefix: &str) -> bool {
    text.len() >= prefix.len()
        && text.is_char_boundary(prefix.len())
        && text[..prefix.len()].eq_ignore_ascii_case(prefix)
}

fn ends_with_ignore_case(text: &str, suffix: &str) -> bool {
    text.len() >= suffix.len()
        && text.is_char_boundary(text.len() - suffix.len())
        && text[text.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
}

/// The hash under which the index counts a line: its words, lowercased,
/// whatever the spacing.
pub fn line_hash(line: &str) -> u64 {
    const PRIME: u64 = 0x0100_0000_01b3;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for word in line.split_whitespace() {
        for b in word.bytes() {
            h = (h ^ u64::from(b.to_ascii_lowercase())).wrapping_mul(PRIME);
        }
        h = (h ^ u64::from(b' ')).wrapping_mul(PRIME);
    }
    // FNV-1a mixes its low bits poorly; one finalizer spreads them.
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^ (h >> 33)
}

/// Byte ranges of the lines of `text` (without their line breaks).
pub fn lines(text: &str) -> impl Iterator<Item = Range<usize>> + '_ {
    let mut start = 0;
    text.split_inclusive('\n').map(move |piece| {
        let range = start..start + piece.trim_end_matches(['\n', '\r']).len();
        start += piece.len();
        range
    })
}

/// Byte ranges of the furniture lines of `text`: those furniture by their
/// form, and those whose [`line_hash`] `learned` says the index has seen
/// under many different stories. When every line is a short label (a
/// brief, a headline), none goes: that is all the evidence there is. A
/// page of nothing but captions, credits or widgets is all furniture.
pub fn furniture_lines(text: &str, learned: &dyn Fn(u64) -> bool) -> Vec<Range<usize>> {
    let mut furniture = Vec::new();
    let mut prose = false;
    let mut only_labels = true;
    for range in lines(text) {
        let line = &text[range.clone()];
        if line.trim().is_empty() {
            continue;
        }
        // Only a short line can have been learned: a long one is not
        // hashed (a story set on one line would be, byte by byte).
        let short = words_up_to(line, LEARNED_LINE_MAX_WORDS + 1) <= LEARNED_LINE_MAX_WORDS;
        if is_furniture_line(line) || (short && learned(line_hash(line))) {
            let (line, words) = (line.trim(), words_up_to(line, CAPTION_MAX_WORDS + 1));
            only_labels &= is_label(line, words) && !is_photo_caption(line, words);
            furniture.push(range);
        } else {
            prose = true;
        }
    }
    // A text of short unpunctuated lines is a brief or a headline: keep
    // it. A page of nothing but captions, credits and widgets has no story
    // in it at all.
    if prose || !only_labels {
        furniture
    } else {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn never(_: u64) -> bool {
        false
    }

    #[test]
    fn prose_is_not_furniture() {
        for line in [
            "GENEVA (Reuters) - Russian and U.S. diplomats ended talks on Monday without a breakthrough.",
            "\"We are ready,\" Lavrov said.",
            "The talks move to Brussels on Wednesday, officials said, after a day of meetings in the old town.",
        ] {
            assert!(!is_furniture_line(line), "{line}");
        }
    }

    #[test]
    fn each_kind_of_furniture_is_found() {
        for line in [
            "By Jane Doe",
            "Reporting by Jane Doe; Editing by John Roe",
            "Advertisement",
            "Image 1 of 6",
            "Congratulations!",
            "Now Playing:",
            "By Jane Doe and John Roe, Harbour Gazette Published 3:55 a.m. ET March 3, 2026 | Updated 7:15 a.m. ET",
            "Posted 3:57 pm, Monday, by Harbour Gazette",
            "Lakeside weather: 5-day forecast",
            "window._ads = window._ads || []; window._ads.push({ mode: 'thumbs' });",
            "Ministers leave the talks in Geneva on Monday. (AP Photo/Jane Doe)",
            "FILE - In this 2019 file photo, the two foreign ministers meet in Vienna.",
            "Copyright 2026 Harbour Gazette. All rights reserved.",
        ] {
            assert!(is_furniture_line(line), "{line}");
        }
    }

    #[test]
    fn furniture_lines_point_into_the_text() {
        let text = "Share this\nTalks ended in Geneva on Monday without a deal.\nMore\n";
        let found = furniture_lines(text, &never);
        let found: Vec<&str> = found.iter().map(|r| &text[r.clone()]).collect();
        assert_eq!(found, ["Share this", "More"]);
    }

    #[test]
    fn a_text_of_nothing_but_labels_keeps_them() {
        assert!(furniture_lines("Talks end\nGeneva", &never).is_empty());
    }

    #[test]
    fn script_is_judged_on_a_lines_start_however_long_the_line() {
        let blob =
            "var ads = window.ads || []; ads.push({slot: 'top', size: [300, 250]}); ".repeat(60);
        assert!(is_furniture_line(&blob));
        let story = "Talks in Geneva ended on Monday without a deal, officials said. ".repeat(60);
        assert!(!is_furniture_line(&story));
        // A long line is never hashed for the learned table.
        let learned_everything = |_| true;
        assert!(furniture_lines(&format!("{story}\nShare this"), &learned_everything).len() == 1);
    }

    #[test]
    fn sentences_that_are_furniture_by_their_own_form() {
        for furniture in [
            "more_vert",
            "| AP photo",
            "| Jane Doe/AP Photo",
            "By Jane Doe",
            "In this Nov. 11, 2025, photo, ministers leave the talks in Geneva.",
            "window._taboola = window._taboola || []; _taboola.push({mode: 'a'});",
            "(You can also get the Harbour Gazette's morning letter in your inbox.",
            "(This story has been corrected to give the mayor's full name.)",
            "Sign up here.)",
            "Some 300 people march in Lakeside ahead of the vote in the ... more",
        ] {
            assert!(is_furniture_sentence(furniture), "{furniture}");
        }
        for prose in [
            "He declined.",
            "Talks resume on Monday.",
            "In this city, photo booths are a thing of the past, the council said.",
            "(Reuters) - The ferry sank on Monday.",
            "The agency (ESA) said it wanted more.",
            "The mayor said there would be more...",
        ] {
            assert!(!is_furniture_sentence(prose), "{prose}");
        }
        assert!(is_furniture_line(
            "The Harbour Gazette — By JANE DOE - Harbour Gazette"
        ));
    }

    #[test]
    fn a_page_of_captions_is_all_furniture() {
        let text = "Share\nPeople march in the rain on Sunday. (Photo by Jane Doe / AFP)\n";
        assert_eq!(furniture_lines(text, &never).len(), 2);
    }

    #[test]
    fn learned_lines_are_furniture() {
        let text =
            "Talks ended in Geneva on Monday without a deal.\nYour weather is set to Lakeside.";
        let widget = line_hash("your  weather is set to LAKESIDE.");
        let found = furniture_lines(text, &|h| h == widget);
        assert_eq!(found.len(), 1);
        assert_eq!(&text[found[0].clone()], "Your weather is set to Lakeside.");
    }

    proptest::proptest! {
        #[test]
        fn lines_cover_the_text_in_order(text in "[a-z .\n]{0,200}") {
            let mut last = 0;
            for range in lines(&text) {
                proptest::prop_assert!(range.start >= last && range.end <= text.len());
                proptest::prop_assert!(!text[range.clone()].contains('\n'));
                last = range.end;
            }
        }
    }
}
