use core::fmt;

use super::queue::WaitQueue;
use crate::sync::poison::{self, LockResult};
use crate::sync::{Mutex, MutexGuard};
use crate::thread::{self, Thread};
use crate::time::{Duration, Instant};

/// Whether a [`Condvar::wait_timeout`] ended because its time ran out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitTimeoutResult(bool);

impl WaitTimeoutResult {
    /// Whether the time ran out.
    pub fn timed_out(&self) -> bool {
        self.0
    }
}

/// A condition variable: threads wait on it, with a [`Mutex`] released, until another
/// thread notifies them. As with `std`, a waiter can wake for no reason, so it checks its
/// condition again ([`Condvar::wait_while`] does that), and a wait returns `Err` with the
/// guard when the mutex was poisoned meanwhile. A thread that fails does not notify: a
/// waiter that counts on it to do so waits on, as with `std`.
#[derive(Default)]
pub struct Condvar {
    waiters: spin::Mutex<WaitQueue<Thread>>,
}

impl Condvar {
    /// A condition variable nobody waits on.
    pub const fn new() -> Self {
        Self {
            waiters: spin::Mutex::new(WaitQueue::new()),
        }
    }

    /// Releases `guard`'s lock, waits for a notification, and takes the lock again.
    pub fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> LockResult<MutexGuard<'a, T>> {
        let mutex = guard.mutex();
        let ticket = super::with_spin_lock_held(|| self.waiters.lock().push(thread::current()));
        drop(guard);
        thread::park();
        // Woken by a notification, the entry is gone; woken for another reason, it must go,
        // or a later notification would be spent on a thread that no longer waits.
        self.waiters.lock().cancel(&ticket);
        mutex.lock()
    }

    /// Waits while `condition` holds; stops with `Err` if the mutex is poisoned.
    pub fn wait_while<'a, T>(
        &self,
        mut guard: MutexGuard<'a, T>,
        mut condition: impl FnMut(&mut T) -> bool,
    ) -> LockResult<MutexGuard<'a, T>> {
        while condition(&mut guard) {
            guard = self.wait(guard)?;
        }
        Ok(guard)
    }

    /// As [`Condvar::wait`], for at most `timeout`.
    pub fn wait_timeout<'a, T>(
        &self,
        guard: MutexGuard<'a, T>,
        timeout: Duration,
    ) -> LockResult<(MutexGuard<'a, T>, WaitTimeoutResult)> {
        let deadline = Instant::now() + timeout;
        let mutex: &Mutex<T> = guard.mutex();
        let ticket = super::with_spin_lock_held(|| self.waiters.lock().push(thread::current()));
        drop(guard);
        crate::sched::park_until(deadline.into());
        self.waiters.lock().cancel(&ticket);
        poison::map_result(mutex.lock(), |guard| {
            (guard, WaitTimeoutResult(Instant::now() >= deadline))
        })
    }

    /// Waits while `condition` holds, for at most `timeout` in all: wakes for no reason
    /// are waited out. The result says whether the time ran out with the condition still
    /// holding.
    pub fn wait_timeout_while<'a, T>(
        &self,
        mut guard: MutexGuard<'a, T>,
        timeout: Duration,
        mut condition: impl FnMut(&mut T) -> bool,
    ) -> LockResult<(MutexGuard<'a, T>, WaitTimeoutResult)> {
        let deadline = Instant::now() + timeout;
        while condition(&mut guard) {
            let left = deadline.duration_since(Instant::now());
            if left.is_zero() {
                return Ok((guard, WaitTimeoutResult(true)));
            }
            guard = self.wait_timeout(guard, left)?.0;
        }
        Ok((guard, WaitTimeoutResult(false)))
    }

    /// Wakes one waiting thread, if any.
    pub fn notify_one(&self) {
        let next = self.waiters.lock().pop();
        if let Some(next) = next {
            next.unpark();
        }
    }

    /// Wakes every waiting thread.
    pub fn notify_all(&self) {
        let waiters = self.waiters.lock().take_all();
        for waiter in waiters {
            waiter.unpark();
        }
    }
}

impl fmt::Debug for Condvar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condvar").finish_non_exhaustive()
    }
}
