//! The I/O APIC: where the machine's device interrupt pins (GSIs) become messages to a
//! core's local APIC.
//!
//! Two registers reach the chip: a select register at +0x00 names an internal register,
//! the window at +0x10 reads or writes it. Register 0x01 holds the version, with the last
//! redirection entry in bits 16..24; entry *n* is registers `0x10 + 2n` (low half: vector,
//! delivery, polarity, trigger, mask) and `0x11 + 2n` (high half: destination APIC ID in
//! bits 24..32). Novillo uses fixed delivery in physical destination mode only.
//!
//! The select/window pair is state shared by every core and by the interrupt path, so
//! [`MmioRegisters`] takes one lock with interrupts masked around each access: the holder
//! cannot be interrupted on its own core, so an interrupt handler never finds it held there.
//! Each access to the chip traps into the hypervisor, and the top half masks a level line's
//! entry that the bottom half then unmasks: the lock also remembers which register is
//! selected, so that an access to the same one as the access before skips the select.

use crate::x86_64::instructions;

/// Where an I/O APIC sits when no firmware table says otherwise.
pub const DEFAULT_ADDRESS: usize = 0xfec0_0000;

/// The version register.
const VERSION: u8 = 0x01;
/// The first redirection entry's low half.
const ENTRIES: u8 = 0x10;
/// Polarity bit of an entry's low half: set for active low.
const ACTIVE_LOW: u32 = 1 << 13;
/// Trigger bit of an entry's low half: set for level.
const LEVEL: u32 = 1 << 15;
/// Mask bit of an entry's low half.
const MASKED: u32 = 1 << 16;

/// Access to an I/O APIC's internal registers.
pub trait Registers {
    /// Reads internal register `index`.
    fn read(&self, index: u8) -> u32;
    /// Writes internal register `index`.
    fn write(&self, index: u8, value: u32);
}

/// The registers of the I/O APIC memory-mapped at an identity-mapped address.
#[derive(Clone, Copy, Debug)]
pub struct MmioRegisters {
    base: usize,
}

/// Held while a select/window pair is in use, on any I/O APIC; holds the I/O APIC and
/// index last selected (`None`: not known). Only this module writes a select register.
static WINDOW: spin::Mutex<Option<(usize, u8)>> = spin::Mutex::new(None);

impl MmioRegisters {
    /// The registers at `base`.
    ///
    /// # Safety
    /// `base` must be an I/O APIC's address, identity-mapped.
    pub const unsafe fn new(base: usize) -> Self {
        Self { base }
    }

    fn access<T>(&self, index: u8, window: impl FnOnce(*mut u32) -> T) -> T {
        instructions::without_interrupts(|| {
            let mut selected = WINDOW.lock();
            if *selected != Some((self.base, index)) {
                // SAFETY: `new`'s caller vouched for the address; the select register takes
                // any index (unknown ones read as zero), and the lock keeps the pair ours.
                unsafe { (self.base as *mut u32).write_volatile(u32::from(index)) };
                *selected = Some((self.base, index));
            }
            window((self.base + 0x10) as *mut u32)
        })
    }
}

impl Registers for MmioRegisters {
    fn read(&self, index: u8) -> u32 {
        // SAFETY: the window of a mapped I/O APIC, selected by `access`.
        self.access(index, |window| unsafe { window.read_volatile() })
    }

    fn write(&self, index: u8, value: u32) {
        // SAFETY: as for `read`; every caller writes values the data sheet defines.
        self.access(index, |window| unsafe { window.write_volatile(value) })
    }
}

/// How a pin signals: the trigger mode and polarity of its redirection entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Signal {
    /// Level-triggered (else edge).
    pub level: bool,
    /// Active low (else active high).
    pub active_low: bool,
}

impl Signal {
    /// QEMU's devices on PCI and virtio-mmio: level, active high.
    pub const LEVEL_HIGH: Self = Self {
        level: true,
        active_low: false,
    };

