//! virtio-blk on any virtio transport (MMIO on microvm, PCI on pc), split-phase.
//!
//! Our own request layer on the crate's [`VirtQueue`] rather than its `VirtIOBlk`, whose
//! flush spins and which cannot pop completions out of order. Each request is one slot
//! holding its header and status byte at a stable address; the slot's index is the
//! request's [`Token`]. A request is three descriptors (header, data, status; a flush has
//! no data), or one when the device takes indirect descriptors.
//!
//! A flush to a device without a write cache finishes inside `submit`, with no interrupt
//! (the kernel polls after every submit).

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::ptr::NonNull;

use bitflags::bitflags;
use hal::block::{BlockDevice, Completion, ErrorKind, ErrorType, Request, SECTOR_SIZE, Token};
use hal::device::BlockDriver;
use hal::irq::InterruptSource;
use virtio_drivers::queue::VirtQueue;
use virtio_drivers::transport::mmio::MmioTransport;
use virtio_drivers::transport::pci::PciTransport;
use virtio_drivers::transport::{DeviceStatus, DeviceType, Transport};

use crate::virtio::{Error, VirtioHal};

/// Entries in the request queue, when the device offers them; QEMU offers 256.
const QUEUE_SIZE: usize = 64;
/// Entries in the request queue of a device that offers fewer than [`QUEUE_SIZE`].
const SMALL_QUEUE_SIZE: usize = 16;
/// virtio-blk has one request queue (without the multi-queue feature).
const QUEUE: u16 = 0;
/// Descriptors a read or write takes without indirect descriptors.
const DESCRIPTORS_PER_REQUEST: usize = 3;

/// Request types (virtio 1.2 §5.2.6).
const TYPE_IN: u32 = 0;
const TYPE_OUT: u32 = 1;
const TYPE_FLUSH: u32 = 4;
/// Status bytes the device writes back.
const STATUS_OK: u8 = 0;
const STATUS_UNSUPPORTED: u8 = 2;
/// What the status byte holds until the device writes it.
const STATUS_UNWRITTEN: u8 = 0xff;

/// Config space offsets (virtio 1.2 §5.2.4): capacity in 512-byte sectors, block size.
const CONFIG_CAPACITY: usize = 0;
const CONFIG_BLK_SIZE: usize = 20;

bitflags! {
    /// The features this driver asks for; the device grants a subset.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    struct Features: u64 {
        /// The device refuses writes.
        const RO = 1 << 5;
        /// The device reports its logical block size.
        const BLK_SIZE = 1 << 6;
        /// The device has a write cache and takes flush requests.
        const FLUSH = 1 << 9;
        /// A request may be one descriptor pointing at a table of them.
        const RING_INDIRECT_DESC = 1 << 28;
        /// A virtio 1.0 (non-legacy) device; must be accepted when offered.
        const VERSION_1 = 1 << 32;
    }
}

/// The request queue, as large as the device allows (the crate fixes the size at
/// compile time). Boxed: the queue keeps a shadow of its descriptor table.
#[derive(Debug)]
enum Ring {
    Large(Box<VirtQueue<VirtioHal, QUEUE_SIZE>>),
    Small(Box<VirtQueue<VirtioHal, SMALL_QUEUE_SIZE>>),
}

impl Ring {
    fn new<T: Transport>(transport: &mut T, indirect: bool) -> Result<Self, Error> {
        let max = transport.max_queue_size(QUEUE);
        Ok(if max >= QUEUE_SIZE as u32 {
            Self::Large(Box::new(VirtQueue::new(transport, QUEUE, indirect, false)?))
        } else if max >= SMALL_QUEUE_SIZE as u32 {
            Self::Small(Box::new(VirtQueue::new(transport, QUEUE, indirect, false)?))
        } else {
            return Err(Error::QueueTooSmall(max));
        })
    }

    fn size(&self) -> usize {
        match self {
            Self::Large(_) => QUEUE_SIZE,
            Self::Small(_) => SMALL_QUEUE_SIZE,
        }
    }

