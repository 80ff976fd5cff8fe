//! The x86_64 processor: what every x86_64 board shares, whatever machine is around it
//! (that is [`crate::platform`]). The local APIC, each core's own interrupt controller, is
//! with the other interrupt controllers in [`crate::platform::irq`].

pub mod context;
pub mod cpu;
pub mod entry;
pub mod gdt;
pub mod idle;
pub mod idt;
pub mod instructions;
pub mod paging;
pub mod port;
pub mod trap;
pub mod tsc;
