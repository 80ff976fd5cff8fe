//! The sectors under a volume: the [`Sectors`] trait a disk implements, the volume's cache,
//! and the byte stream (`Storage`) the FAT crate reads and writes through.
//!
//! The FAT crate moves bytes a few at a time (a FAT entry, a directory entry field by
//! field) and file data a cluster at a time. So that neither costs a disk request each:
//! - sectors it touches partly (FATs, directories) live in a direct-mapped cache of
//!   [`CACHE_SECTORS`], written back when evicted or flushed, contiguous dirty sectors in one
//!   request;
//! - whole sectors it writes (file data) gather in a write buffer of up to
//!   [`WRITE_BUFFER_SECTORS`] while they continue one another, one request when it is full,
//!   when a write does not continue it, or when flushed;
//! - a whole-sector read that continues the previous one reads [`READ_AHEAD_SECTORS`] ahead.
//!
//! Changes stay in memory until the volume syncs (or the cache or buffer fills); the first
//! change after a sync is written through at once, so a read-only disk says so on the write
//! that meets it. Memory per volume is bounded: the cache, the buffer and the read-ahead.
//!
//! FAT sectors are checked as they enter the cache: an entry holding a cluster number the
//! volume does not have (1, or past its last cluster) is `InvalidData`, before the FAT crate
//! can compute with it.
//!
//! Every operation also gets a budget of transfers: a cluster chain or a directory that loops
//! on a corrupt volume would make the FAT crate read for ever, and runs out of budget instead.

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

use fatfs::{FatType, IoBase, IoError, Read, Seek, SeekFrom, Write};
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
    /// A FAT entry or a directory entry holds a cluster number the volume does not have.
    BadCluster,
    /// The boot sector's sizes are too large to add up.
    BadSizes,
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

/// How many sectors the cache holds (256 KiB): the FAT sectors of a 64 MiB file's chain in
/// both FATs of a FAT16 volume with 2 KiB clusters, and the directories around it.
pub(crate) const CACHE_SECTORS: usize = 512;
/// How many sectors of file data the write buffer gathers into one request (256 KiB).
pub(crate) const WRITE_BUFFER_SECTORS: usize = 512;
/// How far a sequential read reads ahead (128 KiB).
pub(crate) const READ_AHEAD_SECTORS: usize = 256;

struct Slot {
    sector: Option<u64>,
    dirty: bool,
    /// Allocated when the slot is first filled: a volume that touches few sectors costs
    /// little memory.
    data: Box<[u8]>,
}

/// A run of sectors held in memory: `first` and as many sectors as `data` holds.
#[derive(Default)]
struct Run {
    first: u64,
    data: Vec<u8>,
}

impl Run {
    fn end(&self) -> u64 {
        self.first + (self.data.len() / SECTOR_SIZE) as u64
    }

    fn get(&self, sector: u64) -> Option<&[u8]> {
        (self.first..self.end()).contains(&sector).then(|| {
            let at = (sector - self.first) as usize * SECTOR_SIZE;
            &self.data[at..at + SECTOR_SIZE]
        })
    }

    fn get_mut(&mut self, sector: u64) -> Option<&mut [u8]> {
        (self.first..self.end()).contains(&sector).then(|| {
            let at = (sector - self.first) as usize * SECTOR_SIZE;
            &mut self.data[at..at + SECTOR_SIZE]
        })
    }

    fn overlaps(&self, first: u64, count: u64) -> bool {
        first < self.end() && self.first < first + count
    }
}

/// Where a volume's FATs lie and which cluster numbers it has: what the cache checks FAT
/// sectors against.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FatLayout {
    fat_type: FatType,
    /// The first FAT's first sector, and the sectors of one FAT and of all of them (sectors
    /// of the device, 512 bytes).
    start: u64,
    per_fat: u64,
    all_fats: u64,
    /// Clusters are numbered from 2 to `clusters + 1`.
    clusters: u32,
}

