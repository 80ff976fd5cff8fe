//! The one stack every core shares, and how threads wait on it.
//!
//! One [`Stack`] (interface and sockets) sits behind one [`HandOff`] lock, never held
//! across a switch and never taken in interrupt context. Whoever holds the lock polls:
//! - the core the NIC's line is routed to, in its bottom half (the NIC acks, then the
//!   stack polls and wakes) if the lock is free; if a thread holds it, the bottom half
//!   does not wait: it leaves a flag, and the holder polls once more before it lets go
//!   (the races are in [`HandOff`]'s docs: a frame that arrives while the lock is held is
//!   polled by its holder or by the bottom half, never left for the next interrupt);
//! - a thread that changed a socket (wrote, read, closed), at once, so that what it queued
//!   goes out without waiting for an interrupt;
//! - the `net` thread, on the core of the thread that first used the network, when the stack's next deadline
//!   ([`Stack::poll_delay`]: retransmissions, delayed work, DHCP renewals) comes: it sleeps
//!   on the scheduler's timer until then, or parks when the stack waits only for frames.
//!
//! A thread that finds the lock taken parks until its turn (a spin lock here made the other
//! core spin for as long as the host had descheduled the holder's vCPU).
//!
//! A thread that must wait for its socket leaves a note (which socket, read or write) under
//! the lock and parks after letting go; after each poll, whoever polled wakes the threads
//! whose socket is now ready. A poll between the note and the park wakes the thread
//! anyway: the park then returns at once (the park token, as in `std`).

use alloc::boxed::Box;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, Ordering};
use core::time::Duration;

use hal::device::NetDriver;
use hal::net::{MacAddress, NetDevice, NetStats};
use hal::time::Instant;

use super::config::{self, Ipv4Config};
use super::error::{ErrorKind, Result};
use super::stack::{Ready, Source, Stack};
use super::waiters::Waiters;
use crate::device::NicCore;
use crate::irq::Service;
use crate::sched::{self, ThreadInner};
use crate::sync::{Deferred, HandOff, HandOffGuard, OnceLock};
use crate::thread;

/// What a waiter waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Want {
    pub(crate) read: bool,
    pub(crate) write: bool,
}

impl Want {
    pub(crate) const READ: Self = Self {
        read: true,
        write: false,
    };
    pub(crate) const WRITE: Self = Self {
        read: false,
        write: true,
    };

    pub(super) fn met_by(self, ready: Ready) -> bool {
        (self.read && ready.readable) || (self.write && ready.writable)
    }
}

struct Inner {
    stack: Stack,
    waiters: Waiters,
    alarm: &'static Alarm,
}

impl Deferred for Inner {
    /// A bottom half found the lock taken: poll for it.
    fn deferred(&mut self) {
        let delay = Net::poll_locked(self);
        self.alarm.arm(delay);
    }
}

/// The shared stack: see the [module docs](self).
pub(crate) struct Net {
    inner: HandOff<Inner>,
    alarm: &'static Alarm,
}

/// The `net` thread and when it wakes.
struct Alarm {
    /// The `net` thread, which polls at the stack's deadlines; set by the thread itself.
    poller: spin::Once<Arc<ThreadInner>>,
    /// When the `net` thread wakes next, in clock nanoseconds; `u64::MAX`: not before a
    /// frame.
    timer: AtomicU64,
}

const NO_TIMER: u64 = u64::MAX;
/// The `net` thread's stack: smoltcp's poll and little else.
const POLLER_STACK: usize = 32 * 1024;

fn now() -> Instant {
    sched::machine().clock.now()
}

static NET: OnceLock<core::result::Result<&'static Net, ErrorKind>> = OnceLock::new();

/// The stack, started on first use over the board's first NIC.
pub(crate) fn net() -> Result<&'static Net> {
    Ok((*NET.get_or_init(start))?)
}

