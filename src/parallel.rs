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

/// Rounds of work in two stages, the next round's first stage running on
/// another thread while this thread takes the current round's second: a
/// batch whose second stage must run in order (a story's placement depends
/// on every story before it) keeps the cores busy with the next round's
/// independent work (reading, parsing, fingerprinting) meanwhile.
///
/// `produce` makes a round (empty at the end) from a hint the previous
/// `consume` returned (or `first`): with rounds overlapped it is the hint
/// from the round before the previous one, so `produce` must use it only
/// as a hint that `consume` checks. With `overlap` false every stage runs
/// in turn on this thread. Stops at the first error; a panic in either
/// stage is raised again here.
pub fn in_rounds<R, H, E>(
    overlap: bool,
    first: H,
    mut produce: impl FnMut(&H) -> Result<Vec<R>, E> + Send,
    mut consume: impl FnMut(Vec<R>) -> Result<H, E>,
) -> Result<(), E>
where
    R: Send,
    H: Sync,
    E: Send,
{
    let mut hint = first;
    let mut round = produce(&hint)?;
    while !round.is_empty() {
        if !overlap {
            hint = consume(round)?;
            round = produce(&hint)?;
            continue;
        }
        let (next, consumed) = std::thread::scope(|scope| {
            let producer = scope.spawn(|| produce(&hint));
            let consumed = consume(round);
            let next = producer
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (next, consumed)
        });
        hint = consumed?;
        round = next?;
    }
    Ok(())
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

    proptest! {
        /// Overlapped or not, every round is consumed once, in order, and
        /// produced with a hint some earlier round returned.
        #[test]
        fn rounds_are_consumed_in_order(total in 0usize..500, round in 1usize..64, overlap: bool) {
            let mut produced = 0;
            let mut consumed = Vec::new();
            let mut hints = Vec::new();
            let done: Result<(), ()> = in_rounds(
                overlap,
                0,
                |&hint: &usize| {
                    hints.push((produced, hint));
                    let next: Vec<usize> = (produced..total.min(produced + round)).collect();
                    produced += next.len();
                    Ok(next)
                },
                |items| {
                    consumed.extend(items);
                    Ok(consumed.len())
                },
            );
            prop_assert!(done.is_ok());
            prop_assert_eq!(consumed, (0..total).collect::<Vec<_>>());
            for (at, hint) in hints {
                prop_assert!(hint <= at, "a hint from a later round: {} at {}", hint, at);
            }
        }
    }

    #[test]
    fn an_error_in_either_stage_stops_the_rounds() {
        let counting = |fail_at: usize, in_produce: bool| {
            let mut produced = 0;
            let mut consumed = 0;
            let done = in_rounds(
                true,
                (),
                |_| {
                    produced += 1;
                    if in_produce && produced == fail_at {
                        return Err(produced);
                    }
                    Ok(vec![produced])
                },
                |round| {
                    consumed += 1;
                    if !in_produce && round[0] == fail_at {
                        return Err(round[0]);
                    }
                    Ok(())
                },
            );
            (done, consumed)
        };
        assert_eq!(counting(3, true), (Err(3), 2));
        assert_eq!(counting(3, false), (Err(3), 3));
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
