//! Two stacks talking over a fake link: each end a `hal::mock::FakeNic`, and the test the
//! wire, moving the frames one sent to the other and the clock forward.

use std::boxed::Box;
use std::sync::{Arc, Mutex};
use std::vec::Vec;

use core::net::{Ipv4Addr, SocketAddrV4};
use core::time::Duration;

use hal::mock::FakeNic;
use hal::net::{MacAddress, NetDevice, NetStats};
use hal::time::Instant;
use smoltcp::wire::{EthernetFrame, Ipv4Packet, TcpPacket};

use super::config::{Ipv4Config, Setup};
use super::error::ErrorKind;
use super::shard::{ConnHandle, SHARD_SIZE};
use super::stack::{BACKLOG, MAX_PENDING, Ready, Shutdown, Source, Stack};

/// One end of the link: the stack drives the NIC, the test reaches it through the `Arc`.
struct End(Arc<Mutex<FakeNic>>);

impl NetDevice for End {
    fn mac_address(&self) -> MacAddress {
        self.0.lock().unwrap().mac_address()
    }

    fn receive(&mut self, buf: &mut [u8]) -> Option<usize> {
        self.0.lock().unwrap().receive(buf)
    }

    fn can_transmit(&mut self) -> bool {
        self.0.lock().unwrap().can_transmit()
    }

    fn transmit(&mut self, len: usize, fill: &mut dyn FnMut(&mut [u8])) -> bool {
        self.0.lock().unwrap().transmit(len, fill)
    }

    fn stats(&self) -> NetStats {
        self.0.lock().unwrap().stats()
    }
}

const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

struct Link {
    a: Stack,
    b: Stack,
    nic_a: Arc<Mutex<FakeNic>>,
    nic_b: Arc<Mutex<FakeNic>>,
    now: Instant,
    /// Frames on the wire are lost while it is cut.
    cut: bool,
}

fn stack(ip: Ipv4Addr, last: u8, now: Instant) -> (Stack, Arc<Mutex<FakeNic>>) {
    let nic = Arc::new(Mutex::new(FakeNic::new([2, 0, 0, 0, 0, last], 4096)));
    let setup = Setup::Static(Ipv4Config {
        address: ip,
        prefix_len: 24,
        gateway: None,
        dns_servers: Vec::new(),
    });
    let stack =
        Stack::new(Box::new(End(nic.clone())), setup, now, u64::from(last)).expect("a unicast MAC");
    (stack, nic)
}

impl Link {
    fn new() -> Self {
        let now = Instant::from_nanos(1_000_000_000);
        let (a, nic_a) = stack(A, 1, now);
        let (b, nic_b) = stack(B, 2, now);
        Self {
            a,
            b,
            nic_a,
            nic_b,
            now,
            cut: false,
        }
    }

    /// Polls both ends, carries their frames across, and moves the clock 1 ms.
    fn step(&mut self) {
        self.a.poll(self.now);
        self.b.poll(self.now);
        let from_a = self.nic_a.lock().unwrap().take_sent();
        let from_b = self.nic_b.lock().unwrap().take_sent();
        if !self.cut {
            for frame in from_a {
                self.nic_b.lock().unwrap().push_rx(&frame);
            }
            for frame in from_b {
                self.nic_a.lock().unwrap().push_rx(&frame);
            }
        }
        self.now = self.now + Duration::from_millis(1);
    }

    /// Steps until `done` says so, at most `steps` times; whether it did.
    fn until(&mut self, steps: usize, mut done: impl FnMut(&mut Self) -> bool) -> bool {
        for _ in 0..steps {
            if done(self) {
                return true;
            }
            self.step();
        }
        done(self)
    }
}

fn addr(ip: Ipv4Addr, port: u16) -> SocketAddrV4 {
    SocketAddrV4::new(ip, port)
}

