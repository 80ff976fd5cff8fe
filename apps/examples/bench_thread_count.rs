//! How thread costs grow with the number of threads alive at once. For each thread count
//! given as an argument, prints `BENCH spawn_join/<count> <ns per thread>` (spawn them
//! all, then join them all) and `BENCH sleepers/<count> <ns per thread>` (spawn them all
//! asleep, with distinct deadlines in shuffled order, and join them once due), for several
//! runs; then `THREAD-BYTES <bytes>`, the heap one thread takes with its stack, and
//! `BENCH-DONE`. `probe bench threads` runs it and prints the curve.
//!
//! Threads go to the cores in turn. Each has an 8 KiB stack, so that 100,000 of them fit in
//! a guest below 4 GiB.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::vec::Vec;

use apps as _;
use kernel::process::ExitCode;
use kernel::thread::{self, Builder, JoinHandle};
use kernel::time::{Duration, Instant};

kernel::main!(main);

const RUNS: usize = 3;
const STACK: usize = 8 * 1024;

fn main() -> ExitCode {
    let counts: Option<Vec<usize>> = kernel::env::args()
        .map(|arg| arg.parse().ok().filter(|&count| count > 0))
        .collect();
    let Some(&most) = counts.as_ref().and_then(|counts| counts.iter().max()) else {
        kernel::println!("usage: bench_thread_count COUNT... (thread counts above 0)");
        return ExitCode::FAILURE;
    };
    let counts = counts.unwrap_or_default();
    // Once through the largest count, untimed: the guest's memory is touched for the first
    // time here, which costs the hypervisor, not the kernel. The threads stay on this core,
    // so none has ended (and freed its stack) when the heap is read.
    let free = kernel::system::heap().free;
    let threads: Vec<_> = (0..most)
        .map(|_| {
            Builder::new()
                .stack_size(STACK)
                .spawn(|| ())
                .expect("spawn")
        })
        .collect();
    let bytes = (free - kernel::system::heap().free) / most;
    join(threads);
    for &count in &counts {
        for _ in 0..RUNS {
            let (spawned, ns) = spawn_join(count);
            kernel::println!("BENCH spawn_join/{count} {ns:.1}");
            kernel::println!("BENCH sleepers/{count} {:.1}", sleepers(count, spawned));
        }
    }
    kernel::println!("THREAD-BYTES {bytes}");
    kernel::println!("BENCH-DONE");
    ExitCode::SUCCESS
}

/// `count` threads running `f(i)`, on the cores in turn.
fn spawn<F>(count: usize, f: F) -> Vec<JoinHandle<()>>
where
    F: Fn(usize) + Clone + Send + 'static,
{
    let cores = thread::available_cores();
    (0..count)
        .map(|i| {
            let f = f.clone();
            Builder::new()
                .core(i % cores)
                .stack_size(STACK)
                .spawn(move || f(i))
                .expect("spawn")
        })
        .collect()
}

fn join(threads: Vec<JoinHandle<()>>) {
    for thread in threads {
        thread.join().expect("join");
    }
}

/// Spawns `count` threads that end at once, then joins them: how long spawning took, and
/// ns per thread in all.
fn spawn_join(count: usize) -> (Duration, f64) {
    let start = Instant::now();
    let threads = spawn(count, |_| ());
    let spawned = start.elapsed();
    join(threads);
    (spawned, start.elapsed().as_nanos() as f64 / count as f64)
}

/// Spawns `count` sleepers whose deadlines, 100 ns apart in shuffled order, all come after
/// the last one is spawned (`spawning` is about how long that takes), and joins them: ns
/// per thread of the time spent spawning, then waking and joining, without the wait.
fn sleepers(count: usize, spawning: Duration) -> f64 {
    let start = Instant::now();
    let first = start + 2 * spawning + Duration::from_millis(10);
    let threads = spawn(count, move |i| {
        let place = i * 7919 % count; // shuffled; distinct unless 7919 divides count
        thread::sleep_until(first + Duration::from_nanos(100 * place as u64));
    });
    let spawned = start.elapsed();
    join(threads);
    let end = Instant::now();
    let busy = if start + spawned < first {
        spawned + end.duration_since(first)
    } else {
        end.duration_since(start)
    };
    busy.as_nanos() as f64 / count as f64
}
