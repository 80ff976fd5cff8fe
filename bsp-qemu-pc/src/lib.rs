//! Board support for the QEMU PC (`-M pc`): SeaBIOS, then Multiboot through QEMU's
//! `-kernel` or through the loader of the BIOS disk image `probe image` writes.
//!
//! The loader enters [`multiboot_start32`](entry) in 32-bit protected mode with the
//! Multiboot magic in `eax` and the information structure at `ebx`. From there:
//!
//! 0. memory: the RAM above 1 MiB (`mem_upper`) must hold the image and the heap; if not,
//!    one line says how much there is and how much is needed, and the board stops with
//!    status 103 (`drivers::x86_64::entry`);
//! 1. early CPU set-up: long mode, page tables, `.bss`, stack (`drivers::x86_64::entry`),
//!    then core 0's GDT, TSS (double-fault and page-fault stacks), per-core block (GS
//!    base) and the IDT, with CPU exceptions reported on COM1; then the check that a
//!    Multiboot loader entered the image and that the machine is a PC (a PCI host bridge
//!    answers), else a line saying which board to build for and status 1;
//! 2. memory: the command line and memory map are copied out of the loader's structures,
//!    which QEMU puts just above the kernel, where the heap will be;
//! 3. devices: COM1 as console, the TSC as clock, the cores and local APIC address from
//!    the ACPI MADT (SeaBIOS's MP table lists only the boot core), the memory checked
//!    again for that many cores, the other cores' descriptor tables off the heap's top;
//! 4. interrupts: the 8259s masked, the boot core's local APIC enabled (timer, wake-up IPI
//!    and spurious vectors); interrupts stay masked until the kernel first idles;
//! 5. hand-off: the kernel gets a [`Board`] with the heap and every device;
//! 6. devices found when an application first asks for one (`devices`): the PCI scan,
//!    virtio-blk functions started on their INTx line, the IDE controller's drives.
//!
//! The board's own code is the Multiboot header and entry (`entry`), the information's
//! parser (`multiboot`) and `boot`, which checks for a PCI host bridge and takes the other
//! steps through `drivers::board::kit`, as `bsp-microvm` does.
//!
//! | device | driver | status |
//! |---|---|---|
//! | console | 16550 UART at COM1 (`0x3f8`), copied to the VGA text screen when the BIOS left one in 80×25 text mode | works |
//! | clock | TSC, rate from `tsc_khz=`, CPUID or the PIT | works |
//! | exit | `isa-debug-exit` at `0xf4`; else the status on COM1, then ACPI S5 (PM1a control from the FADT, `\_S5` from the DSDT), the i8042 reset or a triple fault | works |
//! | cores | local APIC (xAPIC), IDs from the ACPI MADT; INIT–SIPI through a trampoline at 0x8000 | works |
//! | idle | `sti; hlt`, woken by the wake-up IPI or the one-shot APIC timer | works |
//! | guard pages | the boot page tables, 2 MiB pages split on demand | works |
//! | block | virtio-blk on PCI (`virtio-blk-pci`, found by a scan of bus 0 and the buses behind bridges, every function listed at `log=debug`), INTx through the I/O APIC | works |
//! | block | ATA disks on the PIIX IDE controller's legacy channels (`-drive if=ide`): bus-master DMA (BAR4, READ/WRITE DMA) when the controller and drive offer it, else or with `ata=pio` PIO; interrupt completion on ISA IRQ 14/15, LBA28 and LBA48 | works |
//! | wall clock | `time=<Unix seconds>` on the command line, else the CMOS RTC (century register from the FADT), read on the first `SystemTime::now` | works |
//! | interrupts | I/O APICs and ISA overrides from the ACPI MADT (else the MP table, else one at 0xfec0_0000); device lines 0x30.., level lines masked while serviced | works |
//! | legacy IRQs | 8259 PICs | masked |

#![cfg_attr(not(test), no_std)]
#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

// `cargo test -p bsp-qemu-pc` builds for the default target, bare metal, which has no `std` for the
// test harness; rustc's own error says only that `std` is missing.
#[cfg(all(test, target_os = "none"))]
core::compile_error!(
    "host tests build for the host: cargo test --target host-tuple -p bsp-qemu-pc (or cargo probe test --host-only)"
);

#[cfg(target_os = "none")]
mod boot;
mod devices;
#[cfg(target_os = "none")]
mod entry;
// Only the boot path uses the parser; on the host, only its tests do.
#[cfg_attr(not(target_os = "none"), allow(dead_code))]
mod multiboot;
mod nics;

use drivers::board::wall::BootWallClock;
use drivers::console::uart16550::{PortRegisters, Uart16550};
use drivers::console::vga::WithScreen;
use drivers::platform::irq::lines::IoApicInterrupts;
use drivers::platform::smp::ApicCores;
use drivers::power::qemu::QemuPower;
use drivers::x86_64::context::X86ContextSwitch;
use drivers::x86_64::cpu::Exceptions;
use drivers::x86_64::idle::HaltIdle;
use drivers::x86_64::paging::PageGuard;
use drivers::x86_64::tsc::TscClock;
use hal::board::Platform;

pub use crate::devices::PcDevices;

/// The devices of a QEMU PC.
#[derive(Debug)]
pub struct QemuPc;

impl Platform for QemuPc {
    type Console = WithScreen<Uart16550<PortRegisters>>;
    type Clock = TscClock;
    type WallClock = BootWallClock;
    type Cores = ApicCores;
    type Idle = HaltIdle;
    type Switch = X86ContextSwitch;
    type Guard = PageGuard;
    type Power = QemuPower<Uart16550<PortRegisters>>;
    type Traps = Exceptions;
    type Interrupts = IoApicInterrupts;
    type Devices = PcDevices;
}
