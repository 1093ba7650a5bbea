//! HTML bodies: the text a reader sees, with a map back to the submitted
//! markup. Newsroom systems send `body_html` (`<p>` paragraphs, inline
//! `<a>`/`<em>`, entities); summaries and matching read the text, and every
//! offset a client gets still points into what it sent.
//!
//! Not an HTML parser for the open web: block elements end paragraphs,
//! inline elements vanish, `script`/`style`/`noscript`/`template` and
//! comments are dropped with their content, whitespace collapses as a
//! browser collapses it, and the entities news markup uses are decoded.
//! Compute only: no I/O, no gRPC types.

use std::borrow::Cow;
use std::ops::Range;

/// Elements whose start or end ends a paragraph.
const BLOCK: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "dd",
    "div",
    "dl",
    "dt",
    "figcaption",
    "figure",
    "footer",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "li",
    "main",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "table",
    "td",
    "th",
    "tr",
    "ul",
];

/// Elements whose content is not text a reader sees.
const HIDDEN: &[&str] = &["script", "style", "noscript", "template"];

/// Inline elements that, seen in a body, say it is markup (with the block
/// ones and `br`).
const INLINE: &[&str] = &[
    "a", "b", "br", "em", "i", "img", "small", "span", "strong", "sub", "sup", "u",
];

/// Whether `body` is HTML markup: it holds an element news markup uses
/// (`<p>`, `</p>`, `<br/>`, `<a href=…>`, …). A plain text that merely
/// holds a `<` is not.
pub fn is_markup(body: &str) -> bool {
    let bytes = body.as_bytes();
    memchr::memchr_iter(b'<', bytes).any(|at| {
        let (name, _) = tag_name(&body[at + 1..]);
        !name.is_empty()
            && (BLOCK.contains(&name.as_str())
                || INLINE.contains(&name.as_str())
                || HIDDEN.contains(&name.as_str()))
    })
}

/// The lowercased element name after `<` (or `</`), and whether it is an
/// end tag; empty when what follows is no tag name.
fn tag_name(after_lt: &str) -> (String, bool) {
    let (rest, end) = match after_lt.strip_prefix('/') {
        Some(rest) => (rest, true),
        None => (after_lt, false),
    };
    let name: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .take(16)
        .collect::<String>()
        .to_ascii_lowercase();
    let closes = rest[name.len()..]
        .chars()
        .next()
        .is_none_or(|c| c == '>' || c == '/' || c.is_ascii_whitespace());
    if name.starts_with(|c: char| c.is_ascii_alphabetic()) && closes {
        (name, end)
    } else {
        (String::new(), end)
    }
}

/// A run of the plain text and the bytes of the body it comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Segment {
    /// Where it starts in the plain text.
    plain: usize,
    /// Where its source starts in the body.
    source: usize,
    /// How many body bytes it stands for.
    source_len: usize,
    /// Copied byte for byte (else it stands for its source as a whole: an
    /// entity, a run of whitespace, a tag that ends a paragraph).
    verbatim: bool,
}

/// The text of a body as a reader sees it, with where each part of it is
/// in the body.
#[derive(Debug, Clone)]
pub struct PlainText<'a> {
    text: Cow<'a, str>,
    /// `None` when the body is not markup: the text is the body.
    segments: Option<Vec<Segment>>,
}

impl<'a> PlainText<'a> {
    /// `body`'s plain text: the body itself unless it is markup.
    pub fn of(body: &'a str) -> PlainText<'a> {
        if !is_markup(body) {
            return PlainText {
                text: Cow::Borrowed(body),
                segments: None,
            };
        }
        let mut builder = Builder::default();
        builder.read(body);
        builder.finish()
    }

    /// The text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether the body was markup.
    pub fn is_markup(&self) -> bool {
        self.segments.is_some()
    }

    /// The plain text, owned.
    pub fn into_text(self) -> Cow<'a, str> {
        self.text
    }

