//! PCI configuration space through the PC's ports `0xcf8` (address) and `0xcfc` (data):
//! whether a host bridge answers (which tells a PC from a machine without PCI, QEMU's
//! microvm), the bus scan, and [`ConfigurationAccess`] for `virtio-drivers`' PCI transport.
//!
//! The scan walks bus 0 and every bus behind a PCI-to-PCI bridge, with functions 1..8 of
//! multi-function devices, and hands each function found to the caller, with its INTx pin
//! and the interrupt line the firmware wrote (config `0x3d` and `0x3c`). A function's
//! capability list tells where its MSI-X table and virtio common configuration are.

use core::fmt;

use virtio_drivers::transport::pci::bus::{ConfigurationAccess, DeviceFunction};

use crate::x86_64::port;

const ADDRESS_PORT: u16 = 0xcf8;
const DATA_PORT: u16 = 0xcfc;

/// The value of the address port that selects register `offset` (a multiple of 4) of
/// `bus:device.function`.
pub fn config_address(bus: u8, device: u8, function: u8, offset: u8) -> u32 {
    1 << 31
        | u32::from(bus) << 16
        | u32::from(device & 0x1f) << 11
        | u32::from(function & 7) << 8
        | u32::from(offset & 0xfc)
}

/// Reading configuration space: the ports on a PC, a table in tests.
pub trait Config {
    /// Reads register `offset` (a multiple of 4) of `bus:device.function`; all ones where
    /// no function answers.
    fn read(&self, bus: u8, device: u8, function: u8, offset: u8) -> u32;
}

/// Configuration access through the two ports.
#[derive(Debug)]
pub struct PortConfig {
    _private: (),
}

impl PortConfig {
    /// # Safety
    /// Ports `0xcf8..0xd00` must be PCI configuration access or unused, and nothing else
    /// may use them while this value lives (the address port is shared state).
    pub unsafe fn new() -> Self {
        Self { _private: () }
    }

    /// True when function 0 of device 0 on bus 0, the host bridge of every PC, answers.
    pub fn host_bridge_present(&mut self) -> bool {
        self.read(0, 0, 0, 0) & 0xffff != 0xffff
    }
}

impl Config for PortConfig {
    fn read(&self, bus: u8, device: u8, function: u8, offset: u8) -> u32 {
        // SAFETY: `new`'s caller vouched for the ports; selecting and reading a register has
        // no other effect.
        unsafe {
            port::outl(ADDRESS_PORT, config_address(bus, device, function, offset));
            port::inl(DATA_PORT)
        }
    }
}

impl ConfigurationAccess for PortConfig {
    fn read_word(&self, df: DeviceFunction, register_offset: u8) -> u32 {
        self.read(df.bus, df.device, df.function, register_offset)
    }

    fn write_word(&mut self, df: DeviceFunction, register_offset: u8, data: u32) {
        let address = config_address(df.bus, df.device, df.function, register_offset);
        // SAFETY: `new`'s caller vouched for the ports; what the write does to the function
        // is the transport's business (command, BARs, capabilities).
        unsafe {
            port::outl(ADDRESS_PORT, address);
            port::outl(DATA_PORT, data);
        }
    }

    unsafe fn unsafe_clone(&self) -> Self {
        Self { _private: () }
    }
}

/// One function found on the bus.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Function {
    /// Where it is.
    pub address: DeviceFunction,
    /// Vendor ID.
    pub vendor: u16,
    /// Device ID.
    pub device: u16,
    /// Class code.
    pub class: u8,
    /// Subclass.
    pub subclass: u8,
    /// Header type, without the multi-function bit (0 device, 1 PCI-to-PCI bridge).
    pub header_type: u8,
    /// The INTx pin it raises: 1 = INTA# .. 4 = INTD#, 0 = none.
    pub interrupt_pin: u8,
    /// The interrupt line the firmware wrote (an ISA IRQ on a PC); 0xff = none.
    pub interrupt_line: u8,
}

impl Function {
    /// The ISA IRQ its INTx pin is wired to, if it raises one and the firmware said where.
    pub fn intx_irq(&self) -> Option<u8> {
        let line = self.interrupt_line;
        (self.interrupt_pin != 0 && line != 0 && line != 0xff).then_some(line)
    }

