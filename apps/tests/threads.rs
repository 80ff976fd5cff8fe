//! Threads on every core: placement, cross-core messages, many spawns, sleep, contended
//! locks, and threads that fail (division by zero, a bad pointer, a stack overflow, a
//! panic) while the others go on.
//!
//! The failing threads need `unsafe` to make the CPU fault: safe Rust cannot.

#![no_std]
#![no_main]

extern crate alloc;

use alloc::string::ToString;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::hint::black_box;

use apps as _;
use kernel::process::ExitCode;
use kernel::sync::{Condvar, LazyLock, Mutex, OnceLock, PerCore, mpsc};
use kernel::testing::{self, Outcome};
use kernel::thread::{self, Builder, ThreadError};
use kernel::time::{Duration, Instant};
use kernel::{cases, check, check_eq};

kernel::main!(main);

fn main() -> ExitCode {
    testing::run(cases![
        a_thread_on_each_core,
        ping_pong_across_cores,
        ten_thousand_spawns_and_joins,
        sleep_is_accurate,
        mutex_contention_across_cores,
        condvar_hands_over_across_cores,
        once_and_lazy_initialise_once,
        per_core_data_is_per_core,
        division_by_zero_ends_only_its_thread,
        bad_pointer_ends_only_its_thread,
        stack_overflow_ends_only_its_thread,
        panic_ends_only_its_thread,
    ])
}

/// The last core, or core 0 on a one-core machine.
fn far_core() -> usize {
    thread::available_cores() - 1
}

fn a_thread_on_each_core() -> Outcome {
    let handles: Vec<_> = (0..thread::available_cores())
        .map(|core| {
            Builder::new()
                .core(core)
                .spawn(move || (core, thread::current().core()))
                .unwrap()
        })
        .collect();
    check_eq!(handles.len(), kernel::system::core_count());
    for handle in handles {
        let (wanted, ran_on) = handle.join().map_err(|e| e.to_string())?;
        check_eq!(wanted, ran_on);
    }
    Ok(())
}

fn ping_pong_across_cores() -> Outcome {
    let (to_far, far_in) = mpsc::channel::<u64>();
    let (to_near, near_in) = mpsc::channel::<u64>();
    let far = Builder::new()
        .core(far_core())
        .spawn(move || {
            for n in far_in.iter() {
                to_near.send(n + 1).unwrap();
            }
        })
        .unwrap();
    let mut n = 0;
    for _ in 0..1000 {
        to_far.send(n).unwrap();
        n = near_in.recv().unwrap() + 1;
    }
    drop(to_far);
    far.join().map_err(|e| e.to_string())?;
    check_eq!(n, 2000);
    Ok(())
}

fn ten_thousand_spawns_and_joins() -> Outcome {
    let cores = thread::available_cores();
    let mut sum = 0;
    for i in 0..10_000u64 {
        let core = i as usize % cores;
        sum += Builder::new()
            .core(core)
            .spawn(move || i)
            .unwrap()
            .join()
            .map_err(|e| e.to_string())?;
    }
    check_eq!(sum, 10_000 * 9_999 / 2);
    // Threads that ended on other cores have their stacks freed by their core a moment
    // after `join` returns; let that happen before counting.
    thread::sleep(Duration::from_millis(5));
    let before = kernel::system::heap().free;
    for _ in 0..100 {
        thread::spawn(|| ()).join().map_err(|e| e.to_string())?;
    }
    check!(
        kernel::system::heap().free == before,
        "stacks are freed when threads end"
    );
    Ok(())
}

fn sleep_is_accurate() -> Outcome {
    for ms in [1, 10, 30] {
        let wanted = Duration::from_millis(ms);
        let start = Instant::now();
        thread::sleep(wanted);
        let slept = start.elapsed();
        check!(slept >= wanted, "asked for {wanted:?}, slept {slept:?}");
        // Late only by what a loaded host may take from the virtual CPU, not by a timer
        // that waits for some later tick.
        check!(
            slept < wanted + Duration::from_millis(250),
            "asked for {wanted:?}, slept {slept:?}"
        );
    }
    // Sleepers on another core wake too, in deadline order.
    let (tx, rx) = mpsc::channel();
    let sleepers: Vec<_> = [30u64, 10, 20]
        .into_iter()
        .map(|ms| {
            let tx = tx.clone();
            Builder::new()
                .core(far_core())
                .spawn(move || {
                    thread::sleep(Duration::from_millis(ms));
                    tx.send(ms).unwrap();
                })
                .unwrap()
        })
        .collect();
    drop(tx);
    let order: Vec<u64> = rx.iter().collect();
    for sleeper in sleepers {
        sleeper.join().map_err(|e| e.to_string())?;
    }
    check_eq!(order, [10, 20, 30]);
    Ok(())
}

fn mutex_contention_across_cores() -> Outcome {
    let count = Arc::new(Mutex::new(0u64));
    let workers: Vec<_> = (0..4 * thread::available_cores())
        .map(|i| {
            let count = count.clone();
            Builder::new()
                .core(i % thread::available_cores())
                .spawn(move || {
                    for round in 0..1000 {
                        let mut n = count.lock().unwrap();
                        let before = *n;
                        if round % 10 == 0 {
                            thread::yield_now(); // the lock stays held while others run
                        }
                        *n = before + 1;
                    }
                })
                .unwrap()
        })
        .collect();
    let threads = workers.len() as u64;
    for worker in workers {
        worker.join().map_err(|e| e.to_string())?;
    }
    check_eq!(*count.lock().unwrap(), threads * 1000);
    Ok(())
}