impl FatLayout {
    /// The layout the boot sector `boot` describes, for a volume of type `fat_type` (as the
    /// FAT crate mounted it); `None` where its numbers do not add up.
    fn new(boot: &[u8; SECTOR_SIZE], fat_type: FatType) -> Option<Self> {
        let u16_at = |at: usize| u64::from(u16::from_le_bytes([boot[at], boot[at + 1]]));
        let u32_at = |at: usize| {
            u64::from(u32::from_le_bytes([
                boot[at],
                boot[at + 1],
                boot[at + 2],
                boot[at + 3],
            ]))
        };
        let bytes_per_sector = u16_at(11);
        let per_cluster = u64::from(boot[13]);
        let reserved = u16_at(14);
        let fats = u64::from(boot[16]);
        let root_entries = u16_at(17);
        let total = match u16_at(19) {
            0 => u32_at(32),
            n => n,
        };
        let per_fat = match u16_at(22) {
            0 => u32_at(36),
            n => n,
        };
        let root_sectors = (root_entries * 32).div_ceil(bytes_per_sector.max(1));
        let data_start = reserved + fats * per_fat + root_sectors;
        let clusters = total.checked_sub(data_start)?.checked_div(per_cluster)?;
        let scale = bytes_per_sector / SECTOR_SIZE as u64;
        let layout = Self {
            fat_type,
            start: reserved * scale,
            per_fat: per_fat * scale,
            all_fats: fats * per_fat * scale,
            clusters: u32::try_from(clusters).ok()?,
        };
        if fat_type == FatType::Fat32 && !layout.is_cluster(u32_at(44) as u32) {
            return None;
        }
        Some(layout)
    }

    /// Whether the sizes of boot sector `boot` add up without overflowing the 32-bit
    /// arithmetic the FAT crate checks them with: the sectors before the data area, and the
    /// entries one FAT holds.
    pub(crate) fn sizes_fit(boot: &[u8; SECTOR_SIZE]) -> bool {
        let u16_at = |at: usize| u64::from(u16::from_le_bytes([boot[at], boot[at + 1]]));
        let bytes_per_sector = u16_at(11);
        let per_fat = match u16_at(22) {
            0 => u64::from(u32::from_le_bytes([boot[36], boot[37], boot[38], boot[39]])),
            n => n,
        };
        let root_sectors = (u16_at(17) * 32 + bytes_per_sector).checked_div(bytes_per_sector);
        let before_data =
            root_sectors.map(|root| u16_at(14) + u64::from(boot[16]) * per_fat + root);
        let limit = u64::from(u32::MAX);
        before_data.is_some_and(|n| n <= limit) && per_fat * bytes_per_sector * 8 <= limit
    }

    /// The cluster number a directory entry's two halves make (FAT12/16 have no high half).
    pub(crate) fn first_cluster(&self, high: u32, low: u32) -> u32 {
        match self.fat_type {
            FatType::Fat32 => (high << 16) | low,
            _ => low,
        }
    }

    /// Whether `cluster` is one of the volume's data clusters.
    pub(crate) fn is_cluster(&self, cluster: u32) -> bool {
        (2..self.clusters.saturating_add(2)).contains(&cluster)
    }

    /// The smallest FAT value that marks a bad cluster or the end of a chain.
    fn first_marker(&self) -> u32 {
        match self.fat_type {
            FatType::Fat12 => 0xff7,
            FatType::Fat16 => 0xfff7,
            FatType::Fat32 => 0x0fff_fff7,
        }
    }

    /// Whether FAT entry `index` may hold `value`: the two reserved entries anything but
    /// "free" (else the FAT crate could allocate them), the others free, a cluster or a
    /// marker.
    fn entry_ok(&self, index: u64, value: u32) -> bool {
        match index {
            0 | 1 => value != 0,
            _ => value == 0 || self.is_cluster(value) || value >= self.first_marker(),
        }
    }

