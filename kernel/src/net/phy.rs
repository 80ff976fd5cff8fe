//! smoltcp's token-based `Device` over a copy-based [`NetDevice`], one frame at a time, and
//! the little parsing of a received frame that picks the shard it goes to.

use alloc::vec::Vec;

use hal::net::NetDevice;
use smoltcp::phy::{Device, DeviceCapabilities, Medium, RxToken, TxToken};
use smoltcp::time::Instant;

/// A TCP connection as the shard index names it: local port first, so that a port's
/// connections are neighbours in the index. One interface address: it needs no naming.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Tuple {
    pub(super) local_port: u16,
    pub(super) peer: [u8; 4],
    pub(super) peer_port: u16,
}

/// What a received frame is, as far as routing it needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Inbound {
    /// A TCP segment over IPv4; `syn`: a SYN without ACK, which opens a connection.
    Tcp { tuple: Tuple, syn: bool },
    /// ARP: the interface may learn a neighbour's address from it.
    Arp,
    /// Anything else, including what does not parse.
    Other,
}

const ETHERTYPE_IPV4: [u8; 2] = [0x08, 0x00];
const ETHERTYPE_ARP: [u8; 2] = [0x08, 0x06];
const PROTOCOL_TCP: u8 = 6;

/// What `frame` is. Reads only the fields it needs, each checked to be inside the frame:
/// smoltcp checks the rest (lengths, checksums) wherever the frame goes.
pub(super) fn inbound(frame: &[u8]) -> Inbound {
    match frame.get(12..14) {
        Some(t) if t == ETHERTYPE_IPV4 => tcp_of(frame).unwrap_or(Inbound::Other),
        Some(t) if t == ETHERTYPE_ARP => Inbound::Arp,
        _ => Inbound::Other,
    }
}

fn tcp_of(frame: &[u8]) -> Option<Inbound> {
    let ip = frame.get(14..)?;
    let first = *ip.first()?;
    let header = usize::from(first & 0x0f) * 4;
    if first >> 4 != 4 || header < 20 || *ip.get(9)? != PROTOCOL_TCP {
        return None;
    }
    // A fragment (offset or more-fragments set) is not a whole segment: smoltcp, built
    // without reassembly, drops it wherever it goes.
    if u16::from_be_bytes(ip.get(6..8)?.try_into().ok()?) & 0x3fff != 0 {
        return None;
    }
    let peer = ip.get(12..16)?.try_into().ok()?;
    let tcp = ip.get(header..)?;
    let port = |at: usize| Some(u16::from_be_bytes(tcp.get(at..at + 2)?.try_into().ok()?));
    let flags = *tcp.get(13)?;
    Some(Inbound::Tcp {
        tuple: Tuple {
            local_port: port(2)?,
            peer,
            peer_port: port(0)?,
        },
        syn: flags & 0x12 == 0x02,
    })
}

/// One step's view of the device: the frame already taken from it, if smoltcp is to
/// receive one, and a scratch buffer for a reply the device had no room for (smoltcp's
/// tokens cannot refuse).
pub(super) struct Phy<'a> {
    pub(super) device: &'a mut dyn NetDevice,
    /// What the next `receive` hands smoltcp; afterwards there is nothing to receive.
    pub(super) rx: Option<&'a [u8]>,
    pub(super) scratch: &'a mut Vec<u8>,
    /// An ARP frame (a neighbour asked for) went out through it.
    pub(super) sent_arp: bool,
}

pub(super) struct Rx<'a>(&'a [u8]);

pub(super) struct Tx<'a> {
    device: &'a mut dyn NetDevice,
    scratch: &'a mut Vec<u8>,
    sent_arp: &'a mut bool,
}

