//! Locks held by threads that fail: a `Mutex` whose holder panics or faults is poisoned
//! (`lock` returns `Err(PoisonError)`, whose `into_inner` is the guard), also for threads
//! already parked on it and for a `Condvar` waiter; a `LazyLock` whose initialiser fails is
//! poisoned (later uses panic); a `OnceLock` whose initialiser fails stays empty for the
//! next one. Nothing waits for ever.
//!
//! The faulting thread needs `unsafe` to make the CPU fault: safe Rust cannot.

#![no_std]
#![no_main]

extern crate alloc;

use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::hint::black_box;
use core::sync::atomic::{AtomicBool, Ordering};

use apps as _;
use kernel::process::ExitCode;
use kernel::sync::{Condvar, LazyLock, Mutex, OnceLock, mpsc};
use kernel::testing::{self, Outcome};
use kernel::thread::{self, Builder, JoinHandle, ThreadError};
use kernel::time::Duration;
use kernel::{cases, check, check_eq};

kernel::main!(main);

fn main() -> ExitCode {
    testing::run(cases![
        panic_while_holding_a_mutex_poisons_it,
        fault_while_holding_a_mutex_poisons_it,
        threads_parked_on_the_mutex_wake_to_the_poison,
        a_condvar_waiter_wakes_to_the_poison,
        a_lazy_lock_whose_initialiser_panics_is_poisoned,
        a_once_lock_whose_initialiser_panics_stays_empty,
    ])
}

/// The last core, or core 0 on a one-core machine.
fn far_core() -> usize {
    thread::available_cores() - 1
}

/// Checks that `thread` panicked with a message that contains `text`.
fn panicked_with<T: core::fmt::Debug>(thread: JoinHandle<T>, text: &str) -> Outcome {
    match thread.join() {
        Err(ThreadError::Panicked(message)) if message.contains(text) => Ok(()),
        other => Err(alloc::format!(
            "expected a panic with {text:?}, got {other:?}"
        )),
    }
}

/// What a thread that locks `lock` finds: `Err` with the value if it is poisoned.
fn lock_and_read(lock: &Mutex<u32>) -> Result<u32, u32> {
    match lock.lock() {
        Ok(guard) => Ok(*guard),
        Err(poisoned) => Err(*poisoned.into_inner()),
    }
}

fn panic_while_holding_a_mutex_poisons_it() -> Outcome {
    let lock = Arc::new(Mutex::new(1u32));
    let holder = {
        let lock = lock.clone();
        Builder::new()
            .core(far_core())
            .spawn(move || {
                let mut guard = lock.lock().unwrap();
                *guard = 2;
                if black_box(true) {
                    panic!("gave up holding the lock");
                }
            })
            .unwrap()
    };
    panicked_with(holder, "gave up holding the lock")?;
    check!(lock.is_poisoned());
    check_eq!(lock_and_read(&lock), Err(2));
    check_eq!(lock_and_read(&lock), Err(2)); // it stays poisoned
    lock.clear_poison();
    check_eq!(lock_and_read(&lock), Ok(2));
    Ok(())
}

fn fault_while_holding_a_mutex_poisons_it() -> Outcome {
    let lock = Arc::new(Mutex::new(1u32));
    let holder = {
        let lock = lock.clone();
        Builder::new()
            .core(far_core())
            .spawn(move || {
                let mut guard = lock.lock().unwrap();
                *guard = 3;
                let pointer = black_box(core::ptr::null::<u32>());
                // SAFETY: none; reading page 0, which is not mapped, faults on purpose.
                *guard += unsafe { core::ptr::read_volatile(pointer) };
            })
            .unwrap()
    };
    let error = holder.join();
    check!(
        matches!(error, Err(ThreadError::Fault { vector: 14, .. })),
        "{error:?}"
    );
    let other = {
        let lock = lock.clone();
        thread::spawn(move || lock_and_read(&lock))
    };
    check_eq!(other.join().map_err(|e| e.to_string())?, Err(3));
    Ok(())
}

