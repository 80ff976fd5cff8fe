//! Network devices, frame by frame: the NICs the board found, each sending and receiving
//! whole Ethernet frames from any thread on any core. A receive parks the calling thread
//! until a frame arrives (the NIC's interrupt wakes it); a send parks only while the
//! device has no room. This is the raw layer under a network stack, for tests and tools.
//!
//! ```ignore
//! let nic = kernel::nic::nic(0)?;
//! let mut frame = [0; kernel::nic::MAX_FRAME];
//! let len = nic.receive(&mut frame)?;
//! nic.send(&frame[..len])?;
//! ```

use core::fmt;

pub use hal::net::{DEFAULT_MTU as MAX_FRAME, MacAddress, NetStats};

use crate::device::{self, NicCore};

/// One NIC: cheap to copy, valid for ever.
#[derive(Clone, Copy)]
pub struct Nic(pub(crate) &'static NicCore);

impl fmt::Debug for Nic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Nic")
            .field("name", &self.0.name)
            .field("mac", &self.0.mac)
            .finish()
    }
}

/// Every NIC of the machine, in the board's order; may be empty. The first call finds
/// the board's devices.
pub fn nics() -> &'static [Nic] {
    &device::registry().nics
}

/// NIC `index`.
pub fn nic(index: usize) -> Result<Nic, Error> {
    let nics = nics();
    nics.get(index).copied().ok_or(Error::NoSuchNic {
        index,
        count: nics.len(),
    })
}

impl Nic {
    /// The board's name for it, such as `"e1000 00:03.0"`.
    pub fn name(&self) -> &'static str {
        self.0.name
    }

    /// Its Ethernet address.
    pub fn mac_address(&self) -> MacAddress {
        self.0.mac
    }

    /// Whether its link is up.
    pub fn link_up(&self) -> bool {
        self.0.link_up()
    }

    /// Copies the next frame into `buf` (at least [`MAX_FRAME`] bytes, or frames longer
    /// than `buf` are dropped and counted) and returns its length; parks the thread until
    /// one arrives.
    pub fn receive(&self, buf: &mut [u8]) -> Result<usize, Error> {
        self.0.receive(buf).ok_or(Error::NotAThread)
    }

    /// Sends `frame` (cut to [`MAX_FRAME`] bytes); parks while the device has no room.
    pub fn send(&self, frame: &[u8]) -> Result<(), Error> {
        self.0.send(frame).ok_or(Error::NotAThread)
    }

    /// What the device counted.
    pub fn stats(&self) -> NetStats {
        self.0.stats()
    }
}

/// Why a NIC call failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// There is no NIC `index`: the machine has `count`.
    NoSuchNic {
        /// The index asked for.
        index: usize,
        /// How many NICs there are.
        count: usize,
    },
    /// Only threads wait for a device.
    NotAThread,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoSuchNic { index, count } => write!(
                f,
                "no NIC {index}: this machine has {count} (attach one with `--net user`)"
            ),
            Self::NotAThread => f.write_str("only a thread can wait for a NIC"),
        }
    }
}

impl core::error::Error for Error {}
