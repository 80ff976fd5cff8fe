//! Disks: reading and writing sectors, from any thread on any core.
//!
//! The board's disks are found the first time an application asks ([`disks`] or
//! [`disk`]), numbered in the order the board lists them. A request parks the calling
//! thread until the device is done (its interrupt wakes the thread), so the core runs other
//! threads, or halts, meanwhile. Several threads may have requests in flight on one disk.
//!
//! ```ignore
//! let disk = kernel::block::disk(0)?;
//! let mut sector = [0; kernel::block::SECTOR_SIZE];
//! disk.read(0, &mut sector)?;
//! ```

use core::fmt;

use hal::block::Request;
pub use hal::block::{ErrorKind, SECTOR_SIZE};

use crate::device::{self, DiskCore};

/// One disk: cheap to copy, valid for ever.
#[derive(Clone, Copy)]
pub struct Disk(pub(crate) &'static DiskCore);

impl fmt::Debug for Disk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Disk")
            .field("name", &self.0.name)
            .field("sectors", &self.0.sectors)
            .finish()
    }
}

/// Every disk of the machine, in the board's order; may be empty. The first call finds
/// them.
pub fn disks() -> &'static [Disk] {
    &device::registry().disks
}

/// Disk `index`.
pub fn disk(index: usize) -> Result<Disk, Error> {
    let disks = disks();
    disks.get(index).copied().ok_or(Error::NoSuchDisk {
        index,
        count: disks.len(),
    })
}

impl Disk {
    /// How many sectors of [`SECTOR_SIZE`] bytes the disk holds.
    pub fn sector_count(&self) -> u64 {
        self.0.sectors
    }

    /// The board's name for the disk, such as `"virtio-blk 00:04.0"`.
    pub fn name(&self) -> &'static str {
        self.0.name
    }

    /// Reads `buf.len() / SECTOR_SIZE` sectors from `first` into `buf`, a whole number of
    /// sectors; an empty buffer is done at once. Blocks the thread until the disk is done.
    pub fn read(&self, first: u64, buf: &mut [u8]) -> Result<(), Error> {
        if buf.is_empty() {
            return Ok(());
        }
        Ok(self.0.transfer(Request::Read { first, buf })?)
    }

    /// Writes `buf`, a whole number of sectors, from sector `first`; an empty buffer is done
    /// at once. Blocks the thread until the disk is done.
    pub fn write(&self, first: u64, buf: &[u8]) -> Result<(), Error> {
        if buf.is_empty() {
            return Ok(());
        }
        Ok(self.0.transfer(Request::Write { first, buf })?)
    }

    /// Makes every write that returned durable. Blocks the thread until the disk is done.
    pub fn flush(&self) -> Result<(), Error> {
        Ok(self.0.transfer(Request::Flush)?)
    }
}

/// Why a disk request failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// There is no disk `index`: the machine has `count`.
    NoSuchDisk {
        /// The index asked for.
        index: usize,
        /// How many disks there are.
        count: usize,
    },
    /// The disk refused or failed the request.
    Io(ErrorKind),
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Self {
        Self::Io(kind)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoSuchDisk { index, count } => write!(
                f,
                "no disk {index}: this machine has {count} disk{} (attach one with `--disk FILE`)",
                if *count == 1 { "" } else { "s" }
            ),
            Self::Io(kind) => write!(f, "disk error: {kind}"),
        }
    }
}

impl core::error::Error for Error {}
