use alloc::collections::VecDeque;
use core::cell::UnsafeCell;
use core::fmt;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicU32, Ordering};

use crate::thread::{self, Thread};

const UNLOCKED: u32 = 0;
const LOCKED: u32 = 1;
/// Locked, and threads may be waiting.
const CONTENDED: u32 = 2;

/// A lock that blocks: a thread that finds it taken parks until it is its turn, and its
/// core runs other threads meanwhile. Works across cores. There is no poisoning: a thread
/// that panics or faults while holding the lock leaves it locked (see [`crate::thread`]).
pub struct Mutex<T: ?Sized> {
    state: AtomicU32,
    waiters: spin::Mutex<VecDeque<Thread>>,
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
            state: AtomicU32::new(UNLOCKED),
            waiters: spin::Mutex::new(VecDeque::new()),
            data: UnsafeCell::new(value),
        }
    }

    /// The value, taken out of the mutex.
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Takes the lock, waiting (parked) for as long as another thread holds it.
    pub fn lock(&self) -> MutexGuard<'_, T> {
        if self
            .state
            .compare_exchange(UNLOCKED, LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_contended();
        }
        MutexGuard { mutex: self }
    }

    /// Takes the lock if nobody holds it.
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        self.state
            .compare_exchange(UNLOCKED, LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .ok()
            .map(|_| MutexGuard { mutex: self })
    }

    /// The value, through a unique reference (no locking needed).
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    fn lock_contended(&self) {
        let me = thread::try_current();
        loop {
            {
                let mut waiters = self.waiters.lock();
                // A thread woken for another reason comes back here while still queued:
                // its old entry goes, so that an unlock never wakes a thread that is not
                // waiting while the real waiter sleeps on.
                if let Some(me) = &me {
                    waiters.retain(|t| t.id() != me.id());
                }
                // Marking the lock contended while the waiter list is held means the
                // unlocker will look at the list after we are on it.
                if self.state.swap(CONTENDED, Ordering::Acquire) == UNLOCKED {
                    return;
                }
                if let Some(me) = &me {
                    waiters.push_back(me.clone());
                }
            }
            match me {
                Some(_) => thread::park(),
                // Outside a thread (a core's own loop) there is no parking: wait actively.
                None => core::hint::spin_loop(),
            }
        }
    }

    fn unlock(&self) {
        if self.state.swap(UNLOCKED, Ordering::Release) == CONTENDED {
            let next = self.waiters.lock().pop_front();
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
        match self.try_lock() {
            Some(guard) => f.debug_struct("Mutex").field("data", &&*guard).finish(),
            None => f.write_str("Mutex { <locked> }"),
        }
    }
}

/// Access to a [`Mutex`]'s value; the lock is released when it is dropped.
pub struct MutexGuard<'a, T: ?Sized> {
    mutex: &'a Mutex<T>,
}

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
