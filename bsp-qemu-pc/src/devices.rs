//! The devices of a PC: virtio-blk and network functions on PCI, found when an application first asks
//! for a device.
//!
//! Every function the scan finds is listed at `log=debug`. A virtio-blk function
//! (`1af4:1001` transitional, `1af4:1042` modern) interrupts through MSI-X when it offers
//! it and takes a vector for its queue (entry 0 of its table, its own edge-triggered
//! line; INTx is turned off), else through INTx: the ISA IRQ the firmware wrote in its
//! interrupt line, mapped to a GSI and signal by the MADT's overrides (QEMU: level, active
//! high), else PCI's own (level, active low). `log=debug` says which (`msi-x`, `intx`).

extern crate alloc;

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use drivers::block::virtio::VirtioBlk;
use drivers::bus::pci::{self, Function, MsiX, PortConfig};
use drivers::platform::firmware::{acpi, mptable};
use drivers::platform::irq::ioapic::Signal;
use drivers::platform::irq::lines::{self, Routing};
use drivers::virtio::VirtioHal;
use hal::device::{DeviceSink, Discover};
use hal::irq::Line;
use virtio_drivers::transport::pci::PciTransport;
use virtio_drivers::transport::pci::bus::{
    BarInfo, Command, ConfigurationAccess, DeviceFunction, PciRoot,
};

/// How PCI's INTx pins signal where no override says otherwise.
const PCI_INTX: Signal = Signal {
    level: true,
    active_low: true,
};

/// Registers of virtio's common configuration (virtio 1.2 §4.1.4.3).
const COMMON_MSIX_CONFIG: usize = 0x10;
const COMMON_QUEUE_SELECT: usize = 0x16;
const COMMON_QUEUE_MSIX_VECTOR: usize = 0x1a;
/// "No vector": what the device reads back when it refuses one.
const NO_VECTOR: u16 = 0xffff;

/// Where the identity map ends: a BAR above it cannot be reached.
pub(crate) const MAPPED_LIMIT: u64 = 1 << 32;

/// A PC's devices (zero-sized: everything is found at discovery).
#[derive(Debug)]
pub struct PcDevices(());

impl PcDevices {
    /// The devices of this PC, to be found.
    // Only the boot path calls it; on the host, nothing.
    #[cfg_attr(not(target_os = "none"), allow(dead_code))]
    pub(crate) const fn new() -> Self {
        Self(())
    }
}

impl Discover for PcDevices {
    fn discover(self, sink: &mut dyn DeviceSink) {
        // SAFETY: the first 4 GiB are identity-mapped; the firmware's tables are in them.
        let routing = unsafe { acpi::routing(None).or_else(|| mptable::scan_routing()) }
            .unwrap_or(Routing::standard());
        lines::set_ioapics(&routing);
        // SAFETY: this is a PC (the boot path found its host bridge), and discovery runs once
        // and alone: nothing else uses the configuration ports meanwhile.
        let config = unsafe { PortConfig::new() };
        let mut blocks = Vec::new();
        let mut nics = Vec::new();
        pci::scan(&config, |function| {
            log::debug!("pci {function}");
            match function.name() {
                "virtio-blk" => blocks.push(*function),
                "virtio-net" | "e1000" => nics.push(*function),
                _ => {}
            }
        });
        // SAFETY: both handles are used by this discovery alone, one access at a time.
        let mut writer = unsafe { config.unsafe_clone() };
        let mut root = PciRoot::new(config);
        for function in blocks {
            start(&mut root, &mut writer, &function, &routing, sink);
        }
        for function in nics {
            crate::nics::start(&mut root, &function, &routing, sink);
        }
    }
}

