//! A network device as threads use it before the network stack takes NICs over: copy a
//! frame in or out, parking until one arrives. The interrupt wakes the waiting threads,
//! then runs the network stack's service once the stack has taken the NIC
//! ([`NicCore::hand_to`]).

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;

use hal::device::NetDriver;
use hal::net::{MacAddress, NetStats};
use spin::Mutex;

use crate::irq::Service;
use crate::sched::{self, ThreadInner};

/// One NIC, shared by every core: a spin lock around the driver, never held across a
/// switch and never taken in interrupt context.
pub(crate) struct NicCore {
    pub(crate) name: &'static str,
    pub(crate) mac: MacAddress,
    inner: Mutex<Inner>,
    /// The network stack over this NIC, which the interrupt reaches after the waiters.
    upper: spin::Once<&'static dyn Service>,
}

struct Inner {
    driver: &'static mut dyn NetDriver,
    /// Threads waiting for a frame or for room to send.
    waiting: Vec<Arc<ThreadInner>>,
}

impl NicCore {
    /// Takes `driver` over, for ever.
    pub(crate) fn leak(name: &'static str, driver: &'static mut dyn NetDriver) -> &'static Self {
        Box::leak(Box::new(Self {
            name,
            mac: driver.mac_address(),
            inner: Mutex::new(Inner {
                driver,
                waiting: Vec::new(),
            }),
            upper: spin::Once::new(),
        }))
    }

    /// Runs `f` on the driver, under the NIC's lock.
    pub(crate) fn with_driver<R>(&self, f: impl FnOnce(&mut dyn NetDriver) -> R) -> R {
        f(&mut *self.inner.lock().driver)
    }

    /// Makes `upper` (the network stack) hear this NIC's interrupts; `false` when another
    /// already does.
    pub(crate) fn hand_to(&self, upper: &'static dyn Service) -> bool {
        let mut taken = false;
        self.upper.call_once(|| {
            taken = true;
            upper
        });
        taken
    }

    /// Runs `attempt` on the driver until it gives `Some`, parking the calling thread
    /// between tries until the device interrupts; `None` outside a thread.
    fn wait<T>(&self, mut attempt: impl FnMut(&mut dyn NetDriver) -> Option<T>) -> Option<T> {
        let me = sched::current()?;
        loop {
            let mut inner = self.inner.lock();
            if let Some(done) = attempt(&mut *inner.driver) {
                return Some(done);
            }
            // Registered under the lock the interrupt's service takes: no wake-up is lost.
            if !inner.waiting.iter().any(|t| Arc::ptr_eq(t, &me)) {
                inner.waiting.push(me.clone());
            }
            drop(inner);
            sched::park();
        }
    }

    /// The next frame, copied into `buf`: parks until one arrives.
    pub(crate) fn receive(&self, buf: &mut [u8]) -> Option<usize> {
        self.wait(|driver| driver.receive(buf))
    }

    /// Sends `frame`, parking until the device has room.
    pub(crate) fn send(&self, frame: &[u8]) -> Option<()> {
        self.wait(|driver| {
            driver
                .transmit(frame.len(), &mut |buf| {
                    buf.copy_from_slice(&frame[..buf.len()])
                })
                .then_some(())
        })
    }

    pub(crate) fn stats(&self) -> NetStats {
        self.inner.lock().driver.stats()
    }

    pub(crate) fn link_up(&self) -> bool {
        self.inner.lock().driver.link_up()
    }
}

impl Service for NicCore {
    fn service(&self) {
        let mut inner = self.inner.lock();
        // Ack before waking: a frame after the ack raises the line again.
        inner.driver.ack_interrupt();
        for thread in inner.waiting.drain(..) {
            sched::unpark(&thread);
        }
        // The stack drives the driver through `with_driver`: the lock is let go first.
        drop(inner);
        if let Some(upper) = self.upper.get() {
            upper.service();
        }
    }
}
