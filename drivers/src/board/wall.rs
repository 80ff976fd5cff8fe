//! The wall clock both boards hand the kernel: `time=<Unix seconds>` on the command line
//! (probe passes the host's time), else the CMOS clock where the board has one.
//!
//! The command line wins because it is what the user (or probe) chose for this boot; the
//! clock is then never touched. The clock is read only when the kernel first asks, so an
//! application that never wants the time of day spends nothing on it.

use core::time::Duration;

use hal::time::{DateTime, Instant, WallClock};

use crate::platform::firmware::acpi::Acpi;
use crate::platform::firmware::fadt;
use crate::platform::rtc::{PortRegisters, Rtc};

/// Reads a `time=` hint: the Unix time at boot, if it is a whole number of seconds that
/// [`DateTime`] can show (up to the end of 9999).
pub fn parse_hint(text: &str) -> Option<u64> {
    text.parse()
        .ok()
        .filter(|&seconds| seconds <= DateTime::MAX_UNIX_SECONDS)
}

/// Where a board's time of day comes from.
#[derive(Debug)]
pub struct BootWallClock {
    hint: Option<u64>,
    /// The firmware tables that name the CMOS clock's century register, when the board has
    /// a CMOS clock.
    rtc: Option<Acpi>,
}

impl BootWallClock {
    /// The time from `hint` (a parsed `time=`) alone.
    pub const fn from_hint(hint: Option<u64>) -> Self {
        Self { hint, rtc: None }
    }

    /// The time from `hint`, else from the CMOS clock, whose century register the FADT in
    /// `tables` names.
    ///
    /// # Safety
    /// The machine is a PC whose ports 0x70/0x71 lead to the CMOS, used by nothing else;
    /// `tables` are this machine's, in identity-mapped memory below 4 GiB.
    pub const unsafe fn with_rtc(hint: Option<u64>, tables: Acpi) -> Self {
        Self {
            hint,
            rtc: Some(tables),
        }
    }
}

impl WallClock for BootWallClock {
    fn unix_time_at_boot(&mut self, now: Instant) -> Option<Duration> {
        if let Some(seconds) = self.hint {
            return Some(Duration::from_secs(seconds));
        }
        let tables = self.rtc.take()?;
        // SAFETY: `with_rtc`'s caller vouched for the tables and the ports; `take` above
        // makes this the only read.
        let (century, registers) = unsafe { (fadt::scan_century(tables), PortRegisters::new()) };
        match Rtc::new(registers, century).read() {
            // The clock counts whole seconds: the time at boot is as exact as that.
            Ok(date) => date
                .to_unix_seconds()
                .map(|seconds| Duration::from_secs(seconds).saturating_sub(now - Instant::ZERO)),
            Err(e) => {
                log::warn!("rtc: {e}");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use core::time::Duration;

    use hal::time::{Instant, WallClock};

    use super::{BootWallClock, parse_hint};

    #[test]
    fn the_hint_is_whole_seconds_up_to_9999() {
        assert_eq!(parse_hint("1795809209"), Some(1_795_809_209));
        assert_eq!(parse_hint("0"), Some(0));
        assert_eq!(parse_hint("253402300799"), Some(253_402_300_799));
        for bad in [
            "253402300800",
            "-1",
            "1.5",
            "",
            "now",
            "0x10",
            "99999999999999999999",
        ] {
            assert_eq!(parse_hint(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_hint_is_the_time_at_boot() {
        let mut wall = BootWallClock::from_hint(Some(1_000));
        let later = Instant::from_nanos(5_000_000_000);
        assert_eq!(
            wall.unix_time_at_boot(later),
            Some(Duration::from_secs(1_000))
        );
        assert_eq!(
            BootWallClock::from_hint(None).unix_time_at_boot(later),
            None
        );
    }
}
