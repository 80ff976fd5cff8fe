//! The boot path: from the 64-bit entry to the hand-off to the kernel.

use drivers::pci::PortConfig;
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

use crate::{QemuPc, multiboot};

/// The status after a CPU exception before the kernel took over (the kernel's `FAULT`).
const EARLY_FAULT: u8 = 102;
/// The most memory-map bytes the board reads.
const MAX_MMAP_BYTES: usize = 4096;

fn power(soft_off: Option<SoftOff>) -> QemuPower<Uart16550<PortRegisters>> {
    // SAFETY: on a PC, 0xf4 is `isa-debug-exit` or nothing and 0x64 the i8042; the S5
    // register comes from this machine's ACPI tables.
    unsafe { QemuPower::new(DEBUG_EXIT_PORT, soft_off, serial()) }
}

fn serial() -> Uart16550<PortRegisters> {
    // SAFETY: the PC's COM1 is a 16550 at 0x3f8, and the board is its only user until it
    // hands the console to the kernel.
    Uart16550::new(unsafe { PortRegisters::new(PortRegisters::COM1) })
}

/// Says why the board cannot go on, and leaves.
fn fail(status: u8, args: core::fmt::Arguments<'_>) -> ! {
    let _ = serial().write_fmt(format_args!("\nqemu-pc: {args}\n"));
    power(None).power_off(status)
}

/// Reports a CPU exception taken before the kernel installed its handler.
fn early_fault(fault: &Fault) -> ! {
    fail(
        EARLY_FAULT,
        format_args!("stopped by a {fault} during boot"),
    )
}

/// Builds the board from the Multiboot information at `info` (with `magic` from `eax`).
/// Runs once, on the boot core.
fn init(info: u64, magic: u32) -> Board<QemuPc> {
    static mut BOOT_DATA: BootData = BootData::new();

    // SAFETY: runs once, first thing, on the boot core with interrupts masked.
    let traps = unsafe { cpu::init_boot_core(early_fault) };
    // SAFETY: the boot page tables map the first 4 GiB but page 0.
    match unsafe { Loader::at_entry(info, u64::from(magic)) } {
        Loader::Multiboot => {}
        Loader::Pvh => fail(
            BOOT_FAILURE,
            format_args!(
                "this image is built for qemu-pc (Multiboot) but was booted through PVH; \
                 build it with --features bsp-microvm"
            ),
        ),
        Loader::Unknown => fail(
            BOOT_FAILURE,
            format_args!(
                "this image is built for qemu-pc (Multiboot) but was booted through {}",
                Loader::Unknown
            ),
        ),
    }
    // A Multiboot loader that is not a PC's (QEMU's microvm loads Multiboot images too).
    // SAFETY: on a PC the ports are PCI configuration access, elsewhere nothing, and
    // nothing else uses them during boot.
    if !unsafe { PortConfig::new() }.host_bridge_present() {
        fail(
            BOOT_FAILURE,
            format_args!(
                "this image is built for a PC, but this machine has no PCI host bridge \
                 (QEMU's microvm?); build it with --features bsp-microvm"
            ),
        );
    }

    #[allow(clippy::deref_addrof)]
    // `&mut *(&raw mut S)` is how edition 2024 borrows a `static mut`.
    // SAFETY: `init` runs once, so this is the only reference to BOOT_DATA; the loader put
    // its structures below 4 GiB (and they are checked before use), mapped but for page 0,
    // which is mapped while they are copied, and nothing keeps a reference into it.
    let data: &'static BootData = unsafe {
        let data = &mut *(&raw mut BOOT_DATA);
        paging::with_null_page(|| {
            let fixed = &*(info as *const [u8; multiboot::INFO_LEN]);
            let info = multiboot::parse(magic, fixed).unwrap_or_else(|e| {
                fail(BOOT_FAILURE, format_args!("bad Multiboot information: {e}"))
            });
            data.set_command_line(multiboot::without_image_path(boot::c_string_at(
                info.cmdline,
            )));
            let mmap = core::slice::from_raw_parts(
                info.mmap as *const u8,
                info.mmap_len.min(MAX_MMAP_BYTES),
            );
            for region in multiboot::regions(mmap) {
                data.push_region(region);
            }
        });
        data
    };

    // SAFETY: once, at boot, with the page tables up and the loader's data copied.
    let common = unsafe { boot::find_common(data, Acpi::Search) }
        .unwrap_or_else(|e| fail(e.status(), format_args!("{e}")));
    if common.cores_beyond_xapic > 0 {
        let _ = serial().write_fmt(format_args!(
            "qemu-pc: {} cores have APIC IDs above 254, which the xAPIC cannot start: they stay idle\n",
            common.cores_beyond_xapic
        ));
    }

    Board {
        name: "qemu-pc",
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
pub(crate) extern "C" fn main(info: u64, magic: u64) -> ! {
    let board = init(info, magic as u32);
    unsafe extern "Rust" {
        /// Defined by `kernel::board!(bsp_qemu_pc::QemuPc)`.
        fn __novillo_start(board: Board<QemuPc>) -> !;
    }
    // SAFETY: `kernel::board!` defines `__novillo_start` with exactly this signature for this
    // platform; an image without it does not link.
    unsafe { __novillo_start(board) }
}
