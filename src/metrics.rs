//! What copydesk tells the monitoring: one Prometheus registry with the
//! gRPC series (named as go-grpc-prometheus names them, so existing
//! dashboards chart them) and copydesk's own, and [`MeteredStore`], which
//! counts what the store does without the store knowing.
//!
//! No gRPC types here: the gRPC layer (`grpc::observe`) records into
//! [`GrpcMetrics`], the operations listener (`http`) renders [`Metrics`].

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use async_trait::async_trait;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::dedup::{ClusterId, IngestOutcome, IngestReport, Placement};
use crate::store::{
    ClusterDetail, ClusterPage, IndexStats, Store, StoreError, VersionRecord, WriteState,
};
use crate::story::{PreparedStory, StoredStory};

/// Buckets of `grpc_server_handling_seconds`: Prometheus's default
/// buckets, as go-grpc-prometheus uses, so the series add up with other
/// services' on one dashboard.
const HANDLING_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Buckets of the durable commit latency: a commit is an fsync, so finer
/// at the low end than RPC handling.
const COMMIT_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// Buckets of the commit group size (stories per commit; at most
/// `--commit-group`, 64 by default).
const GROUP_BUCKETS: [f64; 8] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0];

/// The labels of a gRPC method's series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MethodLabels {
    /// `unary`, `client_stream`, `server_stream` or `bidi_stream`.
    pub grpc_type: &'static str,
    /// The full service name, `copydesk.v1.DedupService`.
    pub grpc_service: Arc<str>,
    /// The method, `IngestStory`.
    pub grpc_method: Arc<str>,
}

/// [`MethodLabels`] with the status code a call ended with.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HandledLabels {
    /// As in [`MethodLabels`].
    pub grpc_type: &'static str,
    /// As in [`MethodLabels`].
    pub grpc_service: Arc<str>,
    /// As in [`MethodLabels`].
    pub grpc_method: Arc<str>,
    /// The code as gRPC spells it: `OK`, `INVALID_ARGUMENT`.
    pub grpc_code: &'static str,
}

/// The gRPC server series.
#[derive(Debug, Clone)]
pub struct GrpcMetrics {
    /// `grpc_server_started_total`.
    pub started: Family<MethodLabels, Counter>,
    /// `grpc_server_handled_total`.
    pub handled: Family<HandledLabels, Counter>,
    /// `grpc_server_handling_seconds`.
    pub handling_seconds: Family<MethodLabels, Histogram, fn() -> Histogram>,
    /// `grpc_server_msg_received_total`.
    pub received: Family<MethodLabels, Counter>,
    /// `grpc_server_msg_sent_total`.
    pub sent: Family<MethodLabels, Counter>,
}

fn handling_histogram() -> Histogram {
    Histogram::new(HANDLING_BUCKETS)
}

fn commit_histogram() -> Histogram {
    Histogram::new(COMMIT_BUCKETS)
}

