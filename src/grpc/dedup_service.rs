//! `copydesk.v1.DedupService`.

use std::pin::Pin;
use std::sync::Arc;
use std::time::SystemTime;

use futures::{FutureExt, Stream, StreamExt};
use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};
use tracing::Instrument;

use super::{rpc_span, traced};

use super::convert::{self, IdRule, Limits};
use super::error::{ApiError, to_rpc_status};
use super::proto::dedup_service_server::DedupService;
use super::proto::{self, ingest_stories_response};
use crate::dedup::IngestReport;
use crate::store::{Store, StoreError};
use crate::story::{PreparedStory, Story};
use crate::summarize::{Budget, summarize_learned};

/// The DedupService handlers.
#[derive(Debug, Clone)]
pub struct DedupApi {
    store: Arc<dyn Store>,
    limits: Limits,
    /// Responses a stream may hold unread before it stops reading requests.
    stream_buffer: usize,
    /// Most stream items (or concurrent IngestStory calls) committed
    /// together.
    commit_group: usize,
    /// IngestStory calls waiting for the unary committer.
    unary: mpsc::Sender<UnaryIngest>,
}

/// One IngestStory call's story, and where its answer goes once the
/// commit that holds it is durable.
type UnaryIngest = (
    PreparedStory,
    oneshot::Sender<Result<IngestReport, StoreError>>,
);

impl DedupApi {
    /// The handlers, and the committer task that groups concurrent
    /// IngestStory calls: it ends when the last handle is dropped.
    pub fn new(
        store: Arc<dyn Store>,
        limits: Limits,
        stream_buffer: usize,
        commit_group: usize,
    ) -> Self {
        let (unary, waiting) = mpsc::channel(commit_group.max(1) * 4);
        tokio::spawn(commit_unary(Arc::clone(&store), waiting, commit_group));
        DedupApi {
            store,
            limits,
            stream_buffer,
            commit_group,
            unary,
        }
    }

    /// Validates and fingerprints a group of stream items, then ingests the
    /// valid ones in one commit. One answer per item, in order; an item is
    /// answered only once the group's commit is durable.
    async fn ingest_group(
        &self,
        stories: Vec<Option<proto::Story>>,
    ) -> Vec<Result<IngestReport, Status>> {
        let mut answers: Vec<Option<Result<IngestReport, Status>>> = Vec::new();
        let mut valid = Vec::new();
        for story in stories {
            match convert::story(story, "story", IdRule::Required, self.limits) {
                Ok(story) => {
                    valid.push(story);
                    answers.push(None);
                }
                Err(err) => answers.push(Some(Err(Status::from(err)))),
            }
        }
        let outcome = match tokio::task::spawn_blocking(move || {
            valid
                .into_iter()
                .map(PreparedStory::new)
                .collect::<Vec<_>>()
        })
        .await
        {
            Ok(prepared) => self
                .store
                .ingest_batch(prepared, SystemTime::now())
                .await
                .map_err(|e| Status::from(ApiError::from(e))),
            Err(err) => Err(Status::from(ApiError::from(err))),
        };
        let mut reports = match outcome {
            Ok(reports) => reports.into_iter().map(Ok).collect::<Vec<_>>(),
            Err(status) => answers
                .iter()
                .filter(|a| a.is_none())
                .map(|_| Err(status.clone()))
                .collect(),
        }
        .into_iter();
        answers
            .into_iter()
            .map(|answer| {
                answer.unwrap_or_else(|| {
                    reports
                        .next()
                        .unwrap_or_else(|| Err(Status::internal("internal error")))
                })
            })
            .collect()
    }

    /// Validates, fingerprints (off the executor) and ingests one story,
    /// in a commit shared with the IngestStory calls waiting beside it.
    async fn ingest(&self, story: Option<proto::Story>) -> Result<IngestReport, ApiError> {
        let story = convert::story(story, "story", IdRule::Required, self.limits)?;
        let prepared = prepare(story).await?;
        let (answer, answered) = oneshot::channel();
        if self.unary.send((prepared, answer)).await.is_err() {
            return Err(ApiError::Worker("the unary committer has stopped".into()));
        }
        match answered.await {
            Ok(result) => Ok(result?),
            Err(_) => Err(ApiError::Worker(
                "the unary committer dropped a call".into(),
            )),
        }
    }
}

