//! The Intel 82540EM ("e1000", QEMU `-device e1000`, PCI `8086:100e`): our own driver over
//! its memory-mapped registers (BAR0) and two descriptor rings in ordinary memory.
//!
//! The device owns receive descriptors `RDH..RDT` and fills them by DMA; the driver keeps
//! one back (the last it read) so that head and tail never meet while the ring is full.
//! A frame that spans several descriptors (longer than a buffer), carries an error bit, or
//! is shorter than a header or longer than the MTU is dropped and counted. Transmit
//! descriptors `TDH..TDT` belong to the device until it sets their done bit.
//!
//! Interrupts: a received frame (`RXT0`), a sent frame (`TXDW`), a link change (`LSC`)
//! and a receive overrun (`RXO`, whose lost frames the missed-packet counter adds to the
//! drops). Reading `ICR` acknowledges them all.
//!
//! Register access goes through [`Registers`], so the driver is tested on the host against
//! a fake register bank ([`fake`]) that plays the device's DMA in host memory.

#[cfg(any(test, feature = "fake"))]
pub mod fake;

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::sync::atomic::{Ordering, fence};

use hal::device::NetDriver;
use hal::irq::InterruptSource;
use hal::net::{DEFAULT_MTU, MIN_FRAME, MacAddress, NetDevice, NetStats};

/// Register offsets in BAR0 (82540EM manual, §13).
pub mod reg {
    /// Device control.
    pub const CTRL: usize = 0x0000;
    /// Device status: link up and speed.
    pub const STATUS: usize = 0x0008;
    /// EEPROM read: start, done, address and data.
    pub const EERD: usize = 0x0014;
    /// Interrupt cause read; reading clears it.
    pub const ICR: usize = 0x00c0;
    /// Interrupt mask set.
    pub const IMS: usize = 0x00d0;
    /// Interrupt mask clear.
    pub const IMC: usize = 0x00d8;
    /// Receive control.
    pub const RCTL: usize = 0x0100;
    /// Transmit control.
    pub const TCTL: usize = 0x0400;
    /// Transmit inter-packet gap.
    pub const TIPG: usize = 0x0410;
    /// Receive descriptor ring: base (low, high), length, head, tail, delay timer.
    pub const RDBAL: usize = 0x2800;
    pub const RDBAH: usize = 0x2804;
    pub const RDLEN: usize = 0x2808;
    pub const RDH: usize = 0x2810;
    pub const RDT: usize = 0x2818;
    pub const RDTR: usize = 0x2820;
    /// Transmit descriptor ring: base (low, high), length, head, tail.
    pub const TDBAL: usize = 0x3800;
    pub const TDBAH: usize = 0x3804;
    pub const TDLEN: usize = 0x3808;
    pub const TDH: usize = 0x3810;
    pub const TDT: usize = 0x3818;
    /// Missed packets count (no receive buffer); reading clears it.
    pub const MPC: usize = 0x4010;
    /// Multicast table array, 128 words.
    pub const MTA: usize = 0x5200;
    /// Receive address 0, low and high.
    pub const RAL0: usize = 0x5400;
    pub const RAH0: usize = 0x5404;
}

/// `CTRL` bits.
pub mod ctrl {
    /// Auto-speed detection.
    pub const ASDE: u32 = 1 << 5;
    /// Set link up.
    pub const SLU: u32 = 1 << 6;
    /// Device reset; the device clears it when done.
    pub const RST: u32 = 1 << 26;
    /// Link reset, invert loss-of-signal, VLAN mode, PHY reset: all must be clear.
    pub const OFF: u32 = 1 << 3 | 1 << 7 | 1 << 30 | 1 << 31;
}

/// `STATUS`: the link is up.
pub const STATUS_LU: u32 = 1 << 1;

/// Interrupt causes (`ICR`, `IMS`, `IMC`).
pub mod int {
    /// A transmit descriptor was written back.
    pub const TXDW: u32 = 1 << 0;
    /// The link status changed.
    pub const LSC: u32 = 1 << 2;
    /// Receive overrun: frames were lost for want of descriptors.
    pub const RXO: u32 = 1 << 6;
    /// A frame was received (timer 0 expired).
    pub const RXT0: u32 = 1 << 7;
}

