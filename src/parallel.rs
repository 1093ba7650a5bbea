//! Work on every core, answers in input order: what batch jobs and the
//! durable store's rebuild use for the per-story work that does not depend
//! on other stories (fingerprints, summaries). Plain threads in a scope, no
//! pool: a round of work spawns its threads and joins them before it
//! returns, so nothing outlives the call.

use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Every core this process may use (one when that cannot be told).
pub fn available_threads() -> NonZeroUsize {
    std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN)
}

/// `work` applied to each of `items` on up to `threads` threads, the
/// answers in the order of `items`. Items are handed out one at a time,
/// so a long story does not hold up a thread's share of short ones. A
/// panic in `work` is raised again here.
pub fn map_in_order<T, U, F>(items: Vec<T>, threads: NonZeroUsize, work: F) -> Vec<U>
where
    T: Send,
    U: Send,
    F: Fn(T) -> U + Sync,
{
    let threads = threads.get().min(items.len());
    if threads <= 1 {
        return items.into_iter().map(work).collect();
    }
    let count = items.len();
    let slots: Vec<Mutex<Option<T>>> = items.into_iter().map(|t| Mutex::new(Some(t))).collect();
    let next = AtomicUsize::new(0);
    let done: Vec<(usize, U)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let at = next.fetch_add(1, Ordering::Relaxed);
                        let Some(slot) = slots.get(at) else {
                            return done;
                        };
                        let item = slot
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .take()
                            .expect("each item is handed out once");
                        done.push((at, work(item)));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| {
                worker
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    let mut answers: Vec<Option<U>> = std::iter::repeat_with(|| None).take(count).collect();
    for (at, answer) in done {
        answers[at] = Some(answer);
    }
    answers
        .into_iter()
        .map(|answer| answer.expect("every item is answered"))
        .collect()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Any number of threads gives what one thread gives, in order.
        #[test]
        fn answers_keep_the_input_order(items in proptest::collection::vec(0u64..1000, 0..200), threads in 1usize..9) {
            let work = |n: u64| (0..n % 50).fold(n, |acc, i| acc.wrapping_mul(31).wrapping_add(i));
            let one = map_in_order(items.clone(), NonZeroUsize::MIN, work);
            let many = map_in_order(items, NonZeroUsize::new(threads).expect("non-zero"), work);
            prop_assert_eq!(one, many);
        }
    }

    #[test]
    #[should_panic(expected = "story 3")]
    fn a_panic_in_the_work_is_raised_again() {
        let two = NonZeroUsize::new(2).expect("non-zero");
        map_in_order(vec![1, 2, 3, 4], two, |n| {
            if n == 3 {
                panic!("story {n}");
            }
            n
        });
    }
}
