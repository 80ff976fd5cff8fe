//! A virtio-blk device played on the host, for tests: [`FakeTransport`] implements the
//! crate's [`Transport`] over a byte image, and the test decides when the device works
//! ([`FakeTransport::progress`]) and in which order it finishes requests.
//!
//! The device reads the rings and descriptors at the addresses the driver gave it, as real
//! hardware does by DMA (the driver's `VirtioHal` maps physical = virtual, on the host too).

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Mutex, MutexGuard};

use virtio_drivers::transport::{DeviceStatus, DeviceType, InterruptStatus, Transport};
use virtio_drivers::{Error, PhysAddr};
use zerocopy::{FromBytes, Immutable, IntoBytes};

const SECTOR: usize = 512;
const DESC_NEXT: u16 = 1;
const DESC_WRITE: u16 = 2;
const DESC_INDIRECT: u16 = 4;
const STATUS_OK: u8 = 0;
const STATUS_IOERR: u8 = 1;
const STATUS_UNSUPPORTED: u8 = 2;

/// A descriptor as it sits in the table (virtio 1.2 §2.7.5).
#[derive(Clone, Copy, Debug)]
#[repr(C)]
struct Descriptor {
    addr: u64,
    len: u32,
    flags: u16,
    next: u16,
}

/// One piece of a request: where, how long, whether the device writes it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Segment {
    pub(crate) addr: u64,
    pub(crate) len: usize,
    pub(crate) write: bool,
}

/// Where the driver put the queue.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Queue {
    pub(crate) size: u16,
    pub(crate) descriptors: PhysAddr,
    pub(crate) avail: PhysAddr,
    pub(crate) used: PhysAddr,
}

/// What the device and the test share.
#[derive(Debug)]
struct State {
    device_type: DeviceType,
    features: u64,
    legacy: bool,
    max_queue_size: u32,
    config: [u8; 24],
    status: DeviceStatus,
    driver_features: u64,
    queue: Option<Queue>,
    /// The next avail ring index the device takes.
    next_avail: u16,
    /// The next used ring index the device fills.
    next_used: u16,
    image: Vec<u8>,
    interrupt: bool,
    reverse: bool,
    answer: Option<u8>,
    flushes: usize,
    notifications: usize,
}

/// A virtio-blk device on an image; clones share the device (one for the driver, one
/// for the test).
#[derive(Clone, Debug)]
pub(crate) struct FakeTransport(Arc<Mutex<State>>);

impl FakeTransport {
    /// A block device holding `image` (whole sectors), offering `features`, with a
    /// 256-entry queue in the modern layout and a 512-byte block size.
    pub(crate) fn new(image: Vec<u8>, features: u64) -> Self {
        let mut config = [0; 24];
        config[..8].copy_from_slice(&((image.len() / SECTOR) as u64).to_le_bytes());
        config[20..].copy_from_slice(&(SECTOR as u32).to_le_bytes());
        Self(Arc::new(Mutex::new(State {
            device_type: DeviceType::Block,
            features,
            legacy: false,
            max_queue_size: 256,
            config,
            status: DeviceStatus::empty(),
            driver_features: 0,
            queue: None,
            next_avail: 0,
            next_used: 0,
            image,
            interrupt: false,
            reverse: false,
            answer: None,
            flushes: 0,
            notifications: 0,
        })))
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.0.lock().expect("a test thread panicked")
    }

    pub(crate) fn set_device_type(&self, device_type: DeviceType) {
        self.state().device_type = device_type;
    }

    /// Lays the queue out as a legacy (virtio 0.9) device wants it.
    pub(crate) fn set_legacy(&self, legacy: bool) {
        self.state().legacy = legacy;
    }

    pub(crate) fn set_max_queue_size(&self, size: u32) {
        self.state().max_queue_size = size;
    }

    pub(crate) fn set_block_size(&self, size: u32) {
        self.state().config[20..].copy_from_slice(&size.to_le_bytes());
    }

    /// Finishes the requests of each `progress` last-come first.
    pub(crate) fn set_reverse(&self, reverse: bool) {
        self.state().reverse = reverse;
    }

    /// Answers every request with `status` without doing it (`None`: do the work).
    pub(crate) fn set_answer(&self, status: Option<u8>) {
        self.state().answer = status;
    }

    pub(crate) fn image(&self) -> Vec<u8> {
        self.state().image.clone()
    }

    pub(crate) fn status(&self) -> DeviceStatus {
        self.state().status
    }

    pub(crate) fn driver_features(&self) -> u64 {
        self.state().driver_features
    }