/// A connected pair: `(client on a, server side on b)`.
fn connect(link: &mut Link, port: u16) -> (ConnHandle, ConnHandle) {
    let client = link.a.tcp_connect(addr(B, port)).unwrap();
    assert_eq!(
        link.a.tcp_connected(client).unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
    let mut server = None;
    assert!(link.until(100, |l| {
        if server.is_none() {
            server = l.b.tcp_accept(port).ok();
        }
        server.is_some() && l.a.tcp_connected(client).is_ok()
    }));
    (client, server.unwrap())
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ seed ^ (i >> 9) as u8)
        .collect()
}

#[test]
fn tcp_carries_a_mebibyte_each_way_and_closes() {
    let mut link = Link::new();
    let idle_a = link.a.socket_count();
    assert_eq!(
        link.b.tcp_listen(addr(Ipv4Addr::UNSPECIFIED, 7)).unwrap(),
        7
    );
    let idle_b = link.b.socket_count();
    let (client, server) = connect(&mut link, 7);
    let (local, peer) = link.a.tcp_endpoints(client).unwrap();
    assert_eq!((*local.ip(), peer), (A, addr(B, 7)));
    assert_eq!(link.b.tcp_endpoints(server).unwrap().1, local);

    let up = pattern(1 << 20, 1);
    let down = pattern(1 << 20, 2);
    let (mut sent_up, mut sent_down) = (0, 0);
    let (mut got_up, mut got_down) = (Vec::new(), Vec::new());
    let mut buf = vec![0; 8192];
    assert!(link.until(20_000, |l| {
        while sent_up < up.len() {
            match l.a.tcp_send(client, &up[sent_up..]) {
                Ok(n) => sent_up += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => panic!("send up: {e}"),
            }
        }
        while sent_down < down.len() {
            match l.b.tcp_send(server, &down[sent_down..]) {
                Ok(n) => sent_down += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => panic!("send down: {e}"),
            }
        }
        while let Ok(n) = l.b.tcp_recv(server, &mut buf) {
            got_up.extend_from_slice(&buf[..n]);
        }
        while let Ok(n) = l.a.tcp_recv(client, &mut buf) {
            got_down.extend_from_slice(&buf[..n]);
        }
        got_up.len() == up.len() && got_down.len() == down.len()
    }));
    assert!(got_up == up, "the server got what the client sent");
    assert!(got_down == down, "the client got what the server sent");

    link.a.tcp_shutdown(client, Shutdown::Write).unwrap();
    assert_eq!(
        link.a.tcp_send(client, b"late").unwrap_err().kind(),
        ErrorKind::NotConnected
    );
    assert!(link.until(100, |l| l.b.tcp_recv(server, &mut buf) == Ok(0)));
    link.b.tcp_close(server);
    assert!(link.until(100, |l| l.a.tcp_recv(client, &mut buf) == Ok(0)));
    link.a.tcp_close(client);
    assert!(
        link.until(100, |l| l.a.socket_count() == idle_a
            && l.b.socket_count() == idle_b),
        "closed and TIME-WAIT sockets are reaped: {} {}",
        link.a.socket_count(),
        link.b.socket_count()
    );
}

#[test]
fn a_port_without_listener_refuses() {
    let mut link = Link::new();
    let client = link.a.tcp_connect(addr(B, 9)).unwrap();
    assert!(link.until(100, |l| {
        l.a.tcp_connected(client)
            .is_err_and(|e| e.kind() == ErrorKind::ConnectionRefused)
    }));
}

