//! Frames from outside into a stack, for the fuzz target (`fuzz/fuzz_targets/net_ingress.rs`):
//! whatever the bytes, the stack must drop what it cannot parse, never panic.

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::net::{Ipv4Addr, SocketAddrV4};

use hal::net::{DEFAULT_MTU, MacAddress, NetDevice, NetStats};
use hal::time::Instant;
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

/// Feeds `data` to a stack at 10.0.0.2/24 with a TCP listener and a UDP socket on port 7,
/// as frames: each is a 2-byte little-endian length (cut to the MTU) and that many bytes.
/// Polls after each frame, accepts, reads and echoes what comes, as an application would.
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
    let mut frames = VecDeque::new();
    let mut rest = data;
    while let [lo, hi, tail @ ..] = rest {
        let len = usize::from(u16::from_le_bytes([*lo, *hi]))
            .min(DEFAULT_MTU)
            .min(tail.len());
        frames.push_back(tail[..len].to_vec());
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
        for &conn in &conns {
            if let Ok(n) = stack.tcp_recv(conn, &mut buf) {
                let _ = stack.tcp_send(conn, &buf[..n]);
            }
        }
        if let Ok((n, from)) = stack.udp_recv_from(udp, &mut buf) {
            let _ = stack.udp_send_to(udp, &buf[..n], from);
        }
        now = now + core::time::Duration::from_millis(100);
    }
}
