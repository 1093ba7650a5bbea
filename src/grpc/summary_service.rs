//! `copydesk.v1.SummaryService`.

use super::{rpc_span, traced};
use tonic::{Request, Response, Status};

use super::convert::{self, Limits};
use super::proto::summary_service_server::SummaryService;
use super::proto::{SummarizeRequest, SummarizeResponse};
use crate::summarize::summarize;

/// The SummaryService handlers.
#[derive(Debug, Clone)]
pub struct SummaryApi {
    limits: Limits,
}

impl SummaryApi {
    pub fn new(limits: Limits) -> Self {
        SummaryApi { limits }
    }
}

#[tonic::async_trait]
impl SummaryService for SummaryApi {
    async fn summarize(
        &self,
        request: Request<SummarizeRequest>,
    ) -> Result<Response<SummarizeResponse>, Status> {
        let span = rpc_span("Summarize", &request);
        traced(span, async move {
            let (story, budget) = convert::summarize_request(request.into_inner(), self.limits)?;
            tracing::Span::current().record("body_bytes", story.body.len());
            let response = tokio::task::spawn_blocking(move || {
                let summary = summarize(&story.title, &story.body, budget);
                convert::summary_response(&summary)
            })
            .await?;
            Ok(Response::new(response))
        })
        .await
    }
}
