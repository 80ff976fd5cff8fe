//! The devices of a PC: virtio-blk and network functions on PCI and the disks of the PIIX
//! IDE controller, found when an application first asks for a device.
//!
//! Every function the scan finds is listed at `log=debug`. A virtio-blk function
//! (`1af4:1001` transitional, `1af4:1042` modern) interrupts through MSI-X when it offers
//! it and takes a vector for its queue (entry 0 of its table, its own edge-triggered
//! line; INTx is turned off), else through INTx: the ISA IRQ the firmware wrote in its
//! interrupt line, mapped to a GSI and signal by the MADT's overrides (QEMU: level, active
//! high), else PCI's own (level, active low). `log=debug` says which (`msi-x`, `intx`).
//!
//! With a PIIX IDE function (`8086:7010`), each drive of its two legacy channels that
//! answers IDENTIFY as a disk is handed over as `ide C.U` (channel, unit), on the channel's
//! ISA IRQ (14, 15: edge, active high unless the MADT overrides it), shared by its two
//! drives; a drive that cannot be used is logged and left out. When the function is a bus
//! master (programming interface bit 7, BAR4 in I/O space) bus mastering is turned on and
//! drives that offer DMA use it; `ata=pio` on the command line keeps them on PIO (`ata=dma`
//! is the default). `log=debug` says which each drive uses.

extern crate alloc;

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use drivers::block::ata::{self, Channel, PortRegisters as AtaPorts, Transfer};
use drivers::block::virtio::VirtioBlk;
use drivers::bus::pci::{self, Function, MsiX, PortConfig};
use drivers::platform::firmware::{acpi, mptable};
use drivers::platform::irq::ioapic::Signal;
use drivers::platform::irq::lines::{self, Routing};
use drivers::virtio::VirtioHal;
use drivers::x86_64::tsc::TscClock;
use hal::device::{DeviceSink, Discover};
use hal::irq::Line;
use virtio_drivers::transport::pci::PciTransport;
use virtio_drivers::transport::pci::bus::{
    BarInfo, Command, ConfigurationAccess, DeviceFunction, PciRoot,
};