    /// # Safety
    /// As [`VirtQueue::add`].
    unsafe fn add<'a, 'b>(
        &mut self,
        inputs: &'a [&'b [u8]],
        outputs: &'a mut [&'b mut [u8]],
    ) -> Result<u16, virtio_drivers::Error> {
        // SAFETY: the caller keeps `VirtQueue::add`'s contract.
        unsafe {
            match self {
                Self::Large(queue) => queue.add(inputs, outputs),
                Self::Small(queue) => queue.add(inputs, outputs),
            }
        }
    }

    /// # Safety
    /// As [`VirtQueue::pop_used`].
    unsafe fn pop_used<'a>(
        &mut self,
        token: u16,
        inputs: &'a [&'a [u8]],
        outputs: &'a mut [&'a mut [u8]],
    ) -> Result<u32, virtio_drivers::Error> {
        // SAFETY: the caller keeps `VirtQueue::pop_used`'s contract.
        unsafe {
            match self {
                Self::Large(queue) => queue.pop_used(token, inputs, outputs),
                Self::Small(queue) => queue.pop_used(token, inputs, outputs),
            }
        }
    }

    fn peek_used(&self) -> Option<u16> {
        match self {
            Self::Large(queue) => queue.peek_used(),
            Self::Small(queue) => queue.peek_used(),
        }
    }

    fn should_notify(&self) -> bool {
        match self {
            Self::Large(queue) => queue.should_notify(),
            Self::Small(queue) => queue.should_notify(),
        }
    }
}

/// What a slot is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Free,
    /// On the queue, with the token `VirtQueue::add` gave it.
    Queued(u16),
    /// Finished without the device (a flush it does not need), waiting for `poll`.
    Finished,
}

/// The data buffer of a request in flight, kept to hand the same buffers to `pop_used`.
#[derive(Clone, Copy, Debug)]
enum Data {
    None,
    /// The device writes it.
    Read(NonNull<[u8]>),
    /// The device reads it.
    Write(NonNull<[u8]>),
}

/// One request in flight: the device reads `header` and writes `status` by address.
#[derive(Debug)]
struct Slot {
    state: State,
    /// Type (u32 LE), reserved (u32), first sector (u64 LE).
    header: [u8; 16],
    status: [u8; 1],
    data: Data,
}

impl Slot {
    const FREE: Self = Self {
        state: State::Free,
        header: [0; 16],
        status: [STATUS_UNWRITTEN],
        data: Data::None,
    };
}

/// A virtio-blk device on transport `T`: see the [module docs](self).
///
/// `T` must be usable from any core: the kernel submits from every core.
#[derive(Debug)]
pub struct VirtioBlk<T: Transport> {
    transport: T,
    queue: Ring,
    /// Boxed so that headers and status bytes keep their address while `self` moves.
    slots: Box<[Slot]>,
    capacity: u64,
    read_only: bool,
    flush: bool,
}

// SAFETY: the driver owns its transport alone; the crate's transports are `Sync` (register
// access from any core is fine) and lack `Send` only because they hold raw register
// pointers. The slots' data pointers are request buffers that `submit`'s caller keeps
// valid until `poll` returns them, on whichever core that is.
unsafe impl<T: Transport + Sync> Send for VirtioBlk<T> {}

// The boards hand the driver on both of the crate's transports to the kernel.
const _: () = {
    const fn is_driver<D: BlockDriver>() {}
    is_driver::<VirtioBlk<MmioTransport<'static>>>();
    is_driver::<VirtioBlk<PciTransport>>();
};

impl<T: Transport> VirtioBlk<T> {
    /// Negotiates features, reads the capacity, sets up the request queue and starts the
    /// device. On an error the device is marked failed and left alone.
    pub fn new(transport: T) -> Result<Self, Error> {
        Self::new_with(transport, || ())
    }

    /// As [`new`](Self::new), calling `before_start` once the request queue is set up and
    /// before the device starts: where a PCI board picks the queue's MSI-X vector.
    pub fn new_with(mut transport: T, before_start: impl FnOnce()) -> Result<Self, Error> {
        let kind = transport.device_type();
        if kind != DeviceType::Block {
            return Err(Error::WrongDevice(kind));
        }
        let features = transport.begin_init(Features::all());
        match Self::set_up(&mut transport, features) {
            Ok((queue, capacity)) => {
                before_start();
                transport.finish_init();
                let indirect = features.contains(Features::RING_INDIRECT_DESC);
                let depth = if indirect {
                    queue.size()
                } else {
                    queue.size() / DESCRIPTORS_PER_REQUEST
                };
                let slots: Vec<Slot> = (0..depth).map(|_| Slot::FREE).collect();
                Ok(Self {
                    transport,
                    queue,
                    slots: slots.into_boxed_slice(),
                    capacity,
                    read_only: features.contains(Features::RO),
                    flush: features.contains(Features::FLUSH),
                })
            }
            Err(error) => {
                transport.set_status(DeviceStatus::FAILED);
                Err(error)
            }
        }
    }

