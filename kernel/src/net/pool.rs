//! A listener: smoltcp's listening socket holds one connection and has no accept queue, so
//! a listener is a pool of sockets on its port, all in shard 0.

use alloc::vec::Vec;

use smoltcp::iface::{SocketHandle, SocketSet};
use smoltcp::socket::tcp;
use smoltcp::wire::{IpAddress, IpListenEndpoint};

use super::phy::Tuple;
use super::shard::Shards;
use super::stack::{BACKLOG, MAX_PENDING, new_tcp};

/// A listener's sockets: those listening and those whose connection waits for `accept`.
pub(super) struct Pool {
    endpoint: IpListenEndpoint,
    handles: Vec<SocketHandle>,
}

/// Whether a pool socket's connection finished its handshake (and may have ended since).
fn established(state: tcp::State) -> bool {
    !matches!(
        state,
        tcp::State::Listen | tcp::State::SynReceived | tcp::State::Closed
    )
}

/// The connection a socket has, once it has one.
fn tuple_of(socket: &tcp::Socket<'_>) -> Option<Tuple> {
    let (local, remote) = (socket.local_endpoint()?, socket.remote_endpoint()?);
    let IpAddress::Ipv4(peer) = remote.addr;
    Some(Tuple {
        local_port: local.port,
        peer: peer.octets(),
        peer_port: remote.port,
    })
}

impl Pool {
    pub(super) fn new(endpoint: IpListenEndpoint) -> Self {
        Self {
            endpoint,
            handles: Vec::with_capacity(BACKLOG),
        }
    }

    /// Adds listening sockets until [`BACKLOG`] listen, within [`MAX_PENDING`]; `false`
    /// when it has none at all.
    pub(super) fn refill(&mut self, shards: &mut Shards, buffer_size: usize) -> bool {
        let listening = self
            .handles
            .iter()
            .filter(|&&h| shards.base().get::<tcp::Socket<'_>>(h).state() == tcp::State::Listen)
            .count();
        for _ in listening..BACKLOG {
            if self.handles.len() >= BACKLOG + MAX_PENDING {
                break;
            }
            let mut socket = new_tcp(buffer_size);
            if socket.listen(self.endpoint).is_err() {
                break;
            }
            self.handles.push(shards.add_base(socket));
        }
        !self.handles.is_empty()
    }

    /// Whether one of its sockets is in a handshake with `tuple`'s peer. A peer that
    /// repeats its SYN while the answer is under way must not reach another listening
    /// socket of the port, which would open a second connection for it.
    pub(super) fn in_handshake(&self, sockets: &SocketSet<'static>, tuple: Tuple) -> bool {
        self.handles.iter().any(|&h| {
            let socket = sockets.get::<tcp::Socket<'_>>(h);
            socket.state() == tcp::State::SynReceived && tuple_of(socket) == Some(tuple)
        })
    }

    /// Whether one of its sockets listens; when none does, each holds a connection waiting
    /// for `accept`, and a SYN is dropped (as Linux drops it while its accept queue is
    /// full, so the peer sends it again) rather than reset by smoltcp.
    pub(super) fn listening(&self, sockets: &SocketSet<'static>) -> bool {
        self.handles
            .iter()
            .any(|&h| sockets.get::<tcp::Socket<'_>>(h).state() == tcp::State::Listen)
    }

    /// Listens again on the sockets whose connection failed before `accept`.
    pub(super) fn relisten(&self, sockets: &mut SocketSet<'static>) {
        for &handle in &self.handles {
            let socket = sockets.get_mut::<tcp::Socket<'_>>(handle);
            if socket.state() == tcp::State::Closed {
                // A closed socket and a non-zero port: listening cannot fail.
                let _ = socket.listen(self.endpoint);
            }
        }
    }

    /// Whether a connection waits for `accept`.
    pub(super) fn has_connection(&self, sockets: &SocketSet<'static>) -> bool {
        self.handles
            .iter()
            .any(|&h| established(sockets.get::<tcp::Socket<'_>>(h).state()))
    }

    /// Takes a connection that finished its handshake out of the pool (its socket stays in
    /// shard 0 for the caller to move).
    pub(super) fn take(&mut self, sockets: &SocketSet<'static>) -> Option<(SocketHandle, Tuple)> {
        let (index, tuple) = self.handles.iter().enumerate().find_map(|(i, &h)| {
            let socket = sockets.get::<tcp::Socket<'_>>(h);
            established(socket.state())
                .then(|| tuple_of(socket))
                .flatten()
                .map(|t| (i, t))
        })?;
        Some((self.handles.swap_remove(index), tuple))
    }

    /// Its sockets, for the caller to close.
    pub(super) fn into_handles(self) -> Vec<SocketHandle> {
        self.handles
    }
}
