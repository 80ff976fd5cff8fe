//! Synchronisation between threads, on one core or across cores: a blocking [`Mutex`], a
//! [`Condvar`], [`mpsc`] channels, one-time initialisation ([`OnceLock`], [`LazyLock`])
//! and per-core data ([`PerCore`]).
//!
//! Waiting never spins on another thread: a thread that must wait parks, and its core
//! runs other threads or halts.
//!
//! A thread that panics or takes a CPU exception never unlocks (the build aborts on panic,
//! so no destructor runs), yet nothing waits on it for ever: a [`Mutex`] it held is
//! poisoned (the next `lock` returns `Err(PoisonError)`, as in `std`), a [`OnceLock`] whose
//! initialiser it ran stays empty for the next caller to fill, and a [`LazyLock`] whose
//! initialiser it ran is poisoned (every later use panics, as in `std`).

mod condvar;
mod handoff;
pub mod mpsc;
mod mutex;
mod once;
mod owner;
mod percore;
mod poison;
mod queue;

pub use condvar::{Condvar, WaitTimeoutResult};
pub(crate) use handoff::{Deferred, HandOff, HandOffGuard};
pub use mutex::{Mutex, MutexGuard};
pub use once::{LazyLock, OnceLock};
pub(crate) use owner::LockHolder;
pub use percore::PerCore;
pub use poison::{LockResult, PoisonError, TryLockError, TryLockResult};

/// Runs `f`, which takes one of the kernel's spin locks and may allocate under it, as
/// kernel work: should the allocation fail, the machine stops with a report, rather than
/// the thread ending with the spin lock held and every later user of the lock spinning
/// for ever.
fn with_spin_lock_held<R>(f: impl FnOnce() -> R) -> R {
    crate::sched::as_kernel(crate::sched::current_core(), f)
}
