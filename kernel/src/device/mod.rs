//! The board's devices: found once, the first time an application asks for one, and kept
//! in a registry for ever.
//!
//! The board's [`Discover`] value and interrupt controller wait, type-erased, from boot
//! until then. Discovery reaches them through `__novillo_discover`, a symbol that
//! [`devices!`](crate::devices) (called by [`board!`](crate::board)) defines for the
//! board's [`Platform`]: an application that never asks for a device never calls it, so
//! the linker drops it and, with it, every driver and bus scan behind it.

mod block;

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::any::Any;

use hal::board::Platform;
use hal::device::{BlockDriver, DeviceSink, Discover, NetDriver};
use hal::irq::{Interrupts, Line};
use spin::Mutex;

pub(crate) use self::block::DiskCore;
use crate::block::Disk;
use crate::sync::OnceLock;
use crate::{irq, sched};

/// What a board hands over for discovery, type-erased until `__novillo_discover`.
#[doc(hidden)]
#[allow(missing_debug_implementations)] // Two boxes of `dyn Any`: nothing to show.
pub struct DeviceParts {
    interrupts: Box<dyn Any + Send>,
    devices: Box<dyn Any + Send>,
}

/// A NIC as the board handed it over, until the network stack takes it.
pub(crate) type Nic = (&'static str, &'static mut dyn NetDriver, Line);

/// Every device found.
pub(crate) struct Registry {
    pub(crate) disks: Vec<Disk>,
    /// The NICs no stack has taken yet.
    nics: Mutex<Vec<Nic>>,
}

static PARTS: Mutex<Option<DeviceParts>> = Mutex::new(None);
/// Other threads asking while discovery runs wait (parked) for it.
static REGISTRY: OnceLock<Registry> = OnceLock::new();

unsafe extern "Rust" {
    /// Defined by `kernel::devices!`: runs [`discover`] for the board's platform.
    fn __novillo_discover(parts: DeviceParts, sink: &mut dyn DeviceSink);
}

/// Keeps the board's interrupt controller and devices until the first device is asked
/// for. A zero-sized value is boxed without allocating.
pub(crate) fn store<P: Platform>(interrupts: P::Interrupts, devices: P::Devices) {
    let mut parts = PARTS.lock();
    // `init` runs once: the slot is empty, and nothing is dropped here.
    if parts.is_none() {
        *parts = Some(DeviceParts {
            interrupts: Box::new(interrupts),
            devices: Box::new(devices),
        });
    }
}

/// The devices, found on the first call.
pub(crate) fn registry() -> &'static Registry {
    REGISTRY.get_or_init(|| {
        let mut found = Collect {
            disks: Vec::new(),
            nics: Vec::new(),
        };
        if let Some(parts) = PARTS.lock().take() {
            // SAFETY: `kernel::devices!` defines the symbol with exactly this signature;
            // an image that asks for devices without it does not link.
            unsafe { __novillo_discover(parts, &mut found) };
        }
        Registry {
            disks: found.disks,
            nics: Mutex::new(found.nics),
        }
    })
}

/// The first NIC no one has taken, found on the first call; the caller routes its line.
pub(crate) fn take_nic() -> Option<Nic> {
    let mut nics = registry().nics.lock();
    (!nics.is_empty()).then(|| nics.remove(0))
}

/// Discovery for platform `P`, called by the code [`devices!`](crate::devices) generates:
/// takes the interrupt controller over, then lets the board find its devices.
#[doc(hidden)]
pub fn discover<P: Platform>(parts: DeviceParts, sink: &mut dyn DeviceSink) {
    let DeviceParts {
        interrupts,
        devices,
    } = parts;
    let (Ok(mut interrupts), Ok(devices)) = (
        interrupts.downcast::<P::Interrupts>(),
        devices.downcast::<P::Devices>(),
    ) else {
        log::warn!("devices: the board's parts are not of its platform; no devices");
        return;
    };
    interrupts.set_handler(irq::on_interrupt);
    let interrupts: &'static P::Interrupts = Box::leak(interrupts);
    let controller: &'static (dyn Interrupts + Sync) = interrupts;
    irq::install(controller, sched::running_cores());
    (*devices).discover(sink);
}

/// The sink discovery fills: each disk is taken over and its line routed; each NIC is
/// kept for the network stack, which routes its line when it starts.
struct Collect {
    disks: Vec<Disk>,
    nics: Vec<Nic>,
}

impl DeviceSink for Collect {
    fn block(&mut self, name: &'static str, device: &'static mut dyn BlockDriver, line: Line) {
        let disk = DiskCore::leak(name, device);
        let core = irq::attach(line, disk);
        log::debug!(
            "disk {}: {name}, {} sectors, line {} on core {core}",
            self.disks.len(),
            disk.sectors,
            line.index()
        );
        self.disks.push(Disk(disk));
    }

    fn net(&mut self, name: &'static str, device: &'static mut dyn NetDriver, line: Line) {
        let mac = device.mac_address();
        log::debug!(
            "nic {}: {name}, {mac:02x?}, line {}",
            self.nics.len(),
            line.index()
        );
        self.nics.push((name, device, line));
    }
}

/// Defines discovery for a board: `kernel::devices!(bsp_microvm::Microvm);`.
/// [`board!`](crate::board) calls it; host tests that use devices call it themselves.
#[macro_export]
macro_rules! devices {
    ($platform:ty) => {
        #[unsafe(no_mangle)]
        fn __novillo_discover(
            parts: $crate::__DeviceParts,
            sink: &mut dyn $crate::hal::device::DeviceSink,
        ) {
            $crate::__discover::<$platform>(parts, sink)
        }
    };
}
