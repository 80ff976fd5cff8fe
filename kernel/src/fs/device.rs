//! The sectors under a volume: the [`Sectors`] trait a disk implements, a small sector cache,
//! and the byte stream (`Storage`) the FAT crate reads and writes through.
//!
//! The FAT crate moves bytes a few at a time (a FAT entry, a directory entry field by
//! field), so sectors it touches partly go through a direct-mapped cache; whole aligned
//! sectors (file data) go straight to the disk. Cached sectors are written back at the end
//! of every operation of the volume, so a call that returned has put its writes on the disk.
//!
//! Every operation also gets a budget of transfers: a cluster chain or a directory that loops
//! on a corrupt volume would make the FAT crate read for ever, and runs out of budget instead.

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;

use fatfs::{IoBase, IoError, Read, Seek, SeekFrom, Write};
use hal::block::{ErrorKind, SECTOR_SIZE};

use crate::block::{self, Disk};

/// What the file layer needs of a disk: whole [`SECTOR_SIZE`]-byte sectors, read and written
/// in place, blocking until done. [`kernel::block::Disk`](crate::block::Disk) implements it;
/// so can a RAM disk in a test.
pub trait Sectors: Send {
    /// How many sectors the disk holds.
    fn sector_count(&self) -> u64;

    /// Reads `buf.len() / SECTOR_SIZE` sectors from `first` into `buf`, a whole number of
    /// sectors.
    fn read(&mut self, first: u64, buf: &mut [u8]) -> Result<(), ErrorKind>;

    /// Writes `buf`, a whole number of sectors, from sector `first`.
    fn write(&mut self, first: u64, buf: &[u8]) -> Result<(), ErrorKind>;

    /// Makes every write that returned durable.
    fn flush(&mut self) -> Result<(), ErrorKind>;
}

impl Sectors for Disk {
    fn sector_count(&self) -> u64 {
        Disk::sector_count(self)
    }

    fn read(&mut self, first: u64, buf: &mut [u8]) -> Result<(), ErrorKind> {
        Disk::read(self, first, buf).map_err(disk_error)
    }

    fn write(&mut self, first: u64, buf: &[u8]) -> Result<(), ErrorKind> {
        Disk::write(self, first, buf).map_err(disk_error)
    }

    fn flush(&mut self) -> Result<(), ErrorKind> {
        Disk::flush(self).map_err(disk_error)
    }
}

fn disk_error(error: block::Error) -> ErrorKind {
    match error {
        block::Error::Io(kind) => kind,
        _ => ErrorKind::Other,
    }
}

impl<T: Sectors + ?Sized> Sectors for Box<T> {
    fn sector_count(&self) -> u64 {
        T::sector_count(self)
    }

    fn read(&mut self, first: u64, buf: &mut [u8]) -> Result<(), ErrorKind> {
        T::read(self, first, buf)
    }

    fn write(&mut self, first: u64, buf: &[u8]) -> Result<(), ErrorKind> {
        T::write(self, first, buf)
    }

    fn flush(&mut self) -> Result<(), ErrorKind> {
        T::flush(self)
    }
}

/// Why the byte stream under the FAT crate failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StorageError {
    /// The disk refused or failed a transfer.
    Disk(ErrorKind),
    /// The volume's structures point past the end of its disk or partition.
    PastEnd,
    /// The operation ran out of its budget: the volume's structures loop.
    Loop,
    /// The FAT crate found its structures ending early.
    Eof,
    /// The FAT crate could not write a whole buffer.
    WriteZero,
}

impl IoError for StorageError {
    fn is_interrupted(&self) -> bool {
        false
    }

    fn new_unexpected_eof_error() -> Self {
        Self::Eof
    }

    fn new_write_zero_error() -> Self {
        Self::WriteZero
    }
}

/// How many sectors the cache holds: enough for the FAT sectors of a chain walk over a
/// 64 MiB file and the directories around it.
const CACHE_SECTORS: usize = 256;

