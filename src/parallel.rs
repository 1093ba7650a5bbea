//! Work on every core, answers in input order: what batch jobs and the
//! durable store's rebuild use for the per-story work that does not depend
//! on other stories (fingerprints, summaries). Plain threads in a scope, no
//! pool: a round of work ([`map_in_order`]) or a stream of it
//! ([`in_order`]) spawns its threads in a scope, so nothing outlives it.

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

/// Items [`in_order`] hands a thread at once: one at a time, the handing
/// over (a wake-up on each side) costs as much as a short story's work.
const CHUNK: usize = 16;

/// How many chunks [`in_order`] lets be read ahead of the one it waits
/// for, per thread: enough that a long story on one thread does not stall
/// the others, few enough to hold in memory.
const CHUNKS_AHEAD_PER_THREAD: usize = 4;

/// `work` applied on `threads` threads to each item `source` yields, the
/// answers handed out in the order of the items as they are ready: a
/// pipeline, where [`map_in_order`] is a round. The source is read on a
/// thread of its own and handed out [`CHUNK`] items at a time, at most
/// [`CHUNKS_AHEAD_PER_THREAD`] chunks a thread in flight, so a batch
/// streams through in bounded memory while whoever takes the answers (an
/// ordered ingest, the output) runs beside the workers instead of between
/// rounds of them.
///
/// The threads belong to `scope`; they stop when the source ends or the
/// answers are dropped. On one thread nothing is spawned: the source and
/// `work` run on the thread that takes the answers. A panic in `work` is
/// raised again where its answer is taken.
pub fn in_order<'scope, T, U>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    threads: NonZeroUsize,
    source: impl Iterator<Item = T> + Send + 'scope,
    work: impl Fn(T) -> U + Send + Sync + 'scope,
) -> InOrder<'scope, U>
where
    T: Send + 'scope,
    U: Send + 'scope,
{
    if threads.get() == 1 {
        return InOrder(Answers::Inline(Box::new(source.map(work))));
    }
    let ahead = CHUNKS_AHEAD_PER_THREAD * threads.get();
    // A ticket a chunk in flight: the source takes one before it sends a
    // chunk, and one is given back as each chunk's answers are handed out.
    let (ticket_back, tickets) = std::sync::mpsc::sync_channel::<()>(ahead);
    for _ in 0..ahead {
        let _ = ticket_back.send(());
    }
    let (send_chunk, chunks) = std::sync::mpsc::sync_channel::<(usize, Vec<T>)>(ahead);
    let (send_answers, answers) = std::sync::mpsc::channel();
    scope.spawn(move || {
        let mut source = source.peekable();
        for at in 0.. {
            if source.peek().is_none() || tickets.recv().is_err() {
                return;
            }
            let chunk: Vec<T> = source.by_ref().take(CHUNK).collect();
            if send_chunk.send((at, chunk)).is_err() {
                return;
            }
        }
    });
    let chunks = std::sync::Arc::new(Mutex::new(chunks));
    let work = std::sync::Arc::new(work);
    for _ in 0..threads.get() {
        let (chunks, work, send_answers) = (chunks.clone(), work.clone(), send_answers.clone());
        scope.spawn(move || {
            loop {
                let next = chunks.lock().unwrap_or_else(|p| p.into_inner()).recv();
                let Ok((at, chunk)) = next else {
                    return;
                };
                let answers = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    chunk.into_iter().map(&*work).collect::<Vec<U>>()
                }));
                let panicked = answers.is_err();
                if send_answers.send((at, answers)).is_err() || panicked {
                    return;
                }
            }
        });
    }
    InOrder(Answers::Threads {
        answers,
        ticket_back,
        current: Vec::new().into_iter(),
        waiting: std::collections::VecDeque::new(),
        next: 0,
    })
}

/// The answers of [`in_order`], in the order of the items.
pub struct InOrder<'scope, U>(Answers<'scope, U>);