    /// What the function is, for the ones Novillo's machines have; `""` for the rest.
    pub fn name(&self) -> &'static str {
        match (self.vendor, self.device) {
            (0x1af4, 0x1001 | 0x1042) => "virtio-blk",
            (0x1af4, 0x1000 | 0x1041) => "virtio-net",
            (0x1af4, _) => "virtio",
            (0x8086, 0x1237) => "host bridge",
            (0x8086, 0x7000) => "ISA bridge",
            (0x8086, 0x7010) => "IDE",
            (0x8086, 0x7113) => "ACPI",
            (0x8086, 0x100e) => "e1000",
            (0x1234, 0x1111) => "VGA",
            _ => "",
        }
    }
}

impl fmt::Display for Function {
    /// `00:04.0 1af4:1001 class 01.00 pin A line 11 virtio-blk`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {:04x}:{:04x} class {:02x}.{:02x}",
            self.address, self.vendor, self.device, self.class, self.subclass
        )?;
        if let Some(pin) = self.interrupt_pin.checked_sub(1).filter(|&p| p < 4) {
            write!(
                f,
                " pin {} line {}",
                char::from(b'A' + pin),
                self.interrupt_line
            )?;
        }
        match self.name() {
            "" => Ok(()),
            name => write!(f, " {name}"),
        }
    }
}

/// What a function's MSI-X capability says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MsiX {
    /// Where the capability is in configuration space.
    pub capability: u8,
    /// The BAR holding the table.
    pub table_bar: u8,
    /// The table's offset in that BAR.
    pub table_offset: u32,
    /// Table entries.
    pub size: u16,
}

impl MsiX {
    /// The message control register with MSI-X enabled and the function unmasked, in the
    /// capability's first word as it reads `first`.
    pub fn enabled(first: u32) -> u32 {
        (first | 1 << 31) & !(1 << 30)
    }
}

const STATUS_CAPABILITIES: u32 = 1 << 20;
const CAPABILITY_MSIX: u8 = 0x11;
const CAPABILITY_VENDOR: u8 = 0x09;
/// virtio's `cfg_type` of the common configuration structure (virtio 1.2 §4.1.4).
const VIRTIO_COMMON_CFG: u8 = 1;

/// The capabilities of `at`: each one's offset and first word. A list that loops is cut
/// off (at most 48 capabilities fit in 192 bytes).
fn capabilities(config: &impl Config, at: DeviceFunction) -> impl Iterator<Item = (u8, u32)> {
    let DeviceFunction {
        bus,
        device,
        function,
    } = at;
    let read = move |offset: u8| config.read(bus, device, function, offset);
    let mut next = if read(0x04) & STATUS_CAPABILITIES != 0 {
        read(0x34) as u8 & 0xfc
    } else {
        0
    };
    core::iter::from_fn(move || {
        // Past 0xf0 a capability's registers would run off the end.
        if !(0x40..=0xf0).contains(&next) {
            return None;
        }
        let offset = next;
        let first = read(offset);
        next = (first >> 8) as u8 & 0xfc;
        Some((offset, first))
    })
    .take(48)
}

/// The MSI-X capability of `at`, if it has one.
pub fn msix(config: &impl Config, at: DeviceFunction) -> Option<MsiX> {
    let (capability, first) =
        capabilities(config, at).find(|&(_, first)| first as u8 == CAPABILITY_MSIX)?;
    let table = config.read(at.bus, at.device, at.function, capability + 4);
    Some(MsiX {
        capability,
        table_bar: table as u8 & 7,
        table_offset: table & !7,
        size: ((first >> 16) as u16 & 0x7ff) + 1,
    })
}

/// Where a virtio function's common configuration is: its BAR and offset in it.
pub fn virtio_common_config(config: &impl Config, at: DeviceFunction) -> Option<(u8, u32)> {
    let (offset, _) = capabilities(config, at).find(|&(_, first)| {
        first as u8 == CAPABILITY_VENDOR && (first >> 24) as u8 == VIRTIO_COMMON_CFG
    })?;
    let bar = config.read(at.bus, at.device, at.function, offset + 4) as u8;
    let start = config.read(at.bus, at.device, at.function, offset + 8);
    Some((bar, start))
}

/// Reads the function at `address`, if one answers.
fn function(config: &impl Config, address: DeviceFunction) -> Option<Function> {
    let DeviceFunction {
        bus,
        device,
        function,
    } = address;
    let id = config.read(bus, device, function, 0x00);
    if id & 0xffff == 0xffff {
        return None;
    }
    let class = config.read(bus, device, function, 0x08);
    let header = config.read(bus, device, function, 0x0c) >> 16;
    let interrupt = config.read(bus, device, function, 0x3c);
    Some(Function {
        address,
        vendor: id as u16,
        device: (id >> 16) as u16,
        class: (class >> 24) as u8,
        subclass: (class >> 16) as u8,
        header_type: header as u8 & 0x7f,
        interrupt_pin: (interrupt >> 8) as u8,
        interrupt_line: interrupt as u8,
    })
}