fn start() -> core::result::Result<&'static Net, ErrorKind> {
    let nic = crate::nic::nics().first().ok_or(ErrorKind::NoDevice)?.0;
    let (setup, warnings) = config::from_params(crate::env::param);
    for warning in warnings {
        log::warn!("net: {warning}");
    }
    let now = now();
    let mac = nic.mac;
    let seed =
        now.as_nanos() ^ u64::from_le_bytes([mac[0], mac[1], mac[2], mac[3], mac[4], mac[5], 0, 0]);
    let stack = Stack::new(Box::new(Wire(nic)), setup, now, seed).map_err(|e| e.kind())?;
    let alarm: &'static Alarm = Box::leak(Box::new(Alarm {
        poller: spin::Once::new(),
        timer: AtomicU64::new(NO_TIMER),
    }));
    let net: &'static Net = Box::leak(Box::new(Net {
        inner: HandOff::new(Inner {
            stack,
            waiters: Waiters::default(),
            alarm,
        }),
        alarm,
    }));
    if !nic.hand_to(net) {
        return Err(ErrorKind::Other);
    }
    log::debug!("net: over {}", nic.name);
    thread::Builder::new()
        .name("net")
        .stack_size(POLLER_STACK)
        .spawn(move || {
            if let Some(me) = sched::current() {
                alarm.poller.call_once(|| me);
            }
            net.run_timer()
        })
        .map_err(|_| ErrorKind::OutOfMemory)?;
    // A frame that came before the stack heard the line.
    net.with(|_| ());
    Ok(net)
}