    fn set_up(transport: &mut T, features: Features) -> Result<(Ring, u64), Error> {
        if features.contains(Features::BLK_SIZE) {
            let size: u32 = transport.read_config_space(CONFIG_BLK_SIZE)?;
            if size as usize != SECTOR_SIZE {
                return Err(Error::BlockSize(size));
            }
        }
        // Two 32-bit reads: config space is only 4-byte aligned.
        let capacity = transport.read_consistent(|| {
            let low: u32 = transport.read_config_space(CONFIG_CAPACITY)?;
            let high: u32 = transport.read_config_space(CONFIG_CAPACITY + 4)?;
            Ok(u64::from(high) << 32 | u64::from(low))
        })?;
        let indirect = features.contains(Features::RING_INDIRECT_DESC);
        Ok((Ring::new(transport, indirect)?, capacity))
    }

    /// Puts slot `index`'s request on the queue; `Err` when the queue has no room.
    ///
    /// # Safety
    /// The slot's data buffer stays valid and untouched until `poll` returns its token.
    unsafe fn add(&mut self, index: usize) -> Result<u16, virtio_drivers::Error> {
        let slot = &mut self.slots[index];
        // SAFETY: the header and status live in the boxed slot, which stays put and is not
        // touched until `poll` pops the token; the caller promises the same for the data.
        unsafe {
            match slot.data {
                Data::None => self.queue.add(&[&slot.header], &mut [&mut slot.status]),
                Data::Read(mut buf) => self
                    .queue
                    .add(&[&slot.header], &mut [buf.as_mut(), &mut slot.status]),
                Data::Write(buf) => self
                    .queue
                    .add(&[&slot.header, buf.as_ref()], &mut [&mut slot.status]),
            }
        }
    }

    /// Takes slot `index`'s finished request off the queue.
    ///
    /// # Safety
    /// `head` is the slot's token, and the device has used it.
    unsafe fn pop(&mut self, index: usize, head: u16) -> Result<u32, virtio_drivers::Error> {
        let slot = &mut self.slots[index];
        // SAFETY: the same buffers `add` gave the queue for this token, still valid: the
        // data buffer by `submit`'s contract, header and status in their slot.
        unsafe {
            match slot.data {
                Data::None => self
                    .queue
                    .pop_used(head, &[&slot.header], &mut [&mut slot.status]),
                Data::Read(mut buf) => self.queue.pop_used(
                    head,
                    &[&slot.header],
                    &mut [buf.as_mut(), &mut slot.status],
                ),
                Data::Write(buf) => self.queue.pop_used(
                    head,
                    &[&slot.header, buf.as_ref()],
                    &mut [&mut slot.status],
                ),
            }
        }
    }
}

impl<T: Transport> Drop for VirtioBlk<T> {
    fn drop(&mut self) {
        // The device must stop using the queue's memory before it is freed.
        self.transport.queue_unset(QUEUE);
    }
}

impl<T: Transport> ErrorType for VirtioBlk<T> {
    type Error = ErrorKind;
}

fn header(kind: u32, first: u64) -> [u8; 16] {
    let mut header = [0; 16];
    header[..4].copy_from_slice(&kind.to_le_bytes());
    header[8..].copy_from_slice(&first.to_le_bytes());
    header
}

fn status_result(status: u8) -> Result<(), ErrorKind> {
    match status {
        STATUS_OK => Ok(()),
        STATUS_UNSUPPORTED => Err(ErrorKind::Other),
        _ => Err(ErrorKind::Device),
    }
}

impl<T: Transport> BlockDevice for VirtioBlk<T> {
    fn sector_count(&self) -> u64 {
        self.capacity
    }

    fn queue_depth(&self) -> usize {
        self.slots.len()
    }

