//! A mounted FAT volume: one lock around the FAT crate's file system, and every operation as
//! one call under it.
//!
//! The FAT crate's files and directories borrow its file system, so none of them lives past
//! an operation: a [`File`] names its file by path and position, and each call finds the
//! entry again (through the sector cache, a few copies) before it reads or writes.

use alloc::boxed::Box;
use alloc::format;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::fmt;
use core::ops::Deref;
use core::sync::atomic::{AtomicU64, Ordering};

use fatfs::{FsOptions, LossyOemCpConverter, Read, Seek, SeekFrom, Write};
use hal::block::SECTOR_SIZE;

use super::device::{Device, FatLayout, Sectors, SharedDevice, Storage, StorageError};
use super::dir::{DirEntry, Metadata};
use super::error::{Error, ErrorKind, joined};
use super::file::{File, OpenOptions};
use super::partition;
use super::time::{Clock, FatClock};
use crate::sync::Mutex;

type Fat = fatfs::FileSystem<Storage, FatClock, LossyOemCpConverter>;
type FatDir<'a> = fatfs::Dir<'a, Storage, FatClock, LossyOemCpConverter>;
type FatEntry<'a> = fatfs::DirEntry<'a, Storage, FatClock, LossyOemCpConverter>;
type FatFile<'a> = fatfs::File<'a, Storage, FatClock, LossyOemCpConverter>;

/// Transfers an operation may make per sector of the volume (a chain walk reads one FAT
/// entry per cluster) and per directory entry it may read (a long-name entry is read a field
/// at a time), before the volume counts as looping.
const TRANSFERS_PER_SECTOR: u64 = 4;
const TRANSFERS_PER_ENTRY: u64 = 24;
/// A FAT directory holds at most 65536 entries.
const MAX_DIR_ENTRIES: u64 = 65_536;
/// FAT files end before 4 GiB.
const MAX_FILE_SIZE: u64 = u32::MAX as u64;

/// A mounted FAT12/16/32 volume with long names. Cheap to clone (clones share the volume);
/// threads on any core may use it at once: one lock serialises its operations.
///
/// Its methods are the free functions of [`kernel::fs`](super), on this volume.
#[derive(Clone)]
pub struct Volume(Arc<Shared>);

struct Shared {
    fat: Mutex<Option<Mounted>>,
    device: SharedDevice,
    /// The device's count of writes.
    writes: Arc<AtomicU64>,
    clock: FatClock,
    sectors: u64,
}

impl fmt::Debug for Volume {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Volume")
            .field("sectors", &self.0.sectors)
            .finish()
    }
}

impl Drop for Shared {
    /// The last clone unmounts: marks the volume clean and writes it back, as a sync does.
    fn drop(&mut self) {
        let fat = self.fat.get_mut().map(Option::take).unwrap_or(None);
        // Enough for the FS information and boot sectors; no chain is walked.
        self.device.lock().set_budget(1 << 16);
        if let Some(mounted) = fat
            && let Err(error) = mounted.fs.unmount()
        {
            log::warn!("fs: unmounting a volume failed: {error:?}");
        }
        if let Err(error) = self.device.lock().sync() {
            log::warn!("fs: writing a volume back failed: {:?}", error);
        }
    }
}

/// The FAT crate's file system, and the layout its FATs and clusters have.
struct Mounted {
    fs: Fat,
    layout: FatLayout,
}

impl Deref for Mounted {
    type Target = Fat;

    fn deref(&self) -> &Fat {
        &self.fs
    }
}

/// Every volume mounted, so that the exit can write them back.
static MOUNTED: spin::Mutex<Vec<Weak<Shared>>> = spin::Mutex::new(Vec::new());

/// Path components, with `.` and `..` resolved (`..` at the root stays there).
pub(crate) fn components(path: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            name => out.push(name),
        }
    }
    out
}

