//! PCI configuration space through the PC's ports `0xcf8` (address) and `0xcfc` (data).
//!
//! For now the PC board only asks whether a host bridge answers, which tells a PC from a
//! machine without PCI (QEMU's microvm) before the board relies on PC hardware.

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

    /// Reads register `offset` of `bus:device.function`; all ones where no function answers.
    pub fn read(&mut self, bus: u8, device: u8, function: u8, offset: u8) -> u32 {
        // SAFETY: `new`'s caller vouched for the ports; selecting and reading a register has
        // no other effect.
        unsafe {
            port::outl(ADDRESS_PORT, config_address(bus, device, function, offset));
            port::inl(DATA_PORT)
        }
    }

    /// True when function 0 of device 0 on bus 0, the host bridge of every PC, answers.
    pub fn host_bridge_present(&mut self) -> bool {
        self.read(0, 0, 0, 0) & 0xffff != 0xffff
    }
}

#[cfg(test)]
mod tests {
    use super::config_address;

    #[test]
    fn addresses_select_bus_device_function_and_register() {
        assert_eq!(config_address(0, 0, 0, 0), 0x8000_0000);
        assert_eq!(config_address(1, 2, 3, 0x3c), 0x8001_133c);
        assert_eq!(config_address(0, 31, 7, 0xff), 0x8000_fffc);
    }
}
