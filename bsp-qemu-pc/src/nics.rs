//! The network functions of a PC: virtio-net through the crate's PCI transport, the e1000
//! through its BAR0 registers; both interrupt through INTx, level-triggered, on the line
//! the firmware wrote (QEMU shares the e1000's with virtio-blk: each driver answers only
//! for its own device).

extern crate alloc;

use alloc::boxed::Box;
use alloc::format;

use drivers::bus::pci::{Function, PortConfig};
use drivers::net::e1000::{E1000, MmioRegisters};
use drivers::net::virtio::VirtioNet;
use drivers::platform::irq::lines::Routing;
use drivers::virtio::VirtioHal;
use hal::device::{DeviceSink, NetDriver};
use virtio_drivers::transport::pci::PciTransport;
use virtio_drivers::transport::pci::bus::{BarInfo, Command, PciRoot};

use crate::devices::{MAPPED_LIMIT, intx};

/// The registers an e1000 decodes in BAR0.
const E1000_WINDOW: u64 = 128 << 10;

/// Starts the network function `function` and hands it to `sink`; logs and leaves it out
/// when it cannot.
pub(crate) fn start(
    root: &mut PciRoot<PortConfig>,
    function: &Function,
    routing: &Routing,
    sink: &mut dyn DeviceSink,
) {
    let at = function.address;
    let kind = function.name();
    let Ok(bars) = root.bars(at) else {
        log::warn!("pci {at}: {kind} registers unreadable; left out");
        return;
    };
    let out_of_reach = bars.iter().flatten().any(|bar| match bar {
        BarInfo::Memory { address, size, .. } => address.saturating_add(*size) > MAPPED_LIMIT,
        BarInfo::IO { .. } => false,
    });
    if out_of_reach {
        log::warn!("pci {at}: {kind} registers above 4 GiB; left out");
        return;
    }
    let line = match intx(function, routing) {
        Ok(line) => line,
        Err(e) => {
            log::warn!("pci {at}: {kind}: {e}; left out");
            return;
        }
    };
    let (_, command) = root.get_status_command(at);
    root.set_command(at, command | Command::MEMORY_SPACE | Command::BUS_MASTER);
    let device: Result<&'static mut dyn NetDriver, alloc::string::String> = if kind == "e1000" {
        match bars.first() {
            Some(Some(BarInfo::Memory { address, size, .. })) if *size >= E1000_WINDOW => {
                // SAFETY: BAR0 of this e1000, below 4 GiB (checked above), identity-mapped,
                // with memory decoding on; only this driver uses it.
                let registers = unsafe { MmioRegisters::new(*address as usize) };
                E1000::new(registers)
                    .map(|d| -> &'static mut dyn NetDriver { Box::leak(Box::new(d)) })
                    .map_err(|e| format!("{e}"))
            }
            _ => Err(format!("BAR0 is not a {E1000_WINDOW}-byte memory window")),
        }
    } else {
        PciTransport::new::<VirtioHal, _>(root, at)
            .map_err(|e| format!("{e}"))
            .and_then(|transport| VirtioNet::new(transport).map_err(|e| format!("{e}")))
            .map(|d| -> &'static mut dyn NetDriver { Box::leak(Box::new(d)) })
    };
    match device {
        Ok(device) => {
            log::debug!("pci {at}: {kind} on intx");
            sink.net(format!("{kind} {at}").leak(), device, line);
        }
        Err(e) => log::warn!("pci {at}: {kind}: {e}; left out"),
    }
}
