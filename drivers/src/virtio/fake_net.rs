//! A virtio-net device played on the host, for tests: [`FakeNetTransport`] implements the
//! crate's [`Transport`] with a receive and a transmit queue, and the test is the wire:
//! [`FakeNetTransport::deliver`] fills the next receive buffer the driver posted,
//! [`FakeNetTransport::used`] hands one back with any length (garbage too), and
//! [`FakeNetTransport::send`] takes what the driver queued to send.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Mutex, MutexGuard};

use virtio_drivers::transport::{DeviceStatus, DeviceType, InterruptStatus, Transport};
use virtio_drivers::{Error, PhysAddr};
use zerocopy::{FromBytes, Immutable, IntoBytes};

use super::fake::{Queue, bytes, chain, read_config};

const RECEIVE: usize = 0;
const TRANSMIT: usize = 1;
/// The version-1 feature bit: with it the header is 12 bytes, without it 10.
const VERSION_1: u64 = 1 << 32;

#[derive(Debug)]
struct State {
    features: u64,
    legacy: bool,
    max_queue_size: u32,
    /// MAC, status (link up).
    config: [u8; 8],
    status: DeviceStatus,
    driver_features: u64,
    queues: [Option<Queue>; 2],
    next_avail: [u16; 2],
    next_used: [u16; 2],
    interrupt: bool,
}

/// A virtio-net device; clones share it (one for the driver, one for the test).
#[derive(Clone, Debug)]
pub(crate) struct FakeNetTransport(Arc<Mutex<State>>);

impl FakeNetTransport {
    /// A device with address `mac`, offering `features`, with 256-entry queues.
    pub(crate) fn new(mac: [u8; 6], features: u64, legacy: bool) -> Self {
        let mut config = [0; 8];
        config[..6].copy_from_slice(&mac);
        config[6] = 1;
        Self(Arc::new(Mutex::new(State {
            features,
            legacy,
            max_queue_size: 256,
            config,
            status: DeviceStatus::empty(),
            driver_features: 0,
            queues: [None; 2],
            next_avail: [0; 2],
            next_used: [0; 2],
            interrupt: false,
        })))
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.0.lock().expect("a test thread panicked")
    }

    pub(crate) fn status_now(&self) -> DeviceStatus {
        self.state().status
    }

    pub(crate) fn set_max_queue_size(&self, size: u32) {
        self.state().max_queue_size = size;
    }

    /// The header the driver and device put before each frame.
    fn header_len(&self) -> usize {
        if self.state().driver_features & VERSION_1 != 0 {
            12
        } else {
            10
        }
    }

    /// Brings `frame` in: writes a header and the frame into the next receive buffer (as
    /// much as fits) and hands it back claiming the whole length. `false` when the driver
    /// posted no buffer.
    pub(crate) fn deliver(&self, frame: &[u8]) -> bool {
        let header = self.header_len();
        let mut bytes = alloc::vec![0; header];
        bytes.extend_from_slice(frame);
        let len = bytes.len() as u32;
        self.used(&bytes, len)
    }

    /// Writes `content` (as much as fits) into the next receive buffer and hands it back
    /// with used length `len`, whatever that says. `false` when no buffer is posted.
    pub(crate) fn used(&self, content: &[u8], len: u32) -> bool {
        let mut state = self.state();
        let Some(head) = state.take_avail(RECEIVE) else {
            return false;
        };
        let Some(queue) = state.queues[RECEIVE] else {
            return false;
        };
        let mut at = 0;
        for segment in chain(queue, head) {
            assert!(segment.write, "a receive buffer the device may not write");
            // SAFETY: the driver lent this buffer to the device until it is used.
            let buffer = unsafe { bytes(segment) };
            let n = buffer.len().min(content.len().saturating_sub(at));
            buffer[..n].copy_from_slice(&content[at..at + n]);
            at += n;
        }
        state.push_used(RECEIVE, head, len);
        true
    }

    /// Takes every frame the driver queued, without its header, and hands the buffers back.
    pub(crate) fn send(&self) -> Vec<Vec<u8>> {
        let header = self.header_len();
        let mut state = self.state();
        let Some(queue) = state.queues[TRANSMIT] else {
            return Vec::new();
        };
        let mut frames = Vec::new();
        while let Some(head) = state.take_avail(TRANSMIT) {
            let mut frame = Vec::new();
            for segment in chain(queue, head) {
                assert!(!segment.write, "a transmit buffer the device would write");
                // SAFETY: the driver lent this buffer to the device until it is used.
                frame.extend_from_slice(unsafe { bytes(segment) });
            }
            assert!(frame.len() >= header, "a frame without its header");
            frames.push(frame.split_off(header));
            state.push_used(TRANSMIT, head, 0);
        }
        frames
    }
}

impl State {
    /// The next chain the driver made available on `queue`.
    fn take_avail(&mut self, index: usize) -> Option<u16> {
        let queue = self.queues[index]?;
        // SAFETY: the avail ring's index, which the driver stores atomically.
        let avail_idx = unsafe { &*((queue.avail + 2) as *const AtomicU16) };
        if self.next_avail[index] == avail_idx.load(Ordering::Acquire) {
            return None;
        }
        let slot = u64::from(self.next_avail[index] % queue.size);
        self.next_avail[index] = self.next_avail[index].wrapping_add(1);
        // SAFETY: inside the avail ring, written before the index.
        Some(unsafe { ((queue.avail + 4 + 2 * slot) as *const u16).read_volatile() })
    }

    fn push_used(&mut self, index: usize, head: u16, len: u32) {
        let Some(queue) = self.queues[index] else {
            return;
        };
        let slot = u64::from(self.next_used[index] % queue.size);
        let element = (queue.used + 4 + 8 * slot) as *mut u32;
        // SAFETY: inside the used ring, which only the device writes.
        unsafe {
            element.write_volatile(u32::from(head));
            element.add(1).write_volatile(len);
        }
        self.next_used[index] = self.next_used[index].wrapping_add(1);
        // SAFETY: the used ring's index, which the driver loads atomically.
        let used_idx = unsafe { &*((queue.used + 2) as *const AtomicU16) };
        used_idx.store(self.next_used[index], Ordering::Release);
        self.interrupt = true;
    }
}

impl Transport for FakeNetTransport {
    fn device_type(&self) -> DeviceType {
        DeviceType::Network
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
        assert!(queue < 2, "virtio-net without a control queue has two");
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
        let mut state = self.state();
        assert!(size <= state.max_queue_size, "queue larger than offered");
        state.queues[usize::from(queue)] = Some(Queue {
            size: size as u16,
            descriptors,
            avail: driver_area,
            used: device_area,
        });
    }

    fn queue_unset(&mut self, queue: u16) {
        self.state().queues[usize::from(queue)] = None;
    }

    fn queue_used(&mut self, queue: u16) -> bool {
        self.state().queues[usize::from(queue)].is_some()
    }

    fn ack_interrupt(&mut self) -> InterruptStatus {
        if core::mem::take(&mut self.state().interrupt) {
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
        _offset: usize,
        _value: T,
    ) -> Result<(), Error> {
        Err(Error::ConfigSpaceTooSmall)
    }
}
