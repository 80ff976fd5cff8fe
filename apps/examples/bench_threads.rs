//! Thread benchmarks: prints `BENCH <name> <ns per operation>` for each of several runs,
//! then `BENCH-DONE`. `probe bench threads` runs it and prints the medians.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::sync::Arc;
use alloc::vec::Vec;

use apps as _;
use kernel::sync::{Condvar, Mutex, mpsc};
use kernel::thread::{self, Builder};
use kernel::time::Instant;

kernel::main!(main);

const RUNS: usize = 7;
/// How many threads queue on one lock in the queue benchmarks.
const QUEUED: usize = 1_000;
/// Their stacks: they only wait.
const QUEUED_STACK: usize = 8 * 1024;

/// A benchmark: given the far core, the nanoseconds one operation took.
type Bench = fn(usize) -> f64;

fn main() {
    let other = thread::available_cores() - 1;
    let benches: [(&str, Bench); 8] = [
        ("switch", switch),
        ("spawn_join_same", |_| spawn_join(0, 2_000)),
        ("spawn_join_other", |other| spawn_join(other, 1_000)),
        ("round_trip", round_trip),
        ("mutex_uncontended", |_| mutex_uncontended()),
        ("mutex_contended", |_| mutex_contended()),
        ("mutex_handoff_1000", |_| mutex_handoff()),
        ("condvar_relay_1000", |_| condvar_relay()),
    ];
    for (name, bench) in benches {
        for _ in 0..RUNS {
            let ns = bench(other);
            kernel::println!("BENCH {name} {ns:.1}");
        }
    }
    kernel::println!("BENCH-DONE");
}

fn per_op(start: Instant, ops: u64) -> f64 {
    start.elapsed().as_nanos() as f64 / ops as f64
}

/// Two threads of one core handing the CPU to each other with `yield_now`.
fn switch(_: usize) -> f64 {
    const ROUNDS: u64 = 20_000;
    let partner = thread::spawn(|| {
        for _ in 0..ROUNDS {
            thread::yield_now();
        }
    });
    let start = Instant::now();
    for _ in 0..ROUNDS {
        thread::yield_now();
    }
    let ns = per_op(start, 2 * ROUNDS);
    partner.join().expect("the partner ends");
    ns
}

fn spawn_join(core: usize, count: u64) -> f64 {
    let start = Instant::now();
    for _ in 0..count {
        Builder::new()
            .core(core)
            .spawn(|| ())
            .expect("spawn")
            .join()
            .expect("join");
    }
    per_op(start, count)
}

/// A message to a thread on another core and its answer.
fn round_trip(other: usize) -> f64 {
    const ROUNDS: u64 = 2_000;
    let (to_far, far_in) = mpsc::channel::<u64>();
    let (to_near, near_in) = mpsc::channel::<u64>();
    let far = Builder::new()
        .core(other)
        .spawn(move || {
            for n in far_in.iter() {
                to_near.send(n).expect("the near end listens");
            }
        })
        .expect("spawn");
    let start = Instant::now();
    for n in 0..ROUNDS {
        to_far.send(n).expect("the far end listens");
        near_in.recv().expect("an answer");
    }
    let ns = per_op(start, ROUNDS);
    drop(to_far);
    far.join().expect("the far end ends");
    ns
}

fn mutex_uncontended() -> f64 {
    const ROUNDS: u64 = 100_000;
    let lock = Mutex::new(0u64);
    let start = Instant::now();
    for _ in 0..ROUNDS {
        *lock.lock().unwrap() += 1;
    }
    per_op(start, ROUNDS)
}

/// Threads on every core (two per core) taking one lock in turn; the cost of a whole
/// lock-increment-unlock, counted over all the threads.
fn mutex_contended() -> f64 {
    const ROUNDS: u64 = 5_000;
    let lock = Arc::new(Mutex::new(0u64));
    let cores = thread::available_cores();
    let start = Instant::now();
    let workers: Vec<_> = (0..2 * cores)
        .map(|i| {
            let lock = lock.clone();
            Builder::new()
                .core(i % cores)
                .spawn(move || {
                    for _ in 0..ROUNDS {
                        *lock.lock().unwrap() += 1;
                        thread::yield_now();
                    }
                })
                .expect("spawn")
        })
        .collect();
    let threads = workers.len() as u64;
    for worker in workers {
        worker.join().expect("join");
    }
    per_op(start, threads * ROUNDS)
}

/// `QUEUED` threads on this core (0) running `start`, each run until it first blocks.
fn queued(start: impl Fn() + Clone + Send + 'static) -> Vec<thread::JoinHandle<()>> {
    let threads = (0..QUEUED)
        .map(|_| {
            let start = start.clone();
            Builder::new()
                .core(0)
                .stack_size(QUEUED_STACK)
                .spawn(start)
                .expect("spawn")
        })
        .collect();
    thread::yield_now(); // each runs until it parks
    threads
}

/// `QUEUED` threads of one core parked on one lock, each handed it by the one before as it
/// unlocks, then ending: the cost of one hand-off with a long queue behind it, and of the
/// thread's end and join.
fn mutex_handoff() -> f64 {
    let lock = Arc::new(Mutex::new(0u64));
    let held = lock.lock().unwrap();
    let threads = {
        let lock = lock.clone();
        queued(move || *lock.lock().unwrap() += 1)
    };
    let start = Instant::now();
    drop(held);
    for thread in threads {
        thread.join().expect("join");
    }
    let ns = per_op(start, QUEUED as u64);
    assert_eq!(
        *lock.lock().unwrap(),
        QUEUED as u64,
        "every queued thread took the lock"
    );
    ns
}

/// `QUEUED` threads of one core waiting on one condvar, each woken with `notify_one` by
/// the one before: the cost of one wake-up with a long queue behind it.
fn condvar_relay() -> f64 {
    let pair = Arc::new((Mutex::new((false, 0u64)), Condvar::new()));
    let threads = {
        let pair = pair.clone();
        queued(move || {
            let (state, woken) = &*pair;
            let mut state = woken.wait_while(state.lock().unwrap(), |s| !s.0).unwrap();
            state.1 += 1;
            drop(state);
            woken.notify_one();
        })
    };
    let (state, woken) = &*pair;
    let start = Instant::now();
    state.lock().unwrap().0 = true;
    woken.notify_one();
    // Waiting behind them all, this thread is woken last.
    let state = woken
        .wait_while(state.lock().unwrap(), |s| s.1 < QUEUED as u64)
        .unwrap();
    let ns = per_op(start, QUEUED as u64);
    drop(state);
    for thread in threads {
        thread.join().expect("join");
    }
    ns
}
