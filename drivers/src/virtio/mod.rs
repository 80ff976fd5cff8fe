//! virtio: what the `virtio-drivers` crate needs from Novillo ([`VirtioHal`]), and the
//! errors a virtio driver reports when its device cannot start ([`Error`]).
//!
//! The drivers themselves sit with their device family ([`crate::block::virtio`]); the
//! transports (MMIO, PCI) are the crate's, found by the boards.

#[cfg(test)]
pub(crate) mod fake;
#[cfg(test)]
pub(crate) mod fake_net;
mod hal;

use core::fmt;

use ::hal::block::ErrorKind;
use virtio_drivers::transport::DeviceType;

pub use self::hal::VirtioHal;

/// Why a virtio device could not start; the board logs it and leaves the device out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The transport leads to another kind of device than the driver drives.
    WrongDevice(DeviceType),
    /// The device's logical block size is not 512 bytes, so 512-byte requests would fail.
    BlockSize(u32),
    /// The device's queue holds fewer entries than the driver needs.
    QueueTooSmall(u32),
    /// The `virtio-drivers` crate refused (config space, queue set-up, DMA memory).
    Virtio(virtio_drivers::Error),
}

impl Error {
    /// The error in the words every block device shares: `Device` when the device is not
    /// one we can drive, `Other` when we are short of memory or were handed another kind.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::WrongDevice(_) | Self::Virtio(virtio_drivers::Error::DmaError) => {
                ErrorKind::Other
            }
            Self::BlockSize(_) | Self::QueueTooSmall(_) | Self::Virtio(_) => ErrorKind::Device,
        }
    }
}

impl ::hal::block::Error for Error {
    fn kind(&self) -> ErrorKind {
        Error::kind(self)
    }
}

impl From<virtio_drivers::Error> for Error {
    fn from(error: virtio_drivers::Error) -> Self {
        Self::Virtio(error)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WrongDevice(kind) => write!(f, "not a device this driver drives: {kind:?}"),
            Self::BlockSize(size) => {
                write!(f, "logical block size {size} bytes, only 512 is supported")
            }
            Self::QueueTooSmall(size) => write!(f, "queue of {size} entries is too small"),
            Self::Virtio(error) => write!(f, "virtio: {error}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use alloc::string::ToString;

    use ::hal::block::ErrorKind;
    use virtio_drivers::transport::DeviceType;

    use super::Error;

    #[test]
    fn errors_say_what_went_wrong() {
        let cases = [
            (
                Error::WrongDevice(DeviceType::Network),
                ErrorKind::Other,
                "Network",
            ),
            (Error::BlockSize(4096), ErrorKind::Device, "4096"),
            (Error::QueueTooSmall(8), ErrorKind::Device, "8 entries"),
            (
                Error::Virtio(virtio_drivers::Error::DmaError),
                ErrorKind::Other,
                "DMA",
            ),
            (
                Error::Virtio(virtio_drivers::Error::ConfigSpaceTooSmall),
                ErrorKind::Device,
                "Config space",
            ),
        ];
        for (error, kind, words) in cases {
            assert_eq!(error.kind(), kind, "{error:?}");
            let text = error.to_string();
            assert!(text.contains(words), "{text:?} should mention {words:?}");
        }
    }
}
