//! The TCP/IP stack as a value: one interface over one [`NetDevice`], its sockets, DHCP
//! and DNS. Nothing here blocks: a call that would have to wait returns
//! [`ErrorKind::WouldBlock`], and [`Stack::poll`] moves frames when told the time. The
//! blocking sockets of [`super`] wrap one `Stack` in a lock; host tests drive two.
//!
//! smoltcp's traps (DESIGN.md §5) are handled here:
//! - a listening socket holds one connection, so a listener is a pool of sockets on its
//!   port: after every frame, the pool is topped up to [`BACKLOG`] sockets still
//!   listening (a burst of SYNs finds one each), up to [`MAX_PENDING`] connections
//!   waiting for `accept` (beyond that a SYN is dropped, as Linux does, not reset);
//! - every frame scans every socket, so closed and TIME-WAIT sockets are removed at once;
//! - Nagle is off and ACKs are not delayed (a response written in two parts does not wait);
//! - no burst limit (it would cap the advertised window);
//! - a poll takes at most [`INGRESS_BUDGET`] frames, then sends, and says if more wait.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::vec;
use alloc::vec::Vec;
use core::net::{Ipv4Addr, SocketAddrV4};
use core::time::Duration;

use hal::net::{NetDevice, NetStats};
use smoltcp::iface::{
    Config as IfaceConfig, Interface, PollIngressSingleResult, PollResult, SocketHandle, SocketSet,
};
use smoltcp::socket::dns::{self, GetQueryResultError, QueryHandle, StartQueryError};
use smoltcp::socket::{dhcpv4, tcp, udp};
use smoltcp::wire::{
    DnsQueryType, EthernetAddress, HardwareAddress, IpAddress, IpCidr, IpEndpoint,
    IpListenEndpoint, Ipv4Cidr,
};

use super::config::{Ipv4Config, MAX_DNS_SERVERS, Setup};
use super::error::{ErrorKind, Result};
use super::phy::Phy;

/// Frames one poll takes from the device before it sends.
pub(crate) const INGRESS_BUDGET: usize = 64;
/// Listening sockets a listener keeps ready: SYNs it takes between two frames.
pub const BACKLOG: usize = 8;
/// Connections a listener holds (in handshake or done) before `accept` takes them.
pub const MAX_PENDING: usize = 128;
/// Each TCP connection's receive and send buffers.
const TCP_BUFFER: usize = 32 * 1024;
/// Each UDP socket's queue, in datagrams.
const UDP_PACKETS: usize = 32;
/// DNS lookups in flight at once.
const DNS_QUERIES: usize = 8;
/// How long a closed connection may wait for its peer's last ACK before it is dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(30);
/// Local ports for connections and unbound UDP sockets.
const EPHEMERAL_FIRST: u16 = 49152;

/// A listener's sockets: those listening and those whose connection waits for `accept`.
struct Pool {
    endpoint: IpListenEndpoint,
    handles: Vec<SocketHandle>,
}

impl Pool {
    /// Adds listening sockets until [`BACKLOG`] listen, within [`MAX_PENDING`].
    fn refill(&mut self, sockets: &mut SocketSet<'static>, buffer_size: usize) {
        let listening = self
            .handles
            .iter()
            .filter(|&&h| sockets.get::<tcp::Socket<'_>>(h).state() == tcp::State::Listen)
            .count();
        for _ in listening..BACKLOG {
            if self.handles.len() >= BACKLOG + MAX_PENDING {
                return;
            }
            let mut socket = new_tcp(buffer_size);
            if socket.listen(self.endpoint).is_err() {
                return;
            }
            self.handles.push(sockets.add(socket));
        }
    }
}

/// A TCP socket with `buffer_size` bytes each way, Nagle off and no ACK delay.
fn new_tcp(buffer_size: usize) -> tcp::Socket<'static> {
    let mut socket = tcp::Socket::new(
        tcp::SocketBuffer::new(vec![0; buffer_size]),
        tcp::SocketBuffer::new(vec![0; buffer_size]),
    );
    socket.set_nagle_enabled(false);
    socket.set_ack_delay(None);
    socket
}