/// `EERD` bits: start, done, and where the address and data sit.
const EERD_START: u32 = 1;
const EERD_DONE: u32 = 1 << 4;
const EERD_ADDRESS_SHIFT: u32 = 8;
const EERD_DATA_SHIFT: u32 = 16;
/// `RAH`: the address is valid.
const RAH_AV: u32 = 1 << 31;

/// `RCTL`: enable, accept broadcast, strip the CRC; buffer size 2048 is `BSIZE` = 0.
const RCTL_EN: u32 = 1 << 1;
const RCTL_BAM: u32 = 1 << 15;
const RCTL_SECRC: u32 = 1 << 26;
/// `TCTL`: enable, pad short packets, collision threshold 15, full-duplex distance 64.
const TCTL_EN: u32 = 1 << 1;
const TCTL_PSP: u32 = 1 << 3;
const TCTL_CT: u32 = 0x0f << 4;
const TCTL_COLD: u32 = 0x40 << 12;
/// `TIPG` for copper (manual §13.4.34): IPGT 10, IPGR1 8, IPGR2 6.
const TIPG_COPPER: u32 = 10 | 8 << 10 | 6 << 20;

/// Descriptor status bits: descriptor done, end of packet.
pub const DESC_DD: u8 = 1 << 0;
pub const DESC_EOP: u8 = 1 << 1;
/// Receive errors that spoil a frame: CRC/alignment, symbol, sequence, carrier extension,
/// data (TCP/IP checksum errors are left to the stack).
pub const RX_ERRORS: u8 = 1 << 0 | 1 << 1 | 1 << 2 | 1 << 4 | 1 << 7;
/// Transmit command bits: end of packet, insert FCS, report status.
pub const TX_EOP: u8 = 1 << 0;
pub const TX_IFCS: u8 = 1 << 1;
pub const TX_RS: u8 = 1 << 3;

/// Receive descriptors: a multiple of 8 (the ring length is a multiple of 128 bytes) and at
/// most 65,536. 1,024 (2 MiB of buffers) hold the segments of 40 connections' full 32 KiB
/// windows at once (40 × 23). A frame that finds none waits in QEMU 7.2's queue until the
/// driver returns descriptors; a device that drops it counts it in `MPC`.
pub const RX_RING: usize = 1024;
/// Transmit descriptors: a sender waits for a free one, so no frame is lost for want of
/// them; 256, as Linux's e1000 driver.
pub const TX_RING: usize = 256;
const _: () = assert!(RX_RING.is_multiple_of(8) && RX_RING <= 65_536);
const _: () = assert!(TX_RING.is_multiple_of(8) && TX_RING <= 65_536);
/// Bytes of each buffer.
pub const BUFFER_SIZE: usize = 2048;
/// How many times `new` reads a register before it gives up waiting on the device.
const PATIENCE: usize = 100_000;

/// The device's registers: MMIO on a PC, a fake bank in tests.
pub trait Registers {
    /// Reads the 32-bit register at `offset`.
    fn read(&self, offset: usize) -> u32;
    /// Writes the 32-bit register at `offset`.
    fn write(&mut self, offset: usize, value: u32);
}

/// The registers in BAR0, identity-mapped.
#[derive(Debug)]
pub struct MmioRegisters {
    base: usize,
}

impl MmioRegisters {
    /// # Safety
    /// `base` is the identity-mapped address of an 82540EM's 128 KiB register window,
    /// which nothing else uses while this value lives.
    pub unsafe fn new(base: usize) -> Self {
        Self { base }
    }
}

impl Registers for MmioRegisters {
    fn read(&self, offset: usize) -> u32 {
        // SAFETY: `new`'s caller vouched for the window; offsets are the driver's own
        // constants, inside it and 4-aligned.
        unsafe { ((self.base + offset) as *const u32).read_volatile() }
    }

    fn write(&mut self, offset: usize, value: u32) {
        // SAFETY: as in `read`.
        unsafe { ((self.base + offset) as *mut u32).write_volatile(value) }
    }
}

/// A receive descriptor (manual §3.2.3), aligned as the device wants a ring's base.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C, align(16))]
pub struct RxDescriptor {
    /// Buffer address.
    pub addr: u64,
    /// Bytes the device wrote.
    pub length: u16,
    /// Packet checksum.
    pub checksum: u16,
    /// `DESC_DD`, `DESC_EOP`, ...
    pub status: u8,
    /// Error bits ([`RX_ERRORS`]).
    pub errors: u8,
    /// VLAN tag.
    pub special: u16,
}

