//! Sentence splitting for news copy, with byte offsets into the original.
//!
//! Two passes. First the text is cut into blocks at layout boundaries: a
//! blank line always ends a block; a single newline ends one only when the
//! text is not hard-wrapped (wire copy wrapped at ~70 columns keeps its
//! sentences across lines), when the line before is short (a headline, a
//! byline) or when the next line is a bullet. Then each block is cut at
//! terminators (`.`, `!`, `?`, `…`, `。`, `！`, `？`) unless the context says
//! the terminator does not end a sentence: abbreviations and titles, initials,
//! ordinals such as German dates, a lowercase word next (in cased text),
//! decimals and other terminators inside a token.

use std::sync::LazyLock;

use super::stopwords::WordSet;
use super::words::word_hash;

/// One sentence as a byte range of the text it was split from. The range is
/// trimmed of surrounding whitespace and is never empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SentenceSpan {
    /// Byte offset of the first character.
    pub start: usize,
    /// Byte offset just past the last character.
    pub end: usize,
}

impl SentenceSpan {
    /// The sentence's text within `text`, the string it was split from.
    pub fn text<'t>(&self, text: &'t str) -> &'t str {
        &text[self.start..self.end]
    }
}

/// Splits `text` into sentences, in order, as byte ranges into `text`.
pub fn split_sentences(text: &str) -> Vec<SentenceSpan> {
    let cased = is_cased(text);
    let mut out = Vec::new();
    for (start, end) in blocks(text) {
        split_block(text, start, end, cased, &mut out);
    }
    out
}

/// Lines this long or shorter, inside hard-wrapped copy, stand alone
/// (headlines, bylines, datelines on their own line).
const SHORT_LINE_CHARS: usize = 40;

/// Byte ranges of layout blocks: paragraphs, or lines where lines are
/// paragraphs.
fn blocks(text: &str) -> Vec<(usize, usize)> {
    let hard_wrapped = looks_hard_wrapped(text);
    let mut blocks = Vec::new();
    let mut block_start = 0;
    let mut line_start = 0;
    for (newline_at, _) in text.match_indices('\n') {
        let line = &text[line_start..newline_at];
        let next_line_start = newline_at + 1;
        let next_line = text[next_line_start..].split('\n').next().unwrap_or("");
        let ends_block = line.trim().is_empty()
            || !hard_wrapped
            || line.trim().chars().count() <= SHORT_LINE_CHARS
            || starts_with_bullet(next_line);
        if ends_block {
            blocks.push((block_start, newline_at));
            block_start = next_line_start;
        }
        line_start = next_line_start;
    }
    blocks.push((block_start, text.len()));
    blocks
}

/// Hard-wrapped copy: most lines are of similar, column-limited length.
fn looks_hard_wrapped(text: &str) -> bool {
    if !text.contains('\n') {
        return false;
    }
    let lengths: Vec<usize> = text
        .lines()
        .map(|l| l.trim().chars().count())
        .filter(|&n| n > 0)
        .collect();
    if lengths.len() < 3 {
        return false;
    }
    let wrapped = lengths.iter().filter(|&&n| (45..=80).contains(&n)).count();
    let max = lengths.iter().copied().max().unwrap_or(0);
    max <= 100 && wrapped * 10 >= lengths.len() * 6
}

fn starts_with_bullet(line: &str) -> bool {
    let line = line.trim_start();
    let mut chars = line.chars();
    match chars.next() {
        Some('-' | '*' | '•' | '·' | '▪' | '–' | '—') => {
            chars.next().is_some_and(char::is_whitespace)
        }
        Some(c) if c.is_ascii_digit() => {
            let rest = line.trim_start_matches(|c: char| c.is_ascii_digit());
            let mut rest = rest.chars();
            matches!(rest.next(), Some('.' | ')')) && rest.next().is_some_and(char::is_whitespace)
        }
        _ => false,
    }
}

