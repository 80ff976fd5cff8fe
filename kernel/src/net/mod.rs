//! TCP/IP over the board's first network device, as `std::net` has it: IPv4 only.
//!
//! ```ignore
//! use kernel::net::{TcpListener, TcpStream};
//!
//! let listener = TcpListener::bind("0.0.0.0:7")?;
//! for stream in listener.incoming() {
//!     let stream = stream?;
//!     kernel::thread::spawn(move || {
//!         let mut buf = [0; 4096];
//!         while let Ok(n @ 1..) = stream.read(&mut buf) {
//!             stream.write_all(&buf[..n])?;
//!         }
//!         Ok::<(), kernel::net::Error>(())
//!     });
//! }
//! ```
//!
//! The stack starts the first time an application uses it, over the first NIC the board
//! found: an application that opens no socket links no TCP/IP. Its address comes from
//! the command line (`ip=10.0.2.15/24 gw=10.0.2.2 dns=10.0.2.3`), else from DHCP;
//! [`config`] tells it, [`wait_for_config`] waits for DHCP.
//!
//! Blocking calls park the calling thread until the stack has progress (the NIC's
//! interrupt, or a timer the stack asked for) or their timeout passes; in non-blocking
//! mode they return [`ErrorKind::WouldBlock`] instead. [`poll`] waits on many sockets at
//! once. Sockets may be used from threads on any core: how the cores share the one stack
//! is told in `shared.rs`.

mod addr;
mod config;
mod error;
#[doc(hidden)]
pub mod fuzz;
mod options;
mod phy;
mod pool;
mod shard;
mod shared;
mod stack;
mod tcp;
#[cfg(test)]
mod tests;
mod udp;
mod waiters;

use core::time::Duration;

pub use core::net::{Ipv4Addr, SocketAddrV4};

pub use self::addr::{LOOKUP_TIMEOUT, ToSocketAddrs, lookup_host};
pub use self::config::Ipv4Config;
pub use self::error::{Error, ErrorKind, Result};
use self::shared::Want;
use self::stack::Source;
pub use self::stack::{BACKLOG, MAX_PENDING, Ready, Shutdown};
pub use self::tcp::{CONNECT_TIMEOUT, Incoming, TcpListener, TcpStream};
pub use self::udp::UdpSocket;

/// The interface's IPv4 configuration, `None` while DHCP has not answered. Starts the
/// stack; `NoDevice` on a machine without a NIC.
pub fn config() -> Result<Option<Ipv4Config>> {
    Ok(shared::net()?.config())
}

/// Waits (parked) until the interface has an address, at most `timeout`; `TimedOut` if
/// DHCP has not answered by then.
pub fn wait_for_config(timeout: Duration) -> Result<Ipv4Config> {
    let net = shared::net()?;
    net.block(
        Source::Config,
        Want::READ,
        options::deadline(Some(timeout)),
        false,
        |stack| {
            stack
                .config()
                .cloned()
                .ok_or_else(|| ErrorKind::WouldBlock.into())
        },
    )
}

/// What the NIC counted: frames in and out, and those dropped (malformed, too long, no
/// room).
pub fn device_stats() -> Result<hal::net::NetStats> {
    Ok(shared::net()?.with(|stack| stack.device_stats()))
}

/// How many sockets the stack holds, its own (listeners' backlogs, connections closing,
/// DHCP, DNS) included.
pub fn socket_count() -> Result<usize> {
    Ok(shared::net()?.with(|stack| stack.socket_count()))
}

/// What [`poll`] waits for on one socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interest {
    /// Data to read, a connection to accept, the end of the stream, or an error.
    pub read: bool,
    /// Room to write, or an error.
    pub write: bool,
}

impl Interest {
    /// Reading (or accepting).
    pub const READ: Self = Self {
        read: true,
        write: false,
    };
    /// Writing.
    pub const WRITE: Self = Self {
        read: false,
        write: true,
    };
    /// Either.
    pub const BOTH: Self = Self {
        read: true,
        write: true,
    };
}

/// A socket [`poll`] can wait on: a listener, a stream or a UDP socket.
#[derive(Clone, Copy)]
pub struct Pollable(Source);

impl core::fmt::Debug for Pollable {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Pollable")
    }
}

impl From<&TcpListener> for Pollable {
    fn from(listener: &TcpListener) -> Self {
        Self(listener.source())
    }
}

impl From<&TcpStream> for Pollable {
    fn from(stream: &TcpStream) -> Self {
        Self(stream.source())
    }
}

impl From<&UdpSocket> for Pollable {
    fn from(socket: &UdpSocket) -> Self {
        Self(socket.source())
    }
}

/// One socket of a [`poll`] call: what to wait for, and (after the call) what it is
/// ready for.
#[derive(Clone, Copy, Debug)]
pub struct PollEntry {
    socket: Pollable,
    interest: Interest,
    ready: Ready,
}

impl PollEntry {
    /// Waiting for `interest` on `socket`.
    pub fn new(socket: impl Into<Pollable>, interest: Interest) -> Self {
        Self {
            socket: socket.into(),
            interest,
            ready: Ready::default(),
        }
    }

    /// What the socket was ready for when [`poll`] returned.
    pub fn ready(&self) -> Ready {
        self.ready
    }
}

/// Waits until at least one socket of `entries` is ready for what its entry asks, or
/// `timeout` passes (`None`: for ever; zero: only looks). Returns how many are ready,
/// 0 after a timeout, and sets each entry's [`PollEntry::ready`].
pub fn poll(entries: &mut [PollEntry], timeout: Option<Duration>) -> Result<usize> {
    let net = shared::net()?;
    let sources: alloc::vec::Vec<(Source, Want)> = entries
        .iter()
        .map(|e| {
            (
                e.socket.0,
                Want {
                    read: e.interest.read,
                    write: e.interest.write,
                },
            )
        })
        .collect();
    let deadline = match timeout {
        Some(Duration::ZERO) => Some(crate::sched::machine().clock.now()),
        other => options::deadline(other),
    };
    net.wait_ready(&sources, deadline, |i, ready| {
        if let Some(entry) = entries.get_mut(i) {
            entry.ready = ready;
        }
    })
}