fn threads_parked_on_the_mutex_wake_to_the_poison() -> Outcome {
    let lock = Arc::new(Mutex::new(0u32));
    let (held_tx, held_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let holder = {
        let lock = lock.clone();
        Builder::new()
            .core(far_core())
            .spawn(move || {
                let _guard = lock.lock().unwrap();
                held_tx.send(()).unwrap();
                // The waiters lock meanwhile; every one of them parks.
                let _ = go_rx.recv();
                thread::sleep(Duration::from_millis(20));
                if black_box(true) {
                    panic!("failed with waiters queued");
                }
            })
            .unwrap()
    };
    held_rx.recv().map_err(|e| e.to_string())?;
    let waiters: Vec<_> = (0..2 * thread::available_cores())
        .map(|i| {
            let lock = lock.clone();
            Builder::new()
                .core(i % thread::available_cores())
                .spawn(move || match lock.lock() {
                    Ok(_) => None,
                    Err(poisoned) => {
                        let mut guard = poisoned.into_inner();
                        *guard += 1;
                        Some(*guard)
                    }
                })
                .unwrap()
        })
        .collect();
    go_tx.send(()).map_err(|e| e.to_string())?;
    panicked_with(holder, "failed with waiters queued")?;
    let mut seen = Vec::new();
    for waiter in waiters {
        seen.push(waiter.join().map_err(|e| e.to_string())?);
    }
    seen.sort_unstable();
    let expected: Vec<_> = (1..=seen.len() as u32).map(Some).collect();
    check_eq!(seen, expected);
    Ok(())
}

fn a_condvar_waiter_wakes_to_the_poison() -> Outcome {
    let pair = Arc::new((Mutex::new(false), Condvar::new()));
    let (waiting_tx, waiting_rx) = mpsc::channel();
    let waiter = {
        let pair = pair.clone();
        Builder::new()
            .core(far_core())
            .spawn(move || {
                let (ready, condvar) = &*pair;
                let guard = ready.lock().unwrap();
                waiting_tx.send(()).unwrap();
                match condvar.wait_while(guard, |ready| !*ready) {
                    Ok(_) => None,
                    Err(poisoned) => Some(*poisoned.into_inner()),
                }
            })
            .unwrap()
    };
    waiting_rx.recv().map_err(|e| e.to_string())?;
    let notifier = {
        let pair = pair.clone();
        thread::spawn(move || {
            let (ready, condvar) = &*pair;
            let mut guard = ready.lock().unwrap();
            *guard = true;
            condvar.notify_all();
            if black_box(true) {
                panic!("notified, then failed");
            }
        })
    };
    panicked_with(notifier, "notified, then failed")?;
    check_eq!(waiter.join().map_err(|e| e.to_string())?, Some(true));
    Ok(())
}

/// Set once `CONFIG`'s initialiser runs, so the waiters come after it, not before.
static CONFIG_STARTED: AtomicBool = AtomicBool::new(false);

static CONFIG: LazyLock<u32> = LazyLock::new(|| {
    CONFIG_STARTED.store(true, Ordering::Release);
    thread::sleep(Duration::from_millis(20)); // others arrive and wait meanwhile
    if black_box(true) {
        panic!("no configuration");
    }
    7
});

fn a_lazy_lock_whose_initialiser_panics_is_poisoned() -> Outcome {
    let first = Builder::new().core(far_core()).spawn(|| *CONFIG).unwrap();
    // The waiters come once the initialiser runs, however late its core starts it.
    while !CONFIG_STARTED.load(Ordering::Acquire) {
        thread::sleep(Duration::from_millis(1));
    }
    let waiting: Vec<_> = (0..thread::available_cores())
        .map(|core| Builder::new().core(core).spawn(|| *CONFIG).unwrap())
        .collect();
    panicked_with(first, "no configuration")?;
    for waiter in waiting {
        panicked_with(waiter, "LazyLock instance has previously been poisoned")?;
    }
    panicked_with(
        thread::spawn(|| *CONFIG),
        "LazyLock instance has previously been poisoned",
    )
}

fn a_once_lock_whose_initialiser_panics_stays_empty() -> Outcome {
    let cell: Arc<OnceLock<String>> = Arc::new(OnceLock::new());
    let (started, initialising) = mpsc::channel();
    let failing = {
        let cell = cell.clone();
        Builder::new()
            .core(far_core())
            .spawn(move || {
                cell.get_or_init(|| {
                    let _ = started.send(());
                    thread::sleep(Duration::from_millis(20));
                    panic!("could not make the value")
                })
                .len()
            })
            .unwrap()
    };
    // The waiter comes once the initialiser runs, however late its core starts it.
    initialising.recv().map_err(|e| e.to_string())?;
    let waiting = {
        let cell = cell.clone();
        thread::spawn(move || {
            cell.get_or_init(|| "made by the waiter".to_string())
                .clone()
        })
    };
    panicked_with(failing, "could not make the value")?;
    check_eq!(
        waiting.join().map_err(|e| e.to_string())?,
        "made by the waiter"
    );
    check_eq!(cell.get().map(String::as_str), Some("made by the waiter"));
    Ok(())
}
