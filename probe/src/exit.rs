//! How a guest reports its verdict, and what probe exits with.
//!
//! The guest writes `status + 16` (status 0..=111) to QEMU's `isa-debug-exit` port, and QEMU
//! then exits with `2 * value + 1`, i.e. `2 * status + 33`. The offset of 16 keeps a guest
//! status away from QEMU's own small exit codes (1 = QEMU error) and from 0, which QEMU uses
//! when the guest powered off or reset (with `-no-reboot`) without reporting anything.
//!
//! A machine without `isa-debug-exit` cannot carry a status out: the guest then prints
//! `novillo: exit status N` as its last console line and powers off or resets, and QEMU
//! exits 0. probe takes the status from that line only when QEMU exited 0 and the line is
//! the very last, complete line of the console ([`with_console_status`]); anything else
//! after it, or no such line, is still a guest that stopped without a status.

use std::fmt;
use std::time::Duration;

/// Exit code of probe when the guest timed out (as `timeout(1)` does).
pub(crate) const TIMED_OUT: u8 = 124;
/// Exit code of probe when QEMU failed or the guest stopped without a status.
pub(crate) const NO_STATUS: u8 = 125;
/// Exit code of probe when QEMU is not installed (as a shell does for a missing command).
pub(crate) const QEMU_MISSING: u8 = 127;
/// Exit code of probe for a bad command line.
pub(crate) const USAGE: u8 = 2;

/// The largest status a guest can report: `2 * 111 + 33 = 255`, the largest exit code.
const MAX_STATUS: i32 = 111;

/// How a guest run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GuestExit {
    /// The guest reported this status through the debug-exit port.
    Status(u8),
    /// QEMU exited 0: the guest reset or powered off without reporting a status.
    Stopped,
    /// QEMU exited with a code that does not carry a guest status.
    QemuFailed(i32),
    /// QEMU was killed by this signal.
    Signal(i32),
    /// probe killed QEMU after this many seconds.
    TimedOut(Duration),
}

/// The start of the last console line of a guest that reports its status there.
const STATUS_LINE: &str = "novillo: exit status ";

/// The status a guest reported on its console, when QEMU's exit code carried none: only
/// for a QEMU that exited 0, and only from the very last, complete console line.
pub(crate) fn with_console_status(exit: GuestExit, console: &[u8]) -> GuestExit {
    match exit {
        GuestExit::Stopped => console_status(console).map_or(exit, GuestExit::Status),
        other => other,
    }
}

fn console_status(console: &[u8]) -> Option<u8> {
    let text = String::from_utf8_lossy(console);
    let complete = text.strip_suffix('\n')?;
    let last = complete.rsplit('\n').next()?.trim_end_matches('\r');
    let digits = last.strip_prefix(STATUS_LINE)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let status: u8 = digits.parse().ok()?;
    (i32::from(status) <= MAX_STATUS).then_some(status)
}

/// Decodes QEMU's exit code (or the signal that ended it) into a guest verdict.
pub(crate) fn decode(code: Option<i32>, signal: Option<i32>) -> GuestExit {
    match (code, signal) {
        (Some(0), _) => GuestExit::Stopped,
        (Some(code), _) if code >= 33 && code % 2 == 1 && (code - 33) / 2 <= MAX_STATUS => {
            // Cannot fail: the guard bounds the value to 0..=111.
            u8::try_from((code - 33) / 2).map_or(GuestExit::QemuFailed(code), GuestExit::Status)
        }
        (Some(code), _) => GuestExit::QemuFailed(code),
        (None, Some(signal)) => GuestExit::Signal(signal),
        // Neither a code nor a signal: report it as an unknown failure.
        (None, None) => GuestExit::QemuFailed(-1),
    }
}

impl GuestExit {
    /// The exit code probe should end with for this verdict.
    pub(crate) fn probe_code(self) -> u8 {
        match self {
            GuestExit::Status(status) => status,
            GuestExit::TimedOut(_) => TIMED_OUT,
            GuestExit::Stopped | GuestExit::QemuFailed(_) | GuestExit::Signal(_) => NO_STATUS,
        }
    }
}

/// Describes the verdict for humans, e.g. `status 101 (panic)`.
impl fmt::Display for GuestExit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            GuestExit::Status(status) => match status_name(status) {
                Some(name) => write!(f, "status {status} ({name})"),
                None => write!(f, "status {status}"),
            },
            GuestExit::Stopped => {
                f.write_str("guest stopped without reporting a status (reset or triple fault?)")
            }
            GuestExit::QemuFailed(code) => write!(f, "qemu failed (exit code {code})"),
            GuestExit::Signal(signal) => write!(f, "qemu was killed by signal {signal}"),
            GuestExit::TimedOut(after) => write!(f, "guest timed out after {} s", after.as_secs()),
        }
    }
}