impl Device for Phy<'_> {
    type RxToken<'b>
        = Rx<'b>
    where
        Self: 'b;
    type TxToken<'b>
        = Tx<'b>
    where
        Self: 'b;

    fn receive(&mut self, _now: Instant) -> Option<(Rx<'_>, Tx<'_>)> {
        let frame = self.rx.take()?;
        Some((
            Rx(frame),
            Tx {
                device: &mut *self.device,
                scratch: self.scratch,
                sent_arp: &mut self.sent_arp,
            },
        ))
    }

    fn transmit(&mut self, _now: Instant) -> Option<Tx<'_>> {
        if !self.device.can_transmit() {
            return None;
        }
        Some(Tx {
            device: &mut *self.device,
            scratch: self.scratch,
            sent_arp: &mut self.sent_arp,
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = self.device.mtu();
        // No cap: a burst limit also limits the window smoltcp advertises (DESIGN.md §5).
        caps.max_burst_size = None;
        caps
    }
}

impl RxToken for Rx<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(self.0)
    }
}

impl TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut f = Some(f);
        let mut result = None;
        let sent_arp = self.sent_arp;
        self.device.transmit(len, &mut |buf| {
            if let Some(f) = f.take() {
                result = Some(f(buf));
                *sent_arp |= buf.get(12..14) == Some(&ETHERTYPE_ARP[..]);
            }
        });
        match (result, f) {
            (Some(result), _) => result,
            // No room after all (a reply to a frame just received): the frame is built and
            // lost, as on a wire.
            (None, Some(f)) => {
                self.scratch.clear();
                self.scratch.resize(len, 0);
                f(self.scratch)
            }
            (None, None) => unreachable!("fill ran without leaving a result"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Inbound, Tuple, inbound};

    /// A TCP SYN from 10.0.0.1:40000 to port 7, with an IPv4 header of `ihl` words.
    fn syn(ihl: u8) -> std::vec::Vec<u8> {
        let mut frame = std::vec![0; 14 + usize::from(ihl) * 4 + 20];
        frame[12..14].copy_from_slice(&[8, 0]);
        frame[14] = 0x40 | ihl;
        frame[14 + 9] = 6;
        frame[14 + 12..14 + 16].copy_from_slice(&[10, 0, 0, 1]);
        let tcp = 14 + usize::from(ihl) * 4;
        frame[tcp..tcp + 2].copy_from_slice(&40000u16.to_be_bytes());
        frame[tcp + 2..tcp + 4].copy_from_slice(&7u16.to_be_bytes());
        frame[tcp + 13] = 0x02;
        frame
    }

    const TUPLE: Tuple = Tuple {
        local_port: 7,
        peer: [10, 0, 0, 1],
        peer_port: 40000,
    };

    #[test]
    fn a_segment_names_its_connection_past_ip_options() {
        for ihl in [5, 6, 15] {
            assert_eq!(
                inbound(&syn(ihl)),
                Inbound::Tcp {
                    tuple: TUPLE,
                    syn: true
                },
                "ihl {ihl}"
            );
        }
        let mut ack = syn(5);
        ack[14 + 20 + 13] = 0x12;
        assert_eq!(
            inbound(&ack),
            Inbound::Tcp {
                tuple: TUPLE,
                syn: false
            }
        );
    }

    #[test]
    fn every_cut_of_a_segment_is_other_until_its_ports_are_in() {
        let frame = syn(6);
        // The ports end 4 bytes into the TCP header, the flags 14 bytes into it.
        let whole = 14 + 24 + 14;
        for len in 0..frame.len() {
            let got = inbound(&frame[..len]);
            assert_eq!(got == Inbound::Other, len < whole, "cut at {len}: {got:?}");
        }
    }

    #[test]
    fn what_is_not_a_whole_tcp_segment_goes_to_shard_zero() {
        let mut fragment = syn(5);
        fragment[14 + 6] = 0x20;
        let mut udp = syn(5);
        udp[14 + 9] = 17;
        let mut short_header = syn(5);
        short_header[14] = 0x44;
        let mut ipv6 = syn(5);
        ipv6[14] = 0x65;
        let mut arp = syn(5);
        arp[13] = 6;
        for frame in [fragment, udp, short_header, ipv6] {
            assert_eq!(inbound(&frame), Inbound::Other);
        }
        assert_eq!(inbound(&arp), Inbound::Arp);
    }
}