impl GrpcMetrics {
    fn new() -> Self {
        GrpcMetrics {
            started: Family::default(),
            handled: Family::default(),
            handling_seconds: Family::new_with_constructor(handling_histogram),
            received: Family::default(),
            sent: Family::default(),
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VerdictLabels {
    verdict: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
    commit: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: String,
}

/// copydesk's own series.
#[derive(Debug, Clone)]
struct StoreMetrics {
    ingested: Family<OutcomeLabels, Counter>,
    decisions: Family<VerdictLabels, Counter>,
    commit_seconds: Histogram,
    commit_group: Histogram,
    evicted: Counter,
    stories: Gauge,
    clusters: Gauge,
    memory_bytes: Gauge,
    accepting_writes: Gauge,
    refusing_writes: Family<ReasonLabels, Gauge>,
}

/// The registry `/metrics` renders, and the handles that record into it.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    grpc: GrpcMetrics,
    store: StoreMetrics,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Every series registered, at zero.
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let grpc = GrpcMetrics::new();
        registry.register(
            "grpc_server_started",
            "Total number of RPCs started on the server.",
            grpc.started.clone(),
        );
        registry.register(
            "grpc_server_handled",
            "Total number of RPCs completed on the server, regardless of success or failure.",
            grpc.handled.clone(),
        );
        registry.register(
            "grpc_server_handling_seconds",
            "Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.",
            grpc.handling_seconds.clone(),
        );
        registry.register(
            "grpc_server_msg_received",
            "Total number of RPC stream messages received on the server.",
            grpc.received.clone(),
        );
        registry.register(
            "grpc_server_msg_sent",
            "Total number of gRPC stream messages sent by the server.",
            grpc.sent.clone(),
        );

        let store = StoreMetrics {
            ingested: Family::default(),
            decisions: Family::default(),
            commit_seconds: commit_histogram(),
            commit_group: Histogram::new(GROUP_BUCKETS),
            evicted: Counter::default(),
            stories: Gauge::default(),
            clusters: Gauge::default(),
            memory_bytes: Gauge::default(),
            accepting_writes: Gauge::default(),
            refusing_writes: Family::default(),
        };
        for outcome in ["created", "duplicate", "replaced", "unchanged"] {
            let _ = store.ingested.get_or_create(&OutcomeLabels { outcome });
        }
        for verdict in ["same", "related", "unrelated"] {
            let _ = store.decisions.get_or_create(&VerdictLabels { verdict });
        }
        registry.register(
            "copydesk_ingested",
            "Stories ingested, by outcome: created (a new story in its own cluster), duplicate (a new story that joined a cluster), replaced (an id sent again with new text), unchanged (the same id and text again).",
            store.ingested.clone(),
        );
        registry.register(
            "copydesk_decisions",
            "What ingest decided for each new or replaced story: same (folded into a cluster as a version), related (its own cluster, linked to others), unrelated.",
            store.decisions.clone(),
        );
        registry.register(
            "copydesk_commit_seconds",
            "Time to ingest one group of stories: matching, deciding, on the durable store the fsync, then comparing each version with the one it follows.",
            store.commit_seconds.clone(),
        );
        registry.register(
            "copydesk_commit_group_size",
            "Stories committed together in one commit.",
            store.commit_group.clone(),
        );
        registry.register(
            "copydesk_evicted",
            "Stories evicted from the matching index by retention.",
            store.evicted.clone(),
        );
        registry.register(
            "copydesk_index_stories",
            "Stories in the matching index.",
            store.stories.clone(),
        );
        registry.register(
            "copydesk_index_clusters",
            "Clusters in the matching index.",
            store.clusters.clone(),
        );
        registry.register(
            "copydesk_index_memory_bytes",
            "Estimated heap held by the matching index, in bytes.",
            store.memory_bytes.clone(),
        );
        registry.register(
            "copydesk_store_accepting_writes",
            "1 while the store takes writes, 0 while it refuses them.",
            store.accepting_writes.clone(),
        );
        registry.register(
            "copydesk_store_refusing_writes",
            "1, with the reason, while the store refuses writes (absent otherwise).",
            store.refusing_writes.clone(),
        );
        let build: Family<BuildLabels, Gauge> = Family::default();
        build
            .get_or_create(&BuildLabels {
                version: crate::VERSION,
                commit: crate::COMMIT,
            })
            .set(1);
        registry.register(
            "copydesk_build_info",
            "The version and commit of this copydesk (always 1).",
            build,
        );
        Metrics {
            registry,
            grpc,
            store,
        }
    }

    /// The gRPC series, for the server's metrics layer.
    pub fn grpc(&self) -> &GrpcMetrics {
        &self.grpc
    }

    /// Brings the gauges read off the store up to date, then renders every
    /// series in the Prometheus text format (0.0.4).
    pub async fn render(&self, store: &dyn Store) -> String {
        let stats = store.index_stats().await;
        let gauge = |value: usize| i64::try_from(value).unwrap_or(i64::MAX);
        self.store.stories.set(gauge(stats.stories));
        self.store.clusters.set(gauge(stats.clusters));
        self.store.memory_bytes.set(gauge(stats.memory_bytes));
        let state = store.write_state().borrow().clone();
        self.store.refusing_writes.clear();
        match state {
            WriteState::Accepting => {
                self.store.accepting_writes.set(1);
            }
            WriteState::Refusing(reason) => {
                self.store.accepting_writes.set(0);
                self.store
                    .refusing_writes
                    .get_or_create(&ReasonLabels { reason })
                    .set(1);
            }
        }
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry);
        text
    }

    /// The `Content-Type` of [`Metrics::render`]'s text.
    pub const CONTENT_TYPE: &'static str =
        prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

    fn record_reports(&self, reports: &[IngestReport]) {
        for report in reports {
            let outcome = match report.outcome {
                IngestOutcome::Created if report.duplicate_of.is_some() => "duplicate",
                IngestOutcome::Created => "created",
                IngestOutcome::Replaced => "replaced",
                IngestOutcome::Unchanged => "unchanged",
            };
            self.store
                .ingested
                .get_or_create(&OutcomeLabels { outcome })
                .inc();
            if report.outcome == IngestOutcome::Unchanged {
                continue;
            }
            let verdict = if report.duplicate_of.is_some() {
                "same"
            } else if report.related.is_empty() {
                "unrelated"
            } else {
                "related"
            };
            self.store
                .decisions
                .get_or_create(&VerdictLabels { verdict })
                .inc();
        }
    }
}

/// A store that records what it does into [`Metrics`]: ingest outcomes and
/// decisions, commit latency and group size, evictions. Everything else
/// passes straight through.
#[derive(Debug)]
pub struct MeteredStore {
    inner: Arc<dyn Store>,
    metrics: Arc<Metrics>,
}

