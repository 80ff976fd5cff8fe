//! UDP sockets, as `std::net` has them.

use core::fmt;
use core::net::SocketAddrV4;
use core::time::Duration;

use smoltcp::iface::SocketHandle;
use spin::Mutex;

use super::addr::ToSocketAddrs;
use super::error::{ErrorKind, Result};
use super::options::{self, Options};
use super::shared::{self, Net, Want};
use super::stack::Source;

/// A UDP socket. Receiving parks the thread until a datagram comes or the read timeout
/// passes; sending waits only while the socket's queue is full.
pub struct UdpSocket {
    net: &'static Net,
    handle: SocketHandle,
    local: SocketAddrV4,
    peer: Mutex<Option<SocketAddrV4>>,
    options: Options,
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpSocket")
            .field("local", &self.local)
            .field("peer", &*self.peer.lock())
            .finish()
    }
}

impl UdpSocket {
    /// Binds to the first of `addr`'s addresses (port 0: a free one). `AddrInUse` when
    /// another UDP socket has the port.
    pub fn bind(addr: impl ToSocketAddrs) -> Result<Self> {
        let net = shared::net()?;
        let addr = addr.first()?;
        let (handle, port) = net.with(|stack| stack.udp_bind(addr))?;
        Ok(Self {
            net,
            handle,
            local: SocketAddrV4::new(*addr.ip(), port),
            peer: Mutex::new(None),
            options: Options::new(),
        })
    }

    /// The address it is bound to.
    pub fn local_addr(&self) -> Result<SocketAddrV4> {
        Ok(self.local)
    }

    /// Sends `buf` as one datagram to `addr`. `InvalidInput` for a datagram larger than
    /// the socket's queue.
    pub fn send_to(&self, buf: &[u8], addr: impl ToSocketAddrs) -> Result<usize> {
        let to = addr.first()?;
        let handle = self.handle;
        self.net.block(
            Source::Udp(handle),
            Want::WRITE,
            options::deadline(self.options.write_timeout()),
            self.options.nonblocking(),
            |stack| stack.udp_send_to(handle, buf, to),
        )
    }

    /// Waits for the next datagram and copies it into `buf` (the part that does not fit is
    /// lost); returns its length and sender.
    pub fn recv_from(&self, buf: &mut [u8]) -> Result<(usize, SocketAddrV4)> {
        let handle = self.handle;
        self.net.block(
            Source::Udp(handle),
            Want::READ,
            options::deadline(self.options.read_timeout()),
            self.options.nonblocking(),
            |stack| stack.udp_recv_from(handle, buf),
        )
    }

    /// Sets the peer for [`send`](Self::send) and [`recv`](Self::recv); `recv` then drops
    /// datagrams from anyone else.
    pub fn connect(&self, addr: impl ToSocketAddrs) -> Result<()> {
        *self.peer.lock() = Some(addr.first()?);
        Ok(())
    }

    /// The peer [`connect`](Self::connect) set.
    pub fn peer_addr(&self) -> Result<SocketAddrV4> {
        self.peer
            .lock()
            .ok_or_else(|| ErrorKind::NotConnected.into())
    }

    /// Sends `buf` to the peer; `NotConnected` without one.
    pub fn send(&self, buf: &[u8]) -> Result<usize> {
        self.send_to(buf, self.peer_addr()?)
    }

    /// Receives the next datagram from the peer; `NotConnected` without one.
    pub fn recv(&self, buf: &mut [u8]) -> Result<usize> {
        let peer = self.peer_addr()?;
        loop {
            let (n, from) = self.recv_from(buf)?;
            if from == peer {
                return Ok(n);
            }
        }
    }

    /// How long a receive may wait (`None`: for ever); a zero duration is `InvalidInput`.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> Result<()> {
        self.options.set_read_timeout(timeout)
    }

    /// How long a send may wait for room (`None`: for ever).
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> Result<()> {
        self.options.set_write_timeout(timeout)
    }

    /// Makes sends and receives return `WouldBlock` instead of waiting.
    pub fn set_nonblocking(&self, nonblocking: bool) -> Result<()> {
        self.options.set_nonblocking(nonblocking);
        Ok(())
    }

    pub(super) fn source(&self) -> Source {
        Source::Udp(self.handle)
    }
}

impl Drop for UdpSocket {
    fn drop(&mut self) {
        let handle = self.handle;
        self.net.with(|stack| stack.udp_close(handle));
    }
}