/// Lowercased, tokenized copy (as in some research corpora) has no capitals
/// to tell a sentence start; the splitter then trusts terminators more.
fn is_cased(text: &str) -> bool {
    const LOOK_BYTES: usize = 4096;
    let head = &text.as_bytes()[..text.len().min(LOOK_BYTES)];
    // A fold rather than `any`: no early exit, so it vectorizes.
    let ascii_upper = head.chunks(64).any(|chunk| {
        chunk
            .iter()
            .fold(false, |seen, b| seen | b.is_ascii_uppercase())
    });
    ascii_upper || has_non_ascii_upper(text, head.len())
}

/// Whether a non-ASCII uppercase letter starts before byte `limit`: only
/// the non-ASCII characters are decoded.
fn has_non_ascii_upper(text: &str, limit: usize) -> bool {
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(offset) = bytes[i..limit].iter().position(|&b| b >= 0x80) {
        // ASCII bytes are whole characters, so `i + offset` starts one.
        let Some(c) = text[i + offset..].chars().next() else {
            return false;
        };
        if c.is_uppercase() {
            return true;
        }
        i += offset + c.len_utf8();
        if i >= limit {
            return false;
        }
    }
    false
}

fn is_terminator(ch: char) -> bool {
    matches!(
        ch,
        '.' | '!' | '?' | '…' | '。' | '！' | '？' | '‼' | '⁇' | '⁈' | '⁉'
    )
}

fn is_cjk_terminator(ch: char) -> bool {
    matches!(ch, '。' | '！' | '？')
}

/// Characters that close a sentence after its terminator: quotes, brackets.
fn is_closer(ch: char) -> bool {
    matches!(
        ch,
        '"' | '\'' | '”' | '’' | ')' | ']' | '»' | '›' | '」' | '』' | '）'
    )
}

/// Characters that may open a sentence before its first word.
fn is_opener(ch: char) -> bool {
    matches!(
        ch,
        '"' | '\'' | '“' | '‘' | '(' | '[' | '«' | '‹' | '¿' | '¡' | '「' | '『' | '（'
    )
}

fn split_block(text: &str, start: usize, end: usize, cased: bool, out: &mut Vec<SentenceSpan>) {
    let block = &text[start..end];
    let mut sentence_start = 0;
    let mut pos = 0;
    for at in terminator_positions(block) {
        // Terminators already consumed as part of a run.
        if at < pos {
            continue;
        }
        let Some(ch) = block[at..].chars().next() else {
            break;
        };
        let mut j = skip_while(block, at + ch.len_utf8(), is_terminator);
        let run = &block[at..j];
        j = skip_while(block, j, is_closer);
        if is_cjk_terminator(ch) {
            push_trimmed(text, start + sentence_start, start + j, out);
            sentence_start = j;
            pos = j;
            continue;
        }
        match block[j..].chars().next() {
            None => break,
            // A terminator inside a token (3.5, U.S, example.com) ends nothing.
            Some(c) if !c.is_whitespace() => {
                pos = j;
                continue;
            }
            Some(_) => {}
        }
        let mut k = skip_while(block, j, char::is_whitespace);
        // Tokenized copy puts a closing-quote token after the terminator
        // (`... agreed . '' the`): it belongs to the sentence it closes.
        if block[k..].starts_with("''")
            && block[k + 2..]
                .chars()
                .next()
                .is_none_or(char::is_whitespace)
        {
            j = k + 2;
            k = skip_while(block, j, char::is_whitespace);
        }
        if k == block.len() {
            break;
        }
        if ends_sentence(&block[sentence_start..at], run, &block[k..], cased) {
            push_trimmed(text, start + sentence_start, start + j, out);
            sentence_start = k;
        }
        pos = j;
    }
    push_trimmed(text, start + sentence_start, end, out);
}

