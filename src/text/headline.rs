//! A story's headline: the scraped title when it belongs to the story,
//! else the line heading the text that does. Scrapers often take page
//! furniture for the title ("Enter City and State or Zip Code", a
//! sidebar's headline, "1 / 19") and leave the real headline as the
//! text's first line; a feed must show the one that belongs.
//!
//! Compute only: no I/O, no gRPC types.

use std::ops::Range;

use super::caption::is_photo_caption;
use super::furniture::{
    CAPTION_MAX_WORDS, ends_like_sentence, furniture_lines, has_clock_time, is_boilerplate,
    is_byline, is_script, lines, words_up_to,
};
use super::stopwords::is_stopword;
use super::words::for_each_word_hashed;

/// Words of the story's top that a headline is checked against.
const HEADLINE_TOP_WORDS: usize = 200;

/// A headline of fewer content words (a site's name such as "CBS News",
/// "Subscribe") says nothing of the story.
const HEADLINE_MIN_WORDS: usize = 3;

/// A line of the text longer than this is prose, not a headline.
const HEADLINE_MAX_WORDS: usize = 25;

/// Lines of the text's top searched for its headline when the scraped
/// title is not one.
const HEADLINE_SEARCH_LINES: usize = 12;

/// Whether a scraped title is page furniture by its form, whatever words
/// it shares with the story: a credit or caption ("Mikhail Klimentyev |
/// TASS | Getty Images"), a time stamp ("Politics 07/16/2018, 06:45am"),
/// a byline, a boilerplate line, or the signature of an embedded post
/// ("— CBS News (@CBSNews) July 16, 2018"), which opens with a dash.
fn is_furniture_title(title: &str) -> bool {
    let title = title.trim();
    let words = words_up_to(title, CAPTION_MAX_WORDS + 1);
    is_boilerplate(title)
        || is_byline(title, words)
        || is_photo_caption(title, words)
        || has_clock_time(title)
        || is_script(title)
        || title.starts_with(['—', '–', '-'])
}

/// Where a story's headline comes from, worst first: a feed shows the
/// canonical story's headline, so a version whose own title is its
/// headline is preferred to one whose headline had to be found in its
/// text, and that to one with none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum HeadlineFrom {
    /// Neither the title nor the text's top holds a headline.
    #[default]
    Nowhere,
    /// The title is furniture; the headline heads the text.
    Text,
    /// The title is the story's headline.
    Title,
}

/// Where the headline of [`story_headline`] comes from.
pub fn headline_from(title: &str, body: &str) -> HeadlineFrom {
    find_headline(title, body).map_or(HeadlineFrom::Nowhere, |(_, from)| from)
}

/// [`story_headline`] and where it comes from, found once.
pub fn story_headline_from<'a>(title: &'a str, body: &'a str) -> (Option<&'a str>, HeadlineFrom) {
    match find_headline(title, body) {
        Some((headline, from)) => (Some(headline), from),
        None => (None, HeadlineFrom::Nowhere),
    }
}

/// The story's headline: `title` when it belongs to the story (see
/// [`headline_belongs`]), else the first line among the top of `body`
/// that is shaped like a headline (a few words, not a sentence of prose,
/// not furniture) and belongs to the text below it; scrapers often take
/// page furniture for the title and leave the real headline as the text's
/// first line. `None` when neither is there.
pub fn story_headline<'a>(title: &'a str, body: &'a str) -> Option<&'a str> {
    find_headline(title, body).map(|(headline, _)| headline)
}