/// Starts the virtio-blk function `function` on MSI-X or its INTx line.
fn start(
    root: &mut PciRoot<PortConfig>,
    config: &mut PortConfig,
    function: &Function,
    routing: &Routing,
    sink: &mut dyn DeviceSink,
) {
    let at = function.address;
    let Ok(bars) = root.bars(at) else {
        log::warn!("pci {at}: virtio-blk registers unreadable; left out");
        return;
    };
    let out_of_reach = bars.iter().flatten().any(|bar| match bar {
        BarInfo::Memory { address, size, .. } => address.saturating_add(*size) > MAPPED_LIMIT,
        BarInfo::IO { .. } => false,
    });
    if out_of_reach {
        log::warn!("pci {at}: virtio-blk registers above 4 GiB; left out");
        return;
    }
    let (_, command) = root.get_status_command(at);
    root.set_command(at, command | Command::MEMORY_SPACE | Command::BUS_MASTER);
    let transport = match PciTransport::new::<VirtioHal, _>(root, at) {
        Ok(transport) => transport,
        Err(e) => {
            log::warn!("pci {at}: virtio-blk: {e}; left out");
            return;
        }
    };
    let memory = |bar: u8| match bars.get(usize::from(bar)) {
        Some(Some(BarInfo::Memory { address, .. })) => Some(*address),
        _ => None,
    };
    let target = pci::msix(config, at).zip(pci::virtio_common_config(config, at));
    let target = target.and_then(|(msix, (bar, offset))| {
        let table = memory(msix.table_bar)? + u64::from(msix.table_offset);
        let common = memory(bar)? + u64::from(offset);
        Some((msix, u32::try_from(table).ok()?, common as usize))
    });
    let mut msi = None;
    let started = VirtioBlk::new_with(transport, || {
        if let Some((msix, table, common)) = target {
            // SAFETY: both addresses are in this function's memory BARs, below 4 GiB
            // (checked above), identity-mapped; nothing else programs the function.
            msi = unsafe { use_msix(config, at, msix, table, common) };
        }
    });
    let device = match started {
        Ok(device) => device,
        Err(e) => {
            log::warn!("pci {at}: virtio-blk: {e}; left out");
            return;
        }
    };
    let line = match msi {
        Some(line) => {
            let (_, command) = root.get_status_command(at);
            root.set_command(at, command | Command::INTERRUPT_DISABLE);
            log::debug!("pci {at}: virtio-blk on msi-x");
            line
        }
        None => match intx(function, routing) {
            Ok(line) => {
                log::debug!("pci {at}: virtio-blk on intx");
                line
            }
            Err(e) => {
                log::warn!("pci {at}: virtio-blk: {e}; left out");
                return;
            }
        },
    };
    let name = format!("virtio-blk {at}").leak();
    sink.block(name, Box::leak(Box::new(device)), line);
}

/// The INTx line of `function`.
pub(crate) fn intx(function: &Function, routing: &Routing) -> Result<Line, String> {
    let irq = function
        .intx_irq()
        .ok_or_else(|| String::from("no interrupt line"))?;
    let (gsi, signal) = routing.isa_irq(irq, PCI_INTX);
    lines::claim_gsi(gsi, signal).map_err(|e| format!("{e}"))
}

/// Sends queue 0's interrupts to MSI-X table entry 0 at `table` and turns MSI-X on; the
/// line, or `None` (INTx stays) when the device refuses the vector or no line is free.
///
/// # Safety
/// `table` and `common` (the virtio common configuration) are identity-mapped registers
/// of the function at `at`, which nothing else programs.
unsafe fn use_msix(
    config: &mut PortConfig,
    at: DeviceFunction,
    msix: MsiX,
    table: u32,
    common: usize,
) -> Option<Line> {
    let register = |offset: usize| (common + offset) as *mut u16;
    // SAFETY: the caller's promise; 16-bit registers, naturally aligned.
    let accepted = unsafe {
        register(COMMON_MSIX_CONFIG).write_volatile(NO_VECTOR);
        register(COMMON_QUEUE_SELECT).write_volatile(0);
        register(COMMON_QUEUE_MSIX_VECTOR).write_volatile(0);
        register(COMMON_QUEUE_MSIX_VECTOR).read_volatile() == 0
    };
    if !accepted {
        return None;
    }
    // SAFETY: the caller's promise: `table` is entry 0 of this function's table.
    let Ok(line) = (unsafe { lines::claim_msi(table) }) else {
        // SAFETY: as above.
        unsafe { register(COMMON_QUEUE_MSIX_VECTOR).write_volatile(NO_VECTOR) };
        return None;
    };
    let first = config.read_word(at, msix.capability);
    config.write_word(at, msix.capability, MsiX::enabled(first));
    Some(line)
}
