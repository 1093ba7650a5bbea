//! JSON Lines in and out for the batch commands: numbered lines, malformed
//! ones reported and skipped (or fatal under `--strict`), a progress bar on
//! stderr when stderr is a terminal.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, IsTerminal, Write};
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};

use super::{BatchArgs, CliError};
use crate::parallel::{in_order, map_in_order};
use crate::story::{Story, validate_story_id};
use crate::summarize::Budget;

const BUFFER_BYTES: usize = 1 << 20;

/// What each input line holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum InputFormat {
    /// copydesk's own story object: `{"id","text","title",…}`.
    #[default]
    Jsonl,
    /// One IPTC ninjs document (1.x, 2.x or 3.x) a line.
    Ninjs,
}

/// One input line. `body` and `headline` are accepted for `text` and
/// `title`; a line with both spellings of one field is refused as
/// ambiguous.
#[derive(Debug, Deserialize)]
struct InputLine {
    id: String,
    #[serde(alias = "body")]
    text: String,
    #[serde(default, alias = "headline")]
    title: Option<String>,
    /// Where the story came from (a feed, an agency).
    #[serde(default)]
    source: Option<String>,
    /// BCP-47 language tag.
    #[serde(default)]
    language: Option<String>,
    /// RFC 3339, e.g. `2026-11-27T14:00:00Z`.
    #[serde(default)]
    published_at: Option<String>,
    /// This story's own summary budget, overriding the command's.
    #[serde(default)]
    max_sentences: Option<usize>,
    #[serde(default)]
    max_words: Option<usize>,
}

/// One well-formed input story with the options its line carried.
#[derive(Debug)]
pub struct Item {
    /// The story.
    pub story: Story,
    /// A per-story summary budget, when the line sets one.
    pub budget: Option<Budget>,
    /// What a ninjs line says beside the story.
    pub ninjs: Option<NinjsLine>,
}

/// The ninjs fields of a line that are not the story.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NinjsLine {
    /// The document's `uri`.
    pub uri: String,
    /// Its `version`, when it is a number.
    pub version: Option<u64>,
    /// `pubStatus: canceled`: remove the story (its body may be empty).
    pub canceled: bool,
}

/// A batch run: numbered input stories in, JSON lines out.
pub struct Batch {
    input: Input,
    output: Output,
}

/// The output of a batch run: one JSON line each.
pub struct Output {
    path: PathBuf,
    writer: BufWriter<Box<dyn Write + Send>>,
    written: usize,
    duplicates: usize,
}

/// The input of a batch run, read in order; the lines that were not
/// processed, counted and reported.
pub struct Input {
    lines: Lines,
    checks: Checks,
    rules: ParseRules,
    /// Threads for the per-story work.
    threads: NonZeroUsize,
    /// What stopped a read of several lines, answered on the next read.
    stopped: Option<CliError>,
}

/// The input's lines with a story on them (not blank), numbered, in
/// order; after an error reading, nothing more.
pub struct Lines {
    input_path: PathBuf,
    reader: Box<dyn BufRead + Send>,
    progress: ProgressBar,
    /// The number of the last line read.
    line: usize,
    /// Lines that held a story (well-formed or not).
    read: usize,
    failed: bool,
    buffer: Vec<u8>,
}

/// One line of the input that holds something, as read.
pub struct RawLine {
    /// Its number, from 1.
    pub line: usize,
    bytes: Vec<u8>,
}

/// How a line becomes an item: the same on every thread.
#[derive(Debug, Clone, Copy)]
pub struct ParseRules {
    format: InputFormat,
    max_body_bytes: usize,
}

/// Why a line was not processed.
#[derive(Debug)]
pub enum Rejected {
    /// It is not a story.
    Malformed(String),
    /// It is a story over a limit.
    Refused(String),
}

/// The lines that were not processed, counted and reported in input
/// order.
pub struct Checks {
    progress: ProgressBar,
    strict: bool,
    max_errors: usize,
    /// Lines that are not a story object.
    malformed: usize,
    /// Well-formed stories that were not processed: over a limit, or
    /// refused by the server.
    refused: usize,
}

/// What a batch run did, for its last line on stderr and its exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchCounts {
    pub read: usize,
    pub written: usize,
    pub duplicates: usize,
    pub malformed: usize,
    pub refused: usize,
}