    /// The bytes of the body that `plain` (a range of the text, on char
    /// boundaries) comes from.
    pub fn source_range(&self, plain: Range<usize>) -> Range<usize> {
        let Some(segments) = &self.segments else {
            return plain;
        };
        if plain.is_empty() {
            let at = self.source_start(segments, plain.start);
            return at..at;
        }
        let start = self.source_start(segments, plain.start);
        let end = self.source_end(segments, plain.end);
        start..end.max(start)
    }

    fn segment_at(segments: &[Segment], plain: usize) -> Option<&Segment> {
        let after = segments.partition_point(|s| s.plain <= plain);
        after.checked_sub(1).map(|i| &segments[i])
    }

    fn source_start(&self, segments: &[Segment], plain: usize) -> usize {
        match Self::segment_at(segments, plain) {
            Some(s) if s.verbatim => s.source + (plain - s.plain).min(s.source_len),
            Some(s) => s.source,
            None => 0,
        }
    }

    fn source_end(&self, segments: &[Segment], plain_end: usize) -> usize {
        match Self::segment_at(segments, plain_end - 1) {
            Some(s) if s.verbatim => s.source + (plain_end - s.plain).min(s.source_len),
            Some(s) => s.source + s.source_len,
            None => 0,
        }
    }
}

/// Builds the plain text of a markup body.
#[derive(Default)]
struct Builder {
    text: String,
    segments: Vec<Segment>,
    /// A paragraph break is owed before the next text.
    pending_break: Option<(usize, usize, &'static str)>,
    /// A space is owed before the next text (collapsed whitespace).
    pending_space: Option<(usize, usize)>,
}

impl Builder {
    fn push(&mut self, plain: &str, source: Range<usize>, verbatim: bool) {
        if plain.is_empty() {
            return;
        }
        if let Some((at, len, separator)) = self.pending_break.take() {
            self.pending_space = None;
            if !self.text.is_empty() {
                self.segments.push(Segment {
                    plain: self.text.len(),
                    source: at,
                    source_len: len,
                    verbatim: false,
                });
                self.text.push_str(separator);
            }
        } else if let Some((at, len)) = self.pending_space.take()
            && !self.text.is_empty()
        {
            self.segments.push(Segment {
                plain: self.text.len(),
                source: at,
                source_len: len,
                verbatim: false,
            });
            self.text.push(' ');
        }
        // Verbatim runs that follow each other in both texts share one
        // segment.
        let joins = verbatim
            && self.segments.last().is_some_and(|last| {
                last.verbatim
                    && last.source + last.source_len == source.start
                    && last.plain + last.source_len == self.text.len()
            });
        if joins {
            if let Some(last) = self.segments.last_mut() {
                last.source_len += source.len();
            }
        } else {
            self.segments.push(Segment {
                plain: self.text.len(),
                source: source.start,
                source_len: source.len(),
                verbatim,
            });
        }
        self.text.push_str(plain);
    }

    fn owe_break(&mut self, source: Range<usize>, separator: &'static str) {
        // A paragraph break outweighs a line break.
        let stronger = match self.pending_break {
            Some((_, _, owed)) => separator.len() > owed.len(),
            None => true,
        };
        if stronger {
            self.pending_break = Some((source.start, source.len(), separator));
        }
    }

    fn owe_space(&mut self, source: Range<usize>) {
        if self.pending_space.is_none() {
            self.pending_space = Some((source.start, source.len()));
        }
    }

    fn read(&mut self, body: &str) {
        let mut at = 0;
        while at < body.len() {
            let rest = &body[at..];
            let c = rest.chars().next().unwrap_or(' ');
            if c == '<' {
                if let Some(end) = self.tag(body, at) {
                    at = end;
                    continue;
                }
            } else if c == '&' {
                if let Some((decoded, len)) = entity(rest) {
                    let mut buffer = [0u8; 4];
                    let decoded = decoded.encode_utf8(&mut buffer);
                    if decoded == "\u{a0}" || decoded.trim().is_empty() {
                        self.owe_space(at..at + len);
                    } else {
                        self.push(decoded, at..at + len, false);
                    }
                    at += len;
                    continue;
                }
            } else if c.is_whitespace() {
                let len = rest
                    .char_indices()
                    .find(|(_, c)| !c.is_whitespace())
                    .map_or(rest.len(), |(i, _)| i);
                self.owe_space(at..at + len);
                at += len;
                continue;
            }
            // A run of ordinary text up to the next markup or whitespace.
            let len = rest
                .char_indices()
                .skip(1)
                .find(|&(_, c)| c == '<' || c == '&' || c.is_whitespace())
                .map_or(rest.len(), |(i, _)| i);
            self.push(&rest[..len], at..at + len, true);
            at += len;
        }
    }

