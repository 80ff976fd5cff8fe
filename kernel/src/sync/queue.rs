//! The queue of threads waiting on a [`Mutex`](super::Mutex) or [`Condvar`](super::Condvar),
//! in arrival order.
//!
//! A waiter can stop waiting while it is still queued (a timeout, a wake-up for another
//! reason, a lock it took without being handed it). Its entry is then only marked stale, in
//! O(1), through the [`Ticket`] it got when it joined; stale entries are dropped as they
//! reach the front, or all at once when they outnumber the live ones. Every operation is
//! O(1) amortised, however many threads wait, but [`WaitQueue::take_all`].
//!
//! The queue is used under its owner's lock: a ticket's mark is only read or changed by
//! the queue's methods, so every change is seen whole.

use alloc::collections::VecDeque;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicBool, Ordering};

/// A waiter's entry, shared by the queue and the waiter.
#[derive(Debug)]
pub(super) struct Ticket<T> {
    waiter: T,
    /// Whether the entry still waits in its queue: neither taken out nor cancelled.
    queued: AtomicBool,
}

/// Waiters in arrival order (see the module docs).
#[derive(Debug)]
pub(super) struct WaitQueue<T> {
    entries: VecDeque<Arc<Ticket<T>>>,
    /// How many of `entries` are no longer queued.
    stale: usize,
}

impl<T> Default for WaitQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> WaitQueue<T> {
    /// An empty queue.
    pub(super) const fn new() -> Self {
        Self {
            entries: VecDeque::new(),
            stale: 0,
        }
    }

    /// Queues `waiter` at the back; the ticket lets it leave early.
    pub(super) fn push(&mut self, waiter: T) -> Arc<Ticket<T>> {
        let ticket = Arc::new(Ticket {
            waiter,
            queued: AtomicBool::new(true),
        });
        self.entries.push_back(ticket.clone());
        ticket
    }

    /// Whether `ticket`'s waiter is still queued here: neither taken out nor cancelled.
    pub(super) fn holds(&self, ticket: &Ticket<T>) -> bool {
        ticket.queued.load(Ordering::Relaxed)
    }

    /// Takes `ticket`'s waiter out of the queue, if it is still there.
    pub(super) fn cancel(&mut self, ticket: &Ticket<T>) {
        if !ticket.queued.swap(false, Ordering::Relaxed) {
            return;
        }
        self.stale += 1;
        // Each sweep follows at least as many cancellations as it looks at entries.
        if 2 * self.stale > self.entries.len() {
            self.entries
                .retain(|entry| entry.queued.load(Ordering::Relaxed));
            self.stale = 0;
        }
    }

    /// The first live entry, after dropping the stale ones before it.
    fn front(&mut self) -> Option<&Arc<Ticket<T>>> {
        while let Some(entry) = self.entries.front() {
            if entry.queued.load(Ordering::Relaxed) {
                break;
            }
            self.entries.pop_front();
            self.stale -= 1;
        }
        self.entries.front()
    }

    /// The waiter at the front, left queued.
    pub(super) fn first(&mut self) -> Option<&T> {
        self.front().map(|entry| &entry.waiter)
    }

    /// How many waiters are queued.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len() - self.stale
    }
}

impl<T: Clone> WaitQueue<T> {
    /// Takes the waiter at the front out of the queue.
    pub(super) fn pop(&mut self) -> Option<T> {
        self.front()?;
        let entry = self.entries.pop_front()?;
        entry.queued.store(false, Ordering::Relaxed);
        Some(entry.waiter.clone())
    }

    /// Takes every waiter out of the queue, in order.
    pub(super) fn take_all(&mut self) -> impl Iterator<Item = T> + use<T> {
        let mut entries = core::mem::take(&mut self.entries);
        entries.retain(|entry| entry.queued.swap(false, Ordering::Relaxed));
        self.stale = 0;
        entries.into_iter().map(|entry| entry.waiter.clone())
    }
}

#[cfg(test)]
mod tests {
    use alloc::vec::Vec;

    use super::WaitQueue;

    #[test]
    fn waiters_leave_in_arrival_order() {
        let mut queue = WaitQueue::new();
        assert_eq!(queue.len(), 0);
        for n in 0..3 {
            queue.push(n);
        }
        assert_eq!(queue.first(), Some(&0));
        assert_eq!(queue.pop(), Some(0));
        assert_eq!(queue.pop(), Some(1));
        assert_eq!(queue.len(), 1);
        assert_eq!(queue.pop(), Some(2));
        assert_eq!(queue.pop(), None);
        assert_eq!(queue.len(), 0);
    }

    #[test]
    fn a_cancelled_waiter_is_skipped() {
        let mut queue = WaitQueue::new();
        let first = queue.push(1);
        let second = queue.push(2);
        queue.push(3);
        queue.cancel(&second);
        assert!(queue.holds(&first) && !queue.holds(&second));
        assert_eq!(queue.len(), 2);
        queue.cancel(&first);
        assert_eq!(queue.first(), Some(&3));
        assert_eq!(queue.pop(), Some(3));
        assert_eq!(queue.len(), 0);
    }

    #[test]
    fn a_ticket_taken_out_is_no_longer_held_and_cancels_nothing() {
        let mut queue = WaitQueue::new();
        let first = queue.push(1);
        queue.push(2);
        assert_eq!(queue.pop(), Some(1));
        assert!(!queue.holds(&first));
        queue.cancel(&first);
        assert_eq!(queue.len(), 1);
        assert_eq!(queue.pop(), Some(2));
    }

    #[test]
    fn take_all_returns_the_live_waiters_in_order_and_empties_the_queue() {
        let mut queue = WaitQueue::new();
        let tickets: Vec<_> = (0..5).map(|n| queue.push(n)).collect();
        queue.cancel(&tickets[1]);
        queue.cancel(&tickets[3]);
        assert_eq!(queue.take_all().collect::<Vec<_>>(), [0, 2, 4]);
        assert_eq!(queue.len(), 0);
        assert!(tickets.iter().all(|ticket| !queue.holds(ticket)));
        queue.cancel(&tickets[0]);
        assert_eq!(queue.len(), 0);
        queue.push(9);
        assert_eq!(queue.len(), 1);
    }

    #[test]
    fn cancelled_waiters_do_not_pile_up_behind_one_that_stays() {
        // One waiter stays at the front for ever while others come and go: the queue must
        // not grow with every one that left.
        let mut queue = WaitQueue::new();
        queue.push(0);
        let mut most = 0;
        for n in 1..10_000 {
            let ticket = queue.push(n);
            let other = queue.push(n + 10_000);
            queue.cancel(&ticket);
            queue.cancel(&other);
            most = most.max(queue.entries.len());
        }
        assert!(most <= 3, "the queue grew to {most} entries");
        assert_eq!(queue.len(), 1);
        assert_eq!(queue.pop(), Some(0));
    }
}
