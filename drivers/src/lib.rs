//! Chip-level drivers for Novillo, and the boot code its x86_64 boards share: each driver
//! knows one piece of hardware, and nothing here knows threads, sockets or files.
//!
//! A reader finds the processor in [`x86_64`], the machine around it in [`platform`], and
//! each device family in its own module; a board crate is then only its boot protocol and
//! its device list, with the rest in [`board`].
//!
//! | module | what |
//! |---|---|
//! | [`x86_64`] | the processor: the long-mode entry, GDT/TSS, IDT and trap entry, context switch, paging and guard pages, TSC clock, idle halting, port I/O |
//! | [`platform`] | the PC-compatible machine around it (`pc` and `microvm`): firmware tables ([`platform::firmware`]: MP table, ACPI MADT and FADT/S5, with the I/O APICs and interrupt overrides), interrupt controllers ([`platform::irq`]: local APIC, I/O APICs and the board's interrupt lines, 8259 masking), the PIT, the CMOS clock ([`platform::rtc`]), starting the other cores ([`platform::smp`]) |
//! | [`bus`] | PCI configuration space through ports 0xcf8/0xcfc, the bus scan and `virtio-drivers`' configuration access; microvm's virtio-mmio slots |
//! | [`block`] | block devices, split-phase behind [`hal::block::BlockDevice`]: [`block::virtio::VirtioBlk`], virtio-blk on any virtio transport; [`block::ata::AtaDrive`], ATA disks on a PC's IDE channels (bus-master DMA, else PIO; interrupt completion) |
//! | [`net`] | network devices: [`net::virtio::VirtioNet`] (virtio-net through the crate's non-blocking `VirtIONetRaw`) and [`net::e1000::E1000`] (the 82540EM, our own), behind [`hal::net::NetDevice`] |
//! | [`virtio`] | what the `virtio-drivers` crate needs from us ([`virtio::VirtioHal`]: DMA from the heap, identity addresses) and virtio start-up errors |
//! | [`console`] | the 16550 serial port, behind [`hal::console::Console`] |
//! | [`power`] | QEMU's `isa-debug-exit` device, else ACPI S5, the i8042 reset or a triple fault, behind [`hal::power::PowerOff`] |
//! | [`board`] | what every x86_64 board's boot path shares: which loader entered the image, the loader's data, the heap and memory checks, finding the clock and the cores ([`board::common`]), and the steps every board takes in the same order ([`board::kit`]) |
//!
//! Register access sits behind small traits ([`console::uart16550::Registers`],
//! [`platform::irq::lapic::Registers`], [`platform::irq::ioapic::Registers`]) so that the drivers are tested on the host against
//! fake register banks.

#![cfg_attr(not(test), no_std)]
#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

// `cargo test -p drivers` builds for the default target, bare metal, which has no `std` for the
// test harness; rustc's own error says only that `std` is missing.
#[cfg(all(test, target_os = "none"))]
core::compile_error!(
    "host tests build for the host: cargo test --target host-tuple -p drivers (or cargo probe test --host-only)"
);

extern crate alloc;

pub mod block;
pub mod board;
pub mod bus;
pub mod console;
pub mod net;
pub mod platform;
pub mod power;
pub mod virtio;
pub mod x86_64;
