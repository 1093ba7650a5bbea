//! Photo captions and credits, by the forms agencies and sites give them:
//! a caption is not the story, however well it reads, and a credit is a
//! name.
//!
//! Two kinds of test. Marks that story prose never carries (`(AP
//! Photo/…)`, `Getty Images`, `©`, `(L)`) are read in any sentence. The
//! caption's own grammar (a present-tense line ending on the picture's
//! full date, `…, Helsinki, July 16, 2018.`; a line that ends in a bare
//! credit, `… the historic talks (Lehtikuva)`) is read only of a line that
//! stands alone, where a caption sits on a page.
//!
//! Compute only: no I/O, no gRPC types.

use super::furniture::{
    CAPTION_MAX_WORDS, contains_ignore_case, ends_like_sentence, starts_with_ignore_case,
    words_up_to,
};

/// A dated caption is a sentence or two; a longer line is a paragraph of
/// prose that happens to end on a date.
const DATED_CAPTION_MAX_WORDS: usize = 60;

/// A credit in brackets names a photographer and an agency: a few words.
const CREDIT_MAX_WORDS: usize = 4;

/// Month names and their wire abbreviations, lowercase, without the stop.
const MONTHS: &[&str] = &[
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
];

/// A picture's caption or credit by a mark that story prose does not use:
/// "(AP Photo/…)", "(Photo by … / AFP)", "Photo: …", "FILE - In this …
/// file photo", "Getty Images", "©", a bracketed "(Name/AP)" credit, or
/// the position marks "(L)" and "(R)".
pub(super) fn is_photo_caption(line: &str, words: usize) -> bool {
    // A paragraph longer than a caption is prose that mentions a photo, or
    // a whole story on one line.
    if words > CAPTION_MAX_WORDS {
        return false;
    }
    ["photo:", "file -", "file –", "file —"]
        .iter()
        .any(|p| starts_with_ignore_case(line, p))
        // Every other mark but Getty's names a photo: one scan rules most
        // lines out.
        || (contains_ignore_case(line, "photo")
            && (["photo/", "/ap photo", "(photo by", "photo credit", "file photo"]
                .iter()
                .any(|marker| contains_ignore_case(line, marker))
                // The agencies' caption form: "In this Nov. 11, 2017, photo, …".
                || (starts_with_ignore_case(line, "in this ")
                    && contains_ignore_case(line, " photo,"))))
        || contains_ignore_case(line, "getty images")
        || line.contains('©')
        || ["(l)", "(r)", "(l-r)", "(from left)"]
            .iter()
            .any(|mark| contains_ignore_case(line, mark))
        || has_slash_credit(line)
}

/// Whether `line` is a picture's caption or credit.
pub fn is_photo_caption_line(line: &str) -> bool {
    let line = line.trim();
    is_photo_caption(line, words_up_to(line, CAPTION_MAX_WORDS + 1))
}

/// A line standing alone that reads as a caption by its grammar: it ends on
/// the picture's full date after a comma (`…, in Hamburg, Germany, July 7,
/// 2017.`, `…, on July 7, 2017`), or it does not end like a sentence and
/// closes on a bare bracketed credit (`… the historic talks (Lehtikuva)`).
pub(super) fn is_dated_caption(line: &str, words: usize) -> bool {
    words <= DATED_CAPTION_MAX_WORDS && (ends_on_full_date(line) || ends_with_bare_credit(line))
}

/// A bracketed credit anywhere in the text, `(Jane Doe/AP)`, `(AP/Jane
/// Doe)`, `(Jane Doe/Lakeside Times via AP)`: a few words in capitals with
/// a slash between them.
fn has_slash_credit(text: &str) -> bool {
    let mut rest = text;
    while let Some(open) = rest.find('(') {
        rest = &rest[open + 1..];
        let Some(close) = rest.find(')') else {
            return false;
        };
        let inside = &rest[..close];
        if inside.contains('/')
            && !inside.contains("//")
            && words_up_to(inside, CREDIT_MAX_WORDS + 2) <= CREDIT_MAX_WORDS + 1
            && inside
                .split(|c: char| c == '/' || c.is_whitespace())
                .filter(|w| !w.is_empty() && *w != "via")
                .all(|w| w.chars().next().is_some_and(char::is_uppercase))
        {
            return true;
        }
    }
    false
}

/// A line whose text does not end like a sentence, closed by a bracketed
/// name of a word or three in capitals: the picture's credit.
fn ends_with_bare_credit(line: &str) -> bool {
    let line = line.trim_end();
    let Some(inside) = bracketed_tail(line) else {
        return false;
    };
    let before = line[..line.len() - inside.len() - 2].trim_end();
    !before.is_empty()
        && !ends_like_sentence(before)
        && !before.ends_with([',', ':', ';'])
        && words_up_to(inside, CREDIT_MAX_WORDS) < CREDIT_MAX_WORDS
        && inside
            .split_whitespace()
            .all(|w| w.chars().next().is_some_and(char::is_uppercase))
}

/// What stands between the brackets that close `text`, if it ends with
/// one (`… (Jane Doe/AP)` gives `Jane Doe/AP`).
fn bracketed_tail(text: &str) -> Option<&str> {
    let text = text.trim_end().strip_suffix(')')?;
    let open = text.rfind('(')?;
    let inside = &text[open + 1..];
    (!inside.trim().is_empty()).then_some(inside)
}

