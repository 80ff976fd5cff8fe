//! The interrupt controllers: each core's local APIC, the I/O APICs that carry device
//! interrupts ([`lines`]), and the legacy 8259s, kept masked.

pub mod ioapic;
pub mod lapic;
pub mod lines;
pub mod pic;
