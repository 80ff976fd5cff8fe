//! Per-socket options that std sets through `&self`: non-blocking mode and timeouts.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use core::time::Duration;

use hal::time::Instant;

use super::error::{ErrorKind, Result};

const NONE: u64 = u64::MAX;

#[derive(Debug)]
pub(super) struct Options {
    nonblocking: AtomicBool,
    /// Nanoseconds; `NONE` for no timeout.
    read_timeout: AtomicU64,
    write_timeout: AtomicU64,
}

fn store(slot: &AtomicU64, timeout: Option<Duration>) -> Result<()> {
    let nanos = match timeout {
        // As std: a zero timeout is an error, not "never wait".
        Some(Duration::ZERO) => return Err(ErrorKind::InvalidInput.into()),
        Some(d) => u64::try_from(d.as_nanos()).unwrap_or(NONE - 1),
        None => NONE,
    };
    slot.store(nanos, Ordering::Relaxed);
    Ok(())
}

fn load(slot: &AtomicU64) -> Option<Duration> {
    match slot.load(Ordering::Relaxed) {
        NONE => None,
        nanos => Some(Duration::from_nanos(nanos)),
    }
}

/// The deadline `timeout` from now.
pub(super) fn deadline(timeout: Option<Duration>) -> Option<Instant> {
    timeout.map(|t| crate::sched::machine().clock.now() + t)
}

impl Options {
    pub(super) const fn new() -> Self {
        Self {
            nonblocking: AtomicBool::new(false),
            read_timeout: AtomicU64::new(NONE),
            write_timeout: AtomicU64::new(NONE),
        }
    }

    pub(super) fn nonblocking(&self) -> bool {
        self.nonblocking.load(Ordering::Relaxed)
    }

    pub(super) fn set_nonblocking(&self, on: bool) {
        self.nonblocking.store(on, Ordering::Relaxed);
    }

    pub(super) fn read_timeout(&self) -> Option<Duration> {
        load(&self.read_timeout)
    }

    pub(super) fn write_timeout(&self) -> Option<Duration> {
        load(&self.write_timeout)
    }

    pub(super) fn set_read_timeout(&self, timeout: Option<Duration>) -> Result<()> {
        store(&self.read_timeout, timeout)
    }

    pub(super) fn set_write_timeout(&self, timeout: Option<Duration>) -> Result<()> {
        store(&self.write_timeout, timeout)
    }
}