impl Batch {
    /// Opens the input and output of `args`.
    pub fn open(args: &BatchArgs) -> Result<Batch, CliError> {
        let is_stdio = |p: &Path| p.as_os_str() == "-";
        let (reader, input_bytes): (Box<dyn BufRead + Send>, Option<u64>) = if is_stdio(&args.input)
        {
            (
                Box::new(BufReader::with_capacity(BUFFER_BYTES, std::io::stdin())),
                None,
            )
        } else {
            let file = File::open(&args.input).map_err(|source| CliError::Io {
                path: args.input.clone(),
                source,
            })?;
            let len = file.metadata().ok().map(|m| m.len());
            (Box::new(BufReader::with_capacity(BUFFER_BYTES, file)), len)
        };
        let writer: Box<dyn Write + Send> = if is_stdio(&args.output) {
            Box::new(std::io::stdout())
        } else {
            Box::new(File::create(&args.output).map_err(|source| CliError::Io {
                path: args.output.clone(),
                source,
            })?)
        };
        let output = Output {
            path: args.output.clone(),
            writer: BufWriter::with_capacity(BUFFER_BYTES, writer),
            written: 0,
            duplicates: 0,
        };
        let progress = progress_bar(input_bytes);
        let input = Input {
            lines: Lines::new(args.input.clone(), reader, progress.clone()),
            checks: Checks {
                progress,
                strict: args.strict,
                max_errors: args.max_errors,
                malformed: 0,
                refused: 0,
            },
            rules: ParseRules {
                format: args.format,
                max_body_bytes: args.max_body_bytes,
            },
            threads: args
                .threads
                .unwrap_or_else(crate::parallel::available_threads),
            stopped: None,
        };
        Ok(Batch { input, output })
    }

    /// The input and the output apart: a round can be read while the
    /// round before is written.
    pub fn halves(&mut self) -> (&mut Input, &mut Output) {
        (&mut self.input, &mut self.output)
    }

    /// See [`Input::read_ahead`].
    pub fn read_ahead(&self) -> Result<Option<ReadAhead>, CliError> {
        self.input.read_ahead()
    }

    /// Threads for the per-story work (`--threads`, else every core).
    pub fn threads(&self) -> NonZeroUsize {
        self.input.threads
    }

    /// See [`Input::next_items`].
    pub fn next_items(&mut self, count: usize) -> Result<Vec<Item>, CliError> {
        self.input.next_items(count)
    }

    /// See [`Input::next_item`].
    pub fn next_item(&mut self) -> Result<Option<Item>, CliError> {
        self.input.next_item()
    }

    /// See [`Checks::refused`].
    pub fn refused(&mut self, line: usize, reason: String) -> Result<(), CliError> {
        self.input.checks.refused(line, reason)
    }

    /// The number of the last line read.
    pub fn line(&self) -> usize {
        self.input.lines.line
    }

    /// Counts a written story that joined a cluster as a duplicate.
    pub fn count_duplicate(&mut self) {
        self.output.duplicates += 1;
    }

    /// Writes one output line.
    pub fn write<T: Serialize>(&mut self, value: &T) -> Result<(), CliError> {
        self.output.write(value)
    }

    /// Flushes the output and closes the progress bar.
    pub fn finish(self) -> Result<(), CliError> {
        let Batch { input, mut output } = self;
        output.writer.flush().map_err(|source| CliError::Io {
            path: output.path.clone(),
            source,
        })?;
        input.lines.progress.finish_and_clear();
        let counts = BatchCounts {
            read: input.lines.read,
            written: output.written,
            duplicates: output.duplicates,
            malformed: input.checks.malformed,
            refused: input.checks.refused,
        };
        if counts.read == 0 {
            eprintln!("copydesk: the input holds no story");
        }
        eprintln!(
            "copydesk: read {}, written {}, duplicates {}, refused {}, malformed {}",
            counts.read, counts.written, counts.duplicates, counts.refused, counts.malformed
        );
        if counts.malformed + counts.refused > input.checks.max_errors {
            return Err(CliError::Incomplete {
                malformed: counts.malformed,
                refused: counts.refused,
                max_errors: input.checks.max_errors,
            });
        }
        Ok(())
    }
}

impl Output {
    /// Writes one output line.
    pub fn write<T: Serialize>(&mut self, value: &T) -> Result<(), CliError> {
        let io = |source| CliError::Io {
            path: self.path.clone(),
            source,
        };
        serde_json::to_writer(&mut self.writer, value).map_err(|e| io(e.into()))?;
        self.writer.write_all(b"\n").map_err(io)?;
        self.written += 1;
        Ok(())
    }

    /// Writes one output line made ahead by [`json_line`] (failing as a
    /// write of the output would where it could not be made).
    pub fn write_line(&mut self, line: std::io::Result<Vec<u8>>) -> Result<(), CliError> {
        let io = |source| CliError::Io {
            path: self.path.clone(),
            source,
        };
        self.writer.write_all(&line.map_err(io)?).map_err(io)?;
        self.written += 1;
        Ok(())
    }
}