/// Checks a name the volume is to create: the FAT crate's rules (1 to 255 bytes, letters,
/// digits, space and ``$%'-_@~`!(){}.+,;=[]^#&``, any character from U+0080 to U+FFFF),
/// and an ASCII first character, without which the FAT crate's short-name generator panics.
fn check_name(name: &str) -> Result<(), Error> {
    let allowed = |c: char| {
        c.is_ascii_alphanumeric()
            || ('\u{80}'..='\u{ffff}').contains(&c)
            || "$%'-_@~`!(){}.+,;=[]^#& ".contains(c)
    };
    if name.is_empty() || name.len() > 255 {
        return Err(Error::with_detail(
            ErrorKind::InvalidFilename,
            "a name is empty or longer than 255 bytes",
        ));
    }
    if !name.chars().all(allowed) {
        return Err(Error::with_detail(
            ErrorKind::InvalidFilename,
            "a name holds a character FAT cannot store",
        ));
    }
    if !name.starts_with(|c: char| c.is_ascii()) {
        return Err(Error::with_detail(
            ErrorKind::InvalidFilename,
            "a new name must start with an ASCII character (a limit of the FAT crate)",
        ));
    }
    Ok(())
}

fn options(clock: &FatClock) -> FsOptions<FatClock, LossyOemCpConverter> {
    FsOptions::new().time_provider(clock.clone())
}

impl Volume {
    /// Mounts the FAT volume on `disk` (the whole disk, or the first FAT partition of its
    /// MBR), stamping files with the kernel's wall clock.
    pub fn mount(disk: impl Sectors + 'static) -> Result<Self, Error> {
        Self::mount_with_clock(disk, super::wall_clock)
    }

    /// Mounts as [`Volume::mount`] does, stamping files with the time `clock` gives.
    pub fn mount_with_clock(
        mut disk: impl Sectors + 'static,
        clock: impl Clock + 'static,
    ) -> Result<Self, Error> {
        let disk_sectors = disk.sector_count();
        if disk_sectors == 0 {
            return Err(Error::with_detail(
                ErrorKind::InvalidData,
                "the disk is empty",
            ));
        }
        let mut first = [0; SECTOR_SIZE];
        disk.read(0, &mut first)
            .map_err(|kind| Error::from(super::device::StorageError::Disk(kind)))?;
        let span = partition::find_volume(&first, disk_sectors, |start| {
            let mut boot = [0; SECTOR_SIZE];
            disk.read(start, &mut boot)
                .map_err(|kind| Error::from(super::device::StorageError::Disk(kind)))?;
            Ok(boot)
        })?;
        let device = Arc::new(spin::Mutex::new(Device::new(
            Box::new(disk),
            span.start,
            span.sectors,
        )));
        let clock = FatClock(Arc::new(clock));
        let writes = device.lock().writes();
        let shared = Arc::new(Shared {
            fat: Mutex::new(None),
            device,
            writes,
            clock,
            sectors: span.sectors,
        });
        let volume = Self(shared);
        volume.remount()?;
        let mut mounted = MOUNTED.lock();
        mounted.retain(|v| v.strong_count() > 0);
        mounted.push(Arc::downgrade(&volume.0));
        drop(mounted);
        crate::process::at_exit(Self::sync_all_mounted);
        Ok(volume)
    }

    /// Mounts the FAT crate's file system again on the same device (at mount, and after a
    /// sync unmounted it to mark the volume clean).
    fn remount(&self) -> Result<(), Error> {
        let mut fat = self.lock()?;
        self.set_budget(0, 0);
        let mounted = self.mount_fat();
        let done = self.write_back();
        *fat = Some(mounted?);
        done
    }

    /// Mounts the FAT crate's file system on the device, and has the device check FAT
    /// sectors from now on.
    fn mount_fat(&self) -> Result<Mounted, Error> {
        self.device().check_boot()?;
        let fs = Fat::new(Storage::new(self.0.device.clone()), options(&self.0.clock))?;
        let layout = self.device().check_fats(fs.fat_type())?;
        Ok(Mounted { fs, layout })
    }

