//! A lock that threads and a core's bottom half share, where the bottom half never waits.
//!
//! [`HandOff`] is a [`Mutex`] (a thread that finds it taken parks) plus one flag, "work
//! asked for". A bottom half runs in a core's loop: it may not park, and spinning on a
//! holder that the host has descheduled stalls its core. So [`HandOff::serve`] never
//! waits: it raises the flag and tries the lock once; if the lock is taken, its holder does
//! the work ([`Deferred::deferred`]) before it lets go.
//!
//! # Why no request is lost
//! - `serve` raises the flag, then (a `SeqCst` fence) tries the lock; if it gets it, it
//!   lets go as below.
//! - Letting go (dropping a [`HandOffGuard`]): while the flag is up, take it down and do
//!   the work; unlock; then (a `SeqCst` fence) look at the flag once more, and if it is up,
//!   try the lock again and start over; if that try fails, another holder has the lock.
//!
//! A flag raised before the holder's last look under the lock is taken down by it, and the
//! work runs after that. A flag raised after that look: the two fences order the
//! requester's "raise, then try" against the holder's "unlock, then look", so either the
//! requester's try finds the lock free (it takes it and does the work itself) or the
//! holder's look finds the flag up (it tries again). Whoever then fails to take the lock
//! lost it to a third holder, which finds the flag up as it lets go. Both may happen: the
//! work then runs once more than asked, never zero times.

use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicBool, Ordering, fence};

use super::mutex::{Mutex, MutexGuard};
use super::poison::{PoisonError, TryLockError};

/// What a [`HandOff`]'s value does when a bottom half asks ([`HandOff::serve`]).
pub(crate) trait Deferred {
    /// Runs under the lock, once for each time the flag was found up.
    fn deferred(&mut self);
}

/// A lock whose bottom half never waits: see the [module docs](self).
///
/// A thread that failed while holding it leaves it locked; the next [`lock`](Self::lock)
/// takes it over and goes on with the value as that thread left it (a lock shared with a
/// bottom half has no caller to report the poison to).
pub(crate) struct HandOff<T: Deferred> {
    mutex: Mutex<T>,
    /// Work asked for, to be done by whoever holds the lock before it lets go.
    asked: AtomicBool,
}

impl<T: Deferred> HandOff<T> {
    pub(crate) const fn new(value: T) -> Self {
        Self {
            mutex: Mutex::new(value),
            asked: AtomicBool::new(false),
        }
    }

    /// Takes the lock, parking while another thread holds it (spinning outside a thread).
    pub(crate) fn lock(&self) -> HandOffGuard<'_, T> {
        HandOffGuard {
            lock: self,
            guard: Some(self.mutex.lock().unwrap_or_else(PoisonError::into_inner)),
        }
    }

    /// Has [`Deferred::deferred`] run: now, if the lock is free; else by its holder before
    /// it lets go. Never waits for the lock.
    pub(crate) fn serve(&self) {
        self.asked.store(true, Ordering::Release);
        fence(Ordering::SeqCst);
        if let Some(guard) = self.try_take() {
            drop(HandOffGuard {
                lock: self,
                guard: Some(guard),
            });
        }
    }

    fn try_take(&self) -> Option<MutexGuard<'_, T>> {
        match self.mutex.try_lock() {
            Ok(guard) => Some(guard),
            Err(TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        }
    }
}

/// Access to a [`HandOff`]'s value; letting go does the work asked for meanwhile.
pub(crate) struct HandOffGuard<'a, T: Deferred> {
    lock: &'a HandOff<T>,
    /// `None` only while it is dropped.
    guard: Option<MutexGuard<'a, T>>,
}

impl<T: Deferred> Deref for HandOffGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.guard.as_deref().unwrap_or_else(|| unreachable!())
    }
}

impl<T: Deferred> DerefMut for HandOffGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.guard.as_deref_mut().unwrap_or_else(|| unreachable!())
    }
}

impl<T: Deferred> Drop for HandOffGuard<'_, T> {
    fn drop(&mut self) {
        let Some(mut guard) = self.guard.take() else {
            return;
        };
        loop {
            if self.lock.asked.swap(false, Ordering::Acquire) {
                guard.deferred();
                continue;
            }
            drop(guard);
            fence(Ordering::SeqCst);
            if !self.lock.asked.load(Ordering::Relaxed) {
                return;
            }
            match self.lock.try_take() {
                Some(again) => guard = again,
                None => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use alloc::sync::Arc;
    use alloc::vec::Vec;
    use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use super::{Deferred, HandOff};

    /// Counts its deferred runs, and the requests a test made that it has seen.
    #[derive(Default)]
    struct Counter {
        runs: usize,
        /// Requests made before the latest run began: each must be served by a run.
        seen: usize,
        asked: Option<Arc<AtomicUsize>>,
    }

    impl Deferred for Counter {
        fn deferred(&mut self) {
            self.runs += 1;
            if let Some(asked) = &self.asked {
                self.seen = asked.load(Ordering::SeqCst);
            }
        }
    }

    #[test]
    fn serve_runs_the_work_at_once_when_the_lock_is_free() {
        let lock = HandOff::new(Counter::default());
        lock.serve();
        assert_eq!(lock.lock().runs, 1);
        // Letting go with nothing asked runs nothing more.
        assert_eq!(lock.lock().runs, 1);
    }

    #[test]
    fn serve_while_held_leaves_the_work_to_the_holder() {
        let lock = HandOff::new(Counter::default());
        let mut held = lock.lock();
        lock.serve();
        lock.serve();
        assert_eq!(
            held.runs, 0,
            "serve must not wait for, nor take, a held lock"
        );
        held.runs += 10;
        drop(held);
        // Two requests while held: one run serves both.
        assert_eq!(lock.lock().runs, 11);
    }

    #[test]
    fn no_request_is_lost_between_threads() {
        const REQUESTS: usize = 20_000;
        let asked = Arc::new(AtomicUsize::new(0));
        let done = Arc::new(AtomicBool::new(false));
        let lock = Arc::new(HandOff::new(Counter {
            asked: Some(asked.clone()),
            ..Counter::default()
        }));
        let holders: Vec<_> = (0..2)
            .map(|_| {
                let (lock, done) = (lock.clone(), done.clone());
                std::thread::spawn(move || {
                    while !done.load(Ordering::SeqCst) {
                        drop(lock.lock());
                    }
                })
            })
            .collect();
        for _ in 0..REQUESTS {
            asked.fetch_add(1, Ordering::SeqCst);
            lock.serve();
        }
        done.store(true, Ordering::SeqCst);
        for holder in holders {
            holder.join().unwrap();
        }
        // Nobody lets go between the last request and this look: the last request was served
        // by a run that began after it, by a holder or by `serve` itself.
        let counter = lock.lock();
        assert_eq!(counter.seen, REQUESTS, "a request was never served");
    }
}