    pub(crate) fn flushes(&self) -> usize {
        self.state().flushes
    }

    pub(crate) fn notifications(&self) -> usize {
        self.state().notifications
    }

    /// Whether the driver set the queue up and has not taken it down.
    pub(crate) fn queue_is_set(&self) -> bool {
        self.state().queue.is_some()
    }

    /// Does every request the driver made available, pushes them to the used ring and
    /// raises the interrupt; returns how many it finished.
    pub(crate) fn progress(&self) -> usize {
        let mut state = self.state();
        let Some(queue) = state.queue else {
            return 0;
        };
        let mut heads = Vec::new();
        // SAFETY: the avail ring is where the driver said (`queue_set`) and lives as long
        // as the queue; its index is atomic because the driver stores it concurrently.
        let avail_idx = unsafe { &*((queue.avail + 2) as *const AtomicU16) };
        while state.next_avail != avail_idx.load(Ordering::Acquire) {
            let slot = u64::from(state.next_avail % queue.size);
            // SAFETY: inside the avail ring (`slot` < size), written before the index.
            heads.push(unsafe { ((queue.avail + 4 + 2 * slot) as *const u16).read_volatile() });
            state.next_avail = state.next_avail.wrapping_add(1);
        }
        if state.reverse {
            heads.reverse();
        }
        for &head in &heads {
            let segments = chain(queue, head);
            let written = state.execute(&segments);
            let slot = u64::from(state.next_used % queue.size);
            let element = (queue.used + 4 + 8 * slot) as *mut u32;
            // SAFETY: inside the used ring, which only the device writes.
            unsafe {
                element.write_volatile(u32::from(head));
                element.add(1).write_volatile(written);
            }
            state.next_used = state.next_used.wrapping_add(1);
            // SAFETY: the used ring's index, which the driver loads atomically.
            let used_idx = unsafe { &*((queue.used + 2) as *const AtomicU16) };
            used_idx.store(state.next_used, Ordering::Release);
            state.interrupt = true;
        }
        heads.len()
    }
}

/// The descriptors of the chain starting at `head`, following an indirect table.
pub(crate) fn chain(queue: Queue, head: u16) -> Vec<Segment> {
    let read = |table: u64, index: u16| {
        // SAFETY: the driver put a descriptor table at `table` with at least `index + 1`
        // entries, and leaves it alone until the chain is used.
        unsafe {
            (table as *const Descriptor)
                .add(usize::from(index))
                .read_volatile()
        }
    };
    let mut segments = Vec::new();
    let first = read(queue.descriptors, head);
    let (table, mut index, count) = if first.flags & DESC_INDIRECT != 0 {
        let count = first.len as usize / size_of::<Descriptor>();
        (first.addr, 0, count)
    } else {
        (queue.descriptors, head, usize::from(queue.size))
    };
    for _ in 0..count {
        let descriptor = read(table, index);
        segments.push(Segment {
            addr: descriptor.addr,
            len: descriptor.len as usize,
            write: descriptor.flags & DESC_WRITE != 0,
        });
        if descriptor.flags & DESC_NEXT == 0 {
            break;
        }
        index = descriptor.next;
    }
    segments
}

/// The bytes of a segment.
///
/// # Safety
/// The driver lent the segment to the device and nothing else uses it meanwhile.
pub(crate) unsafe fn bytes<'a>(segment: Segment) -> &'a mut [u8] {
    // SAFETY: as the caller promises.
    unsafe { core::slice::from_raw_parts_mut(segment.addr as *mut u8, segment.len) }
}

/// Reads a `T` at `offset` of a fake device's configuration space.
pub(crate) fn read_config<T: FromBytes>(config: &[u8], offset: usize) -> Result<T, Error> {
    let bytes = offset
        .checked_add(size_of::<T>())
        .and_then(|end| config.get(offset..end))
        .ok_or(Error::ConfigSpaceTooSmall)?;
    T::read_from_bytes(bytes).map_err(|_| Error::ConfigSpaceTooSmall)
}