    unsafe fn submit(&mut self, request: Request<'_>) -> nb::Result<Token, ErrorKind> {
        request.check(self.capacity)?;
        if self.read_only && matches!(request, Request::Write { .. }) {
            return Err(nb::Error::Other(ErrorKind::ReadOnly));
        }
        let index = self
            .slots
            .iter()
            .position(|slot| slot.state == State::Free)
            .ok_or(nb::Error::WouldBlock)?;
        let token = Token(index as u16);
        let slot = &mut self.slots[index];
        let (kind, first, data) = match request {
            Request::Read { first, buf } => (TYPE_IN, first, Data::Read(NonNull::from(buf))),
            Request::Write { first, buf } => (TYPE_OUT, first, Data::Write(NonNull::from(buf))),
            Request::Flush if !self.flush => {
                // No write cache: every finished write is durable already.
                slot.state = State::Finished;
                return Ok(token);
            }
            Request::Flush => (TYPE_FLUSH, 0, Data::None),
        };
        slot.header = header(kind, first);
        slot.status = [STATUS_UNWRITTEN];
        slot.data = data;
        // SAFETY: `submit`'s caller keeps the buffer valid and untouched until `poll`
        // returns the token.
        match unsafe { self.add(index) } {
            Ok(head) => self.slots[index].state = State::Queued(head),
            Err(virtio_drivers::Error::QueueFull) => {
                self.slots[index].data = Data::None;
                return Err(nb::Error::WouldBlock);
            }
            Err(_) => {
                self.slots[index].data = Data::None;
                return Err(nb::Error::Other(ErrorKind::Other));
            }
        }
        if self.queue.should_notify() {
            self.transport.notify(QUEUE);
        }
        Ok(token)
    }

    fn poll(&mut self) -> Option<Completion<ErrorKind>> {
        let finished = |slot: &Slot| slot.state == State::Finished;
        if let Some(index) = self.slots.iter().position(finished) {
            self.slots[index].state = State::Free;
            return Some(Completion {
                token: Token(index as u16),
                result: Ok(()),
            });
        }
        let head = self.queue.peek_used()?;
        // A token we never gave out is the device's mistake; it stays in the ring.
        let index = self
            .slots
            .iter()
            .position(|slot| slot.state == State::Queued(head))?;
        // SAFETY: `head` is this slot's token and the device put it in the used ring.
        let popped = unsafe { self.pop(index, head) };
        let slot = &mut self.slots[index];
        slot.state = State::Free;
        slot.data = Data::None;
        let result = match popped {
            Ok(_) => status_result(slot.status[0]),
            Err(_) => Err(ErrorKind::Other),
        };
        Some(Completion {
            token: Token(index as u16),
            result,
        })
    }
}

