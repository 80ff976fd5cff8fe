//! The stack's sockets, in shards. smoltcp scans a whole socket set to match each frame,
//! to send, and to find its next deadline; so connections live in sets of at most
//! [`SHARD_SIZE`] sockets, and a frame, a socket call or a deadline costs one shard's work,
//! however many connections are open.
//!
//! - Shard 0 ([`ShardId::BASE`]) holds DHCP, DNS, the UDP sockets and the listeners'
//!   pools (bounded: [`BACKLOG`](super::BACKLOG) + [`MAX_PENDING`](super::MAX_PENDING)
//!   each). Every other shard holds up to [`SHARD_SIZE`] TCP connections: one accepted
//!   moves there from its listener's pool when `accept` takes it, one connecting out is
//!   made there. A shard is made when all are full; an empty one gives its storage back and
//!   is filled again first.
//! - An index from a connection's [`Tuple`] to its shard routes each TCP segment; anything
//!   else (and a segment of no known connection, which smoltcp answers with a reset, or
//!   a handshake) goes to shard 0.
//! - A shard is *dirty* when a frame went to it, a socket call changed one of its sockets,
//!   or its deadline passed. Only dirty shards are sent from, reaped and asked for their
//!   next deadline; the shards' deadlines are kept sorted.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec::Vec;

use smoltcp::iface::{SocketHandle, SocketSet};
use smoltcp::socket::{AnySocket, Socket, tcp};
use smoltcp::time::Instant;

use super::phy::Tuple;

/// The most sockets a connection shard holds.
pub(crate) const SHARD_SIZE: usize = 64;

/// A shard's number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct ShardId(usize);

impl ShardId {
    /// The shard of everything but connections.
    pub(crate) const BASE: Self = Self(0);
}

/// A TCP connection as the application holds it: never moves once it has it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct ConnHandle {
    shard: ShardId,
    socket: SocketHandle,
}

impl ConnHandle {
    /// The shard the connection lives in.
    pub(crate) fn shard(self) -> ShardId {
        self.shard
    }

    pub(super) fn socket(self) -> SocketHandle {
        self.socket
    }
}

/// What the application holds of one TCP connection.
#[derive(Clone, Copy, Debug)]
pub(super) struct Conn {
    pub(super) tuple: Tuple,
    /// The peer closed its half: reads end with 0, not with a reset.
    pub(super) peer_closed: bool,
    pub(super) shut_read: bool,
    pub(super) shut_write: bool,
}

/// One socket set and what goes with it.
pub(super) struct Shard {
    pub(super) sockets: SocketSet<'static>,
    /// The connections the application holds.
    pub(super) conns: BTreeMap<SocketHandle, Conn>,
    /// Sockets given up, kept until their close is done; a connection's with its tuple.
    closing: Vec<(SocketHandle, Option<Tuple>)>,
    len: usize,
    /// Its entry in [`Shards::deadlines`].
    deadline: Option<Instant>,
    dirty: bool,
}

impl Shard {
    fn new() -> Self {
        Self {
            sockets: SocketSet::new(Vec::new()),
            conns: BTreeMap::new(),
            closing: Vec::new(),
            len: 0,
            deadline: None,
            dirty: false,
        }
    }
}

/// Every shard, the index, and which shards have work: see the [module docs](self).
pub(super) struct Shards {
    shards: Vec<Shard>,
    /// Connection shards with room.
    open: BTreeSet<ShardId>,
    index: BTreeMap<Tuple, ConnHandle>,
    dirty: Vec<ShardId>,
    deadlines: BTreeSet<(Instant, ShardId)>,
}

impl Shards {
    pub(super) fn new() -> Self {
        Self {
            shards: alloc::vec![Shard::new()],
            open: BTreeSet::new(),
            index: BTreeMap::new(),
            dirty: Vec::new(),
            deadlines: BTreeSet::new(),
        }
    }

    pub(super) fn get(&self, id: ShardId) -> &Shard {
        &self.shards[id.0]
    }

    pub(super) fn get_mut(&mut self, id: ShardId) -> &mut Shard {
        &mut self.shards[id.0]
    }

