//! The originating news agency, where the copy names it: the first thing a
//! wire editor reads. An AP story and a Reuters story from the same press
//! conference are different reports even when they share long quotes; the
//! same AP copy on twenty sites is one report.
//!
//! Read from the places agencies put their name: the dateline tag
//! (`HELSINKI (AP) —`), a byline or credit line of its own (`By Reuters`,
//! `Jill Colvin, Associated Press`). Photo captions and credits are not
//! read: a Reuters story often runs under an AFP picture.
//!
//! Compute only: no I/O, no gRPC types.

use super::furniture::{is_photo_caption_line, lines};

/// A news agency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Agency {
    /// The Associated Press.
    AssociatedPress,
    /// Reuters.
    Reuters,
    /// Agence France-Presse.
    Afp,
    /// Bloomberg News.
    Bloomberg,
    /// United Press International.
    Upi,
    /// Deutsche Presse-Agentur.
    Dpa,
}

impl Agency {
    /// The name newsrooms use for it.
    pub fn as_str(&self) -> &'static str {
        match self {
            Agency::AssociatedPress => "AP",
            Agency::Reuters => "Reuters",
            Agency::Afp => "AFP",
            Agency::Bloomberg => "Bloomberg",
            Agency::Upi => "UPI",
            Agency::Dpa => "dpa",
        }
    }
}

/// Dateline tags, matched case-insensitively.
const TAGS: &[(&str, Agency)] = &[
    ("(ap)", Agency::AssociatedPress),
    ("(reuters)", Agency::Reuters),
    ("(afp)", Agency::Afp),
    ("(bloomberg)", Agency::Bloomberg),
    ("(upi)", Agency::Upi),
    ("(dpa)", Agency::Dpa),
];

/// Names in a byline or credit line, matched case-insensitively as words.
const NAMES: &[(&str, Agency)] = &[
    ("associated press", Agency::AssociatedPress),
    ("reuters", Agency::Reuters),
    ("agence france-presse", Agency::Afp),
    ("afp", Agency::Afp),
    ("bloomberg news", Agency::Bloomberg),
    ("bloomberg", Agency::Bloomberg),
    ("united press international", Agency::Upi),
    ("upi", Agency::Upi),
    ("dpa", Agency::Dpa),
];

/// Lines read from the top of the copy (bylines and datelines sit there).
const TOP_LINES: usize = 16;
/// A dateline tag stands within this many bytes of its paragraph's start.
const DATELINE_BYTES: usize = 100;
/// A byline or credit line is short.
const BYLINE_MAX_WORDS: usize = 12;
/// Lines read from the bottom (credits such as "Reporting by …; (Reuters)").
const BOTTOM_LINES: usize = 3;

/// The agency the copy names, if any: the first named in its top lines,
/// else in its last lines.
pub fn detect(body: &str) -> Option<Agency> {
    let all: Vec<&str> = lines(body)
        .map(|range| body[range].trim())
        .filter(|line| !line.is_empty() && !is_photo_caption_line(line))
        .collect();
    let top = all.iter().take(TOP_LINES);
    let bottom = all.iter().skip(TOP_LINES).rev().take(BOTTOM_LINES);
    top.chain(bottom).find_map(|line| agency_in_line(line))
}

fn agency_in_line(line: &str) -> Option<Agency> {
    let head = prefix(line, DATELINE_BYTES).to_ascii_lowercase();
    if let Some(&(_, agency)) = TAGS.iter().find(|(tag, _)| head.contains(tag)) {
        return Some(agency);
    }
    if line.split_whitespace().take(BYLINE_MAX_WORDS + 1).count() > BYLINE_MAX_WORDS {
        return None;
    }
    let lower = line.to_ascii_lowercase();
    NAMES
        .iter()
        .find(|(name, _)| contains_word(&lower, name))
        .map(|&(_, agency)| agency)
}

/// The first `n` bytes of `text`, cut at a character boundary.
fn prefix(text: &str, n: usize) -> &str {
    let mut end = n.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Whether `needle` occurs in `hay` with no letter on either side.
fn contains_word(hay: &str, needle: &str) -> bool {
    hay.match_indices(needle).any(|(at, _)| {
        let before = hay[..at].chars().next_back();
        let after = hay[at + needle.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datelines_and_bylines_name_the_agency() {
        let cases = [
            (
                "HELSINKI (AP) — Ministers met on Monday.",
                Some(Agency::AssociatedPress),
            ),
            (
                "By Reuters\n\nMinisters met on Monday.",
                Some(Agency::Reuters),
            ),
            (
                "Jane Doe, Associated Press\n\nMinisters met on Monday.",
                Some(Agency::AssociatedPress),
            ),
            (
                "GENEVA (Reuters) - Ministers met on Monday.",
                Some(Agency::Reuters),
            ),
            (
                "Ministers met on Monday in a room with a view of the lake.",
                None,
            ),
        ];
        for (body, want) in cases {
            assert_eq!(detect(body), want, "{body}");
        }
    }

    #[test]
    fn a_photo_credit_is_not_the_story_s_agency() {
        let body = "Ministers arrive in Geneva. (Photo by Jane Doe / AFP)\n\nGENEVA (Reuters) - Ministers met on Monday.";
        assert_eq!(detect(body), Some(Agency::Reuters));
    }

    #[test]
    fn an_agency_named_in_prose_is_not_a_byline() {
        let body = "The minister told Reuters and the Associated Press that the talks would go on for another week at least.";
        assert_eq!(detect(body), None);
    }
}
