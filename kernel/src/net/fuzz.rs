//! Frames from outside into a stack, for the fuzz target (`fuzz/fuzz_targets/net_ingress.rs`):
//! whatever the bytes, the stack must drop what it cannot parse, never panic.

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::net::{Ipv4Addr, SocketAddrV4};

use hal::net::{DEFAULT_MTU, MacAddress, NetDevice, NetStats};
use hal::time::Instant;
use smoltcp::wire::{
    ArpOperation, ArpPacket, ArpRepr, EthernetAddress, IpAddress, IpProtocol, Ipv4Packet,
    TcpPacket, UdpPacket,
};
use spin::Mutex;

use super::config::{Ipv4Config, Setup};
use super::stack::Stack;

/// A device whose received frames are the fuzzer's; what the stack sends is dropped.
struct Frames {
    rx: Arc<Mutex<VecDeque<Vec<u8>>>>,
    stats: NetStats,
}

impl NetDevice for Frames {
    fn mac_address(&self) -> MacAddress {
        [2, 0, 0, 0, 0, 2]
    }

    fn receive(&mut self, buf: &mut [u8]) -> Option<usize> {
        let frame = self.rx.lock().pop_front()?;
        let n = frame.len().min(buf.len());
        buf[..n].copy_from_slice(&frame[..n]);
        self.stats.rx_frames += 1;
        Some(n)
    }

    fn can_transmit(&mut self) -> bool {
        true
    }

    fn transmit(&mut self, len: usize, fill: &mut dyn FnMut(&mut [u8])) -> bool {
        let mut frame = alloc::vec![0; len.min(DEFAULT_MTU)];
        fill(&mut frame);
        self.stats.tx_frames += 1;
        true
    }

    fn stats(&self) -> NetStats {
        self.stats
    }
}

/// Bit 15 of a frame's length: fill in its IPv4, TCP and UDP checksums, so that the
/// fuzzer's segments get past them into the sockets (and their connections' shards).
const FIX_CHECKSUMS: u16 = 0x8000;

/// Fills in the IPv4 header's checksum and the TCP or UDP one of an Ethernet `frame`, when
/// its headers parse.
fn fix_checksums(frame: &mut [u8]) {
    let Some(ip) = frame.get_mut(14..) else {
        return;
    };
    let Ok(mut ip) = Ipv4Packet::new_checked(ip) else {
        return;
    };
    ip.fill_checksum();
    let (src, dst) = (
        IpAddress::Ipv4(ip.src_addr()),
        IpAddress::Ipv4(ip.dst_addr()),
    );
    match ip.next_header() {
        IpProtocol::Tcp => {
            if let Ok(mut tcp) = TcpPacket::new_checked(ip.payload_mut()) {
                tcp.fill_checksum(&src, &dst);
            }
        }
        IpProtocol::Udp => {
            if let Ok(mut udp) = UdpPacket::new_checked(ip.payload_mut()) {
                udp.fill_checksum(&src, &dst);
            }
        }
        _ => {}
    }
}

/// 10.0.0.1 (at 02:00:00:00:00:01) asks who has 10.0.0.2.
fn arp_request() -> Vec<u8> {
    let peer = EthernetAddress([2, 0, 0, 0, 0, 1]);
    let arp = ArpRepr::EthernetIpv4 {
        operation: ArpOperation::Request,
        source_hardware_addr: peer,
        source_protocol_addr: Ipv4Addr::new(10, 0, 0, 1),
        target_hardware_addr: EthernetAddress([0; 6]),
        target_protocol_addr: Ipv4Addr::new(10, 0, 0, 2),
    };
    let mut frame = alloc::vec![0; 14 + arp.buffer_len()];
    frame[..6].fill(0xff);
    frame[6..12].copy_from_slice(peer.as_bytes());
    frame[12..14].copy_from_slice(&[0x08, 0x06]);
    arp.emit(&mut ArpPacket::new_unchecked(&mut frame[14..]));
    frame
}

/// Feeds `data` to a stack at 10.0.0.2/24 with a TCP listener and a UDP socket on port 7,
/// as frames: each is a 2-byte little-endian length (cut to the MTU; bit 15 asks for its
/// checksums to be filled in) and that many bytes. Polls after each frame, accepts, reads
/// and echoes what comes, and closes a connection at its end, as an application would.
pub fn ingress(data: &[u8]) {
    let rx = Arc::new(Mutex::new(VecDeque::new()));
    let device = Frames {
        rx: rx.clone(),
        stats: NetStats::default(),
    };
    let setup = Setup::Static(Ipv4Config {
        address: Ipv4Addr::new(10, 0, 0, 2),
        prefix_len: 24,
        gateway: Some(Ipv4Addr::new(10, 0, 0, 1)),
        dns_servers: alloc::vec![Ipv4Addr::new(10, 0, 0, 1)],
    });
    let Ok(mut stack) = Stack::new(Box::new(device), setup, Instant::ZERO, 1) else {
        return;
    };
    // Small buffers: the fuzzer's frames are short, and a run should take microseconds.
    stack.set_buffer_size(2048);
    let any = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 7);
    let (Ok(_), Ok((udp, _))) = (stack.tcp_listen(any), stack.udp_bind(any)) else {
        return;
    };
    // A lookup in flight, so that DNS answers are parsed too.
    let _ = stack.dns_start("example.com");
    // The peer's address is known, as after its first ARP request: a segment the fuzzer
    // sends gets its answer instead of an ARP request.
    let mut frames = VecDeque::from([arp_request()]);
    let mut rest = data;
    while let [lo, hi, tail @ ..] = rest {
        let word = u16::from_le_bytes([*lo, *hi]);
        let len = usize::from(word & !FIX_CHECKSUMS)
            .min(DEFAULT_MTU)
            .min(tail.len());
        let mut frame = tail[..len].to_vec();
        if word & FIX_CHECKSUMS != 0 {
            fix_checksums(&mut frame);
        }
        frames.push_back(frame);
        rest = &tail[len..];
    }
    let mut conns = Vec::new();
    let mut buf = [0; 2048];
    let mut now = Instant::ZERO;
    for frame in frames {
        rx.lock().push_back(frame);
        stack.poll(now);
        while let Ok(conn) = stack.tcp_accept(7) {
            conns.push(conn);
        }
        conns.retain(|&conn| match stack.tcp_recv(conn, &mut buf) {
            Ok(0) => {
                stack.tcp_close(conn);
                false
            }
            Ok(n) => {
                let _ = stack.tcp_send(conn, &buf[..n]);
                true
            }
            Err(_) => true,
        });
        if let Ok((n, from)) = stack.udp_recv_from(udp, &mut buf) {
            let _ = stack.udp_send_to(udp, &buf[..n], from);
        }
        now = now + core::time::Duration::from_millis(100);
    }
}