struct Slot {
    sector: Option<u64>,
    dirty: bool,
    data: [u8; SECTOR_SIZE],
}

/// A disk, or the part of it a volume spans, with its cache.
pub(crate) struct Device {
    disk: Box<dyn Sectors>,
    /// The volume's first sector on the disk.
    start: u64,
    /// The volume's length in sectors.
    sectors: u64,
    slots: Vec<Slot>,
    /// Transfers left to the current operation.
    budget: u64,
}

impl Device {
    pub(crate) fn new(disk: Box<dyn Sectors>, start: u64, sectors: u64) -> Self {
        let slots = (0..CACHE_SECTORS)
            .map(|_| Slot {
                sector: None,
                dirty: false,
                data: [0; SECTOR_SIZE],
            })
            .collect();
        Self {
            disk,
            start,
            sectors,
            slots,
            budget: u64::MAX,
        }
    }

    /// The volume's length in sectors.
    pub(crate) fn sectors(&self) -> u64 {
        self.sectors
    }

    /// Starts an operation that may make up to `transfers` transfers.
    pub(crate) fn set_budget(&mut self, transfers: u64) {
        self.budget = transfers;
    }

    fn spend(&mut self) -> Result<(), StorageError> {
        self.budget = self
            .budget
            .checked_sub(1)
            .ok_or(StorageError::Loop)?;
        Ok(())
    }

    fn check_range(&self, first: u64, count: u64) -> Result<(), StorageError> {
        match first.checked_add(count) {
            Some(end) if end <= self.sectors => Ok(()),
            _ => Err(StorageError::PastEnd),
        }
    }

    fn disk_read(&mut self, first: u64, buf: &mut [u8]) -> Result<(), StorageError> {
        self.disk
            .read(self.start + first, buf)
            .map_err(StorageError::Disk)
    }

    fn disk_write(&mut self, first: u64, buf: &[u8]) -> Result<(), StorageError> {
        self.disk
            .write(self.start + first, buf)
            .map_err(StorageError::Disk)
    }

    /// The cache slot holding `sector`, read from the disk if it was not there.
    fn slot(&mut self, sector: u64) -> Result<&mut Slot, StorageError> {
        self.check_range(sector, 1)?;
        let index = (sector % CACHE_SECTORS as u64) as usize;
        if self.slots[index].sector != Some(sector) {
            self.write_back_slot(index)?;
            let mut data = [0; SECTOR_SIZE];
            self.disk_read(sector, &mut data)?;
            let slot = &mut self.slots[index];
            slot.sector = Some(sector);
            slot.data = data;
        }
        Ok(&mut self.slots[index])
    }

    fn write_back_slot(&mut self, index: usize) -> Result<(), StorageError> {
        let slot = &self.slots[index];
        if let (true, Some(sector)) = (slot.dirty, slot.sector) {
            let data = slot.data;
            self.disk_write(sector, &data)?;
            self.slots[index].dirty = false;
        }
        Ok(())
    }

    /// Writes every changed cached sector to the disk.
    pub(crate) fn write_back(&mut self) -> Result<(), StorageError> {
        (0..self.slots.len()).try_for_each(|index| self.write_back_slot(index))
    }

    /// Writes back, then has the disk make it durable.
    pub(crate) fn sync(&mut self) -> Result<(), StorageError> {
        self.write_back()?;
        self.disk.flush().map_err(StorageError::Disk)
    }

