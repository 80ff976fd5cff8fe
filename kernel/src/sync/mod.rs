//! Synchronisation between threads, on one core or across cores: a blocking [`Mutex`], a
//! [`Condvar`], [`mpsc`] channels, one-time initialisation ([`OnceLock`], [`LazyLock`])
//! and per-core data ([`PerCore`]).
//!
//! Waiting never spins on another thread: a thread that must wait parks, and its core
//! runs other threads or halts.

mod condvar;
pub mod mpsc;
mod mutex;
mod once;
mod percore;

pub use condvar::{Condvar, WaitTimeoutResult};
pub use mutex::{Mutex, MutexGuard};
pub use once::{LazyLock, OnceLock};
pub use percore::PerCore;
