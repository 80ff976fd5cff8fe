//! Time, as `std::time` has it: the monotonic [`Instant`] and the wall clock
//! [`SystemTime`], with the UTC calendar ([`DateTime`]) for formats that show dates.

#[allow(unsafe_code)] // Calls the board's wall clock through the symbol `board!` defines.
mod system;

use core::fmt;
pub use core::time::Duration;

use hal::time::Clock;
pub use hal::time::DateTime;
use spin::Once;

pub(crate) use self::system::install as install_wall_clock;
#[doc(hidden)]
pub use self::system::read as __read_wall_clock;
pub use self::system::{SystemTime, SystemTimeError, UNIX_EPOCH};

static CLOCK: Once<&'static (dyn Clock + Sync)> = Once::new();

pub(crate) fn install(clock: &'static (dyn Clock + Sync)) {
    CLOCK.call_once(|| clock);
}

/// A reading of the monotonic clock.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(hal::time::Instant);

impl Instant {
    /// Now. Before the kernel has a clock, the beginning of time.
    pub fn now() -> Self {
        Self(
            CLOCK
                .get()
                .map_or(hal::time::Instant::ZERO, |clock| clock.now()),
        )
    }

    /// The time since this instant.
    pub fn elapsed(&self) -> Duration {
        Self::now().duration_since(*self)
    }

    /// The time from `earlier` to this instant, or zero when `earlier` is later.
    pub fn duration_since(&self, earlier: Self) -> Duration {
        self.0 - earlier.0
    }

    /// The time from the board's first instruction to this instant.
    pub fn since_boot(&self) -> Duration {
        self.0 - hal::time::Instant::ZERO
    }
}

impl core::ops::Add<Duration> for Instant {
    type Output = Self;

    /// Saturates at the end of time.
    fn add(self, d: Duration) -> Self {
        Self(self.0 + d)
    }
}

impl core::ops::Sub for Instant {
    type Output = Duration;

    /// Saturates at zero.
    fn sub(self, earlier: Self) -> Duration {
        self.0 - earlier.0
    }
}

impl From<Instant> for hal::time::Instant {
    fn from(instant: Instant) -> Self {
        instant.0
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} after boot", self.since_boot())
    }
}
