//! HTTP dates: the IMF-fixdate the server writes (`Sun, 06 Nov 1994 08:49:37 GMT`), and the
//! three forms RFC 9110 asks a recipient to read (IMF-fixdate, RFC 850, asctime).

use core::fmt;

const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const SECONDS_PER_DAY: u64 = 86_400;

/// A date as HTTP writes it: 29 ASCII bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct HttpDate([u8; 29]);

impl HttpDate {
    /// The date `unix` seconds after 1970-01-01 00:00:00 UTC; years past 9999 are written
    /// as 9999-12-31 23:59:59.
    pub fn from_unix(unix: u64) -> Self {
        let unix = unix.min(LAST_WRITABLE);
        let days = unix / SECONDS_PER_DAY;
        let secs = unix % SECONDS_PER_DAY;
        let (year, month, day) = civil_from_days(days);
        let mut out = *b"Thu, 01 Jan 1970 00:00:00 GMT";
        out[..3].copy_from_slice(DAYS[(days % 7) as usize].as_bytes());
        two_digits(&mut out[5..7], u64::from(day));
        out[8..11].copy_from_slice(MONTHS[usize::from(month - 1)].as_bytes());
        two_digits(&mut out[12..14], year / 100);
        two_digits(&mut out[14..16], year % 100);
        two_digits(&mut out[17..19], secs / 3600);
        two_digits(&mut out[20..22], secs / 60 % 60);
        two_digits(&mut out[23..25], secs % 60);
        Self(out)
    }

    /// The date's text.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Display for HttpDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Built from ASCII only.
        f.write_str(core::str::from_utf8(&self.0).unwrap_or("?"))
    }
}

impl fmt::Debug for HttpDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// 9999-12-31 23:59:59 UTC.
const LAST_WRITABLE: u64 = 253_402_300_799;

fn two_digits(out: &mut [u8], n: u64) {
    out[0] = b'0' + (n / 10 % 10) as u8;
    out[1] = b'0' + (n % 10) as u8;
}

/// Reads an HTTP date in any of its three forms; `None` when it is none of them, or
/// before 1970.
pub fn parse(value: &[u8]) -> Option<u64> {
    let text = core::str::from_utf8(value).ok()?.trim();
    let mut words = text.split([' ', ',', '-', ':']).filter(|w| !w.is_empty());
    let weekday = words.next()?;
    let fields: [&str; 7] = core::array::from_fn(|_| words.next().unwrap_or(""));
    if words.next().is_some() || !valid_weekday(weekday) {
        return None;
    }
    let (day, month, year, hms, zone) = if text.contains(',') {
        // IMF-fixdate `Sun, 06 Nov 1994 08:49:37 GMT` or RFC 850 `Sunday, 06-Nov-94 ...`.
        let year: u64 = fields[2].parse().ok()?;
        let year = match fields[2].len() {
            4 => year,
            // RFC 9110: a two-digit year more than 50 years ahead is in the past century.
            2 if year >= 70 => 1900 + year,
            2 => 2000 + year,
            _ => return None,
        };
        (fields[0], fields[1], year, &fields[3..6], fields[6])
    } else {
        // asctime `Sun Nov  6 08:49:37 1994`.
        let zone = if fields[6].is_empty() { "GMT" } else { "" };
        (
            fields[1],
            fields[0],
            fields[5].parse().ok()?,
            &fields[2..5],
            zone,
        )
    };
    if zone != "GMT" || day.is_empty() || day.len() > 2 {
        return None;
    }
    let day: u8 = day.parse().ok()?;
    let month = MONTHS.iter().position(|m| *m == month)? as u8 + 1;
    let [h, m, s] =
        [hms[0], hms[1], hms[2]].map(|f| (f.len() == 2).then(|| f.parse::<u64>().ok()).flatten());
    let (h, m, s) = (h?, m?, s?);
    if !(1970..=9999).contains(&year) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    if day == 0 || day > days_in_month(year, month) {
        return None;
    }
    Some(days_from_civil(year, month, day) * SECONDS_PER_DAY + h * 3600 + m * 60 + s)
}

fn valid_weekday(word: &str) -> bool {
    const LONG: [&str; 7] = [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ];
    DAYS.contains(&word) || LONG.contains(&word)
}

fn days_in_month(year: u64, month: u8) -> u8 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a date of the proleptic Gregorian calendar (year ≥ 1970), with
/// the year counted from March so that the leap day falls last.
fn days_from_civil(year: u64, month: u8, day: u8) -> u64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year / 400;
    let year_of_era = year % 400;
    let month_from_march = (u64::from(month) + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + u64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The date `days` days after 1970-01-01: (year, month 1–12, day 1–31).
fn civil_from_days(days: u64) -> (u64, u8, u8) {
    let days = days + 719_468;
    let era = days / 146_097;
    let day_of_era = days % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u8;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    } as u8;
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::{HttpDate, LAST_WRITABLE, civil_from_days, days_from_civil, parse};

    #[test]
    fn writes_imf_fixdate() {
        assert_eq!(
            HttpDate::from_unix(0).to_string(),
            "Thu, 01 Jan 1970 00:00:00 GMT"
        );
        assert_eq!(
            HttpDate::from_unix(784_111_777).to_string(),
            "Sun, 06 Nov 1994 08:49:37 GMT"
        );
        assert_eq!(
            HttpDate::from_unix(951_782_400).to_string(),
            "Tue, 29 Feb 2000 00:00:00 GMT"
        );
        assert_eq!(
            HttpDate::from_unix(u64::MAX).to_string(),
            "Fri, 31 Dec 9999 23:59:59 GMT"
        );
    }

    #[test]
    fn reads_all_three_forms() {
        for form in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
        ] {
            assert_eq!(parse(form.as_bytes()), Some(784_111_777), "{form}");
        }
        assert_eq!(parse(b"Thu, 01 Jan 2026 00:00:00 GMT"), Some(1_767_225_600));
    }

    #[test]
    fn refuses_what_is_not_a_date() {
        for bad in [
            "",
            "yesterday",
            "Sun, 06 Nov 1994 08:49:37 CET",
            "Sun, 31 Feb 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT",
            "Sun, 06 Nov 1969 08:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:37 GMT extra",
            "Xyz, 06 Nov 1994 08:49:37 GMT",
            "Sun, 006 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 8:49:37 GMT",
        ] {
            assert_eq!(parse(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn civil_days_round_trip_every_day_to_9999() {
        let last_day = LAST_WRITABLE / 86_400;
        for days in (0..=last_day).step_by(7).chain([last_day]) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert_eq!(civil_from_days(last_day), (9999, 12, 31));
    }

    #[test]
    fn written_dates_read_back() {
        for unix in [
            0,
            1,
            59,
            86_399,
            86_400,
            951_868_799,
            1_798_761_599,
            LAST_WRITABLE,
        ] {
            assert_eq!(parse(HttpDate::from_unix(unix).as_bytes()), Some(unix));
        }
    }
}
