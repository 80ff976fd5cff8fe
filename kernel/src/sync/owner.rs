//! Who holds a [`Mutex`](super::Mutex), and what its waiters learn when that thread fails.
//!
//! A locked mutex's state word names its owner: the address of the owning thread's record
//! (`ThreadInner`), or [`NO_THREAD`] for a core's own loop. The build aborts on panic, so
//! a thread that panics or faults never unlocks: its mutexes stay locked in its name. Its
//! [`LockHolder`] then says it failed and wakes a thread parked on each of those mutexes;
//! the next thread to lock one takes it over, poisoned.
//!
//! # Why an owner's address stays valid
//! A thread's record is freed when it ends, unless it still holds a lock (a failure, or a
//! forgotten guard): then it is kept for ever (`sched::exit_current`). Other threads read
//! an owner only while they hold the mutex's waiter list and the state is marked
//! contended: an owner that unlocks meanwhile must take that list before it goes on, so it
//! has not ended.
//!
//! # Who wakes whom
//! A thread holding a contended mutex watches one of the threads parked on it, tagged with
//! the mutex's address (a tag only, never followed); should it fail, that waiter wakes,
//! takes the mutex over, poisoned, and hands it on to the next as it unlocks, so every
//! waiter wakes to the poison in turn. One watched waiter per mutex keeps each step O(1)
//! (in the mutexes a thread holds), however many threads wait:
//! - a waiter that parks is watched, unless another waiter of that mutex is;
//! - an owner that unlocks a contended mutex stops watching it (its waiter leaves the
//!   queue then, or has left: a queued waiter leaves only when it is handed the lock or
//!   takes it);
//! - a thread that takes a contended mutex (from the queue, or over from a failed owner)
//!   watches the waiter at the front of its queue;
//! - a thread that fails marks itself failed and wakes the waiters it watches.
//!
//! All but the last happen while the mutex's waiter list is held, so they see each other
//! whole; the last and a waiter's check of `failed` share the watchers' lock.

use alloc::vec::Vec;
use core::cell::Cell;
use core::sync::atomic::{AtomicBool, Ordering};

use super::queue::WaitQueue;
use crate::sched::{self, ThreadInner};
use crate::thread::Thread;

/// The owner recorded for a lock taken outside any thread (a core's own loop), which never
/// fails: neither 0 (unlocked) nor an address (records are 8-byte aligned), with bit 0 (the
/// contended mark) clear.
pub(super) const NO_THREAD: usize = 0b10;

// Owner addresses leave bits 0 and 1 free for the contended mark and `NO_THREAD`.
const _: () = assert!(align_of::<ThreadInner>() >= 4);

/// What a thread's record keeps about the locks it holds.
pub(crate) struct LockHolder {
    /// How many it holds; used by the thread itself only.
    held: Cell<usize>,
    failed: AtomicBool,
    /// A thread parked on each contended mutex this thread holds, with that mutex's
    /// address.
    watchers: spin::Mutex<Vec<(usize, Thread)>>,
}

// SAFETY: `held` is used only by its own thread (a guard is not `Send`, so a lock is
// released by the thread that took it); `failed` is atomic and `watchers` locked.
unsafe impl Sync for LockHolder {}

impl LockHolder {
    pub(crate) const fn new() -> Self {
        Self {
            held: Cell::new(0),
            failed: AtomicBool::new(false),
            watchers: spin::Mutex::new(Vec::new()),
        }
    }

    /// Whether the thread holds a lock; asked by the thread itself as it ends.
    pub(crate) fn holds_any(&self) -> bool {
        self.held.get() > 0
    }

    /// Marks the thread as failed and wakes the threads parked on the mutexes it holds.
    pub(crate) fn fail(&self) {
        let watchers = {
            let mut watchers = self.watchers.lock();
            self.failed.store(true, Ordering::Release);
            core::mem::take(&mut *watchers)
        };
        for (_, waiter) in watchers {
            waiter.unpark();
        }
    }
}

/// The owner to record for a lock the calling code takes.
pub(super) fn current() -> usize {
    let thread = sched::current_ptr();
    if thread.is_null() {
        NO_THREAD
    } else {
        thread as usize
    }
}

/// The lock record of the thread `owner` names, if it names one.
///
/// # Safety
/// `owner` came from [`current`], and that thread is the caller or is alive or kept, as
/// the module docs say.
unsafe fn holder<'a>(owner: usize) -> Option<&'a LockHolder> {
    if owner == NO_THREAD || owner == 0 {
        return None;
    }
    // SAFETY: per the contract, `owner` is the address of a thread record still in memory.
    Some(unsafe { &(*(owner as *const ThreadInner)).locks })
}

/// Counts a lock that the current thread, `me`, took.
///
/// # Safety
/// `me` is the current thread (from [`current`]).
pub(super) unsafe fn acquired(me: usize) {
    // SAFETY: forwarded from the caller.
    if let Some(holder) = unsafe { holder(me) } {
        holder.held.set(holder.held.get() + 1);
    }
}

/// Counts a lock that `owner` released.
///
/// # Safety
/// `owner` is the current thread (from [`current`]).
pub(super) unsafe fn released(owner: usize) {
    // SAFETY: forwarded from the caller.
    if let Some(holder) = unsafe { holder(owner) } {
        holder.held.set(holder.held.get().saturating_sub(1));
    }
}

/// Whether `owner`, which holds the mutex at address `mutex`, failed; if not, `waiter`
/// (when there is one) is woken should it fail, unless another waiter of that mutex is.
///
/// # Safety
/// As for [`holder`]: the caller holds the mutex's waiter list, with the state marked
/// contended in `owner`'s name.
pub(super) unsafe fn failed_or_watch(owner: usize, mutex: usize, waiter: Option<&Thread>) -> bool {
    // SAFETY: forwarded from the caller.
    let Some(holder) = (unsafe { holder(owner) }) else {
        return false;
    };
    let mut watchers = holder.watchers.lock();
    if holder.failed.load(Ordering::Acquire) {
        return true;
    }
    if let Some(waiter) = waiter {
        watch(&mut watchers, mutex, waiter);
    }
    false
}

/// Has the current thread `me`, the new owner of the mutex at `mutex`, watch the first of
/// its `waiters`.
///
/// # Safety
/// `me` is the current thread (from [`current`]).
pub(super) unsafe fn inherit(me: usize, mutex: usize, waiters: &mut WaitQueue<Thread>) {
    let Some(first) = waiters.first() else {
        return;
    };
    // SAFETY: forwarded from the caller.
    if let Some(holder) = unsafe { holder(me) } {
        watch(&mut holder.watchers.lock(), mutex, first);
    }
}

/// Stops `owner` watching the waiter of the mutex at `mutex`, which it released.
///
/// # Safety
/// `owner` is the current thread (from [`current`]).
pub(super) unsafe fn unwatch(owner: usize, mutex: usize) {
    // SAFETY: forwarded from the caller.
    if let Some(holder) = unsafe { holder(owner) } {
        holder.watchers.lock().retain(|(tag, _)| *tag != mutex);
    }
}

fn watch(watchers: &mut Vec<(usize, Thread)>, mutex: usize, waiter: &Thread) {
    if !watchers.iter().any(|(tag, _)| *tag == mutex) {
        watchers.push((mutex, waiter.clone()));
    }
}
