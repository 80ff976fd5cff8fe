//! Board support for QEMU's `microvm` machine, booted through PVH.
//!
//! QEMU (and Firecracker, Cloud Hypervisor) loads the ELF image at 1 MiB and, reading the
//! `XEN_ELFNOTE_PHYS32_ENTRY` note, enters [`pvh_start32`](entry) in 32-bit protected mode
//! with `ebx` pointing at `hvm_start_info`. The firmware is qboot (QEMU's `microvm` with
//! ACPI off) or SeaBIOS's microvm build (with ACPI on, QEMU 10's default), which puts the
//! memory map in page 0. From there:
//!
//! 0. memory: the RAM that holds the image must also hold the heap; if not, one line says
//!    how much there is and how much is needed, and the board stops with status 103
//!    (`drivers::x86_64::entry`);
//! 1. early CPU set-up: long mode, page tables, `.bss`, stack (`drivers::x86_64::entry`),
//!    then core 0's GDT, TSS (double-fault and page-fault stacks), per-core block (GS
//!    base) and the IDT, with CPU exceptions reported on COM1; then the check that a PVH
//!    loader entered the image, else a line saying which board to build for and status 1;
//! 2. memory: the command line (less QEMU's `virtio_mmio.device=` words, kept for step
//!    6) and the memory map are copied out of the start info, with page 0 mapped for that
//!    moment only;
//! 3. devices: COM1 as console, the TSC as clock, the cores and local APIC address from
//!    the ACPI MADT when the start info gives an RSDP (ACPI on), else from the MP table;
//!    the memory checked again for that many cores; the other cores' descriptor tables
//!    off the heap's top;
//! 4. interrupts: the 8259s masked, the boot core's local APIC enabled (timer, wake-up IPI
//!    and spurious vectors); interrupts stay masked until the kernel first idles;
//! 5. hand-off: the kernel gets a [`Board`] with the heap and every device;
//! 6. devices found when an application first asks for one (`devices`): virtio-blk in
//!    the virtio-mmio slots, each on its GSI's line.
//!
//! The board's own code is the PVH note and entry (`entry`), the start info's parser
//! (`pvh`) and `boot`, which takes these steps through `drivers::board::kit`, as
//! `bsp-qemu-pc` does.
//!
//! | device | driver | status |
//! |---|---|---|
//! | console | 16550 UART at COM1 (`0x3f8`) | works |
//! | clock | TSC, rate from `tsc_khz=`, CPUID or the PIT | works |
//! | exit | `isa-debug-exit` at `0xf4`; else the status on COM1, then ACPI S5 with `acpi=on` (the FADT's sleep control register), the i8042 reset or a triple fault | works |
//! | cores | local APIC (xAPIC), IDs from the ACPI MADT (ACPI on) or the MP table (ACPI off); INIT–SIPI through a trampoline at 0x8000 | works |
//! | idle | `sti; hlt`, woken by the wake-up IPI or the one-shot APIC timer | works |
//! | guard pages | the boot page tables, 2 MiB pages split on demand | works |
//! | block | virtio-blk on virtio-mmio: the slots QEMU names in `virtio_mmio.device=` words (cut off the command line before the application sees it), else, with ACPI on, probed | works |
//! | interrupts | I/O APICs and ISA overrides from the ACPI MADT (ACPI on) or the MP table; device lines 0x30.., level lines masked while serviced | works |
//! | legacy IRQs | 8259 PICs | masked |

#![cfg_attr(not(test), no_std)]
#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

#[cfg(target_os = "none")]
mod boot;
mod devices;
#[cfg(target_os = "none")]
mod entry;
// Only the boot path uses the parser; on the host, only its tests do.
#[cfg_attr(not(target_os = "none"), allow(dead_code))]
mod pvh;

use drivers::board::wall::BootWallClock;
use drivers::console::uart16550::{PortRegisters, Uart16550};
use drivers::platform::irq::lines::IoApicInterrupts;
use drivers::platform::smp::ApicCores;
use drivers::power::qemu::QemuPower;
use drivers::x86_64::context::X86ContextSwitch;
use drivers::x86_64::cpu::Exceptions;
use drivers::x86_64::idle::HaltIdle;
use drivers::x86_64::paging::PageGuard;
use drivers::x86_64::tsc::TscClock;
use hal::board::Platform;

pub use crate::devices::MicrovmDevices;

/// The devices of a microvm.
#[derive(Debug)]
pub struct Microvm;

impl Platform for Microvm {
    type Console = Uart16550<PortRegisters>;
    type Clock = TscClock;
    type WallClock = BootWallClock;
    type Cores = ApicCores;
    type Idle = HaltIdle;
    type Switch = X86ContextSwitch;
    type Guard = PageGuard;
    type Power = QemuPower<Uart16550<PortRegisters>>;
    type Traps = Exceptions;
    type Interrupts = IoApicInterrupts;
    type Devices = MicrovmDevices;
}
