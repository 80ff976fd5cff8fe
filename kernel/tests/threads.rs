//! Threads, locks and channels on the fake board, with a real stack switch: two fake cores
//! that the test drives turn by turn. One test, because the kernel's state is global.

use std::sync::Arc as StdArc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hal::mock::{FakeCores, FakeTraps, ManualClock};
use hal::trap::Fault;
use kernel::sync::{Condvar, Mutex, OnceLock, TryLockError, mpsc};
use kernel::thread::{self, ThreadError};

kernel::cores!(hal::mock::FakeCores);

/// A general-protection fault, as a thread that fails on purpose raises it.
const GP: Fault = Fault {
    vector: 13,
    name: "general protection",
    instruction_pointer: 0x5678,
    stack_pointer: 0,
    frame_pointer: 0,
    error_code: Some(0),
    address: None,
};

/// Ends the calling thread with [`GP`].
fn fail(traps: &FakeTraps) -> ! {
    traps.raise(&GP);
    unreachable!("a fault does not return to the thread")
}

fn failed_with_gp<T: std::fmt::Debug>(result: Result<T, ThreadError>) -> bool {
    matches!(result, Err(ThreadError::Fault { vector: 13, .. }))
}

/// Runs both cores turn by turn, moving the clock 1 ms a round, until `done`.
fn run(cores: &FakeCores, clock: &ManualClock, done: &AtomicBool) {
    for _ in 0..100_000 {
        for core in 0..2 {
            cores.set_current(core);
            kernel::host_test::turn();
        }
        if done.load(Ordering::SeqCst) {
            cores.set_current(0);
            return;
        }
        clock.advance(Duration::from_millis(1));
    }
    panic!("the scenario did not finish: a thread is stuck");
}

/// Runs `scenario` as a thread on core 0 until it returns.
fn scenario(cores: &FakeCores, clock: &ManualClock, name: &str, f: impl FnOnce() + Send + 'static) {
    let done = StdArc::new(AtomicBool::new(false));
    let flag = done.clone();
    thread::Builder::new()
        .name(name)
        .core(0)
        .spawn(move || {
            f();
            flag.store(true, Ordering::SeqCst);
        })
        .expect("spawn the scenario");
    run(cores, clock, &done);
}