/// Whether `line` ends on a full date, month, day and year, set off by a
/// comma before it or before an `on` (`, July 16, 2018.`, `, on July 7,
/// 2017`).
/// Weekday names, lowercase.
const WEEKDAYS: &[&str] = &[
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// The agencies' caption close, read in any sentence: a place, then the
/// weekday and the full date, each set off by a comma (`… at the airport
/// in Vantaa, Finland, Monday, July 16, 2018.`). Wire style dates a story's
/// events by the weekday within a week and by the date beyond it, never by
/// both; a caption gives both.
pub(super) fn ends_on_weekday_and_date(sentence: &str, words: usize) -> bool {
    if words > DATED_CAPTION_MAX_WORDS {
        return false;
    }
    let line = sentence.trim_end().trim_end_matches('.');
    let last: Vec<&str> = line.split_whitespace().rev().take(5).collect();
    let [year, day, month, weekday, before] = last.as_slice() else {
        return false;
    };
    let is_year = year.len() == 4 && year.bytes().all(|b| b.is_ascii_digit());
    let is_day = day
        .strip_suffix(',')
        .and_then(|d| d.parse::<u8>().ok())
        .is_some_and(|d| (1..=31).contains(&d));
    let month = month.trim_end_matches('.').to_lowercase();
    let is_weekday = weekday
        .strip_suffix(',')
        .is_some_and(|w| WEEKDAYS.contains(&w.to_lowercase().as_str()));
    is_year && is_day && MONTHS.contains(&month.as_str()) && is_weekday && before.ends_with(',')
}

/// Whether a sentence, wherever it stands, closes as the agencies close a
/// caption (see [`ends_on_weekday_and_date`]).
pub fn closes_like_caption(sentence: &str) -> bool {
    let sentence = sentence.trim();
    ends_on_weekday_and_date(sentence, words_up_to(sentence, DATED_CAPTION_MAX_WORDS + 1))
}

fn ends_on_full_date(line: &str) -> bool {
    let line = line.trim_end().trim_end_matches('.');
    let words: Vec<&str> = line.split_whitespace().rev().take(5).collect();
    let [year, day, month, before, rest @ ..] = words.as_slice() else {
        return false;
    };
    let is_year = year.len() == 4
        && year.bytes().all(|b| b.is_ascii_digit())
        && (year.starts_with("19") || year.starts_with("20"));
    let is_day = day
        .strip_suffix(',')
        .and_then(|d| d.parse::<u8>().ok())
        .is_some_and(|d| (1..=31).contains(&d));
    let month = month.trim_end_matches('.').to_lowercase();
    let set_off = before.ends_with(',')
        || (before.eq_ignore_ascii_case("on") && rest.first().is_some_and(|w| w.ends_with(',')));
    is_year && is_day && MONTHS.contains(&month.as_str()) && set_off
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caption_line(line: &str) -> bool {
        let words = words_up_to(line, CAPTION_MAX_WORDS + 1);
        is_photo_caption(line, words) || is_dated_caption(line, words)
    }

    #[test]
    fn captions_by_their_marks_and_their_grammar() {
        for line in [
            "Ministers leave the talks in Geneva on Monday. (AP Photo/Jane Doe)",
            "A ferry leaves the harbour at dawn. (Jane Doe/AP)",
            "A ferry leaves at dawn. (Jane Doe/Lakeside Times via AP) less",
            "Jane Doe | AFP | Getty Images",
            "Protesters march in Lakeside, March 3, 2026 \u{a9} Jane Doe | Harbour Gazette",
            "The mayor (L) and the harbour master meet at the pier.",
            "The two ministers shake hands before talks in Geneva, Switzerland, March 3, 2026.",
            "The ministers meet on the sidelines of a summit in Vienna, Austria, on Nov. 11, 2025.",
            "Ministers meet in Geneva on March 3, 2026, in the old town, Monday, March 3, 2026",
            "The old pier at the harbour is the site of the talks      (Lakeside Times)",
        ] {
            assert!(caption_line(line), "{line}");
        }
    }

    #[test]
    fn a_place_weekday_and_full_date_close_a_caption_in_any_sentence() {
        let closes = |s: &str| ends_on_weekday_and_date(s, words_up_to(s, 100));
        assert!(closes(
            "The ferry lands at the old pier in Lakeside, Norway, Monday, March 2, 2026."
        ));
        assert!(closes(
            "Ministers arrive at the hall in Geneva, Tuesday, Nov. 3, 2026"
        ));
        for prose in [
            "The vote is set for Tuesday, March 3, 2026.",
            "The ferry lands in Lakeside on Monday, officials said.",
            "The law takes effect in Lakeside, Norway, on March 2, 2026.",
            "It opened in Lakeside, Monday, and closed at once.",
        ] {
            assert!(!closes(prose), "{prose}");
        }
    }

    #[test]
    fn prose_with_dates_brackets_and_slashes_is_not_a_caption() {
        for line in [
            "The law takes effect on Jan. 1, 2027.",
            "The council said the vote was set for March 3, 2026.",
            "Officials said the group (ISIS) had attacked.",
            "The pier closes on Monday (the council's vote was 5/4).",
            "He said he would go (and he did).",
            "Ferries run hourly, the council said (see the timetable at www.example.org/ferries)",
            "It happened in 2026, officials said.",
        ] {
            assert!(!caption_line(line), "{line}");
        }
    }
}