/// A legacy transmit descriptor (manual §3.3.3), aligned as [`RxDescriptor`].
#[derive(Clone, Copy, Debug, Default)]
#[repr(C, align(16))]
pub struct TxDescriptor {
    /// Buffer address.
    pub addr: u64,
    /// Bytes to send.
    pub length: u16,
    /// Checksum offset (unused).
    pub cso: u8,
    /// [`TX_EOP`], [`TX_IFCS`], [`TX_RS`].
    pub cmd: u8,
    /// `DESC_DD` once sent.
    pub status: u8,
    /// Checksum start (unused).
    pub css: u8,
    /// VLAN tag.
    pub special: u16,
}

type Buffer = [u8; BUFFER_SIZE];

/// Why an e1000 could not start; the board logs it and leaves the device out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The device did not finish its reset.
    ResetTimeout,
    /// Neither the receive address registers nor the EEPROM hold a MAC address.
    NoMacAddress,
    /// The heap has no room for the rings and their buffers.
    OutOfMemory,
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::ResetTimeout => f.write_str("the device did not come out of reset"),
            Self::NoMacAddress => f.write_str("no MAC address in RAL/RAH or the EEPROM"),
            Self::OutOfMemory => write!(
                f,
                "no memory for {RX_RING} + {TX_RING} descriptors and their {BUFFER_SIZE}-byte buffers"
            ),
        }
    }
}

/// An e1000 on registers `R`: see the [module docs](self).
pub struct E1000<R: Registers> {
    regs: R,
    mac: MacAddress,
    /// Boxed: the device reads and writes them by address while `self` moves.
    rx_ring: Box<[RxDescriptor; RX_RING]>,
    rx_buffers: Box<[Buffer]>,
    /// The next receive descriptor the device fills.
    rx_next: usize,
    /// Inside a frame that spans descriptors: dropping until its last one.
    rx_discarding: bool,
    tx_ring: Box<[TxDescriptor; TX_RING]>,
    tx_buffers: Box<[Buffer]>,
    /// The next transmit descriptor the driver fills.
    tx_next: usize,
    /// The oldest transmit descriptor not known to be sent.
    tx_clean: usize,
    stats: NetStats,
}

impl<R: Registers> core::fmt::Debug for E1000<R> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("E1000")
            .field("mac", &self.mac)
            .field("stats", &self.stats)
            .finish()
    }
}

const _: () = {
    const fn is_driver<D: NetDriver>() {}
    is_driver::<E1000<MmioRegisters>>();
};

/// The physical address the device gets for `pointer`: the same, on the identity map.
fn dma<T>(pointer: *const T) -> u64 {
    pointer as u64
}

/// `N` copies of `value` on the heap, built there (`Box::new([value; N])` builds the array
/// on the stack first in debug builds), or `None` when the heap has no room.
fn boxed<T: Clone, const N: usize>(value: T) -> Option<Box<[T; N]>> {
    let mut items = Vec::new();
    items.try_reserve_exact(N).ok()?;
    items.resize(N, value);
    items.into_boxed_slice().try_into().ok()
}

