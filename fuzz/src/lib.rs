//! The fuzz target's input, disks and walk.
//!
//! An input names one of three valid volumes the target formats and fills once (FAT12 in
//! 128 KiB, FAT16 in 4.2 MiB, FAT32 in 33 MiB: FAT's type follows its cluster count, so the
//! larger types need larger volumes than an input could be) and mutates it: an optional cut
//! (a truncated image) and byte patches over its first MiB, where the boot sector, the FATs,
//! the root directory and the first files and directories lie. A byte of the input picks
//! which steps of the walk to take, so that each run is short.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use hal::block::{ErrorKind, SECTOR_SIZE};
use kernel::fs::{OpenOptions, Sectors, Volume};

// The kernel's locks ask which core runs them; on the host, a fake one.
kernel::cores!(hal::mock::FakeCores);

/// A disk: a base image, a length and the sectors written or patched over it.
pub struct Overlay {
    base: &'static [u8],
    sectors: u64,
    written: HashMap<u64, [u8; SECTOR_SIZE]>,
}

impl Overlay {
    fn sector(&self, n: u64) -> [u8; SECTOR_SIZE] {
        self.written.get(&n).copied().unwrap_or_else(|| {
            let at = n as usize * SECTOR_SIZE;
            self.base[at..at + SECTOR_SIZE].try_into().unwrap()
        })
    }

    fn patch(&mut self, offset: usize, value: u8) {
        let n = (offset / SECTOR_SIZE) as u64;
        let mut sector = self.sector(n);
        sector[offset % SECTOR_SIZE] = value;
        self.written.insert(n, sector);
    }
}

impl Sectors for Overlay {
    fn sector_count(&self) -> u64 {
        self.sectors
    }

    fn read(&mut self, first: u64, buf: &mut [u8]) -> Result<(), ErrorKind> {
        hal::block::check_request(self.sectors, first, buf.len())?;
        for (i, chunk) in buf.chunks_exact_mut(SECTOR_SIZE).enumerate() {
            chunk.copy_from_slice(&self.sector(first + i as u64));
        }
        Ok(())
    }

    fn write(&mut self, first: u64, buf: &[u8]) -> Result<(), ErrorKind> {
        hal::block::check_request(self.sectors, first, buf.len())?;
        for (i, chunk) in buf.chunks_exact(SECTOR_SIZE).enumerate() {
            self.written
                .insert(first + i as u64, chunk.try_into().unwrap());
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), ErrorKind> {
        Ok(())
    }
}

/// 2026-11-27 00:00:00 UTC.
pub fn clock() -> Duration {
    Duration::from_secs(1_795_737_600)
}

/// A byte vector the FAT crate's formatter writes into.
struct Cursor(Vec<u8>, u64);

impl fatfs::IoBase for Cursor {
    type Error = ();
}

impl fatfs::Read for Cursor {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, ()> {
        let at = (self.1 as usize).min(self.0.len());
        let n = buf.len().min(self.0.len() - at);
        buf[..n].copy_from_slice(&self.0[at..at + n]);
        self.1 += n as u64;
        Ok(n)
    }
}

impl fatfs::Write for Cursor {
    fn write(&mut self, buf: &[u8]) -> Result<usize, ()> {
        let at = (self.1 as usize).min(self.0.len());
        let n = buf.len().min(self.0.len() - at);
        self.0[at..at + n].copy_from_slice(&buf[..n]);
        self.1 += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> Result<(), ()> {
        Ok(())
    }
}

impl fatfs::Seek for Cursor {
    fn seek(&mut self, pos: fatfs::SeekFrom) -> Result<u64, ()> {
        self.1 = match pos {
            fatfs::SeekFrom::Start(n) => n,
            fatfs::SeekFrom::End(d) => (self.0.len() as u64).checked_add_signed(d).ok_or(())?,
            fatfs::SeekFrom::Current(d) => self.1.checked_add_signed(d).ok_or(())?,
        };
        Ok(self.1)
    }
}

/// An overlay disk the base maker keeps after the volume is gone.
#[derive(Clone)]
struct Kept(Arc<Mutex<Overlay>>);

impl Sectors for Kept {
    fn sector_count(&self) -> u64 {
        self.0.lock().unwrap().sectors
    }

    fn read(&mut self, first: u64, buf: &mut [u8]) -> Result<(), ErrorKind> {
        self.0.lock().unwrap().read(first, buf)
    }

    fn write(&mut self, first: u64, buf: &[u8]) -> Result<(), ErrorKind> {
        self.0.lock().unwrap().write(first, buf)
    }