    /// Shard 0's sockets.
    pub(super) fn base(&mut self) -> &mut SocketSet<'static> {
        &mut self.get_mut(ShardId::BASE).sockets
    }

    /// The shard a segment of `tuple` goes to.
    pub(super) fn route(&self, tuple: Tuple) -> ShardId {
        self.index.get(&tuple).map_or(ShardId::BASE, |c| c.shard)
    }

    /// Whether a connection (open or closing) has `port` as its local port.
    pub(super) fn port_in_use(&self, port: u16) -> bool {
        let from = Tuple {
            local_port: port,
            peer: [0; 4],
            peer_port: 0,
        };
        self.index
            .range(from..)
            .next()
            .is_some_and(|(t, _)| t.local_port == port)
    }

    /// Adds a socket to shard 0.
    pub(super) fn add_base(&mut self, socket: impl AnySocket<'static>) -> SocketHandle {
        let shard = self.get_mut(ShardId::BASE);
        shard.len += 1;
        shard.sockets.add(socket)
    }

    /// Puts the connection `socket` of `tuple` into a connection shard with room, and
    /// indexes it.
    pub(super) fn add_conn(&mut self, socket: impl AnySocket<'static>, tuple: Tuple) -> ConnHandle {
        let id = match self.open.first() {
            Some(&id) => id,
            None => {
                self.shards.push(Shard::new());
                let id = ShardId(self.shards.len() - 1);
                self.open.insert(id);
                id
            }
        };
        let shard = self.get_mut(id);
        let handle = ConnHandle {
            shard: id,
            socket: shard.sockets.add(socket),
        };
        shard.len += 1;
        shard.conns.insert(
            handle.socket,
            Conn {
                tuple,
                peer_closed: false,
                shut_read: false,
                shut_write: false,
            },
        );
        if shard.len >= SHARD_SIZE {
            self.open.remove(&id);
        }
        self.index.insert(tuple, handle);
        self.mark_dirty(id);
        handle
    }

    /// Takes a socket out of shard `id` (and out of the index, with its `tuple`).
    pub(super) fn remove(
        &mut self,
        id: ShardId,
        socket: SocketHandle,
        tuple: Option<Tuple>,
    ) -> Socket<'static> {
        let handle = ConnHandle { shard: id, socket };
        if let Some(tuple) = tuple
            && self.index.get(&tuple) == Some(&handle)
        {
            self.index.remove(&tuple);
        }
        let shard = self.get_mut(id);
        let removed = shard.sockets.remove(socket);
        shard.len -= 1;
        if id != ShardId::BASE {
            if shard.len == 0 {
                // Empty, with its slots' storage: give it back.
                shard.sockets = SocketSet::new(Vec::new());
            }
            self.open.insert(id);
        }
        removed
    }

    /// Gives socket `socket` of shard `id` up: it is removed once its close is done.
    pub(super) fn give_up(&mut self, id: ShardId, socket: SocketHandle) {
        let shard = self.get_mut(id);
        let tuple = shard.conns.remove(&socket).map(|c| c.tuple);
        shard.closing.push((socket, tuple));
        self.mark_dirty(id);
    }

    /// Removes the sockets of shard `id` whose close is done, and notes which peers closed
    /// their half.
    pub(super) fn reap(&mut self, id: ShardId) {
        let mut at = 0;
        while let Some(&(socket, tuple)) = self.get(id).closing.get(at) {
            let shard = self.get_mut(id);
            if matches!(
                shard.sockets.get::<tcp::Socket<'_>>(socket).state(),
                tcp::State::Closed | tcp::State::TimeWait
            ) {
                shard.closing.swap_remove(at);
                self.remove(id, socket, tuple);
            } else {
                at += 1;
            }
        }
        let Shard { sockets, conns, .. } = self.get_mut(id);
        for (&socket, conn) in conns.iter_mut() {
            if matches!(
                sockets.get::<tcp::Socket<'_>>(socket).state(),
                tcp::State::CloseWait
                    | tcp::State::LastAck
                    | tcp::State::Closing
                    | tcp::State::TimeWait
            ) {
                conn.peer_closed = true;
            }
        }
    }

    /// Shard `id` has work: the next poll sends from it, reaps it and asks its deadline.
    pub(super) fn mark_dirty(&mut self, id: ShardId) {
        let shard = self.get_mut(id);
        if !shard.dirty {
            shard.dirty = true;
            self.dirty.push(id);
        }
    }

    /// Marks the shards whose deadline is `now` or past dirty, then swaps the dirty ones
    /// into `into` (emptied first) and clears their marks.
    pub(super) fn take_dirty(&mut self, now: Instant, into: &mut Vec<ShardId>) {
        while let Some(&(at, id)) = self.deadlines.first()
            && at <= now
        {
            self.deadlines.pop_first();
            self.get_mut(id).deadline = None;
            self.mark_dirty(id);
        }
        into.clear();
        core::mem::swap(into, &mut self.dirty);
        for &id in into.iter() {
            self.get_mut(id).dirty = false;
        }
    }

    /// Whether a shard waits to be polled.
    pub(super) fn any_dirty(&self) -> bool {
        !self.dirty.is_empty()
    }

    /// Sets shard `id`'s next deadline (`None`: only a frame or a call gives it work).
    pub(super) fn set_deadline(&mut self, id: ShardId, at: Option<Instant>) {
        let shard = self.get_mut(id);
        let old = core::mem::replace(&mut shard.deadline, at);
        if let Some(old) = old {
            self.deadlines.remove(&(old, id));
        }
        if let Some(at) = at {
            self.deadlines.insert((at, id));
        }
    }

    /// The earliest deadline of any shard.
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.first().map(|&(at, _)| at)
    }

    /// Sockets in all shards.
    pub(super) fn socket_count(&self) -> usize {
        self.shards.iter().map(|s| s.len).sum()
    }

    /// How many sockets each shard holds, shard 0 first.
    #[cfg(test)]
    pub(super) fn lens(&self) -> Vec<usize> {
        self.shards.iter().map(|s| s.len).collect()
    }
}