    fn lock(&self) -> Result<crate::sync::MutexGuard<'_, Option<Mounted>>, Error> {
        self.0.fat.lock().map_err(|_| {
            Error::with_detail(
                ErrorKind::Other,
                "a thread failed while it used the volume; it may be inconsistent",
            )
        })
    }

    fn device(&self) -> spin::MutexGuard<'_, Device> {
        self.0.device.lock()
    }

    /// Gives the next operation its budget: one walk over every sector, the directories of
    /// `depth` path components read whole, and `bytes` of data.
    fn set_budget(&self, depth: usize, bytes: u64) {
        let entries = (self.0.sectors * (SECTOR_SIZE as u64 / 32)).min(MAX_DIR_ENTRIES);
        let budget = TRANSFERS_PER_SECTOR * self.0.sectors
            + TRANSFERS_PER_ENTRY * entries * (depth as u64 + 2)
            + 2 * bytes / SECTOR_SIZE as u64
            + 4096;
        self.device().set_budget(budget);
    }

    fn write_back(&self) -> Result<(), Error> {
        Ok(self.device().write_back()?)
    }

    /// Runs `op` on the file system under the lock, with a budget for a path of `depth`
    /// components and `bytes` of data, then writes back what it changed.
    fn run<R>(
        &self,
        depth: usize,
        bytes: u64,
        op: impl FnOnce(&Mounted) -> Result<R, Error>,
    ) -> Result<R, Error> {
        let fat = self.lock()?;
        let fat = fat.as_ref().ok_or(Error::with_detail(
            ErrorKind::Other,
            "the volume could not be mounted again after a sync",
        ))?;
        self.set_budget(depth, bytes);
        op(fat)
    }

    /// Writes back every change, marks the volume clean (unmounted) and asks the disk to make
    /// it all durable. Files stay open; the next write marks the volume in use again.
    pub fn sync(&self) -> Result<(), Error> {
        let mut fat = self.lock()?;
        self.set_budget(0, 0);
        let unmounted = match fat.take() {
            Some(mounted) => mounted.fs.unmount().map_err(Error::from),
            None => Ok(()),
        };
        let synced = self.device().sync().map_err(Error::from);
        self.set_budget(0, 0);
        let mounted = self.mount_fat();
        let written = self.write_back();
        *fat = mounted.ok();
        unmounted.and(synced).and(written)?;
        if fat.is_none() {
            return Err(Error::with_detail(
                ErrorKind::Other,
                "the volume could not be mounted again after a sync",
            ));
        }
        Ok(())
    }

    /// Writes every mounted volume back and marks it clean: the kernel calls it as the
    /// application exits.
    pub(crate) fn sync_all_mounted() {
        let mounted: Vec<_> = MOUNTED.lock().iter().filter_map(Weak::upgrade).collect();
        for shared in mounted {
            if let Err(error) = Volume(shared).sync() {
                log::warn!("fs: could not write a volume back at exit: {error}");
            }
        }
    }

    /// Opens the file at `path` for reading.
    pub fn open(&self, path: &str) -> Result<File, Error> {
        OpenOptions::new().read(true).open_on(self, path)
    }

    /// Creates the file at `path`, or truncates it, for writing.
    pub fn create(&self, path: &str) -> Result<File, Error> {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open_on(self, path)
    }

    /// Opens `path` as `options` say: see [`OpenOptions`].
    pub(crate) fn open_with(&self, path: &str, options: &OpenOptions) -> Result<File, Error> {
        let comps = components(path);
        let name = *comps
            .last()
            .ok_or(Error::new(ErrorKind::IsADirectory).at(path))?;
        let (parent_comps, _) = comps.split_at(comps.len() - 1);
        self.run(comps.len(), 0, |fat| {
            let parent = dir_at(fat, parent_comps)?;
            match find(fat, &parent, name)? {
                Some(e) if e.is_dir() => Err(Error::new(ErrorKind::IsADirectory)),
                Some(_) if options.create_new => Err(Error::new(ErrorKind::AlreadyExists)),
                Some(e) => {
                    let writes = options.write || options.append;
                    if writes && e.attributes().contains(fatfs::FileAttributes::READ_ONLY) {
                        return Err(Error::with_detail(
                            ErrorKind::PermissionDenied,
                            "the file is marked read-only",
                        ));
                    }
                    if options.truncate && e.len() > 0 {
                        let mut file = e.to_file();
                        file.truncate()?;
                        file.flush()?;
                    }
                    Ok(())
                }
                None if options.create || options.create_new => {
                    check_name(name)?;
                    parent.create_file(name)?.flush()?;
                    Ok(())
                }
                None => Err(Error::new(ErrorKind::NotFound)),
            }
        })
        .map_err(|e| e.at(path))?;
        Ok(File::new(self.clone(), joined(&comps), options))
    }

    /// Runs `op` on the file at `path` (a path from [`components`], as a [`File`] keeps
    /// it), with a budget for `bytes` of data.
    pub(crate) fn with_file<R>(
        &self,
        path: &str,
        bytes: u64,
        op: impl FnOnce(&mut FatFile<'_>, u64) -> Result<R, Error>,
    ) -> Result<R, Error> {
        let comps = components(path);
        self.run(comps.len(), bytes, |fat| {
            let entry = entry_at(fat, &comps)?.ok_or(Error::new(ErrorKind::IsADirectory))?;
            if entry.is_dir() {
                return Err(Error::new(ErrorKind::IsADirectory));
            }
            if entry.len() > self.0.sectors * SECTOR_SIZE as u64 {
                return Err(Error::with_detail(
                    ErrorKind::InvalidData,
                    "the entry claims more bytes than the volume holds",
                ));
            }
            let mut file = entry.to_file();
            let value = op(&mut file, entry.len())?;
            // The entry's size and time, written now rather than in the drop that would
            // swallow an error.
            file.flush()?;
            Ok(value)
        })
        .map_err(|e| {
            if e.kind() == ErrorKind::NotFound {
                Error::with_detail(ErrorKind::NotFound, "the open file was removed or renamed")
                    .at(path)
            } else {
                e.at(path)
            }
        })
    }

    /// How many writes the volume has had: data read while it stays the same is current.
    /// Read without any lock: the device's is held across disk transfers.
    pub(crate) fn writes(&self) -> u64 {
        self.0.writes.load(Ordering::Relaxed)
    }

    /// The metadata of `path`.
    pub fn metadata(&self, path: &str) -> Result<Metadata, Error> {
        let comps = components(path);
        self.run(comps.len(), 0, |fat| {
            Ok(match entry_at(fat, &comps)? {
                Some(e) => metadata(&e),
                None => Metadata::root(),
            })
        })
        .map_err(|e| e.at(path))
    }

    /// The entries of the directory at `path`, without `.` and `..`.
    pub fn read_dir(&self, path: &str) -> Result<super::dir::ReadDir, Error> {
        let comps = components(path);
        let base = joined(&comps);
        let entries = self
            .run(comps.len() + 1, 0, |fat| {
                let dir = dir_at(fat, &comps)?;
                let mut entries = Vec::new();
                for e in dir.iter() {
                    let e = e?;
                    if matches!(e.short_file_name_as_bytes(), b"." | b"..") {
                        continue;
                    }
                    entries.push(DirEntry::new(&base, e.file_name(), metadata(&e)));
                }
                Ok(entries)
            })
            .map_err(|e| e.at(path))?;
        Ok(super::dir::ReadDir::new(entries))
    }

    /// Creates the directory `path`; its parent must exist.
    pub fn create_dir(&self, path: &str) -> Result<(), Error> {
        let comps = components(path);
        let Some((name, parent)) = comps.split_last() else {
            return Err(Error::new(ErrorKind::AlreadyExists).at(path));
        };
        self.run(comps.len(), 0, |fat| {
            let parent = dir_at(fat, parent)?;
            if find(fat, &parent, name)?.is_some() {
                return Err(Error::new(ErrorKind::AlreadyExists));
            }
            check_name(name)?;
            parent.create_dir(name)?;
            Ok(())
        })
        .map_err(|e| e.at(path))
    }

    /// Creates the directory `path` and every missing parent; an existing directory is fine.
    pub fn create_dir_all(&self, path: &str) -> Result<(), Error> {
        let comps = components(path);
        self.run(comps.len(), 0, |fat| {
            let mut dir = fat.root_dir();
            for (i, name) in comps.iter().enumerate() {
                dir = match find(fat, &dir, name)? {
                    Some(e) if e.is_dir() => e.to_dir(),
                    Some(_) => {
                        return Err(Error::new(ErrorKind::NotADirectory).at(&joined(&comps[..=i])));
                    }
                    None => {
                        check_name(name)?;
                        dir.create_dir(name)?
                    }
                };
            }
            Ok(())
        })
        .map_err(|e| e.at(path))
    }

    /// Removes the file at `path`.
    pub fn remove_file(&self, path: &str) -> Result<(), Error> {
        self.remove(path, false)
    }

    /// Removes the empty directory at `path`.
    pub fn remove_dir(&self, path: &str) -> Result<(), Error> {
        self.remove(path, true)
    }

    fn remove(&self, path: &str, want_dir: bool) -> Result<(), Error> {
        let comps = components(path);
        let Some((name, parent)) = comps.split_last() else {
            return Err(Error::with_detail(
                ErrorKind::InvalidInput,
                "the root directory cannot be removed",
            )
            .at(path));
        };
        self.run(comps.len() + 1, 0, |fat| {
            let parent = dir_at(fat, parent)?;
            match find(fat, &parent, name)? {
                None => Err(Error::new(ErrorKind::NotFound)),
                Some(e) if e.is_dir() && !want_dir => Err(Error::new(ErrorKind::IsADirectory)),
                Some(e) if !e.is_dir() && want_dir => Err(Error::new(ErrorKind::NotADirectory)),
                Some(_) => Ok(parent.remove(name)?),
            }
        })
        .map_err(|e| e.at(path))
    }

    /// Renames `from` to `to`, replacing a file at `to`. A directory is renamed within its
    /// parent only, and never replaces anything.
    pub fn rename(&self, from: &str, to: &str) -> Result<(), Error> {
        let (src, dst) = (components(from), components(to));
        let (Some((src_name, src_parent)), Some((dst_name, dst_parent))) =
            (src.split_last(), dst.split_last())
        else {
            return Err(Error::with_detail(
                ErrorKind::InvalidInput,
                "the root directory cannot be renamed",
            )
            .at(from));
        };
        self.run(src.len().max(dst.len()) + 1, 0, |fat| {
            let src_dir = dir_at(fat, src_parent).map_err(|e| e.at(from))?;
            let entry =
                find(fat, &src_dir, src_name)?.ok_or(Error::new(ErrorKind::NotFound).at(from))?;
            let dst_dir = dir_at(fat, dst_parent).map_err(|e| e.at(to))?;
            if entry.is_dir() && src_parent != dst_parent {
                return Err(Error::with_detail(
                    ErrorKind::Unsupported,
                    "a directory can be renamed within its parent only",
                )
                .at(from));
            }
            if let Some(existing) = find(fat, &dst_dir, dst_name)? {
                let same = src_parent == dst_parent
                    && existing.short_file_name_as_bytes() == entry.short_file_name_as_bytes();
                if !same {
                    if entry.is_dir() || existing.is_dir() {
                        return Err(Error::new(ErrorKind::AlreadyExists).at(to));
                    }
                    dst_dir.remove(dst_name)?;
                }
            }
            check_name(dst_name).map_err(|e| e.at(to))?;
            src_dir.rename(src_name, &dst_dir, dst_name)?;
            Ok(())
        })
    }
}