#[test]
fn threads_locks_channels_sleep_and_faults() {
    let board = hal::mock::board(2, 16 << 20);
    let cores = board.cores.clone();
    let clock = board.clock.clone();
    let traps = board.traps.clone();
    let guard = board.guard.clone();
    kernel::init(board);
    kernel::host_test::assume_running_cores(2);

    scenario(&cores, &clock, "join", || {
        let handles: Vec<_> = (0..10u64).map(|i| thread::spawn(move || i * i)).collect();
        let squares: Vec<u64> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(squares, (0..10).map(|i| i * i).collect::<Vec<_>>());
        assert_eq!(thread::current().name(), Some("join"));
    });

    scenario(&cores, &clock, "yield", || {
        let log = StdArc::new(Mutex::new(Vec::new()));
        let workers: Vec<_> = ['a', 'b']
            .into_iter()
            .map(|letter| {
                let log = log.clone();
                thread::spawn(move || {
                    for _ in 0..3 {
                        log.lock().unwrap().push(letter);
                        thread::yield_now();
                    }
                })
            })
            .collect();
        for worker in workers {
            worker.join().unwrap();
        }
        assert_eq!(
            *log.lock().unwrap(),
            ['a', 'b', 'a', 'b', 'a', 'b'],
            "yield takes turns on one core"
        );
    });

    scenario(&cores, &clock, "mutex", || {
        let count = StdArc::new(Mutex::new(0u64));
        let workers: Vec<_> = (0..8)
            .map(|i| {
                let count = count.clone();
                thread::Builder::new()
                    .core(i % 2)
                    .spawn(move || {
                        for _ in 0..100 {
                            let mut n = count.lock().unwrap();
                            let before = *n;
                            thread::yield_now(); // others must wait for the lock meanwhile
                            *n = before + 1;
                        }
                    })
                    .unwrap()
            })
            .collect();
        for worker in workers {
            worker.join().unwrap();
        }
        assert_eq!(*count.lock().unwrap(), 800);
    });

    scenario(&cores, &clock, "ping-pong", || {
        let (to_far, far_in) = mpsc::channel::<u32>();
        let (to_near, near_in) = mpsc::channel::<u32>();
        let far = thread::Builder::new()
            .core(1)
            .spawn(move || {
                assert_eq!(thread::current().core(), 1);
                for n in far_in.iter() {
                    to_near.send(n + 1).unwrap();
                }
            })
            .unwrap();
        let mut n = 0;
        for _ in 0..100 {
            to_far.send(n).unwrap();
            n = near_in.recv().unwrap() + 1;
        }
        assert_eq!(n, 200);
        drop(to_far);
        far.join().unwrap();
        assert_eq!(near_in.recv(), Err(mpsc::RecvError), "the far end hung up");
    });

    scenario(&cores, &clock, "condvar", || {
        let pair = StdArc::new((Mutex::new(false), Condvar::new()));
        let waiter = {
            let pair = pair.clone();
            thread::Builder::new()
                .core(1)
                .spawn(move || {
                    let (ready, condvar) = &*pair;
                    let guard = condvar
                        .wait_while(ready.lock().unwrap(), |ready| !*ready)
                        .unwrap();
                    assert!(*guard);
                })
                .unwrap()
        };
        thread::sleep(kernel::time::Duration::from_millis(3));
        *pair.0.lock().unwrap() = true;
        pair.1.notify_all();
        waiter.join().unwrap();
        let (guard, result) = pair
            .1
            .wait_timeout(
                pair.0.lock().unwrap(),
                kernel::time::Duration::from_millis(2),
            )
            .unwrap();
        assert!(result.timed_out() && *guard);
        drop(guard);

        // A waiter that timed out is passed over: notify_one wakes the one queued behind.
        let pair = StdArc::new((Mutex::new(0u32), Condvar::new()));
        let impatient = {
            let pair = pair.clone();
            thread::spawn(move || {
                let (count, condvar) = &*pair;
                let wait = kernel::time::Duration::from_millis(2);
                let (_, result) = condvar.wait_timeout(count.lock().unwrap(), wait).unwrap();
                result.timed_out()
            })
        };
        let patient = {
            let pair = pair.clone();
            thread::spawn(move || {
                let (count, condvar) = &*pair;
                *condvar
                    .wait_while(count.lock().unwrap(), |n| *n == 0)
                    .unwrap() += 1;
            })
        };
        assert_eq!(impatient.join(), Ok(true));
        *pair.0.lock().unwrap() = 1;
        pair.1.notify_one();
        patient.join().unwrap();
        assert_eq!(*pair.0.lock().unwrap(), 2);
    });

    scenario(&cores, &clock, "sleep", || {
        let start = kernel::time::Instant::now();
        thread::sleep(kernel::time::Duration::from_millis(5));
        assert!(start.elapsed() >= Duration::from_millis(5));
        let (_tx, rx) = mpsc::channel::<()>();
        assert_eq!(
            rx.recv_timeout(kernel::time::Duration::from_millis(2)),
            Err(mpsc::RecvTimeoutError::Timeout)
        );
    });

    scenario(&cores, &clock, "stale waiters", || {
        // A waiter woken for no reason must not leave an entry behind that a later unlock
        // spends on it while the real waiter sleeps on.
        let m = StdArc::new(Mutex::new(0));
        let held = m.lock().unwrap();
        let t = {
            let m = m.clone();
            thread::spawn(move || {
                let mut n = m.lock().unwrap();
                *n += 1;
                thread::yield_now(); // U queues up meanwhile
            })
        };
        thread::yield_now(); // T blocks on the lock
        t.thread().unpark(); // a wake-up for no reason
        thread::yield_now(); // T finds the lock held and queues again
        drop(held);
        let u = {
            let m = m.clone();
            thread::spawn(move || *m.lock().unwrap() += 1)
        };
        t.join().unwrap();
        u.join().unwrap();
        assert_eq!(*m.lock().unwrap(), 2);
    });

    scenario(&cores, &clock, "detached result", || {
        // The result of a thread nobody joins is dropped by that thread itself, so its
        // `Drop` may block like any application code.
        struct SlowDrop(StdArc<AtomicBool>);
        impl Drop for SlowDrop {
            fn drop(&mut self) {
                thread::sleep(kernel::time::Duration::from_millis(1));
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let dropped = StdArc::new(AtomicBool::new(false));
        let flag = dropped.clone();
        drop(thread::spawn(move || SlowDrop(flag)));
        thread::sleep(kernel::time::Duration::from_millis(5));
        assert!(dropped.load(Ordering::SeqCst));
    });

    let poison_traps = traps.clone();
    scenario(&cores, &clock, "poisoned mutex", move || {
        let traps = poison_traps;
        // The owner fails while a thread on each core is parked on the lock: both wake,
        // one after the other, each with the data and the error.
        let lock = StdArc::new(Mutex::new(1u32));
        let (held_tx, held_rx) = mpsc::channel();
        let owner = {
            let (lock, traps) = (lock.clone(), traps.clone());
            thread::Builder::new()
                .core(1)
                .spawn(move || {
                    let mut guard = lock.lock().unwrap();
                    *guard = 2;
                    held_tx.send(()).unwrap();
                    thread::sleep(kernel::time::Duration::from_millis(5)); // the waiters park
                    fail(&traps)
                })
                .unwrap()
        };
        held_rx.recv().unwrap();
        let waiters: Vec<_> = (0..2)
            .map(|core| {
                let lock = lock.clone();
                thread::Builder::new()
                    .core(core)
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
        assert!(failed_with_gp(owner.join()));
        let mut seen: Vec<_> = waiters.into_iter().map(|w| w.join().unwrap()).collect();
        seen.sort_unstable();
        assert_eq!(seen, [Some(3), Some(4)]);
        assert!(lock.is_poisoned());
        lock.clear_poison();
        assert_eq!(*lock.lock().unwrap(), 4, "a cleared lock is healthy again");

        // With many parked on the lock, its owner watches only one of them: they still all
        // wake to the poison, each handing the lock on to the next.
        let lock = StdArc::new(Mutex::new(0u32));
        let (held_tx, held_rx) = mpsc::channel();
        let owner = {
            let (lock, traps) = (lock.clone(), traps.clone());
            thread::spawn(move || {
                let _guard = lock.lock().unwrap();
                held_tx.send(()).unwrap();
                thread::sleep(kernel::time::Duration::from_millis(5)); // the waiters park
                fail(&traps)
            })
        };
        held_rx.recv().unwrap();
        let waiters: Vec<_> = (0..20)
            .map(|i| {
                let lock = lock.clone();
                thread::Builder::new()
                    .core(i % 2)
                    .spawn(move || lock.lock().map_or_else(|e| *e.into_inner() += 1, |_| ()))
                    .unwrap()
            })
            .collect();
        assert!(failed_with_gp(owner.join()));
        for waiter in waiters {
            waiter.join().unwrap();
        }
        assert_eq!(*lock.lock().unwrap_err().into_inner(), 20);

        // A thread that took the lock from the queue and then failed still wakes the one
        // queued behind it.
        let lock = StdArc::new(Mutex::new(()));
        let held = lock.lock().unwrap();
        let first = {
            let (lock, traps) = (lock.clone(), traps.clone());
            thread::spawn(move || {
                let _guard = lock.lock().unwrap();
                fail(&traps)
            })
        };
        let second = {
            let lock = lock.clone();
            thread::spawn(move || lock.lock().is_err())
        };
        thread::yield_now(); // both park behind `held`
        drop(held);
        assert!(failed_with_gp(first.join()));
        assert_eq!(second.join(), Ok(true));

        // try_lock takes a lock over from a failed owner too.
        let lock = StdArc::new(Mutex::new(5));
        let owner = {
            let (lock, traps) = (lock.clone(), traps.clone());
            thread::spawn(move || {
                let _guard = lock.lock().unwrap();
                fail(&traps)
            })
        };
        assert!(failed_with_gp(owner.join()));
        match lock.try_lock() {
            Err(TryLockError::Poisoned(poisoned)) => assert_eq!(*poisoned.into_inner(), 5),
            other => panic!("try_lock gave {other:?}"),
        }
    });

    let once_traps = traps.clone();
    scenario(&cores, &clock, "failed initialisers", move || {
        let traps = once_traps;
        // The thread that runs the initialiser fails while another waits for the value: the
        // waiter runs its own.
        let cell = StdArc::new(OnceLock::new());
        let failing = {
            let (cell, traps) = (cell.clone(), traps.clone());
            thread::spawn(move || {
                *cell.get_or_init(|| {
                    thread::yield_now(); // the other thread arrives and waits
                    fail(&traps)
                })
            })
        };
        let waiting = {
            let cell = cell.clone();
            thread::spawn(move || *cell.get_or_init(|| 7u32))
        };
        assert!(failed_with_gp(failing.join()));
        assert_eq!(waiting.join(), Ok(7));
        assert_eq!(cell.get(), Some(&7));

        // A condvar waiter whose notifier fails holding the mutex wakes to the poison.
        let pair = StdArc::new((Mutex::new(false), Condvar::new()));
        let waiter = {
            let pair = pair.clone();
            thread::spawn(move || {
                let (ready, condvar) = &*pair;
                match condvar.wait_while(ready.lock().unwrap(), |ready| !*ready) {
                    Ok(_) => None,
                    Err(poisoned) => Some(*poisoned.into_inner()),
                }
            })
        };
        thread::yield_now(); // the waiter waits
        let notifier = {
            let pair = pair.clone();
            thread::spawn(move || {
                let (ready, condvar) = &*pair;
                let mut guard = ready.lock().unwrap();
                *guard = true;
                condvar.notify_all();
                fail(&traps)
            })
        };
        assert!(failed_with_gp(notifier.join()));
        assert_eq!(waiter.join(), Ok(Some(true)));
    });

    scenario(&cores, &clock, "faults", move || {
        let bad = thread::Builder::new()
            .name("bad")
            .spawn(move || {
                let fault = Fault {
                    vector: 0,
                    name: "divide error",
                    instruction_pointer: 0x1234,
                    stack_pointer: 0,
                    frame_pointer: 0,
                    error_code: None,
                    address: None,
                };
                traps.raise(&fault);
                unreachable!("a fault does not return to the thread")
            })
            .unwrap();
        let good = thread::spawn(|| 7);
        assert!(matches!(
            bad.join(),
            Err(ThreadError::Fault {
                vector: 0,
                name: "divide error",
                ..
            })
        ));
        assert_eq!(good.join(), Ok(7));
        assert_eq!(
            thread::Builder::new().core(5).spawn(|| ()).err(),
            Some(thread::SpawnError::NoSuchCore(5))
        );
    });

    assert!(
        guard.protected().is_empty(),
        "every ended thread's guard page is released"
    );
}
