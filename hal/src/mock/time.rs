use alloc::sync::Arc;
use core::cell::RefCell;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use core::time::Duration;

use crate::time::{Clock, Instant};

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

    use super::ManualClock;
    use crate::time::{Clock, Instant};

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
}
