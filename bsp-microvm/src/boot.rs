//! The boot path: from the 64-bit entry to the hand-off to the kernel.

use drivers::qemu::{DEBUG_EXIT_PORT, QemuPower};
use drivers::uart16550::{PortRegisters, Uart16550};
use drivers::x86_64::boot::{self, Acpi, BootData};
use drivers::x86_64::context::X86ContextSwitch;
use drivers::x86_64::cpu;
use embedded_io::Write;
use hal::board::Board;
use hal::power::PowerOff;
use hal::trap::Fault;

use crate::{Microvm, pvh};

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

/// Says what the board booted through but must not pass over in silence.
fn warn(warning: &boot::Warning) {
    let _ = serial().write_fmt(format_args!("microvm: warning: {warning}\n"));
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

    #[allow(clippy::deref_addrof)]
    // `&mut *(&raw mut S)` is how edition 2024 borrows a `static mut`.
    // SAFETY: `init` runs once, so this is the only reference to BOOT_DATA; PVH puts the
    // start info, command line and memory map in mapped memory below 4 GiB.
    let (data, acpi): (&'static BootData, Acpi) = unsafe {
        let data = &mut *(&raw mut BOOT_DATA);
        let fixed = &*(start_info as *const [u8; pvh::START_INFO_LEN]);
        let info = pvh::parse(fixed)
            .unwrap_or_else(|e| fail(BOOT_FAILURE, format_args!("bad PVH start info: {e}")));
        data.set_command_line(boot::c_string_at(info.cmdline));
        let entries = info.memmap as *const [u8; pvh::MEMMAP_ENTRY_LEN];
        for i in 0..(info.memmap_entries as usize).min(boot::MAX_REGIONS) {
            data.push_region(pvh::region(&*entries.add(i)));
        }
        (
            data,
            if info.rsdp == 0 {
                Acpi::Absent
            } else {
                Acpi::At(info.rsdp)
            },
        )
    };

    // SAFETY: once, at boot, with the page tables up and the loader's data copied.
    let common = unsafe { boot::find_common(data, acpi) }
        .unwrap_or_else(|e| fail(BOOT_FAILURE, format_args!("{e}")));
    common.warnings.iter().flatten().for_each(warn);

    Board {
        name: "microvm",
        command_line: data.command_line(),
        memory_map: data.regions(),
        heap: common.heap,
        console: serial(),
        clock: common.clock,
        cores: common.cores,
        idle: common.idle,
        switch: X86ContextSwitch,
        guard: common.guard,
        power: power(),
        traps,
    }
}

/// Where the 64-bit boot path lands (see `entry`).
pub(crate) extern "C" fn main(start_info: u64, _eax: u64) -> ! {
    let board = init(start_info);
    unsafe extern "Rust" {
        /// Defined by `kernel::board!(bsp_microvm::Microvm)`.
        fn __novillo_start(board: Board<Microvm>) -> !;
    }
    // SAFETY: `kernel::board!` defines `__novillo_start` with exactly this signature for this
    // platform; an image without it does not link.
    unsafe { __novillo_start(board) }
}