/// The connections the listeners have in handshake, as [`Phy::handshakes`] wants them.
fn handshakes(
    listeners: &BTreeMap<u16, Pool>,
    sockets: &SocketSet<'static>,
) -> Vec<([u8; 4], u16, u16)> {
    let mut pending = Vec::new();
    for pool in listeners.values() {
        for &handle in &pool.handles {
            let socket = sockets.get::<tcp::Socket<'_>>(handle);
            if let (tcp::State::SynReceived, Some(local), Some(remote)) = (
                socket.state(),
                socket.local_endpoint(),
                socket.remote_endpoint(),
            ) {
                let IpAddress::Ipv4(peer) = remote.addr;
                pending.push((peer.octets(), remote.port, local.port));
            }
        }
    }
    pending
}

/// The listening ports none of whose pool's sockets listens, as [`Phy::full`] wants them.
fn full(listeners: &BTreeMap<u16, Pool>, sockets: &SocketSet<'static>) -> Vec<u16> {
    listeners
        .iter()
        .filter(|(_, pool)| {
            !pool
                .handles
                .iter()
                .any(|&h| sockets.get::<tcp::Socket<'_>>(h).state() == tcp::State::Listen)
        })
        .map(|(&port, _)| port)
        .collect()
}

/// Whether a pool socket's connection finished its handshake (and may have ended since).
fn established(state: tcp::State) -> bool {
    !matches!(
        state,
        tcp::State::Listen | tcp::State::SynReceived | tcp::State::Closed
    )
}

/// What the application holds of one TCP connection.
#[derive(Clone, Copy, Debug, Default)]
struct Conn {
    /// The peer closed its half: reads end with 0, not with a reset.
    peer_closed: bool,
    shut_read: bool,
    shut_write: bool,
}

/// Which half of a connection [`Stack::tcp_shutdown`] closes, as `std::net::Shutdown`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shutdown {
    /// No more reads: they return 0.
    Read,
    /// No more writes: the peer reads the end of the stream.
    Write,
    /// Both.
    Both,
}

/// What a socket is ready for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ready {
    /// A read (or an accept) would not wait: data, a connection, the end, or an error.
    pub readable: bool,
    /// A write would not wait: room, or an error.
    pub writable: bool,
}

/// A socket of the stack, as the readiness calls name it.
#[derive(Clone, Copy)]
pub(crate) enum Source {
    Listener(u16),
    Tcp(SocketHandle),
    Udp(SocketHandle),
    Dns,
    Config,
}

/// What a poll did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Polled {
    /// Frames taken from the device.
    pub(crate) received: usize,
    /// The budget ran out with frames still waiting: poll again soon.
    pub(crate) more: bool,
}

/// One interface and its sockets: see the [module docs](self).
pub(crate) struct Stack {
    device: Box<dyn NetDevice + Send>,
    iface: Interface,
    sockets: SocketSet<'static>,
    frame: Vec<u8>,
    scratch: Vec<u8>,
    dhcp: Option<SocketHandle>,
    dns: Option<SocketHandle>,
    config: Option<Ipv4Config>,
    /// Each listening port's pool.
    listeners: BTreeMap<u16, Pool>,
    /// The connections the application holds.
    conns: BTreeMap<SocketHandle, Conn>,
    /// Connections the application dropped, kept until their close is done.
    closing: Vec<SocketHandle>,
    next_port: u16,
    more: bool,
    /// Each new TCP connection's buffers, each way; a UDP socket's queue holds twice that.
    buffer_size: usize,
}

fn smol_time(now: hal::time::Instant) -> smoltcp::time::Instant {
    smoltcp::time::Instant::from_micros(i64::try_from(now.as_nanos() / 1000).unwrap_or(i64::MAX))
}

