//! The interrupt controllers: each core's local APIC, and the legacy 8259s, kept masked.

pub mod lapic;
pub mod pic;