    fn flush(&mut self) -> Result<(), ErrorKind> {
        Ok(())
    }
}

/// A valid volume of `sectors` sectors and type `fat`, holding long names, nested
/// directories and files that span clusters.
fn base(sectors: usize, fat: fatfs::FatType) -> &'static [u8] {
    let mut cursor = Cursor(vec![0; sectors * SECTOR_SIZE], 0);
    let options = fatfs::FormatVolumeOptions::new()
        .fat_type(fat)
        .bytes_per_cluster(512)
        .max_root_dir_entries(32);
    fatfs::format_volume(&mut cursor, options).expect("format");
    let image: &'static [u8] = Box::leak(cursor.0.into_boxed_slice());
    let disk = Kept(Arc::new(Mutex::new(Overlay {
        base: image,
        sectors: sectors as u64,
        written: HashMap::new(),
    })));
    {
        let volume = Volume::mount_with_clock(disk.clone(), clock).expect("mount");
        volume.create_dir_all("/docs/old").unwrap();
        volume.write("/docs/a long name.txt", b"hello").unwrap();
        volume.write("/docs/old/SHORT.TXT", vec![1; 1200]).unwrap();
        volume.write("/top", vec![2; 700]).unwrap();
        for i in 0..5 {
            volume.write(&format!("/docs/file {i}"), b"x").unwrap();
        }
    }
    let mut filled = image.to_vec();
    for (n, sector) in &disk.0.lock().unwrap().written {
        let n = *n;
        let at = n as usize * SECTOR_SIZE;
        filled[at..at + SECTOR_SIZE].copy_from_slice(sector);
    }
    Box::leak(filled.into_boxed_slice())
}

fn bases() -> &'static [&'static [u8]; 3] {
    static BASES: OnceLock<[&'static [u8]; 3]> = OnceLock::new();
    BASES.get_or_init(|| {
        [
            base(256, fatfs::FatType::Fat12),
            base(8400, fatfs::FatType::Fat16),
            base(66_700, fatfs::FatType::Fat32),
        ]
    })
}

/// The disk an input describes and what to do on it: byte 0 picks the volume (bits 0-1,
/// modulo 3; with bit 7, a cut to the sector count in bytes 1-2); the next byte says which
/// steps of [`walk`] to take; then 4-byte patches, a 24-bit offset into the first MiB and
/// the byte to put there.
pub fn disk(input: &[u8]) -> Option<(Overlay, Steps)> {
    let (&pick, mut rest) = input.split_first()?;
    let base = bases()[usize::from(pick & 3) % 3];
    let mut sectors = (base.len() / SECTOR_SIZE) as u64;
    if pick & 0x80 != 0 {
        let cut = rest.get(..2)?;
        sectors = u64::from(u16::from_le_bytes([cut[0], cut[1]])) % sectors;
        rest = &rest[2..];
    }
    let (&steps, rest) = rest.split_first()?;
    let mut disk = Overlay {
        base,
        sectors,
        written: HashMap::new(),
    };
    let window = (sectors as usize * SECTOR_SIZE).min(1 << 20);
    for patch in rest.chunks_exact(4) {
        if window > 0 {
            let offset = u32::from_le_bytes([patch[0], patch[1], patch[2], 0]) as usize % window;
            disk.patch(offset, patch[3]);
        }
    }
    Some((disk, Steps(steps)))
}

/// Which steps of [`walk`] an input takes, one bit each: a run does a part of the work, so
/// runs are short and many.
#[derive(Clone, Copy, Debug)]
pub struct Steps(u8);

impl Steps {
    const DEEP: u8 = 1 << 0;
    const WRITE: u8 = 1 << 1;
    const DIRS: u8 = 1 << 2;
    const RENAME: u8 = 1 << 3;
    const REMOVE: u8 = 1 << 4;
    const SYNC: u8 = 1 << 5;

    fn has(self, step: u8) -> bool {
        self.0 & step != 0
    }
}

/// Mounts `disk` and lists its root, then takes the `steps` asked for: list and read a few
/// levels deep; write, append and cut a file; make, fill, list and remove directories;
/// rename; remove; sync. The volume unmounts at the end. Errors are fine; panics and hangs
/// are not.
pub fn walk(disk: Overlay, steps: Steps) {
    let Ok(volume) = Volume::mount_with_clock(disk, clock) else {
        return;
    };
    visit(&volume, "/", if steps.has(Steps::DEEP) { 2 } else { 0 });
    if steps.has(Steps::WRITE) {
        let _ = volume.write("/new file.txt", b"fuzz");
        if let Ok(mut f) = OpenOptions::new()
            .append(true)
            .open_on(&volume, "/docs/a long name.txt")
        {
            let _ = f.write_all(b" more");
            let _ = f.set_len(2);
        }
    }
    if steps.has(Steps::DIRS) {
        let _ = volume.create_dir_all("/a/b");
        let _ = volume.write("/a/b/c", vec![7; 3000]);
        let _ = volume.read_dir("/a");
        let _ = volume.remove_file("/a/b/c");
        let _ = volume.remove_dir("/a/b");
    }
    if steps.has(Steps::RENAME) {
        let _ = volume.rename("/top", "/docs/renamed");
        let _ = volume.rename("/docs/old", "/docs/older");
    }
    if steps.has(Steps::REMOVE) {
        let _ = volume.remove_file("/docs/a long name.txt");
        let _ = volume.remove_dir("/docs/old");
    }
    if steps.has(Steps::SYNC) {
        let _ = volume.sync();
    }
}

/// Lists `dir` and reads the first files in it, and the directories in it down to `depth`.
fn visit(volume: &Volume, dir: &str, depth: usize) {
    let Ok(entries) = volume.read_dir(dir) else {
        return;
    };
    for entry in entries.flatten().take(4) {
        let Ok(meta) = entry.metadata() else { continue };
        let _ = (meta.modified(), meta.created(), meta.accessed());
        if meta.is_dir() {
            if depth > 0 {
                visit(volume, entry.path(), depth - 1);
            }
        } else if let Ok(mut f) = volume.open(entry.path()) {
            let _ = f.read(&mut [0; 2048]);
        }
    }
}