enum Answers<'scope, U> {
    /// One thread: each item is worked on as its answer is asked for.
    Inline(Box<dyn Iterator<Item = U> + Send + 'scope>),
    /// Chunks of answers from the worker threads.
    Threads {
        answers: std::sync::mpsc::Receiver<(usize, std::thread::Result<Vec<U>>)>,
        ticket_back: std::sync::mpsc::SyncSender<()>,
        /// The chunk being handed out.
        current: std::vec::IntoIter<U>,
        /// Chunks that came before an earlier one, from chunk `next` on.
        waiting: std::collections::VecDeque<Option<Vec<U>>>,
        /// The position of the chunk to hand out after the current one.
        next: usize,
    },
}

impl<U> Iterator for InOrder<'_, U> {
    type Item = U;

    fn next(&mut self) -> Option<U> {
        let (answers, ticket_back, current, waiting, next) = match &mut self.0 {
            Answers::Inline(inline) => return inline.next(),
            Answers::Threads {
                answers,
                ticket_back,
                current,
                waiting,
                next,
            } => (answers, ticket_back, current, waiting, next),
        };
        loop {
            if let Some(answer) = current.next() {
                return Some(answer);
            }
            if let Some(Some(_)) = waiting.front() {
                *current = waiting
                    .pop_front()
                    .flatten()
                    .unwrap_or_default()
                    .into_iter();
                *next += 1;
                let _ = ticket_back.send(());
                continue;
            }
            // Every worker gone with this chunk missing: the source ended.
            let (at, chunk) = answers.recv().ok()?;
            let chunk = chunk.unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            let slot = at - *next;
            if waiting.len() <= slot {
                waiting.resize_with(slot + 1, || None);
            }
            waiting[slot] = Some(chunk);
        }
    }
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

    proptest! {
        /// Streamed on any number of threads, every item's answer comes
        /// once, in the order of the items.
        #[test]
        fn streamed_answers_keep_the_input_order(items in proptest::collection::vec(0u64..1000, 0..300), threads in 1usize..5) {
            let threads = NonZeroUsize::new(threads).expect("non-zero");
            let work = |n: u64| (0..n % 50).fold(n, |acc, i| acc.wrapping_mul(31).wrapping_add(i));
            let streamed: Vec<u64> = std::thread::scope(|scope| {
                in_order(scope, threads, items.clone().into_iter(), work).collect()
            });
            prop_assert_eq!(streamed, items.into_iter().map(work).collect::<Vec<_>>());
        }
    }

    #[test]
    fn the_stream_reads_a_bounded_way_ahead_and_stops_when_dropped() {
        let threads = NonZeroUsize::new(2).expect("non-zero");
        let read = AtomicUsize::new(0);
        let source = (0..1_000_000).inspect(|_| {
            read.fetch_add(1, Ordering::Relaxed);
        });
        let taken: Vec<i32> = std::thread::scope(|scope| {
            let mut answers = in_order(scope, threads, source, |n| n * 2);
            let taken = answers.by_ref().take(10).collect();
            // Nothing is taken for a while: the source must not run on.
            std::thread::sleep(std::time::Duration::from_millis(50));
            let most = CHUNK * (CHUNKS_AHEAD_PER_THREAD * 2 + 2);
            let read_ahead = read.load(Ordering::Relaxed);
            assert!(
                read_ahead <= most,
                "{read_ahead} items read ahead, more than {most}"
            );
            taken
        });
        assert_eq!(taken, (0..10).map(|n| n * 2).collect::<Vec<_>>());
        assert!(
            read.load(Ordering::Relaxed) < 1_000_000,
            "the source ran to its end"
        );
    }

    #[test]
    #[should_panic(expected = "story 40")]
    fn a_panic_in_streamed_work_is_raised_again() {
        let two = NonZeroUsize::new(2).expect("non-zero");
        std::thread::scope(|scope| {
            in_order(scope, two, 0..100, |n| {
                if n == 40 {
                    panic!("story {n}");
                }
                n
            })
            .for_each(drop);
        });
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
