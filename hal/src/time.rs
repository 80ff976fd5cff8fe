//! Time: the monotonic clock, the wall clock and the civil calendar.
//!
//! Time is an input: the kernel reads it from a [`Clock`] and tests move a fake clock by
//! hand. An [`Instant`] counts nanoseconds from the board's first instruction, so the
//! kernel's first reading is also how long the board took to boot.
//!
//! The time of day comes from a [`WallClock`], which the kernel asks once, the first time
//! an application wants it, for the Unix time at the board's first instruction; from then
//! on, wall time is that plus the monotonic clock. [`DateTime`] converts between Unix
//! seconds and the UTC calendar, for devices that keep the calendar (an RTC) and for
//! formats that show it (FAT, HTTP).

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

/// Where a board learns the time of day.
///
/// # Contract
/// The kernel calls [`unix_time_at_boot`](WallClock::unix_time_at_boot) once, on the first
/// request for the wall time, on any core, with interrupts on. It may take a few
/// milliseconds (an RTC waits for its update cycle to end) but never blocks for longer.
///
/// # For board authors
/// A board without any source of the time of day returns `None`; the kernel then says so
/// once and counts from the Unix epoch.
pub trait WallClock {
    /// The Unix time (since 1970-01-01 00:00:00 UTC) at [`Instant::ZERO`], read from the
    /// board's source; `now` is the monotonic instant of this call, for a source that reads
    /// the current time. `None` when the board has no source or it gave nonsense.
    fn unix_time_at_boot(&mut self, now: Instant) -> Option<Duration>;
}

impl<T: WallClock + ?Sized> WallClock for &mut T {
    fn unix_time_at_boot(&mut self, now: Instant) -> Option<Duration> {
        T::unix_time_at_boot(self, now)
    }
}

/// Seconds in a day: the Unix clock has no leap seconds.
const DAY: u64 = 86_400;

/// A UTC date and time of day, to the second, in the proleptic Gregorian calendar, from
/// 1970-01-01 00:00:00 to 9999-12-31 23:59:59.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DateTime {
    /// 1970 to 9999.
    pub year: u16,
    /// 1 to 12.
    pub month: u8,
    /// 1 to the month's length.
    pub day: u8,
    /// 0 to 23.
    pub hour: u8,
    /// 0 to 59.
    pub minute: u8,
    /// 0 to 59.
    pub second: u8,
}

impl DateTime {
    /// The last second [`DateTime`] holds, in Unix seconds: 9999-12-31 23:59:59.
    pub const MAX_UNIX_SECONDS: u64 = 253_402_300_799;

    /// The date and time `unix_seconds` after the epoch; times past
    /// [`MAX_UNIX_SECONDS`](Self::MAX_UNIX_SECONDS) read as that last second.
    pub const fn from_unix_seconds(unix_seconds: u64) -> Self {
        let seconds = if unix_seconds > Self::MAX_UNIX_SECONDS {
            Self::MAX_UNIX_SECONDS
        } else {
            unix_seconds
        };
        let (year, month, day) = civil_from_days(seconds / DAY);
        let in_day = seconds % DAY;
        Self {
            year,
            month,
            day,
            hour: (in_day / 3600) as u8,
            minute: (in_day / 60 % 60) as u8,
            second: (in_day % 60) as u8,
        }
    }

    /// Seconds since the epoch, or `None` when a field is out of its range (a 31 April, an
    /// hour 24, a year before 1970 or after 9999).
    pub fn to_unix_seconds(&self) -> Option<u64> {
        let valid = (1970..=9999).contains(&self.year)
            && (1..=12).contains(&self.month)
            && (1..=days_in_month(self.year, self.month)).contains(&self.day)
            && self.hour < 24
            && self.minute < 60
            && self.second < 60;
        valid.then(|| {
            days_from_civil(self.year, self.month, self.day) * DAY
                + u64::from(self.hour) * 3600
                + u64::from(self.minute) * 60
                + u64::from(self.second)
        })
    }

    /// The day of the week: 0 for Sunday to 6 for Saturday.
    pub fn weekday(&self) -> u8 {
        // 1970-01-01 was a Thursday.
        ((days_from_civil(self.year, self.month, self.day) + 4) % 7) as u8
    }
}

