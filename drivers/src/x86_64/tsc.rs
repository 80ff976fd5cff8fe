//! The time-stamp counter as a monotonic clock.
//!
//! The TSC of every CPU a hypervisor offers today runs at a constant rate; what varies is
//! how the kernel learns that rate. In order of preference: the hypervisor says so (the
//! `tsc_khz=` command-line hint `probe` passes, or CPUID leaf 0x40000010), the CPU says so
//! (CPUID leaf 0x15), or the board measures it against the PIT ([`crate::platform::pit`]).
//! Nothing here assumes a CPU speed.

use hal::time::{Clock, Instant};

use crate::platform::pit;
use crate::x86_64::instructions::{self, cpuid};

/// How long the PIT measurement takes when nobody reports the rate: 5 ms of PIT ticks,
/// which pins the rate to about 0.02 % under QEMU.
const PIT_WINDOW: u16 = 5966;

/// Where a TSC rate came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateSource {
    /// The `tsc_khz=` hint on the command line.
    Hint,
    /// CPUID (hypervisor leaf 0x40000010, or leaf 0x15).
    Cpuid,
    /// Measured against the PIT.
    Pit,
}

/// The TSC rates a `tsc_khz=` hint may give, in kHz: 1 MHz to 100 GHz. Outside it, the
/// hint is a mistake (a unit slip, a stray digit), not a machine.
pub const PLAUSIBLE_KHZ: core::ops::RangeInclusive<u64> = 1_000..=100_000_000;

/// Reads a `tsc_khz=` hint: the rate if it is a whole number in [`PLAUSIBLE_KHZ`].
pub fn parse_hint(text: &str) -> Option<u64> {
    text.parse().ok().filter(|khz| PLAUSIBLE_KHZ.contains(khz))
}

/// The TSC rate in kHz and where it came from: `hint` if given, else what CPUID reports,
/// else a measurement against the PIT. `None` when all three fail.
///
/// # Safety
/// The PIT must be free to reprogram, with interrupts masked (see
/// [`pit::measure_tsc_khz`]).
pub unsafe fn find_rate(hint: Option<u64>) -> Option<(u64, RateSource)> {
    if let Some(khz) = hint {
        return Some((khz, RateSource::Hint));
    }
    if let Some(khz) = reported_khz() {
        return Some((khz, RateSource::Cpuid));
    }
    // SAFETY: the caller gave us the PIT.
    unsafe { pit::measure_tsc_khz(PIT_WINDOW) }.map(|khz| (khz, RateSource::Pit))
}

/// The TSC rate as the hypervisor or the CPU reports it, in kHz, if either reports one in
/// [`PLAUSIBLE_KHZ`]: a rate no CPU runs at is a broken report, and the caller then
/// measures the rate against the PIT instead.
pub fn reported_khz() -> Option<u64> {
    let hypervisor = cpuid(1).ecx & (1 << 31) != 0;
    if hypervisor && cpuid(0x4000_0000).eax >= 0x4000_0010 {
        let khz = u64::from(cpuid(0x4000_0010).eax);
        if PLAUSIBLE_KHZ.contains(&khz) {
            return Some(khz);
        }
    }
    if cpuid(0).eax >= 0x15 {
        let leaf = cpuid(0x15);
        if leaf.eax != 0 && leaf.ebx != 0 && leaf.ecx != 0 {
            let khz = u64::from(leaf.ecx) * u64::from(leaf.ebx) / u64::from(leaf.eax) / 1000;
            return Some(khz).filter(|khz| PLAUSIBLE_KHZ.contains(khz));
        }
    }
    None
}

/// Converts TSC ticks to nanoseconds as whole nanoseconds per tick plus a 64-bit binary
/// fraction: two multiplications, no division, and no drift worth naming in a century.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TickScale {
    whole: u64,
    fraction: u64,
}

impl TickScale {
    /// The scale for a counter running at `khz` kHz, or `None` for 0 kHz.
    pub fn new(khz: u64) -> Option<Self> {
        let whole = 1_000_000u64.checked_div(khz)?;
        let remainder = 1_000_000 % khz;
        // remainder * 2^64 / khz by long division in two 32-bit steps: it runs at every
        // boot, and u128 division is a large routine to bring in (khz < 2^32 keeps each
        // step within u64).
        let khz = u32::try_from(khz).ok().map(u64::from)?;
        let high = (remainder << 32) / khz;
        let rest = (remainder << 32) % khz;
        let low = ((rest << 32) + khz / 2) / khz;
        Some(Self {
            whole,
            fraction: (high << 32).wrapping_add(low),
        })
    }