impl<R: Registers> E1000<R> {
    /// Resets the device, reads its MAC address, sets up both rings and turns receive,
    /// transmit and interrupts on.
    pub fn new(mut regs: R) -> Result<Self, Error> {
        let rx_ring = boxed(RxDescriptor::default()).ok_or(Error::OutOfMemory)?;
        let rx_buffers = boxed::<Buffer, RX_RING>([0; BUFFER_SIZE]).ok_or(Error::OutOfMemory)?;
        let tx_ring = boxed(TxDescriptor::default()).ok_or(Error::OutOfMemory)?;
        let tx_buffers = boxed::<Buffer, TX_RING>([0; BUFFER_SIZE]).ok_or(Error::OutOfMemory)?;
        regs.write(reg::IMC, u32::MAX);
        let ctrl = regs.read(reg::CTRL);
        regs.write(reg::CTRL, ctrl | ctrl::RST);
        if !(0..PATIENCE).any(|_| regs.read(reg::CTRL) & ctrl::RST == 0) {
            return Err(Error::ResetTimeout);
        }
        regs.write(reg::IMC, u32::MAX);
        regs.read(reg::ICR);
        let ctrl = regs.read(reg::CTRL);
        regs.write(reg::CTRL, (ctrl | ctrl::SLU | ctrl::ASDE) & !ctrl::OFF);
        let mac = mac_address(&mut regs).ok_or(Error::NoMacAddress)?;
        let [a, b, c, d, e, f] = mac;
        regs.write(reg::RAL0, u32::from_le_bytes([a, b, c, d]));
        regs.write(reg::RAH0, u32::from(u16::from_le_bytes([e, f])) | RAH_AV);
        for i in 0..128 {
            regs.write(reg::MTA + 4 * i, 0);
        }
        let mut device = Self {
            regs,
            mac,
            rx_ring,
            rx_buffers,
            rx_next: 0,
            rx_discarding: false,
            tx_ring,
            tx_buffers,
            tx_next: 0,
            tx_clean: 0,
            stats: NetStats::default(),
        };
        device.start();
        Ok(device)
    }

    fn start(&mut self) {
        for (descriptor, buffer) in self.rx_ring.iter_mut().zip(self.rx_buffers.iter()) {
            descriptor.addr = dma(buffer.as_ptr());
        }
        let rx = dma(self.rx_ring.as_ptr());
        let tx = dma(self.tx_ring.as_ptr());
        fence(Ordering::Release);
        let regs = &mut self.regs;
        regs.write(reg::RDBAL, rx as u32);
        regs.write(reg::RDBAH, (rx >> 32) as u32);
        regs.write(reg::RDLEN, (RX_RING * size_of::<RxDescriptor>()) as u32);
        regs.write(reg::RDH, 0);
        regs.write(reg::RDT, (RX_RING - 1) as u32);
        regs.write(reg::RDTR, 0);
        regs.write(reg::RCTL, RCTL_EN | RCTL_BAM | RCTL_SECRC);
        regs.write(reg::TDBAL, tx as u32);
        regs.write(reg::TDBAH, (tx >> 32) as u32);
        regs.write(reg::TDLEN, (TX_RING * size_of::<TxDescriptor>()) as u32);
        regs.write(reg::TDH, 0);
        regs.write(reg::TDT, 0);
        regs.write(reg::TCTL, TCTL_EN | TCTL_PSP | TCTL_CT | TCTL_COLD);
        regs.write(reg::TIPG, TIPG_COPPER);
        regs.write(reg::IMS, int::RXT0 | int::TXDW | int::LSC | int::RXO);
    }

    /// Receive descriptor `index` as the device left it.
    fn rx_descriptor(&self, index: usize) -> RxDescriptor {
        // SAFETY: inside the ring; the device writes it by DMA, hence the volatile read.
        unsafe { (&raw const self.rx_ring[index]).read_volatile() }
    }

    /// Gives receive descriptor `index` back to the device, empty, with the one kept back
    /// before it.
    fn rx_return(&mut self, index: usize) {
        let fresh = RxDescriptor {
            addr: dma(self.rx_buffers[index].as_ptr()),
            ..RxDescriptor::default()
        };
        // SAFETY: inside the ring, which the device does not touch at `index` (it is the
        // one kept back until the tail moves below).
        unsafe { (&raw mut self.rx_ring[index]).write_volatile(fresh) };
        fence(Ordering::Release);
        self.regs.write(reg::RDT, index as u32);
    }

    /// Takes back the transmit descriptors the device is done with.
    fn reclaim(&mut self) {
        while self.tx_clean != self.tx_next {
            // SAFETY: inside the ring; the device writes the status by DMA.
            let status = unsafe { (&raw const self.tx_ring[self.tx_clean].status).read_volatile() };
            if status & DESC_DD == 0 {
                return;
            }
            self.tx_clean = (self.tx_clean + 1) % TX_RING;
        }
    }
}