impl core::fmt::Display for DateTime {
    /// ISO 8601 in UTC: `2026-11-27T19:53:29Z`.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

fn is_leap(year: u16) -> bool {
    year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a valid date from 1970 on. Counts in years that start on 1
/// March, so that the leap day ends a year, and in 400-year eras of 146,097 days.
fn days_from_civil(year: u16, month: u8, day: u8) -> u64 {
    let year = u64::from(year) - u64::from(month <= 2);
    let era = year / 400;
    let year_of_era = year % 400;
    let month_from_march = (u64::from(month) + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + u64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    // 719,468 days from 0000-03-01 to 1970-01-01.
    era * 146_097 + day_of_era - 719_468
}

/// The date `days` after 1970-01-01, for days up to 9999-12-31: the inverse of
/// [`days_from_civil`].
const fn civil_from_days(days: u64) -> (u16, u8, u8) {
    let days = days + 719_468;
    let era = days / 146_097;
    let day_of_era = days % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + (month <= 2) as u64;
    (year as u16, month as u8, day as u8)
}

#[cfg(test)]
mod tests {
    use core::time::Duration;

    use super::{DateTime, Instant};

    fn date(year: u16, month: u8, day: u8, hour: u8, minute: u8, second: u8) -> DateTime {
        DateTime {
            year,
            month,
            day,
            hour,
            minute,
            second,
        }
    }

    #[test]
    fn known_dates_convert_both_ways() {
        // From `date -u -d @N`.
        let known = [
            (0, date(1970, 1, 1, 0, 0, 0), 4),
            (951_782_400, date(2000, 2, 29, 0, 0, 0), 2),
            (1_709_164_800, date(2024, 2, 29, 0, 0, 0), 4),
            (1_795_809_209, date(2026, 11, 27, 19, 53, 29), 5),
            (4_107_542_399, date(2100, 2, 28, 23, 59, 59), 0),
            (4_107_542_400, date(2100, 3, 1, 0, 0, 0), 1),
            (
                DateTime::MAX_UNIX_SECONDS,
                date(9999, 12, 31, 23, 59, 59),
                5,
            ),
        ];
        for (seconds, civil, weekday) in known {
            assert_eq!(DateTime::from_unix_seconds(seconds), civil, "{seconds}");
            assert_eq!(civil.to_unix_seconds(), Some(seconds), "{civil}");
            assert_eq!(civil.weekday(), weekday, "{civil}");
        }
        assert_eq!(
            DateTime::from_unix_seconds(u64::MAX),
            date(9999, 12, 31, 23, 59, 59)
        );
        assert_eq!(
            date(2026, 11, 27, 19, 53, 29).to_string(),
            "2026-11-27T19:53:29Z"
        );
    }

    #[test]
    fn every_day_round_trips_and_follows_the_last() {
        let mut previous = DateTime::from_unix_seconds(0);
        // Every day from 1970 to past 2400, one day at a time.
        for day in 1..160_000u64 {
            let civil = DateTime::from_unix_seconds(day * 86_400);
            assert_eq!(civil.to_unix_seconds(), Some(day * 86_400), "{civil}");
            let next_day = civil.day == previous.day + 1 && civil.month == previous.month;
            let next_month = civil.day == 1 && civil.month == previous.month % 12 + 1;
            assert!(next_day || next_month, "{previous} then {civil}");
            assert_eq!(
                civil.year != previous.year,
                civil.month == 1 && civil.day == 1
            );
            previous = civil;
        }
    }

    #[test]
    fn fields_out_of_range_have_no_unix_time() {
        for bad in [
            date(1969, 12, 31, 23, 59, 59),
            date(10_000, 1, 1, 0, 0, 0),
            date(2026, 0, 1, 0, 0, 0),
            date(2026, 13, 1, 0, 0, 0),
            date(2026, 4, 31, 0, 0, 0),
            date(2026, 2, 29, 0, 0, 0),
            date(2100, 2, 29, 0, 0, 0),
            date(2026, 1, 0, 0, 0, 0),
            date(2026, 1, 1, 24, 0, 0),
            date(2026, 1, 1, 0, 60, 0),
            date(2026, 1, 1, 0, 0, 60),
        ] {
            assert_eq!(bad.to_unix_seconds(), None, "{bad:?}");
        }
        assert!(date(2000, 2, 29, 0, 0, 0).to_unix_seconds().is_some());
    }

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
