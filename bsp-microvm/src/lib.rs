//! Board support for QEMU's `microvm` machine, booted through PVH.
//!
//! QEMU (and Firecracker, Cloud Hypervisor) loads the ELF image at 1 MiB and, reading the
//! `XEN_ELFNOTE_PHYS32_ENTRY` note, enters [`pvh_start32`](entry) in 32-bit protected mode
//! with `ebx` pointing at `hvm_start_info`. From there:
//!
//! 1. early CPU set-up: long mode, page tables, `.bss`, stack (`drivers::x86_64::boot`),
//!    then the GDT, TSS and IDT, with CPU exceptions reported on COM1;
//! 2. memory: the command line and memory map are copied out of the start info;
//! 3. devices: COM1 as console, the TSC as clock, the cores from the MP table;
//! 4. interrupts stay masked: no device interrupts yet;
//! 5. hand-off: the kernel gets a [`Board`] with the heap and every device.
//!
//! | device | driver | status |
//! |---|---|---|
//! | console | 16550 UART at COM1 (`0x3f8`) | works |
//! | clock | TSC, rate from `tsc_khz=`, CPUID or the PIT | works |
//! | exit | `isa-debug-exit` at `0xf4` | works |
//! | cores | counted from the MP table | only the boot core runs |

#![cfg_attr(not(test), no_std)]
#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

mod entry;
mod pvh;

use drivers::qemu::{DEBUG_EXIT_PORT, QemuPower};
use drivers::uart16550::{PortRegisters, Uart16550};
use drivers::x86_64::boot::{self, BootData};
use drivers::x86_64::cpu::{self, BootCoreOnly, Exceptions};
use drivers::x86_64::tsc::TscClock;
use embedded_io::Write;
use hal::board::{Board, Platform};
use hal::power::PowerOff;
use hal::trap::Fault;

/// The devices of a microvm.
#[derive(Debug)]
pub struct Microvm;

impl Platform for Microvm {
    type Console = Uart16550<PortRegisters>;
    type Clock = TscClock;
    type Cores = BootCoreOnly;
    type Power = QemuPower;
    type Traps = Exceptions;
}

/// The status the board leaves with when it cannot boot.
const BOOT_FAILURE: u8 = 1;
/// The status after a CPU exception before the kernel took over (the kernel's `FAULT`).
const EARLY_FAULT: u8 = 102;

fn power() -> QemuPower {
    // SAFETY: microvm has no ACPI PM ports; 0xf4 is `isa-debug-exit` or nothing.
    unsafe { QemuPower::new(DEBUG_EXIT_PORT, None) }
}

fn serial() -> Uart16550<PortRegisters> {
    // SAFETY: microvm's COM1 is a 16550 at 0x3f8, and the board is its only user until it
    // hands the console to the kernel.
    Uart16550::new(unsafe { PortRegisters::new(PortRegisters::COM1) })
}

/// Says why the board cannot go on, and leaves.
fn fail(status: u8, args: core::fmt::Arguments<'_>) -> ! {
    let _ = serial().write_fmt(format_args!("\nmicrovm: {args}\n"));
    power().power_off(status)
}

/// Reports a CPU exception taken before the kernel installed its handler.
fn early_fault(fault: &Fault) -> ! {
    fail(
        EARLY_FAULT,
        format_args!("stopped by a {fault} during boot"),
    )
}

/// Builds the board from the PVH start info at `start_info`. Runs once, on the boot core.
fn init(start_info: u64) -> Board<Microvm> {
    static mut BOOT_DATA: BootData = BootData::new();

    // SAFETY: runs once, first thing, on the boot core with interrupts masked.
    let traps = unsafe { cpu::init_boot_core(early_fault) };

    // SAFETY: `init` runs once, so this is the only reference to BOOT_DATA; PVH puts the
    // start info, command line and memory map in mapped memory below 4 GiB.
    let data: &'static BootData = unsafe {
        let data = &mut *(&raw mut BOOT_DATA);
        let fixed = &*(start_info as *const [u8; pvh::START_INFO_LEN]);
        let info = pvh::parse(fixed)
            .unwrap_or_else(|e| fail(BOOT_FAILURE, format_args!("bad PVH start info: {e:?}")));
        data.set_command_line(boot::c_string_at(info.cmdline));
        let entries = info.memmap as *const [u8; pvh::MEMMAP_ENTRY_LEN];
        for i in 0..(info.memmap_entries as usize).min(boot::MAX_REGIONS) {
            data.push_region(pvh::region(&*entries.add(i)));
        }
        data
    };

    // SAFETY: once, at boot, with the page tables up and the loader's data copied.
    let common = unsafe { boot::find_common(data) }.unwrap_or_else(|e| fail(BOOT_FAILURE, format_args!("{e}")));

    Board {
        name: "microvm",
        command_line: data.command_line(),
        memory_map: data.regions(),
        heap: common.heap,
        console: serial(),
        clock: common.clock,
        cores: common.cores,
        power: power(),
        traps,
    }
}

/// Where the 64-bit boot path lands (see [`entry`]).
extern "C" fn main(start_info: u64, _eax: u64) -> ! {
    let board = init(start_info);
    unsafe extern "Rust" {
        /// Defined by `kernel::board!(bsp_microvm::Microvm)`.
        fn __novillo_start(board: Board<Microvm>) -> !;
    }
    // SAFETY: `kernel::board!` defines `__novillo_start` with exactly this signature for this
    // platform; an image without it does not link.
    unsafe { __novillo_start(board) }
}