#[test]
fn a_silent_peer_keeps_the_handshake_pending_with_a_timer() {
    let mut link = Link::new();
    link.cut = true;
    let client = link.a.tcp_connect(addr(B, 7)).unwrap();
    link.until(3000, |_| false);
    assert_eq!(
        link.a.tcp_connected(client).unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
    link.a.poll(link.now);
    let delay = link
        .a
        .poll_delay(link.now)
        .expect("a retransmission is due");
    assert!(
        delay > Duration::ZERO,
        "a timer, not a poll storm: {delay:?}"
    );
    link.a.tcp_abort(client);
    link.step();
    assert_eq!(link.a.poll_delay(link.now), None, "nothing left to time");
}

#[test]
fn calls_that_would_wait_say_would_block() {
    let mut link = Link::new();
    link.b.tcp_listen(addr(B, 80)).unwrap();
    assert_eq!(
        link.b.tcp_accept(80).unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
    let (client, server) = connect(&mut link, 80);
    let mut buf = [0; 16];
    assert_eq!(
        link.b.tcp_recv(server, &mut buf).unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
    let mut sent = 0;
    while link.a.tcp_send(client, &[7; 4096]).is_ok() {
        sent += 4096;
        assert!(sent < 1 << 20, "the send buffer is bounded");
    }
    assert_eq!(
        link.a.tcp_send(client, &[7; 4096]).unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
    let (udp, _) = link.a.udp_bind(addr(A, 53)).unwrap();
    assert_eq!(
        link.a.udp_recv_from(udp, &mut buf).unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
}

#[test]
fn readiness_follows_each_socket() {
    let mut link = Link::new();
    link.b.tcp_listen(addr(B, 80)).unwrap();
    link.b.tcp_listen(addr(B, 81)).unwrap();
    let (udp, port) = link.b.udp_bind(addr(B, 0)).unwrap();
    assert!(port >= 49152);
    let ready = |stack: &Stack, source| stack.readiness(source);
    assert_eq!(ready(&link.b, Source::Listener(80)), Ready::default());
    assert!(!ready(&link.b, Source::Udp(udp)).readable);

    let client = link.a.tcp_connect(addr(B, 81)).unwrap();
    assert!(!ready(&link.a, Source::Tcp(client)).writable, "connecting");
    assert!(link.until(100, |l| ready(&l.b, Source::Listener(81)).readable));
    assert!(!ready(&link.b, Source::Listener(80)).readable);
    assert!(ready(&link.a, Source::Tcp(client)).writable, "connected");
    let server = link.b.tcp_accept(81).unwrap();
    assert!(!ready(&link.b, Source::Listener(81)).readable, "taken");
    assert!(!ready(&link.b, Source::Tcp(server)).readable);

    let (from, _) = link.a.udp_bind(addr(A, 0)).unwrap();
    link.a.udp_send_to(from, b"ping", addr(B, port)).unwrap();
    link.a.tcp_send(client, b"hello").unwrap();
    assert!(link.until(100, |l| ready(&l.b, Source::Udp(udp)).readable
        && ready(&l.b, Source::Tcp(server)).readable));
    assert!(!ready(&link.b, Source::Listener(80)).readable);
}

#[test]
fn udp_datagrams_go_both_ways_with_their_sender() {
    let mut link = Link::new();
    let (a, a_port) = link.a.udp_bind(addr(Ipv4Addr::UNSPECIFIED, 5000)).unwrap();
    let (b, _) = link.b.udp_bind(addr(B, 7)).unwrap();
    assert_eq!(
        link.b.udp_bind(addr(B, 7)).unwrap_err().kind(),
        ErrorKind::AddrInUse
    );
    link.a.udp_send_to(a, b"echo me", addr(B, 7)).unwrap();
    let mut buf = [0; 64];
    let mut got = None;
    assert!(link.until(100, |l| {
        got = l.b.udp_recv_from(b, &mut buf).ok();
        got.is_some()
    }));
    let (n, from) = got.unwrap();
    assert_eq!((&buf[..n], from), (&b"echo me"[..], addr(A, a_port)));
    link.b.udp_send_to(b, &buf[..n], from).unwrap();
    let mut back = [0; 4];
    assert!(link.until(100, |l| l.a.udp_recv_from(a, &mut back).is_ok()));
    assert_eq!(
        &back, b"echo",
        "a short buffer takes the start of the datagram"
    );
    assert_eq!(
        link.a.udp_send_to(a, b"x", addr(B, 0)).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
}

#[test]
fn a_burst_of_connections_waits_for_accept() {
    let mut link = Link::new();
    link.b.tcp_listen(addr(B, 7)).unwrap();
    assert_eq!(
        link.b.tcp_listen(addr(B, 7)).unwrap_err().kind(),
        ErrorKind::AddrInUse
    );
    // A burst of SYNs three times the listening sockets kept ready: each frame tops the
    // pool up, so none is refused.
    let clients: Vec<_> = (0..3 * BACKLOG)
        .map(|_| link.a.tcp_connect(addr(B, 7)).unwrap())
        .collect();
    assert!(link.until(200, |l| {
        clients.iter().all(|&c| l.a.tcp_connected(c).is_ok())
    }));
    // The clients' last ACKs reach the server.
    link.until(5, |_| false);
    let mut peers: Vec<_> = (0..3 * BACKLOG)
        .map(|_| {
            let server = link.b.tcp_accept(7).unwrap();
            link.b.tcp_endpoints(server).unwrap().1
        })
        .collect();
    assert_eq!(
        link.b.tcp_accept(7).unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
    let mut locals: Vec<_> = clients
        .iter()
        .map(|&c| link.a.tcp_endpoints(c).unwrap().0)
        .collect();
    peers.sort();
    locals.sort();
    assert_eq!(peers, locals, "each connection accepted once");
    link.b.tcp_unlisten(7);
    let late = link.a.tcp_connect(addr(B, 7)).unwrap();
    assert!(link.until(100, |l| l.a.tcp_connected(late).is_err()));
}

#[test]
fn a_syn_beyond_the_connections_waiting_for_accept_is_dropped_not_refused() {
    let mut link = Link::new();
    link.b.tcp_listen(addr(B, 7)).unwrap();
    let held = BACKLOG + MAX_PENDING;
    let clients: Vec<_> = (0..held + BACKLOG)
        .map(|_| link.a.tcp_connect(addr(B, 7)).unwrap())
        .collect();
    let connected = |l: &mut Link| {
        clients
            .iter()
            .filter(|&&c| l.a.tcp_connected(c).is_ok())
            .count()
    };
    assert!(link.until(200, |l| connected(l) == held));
    link.until(200, |_| false);
    assert_eq!(connected(&mut link), held, "the pool holds no more");
    assert!(
        clients.iter().all(|&c| link.a.tcp_connected(c).is_ok()
            || link.a.tcp_connected(c).unwrap_err().kind() == ErrorKind::WouldBlock),
        "no SYN is refused while connections wait for accept"
    );
    let mut accepted = Vec::new();
    assert!(link.until(5000, |l| {
        while let Ok(server) = l.b.tcp_accept(7) {
            accepted.push(l.b.tcp_endpoints(server).unwrap().1);
        }
        accepted.len() == clients.len()
    }));
    assert_eq!(
        connected(&mut link),
        clients.len(),
        "the late SYNs came again"
    );
    accepted.sort();
    accepted.dedup();
    assert_eq!(
        accepted.len(),
        clients.len(),
        "each connection accepted once"
    );
}

#[test]
fn a_reset_connection_says_so() {
    let mut link = Link::new();
    link.b.tcp_listen(addr(B, 7)).unwrap();
    let (client, server) = connect(&mut link, 7);
    link.b.tcp_abort(server);
    let mut buf = [0; 8];
    assert!(link.until(100, |l| {
        l.a.tcp_recv(client, &mut buf)
            .is_err_and(|e| e.kind() == ErrorKind::ConnectionReset)
    }));
}

#[test]
fn malformed_frames_are_dropped_not_fatal() {
    let mut link = Link::new();
    link.b.tcp_listen(addr(B, 7)).unwrap();
    let mut frames: Vec<Vec<u8>> = vec![
        vec![0xff; 14],
        vec![0; 60],
        vec![0xab; 1514],
        // An IPv4 header that claims more than the frame holds, to B's MAC.
        [
            &[2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 8, 0][..],
            &[
                0x45, 0, 0xff, 0xff, 0, 0, 0, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
            ],
        ]
        .concat(),
    ];
    frames.push(vec![0; 3]);
    for frame in &frames {
        link.nic_b.lock().unwrap().push_rx(frame);
    }
    link.step();
    assert_eq!(
        link.nic_b.lock().unwrap().stats().rx_dropped,
        1,
        "the short one"
    );
    let (client, server) = connect(&mut link, 7);
    link.a.tcp_send(client, b"still fine").unwrap();
    let mut buf = [0; 16];
    assert!(link.until(100, |l| l.b.tcp_recv(server, &mut buf) == Ok(10)));
}

#[test]
fn a_multicast_mac_is_refused() {
    let nic = FakeNic::new([1, 0, 0x5e, 0, 0, 1], 1);
    let result = Stack::new(Box::new(nic), Setup::Dhcp, Instant::ZERO, 0);
    assert_eq!(result.err().map(|e| e.kind()), Some(ErrorKind::Other));
}

#[test]
fn without_an_address_nothing_connects() {
    let nic = FakeNic::new([2, 0, 0, 0, 0, 9], 8);
    let mut stack = Stack::new(Box::new(nic), Setup::Dhcp, Instant::ZERO, 0).unwrap();
    assert_eq!(stack.config(), None);
    stack.poll(Instant::ZERO);
    assert!(
        stack.poll_delay(Instant::ZERO).is_some(),
        "DHCP retries on a timer"
    );
    assert_eq!(
        stack.tcp_connect(addr(B, 7)).unwrap_err().kind(),
        ErrorKind::AddrNotAvailable
    );
    assert_eq!(
        stack.dns_start("example.com").err().map(|e| e.kind()),
        Some(ErrorKind::AddrNotAvailable)
    );
}

/// A TCP segment in an Ethernet frame: (source port, destination port, SYN, ACK, RST).
fn segment(frame: &[u8]) -> Option<(u16, u16, bool, bool, bool)> {
    let ethernet = EthernetFrame::new_checked(frame).ok()?;
    let ip = Ipv4Packet::new_checked(ethernet.payload()).ok()?;
    let tcp = TcpPacket::new_checked(ip.payload()).ok()?;
    Some((
        tcp.src_port(),
        tcp.dst_port(),
        tcp.syn(),
        tcp.ack(),
        tcp.rst(),
    ))
}

/// Opens `count` connections from a to b's listener on `port`, at most `in_flight` in
/// their handshake at once, accepting as they come: `(clients, servers)`, in no matching
/// order.
fn open_many(
    link: &mut Link,
    port: u16,
    count: usize,
    in_flight: usize,
) -> (Vec<ConnHandle>, Vec<ConnHandle>) {
    let (mut clients, mut servers) = (Vec::new(), Vec::new());
    assert!(
        link.until(50 * count, |l| {
            while clients.len() < count && clients.len() - servers.len() < in_flight {
                clients.push(l.a.tcp_connect(addr(B, port)).unwrap());
            }
            while let Ok(server) = l.b.tcp_accept(port) {
                servers.push(server);
            }
            servers.len() == count
        }),
        "{} of {count} accepted",
        servers.len()
    );
    assert!(link.until(100, |l| {
        clients.iter().all(|&c| l.a.tcp_connected(c).is_ok())
    }));
    (clients, servers)
}

#[test]
fn thousands_of_connections_each_echo_their_own_bytes_then_close() {
    const COUNT: usize = 3000;
    let mut link = Link::new();
    // Small buffers: 3,000 connections a side.
    link.a.set_buffer_size(1024);
    link.b.set_buffer_size(1024);
    let idle_a = link.a.socket_count();
    link.b.tcp_listen(addr(B, 7)).unwrap();
    let idle_b = link.b.socket_count();
    let (clients, mut servers) = open_many(&mut link, 7, COUNT, 2 * BACKLOG);

    for stack in [&link.a, &link.b] {
        let lens = stack.shard_lens();
        assert!(
            lens[0] <= BACKLOG + MAX_PENDING,
            "shard 0 holds only the pool: {}",
            lens[0]
        );
        assert!(lens[1..].iter().all(|&n| n <= SHARD_SIZE), "{lens:?}");
        assert_eq!(lens[1..].iter().sum::<usize>(), COUNT);
        assert_eq!(
            lens.len() - 1,
            COUNT.div_ceil(SHARD_SIZE),
            "a shard is made only when all are full"
        );
    }

    let messages: Vec<Vec<u8>> = (0..COUNT)
        .map(|i| format!("connection {i} says hello").into_bytes())
        .collect();
    for (&client, message) in clients.iter().zip(&messages) {
        assert_eq!(link.a.tcp_send(client, message), Ok(message.len()));
    }
    let mut got = vec![Vec::new(); COUNT];
    let mut buf = [0; 256];
    assert!(link.until(10_000, |l| {
        for &server in &servers {
            if l.b.readiness(Source::Tcp(server)).readable {
                while let Ok(n @ 1..) = l.b.tcp_recv(server, &mut buf) {
                    assert_eq!(l.b.tcp_send(server, &buf[..n]), Ok(n));
                }
            }
        }
        for (&client, got) in clients.iter().zip(&mut got) {
            if l.a.readiness(Source::Tcp(client)).readable {
                while let Ok(n @ 1..) = l.a.tcp_recv(client, &mut buf) {
                    got.extend_from_slice(&buf[..n]);
                }
            }
        }
        got.iter().zip(&messages).all(|(g, m)| g.len() >= m.len())
    }));
    assert!(got == messages, "each connection got its own bytes back");

    for &client in &clients {
        link.a.tcp_close(client);
    }
    assert!(
        link.until(10_000, |l| {
            servers.retain(|&server| {
                let done = l.b.readiness(Source::Tcp(server)).readable
                    && l.b.tcp_recv(server, &mut buf) == Ok(0);
                if done {
                    l.b.tcp_close(server);
                }
                !done
            });
            servers.is_empty() && l.a.socket_count() == idle_a && l.b.socket_count() == idle_b
        }),
        "every socket reaped: {} {}",
        link.a.socket_count(),
        link.b.socket_count()
    );
    assert!(link.b.shard_lens()[1..].iter().all(|&n| n == 0));
    let shards = link.b.shard_lens().len();
    connect(&mut link, 7);
    let lens = link.b.shard_lens();
    assert_eq!(
        (lens.len(), lens[1]),
        (shards, 1),
        "the first shard is reused"
    );
}

#[test]
fn a_frame_works_only_its_connections_shard() {
    let mut link = Link::new();
    link.b.tcp_listen(addr(B, 7)).unwrap();
    let (clients, servers) = open_many(&mut link, 7, 4 * SHARD_SIZE, BACKLOG);
    link.until(50, |_| false);
    let client = clients[SHARD_SIZE + 5];
    let local = link.a.tcp_endpoints(client).unwrap().0;
    let server = *servers
        .iter()
        .find(|&&s| link.b.tcp_endpoints(s).unwrap().1 == local)
        .unwrap();

    link.a.tcp_send(client, b"one byte at a time").unwrap();
    link.a.poll(link.now);
    assert_eq!(link.a.touched(), [client.shard()], "a send works one shard");
    for frame in link.nic_a.lock().unwrap().take_sent() {
        link.nic_b.lock().unwrap().push_rx(&frame);
    }
    link.b.poll(link.now);
    assert_eq!(
        link.b.touched(),
        [server.shard()],
        "a frame works one shard"
    );
    let mut buf = [0; 32];
    assert_eq!(link.b.tcp_recv(server, &mut buf), Ok(18));
}

#[test]
fn a_segment_of_no_known_connection_gets_a_reset() {
    let mut link = Link::new();
    link.b.tcp_listen(addr(B, 7)).unwrap();
    let (client, server) = connect(&mut link, 7);
    let (_, more) = open_many(&mut link, 7, SHARD_SIZE, BACKLOG);
    link.until(50, |_| false);
    link.a.tcp_send(client, b"data").unwrap();
    link.a.poll(link.now);
    let real = link
        .nic_a
        .lock()
        .unwrap()
        .take_sent()
        .into_iter()
        .find(|f| segment(f).is_some())
        .unwrap();
    let mut forged = real.clone();
    let mut ip = Ipv4Packet::new_unchecked(&mut forged[14..]);
    let mut tcp = TcpPacket::new_unchecked(ip.payload_mut());
    tcp.set_src_port(1234);
    tcp.fill_checksum(&A.into(), &B.into());
    for frame in [&forged, &real] {
        link.nic_b.lock().unwrap().push_rx(frame);
    }
    link.b.poll(link.now);
    let resets: Vec<_> = link
        .nic_b
        .lock()
        .unwrap()
        .take_sent()
        .iter()
        .filter_map(|f| segment(f))
        .filter(|s| s.4)
        .collect();
    assert_eq!(resets.len(), 1, "{resets:?}");
    assert_eq!((resets[0].0, resets[0].1), (7, 1234));
    let mut buf = [0; 8];
    assert_eq!(link.b.tcp_recv(server, &mut buf), Ok(4));
    assert!(
        more.iter().all(|&s| link.b.tcp_endpoints(s).is_ok()),
        "the other connections are untouched"
    );
}

#[test]
fn a_repeated_syn_opens_one_connection() {
    let mut link = Link::new();
    link.b.tcp_listen(addr(B, 7)).unwrap();
    // One accepted first leaves a hole among the pool's sockets, which the next SYN's
    // refill fills with a listening socket: smoltcp then meets it before the socket in
    // the handshake.
    connect(&mut link, 7);
    link.until(5, |_| false);
    let client = link.a.tcp_connect(addr(B, 7)).unwrap();
    let mut syn_acks = None;
    for _ in 0..10 {
        link.a.poll(link.now);
        for frame in link.nic_a.lock().unwrap().take_sent() {
            let syn = segment(&frame).is_some_and(|s| s.2 && !s.3);
            for _ in 0..if syn { 2 } else { 1 } {
                link.nic_b.lock().unwrap().push_rx(&frame);
            }
            if syn {
                syn_acks = Some(0);
            }
        }
        link.b.poll(link.now);
        for frame in link.nic_b.lock().unwrap().take_sent() {
            if segment(&frame).is_some_and(|s| s.2 && s.3) {
                syn_acks = syn_acks.map(|n| n + 1);
            }
            link.nic_a.lock().unwrap().push_rx(&frame);
        }
        if syn_acks.is_some() {
            break;
        }
    }
    assert_eq!(syn_acks, Some(1), "one answer to a SYN sent twice");
    assert!(link.until(100, |l| l.a.tcp_connected(client).is_ok()));
    link.until(5, |_| false);
    assert!(link.b.tcp_accept(7).is_ok());
    assert_eq!(
        link.b.tcp_accept(7).unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
}

#[test]
fn the_first_connection_to_a_neighbour_leaves_once_its_address_comes() {
    let mut link = Link::new();
    link.b.tcp_listen(addr(B, 7)).unwrap();
    // Its shard's first send asks for B's address, and smoltcp silences the socket for a
    // second: the ARP answer must wake it before then.
    let client = link.a.tcp_connect(addr(B, 7)).unwrap();
    assert!(link.until(20, |l| l.a.tcp_connected(client).is_ok()));
}
