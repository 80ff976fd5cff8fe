//! smoltcp's token-based `Device` over a copy-based [`NetDevice`].

use alloc::vec::Vec;

use hal::net::NetDevice;
use smoltcp::phy::{Device, DeviceCapabilities, Medium, RxToken, TxToken};
use smoltcp::time::Instant;

/// One poll's view of the device: the frame buffer the device copies into, and a scratch
/// buffer for a reply the device had no room for (smoltcp's tokens cannot refuse).
pub(super) struct Phy<'a> {
    pub(super) device: &'a mut dyn NetDevice,
    pub(super) frame: &'a mut Vec<u8>,
    pub(super) scratch: &'a mut Vec<u8>,
    /// Frames taken from the device in this poll.
    pub(super) received: usize,
    /// The connections listeners have in handshake: (peer address, peer port, local port).
    /// A peer that repeats its SYN while the answer is under way must not reach another
    /// listening socket of the port, which would open a second connection for it.
    pub(super) handshakes: Vec<([u8; 4], u16, u16)>,
    /// Listening ports with no socket left listening (their connections wait for
    /// `accept`). A SYN to one is dropped, as Linux drops it while its accept queue is
    /// full, so the peer sends it again later; smoltcp would answer it with a reset.
    pub(super) full: Vec<u16>,
}

/// A TCP SYN without ACK in an Ethernet frame: (source address, source port, destination
/// port).
fn syn_of(frame: &[u8]) -> Option<([u8; 4], u16, u16)> {
    if frame.get(12..14)? != [0x08, 0x00] {
        return None;
    }
    let ip = frame.get(14..)?;
    let header = usize::from(ip.first()? & 0x0f) * 4;
    if *ip.get(9)? != 6 {
        return None;
    }
    let source: [u8; 4] = ip.get(12..16)?.try_into().ok()?;
    let tcp = ip.get(header..)?;
    let flags = *tcp.get(13)?;
    let port = |at: usize| Some(u16::from_be_bytes(tcp.get(at..at + 2)?.try_into().ok()?));
    (flags & 0x12 == 0x02).then_some(())?;
    Some((source, port(0)?, port(2)?))
}

pub(super) struct Rx<'a>(&'a [u8]);

pub(super) struct Tx<'a> {
    device: &'a mut dyn NetDevice,
    scratch: &'a mut Vec<u8>,
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
        let len = loop {
            let len = self.device.receive(self.frame)?;
            self.received += 1;
            let dropped_syn = (!self.handshakes.is_empty() || !self.full.is_empty())
                && syn_of(self.frame.get(..len)?).is_some_and(|syn| {
                    self.handshakes.contains(&syn) || self.full.contains(&syn.2)
                });
            if !dropped_syn {
                break len;
            }
        };
        let frame = self.frame.get(..len)?;
        Some((
            Rx(frame),
            Tx {
                device: &mut *self.device,
                scratch: self.scratch,
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
        self.device.transmit(len, &mut |buf| {
            if let Some(f) = f.take() {
                result = Some(f(buf));
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