fn endpoint(addr: SocketAddrV4) -> IpEndpoint {
    IpEndpoint::new(IpAddress::Ipv4(*addr.ip()), addr.port())
}

fn listen_endpoint(addr: SocketAddrV4) -> IpListenEndpoint {
    IpListenEndpoint {
        addr: (!addr.ip().is_unspecified()).then_some(IpAddress::Ipv4(*addr.ip())),
        port: addr.port(),
    }
}

fn socket_addr(endpoint: IpEndpoint) -> SocketAddrV4 {
    let IpAddress::Ipv4(ip) = endpoint.addr;
    SocketAddrV4::new(ip, endpoint.port)
}

impl Stack {
    /// An interface over `device`, configured by `setup`; `seed` varies sequence numbers
    /// and ports from boot to boot. `Err(Other)` when the device's MAC address is not a
    /// unicast one.
    pub(crate) fn new(
        device: Box<dyn NetDevice + Send>,
        setup: Setup,
        now: hal::time::Instant,
        seed: u64,
    ) -> Result<Self> {
        let mac = EthernetAddress(device.mac_address());
        if !mac.is_unicast() {
            log::warn!("net: the device's address {mac} is not unicast; no network");
            return Err(ErrorKind::Other.into());
        }
        let mut device = device;
        let mut frame = vec![0; device.mtu().max(hal::net::MIN_FRAME)];
        let mut scratch = Vec::new();
        let mut config = IfaceConfig::new(HardwareAddress::Ethernet(mac));
        config.random_seed = seed;
        let mut phy = Phy {
            device: &mut *device,
            frame: &mut frame,
            scratch: &mut scratch,
            received: 0,
            handshakes: Vec::new(),
            full: Vec::new(),
        };
        let iface = Interface::new(config, &mut phy, smol_time(now));
        let mut stack = Self {
            device,
            iface,
            sockets: SocketSet::new(Vec::new()),
            frame,
            scratch,
            dhcp: None,
            dns: None,
            config: None,
            listeners: BTreeMap::new(),
            conns: BTreeMap::new(),
            closing: Vec::new(),
            // Within the 16 384 ephemeral ports, from a place that varies with the seed.
            next_port: EPHEMERAL_FIRST + (seed % 16384) as u16,
            more: false,
            buffer_size: TCP_BUFFER,
        };
        match setup {
            Setup::Dhcp => {
                stack.dhcp = Some(stack.sockets.add(dhcpv4::Socket::new()));
            }
            Setup::Static(config) => stack.configure(Some(config)),
        }
        Ok(stack)
    }

    /// What the device counted.
    pub(crate) fn device_stats(&self) -> NetStats {
        self.device.stats()
    }

    /// The interface's address, once it has one.
    pub(crate) fn config(&self) -> Option<&Ipv4Config> {
        self.config.as_ref()
    }

    /// How many sockets the stack holds: the application's, the listeners' pools, those
    /// closing, DHCP and DNS.
    pub(crate) fn socket_count(&self) -> usize {
        self.sockets.iter().count()
    }

    /// Takes up to [`INGRESS_BUDGET`] frames, sends what the sockets have to send, applies
    /// what DHCP learnt, and reaps finished sockets.
    pub(crate) fn poll(&mut self, now: hal::time::Instant) -> Polled {
        let now = smol_time(now);
        self.iface.poll_maintenance(now);
        let Self {
            device,
            iface,
            sockets,
            frame,
            scratch,
            listeners,
            buffer_size,
            ..
        } = self;
        let mut phy = Phy {
            device: &mut **device,
            frame,
            scratch,
            received: 0,
            handshakes: handshakes(listeners, sockets),
            full: full(listeners, sockets),
        };
        let mut more = false;
        for _ in 0..INGRESS_BUDGET {
            more =
                iface.poll_ingress_single(now, &mut phy, sockets) != PollIngressSingleResult::None;
            if !more {
                break;
            }
            for pool in listeners.values_mut() {
                pool.refill(sockets, *buffer_size);
            }
            phy.handshakes = handshakes(listeners, sockets);
            phy.full = full(listeners, sockets);
        }
        // Each round sends at most a frame per socket; a device that fills up ends it.
        for _ in 0..INGRESS_BUDGET {
            if iface.poll_egress(now, &mut phy, sockets) == PollResult::None {
                break;
            }
        }
        let received = phy.received;
        self.more = more;
        self.dhcp_events();
        self.reap();
        Polled { received, more }
    }

