//! Time: the monotonic clock.
//!
//! Time is an input: the kernel reads it from a [`Clock`] and tests move a fake clock by
//! hand. An [`Instant`] counts nanoseconds from the board's first instruction, so the
//! kernel's first reading is also how long the board took to boot.

use core::ops::{Add, Sub};
use core::time::Duration;

/// A point in time: nanoseconds since the board's first instruction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(u64);

impl Instant {
    /// The board's first instruction.
    pub const ZERO: Self = Self(0);

    /// The instant `nanos` nanoseconds after the first instruction.
    pub const fn from_nanos(nanos: u64) -> Self {
        Self(nanos)
    }

    /// Nanoseconds since the first instruction.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// The time from `earlier` to `self`, or zero when `earlier` is later.
    pub const fn saturating_duration_since(self, earlier: Self) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }

    /// `self + d`, or `None` past the end of time (584 years after boot).
    pub fn checked_add(self, d: Duration) -> Option<Self> {
        let nanos = u64::try_from(d.as_nanos()).ok()?;
        self.0.checked_add(nanos).map(Self)
    }
}

impl Add<Duration> for Instant {
    type Output = Self;

    /// Saturates at the end of time rather than wrapping.
    fn add(self, d: Duration) -> Self {
        self.checked_add(d).unwrap_or(Self(u64::MAX))
    }
}

impl Sub for Instant {
    type Output = Duration;

    /// Saturates at zero: a monotonic clock never runs backwards, but two cores may read it
    /// a few nanoseconds apart.
    fn sub(self, earlier: Self) -> Duration {
        self.saturating_duration_since(earlier)
    }
}

/// The monotonic clock.
///
/// # Contract
/// `now` never blocks, never fails and never goes backwards on one core; it may be called on
/// any core and from interrupt handlers.
pub trait Clock {
    /// The current instant.
    fn now(&self) -> Instant;
}

impl<T: Clock + ?Sized> Clock for &T {
    fn now(&self) -> Instant {
        T::now(self)
    }
}

#[cfg(test)]
mod tests {
    use core::time::Duration;

    use super::Instant;

    #[test]
    fn arithmetic_saturates() {
        let t = Instant::from_nanos(1_000);
        assert_eq!((t + Duration::from_nanos(500)).as_nanos(), 1_500);
        assert_eq!(t - Instant::from_nanos(400), Duration::from_nanos(600));
        assert_eq!(Instant::from_nanos(400) - t, Duration::ZERO);
        assert_eq!((t + Duration::MAX).as_nanos(), u64::MAX);
        assert_eq!(t.checked_add(Duration::MAX), None);
    }
}