    /// Where `sector` lies in a FAT: its sector within one FAT copy.
    fn fat_sector(&self, sector: u64) -> Option<u64> {
        let within = sector.checked_sub(self.start)?;
        (within < self.all_fats && self.per_fat > 0).then(|| within % self.per_fat)
    }

    /// Checks the FAT16 or FAT32 entries of a FAT sector (FAT12's straddle sectors: those
    /// are checked whole, see [`FatLayout::check_fat12`]).
    fn check_sector(&self, sector: u64, data: &[u8]) -> Result<(), StorageError> {
        let (Some(within), size) = (self.fat_sector(sector), self.entry_size()) else {
            return Ok(());
        };
        let Some(size) = size else { return Ok(()) };
        let first = within * (SECTOR_SIZE / size) as u64;
        let last = u64::from(self.clusters) + 2;
        for (i, entry) in data.chunks_exact(size).enumerate() {
            let index = first + i as u64;
            if index >= last {
                break;
            }
            let value = match size {
                2 => u32::from(u16::from_le_bytes([entry[0], entry[1]])),
                _ => u32::from_le_bytes([entry[0], entry[1], entry[2], entry[3]]) & 0x0fff_ffff,
            };
            if !self.entry_ok(index, value) {
                return Err(StorageError::BadCluster);
            }
        }
        Ok(())
    }

    /// Bytes per FAT entry where entries stay within sectors.
    fn entry_size(&self) -> Option<usize> {
        match self.fat_type {
            FatType::Fat12 => None,
            FatType::Fat16 => Some(2),
            FatType::Fat32 => Some(4),
        }
    }

    /// Checks a whole FAT12 FAT.
    fn check_fat12(&self, fat: &[u8]) -> Result<(), StorageError> {
        for index in 0..u64::from(self.clusters) + 2 {
            let at = (index + index / 2) as usize;
            let Some(pair) = fat.get(at..at + 2) else {
                return Err(StorageError::PastEnd);
            };
            let pair = u32::from(u16::from_le_bytes([pair[0], pair[1]]));
            let value = if index.is_multiple_of(2) {
                pair & 0xfff
            } else {
                pair >> 4
            };
            if !self.entry_ok(index, value) {
                return Err(StorageError::BadCluster);
            }
        }
        Ok(())
    }
}

/// A disk, or the part of it a volume spans, with its cache, write buffer and read-ahead.
pub(crate) struct Device {
    disk: Box<dyn Sectors>,
    /// The volume's first sector on the disk.
    start: u64,
    /// The volume's length in sectors.
    sectors: u64,
    slots: Vec<Slot>,
    /// File data written and not yet on the disk: one run of consecutive sectors.
    pending: Run,
    /// Sectors read ahead, as they are on the disk.
    ahead: Run,
    /// Where the last whole-sector read ended: a read from there is sequential.
    next_read: u64,
    /// Whether anything changed since the last sync.
    changed: bool,
    /// How many writes the volume has had: what was read before is current while it stays.
    /// Shared, so that it is read without the device's lock (see [`SharedDevice`]).
    writes: Arc<AtomicU64>,
    fat: Option<FatLayout>,
    /// Transfers left to the current operation.
    budget: u64,
}

impl Device {
    pub(crate) fn new(disk: Box<dyn Sectors>, start: u64, sectors: u64) -> Self {
        let slots = (0..CACHE_SECTORS)
            .map(|_| Slot {
                sector: None,
                dirty: false,
                data: Box::default(),
            })
            .collect();
        Self {
            disk,
            start,
            sectors,
            slots,
            pending: Run::default(),
            ahead: Run::default(),
            next_read: u64::MAX,
            changed: false,
            writes: Arc::default(),
            fat: None,
            budget: u64::MAX,
        }
    }

    /// The volume's length in sectors.
    pub(crate) fn sectors(&self) -> u64 {
        self.sectors
    }