/// Commits IngestStory calls as the stream commits its items: it waits for
/// one call, takes those already waiting (up to `group`) into the same
/// commit, and answers each once that commit is durable. Under load a
/// group fills; a lone call goes at once. A group whose commit fails is
/// tried again one call at a time, so one call's failure is its own.
async fn commit_unary(
    store: Arc<dyn Store>,
    mut waiting: mpsc::Receiver<UnaryIngest>,
    group: usize,
) {
    while let Some(first) = waiting.recv().await {
        let mut calls = vec![first];
        while calls.len() < group {
            match waiting.try_recv() {
                Ok(call) => calls.push(call),
                Err(_) => break,
            }
        }
        let (stories, answers): (Vec<_>, Vec<_>) = calls.into_iter().unzip();
        let retry = (stories.len() > 1).then(|| stories.clone());
        match store.ingest_batch(stories, SystemTime::now()).await {
            Ok(reports) => {
                for (answer, report) in answers.into_iter().zip(reports) {
                    let _ = answer.send(Ok(report));
                }
            }
            Err(err) => match retry {
                Some(stories) if !matches!(err, StoreError::Full { .. }) => {
                    for (story, answer) in stories.into_iter().zip(answers) {
                        let _ = answer.send(store.ingest(story, SystemTime::now()).await);
                    }
                }
                _ => {
                    for answer in answers {
                        let _ = answer.send(Err(err.for_another_caller()));
                    }
                }
            },
        }
    }
}

async fn prepare(story: Story) -> Result<PreparedStory, ApiError> {
    Ok(tokio::task::spawn_blocking(move || PreparedStory::new(story)).await?)
}

/// Records the story id and body size of a request's story in its span.
fn record_story(span: &tracing::Span, story: Option<&proto::Story>) {
    if let Some(story) = story {
        if !story.id.is_empty() {
            span.record("story_id", story.id.as_str());
        }
        span.record("body_bytes", story.body.len());
    }
}

type IngestStream =
    Pin<Box<dyn Stream<Item = Result<proto::IngestStoriesResponse, Status>> + Send>>;

#[tonic::async_trait]
impl DedupService for DedupApi {
    async fn ingest_story(
        &self,
        request: Request<proto::IngestStoryRequest>,
    ) -> Result<Response<proto::IngestStoryResponse>, Status> {
        let span = rpc_span("IngestStory", &request);
        let proto::IngestStoryRequest { story } = request.into_inner();
        record_story(&span, story.as_ref());
        traced(span, async move {
            let report = self.ingest(story).await?;
            Ok(Response::new(convert::ingest_response(&report)))
        })
        .await
    }

    type IngestStoriesStream = IngestStream;

    async fn ingest_stories(
        &self,
        request: Request<Streaming<proto::IngestStoriesRequest>>,
    ) -> Result<Response<Self::IngestStoriesStream>, Status> {
        let span = rpc_span("IngestStories", &request);
        let requests = request.into_inner();
        // A bounded channel: when the client stops reading responses, this
        // task stops reading requests and HTTP/2 flow control pushes back.
        let (responses, receiver) = mpsc::channel(self.stream_buffer);
        let handler = StreamHandler {
            api: self.clone(),
            requests,
            responses,
            sequence: 0,
        };
        tokio::spawn(handler.run().instrument(span));
        Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
    }

    async fn find_duplicates(
        &self,
        request: Request<proto::FindDuplicatesRequest>,
    ) -> Result<Response<proto::FindDuplicatesResponse>, Status> {
        let span = rpc_span("FindDuplicates", &request);
        let proto::FindDuplicatesRequest { story, max_matches } = request.into_inner();
        record_story(&span, story.as_ref());
        traced(span, async move {
            let max_matches = convert::max_matches(max_matches)?;
            let story = convert::story(story, "story", IdRule::Optional, self.limits)?;
            let placement = self.store.find_duplicates(prepare(story).await?).await?;
            Ok(Response::new(convert::find_response(
                &placement,
                max_matches,
            )))
        })
        .await
    }

    async fn get_story(
        &self,
        request: Request<proto::GetStoryRequest>,
    ) -> Result<Response<proto::Story>, Status> {
        let span = rpc_span("GetStory", &request);
        let proto::GetStoryRequest { name } = request.into_inner();
        traced(span, async move {
            let id = convert::story_name(&name, "name")?;
            let stored = self.store.get_story(&id).await?;
            Ok(Response::new(convert::stored_story(stored)))
        })
        .await
    }

    async fn list_story_versions(
        &self,
        request: Request<proto::ListStoryVersionsRequest>,
    ) -> Result<Response<proto::ListStoryVersionsResponse>, Status> {
        let span = rpc_span("ListStoryVersions", &request);
        let proto::ListStoryVersionsRequest { name } = request.into_inner();
        traced(span, async move {
            let id = convert::story_name(&name, "name")?;
            let versions = self.store.story_versions(&id).await?;
            Ok(Response::new(convert::story_versions(&id, versions)))
        })
        .await
    }

    async fn delete_story(
        &self,
        request: Request<proto::DeleteStoryRequest>,
    ) -> Result<Response<()>, Status> {
        let span = rpc_span("DeleteStory", &request);
        let proto::DeleteStoryRequest { name } = request.into_inner();
        traced(span, async move {
            let id = convert::story_name(&name, "name")?;
            self.store.delete_story(&id, SystemTime::now()).await?;
            Ok(Response::new(()))
        })
        .await
    }

