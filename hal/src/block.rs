//! Block devices: an array of fixed-size sectors, such as a virtio-blk or ATA disk.
//!
//! # Contract
//! - A request names its first sector and a buffer whose length is a whole number of
//!   [`SECTOR_SIZE`] sectors; an empty buffer does nothing and succeeds.
//! - `read` and `write` block until the transfer is done. A request that reaches past
//!   [`BlockDevice::sector_count`] fails with [`ErrorKind::OutOfRange`] and transfers nothing;
//!   a buffer that is not a whole number of sectors fails with [`ErrorKind::InvalidBuffer`].
//! - `flush` returns once every completed write is durable; a device with no write cache
//!   makes it a no-op.

use core::fmt;

/// The size of one sector, in bytes.
pub const SECTOR_SIZE: usize = 512;

/// What went wrong, in words every block device shares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The request reaches past the last sector.
    OutOfRange,
    /// The buffer is not a whole number of sectors.
    InvalidBuffer,
    /// The device refuses writes.
    ReadOnly,
    /// The device reported an error for this request.
    Device,
    /// Anything else.
    Other,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::OutOfRange => "request reaches past the end of the device",
            Self::InvalidBuffer => "buffer is not a whole number of sectors",
            Self::ReadOnly => "device is read-only",
            Self::Device => "device error",
            Self::Other => "block device error",
        })
    }
}

/// A block device error.
pub trait Error: fmt::Debug {
    /// The kind of this error.
    fn kind(&self) -> ErrorKind;
}

impl Error for ErrorKind {
    fn kind(&self) -> ErrorKind {
        *self
    }
}

/// The error type of a block device.
pub trait ErrorType {
    /// Errors this device returns.
    type Error: Error;
}

impl<T: ErrorType + ?Sized> ErrorType for &mut T {
    type Error = T::Error;
}

/// An array of [`SECTOR_SIZE`]-byte sectors: see the [module docs](self) for the contract.
pub trait BlockDevice: ErrorType {
    /// How many sectors the device holds.
    fn sector_count(&self) -> u64;

    /// Reads `buf.len() / SECTOR_SIZE` sectors starting at `first`.
    fn read(&mut self, first: u64, buf: &mut [u8]) -> Result<(), Self::Error>;

    /// Writes `buf.len() / SECTOR_SIZE` sectors starting at `first`.
    fn write(&mut self, first: u64, buf: &[u8]) -> Result<(), Self::Error>;

    /// Makes every completed write durable.
    fn flush(&mut self) -> Result<(), Self::Error>;
}

impl<T: BlockDevice + ?Sized> BlockDevice for &mut T {
    fn sector_count(&self) -> u64 {
        T::sector_count(self)
    }

    fn read(&mut self, first: u64, buf: &mut [u8]) -> Result<(), Self::Error> {
        T::read(self, first, buf)
    }

    fn write(&mut self, first: u64, buf: &[u8]) -> Result<(), Self::Error> {
        T::write(self, first, buf)
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        T::flush(self)
    }
}

/// Checks a request against the contract's buffer and range rules, so that every device
/// enforces them the same way. Returns the number of sectors the request covers.
pub fn check_request(sector_count: u64, first: u64, len: usize) -> Result<u64, ErrorKind> {
    if !len.is_multiple_of(SECTOR_SIZE) {
        return Err(ErrorKind::InvalidBuffer);
    }
    let sectors = (len / SECTOR_SIZE) as u64;
    match first.checked_add(sectors) {
        Some(end) if end <= sector_count => Ok(sectors),
        _ => Err(ErrorKind::OutOfRange),
    }
}

#[cfg(test)]
mod tests {
    use super::{ErrorKind, SECTOR_SIZE, check_request};

    #[test]
    fn requests_inside_the_device_pass() {
        assert_eq!(check_request(8, 0, 8 * SECTOR_SIZE), Ok(8));
        assert_eq!(check_request(8, 7, SECTOR_SIZE), Ok(1));
        assert_eq!(check_request(8, 8, 0), Ok(0));
    }

    #[test]
    fn bad_requests_are_refused() {
        assert_eq!(check_request(8, 0, 100), Err(ErrorKind::InvalidBuffer));
        assert_eq!(check_request(8, 8, SECTOR_SIZE), Err(ErrorKind::OutOfRange));
        assert_eq!(
            check_request(8, u64::MAX, SECTOR_SIZE),
            Err(ErrorKind::OutOfRange)
        );
    }
}
