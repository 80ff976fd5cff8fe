//! Poisoning, as `std::sync` has it: a lock whose holder failed hands its data out wrapped in
//! a [`PoisonError`], which [`PoisonError::into_inner`] opens to recover.

use core::error::Error;
use core::fmt;

/// A lock whose holder panicked or took a CPU exception while holding it: the data may be
/// half-changed. [`into_inner`](Self::into_inner) gives the guard (or value) anyway.
pub struct PoisonError<T> {
    data: T,
}

impl<T> PoisonError<T> {
    /// Wraps what a poisoned lock hands out.
    pub fn new(data: T) -> Self {
        Self { data }
    }

    /// What the lock handed out, to go on with.
    pub fn into_inner(self) -> T {
        self.data
    }

    /// A reference to what the lock handed out.
    pub fn get_ref(&self) -> &T {
        &self.data
    }

    /// A mutable reference to what the lock handed out.
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.data
    }
}

impl<T> fmt::Debug for PoisonError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoisonError").finish_non_exhaustive()
    }
}

impl<T> fmt::Display for PoisonError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("poisoned lock: a thread failed while holding it")
    }
}

impl<T> Error for PoisonError<T> {}

/// Why [`Mutex::try_lock`](super::Mutex::try_lock) did not lock.
pub enum TryLockError<T> {
    /// The lock was free or its holder had failed, and it is poisoned: the guard is inside.
    Poisoned(PoisonError<T>),
    /// Another thread holds the lock.
    WouldBlock,
}

impl<T> From<PoisonError<T>> for TryLockError<T> {
    fn from(error: PoisonError<T>) -> Self {
        Self::Poisoned(error)
    }
}

impl<T> fmt::Debug for TryLockError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Poisoned(error) => f.debug_tuple("Poisoned").field(error).finish(),
            Self::WouldBlock => f.write_str("WouldBlock"),
        }
    }
}

impl<T> fmt::Display for TryLockError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Poisoned(error) => fmt::Display::fmt(error, f),
            Self::WouldBlock => f.write_str("the lock is held by another thread"),
        }
    }
}

impl<T> Error for TryLockError<T> {}

/// What a blocking lock returns: the guard, poisoned or not.
pub type LockResult<T> = Result<T, PoisonError<T>>;

/// What a non-blocking lock returns.
pub type TryLockResult<T> = Result<T, TryLockError<T>>;

/// `value` as a lock returns it: `Err` when the lock is poisoned.
pub(crate) fn lock_result<T>(poisoned: bool, value: T) -> LockResult<T> {
    if poisoned {
        Err(PoisonError::new(value))
    } else {
        Ok(value)
    }
}

/// `result` with its guard turned into `f(guard)`, poisoned or not.
pub(crate) fn map_result<T, U>(result: LockResult<T>, f: impl FnOnce(T) -> U) -> LockResult<U> {
    match result {
        Ok(guard) => Ok(f(guard)),
        Err(error) => Err(PoisonError::new(f(error.into_inner()))),
    }
}