    /// The count of writes the volume has had since it was mounted.
    pub(crate) fn writes(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.writes)
    }

    /// Reads the volume's layout from its boot sector (the FAT crate mounted it as
    /// `fat_type`) and checks FAT sectors against it from now on: those cached already at
    /// once, a FAT12 FAT whole, the others as they enter the cache.
    /// Checks that the boot sector's sizes add up (see [`FatLayout::sizes_fit`]), before
    /// the FAT crate computes with them.
    pub(crate) fn check_boot(&mut self) -> Result<(), StorageError> {
        let mut boot = [0; SECTOR_SIZE];
        self.check_range(0, 1)?;
        self.read_sectors(0, &mut boot)?;
        if FatLayout::sizes_fit(&boot) {
            Ok(())
        } else {
            Err(StorageError::BadSizes)
        }
    }

    pub(crate) fn check_fats(&mut self, fat_type: FatType) -> Result<FatLayout, StorageError> {
        let mut boot = [0; SECTOR_SIZE];
        self.check_range(0, 1)?;
        self.read_sectors(0, &mut boot)?;
        let layout = FatLayout::new(&boot, fat_type).ok_or(StorageError::BadCluster)?;
        self.set_fat_layout(layout)?;
        Ok(layout)
    }

    fn set_fat_layout(&mut self, layout: FatLayout) -> Result<(), StorageError> {
        self.fat = Some(layout);
        for index in 0..self.slots.len() {
            if let Some(sector) = self.slots[index].sector {
                layout.check_sector(sector, &self.slots[index].data)?;
            }
        }
        if layout.fat_type == FatType::Fat12 {
            self.check_range(layout.start, layout.all_fats)?;
            let mut fats = vec![0; layout.all_fats as usize * SECTOR_SIZE];
            self.read_sectors(layout.start, &mut fats)?;
            for fat in fats.chunks(layout.per_fat.max(1) as usize * SECTOR_SIZE) {
                layout.check_fat12(fat)?;
            }
        }
        Ok(())
    }

    /// Starts an operation that may make up to `transfers` transfers.
    pub(crate) fn set_budget(&mut self, transfers: u64) {
        self.budget = transfers;
    }

    fn spend(&mut self) -> Result<(), StorageError> {
        self.budget = self.budget.checked_sub(1).ok_or(StorageError::Loop)?;
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

    /// Writes to the disk; the read-ahead no longer holds what the disk does there.
    fn disk_write(&mut self, first: u64, buf: &[u8]) -> Result<(), StorageError> {
        if self.ahead.overlaps(first, (buf.len() / SECTOR_SIZE) as u64) {
            self.ahead.data.clear();
        }
        self.disk
            .write(self.start + first, buf)
            .map_err(StorageError::Disk)
    }

    fn index(sector: u64) -> usize {
        (sector % CACHE_SECTORS as u64) as usize
    }

    fn cached(&self, sector: u64) -> Option<&Slot> {
        let slot = &self.slots[Self::index(sector)];
        (slot.sector == Some(sector)).then_some(slot)
    }

    /// Reads sectors as the volume holds them now: from the disk or the read-ahead, with the
    /// write buffer's and the cache's newer sectors over them.
    fn read_sectors(&mut self, first: u64, buf: &mut [u8]) -> Result<(), StorageError> {
        let count = (buf.len() / SECTOR_SIZE) as u64;
        if count == 0 {
            return Ok(());
        }
        if self.ahead.get(first).is_some() && self.ahead.get(first + count - 1).is_some() {
            let at = (first - self.ahead.first) as usize * SECTOR_SIZE;
            buf.copy_from_slice(&self.ahead.data[at..at + buf.len()]);
        } else if first == self.next_read && count < READ_AHEAD_SECTORS as u64 {
            let ahead = (READ_AHEAD_SECTORS as u64).min(self.sectors - first);
            let mut data = core::mem::take(&mut self.ahead.data);
            data.resize(ahead as usize * SECTOR_SIZE, 0);
            let read = self.disk_read(first, &mut data);
            self.ahead = Run { first, data };
            match read {
                Ok(()) => buf.copy_from_slice(&self.ahead.data[..buf.len()]),
                // A bad sector ahead, past what was asked for, must not fail this read.
                Err(_) => {
                    self.ahead.data.clear();
                    self.disk_read(first, buf)?;
                }
            }
        } else {
            self.disk_read(first, buf)?;
        }
        self.next_read = first + count;
        for (i, chunk) in buf.chunks_exact_mut(SECTOR_SIZE).enumerate() {
            let sector = first + i as u64;
            if let Some(slot) = self.cached(sector) {
                chunk.copy_from_slice(&slot.data);
            } else if let Some(data) = self.pending.get(sector) {
                chunk.copy_from_slice(data);
            }
        }
        Ok(())
    }

    /// The cache slot holding `sector`, filled if it was not there.
    fn slot(&mut self, sector: u64) -> Result<&mut Slot, StorageError> {
        self.check_range(sector, 1)?;
        let index = Self::index(sector);
        if self.slots[index].sector != Some(sector) {
            self.write_back_around(index)?;
            let mut data = [0; SECTOR_SIZE];
            if let Some(newer) = self.pending.get(sector) {
                data.copy_from_slice(newer);
            } else if let Some(read) = self.ahead.get(sector) {
                data.copy_from_slice(read);
            } else {
                self.disk_read(sector, &mut data)?;
            }
            if let Some(fat) = self.fat {
                fat.check_sector(sector, &data)?;
            }
            let slot = &mut self.slots[index];
            slot.sector = Some(sector);
            slot.dirty = false;
            if slot.data.is_empty() {
                slot.data = Box::new(data);
            } else {
                slot.data.copy_from_slice(&data);
            }
        }
        Ok(&mut self.slots[index])
    }

    /// Writes back the dirty slot at `index` with the dirty slots of the sectors next to it,
    /// in one request.
    fn write_back_around(&mut self, index: usize) -> Result<(), StorageError> {
        let slot = &self.slots[index];
        let (true, Some(sector)) = (slot.dirty, slot.sector) else {
            return Ok(());
        };
        let dirty = |device: &Self, s: u64| device.cached(s).is_some_and(|slot| slot.dirty);
        let mut first = sector;
        while first > 0 && sector - first + 1 < CACHE_SECTORS as u64 && dirty(self, first - 1) {
            first -= 1;
        }
        let mut end = sector + 1;
        while end - first < CACHE_SECTORS as u64 && dirty(self, end) {
            end += 1;
        }
        let mut data = Vec::with_capacity((end - first) as usize * SECTOR_SIZE);
        for s in first..end {
            data.extend_from_slice(&self.slots[Self::index(s)].data);
        }
        self.disk_write(first, &data)?;
        for s in first..end {
            self.slots[Self::index(s)].dirty = false;
        }
        Ok(())
    }

    fn write_pending(&mut self) -> Result<(), StorageError> {
        if self.pending.data.is_empty() {
            return Ok(());
        }
        let mut pending = core::mem::take(&mut self.pending);
        match self.disk_write(pending.first, &pending.data) {
            Ok(()) => {
                pending.data.clear();
                self.pending = pending;
                Ok(())
            }
            Err(error) => {
                self.pending = pending;
                Err(error)
            }
        }
    }

    /// Writes every change held in memory to the disk.
    pub(crate) fn write_back(&mut self) -> Result<(), StorageError> {
        self.write_pending()?;
        (0..self.slots.len()).try_for_each(|index| self.write_back_around(index))
    }

    /// Writes back, then has the disk make it durable.
    pub(crate) fn sync(&mut self) -> Result<(), StorageError> {
        self.write_back()?;
        self.disk.flush().map_err(StorageError::Disk)?;
        self.changed = false;
        Ok(())
    }

    /// Reads from byte `pos`: whole sectors at once, else from the cached sector holding
    /// `pos`. Returns how many bytes it read.
    fn read_at(&mut self, pos: u64, buf: &mut [u8]) -> Result<usize, StorageError> {
        self.spend()?;
        let sector = pos / SECTOR_SIZE as u64;
        let offset = (pos % SECTOR_SIZE as u64) as usize;
        if offset == 0 && buf.len() >= SECTOR_SIZE {
            let count = buf.len() / SECTOR_SIZE;
            self.check_range(sector, count as u64)?;
            let buf = &mut buf[..count * SECTOR_SIZE];
            self.read_sectors(sector, buf)?;
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
        self.writes.fetch_add(1, Ordering::Relaxed);
        let sector = pos / SECTOR_SIZE as u64;
        let offset = (pos % SECTOR_SIZE as u64) as usize;
        if offset == 0 && buf.len() >= SECTOR_SIZE {
            let count = buf.len() / SECTOR_SIZE;
            self.check_range(sector, count as u64)?;
            let buf = &buf[..count * SECTOR_SIZE];
            self.write_sectors(sector, buf)?;
            return Ok(buf.len());
        }
        let first_change = !self.changed;
        let slot = self.slot(sector)?;
        let len = buf.len().min(SECTOR_SIZE - offset);
        slot.data[offset..offset + len].copy_from_slice(&buf[..len]);
        slot.dirty = true;
        if let Some(held) = self.pending.get_mut(sector) {
            held.copy_from_slice(&self.slots[Self::index(sector)].data);
        }
        if self.ahead.overlaps(sector, 1) {
            self.ahead.data.clear();
        }
        if first_change {
            if let Err(error) = self.write_back_around(Self::index(sector)) {
                // Nothing else changed since the sync: without this sector, memory holds
                // what the disk does again.
                self.slots[Self::index(sector)].sector = None;
                self.slots[Self::index(sector)].dirty = false;
                return Err(error);
            }
            self.changed = true;
        }
        Ok(len)
    }

    /// Writes whole sectors: into the write buffer when they continue it and fit, else
    /// after writing it.
    fn write_sectors(&mut self, first: u64, buf: &[u8]) -> Result<(), StorageError> {
        let count = (buf.len() / SECTOR_SIZE) as u64;
        let through = !self.changed || buf.len() > WRITE_BUFFER_SECTORS * SECTOR_SIZE;
        if through {
            self.write_pending()?;
            self.disk_write(first, buf)?;
        }
        for (i, chunk) in buf.chunks_exact(SECTOR_SIZE).enumerate() {
            let index = Self::index(first + i as u64);
            if self.slots[index].sector == Some(first + i as u64) {
                self.slots[index].data.copy_from_slice(chunk);
                self.slots[index].dirty = false;
            }
        }
        if self.ahead.overlaps(first, count) {
            self.ahead.data.clear();
        }
        if !through {
            let continues = !self.pending.data.is_empty() && first == self.pending.end();
            let inside = self.pending.get(first).is_some() && first + count <= self.pending.end();
            let fits = self.pending.data.len() + buf.len() <= WRITE_BUFFER_SECTORS * SECTOR_SIZE;
            if inside {
                let at = (first - self.pending.first) as usize * SECTOR_SIZE;
                self.pending.data[at..at + buf.len()].copy_from_slice(buf);
            } else if continues && fits {
                self.pending.data.extend_from_slice(buf);
            } else {
                self.write_pending()?;
                self.pending.first = first;
                self.pending.data.extend_from_slice(buf);
            }
        }
        self.changed = true;
        Ok(())
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
    /// The volume's length in bytes, so that a seek needs no lock.
    len: u64,
}

impl Storage {
    pub(crate) fn new(device: SharedDevice) -> Self {
        let len = device.lock().sectors() * SECTOR_SIZE as u64;
        Self {
            device,
            pos: 0,
            len,
        }
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
        let new = match pos {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = new.ok_or(StorageError::PastEnd)?;
        Ok(self.pos)
    }
}