/// The next terminator at or after byte `from`. Only ASCII bytes and the
/// lead bytes of the non-ASCII terminators are looked at.
/// Byte offsets of every terminator character in `block`, in order: one
/// SIMD pass for the ASCII ones, one for the lead bytes of `…`, `‼`, `⁇`,
/// `⁈`, `⁉` (E2), `。` (E3), `！`, `？` (EF), which only non-ASCII text has.
fn terminator_positions(block: &str) -> Vec<usize> {
    let bytes = block.as_bytes();
    let mut positions: Vec<usize> = memchr::memchr3_iter(b'.', b'!', b'?', bytes).collect();
    if !bytes.is_ascii() {
        let wide = memchr::memchr3_iter(0xE2, 0xE3, 0xEF, bytes)
            .filter(|&i| block[i..].chars().next().is_some_and(is_terminator));
        positions.extend(wide);
        positions.sort_unstable();
    }
    positions
}

/// The byte offset of the first character at or after `from` that fails
/// `keep`, or the end of `s`.
fn skip_while(s: &str, from: usize, keep: impl Fn(char) -> bool) -> usize {
    s[from..]
        .char_indices()
        .find(|&(_, c)| !keep(c))
        .map_or(s.len(), |(i, _)| from + i)
}

fn push_trimmed(text: &str, start: usize, end: usize, out: &mut Vec<SentenceSpan>) {
    let slice = &text[start..end];
    let trimmed_start = start + (slice.len() - slice.trim_start().len());
    let trimmed_end = end - (slice.len() - slice.trim_end().len());
    if trimmed_start < trimmed_end {
        out.push(SentenceSpan {
            start: trimmed_start,
            end: trimmed_end,
        });
    }
}

/// Titles and other abbreviations that never end a sentence.
const NEVER_FINAL: &[&str] = &[
    "mr", "mrs", "ms", "messrs", "dr", "prof", "gen", "sen", "rep", "gov", "lt", "col", "sgt",
    "capt", "cpt", "maj", "adm", "cmdr", "rev", "hon", "pres", "supt", "det", "insp", "mt", "ft",
    "st", "vs", "e.g", "i.e", "cf", "approx", "dept", "univ", "ave", "blvd", "sr", "jr",
];

/// Abbreviations that are not final when a number follows (`No. 10`, `Jan. 6`).
const BEFORE_NUMBER: &[&str] = &[
    "no", "nos", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov",
    "dec", "p", "pp", "vol", "art", "fig", "nr", "tel",
];

/// Abbreviations that may also end a sentence (`in the U.S.`, `at 10 a.m.`):
/// they end one only when a typical sentence opener follows.
const MAYBE_FINAL: &[&str] = &[
    "u.s", "u.k", "u.n", "e.u", "a.m", "p.m", "d.c", "inc", "ltd", "co", "corp", "plc", "llc",
    "etc", "ph.d", "bros",
];

/// Words that commonly open a sentence.
const SENTENCE_OPENERS: &[&str] = &[
    "the",
    "he",
    "she",
    "it",
    "they",
    "we",
    "i",
    "but",
    "and",
    "in",
    "a",
    "an",
    "this",
    "that",
    "there",
    "his",
    "her",
    "its",
    "their",
    "our",
    "on",
    "at",
    "for",
    "after",
    "as",
    "when",
    "while",
    "however",
    "meanwhile",
    "then",
    "so",
    "if",
    "some",
    "many",
    "most",
    "both",
    "officials",
    "police",
    "what",
    "who",
    "yet",
    "still",
    "since",
    "last",
    "earlier",
    "later",
];

/// German month names, after which `am 3.` is an ordinal date.
const MONTHS_DE: &[&str] = &[
    "januar",
    "februar",
    "märz",
    "april",
    "mai",
    "juni",
    "juli",
    "august",
    "september",
    "oktober",
    "november",
    "dezember",
];

