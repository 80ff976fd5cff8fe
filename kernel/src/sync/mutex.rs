use alloc::sync::Arc;
use core::cell::UnsafeCell;
use core::fmt;
use core::marker::PhantomData;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::owner;
use super::poison::{LockResult, TryLockError, TryLockResult, lock_result};
use super::queue::{Ticket, WaitQueue};
use crate::thread::{self, Thread};

const UNLOCKED: usize = 0;
/// Set beside the owner when threads may be waiting.
const CONTENDED: usize = 1;

/// A lock that blocks: a thread that finds it taken parks until it is its turn, and its
/// core runs other threads meanwhile. Works across cores.
///
/// Poisoning is `std`'s: when a thread panics or takes a CPU exception while holding the
/// lock, the next [`lock`](Self::lock) (even of a thread already parked on it) takes the
/// lock over and returns `Err(PoisonError)`, whose
/// [`into_inner`](super::PoisonError::into_inner) is the guard; the lock stays poisoned until
/// [`clear_poison`](Self::clear_poison).
pub struct Mutex<T: ?Sized> {
    /// `UNLOCKED`, or the owner (see `owner`) with the `CONTENDED` bit.
    state: AtomicUsize,
    poisoned: AtomicBool,
    waiters: spin::Mutex<WaitQueue<Thread>>,
    data: UnsafeCell<T>,
}

// SAFETY: the lock hands out access to `data` to one thread at a time.
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}
// SAFETY: as above: `&Mutex` only gives `&mut T` under the lock.
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}

impl<T> Mutex<T> {
    /// An unlocked mutex holding `value`.
    pub const fn new(value: T) -> Self {
        Self {
            state: AtomicUsize::new(UNLOCKED),
            poisoned: AtomicBool::new(false),
            waiters: spin::Mutex::new(WaitQueue::new()),
            data: UnsafeCell::new(value),
        }
    }

    /// The value, taken out of the mutex; `Err` with the value if it is poisoned.
    pub fn into_inner(self) -> LockResult<T> {
        let poisoned = self.is_poisoned();
        lock_result(poisoned, self.data.into_inner())
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Takes the lock, waiting (parked) for as long as another thread holds it. `Err` holds
    /// the guard when the lock is poisoned.
    pub fn lock(&self) -> LockResult<MutexGuard<'_, T>> {
        let me = owner::current();
        if self
            .state
            .compare_exchange(UNLOCKED, me, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_contended(me);
        }
        self.guard(me)
    }

    /// Takes the lock if nobody holds it, or if the thread that held it failed.
    pub fn try_lock(&self) -> TryLockResult<MutexGuard<'_, T>> {
        let me = owner::current();
        let taken = self
            .state
            .compare_exchange(UNLOCKED, me, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
            || super::with_spin_lock_held(|| self.claim(me, None, None, &mut self.waiters.lock()));
        if taken {
            Ok(self.guard(me)?)
        } else {
            Err(TryLockError::WouldBlock)
        }
    }

    /// Whether the lock is poisoned: a thread failed while holding it.
    pub fn is_poisoned(&self) -> bool {
        self.poisoned.load(Ordering::Relaxed) || self.owner_failed()
    }

    /// Makes a poisoned lock healthy again (a lock its failed holder still holds is taken
    /// over and released first).
    pub fn clear_poison(&self) {
        drop(self.try_lock());
        self.poisoned.store(false, Ordering::Relaxed);
    }

    /// The value, through a unique reference (no locking needed); `Err` with it if the lock
    /// is poisoned.
    pub fn get_mut(&mut self) -> LockResult<&mut T> {
        let poisoned = self.is_poisoned();
        lock_result(poisoned, self.data.get_mut())
    }

    /// The address that tags this mutex in its owner's watchers.
    fn tag(&self) -> usize {
        core::ptr::from_ref(&self.state) as usize
    }

