//! The devices of a microvm: virtio-mmio slots, found when an application first asks for
//! a device.
//!
//! With ACPI off, QEMU names its devices in `virtio_mmio.device=` words at the end of the
//! command line; the boot path cut them off ([`keep`]) and they are read here. With ACPI
//! on there are no words: the slots are probed at their fixed places, with ACPI's GSI
//! numbering: GSI 16 + slot, or, when the MADT lists a second I/O APIC, 24 slots on its
//! pins. Each slot holding a virtio-blk device becomes a block device, each holding a
//! virtio-net device a network device, on the line of its GSI, level-triggered and active high (QEMU holds the line while the
//! device's interrupt status is not zero).

extern crate alloc;

use alloc::boxed::Box;
use alloc::format;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use drivers::block::virtio::VirtioBlk;
use drivers::bus::virtio_mmio::{self, SLOTS, SLOTS_WITH_SECOND_IOAPIC, Slot};
use drivers::net::virtio::VirtioNet;
use drivers::platform::firmware::{acpi, mptable};
use drivers::platform::irq::ioapic::Signal;
use drivers::platform::irq::lines::{self, Routing};
use hal::device::{DeviceSink, Discover};
use hal::irq::Line;
use virtio_drivers::transport::mmio::{MmioError, MmioTransport, VirtIOHeader};
use virtio_drivers::transport::{DeviceType, Transport};

/// Room for the device words: eight of QEMU's take about 300 bytes.
const MAX_WORDS: usize = 512;

/// The device words the boot path cut off the command line, and their length.
static mut WORDS: [u8; MAX_WORDS] = [0; MAX_WORDS];
static WORDS_LEN: AtomicUsize = AtomicUsize::new(0);
/// The RSDP from the start info, 0 with ACPI off.
static RSDP: AtomicU64 = AtomicU64::new(0);

/// Keeps the device words (cut at [`MAX_WORDS`] bytes) and the RSDP for discovery.
///
/// # Safety
/// Runs once, on the boot core, before any other core and before discovery.
// Only the boot path calls it; on the host, nothing.
#[cfg_attr(not(target_os = "none"), allow(dead_code))]
pub(crate) unsafe fn keep(words: &[u8], rsdp: u64) {
    let len = words.len().min(MAX_WORDS);
    #[allow(clippy::deref_addrof)]
    // `&mut *(&raw mut S)` is how edition 2024 borrows a `static mut`.
    // SAFETY: the caller's promise: nothing else reads or writes WORDS yet.
    let kept = unsafe { &mut *(&raw mut WORDS) };
    kept[..len].copy_from_slice(&words[..len]);
    WORDS_LEN.store(len, Ordering::Release);
    RSDP.store(rsdp, Ordering::Relaxed);
}

fn words() -> &'static [u8] {
    let len = WORDS_LEN.load(Ordering::Acquire);
    #[allow(clippy::deref_addrof)]
    // `&*(&raw const S)` is how edition 2024 borrows a `static mut`.
    // SAFETY: written once by `keep` before discovery, only read from then on.
    let kept = unsafe { &*(&raw const WORDS) };
    &kept[..len]
}

/// A microvm's devices (zero-sized: what it needs is in this module's statics).
#[derive(Debug)]
pub struct MicrovmDevices(());

impl MicrovmDevices {
    /// The devices [`keep`] recorded.
    // Only the boot path calls it; on the host, nothing.
    #[cfg_attr(not(target_os = "none"), allow(dead_code))]
    pub(crate) const fn new() -> Self {
        Self(())
    }
}

impl Discover for MicrovmDevices {
    fn discover(self, sink: &mut dyn DeviceSink) {
        let rsdp = RSDP.load(Ordering::Relaxed);
        // SAFETY: the first 4 GiB are identity-mapped; the firmware's tables are in them.
        let routing = unsafe {
            if rsdp == 0 {
                mptable::scan_routing()
            } else {
                acpi::routing(Some(rsdp))
            }
        };
        let routing = routing.unwrap_or(Routing::standard());
        lines::set_ioapics(&routing);
        let words = words();
        if words.is_empty() {
            let (slots, first_gsi) = match routing.ioapics().nth(1) {
                Some(second) => (SLOTS_WITH_SECOND_IOAPIC, second.gsi_base),
                None => (SLOTS, virtio_mmio::ACPI_FIRST_GSI),
            };
            // QEMU fills the slots from the last one down: the first device is in the last.
            (0..slots)
                .rev()
                .for_each(|i| start(virtio_mmio::probed_slot(i, first_gsi), sink));
        }
        for slot in virtio_mmio::parse_devices(words) {
            match slot {
                Ok(slot) => start(slot, sink),
                Err(bad) => log::warn!("virtio-mmio: {bad}"),
            }
        }
    }
}

/// Starts the device in `slot`, if there is one the board drives.
fn start(slot: Slot, sink: &mut dyn DeviceSink) {
    let Some(header) = NonNull::new(slot.address as *mut VirtIOHeader) else {
        return;
    };
    // SAFETY: microvm's virtio-mmio slots are register windows of `size` bytes below 4 GiB
    // (identity-mapped), used by nothing else; an empty slot only answers device ID 0.
    let transport = match unsafe { MmioTransport::new(header, slot.size) } {
        Ok(transport) => transport,
        Err(MmioError::InvalidDeviceID(_)) => return,
        Err(e) => {
            log::warn!("virtio-mmio {:#x}: {e}; left out", slot.address);
            return;
        }
    };
    let kind = transport.device_type();
    if !matches!(kind, DeviceType::Block | DeviceType::Network) {
        log::debug!("virtio-mmio {:#x}: {kind:?}, no driver", slot.address);
        return;
    }
    match lines::claim_gsi(slot.gsi, Signal::LEVEL_HIGH) {
        Ok(line) if kind == DeviceType::Network => net(slot.address, transport, line, sink),
        Ok(line) => block(slot.address, transport, line, sink),
        Err(e) => log::warn!("virtio-mmio {:#x}: {e}; left out", slot.address),
    }
}

/// Starts the virtio-net device behind `transport` and hands it to `sink`.
fn net(address: usize, transport: MmioTransport<'static>, line: Line, sink: &mut dyn DeviceSink) {
    match VirtioNet::new(transport) {
        Ok(device) => {
            let name = format!("virtio-net mmio {address:#x}").leak();
            sink.net(name, Box::leak(Box::new(device)), line);
        }
        Err(e) => log::warn!("virtio-net mmio {address:#x}: {e}; left out"),
    }
}

/// Starts the virtio-blk device behind `transport` and hands it to `sink`.
fn block(address: usize, transport: MmioTransport<'static>, line: Line, sink: &mut dyn DeviceSink) {
    match VirtioBlk::new(transport) {
        Ok(device) => {
            let name = format!("virtio-blk mmio {address:#x}").leak();
            sink.block(name, Box::leak(Box::new(device)), line);
        }
        Err(e) => log::warn!("virtio-blk mmio {address:#x}: {e}; left out"),
    }
}
