//! A NIC smoke test without a network stack: finds NIC 0, answers ARP requests for
//! 10.0.2.15 (QEMU user networking's guest address) and echoes every UDP datagram sent to
//! it, by swapping the addresses and ports of the frame (which keeps both checksums
//! right). A datagram whose payload is `bye` is echoed, then the app prints what the NIC
//! counted and exits.
//!
//! It prints `nic ready: NAME MAC` once it listens: probe's `nic` suite case then sends
//! datagrams to the forwarded UDP port 7 and checks the echoes byte for byte.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use apps as _;
use kernel::nic::{self, MAX_FRAME, Nic};
use kernel::process::ExitCode;

kernel::main!(main);

/// The address this app answers for.
const ADDRESS: [u8; 4] = [10, 0, 2, 15];
const ETHERTYPE_ARP: [u8; 2] = [0x08, 0x06];
const ETHERTYPE_IPV4: [u8; 2] = [0x08, 0x00];
const PROTOCOL_UDP: u8 = 17;

fn main() -> ExitCode {
    let nic = match nic::nic(0) {
        Ok(nic) => nic,
        Err(e) => {
            kernel::println!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let mac = nic.mac_address();
    kernel::println!(
        "nic ready: {} {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x} link {}",
        nic.name(),
        mac[0],
        mac[1],
        mac[2],
        mac[3],
        mac[4],
        mac[5],
        if nic.link_up() { "up" } else { "down" }
    );
    match serve(nic) {
        Ok(echoed) => {
            let stats = nic.stats();
            kernel::println!(
                "nic done: {echoed} datagrams echoed; rx {} tx {} rx dropped {} tx dropped {}",
                stats.rx_frames,
                stats.tx_frames,
                stats.rx_dropped,
                stats.tx_dropped
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            kernel::println!("nic failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Answers until a `bye` datagram; returns how many datagrams it echoed.
fn serve(nic: Nic) -> Result<usize, nic::Error> {
    let mac = nic.mac_address();
    let mut frame = [0u8; MAX_FRAME];
    let mut echoed = 0;
    loop {
        let len = nic.receive(&mut frame)?;
        let frame = &mut frame[..len];
        if arp_reply(frame, mac) {
            nic.send(frame)?;
        } else if let Some(payload) = udp_echo(frame, mac) {
            // The payload is what the UDP length says: a short frame may come padded.
            let bye = frame.get(payload) == Some(&b"bye"[..]);
            nic.send(frame)?;
            echoed += 1;
            if bye {
                return Ok(echoed);
            }
        }
    }
}

/// Turns an ARP request for [`ADDRESS`] into its reply, in place.
fn arp_reply(frame: &mut [u8], mac: [u8; 6]) -> bool {
    let is_request = frame.len() >= 42
        && frame[12..14] == ETHERTYPE_ARP
        && frame[14..22] == [0, 1, 8, 0, 6, 4, 0, 1]
        && frame[38..42] == ADDRESS;
    if !is_request {
        return false;
    }
    let (asker_mac, asker_ip) = (
        <[u8; 6]>::try_from(&frame[22..28]),
        <[u8; 4]>::try_from(&frame[28..32]),
    );
    let (Ok(asker_mac), Ok(asker_ip)) = (asker_mac, asker_ip) else {
        return false;
    };
    frame[0..6].copy_from_slice(&asker_mac);
    frame[6..12].copy_from_slice(&mac);
    frame[21] = 2;
    frame[22..28].copy_from_slice(&mac);
    frame[28..32].copy_from_slice(&ADDRESS);
    frame[32..38].copy_from_slice(&asker_mac);
    frame[38..42].copy_from_slice(&asker_ip);
    true
}

/// Turns a UDP datagram to [`ADDRESS`] into its echo, in place; where its payload is.
fn udp_echo(frame: &mut [u8], mac: [u8; 6]) -> Option<core::ops::Range<usize>> {
    if frame.len() < 42 || frame[12..14] != ETHERTYPE_IPV4 || frame[23] != PROTOCOL_UDP {
        return None;
    }
    let header = usize::from(frame[14] & 0x0f) * 4;
    let udp = 14 + header;
    if header < 20 || frame.len() < udp + 8 || frame[30..34] != ADDRESS {
        return None;
    }
    let length = usize::from(u16::from_be_bytes([frame[udp + 4], frame[udp + 5]]));
    let payload = udp + 8..udp + length.max(8);
    if payload.end > frame.len() {
        return None;
    }
    frame.copy_within(6..12, 0);
    frame[6..12].copy_from_slice(&mac);
    for i in 0..4 {
        frame.swap(26 + i, 30 + i);
    }
    for i in 0..2 {
        frame.swap(udp + i, udp + 2 + i);
    }
    Some(payload)
}