/// Calls `found` with every function on bus 0 and on the buses behind its bridges, in
/// bus, device, function order; a bus is scanned once, whatever the bridges say.
pub fn scan(config: &impl Config, mut found: impl FnMut(&Function)) {
    let mut seen = [false; 256];
    scan_bus(config, 0, &mut seen, &mut found);
}

fn scan_bus(
    config: &impl Config,
    bus: u8,
    seen: &mut [bool; 256],
    found: &mut impl FnMut(&Function),
) {
    if core::mem::replace(&mut seen[usize::from(bus)], true) {
        return;
    }
    for device in 0..32 {
        let first = DeviceFunction {
            bus,
            device,
            function: 0,
        };
        if function(config, first).is_none() {
            continue;
        }
        let multi = config.read(bus, device, 0, 0x0c) & 1 << 23 != 0;
        let functions = if multi { 0..8 } else { 0..1 };
        for number in functions {
            let address = DeviceFunction {
                bus,
                device,
                function: number,
            };
            let Some(f) = function(config, address) else {
                continue;
            };
            found(&f);
            if f.header_type == 1 {
                let secondary = (config.read(bus, device, number, 0x18) >> 8) as u8;
                scan_bus(config, secondary, seen, found);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use virtio_drivers::transport::pci::bus::DeviceFunction;

    use super::{Config, Function, MsiX, config_address, msix, scan, virtio_common_config};

    #[test]
    fn addresses_select_bus_device_function_and_register() {
        assert_eq!(config_address(0, 0, 0, 0), 0x8000_0000);
        assert_eq!(config_address(1, 2, 3, 0x3c), 0x8001_133c);
        assert_eq!(config_address(0, 31, 7, 0xff), 0x8000_fffc);
    }

    /// Configuration space as a table of registers; all ones elsewhere.
    #[derive(Default)]
    struct FakeConfig(HashMap<(u8, u8, u8, u8), u32>);

    impl FakeConfig {
        /// Adds a function: IDs, class, header type byte, interrupt pin and line.
        fn add(
            &mut self,
            at: (u8, u8, u8),
            id: (u16, u16),
            class: u16,
            header: u8,
            intx: (u8, u8),
        ) {
            let (bus, device, function) = at;
            let regs = &mut self.0;
            regs.insert(
                (bus, device, function, 0x00),
                u32::from(id.1) << 16 | u32::from(id.0),
            );
            regs.insert((bus, device, function, 0x08), u32::from(class) << 16);
            regs.insert((bus, device, function, 0x0c), u32::from(header) << 16);
            regs.insert(
                (bus, device, function, 0x3c),
                u32::from(intx.0) << 8 | u32::from(intx.1),
            );
        }
    }

    impl Config for FakeConfig {
        fn read(&self, bus: u8, device: u8, function: u8, offset: u8) -> u32 {
            self.0
                .get(&(bus, device, function, offset))
                .copied()
                .unwrap_or(u32::MAX)
        }
    }

    fn found(config: &FakeConfig) -> Vec<Function> {
        let mut all = Vec::new();
        scan(config, |f| all.push(*f));
        all
    }

    #[test]
    fn scans_functions_of_multi_function_devices_and_buses_behind_bridges() {
        let mut config = FakeConfig::default();
        config.add((0, 0, 0), (0x8086, 0x1237), 0x0600, 0, (0, 0));
        config.add((0, 1, 0), (0x8086, 0x7000), 0x0601, 0x80, (0, 0));
        config.add((0, 1, 1), (0x8086, 0x7010), 0x0101, 0, (0, 0));
        // Function 2 of a single-function device is not looked at.
        config.add((0, 4, 0), (0x1af4, 0x1001), 0x0100, 0, (1, 11));
        config.add((0, 4, 2), (0x1af4, 0x1000), 0x0200, 0, (1, 10));
        config.add((0, 5, 0), (0x1b36, 0x0001), 0x0604, 1, (0, 0));
        config.0.insert((0, 5, 0, 0x18), 0x0002_0200);
        config.add((2, 0, 0), (0x1af4, 0x1042), 0x0100, 0, (2, 10));
        // A bridge back to bus 0 must not loop.
        config.add((2, 3, 0), (0x1b36, 0x0001), 0x0604, 1, (0, 0));
        config.0.insert((2, 3, 0, 0x18), 0x0000_0002);
        let all = found(&config);
        let at: Vec<_> = all
            .iter()
            .map(|f| (f.address.bus, f.address.device, f.address.function))
            .collect();
        assert_eq!(
            at,
            [
                (0, 0, 0),
                (0, 1, 0),
                (0, 1, 1),
                (0, 4, 0),
                (0, 5, 0),
                (2, 0, 0),
                (2, 3, 0)
            ]
        );
        assert_eq!(
            all[3].to_string(),
            "00:04.0 1af4:1001 class 01.00 pin A line 11 virtio-blk"
        );
        assert_eq!(
            all[5].to_string(),
            "02:00.0 1af4:1042 class 01.00 pin B line 10 virtio-blk"
        );
        assert_eq!(
            all[0].to_string(),
            "00:00.0 8086:1237 class 06.00 host bridge"
        );
        assert_eq!(all[3].intx_irq(), Some(11));
        assert_eq!(all[0].intx_irq(), None);
    }

    #[test]
    fn an_empty_bus_lists_nothing_and_a_missing_line_is_none() {
        assert!(found(&FakeConfig::default()).is_empty());
        let mut config = FakeConfig::default();
        config.add((0, 3, 0), (0x1af4, 0x1001), 0x0100, 0, (1, 0xff));
        let all = found(&config);
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].intx_irq(), None);
        assert_eq!(
            all[0].address,
            DeviceFunction {
                bus: 0,
                device: 3,
                function: 0
            }
        );
    }

    /// A virtio-blk function at 00:04.0 whose capability list is `caps` (offset, first
    /// word, second, third), chained in that order.
    fn with_capabilities(caps: &[(u8, u32, u32, u32)]) -> (FakeConfig, DeviceFunction) {
        let mut config = FakeConfig::default();
        config.add((0, 4, 0), (0x1af4, 0x1001), 0x0100, 0, (1, 11));
        let regs = &mut config.0;
        regs.insert((0, 4, 0, 0x04), 0x0010_0000);
        regs.insert((0, 4, 0, 0x34), caps.first().map_or(0, |c| u32::from(c.0)));
        for (i, &(offset, first, second, third)) in caps.iter().enumerate() {
            let next = caps.get(i + 1).map_or(0, |c| u32::from(c.0));
            regs.insert((0, 4, 0, offset), first | next << 8);
            regs.insert((0, 4, 0, offset + 4), second);
            regs.insert((0, 4, 0, offset + 8), third);
        }
        let at = DeviceFunction {
            bus: 0,
            device: 4,
            function: 0,
        };
        (config, at)
    }

    #[test]
    fn msix_and_the_virtio_common_config_are_found_in_the_capability_list() {
        // QEMU's virtio-blk-pci: MSI-X (2 entries, table in BAR 1 at 0), then virtio's
        // vendor capabilities (ISR = type 3, common = type 1 in BAR 4 at 0x0).
        let (config, at) = with_capabilities(&[
            (0x98, 0x0001_0011, 0x0000_0001, 0),
            (0x84, 0x0314_0009, 4, 0x1000),
            (0x70, 0x0110_0009, 4, 0x2000),
        ]);
        assert_eq!(
            msix(&config, at),
            Some(MsiX {
                capability: 0x98,
                table_bar: 1,
                table_offset: 0,
                size: 2,
            })
        );
        assert_eq!(virtio_common_config(&config, at), Some((4, 0x2000)));
        assert_eq!(MsiX::enabled(0x4001_0011), 0x8001_0011);
    }

    #[test]
    fn without_the_capabilities_or_with_a_looping_list_there_is_none() {
        let (config, at) = with_capabilities(&[(0x40, 0x0000_0005, 0, 0)]);
        assert_eq!(msix(&config, at), None);
        assert_eq!(virtio_common_config(&config, at), None);
        let (mut config, at) = with_capabilities(&[(0x40, 0x0000_0005, 0, 0)]);
        config.0.insert((0, 4, 0, 0x40), 0x0000_4005);
        assert_eq!(msix(&config, at), None);
        let (mut config, at) = with_capabilities(&[(0x40, 0x0000_0011, 0x10, 0)]);
        config.0.insert((0, 4, 0, 0x04), 0);
        assert_eq!(msix(&config, at), None, "status says there is no list");
    }
}
