//! The 8254 programmable interval timer, as a known-rate reference to measure the TSC by.
//!
//! Only channel 0 and the command port are used (microvm has no port 0x61 to gate channel
//! 2). Channel 0 counts down from 65536 in mode 0 at 1.193182 MHz and wraps; the counter is
//! read through the latch command.

use crate::x86_64::{instructions, port};

/// The PIT's input clock, in Hz.
pub const PIT_HZ: u64 = 1_193_182;

const CHANNEL0: u16 = 0x40;
const COMMAND: u16 = 0x43;

/// How many reads the calibration makes while it waits for the counter to move before it
/// decides there is no PIT.
const MAX_READS: u32 = 10_000_000;

/// The TSC rate in kHz given that `tsc_ticks` passed while the PIT counted `pit_ticks`;
/// `None` for no ticks or a rate beyond u64.
pub fn khz_from(tsc_ticks: u64, pit_ticks: u64) -> Option<u64> {
    // tsc_ticks * PIT_HZ / per_khz, with the quotient and remainder scaled apart to stay in
    // u64: a u128 division is a routine of its own in the image (0.2 KiB).
    let per_khz = pit_ticks.checked_mul(1000)?;
    let whole = tsc_ticks.checked_div(per_khz)?;
    let rest = tsc_ticks % per_khz;
    let khz = whole
        .checked_mul(PIT_HZ)?
        .checked_add(rest.checked_mul(PIT_HZ)? / per_khz)?;
    Some(khz).filter(|&khz| khz > 0)
}

/// Measures the TSC rate against the PIT over `window` PIT ticks (at most 60000, about
/// 50 ms; 1193 ticks is 1 ms). Returns `None` when no PIT answers.
///
/// # Safety
/// The PIT must be at its standard ports and not in use; this reprograms channel 0, with
/// interrupts masked so that its IRQ is not taken.
pub unsafe fn measure_tsc_khz(window: u16) -> Option<u64> {
    let window = window.min(60_000);
    // SAFETY: the caller vouches that the PIT is ours to reprogram.
    unsafe {
        port::outb(COMMAND, 0x30); // channel 0, low then high byte, mode 0, binary
        port::outb(CHANNEL0, 0);
        port::outb(CHANNEL0, 0); // 0 = 65536
    }
    // Start on an edge of the PIT's clock so that the window is whole ticks.
    let first = read_counter();
    let mut reads = 0;
    let start = loop {
        let now = read_counter();
        if now != first {
            break now;
        }
        reads += 1;
        if reads > MAX_READS {
            return None;
        }
    };
    let tsc_start = instructions::rdtsc();
    loop {
        let elapsed = start.wrapping_sub(read_counter());
        if elapsed >= window {
            return khz_from(instructions::rdtsc() - tsc_start, u64::from(elapsed));
        }
        reads += 1;
        if reads > MAX_READS {
            return None;
        }
    }
}

fn read_counter() -> u16 {
    // SAFETY: latching and reading channel 0 has no effect beyond the latch, and
    // `measure_tsc_khz`'s caller gave us the PIT.
    unsafe {
        port::outb(COMMAND, 0x00); // latch channel 0
        let low = port::inb(CHANNEL0);
        let high = port::inb(CHANNEL0);
        u16::from_le_bytes([low, high])
    }
}

#[cfg(test)]
mod tests {
    use super::{PIT_HZ, khz_from};

    #[test]
    fn rate_follows_from_the_two_counts() {
        // A second of PIT ticks and 2.6 billion TSC ticks: 2.6 GHz.
        assert_eq!(khz_from(2_600_000_000, PIT_HZ), Some(2_600_000));
        assert_eq!(khz_from(2_600_000, 1193), Some(2_600_396));
        assert_eq!(khz_from(2_600_000, 0), None);
        assert_eq!(khz_from(0, 1000), None);
    }

    #[test]
    fn rate_is_exact_where_the_product_outgrows_u64() {
        for (tsc_ticks, pit_ticks) in [(u64::MAX, 60_000), (123_456_789_012_345, 59_659), (7, 1)] {
            let exact = u128::from(tsc_ticks) * u128::from(PIT_HZ) / u128::from(pit_ticks * 1000);
            assert_eq!(
                khz_from(tsc_ticks, pit_ticks).map(u128::from),
                Some(exact).filter(|&khz| khz > 0),
                "{tsc_ticks} TSC ticks in {pit_ticks} PIT ticks"
            );
        }
        assert_eq!(khz_from(u64::MAX, 1), None);
    }
}
