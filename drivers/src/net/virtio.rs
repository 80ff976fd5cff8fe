//! virtio-net on any virtio transport (MMIO on microvm, PCI on pc), through the crate's
//! non-blocking [`VirtIONetRaw`] (never its spinning `send`).
//!
//! Every receive buffer is posted to the device at start and again as soon as its frame
//! was copied out, so the device always has the whole ring to fill. Transmit buffers are
//! slots the driver owns: a frame is written into a free slot behind the virtio-net header
//! and lent to the device until it hands the slot back. The device interrupts when it used
//! a buffer of either queue.
//!
//! The driver turns the ring's event index off (the device then suppresses notifications
//! with the ring's flags): the crate's event-index test notifies whenever the index the
//! device last asked about lies behind, and QEMU's receive queue moves that index only
//! when it ran dry, so every receive buffer posted again cost a notification (a trap into
//! QEMU) per frame. With the flags, QEMU says "no notifications" while it has buffers and
//! while its transmit work is pending, and the driver stays quiet.
//!
//! The transmit queue asks for no interrupts: a sent frame's slot is taken back when the
//! stack next transmits or polls, and an interrupt per batch sent only woke the stack to
//! find nothing to do. The receive queue's interrupts still come.

use alloc::boxed::Box;
use alloc::vec;
use alloc::vec::Vec;

use hal::device::NetDriver;
use hal::irq::InterruptSource;
use hal::net::{DEFAULT_MTU, MIN_FRAME, MacAddress, NetDevice, NetStats};
use virtio_drivers::device::net::VirtIONetRaw;
use virtio_drivers::transport::mmio::MmioTransport;
use virtio_drivers::transport::pci::PciTransport;
use virtio_drivers::transport::{DeviceStatus, DeviceType, InterruptStatus, Transport};
use virtio_drivers::{PhysAddr, Result as VirtioResult};
use zerocopy::{FromBytes, Immutable, IntoBytes};

use crate::virtio::{Error, VirtioHal};

/// Entries in each queue; QEMU offers 256.
pub const QUEUE_SIZE: usize = 64;
/// The queues' numbers (virtio 1.2 §5.1.2).
const RECEIVE_QUEUE: u16 = 0;
const TRANSMIT_QUEUE: u16 = 1;
/// The size of every buffer: a whole frame and the header fit (the crate wants ≥ 1526).
const BUFFER_SIZE: usize = 2048;

type Buffer = [u8; BUFFER_SIZE];

/// A transmit slot: free, or lent to the device under a token with the length lent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    Free,
    Lent { token: u16, len: usize },
}

/// A virtio-net device on transport `T`: see the [module docs](self).
pub struct VirtioNet<T: Transport> {
    raw: VirtIONetRaw<VirtioHal, WithoutEventIndex<T>, QUEUE_SIZE>,
    /// Receive buffers, all lent to the device but the one being copied out; boxed so
    /// their addresses stay put while `self` moves.
    rx: Box<[Buffer]>,
    /// The token each receive buffer is lent under.
    rx_tokens: Vec<Option<u16>>,
    tx: Box<[Buffer]>,
    tx_slots: Vec<Slot>,
    /// The virtio-net header's size for this device (10 bytes legacy, 12 modern).
    header: usize,
    stats: NetStats,
}

impl<T: Transport> core::fmt::Debug for VirtioNet<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("VirtioNet")
            .field("mac", &self.raw.mac_address())
            .field("stats", &self.stats)
            .finish()
    }
}

// SAFETY: the driver owns its transport alone; the crate's transports are `Sync` (register
// access from any core is fine) and lack `Send` only because they hold raw register
// pointers; the buffers lent to the device are the driver's own boxes.
unsafe impl<T: Transport + Sync> Send for VirtioNet<T> {}

// The boards hand the driver on both of the crate's transports to the kernel.
const _: () = {
    const fn is_driver<D: NetDriver>() {}
    is_driver::<VirtioNet<MmioTransport<'static>>>();
    is_driver::<VirtioNet<PciTransport>>();
};