    fn guard(&self, me: usize) -> LockResult<MutexGuard<'_, T>> {
        // SAFETY: `me` came from `owner::current` in this call.
        unsafe { owner::acquired(me) };
        let guard = MutexGuard {
            mutex: self,
            _not_send: PhantomData,
        };
        lock_result(self.poisoned.load(Ordering::Relaxed), guard)
    }

    // Out of line, so that the uncontended `lock` stays a few instructions.
    #[cold]
    fn lock_contended(&self, me: usize) {
        let current = thread::try_current();
        // This thread's entry in the queue. A thread woken for another reason comes back
        // here while still queued, and keeps its place.
        let mut ticket: Option<Arc<Ticket<Thread>>> = None;
        loop {
            let claimed = super::with_spin_lock_held(|| {
                let mut waiters = self.waiters.lock();
                if self.claim(me, current.as_ref(), ticket.as_deref(), &mut waiters) {
                    return true;
                }
                if let Some(current) = &current
                    && !ticket.as_ref().is_some_and(|ticket| waiters.holds(ticket))
                {
                    ticket = Some(waiters.push(current.clone()));
                }
                false
            });
            if claimed {
                return;
            }
            match current {
                Some(_) => thread::park(),
                // Outside a thread (a core's own loop) there is no parking: wait actively.
                None => core::hint::spin_loop(),
            }
        }
    }

    /// With the waiter list held: takes the lock for `me` if it is free or its owner
    /// failed (poisoned, then) and says whether it did, taking `ticket` (`me`'s place in
    /// the queue, if it has one) out of the queue; else marks it contended and, if
    /// `waiter` is given, has the owner's failure wake it.
    fn claim(
        &self,
        me: usize,
        waiter: Option<&Thread>,
        ticket: Option<&Ticket<Thread>>,
        waiters: &mut WaitQueue<Thread>,
    ) -> bool {
        loop {
            let state = self.state.load(Ordering::Acquire);
            if state == UNLOCKED {
                // Contended, as the queue may hold others: the unlock must look at it.
                if self
                    .state
                    .compare_exchange(
                        UNLOCKED,
                        me | CONTENDED,
                        Ordering::Acquire,
                        Ordering::Relaxed,
                    )
                    .is_err()
                {
                    continue;
                }
            } else {
                if state & CONTENDED == 0
                    && self
                        .state
                        .compare_exchange(
                            state,
                            state | CONTENDED,
                            Ordering::Acquire,
                            Ordering::Relaxed,
                        )
                        .is_err()
                {
                    continue;
                }
                // SAFETY: the waiter list is held and the state is contended in the owner's
                // name, as `owner::failed_or_watch` requires.
                if !unsafe { owner::failed_or_watch(state & !CONTENDED, self.tag(), waiter) } {
                    return false;
                }
                // Its owner will never unlock it, and no one else changes a locked state.
                self.state.store(me | CONTENDED, Ordering::Release);
                self.poisoned.store(true, Ordering::Relaxed);
            }
            if let Some(ticket) = ticket {
                waiters.cancel(ticket);
            }
            // SAFETY: `me` came from `owner::current` in this call.
            unsafe { owner::inherit(me, self.tag(), waiters) };
            return true;
        }
    }

    /// Whether the thread holding the lock failed.
    fn owner_failed(&self) -> bool {
        let _waiters = self.waiters.lock();
        loop {
            let state = self.state.load(Ordering::Acquire);
            if state == UNLOCKED {
                return false;
            }
            if state & CONTENDED != 0
                || self
                    .state
                    .compare_exchange(
                        state,
                        state | CONTENDED,
                        Ordering::Acquire,
                        Ordering::Relaxed,
                    )
                    .is_ok()
            {
                // SAFETY: as in `claim`.
                return unsafe { owner::failed_or_watch(state & !CONTENDED, self.tag(), None) };
            }
        }
    }

    fn unlock(&self) {
        let state = self.state.swap(UNLOCKED, Ordering::Release);
        let owner = state & !CONTENDED;
        // SAFETY: the owner is the current thread: a guard is not `Send`, so it is dropped
        // by the thread that locked.
        unsafe { owner::released(owner) };
        if state & CONTENDED != 0 {
            let next = {
                let mut waiters = self.waiters.lock();
                // SAFETY: as above.
                unsafe { owner::unwatch(owner, self.tag()) };
                waiters.pop()
            };
            if let Some(next) = next {
                next.unpark();
            }
        }
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Self::new(T::default())
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("Mutex");
        match self.try_lock() {
            Ok(guard) => out.field("data", &&*guard),
            Err(TryLockError::Poisoned(error)) => out.field("data", &&**error.get_ref()),
            Err(TryLockError::WouldBlock) => out.field("data", &format_args!("<locked>")),
        };
        out.field("poisoned", &self.poisoned.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// Access to a [`Mutex`]'s value; the lock is released when it is dropped. Not `Send`: the
/// thread that locked is the one that unlocks.
pub struct MutexGuard<'a, T: ?Sized> {
    mutex: &'a Mutex<T>,
    _not_send: PhantomData<*const ()>,
}

// SAFETY: a shared guard only gives `&T`.
unsafe impl<T: ?Sized + Sync> Sync for MutexGuard<'_, T> {}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    /// The mutex this guard locks, for [`Condvar`](crate::sync::Condvar).
    pub(crate) fn mutex(&self) -> &'a Mutex<T> {
        self.mutex
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock.
        unsafe { &*self.mutex.data.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the lock, and `&mut self` makes this access unique.
        unsafe { &mut *self.mutex.data.get() }
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        self.mutex.unlock();
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