/// `value` as one output line, made where it is worked on so that the
/// ordered writer only copies bytes.
pub fn json_line<T: Serialize>(value: &T) -> std::io::Result<Vec<u8>> {
    let mut line = serde_json::to_vec(value)?;
    line.push(b'\n');
    Ok(line)
}

impl Input {
    /// A first reading of the input, for a command that learns from the
    /// whole batch before it writes (see `copydesk summarize`): its
    /// well-formed stories within the size limit, in order, bad lines
    /// skipped without a word (the real pass reports them). `None` when the
    /// input is stdin, which can be read once only.
    pub fn read_ahead(&self) -> Result<Option<ReadAhead>, CliError> {
        let path = &self.lines.input_path;
        if path.as_os_str() == "-" {
            return Ok(None);
        }
        let file = File::open(path).map_err(|source| CliError::Io {
            path: path.clone(),
            source,
        })?;
        Ok(Some(ReadAhead {
            lines: Lines::new(
                path.clone(),
                Box::new(BufReader::with_capacity(BUFFER_BYTES, file)),
                ProgressBar::hidden(),
            ),
            rules: self.rules,
            threads: self.threads,
        }))
    }

    /// What a streaming command works with: the lines as read, how each
    /// is parsed, the reports of the ones not processed, and the threads.
    pub fn parts(&mut self) -> (&mut Lines, ParseRules, &mut Checks, NonZeroUsize) {
        (&mut self.lines, self.rules, &mut self.checks, self.threads)
    }

    /// Each well-formed story of the input through `work` on every
    /// thread, and its answer through `sink` in input order, as they come:
    /// the lines are read on one thread, parsed and worked on across the
    /// threads, and the bad ones reported in order. A line that stops the
    /// run (`--strict`) stops it after the answers of the lines before it.
    pub fn stream<U: Send>(
        &mut self,
        work: impl Fn(Item) -> U + Send + Sync,
        mut sink: impl FnMut(U) -> Result<(), CliError>,
    ) -> Result<(), CliError> {
        let (lines, rules, checks, threads) = self.parts();
        std::thread::scope(|scope| {
            let answers = in_order(scope, threads, lines, |raw| {
                raw.map(|raw| (raw.line, raw.parse(rules).map(&work)))
            });
            for answer in answers {
                let (line, answer) = answer?;
                if let Some(answer) = checks.admit(line, answer)? {
                    sink(answer)?;
                }
            }
            Ok(())
        })
    }

    /// Up to `count` next well-formed lines, in order; empty at the end
    /// of the input. The lines are read in order and parsed across the
    /// threads. A line that stops the run (`--strict`) is answered after
    /// the lines before it, on the next call, so that their output is
    /// written first, as one line at a time would.
    pub fn next_items(&mut self, count: usize) -> Result<Vec<Item>, CliError> {
        if let Some(stop) = self.stopped.take() {
            return Err(stop);
        }
        loop {
            let lines = self
                .lines
                .by_ref()
                .take(count)
                .collect::<Result<Vec<_>, _>>()?;
            let at_end = lines.len() < count;
            let rules = self.rules;
            let parsed = map_in_order(lines, self.threads, |raw| (raw.line, raw.parse(rules)));
            let mut items = Vec::with_capacity(parsed.len());
            for (line, parsed) in parsed {
                match self.checks.admit(line, parsed) {
                    Ok(item) => items.extend(item),
                    Err(stop) if items.is_empty() => return Err(stop),
                    Err(stop) => {
                        self.stopped = Some(stop);
                        return Ok(items);
                    }
                }
            }
            // A round of nothing but bad lines is not the end.
            if !items.is_empty() || at_end {
                return Ok(items);
            }
        }
    }

    /// The next well-formed line; `None` at the end of the input.
    pub fn next_item(&mut self) -> Result<Option<Item>, CliError> {
        for raw in self.lines.by_ref() {
            let raw = raw?;
            let parsed = raw.parse(self.rules);
            if let Some(item) = self.checks.admit(raw.line, parsed)? {
                return Ok(Some(item));
            }
        }
        Ok(None)
    }
}

impl Lines {
    fn new(input_path: PathBuf, reader: Box<dyn BufRead + Send>, progress: ProgressBar) -> Lines {
        Lines {
            input_path,
            reader,
            progress,
            line: 0,
            read: 0,
            failed: false,
            buffer: Vec::new(),
        }
    }
}

