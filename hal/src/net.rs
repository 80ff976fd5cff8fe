//! Network devices: an Ethernet interface that hands out tokens, like smoltcp's
//! `phy::Device`.
//!
//! # Contract
//! - [`NetDevice::receive`] returns at once: `None` when no frame is waiting, else a token
//!   for one received frame plus a token to answer it. [`NetDevice::transmit`] returns at
//!   once: `None` when the device has no room for another frame.
//! - Consuming a token cannot fail: the device checked for the frame or the room before it
//!   handed the token out. A frame the device cannot send after all (the link went down) is
//!   dropped and counted, as a wire would lose it. So this trait has no error type.
//! - A frame is a whole Ethernet frame without the FCS: at most [`NetDevice::mtu`] bytes.
//!
//! # For driver authors
//! Hand the caller the device's own buffer where you can: a token exists so that no copy
//! is made that the device does not need.

/// An Ethernet (MAC) address.
pub type MacAddress = [u8; 6];

/// The largest Ethernet frame without FCS when the device says nothing else: 1500 bytes of
/// payload plus the 14-byte header.
pub const DEFAULT_MTU: usize = 1514;

/// A received frame, ready to be read once.
pub trait RxToken {
    /// Calls `f` with the frame's bytes.
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R;
}

/// Room for one frame to send.
pub trait TxToken {
    /// Calls `f` with a buffer of `len` bytes to fill, then sends it. `len` is at most
    /// [`NetDevice::mtu`]; a longer request is cut to the MTU.
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R;
}

/// An Ethernet interface: see the [module docs](self) for the contract.
pub trait NetDevice {
    /// A received frame.
    type RxToken<'a>: RxToken
    where
        Self: 'a;
    /// Room to send a frame.
    type TxToken<'a>: TxToken
    where
        Self: 'a;

    /// A received frame and room to answer it, or `None` at once when no frame is waiting.
    fn receive(&mut self) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)>;

    /// Room for one frame, or `None` at once when the device has none.
    fn transmit(&mut self) -> Option<Self::TxToken<'_>>;

    /// The device's Ethernet address.
    fn mac_address(&self) -> MacAddress;

    /// The largest frame the device sends or receives, header included, FCS excluded.
    fn mtu(&self) -> usize {
        DEFAULT_MTU
    }
}