    /// How long until the stack must be polled again: `None` when only a frame can give it
    /// work, zero when now.
    pub(crate) fn poll_delay(&mut self, now: hal::time::Instant) -> Option<Duration> {
        if self.more {
            return Some(Duration::ZERO);
        }
        self.iface
            .poll_delay(smol_time(now), &self.sockets)
            .map(|d| Duration::from_micros(d.total_micros()))
    }

    fn dhcp_events(&mut self) {
        let Some(handle) = self.dhcp else { return };
        let config = match self.sockets.get_mut::<dhcpv4::Socket<'_>>(handle).poll() {
            None => return,
            Some(dhcpv4::Event::Configured(config)) => Some(Ipv4Config {
                address: config.address.address(),
                prefix_len: config.address.prefix_len(),
                gateway: config.router,
                dns_servers: config.dns_servers.iter().copied().collect(),
            }),
            Some(dhcpv4::Event::Deconfigured) => None,
        };
        self.configure(config);
    }

    fn configure(&mut self, config: Option<Ipv4Config>) {
        self.iface.update_ip_addrs(|addrs| {
            addrs.clear();
            if let Some(config) = &config {
                let cidr = Ipv4Cidr::new(config.address, config.prefix_len);
                // One address in a list of several: it fits.
                let _ = addrs.push(IpCidr::Ipv4(cidr));
            }
        });
        let routes = self.iface.routes_mut();
        routes.remove_default_ipv4_route();
        if let Some(gateway) = config.as_ref().and_then(|c| c.gateway) {
            // A table of several routes, emptied just above: it fits.
            let _ = routes.add_default_ipv4_route(gateway);
        }
        let servers: Vec<IpAddress> = config
            .iter()
            .flat_map(|c| c.dns_servers.iter().take(MAX_DNS_SERVERS))
            .map(|s| IpAddress::Ipv4(*s))
            .collect();
        match (self.dns, servers.is_empty()) {
            (Some(handle), _) => self
                .sockets
                .get_mut::<dns::Socket<'_>>(handle)
                .update_servers(&servers),
            (None, false) => {
                let queries: Vec<Option<dns::DnsQuery>> = (0..DNS_QUERIES).map(|_| None).collect();
                self.dns = Some(self.sockets.add(dns::Socket::new(&servers, queries)));
            }
            (None, true) => {}
        }
        match &config {
            Some(config) => log::debug!("net: {config}"),
            None => log::debug!("net: no address"),
        }
        self.config = config;
    }

    /// Removes the sockets whose close is done, relistens pool sockets whose connection
    /// failed before `accept`, and notes which peers closed their half.
    fn reap(&mut self) {
        let Self {
            sockets,
            closing,
            listeners,
            conns,
            ..
        } = self;
        closing.retain(|&handle| {
            let done = matches!(
                sockets.get::<tcp::Socket<'_>>(handle).state(),
                tcp::State::Closed | tcp::State::TimeWait
            );
            if done {
                sockets.remove(handle);
            }
            !done
        });
        for pool in listeners.values() {
            for &handle in &pool.handles {
                let socket = sockets.get_mut::<tcp::Socket<'_>>(handle);
                if socket.state() == tcp::State::Closed {
                    // A closed socket and a non-zero port: listening cannot fail.
                    let _ = socket.listen(pool.endpoint);
                }
            }
        }
        for (&handle, conn) in conns.iter_mut() {
            if matches!(
                sockets.get::<tcp::Socket<'_>>(handle).state(),
                tcp::State::CloseWait
                    | tcp::State::LastAck
                    | tcp::State::Closing
                    | tcp::State::TimeWait
            ) {
                conn.peer_closed = true;
            }
        }
    }

    /// Sets the buffer size of the sockets made from now on (the default is 32 KiB).
    pub(crate) fn set_buffer_size(&mut self, bytes: usize) {
        self.buffer_size = bytes;
    }

    /// A local port no TCP (`tcp`) or UDP socket uses.
    fn ephemeral_port(&mut self, tcp: bool) -> Result<u16> {
        for _ in 0..=(u16::MAX - EPHEMERAL_FIRST) {
            let port = self.next_port;
            self.next_port = if port == u16::MAX {
                EPHEMERAL_FIRST
            } else {
                port + 1
            };
            if !self.port_in_use(port, tcp) {
                return Ok(port);
            }
        }
        Err(ErrorKind::AddrInUse.into())
    }

    fn port_in_use(&self, port: u16, tcp: bool) -> bool {
        if tcp && self.listeners.contains_key(&port) {
            return true;
        }
        self.sockets.iter().any(|(_, socket)| match socket {
            smoltcp::socket::Socket::Tcp(s) if tcp => {
                s.local_endpoint().is_some_and(|e| e.port == port)
                    || s.listen_endpoint().port == port
            }
            smoltcp::socket::Socket::Udp(s) if !tcp => s.endpoint().port == port,
            _ => false,
        })
    }

    fn has_address(&self) -> Result<()> {
        match self.config {
            Some(_) => Ok(()),
            None => Err(ErrorKind::AddrNotAvailable.into()),
        }
    }

    /// Starts listening on `addr` (port 0: a free one); returns the port.
    pub(crate) fn tcp_listen(&mut self, addr: SocketAddrV4) -> Result<u16> {
        let port = match addr.port() {
            0 => self.ephemeral_port(true)?,
            port if self.port_in_use(port, true) => return Err(ErrorKind::AddrInUse.into()),
            port => port,
        };
        let endpoint = listen_endpoint(SocketAddrV4::new(*addr.ip(), port));
        let mut pool = Pool {
            endpoint,
            handles: Vec::with_capacity(BACKLOG),
        };
        pool.refill(&mut self.sockets, self.buffer_size);
        if pool.handles.is_empty() {
            return Err(ErrorKind::InvalidInput.into());
        }
        self.listeners.insert(port, pool);
        Ok(port)
    }

    /// Takes a connection that finished its handshake on the listener of `port`, and puts
    /// a fresh listening socket in its place.
    pub(crate) fn tcp_accept(&mut self, port: u16) -> Result<SocketHandle> {
        let pool = self
            .listeners
            .get_mut(&port)
            .ok_or(ErrorKind::NotConnected)?;
        let sockets = &mut self.sockets;
        let index = pool
            .handles
            .iter()
            .position(|&h| established(sockets.get::<tcp::Socket<'_>>(h).state()))
            .ok_or(ErrorKind::WouldBlock)?;
        let accepted = pool.handles.swap_remove(index);
        pool.refill(sockets, self.buffer_size);
        self.conns.insert(accepted, Conn::default());
        Ok(accepted)
    }

    /// Stops listening on `port`; connections not yet accepted are reset.
    pub(crate) fn tcp_unlisten(&mut self, port: u16) {
        let handles = self.listeners.remove(&port).map(|p| p.handles);
        for handle in handles.unwrap_or_default() {
            self.sockets.get_mut::<tcp::Socket<'_>>(handle).abort();
            self.closing.push(handle);
        }
    }

    /// Starts a connection to `remote`; [`Stack::tcp_connected`] says when it is up.
    pub(crate) fn tcp_connect(&mut self, remote: SocketAddrV4) -> Result<SocketHandle> {
        if remote.port() == 0 || remote.ip().is_unspecified() || remote.ip().is_broadcast() {
            return Err(ErrorKind::InvalidInput.into());
        }
        self.has_address()?;
        let port = self.ephemeral_port(true)?;
        let mut socket = new_tcp(self.buffer_size);
        socket
            .connect(self.iface.context(), endpoint(remote), port)
            .map_err(|_| ErrorKind::InvalidInput)?;
        let handle = self.sockets.add(socket);
        self.conns.insert(handle, Conn::default());
        Ok(handle)
    }

    /// `Ok` once the connection is up, `WouldBlock` while the handshake goes on,
    /// `ConnectionRefused` when the peer reset it.
    pub(crate) fn tcp_connected(&mut self, handle: SocketHandle) -> Result<()> {
        match self.sockets.get::<tcp::Socket<'_>>(handle).state() {
            tcp::State::SynSent | tcp::State::SynReceived => Err(ErrorKind::WouldBlock.into()),
            tcp::State::Closed => Err(ErrorKind::ConnectionRefused.into()),
            _ => Ok(()),
        }
    }

    fn conn(&mut self, handle: SocketHandle) -> Result<(Conn, &mut tcp::Socket<'static>)> {
        let conn = *self.conns.get(&handle).ok_or(ErrorKind::NotConnected)?;
        Ok((conn, self.sockets.get_mut::<tcp::Socket<'static>>(handle)))
    }

    /// Queues what of `data` fits; `WouldBlock` when nothing does.
    pub(crate) fn tcp_send(&mut self, handle: SocketHandle, data: &[u8]) -> Result<usize> {
        let (conn, socket) = self.conn(handle)?;
        if conn.shut_write {
            return Err(ErrorKind::NotConnected.into());
        }
        if data.is_empty() {
            return Ok(0);
        }
        if socket.can_send() {
            return match socket.send_slice(data) {
                Ok(0) | Err(_) => Err(ErrorKind::WouldBlock.into()),
                Ok(n) => Ok(n),
            };
        }
        match socket.state() {
            tcp::State::SynSent | tcp::State::SynReceived => Err(ErrorKind::WouldBlock.into()),
            _ if socket.may_send() => Err(ErrorKind::WouldBlock.into()),
            tcp::State::Closed if !conn.peer_closed => Err(ErrorKind::ConnectionReset.into()),
            _ => Err(ErrorKind::NotConnected.into()),
        }
    }

    /// Takes received data into `buf`; `Ok(0)` at the end of the stream, `WouldBlock` when
    /// nothing has come yet.
    pub(crate) fn tcp_recv(&mut self, handle: SocketHandle, buf: &mut [u8]) -> Result<usize> {
        let (conn, socket) = self.conn(handle)?;
        if conn.shut_read || buf.is_empty() {
            return Ok(0);
        }
        if socket.can_recv() {
            return match socket.recv_slice(buf) {
                Ok(0) | Err(_) => Err(ErrorKind::WouldBlock.into()),
                Ok(n) => Ok(n),
            };
        }
        match socket.state() {
            tcp::State::SynSent | tcp::State::SynReceived => Err(ErrorKind::WouldBlock.into()),
            _ if socket.may_recv() => Err(ErrorKind::WouldBlock.into()),
            tcp::State::Closed if !conn.peer_closed => Err(ErrorKind::ConnectionReset.into()),
            _ => Ok(0),
        }
    }

    /// Closes one half or both: a closed write half sends FIN once the data queued is out.
    pub(crate) fn tcp_shutdown(&mut self, handle: SocketHandle, how: Shutdown) -> Result<()> {
        let (_, socket) = self.conn(handle)?;
        if how != Shutdown::Read {
            socket.close();
        }
        let conn = self.conns.get_mut(&handle).ok_or(ErrorKind::NotConnected)?;
        conn.shut_read |= how != Shutdown::Write;
        conn.shut_write |= how != Shutdown::Read;
        Ok(())
    }

    /// Gives the connection up: it closes (FIN after the queued data) and is removed once
    /// its close is done, or after [`CLOSE_TIMEOUT`] without an answer.
    pub(crate) fn tcp_close(&mut self, handle: SocketHandle) {
        if self.conns.remove(&handle).is_none() {
            return;
        }
        let socket = self.sockets.get_mut::<tcp::Socket<'_>>(handle);
        socket.close();
        socket.set_timeout(Some(CLOSE_TIMEOUT.into()));
        self.closing.push(handle);
    }

    /// Resets the connection at once (a connect that timed out).
    pub(crate) fn tcp_abort(&mut self, handle: SocketHandle) {
        if self.conns.remove(&handle).is_some() {
            self.sockets.get_mut::<tcp::Socket<'_>>(handle).abort();
            self.closing.push(handle);
        }
    }

    /// The connection's local and remote addresses.
    pub(crate) fn tcp_endpoints(
        &self,
        handle: SocketHandle,
    ) -> Result<(SocketAddrV4, SocketAddrV4)> {
        if !self.conns.contains_key(&handle) {
            return Err(ErrorKind::NotConnected.into());
        }
        let socket = self.sockets.get::<tcp::Socket<'_>>(handle);
        match (socket.local_endpoint(), socket.remote_endpoint()) {
            (Some(local), Some(remote)) => Ok((socket_addr(local), socket_addr(remote))),
            _ => Err(ErrorKind::NotConnected.into()),
        }
    }

    /// Turns Nagle's algorithm off (`true`, the default) or on.
    pub(crate) fn tcp_set_nodelay(&mut self, handle: SocketHandle, nodelay: bool) -> Result<()> {
        let (_, socket) = self.conn(handle)?;
        socket.set_nagle_enabled(!nodelay);
        Ok(())
    }

    /// Binds a UDP socket to `addr` (port 0: a free one).
    pub(crate) fn udp_bind(&mut self, addr: SocketAddrV4) -> Result<(SocketHandle, u16)> {
        let port = match addr.port() {
            0 => self.ephemeral_port(false)?,
            port if self.port_in_use(port, false) => return Err(ErrorKind::AddrInUse.into()),
            port => port,
        };
        let buffer = || {
            udp::PacketBuffer::new(
                vec![udp::PacketMetadata::EMPTY; UDP_PACKETS],
                vec![0; 2 * self.buffer_size],
            )
        };
        let mut socket = udp::Socket::new(buffer(), buffer());
        socket
            .bind(listen_endpoint(SocketAddrV4::new(*addr.ip(), port)))
            .map_err(|_| ErrorKind::InvalidInput)?;
        Ok((self.sockets.add(socket), port))
    }

    /// Queues one datagram to `to`; `WouldBlock` when the queue is full.
    pub(crate) fn udp_send_to(
        &mut self,
        handle: SocketHandle,
        data: &[u8],
        to: SocketAddrV4,
    ) -> Result<usize> {
        if to.port() == 0 || to.ip().is_unspecified() {
            return Err(ErrorKind::InvalidInput.into());
        }
        self.has_address()?;
        let socket = self.sockets.get_mut::<udp::Socket<'_>>(handle);
        if data.len() > socket.payload_send_capacity() {
            return Err(ErrorKind::InvalidInput.into());
        }
        match socket.send_slice(data, endpoint(to)) {
            Ok(()) => Ok(data.len()),
            Err(udp::SendError::BufferFull) => Err(ErrorKind::WouldBlock.into()),
            Err(udp::SendError::Unaddressable) => Err(ErrorKind::InvalidInput.into()),
        }
    }

    /// Takes the next datagram into `buf` (the rest of a longer one is lost, as in `std`).
    pub(crate) fn udp_recv_from(
        &mut self,
        handle: SocketHandle,
        buf: &mut [u8],
    ) -> Result<(usize, SocketAddrV4)> {
        let socket = self.sockets.get_mut::<udp::Socket<'_>>(handle);
        match socket.recv() {
            Ok((data, meta)) => {
                let n = data.len().min(buf.len());
                buf[..n].copy_from_slice(&data[..n]);
                Ok((n, socket_addr(meta.endpoint)))
            }
            Err(_) => Err(ErrorKind::WouldBlock.into()),
        }
    }

    /// Closes a UDP socket.
    pub(crate) fn udp_close(&mut self, handle: SocketHandle) {
        self.sockets.remove(handle);
    }

    /// Starts looking up `name`'s IPv4 addresses.
    pub(crate) fn dns_start(&mut self, name: &str) -> Result<QueryHandle> {
        let handle = self.dns.ok_or(ErrorKind::AddrNotAvailable)?;
        let socket = self.sockets.get_mut::<dns::Socket<'_>>(handle);
        socket
            .start_query(self.iface.context(), name, DnsQueryType::A)
            .map_err(|e| match e {
                StartQueryError::NoFreeSlot => ErrorKind::OutOfMemory.into(),
                StartQueryError::InvalidName | StartQueryError::NameTooLong => {
                    ErrorKind::InvalidInput.into()
                }
            })
    }

    /// The answer to a lookup: `WouldBlock` while it is under way.
    pub(crate) fn dns_result(&mut self, query: QueryHandle) -> Result<Vec<Ipv4Addr>> {
        let handle = self.dns.ok_or(ErrorKind::AddrNotAvailable)?;
        match self
            .sockets
            .get_mut::<dns::Socket<'_>>(handle)
            .get_query_result(query)
        {
            Ok(addrs) => Ok(addrs.iter().map(|&IpAddress::Ipv4(a)| a).collect()),
            Err(GetQueryResultError::Pending) => Err(ErrorKind::WouldBlock.into()),
            Err(GetQueryResultError::Failed) => Err(ErrorKind::NotFound.into()),
        }
    }

    /// Gives up a lookup (its caller's deadline passed).
    pub(crate) fn dns_cancel(&mut self, query: QueryHandle) {
        if let Some(handle) = self.dns {
            self.sockets
                .get_mut::<dns::Socket<'_>>(handle)
                .cancel_query(query);
        }
    }

    /// What `source` is ready for now.
    pub(crate) fn readiness(&self, source: Source) -> Ready {
        match source {
            Source::Listener(port) => Ready {
                readable: self.listeners.get(&port).is_none_or(|pool| {
                    pool.handles
                        .iter()
                        .any(|&h| established(self.sockets.get::<tcp::Socket<'_>>(h).state()))
                }),
                writable: false,
            },
            Source::Tcp(handle) => {
                let Some(conn) = self.conns.get(&handle) else {
                    return Ready {
                        readable: true,
                        writable: true,
                    };
                };
                let socket = self.sockets.get::<tcp::Socket<'_>>(handle);
                let connecting = matches!(
                    socket.state(),
                    tcp::State::SynSent | tcp::State::SynReceived
                );
                Ready {
                    readable: conn.shut_read
                        || socket.can_recv()
                        || (!connecting && !socket.may_recv()),
                    writable: conn.shut_write
                        || socket.can_send()
                        || (!connecting && !socket.may_send()),
                }
            }
            Source::Udp(handle) => {
                let socket = self.sockets.get::<udp::Socket<'_>>(handle);
                Ready {
                    readable: socket.can_recv(),
                    writable: socket.can_send(),
                }
            }
            // A lookup is checked by asking for its result, which frees it when done: its
            // waiter looks after every poll.
            Source::Dns => Ready {
                readable: true,
                writable: false,
            },
            Source::Config => Ready {
                readable: self.config.is_some(),
                writable: false,
            },
        }
    }
}