impl Iterator for Lines {
    type Item = Result<RawLine, CliError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        loop {
            self.buffer.clear();
            let read = match self.reader.read_until(b'\n', &mut self.buffer) {
                Ok(0) => return None,
                Ok(read) => read,
                Err(source) => {
                    self.failed = true;
                    return Some(Err(CliError::Io {
                        path: self.input_path.clone(),
                        source,
                    }));
                }
            };
            self.line += 1;
            self.progress.inc(read as u64);
            if self.buffer.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            self.read += 1;
            return Some(Ok(RawLine {
                line: self.line,
                bytes: std::mem::take(&mut self.buffer),
            }));
        }
    }
}

impl RawLine {
    /// The item on the line, or why it is not processed.
    pub fn parse(&self, rules: ParseRules) -> Result<Item, Rejected> {
        rules.parse(&self.bytes)
    }
}

impl ParseRules {
    /// The item on a line, or why it is not processed.
    fn parse(&self, bytes: &[u8]) -> Result<Item, Rejected> {
        let item = parse(bytes, self.format).map_err(Rejected::Malformed)?;
        if item.story.body.len() > self.max_body_bytes {
            return Err(Rejected::Refused(format!(
                "text is {} bytes, more than --max-body-bytes {}",
                item.story.body.len(),
                self.max_body_bytes
            )));
        }
        Ok(item)
    }
}

impl Checks {
    /// What was made of line `line`, or, when it was rejected, `None`
    /// once that is reported (or the failure under `--strict`).
    pub fn admit<T>(
        &mut self,
        line: usize,
        made: Result<T, Rejected>,
    ) -> Result<Option<T>, CliError> {
        match made {
            Ok(made) => Ok(Some(made)),
            Err(Rejected::Malformed(reason)) => self.malformed(line, reason).map(|()| None),
            Err(Rejected::Refused(reason)) => self.refused(line, reason).map(|()| None),
        }
    }

    /// Reports bad line `line`, or fails under `--strict`.
    fn malformed(&mut self, line: usize, reason: String) -> Result<(), CliError> {
        if self.strict {
            return Err(CliError::Malformed { line, reason });
        }
        self.malformed += 1;
        self.progress
            .suspend(|| eprintln!("copydesk: line {line}: {reason} (skipped)"));
        Ok(())
    }

    /// Reports well-formed story `line` that was not processed (over a
    /// limit, or refused by the server), or fails under `--strict`.
    pub fn refused(&mut self, line: usize, reason: String) -> Result<(), CliError> {
        if self.strict {
            return Err(CliError::Refused { line, reason });
        }
        self.refused += 1;
        self.progress
            .suspend(|| eprintln!("copydesk: line {line}: {reason} (not processed)"));
        Ok(())
    }
}

/// The input's stories read once ahead of the batch run: see
/// [`Batch::read_ahead`].
pub struct ReadAhead {
    lines: Lines,
    rules: ParseRules,
    threads: NonZeroUsize,
}

impl ReadAhead {
    /// Threads for the per-story work.
    pub fn threads(&self) -> NonZeroUsize {
        self.threads
    }

    /// `work` on every thread applied to each well-formed story within
    /// the size limit, and `sink` to its answer in input order, as they
    /// come (see [`in_order`]).
    pub fn stream<T: Send>(
        self,
        work: impl Fn(Story) -> T + Send + Sync,
        mut sink: impl FnMut(T),
    ) -> Result<(), CliError> {
        let ReadAhead {
            lines,
            rules,
            threads,
        } = self;
        std::thread::scope(|scope| {
            let answers = in_order(scope, threads, lines, |raw| {
                raw.map(|raw| match raw.parse(rules) {
                    Ok(item) if item.ninjs.as_ref().is_some_and(|n| n.canceled) => None,
                    Ok(item) => Some(work(item.story)),
                    Err(_) => None,
                })
            });
            for answer in answers {
                if let Some(answer) = answer? {
                    sink(answer);
                }
            }
            Ok(())
        })
    }
}

