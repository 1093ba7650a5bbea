//! `copydesk dedup`: one cluster line per input story, offline on the
//! library's index, or through a running server's IngestStories stream.

use std::collections::{HashMap, VecDeque};
use std::num::NonZeroUsize;
use std::path::Path;
use std::time::SystemTime;

use serde::Serialize;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::batch::{Batch, Item};
use super::{CliError, DedupArgs};
use crate::dedup::changes::VersionChanges;
use crate::dedup::furniture::LearnedFurniture;
use crate::dedup::{Evidence, Index, IndexConfig, IngestReport, StoryPlacement};
use crate::grpc::client::{ClientOptions, connect, server_url};
use crate::grpc::proto::dedup_service_client::DedupServiceClient;
use crate::grpc::proto::{self, ingest_stories_response};
use crate::grpc::{evidence_of, story_message, version_changes_of};
use crate::parallel::{in_rounds, map_in_order};
use crate::store::{DurableOptions, DurableStore, MemoryStore, Store, StoreError};
use crate::story::{PreparedStory, Story};
use crate::{names, page};

#[derive(Debug, Serialize)]
struct DedupLine {
    id: String,
    /// `clusters/{n}`.
    cluster: String,
    canonical: String,
    duplicate_of: Option<String>,
    similarity: Option<Evidence>,
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
    changes: Option<VersionChanges>,
    /// ninjs input: the document's `uri`.
    #[serde(skip_serializing_if = "Option::is_none")]
    uri: Option<String>,
    /// ninjs input: the answer as ninjs associations (see
    /// [`crate::ninjs::associations`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    associations: Option<serde_json::Value>,
}

impl DedupLine {
    /// Adds the ninjs `uri` and `associations` for a ninjs input line.
    fn with_ninjs(mut self, uri: Option<String>) -> DedupLine {
        if let Some(uri) = uri {
            self.associations = Some(crate::ninjs::associations(
                &self.cluster,
                &self.canonical,
                self.duplicate_of.as_deref(),
                &self.related,
            ));
            self.uri = Some(uri);
        }
        self
    }
}

/// The line of an input item that was not ingested: a canceled ninjs item
/// (removed) or a stale version (skipped).
#[derive(Debug, Serialize)]
struct NoteLine {
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    uri: Option<String>,
    /// A canceled item: whether a stored story was removed.
    #[serde(skip_serializing_if = "Option::is_none")]
    deleted: Option<bool>,
    /// Why the item was not ingested.
    #[serde(skip_serializing_if = "Option::is_none")]
    skipped: Option<String>,
}

/// What the command does with one input item (`S`: its story as read,
/// then prepared).
enum Step<S = Story> {
    /// Ingest the story.
    Ingest(S, Option<String>),
    /// Remove the story (a canceled ninjs item).
    Delete { id: String, uri: String },
    /// Leave it out: a ninjs version older than one already ingested.
    Stale {
        id: String,
        uri: String,
        reason: String,
    },
}

/// Input items read, prepared across the threads, then ingested in order,
/// per round.
const ROUND: usize = 1024;

impl Step {
    /// The step with its story prepared (fingerprinted, and also without
    /// the furniture learned so far when `ahead` gives it).
    fn prepared(self, ahead: Option<&LearnedFurniture>) -> Step<PreparedStory> {
        match self {
            Step::Ingest(story, uri) => Step::Ingest(PreparedStory::ahead(story, ahead), uri),
            Step::Delete { id, uri } => Step::Delete { id, uri },
            Step::Stale { id, uri, reason } => Step::Stale { id, uri, reason },
        }
    }
}

