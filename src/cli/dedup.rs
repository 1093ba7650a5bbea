//! `copydesk dedup`: one cluster line per input story, offline on the
//! library's index, or through a running server's IngestStories stream.

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::time::SystemTime;

use serde::Serialize;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::batch::Batch;
use super::{CliError, DedupArgs};
use crate::dedup::changes::{Changes, Passage, VersionChanges, version_changes};
use crate::dedup::{Evidence, Index, IndexConfig, IngestOutcome, StoryPlacement};
use crate::grpc::client::{ClientOptions, connect, server_url};
use crate::grpc::proto::dedup_service_client::DedupServiceClient;
use crate::grpc::proto::{self, ingest_stories_response};
use crate::grpc::story_message;
use crate::store::{DurableOptions, DurableStore};
use crate::story::PreparedStory;

#[derive(Debug, Serialize)]
struct DedupLine {
    id: String,
    /// `clusters/{n}`.
    cluster: String,
    canonical: String,
    duplicate_of: Option<String>,
    similarity: Option<SimilarityLine>,
    /// `clusters/{n}` of related clusters.
    related: Vec<String>,
    /// The news agency the copy names, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    agency: Option<String>,
    /// The story's headline (see `text::headline::story_headline`), if
    /// it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    headline: Option<String>,
    /// The canonical story's headline, when this run read that story.
    #[serde(skip_serializing_if = "Option::is_none")]
    canonical_headline: Option<String>,
    /// What this version changes against the one it follows, when it
    /// follows one (and `--no-changes` is not given).
    #[serde(skip_serializing_if = "Option::is_none")]
    changes: Option<ChangesLine>,
}

/// A sentence of one version, with its byte offsets into that body.
#[derive(Debug, Serialize)]
struct PassageLine {
    text: String,
    start: usize,
    end: usize,
}

#[derive(Debug, Serialize)]
struct ChangedLine {
    old: PassageLine,
    new: PassageLine,
    words_removed: Vec<String>,
    words_added: Vec<String>,
}

/// The `changes` of an answer, named as in the gRPC `Changes` message.
#[derive(Debug, Serialize)]
struct ChangesLine {
    against: String,
    top_changed: bool,
    trimmed: bool,
    cut: bool,
    added: Vec<PassageLine>,
    removed: Vec<PassageLine>,
    changed: Vec<ChangedLine>,
    update_summary: Vec<PassageLine>,
}

impl From<Passage> for PassageLine {
    fn from(p: Passage) -> Self {
        PassageLine {
            text: p.text,
            start: p.range.start,
            end: p.range.end,
        }
    }
}

impl From<proto::Passage> for PassageLine {
    fn from(p: proto::Passage) -> Self {
        PassageLine {
            text: p.text,
            start: p.start as usize,
            end: p.end as usize,
        }
    }
}

fn passages<P: Into<PassageLine>>(list: Vec<P>) -> Vec<PassageLine> {
    list.into_iter().map(Into::into).collect()
}

impl From<VersionChanges> for ChangesLine {
    fn from(version: VersionChanges) -> Self {
        let VersionChanges { against, changes } = version;
        let Changes {
            added,
            removed,
            changed,
            top_changed,
            trimmed,
            cut,
            update_summary,
        } = changes;
        ChangesLine {
            against,
            top_changed,
            trimmed,
            cut,
            added: passages(added),
            removed: passages(removed),
            changed: changed
                .into_iter()
                .map(|c| ChangedLine {
                    old: c.old.into(),
                    new: c.new.into(),
                    words_removed: c.words_removed,
                    words_added: c.words_added,
                })
                .collect(),
            update_summary: passages(update_summary),
        }
    }
}

impl From<proto::Changes> for ChangesLine {
    fn from(c: proto::Changes) -> Self {
        let proto::Changes {
            against,
            added,
            removed,
            changed,
            top_changed,
            trimmed,
            cut,
            update_summary,
        } = c;
        ChangesLine {
            against: strip_story(&against),
            top_changed,
            trimmed,
            cut,
            added: passages(added),
            removed: passages(removed),
            changed: changed
                .into_iter()
                .map(|c| ChangedLine {
                    // The server always sets both.
                    old: c.old.unwrap_or_default().into(),
                    new: c.new.unwrap_or_default().into(),
                    words_removed: c.words_removed,
                    words_added: c.words_added,
                })
                .collect(),
            update_summary: passages(update_summary),
        }
    }
}

#[derive(Debug, Serialize)]
struct SimilarityLine {
    jaccard: f64,
    containment: f64,
    lede_overlap: f64,
    title_similarity: f64,
    word_overlap: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    head_overlap: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hours_apart: Option<f64>,
}

impl From<Evidence> for SimilarityLine {
    fn from(e: Evidence) -> Self {
        SimilarityLine {
            jaccard: e.jaccard,
            containment: e.containment,
            lede_overlap: e.lede_overlap,
            title_similarity: e.title_similarity,
            word_overlap: e.word_overlap,
            head_overlap: e.head_overlap,
            hours_apart: e.hours_apart,
        }
    }
}

