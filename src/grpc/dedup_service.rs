//! `copydesk.v1.DedupService`.

use std::pin::Pin;
use std::sync::Arc;
use std::time::SystemTime;

use futures::{Stream, StreamExt};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};
use tracing::Instrument;

use super::traced;

use super::convert::{self, IdRule, Limits};
use super::error::{ApiError, to_rpc_status};
use super::proto::dedup_service_server::DedupService;
use super::proto::{self, ingest_stories_response};
use crate::dedup::IngestReport;
use crate::store::Store;
use crate::story::{PreparedStory, Story};
use crate::summarize::{Budget, summarize};

/// The DedupService handlers.
#[derive(Debug, Clone)]
pub struct DedupApi {
    store: Arc<dyn Store>,
    limits: Limits,
    /// Responses a stream may hold unread before it stops reading requests.
    stream_buffer: usize,
}

impl DedupApi {
    pub fn new(store: Arc<dyn Store>, limits: Limits, stream_buffer: usize) -> Self {
        DedupApi {
            store,
            limits,
            stream_buffer,
        }
    }

    /// Validates, fingerprints (off the executor) and ingests one story.
    async fn ingest(&self, story: Option<proto::Story>) -> Result<IngestReport, ApiError> {
        let story = convert::story(story, "story", IdRule::Required, self.limits)?;
        let prepared = prepare(story).await?;
        Ok(self.store.ingest(prepared, SystemTime::now()).await?)
    }
}

async fn prepare(story: Story) -> Result<PreparedStory, ApiError> {
    Ok(tokio::task::spawn_blocking(move || PreparedStory::new(story)).await?)
}

type IngestStream =
    Pin<Box<dyn Stream<Item = Result<proto::IngestStoriesResponse, Status>> + Send>>;

#[tonic::async_trait]
impl DedupService for DedupApi {
    async fn ingest_story(
        &self,
        request: Request<proto::IngestStoryRequest>,
    ) -> Result<Response<proto::IngestStoryResponse>, Status> {
        let proto::IngestStoryRequest { story } = request.into_inner();
        let span = tracing::info_span!(
            "rpc",
            method = "IngestStory",
            body_bytes = story.as_ref().map_or(0, |s| s.body.len())
        );
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
        let mut requests = request.into_inner();
        // A bounded channel: when the client stops reading responses, this
        // task stops reading requests and HTTP/2 flow control pushes back.
        let (responses, receiver) = mpsc::channel(self.stream_buffer);
        let api = self.clone();
        let span = tracing::info_span!(
            "rpc",
            method = "IngestStories",
            items = tracing::field::Empty
        );
        tokio::spawn(
            async move {
                let mut sequence = 0u64;
                while let Some(item) = requests.next().await {
                    let response = match item {
                        Ok(proto::IngestStoriesRequest { story }) => {
                            let story_id = story.as_ref().map(|s| s.id.clone()).unwrap_or_default();
                            let result = match api.ingest(story).await {
                                Ok(report) => ingest_stories_response::Result::Ingested(
                                    convert::ingest_response(&report),
                                ),
                                Err(err) => ingest_stories_response::Result::Error(to_rpc_status(
                                    &Status::from(err),
                                )),
                            };
                            Ok(proto::IngestStoriesResponse {
                                sequence,
                                story_id,
                                result: Some(result),
                            })
                        }
                        // The transport failed: end the stream with its status.
                        Err(status) => Err(status),
                    };
                    let failed = response.is_err();
                    if responses.send(response).await.is_err() || failed {
                        break;
                    }
                    sequence += 1;
                }
                tracing::Span::current().record("items", sequence);
            }
            .instrument(span),
        );
        Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
    }

    async fn find_duplicates(
        &self,
        request: Request<proto::FindDuplicatesRequest>,
    ) -> Result<Response<proto::FindDuplicatesResponse>, Status> {
        let proto::FindDuplicatesRequest { story, max_matches } = request.into_inner();
        let span = tracing::info_span!(
            "rpc",
            method = "FindDuplicates",
            body_bytes = story.as_ref().map_or(0, |s| s.body.len())
        );
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
        let proto::GetStoryRequest { name } = request.into_inner();
        traced(
            tracing::info_span!("rpc", method = "GetStory"),
            async move {
                let id = convert::story_name(&name, "name")?;
                let stored = self.store.get_story(&id).await?;
                Ok(Response::new(convert::stored_story(stored)))
            },
        )
        .await
    }

    async fn delete_story(
        &self,
        request: Request<proto::DeleteStoryRequest>,
    ) -> Result<Response<()>, Status> {
        let proto::DeleteStoryRequest { name } = request.into_inner();
        traced(
            tracing::info_span!("rpc", method = "DeleteStory"),
            async move {
                let id = convert::story_name(&name, "name")?;
                self.store.delete_story(&id, SystemTime::now()).await?;
                Ok(Response::new(()))
            },
        )
        .await
    }

    async fn get_cluster(
        &self,
        request: Request<proto::GetClusterRequest>,
    ) -> Result<Response<proto::Cluster>, Status> {
        let proto::GetClusterRequest { name } = request.into_inner();
        traced(
            tracing::info_span!("rpc", method = "GetCluster"),
            async move {
                let id = convert::cluster_name(&name, "name")?;
                let detail = self.store.get_cluster(id).await?;
                let story = detail.canonical.story.clone();
                let summary = tokio::task::spawn_blocking(move || {
                    let summary = summarize(&story.title, &story.body, Budget::default());
                    convert::summary_response(&story.body, &summary)
                })
                .await?;
                Ok(Response::new(convert::cluster(detail, Some(summary))))
            },
        )
        .await
    }

    async fn list_clusters(
        &self,
        request: Request<proto::ListClustersRequest>,
    ) -> Result<Response<proto::ListClustersResponse>, Status> {
        let proto::ListClustersRequest {
            page_size,
            page_token,
        } = request.into_inner();
        traced(
            tracing::info_span!("rpc", method = "ListClusters", page_size),
            async move {
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
            },
        )
        .await
    }
}
