//! The x86_64 processor: what every x86_64 board shares.

pub mod acpi;
pub mod boot;
pub mod context;
pub mod cpu;
pub mod fadt;
pub mod gdt;
pub mod idle;
pub mod idt;
pub mod instructions;
pub mod lapic;
pub mod loader;
pub mod mptable;
pub mod paging;
pub mod pic;
pub mod pit;
pub mod port;
pub mod smp;
pub mod trap;
pub mod tsc;
