//! Requests to a block device, as threads make them: submit, park until the completion,
//! and harvest completions for whoever is waiting. The module hands out raw buffer
//! addresses to drivers (`BlockDevice::submit` is unsafe).

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::time::Duration;

use hal::block::{Completion, ErrorKind, Request, Token};
use hal::device::BlockDriver;
use spin::Mutex;

use crate::irq::Service;
use crate::sched::{self, ThreadInner};
use crate::time::Instant;

/// How often a thread waiting for its request polls the driver itself.
const DRIVER_CHECK: Duration = Duration::from_secs(1);

/// One block device, shared by every core: a spin lock around the driver, never held across
/// a switch and never taken in interrupt context.
pub(crate) struct DiskCore {
    pub(crate) name: &'static str,
    pub(crate) sectors: u64,
    inner: Mutex<Inner>,
}

struct Inner {
    driver: &'static mut dyn BlockDriver,
    /// The requests the driver holds, and who waits for each.
    in_flight: Vec<(Token, Arc<Waiter>)>,
    /// Threads waiting for room in the driver's queue.
    room: VecDeque<Arc<ThreadInner>>,
}

/// A thread waiting for its request.
struct Waiter {
    thread: Arc<ThreadInner>,
    result: Mutex<Option<Result<(), ErrorKind>>>,
}

impl DiskCore {
    /// Takes `driver` over, for ever.
    pub(crate) fn leak(name: &'static str, driver: &'static mut dyn BlockDriver) -> &'static Self {
        let depth = driver.queue_depth().max(1);
        Box::leak(Box::new(Self {
            name,
            sectors: driver.sector_count(),
            inner: Mutex::new(Inner {
                driver,
                in_flight: Vec::with_capacity(depth),
                room: VecDeque::new(),
            }),
        }))
    }

    /// Does `request` on the calling thread's behalf: parks it until the device is done.
    /// Only threads do I/O; outside a thread it fails with [`ErrorKind::Other`].
    pub(crate) fn transfer(&self, mut request: Request<'_>) -> Result<(), ErrorKind> {
        let me = sched::current().ok_or(ErrorKind::Other)?;
        let waiter = Arc::new(Waiter {
            thread: me.clone(),
            result: Mutex::new(None),
        });
        loop {
            let mut inner = self.inner.lock();
            // SAFETY: `request` borrows its buffer for this whole call, which returns only
            // once `poll` handed the token back (the wait below): the thread is parked
            // meanwhile and touches neither the buffer nor the borrow.
            match unsafe { inner.driver.submit(request.reborrow()) } {
                Ok(token) => {
                    inner.in_flight.push((token, waiter.clone()));
                    // A wake-up for room this thread no longer needs goes to another.
                    inner.room.retain(|t| !Arc::ptr_eq(t, &me));
                    inner.harvest();
                    break;
                }
                Err(nb::Error::Other(kind)) => return Err(kind),
                Err(nb::Error::WouldBlock) => {
                    inner.room.push_back(me.clone());
                    inner.harvest();
                }
            }
            drop(inner);
            sched::park();
        }
        loop {
            if let Some(result) = waiter.result.lock().take() {
                return result;
            }
            // The park token absorbs an unpark that came before the park. The deadline
            // polls a driver that lost its interrupt, or whose device went quiet, so that
            // it can finish the request (with an error when it gave up on the device).
            sched::park_until((Instant::now() + DRIVER_CHECK).into());
            if waiter.result.lock().is_none() {
                self.inner.lock().harvest();
            }
        }
    }
}

impl Inner {
    /// Takes every finished request and wakes its thread; whoever holds the lock may do it,
    /// on any core.
    fn harvest(&mut self) {
        while let Some(Completion { token, result }) = self.driver.poll() {
            if let Some(i) = self.in_flight.iter().position(|(t, _)| *t == token) {
                let (_, waiter) = self.in_flight.swap_remove(i);
                *waiter.result.lock() = Some(result);
                sched::unpark(&waiter.thread);
            }
            if let Some(next) = self.room.pop_front() {
                sched::unpark(&next);
            }
        }
    }
}

impl Service for DiskCore {
    fn service(&self) {
        let mut inner = self.inner.lock();
        // Ack before harvest: a completion after the ack raises the line again.
        inner.driver.ack_interrupt();
        inner.harvest();
    }
}
