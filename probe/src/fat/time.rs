//! FAT timestamps and the host's clock. FAT stores a date and a local time without a time
//! zone; probe writes and reads them as UTC, as the guest (which has no time zone) does.
//! Dates outside FAT's range (1980 to 2107) are clamped to its ends; seconds are stored in
//! steps of two, rounded down.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fatfs::{Date, DateTime, Time};

/// Seconds from 1970-01-01 to 1980-01-01 00:00:00 UTC, FAT's first moment.
const FAT_FIRST: u64 = 315_532_800;
/// Seconds from 1970-01-01 to 2107-12-31 23:59:58 UTC, FAT's last moment.
const FAT_LAST: u64 = 4_354_819_198;

/// The civil date of `days` days after 1970-01-01: (year, month, day).
pub(crate) fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // Howard Hinnant's algorithm, for days on or after the epoch (eras of 400 years).
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// Days from 1970-01-01 to the civil date, which is on or after the epoch.
pub(crate) fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year / 400;
    let year_of_era = year % 400;
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let day_of_year = (153 * mp + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The FAT timestamp of `time`, clamped to FAT's range, seconds rounded down to even.
pub(crate) fn to_fat(time: SystemTime) -> DateTime {
    let secs = time
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
        .clamp(FAT_FIRST, FAT_LAST);
    let (year, month, day) = civil_from_days(secs / 86_400);
    let of_day = secs % 86_400;
    // Every value is in range: the clamp keeps the year in 1980..=2107.
    DateTime::new(
        Date::new(year as u16, month as u16, day as u16),
        Time::new(
            (of_day / 3600) as u16,
            (of_day / 60 % 60) as u16,
            (of_day % 60 / 2 * 2) as u16,
            0,
        ),
    )
}

/// The moment a FAT timestamp names, read as UTC; `None` for fields no date has (a
/// damaged entry: month 0, hour 25...).
pub(crate) fn from_fat(stamp: DateTime) -> Option<SystemTime> {
    let (date, time) = (stamp.date, stamp.time);
    let valid = (1..=12).contains(&date.month)
        && (1..=31).contains(&date.day)
        && time.hour < 24
        && time.min < 60
        && time.sec < 60;
    if !valid {
        return None;
    }
    let days = days_from_civil(
        u64::from(date.year),
        u64::from(date.month),
        u64::from(date.day),
    );
    let secs = days * 86_400
        + u64::from(time.hour) * 3600
        + u64::from(time.min) * 60
        + u64::from(time.sec);
    Some(UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(u64::from(time.millis)))
}

/// `YYYY-MM-DD HH:MM:SS`, as stored.
pub(crate) fn show(stamp: DateTime) -> String {
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        stamp.date.year,
        stamp.date.month,
        stamp.date.day,
        stamp.time.hour,
        stamp.time.min,
        stamp.time.sec
    )
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::{FAT_FIRST, FAT_LAST, civil_from_days, days_from_civil, from_fat, show, to_fat};

    #[test]
    fn civil_dates_round_trip() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(FAT_FIRST / 86_400), (1980, 1, 1));
        // 2024-02-29, a leap day; 2100 is no leap year.
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(
            days_from_civil(2100, 3, 1) - days_from_civil(2100, 2, 28),
            1
        );
        for days in (0..60_000).step_by(7) {
            let (year, month, day) = civil_from_days(days);
            assert_eq!(days_from_civil(year, month, day), days);
        }
    }

    #[test]
    fn host_times_become_fat_stamps_and_back() {
        // 2026-11-27 19:53:29 UTC: stored with an even second.
        let time = UNIX_EPOCH + Duration::from_secs(1_795_809_209);
        let stamp = to_fat(time);
        assert_eq!(show(stamp), "2026-11-27 19:53:28");
        assert_eq!(from_fat(stamp), Some(time - Duration::from_secs(1)));
    }

    #[test]
    fn times_outside_fat_are_clamped() {
        assert_eq!(show(to_fat(UNIX_EPOCH)), "1980-01-01 00:00:00");
        let far = UNIX_EPOCH + Duration::from_secs(FAT_LAST * 2);
        assert_eq!(show(to_fat(far)), "2107-12-31 23:59:58");
        assert_eq!(
            from_fat(to_fat(far)),
            Some(UNIX_EPOCH + Duration::from_secs(FAT_LAST))
        );
    }
}
