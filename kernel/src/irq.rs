//! Device interrupts: which core takes each line, and the two halves of handling one.
//!
//! - The top half ([`on_interrupt`]) runs in interrupt context. It only sets the line's
//!   bit in the pending word of the core the line is routed to: atomics, no lock, no
//!   allocation. The board left the line masked.
//! - The bottom half ([`service`]) runs in the core's scheduler, each time it collects
//!   (every turn, every switch): for each pending line it runs the line's services (ack the
//!   device, harvest completions, wake the waiting threads), then unmasks the line.
//! - A core halts only if its pending word is clear, looked at with interrupts masked
//!   ([`pending`], from the idle's `still_idle`): an interrupt either sets its bit before
//!   that look, and the core does not halt, or after it, and it ends the halt. Either way
//!   the next collect services it, as with the inbox.
//!
//! Line *n*, in discovery order, is taken by core *n mod running cores*.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU8, AtomicU32, Ordering};

use hal::irq::{Interrupts, Line, MAX_LINES};
use spin::{Mutex, Once};

/// What a line's interrupt does in the bottom half: a device on that line.
pub(crate) trait Service: Sync {
    /// Acknowledges the device's interrupt and handles what it finished.
    fn service(&self);
}

/// `core_of` of a line no core takes yet.
const NO_CORE: u8 = u8::MAX;

struct Lines {
    core_of: [AtomicU8; MAX_LINES],
    /// One word per core, a bit per line.
    pending: Box<[AtomicU32]>,
    /// Taken only outside interrupt context; lock order: services, then a device.
    services: Mutex<[Vec<&'static dyn Service>; MAX_LINES]>,
    controller: &'static (dyn Interrupts + Sync),
    cores: usize,
    /// [`Lines::service`], reached through this pointer so that only an image that installs
    /// lines (one that asks for devices) links the bottom half.
    bottom_half: fn(&Lines, usize),
}

// Built when the first device is found, on the heap: an application without devices
// neither allocates it nor carries it in its image.
static LINES: Once<Box<Lines>> = Once::new();

const _: () = assert!(MAX_LINES <= 32, "a pending word holds a bit per line");

/// Takes over the board's interrupt controller for `cores` running cores. Runs once, at
/// discovery, before any line is routed.
pub(crate) fn install(controller: &'static (dyn Interrupts + Sync), cores: usize) {
    let cores = cores.clamp(1, usize::from(NO_CORE));
    LINES.call_once(|| {
        Box::new(Lines {
            core_of: [const { AtomicU8::new(NO_CORE) }; MAX_LINES],
            pending: (0..cores).map(|_| AtomicU32::new(0)).collect(),
            services: Mutex::new([const { Vec::new() }; MAX_LINES]),
            controller,
            cores,
            bottom_half: Lines::service,
        })
    });
}

/// The top half, which the board's interrupt handler calls: marks `line` pending on the
/// core it is routed to.
pub(crate) fn on_interrupt(line: Line) {
    let Some(lines) = LINES.get() else { return };
    let Some(core) = lines.core_of.get(line.index()) else {
        return;
    };
    if let Some(word) = lines.pending.get(usize::from(core.load(Ordering::Acquire))) {
        word.fetch_or(1 << line.index(), Ordering::Release);
    }
}

/// Whether `core` has a line to service: one atomic load.
pub(crate) fn pending(core: usize) -> bool {
    LINES
        .get()
        .and_then(|lines| lines.pending.get(core))
        .is_some_and(|word| word.load(Ordering::Acquire) != 0)
}

/// The bottom half: services `core`'s pending lines and unmasks them.
pub(crate) fn service(core: usize) {
    if let Some(lines) = LINES.get() {
        (lines.bottom_half)(lines, core);
    }
}

impl Lines {
    fn service(&self, core: usize) {
        let Some(word) = self.pending.get(core) else {
            return;
        };
        let mut bits = word.swap(0, Ordering::Acquire);
        while bits != 0 {
            let index = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            for service in &self.services.lock()[index] {
                service.service();
            }
            if let Some(line) = Line::new(index) {
                self.controller.unmask(line);
            }
        }
    }
}

/// Registers `service` on `line`; the first service of a line routes it, to core
/// `line mod running cores`. Returns that core. The service is stored before the line is
/// routed, so that its first interrupt finds it.
pub(crate) fn attach(line: Line, service: &'static dyn Service) -> usize {
    let Some(lines) = LINES.get() else { return 0 };
    let core = line.index() % lines.cores;
    let first = {
        let mut services = lines.services.lock();
        services[line.index()].push(service);
        services[line.index()].len() == 1
    };
    if first {
        // Below NO_CORE: `core` is below the core count, which `install` bounds.
        lines.core_of[line.index()].store(core as u8, Ordering::Release);
        lines.controller.route(line, core);
    }
    core
}
