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
use crate::dedup::{Evidence, Index, IndexConfig, StoryPlacement};
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
    } = args;
    let batch = Batch::open(&batch)?;
    let config = matching.index_config();
    match (server, data_dir) {
        (None, None) => run_offline(batch, config),
        (None, Some(dir)) => run_durable(batch, config, &dir),
        (Some(server), _) => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|source| CliError::Io {
                    path: "tokio runtime".into(),
                    source,
                })?;
            runtime.block_on(run_remote(batch, server, ClientOptions { tls_ca, token }))
        }
    }
}

/// Stories per commit when building a durable store offline.
const OFFLINE_COMMIT_GROUP: usize = 256;

/// What a batch keeps of each input story until the input is done: its id
/// and headline. Where it went is asked of the index at the end.
type Ingested = Vec<(Box<str>, Option<Box<str>>)>;

fn ingested(id: &str, headline: Option<String>) -> (Box<str>, Option<Box<str>>) {
    (id.into(), headline.map(String::into_boxed_str))
}

fn run_durable(mut batch: Batch, config: IndexConfig, dir: &Path) -> Result<(), CliError> {
    std::fs::create_dir_all(dir).map_err(|source| CliError::Io {
        path: dir.to_owned(),
        source,
    })?;
    let (store, _) = DurableStore::open(dir, config, DurableOptions::default())?;
    let mut group = Vec::with_capacity(OFFLINE_COMMIT_GROUP);
    let mut headlines = Vec::with_capacity(OFFLINE_COMMIT_GROUP);
    let mut stories: Ingested = Vec::new();
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
            stories.extend(
                reports
                    .iter()
                    .zip(headlines.drain(..))
                    .map(|(report, headline)| ingested(&report.story_id, headline)),
            );
        }
        if done {
            break;
        }
    }
    write_where_they_are(batch, stories, |id| Ok(store.placement_blocking(id)?))
}

fn run_offline(mut batch: Batch, config: IndexConfig) -> Result<(), CliError> {
    let mut index = Index::new(config);
    let mut stories: Ingested = Vec::new();
    while let Some(story) = batch.next_story()? {
        let prepared = PreparedStory::new(story);
        let headline = prepared.headline.clone();
        let (_, report) = prepared.ingest_into(&mut index, SystemTime::now());
        stories.push(ingested(&report.story_id, headline));
    }
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
    stories: Ingested,
    mut placement_of: impl FnMut(&str) -> Result<Option<StoryPlacement>, CliError>,
) -> Result<(), CliError> {
    let headlines: HashMap<&str, &str> = stories
        .iter()
        .filter_map(|(id, headline)| Some((&**id, &**headline.as_ref()?)))
        .collect();
    for (id, headline) in &stories {
        // Every ingested story is in the index at the end of a run.
        let Some(placement) = placement_of(id)? else {
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
                write_line(&mut batch, remote_line(response.story_id, ingested))?;
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
    }
}