/// The directory at `comps` (the root for none).
fn dir_at<'a>(fat: &'a Mounted, comps: &[&str]) -> Result<FatDir<'a>, Error> {
    let mut dir = fat.root_dir();
    for (i, name) in comps.iter().enumerate() {
        dir = match find(fat, &dir, name)? {
            Some(e) if e.is_dir() => e.to_dir(),
            Some(_) => return Err(Error::new(ErrorKind::NotADirectory).at(&joined(&comps[..=i]))),
            None => return Err(Error::new(ErrorKind::NotFound).at(&joined(&comps[..=i]))),
        };
    }
    Ok(dir)
}

/// The entry at `comps`: `None` for the root, which has none; `NotFound` if it is missing.
fn entry_at<'a>(fat: &'a Mounted, comps: &[&str]) -> Result<Option<FatEntry<'a>>, Error> {
    let Some((name, parent)) = comps.split_last() else {
        return Ok(None);
    };
    let dir = dir_at(fat, parent)?;
    find(fat, &dir, name)?
        .map(Some)
        .ok_or(Error::new(ErrorKind::NotFound))
}

/// The entry called `name` in `dir`, its long or short name compared ignoring case.
fn find<'a>(fat: &Mounted, dir: &FatDir<'a>, name: &str) -> Result<Option<FatEntry<'a>>, Error> {
    let upper = || name.chars().flat_map(char::to_uppercase);
    for e in dir.iter() {
        let e = e?;
        let long = e.long_file_name_as_ucs2_units().is_some_and(|units| {
            char::decode_utf16(units.iter().copied())
                .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
                .flat_map(char::to_uppercase)
                .eq(upper())
        });
        // Short names are stored in upper case, with a dot before any extension.
        if long || same_short_name(e.short_file_name_as_bytes(), name) {
            check_first_cluster(fat, &e)?;
            return Ok(Some(e));
        }
    }
    Ok(None)
}

