//! HTTP dates: the IMF-fixdate the server writes (`Sun, 06 Nov 1994 08:49:37 GMT`), and the
//! three forms RFC 9110 asks a recipient to read (IMF-fixdate, RFC 850, asctime).

use core::fmt;

use hal::time::DateTime;

const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A date as HTTP writes it: 29 ASCII bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct HttpDate([u8; 29]);

impl HttpDate {
    /// The date `unix` seconds after 1970-01-01 00:00:00 UTC; years past 9999 are written
    /// as 9999-12-31 23:59:59.
    pub fn from_unix(unix: u64) -> Self {
        let date = DateTime::from_unix_seconds(unix);
        let mut out = *b"Thu, 01 Jan 1970 00:00:00 GMT";
        out[..3].copy_from_slice(DAYS[usize::from(date.weekday())].as_bytes());
        two_digits(&mut out[5..7], date.day);
        out[8..11].copy_from_slice(MONTHS[usize::from(date.month - 1)].as_bytes());
        two_digits(&mut out[12..14], (date.year / 100) as u8);
        two_digits(&mut out[14..16], (date.year % 100) as u8);
        two_digits(&mut out[17..19], date.hour);
        two_digits(&mut out[20..22], date.minute);
        two_digits(&mut out[23..25], date.second);
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

fn two_digits(out: &mut [u8], n: u8) {
    out[0] = b'0' + n / 10 % 10;
    out[1] = b'0' + n % 10;
}

/// Reads an HTTP date in any of its three forms; `None` when it is none of them, or
/// outside 1970–9999.
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
        let year: u16 = fields[2].parse().ok()?;
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
    let [hour, minute, second] =
        [hms[0], hms[1], hms[2]].map(|f| (f.len() == 2).then(|| f.parse::<u8>().ok()).flatten());
    DateTime {
        year,
        month: MONTHS.iter().position(|m| *m == month)? as u8 + 1,
        day: day.parse().ok()?,
        hour: hour?,
        minute: minute?,
        second: second?,
    }
    .to_unix_seconds()
}

fn valid_weekday(word: &str) -> bool {
    const LONG: [&str; 7] = [
        "Sunday",
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
    ];
    DAYS.contains(&word) || LONG.contains(&word)
}

#[cfg(test)]
mod tests {
    use hal::time::DateTime;

    use super::{HttpDate, parse};

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
    fn written_dates_read_back() {
        for unix in [
            0,
            1,
            59,
            86_399,
            86_400,
            951_868_799,
            1_798_761_599,
            DateTime::MAX_UNIX_SECONDS,
        ] {
            assert_eq!(parse(HttpDate::from_unix(unix).as_bytes()), Some(unix));
        }
    }
}