/// The next round of the input as steps in input order, ninjs versions
/// ordered, the stories prepared on every core (the work on one story that
/// depends on no other), also against furniture the index had `learned`
/// when that is given; empty at the end of the input.
fn next_steps(
    batch: &mut Batch,
    order: &mut VersionOrder,
    learned: Option<&LearnedFurniture>,
) -> Result<Vec<Step<PreparedStory>>, CliError> {
    let steps: Vec<Step> = batch
        .next_items(ROUND)?
        .into_iter()
        .map(|item| order.step(item))
        .collect();
    Ok(map_in_order(steps, batch.threads(), |step| {
        step.prepared(learned)
    }))
}

/// Rounds of the input, each prepared on every core while the round before
/// goes into the index in order (on one thread, one after the other).
/// `ingest` takes each round's steps and, when asked (on several threads),
/// returns a copy of what the index has learned by then, which the round
/// after next is prepared against.
fn in_prepared_rounds(
    batch: &mut Batch,
    mut ingest: impl FnMut(Vec<Step<PreparedStory>>, bool) -> Result<Option<LearnedFurniture>, CliError>,
) -> Result<(), CliError> {
    let overlap = batch.threads().get() > 1;
    let mut order = VersionOrder::default();
    in_rounds(
        overlap,
        None,
        |learned| next_steps(batch, &mut order, learned.as_ref()),
        |steps| ingest(steps, overlap),
    )
}

/// Orders ninjs versions: the highest `version` ingested per story.
#[derive(Default)]
struct VersionOrder(HashMap<String, u64>);