impl State {
    /// Does one request (header, data, status) and writes its status; returns how many
    /// bytes the device wrote.
    fn execute(&mut self, segments: &[Segment]) -> u32 {
        let (Some(&header), Some(&status)) = (segments.first(), segments.last()) else {
            panic!("a request without header or status: {segments:?}");
        };
        assert!(
            !header.write && header.len == 16,
            "a header is 16 read-only bytes"
        );
        assert!(
            status.write && status.len == 1,
            "a status is 1 writable byte"
        );
        // SAFETY: the driver lent these segments to the device until the chain is used.
        let header = unsafe { bytes(header) };
        let kind = u32::from_le_bytes(header[..4].try_into().expect("4 bytes"));
        let first = u64::from_le_bytes(header[8..].try_into().expect("8 bytes"));
        let data = &segments[1..segments.len() - 1];
        let (result, written) = match self.answer {
            Some(answer) => (answer, 0),
            None => self.transfer(kind, first, data),
        };
        // SAFETY: as above.
        let status = unsafe { bytes(status) };
        status[0] = result;
        written + 1
    }

    fn transfer(&mut self, kind: u32, first: u64, data: &[Segment]) -> (u8, u32) {
        let len: usize = data.iter().map(|s| s.len).sum();
        let start = first as usize * SECTOR;
        if kind == 4 {
            self.flushes += 1;
            return (STATUS_OK, 0);
        }
        if start
            .checked_add(len)
            .is_none_or(|end| end > self.image.len())
        {
            return (STATUS_IOERR, 0);
        }
        let write = kind == 1;
        let read_only = self.driver_features & (1 << 5) != 0;
        let mut at = start;
        for &segment in data {
            match kind {
                0 if segment.write => {
                    // SAFETY: the driver lent this segment to the device.
                    unsafe { bytes(segment) }.copy_from_slice(&self.image[at..at + segment.len]);
                }
                1 if !segment.write && !read_only => {
                    // SAFETY: as above.
                    let source = unsafe { bytes(segment) };
                    self.image[at..at + segment.len].copy_from_slice(source);
                }
                1 if read_only => return (STATUS_IOERR, 0),
                0 | 1 => panic!("a data segment in the wrong direction: {segment:?}"),
                _ => return (STATUS_UNSUPPORTED, 0),
            }
            at += segment.len;
        }
        (STATUS_OK, if write { 0 } else { len as u32 })
    }
}

impl Transport for FakeTransport {
    fn device_type(&self) -> DeviceType {
        self.state().device_type
    }

    fn read_device_features(&mut self) -> u64 {
        self.state().features
    }

    fn write_driver_features(&mut self, driver_features: u64) {
        let mut state = self.state();
        assert_eq!(
            driver_features & !state.features,
            0,
            "the driver took features the device did not offer"
        );
        state.driver_features = driver_features;
    }

    fn max_queue_size(&mut self, _queue: u16) -> u32 {
        self.state().max_queue_size
    }

    fn notify(&mut self, queue: u16) {
        assert_eq!(queue, 0, "virtio-blk has one queue");
        self.state().notifications += 1;
    }

    fn get_status(&self) -> DeviceStatus {
        self.state().status
    }

    fn set_status(&mut self, status: DeviceStatus) {
        self.state().status = status;
    }

    fn set_guest_page_size(&mut self, _guest_page_size: u32) {}

    fn requires_legacy_layout(&self) -> bool {
        self.state().legacy
    }

    fn queue_set(
        &mut self,
        queue: u16,
        size: u32,
        descriptors: PhysAddr,
        driver_area: PhysAddr,
        device_area: PhysAddr,
    ) {
        assert_eq!(queue, 0, "virtio-blk has one queue");
        let mut state = self.state();
        assert!(size <= state.max_queue_size, "queue larger than offered");
        state.queue = Some(Queue {
            size: size as u16,
            descriptors,
            avail: driver_area,
            used: device_area,
        });
    }

    fn queue_unset(&mut self, _queue: u16) {
        self.state().queue = None;
    }

    fn queue_used(&mut self, _queue: u16) -> bool {
        self.state().queue.is_some()
    }

    fn ack_interrupt(&mut self) -> InterruptStatus {
        let mut state = self.state();
        if core::mem::take(&mut state.interrupt) {
            InterruptStatus::QUEUE_INTERRUPT
        } else {
            InterruptStatus::empty()
        }
    }

    fn read_config_generation(&self) -> u32 {
        0
    }

    fn read_config_space<T: FromBytes + IntoBytes>(&self, offset: usize) -> Result<T, Error> {
        read_config(&self.state().config, offset)
    }

    fn write_config_space<T: IntoBytes + Immutable>(
        &mut self,
        offset: usize,
        value: T,
    ) -> Result<(), Error> {
        let mut state = self.state();
        let end = offset + size_of::<T>();
        let bytes = state
            .config
            .get_mut(offset..end)
            .ok_or(Error::ConfigSpaceTooSmall)?;
        bytes.copy_from_slice(value.as_bytes());
        Ok(())
    }
}