impl From<proto::Similarity> for SimilarityLine {
    fn from(s: proto::Similarity) -> Self {
        let proto::Similarity {
            jaccard,
            containment,
            lede_overlap,
            title_similarity,
            word_overlap,
            hours_apart,
            head_overlap,
        } = s;
        SimilarityLine {
            jaccard,
            containment,
            lede_overlap,
            title_similarity,
            word_overlap,
            head_overlap,
            hours_apart,
        }
    }
}

pub fn run(args: DedupArgs) -> Result<(), CliError> {
    let DedupArgs {
        batch,
        matching,
        server,
        tls_ca,
        token,
        data_dir,
        no_changes,
    } = args;
    let batch = Batch::open(&batch)?;
    let config = matching.index_config();
    let with_changes = !no_changes;
    match (server, data_dir) {
        (None, None) => run_offline(batch, config, with_changes),
        (None, Some(dir)) => run_durable(batch, config, &dir, with_changes),
        (Some(server), _) => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|source| CliError::Io {
                    path: "tokio runtime".into(),
                    source,
                })?;
            runtime.block_on(run_remote(
                batch,
                server,
                ClientOptions { tls_ca, token },
                with_changes,
            ))
        }
    }
}

/// Stories per commit when building a durable store offline.
const OFFLINE_COMMIT_GROUP: usize = 256;

/// What a batch keeps of each input story until the input is done: its id,
/// headline and what it changed. Where it went is asked of the index at
/// the end.
struct Ingested {
    id: Box<str>,
    headline: Option<Box<str>>,
    changes: Option<VersionChanges>,
}

impl Ingested {
    fn new(id: &str, headline: Option<String>, changes: Option<VersionChanges>) -> Ingested {
        Ingested {
            id: id.into(),
            headline: headline.map(String::into_boxed_str),
            changes,
        }
    }
}

fn run_durable(
    mut batch: Batch,
    config: IndexConfig,
    dir: &Path,
    with_changes: bool,
) -> Result<(), CliError> {
    std::fs::create_dir_all(dir).map_err(|source| CliError::Io {
        path: dir.to_owned(),
        source,
    })?;
    let (store, _) = DurableStore::open(dir, config, DurableOptions::default())?;
    let mut group = Vec::with_capacity(OFFLINE_COMMIT_GROUP);
    let mut headlines = Vec::with_capacity(OFFLINE_COMMIT_GROUP);
    let mut stories: Vec<Ingested> = Vec::new();
    loop {
        let story = batch.next_story()?;
        let done = story.is_none();
        if let Some(story) = story {
            let prepared = PreparedStory::new(story);
            headlines.push(prepared.headline.clone());
            group.push(prepared);
        }
        if group.len() == OFFLINE_COMMIT_GROUP || (done && !group.is_empty()) {
            let reports = store.ingest_blocking(std::mem::take(&mut group), SystemTime::now())?;
            stories.extend(reports.into_iter().zip(headlines.drain(..)).map(
                |(report, headline)| {
                    let changes = report.changes.filter(|_| with_changes);
                    Ingested::new(&report.story_id, headline, changes)
                },
            ));
        }
        if done {
            break;
        }
    }
    write_where_they_are(batch, stories, |id| Ok(store.placement_blocking(id)?))
}

fn run_offline(mut batch: Batch, config: IndexConfig, with_changes: bool) -> Result<(), CliError> {
    let mut index = Index::new(config);
    let mut stories: Vec<Ingested> = Vec::new();
    // Each story's latest text, to say what a later version changes.
    let mut texts: HashMap<String, (String, String)> = HashMap::new();
    while let Some(story) = batch.next_story()? {
        let prepared = PreparedStory::new(story);
        let headline = prepared.headline.clone();
        let (story, report) = prepared.ingest_into(&mut index, SystemTime::now());
        let changes = if with_changes {
            let followed = match (report.outcome, &report.duplicate_of) {
                (IngestOutcome::Replaced, _) => Some(report.story_id.as_str()),
                (IngestOutcome::Created, Some((of, _))) => Some(of.as_str()),
                _ => None,
            };
            let changes = followed.and_then(|against| {
                let (title, body) = texts.get(against)?;
                Some(version_changes(
                    against,
                    (title, body),
                    (&story.title, &story.body),
                ))
            });
            texts.insert(story.id, (story.title, story.body));
            changes
        } else {
            None
        };
        stories.push(Ingested::new(&report.story_id, headline, changes));
    }
    drop(texts);
    write_where_they_are(batch, stories, |id| Ok(index.story_placement(id)))
}