impl<T: Transport> VirtioNet<T> {
    /// Negotiates features, sets up both queues, starts the device and posts every
    /// receive buffer. On an error the device is left alone.
    pub fn new(mut transport: T) -> Result<Self, Error> {
        let kind = transport.device_type();
        if kind != DeviceType::Network {
            return Err(Error::WrongDevice(kind));
        }
        let max = transport
            .max_queue_size(RECEIVE_QUEUE)
            .min(transport.max_queue_size(TRANSMIT_QUEUE));
        if max < QUEUE_SIZE as u32 {
            return Err(Error::QueueTooSmall(max));
        }
        let raw = VirtIONetRaw::new(WithoutEventIndex(transport))?;
        let mut scratch = [0; BUFFER_SIZE];
        let header = raw.fill_buffer_header(&mut scratch)?;
        let mut device = Self {
            raw,
            rx: vec![[0; BUFFER_SIZE]; QUEUE_SIZE].into_boxed_slice(),
            rx_tokens: vec![None; QUEUE_SIZE],
            tx: vec![[0; BUFFER_SIZE]; QUEUE_SIZE].into_boxed_slice(),
            tx_slots: vec![Slot::Free; QUEUE_SIZE],
            header,
            stats: NetStats::default(),
        };
        for index in 0..QUEUE_SIZE {
            device.post(index)?;
        }
        Ok(device)
    }

    /// Lends receive buffer `index` to the device.
    fn post(&mut self, index: usize) -> Result<(), Error> {
        // SAFETY: the buffer lives in the boxed slice, which stays put and is touched only
        // after the device handed the token back (`receive`), or never (drop resets first).
        let token = unsafe { self.raw.receive_begin(&mut self.rx[index]) }?;
        self.rx_tokens[index] = Some(token);
        Ok(())
    }

    /// Takes back every transmit slot the device is done with.
    fn reclaim(&mut self) {
        while let Some(token) = self.raw.poll_transmit() {
            let Some(index) = self
                .tx_slots
                .iter()
                .position(|slot| matches!(slot, Slot::Lent { token: t, .. } if *t == token))
            else {
                // A token we never gave out is the device's mistake; it stays in the ring.
                return;
            };
            let Slot::Lent { len, .. } = self.tx_slots[index] else {
                return;
            };
            // SAFETY: the slot's buffer and length are what `transmit_begin` got for `token`.
            match unsafe { self.raw.transmit_complete(token, &self.tx[index][..len]) } {
                Ok(_) => self.tx_slots[index] = Slot::Free,
                Err(_) => return,
            }
        }
    }
}

/// The device's feature bit for the ring's event index (virtio 1.2 §6.3).
const RING_EVENT_IDX: u64 = 1 << 29;
/// The driver area's flag that asks the device for no used-buffer interrupts (§2.7.6).
const AVAIL_NO_INTERRUPT: u16 = 1;

/// A transport whose device does not offer the ring's event index, and whose transmit
/// queue asks for no interrupts: see the [module docs](self). Everything else passes
/// through.
struct WithoutEventIndex<T>(T);

impl<T: Transport> Transport for WithoutEventIndex<T> {
    fn device_type(&self) -> DeviceType {
        self.0.device_type()
    }

    fn read_device_features(&mut self) -> u64 {
        self.0.read_device_features() & !RING_EVENT_IDX
    }

    fn write_driver_features(&mut self, driver_features: u64) {
        self.0.write_driver_features(driver_features);
    }

    fn max_queue_size(&mut self, queue: u16) -> u32 {
        self.0.max_queue_size(queue)
    }

    fn notify(&mut self, queue: u16) {
        self.0.notify(queue);
    }

    fn get_status(&self) -> DeviceStatus {
        self.0.get_status()
    }

    fn set_status(&mut self, status: DeviceStatus) {
        self.0.set_status(status);
    }

    fn set_guest_page_size(&mut self, guest_page_size: u32) {
        self.0.set_guest_page_size(guest_page_size);
    }

