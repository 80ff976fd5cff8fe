//! The two 8259 programmable interrupt controllers of the PC (microvm has them too).
//!
//! Novillo takes interrupts through the local APIC only, so the 8259s are masked: with
//! every line masked they never raise INTR, and no legacy IRQ (the PIT's, say, which
//! SeaBIOS routes to vector 8, the double fault) reaches a core.

use crate::x86_64::port;

/// The master's data port (its interrupt mask register, outside an init sequence).
const MASTER_DATA: u16 = 0x21;
/// The slave's data port.
const SLAVE_DATA: u16 = 0xa1;

/// Masks every line of both 8259s.
///
/// # Safety
/// The 8259s must be at their standard ports (or absent, when writes there go nowhere),
/// and nothing else may be programming them.
pub unsafe fn mask_all() {
    // SAFETY: the caller vouches for the ports; OCW1 only sets the interrupt masks.
    unsafe {
        port::outb(SLAVE_DATA, 0xff);
        port::outb(MASTER_DATA, 0xff);
    }
}
