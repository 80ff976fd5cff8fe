//! The boot path: from the 64-bit entry to the hand-off to the kernel. What is not PVH
//! here is the kit's (`drivers::board::kit`).

use drivers::board::common::{self, BOOT_FAILURE, BootData};
use drivers::board::kit::Kit;
use drivers::board::loader::Loader;
use drivers::board::wall::BootWallClock;
use drivers::bus::virtio_mmio;
use drivers::platform::firmware::acpi::Acpi;
use drivers::platform::irq::lines::IoApicInterrupts;
use drivers::x86_64::cpu;
use hal::board::Board;
use hal::trap::Fault;

use crate::{Microvm, MicrovmDevices, devices, pvh};

// SAFETY: microvm's COM1 is a 16550 at 0x3f8, 0xf4 is `isa-debug-exit` or nothing, as is
// the i8042's 0x64; the board is COM1's only user until it hands the console over.
const KIT: Kit = unsafe { Kit::new("microvm", Loader::Pvh, "--features bsp-qemu-pc") };

/// Reports a CPU exception taken before the kernel installed its handler.
fn early_fault(fault: &Fault) -> ! {
    KIT.early_fault(fault)
}

/// Copies the command line (without QEMU's `virtio_mmio.device=` words, kept for
/// discovery) and the memory map out of the PVH start info at `start_info` into `data`,
/// and says where the ACPI tables are.
///
/// # Safety
/// The start info, command line and memory map must be mapped; runs once, on the boot
/// core, before any other core.
unsafe fn read_start_info(start_info: u64, data: &mut BootData) -> Acpi {
    // SAFETY: the caller's promise.
    unsafe {
        let fixed = &*(start_info as *const [u8; pvh::START_INFO_LEN]);
        let info = pvh::parse(fixed)
            .unwrap_or_else(|e| KIT.fail(BOOT_FAILURE, format_args!("bad PVH start info: {e}")));
        // QEMU's device words follow the application's arguments: they are the board's.
        let (line, words) = virtio_mmio::split_devices(common::c_string_at(info.cmdline));
        data.set_command_line(line);
        devices::keep(words, info.rsdp);
        let entries = info.memmap as *const [u8; pvh::MEMMAP_ENTRY_LEN];
        for i in 0..(info.memmap_entries as usize).min(common::MAX_REGIONS) {
            data.push_region(pvh::region(&*entries.add(i)));
        }
        if info.rsdp == 0 {
            Acpi::Absent
        } else {
            Acpi::At(info.rsdp)
        }
    }
}

/// Builds the board from the PVH start info at `start_info` (with the loader's `eax`, to
/// tell another protocol). Runs once, on the boot core.
fn init(start_info: u64, eax: u64) -> Board<Microvm> {
    // SAFETY: runs once, first thing, on the boot core with interrupts masked.
    let traps = unsafe { cpu::init_boot_core(early_fault) };
    // SAFETY: the boot page tables map the first 4 GiB but page 0.
    unsafe { KIT.expect_loader(start_info, eax) };
    // SAFETY: `init` runs once, on the boot core with the boot tables; PVH puts the start
    // info, command line and memory map below 4 GiB, and the copy keeps no reference.
    let (data, acpi) = unsafe { KIT.read_loader_data(|data| read_start_info(start_info, data)) };
    // SAFETY: once, at boot, with the page tables up and the loader's data copied.
    let common = unsafe { KIT.find_common(data, acpi) };
    // SAFETY: `init` runs once, on the boot core, before any other core.
    let interrupts = unsafe { IoApicInterrupts::new(&common.cores) };
    // microvm runs with `rtc=off`: its time of day comes from the command line alone.
    let wall_clock = BootWallClock::from_hint(common.time_hint);
    KIT.assemble(
        data,
        common,
        wall_clock,
        traps,
        interrupts,
        MicrovmDevices::new(),
    )
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
