//! The local APIC in xAPIC mode: each core's interrupt controller, timer and IPI sender.
//!
//! Every core sees its own local APIC at the same physical address (0xfee0_0000 unless the
//! MADT or the MP table says otherwise), so one [`LocalApic`] value serves every core: each
//! access reaches the APIC of the core that makes it.
//!
//! The timer runs in one-shot mode with a fixed divider. Its rate is not assumed: each core
//! lets its counter run down from [`u32::MAX`] from the moment it enables its APIC, and the
//! first time it needs the timer it compares how far the counter went with how far the
//! (already calibrated) TSC went ([`timer_khz`]). The boot pays nothing for it. QEMU's TCG
//! does not offer the TSC-deadline mode (CPUID.01H:ECX[24] stays clear, and asking for it
//! prints "TCG doesn't support requested feature"), so it is not used.

use core::hint;

use crate::x86_64::instructions;

/// The registers this driver uses, as byte offsets into the APIC page.
pub mod reg {
    /// The local APIC ID (bits 24..32).
    pub const ID: u32 = 0x20;
    /// The task priority.
    pub const TPR: u32 = 0x80;
    /// End of interrupt.
    pub const EOI: u32 = 0xb0;
    /// The spurious-interrupt vector register, with the software enable bit.
    pub const SVR: u32 = 0xf0;
    /// The interrupt command register, low half (writing it sends the IPI).
    pub const ICR_LOW: u32 = 0x300;
    /// The interrupt command register, high half (the destination).
    pub const ICR_HIGH: u32 = 0x310;
    /// The timer's local vector table entry.
    pub const LVT_TIMER: u32 = 0x320;
    /// The LINT0 pin's local vector table entry.
    pub const LVT_LINT0: u32 = 0x350;
    /// The timer's initial count (writing it starts the timer; 0 stops it).
    pub const TIMER_INITIAL: u32 = 0x380;
    /// The timer's current count.
    pub const TIMER_CURRENT: u32 = 0x390;
    /// The timer's divide configuration.
    pub const TIMER_DIVIDE: u32 = 0x3e0;
}

/// A local vector table entry's mask bit.
const MASKED: u32 = 1 << 16;
/// The software-enable bit of the spurious-interrupt vector register.
const APIC_ENABLE: u32 = 1 << 8;
/// The ICR's delivery-status bit: set while an IPI is still being sent.
const SEND_PENDING: u32 = 1 << 12;
/// The ICR's level bit: "assert", which every IPI but an INIT de-assert sets.
const ASSERT: u32 = 1 << 14;
/// The divide configuration for "divide by 16" (0b0011).
const DIVIDE_BY_16: u32 = 0b0011;
/// How many times [`LocalApic::send_ipi`] polls the delivery-status bit, each poll with a
/// `pause`, before it gives up: milliseconds on any CPU, while a real APIC takes a few
/// microseconds and QEMU's none.
const MAX_POLLS: u32 = 1_000_000;

/// Access to the registers of the local APIC of the current core.
pub trait Registers {
    /// Reads the 32-bit register at byte offset `offset`.
    fn read(&self, offset: u32) -> u32;
    /// Writes the 32-bit register at byte offset `offset`.
    fn write(&self, offset: u32, value: u32);
}

/// The xAPIC registers, memory-mapped at a physical address that is identity-mapped.
#[derive(Clone, Copy, Debug)]
pub struct MmioRegisters {
    base: usize,
}

impl MmioRegisters {
    /// The registers at `base`.
    ///
    /// # Safety
    /// `base` must be the local APIC's address, identity-mapped, and the APIC must be in
    /// xAPIC mode.
    pub const unsafe fn new(base: usize) -> Self {
        Self { base }
    }

    /// The APIC's address.
    pub fn base(&self) -> usize {
        self.base
    }
}

impl Registers for MmioRegisters {
    fn read(&self, offset: u32) -> u32 {
        // SAFETY: `new`'s caller vouched for the mapping; APIC registers are 32-bit aligned
        // and reading them has no side effects.
        unsafe { ((self.base + offset as usize) as *const u32).read_volatile() }
    }

    fn write(&self, offset: u32, value: u32) {
        // SAFETY: as for `read`; what a write does is the caller's business, and every
        // caller in this module writes values the SDM defines.
        unsafe { ((self.base + offset as usize) as *mut u32).write_volatile(value) }
    }
}

/// An inter-processor interrupt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ipi {
    /// Interrupt the target with this vector.
    Fixed(u8),
    /// Reset the target into its wait-for-start-up state.
    Init,
    /// Start the target in real mode at `page << 12`, with `CS = page << 8`.
    Startup(u8),
}

impl Ipi {
    /// The low half of the ICR that sends this IPI to the core named in the high half.
    pub fn command(self) -> u32 {
        match self {
            Self::Fixed(vector) => ASSERT | u32::from(vector),
            Self::Init => ASSERT | 0b101 << 8,
            Self::Startup(page) => ASSERT | 0b110 << 8 | u32::from(page),
        }
    }
}