/// Writes the offline lines once the whole input is in, each with where
/// its story is at the end: a later version can fold two clusters into one
/// (versions that arrived out of order) or elect another canonical story,
/// and a later report can link another cluster, so the answer an ingest
/// got is not where the story ends up. What the ingest decided about the
/// story itself (`duplicate_of`, `similarity`) stays as it was. A story
/// re-sent under its id with new text has a line per version, each with
/// its current version's answer.
fn write_where_they_are(
    mut batch: Batch,
    stories: Vec<Ingested>,
    mut placement_of: impl FnMut(&str) -> Result<Option<StoryPlacement>, CliError>,
) -> Result<(), CliError> {
    let headlines: HashMap<Box<str>, Box<str>> = stories
        .iter()
        .filter_map(|s| Some((s.id.clone(), s.headline.clone()?)))
        .collect();
    for Ingested {
        id,
        headline,
        changes,
    } in stories
    {
        // Every ingested story is in the index at the end of a run.
        let Some(placement) = placement_of(&id)? else {
            continue;
        };
        let (duplicate_of, similarity) = match placement.duplicate_of {
            Some((of, evidence)) => (Some(of), Some(evidence.into())),
            None => (None, None),
        };
        let line = DedupLine {
            id: id.to_string(),
            cluster: format!("clusters/{}", placement.cluster),
            canonical_headline: headlines
                .get(placement.canonical.as_str())
                .map(|h| h.to_string()),
            canonical: placement.canonical,
            duplicate_of,
            similarity,
            related: placement
                .related
                .iter()
                .map(|c| format!("clusters/{c}"))
                .collect(),
            agency: placement.agency.map(|a| a.as_str().to_owned()),
            headline: headline.as_deref().map(str::to_owned),
            changes: changes.map(Into::into),
        };
        write_line(&mut batch, line)?;
    }
    batch.finish()
}

/// Writes one answer, counting it when it is a duplicate.
fn write_line(batch: &mut Batch, line: DedupLine) -> Result<(), CliError> {
    if line.duplicate_of.is_some() {
        batch.count_duplicate();
    }
    batch.write(&line)
}

/// Requests in flight before the client waits for a response: well below
/// what the server and HTTP/2 buffer, so reading and writing never deadlock.
const IN_FLIGHT: usize = 32;

async fn run_remote(
    mut batch: Batch,
    server: String,
    options: ClientOptions,
    with_changes: bool,
) -> Result<(), CliError> {
    let remote = |reason: String| CliError::Remote {
        server: server.clone(),
        reason,
    };
    let url = server_url(&server);
    let (channel, token) = connect(&server, &options).await.map_err(|e| {
        remote(format!(
            "cannot connect to {url}: {e}; check that `copydesk serve` listens there"
        ))
    })?;
    let mut client = DedupServiceClient::with_interceptor(channel, token)
        .max_decoding_message_size(64 * 1024 * 1024);
    let (requests, receiver) = mpsc::channel(IN_FLIGHT);
    let mut responses = client
        .ingest_stories(ReceiverStream::new(receiver))
        .await
        .map_err(|status| remote(status.message().to_owned()))?
        .into_inner();

    // Line numbers of the stories sent and not yet answered.
    let mut pending: VecDeque<usize> = VecDeque::new();
    let mut input_done = false;
    loop {
        if !input_done && pending.len() < IN_FLIGHT {
            match batch.next_story()? {
                Some(story) => {
                    pending.push_back(batch.line());
                    let request = proto::IngestStoriesRequest {
                        story: Some(story_message(story)),
                    };
                    requests
                        .send(request)
                        .await
                        .map_err(|_| remote("the server closed the stream".into()))?;
                    continue;
                }
                None => input_done = true,
            }
        }
        let Some(line) = pending.pop_front() else {
            break;
        };
        let response = responses
            .message()
            .await
            .map_err(|status| remote(status.message().to_owned()))?
            .ok_or_else(|| remote("the stream ended early".into()))?;
        match response.result {
            Some(ingest_stories_response::Result::Ingested(ingested)) => {
                let mut line = remote_line(response.story_id, ingested);
                if !with_changes {
                    line.changes = None;
                }
                write_line(&mut batch, line)?;
            }
            Some(ingest_stories_response::Result::Error(status)) => {
                batch.refused(line, format!("refused by the server: {}", status.message))?;
            }
            None => batch.refused(line, "the server sent an empty result".into())?,
        }
    }
    drop(requests);
    batch.finish()
}

fn strip_story(name: &str) -> String {
    name.strip_prefix("stories/").unwrap_or(name).to_owned()
}

fn remote_line(id: String, response: proto::IngestStoryResponse) -> DedupLine {
    DedupLine {
        id,
        duplicate_of: response
            .duplicate
            .then(|| strip_story(&response.duplicate_of)),
        similarity: if response.duplicate {
            response.similarity.map(Into::into)
        } else {
            None
        },
        canonical: strip_story(&response.canonical_story),
        cluster: response.cluster,
        related: response.related_clusters,
        agency: (!response.agency.is_empty()).then_some(response.agency),
        // The server answers with where the story went, not its text:
        // GetCluster has the canonical headline.
        headline: None,
        canonical_headline: None,
        changes: response.changes.map(Into::into),
    }
}
