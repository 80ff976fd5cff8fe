//! Chip-level drivers for Novillo: each knows one piece of hardware and nothing of boards,
//! threads, sockets or files.
//!
//! | module | hardware |
//! |---|---|
//! | [`uart16550`] | the 16550 serial port, behind [`hal::console::Console`] |
//! | [`pci`] | PCI configuration space through ports 0xcf8/0xcfc |
//! | [`qemu`] | QEMU's `isa-debug-exit` device, else ACPI S5, the i8042 reset or a triple fault, behind [`hal::power::PowerOff`] |
//! | [`x86_64`] | the CPU: boot into long mode, GDT/TSS, IDT and trap entry, context switch, TSC, PIT, 8259 masking, local APIC (timer, IPIs), SMP start-up, idle halting, guard pages, ACPI MADT and FADT (S5), MP table |
//!
//! Register access sits behind small traits ([`uart16550::Registers`],
//! [`x86_64::lapic::Registers`]) so that the
//! drivers are tested on the host against fake register banks.

#![cfg_attr(not(test), no_std)]
#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

pub mod pci;
pub mod qemu;
pub mod uart16550;
pub mod x86_64;
