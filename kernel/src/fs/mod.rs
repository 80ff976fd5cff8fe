//! Files on a FAT12/16/32 volume with long names, as `std::fs` has them.
//!
//! ```ignore
//! use kernel::fs::{self, File, OpenOptions};
//!
//! fs::create_dir_all("/logs")?;
//! fs::write("/logs/today.txt", b"hello\n")?;
//! let mut log = OpenOptions::new().append(true).open("/logs/today.txt")?;
//! log.write_all(b"more\n")?;
//! log.sync_all()?;                      // on the disk, durable
//! for entry in fs::read_dir("/logs")? {
//!     let entry = entry?;
//!     kernel::println!("{} {} bytes", entry.file_name(), entry.metadata()?.len());
//! }
//! fs::rename("/logs/today.txt", "/logs/old.txt")?;
//! ```
//!
//! # Which volume
//! The free functions use the volume the kernel mounts on their first call: the first FAT
//! volume on the board's disks, in their order (`kernel::block::disks()`), each disk either
//! whole or through the first FAT partition of its MBR. Another disk's volume is a value:
//! [`Volume::mount`]`(kernel::block::disk(1)?)`, with the same methods.
//!
//! # What is on the disk when
//! Changes are held in the volume's cache (FAT and directory sectors) and write buffer (file
//! data), bounded in size, and reach the disk in few large requests: when the cache or the
//! buffer fills, and at a sync. The first change after a mount or a sync is written at once,
//! so a read-only disk refuses the write that meets it. [`File::sync_all`] (or
//! [`Volume::sync`]) writes everything back, records the free-cluster count, marks the
//! volume clean and asks the disk to make it all durable: a file written and synced is on the
//! disk. When the application exits (`main` returns or `kernel::process::exit`), the kernel
//! syncs every mounted volume before it powers off; after a panic or a fault in `main` it does
//! not: changes since the last sync may be lost, and the volume stays marked in use
//! (`fsck.fat` then reports its dirty bit).
//!
//! # Threads
//! Threads on any core may use files at once: each volume has one lock, which a call holds
//! from start to end (calls on one volume run one at a time).
//!
//! # Paths and limits
//! Paths are `/`-separated from the root (a leading `/` is optional; `.` and `..` are
//! resolved). Names are compared ignoring case, as FAT does. A file holds at most 4 GiB - 1
//! byte; a FAT12/16 root directory holds at most its fixed number of entries (often 512), a
//! directory at most 65536; times are kept to two seconds, from 1980 to 2107, in UTC. A
//! directory may be renamed within its parent only. A corrupt volume (a loop in a cluster
//! chain, sizes that lie, entries past the end, cluster numbers the volume does not have in
//! its FAT or its directory entries) gives `InvalidData`, never a panic or a hang.
//!
//! # Cost
//! The FAT crate's files and directories cannot outlive a call, so every call finds its file
//! again by path (a scan of each directory on the way) and walks the cluster chain from the
//! file's start to the position: write in large pieces, and keep directories small. A `File`
//! read sequentially reads 1 MiB ahead per call, so small sequential reads cost little.

mod device;
mod dir;
mod error;
mod file;
mod partition;
mod time;
mod volume;

use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

pub use self::device::Sectors;
pub use self::dir::{DirEntry, FileType, Metadata, ReadDir};
pub use self::error::{Error, ErrorKind};
pub use self::file::{File, OpenOptions};
pub use self::time::Clock;
pub use self::volume::Volume;
use crate::sync::OnceLock;

static MOUNTED: OnceLock<Result<Volume, Error>> = OnceLock::new();

/// The time files are stamped with: the kernel's wall clock, since the Unix epoch.
fn wall_clock() -> Duration {
    crate::time::SystemTime::now()
        .duration_since(crate::time::UNIX_EPOCH)
        .unwrap_or_default()
}

/// The volume the free functions use, mounted on the first call (see the module docs).
pub fn volume() -> Result<&'static Volume, Error> {
    MOUNTED
        .get_or_init(mount_first)
        .as_ref()
        .map_err(Clone::clone)
}

fn mount_first() -> Result<Volume, Error> {
    let disks = crate::block::disks();
    for (index, disk) in disks.iter().enumerate() {
        match Volume::mount(*disk) {
            Ok(volume) => {
                log::debug!(
                    "fs: mounted the FAT volume on disk {index} ({})",
                    disk.name()
                );
                return Ok(volume);
            }
            Err(error) => log::debug!("fs: disk {index} ({}): {error}", disk.name()),
        }
    }
    Err(Error::with_detail(
        ErrorKind::NotFound,
        if disks.is_empty() {
            "no FAT volume: the machine has no disk (attach one with `--disk FILE`)"
        } else {
            "no FAT volume on any disk (`log=debug` says why for each)"
        },
    ))
}

/// Opens the file at `path` for reading.
pub fn open(path: &str) -> Result<File, Error> {
    File::open(path)
}

/// Creates the file at `path`, or cuts it to 0 bytes, for writing.
pub fn create(path: &str) -> Result<File, Error> {
    File::create(path)
}

/// The whole file at `path`.
pub fn read(path: &str) -> Result<Vec<u8>, Error> {
    volume()?.read(path)
}

/// The whole file at `path`, as text; `InvalidData` if it is not UTF-8.
pub fn read_to_string(path: &str) -> Result<String, Error> {
    volume()?.read_to_string(path)
}

/// Makes `contents` the whole file at `path`, creating it if needed.
pub fn write(path: &str, contents: impl AsRef<[u8]>) -> Result<(), Error> {
    volume()?.write(path, contents)
}

/// The entries of the directory at `path`.
pub fn read_dir(path: &str) -> Result<ReadDir, Error> {
    volume()?.read_dir(path)
}

/// Creates the directory `path`; its parent must exist.
pub fn create_dir(path: &str) -> Result<(), Error> {
    volume()?.create_dir(path)
}

/// Creates the directory `path` and its missing parents.
pub fn create_dir_all(path: &str) -> Result<(), Error> {
    volume()?.create_dir_all(path)
}

/// Removes the file at `path`.
pub fn remove_file(path: &str) -> Result<(), Error> {
    volume()?.remove_file(path)
}

/// Removes the empty directory at `path`.
pub fn remove_dir(path: &str) -> Result<(), Error> {
    volume()?.remove_dir(path)
}

/// Renames `from` to `to`, replacing a file at `to`.
pub fn rename(from: &str, to: &str) -> Result<(), Error> {
    volume()?.rename(from, to)
}

/// The metadata of `path`.
pub fn metadata(path: &str) -> Result<Metadata, Error> {
    volume()?.metadata(path)
}

impl Volume {
    /// The whole file at `path`.
    pub fn read(&self, path: &str) -> Result<Vec<u8>, Error> {
        let mut bytes = Vec::new();
        self.open(path)?.read_to_end(&mut bytes)?;
        Ok(bytes)
    }

    /// The whole file at `path`, as text.
    pub fn read_to_string(&self, path: &str) -> Result<String, Error> {
        let mut text = String::new();
        self.open(path)?.read_to_string(&mut text)?;
        Ok(text)
    }

    /// Makes `contents` the whole file at `path`, creating it if needed.
    pub fn write(&self, path: &str, contents: impl AsRef<[u8]>) -> Result<(), Error> {
        self.create(path)?.write_all(contents.as_ref())
    }
}

#[cfg(test)]
mod tests;
