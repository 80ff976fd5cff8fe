//! How a guest reports its verdict, and what probe exits with.
//!
//! The guest writes `status + 16` (status 0..=111) to QEMU's `isa-debug-exit` port, and QEMU
//! then exits with `2 * value + 1`, i.e. `2 * status + 33`. The offset of 16 keeps a guest
//! status away from QEMU's own small exit codes (1 = QEMU error) and from 0, which QEMU uses
//! when the guest powered off or reset (with `-no-reboot`) without reporting anything.

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
    use super::{GuestExit, decode};

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
}