/// Checks the first cluster `e` names: the FAT crate computes with it (`cluster - 2`) as
/// soon as the entry is opened, read or removed. The crate keeps the number private; the
/// entry's `Debug` form, its raw fields, is the one public view of it.
fn check_first_cluster(fat: &Mounted, e: &FatEntry<'_>) -> Result<(), Error> {
    let raw = format!("{e:?}");
    let field = |name: &str| -> Option<u32> {
        let (_, after) = raw.split_once(name)?;
        let digits = after.trim_start_matches(": ");
        let end = digits
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(digits.len());
        digits[..end].parse().ok()
    };
    let (Some(high), Some(low)) = (field("first_cluster_hi"), field("first_cluster_lo")) else {
        return Err(Error::with_detail(
            ErrorKind::Other,
            "the FAT crate's entry no longer shows its first cluster",
        ));
    };
    let cluster = fat.layout.first_cluster(high, low);
    if cluster != 0 && !fat.layout.is_cluster(cluster) {
        return Err(StorageError::BadCluster.into());
    }
    Ok(())
}

fn same_short_name(short: &[u8], name: &str) -> bool {
    short.len() == name.len()
        && short
            .iter()
            .zip(name.bytes())
            .all(|(s, n)| s.eq_ignore_ascii_case(&n))
}