    fn requires_legacy_layout(&self) -> bool {
        self.0.requires_legacy_layout()
    }

    fn queue_set(
        &mut self,
        queue: u16,
        size: u32,
        descriptors: PhysAddr,
        driver_area: PhysAddr,
        device_area: PhysAddr,
    ) {
        self.0
            .queue_set(queue, size, descriptors, driver_area, device_area);
        if queue == TRANSMIT_QUEUE {
            // SAFETY: `driver_area` is the transmit queue's available ring, which the
            // queue has just allocated (aligned, zeroed, identity-mapped: see `VirtioHal`)
            // and which lives as long as the queue; its first field is the flags word,
            // which the crate writes only when asked to change interrupts, never here.
            unsafe {
                core::ptr::write_volatile(driver_area as usize as *mut u16, AVAIL_NO_INTERRUPT);
            }
        }
    }

    fn queue_unset(&mut self, queue: u16) {
        self.0.queue_unset(queue);
    }

    fn queue_used(&mut self, queue: u16) -> bool {
        self.0.queue_used(queue)
    }

    fn ack_interrupt(&mut self) -> InterruptStatus {
        self.0.ack_interrupt()
    }

    fn read_config_generation(&self) -> u32 {
        self.0.read_config_generation()
    }

    fn read_config_space<C: FromBytes + IntoBytes>(&self, offset: usize) -> VirtioResult<C> {
        self.0.read_config_space(offset)
    }

    fn write_config_space<C: IntoBytes + Immutable>(
        &mut self,
        offset: usize,
        value: C,
    ) -> VirtioResult<()> {
        self.0.write_config_space(offset, value)
    }
}

impl<T: Transport> NetDevice for VirtioNet<T> {
    fn mac_address(&self) -> MacAddress {
        self.raw.mac_address()
    }

    fn receive(&mut self, buf: &mut [u8]) -> Option<usize> {
        loop {
            let token = self.raw.poll_receive()?;
            // A token we never gave out is the device's mistake; it stays in the ring.
            let index = self.rx_tokens.iter().position(|t| *t == Some(token))?;
            // SAFETY: the buffer is the one lent under `token`, which the device used.
            let done = unsafe { self.raw.receive_complete(token, &mut self.rx[index]) };
            let frame = match done {
                Ok((header, len)) => Some((header, len)),
                // Used, but shorter than its header: popped all the same.
                Err(virtio_drivers::Error::IoError) => None,
                Err(_) => return None,
            };
            self.rx_tokens[index] = None;
            let taken = frame.and_then(|(header, len)| {
                let end = header.checked_add(len).filter(|&end| end <= BUFFER_SIZE)?;
                let fits = (MIN_FRAME..=DEFAULT_MTU.min(buf.len())).contains(&len);
                fits.then_some((header, end, len))
            });
            if let Some((header, end, len)) = taken {
                buf[..len].copy_from_slice(&self.rx[index][header..end]);
            }
            if self.post(index).is_err() {
                // The ring is one buffer short from now on; frames still flow.
                self.stats.rx_dropped += 1;
            }
            match taken {
                Some((_, _, len)) => {
                    self.stats.rx_frames += 1;
                    return Some(len);
                }
                None => self.stats.rx_dropped += 1,
            }
        }
    }

    fn can_transmit(&mut self) -> bool {
        self.reclaim();
        self.raw.can_send() && self.tx_slots.contains(&Slot::Free)
    }

    fn transmit(&mut self, len: usize, fill: &mut dyn FnMut(&mut [u8])) -> bool {
        if !self.can_transmit() {
            return false;
        }
        let Some(index) = self.tx_slots.iter().position(|s| *s == Slot::Free) else {
            return false;
        };
        let len = len.min(DEFAULT_MTU);
        let total = self.header + len;
        let buffer = &mut self.tx[index];
        // The default header is all zeros: no checksum offload, no segmentation.
        buffer[..self.header].fill(0);
        fill(&mut buffer[self.header..total]);
        // SAFETY: the slot's buffer stays in the boxed slice and is not touched until the
        // device hands the token back (`reclaim`).
        match unsafe { self.raw.transmit_begin(&self.tx[index][..total]) } {
            Ok(token) => {
                self.tx_slots[index] = Slot::Lent { token, len: total };
                self.stats.tx_frames += 1;
            }
            Err(_) => self.stats.tx_dropped += 1,
        }
        true
    }

