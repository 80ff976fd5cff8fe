//! TCP sockets, as `std::net` has them.

use core::fmt;
use core::net::{Ipv4Addr, SocketAddrV4};
use core::time::Duration;

use super::addr::ToSocketAddrs;
use super::error::{Error, ErrorKind, Result};
use super::options::{self, Options};
use super::shard::ConnHandle;
use super::shared::{self, Net, Want};
use super::stack::Shutdown;
use super::stack::Source;

/// How long [`TcpStream::connect`] tries before it gives up, as BSD's 75 s.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(75);

/// A TCP socket listening for connections.
///
/// It holds a backlog of [`BACKLOG`](super::BACKLOG) connections that finished their
/// handshake before [`accept`](Self::accept) took them; further ones wait in the peer's
/// SYN retries.
pub struct TcpListener {
    net: &'static Net,
    port: u16,
    ip: Ipv4Addr,
    options: Options,
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListener")
            .field("addr", &SocketAddrV4::new(self.ip, self.port))
            .finish()
    }
}

impl TcpListener {
    /// Listens on the first of `addr`'s addresses: `"0.0.0.0:7"` for port 7 on any
    /// address; port 0 picks a free one. `AddrInUse` when a listener has the port.
    pub fn bind(addr: impl ToSocketAddrs) -> Result<Self> {
        let net = shared::net()?;
        let addr = addr.first()?;
        let port = net.with(|stack| stack.tcp_listen(addr))?;
        Ok(Self {
            net,
            port,
            ip: *addr.ip(),
            options: Options::new(),
        })
    }

    /// The address it listens on (the port picked, for port 0).
    pub fn local_addr(&self) -> Result<SocketAddrV4> {
        Ok(SocketAddrV4::new(self.ip, self.port))
    }

    /// Waits for the next connection (parks the thread); in non-blocking mode
    /// `WouldBlock` when none is waiting.
    pub fn accept(&self) -> Result<(TcpStream, SocketAddrV4)> {
        let port = self.port;
        let handle = self.net.block(
            Source::Listener(port),
            Want::READ,
            None,
            self.options.nonblocking(),
            |stack| stack.tcp_accept(port),
        )?;
        let stream = TcpStream::from_handle(self.net, handle);
        let peer = stream.peer_addr()?;
        Ok((stream, peer))
    }

    /// The connections as they come: [`accept`](Self::accept) for ever.
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming(self)
    }

    /// Makes `accept` return `WouldBlock` instead of waiting.
    pub fn set_nonblocking(&self, nonblocking: bool) -> Result<()> {
        self.options.set_nonblocking(nonblocking);
        Ok(())
    }

    pub(super) fn source(&self) -> Source {
        Source::Listener(self.port)
    }
}

impl Drop for TcpListener {
    fn drop(&mut self) {
        let port = self.port;
        self.net.with(|stack| stack.tcp_unlisten(port));
    }
}

/// The connections of a [`TcpListener`], from [`TcpListener::incoming`]; never ends.
#[derive(Debug)]
pub struct Incoming<'a>(&'a TcpListener);

impl Iterator for Incoming<'_> {
    type Item = Result<TcpStream>;

    fn next(&mut self) -> Option<Result<TcpStream>> {
        Some(self.0.accept().map(|(stream, _)| stream))
    }
}

/// A TCP connection. Reads and writes park the thread until data or room comes, or the
/// timeout set passes (`TimedOut`). Dropping it closes the connection: what was written
/// is still sent, then FIN.
pub struct TcpStream {
    net: &'static Net,
    handle: ConnHandle,
    options: Options,
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("TcpStream");
        if let Ok((local, peer)) = self.net.with(|stack| stack.tcp_endpoints(self.handle)) {
            s.field("local", &local).field("peer", &peer);
        }
        s.finish_non_exhaustive()
    }
}

impl TcpStream {
    fn from_handle(net: &'static Net, handle: ConnHandle) -> Self {
        Self {
            net,
            handle,
            options: Options::new(),
        }
    }