/// Decides whether a terminator run ends the sentence, from the text of the
/// sentence so far (`before`), the run itself and the text after the spaces.
fn ends_sentence(before: &str, run: &str, after: &str, cased: bool) -> bool {
    let next_word = first_word(after);
    let next_char = after.trim_start_matches(is_opener).chars().next();
    let next_is_lower = next_char.is_some_and(char::is_lowercase);
    let next_is_digit = next_char.is_some_and(|c| c.is_ascii_digit());

    if run != "." {
        // Ellipses trail off mid-sentence unless a capital follows.
        let is_ellipsis = run.contains('…') || run.starts_with("..");
        if is_ellipsis {
            return cased && next_char.is_some_and(char::is_uppercase);
        }
        return !(cased && next_is_lower);
    }

    // A spaced ellipsis (`. . .`) or a list marker (`1. Cut taxes`).
    if next_char == Some('.') || is_list_marker(before) {
        return false;
    }
    let token = last_token(before);
    let token_hash = word_hash(token);
    if NEVER_FINAL_SET.contains(token_hash) {
        return false;
    }
    if next_is_digit && BEFORE_NUMBER_SET.contains(token_hash) {
        return false;
    }
    if MAYBE_FINAL_SET.contains(token_hash) {
        return in_list(next_word, &SENTENCE_OPENERS_SET) && !(cased && next_is_lower);
    }
    // An initial: J. R. R. Tolkien.
    let mut token_chars = token.chars();
    if let (Some(c), None) = (token_chars.next(), token_chars.next())
        && c.is_alphabetic()
        && (c.is_uppercase() || !cased)
    {
        return false;
    }
    // An ordinal number: `am 3. Oktober`, `der 2. Platz`.
    if !token.is_empty()
        && token.len() <= 2
        && token.chars().all(|c| c.is_ascii_digit())
        && (next_is_lower || in_list(next_word, &MONTHS_DE_SET))
    {
        return false;
    }
    !(cased && next_is_lower)
}

/// A sentence that so far holds only a number is a list item's marker.
fn is_list_marker(before: &str) -> bool {
    let before = before.trim();
    !before.is_empty() && before.len() <= 3 && before.bytes().all(|b| b.is_ascii_digit())
}

// Each word list as a set of [`word_hash`]es: membership ignoring case in
// one hash and one or two loads, however long the list.
static NEVER_FINAL_SET: LazyLock<WordSet> = LazyLock::new(|| WordSet::new(NEVER_FINAL));
static BEFORE_NUMBER_SET: LazyLock<WordSet> = LazyLock::new(|| WordSet::new(BEFORE_NUMBER));
static MAYBE_FINAL_SET: LazyLock<WordSet> = LazyLock::new(|| WordSet::new(MAYBE_FINAL));
static SENTENCE_OPENERS_SET: LazyLock<WordSet> = LazyLock::new(|| WordSet::new(SENTENCE_OPENERS));
static MONTHS_DE_SET: LazyLock<WordSet> = LazyLock::new(|| WordSet::new(MONTHS_DE));

/// Whether `word` is in `list`, ignoring case.
fn in_list(word: &str, list: &WordSet) -> bool {
    list.contains(word_hash(word))
}

/// The whitespace-delimited token just before a terminator, without opening
/// punctuation.
fn last_token(before: &str) -> &str {
    let token = before.rsplit(char::is_whitespace).next().unwrap_or("");
    token.trim_start_matches(|c: char| !c.is_alphanumeric())
}

fn first_word(after: &str) -> &str {
    let trimmed = after.trim_start_matches(|c: char| !c.is_alphanumeric());
    let end = trimmed
        .find(|c: char| !c.is_alphanumeric())
        .unwrap_or(trimmed.len());
    &trimmed[..end]
}