/// The MAC address in receive address 0 (QEMU loads it there from the EEPROM at reset),
/// else in the EEPROM's first three words; `None` when both say nothing.
fn mac_address(regs: &mut impl Registers) -> Option<MacAddress> {
    let (low, high) = (regs.read(reg::RAL0), regs.read(reg::RAH0));
    let [a, b, c, d] = low.to_le_bytes();
    let [e, f, _, _] = high.to_le_bytes();
    let mac = [a, b, c, d, e, f];
    if high & RAH_AV != 0 && mac != [0; 6] {
        return Some(mac);
    }
    let mut mac = [0; 6];
    for word in 0..3u32 {
        regs.write(reg::EERD, EERD_START | word << EERD_ADDRESS_SHIFT);
        let value = (0..PATIENCE)
            .map(|_| regs.read(reg::EERD))
            .find(|value| value & EERD_DONE != 0)?;
        let data = (value >> EERD_DATA_SHIFT) as u16;
        let at = 2 * word as usize;
        mac[at..at + 2].copy_from_slice(&data.to_le_bytes());
    }
    (mac != [0; 6] && mac != [0xff; 6]).then_some(mac)
}

impl<R: Registers> NetDevice for E1000<R> {
    fn mac_address(&self) -> MacAddress {
        self.mac
    }

    fn link_up(&self) -> bool {
        self.regs.read(reg::STATUS) & STATUS_LU != 0
    }

    fn receive(&mut self, buf: &mut [u8]) -> Option<usize> {
        loop {
            let index = self.rx_next;
            let descriptor = self.rx_descriptor(index);
            if descriptor.status & DESC_DD == 0 {
                return None;
            }
            fence(Ordering::Acquire);
            let len = usize::from(descriptor.length);
            let last = descriptor.status & DESC_EOP != 0;
            let whole = !self.rx_discarding && last;
            let good = whole
                && descriptor.errors & RX_ERRORS == 0
                && (MIN_FRAME..=DEFAULT_MTU.min(buf.len()).min(BUFFER_SIZE)).contains(&len);
            if good {
                buf[..len].copy_from_slice(&self.rx_buffers[index][..len]);
            }
            self.rx_discarding = !last;
            self.rx_next = (index + 1) % RX_RING;
            self.rx_return(index);
            if good {
                self.stats.rx_frames += 1;
                return Some(len);
            }
            if last {
                self.stats.rx_dropped += 1;
            }
        }
    }

    fn can_transmit(&mut self) -> bool {
        self.reclaim();
        (self.tx_next + 1) % TX_RING != self.tx_clean
    }

    fn transmit(&mut self, len: usize, fill: &mut dyn FnMut(&mut [u8])) -> bool {
        if !self.can_transmit() {
            return false;
        }
        let len = len.min(DEFAULT_MTU);
        let index = self.tx_next;
        fill(&mut self.tx_buffers[index][..len]);
        if !self.link_up() {
            // As a wire would lose it.
            self.stats.tx_dropped += 1;
            return true;
        }
        let descriptor = TxDescriptor {
            addr: dma(self.tx_buffers[index].as_ptr()),
            length: len as u16,
            cmd: TX_EOP | TX_IFCS | TX_RS,
            ..TxDescriptor::default()
        };
        // SAFETY: inside the ring, at a descriptor the device does not own (it is past
        // the tail).
        unsafe { (&raw mut self.tx_ring[index]).write_volatile(descriptor) };
        fence(Ordering::Release);
        self.tx_next = (index + 1) % TX_RING;
        self.regs.write(reg::TDT, self.tx_next as u32);
        self.stats.tx_frames += 1;
        true
    }

    fn stats(&self) -> NetStats {
        self.stats
    }
}

impl<R: Registers> InterruptSource for E1000<R> {
    fn ack_interrupt(&mut self) -> bool {
        let cause = self.regs.read(reg::ICR);
        if cause & int::RXO != 0 {
            self.stats.rx_dropped += u64::from(self.regs.read(reg::MPC));
        }
        cause != 0
    }
}

impl<R: Registers> Drop for E1000<R> {
    fn drop(&mut self) {
        // The device must stop using the rings and buffers before they are freed.
        self.regs.write(reg::IMC, u32::MAX);
        self.regs.write(reg::RCTL, 0);
        self.regs.write(reg::TCTL, 0);
        let ctrl = self.regs.read(reg::CTRL);
        self.regs.write(reg::CTRL, ctrl | ctrl::RST);
    }
}

#[cfg(test)]
mod tests {
    use alloc::vec::Vec;