impl MeteredStore {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Store>, metrics: Arc<Metrics>) -> MeteredStore {
        MeteredStore { inner, metrics }
    }

    fn committed(&self, started: Instant, stories: usize) {
        self.metrics
            .store
            .commit_seconds
            .observe(started.elapsed().as_secs_f64());
        self.metrics.store.commit_group.observe(stories as f64);
    }
}

#[async_trait]
impl Store for MeteredStore {
    async fn ingest(
        &self,
        story: PreparedStory,
        now: SystemTime,
    ) -> Result<IngestReport, StoreError> {
        let started = Instant::now();
        let report = self.inner.ingest(story, now).await?;
        self.committed(started, 1);
        self.metrics.record_reports(std::slice::from_ref(&report));
        Ok(report)
    }

    async fn ingest_batch(
        &self,
        batch: Vec<PreparedStory>,
        now: SystemTime,
    ) -> Result<Vec<IngestReport>, StoreError> {
        let started = Instant::now();
        let stories = batch.len();
        let reports = self.inner.ingest_batch(batch, now).await?;
        self.committed(started, stories);
        self.metrics.record_reports(&reports);
        Ok(reports)
    }

    async fn evict_before(
        &self,
        cutoff: SystemTime,
        now: SystemTime,
        limit: usize,
    ) -> Result<usize, StoreError> {
        let evicted = self.inner.evict_before(cutoff, now, limit).await?;
        self.metrics.store.evicted.inc_by(evicted as u64);
        Ok(evicted)
    }

    async fn find_duplicates(&self, story: PreparedStory) -> Result<Placement, StoreError> {
        self.inner.find_duplicates(story).await
    }

    async fn get_story(&self, id: &str) -> Result<StoredStory, StoreError> {
        self.inner.get_story(id).await
    }

    async fn delete_story(&self, id: &str, now: SystemTime) -> Result<(), StoreError> {
        self.inner.delete_story(id, now).await
    }

    async fn get_cluster(&self, id: ClusterId) -> Result<ClusterDetail, StoreError> {
        self.inner.get_cluster(id).await
    }

    async fn story_versions(&self, id: &str) -> Result<Vec<VersionRecord>, StoreError> {
        self.inner.story_versions(id).await
    }

    async fn list_clusters(
        &self,
        before: Option<ClusterId>,
        limit: usize,
    ) -> Result<ClusterPage, StoreError> {
        self.inner.list_clusters(before, limit).await
    }

    fn write_state(&self) -> tokio::sync::watch::Receiver<WriteState> {
        self.inner.write_state()
    }

    async fn recheck_writes(&self) -> WriteState {
        self.inner.recheck_writes().await
    }

    async fn index_stats(&self) -> IndexStats {
        self.inner.index_stats().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;
    use crate::story::Story;

    fn story(id: &str, body: &str) -> PreparedStory {
        PreparedStory::new(Story {
            id: id.into(),
            title: String::new(),
            body: body.into(),
            published_at: None,
            source: String::new(),
            language: String::new(),
        })
    }

    fn value_of(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
    }

    #[tokio::test]
    async fn the_store_counts_outcomes_commits_and_the_index() {
        let metrics = Arc::new(Metrics::new());
        let inner: Arc<dyn Store> = Arc::new(MemoryStore::new(Default::default()));
        let store = MeteredStore::new(inner, Arc::clone(&metrics));
        let body = "The city council voted on Tuesday to close the old harbour bridge \
                    for repairs that engineers say will take most of next year to finish.";
        store
            .ingest(story("a", body), SystemTime::now())
            .await
            .unwrap();
        let batch = vec![story("b", body), story("a", body)];
        store.ingest_batch(batch, SystemTime::now()).await.unwrap();

        let text = metrics.render(&store).await;
        assert_eq!(
            value_of(&text, "copydesk_ingested_total{outcome=\"created\"}"),
            Some(1.0)
        );
        assert_eq!(
            value_of(&text, "copydesk_ingested_total{outcome=\"duplicate\"}"),
            Some(1.0)
        );
        assert_eq!(
            value_of(&text, "copydesk_ingested_total{outcome=\"unchanged\"}"),
            Some(1.0)
        );
        assert_eq!(
            value_of(&text, "copydesk_ingested_total{outcome=\"replaced\"}"),
            Some(0.0)
        );
        assert_eq!(
            value_of(&text, "copydesk_decisions_total{verdict=\"same\"}"),
            Some(1.0)
        );
        assert_eq!(value_of(&text, "copydesk_commit_seconds_count"), Some(2.0));
        assert_eq!(value_of(&text, "copydesk_commit_group_size_sum"), Some(3.0));
        assert_eq!(value_of(&text, "copydesk_index_stories"), Some(2.0));
        assert_eq!(value_of(&text, "copydesk_index_clusters"), Some(1.0));
        assert!(value_of(&text, "copydesk_index_memory_bytes").unwrap() > 0.0);
        assert_eq!(
            value_of(&text, "copydesk_store_accepting_writes"),
            Some(1.0)
        );
        assert!(text.contains("copydesk_build_info{version=\""));
    }
}
