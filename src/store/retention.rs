//! Retention: stories older than a window leave the matching index, in
//! rounds, on a timer. The task is owned by a [`Retention`] guard that
//! stops it when dropped (as mini-redis's `DbDropGuard` stops its purge
//! task), so a server that stops serving leaves no task holding its store.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::Store;

/// Stories evicted per store call: ingests interleave between rounds.
const EVICTION_ROUND: usize = 1_000;

/// The running retention task; dropping it stops the task.
#[derive(Debug)]
pub struct Retention {
    task: tokio::task::JoinHandle<()>,
}

impl Retention {
    /// Every `interval`, evicts from `store` the stories older than
    /// `window` (publication time, else ingest time). Call within a Tokio
    /// runtime.
    pub fn start(store: Arc<dyn Store>, window: Duration, interval: Duration) -> Retention {
        Retention {
            task: tokio::spawn(evict_periodically(store, window, interval)),
        }
    }
}

impl Drop for Retention {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn evict_periodically(store: Arc<dyn Store>, window: Duration, interval: Duration) {
    let mut ticks = tokio::time::interval(interval.max(Duration::from_millis(10)));
    loop {
        ticks.tick().await;
        let now = SystemTime::now();
        let Some(cutoff) = now.checked_sub(window) else {
            continue;
        };
        loop {
            match store.evict_before(cutoff, now, EVICTION_ROUND).await {
                Ok(evicted) => {
                    if evicted > 0 {
                        tracing::info!(evicted, "retention: evicted old stories");
                    }
                    if evicted < EVICTION_ROUND {
                        break;
                    }
                }
                Err(err) => {
                    tracing::error!(cause = %super::chain(&err), "retention: eviction failed");
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dedup::IndexConfig;
    use crate::store::MemoryStore;
    use crate::story::{PreparedStory, Story};

    #[tokio::test]
    async fn old_stories_leave_and_a_dropped_guard_stops_the_task() {
        let store = Arc::new(MemoryStore::new(IndexConfig::default()));
        let old = SystemTime::now() - Duration::from_secs(7200);
        let story = Story {
            id: "old".into(),
            body: "The harbour bridge closed on Tuesday after engineers found cracks.".into(),
            published_at: Some(old),
            ..Story::default()
        };
        store
            .ingest(PreparedStory::new(story), old)
            .await
            .expect("ingest");
        let retention = Retention::start(
            Arc::clone(&store) as Arc<dyn Store>,
            Duration::from_secs(3600),
            Duration::from_millis(10),
        );
        for _ in 0..200 {
            if store.index_stats().await.stories == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(store.index_stats().await.stories, 0, "evicted");
        drop(retention);
        // The task held a reference to the store; once stopped, it lets go.
        for _ in 0..200 {
            if Arc::strong_count(&store) == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(
            Arc::strong_count(&store),
            1,
            "the task still holds the store"
        );
    }
}
