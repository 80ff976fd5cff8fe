//! The TCP/IP stack as a value: one interface over one [`NetDevice`], its sockets in
//! shards ([`super::shard`]), DHCP and DNS. Nothing here blocks: a call that would have to
//! wait returns [`ErrorKind::WouldBlock`], and [`Stack::poll`] moves frames when told the
//! time. The blocking sockets of [`super`] wrap one `Stack` in a lock; host tests drive two.
//!
//! smoltcp's traps (DESIGN.md §5) are handled here:
//! - a listening socket holds one connection, so a listener is a pool of sockets on its
//!   port ([`super::pool`]): after every frame for the port, the pool is topped up to
//!   [`BACKLOG`] sockets still listening (a burst of SYNs finds one each), up to
//!   [`MAX_PENDING`] connections waiting for `accept` (beyond that a SYN is dropped, as
//!   Linux drops it, so the peer sends it again); a SYN repeated during its handshake is
//!   dropped;
//! - every frame scans a whole socket set: connections live in shards of at most
//!   [`SHARD_SIZE`](super::shard::SHARD_SIZE) sockets, each frame is handed to its
//!   connection's shard only, and only shards with work are sent from and timed; closed and
//!   TIME-WAIT sockets are removed at once;
//! - Nagle is off and ACKs are not delayed (a response written in two parts does not wait);
//! - no burst limit (it would cap the advertised window);
//! - a poll takes at most [`INGRESS_BUDGET`] frames, then sends, and says if more wait.

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec;
use alloc::vec::Vec;
use core::net::{Ipv4Addr, SocketAddrV4};
use core::time::Duration;

use hal::net::{NetDevice, NetStats};
use smoltcp::iface::{Config as IfaceConfig, Interface, PollResult, SocketHandle};
use smoltcp::socket::dns::{self, GetQueryResultError, QueryHandle, StartQueryError};
use smoltcp::socket::{dhcpv4, tcp, udp};
use smoltcp::wire::{
    DnsQueryType, EthernetAddress, HardwareAddress, IpAddress, IpCidr, IpEndpoint,
    IpListenEndpoint, Ipv4Cidr,
};

use super::config::{Ipv4Config, MAX_DNS_SERVERS, Setup};
use super::error::{ErrorKind, Result};
use super::phy::{self, Inbound, Phy, Tuple};
use super::pool::Pool;
use super::shard::{Conn, ConnHandle, ShardId, Shards};

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
/// How long after an ARP request a socket that found no neighbour stays silent: smoltcp's
/// discovery silence. An ARP frame coming in within it wakes the shards that sent then.
const ARP_SILENCE: smoltcp::time::Duration = smoltcp::time::Duration::from_millis(1000);

/// A TCP socket with `buffer_size` bytes each way, Nagle off and no ACK delay.
pub(super) fn new_tcp(buffer_size: usize) -> tcp::Socket<'static> {
    let mut socket = tcp::Socket::new(
        tcp::SocketBuffer::new(vec![0; buffer_size]),
        tcp::SocketBuffer::new(vec![0; buffer_size]),
    );
    socket.set_nagle_enabled(false);
    socket.set_ack_delay(None);
    socket
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
    Tcp(ConnHandle),
    Udp(SocketHandle),
    Dns,
    Config,
}

