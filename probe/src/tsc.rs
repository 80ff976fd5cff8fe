//! Measures the host's TSC rate, so the guest can skip calibrating its own.
//!
//! Under TCG, and usually under KVM, the guest's `RDTSC` reads the host TSC, so its rate is
//! the host's. probe measures it once against the monotonic clock and passes it on the
//! guest command line as `tsc_khz=N` (as Linux's `tsc_early_khz` does), which saves the guest
//! a PIT calibration of several milliseconds at every boot.

use std::time::{Duration, Instant};

/// How long to count TSC ticks: long enough for a rate within about 0.1 %.
const WINDOW: Duration = Duration::from_millis(20);

/// The host TSC rate in kHz, or `None` on hosts without a TSC or when the reading is absurd.
pub(crate) fn host_tsc_khz() -> Option<u64> {
    #[cfg(target_arch = "x86_64")]
    {
        let start = Instant::now();
        let start_ticks = read_tsc();
        let mut now = Instant::now();
        while now.duration_since(start) < WINDOW {
            std::hint::spin_loop();
            now = Instant::now();
        }
        let ticks = read_tsc().wrapping_sub(start_ticks);
        khz(ticks, now.duration_since(start))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        None
    }
}

#[cfg(target_arch = "x86_64")]
fn read_tsc() -> u64 {
    // SAFETY: RDTSC only reads a counter; every x86_64 CPU has it and user mode may run it
    // (a kernel that forbids it would fault, which Linux does not do).
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// Converts ticks counted over `elapsed` into kHz, rejecting rates no real TSC has.
fn khz(ticks: u64, elapsed: Duration) -> Option<u64> {
    let nanos = elapsed.as_nanos();
    if nanos == 0 {
        return None;
    }
    let khz = u128::from(ticks) * 1_000_000 / nanos;
    // Between 100 MHz and 100 GHz; anything else means the counter jumped or stopped.
    (100_000..=100_000_000)
        .contains(&khz)
        .then(|| u64::try_from(khz).ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{host_tsc_khz, khz};

    #[test]
    fn converts_ticks_to_khz() {
        assert_eq!(khz(60_000_000, Duration::from_millis(20)), Some(3_000_000));
        assert_eq!(khz(0, Duration::from_millis(20)), None);
        assert_eq!(khz(1, Duration::ZERO), None);
        assert_eq!(khz(u64::MAX, Duration::from_millis(1)), None);
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn measures_a_plausible_rate() {
        let rate = host_tsc_khz().expect("x86_64 hosts have a TSC");
        assert!(rate >= 100_000, "{rate} kHz");
    }

    #[test]
    #[cfg(not(target_arch = "x86_64"))]
    fn other_hosts_give_no_hint() {
        assert_eq!(host_tsc_khz(), None);
    }
}