fn progress_bar(total_bytes: Option<u64>) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    match total_bytes {
        Some(total) => ProgressBar::new(total).with_style(
            ProgressStyle::with_template(
                "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        ),
        None => ProgressBar::new_spinner(),
    }
}

/// An RFC 3339 time, with `Z` or an offset, parsed as the server's
/// `google.protobuf.Timestamp` parses it, so a line means the same in
/// both; like the server, times before 1970 are refused.
fn parse_time(text: &str) -> Result<std::time::SystemTime, String> {
    let timestamp: prost_types::Timestamp = text
        .parse()
        .map_err(|e| format!("is not an RFC 3339 time: {e}"))?;
    let time = std::time::SystemTime::try_from(timestamp)
        .map_err(|e| format!("is not a valid time: {e}"))?;
    if time < std::time::SystemTime::UNIX_EPOCH {
        return Err("must be 1970-01-01T00:00:00Z or later".into());
    }
    Ok(time)
}

fn parse(bytes: &[u8], format: InputFormat) -> Result<Item, String> {
    match format {
        InputFormat::Jsonl => parse_line(bytes),
        InputFormat::Ninjs => parse_ninjs_line(bytes),
    }
}

fn parse_ninjs_line(bytes: &[u8]) -> Result<Item, String> {
    let item = crate::ninjs::parse_item(bytes).map_err(|e| e.to_string())?;
    validate_story_id(&item.story.id).map_err(|e| format!("uri as a story id {e}"))?;
    if !item.canceled && item.story.body.trim().is_empty() {
        return Err("no story text (body_text, body_html or bodies)".into());
    }
    Ok(Item {
        story: item.story,
        budget: None,
        ninjs: Some(NinjsLine {
            uri: item.uri,
            version: item.version,
            canceled: item.canceled,
        }),
    })
}

fn parse_line(bytes: &[u8]) -> Result<Item, String> {
    let input: InputLine =
        serde_json::from_slice(bytes).map_err(|e| format!("not a story object: {e}"))?;
    validate_story_id(&input.id).map_err(|e| format!("id {e}"))?;
    if input.text.trim().is_empty() {
        return Err("text must not be empty".into());
    }
    let published_at = input
        .published_at
        .map(|t| parse_time(&t).map_err(|e| format!("published_at {t:?}: {e}")))
        .transpose()?;
    let budget = match (input.max_sentences, input.max_words) {
        (Some(_), Some(_)) => return Err("set max_sentences or max_words, not both".into()),
        (Some(n), None) => Some(Budget::sentences(n).map_err(|e| format!("max_sentences: {e}"))?),
        (None, Some(n)) => Some(Budget::words(n).map_err(|e| format!("max_words: {e}"))?),
        (None, None) => None,
    };
    let story = Story {
        id: input.id,
        title: input.title.unwrap_or_default(),
        body: input.text,
        published_at,
        source: input.source.unwrap_or_default(),
        language: input.language.unwrap_or_default(),
    };
    Ok(Item {
        story,
        budget,
        ninjs: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_parse_or_say_why() {
        let Item { story, budget, .. } = parse_line(
            br#"{"id":"a","text":"Talks end.","title":"T","published_at":"2026-11-27T10:00:00Z","max_sentences":2}"#,
        )
        .unwrap();
        assert_eq!(budget, Some(Budget::Sentences(2)));
        assert_eq!((story.id.as_str(), story.title.as_str()), ("a", "T"));
        assert!(story.published_at.is_some());
        assert!(parse_line(br#"{"id":"a"}"#).unwrap_err().contains("text"));
        assert!(
            parse_line(br#"{"id":"","text":"x"}"#)
                .unwrap_err()
                .contains("id")
        );
        assert!(
            parse_line(br#"{"id":"a","text":"  "}"#)
                .unwrap_err()
                .contains("empty")
        );
        assert!(parse_line(b"not json").is_err());
        assert!(
            parse_line(br#"{"id":"a","text":"x","max_words":0}"#)
                .unwrap_err()
                .contains("max_words")
        );
        assert!(parse_line(br#"{"id":"a","text":"x","max_words":5,"max_sentences":1}"#).is_err());
        assert!(
            parse_line(br#"{"id":"a","text":"x","max_words":0}"#)
                .unwrap_err()
                .contains("max_words")
        );
        assert!(parse_line(br#"{"id":"a","text":"x","max_words":5,"max_sentences":1}"#).is_err());
        assert!(parse_line(br#"{"id":"a","text":"x","published_at":"yesterday"}"#).is_err());
        assert!(
            parse_line(br#"{"id":"a","text":"x","published_at":"1969-07-20T20:17:00Z"}"#).is_err()
        );
        // Offsets, as the server accepts them: one instant, three spellings.
        let at = |t: &str| {
            parse_line(format!(r#"{{"id":"a","text":"x","published_at":"{t}"}}"#).as_bytes())
                .expect(t)
                .story
                .published_at
        };
        assert_eq!(at("2026-03-03T09:00:00+02:00"), at("2026-03-03T07:00:00Z"));
        assert_eq!(
            at("2026-03-03T09:00:00.123-05:00"),
            at("2026-03-03T14:00:00.123Z")
        );
    }
}