impl Source {
    /// The shard whose polls may change what it is ready for.
    pub(crate) fn shard(self) -> ShardId {
        match self {
            Self::Tcp(conn) => conn.shard(),
            Self::Listener(_) | Self::Udp(_) | Self::Dns | Self::Config => ShardId::BASE,
        }
    }
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
    shards: Shards,
    /// The shards the last poll worked on.
    touched: Vec<ShardId>,
    frame: Vec<u8>,
    scratch: Vec<u8>,
    /// DHCP's and DNS's sockets, in shard 0.
    dhcp: Option<SocketHandle>,
    dns: Option<SocketHandle>,
    config: Option<Ipv4Config>,
    /// Each listening port's pool.
    listeners: BTreeMap<u16, Pool>,
    /// Each UDP socket's port.
    udp_ports: BTreeMap<SocketHandle, u16>,
    next_port: u16,
    more: bool,
    /// Each new TCP connection's buffers, each way; a UDP socket's queue holds twice that.
    buffer_size: usize,
    /// Until when an ARP request sent may still be answered, and the shards that sent
    /// while it might: their sockets may be silent, waiting for that neighbour.
    arp_until: smoltcp::time::Instant,
    arp_waiting: BTreeSet<ShardId>,
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
        let frame = vec![0; device.mtu().max(hal::net::MIN_FRAME)];
        let mut scratch = Vec::new();
        let mut config = IfaceConfig::new(HardwareAddress::Ethernet(mac));
        config.random_seed = seed;
        let mut phy = Phy {
            device: &mut *device,
            rx: None,
            scratch: &mut scratch,
            sent_arp: false,
        };
        let iface = Interface::new(config, &mut phy, smol_time(now));
        let mut stack = Self {
            device,
            iface,
            shards: Shards::new(),
            touched: Vec::new(),
            frame,
            scratch,
            dhcp: None,
            dns: None,
            config: None,
            listeners: BTreeMap::new(),
            udp_ports: BTreeMap::new(),
            // Within the 16 384 ephemeral ports, from a place that varies with the seed.
            next_port: EPHEMERAL_FIRST + (seed % 16384) as u16,
            more: false,
            buffer_size: TCP_BUFFER,
            arp_until: smoltcp::time::Instant::ZERO,
            arp_waiting: BTreeSet::new(),
        };
        match setup {
            Setup::Dhcp => {
                stack.dhcp = Some(stack.shards.add_base(dhcpv4::Socket::new()));
                stack.shards.mark_dirty(ShardId::BASE);
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
        self.shards.socket_count()
    }

    /// Takes up to [`INGRESS_BUDGET`] frames, each to its shard; then, in each shard with
    /// work, sends what the sockets have to send, reaps finished sockets and asks its next
    /// deadline; applies what DHCP learnt.
    pub(crate) fn poll(&mut self, now: hal::time::Instant) -> Polled {
        let now = smol_time(now);
        self.iface.poll_maintenance(now);
        let received = self.ingress(now);
        self.more = received == INGRESS_BUDGET;
        self.shards.take_dirty(now, &mut self.touched);
        for at in 0..self.touched.len() {
            let id = self.touched[at];
            self.egress(now, id);
            self.reap(id);
            let deadline = self.iface.poll_at(now, &self.shards.get(id).sockets);
            self.shards.set_deadline(id, deadline);
        }
        self.dhcp_events();
        Polled {
            received,
            more: self.more,
        }
    }

    /// The shards the last [`Stack::poll`] worked on: only their sockets' readiness may
    /// have changed since the poll before.
    pub(crate) fn touched(&self) -> &[ShardId] {
        &self.touched
    }

    /// Hands each frame waiting, up to the budget, to the shard of its connection.
    fn ingress(&mut self, now: smoltcp::time::Instant) -> usize {
        let mut received = 0;
        while received < INGRESS_BUDGET {
            let Some(len) = self.device.receive(&mut self.frame) else {
                break;
            };
            received += 1;
            let Some(frame) = self.frame.get(..len) else {
                continue;
            };
            let inbound = phy::inbound(frame);
            let shard = match inbound {
                Inbound::Tcp { tuple, .. } => self.shards.route(tuple),
                Inbound::Arp | Inbound::Other => ShardId::BASE,
            };
            if let Inbound::Tcp { tuple, syn: true } = inbound
                && shard == ShardId::BASE
                && self.listeners.get(&tuple.local_port).is_some_and(|pool| {
                    let sockets = &self.shards.get(ShardId::BASE).sockets;
                    pool.in_handshake(sockets, tuple) || !pool.listening(sockets)
                })
            {
                continue;
            }
            let mut phy = Phy {
                device: &mut *self.device,
                rx: Some(frame),
                scratch: &mut self.scratch,
                sent_arp: false,
            };
            let sockets = &mut self.shards.get_mut(shard).sockets;
            self.iface.poll_ingress_single(now, &mut phy, sockets);
            self.shards.mark_dirty(shard);
            match inbound {
                Inbound::Tcp { tuple, .. } if shard == ShardId::BASE => {
                    if let Some(pool) = self.listeners.get_mut(&tuple.local_port) {
                        pool.refill(&mut self.shards, self.buffer_size);
                    }
                }
                // The neighbour a silent socket waits for may be known now.
                Inbound::Arp => {
                    while let Some(id) = self.arp_waiting.pop_first() {
                        self.shards.mark_dirty(id);
                    }
                }
                Inbound::Tcp { .. } | Inbound::Other => {}
            }
        }
        received
    }

    /// Sends what shard `id`'s sockets have to send.
    fn egress(&mut self, now: smoltcp::time::Instant, id: ShardId) {
        let mut phy = Phy {
            device: &mut *self.device,
            rx: None,
            scratch: &mut self.scratch,
            sent_arp: false,
        };
        let sockets = &mut self.shards.get_mut(id).sockets;
        // Each round sends at most a frame per socket; a device that fills up ends it.
        for _ in 0..INGRESS_BUDGET {
            if self.iface.poll_egress(now, &mut phy, sockets) == PollResult::None {
                break;
            }
        }
        if phy.sent_arp {
            self.arp_until = now + ARP_SILENCE;
        }
        if now < self.arp_until {
            self.arp_waiting.insert(id);
        }
    }

    /// Removes shard `id`'s sockets whose close is done, notes which peers closed their
    /// half, and (shard 0) relistens pool sockets whose connection failed before `accept`.
    fn reap(&mut self, id: ShardId) {
        self.shards.reap(id);
        if id == ShardId::BASE {
            for pool in self.listeners.values() {
                pool.relisten(self.shards.base());
            }
        }
    }

    /// How long until the stack must be polled again: `None` when only a frame can give it
    /// work, zero when now.
    pub(crate) fn poll_delay(&mut self, now: hal::time::Instant) -> Option<Duration> {
        if self.more || self.shards.any_dirty() {
            return Some(Duration::ZERO);
        }
        let now = smol_time(now);
        self.shards.next_deadline().map(|at| {
            let micros = (at - now.min(at)).total_micros();
            Duration::from_micros(micros)
        })
    }

    fn dhcp_events(&mut self) {
        let Some(handle) = self.dhcp else { return };
        let config = match self
            .shards
            .base()
            .get_mut::<dhcpv4::Socket<'_>>(handle)
            .poll()
        {
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
                .shards
                .base()
                .get_mut::<dns::Socket<'_>>(handle)
                .update_servers(&servers),
            (None, false) => {
                let queries: Vec<Option<dns::DnsQuery>> = (0..DNS_QUERIES).map(|_| None).collect();
                self.dns = Some(self.shards.add_base(dns::Socket::new(&servers, queries)));
            }
            (None, true) => {}
        }
        match &config {
            Some(config) => log::debug!("net: {config}"),
            None => log::debug!("net: no address"),
        }
        self.config = config;
        self.shards.mark_dirty(ShardId::BASE);
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
        if tcp {
            self.listeners.contains_key(&port) || self.shards.port_in_use(port)
        } else {
            self.udp_ports.values().any(|&p| p == port)
        }
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
        let mut pool = Pool::new(listen_endpoint(SocketAddrV4::new(*addr.ip(), port)));
        if !pool.refill(&mut self.shards, self.buffer_size) {
            return Err(ErrorKind::InvalidInput.into());
        }
        self.listeners.insert(port, pool);
        self.shards.mark_dirty(ShardId::BASE);
        Ok(port)
    }

    /// Takes a connection that finished its handshake on the listener of `port`, moves it
    /// into a connection shard, and puts a fresh listening socket in its place.
    pub(crate) fn tcp_accept(&mut self, port: u16) -> Result<ConnHandle> {
        let pool = self
            .listeners
            .get_mut(&port)
            .ok_or(ErrorKind::NotConnected)?;
        let (socket, tuple) = pool
            .take(&self.shards.get(ShardId::BASE).sockets)
            .ok_or(ErrorKind::WouldBlock)?;
        pool.refill(&mut self.shards, self.buffer_size);
        let socket = self.shards.remove(ShardId::BASE, socket, None);
        self.shards.mark_dirty(ShardId::BASE);
        Ok(self.shards.add_conn(socket, tuple))
    }

    /// Stops listening on `port`; connections not yet accepted are reset.
    pub(crate) fn tcp_unlisten(&mut self, port: u16) {
        let handles = self.listeners.remove(&port).map(Pool::into_handles);
        for handle in handles.unwrap_or_default() {
            self.shards
                .base()
                .get_mut::<tcp::Socket<'_>>(handle)
                .abort();
            self.shards.give_up(ShardId::BASE, handle);
        }
        self.shards.mark_dirty(ShardId::BASE);
    }

    /// Starts a connection to `remote`, in a connection shard; [`Stack::tcp_connected`]
    /// says when it is up.
    pub(crate) fn tcp_connect(&mut self, remote: SocketAddrV4) -> Result<ConnHandle> {
        if remote.port() == 0 || remote.ip().is_unspecified() || remote.ip().is_broadcast() {
            return Err(ErrorKind::InvalidInput.into());
        }
        self.has_address()?;
        let port = self.ephemeral_port(true)?;
        let mut socket = new_tcp(self.buffer_size);
        socket
            .connect(self.iface.context(), endpoint(remote), port)
            .map_err(|_| ErrorKind::InvalidInput)?;
        let tuple = Tuple {
            local_port: port,
            peer: remote.ip().octets(),
            peer_port: remote.port(),
        };
        Ok(self.shards.add_conn(socket, tuple))
    }

    /// `Ok` once the connection is up, `WouldBlock` while the handshake goes on,
    /// `ConnectionRefused` when the peer reset it.
    pub(crate) fn tcp_connected(&self, handle: ConnHandle) -> Result<()> {
        let (_, socket) = self.conn_ref(handle)?;
        match socket.state() {
            tcp::State::SynSent | tcp::State::SynReceived => Err(ErrorKind::WouldBlock.into()),
            tcp::State::Closed => Err(ErrorKind::ConnectionRefused.into()),
            _ => Ok(()),
        }
    }

    fn conn_ref(&self, handle: ConnHandle) -> Result<(&Conn, &tcp::Socket<'static>)> {
        let shard = self.shards.get(handle.shard());
        let conn = shard
            .conns
            .get(&handle.socket())
            .ok_or(ErrorKind::NotConnected)?;
        Ok((
            conn,
            shard.sockets.get::<tcp::Socket<'static>>(handle.socket()),
        ))
    }

    /// The connection's record and socket, for a call that may change it: its shard is
    /// polled next.
    fn conn(&mut self, handle: ConnHandle) -> Result<(&mut Conn, &mut tcp::Socket<'static>)> {
        self.shards.mark_dirty(handle.shard());
        let shard = self.shards.get_mut(handle.shard());
        let conn = shard
            .conns
            .get_mut(&handle.socket())
            .ok_or(ErrorKind::NotConnected)?;
        Ok((
            conn,
            shard
                .sockets
                .get_mut::<tcp::Socket<'static>>(handle.socket()),
        ))
    }

    /// Queues what of `data` fits; `WouldBlock` when nothing does.
    pub(crate) fn tcp_send(&mut self, handle: ConnHandle, data: &[u8]) -> Result<usize> {
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
    pub(crate) fn tcp_recv(&mut self, handle: ConnHandle, buf: &mut [u8]) -> Result<usize> {
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
    pub(crate) fn tcp_shutdown(&mut self, handle: ConnHandle, how: Shutdown) -> Result<()> {
        let (conn, socket) = self.conn(handle)?;
        if how != Shutdown::Read {
            socket.close();
        }
        conn.shut_read |= how != Shutdown::Write;
        conn.shut_write |= how != Shutdown::Read;
        Ok(())
    }

    /// Gives the connection up: it closes (FIN after the queued data) and is removed once
    /// its close is done, or after [`CLOSE_TIMEOUT`] without an answer.
    pub(crate) fn tcp_close(&mut self, handle: ConnHandle) {
        if let Ok((_, socket)) = self.conn(handle) {
            socket.close();
            socket.set_timeout(Some(CLOSE_TIMEOUT.into()));
            self.shards.give_up(handle.shard(), handle.socket());
        }
    }

    /// Resets the connection at once (a connect that timed out).
    pub(crate) fn tcp_abort(&mut self, handle: ConnHandle) {
        if let Ok((_, socket)) = self.conn(handle) {
            socket.abort();
            self.shards.give_up(handle.shard(), handle.socket());
        }
    }

    /// The connection's local and remote addresses.
    pub(crate) fn tcp_endpoints(&self, handle: ConnHandle) -> Result<(SocketAddrV4, SocketAddrV4)> {
        let (_, socket) = self.conn_ref(handle)?;
        match (socket.local_endpoint(), socket.remote_endpoint()) {
            (Some(local), Some(remote)) => Ok((socket_addr(local), socket_addr(remote))),
            _ => Err(ErrorKind::NotConnected.into()),
        }
    }

    /// Turns Nagle's algorithm off (`true`, the default) or on.
    pub(crate) fn tcp_set_nodelay(&mut self, handle: ConnHandle, nodelay: bool) -> Result<()> {
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
        let handle = self.shards.add_base(socket);
        self.udp_ports.insert(handle, port);
        Ok((handle, port))
    }

    /// A UDP socket, for a call that may change it: shard 0 is polled next.
    fn udp(&mut self, handle: SocketHandle) -> &mut udp::Socket<'static> {
        self.shards.mark_dirty(ShardId::BASE);
        self.shards.base().get_mut::<udp::Socket<'static>>(handle)
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
        let socket = self.udp(handle);
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
        let socket = self.udp(handle);
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
        if self.udp_ports.remove(&handle).is_some() {
            self.shards.remove(ShardId::BASE, handle, None);
        }
    }

    /// DNS's socket, for a call that may change it: shard 0 is polled next.
    fn dns(&mut self) -> Result<&mut dns::Socket<'static>> {
        let handle = self.dns.ok_or(ErrorKind::AddrNotAvailable)?;
        self.shards.mark_dirty(ShardId::BASE);
        Ok(self.shards.base().get_mut::<dns::Socket<'static>>(handle))
    }

    /// Starts looking up `name`'s IPv4 addresses.
    pub(crate) fn dns_start(&mut self, name: &str) -> Result<QueryHandle> {
        let handle = self.dns.ok_or(ErrorKind::AddrNotAvailable)?;
        self.shards.mark_dirty(ShardId::BASE);
        let Self { iface, shards, .. } = self;
        shards
            .base()
            .get_mut::<dns::Socket<'_>>(handle)
            .start_query(iface.context(), name, DnsQueryType::A)
            .map_err(|e| match e {
                StartQueryError::NoFreeSlot => ErrorKind::OutOfMemory.into(),
                StartQueryError::InvalidName | StartQueryError::NameTooLong => {
                    ErrorKind::InvalidInput.into()
                }
            })
    }

    /// The answer to a lookup: `WouldBlock` while it is under way.
    pub(crate) fn dns_result(&mut self, query: QueryHandle) -> Result<Vec<Ipv4Addr>> {
        match self.dns()?.get_query_result(query) {
            Ok(addrs) => Ok(addrs.iter().map(|&IpAddress::Ipv4(a)| a).collect()),
            Err(GetQueryResultError::Pending) => Err(ErrorKind::WouldBlock.into()),
            Err(GetQueryResultError::Failed) => Err(ErrorKind::NotFound.into()),
        }
    }

    /// Gives up a lookup (its caller's deadline passed).
    pub(crate) fn dns_cancel(&mut self, query: QueryHandle) {
        if let Ok(socket) = self.dns() {
            socket.cancel_query(query);
        }
    }

    /// What `source` is ready for now.
    pub(crate) fn readiness(&self, source: Source) -> Ready {
        let base = &self.shards.get(ShardId::BASE).sockets;
        match source {
            Source::Listener(port) => Ready {
                readable: self
                    .listeners
                    .get(&port)
                    .is_none_or(|pool| pool.has_connection(base)),
                writable: false,
            },
            Source::Tcp(handle) => {
                let Ok((conn, socket)) = self.conn_ref(handle) else {
                    return Ready {
                        readable: true,
                        writable: true,
                    };
                };
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
                let socket = base.get::<udp::Socket<'_>>(handle);
                Ready {
                    readable: socket.can_recv(),
                    writable: socket.can_send(),
                }
            }
            // A lookup is checked by asking for its result, which frees it when done: its
            // waiter looks after every poll of shard 0.
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

    /// How many sockets each shard holds, shard 0 first.
    #[cfg(test)]
    pub(crate) fn shard_lens(&self) -> Vec<usize> {
        self.shards.lens()
    }
}