    fn stats(&self) -> NetStats {
        self.stats
    }
}

impl<T: Transport> InterruptSource for VirtioNet<T> {
    fn ack_interrupt(&mut self) -> bool {
        !self.raw.ack_interrupt().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use alloc::vec::Vec;

    use hal::irq::InterruptSource;
    use hal::mock::{NetHarness, net_contract};
    use hal::net::{DEFAULT_MTU, NetDevice};
    use virtio_drivers::transport::DeviceStatus;

    use super::{QUEUE_SIZE, VirtioNet};
    use crate::virtio::Error;
    use crate::virtio::fake_net::FakeNetTransport;

    const MAC: [u8; 6] = [0x52, 0x54, 0, 0x12, 0x34, 0x57];
    /// MAC, STATUS, indirect descriptors, event index, version 1: what the driver takes.
    const MODERN: u64 = 1 << 5 | 1 << 16 | 1 << 28 | 1 << 29 | 1 << 32;
    /// A legacy device: no version 1, no indirect descriptors; offers merged buffers,
    /// which the driver leaves.
    const LEGACY: u64 = 1 << 5 | 1 << 15;

    struct Harness {
        device: VirtioNet<FakeNetTransport>,
        fake: FakeNetTransport,
    }

    impl Harness {
        fn new(features: u64, legacy: bool) -> Self {
            let fake = FakeNetTransport::new(MAC, features, legacy);
            let device = VirtioNet::new(fake.clone()).expect("the device starts");
            Self { device, fake }
        }
    }

    impl NetHarness for Harness {
        type Device = VirtioNet<FakeNetTransport>;

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
    fn virtio_net_keeps_the_contract() {
        net_contract(|| Harness::new(MODERN, false));
        net_contract(|| Harness::new(LEGACY, true));
        net_contract(|| Harness::new(MODERN & !(1 << 28), true));
    }

    #[test]
    fn start_up_posts_every_receive_buffer() {
        let Harness { device, fake } = Harness::new(MODERN, false);
        assert_eq!(device.mac_address(), MAC);
        let posted = (0..).take_while(|_| fake.deliver(&[1; 60])).count();
        assert_eq!(posted, QUEUE_SIZE);
    }

    #[test]
    fn a_device_with_small_queues_is_refused() {
        let fake = FakeNetTransport::new(MAC, MODERN, false);
        fake.set_max_queue_size(16);
        let error = VirtioNet::new(fake.clone()).expect_err("refused");
        assert_eq!(error, Error::QueueTooSmall(16));
        assert_eq!(fake.status_now(), DeviceStatus::empty(), "left alone");
    }

    #[test]
    fn used_lengths_the_buffer_cannot_hold_are_dropped_and_counted() {
        let Harness { mut device, fake } = Harness::new(MODERN, false);
        let mut buf = [0; DEFAULT_MTU];
        for len in [0, 5, 11, 12 + 13, 12 + 1515, 4096, u32::MAX] {
            assert!(fake.used(&[0xee; 64], len));
        }
        assert!(fake.deliver(&[7; 64]));
        assert_eq!(device.receive(&mut buf), Some(64));
        assert_eq!(buf[..64], [7; 64]);
        assert_eq!(device.receive(&mut buf), None);
        assert_eq!(device.stats().rx_dropped, 7);
        assert!(device.ack_interrupt());
        let posted = (0..).take_while(|_| fake.deliver(&[1; 60])).count();
        assert_eq!(posted, QUEUE_SIZE, "every buffer went back to the device");
    }
}