    use hal::irq::InterruptSource;
    use hal::mock::{NetHarness, net_contract};
    use hal::net::{DEFAULT_MTU, NetDevice};

    use super::fake::{FakeE1000, WriteBack};
    use super::{DESC_EOP, E1000, Error, RX_RING, TX_RING, reg};

    const MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];

    struct Harness {
        device: E1000<FakeE1000>,
        fake: FakeE1000,
    }

    impl Harness {
        fn new() -> Self {
            let fake = FakeE1000::new(MAC);
            let device = E1000::new(fake.clone()).expect("the device starts");
            Self { device, fake }
        }
    }

    impl NetHarness for Harness {
        type Device = E1000<FakeE1000>;

        fn device(&mut self) -> &mut Self::Device {
            &mut self.device
        }

        fn deliver(&mut self, frame: &[u8]) -> bool {
            self.fake.deliver(frame)
        }

        fn sent(&mut self) -> Vec<Vec<u8>> {
            self.fake.send()
        }

        fn interrupts(&self) -> bool {
            true
        }
    }

    #[test]
    fn e1000_keeps_the_contract() {
        net_contract(Harness::new);
    }

    #[test]
    fn start_up_programs_the_rings_and_interrupts() {
        let Harness { device, fake } = Harness::new();
        assert_eq!(device.mac_address(), MAC);
        assert_eq!(fake.register(reg::RDLEN), 1024 * 16);
        assert_eq!(fake.register(reg::TDLEN), 256 * 16);
        assert_eq!(
            fake.register(reg::RDLEN) % 128,
            0,
            "the manual's granularity"
        );
        assert_eq!(fake.register(reg::RDT), 1023, "all but one lent");
        assert_eq!(fake.room(), 1023);
        assert_eq!(
            fake.register(reg::RDBAL) % 16,
            0,
            "the receive ring is aligned"
        );
        assert_eq!(
            fake.register(reg::TDBAL) % 16,
            0,
            "the transmit ring is aligned"
        );
        assert_eq!(fake.register(reg::IMS), 1 << 0 | 1 << 2 | 1 << 6 | 1 << 7);
        assert_ne!(fake.register(reg::RCTL) & 2, 0, "receive on");
        assert_ne!(fake.register(reg::TCTL) & 2, 0, "transmit on");
        assert_eq!(fake.register(reg::RAH0) >> 31, 1, "address valid");
    }

    #[test]
    fn the_address_comes_from_the_eeprom_when_the_registers_hold_none() {
        let fake = FakeE1000::new(MAC);
        fake.forget_receive_address();
        let device = E1000::new(fake.clone()).expect("the device starts");
        assert_eq!(device.mac_address(), MAC);
        assert_eq!(
            fake.register(reg::RAL0),
            u32::from_le_bytes([0x52, 0x54, 0, 0x12])
        );
        fake.set_eeprom_mac([0; 6]);
        let error = E1000::new(fake.clone()).expect_err("no address anywhere");
        assert_eq!(error, Error::NoMacAddress);
    }

    #[test]
    fn a_device_stuck_in_reset_is_refused() {
        let fake = FakeE1000::new(MAC);
        fake.never_reset();
        fake.write_reset_bit();
        assert_eq!(E1000::new(fake).expect_err("stuck"), Error::ResetTimeout);
    }

    #[test]
    fn frames_with_errors_or_garbage_lengths_are_dropped_and_counted() {
        let Harness { mut device, fake } = Harness::new();
        let mut buf = [0; DEFAULT_MTU];
        let bad = [
            WriteBack {
                length: 60,
                status: DESC_EOP,
                errors: 1,
            },
            WriteBack {
                length: 60,
                status: DESC_EOP,
                errors: 1 << 7,
            },
            WriteBack {
                length: 0,
                status: DESC_EOP,
                errors: 0,
            },
            WriteBack {
                length: u16::MAX,
                status: DESC_EOP,
                errors: 0,
            },
            WriteBack {
                length: 2049,
                status: DESC_EOP,
                errors: 0,
            },
        ];
        for back in bad {
            assert!(fake.write_back(&[0xee; 64], back));
        }
        // Two pieces without EOP and their last: one frame, dropped once.
        fake.write_back(
            &[1; 64],
            WriteBack {
                length: 64,
                status: 0,
                errors: 0,
            },
        );
        fake.write_back(
            &[1; 64],
            WriteBack {
                length: 64,
                status: 0,
                errors: 0,
            },
        );
        fake.write_back(
            &[1; 64],
            WriteBack {
                length: 64,
                status: DESC_EOP,
                errors: 0,
            },
        );
        // A TCP checksum error is the stack's business: the frame comes through.
        fake.write_back(
            &[2; 64],
            WriteBack {
                length: 64,
                status: DESC_EOP,
                errors: 1 << 5,
            },
        );
        assert_eq!(device.receive(&mut buf), Some(64));
        assert_eq!(buf[..64], [2; 64]);
        assert_eq!(device.receive(&mut buf), None);
        assert_eq!(device.stats().rx_dropped, 6);
        assert_eq!(fake.room(), RX_RING - 1, "every descriptor went back");
    }

    #[test]
    fn a_short_buffer_drops_the_frame_rather_than_cut_it() {
        let Harness { mut device, fake } = Harness::new();
        assert!(fake.deliver(&[3; 100]));
        let mut small = [0; 50];
        assert_eq!(device.receive(&mut small), None);
        assert_eq!(device.stats().rx_dropped, 1);
    }

    #[test]
    fn overruns_count_the_frames_the_device_missed() {
        let Harness { mut device, fake } = Harness::new();
        for _ in 0..RX_RING - 1 {
            assert!(fake.deliver(&[4; 60]));
        }
        assert!(!fake.deliver(&[5; 60]), "the ring is full");
        assert!(!fake.deliver(&[5; 60]));
        assert!(device.ack_interrupt());
        assert_eq!(device.stats().rx_dropped, 2);
        let mut buf = [0; DEFAULT_MTU];
        assert_eq!(
            core::iter::from_fn(|| device.receive(&mut buf)).count(),
            RX_RING - 1
        );
    }

    #[test]
    fn the_receive_ring_holds_a_burst_of_1023_frames() {
        let Harness { mut device, fake } = Harness::new();
        let burst = 1023;
        for i in 0..burst {
            assert!(fake.deliver(&[i as u8; 60]), "frame {i} found a descriptor");
        }
        assert!(device.ack_interrupt(), "the frames raised an interrupt");
        let mut buf = [0; DEFAULT_MTU];
        for i in 0..burst {
            assert_eq!(device.receive(&mut buf), Some(60));
            assert_eq!(buf[..60], [i as u8; 60]);
        }
        assert_eq!(device.stats().rx_dropped, 0);
    }

    #[test]
    fn the_transmit_ring_takes_255_frames_until_the_device_sends_them() {
        let Harness { mut device, fake } = Harness::new();
        for i in 0..255 {
            assert!(device.transmit(60, &mut |buf| buf.fill(i)), "frame {i}");
        }
        assert!(!device.can_transmit(), "the ring is full");
        assert!(!device.transmit(60, &mut |buf| buf.fill(0)));
        let sent = fake.send();
        assert_eq!(sent.len(), TX_RING - 1);
        assert!(
            sent.iter()
                .enumerate()
                .all(|(i, frame)| frame[..60] == [i as u8; 60])
        );
        assert!(device.can_transmit(), "sent descriptors come back");
    }

    #[test]
    fn the_link_state_is_read_from_the_device_and_a_down_link_drops_frames() {
        let Harness { mut device, fake } = Harness::new();
        assert!(device.link_up());
        while device.ack_interrupt() {}
        fake.set_link(false);
        assert!(fake.interrupt_pending(), "a link change interrupts");
        assert!(device.ack_interrupt());
        assert!(!device.link_up());
        assert!(device.transmit(60, &mut |buf| buf.fill(9)));
        assert!(fake.send().is_empty(), "nothing goes out on a dead link");
        assert_eq!(device.stats().tx_dropped, 1);
        fake.set_link(true);
        assert!(device.transmit(60, &mut |buf| buf.fill(9)));
        assert_eq!(fake.send().len(), 1);
    }

    #[test]
    fn dropping_the_driver_stops_the_device() {
        let Harness { device, fake } = Harness::new();
        drop(device);
        assert_eq!(fake.register(reg::RCTL), 0);
        assert_eq!(fake.register(reg::TCTL), 0);
        assert_eq!(fake.register(reg::IMS), 0);
    }
}
