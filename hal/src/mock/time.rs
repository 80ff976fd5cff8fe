use alloc::sync::Arc;
use core::cell::RefCell;
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use core::time::Duration;

use crate::time::{Clock, Instant, WallClock};

/// A clock that moves only when the test says so. Clones share one time.
#[derive(Clone, Debug, Default)]
pub struct ManualClock {
    nanos: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock standing at [`Instant::ZERO`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the clock forward by `d`.
    pub fn advance(&self, d: Duration) {
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.nanos.fetch_add(nanos, Ordering::SeqCst);
    }

    /// Moves the clock to `t`, if `t` is later than now.
    pub fn advance_to(&self, t: Instant) {
        self.nanos.fetch_max(t.as_nanos(), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        Instant::from_nanos(self.nanos.load(Ordering::SeqCst))
    }
}

/// A wall clock that answers what the test says and counts how often it was asked. Clones
/// share one count.
#[derive(Clone, Debug, Default)]
pub struct FakeWallClock {
    at_boot: Option<Duration>,
    reads: Arc<AtomicUsize>,
}

impl FakeWallClock {
    /// A clock that says the Unix time at boot was `at_boot` (`None`: it has no source).
    pub fn new(at_boot: Option<Duration>) -> Self {
        Self {
            at_boot,
            reads: Arc::default(),
        }
    }

    /// How many times it was read.
    pub fn reads(&self) -> usize {
        self.reads.load(Ordering::SeqCst)
    }
}

impl WallClock for FakeWallClock {
    fn unix_time_at_boot(&mut self, _now: Instant) -> Option<Duration> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.at_boot
    }
}

/// A value behind a tiny spin lock: the fakes are shared between a test and the code under
/// test, possibly on two host threads, and `hal` has no `std::sync`.
#[derive(Debug, Default)]
pub(crate) struct Shared<T> {
    locked: AtomicBool,
    value: RefCell<T>,
}

// SAFETY: `value` is only reached through `with`, which holds `locked` for the whole borrow,
// so no two threads touch it at once.
unsafe impl<T: Send> Sync for Shared<T> {}

impl<T> Shared<T> {
    pub(crate) fn new(value: T) -> Self {
        Self {
            locked: AtomicBool::new(false),
            value: RefCell::new(value),
        }
    }

    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        while self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            core::hint::spin_loop();
        }
        let _unlock = Unlock(&self.locked);
        f(&mut self.value.borrow_mut())
    }
}

/// Releases a [`Shared`] lock even when the closure panics (a failing assertion in a test).
struct Unlock<'a>(&'a AtomicBool);

impl Drop for Unlock<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use core::time::Duration;

    use super::{FakeWallClock, ManualClock};
    use crate::time::{Clock, Instant, WallClock};

    #[test]
    fn moves_only_forward_and_only_when_told() {
        let clock = ManualClock::new();
        let other = clock.clone();
        assert_eq!(clock.now(), Instant::ZERO);
        clock.advance(Duration::from_micros(3));
        assert_eq!(other.now().as_nanos(), 3_000);
        other.advance_to(Instant::from_nanos(1_000));
        assert_eq!(clock.now().as_nanos(), 3_000);
        other.advance_to(Instant::from_nanos(9_000));
        assert_eq!(clock.now().as_nanos(), 9_000);
    }

    #[test]
    fn wall_clock_counts_its_reads() {
        let mut wall = FakeWallClock::new(Some(Duration::from_secs(7)));
        let seen = wall.clone();
        assert_eq!(
            wall.unix_time_at_boot(Instant::ZERO),
            Some(Duration::from_secs(7))
        );
        assert_eq!(seen.reads(), 1);
        assert_eq!(
            FakeWallClock::new(None).unix_time_at_boot(Instant::ZERO),
            None
        );
    }
}
