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
        let len = self.device.receive(self.frame)?;
        self.received += 1;
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
        self.device.can_transmit().then(|| Tx {
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
