//! [`PortRegisters`]: a legacy channel's registers, and its bus-master block, in I/O space.

use super::Registers;
use super::dma::bm;
use crate::x86_64::port;

/// A legacy channel's registers in I/O space.
#[derive(Debug)]
pub struct PortRegisters {
    base: u16,
    control: u16,
    bus_master: Option<u16>,
}

impl PortRegisters {
    /// The primary channel: command block 0x1f0, control 0x3f6, ISA IRQ 14.
    pub const PRIMARY: (u16, u16, u8) = (0x1f0, 0x3f6, 14);
    /// The secondary channel: command block 0x170, control 0x376, ISA IRQ 15.
    pub const SECONDARY: (u16, u16, u8) = (0x170, 0x376, 15);

    /// # Safety
    /// An ATA channel's command block must be at `base..base + 8` and its control register
    /// at `control`, used by nothing else.
    pub unsafe fn new(base: u16, control: u16) -> Self {
        Self {
            base,
            control,
            bus_master: None,
        }
    }

    /// The same channel with its bus-master registers at `base..base + 8`.
    ///
    /// # Safety
    /// They must be this channel's part of its PCI IDE controller's bus-master block
    /// (BAR4, plus 8 for the secondary channel), used by nothing else, with bus mastering
    /// enabled in the controller's command register.
    pub unsafe fn with_bus_master(self, base: u16) -> Self {
        Self {
            bus_master: Some(base),
            ..self
        }
    }

    /// The bus-master register at `offset`.
    fn bus_master_port(&self, offset: u8) -> u16 {
        self.bus_master.unwrap_or_default() + u16::from(offset)
    }
}

impl Registers for PortRegisters {
    fn read(&mut self, offset: u8) -> u8 {
        // SAFETY: `new`'s caller vouched for the channel.
        unsafe { port::inb(self.base + u16::from(offset)) }
    }

    fn write(&mut self, offset: u8, value: u8) {
        // SAFETY: as for `read`.
        unsafe { port::outb(self.base + u16::from(offset), value) }
    }

    fn read_block(&mut self, sector: &mut [u8]) {
        // SAFETY: as for `read`; the drive has a sector ready (DRQ).
        unsafe { port::insw(self.base, sector) }
    }

    fn write_block(&mut self, sector: &[u8]) {
        // SAFETY: as for `read`; the drive wants a sector (DRQ).
        unsafe { port::outsw(self.base, sector) }
    }

    fn alt_status(&mut self) -> u8 {
        // SAFETY: as for `read`.
        unsafe { port::inb(self.control) }
    }

    fn set_control(&mut self, value: u8) {
        // SAFETY: as for `read`.
        unsafe { port::outb(self.control, value) }
    }

    fn has_bus_master(&self) -> bool {
        self.bus_master.is_some()
    }

    fn bus_master_read(&mut self, offset: u8) -> u8 {
        // SAFETY: `with_bus_master`'s caller vouched for the block; the trait calls this
        // only when there is one.
        unsafe { port::inb(self.bus_master_port(offset)) }
    }

    fn bus_master_write(&mut self, offset: u8, value: u8) {
        // SAFETY: as for `bus_master_read`.
        unsafe { port::outb(self.bus_master_port(offset), value) }
    }

    fn set_prd_table(&mut self, address: u32) {
        // SAFETY: as for `bus_master_read`.
        unsafe { port::outl(self.bus_master_port(bm::TABLE), address) }
    }
}
