//! Halting an idle core until an interrupt or a deadline, with the local APIC timer.
//!
//! [`HaltIdle::idle`] masks interrupts, asks the kernel whether the core is still idle,
//! arms a one-shot timer for the deadline, and halts with `sti; hlt`: STI takes effect only
//! after the next instruction, so no interrupt (a wake-up IPI sent after the kernel looked)
//! can slip in between the check and the halt. It would be taken at once and end the `hlt`.
//!
//! The timer's rate is found the first time a core needs it (see
//! [`crate::platform::irq::lapic`]), from the TSC.

use core::arch::asm;

use hal::cpu::CpuIdle;
use hal::time::{Clock, Instant};

use crate::platform::irq::lapic::{self, LocalApic, MmioRegisters};
use crate::x86_64::gdt::CoreLocal;
use crate::x86_64::instructions;
use crate::x86_64::trap::TIMER_VECTOR;
use crate::x86_64::tsc::TscClock;

/// The shortest calibration run: 100 µs of TSC ticks, which pins the timer's rate to well
/// under 1 % even when reading the counter costs a microsecond.
const MIN_CALIBRATION_US: u64 = 100;

/// Halting the current core, woken by any interrupt or by its local APIC timer.
#[derive(Clone, Copy, Debug)]
pub struct HaltIdle {
    clock: TscClock,
    apic: LocalApic<MmioRegisters>,
}

impl HaltIdle {
    /// Idling with `clock` for deadlines and the local APIC at `apic` for the timer.
    ///
    /// # Safety
    /// Every core that calls [`CpuIdle::idle`] must have enabled its local APIC at that
    /// address with [`crate::x86_64::cpu::enable_interrupt_controller`], and its IDT must
    /// handle the timer vector.
    pub unsafe fn new(clock: TscClock, apic: MmioRegisters) -> Self {
        Self {
            clock,
            apic: LocalApic::new(apic),
        }
    }

    /// This core's timer rate in kHz: measured at the first call, by how far the timer
    /// counted since the core enabled its APIC, against the TSC.
    fn timer_khz(&self) -> u64 {
        let known = CoreLocal::timer_khz();
        if known != 0 {
            return known;
        }
        let min_window = self.clock.khz() * MIN_CALIBRATION_US / 1000;
        loop {
            let (start_count, start_tsc) = CoreLocal::calibration_start();
            // A run shorter than the minimum is left to go on.
            while instructions::rdtsc().wrapping_sub(start_tsc) < min_window {
                core::hint::spin_loop();
            }
            let (count, tsc) = self.apic.count_at_tsc();
            // A count of 0 means the run ran out (tens of seconds from boot to the first
            // deadline).
            let khz = (count != 0)
                .then(|| {
                    lapic::timer_khz(
                        start_count.wrapping_sub(count),
                        tsc.wrapping_sub(start_tsc),
                        self.clock.khz(),
                    )
                })
                .flatten();
            if let Some(khz) = khz {
                CoreLocal::set_timer_khz(khz);
                return khz;
            }
            // Run again, this time for the minimum only.
            self.apic.restart_calibration();
            CoreLocal::set_calibration_start(self.apic.count_at_tsc());
        }
    }
}

impl CpuIdle for HaltIdle {
    fn idle(&self, deadline: Option<Instant>, still_idle: &mut dyn FnMut() -> bool) {
        // SAFETY: masking interrupts on this core only delays them; every path below
        // unmasks them again before it returns.
        unsafe { asm!("cli", options(nomem, nostack)) };
        if !still_idle() {
            // SAFETY: unmasks what was masked above.
            unsafe { asm!("sti", options(nomem, nostack)) };
            return;
        }
        let armed = if let Some(deadline) = deadline {
            let now = self.clock.now();
            if deadline <= now {
                // SAFETY: as above.
                unsafe { asm!("sti", options(nomem, nostack)) };
                return;
            }
            let nanos = deadline.as_nanos().saturating_sub(now.as_nanos());
            let ticks = lapic::ticks_for(nanos, self.timer_khz());
            self.apic.one_shot(TIMER_VECTOR, ticks);
            true
        } else {
            false
        };
        // SAFETY: HLT waits for an interrupt; STI's one-instruction delay means an interrupt
        // pending now ends the HLT instead of being taken before it. Interrupt handlers
        // return here.
        unsafe { asm!("sti", "hlt", options(nomem, nostack)) };
        if armed {
            self.apic.stop_timer();
        }
    }
}