    async fn get_cluster(
        &self,
        request: Request<proto::GetClusterRequest>,
    ) -> Result<Response<proto::Cluster>, Status> {
        let span = rpc_span("GetCluster", &request);
        let proto::GetClusterRequest { name } = request.into_inner();
        traced(span, async move {
            let id = convert::cluster_name(&name, "name")?;
            let detail = self.store.get_cluster(id).await?;
            let story = detail.canonical.story.clone();
            let learned = detail.learned_furniture.clone();
            let summary = tokio::task::spawn_blocking(move || {
                let summary =
                    summarize_learned(&story.title, &story.body, Budget::default(), &|line| {
                        learned.contains(&line)
                    });
                convert::summary_response(&summary)
            })
            .await?;
            Ok(Response::new(convert::cluster(detail, Some(summary))))
        })
        .await
    }

    async fn list_clusters(
        &self,
        request: Request<proto::ListClustersRequest>,
    ) -> Result<Response<proto::ListClustersResponse>, Status> {
        let span = rpc_span("ListClusters", &request);
        let proto::ListClustersRequest {
            page_size,
            page_token,
        } = request.into_inner();
        traced(span, async move {
            let size = convert::page_size(page_size)?;
            let before = convert::page_token(&page_token)?;
            let page = self.store.list_clusters(before, size).await?;
            Ok(Response::new(proto::ListClustersResponse {
                next_page_token: convert::next_page_token(page.next_before),
                clusters: page
                    .clusters
                    .into_iter()
                    .map(|c| convert::cluster(c, None))
                    .collect(),
            }))
        })
        .await
    }
}

/// One IngestStories call: reads the client's stream in groups (one
/// commit each), answers every item in order, and ends with the stream.
struct StreamHandler {
    api: DedupApi,
    requests: Streaming<proto::IngestStoriesRequest>,
    /// Bounded: when the client stops reading responses, the handler stops
    /// reading requests and HTTP/2 flow control pushes back.
    responses: mpsc::Sender<Result<proto::IngestStoriesResponse, Status>>,
    /// The next response's position in the stream.
    sequence: u64,
}

/// What reading one group found.
struct Group {
    stories: Vec<Option<proto::Story>>,
    /// The transport failed after these items: answer them, then end the
    /// stream with this status.
    transport_error: Option<Status>,
    /// The client closed its side.
    input_ended: bool,
}

impl StreamHandler {
    async fn run(mut self) {
        let started = std::time::Instant::now();
        loop {
            let Some(group) = self.next_group().await else {
                break;
            };
            let Group {
                stories,
                transport_error,
                input_ended,
            } = group;
            if !self.answer(stories).await {
                break;
            }
            if let Some(status) = transport_error {
                let _ = self.responses.send(Err(status)).await;
                break;
            }
            if input_ended {
                break;
            }
        }
        tracing::Span::current().record("items", self.sequence);
        tracing::info!(
            code = "OK",
            elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
            "rpc"
        );
    }

    /// Waits for one item, then takes those already waiting, up to a
    /// commit group: under load a group fills, alone an item goes at once.
    /// `None` when the stream has ended.
    async fn next_group(&mut self) -> Option<Group> {
        let first = self.requests.next().await?;
        let mut items = vec![first];
        let mut input_ended = false;
        while items.len() < self.api.commit_group {
            match self.requests.next().now_or_never() {
                Some(Some(item)) => items.push(item),
                Some(None) => {
                    input_ended = true;
                    break;
                }
                None => break,
            }
        }
        let mut stories = Vec::with_capacity(items.len());
        let mut transport_error = None;
        for item in items {
            match item {
                Ok(proto::IngestStoriesRequest { story }) => stories.push(story),
                Err(status) => {
                    transport_error = Some(status);
                    break;
                }
            }
        }
        Some(Group {
            stories,
            transport_error,
            input_ended,
        })
    }

    /// Ingests a group in one commit and sends an answer for each item, in
    /// order; `false` once the client has gone.
    async fn answer(&mut self, stories: Vec<Option<proto::Story>>) -> bool {
        let ids: Vec<String> = stories
            .iter()
            .map(|s| s.as_ref().map(|s| s.id.clone()).unwrap_or_default())
            .collect();
        let answers = self.api.ingest_group(stories).await;
        for (story_id, answer) in ids.into_iter().zip(answers) {
            let result = match answer {
                Ok(report) => {
                    ingest_stories_response::Result::Ingested(convert::ingest_response(&report))
                }
                Err(status) => ingest_stories_response::Result::Error(to_rpc_status(&status)),
            };
            let response = proto::IngestStoriesResponse {
                sequence: self.sequence,
                story_id,
                result: Some(result),
            };
            if self.responses.send(Ok(response)).await.is_err() {
                return false;
            }
            self.sequence += 1;
        }
        true
    }
}