    /// Reads the tag (or comment) at `at`; returns where it ends, or
    /// `None` when the `<` starts no tag (it is text then).
    fn tag(&mut self, body: &str, at: usize) -> Option<usize> {
        let rest = &body[at..];
        if let Some(comment) = rest.strip_prefix("<!--") {
            let end = comment.find("-->").map_or(body.len(), |i| at + 4 + i + 3);
            return Some(end);
        }
        if rest.starts_with("<!") || rest.starts_with("<?") {
            return Some(rest.find('>').map_or(body.len(), |i| at + i + 1));
        }
        let (name, is_end) = tag_name(&rest[1..]);
        if name.is_empty() {
            return None;
        }
        let end = at + tag_end(rest)?;
        if !is_end && HIDDEN.contains(&name.as_str()) {
            // Skip to the end tag (or the end of the body).
            let close = format!("</{name}");
            let after = body[end..]
                .to_ascii_lowercase()
                .find(&close)
                .map_or(body.len(), |i| {
                    let from = end + i;
                    body[from..].find('>').map_or(body.len(), |j| from + j + 1)
                });
            return Some(after);
        }
        if name == "br" {
            self.owe_break(at..end, "\n");
        } else if BLOCK.contains(&name.as_str()) {
            self.owe_break(at..end, "\n\n");
        }
        Some(end)
    }

    fn finish(self) -> PlainText<'static> {
        PlainText {
            text: Cow::Owned(self.text),
            segments: Some(self.segments),
        }
    }
}

/// Where the tag that `rest` starts with ends (just past its `>`), with
/// quoted attribute values skipped; `None` when it never closes.
fn tag_end(rest: &str) -> Option<usize> {
    let mut quote: Option<u8> = None;
    for (i, &b) in rest.as_bytes().iter().enumerate().skip(1) {
        match (quote, b) {
            (Some(q), b) if b == q => quote = None,
            (Some(_), _) => {}
            (None, b'"' | b'\'') => quote = Some(b),
            (None, b'>') => return Some(i + 1),
            (None, _) => {}
        }
    }
    None
}

/// Named entities news markup uses.
const NAMED: &[(&str, char)] = &[
    ("amp", '&'),
    ("lt", '<'),
    ("gt", '>'),
    ("quot", '"'),
    ("apos", '\''),
    ("nbsp", '\u{a0}'),
    ("mdash", '\u{2014}'),
    ("ndash", '\u{2013}'),
    ("hellip", '\u{2026}'),
    ("lsquo", '\u{2018}'),
    ("rsquo", '\u{2019}'),
    ("ldquo", '\u{201c}'),
    ("rdquo", '\u{201d}'),
    ("laquo", '\u{ab}'),
    ("raquo", '\u{bb}'),
    ("copy", '\u{a9}'),
    ("reg", '\u{ae}'),
    ("trade", '\u{2122}'),
    ("deg", '\u{b0}'),
    ("euro", '\u{20ac}'),
    ("pound", '\u{a3}'),
    ("middot", '\u{b7}'),
    ("bull", '\u{2022}'),
    ("eacute", '\u{e9}'),
    ("egrave", '\u{e8}'),
    ("aacute", '\u{e1}'),
    ("agrave", '\u{e0}'),
    ("iacute", '\u{ed}'),
    ("oacute", '\u{f3}'),
    ("uacute", '\u{fa}'),
    ("ntilde", '\u{f1}'),
    ("ccedil", '\u{e7}'),
    ("auml", '\u{e4}'),
    ("ouml", '\u{f6}'),
    ("uuml", '\u{fc}'),
    ("szlig", '\u{df}'),
];

