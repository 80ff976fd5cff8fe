//! The boot path: from the 64-bit entry to the hand-off to the kernel. What is not
//! Multiboot or PC-specific here is the kit's (`drivers::board::kit`).

use drivers::board::common::{self, BOOT_FAILURE, BootData};
use drivers::board::kit::Kit;
use drivers::board::loader::Loader;
use drivers::board::wall::BootWallClock;
use drivers::bus::pci::PortConfig;
use drivers::console::vga::{self, VgaText, WithScreen};
use drivers::platform::firmware::acpi::Acpi;
use drivers::platform::irq::lines::IoApicInterrupts;
use drivers::x86_64::cpu;
use hal::board::Board;
use hal::trap::Fault;

use crate::{PcDevices, QemuPc, multiboot};

/// The most memory-map bytes the board reads.
const MAX_MMAP_BYTES: usize = 4096;

// SAFETY: the PC's COM1 is a 16550 at 0x3f8, 0xf4 is `isa-debug-exit` or nothing, and 0x64
// the i8042; the board is COM1's only user until it hands the console over.
const KIT: Kit = unsafe { Kit::new("qemu-pc", Loader::Multiboot, "--features bsp-microvm") };

/// Reports a CPU exception taken before the kernel installed its handler.
fn early_fault(fault: &Fault) -> ! {
    KIT.early_fault(fault)
}

/// The BIOS data area's video mode (0x449) and the cursor of page 0 (column 0x450, row
/// 0x451).
const BDA_VIDEO_MODE: usize = 0x449;
const BDA_CURSOR: usize = 0x450;

/// The VGA text screen, when the video BIOS left it in 80×25 colour text (modes 2 and 3),
/// written from the BIOS's cursor on (the next row, when the cursor is within a line). Without a video BIOS (QEMU with
/// `-nodefaults`) the mode reads 0 and the kernel writes to no screen.
///
/// # Safety
/// Page 0 is mapped; the screen is used by nothing else from now on.
unsafe fn screen() -> Option<VgaText> {
    // SAFETY: the caller maps page 0, which holds the BIOS data area on a PC.
    let (mode, [column, row]) = unsafe {
        (
            (BDA_VIDEO_MODE as *const u8).read_volatile(),
            (BDA_CURSOR as *const [u8; 2]).read_volatile(),
        )
    };
    // SAFETY: in text modes 2 and 3 the cells are at 0xb8000, identity-mapped, and the
    // caller hands them over.
    matches!(mode, 2 | 3).then(|| unsafe {
        VgaText::new(
            vga::BUFFER as *mut u16,
            usize::from(row) + usize::from(column != 0),
        )
    })
}

/// Copies the command line (without the image's path) and the memory map out of the
/// Multiboot information at `info` into `data`.
///
/// # Safety
/// The information structure, command line and memory map must be mapped.
unsafe fn read_multiboot(info: u64, magic: u32, data: &mut BootData) {
    // SAFETY: the caller's promise; the sizes read are the structure's and the capped map's.
    unsafe {
        let fixed = &*(info as *const [u8; multiboot::INFO_LEN]);
        let info = multiboot::parse(magic, fixed).unwrap_or_else(|e| {
            KIT.fail(BOOT_FAILURE, format_args!("bad Multiboot information: {e}"))
        });
        data.set_command_line(multiboot::without_image_path(common::c_string_at(
            info.cmdline,
        )));
        let mmap =
            core::slice::from_raw_parts(info.mmap as *const u8, info.mmap_len.min(MAX_MMAP_BYTES));
        for region in multiboot::regions(mmap) {
            data.push_region(region);
        }
    }
}

/// Builds the board from the Multiboot information at `info` (with `magic` from `eax`).
/// Runs once, on the boot core.
fn init(info: u64, magic: u32) -> Board<QemuPc> {
    // SAFETY: runs once, first thing, on the boot core with interrupts masked.
    let traps = unsafe { cpu::init_boot_core(early_fault) };
    // SAFETY: the boot page tables map the first 4 GiB but page 0.
    unsafe { KIT.expect_loader(info, u64::from(magic)) };
    // A Multiboot loader that is not a PC's (QEMU's microvm loads Multiboot images too).
    // SAFETY: on a PC the ports are PCI configuration access, elsewhere nothing, and
    // nothing else uses them during boot.
    if !unsafe { PortConfig::new() }.host_bridge_present() {
        KIT.fail(
            BOOT_FAILURE,
            format_args!(
                "this image is built for a PC, but this machine has no PCI host bridge \
                 (QEMU's microvm?); build it with --features bsp-microvm"
            ),
        );
    }
    // SAFETY: `init` runs once, on the boot core with the boot tables; the loader put its
    // structures below 4 GiB (and they are checked before use), and the copy keeps no
    // reference into them; page 0 is mapped meanwhile, and the screen is the board's.
    let (data, screen) = unsafe {
        KIT.read_loader_data(|data| {
            read_multiboot(info, magic, data);
            screen()
        })
    };
    // SAFETY: once, at boot, with the page tables up and the loader's data copied.
    let common = unsafe { KIT.find_common(data, Acpi::Search) };
    // SAFETY: `init` runs once, on the boot core, before any other core.
    let interrupts = unsafe { IoApicInterrupts::new(&common.cores) };
    // SAFETY: this is a PC (its host bridge answered), whose CMOS only the wall clock
    // reads; the ACPI tables are searched for in the identity-mapped BIOS area.
    let wall_clock = unsafe { BootWallClock::with_rtc(common.time_hint, common.acpi) };
    let devices = PcDevices::new(data.command_line(), common.clock);
    KIT.assemble_with_console(
        data,
        common,
        wall_clock,
        traps,
        interrupts,
        devices,
        |serial| WithScreen::new(serial, screen),
    )
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
