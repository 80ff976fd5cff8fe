//! Facts about the machine the application runs on.

use core::sync::atomic::{AtomicU64, Ordering};

use hal::cpu::Cores;
use spin::Once;

use crate::heap;
use crate::time::{Duration, Instant};

struct System {
    board: &'static str,
    memory_bytes: u64,
    cores: &'static (dyn Cores + Sync),
}

static SYSTEM: Once<System> = Once::new();
static MAIN_STARTED_NANOS: AtomicU64 = AtomicU64::new(0);

pub(crate) fn install(board: &'static str, memory_bytes: u64, cores: &'static (dyn Cores + Sync)) {
    SYSTEM.call_once(|| System {
        board,
        memory_bytes,
        cores,
    });
}

pub(crate) fn main_started() {
    let nanos = u64::try_from(Instant::now().since_boot().as_nanos()).unwrap_or(u64::MAX);
    MAIN_STARTED_NANOS.store(nanos, Ordering::Relaxed);
}

/// The board's name, such as `"microvm"`.
pub fn board() -> &'static str {
    SYSTEM.get().map_or("none", |s| s.board)
}

/// How many cores the machine has.
pub fn core_count() -> usize {
    SYSTEM.get().map_or(1, |s| s.cores.count())
}

/// The core this call runs on.
pub fn current_core() -> usize {
    crate::sched::current_core()
}

/// The usable RAM of the machine, in bytes.
pub fn memory_bytes() -> u64 {
    SYSTEM.get().map_or(0, |s| s.memory_bytes)
}

/// How the kernel heap is used.
pub fn heap() -> heap::Stats {
    heap::stats()
}

/// How long the machine took from the board's first instruction to the application's
/// `main`.
pub fn boot_time() -> Duration {
    Duration::from_nanos(MAIN_STARTED_NANOS.load(Ordering::Relaxed))
}

/// Starts the thread that prints how the heap is used every `stats=SECONDS` (a kernel
/// parameter, for load runs that read it from the console):
/// `stats: heap 812 KiB used, peak 1024 KiB, of 62000 KiB`. Without the parameter there is
/// no such thread and nothing wakes for it. Servers call it from `main`, so that an
/// application that does not links none of it.
pub fn start_stats() {
    let Some(value) = crate::env::boot_param("stats") else {
        return;
    };
    let Some(seconds) = value.parse::<u64>().ok().filter(|&s| s > 0) else {
        log::warn!("stats={value}: not a whole number of seconds from 1; no stats");
        return;
    };
    let started = crate::thread::Builder::new().name("stats").spawn(move || {
        loop {
            crate::thread::sleep(Duration::from_secs(seconds));
            let heap = heap::stats();
            crate::println!(
                "stats: heap {} KiB used, peak {} KiB, of {} KiB",
                (heap.total - heap.free) / 1024,
                heap.peak / 1024,
                heap.total / 1024
            );
        }
    });
    if let Err(error) = started {
        log::warn!("stats={value}: no thread for the stats ({error})");
    }
}