/// The character an entity at the start of `rest` stands for, and its
/// length; `None` when `rest` starts no entity this module knows.
fn entity(rest: &str) -> Option<(char, usize)> {
    let semicolon = rest.as_bytes().iter().take(12).position(|&b| b == b';')?;
    let name = &rest[1..semicolon];
    let decoded = if let Some(number) = name.strip_prefix('#') {
        let code = match number.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => number.parse::<u32>().ok()?,
        };
        char::from_u32(code).filter(|c| *c != '\0')?
    } else {
        NAMED.iter().find(|(n, _)| *n == name).map(|&(_, c)| c)?
    };
    Some((decoded, semicolon + 1))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const BODY: &str = "<p>GENEVA (Reuters) &mdash; Talks ended on <em>Monday</em>.</p>\n<p>Both sides&nbsp;agreed to meet again. AT&amp;T was not involved.</p>";

    #[test]
    fn paragraphs_and_entities_become_text() {
        let plain = PlainText::of(BODY);
        assert!(plain.is_markup());
        assert_eq!(
            plain.text(),
            "GENEVA (Reuters) \u{2014} Talks ended on Monday.\n\nBoth sides agreed to meet again. AT&T was not involved."
        );
    }

    #[test]
    fn ranges_of_the_text_point_into_the_body() {
        let plain = PlainText::of(BODY);
        let text = plain.text();
        let sentence = "Talks ended on Monday.";
        let at = text.find(sentence).expect("sentence");
        let source = plain.source_range(at..at + sentence.len());
        assert_eq!(&BODY[source], "Talks ended on <em>Monday</em>.");
        let second = "AT&T was not involved.";
        let at = text.find(second).expect("sentence");
        let source = plain.source_range(at..at + second.len());
        assert_eq!(&BODY[source], "AT&amp;T was not involved.");
    }

    #[test]
    fn scripts_styles_and_comments_are_not_text() {
        let body = "<p>Kept.</p><script>var x = '<p>no</p>';</script><style>p{}</style><!-- note --><p>Also kept.</p>";
        assert_eq!(PlainText::of(body).text(), "Kept.\n\nAlso kept.");
        let br = "<p>Line one<br/>line two</p>";
        assert_eq!(PlainText::of(br).text(), "Line one\nline two");
    }

    #[test]
    fn plain_text_is_left_alone() {
        for body in [
            "Shares rose 5% as 3 < 4 and profits > forecasts.",
            "The <unknown> tag is not markup.",
            "AT&T said &amp; nothing.",
        ] {
            let plain = PlainText::of(body);
            assert!(!plain.is_markup(), "{body}");
            assert_eq!(plain.text(), body);
            assert_eq!(plain.source_range(2..5), 2..5);
        }
    }

    proptest! {
        /// Whatever the markup, every range of whole characters of the
        /// text maps to a range of the body on char boundaries, in order.
        #[test]
        fn every_range_maps_into_the_body(
            parts in proptest::collection::vec(
                prop_oneof![
                    Just("<p>".to_owned()),
                    Just("</p>".to_owned()),
                    Just("<br>".to_owned()),
                    Just("<a href=\"x>y\">".to_owned()),
                    Just("</a>".to_owned()),
                    Just("&amp;".to_owned()),
                    Just("&nbsp;".to_owned()),
                    Just("&#8217;".to_owned()),
                    Just(" \n ".to_owned()),
                    "[a-zé€ .]{0,8}",
                ],
                0..24,
            ),
        ) {
            let body = format!("<p>{}", parts.concat());
            let plain = PlainText::of(&body);
            let text = plain.text();
            let bounds: Vec<usize> = text
                .char_indices()
                .map(|(i, _)| i)
                .chain([text.len()])
                .collect();
            let mut last_end = 0;
            for pair in bounds.windows(2) {
                let source = plain.source_range(pair[0]..pair[1]);
                prop_assert!(source.start <= source.end && source.end <= body.len());
                prop_assert!(body.is_char_boundary(source.start));
                prop_assert!(body.is_char_boundary(source.end));
                prop_assert!(source.start >= last_end.min(source.start));
                last_end = source.end;
            }
        }
    }
}
