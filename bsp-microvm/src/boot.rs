//! The boot path: from the 64-bit entry to the hand-off to the kernel.

use drivers::qemu::{DEBUG_EXIT_PORT, QemuPower};
use drivers::uart16550::{PortRegisters, Uart16550};
use drivers::x86_64::boot::{self, Acpi, BOOT_FAILURE, BootData};
use drivers::x86_64::context::X86ContextSwitch;
use drivers::x86_64::fadt::SoftOff;
use drivers::x86_64::loader::Loader;
use drivers::x86_64::{cpu, paging};
use embedded_io::Write;
use hal::board::Board;
use hal::power::PowerOff;
use hal::trap::Fault;

use crate::{Microvm, pvh};

/// The status after a CPU exception before the kernel took over (the kernel's `FAULT`).
const EARLY_FAULT: u8 = 102;

fn power(soft_off: Option<SoftOff>) -> QemuPower<Uart16550<PortRegisters>> {
    // SAFETY: 0xf4 is `isa-debug-exit` or nothing, as is the i8042's 0x64; the S5 register
    // comes from this machine's ACPI tables.
    unsafe { QemuPower::new(DEBUG_EXIT_PORT, soft_off, serial()) }
}

fn serial() -> Uart16550<PortRegisters> {
    // SAFETY: microvm's COM1 is a 16550 at 0x3f8, and the board is its only user until it
    // hands the console to the kernel.
    Uart16550::new(unsafe { PortRegisters::new(PortRegisters::COM1) })
}

/// Says why the board cannot go on, and leaves.
fn fail(status: u8, args: core::fmt::Arguments<'_>) -> ! {
    let _ = serial().write_fmt(format_args!("\nmicrovm: {args}\n"));
    power(None).power_off(status)
}

/// Reports a CPU exception taken before the kernel installed its handler.
fn early_fault(fault: &Fault) -> ! {
    fail(
        EARLY_FAULT,
        format_args!("stopped by a {fault} during boot"),
    )
}

/// Copies the command line and the memory map out of the PVH start info at `start_info`
/// into the board's `BootData`, and says where the ACPI tables are.
///
/// # Safety
/// Once: the start info, command line and memory map must be mapped, and the returned
/// `BootData` is the only reference to it.
unsafe fn read_start_info(start_info: u64) -> (&'static BootData, Acpi) {
    static mut BOOT_DATA: BootData = BootData::new();

    #[allow(clippy::deref_addrof)]
    // `&mut *(&raw mut S)` is how edition 2024 borrows a `static mut`.
    // SAFETY: the caller's promises.
    unsafe {
        let data = &mut *(&raw mut BOOT_DATA);
        let fixed = &*(start_info as *const [u8; pvh::START_INFO_LEN]);
        let info = pvh::parse(fixed)
            .unwrap_or_else(|e| fail(BOOT_FAILURE, format_args!("bad PVH start info: {e}")));
        data.set_command_line(boot::c_string_at(info.cmdline));
        let entries = info.memmap as *const [u8; pvh::MEMMAP_ENTRY_LEN];
        for i in 0..(info.memmap_entries as usize).min(boot::MAX_REGIONS) {
            data.push_region(pvh::region(&*entries.add(i)));
        }
        let acpi = if info.rsdp == 0 {
            Acpi::Absent
        } else {
            Acpi::At(info.rsdp)
        };
        (data, acpi)
    }
}

/// Builds the board from the PVH start info at `start_info` (with the loader's `eax`, to
/// tell another protocol). Runs once, on the boot core.
fn init(start_info: u64, eax: u64) -> Board<Microvm> {
    // SAFETY: runs once, first thing, on the boot core with interrupts masked.
    let traps = unsafe { cpu::init_boot_core(early_fault) };
    // SAFETY: the boot page tables map the first 4 GiB but page 0.
    match unsafe { Loader::at_entry(start_info, eax) } {
        Loader::Pvh => {}
        Loader::Multiboot => fail(
            BOOT_FAILURE,
            format_args!(
                "this image is built for microvm (PVH) but was booted through Multiboot; \
                 build it with --features bsp-qemu-pc"
            ),
        ),
        Loader::Unknown => fail(
            BOOT_FAILURE,
            format_args!(
                "this image is built for microvm (PVH) but was booted through {}",
                Loader::Unknown
            ),
        ),
    }

    // SAFETY: `init` runs once, so this is the only call; PVH puts the
    // start info, command line and memory map below 4 GiB, mapped but for page 0, which is
    // mapped while they are copied (SeaBIOS puts the memory map there), and nothing keeps
    // a reference into it.
    let (data, acpi): (&'static BootData, Acpi) =
        unsafe { paging::with_null_page(|| read_start_info(start_info)) };

    // SAFETY: once, at boot, with the page tables up and the loader's data copied.
    let common = unsafe { boot::find_common(data, acpi) }
        .unwrap_or_else(|e| fail(e.status(), format_args!("{e}")));
    if common.cores_beyond_xapic > 0 {
        let _ = serial().write_fmt(format_args!(
            "microvm: {} cores have APIC IDs above 254, which the xAPIC cannot start: they stay idle\n",
            common.cores_beyond_xapic
        ));
    }

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
        power: power(common.soft_off),
        traps,
        interrupts: hal::irq::NoLines,
        devices: hal::device::NoDevices,
    }
}

/// Where the 64-bit boot path lands (see `entry`).
pub(crate) extern "C" fn main(start_info: u64, eax: u64) -> ! {
    let board = init(start_info, eax);
    unsafe extern "Rust" {
        /// Defined by `kernel::board!(bsp_microvm::Microvm)`.
        fn __novillo_start(board: Board<Microvm>) -> !;
    }
    // SAFETY: `kernel::board!` defines `__novillo_start` with exactly this signature for this
    // platform; an image without it does not link.
    unsafe { __novillo_start(board) }
}
