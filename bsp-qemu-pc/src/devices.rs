//! The devices of a PC: virtio-blk functions on PCI, found when an application first asks
//! for a device.
//!
//! Every function the scan finds is listed at `log=debug`. A virtio-blk function
//! (`1af4:1001` transitional, `1af4:1042` modern) raises INTx: the ISA IRQ the firmware
//! wrote in its interrupt line, mapped to a GSI and signal by the MADT's overrides (QEMU:
//! level, active high), else PCI's own (level, active low).

extern crate alloc;

use alloc::boxed::Box;
use alloc::format;
use alloc::vec::Vec;

use drivers::block::virtio::VirtioBlk;
use drivers::bus::pci::{self, Function, PortConfig};
use drivers::platform::firmware::{acpi, mptable};
use drivers::platform::irq::ioapic::Signal;
use drivers::platform::irq::lines::{self, Routing};
use drivers::virtio::VirtioHal;
use hal::device::{DeviceSink, Discover};
use hal::irq::Line;
use virtio_drivers::transport::pci::PciTransport;
use virtio_drivers::transport::pci::bus::{BarInfo, Command, PciRoot};

/// How PCI's INTx pins signal where no override says otherwise.
const PCI_INTX: Signal = Signal {
    level: true,
    active_low: true,
};

/// Where the identity map ends: a BAR above it cannot be reached.
const MAPPED_LIMIT: u64 = 1 << 32;

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
        pci::scan(&config, |function| {
            log::debug!("pci {function}");
            if function.name() == "virtio-blk" {
                blocks.push(*function);
            }
        });
        let mut root = PciRoot::new(config);
        for function in blocks {
            start(&mut root, &function, &routing, sink);
        }
    }
}

/// Starts the virtio-blk function `function` on its INTx line.
fn start(
    root: &mut PciRoot<PortConfig>,
    function: &Function,
    routing: &Routing,
    sink: &mut dyn DeviceSink,
) {
    let at = function.address;
    let Some(irq) = function.intx_irq() else {
        log::warn!("pci {at}: virtio-blk without an interrupt line; left out");
        return;
    };
    let out_of_reach = root.bars(at).map(|bars| {
        bars.iter().flatten().any(|bar| match bar {
            BarInfo::Memory { address, size, .. } => address.saturating_add(*size) > MAPPED_LIMIT,
            BarInfo::IO { .. } => false,
        })
    });
    if out_of_reach != Ok(false) {
        log::warn!("pci {at}: virtio-blk registers above 4 GiB or unreadable; left out");
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
    let (gsi, signal) = routing.isa_irq(irq, PCI_INTX);
    match lines::claim_gsi(gsi, signal) {
        Ok(line) => block(at, transport, line, sink),
        Err(e) => log::warn!("pci {at}: virtio-blk: {e}; left out"),
    }
}

/// Starts the virtio-blk device behind `transport` and hands it to `sink`.
fn block(
    at: virtio_drivers::transport::pci::bus::DeviceFunction,
    transport: PciTransport,
    line: Line,
    sink: &mut dyn DeviceSink,
) {
    match VirtioBlk::new(transport) {
        Ok(device) => {
            let name = format!("virtio-blk {at}").leak();
            sink.block(name, Box::leak(Box::new(device)), line);
        }
        Err(e) => log::warn!("pci {at}: virtio-blk: {e}; left out"),
    }
}