/// The NIC as the stack drives it: each call takes the NIC's lock.
struct Wire(&'static NicCore);

impl NetDevice for Wire {
    fn mac_address(&self) -> MacAddress {
        self.0.mac
    }

    fn mtu(&self) -> usize {
        self.0.with_driver(|d| d.mtu())
    }

    fn link_up(&self) -> bool {
        self.0.with_driver(|d| d.link_up())
    }

    fn receive(&mut self, buf: &mut [u8]) -> Option<usize> {
        self.0.with_driver(|d| d.receive(buf))
    }

    fn can_transmit(&mut self) -> bool {
        self.0.with_driver(|d: &mut dyn NetDriver| d.can_transmit())
    }

    fn transmit(&mut self, len: usize, fill: &mut dyn FnMut(&mut [u8])) -> bool {
        self.0.with_driver(|d| d.transmit(len, fill))
    }

    fn stats(&self) -> NetStats {
        self.0.with_driver(|d| d.stats())
    }
}

impl Net {
    /// Runs `f` on the stack, then polls (so what `f` queued goes out) and wakes whoever
    /// that made ready.
    pub(crate) fn with<T>(&self, f: impl FnOnce(&mut Stack) -> T) -> T {
        let mut inner = self.inner.lock();
        let result = f(&mut inner.stack);
        let delay = Self::poll_locked(&mut inner);
        drop(inner);
        self.alarm.arm(delay);
        result
    }

    /// Runs `op` until it stops saying `WouldBlock`, parking the thread in between until
    /// `source` is ready for `want`, or `deadline` (then `TimedOut`). With `nonblocking`,
    /// `op` runs once.
    pub(crate) fn block<T>(
        &self,
        source: Source,
        want: Want,
        deadline: Option<Instant>,
        nonblocking: bool,
        mut op: impl FnMut(&mut Stack) -> Result<T>,
    ) -> Result<T> {
        loop {
            let mut inner = self.inner.lock();
            let result = op(&mut inner.stack);
            let would_block = result
                .as_ref()
                .is_err_and(|e| e.kind() == ErrorKind::WouldBlock);
            if !would_block || nonblocking {
                let delay = Self::poll_locked(&mut inner);
                drop(inner);
                self.alarm.arm(delay);
                return result;
            }
            self.wait(inner, &[(source, want)], deadline)?;
        }
    }

    /// Parks the thread until one of `sources` is ready or `deadline` passes (then
    /// `TimedOut`); the lock is let go first.
    fn wait(
        &self,
        mut inner: HandOffGuard<'_, Inner>,
        sources: &[(Source, Want)],
        deadline: Option<Instant>,
    ) -> Result<()> {
        if deadline.is_some_and(|d| now() >= d) {
            return Err(ErrorKind::TimedOut.into());
        }
        // Only threads wait; outside one (a core's loop) there is nothing to park.
        let me = sched::current().ok_or(ErrorKind::Other)?;
        for &(source, want) in sources {
            inner.waiters.add(source, want, &me);
        }
        drop(inner);
        match deadline {
            Some(deadline) => sched::park_until(deadline),
            None => sched::park(),
        }
        self.inner.lock().waiters.remove(sources, &me);
        Ok(())
    }

    /// Waits until one of `sources` is ready, or `deadline`: the readiness call.
    pub(crate) fn wait_ready(
        &self,
        sources: &[(Source, Want)],
        deadline: Option<Instant>,
        mut ready: impl FnMut(usize, Ready),
    ) -> Result<usize> {
        loop {
            let inner = self.inner.lock();
            let mut count = 0;
            for (i, &(source, want)) in sources.iter().enumerate() {
                let now_ready = inner.stack.readiness(source);
                ready(i, now_ready);
                count += usize::from(want.met_by(now_ready));
            }
            if count > 0 {
                return Ok(count);
            }
            match self.wait(inner, sources, deadline) {
                Err(e) if e.kind() == ErrorKind::TimedOut => return Ok(0),
                other => other?,
            }
        }
    }

    /// The address, once the interface has one.
    pub(crate) fn config(&self) -> Option<Ipv4Config> {
        self.inner.lock().stack.config().cloned()
    }

    /// Polls and wakes the threads whose socket became ready; returns the stack's next
    /// deadline.
    fn poll_locked(inner: &mut Inner) -> Option<Duration> {
        Self::poll_counted(inner).1
    }

    /// [`Net::poll_locked`], also saying how many frames came in.
    fn poll_counted(inner: &mut Inner) -> (usize, Option<Duration>) {
        let Inner { stack, waiters, .. } = inner;
        let now = now();
        let received = stack.poll(now).received;
        waiters.wake_ready(stack);
        (received, stack.poll_delay(now))
    }

    /// The `net` thread: polls whenever the stack's deadline comes. A deadline already
    /// past means "poll now": the thread yields to the core's other threads and polls
    /// again; when such a poll moved nothing (the device has no room, say), it waits a
    /// millisecond instead, so a deadline that stays in the past cannot become a storm.
    fn run_timer(&self) {
        let alarm = self.alarm;
        let mut stalled = false;
        loop {
            alarm.timer.store(NO_TIMER, Ordering::Release);
            let (received, delay) = Self::poll_counted(&mut self.inner.lock());
            match delay {
                None => sched::park(),
                Some(Duration::ZERO) if !stalled || received > 0 => {
                    stalled = true;
                    sched::yield_now();
                    continue;
                }
                Some(delay) => {
                    let delay = delay.max(Duration::from_millis(u64::from(stalled)));
                    let at = now() + delay;
                    alarm.timer.fetch_min(at.as_nanos(), Ordering::AcqRel);
                    sched::park_until(at);
                }
            }
            stalled = false;
        }
    }
}

impl Alarm {
    /// Wakes the `net` thread if the stack's next deadline, `delay` from now, comes before
    /// the one it sleeps until.
    fn arm(&self, delay: Option<Duration>) {
        let Some(delay) = delay else { return };
        let at = now()
            .as_nanos()
            .saturating_add(delay.as_nanos().try_into().unwrap_or(u64::MAX));
        if at < self.timer.fetch_min(at, Ordering::AcqRel) {
            self.kick();
        }
    }

    fn kick(&self) {
        if let Some(poller) = self.poller.get() {
            sched::unpark(poller);
        }
    }
}

impl Service for Net {
    fn service(&self) {
        // The NIC acked its interrupt before calling: a frame after that raises it again.
        // A bottom half never waits for the lock: its holder may poll instead.
        self.inner.serve();
    }
}
