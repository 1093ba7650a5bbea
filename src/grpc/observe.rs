//! The gRPC server metrics, recorded by a tower layer around every service
//! (health and reflection too), as go-grpc-prometheus records them:
//! started, handled by status code, handling time to the end of the
//! response stream, and messages received and sent.
//!
//! The layer reads only what is on the wire: the method from the path, the
//! status from `grpc-status` (in the headers of a trailers-only answer,
//! else in the trailers), and messages from the gRPC framing (a flag byte
//! and a 4-byte length before each), so the handlers know nothing of it.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http::{HeaderMap, Request, Response};
use http_body::{Body, Frame, SizeHint};
use prometheus_client::metrics::counter::Counter;
use prost::Message;

use crate::metrics::{GrpcMetrics, HandledLabels, MethodLabels};

/// The labels of every method the server has, by request path
/// (`/copydesk.v1.DedupService/IngestStory`).
#[derive(Debug, Default)]
pub struct MethodTable {
    by_path: HashMap<String, MethodLabels>,
}

impl MethodTable {
    /// The methods of the services in these encoded descriptor sets, with
    /// their streaming kind.
    pub fn from_descriptor_sets(sets: &[&[u8]]) -> MethodTable {
        let mut by_path = HashMap::new();
        for set in sets {
            // The sets are compiled in; one that does not decode adds no
            // methods (its calls are counted as unknown).
            let Ok(set) = prost_types::FileDescriptorSet::decode(*set) else {
                continue;
            };
            for file in set.file {
                let package = file.package.unwrap_or_default();
                for service in file.service {
                    let service_name: Arc<str> = if package.is_empty() {
                        service.name().into()
                    } else {
                        format!("{package}.{}", service.name()).into()
                    };
                    for method in service.method {
                        let grpc_type = match (
                            method.client_streaming.unwrap_or(false),
                            method.server_streaming.unwrap_or(false),
                        ) {
                            (false, false) => "unary",
                            (true, false) => "client_stream",
                            (false, true) => "server_stream",
                            (true, true) => "bidi_stream",
                        };
                        let name: Arc<str> = method.name().into();
                        by_path.insert(
                            format!("/{service_name}/{name}"),
                            MethodLabels {
                                grpc_type,
                                grpc_service: Arc::clone(&service_name),
                                grpc_method: name,
                            },
                        );
                    }
                }
            }
        }
        MethodTable { by_path }
    }

    /// The labels of the method at `path`; one set for every path the
    /// server does not have, so a client cannot grow the series.
    fn labels(&self, path: &str) -> MethodLabels {
        self.by_path
            .get(path)
            .cloned()
            .unwrap_or_else(|| MethodLabels {
                grpc_type: "unknown",
                grpc_service: "unknown".into(),
                grpc_method: "unknown".into(),
            })
    }

    /// Every method's labels, so that each series exists at zero from the
    /// start (a rate over a series that appears late misses its first
    /// calls).
    fn all(&self) -> impl Iterator<Item = &MethodLabels> {
        self.by_path.values()
    }
}

/// Records [`GrpcMetrics`] around the services it wraps.
#[derive(Debug, Clone)]
pub struct MetricsLayer {
    metrics: GrpcMetrics,
    methods: Arc<MethodTable>,
}

impl MetricsLayer {
    /// A layer recording into `metrics` for the methods in `methods`.
    pub fn new(metrics: GrpcMetrics, methods: MethodTable) -> MetricsLayer {
        for labels in methods.all() {
            let _ = metrics.started.get_or_create(labels);
            let _ = metrics.handling_seconds.get_or_create(labels);
            let _ = metrics.received.get_or_create(labels);
            let _ = metrics.sent.get_or_create(labels);
        }
        MetricsLayer {
            metrics,
            methods: Arc::new(methods),
        }
    }
}

impl<S> tower_layer::Layer<S> for MetricsLayer {
    type Service = MetricsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        MetricsService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`MetricsLayer`] builds.