    /// `ticks` in nanoseconds, rounded.
    pub fn nanos(self, ticks: u64) -> u64 {
        let fraction = (u128::from(ticks) * u128::from(self.fraction) + (1 << 63)) >> 64;
        ticks
            .saturating_mul(self.whole)
            .saturating_add(fraction as u64)
    }
}

/// The monotonic clock of the TSC, counting from the board's first instruction.
#[derive(Clone, Copy, Debug)]
pub struct TscClock {
    start: u64,
    khz: u64,
    scale: TickScale,
}

impl TscClock {
    /// A clock whose zero is TSC value `start`, for a TSC running at `khz` kHz; `None` for
    /// 0 kHz.
    pub fn new(start: u64, khz: u64) -> Option<Self> {
        Some(Self {
            start,
            khz,
            scale: TickScale::new(khz)?,
        })
    }

    /// The TSC rate in kHz.
    pub fn khz(&self) -> u64 {
        self.khz
    }
}

impl Clock for TscClock {
    fn now(&self) -> Instant {
        Instant::from_nanos(
            self.scale
                .nanos(instructions::rdtsc().saturating_sub(self.start)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::{PLAUSIBLE_KHZ, TickScale, parse_hint};
    use crate::platform::firmware::mptable::fuzz::Rng;

    #[test]
    fn a_hint_must_be_a_plausible_rate() {
        assert_eq!(parse_hint("2600000"), Some(2_600_000));
        assert_eq!(parse_hint("1000"), Some(1_000));
        assert_eq!(parse_hint("100000000"), Some(100_000_000));
        for bad in [
            "0",
            "999",
            "100000001",
            "",
            "2.6GHz",
            "-1",
            " 2600000",
            "99999999999999999999",
        ] {
            assert_eq!(parse_hint(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn converts_ticks_exactly_enough_for_years() {
        let scale = TickScale::new(2_600_000).unwrap(); // 2.6 GHz
        assert_eq!(scale.nanos(2_600_000_000), 1_000_000_000);
        assert_eq!(scale.nanos(2_600), 1_000);
        // Ten years of ticks neither overflow nor drift by more than a millisecond.
        let ten_years_s = 10 * 365 * 86_400u64;
        let nanos = scale.nanos(ten_years_s * 2_600_000_000);
        assert!(nanos.abs_diff(ten_years_s * 1_000_000_000) < 1_000_000);
        assert_eq!(TickScale::new(0), None);
        // Slow and odd rates too.
        assert_eq!(TickScale::new(1_000).unwrap().nanos(3), 3_000);
        assert_eq!(TickScale::new(3).unwrap().nanos(3), 1_000_000);
        assert_eq!(
            TickScale::new(1_193_182).unwrap().nanos(1_193_182_000),
            1_000_000_000
        );
    }

    /// Random `tsc_khz=` values, and any rate a hypervisor's CPUID could report: a hint is
    /// read or refused, a scale made (and exact to a nanosecond) or refused, never a panic
    /// or an overflow.
    #[test]
    fn hostile_rates_are_refused_never_fatal() {
        let mut rng = Rng::new(0x7473_635f_6b68_7a3d);
        let alphabet = [
            "0", "1", "2", "6", "9", "+", "-", " ", ".", "e", "k", "\u{0}", "\u{e9}",
        ];
        let mut read = 0;
        for _ in 0..100_000 {
            let text: String = (0..rng.below(24))
                .map(|_| alphabet[rng.below(alphabet.len())])
                .collect();
            if let Some(khz) = parse_hint(&text) {
                read += 1;
                assert!(PLAUSIBLE_KHZ.contains(&khz), "{text:?}");
                assert_eq!(text.trim_start_matches('+').parse(), Ok(khz), "{text:?}");
            }
            let khz = rng.next() >> rng.below(64);
            let ticks = rng.next() >> rng.below(64);
            if let Some(scale) = TickScale::new(khz) {
                let exact = u128::from(ticks) * 1_000_000 / u128::from(khz);
                if let Ok(exact) = u64::try_from(exact) {
                    let nanos = scale.nanos(ticks);
                    assert!(nanos.abs_diff(exact) <= 1, "{khz} kHz, {ticks}: {nanos}");
                }
            }
        }
        assert!(read > 100, "{read}");
    }
}