/// How ISA IRQs signal where no override says otherwise: edge, active high.
const ISA_EDGE: Signal = Signal {
    level: false,
    active_low: false,
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

/// Configuration offset of BAR4, an IDE controller's bus-master block.
const BAR4: u8 = 0x20;
/// Programming interface bit 7 of an IDE controller: it can be a bus master.
const PROG_IF_BUS_MASTER: u32 = 1 << 15;

/// A PC's devices (everything is found at discovery), the IDE option and the clock that
/// times ATA commands out.
#[derive(Debug)]
pub struct PcDevices {
    /// The value of the last `ata=` parameter.
    ata: Option<&'static str>,
    clock: TscClock,
}

impl PcDevices {
    /// The devices of this PC, to be found, with the parameters on `command_line`.
    // Only the boot path calls it; on the host, only the tests.
    #[cfg_attr(not(target_os = "none"), allow(dead_code))]
    pub(crate) fn new(command_line: &'static str, clock: TscClock) -> Self {
        let ata = command_line
            .split_ascii_whitespace()
            .take_while(|word| *word != "--")
            .filter_map(|word| word.strip_prefix("ata="))
            .last();
        Self { ata, clock }
    }

    /// The transfer `ata=` asks for: DMA unless it says `pio`; another value is an error.
    fn transfer(&self) -> Result<Transfer, String> {
        match self.ata {
            None | Some("dma") => Ok(Transfer::Dma),
            Some("pio") => Ok(Transfer::Pio),
            Some(other) => Err(format!(
                "ignoring ata={other}: expected ata=pio or ata=dma; using DMA"
            )),
        }
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
        let mut ide = None;
        let mut nics = Vec::new();
        pci::scan(&config, |function| {
            log::debug!("pci {function}");
            match function.name() {
                "virtio-blk" => blocks.push(*function),
                "IDE" => ide = Some(*function),
                "virtio-net" | "e1000" => nics.push(*function),
                _ => {}
            }
        });
        // SAFETY: both handles are used by this discovery alone, one access at a time.
        let mut writer = unsafe { config.unsafe_clone() };
        if let Some(function) = ide {
            let transfer = self.transfer().unwrap_or_else(|e| {
                log::warn!("{e}");
                Transfer::Dma
            });
            let bus_master = match transfer {
                Transfer::Dma => bus_master(&mut writer, &function),
                Transfer::Pio => None,
            };
            start_ide(&routing, sink, bus_master, self.clock);
        }
        let mut root = PciRoot::new(config);
        for function in blocks {
            start(&mut root, &mut writer, &function, &routing, sink);
        }
        for function in nics {
            crate::nics::start(&mut root, &function, &routing, sink);
        }
    }
}

/// The I/O base of the IDE function's bus-master block, with bus mastering turned on;
/// `None` when the function is no bus master or its BAR4 is not an I/O window.
fn bus_master(config: &mut PortConfig, function: &Function) -> Option<u16> {
    let at = function.address;
    let class = config.read_word(at, 0x08);
    let bar = config.read_word(at, BAR4);
    let base = u16::try_from(bar & 0xffff_fffc).ok().filter(|&b| b != 0);
    let Some(base) = base.filter(|_| class & PROG_IF_BUS_MASTER != 0 && bar & 1 == 1) else {
        log::debug!("pci {at}: IDE without a bus master (bar4 {bar:#x}); PIO");
        return None;
    };
    let command = config.read_word(at, 0x04);
    config.write_word(
        at,
        0x04,
        command & 0xffff | u32::from(Command::BUS_MASTER.bits()),
    );
    Some(base)
}

/// Identifies the drives of the PIIX IDE controller's two legacy channels (which QEMU's
/// PIIX always uses) and hands each disk over, on its channel's ISA IRQ (14, 15); with
/// `bus_master` (the I/O base of the controller's bus-master block), by DMA where the drive
/// offers it.
fn start_ide(
    routing: &Routing,
    sink: &mut dyn DeviceSink,
    bus_master: Option<u16>,
    clock: TscClock,
) {
    for (index, (base, control, irq)) in [AtaPorts::PRIMARY, AtaPorts::SECONDARY]
        .into_iter()
        .enumerate()
    {
        // SAFETY: a PIIX IDE function answered on PCI, in compatibility mode: its channels
        // are at the legacy ports, used by this driver alone.
        let registers = unsafe { AtaPorts::new(base, control) };
        let (registers, transfer) = match bus_master {
            // SAFETY: the function's bus-master block, 8 ports per channel, with bus
            // mastering on (`bus_master`), used by this driver alone.
            Some(block) => (
                unsafe { registers.with_bus_master(block + 8 * index as u16) },
                Transfer::Dma,
            ),
            None => (registers, Transfer::Pio),
        };
        let (drives, found) =
            Channel::<_, VirtioHal>::probe(registers, true, transfer, Box::new(clock));
        for (unit, result) in found.iter().enumerate() {
            match result {
                Ok(id) => {
                    let dma = drives.iter().any(|d| d.unit() == unit && d.uses_dma());
                    let how = if dma { "dma" } else { "pio" };
                    log::debug!("ide {index}.{unit}: {} sectors, {how}", id.sectors);
                }
                Err(ata::Error::NoDrive) => {}
                Err(e) => log::warn!("ide {index}.{unit}: {e}; left out"),
            }
        }
        if drives.is_empty() {
            continue;
        }
        let (gsi, signal) = routing.isa_irq(irq, ISA_EDGE);
        let line = match lines::claim_gsi(gsi, signal) {
            Ok(line) => line,
            Err(e) => {
                log::warn!("ide {index}: irq {irq}: {e}; its drives left out");
                continue;
            }
        };
        for drive in drives {
            let name = format!("ide {index}.{}", drive.unit()).leak();
            sink.block(name, Box::leak(Box::new(drive)), line);
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

#[cfg(test)]
mod tests {
    use drivers::block::ata::Transfer;
    use drivers::x86_64::tsc::TscClock;

    use super::PcDevices;

    #[test]
    fn ata_on_the_command_line_picks_the_transfer() {
        let clock = TscClock::new(0, 1_000_000).expect("a rate");
        let transfer = |line: &'static str| PcDevices::new(line, clock).transfer();
        assert_eq!(transfer("log=debug"), Ok(Transfer::Dma));
        assert_eq!(transfer("ata=pio"), Ok(Transfer::Pio));
        assert_eq!(
            transfer("ata=pio ata=dma"),
            Ok(Transfer::Dma),
            "the last one counts"
        );
        assert_eq!(
            transfer("-- ata=pio"),
            Ok(Transfer::Dma),
            "an application argument"
        );
        assert_eq!(
            transfer("ata=udma"),
            Err("ignoring ata=udma: expected ata=pio or ata=dma; using DMA".into())
        );
    }
}