    /// Connects to the first of `addr`'s addresses that answers, giving each
    /// [`CONNECT_TIMEOUT`]. `ConnectionRefused` when the peer resets, `TimedOut` when it
    /// never answers, `AddrNotAvailable` before the interface has an address.
    pub fn connect(addr: impl ToSocketAddrs) -> Result<Self> {
        let mut last = Error::from(ErrorKind::InvalidInput);
        for addr in addr.to_socket_addrs()? {
            match Self::connect_timeout(&addr, CONNECT_TIMEOUT) {
                Ok(stream) => return Ok(stream),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// Connects to `addr`, giving up after `timeout` with `TimedOut`.
    pub fn connect_timeout(addr: &SocketAddrV4, timeout: Duration) -> Result<Self> {
        if timeout.is_zero() {
            return Err(ErrorKind::InvalidInput.into());
        }
        let net = shared::net()?;
        let handle = net.with(|stack| stack.tcp_connect(*addr))?;
        let stream = Self::from_handle(net, handle);
        let connected = net.block(
            Source::Tcp(handle),
            Want::WRITE,
            options::deadline(Some(timeout)),
            false,
            |stack| stack.tcp_connected(handle),
        );
        match connected {
            Ok(()) => Ok(stream),
            Err(e) => {
                net.with(|stack| stack.tcp_abort(handle));
                Err(e)
            }
        }
    }

    /// Reads what has come, at most `buf.len()` bytes; waits when nothing has. `Ok(0)` at
    /// the end of the stream (or for an empty `buf`); `ConnectionReset` when the peer reset.
    pub fn read(&self, buf: &mut [u8]) -> Result<usize> {
        let handle = self.handle;
        self.net.block(
            Source::Tcp(handle),
            Want::READ,
            options::deadline(self.options.read_timeout()),
            self.options.nonblocking(),
            |stack| stack.tcp_recv(handle, buf),
        )
    }

    /// Queues what of `buf` fits in the send buffer; waits while none does. `Ok(0)` only
    /// for an empty `buf`.
    pub fn write(&self, buf: &[u8]) -> Result<usize> {
        let handle = self.handle;
        self.net.block(
            Source::Tcp(handle),
            Want::WRITE,
            options::deadline(self.options.write_timeout()),
            self.options.nonblocking(),
            |stack| stack.tcp_send(handle, buf),
        )
    }

    /// Writes all of `buf`, waiting for room as needed.
    pub fn write_all(&self, mut buf: &[u8]) -> Result<()> {
        while !buf.is_empty() {
            let n = self.write(buf)?;
            buf = &buf[n..];
        }
        Ok(())
    }

    /// Fills `buf`; `NotConnected` when the stream ends first.
    pub fn read_exact(&self, mut buf: &mut [u8]) -> Result<()> {
        while !buf.is_empty() {
            match self.read(buf)? {
                0 => return Err(ErrorKind::NotConnected.into()),
                n => buf = &mut buf[n..],
            }
        }
        Ok(())
    }

    /// Closes the read half, the write half (the peer reads the end once the data queued
    /// is out), or both.
    pub fn shutdown(&self, how: Shutdown) -> Result<()> {
        self.net.with(|stack| stack.tcp_shutdown(self.handle, how))
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> Result<SocketAddrV4> {
        self.net
            .with(|stack| stack.tcp_endpoints(self.handle))
            .map(|(_, peer)| peer)
    }

    /// This end's address.
    pub fn local_addr(&self) -> Result<SocketAddrV4> {
        self.net
            .with(|stack| stack.tcp_endpoints(self.handle))
            .map(|(local, _)| local)
    }

    /// `true` (the default here, unlike `std`) sends each write at once; `false` turns
    /// Nagle's algorithm on, which holds small writes while data is unacknowledged.
    pub fn set_nodelay(&self, nodelay: bool) -> Result<()> {
        self.net
            .with(|stack| stack.tcp_set_nodelay(self.handle, nodelay))
    }

    /// How long a read may wait (`None`: for ever); a zero duration is `InvalidInput`.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> Result<()> {
        self.options.set_read_timeout(timeout)
    }

    /// How long a write may wait (`None`: for ever); a zero duration is `InvalidInput`.
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> Result<()> {
        self.options.set_write_timeout(timeout)
    }

    /// The read timeout.
    pub fn read_timeout(&self) -> Result<Option<Duration>> {
        Ok(self.options.read_timeout())
    }

    /// The write timeout.
    pub fn write_timeout(&self) -> Result<Option<Duration>> {
        Ok(self.options.write_timeout())
    }

    /// Makes reads and writes return `WouldBlock` instead of waiting.
    pub fn set_nonblocking(&self, nonblocking: bool) -> Result<()> {
        self.options.set_nonblocking(nonblocking);
        Ok(())
    }

    pub(super) fn source(&self) -> Source {
        Source::Tcp(self.handle)
    }
}

impl Drop for TcpStream {
    fn drop(&mut self) {
        let handle = self.handle;
        self.net.with(|stack| stack.tcp_close(handle));
    }
}

impl embedded_io::ErrorType for TcpStream {
    type Error = Error;
}

impl embedded_io::Read for TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        TcpStream::read(self, buf)
    }
}

impl embedded_io::Write for TcpStream {
    fn write(&mut self, buf: &[u8]) -> Result<usize> {
        TcpStream::write(self, buf)
    }

    /// Data goes out as soon as it is written: nothing to do.
    fn flush(&mut self) -> Result<()> {
        Ok(())
    }
}

impl embedded_io::ErrorType for &TcpStream {
    type Error = Error;
}

impl embedded_io::Read for &TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        TcpStream::read(self, buf)
    }
}

impl embedded_io::Write for &TcpStream {
    fn write(&mut self, buf: &[u8]) -> Result<usize> {
        TcpStream::write(self, buf)
    }

    fn flush(&mut self) -> Result<()> {
        Ok(())
    }
}