/// The previous IPI was still being sent after [`MAX_POLLS`] polls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stuck;

/// The local APIC of whichever core uses it.
#[derive(Clone, Copy, Debug)]
pub struct LocalApic<R> {
    registers: R,
}

impl<R: Registers> LocalApic<R> {
    /// The APIC behind `registers`.
    pub const fn new(registers: R) -> Self {
        Self { registers }
    }

    /// The registers.
    pub fn registers(&self) -> &R {
        &self.registers
    }

    /// Enables this core's APIC with `spurious` as its spurious-interrupt vector, accepts
    /// every priority, masks LINT0 (the 8259's virtual wire; its interrupts are not wanted)
    /// and starts the timer's calibration run: the timer counts down from [`u32::MAX`] with
    /// its interrupt masked, for [`LocalApic::count_at_tsc`] to read.
    pub fn enable(&self, spurious: u8) {
        let r = &self.registers;
        r.write(reg::SVR, APIC_ENABLE | u32::from(spurious));
        r.write(reg::TPR, 0);
        r.write(reg::LVT_LINT0, MASKED);
        r.write(reg::TIMER_DIVIDE, DIVIDE_BY_16);
        r.write(reg::LVT_TIMER, MASKED);
        r.write(reg::TIMER_INITIAL, u32::MAX);
    }

    /// This core's local APIC ID.
    pub fn id(&self) -> u8 {
        (self.registers.read(reg::ID) >> 24) as u8
    }

    /// Signals the end of the interrupt being handled.
    pub fn end_of_interrupt(&self) {
        self.registers.write(reg::EOI, 0);
    }

    /// The timer's current count and the TSC when it was read: of three readings, the one
    /// that took the least time, so that a core that was descheduled between reading the
    /// counter and reading the TSC (under a busy hypervisor) does not skew the calibration.
    pub fn count_at_tsc(&self) -> (u32, u64) {
        let mut best = (0, 0, u64::MAX);
        for _ in 0..3 {
            let before = instructions::rdtsc();
            let count = self.registers.read(reg::TIMER_CURRENT);
            let after = instructions::rdtsc();
            if after.wrapping_sub(before) < best.2 {
                best = (count, after, after.wrapping_sub(before));
            }
        }
        (best.0, best.1)
    }

    /// Starts a new calibration run (as [`LocalApic::enable`] does).
    pub fn restart_calibration(&self) {
        self.registers.write(reg::LVT_TIMER, MASKED);
        self.registers.write(reg::TIMER_INITIAL, u32::MAX);
    }

    /// Raises `vector` once, after `ticks` timer ticks (at least one).
    pub fn one_shot(&self, vector: u8, ticks: u32) {
        self.registers.write(reg::LVT_TIMER, u32::from(vector));
        self.registers.write(reg::TIMER_INITIAL, ticks.max(1));
    }

    /// Stops the timer; a timer interrupt already raised is still delivered.
    pub fn stop_timer(&self) {
        self.registers.write(reg::TIMER_INITIAL, 0);
    }

    /// Sends `ipi` to the core whose APIC ID is `apic_id`, and waits until the APIC has
    /// sent it.
    pub fn send_ipi(&self, apic_id: u8, ipi: Ipi) -> Result<(), Stuck> {
        self.wait_sent()?;
        self.registers
            .write(reg::ICR_HIGH, u32::from(apic_id) << 24);
        self.registers.write(reg::ICR_LOW, ipi.command());
        self.wait_sent()
    }

    fn wait_sent(&self) -> Result<(), Stuck> {
        for _ in 0..MAX_POLLS {
            if self.registers.read(reg::ICR_LOW) & SEND_PENDING == 0 {
                return Ok(());
            }
            hint::spin_loop();
        }
        Err(Stuck)
    }
}

/// The timer's rate in kHz (ticks per millisecond), given that it counted down `timer_ticks`
/// while the TSC, running at `tsc_khz`, counted `tsc_ticks`. `None` for a window of no TSC
/// ticks or a timer that did not move.
pub fn timer_khz(timer_ticks: u32, tsc_ticks: u64, tsc_khz: u64) -> Option<u64> {
    // Within u64: timer_ticks < 2^32 and any TSC rate below 4 THz is under 2^32 kHz.
    u64::from(timer_ticks)
        .checked_mul(tsc_khz)?
        .checked_div(tsc_ticks)
        .filter(|&khz| khz > 0)
}