    /// An entry's low half for this signal on `vector`, masked or not.
    pub const fn entry_low(self, vector: u8, masked: bool) -> u32 {
        let mut low = vector as u32;
        if self.active_low {
            low |= ACTIVE_LOW;
        }
        if self.level {
            low |= LEVEL;
        }
        if masked {
            low |= MASKED;
        }
        low
    }
}

/// One I/O APIC.
#[derive(Clone, Copy, Debug)]
pub struct IoApic<R> {
    registers: R,
}

impl<R: Registers> IoApic<R> {
    /// The I/O APIC behind `registers`.
    pub const fn new(registers: R) -> Self {
        Self { registers }
    }

    /// The registers.
    pub fn registers(&self) -> &R {
        &self.registers
    }

    /// How many pins (redirection entries) it has.
    pub fn pins(&self) -> usize {
        ((self.registers.read(VERSION) >> 16) & 0xff) as usize + 1
    }

    /// Programs `pin` to raise `vector` with `signal`, masked, destination unchanged.
    pub fn set_masked(&self, pin: u8, vector: u8, signal: Signal) {
        self.write_low(pin, signal.entry_low(vector, true));
    }

    /// Sends `pin` to the local APIC `apic_id` and unmasks it: destination first, so
    /// that no interrupt reaches the old one.
    pub fn route(&self, pin: u8, vector: u8, signal: Signal, apic_id: u8) {
        self.registers
            .write(ENTRIES + 2 * pin + 1, u32::from(apic_id) << 24);
        self.write_low(pin, signal.entry_low(vector, false));
    }

    /// Masks or unmasks `pin`, programmed with `vector` and `signal`.
    pub fn set_mask(&self, pin: u8, vector: u8, signal: Signal, masked: bool) {
        self.write_low(pin, signal.entry_low(vector, masked));
    }

    fn write_low(&self, pin: u8, low: u32) {
        self.registers.write(ENTRIES + 2 * pin, low);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::cell::RefCell;
    use std::collections::HashMap;

    use super::{IoApic, Registers, Signal};

    /// A register bank that remembers writes and answers reads from what was written.
    #[derive(Default)]
    pub(crate) struct FakeIoApic {
        pub(crate) values: RefCell<HashMap<u8, u32>>,
        pub(crate) writes: RefCell<Vec<(u8, u32)>>,
    }

    impl Registers for &FakeIoApic {
        fn read(&self, index: u8) -> u32 {
            self.values.borrow().get(&index).copied().unwrap_or(0)
        }

        fn write(&self, index: u8, value: u32) {
            self.writes.borrow_mut().push((index, value));
            self.values.borrow_mut().insert(index, value);
        }
    }

    #[test]
    fn pins_come_from_the_version_register() {
        let bank = FakeIoApic::default();
        bank.values.borrow_mut().insert(0x01, 0x0017_0020);
        assert_eq!(IoApic::new(&bank).pins(), 24);
    }

    #[test]
    fn entries_carry_vector_trigger_polarity_and_mask() {
        assert_eq!(Signal::LEVEL_HIGH.entry_low(0x31, false), 0x8031);
        assert_eq!(Signal::LEVEL_HIGH.entry_low(0x31, true), 0x1_8031);
        let edge_low = Signal {
            level: false,
            active_low: true,
        };
        assert_eq!(edge_low.entry_low(0x40, false), 0x2040);
    }

    #[test]
    fn routing_names_the_destination_before_unmasking() {
        let bank = FakeIoApic::default();
        let ioapic = IoApic::new(&bank);
        ioapic.set_masked(11, 0x30, Signal::LEVEL_HIGH);
        ioapic.route(11, 0x30, Signal::LEVEL_HIGH, 3);
        ioapic.set_mask(11, 0x30, Signal::LEVEL_HIGH, true);
        assert_eq!(
            *bank.writes.borrow(),
            [
                (0x26, 0x1_8030),
                (0x27, 3 << 24),
                (0x26, 0x8030),
                (0x26, 0x1_8030),
            ]
        );
    }
}