fn metadata(e: &FatEntry<'_>) -> Metadata {
    let created = e.created();
    let modified = e.modified();
    Metadata::new(
        e.is_dir(),
        e.len(),
        e.attributes().contains(fatfs::FileAttributes::READ_ONLY),
        super::time::from_fat(modified.date, modified.time),
        super::time::from_fat(created.date, created.time),
        super::time::from_fat_date(e.accessed()),
    )
}

/// Reads from `pos` of a file `len` bytes long into `buf`, as much as there is.
pub(crate) fn read_at(
    file: &mut FatFile<'_>,
    len: u64,
    pos: u64,
    buf: &mut [u8],
) -> Result<usize, Error> {
    if pos >= len || buf.is_empty() {
        return Ok(0);
    }
    if file.seek(SeekFrom::Start(pos))? != pos {
        // The cluster chain ends before the size the entry claims.
        return Err(super::device::StorageError::Eof.into());
    }
    let mut done = 0;
    while done < buf.len() {
        match file.read(&mut buf[done..])? {
            0 => break,
            n => done += n,
        }
    }
    Ok(done)
}

/// Writes `buf` at `pos` of a file `len` bytes long, filling any gap from its end with
/// zeros. Returns how many bytes of `buf` it wrote: all, unless the volume filled up or the
/// file reached 4 GiB after some were written.
pub(crate) fn write_at(
    file: &mut FatFile<'_>,
    len: u64,
    pos: u64,
    buf: &[u8],
) -> Result<usize, Error> {
    if buf.is_empty() {
        return Ok(0);
    }
    if pos >= MAX_FILE_SIZE {
        return Err(Error::new(ErrorKind::FileTooLarge));
    }
    if pos > len {
        file.seek(SeekFrom::End(0))?;
        write_zeros(file, pos - len)?;
    } else if file.seek(SeekFrom::Start(pos))? != pos {
        return Err(super::device::StorageError::Eof.into());
    }
    let mut done = 0;
    while done < buf.len() {
        match file.write(&buf[done..]) {
            Ok(0) if done == 0 => return Err(Error::new(ErrorKind::FileTooLarge)),
            Ok(0) => break,
            Ok(n) => done += n,
            Err(_) if done > 0 => break,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(done)
}

fn write_zeros(file: &mut FatFile<'_>, mut count: u64) -> Result<(), Error> {
    const ZEROS: [u8; 4096] = [0; 4096];
    while count > 0 {
        let n = count.min(ZEROS.len() as u64) as usize;
        match file.write(&ZEROS[..n])? {
            0 => return Err(Error::new(ErrorKind::FileTooLarge)),
            written => count -= written as u64,
        }
    }
    Ok(())
}

/// Makes a file `new_len` bytes long: cut, or grown with zeros.
pub(crate) fn set_len(file: &mut FatFile<'_>, len: u64, new_len: u64) -> Result<(), Error> {
    if new_len > MAX_FILE_SIZE {
        return Err(Error::new(ErrorKind::FileTooLarge));
    }
    if new_len < len {
        file.seek(SeekFrom::Start(new_len))?;
        file.truncate()?;
    } else if new_len > len {
        file.seek(SeekFrom::End(0))?;
        write_zeros(file, new_len - len)?;
    }
    Ok(())
}