#[derive(Debug, Clone)]
pub struct MetricsService<S> {
    inner: S,
    layer: MetricsLayer,
}

type BoxFuture<T> = Pin<Box<dyn std::future::Future<Output = T> + Send>>;

impl<S, ResBody> tower_service::Service<Request<tonic::body::Body>> for MetricsService<S>
where
    S: tower_service::Service<Request<tonic::body::Body>, Response = Response<ResBody>>,
    S::Future: Send + 'static,
    ResBody: Body<Data = Bytes> + Unpin,
{
    type Response = Response<MeteredBody<ResBody>>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<tonic::body::Body>) -> Self::Future {
        let metrics = &self.layer.metrics;
        let labels = self.layer.methods.labels(request.uri().path());
        metrics.started.get_or_create(&labels).inc();
        let received = metrics.received.get_or_create_owned(&labels);
        let sent = metrics.sent.get_or_create_owned(&labels);
        let request = request.map(|body| {
            tonic::body::Body::new(CountingBody {
                inner: body,
                messages: MessageCounter::default(),
                counter: received,
            })
        });
        let mut finish = Finish {
            metrics: metrics.clone(),
            labels,
            started: Instant::now(),
            code_in_headers: None,
        };
        let response = self.inner.call(request);
        Box::pin(async move {
            match response.await {
                Ok(response) => {
                    finish.code_in_headers = grpc_code(response.headers());
                    Ok(response.map(|inner| MeteredBody {
                        inner,
                        messages: MessageCounter::default(),
                        sent,
                        finish: Some(finish),
                    }))
                }
                Err(err) => {
                    finish.record("UNAVAILABLE");
                    Err(err)
                }
            }
        })
    }
}

/// What is left to record when a call ends.
#[derive(Debug)]
struct Finish {
    metrics: GrpcMetrics,
    labels: MethodLabels,
    started: Instant,
    /// The status of a trailers-only answer.
    code_in_headers: Option<&'static str>,
}

impl Finish {
    fn record(self, grpc_code: &'static str) {
        let MethodLabels {
            grpc_type,
            grpc_service,
            grpc_method,
        } = self.labels.clone();
        self.metrics
            .handled
            .get_or_create(&HandledLabels {
                grpc_type,
                grpc_service,
                grpc_method,
                grpc_code,
            })
            .inc();
        self.metrics
            .handling_seconds
            .get_or_create(&self.labels)
            .observe(self.started.elapsed().as_secs_f64());
    }
}

/// The gRPC status code in `grpc-status`, as gRPC spells it.
fn grpc_code(headers: &HeaderMap) -> Option<&'static str> {
    let value = headers.get("grpc-status")?.to_str().ok()?;
    let code = tonic::Code::from_i32(value.trim().parse().ok()?);
    Some(super::code_name(code))
}

/// Counts gRPC messages in a byte stream split anywhere: each message is
/// a flag byte, a 4-byte big-endian length, then that many bytes.
#[derive(Debug, Default, Clone)]
struct MessageCounter {
    /// Bytes of the current message's prefix seen so far.
    prefix: [u8; 5],
    prefix_len: usize,
    /// Payload bytes of the current message still to come.
    remaining: u64,
}

impl MessageCounter {
    /// Takes the next bytes; returns how many messages began in them.
    fn feed(&mut self, mut bytes: &[u8]) -> u64 {
        let mut began = 0;
        while !bytes.is_empty() {
            if self.remaining > 0 {
                let skip = usize::try_from(self.remaining)
                    .unwrap_or(usize::MAX)
                    .min(bytes.len());
                bytes = &bytes[skip..];
                self.remaining -= skip as u64;
                continue;
            }
            let take = (5 - self.prefix_len).min(bytes.len());
            self.prefix[self.prefix_len..self.prefix_len + take].copy_from_slice(&bytes[..take]);
            self.prefix_len += take;
            bytes = &bytes[take..];
            if self.prefix_len == 5 {
                began += 1;
                let [_, a, b, c, d] = self.prefix;
                self.remaining = u64::from(u32::from_be_bytes([a, b, c, d]));
                self.prefix_len = 0;
            }
        }
        began
    }
}