impl<T: Transport> InterruptSource for VirtioBlk<T> {
    fn ack_interrupt(&mut self) -> bool {
        !self.transport.ack_interrupt().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use alloc::vec;
    use alloc::vec::Vec;

    use hal::block::{BlockDevice, ErrorKind, Request, SECTOR_SIZE, Token};
    use hal::irq::InterruptSource;
    use hal::mock::{BlockHarness, block_contract};
    use virtio_drivers::transport::{DeviceStatus, DeviceType};

    use super::{Features, QUEUE_SIZE, SMALL_QUEUE_SIZE, VirtioBlk};
    use crate::virtio::Error;
    use crate::virtio::fake::FakeTransport;

    /// What QEMU's virtio-blk offers, as far as the driver cares.
    const QEMU: Features = Features::BLK_SIZE
        .union(Features::FLUSH)
        .union(Features::RING_INDIRECT_DESC)
        .union(Features::VERSION_1);
    /// Offered by QEMU, never taken: event index and multi-queue.
    const UNWANTED: u64 = 1 << 29 | 1 << 12;

    fn image(sectors: usize) -> Vec<u8> {
        (0..sectors * SECTOR_SIZE)
            .map(|i| (i / SECTOR_SIZE * 13 + i * 3) as u8)
            .collect()
    }

    fn start(image: Vec<u8>, features: Features) -> (VirtioBlk<FakeTransport>, FakeTransport) {
        let fake = FakeTransport::new(image, features.bits());
        let device = VirtioBlk::new(fake.clone()).expect("the device starts");
        (device, fake)
    }

    struct Harness {
        device: VirtioBlk<FakeTransport>,
        fake: FakeTransport,
        features: Features,
        legacy: bool,
        max_queue_size: u32,
    }

    impl Harness {
        fn new(image: &[u8], features: Features, legacy: bool, max_queue_size: u32) -> Self {
            let fake = FakeTransport::new(image.to_vec(), features.bits());
            fake.set_legacy(legacy);
            fake.set_max_queue_size(max_queue_size);
            let device = VirtioBlk::new(fake.clone()).expect("the device starts");
            Self {
                device,
                fake,
                features,
                legacy,
                max_queue_size,
            }
        }
    }

    impl BlockHarness for Harness {
        type Device = VirtioBlk<FakeTransport>;

        fn device(&mut self) -> &mut Self::Device {
            &mut self.device
        }

        fn progress(&mut self) {
            self.fake.progress();
        }

        fn interrupts(&self) -> bool {
            true
        }

        fn image(&self) -> Vec<u8> {
            self.fake.image()
        }

        fn set_read_only(&mut self) {
            // Read-only is a feature the device offers when it starts: start a new one.
            let features = self.features | Features::RO;
            *self = Self::new(
                &self.fake.image(),
                features,
                self.legacy,
                self.max_queue_size,
            );
        }
    }

    #[test]
    fn virtio_blk_keeps_the_contract() {
        let setups = [
            (QEMU, false, 256),
            (QEMU, true, 256),
            (QEMU - Features::RING_INDIRECT_DESC, false, 256),
            (QEMU - Features::FLUSH - Features::VERSION_1, true, 256),
            (QEMU, false, 16),
            (QEMU - Features::RING_INDIRECT_DESC, true, 32),
        ];
        for (features, legacy, max_queue_size) in setups {
            block_contract(|image| Harness::new(image, features, legacy, max_queue_size));
        }
    }

    #[test]
    fn start_up_negotiates_what_the_driver_needs() {
        let fake = FakeTransport::new(image(8), QEMU.bits() | Features::RO.bits() | UNWANTED);
        let device = VirtioBlk::new(fake.clone()).expect("the device starts");
        assert_eq!(
            fake.driver_features(),
            (QEMU | Features::RO).bits(),
            "every wanted feature, nothing else"
        );
        assert!(fake.status().contains(DeviceStatus::DRIVER_OK));
        assert_eq!(device.sector_count(), 8);
        assert_eq!(
            device.queue_depth(),
            QUEUE_SIZE,
            "one descriptor per request"
        );
        let (plain, _) = start(image(8), QEMU - Features::RING_INDIRECT_DESC);
        assert_eq!(
            plain.queue_depth(),
            QUEUE_SIZE / 3,
            "three descriptors per request"
        );
        for (features, depth) in [
            (QEMU, SMALL_QUEUE_SIZE),
            (QEMU - Features::RING_INDIRECT_DESC, SMALL_QUEUE_SIZE / 3),
        ] {
            let fake = FakeTransport::new(image(8), features.bits());
            fake.set_max_queue_size(SMALL_QUEUE_SIZE as u32 * 2 - 1);
            let small = VirtioBlk::new(fake).expect("a small queue is enough");
            assert_eq!(small.queue_depth(), depth, "{features:?}");
        }
    }

    /// Makes a fake device into one the driver must refuse.
    type Spoil = fn(&FakeTransport);

    #[test]
    fn devices_the_driver_cannot_drive_are_refused() {
        let cases: [(Spoil, Error); 3] = [
            (
                |fake| fake.set_device_type(DeviceType::Network),
                Error::WrongDevice(DeviceType::Network),
            ),
            (|fake| fake.set_block_size(4096), Error::BlockSize(4096)),
            (|fake| fake.set_max_queue_size(8), Error::QueueTooSmall(8)),
        ];
        for (spoil, expected) in cases {
            let fake = FakeTransport::new(image(8), QEMU.bits());
            spoil(&fake);
            let error = VirtioBlk::new(fake.clone()).expect_err("refused");
            assert_eq!(error, expected);
            assert!(!fake.queue_is_set(), "{expected:?}: no queue left behind");
            if expected != Error::WrongDevice(DeviceType::Network) {
                assert_eq!(fake.status(), DeviceStatus::FAILED, "{expected:?}");
            }
        }
    }

    #[test]
    fn completions_come_back_in_any_order() {
        let (mut device, fake) = start(image(8), QEMU);
        fake.set_reverse(true);
        let mut bufs = vec![vec![0u8; SECTOR_SIZE]; 3];
        let mut tokens = Vec::new();
        for (i, buf) in bufs.iter_mut().enumerate() {
            let read = Request::Read {
                first: i as u64 * 2,
                buf,
            };
            // SAFETY: `bufs` lives until every token came back below.
            tokens.push(unsafe { device.submit(read) }.expect("room"));
        }
        assert_eq!(fake.progress(), 3);
        let order: Vec<Token> = core::iter::from_fn(|| device.poll())
            .map(|c| {
                assert_eq!(c.result, Ok(()));
                c.token
            })
            .collect();
        tokens.reverse();
        assert_eq!(order, tokens, "the device's order");
        for (i, buf) in bufs.iter().enumerate() {
            let at = i * 2 * SECTOR_SIZE;
            assert_eq!(buf[..], image(8)[at..at + SECTOR_SIZE], "read {i}");
        }
    }

    #[test]
    fn a_full_queue_would_block_and_keeps_what_it_has() {
        let (mut device, fake) = start(image(4), QEMU - Features::RING_INDIRECT_DESC);
        let depth = device.queue_depth();
        let mut bufs = vec![vec![0u8; SECTOR_SIZE]; depth + 1];
        let (last, queued) = bufs.split_last_mut().expect("depth + 1 buffers");
        for buf in queued.iter_mut() {
            // SAFETY: `bufs` lives until every token came back below.
            unsafe { device.submit(Request::Read { first: 1, buf }) }.expect("room");
        }
        let extra = Request::Read {
            first: 2,
            buf: last,
        };
        // SAFETY: refused, so the device keeps no address.
        let refused = unsafe { device.submit(extra) };
        assert_eq!(refused, Err(nb::Error::WouldBlock));
        assert_eq!(
            fake.progress(),
            depth,
            "the refused request never reached the device"
        );
        assert_eq!(core::iter::from_fn(|| device.poll()).count(), depth);
        assert!(
            queued
                .iter()
                .all(|b| b[..] == image(4)[SECTOR_SIZE..2 * SECTOR_SIZE])
        );
    }

    #[test]
    fn device_errors_come_back_in_the_completion() {
        for (status, expected) in [
            (1, ErrorKind::Device),
            (2, ErrorKind::Other),
            (9, ErrorKind::Device),
        ] {
            let (mut device, fake) = start(image(4), QEMU);
            fake.set_answer(Some(status));
            let mut buf = [0u8; SECTOR_SIZE];
            // SAFETY: `buf` lives until the token came back below.
            let token = unsafe {
                device.submit(Request::Read {
                    first: 0,
                    buf: &mut buf,
                })
            }
            .expect("room");
            assert!(
                device.poll().is_none(),
                "nothing finished before the device ran"
            );
            fake.progress();
            assert!(device.ack_interrupt());
            let done = device.poll().expect("finished");
            assert_eq!(
                (done.token, done.result),
                (token, Err(expected)),
                "status {status}"
            );
        }
    }

    #[test]
    fn read_only_devices_refuse_writes_before_the_device_sees_them() {
        let (mut device, fake) = start(image(4), QEMU | Features::RO);
        let data = [1u8; SECTOR_SIZE];
        // SAFETY: refused, so the device keeps no address.
        let refused = unsafe {
            device.submit(Request::Write {
                first: 0,
                buf: &data,
            })
        };
        assert_eq!(refused, Err(nb::Error::Other(ErrorKind::ReadOnly)));
        assert_eq!(fake.notifications(), 0);
        assert_eq!(fake.progress(), 0);
        assert_eq!(fake.image(), image(4));
    }

    #[test]
    fn flush_goes_to_a_device_with_a_write_cache() {
        let (mut device, fake) = start(image(4), QEMU);
        // SAFETY: a flush borrows nothing.
        let token = unsafe { device.submit(Request::Flush) }.expect("room");
        assert_eq!(fake.notifications(), 1, "the device was told");
        assert!(
            device.poll().is_none(),
            "not durable before the device says so"
        );
        fake.progress();
        assert_eq!(fake.flushes(), 1);
        let done = device.poll().expect("finished");
        assert_eq!((done.token, done.result), (token, Ok(())));
    }

    #[test]
    fn flush_without_a_write_cache_finishes_at_once() {
        let (mut device, fake) = start(image(4), QEMU - Features::FLUSH);
        // SAFETY: a flush borrows nothing.
        let token = unsafe { device.submit(Request::Flush) }.expect("room");
        let done = device.poll().expect("finished without the device");
        assert_eq!((done.token, done.result), (token, Ok(())));
        assert_eq!(fake.progress(), 0, "the device saw nothing");
        assert_eq!(fake.flushes(), 0);
        assert!(device.poll().is_none());
    }

    #[test]
    fn dropping_the_driver_takes_the_queue_down() {
        let (device, fake) = start(image(4), QEMU);
        assert!(fake.queue_is_set());
        drop(device);
        assert!(!fake.queue_is_set());
    }
}
