//! FAT timestamps: the clock a volume stamps its entries with, and conversions between the
//! Unix time and FAT's calendar fields (1980 to 2107, two-second steps, no time zone: the
//! file layer writes and reads them as UTC).

use alloc::sync::Arc;
use core::fmt;
use core::time::Duration;

use fatfs::{Date, DateTime, Time, TimeProvider};

/// Where a volume takes the time it stamps files with: a [`Duration`] since the Unix epoch
/// (1970-01-01 00:00:00 UTC). Host tests set it by hand.
pub trait Clock: Send + Sync {
    /// The time now, since the Unix epoch.
    fn now(&self) -> Duration;
}

impl<F: Fn() -> Duration + Send + Sync> Clock for F {
    fn now(&self) -> Duration {
        self()
    }
}

/// The FAT crate's view of a [`Clock`].
#[derive(Clone)]
pub(crate) struct FatClock(pub(crate) Arc<dyn Clock>);

impl fmt::Debug for FatClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FatClock")
    }
}

impl TimeProvider for FatClock {
    fn get_current_date(&self) -> Date {
        self.get_current_date_time().date
    }

    fn get_current_date_time(&self) -> DateTime {
        to_fat(self.0.now())
    }
}

const SECONDS_PER_DAY: u64 = 86_400;
/// Days from 1970-01-01 to 1980-01-01, FAT's first day.
const FAT_FIRST_DAY: u64 = 3652;
/// Days from 1970-01-01 to 2107-12-31, FAT's last day.
const FAT_LAST_DAY: u64 = 50_402;

/// The FAT date and time of `since_epoch`, clamped to FAT's range.
pub(crate) fn to_fat(since_epoch: Duration) -> DateTime {
    let secs = since_epoch.as_secs();
    let days = secs / SECONDS_PER_DAY;
    if days < FAT_FIRST_DAY {
        return DateTime::new(Date::new(1980, 1, 1), Time::new(0, 0, 0, 0));
    }
    if days > FAT_LAST_DAY {
        return DateTime::new(Date::new(2107, 12, 31), Time::new(23, 59, 59, 0));
    }
    let (year, month, day) = civil_from_days(days);
    let of_day = secs % SECONDS_PER_DAY;
    // All in range: the day is within FAT's years, the time of day below 86400 s.
    DateTime::new(
        Date::new(year as u16, month as u16, day as u16),
        Time::new(
            (of_day / 3600) as u16,
            (of_day / 60 % 60) as u16,
            (of_day % 60) as u16,
            since_epoch.subsec_millis() as u16,
        ),
    )
}

/// The time since the Unix epoch of a FAT date and time, or `None` if a field is out of
/// range (a corrupt or never-set entry, such as an all-zero date).
pub(crate) fn from_fat(date: Date, time: Time) -> Option<Duration> {
    let days = days_from_date(date)?;
    if time.hour > 23 || time.min > 59 || time.sec > 59 || time.millis > 999 {
        return None;
    }
    let secs = days * SECONDS_PER_DAY
        + u64::from(time.hour) * 3600
        + u64::from(time.min) * 60
        + u64::from(time.sec);
    Some(Duration::from_secs(secs) + Duration::from_millis(u64::from(time.millis)))
}

/// The time since the Unix epoch of midnight on a FAT date, or `None` if it is out of range.
pub(crate) fn from_fat_date(date: Date) -> Option<Duration> {
    days_from_date(date).map(|days| Duration::from_secs(days * SECONDS_PER_DAY))
}

fn days_from_date(date: Date) -> Option<u64> {
    let (year, month, day) = (u64::from(date.year), u64::from(date.month), u64::from(date.day));
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    Some(days_from_civil(year, month, day))
}

fn is_leap(year: u64) -> bool {
    year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
}

fn days_in_month(year: u64, month: u64) -> u64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a date from 1970 on (the proleptic Gregorian calendar, with
/// years starting in March so that the leap day ends them).
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year / 400;
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    // 719468 days from 0000-03-01 to 1970-01-01.
    era * 146_097 + day_of_era - 719_468
}

/// The date `days` after 1970-01-01: (year, month, day).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let days = days + 719_468;
    let era = days / 146_097;
    let day_of_era = days - era * 146_097;
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
    let year = era * 400 + year_of_era + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use core::time::Duration;

    use fatfs::{Date, Time};

    use super::{FAT_FIRST_DAY, FAT_LAST_DAY, civil_from_days, days_from_civil, from_fat, to_fat};

    #[test]
    fn calendar_days_round_trip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(1980, 1, 1), FAT_FIRST_DAY);
        assert_eq!(days_from_civil(2107, 12, 31), FAT_LAST_DAY);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        for days in (0..60_000).step_by(7) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
    }

    #[test]
    fn fat_times_round_trip_to_two_seconds() {
        // 2026-11-27 19:53:29.250 UTC.
        let t = Duration::from_millis(1_795_809_209_250);
        let fat = to_fat(t);
        assert_eq!((fat.date.year, fat.date.month, fat.date.day), (2026, 11, 27));
        assert_eq!((fat.time.hour, fat.time.min, fat.time.sec), (19, 53, 29));
        assert_eq!(from_fat(fat.date, fat.time), Some(t));
    }

    #[test]
    fn times_outside_fat_clamp_and_bad_fields_are_none() {
        assert_eq!(to_fat(Duration::ZERO).date, Date::new(1980, 1, 1));
        assert_eq!(to_fat(Duration::MAX).date, Date::new(2107, 12, 31));
        let midnight = Time::new(0, 0, 0, 0);
        assert_eq!(from_fat(Date::new(1981, 2, 29), midnight), None);
        assert_eq!(from_fat(Date::new(1980, 2, 29), midnight).map(|d| d.as_secs() % 86_400), Some(0));
    }
}
