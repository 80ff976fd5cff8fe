//! The wall clock, as `std::time::SystemTime` has it.
//!
//! The board says, through its [`WallClock`], what the Unix time was at its first
//! instruction; the kernel asks once, on the first [`SystemTime::now`], and from then on
//! adds the monotonic clock. A board with no source gives the Unix epoch at boot (and the
//! kernel says so once), so `now` is then the time since boot, counted from 1970.
//!
//! The source waits, type-erased, until then: the kernel reaches it through
//! `__novillo_wall_clock`, which [`wall_clock!`](crate::wall_clock) (called by
//! [`board!`](crate::board)) defines for the board's platform, so an application that never
//! asks for the time of day links none of the board's clock code. A host test that reads
//! the time without `board!` invokes `kernel::wall_clock!(hal::mock::MockPlatform);`.

use alloc::boxed::Box;
use core::any::Any;
use core::fmt;

use hal::board::Platform;
use hal::time::{DateTime, WallClock};
use spin::{Mutex, Once};

use crate::time::{Duration, Instant};

/// The board's source, until the first reading takes it.
static SOURCE: Mutex<Option<&'static mut (dyn Any + Send)>> = Mutex::new(None);
/// The Unix time at the board's first instruction, once read.
static AT_BOOT: Once<Duration> = Once::new();

unsafe extern "Rust" {
    /// Defined by `kernel::wall_clock!`: runs [`read`] for the board's platform.
    fn __novillo_wall_clock(source: &mut (dyn Any + Send), now: Instant) -> Option<Duration>;
}

pub(crate) fn install<P: Platform>(source: P::WallClock) {
    let mut slot = SOURCE.lock();
    if slot.is_none() {
        *slot = Some(Box::leak(Box::new(source)));
    }
}

/// Reads the wall clock of platform `P`, for the code [`wall_clock!`](crate::wall_clock)
/// generates.
#[doc(hidden)]
pub fn read<P: Platform>(source: &mut (dyn Any + Send), now: Instant) -> Option<Duration> {
    let source = source.downcast_mut::<P::WallClock>()?;
    source.unix_time_at_boot(now.into())
}

/// The Unix time at boot: read from the board's source on the first call.
fn at_boot() -> Duration {
    *AT_BOOT.call_once(|| {
        let source = SOURCE.lock().take();
        // SAFETY: `kernel::wall_clock!` defines the symbol with exactly this signature; an
        // image that asks for the time without it does not link.
        let read =
            source.and_then(|source| unsafe { __novillo_wall_clock(source, Instant::now()) });
        read.unwrap_or_else(|| {
            log::warn!(
                "no wall clock (no time= on the command line, no RTC): SystemTime counts from \
                 the Unix epoch at boot"
            );
            Duration::ZERO
        })
    })
}

/// A reading of the wall clock: UTC, from the board's source at boot plus the monotonic
/// clock since (see the module docs). Unlike [`Instant`], it may not run steadily with
/// respect to other machines' clocks; it never goes backwards on one core.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SystemTime(Duration);

/// 1970-01-01 00:00:00 UTC.
pub const UNIX_EPOCH: SystemTime = SystemTime(Duration::ZERO);

/// How much later the time [`SystemTime::duration_since`] was given is than `self`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SystemTimeError(Duration);

impl SystemTimeError {
    /// How much later the other time is.
    pub fn duration(&self) -> Duration {
        self.0
    }
}

impl fmt::Display for SystemTimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "second time provided was later than self by {:?}",
            self.0
        )
    }
}

impl core::error::Error for SystemTimeError {}

impl SystemTime {
    /// 1970-01-01 00:00:00 UTC.
    pub const UNIX_EPOCH: Self = UNIX_EPOCH;

    /// Now.
    pub fn now() -> Self {
        Self::at(Instant::now())
    }

    /// The wall time at the monotonic `instant`.
    pub fn at(instant: Instant) -> Self {
        Self(at_boot().saturating_add(instant.since_boot()))
    }

    /// The time from `earlier` to `self`; `Err` with the difference when `earlier` is later.
    pub fn duration_since(&self, earlier: Self) -> Result<Duration, SystemTimeError> {
        self.0
            .checked_sub(earlier.0)
            .ok_or_else(|| SystemTimeError(earlier.0 - self.0))
    }

    /// The time since this reading; `Err` when the clock now reads earlier.
    pub fn elapsed(&self) -> Result<Duration, SystemTimeError> {
        Self::now().duration_since(*self)
    }

    /// `self + d`, or `None` past what the type holds.
    pub fn checked_add(&self, d: Duration) -> Option<Self> {
        self.0.checked_add(d).map(Self)
    }

    /// `self - d`, or `None` before the Unix epoch.
    pub fn checked_sub(&self, d: Duration) -> Option<Self> {
        self.0.checked_sub(d).map(Self)
    }

    /// The UTC calendar date and time of day, to the second (times past 9999 read as its
    /// last second).
    pub fn date_time(&self) -> DateTime {
        DateTime::from_unix_seconds(self.0.as_secs())
    }
}

impl core::ops::Add<Duration> for SystemTime {
    type Output = Self;

    /// Panics past what the type holds, as `std`'s does.
    fn add(self, d: Duration) -> Self {
        self.checked_add(d)
            .expect("overflow when adding duration to instant")
    }
}

impl core::ops::Sub<Duration> for SystemTime {
    type Output = Self;

    /// Panics before the Unix epoch, which this type does not hold.
    fn sub(self, d: Duration) -> Self {
        self.checked_sub(d)
            .expect("overflow when subtracting duration from instant")
    }
}

impl fmt::Debug for SystemTime {
    /// The calendar time with the nanoseconds: `2026-11-27T19:53:29.250000000Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.date_time();
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z",
            c.year,
            c.month,
            c.day,
            c.hour,
            c.minute,
            c.second,
            self.0.subsec_nanos()
        )
    }
}

#[cfg(test)]
mod tests {
    use alloc::format;

    use super::{Duration, SystemTime, UNIX_EPOCH};

    #[test]
    fn arithmetic_and_differences() {
        let t = UNIX_EPOCH + Duration::from_secs(1_795_809_209);
        let later = t + Duration::from_millis(1500);
        assert_eq!(later.duration_since(t), Ok(Duration::from_millis(1500)));
        let err = t.duration_since(later).unwrap_err();
        assert_eq!(err.duration(), Duration::from_millis(1500));
        assert_eq!(
            err.to_string(),
            "second time provided was later than self by 1.5s"
        );
        assert_eq!(later.checked_sub(Duration::from_millis(1500)), Some(t));
        assert_eq!(UNIX_EPOCH.checked_sub(Duration::from_nanos(1)), None);
        assert_eq!(t.checked_add(Duration::MAX), None);
        assert_eq!(SystemTime::UNIX_EPOCH, UNIX_EPOCH);
    }

    #[test]
    fn debug_shows_the_utc_calendar() {
        let t = UNIX_EPOCH + Duration::new(1_795_809_209, 250_000_000);
        assert_eq!(format!("{t:?}"), "2026-11-27T19:53:29.250000000Z");
        assert_eq!(t.date_time().to_string(), "2026-11-27T19:53:29Z");
        assert_eq!(format!("{UNIX_EPOCH:?}"), "1970-01-01T00:00:00.000000000Z");
    }
}
