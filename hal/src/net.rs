//! Network devices: an Ethernet interface that receives and sends whole frames.
//!
//! # Contract
//! - [`NetDevice::receive`] returns at once: the next received frame copied into the
//!   caller's buffer, or `None` when no frame is waiting. [`NetDevice::transmit`] returns at
//!   once: `false`, with nothing sent, when the device has no room for another frame.
//! - A frame is a whole Ethernet frame without the FCS, at most [`NetDevice::mtu`] bytes.
//!   A frame the device received that is longer than that, or malformed as far as the
//!   device can tell, is dropped and counted in [`NetStats::rx_dropped`], never returned.
//! - A frame the device cannot send after all (the link went down) is dropped and counted,
//!   as a wire would lose it. So this trait has no error type.
//! - A device that raises interrupts ([`InterruptSource`](crate::irq::InterruptSource))
//!   raises one whenever `receive` would return a new frame or room to transmit opens up
//!   after `transmit` said `false`.
//!
//! The calls take plain buffers and a `dyn` closure, so that the kernel can hold any
//! driver as [`dyn NetDriver`](crate::device::NetDriver) and no TCP/IP code is generic over
//! drivers.
//!
//! # For driver authors
//! Reuse your receive buffers: copy the frame out in `receive`, then give the buffer back
//! to the device at once.

/// An Ethernet (MAC) address.
pub type MacAddress = [u8; 6];

/// The largest Ethernet frame without FCS when the device says nothing else: 1500 bytes of
/// payload plus the 14-byte header.
pub const DEFAULT_MTU: usize = 1514;

/// The shortest frame a device hands over: an Ethernet header.
pub const MIN_FRAME: usize = 14;

/// What a device counted since it started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetStats {
    /// Frames handed to the caller.
    pub rx_frames: u64,
    /// Frames sent.
    pub tx_frames: u64,
    /// Received frames dropped: too short, too long, malformed, or no buffer.
    pub rx_dropped: u64,
    /// Frames the device could not send.
    pub tx_dropped: u64,
}

/// An Ethernet interface: see the [module docs](self) for the contract.
pub trait NetDevice {
    /// The device's Ethernet address.
    fn mac_address(&self) -> MacAddress;

    /// The largest frame the device sends or receives, header included, FCS excluded.
    fn mtu(&self) -> usize {
        DEFAULT_MTU
    }

    /// Whether the link is up (a device that cannot tell says `true`).
    fn link_up(&self) -> bool {
        true
    }

    /// Copies the next received frame into `buf` and returns its length, or `None` at once
    /// when no frame is waiting. `buf` holds at least [`mtu`](Self::mtu) bytes.
    fn receive(&mut self, buf: &mut [u8]) -> Option<usize>;

    /// Whether [`transmit`](Self::transmit) would take a frame now.
    fn can_transmit(&mut self) -> bool;

    /// Sends one frame of `len` bytes (cut to the MTU) that `fill` writes into the device's
    /// buffer. Returns `false`, without calling `fill`, when the device has no room.
    fn transmit(&mut self, len: usize, fill: &mut dyn FnMut(&mut [u8])) -> bool;

    /// What the device counted so far.
    fn stats(&self) -> NetStats;
}

impl<T: NetDevice + ?Sized> NetDevice for &mut T {
    fn mac_address(&self) -> MacAddress {
        T::mac_address(self)
    }

    fn mtu(&self) -> usize {
        T::mtu(self)
    }

    fn link_up(&self) -> bool {
        T::link_up(self)
    }

    fn receive(&mut self, buf: &mut [u8]) -> Option<usize> {
        T::receive(self, buf)
    }

    fn can_transmit(&mut self) -> bool {
        T::can_transmit(self)
    }

    fn transmit(&mut self, len: usize, fill: &mut dyn FnMut(&mut [u8])) -> bool {
        T::transmit(self, len, fill)
    }

    fn stats(&self) -> NetStats {
        T::stats(self)
    }
}
