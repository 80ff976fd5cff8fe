//! Who holds a [`Mutex`](super::Mutex), and what its waiters learn when that thread fails.
//!
//! A locked mutex's state word names its owner: the address of the owning thread's record
//! (`ThreadInner`), or [`NO_THREAD`] for a core's own loop. The build aborts on panic, so
//! a thread that panics or faults never unlocks: its mutexes stay locked in its name. Its
//! [`LockHolder`] then says it failed and wakes the threads parked on those mutexes; the
//! next thread to lock one takes it over, poisoned.
//!
//! # Why an owner's address stays valid
//! A thread's record is freed when it ends, unless it still holds a lock (a failure, or a
//! forgotten guard): then it is kept for ever (`sched::exit_current`). Other threads read
//! an owner only while they hold the mutex's waiter list and the state is marked
//! contended: an owner that unlocks meanwhile must take that list before it goes on, so it
//! has not ended.
//!
//! # Who wakes whom
//! Every thread parked on a mutex is on its owner's watchers, tagged with the mutex's
//! address (a tag only, never followed):
//! - a waiter that parks puts itself there;
//! - an owner that unlocks a contended mutex takes that mutex's entries off;
//! - a thread that takes a contended mutex (from the queue, or over from a failed owner)
//!   puts every queued waiter on its own watchers;
//! - a thread that fails marks itself failed and wakes all its watchers.
//!
//! All but the last happen while the mutex's waiter list is held, so they see each other
//! whole; the last and a waiter's check of `failed` share the watchers' lock.

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::cell::Cell;
use core::sync::atomic::{AtomicBool, Ordering};

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
    /// Threads parked on a mutex this thread holds, each with that mutex's address.
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
/// (when there is one) is woken should it fail.
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

/// Puts the `waiters` queued on the mutex at `mutex` on the watchers of its new owner, the
/// current thread `me`.
///
/// # Safety
/// `me` is the current thread (from [`current`]).
pub(super) unsafe fn inherit(me: usize, mutex: usize, waiters: &VecDeque<Thread>) {
    if waiters.is_empty() {
        return;
    }
    // SAFETY: forwarded from the caller.
    if let Some(holder) = unsafe { holder(me) } {
        let mut watchers = holder.watchers.lock();
        for waiter in waiters {
            watch(&mut watchers, mutex, waiter);
        }
    }
}

/// Takes the waiters of the mutex at `mutex`, which `owner` released, off its watchers.
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
    if !watchers
        .iter()
        .any(|(tag, thread)| *tag == mutex && thread.id() == waiter.id())
    {
        watchers.push((mutex, waiter.clone()));
    }
}