/// Names of the statuses the kernel reports by convention.
pub(crate) fn status_name(status: u8) -> Option<&'static str> {
    match status {
        0 => Some("success"),
        1 => Some("failure"),
        101 => Some("panic"),
        102 => Some("CPU exception"),
        103 => Some("not enough memory"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::{GuestExit, decode, with_console_status};

    #[test]
    fn odd_codes_from_33_carry_a_status() {
        assert_eq!(decode(Some(33), None), GuestExit::Status(0));
        assert_eq!(decode(Some(35), None), GuestExit::Status(1));
        assert_eq!(decode(Some(2 * 101 + 33), None), GuestExit::Status(101));
        assert_eq!(decode(Some(2 * 102 + 33), None), GuestExit::Status(102));
        assert_eq!(decode(Some(255), None), GuestExit::Status(111));
    }

    #[test]
    fn zero_means_the_guest_stopped() {
        assert_eq!(decode(Some(0), None), GuestExit::Stopped);
        assert_eq!(GuestExit::Stopped.probe_code(), 125);
    }

    #[test]
    fn other_codes_are_qemu_failures() {
        for code in [1, 2, 3, 31, 32, 34, 100, 256] {
            assert_eq!(
                decode(Some(code), None),
                GuestExit::QemuFailed(code),
                "code {code}"
            );
        }
        assert_eq!(GuestExit::QemuFailed(1).probe_code(), 125);
    }

    #[test]
    fn signals_and_unknowns() {
        assert_eq!(decode(None, Some(9)), GuestExit::Signal(9));
        assert_eq!(decode(None, None), GuestExit::QemuFailed(-1));
        assert_eq!(GuestExit::Signal(9).probe_code(), 125);
    }

    #[test]
    fn probe_exits_with_the_guest_status() {
        assert_eq!(GuestExit::Status(0).probe_code(), 0);
        assert_eq!(GuestExit::Status(101).probe_code(), 101);
        let timeout = GuestExit::TimedOut(std::time::Duration::from_secs(3));
        assert_eq!(timeout.probe_code(), 124);
        assert_eq!(timeout.to_string(), "guest timed out after 3 s");
        assert_eq!(GuestExit::Status(101).to_string(), "status 101 (panic)");
        assert_eq!(GuestExit::Status(7).to_string(), "status 7");
        assert_eq!(
            GuestExit::Status(103).to_string(),
            "status 103 (not enough memory)"
        );
    }

    #[test]
    fn a_stopped_guest_reports_its_status_on_the_last_console_line() {
        let stopped = |console: &str| with_console_status(GuestExit::Stopped, console.as_bytes());
        assert_eq!(
            stopped("Hello\n\nnovillo: exit status 0\n"),
            GuestExit::Status(0)
        );
        assert_eq!(
            stopped("boom\r\nnovillo: exit status 101\r\n"),
            GuestExit::Status(101)
        );
        assert_eq!(stopped("novillo: exit status 7\n"), GuestExit::Status(7));
    }

    #[test]
    fn the_status_line_counts_only_when_last_complete_and_well_formed() {
        let stopped = |console: &str| with_console_status(GuestExit::Stopped, console.as_bytes());
        for console in [
            "",
            "Hello\n",
            "novillo: exit status 0\nmore output\n",
            "novillo: exit status 0",
            "novillo: exit status 0\nnovillo: exit",
            "x novillo: exit status 0\n",
            "novillo: exit status\n",
            "novillo: exit status +1\n",
            "novillo: exit status 0 \n",
            "novillo: exit status 112\n",
            "novillo: exit status 300\n",
        ] {
            assert_eq!(stopped(console), GuestExit::Stopped, "{console:?}");
        }
    }

    #[test]
    fn the_status_line_never_overrides_a_qemu_exit_code() {
        let console = b"novillo: exit status 0\n";
        for exit in [
            GuestExit::Status(101),
            GuestExit::QemuFailed(1),
            GuestExit::Signal(9),
            GuestExit::TimedOut(std::time::Duration::from_secs(1)),
        ] {
            assert_eq!(with_console_status(exit, console), exit);
        }
    }
}