impl VersionOrder {
    fn step(&mut self, item: Item) -> Step {
        let Item { story, ninjs, .. } = item;
        let Some(ninjs) = ninjs else {
            return Step::Ingest(story, None);
        };
        if ninjs.canceled {
            self.0.remove(&story.id);
            return Step::Delete {
                id: story.id,
                uri: ninjs.uri,
            };
        }
        if let Some(version) = ninjs.version {
            match self.0.get(&story.id) {
                Some(&latest) if version <= latest => {
                    return Step::Stale {
                        id: story.id,
                        uri: ninjs.uri,
                        reason: format!(
                            "version {version} is not newer than version {latest}, already ingested"
                        ),
                    };
                }
                _ => {
                    self.0.insert(story.id.clone(), version);
                }
            }
        }
        Step::Ingest(story, Some(ninjs.uri))
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
        report,
    } = args;
    let batch = Batch::open(&batch)?;
    let config = matching.index_config();
    let with_changes = !no_changes;
    match (server, data_dir) {
        (None, None) => run_offline(batch, config, with_changes, report.as_deref()),
        (None, Some(dir)) => run_durable(batch, config, &dir, with_changes, report.as_deref()),
        (Some(server), _) => {
            let runtime = current_thread_runtime()?;
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

/// What a batch keeps of each input item until the input is done: an
/// ingested story's id, headline, what it changed and its ninjs `uri`
/// (where it went is asked of the index at the end), or the line of an
/// item that was not ingested.
enum Ingested {
    Story {
        id: Box<str>,
        headline: Option<Box<str>>,
        changes: Option<VersionChanges>,
        uri: Option<Box<str>>,
    },
    Note(NoteLine),
}

impl Ingested {
    fn new(
        id: &str,
        headline: Option<String>,
        changes: Option<VersionChanges>,
        uri: Option<String>,
    ) -> Ingested {
        Ingested::Story {
            id: id.into(),
            headline: headline.map(String::into_boxed_str),
            changes,
            uri: uri.map(String::into_boxed_str),
        }
    }
}

/// Keeps a group's answers in order, each with the headline and uri that
/// waited on it; what a version changes only `with_changes`.
fn keep_answers(
    stories: &mut Vec<Ingested>,
    reports: Vec<IngestReport>,
    waiting: &mut Vec<(Option<String>, Option<String>)>,
    with_changes: bool,
) {
    stories.extend(
        reports
            .into_iter()
            .zip(waiting.drain(..))
            .map(|(report, (headline, uri))| {
                let changes = report.changes.filter(|_| with_changes);
                Ingested::new(&report.story_id, headline, changes, uri)
            }),
    );
}

fn deleted_line(id: String, uri: String, deleted: bool) -> NoteLine {
    NoteLine {
        id,
        uri: Some(uri),
        deleted: Some(deleted),
        skipped: None,
    }
}

fn stale_line(id: String, uri: String, reason: String) -> NoteLine {
    NoteLine {
        id,
        uri: Some(uri),
        deleted: None,
        skipped: Some(reason),
    }
}

fn run_durable(
    mut batch: Batch,
    config: IndexConfig,
    dir: &Path,
    with_changes: bool,
    report: Option<&Path>,
) -> Result<(), CliError> {
    std::fs::create_dir_all(dir).map_err(|source| CliError::Io {
        path: dir.to_owned(),
        source,
    })?;
    let options = DurableOptions {
        threads: Some(batch.threads()),
        ..DurableOptions::default()
    };
    let (store, _) = DurableStore::open(dir, config, options)?;
    let mut group = Vec::with_capacity(OFFLINE_COMMIT_GROUP);
    let mut waiting = Vec::with_capacity(OFFLINE_COMMIT_GROUP);
    let mut stories: Vec<Ingested> = Vec::new();
    let commit = |group: &mut Vec<PreparedStory>,
                  waiting: &mut Vec<(Option<String>, Option<String>)>,
                  stories: &mut Vec<Ingested>|
     -> Result<(), CliError> {
        if group.is_empty() {
            return Ok(());
        }
        let reports = store.ingest_blocking(std::mem::take(group), SystemTime::now())?;
        keep_answers(stories, reports, waiting, with_changes);
        Ok(())
    };
    in_prepared_rounds(&mut batch, |steps, learned| {
        for step in steps {
            match step {
                Step::Ingest(prepared, uri) => {
                    waiting.push((prepared.headline.clone(), uri));
                    group.push(prepared);
                    if group.len() == OFFLINE_COMMIT_GROUP {
                        commit(&mut group, &mut waiting, &mut stories)?;
                    }
                }
                Step::Delete { id, uri } => {
                    // In input order: what came before is stored first.
                    commit(&mut group, &mut waiting, &mut stories)?;
                    let deleted = match store.delete_blocking(&id, SystemTime::now()) {
                        Ok(()) => true,
                        Err(StoreError::StoryNotFound(_)) => false,
                        Err(other) => return Err(other.into()),
                    };
                    stories.push(Ingested::Note(deleted_line(id, uri, deleted)));
                }
                Step::Stale { id, uri, reason } => {
                    commit(&mut group, &mut waiting, &mut stories)?;
                    stories.push(Ingested::Note(stale_line(id, uri, reason)));
                }
            }
        }
        Ok(learned.then(|| store.with_learned_furniture(LearnedFurniture::clone)))
    })?;
    commit(&mut group, &mut waiting, &mut stories)?;
    write_where_they_are(batch, stories, |id| Ok(store.placement_blocking(id)?))?;
    match report {
        Some(path) => write_report(&store, path),
        None => Ok(()),
    }
}

/// The offline run's index: bare (only where each story goes), or with
/// every text and version kept, for what each version changes and the
/// report.
enum Offline {
    Bare(Box<Index>),
    Kept(MemoryStore),
}

impl Offline {
    /// A copy of the furniture the index has learned so far.
    fn learned_furniture(&self) -> LearnedFurniture {
        match self {
            Offline::Bare(index) => index.learned_furniture().clone(),
            Offline::Kept(store) => store.with_learned_furniture(LearnedFurniture::clone),
        }
    }

    /// Ingests `group` in order; what new versions change is worked out
    /// on up to `threads` threads.
    fn ingest(
        &mut self,
        group: Vec<PreparedStory>,
        threads: NonZeroUsize,
    ) -> Result<Vec<IngestReport>, StoreError> {
        match self {
            Offline::Bare(index) => Ok(group
                .into_iter()
                .map(|prepared| prepared.ingest_into(index, SystemTime::now()).1)
                .collect()),
            Offline::Kept(store) => store.ingest_group_blocking(group, SystemTime::now(), threads),
        }
    }

    fn remove(&mut self, id: &str) -> bool {
        match self {
            Offline::Bare(index) => index.remove(id, SystemTime::now()).is_some(),
            Offline::Kept(store) => store.delete_blocking(id, SystemTime::now()),
        }
    }

    fn placement(&self, id: &str) -> Option<StoryPlacement> {
        match self {
            Offline::Bare(index) => index.story_placement(id),
            Offline::Kept(store) => store.placement_blocking(id),
        }
    }
}

fn run_offline(
    mut batch: Batch,
    config: IndexConfig,
    with_changes: bool,
    report: Option<&Path>,
) -> Result<(), CliError> {
    let mut offline = if with_changes || report.is_some() {
        Offline::Kept(MemoryStore::new(config))
    } else {
        Offline::Bare(Box::new(Index::new(config)))
    };
    let mut stories: Vec<Ingested> = Vec::new();
    let threads = batch.threads();
    // The ingests between two deletes or skips, with each one's headline
    // and uri, go in as one group.
    let mut group = Vec::with_capacity(ROUND);
    let mut waiting = Vec::with_capacity(ROUND);
    let ingest = |offline: &mut Offline,
                  group: &mut Vec<PreparedStory>,
                  waiting: &mut Vec<(Option<String>, Option<String>)>,
                  stories: &mut Vec<Ingested>|
     -> Result<(), CliError> {
        if group.is_empty() {
            return Ok(());
        }
        let reports = offline.ingest(std::mem::take(group), threads)?;
        keep_answers(stories, reports, waiting, with_changes);
        Ok(())
    };
    in_prepared_rounds(&mut batch, |steps, learned| {
        for step in steps {
            match step {
                Step::Ingest(prepared, uri) => {
                    waiting.push((prepared.headline.clone(), uri));
                    group.push(prepared);
                }
                Step::Delete { id, uri } => {
                    // In input order: what came before is in first.
                    ingest(&mut offline, &mut group, &mut waiting, &mut stories)?;
                    let deleted = offline.remove(&id);
                    stories.push(Ingested::Note(deleted_line(id, uri, deleted)));
                }
                Step::Stale { id, uri, reason } => {
                    ingest(&mut offline, &mut group, &mut waiting, &mut stories)?;
                    stories.push(Ingested::Note(stale_line(id, uri, reason)));
                }
            }
        }
        ingest(&mut offline, &mut group, &mut waiting, &mut stories)?;
        Ok(learned.then(|| offline.learned_furniture()))
    })?;
    write_where_they_are(batch, stories, |id| Ok(offline.placement(id)))?;
    if let (Some(path), Offline::Kept(store)) = (report, &offline) {
        write_report(store, path)?;
    }
    Ok(())
}

/// A runtime on this thread, for the async parts of a batch run.
fn current_thread_runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| CliError::Io {
            path: "tokio runtime".into(),
            source,
        })
}

/// Writes the editor's views of every cluster in `store` to `path`, as
/// one self-contained HTML file.
fn write_report(store: &dyn Store, path: &Path) -> Result<(), CliError> {
    let runtime = current_thread_runtime()?;
    let views = runtime.block_on(async {
        let mut views = Vec::new();
        let mut before = None;
        loop {
            let listed = store.list_clusters(before, 100).await?;
            for cluster in &listed.clusters {
                views.push(page::cluster_view(store, cluster.view.id).await?);
            }
            match listed.next_before {
                Some(next) => before = Some(next),
                None => break,
            }
        }
        Ok::<_, StoreError>(views)
    })?;
    std::fs::write(path, page::report(&views)).map_err(|source| CliError::Io {
        path: path.to_owned(),
        source,
    })
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
        .filter_map(|s| match s {
            Ingested::Story { id, headline, .. } => Some((id.clone(), headline.clone()?)),
            Ingested::Note(_) => None,
        })
        .collect();
    for ingested in stories {
        let (id, headline, changes, uri) = match ingested {
            Ingested::Story {
                id,
                headline,
                changes,
                uri,
            } => (id, headline, changes, uri),
            Ingested::Note(line) => {
                batch.write(&line)?;
                continue;
            }
        };
        // Every ingested story is in the index at the end of a run.
        let Some(placement) = placement_of(&id)? else {
            continue;
        };
        let (duplicate_of, similarity) = match placement.duplicate_of {
            Some((of, evidence)) => (Some(of), Some(evidence)),
            None => (None, None),
        };
        let line = DedupLine {
            id: id.to_string(),
            cluster: names::cluster(placement.cluster),
            canonical_headline: headlines
                .get(placement.canonical.as_str())
                .map(|h| h.to_string()),
            canonical: placement.canonical,
            duplicate_of,
            similarity,
            related: placement
                .related
                .iter()
                .map(|&c| names::cluster(c))
                .collect(),
            agency: placement.agency.map(|a| a.as_str().to_owned()),
            headline: headline.as_deref().map(str::to_owned),
            changes,
            uri: None,
            associations: None,
        }
        .with_ninjs(uri.map(String::from));
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

    // Line numbers (and ninjs uris) of the stories sent and not yet
    // answered.
    let mut pending: VecDeque<(usize, Option<String>)> = VecDeque::new();
    let mut order = VersionOrder::default();
    // An item that waits until every story sent before it is answered (a
    // removal or a skipped version, written in input order).
    let mut held: Option<Step> = None;
    let mut input_done = false;
    loop {
        if held.is_none() && !input_done && pending.len() < IN_FLIGHT {
            match batch.next_item()? {
                Some(item) => {
                    match order.step(item) {
                        Step::Ingest(story, uri) => {
                            pending.push_back((batch.line(), uri));
                            let request = proto::IngestStoriesRequest {
                                story: Some(story_message(story)),
                            };
                            requests
                                .send(request)
                                .await
                                .map_err(|_| remote("the server closed the stream".into()))?;
                        }
                        other => held = Some(other),
                    }
                    continue;
                }
                None => input_done = true,
            }
        }
        let Some((line, uri)) = pending.pop_front() else {
            match held.take() {
                Some(Step::Delete { id, uri }) => {
                    let deleted = match client
                        .delete_story(proto::DeleteStoryRequest {
                            name: names::story(&id),
                        })
                        .await
                    {
                        Ok(_) => true,
                        Err(status) if status.code() == tonic::Code::NotFound => false,
                        Err(status) => return Err(remote(status.message().to_owned())),
                    };
                    batch.write(&deleted_line(id, uri, deleted))?;
                }
                Some(Step::Stale { id, uri, reason }) => {
                    batch.write(&stale_line(id, uri, reason))?;
                }
                Some(Step::Ingest(..)) => {
                    return Err(remote("internal: an ingest was held back".into()));
                }
                None if input_done => break,
                None => {}
            }
            continue;
        };
        let response = responses
            .message()
            .await
            .map_err(|status| remote(status.message().to_owned()))?
            .ok_or_else(|| remote("the stream ended early".into()))?;
        match response.result {
            Some(ingest_stories_response::Result::Ingested(ingested)) => {
                let mut answer = remote_line(response.story_id, ingested).with_ninjs(uri);
                if !with_changes {
                    answer.changes = None;
                }
                write_line(&mut batch, answer)?;
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
    names::story_id_of(name).to_owned()
}

fn remote_line(id: String, response: proto::IngestStoryResponse) -> DedupLine {
    DedupLine {
        id,
        duplicate_of: response
            .duplicate
            .then(|| strip_story(&response.duplicate_of)),
        similarity: if response.duplicate {
            response.similarity.map(evidence_of)
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
        changes: response.changes.map(version_changes_of),
        uri: None,
        associations: None,
    }
}
