//! The threads parked on the stack's sockets, kept by the shard of their socket: after a
//! poll only the waiters of the shards it worked on are checked, and a thread that wakes
//! takes its notes out of its sockets' shards alone.

use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;

use super::shard::ShardId;
use super::shared::Want;
use super::stack::{Source, Stack};
use crate::sched::{self, ThreadInner};

struct Waiter {
    source: Source,
    want: Want,
    thread: Arc<ThreadInner>,
}

/// See the [module docs](self).
#[derive(Default)]
pub(super) struct Waiters {
    by_shard: BTreeMap<ShardId, Vec<Waiter>>,
}

impl Waiters {
    /// `thread` waits until `source` is ready for `want`.
    pub(super) fn add(&mut self, source: Source, want: Want, thread: &Arc<ThreadInner>) {
        self.by_shard
            .entry(source.shard())
            .or_default()
            .push(Waiter {
                source,
                want,
                thread: thread.clone(),
            });
    }

    /// `thread` waits no more on `sources`.
    pub(super) fn remove(&mut self, sources: &[(Source, Want)], thread: &Arc<ThreadInner>) {
        for &(source, _) in sources {
            let shard = source.shard();
            if let Some(waiters) = self.by_shard.get_mut(&shard) {
                waiters.retain(|w| !Arc::ptr_eq(&w.thread, thread));
                if waiters.is_empty() {
                    self.by_shard.remove(&shard);
                }
            }
        }
    }

    /// Wakes the threads whose socket, in a shard the last poll of `stack` worked on, is
    /// now ready, and forgets them.
    pub(super) fn wake_ready(&mut self, stack: &Stack) {
        for shard in stack.touched() {
            let Some(waiters) = self.by_shard.get_mut(shard) else {
                continue;
            };
            waiters.retain(|w| {
                let ready = w.want.met_by(stack.readiness(w.source));
                if ready {
                    sched::unpark(&w.thread);
                }
                !ready
            });
            if waiters.is_empty() {
                self.by_shard.remove(shard);
            }
        }
    }
}
