//! Thousands of threads alive at once, spread over every core: sleepers wake in deadline
//! order, every thread is joined, and their stacks all go back to the heap.
//!
//! Timing is never asserted: how fast this runs is `probe bench threads`' business.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::string::ToString;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

use apps as _;
use kernel::process::ExitCode;
use kernel::sync::{Condvar, Mutex, PerCore};
use kernel::testing::{self, Outcome};
use kernel::thread::{self, Builder, JoinHandle};
use kernel::time::{Duration, Instant};
use kernel::{cases, check, check_eq};

kernel::main!(main);

fn main() -> ExitCode {
    testing::run(cases![
        sleepers_wake_in_deadline_order_on_every_core,
        thousands_alive_at_once_are_all_joined_and_freed,
    ])
}

const STACK: usize = 16 * 1024;

/// A value threads wait for until the main thread sets it.
struct Gate<T> {
    value: Mutex<Option<T>>,
    opened: Condvar,
}

impl<T: Copy> Gate<T> {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            value: Mutex::new(None),
            opened: Condvar::new(),
        })
    }

    fn open(&self, value: T) {
        *self.value.lock().unwrap() = Some(value);
        self.opened.notify_all();
    }

    fn wait(&self) -> T {
        let value = self
            .opened
            .wait_while(self.value.lock().unwrap(), |v| v.is_none())
            .unwrap();
        value.expect("the gate is open")
    }
}

/// `count` threads on the cores in turn, each running `f(i)` once `gate` opens.
fn behind_gate<T, R, F>(count: usize, gate: &Arc<Gate<T>>, f: F) -> Vec<JoinHandle<R>>
where
    T: Copy + Send + 'static,
    R: Send + 'static,
    F: Fn(usize, T) -> R + Clone + Send + 'static,
{
    let cores = thread::available_cores();
    (0..count)
        .map(|i| {
            let (gate, f) = (gate.clone(), f.clone());
            Builder::new()
                .core(i % cores)
                .stack_size(STACK)
                .spawn(move || f(i, gate.wait()))
                .expect("room for the thread")
        })
        .collect()
}

/// How many sleepers have woken on each core, in order.
static WOKEN: PerCore<AtomicU64> = PerCore::new(|_| AtomicU64::new(0));

/// What a sleeper saw.
struct Wake {
    core: usize,
    /// Its place in the order its core woke sleepers in.
    turn: u64,
    deadline: Instant,
    woke: Instant,
    /// Whether it was still before its deadline (with a margin) when it went to sleep; one
    /// that was not may run at once, out of turn.
    slept: bool,
}

fn sleepers_wake_in_deadline_order_on_every_core() -> Outcome {
    const SLEEPERS: usize = 3_000;
    const APART: Duration = Duration::from_micros(20);
    const MARGIN: Duration = Duration::from_millis(5);
    // Made now: making the values on first use can block a waking sleeper, out of turn.
    check!(WOKEN.of(0).is_some());
    let start = Instant::now();
    let gate = Gate::new();
    let sleepers = behind_gate(SLEEPERS, &gate, |i, first: Instant| {
        // Deadlines in shuffled order (7919 is prime and does not divide SLEEPERS), so
        // that neither spawn order nor core order matches deadline order.
        let deadline = first + APART * (i * 7919 % SLEEPERS) as u32;
        let slept = Instant::now() + MARGIN < deadline;
        thread::sleep_until(deadline);
        let woke = Instant::now();
        let core = thread::current().core();
        let turn = WOKEN.get().fetch_add(1, Ordering::Relaxed);
        Wake {
            core,
            turn,
            deadline,
            woke,
            slept,
        }
    });
    // Leave the sleepers well more time than their spawning took to pass the gate and
    // sleep: waking thousands through one condvar, on cores a loaded host shares, can take
    // longer than spawning them did.
    gate.open(Instant::now() + 4 * start.elapsed() + Duration::from_millis(100));
    let mut wakes = Vec::with_capacity(SLEEPERS);
    for sleeper in sleepers {
        wakes.push(sleeper.join().map_err(|e| e.to_string())?);
    }
    check_eq!(wakes.len(), SLEEPERS);
    for wake in &wakes {
        check!(
            wake.woke >= wake.deadline,
            "a sleeper woke {:?} early",
            wake.deadline - wake.woke
        );
    }
    let slept = wakes.iter().filter(|w| w.slept).count();
    check!(slept > 0, "no sleeper went to sleep before its deadline");
    wakes.retain(|w| w.slept);
    wakes.sort_by_key(|w| (w.core, w.turn));
    for pair in wakes.windows(2) {
        if pair[0].core == pair[1].core {
            check!(
                pair[0].deadline < pair[1].deadline,
                "core {} woke a sleeper due {:?} after one due {:?}",
                pair[0].core,
                pair[1].deadline.since_boot(),
                pair[0].deadline.since_boot()
            );
        }
    }
    Ok(())
}

fn thousands_alive_at_once_are_all_joined_and_freed() -> Outcome {
    const THREADS: usize = 4_000;
    let round = || -> Result<u64, alloc::string::String> {
        let gate = Gate::new();
        let threads = behind_gate(THREADS, &gate, |i, add: u64| i as u64 + add);
        gate.open(1);
        let mut sum = 0;
        for thread in threads {
            sum += thread.join().map_err(|e| e.to_string())?;
        }
        Ok(sum)
    };
    // The first round also fills the per-core caches of small blocks, which keep their
    // memory; the second must give back what it took, but for the 64 KiB span a core's
    // cache may still take for a size class (which core frees which block varies from run
    // to run). One thread's stack and guard page alone are 12 KiB, so a leak of a few
    // threads shows.
    const SPAN: usize = 64 * 1024;
    check_eq!(round()?, (THREADS * (THREADS + 1) / 2) as u64);
    settle(usize::MAX);
    let before = kernel::system::heap().free;
    check_eq!(round()?, (THREADS * (THREADS + 1) / 2) as u64);
    let after = settle(before);
    let spans = thread::available_cores() * SPAN;
    check!(
        after + spans >= before,
        "the second round kept {} KiB (the caches may keep {} KiB)",
        (before - after) / 1024,
        spans / 1024
    );
    Ok(())
}

/// Waits up to a second for the heap's free bytes to reach `free` (or, for `usize::MAX`,
/// to stop changing) and returns them: threads that ended on other cores have their stacks
/// freed there a moment after `join` returns.
fn settle(free: usize) -> usize {
    let mut last = kernel::system::heap().free;
    for _ in 0..1000 {
        thread::sleep(Duration::from_millis(1));
        let now = kernel::system::heap().free;
        if now == free || (free == usize::MAX && now == last) {
            return now;
        }
        last = now;
    }
    last
}