/// A request body that counts the messages read from it.
struct CountingBody {
    inner: tonic::body::Body,
    messages: MessageCounter,
    counter: Counter,
}

impl Body for CountingBody {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            this.counter.inc_by(this.messages.feed(data));
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A response body that counts the messages sent and records the call as
/// handled when its status goes out (or, when the client goes away before
/// the status, as `CANCELLED`).
pub struct MeteredBody<B> {
    inner: B,
    messages: MessageCounter,
    sent: Counter,
    finish: Option<Finish>,
}

impl<B> Drop for MeteredBody<B> {
    fn drop(&mut self) {
        if let Some(finish) = self.finish.take() {
            // A trailers-only answer (an error status in the headers) may
            // be dropped without its empty body being read: its code is
            // known. Otherwise the client went away first.
            let code = finish.code_in_headers.unwrap_or("CANCELLED");
            finish.record(code);
        }
    }
}

impl<B: Body<Data = Bytes> + Unpin> Body for MeteredBody<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.sent.inc_by(this.messages.feed(data));
                } else if let Some(trailers) = frame.trailers_ref()
                    && let Some(finish) = this.finish.take()
                {
                    let code = grpc_code(trailers)
                        .or(finish.code_in_headers)
                        .unwrap_or("UNKNOWN");
                    finish.record(code);
                }
            }
            Poll::Ready(None) => {
                if let Some(finish) = this.finish.take() {
                    let code = finish.code_in_headers.unwrap_or("UNKNOWN");
                    finish.record(code);
                }
            }
            Poll::Ready(Some(Err(_))) => {
                if let Some(finish) = this.finish.take() {
                    finish.record("INTERNAL");
                }
            }
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn framed(payloads: &[Vec<u8>]) -> Vec<u8> {
        let mut wire = Vec::new();
        for payload in payloads {
            wire.push(0);
            wire.extend_from_slice(&(payload.len() as u32).to_be_bytes());
            wire.extend_from_slice(payload);
        }
        wire
    }

    proptest! {
        /// However the transport splits the stream, every message is
        /// counted once, empty ones too.
        #[test]
        fn messages_are_counted_once_across_any_split(
            payloads in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 0..12),
            cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
        ) {
            let wire = framed(&payloads);
            let mut points: Vec<usize> = cuts.iter().map(|c| c.index(wire.len() + 1)).collect();
            points.sort_unstable();
            let mut counter = MessageCounter::default();
            let mut counted = 0;
            let mut at = 0;
            for point in points.into_iter().chain([wire.len()]) {
                counted += counter.feed(&wire[at..point]);
                at = point;
            }
            prop_assert_eq!(counted, payloads.len() as u64);
        }
    }

    #[test]
    fn the_method_table_knows_each_method_s_kind() {
        let table = MethodTable::from_descriptor_sets(&[
            super::super::proto::FILE_DESCRIPTOR_SET,
            tonic_health::pb::FILE_DESCRIPTOR_SET,
        ]);
        let ingest = table.labels("/copydesk.v1.DedupService/IngestStories");
        assert_eq!(ingest.grpc_type, "bidi_stream");
        assert_eq!(&*ingest.grpc_service, "copydesk.v1.DedupService");
        assert_eq!(&*ingest.grpc_method, "IngestStories");
        assert_eq!(
            table
                .labels("/copydesk.v1.SummaryService/Summarize")
                .grpc_type,
            "unary"
        );
        assert_eq!(
            table.labels("/grpc.health.v1.Health/Watch").grpc_type,
            "server_stream"
        );
        assert_eq!(table.labels("/no.Such/Method").grpc_type, "unknown");
    }
}
