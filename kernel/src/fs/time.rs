//! FAT timestamps: the clock a volume stamps its entries with, and conversions between the
//! Unix time and FAT's calendar fields (1980 to 2107, two-second steps, no time zone: the
//! file layer writes and reads them as UTC).

use alloc::sync::Arc;
use core::fmt;
use core::time::Duration;

use fatfs::{Date, DateTime, Time, TimeProvider};
use hal::time::DateTime as CivilTime;

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

/// 1980-01-01 00:00:00 UTC, FAT's first second, in Unix seconds.
const FAT_FIRST: u64 = 315_532_800;
/// 2107-12-31 23:59:59 UTC, FAT's last second, in Unix seconds.
const FAT_LAST: u64 = 4_354_819_199;

/// The FAT date and time of `since_epoch`, clamped to FAT's range.
pub(crate) fn to_fat(since_epoch: Duration) -> DateTime {
    let secs = since_epoch.as_secs().clamp(FAT_FIRST, FAT_LAST);
    let millis = if since_epoch.as_secs() == secs {
        since_epoch.subsec_millis() as u16
    } else {
        0
    };
    let civil = CivilTime::from_unix_seconds(secs);
    // All in range: the year is within FAT's, the other fields within theirs.
    DateTime::new(
        Date::new(civil.year, u16::from(civil.month), u16::from(civil.day)),
        Time::new(
            u16::from(civil.hour),
            u16::from(civil.minute),
            u16::from(civil.second),
            millis,
        ),
    )
}

/// The time since the Unix epoch of a FAT date and time, or `None` if a field is out of
/// range (a corrupt or never-set entry, such as an all-zero date).
pub(crate) fn from_fat(date: Date, time: Time) -> Option<Duration> {
    if time.millis > 999 {
        return None;
    }
    let civil = CivilTime {
        year: date.year,
        month: u8::try_from(date.month).ok()?,
        day: u8::try_from(date.day).ok()?,
        hour: u8::try_from(time.hour).ok()?,
        minute: u8::try_from(time.min).ok()?,
        second: u8::try_from(time.sec).ok()?,
    };
    let secs = civil.to_unix_seconds()?;
    Some(Duration::from_secs(secs) + Duration::from_millis(u64::from(time.millis)))
}

/// The time since the Unix epoch of midnight on a FAT date, or `None` if it is out of range.
pub(crate) fn from_fat_date(date: Date) -> Option<Duration> {
    from_fat(date, Time::new(0, 0, 0, 0))
}

#[cfg(test)]
mod tests {
    use core::time::Duration;

    use fatfs::{Date, Time};

    use super::{from_fat, from_fat_date, to_fat};

    #[test]
    fn fat_times_round_trip_to_two_seconds() {
        // 2026-11-27 19:53:29.250 UTC.
        let t = Duration::from_millis(1_795_809_209_250);
        let fat = to_fat(t);
        assert_eq!(
            (fat.date.year, fat.date.month, fat.date.day),
            (2026, 11, 27)
        );
        assert_eq!((fat.time.hour, fat.time.min, fat.time.sec), (19, 53, 29));
        assert_eq!(from_fat(fat.date, fat.time), Some(t));
    }

    #[test]
    fn times_outside_fat_clamp_and_bad_fields_are_none() {
        assert_eq!(to_fat(Duration::ZERO).date, Date::new(1980, 1, 1));
        assert_eq!(to_fat(Duration::MAX).date, Date::new(2107, 12, 31));
        let midnight = Time::new(0, 0, 0, 0);
        assert_eq!(from_fat(Date::new(1981, 2, 29), midnight), None);
        assert_eq!(
            from_fat(Date::new(1980, 2, 29), midnight).map(|d| d.as_secs() % 86_400),
            Some(0)
        );
        assert_eq!(
            from_fat_date(Date::new(1980, 1, 1)),
            Some(Duration::from_secs(315_532_800))
        );
        assert_eq!(
            to_fat(Duration::from_secs(4_354_819_199)).date,
            Date::new(2107, 12, 31)
        );
    }
}
