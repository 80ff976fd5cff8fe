//! What a socket call returns when it fails.

use core::fmt;

/// What kind of failure an [`Error`] is, as `std::io::ErrorKind` names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The machine has no network device.
    NoDevice,
    /// The interface has no IPv4 address (yet): DHCP has not answered.
    AddrNotAvailable,
    /// The peer answered the connection attempt with a reset: nothing listens there.
    ConnectionRefused,
    /// The peer reset the connection.
    ConnectionReset,
    /// The socket is not connected (any more).
    NotConnected,
    /// The local address is taken by another socket.
    AddrInUse,
    /// An argument is not valid: port 0, an unspecified address, an empty or bad name.
    InvalidInput,
    /// The deadline passed first.
    TimedOut,
    /// The socket is non-blocking and the call would have had to wait.
    WouldBlock,
    /// A name has no IPv4 address, or the name server said so.
    NotFound,
    /// No room for another socket or query.
    OutOfMemory,
    /// Anything else.
    Other,
}

/// A failed socket call; [`Error::kind`] says which way it failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Error(ErrorKind);

impl Error {
    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.0
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Self {
        Self(kind)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            ErrorKind::NoDevice => "no network device (boot with a NIC: `--net user`)",
            ErrorKind::AddrNotAvailable => "the interface has no IPv4 address yet",
            ErrorKind::ConnectionRefused => "connection refused",
            ErrorKind::ConnectionReset => "connection reset by peer",
            ErrorKind::NotConnected => "socket is not connected",
            ErrorKind::AddrInUse => "address in use",
            ErrorKind::InvalidInput => "invalid argument",
            ErrorKind::TimedOut => "timed out",
            ErrorKind::WouldBlock => "operation would block",
            ErrorKind::NotFound => "name not found",
            ErrorKind::OutOfMemory => "no room for another socket",
            ErrorKind::Other => "network error",
        })
    }
}

impl core::error::Error for Error {}

impl embedded_io::Error for Error {
    fn kind(&self) -> embedded_io::ErrorKind {
        use embedded_io::ErrorKind as Io;
        match self.0 {
            ErrorKind::NoDevice | ErrorKind::AddrNotAvailable => Io::AddrNotAvailable,
            ErrorKind::ConnectionRefused => Io::ConnectionRefused,
            ErrorKind::ConnectionReset => Io::ConnectionReset,
            ErrorKind::NotConnected => Io::NotConnected,
            ErrorKind::AddrInUse => Io::AddrInUse,
            ErrorKind::InvalidInput => Io::InvalidInput,
            ErrorKind::TimedOut => Io::TimedOut,
            ErrorKind::NotFound => Io::NotFound,
            ErrorKind::OutOfMemory => Io::OutOfMemory,
            // embedded-io has no WouldBlock: a non-blocking socket read through its traits
            // reports it as Other, and `Error::kind` tells.
            ErrorKind::WouldBlock | ErrorKind::Other => Io::Other,
        }
    }
}

/// The `Result` of a socket call.
pub type Result<T> = core::result::Result<T, Error>;