/// The timer ticks in `nanos` nanoseconds at `khz` kHz, rounded down (so that the timer
/// never fires late by rounding), at least 1 and at most [`u32::MAX`].
pub fn ticks_for(nanos: u64, khz: u64) -> u32 {
    let ticks = nanos.saturating_mul(khz) / 1_000_000;
    u32::try_from(ticks).unwrap_or(u32::MAX).max(1)
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::collections::HashMap;

    use super::{Ipi, LocalApic, Registers, Stuck, reg, ticks_for, timer_khz};

    /// A register bank that remembers writes, answers reads from a table, and keeps the
    /// ICR's delivery-status bit set for `busy_reads` reads.
    #[derive(Default)]
    struct FakeApic {
        values: RefCell<HashMap<u32, u32>>,
        writes: RefCell<Vec<(u32, u32)>>,
        busy_reads: RefCell<u32>,
    }

    impl Registers for FakeApic {
        fn read(&self, offset: u32) -> u32 {
            let value = self.values.borrow().get(&offset).copied().unwrap_or(0);
            if offset == reg::ICR_LOW && *self.busy_reads.borrow() > 0 {
                *self.busy_reads.borrow_mut() -= 1;
                return value | 1 << 12;
            }
            value
        }

        fn write(&self, offset: u32, value: u32) {
            self.writes.borrow_mut().push((offset, value));
            self.values.borrow_mut().insert(offset, value);
        }
    }

    #[test]
    fn enable_sets_the_spurious_vector_and_starts_the_calibration_run() {
        let apic = LocalApic::new(FakeApic::default());
        apic.enable(0xff);
        let writes = apic.registers().writes.borrow().clone();
        assert_eq!(
            writes,
            [
                (reg::SVR, 0x1ff),
                (reg::TPR, 0),
                (reg::LVT_LINT0, 1 << 16),
                (reg::TIMER_DIVIDE, 0b0011),
                (reg::LVT_TIMER, 1 << 16),
                (reg::TIMER_INITIAL, u32::MAX),
            ]
        );
    }

    #[test]
    fn reads_id_and_current_count() {
        let apic = LocalApic::new(FakeApic::default());
        apic.registers()
            .values
            .borrow_mut()
            .extend([(reg::ID, 3 << 24), (reg::TIMER_CURRENT, u32::MAX - 1000)]);
        assert_eq!(apic.id(), 3);
        let (count, tsc) = apic.count_at_tsc();
        assert_eq!(count, u32::MAX - 1000);
        assert!(tsc != 0);
    }

    #[test]
    fn timer_one_shot_and_stop() {
        let apic = LocalApic::new(FakeApic::default());
        apic.one_shot(0xf0, 0);
        apic.stop_timer();
        apic.end_of_interrupt();
        let writes = apic.registers().writes.borrow().clone();
        assert_eq!(
            writes,
            [
                (reg::LVT_TIMER, 0xf0),
                (reg::TIMER_INITIAL, 1),
                (reg::TIMER_INITIAL, 0),
                (reg::EOI, 0),
            ]
        );
    }

    #[test]
    fn ipis_name_the_destination_first_and_wait_for_delivery() {
        let apic = LocalApic::new(FakeApic::default());
        *apic.registers().busy_reads.borrow_mut() = 5;
        assert_eq!(apic.send_ipi(2, Ipi::Fixed(0xf1)), Ok(()));
        assert_eq!(apic.send_ipi(3, Ipi::Init), Ok(()));
        assert_eq!(apic.send_ipi(3, Ipi::Startup(0x08)), Ok(()));
        let writes = apic.registers().writes.borrow().clone();
        assert_eq!(
            writes,
            [
                (reg::ICR_HIGH, 2 << 24),
                (reg::ICR_LOW, 0x40f1),
                (reg::ICR_HIGH, 3 << 24),
                (reg::ICR_LOW, 0x4500),
                (reg::ICR_HIGH, 3 << 24),
                (reg::ICR_LOW, 0x4608),
            ]
        );
    }

    #[test]
    fn a_stuck_icr_is_an_error_not_a_hang() {
        let apic = LocalApic::new(FakeApic::default());
        *apic.registers().busy_reads.borrow_mut() = u32::MAX;
        assert_eq!(apic.send_ipi(1, Ipi::Fixed(0xf1)), Err(Stuck));
        assert!(apic.registers().writes.borrow().is_empty());
    }

    #[test]
    fn timer_rate_follows_from_the_tsc() {
        // QEMU's APIC timer: 1 GHz / 16 = 62.5 MHz; a 2.6 GHz TSC; 100 µs.
        assert_eq!(timer_khz(6_250, 260_000, 2_600_000), Some(62_500));
        assert_eq!(timer_khz(6_250, 0, 2_600_000), None);
        assert_eq!(timer_khz(0, 260_000, 2_600_000), None);
        assert_eq!(ticks_for(1_000_000, 62_500), 62_500);
        assert_eq!(ticks_for(1, 62_500), 1, "never zero: zero stops the timer");
        assert_eq!(ticks_for(u64::MAX, 62_500), u32::MAX);
    }
}