fn find_headline<'a>(title: &'a str, body: &'a str) -> Option<(&'a str, HeadlineFrom)> {
    // The body's furniture is found once, and only for a title or line
    // that could be a headline: most copy has a headline for a title or no
    // headline-shaped line at all.
    let furniture = std::cell::OnceCell::new();
    let furniture = || furniture.get_or_init(|| furniture_lines(body, &|_| false));
    if headline_words(title).is_some_and(|words| found_below(&words, body, 0, furniture())) {
        return Some((title.trim(), HeadlineFrom::Title));
    }
    lines(body)
        .filter(|range| !body[range.clone()].trim().is_empty())
        .take(HEADLINE_SEARCH_LINES)
        .find(|range| {
            let line = body[range.clone()].trim();
            words_up_to(line, HEADLINE_MAX_WORDS + 1) <= HEADLINE_MAX_WORDS
                && !ends_like_sentence(line)
                && headline_words(line)
                    .is_some_and(|words| found_below(&words, body, range.end, furniture()))
        })
        .map(|range| (body[range].trim(), HeadlineFrom::Text))
}

/// The lines among the top of `body` that repeat the headline `title`
/// (scraped pages set it again above the story, or the title adds the
/// site's name: "Talks end | Harbour Gazette" over "Talks end"): a line
/// shaped like a headline whose words, three at least, open the title's.
/// A summary has the headline beside it and does not repeat it.
pub fn repeated_headline_lines(title: &str, body: &str) -> Vec<Range<usize>> {
    let title_words = word_hashes(title);
    if title_words.len() < HEADLINE_MIN_WORDS {
        return Vec::new();
    }
    lines(body)
        .filter(|range| !body[range.clone()].trim().is_empty())
        .take(HEADLINE_SEARCH_LINES)
        .filter(|range| {
            let line = body[range.clone()].trim();
            if words_up_to(line, HEADLINE_MAX_WORDS + 1) > HEADLINE_MAX_WORDS || line.ends_with('.')
            {
                return false;
            }
            let words = word_hashes(line);
            words.len() >= HEADLINE_MIN_WORDS && title_words.starts_with(&words)
        })
        .collect()
}

/// The hashes of the words of `text`, in order.
fn word_hashes(text: &str) -> Vec<u64> {
    let mut hashes = Vec::new();
    for_each_word_hashed(text, |_, hash| hashes.push(hash));
    hashes
}

/// Whether `title` is the story's own headline rather than page furniture
/// a scraper took for one ("Enter City and State or Zip Code", a sidebar's
/// headline, "1 / 19", a photo credit or a time stamp): it is not
/// furniture by its form, and more than half of its content words (three
/// or more letters, no digits, no stopwords; three at least) occur in the
/// top of the story's prose.
pub fn headline_belongs(title: &str, body: &str) -> bool {
    headline_words(title)
        .is_some_and(|words| found_below(&words, body, 0, &furniture_lines(body, &|_| false)))
}

/// The distinct content words of a would-be headline, sorted; `None` for
/// one that is furniture by its form or has too few to say anything.
fn headline_words(title: &str) -> Option<Vec<u64>> {
    if is_furniture_title(title) {
        return None;
    }
    let mut words: Vec<u64> = Vec::new();
    for_each_word_hashed(title, |word, hash| {
        if word.chars().count() >= 3
            && !word.bytes().any(|b| b.is_ascii_digit())
            && !is_stopword(word, hash)
        {
            words.push(hash);
        }
    });
    words.sort_unstable();
    words.dedup();
    (words.len() >= HEADLINE_MIN_WORDS).then_some(words)
}

/// Whether more than half of `words` occur in the top of the prose of
/// `body` from byte `from` on, `furniture` being the body's furniture lines.
fn found_below(words: &[u64], body: &str, from: usize, furniture: &[Range<usize>]) -> bool {
    let mut top: Vec<u64> = Vec::with_capacity(HEADLINE_TOP_WORDS);
    let prose = lines(body).filter(|range| range.start >= from && !furniture.contains(range));
    for range in prose {
        for_each_word_hashed(&body[range], |_, hash| {
            if top.len() < HEADLINE_TOP_WORDS {
                top.push(hash);
            }
        });
        if top.len() >= HEADLINE_TOP_WORDS {
            break;
        }
    }
    top.sort_unstable();
    let found = words
        .iter()
        .filter(|w| top.binary_search(w).is_ok())
        .count();
    found * 2 > words.len()
}

