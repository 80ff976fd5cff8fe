//! Block devices: an array of fixed-size sectors, such as a virtio-blk or ATA disk.
//!
//! The trait is split-phase: a request is started with [`BlockDevice::submit`] and comes
//! back later from [`BlockDevice::poll`], so that a driver never waits for its device.
//!
//! # Contract
//! - `submit` returns at once. It checks the request ([`Request::check`]: the buffer is a
//!   whole, non-zero number of [`SECTOR_SIZE`] sectors, else [`ErrorKind::InvalidBuffer`];
//!   it ends at or before [`BlockDevice::sector_count`], else [`ErrorKind::OutOfRange`]),
//!   then either starts it and returns its [`Token`], or returns `WouldBlock` when the
//!   queue has no room (retry after a completion), or an error: `OutOfRange`,
//!   `InvalidBuffer`, `ReadOnly`. A refused request transfers nothing.
//! - `poll` returns at once: a finished request, or `None`. Every token comes back exactly
//!   once, in any order; a device error ([`ErrorKind::Device`]) comes back in the
//!   completion.
//! - [`Request::Flush`] finishes once every write that finished before it was submitted is
//!   durable; a device without a write cache finishes it at once.
//! - A device that raises interrupts ([`InterruptSource`](crate::irq::InterruptSource))
//!   raises one whenever `poll` would return something new.
//!
//! # For driver authors
//! Do not wait for the device anywhere: waiting is the kernel's (it parks the thread). Use
//! [`ErrorKind`] as your request error and [`Request::check`] to refuse bad requests the
//! same way every device does; `hal::mock::block_contract` (feature `mock`) is the suite
//! your driver must pass.
//!
//! # For board authors
//! Hand block devices to the kernel through [`DeviceSink`](crate::device::DeviceSink).

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

/// Names one request in flight, from `submit` to the `poll` that returns it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Token(pub u16);

/// What to do.
#[derive(Debug)]
pub enum Request<'a> {
    /// Read `buf.len() / SECTOR_SIZE` sectors starting at `first` into `buf`.
    Read {
        /// The first sector.
        first: u64,
        /// Where the sectors go.
        buf: &'a mut [u8],
    },
    /// Write `buf` to `buf.len() / SECTOR_SIZE` sectors starting at `first`.
    Write {
        /// The first sector.
        first: u64,
        /// What to write.
        buf: &'a [u8],
    },
    /// Make every finished write durable.
    Flush,
}

impl Request<'_> {
    /// The same request, borrowed again (the kernel submits it again after `WouldBlock`).
    pub fn reborrow(&mut self) -> Request<'_> {
        match self {
            Request::Read { first, buf } => Request::Read { first: *first, buf },
            Request::Write { first, buf } => Request::Write { first: *first, buf },
            Request::Flush => Request::Flush,
        }
    }

    /// Checks the request against the contract's buffer and range rules for a device of
    /// `sector_count` sectors; an empty buffer is refused.
    pub fn check(&self, sector_count: u64) -> Result<(), ErrorKind> {
        let (first, len) = match self {
            Request::Read { first, buf } => (*first, buf.len()),
            Request::Write { first, buf } => (*first, buf.len()),
            Request::Flush => return Ok(()),
        };
        if len == 0 {
            return Err(ErrorKind::InvalidBuffer);
        }
        check_request(sector_count, first, len).map(drop)
    }
}

/// A finished request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Completion<E> {
    /// The token `submit` returned for it.
    pub token: Token,
    /// How it ended.
    pub result: Result<(), E>,
}

/// An array of [`SECTOR_SIZE`]-byte sectors: see the [module docs](self) for the contract.
pub trait BlockDevice: ErrorType {
    /// How many sectors the device holds.
    fn sector_count(&self) -> u64;

    /// How many requests may be in flight at once (at least 1).
    fn queue_depth(&self) -> usize;

    /// Starts `request`, or says why not.
    ///
    /// # Safety
    /// The request's buffer stays valid, and nothing else reads or writes it, until `poll`
    /// has returned the token: the device keeps its address and may use it until then.
    unsafe fn submit(&mut self, request: Request<'_>) -> nb::Result<Token, Self::Error>;

    /// A finished request, if there is one.
    fn poll(&mut self) -> Option<Completion<Self::Error>>;
}

impl<T: BlockDevice + ?Sized> BlockDevice for &mut T {
    fn sector_count(&self) -> u64 {
        T::sector_count(self)
    }

    fn queue_depth(&self) -> usize {
        T::queue_depth(self)
    }

    unsafe fn submit(&mut self, request: Request<'_>) -> nb::Result<Token, Self::Error> {
        // SAFETY: the caller keeps the contract, which is the same.
        unsafe { T::submit(self, request) }
    }

    fn poll(&mut self) -> Option<Completion<Self::Error>> {
        T::poll(self)
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
    use super::{ErrorKind, Request, SECTOR_SIZE, check_request};

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

    #[test]
    fn requests_refuse_empty_buffers_and_pass_flushes() {
        let mut buf = [0; SECTOR_SIZE];
        let mut read = Request::Read {
            first: 1,
            buf: &mut buf,
        };
        assert_eq!(read.reborrow().check(2), Ok(()));
        assert_eq!(read.check(1), Err(ErrorKind::OutOfRange));
        let empty = Request::Write { first: 0, buf: &[] };
        assert_eq!(empty.check(2), Err(ErrorKind::InvalidBuffer));
        assert_eq!(Request::Flush.check(0), Ok(()));
    }
}
