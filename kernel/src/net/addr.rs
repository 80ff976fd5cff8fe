//! Addresses as the sockets take them, and names looked up through DNS.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use core::time::Duration;

use super::error::{ErrorKind, Result};
use super::options;
use super::shared::{self, Want};
use super::stack::Source;

/// How long [`lookup_host`] waits at most; the name servers are asked again within it.
pub const LOOKUP_TIMEOUT: Duration = Duration::from_secs(15);

/// What names one or more IPv4 socket addresses, as `std::net::ToSocketAddrs`:
/// `SocketAddrV4`, `(Ipv4Addr, u16)`, `"10.0.2.2:80"`, `"example.com:80"` (looked up
/// through DNS) and `("example.com", 80)`. An IPv6 address is `InvalidInput`.
pub trait ToSocketAddrs {
    /// The addresses, in order.
    fn to_socket_addrs(&self) -> Result<Vec<SocketAddrV4>>;

    /// The first address.
    fn first(&self) -> Result<SocketAddrV4> {
        self.to_socket_addrs()?
            .first()
            .copied()
            .ok_or_else(|| ErrorKind::InvalidInput.into())
    }
}

impl ToSocketAddrs for SocketAddrV4 {
    fn to_socket_addrs(&self) -> Result<Vec<SocketAddrV4>> {
        Ok(vec![*self])
    }
}

impl ToSocketAddrs for SocketAddr {
    fn to_socket_addrs(&self) -> Result<Vec<SocketAddrV4>> {
        match self {
            SocketAddr::V4(addr) => Ok(vec![*addr]),
            SocketAddr::V6(_) => Err(ErrorKind::InvalidInput.into()),
        }
    }
}

impl ToSocketAddrs for (Ipv4Addr, u16) {
    fn to_socket_addrs(&self) -> Result<Vec<SocketAddrV4>> {
        Ok(vec![SocketAddrV4::new(self.0, self.1)])
    }
}

impl ToSocketAddrs for (&str, u16) {
    fn to_socket_addrs(&self) -> Result<Vec<SocketAddrV4>> {
        let (host, port) = *self;
        Ok(lookup_host(host)?
            .into_iter()
            .map(|ip| SocketAddrV4::new(ip, port))
            .collect())
    }
}

impl ToSocketAddrs for str {
    fn to_socket_addrs(&self) -> Result<Vec<SocketAddrV4>> {
        if let Ok(addr) = self.parse::<SocketAddrV4>() {
            return Ok(vec![addr]);
        }
        let (host, port) = self.rsplit_once(':').ok_or(ErrorKind::InvalidInput)?;
        let port = port.parse::<u16>().map_err(|_| ErrorKind::InvalidInput)?;
        (host, port).to_socket_addrs()
    }
}

impl ToSocketAddrs for String {
    fn to_socket_addrs(&self) -> Result<Vec<SocketAddrV4>> {
        self.as_str().to_socket_addrs()
    }
}

impl<T: ToSocketAddrs + ?Sized> ToSocketAddrs for &T {
    fn to_socket_addrs(&self) -> Result<Vec<SocketAddrV4>> {
        T::to_socket_addrs(self)
    }
}

/// The IPv4 addresses of `host`: a dotted address stands for itself, a name is asked of
/// the name servers (DHCP's, or `dns=` on the command line). Parks the thread until the
/// answer, at most [`LOOKUP_TIMEOUT`]. `NotFound` when the name has no address or the
/// servers do not answer; `AddrNotAvailable` without a name server.
pub fn lookup_host(host: &str) -> Result<Vec<Ipv4Addr>> {
    if let Ok(ip) = host.parse::<Ipv4Addr>() {
        return Ok(vec![ip]);
    }
    let net = shared::net()?;
    let query = net.with(|stack| stack.dns_start(host))?;
    let answer = net.block(
        Source::Dns,
        Want::READ,
        options::deadline(Some(LOOKUP_TIMEOUT)),
        false,
        |stack| stack.dns_result(query),
    );
    if answer
        .as_ref()
        .is_err_and(|e| e.kind() == ErrorKind::TimedOut)
    {
        net.with(|stack| stack.dns_cancel(query));
    }
    match answer {
        Ok(addrs) if addrs.is_empty() => Err(ErrorKind::NotFound.into()),
        other => other,
    }
}