/// Slugs that wire services put before a headline.
const SLUGS: &[&str] = &[
    "update",
    "refile",
    "wrapup",
    "corrected",
    "exclusive",
    "rpt",
    "urgent",
];

/// Removes slugs such as `UPDATE 2-` or `REFILE-` from a headline.
pub fn strip_slug(title: &str) -> &str {
    let mut rest = title.trim_start();
    loop {
        let Some(dash) = rest.find('-') else {
            return rest;
        };
        let head = rest[..dash].trim().to_lowercase();
        let word = head.trim_end_matches(|c: char| c.is_ascii_digit() || c == ' ');
        if dash <= 14 && SLUGS.contains(&word) {
            rest = rest[dash + 1..].trim_start();
        } else {
            return rest;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_headline_belongs_when_the_story_tells_it() {
        let body = "Enter City and State or Zip Code\nMinisters ended security talks in Geneva on Monday without a breakthrough.\n";
        assert!(headline_belongs(
            "Geneva security talks end without breakthrough",
            body
        ));
        assert!(!headline_belongs("Enter City and State or Zip Code", body));
        assert!(!headline_belongs(
            "Guest commentary: the clinic lost because of its conduct",
            body
        ));
        assert!(!headline_belongs("", body));
    }

    #[test]
    fn furniture_by_its_form_is_no_headline_whatever_words_it_shares() {
        let body = "By Jane Doe, Harbour Gazette\n\nThe harbour council voted on Monday to close the old ferry pier, \
                    the Harbour Gazette reported, after engineers found the pier unsafe.\n";
        for title in [
            "Jane Doe | Harbour Gazette | Getty Images",
            "Harbour 07/16/2026, 06:45am",
            "\u{2014} Harbour Gazette (@HarbourGazette) July 16, 2026",
            "Harbour Gazette",
            "By Jane Doe",
        ] {
            assert!(!headline_belongs(title, body), "{title}");
        }
        assert!(headline_belongs(
            "Council votes to close unsafe ferry pier",
            body
        ));
    }

    #[test]
    fn the_headline_is_the_title_or_else_the_line_that_heads_the_text() {
        let body = "Share this story\n\nCouncil votes to close unsafe ferry pier\n\n\
                    Published 9:58 a.m. July 16\n\n\
                    The harbour council voted on Monday to close the old ferry pier after engineers found it unsafe.\n\n\
                    Ferries will use the new terminal until the pier is rebuilt, the council said.\n";
        assert_eq!(
            story_headline("Pier to close, council says", body),
            Some("Pier to close, council says")
        );
        for junk in [
            "Enter City and State or Zip Code",
            "",
            "Harbour 07/16/2026, 06:45am",
        ] {
            assert_eq!(
                story_headline(junk, body),
                Some("Council votes to close unsafe ferry pier"),
                "{junk}"
            );
        }
        // Prose alone has no headline to show.
        let prose = "The harbour council voted on Monday to close the old ferry pier.\n";
        assert_eq!(
            story_headline("Enter City and State or Zip Code", prose),
            None
        );
    }

    #[test]
    fn a_headline_set_again_above_the_story_is_found() {
        let body = "Harbour Gazette\nCouncil votes to close the ferry pier\nBy Jane Doe\n\
                    The harbour council voted on Monday to close the ferry pier.\n\
                    Council votes to close the ferry pier, the mayor said.";
        let found = repeated_headline_lines(
            "Council votes to close the ferry pier | Harbour Gazette",
            body,
        );
        let found: Vec<&str> = found.iter().map(|r| &body[r.clone()]).collect();
        assert_eq!(found, ["Council votes to close the ferry pier"]);
        assert!(repeated_headline_lines("Pier", body).is_empty());
    }

    #[test]
    fn slugs_leave_titles() {
        assert_eq!(strip_slug("UPDATE 2-Talks end"), "Talks end");
        assert_eq!(strip_slug("REFILE-UPDATE 1-Talks end"), "Talks end");
        assert_eq!(strip_slug("Russia-US talks end"), "Russia-US talks end");
    }
}