    /// Reads from byte `pos`: whole sectors straight from the disk, else from the sector
    /// holding `pos`. Returns how many bytes it read.
    fn read_at(&mut self, pos: u64, buf: &mut [u8]) -> Result<usize, StorageError> {
        self.spend()?;
        let sector = pos / SECTOR_SIZE as u64;
        let offset = (pos % SECTOR_SIZE as u64) as usize;
        if offset == 0 && buf.len() >= SECTOR_SIZE {
            let count = buf.len() / SECTOR_SIZE;
            self.check_range(sector, count as u64)?;
            let buf = &mut buf[..count * SECTOR_SIZE];
            self.disk_read(sector, buf)?;
            // A cached sector changed in this operation is newer than the disk's.
            for (i, chunk) in buf.chunks_exact_mut(SECTOR_SIZE).enumerate() {
                let slot = &self.slots[((sector + i as u64) % CACHE_SECTORS as u64) as usize];
                if slot.dirty && slot.sector == Some(sector + i as u64) {
                    chunk.copy_from_slice(&slot.data);
                }
            }
            return Ok(buf.len());
        }
        let slot = self.slot(sector)?;
        let len = buf.len().min(SECTOR_SIZE - offset);
        buf[..len].copy_from_slice(&slot.data[offset..offset + len]);
        Ok(len)
    }

    /// Writes at byte `pos`, as [`Device::read_at`] reads. Returns how many bytes it wrote.
    fn write_at(&mut self, pos: u64, buf: &[u8]) -> Result<usize, StorageError> {
        self.spend()?;
        let sector = pos / SECTOR_SIZE as u64;
        let offset = (pos % SECTOR_SIZE as u64) as usize;
        if offset == 0 && buf.len() >= SECTOR_SIZE {
            let count = buf.len() / SECTOR_SIZE;
            self.check_range(sector, count as u64)?;
            let buf = &buf[..count * SECTOR_SIZE];
            self.disk_write(sector, buf)?;
            for (i, chunk) in buf.chunks_exact(SECTOR_SIZE).enumerate() {
                let slot = &mut self.slots[((sector + i as u64) % CACHE_SECTORS as u64) as usize];
                if slot.sector == Some(sector + i as u64) {
                    slot.data.copy_from_slice(chunk);
                    slot.dirty = false;
                }
            }
            return Ok(buf.len());
        }
        let slot = self.slot(sector)?;
        let len = buf.len().min(SECTOR_SIZE - offset);
        slot.data[offset..offset + len].copy_from_slice(&buf[..len]);
        slot.dirty = true;
        Ok(len)
    }
}

/// A device shared by a volume and the FAT crate's storage. Its spin lock is taken only
/// under the volume's own (blocking) lock, so it is never contended and never spins, though
/// it is held across disk transfers; it costs far less than a blocking lock on each of the
/// FAT crate's many small reads.
pub(crate) type SharedDevice = Arc<spin::Mutex<Device>>;

/// The byte stream the FAT crate mounts: a position on a shared [`Device`].
pub(crate) struct Storage {
    device: SharedDevice,
    pos: u64,
}

impl Storage {
    pub(crate) fn new(device: SharedDevice) -> Self {
        Self { device, pos: 0 }
    }

    fn with<R>(&self, f: impl FnOnce(&mut Device) -> R) -> R {
        f(&mut self.device.lock())
    }
}

impl IoBase for Storage {
    type Error = StorageError;
}

impl Read for Storage {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, StorageError> {
        if buf.is_empty() {
            return Ok(0);
        }
        let pos = self.pos;
        let read = self.with(|device| device.read_at(pos, buf))?;
        self.pos += read as u64;
        Ok(read)
    }
}

impl Write for Storage {
    fn write(&mut self, buf: &[u8]) -> Result<usize, StorageError> {
        if buf.is_empty() {
            return Ok(0);
        }
        let pos = self.pos;
        let written = self.with(|device| device.write_at(pos, buf))?;
        self.pos += written as u64;
        Ok(written)
    }

    /// The FAT crate flushes after every file operation; the volume writes back at the end
    /// of each of its own, and asks the disk to flush only when told to sync.
    fn flush(&mut self) -> Result<(), StorageError> {
        Ok(())
    }
}

impl Seek for Storage {
    fn seek(&mut self, pos: SeekFrom) -> Result<u64, StorageError> {
        let len = self.with(|device| device.sectors()) * SECTOR_SIZE as u64;
        let new = match pos {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = new.ok_or(StorageError::PastEnd)?;
        Ok(self.pos)
    }
}