#[cfg(test)]
#[path = "sentences_table.rs"]
mod table;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn split(text: &str) -> Vec<&str> {
        split_sentences(text).iter().map(|s| s.text(text)).collect()
    }

    #[test]
    fn casing_is_seen_in_any_script() {
        assert!(is_cased("Talks end."));
        assert!(is_cased("été à Évian, « déjà » vu"));
        assert!(is_cased("переговоры в Женеве"));
        assert!(!is_cased("talks end in geneva . the envoys left ."));
        assert!(!is_cased("été à évian — déjà vu … переговоры"));
        // Only the head is looked at.
        let late = format!("{}É", "a ".repeat(3000));
        assert!(!is_cased(&late));
    }

    #[test]
    fn plain_sentences() {
        assert_eq!(
            split("Talks ended. Both sides spoke!"),
            ["Talks ended.", "Both sides spoke!"]
        );
    }

    #[test]
    fn titles_and_abbreviations_do_not_split() {
        assert_eq!(
            split(
                "Dr. Smith met Gen. Jones on Sept. 5 at No. 10 Downing St. in London. It rained."
            ),
            [
                "Dr. Smith met Gen. Jones on Sept. 5 at No. 10 Downing St. in London.",
                "It rained."
            ]
        );
    }

    #[test]
    fn us_at_end_of_sentence_splits_before_opener() {
        assert_eq!(
            split("Troops left the U.S. The talks went on. The U.S. Army stayed."),
            [
                "Troops left the U.S.",
                "The talks went on.",
                "The U.S. Army stayed."
            ]
        );
    }

    #[test]
    fn initials_decimals_and_money() {
        assert_eq!(
            split("J. R. R. Tolkien earned $10.9bn, up 3.5%. Fans cheered."),
            ["J. R. R. Tolkien earned $10.9bn, up 3.5%.", "Fans cheered."]
        );
    }

    #[test]
    fn quotes_after_terminators() {
        assert_eq!(
            split("\u{201C}We are ready.\u{201D} Lavrov said. \"Why?\" he asked."),
            [
                "\u{201C}We are ready.\u{201D}",
                "Lavrov said.",
                "\"Why?\" he asked."
            ]
        );
    }

    #[test]
    fn ellipsis_mid_sentence() {
        assert_eq!(
            split("He paused... and went on. Then..."),
            ["He paused... and went on.", "Then..."]
        );
    }

    #[test]
    fn hard_wrapped_copy_keeps_sentences_across_lines() {
        let text = "GENEVA (Reuters) - Russian and U.S. negotiators met in Geneva on\n\
                    Monday for talks on European security, with Moscow pressing its\n\
                    demands that NATO halt its eastward expansion. The talks ended\n\
                    after nearly eight hours without a breakthrough on any issue.";
        assert_eq!(split(text).len(), 2);
    }

    #[test]
    fn blank_lines_and_short_lines_are_boundaries() {
        assert_eq!(
            split("Talks end without deal\n\nBy Jane Doe\nThe talks ended on Monday"),
            [
                "Talks end without deal",
                "By Jane Doe",
                "The talks ended on Monday"
            ]
        );
    }

    #[test]
    fn bullets_split() {
        assert_eq!(
            split("Key points:\n- one thing\n- another"),
            ["Key points:", "- one thing", "- another"]
        );
    }

    #[test]
    fn lowercased_tokenized_text() {
        assert_eq!(
            split("the talks ended . mr. ryabkov said it was hard . nato did not reply ."),
            [
                "the talks ended .",
                "mr. ryabkov said it was hard .",
                "nato did not reply ."
            ]
        );
    }

    #[test]
    fn tokenized_closing_quote_stays_with_its_sentence() {
        assert_eq!(
            split("he said `` we are ready . '' the talks went on ."),
            ["he said `` we are ready . ''", "the talks went on ."]
        );
    }

    #[test]
    fn cjk_and_spanish_and_german() {
        assert_eq!(split("会谈结束。双方发言！"), ["会谈结束。", "双方发言！"]);
        assert_eq!(split("¿Qué pasó? ¡Nada!"), ["¿Qué pasó?", "¡Nada!"]);
        assert_eq!(
            split("Die Gespräche am 3. Oktober endeten. Es regnete."),
            ["Die Gespräche am 3. Oktober endeten.", "Es regnete."]
        );
    }

    #[test]
    fn no_punctuation_is_one_sentence() {
        assert_eq!(
            split("no punctuation at all here"),
            ["no punctuation at all here"]
        );
        assert!(split("   \n\n ").is_empty());
    }

    proptest! {
        #[test]
        fn spans_are_ordered_trimmed_and_in_bounds(text in "[A-Za-z .!?\"'\n…。]{0,200}") {
            let spans = split_sentences(&text);
            let mut last_end = 0;
            for span in spans {
                prop_assert!(span.start >= last_end && span.start < span.end && span.end <= text.len());
                let s = span.text(&text);
                prop_assert_eq!(s, s.trim());
                last_end = span.end;
            }
        }
    }
}