fn condvar_hands_over_across_cores() -> Outcome {
    let state = Arc::new((Mutex::new(0u32), Condvar::new()));
    let far = {
        let state = state.clone();
        Builder::new()
            .core(far_core())
            .spawn(move || {
                let (turn, condvar) = &*state;
                for round in 0..100 {
                    let mut turn = condvar
                        .wait_while(turn.lock().unwrap(), |t| *t != 2 * round + 1)
                        .unwrap();
                    *turn += 1;
                    condvar.notify_all();
                }
            })
            .unwrap()
    };
    let (turn, condvar) = &*state;
    for round in 0..100 {
        let mut t = condvar
            .wait_while(turn.lock().unwrap(), |t| *t != 2 * round)
            .unwrap();
        *t += 1;
        condvar.notify_all();
    }
    far.join().map_err(|e| e.to_string())?;
    check_eq!(*turn.lock().unwrap(), 200);
    // A plain `wait_timeout` may end early for no reason (a wake-up left over from the
    // rounds above), as std's may: only the `_while` form promises to wait out its time.
    let (guard, result) = condvar
        .wait_timeout_while(turn.lock().unwrap(), Duration::from_millis(5), |_| true)
        .unwrap();
    check!(result.timed_out() && *guard == 200);
    Ok(())
}

static CALLS: Mutex<u32> = Mutex::new(0);
static ANSWER: LazyLock<u32> = LazyLock::new(|| {
    *CALLS.lock().unwrap() += 1;
    thread::yield_now(); // others arrive while the value is being made
    42
});

fn once_and_lazy_initialise_once() -> Outcome {
    let readers: Vec<_> = (0..8)
        .map(|i| {
            Builder::new()
                .core(i % thread::available_cores())
                .spawn(|| *ANSWER)
                .unwrap()
        })
        .collect();
    for reader in readers {
        check_eq!(reader.join().map_err(|e| e.to_string())?, 42);
    }
    check_eq!(*CALLS.lock().unwrap(), 1);
    let cell = OnceLock::new();
    check_eq!(*cell.get_or_init(|| 7), 7);
    check_eq!(*cell.get_or_init(|| 8), 7);
    Ok(())
}

static HITS: PerCore<core::sync::atomic::AtomicU64> =
    PerCore::new(|_| core::sync::atomic::AtomicU64::new(0));

fn per_core_data_is_per_core() -> Outcome {
    let cores = thread::available_cores();
    let workers: Vec<_> = (0..cores)
        .map(|core| {
            Builder::new()
                .core(core)
                .spawn(move || {
                    for _ in 0..=core {
                        HITS.get()
                            .fetch_add(1, core::sync::atomic::Ordering::Relaxed);
                    }
                })
                .unwrap()
        })
        .collect();
    for worker in workers {
        worker.join().map_err(|e| e.to_string())?;
    }
    for core in 0..cores {
        let hits = HITS
            .of(core)
            .map(|h| h.load(core::sync::atomic::Ordering::Relaxed));
        check_eq!(hits, Some(core as u64 + 1));
    }
    Ok(())
}

/// Runs `fail` in a thread on the far core while a healthy thread works beside it there,
/// and returns how the failing thread ended.
fn fails_alone(fail: fn() -> u64) -> Result<ThreadError, alloc::string::String> {
    let healthy = Builder::new()
        .core(far_core())
        .spawn(|| {
            let mut sum = 0u64;
            for i in 0..1000 {
                sum += i;
                thread::yield_now();
            }
            sum
        })
        .unwrap();
    let failing = Builder::new()
        .name("doomed")
        .core(far_core())
        .spawn(fail)
        .unwrap();
    let error = match failing.join() {
        Ok(value) => return Err(alloc::format!("the failing thread returned {value}")),
        Err(error) => error,
    };
    match healthy.join() {
        Ok(499_500) => Ok(error),
        other => Err(alloc::format!("the healthy thread ended with {other:?}")),
    }
}

fn division_by_zero_ends_only_its_thread() -> Outcome {
    let error = fails_alone(|| {
        let divisor = black_box(0u32);
        // SAFETY: none; dividing by zero faults on purpose.
        unsafe {
            core::arch::asm!("div {0:e}", in(reg) divisor, inout("eax") 1u32 => _, inout("edx") 0u32 => _)
        };
        0
    })?;
    check!(
        matches!(error, ThreadError::Fault { vector: 0, .. }),
        "{error}"
    );
    Ok(())
}

fn bad_pointer_ends_only_its_thread() -> Outcome {
    let error = fails_alone(|| {
        let pointer = black_box(0x18 as *const u64);
        // SAFETY: none; reading page 0, which is not mapped, faults on purpose.
        unsafe { core::ptr::read_volatile(pointer) }
    })?;
    check!(
        matches!(
            error,
            ThreadError::Fault {
                vector: 14,
                address: Some(0x18),
                ..
            }
        ),
        "{error}"
    );
    Ok(())
}

fn recurse(depth: u64) -> u64 {
    let frame = black_box([depth; 32]);
    if black_box(depth) == u64::MAX {
        0
    } else {
        recurse(depth + 1).wrapping_add(frame[7])
    }
}

fn stack_overflow_ends_only_its_thread() -> Outcome {
    let error = fails_alone(|| recurse(0))?;
    check!(
        matches!(error, ThreadError::StackOverflow { .. }),
        "{error}"
    );
    Ok(())
}

fn panic_ends_only_its_thread() -> Outcome {
    let error = fails_alone(|| {
        let empty: [u64; 0] = [];
        empty.iter().copied().next().expect("nothing to take")
    })?;
    check!(
        matches!(&error, ThreadError::Panicked(message) if message.contains("nothing to take")),
        "{error}"
    );
    Ok(())
}
