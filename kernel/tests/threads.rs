//! Threads, locks and channels on the fake board, with a real stack switch: two fake cores
//! that the test drives turn by turn. One test, because the kernel's state is global.

use std::sync::Arc as StdArc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hal::mock::{FakeCores, ManualClock};
use hal::trap::Fault;
use kernel::sync::{Condvar, Mutex, mpsc};
use kernel::thread::{self, ThreadError};

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
                        log.lock().push(letter);
                        thread::yield_now();
                    }
                })
            })
            .collect();
        for worker in workers {
            worker.join().unwrap();
        }
        assert_eq!(
            *log.lock(),
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
                            let mut n = count.lock();
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
        assert_eq!(*count.lock(), 800);
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
                    let guard = condvar.wait_while(ready.lock(), |ready| !*ready);
                    assert!(*guard);
                })
                .unwrap()
        };
        thread::sleep(kernel::time::Duration::from_millis(3));
        *pair.0.lock() = true;
        pair.1.notify_all();
        waiter.join().unwrap();
        let (guard, result) = pair
            .1
            .wait_timeout(pair.0.lock(), kernel::time::Duration::from_millis(2));
        assert!(result.timed_out() && *guard);
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
        let held = m.lock();
        let t = {
            let m = m.clone();
            thread::spawn(move || {
                let mut n = m.lock();
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
            thread::spawn(move || *m.lock() += 1)
        };
        t.join().unwrap();
        u.join().unwrap();
        assert_eq!(*m.lock(), 2);
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

    scenario(&cores, &clock, "faults", move || {
        let bad = thread::Builder::new()
            .name("bad")
            .spawn(move || {
                let fault = Fault {
                    vector: 0,
                    name: "divide error",
                    instruction_pointer: 0x1234,
                    stack_pointer: 0,
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
