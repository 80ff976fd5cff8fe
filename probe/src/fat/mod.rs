//! FAT images on the host, through the same FAT crate as the guest (`lamfat`, as
//! `fatfs`): `probe disk new|ls|get` and the volumes `--share DIR` builds.
//!
//! An image is either a whole disk holding one FAT volume (what `disk new` makes by
//! default, and what `mkfs.fat`, `mtools` and `fsck.fat` take as it is) or an MBR whose
//! first FAT partition holds it (`disk new --mbr`, like a disk a PC installer or QEMU's
//! `fat:` driver makes). The guest mounts both; `ls` and `get` read both.

pub(crate) mod command;
mod region;
pub(crate) mod share;
pub(crate) mod time;

use std::cell::Cell;
use std::fs::File;
use std::path::Path;
use std::rc::Rc;
use std::time::{SystemTime, UNIX_EPOCH};

use fatfs::{
    DateTime, FatType, FileSystem, FormatVolumeOptions, FsOptions, LossyOemCpConverter,
    StdIoWrapper, TimeProvider,
};

use crate::disk::SECTOR_SIZE;
use crate::fat::region::Region;

/// Where an MBR image's partition starts: 1 MiB, as partitioning tools align it.
const PARTITION_START: u64 = 2048;

/// The largest image: FAT counts sectors in 32 bits.
pub(crate) const MAX_BYTES: u64 = u32::MAX as u64 * SECTOR_SIZE as u64;

/// The smallest image `disk new` makes: a FAT12 volume with room for a few files.
pub(crate) const MIN_BYTES: u64 = 64 << 10;

/// The clock a volume stamps new entries with: set by hand before each entry, so copied
/// files and directories carry their host times.
#[derive(Clone, Debug)]
pub(crate) struct Clock(Rc<Cell<DateTime>>);

impl Clock {
    fn new(now: SystemTime) -> Self {
        Clock(Rc::new(Cell::new(time::to_fat(now))))
    }

    pub(crate) fn set(&self, time: SystemTime) {
        self.0.set(time::to_fat(time));
    }
}

impl TimeProvider for Clock {
    fn get_current_date(&self) -> fatfs::Date {
        self.0.get().date
    }

    fn get_current_date_time(&self) -> DateTime {
        self.0.get()
    }
}

/// A mounted volume of an image file.
pub(crate) type Volume = FileSystem<StdIoWrapper<Region>, Clock, LossyOemCpConverter>;

/// A volume and the clock it stamps new entries with.
pub(crate) struct Mounted {
    pub(crate) volume: Volume,
    pub(crate) clock: Clock,
}

impl std::fmt::Debug for Mounted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // lamfat's FileSystem has no Debug of its own.
        f.debug_struct("Mounted")
            .field("fat", &fat_name(self.volume.fat_type()))
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

/// How an image is laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Layout {
    /// The volume fills the image from sector 0.
    WholeDisk,
    /// An MBR with one FAT partition from [`PARTITION_START`] to the end.
    Mbr,
}

/// What `disk new` makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Format {
    pub(crate) bytes: u64,
    pub(crate) layout: Layout,
    /// `None`: chosen by size (FAT12 below about 4 MiB, FAT16 below 512 MiB, else FAT32).
    pub(crate) fat: Option<FatType>,
}

/// The name of a FAT type, for messages.
pub(crate) fn fat_name(fat: FatType) -> &'static str {
    match fat {
        FatType::Fat12 => "FAT12",
        FatType::Fat16 => "FAT16",
        FatType::Fat32 => "FAT32",
    }
}

/// Creates `path` (which must not exist unless `replace`) as an empty volume of `format`
/// and returns it mounted; the file is sparse where nothing is written.
pub(crate) fn create(path: &Path, format: Format, replace: bool) -> Result<Mounted, String> {
    check_size(format)?;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(replace)
        .truncate(replace)
        .create_new(!replace)
        .open(path)
        .map_err(|err| match err.kind() {
            std::io::ErrorKind::AlreadyExists => format!(
                "{} exists already; give --force to replace it",
                path.display()
            ),
            _ => format!("cannot create {}: {err}", path.display()),
        })?;
    if let Err(err) = file.set_len(format.bytes) {
        let _ignored = std::fs::remove_file(path);
        return Err(format!("cannot size {}: {err}", path.display()));
    }
    let start = match format.layout {
        Layout::WholeDisk => 0,
        Layout::Mbr => PARTITION_START * SECTOR_SIZE as u64,
    };
    let mut region = Region::new(file, start, format.bytes - start);
    // A serial number from the clock, as mkfs.fat takes it, tells images apart.
    let serial = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs() as u32);
    let mut options = FormatVolumeOptions::new().volume_id(serial);
    if let Some(fat) = format.fat {
        options = options.fat_type(fat);
    }
    if let Err(err) = fatfs::format_volume(&mut StdIoWrapper::new(&mut region), options) {
        // Only the file this call created (or was told to replace).
        let _ignored = std::fs::remove_file(path);
        let wanted = format.fat.map_or("FAT", fat_name);
        return Err(format!(
            "cannot make a {wanted} volume of {} in {}: {err} (FAT12 holds up to about 4 MiB \
             and FAT16 up to 4 GiB; FAT16 needs at least about 4 MiB and FAT32 about 33 MiB)",
            show_bytes(format.bytes - start),
            path.display()
        ));
    }
    let mounted = mount_region(region, path)?;
    match format.layout {
        Layout::WholeDisk => Ok(mounted),
        Layout::Mbr => {
            // The sector count fits: check_size kept the image under 2^32 sectors.
            let sectors = (format.bytes / SECTOR_SIZE as u64 - PARTITION_START) as u32;
            write_mbr_under(mounted.volume, path, sectors)
        }
    }
}

fn check_size(format: Format) -> Result<(), String> {
    let least = match format.layout {
        Layout::WholeDisk => MIN_BYTES,
        Layout::Mbr => PARTITION_START * SECTOR_SIZE as u64 + MIN_BYTES,
    };
    if format.bytes < least {
        return Err(format!(
            "--size {} is too small: {}the smallest image is {}",
            show_bytes(format.bytes),
            match format.layout {
                Layout::WholeDisk => "",
                Layout::Mbr => "the partition starts at 1 MiB; ",
            },
            show_bytes(least)
        ));
    }
    if format.bytes > MAX_BYTES {
        return Err(format!(
            "--size {} is too large: FAT counts 512-byte sectors in 32 bits, so at most {}",
            show_bytes(format.bytes),
            show_bytes(MAX_BYTES)
        ));
    }
    if !format.bytes.is_multiple_of(SECTOR_SIZE as u64) {
        return Err(format!(
            "--size {} is not a whole number of 512-byte sectors",
            format.bytes
        ));
    }
    Ok(())
}

/// Writes the MBR in front of the partition: the volume is unmounted for it and mounted
/// again.
fn write_mbr_under(volume: Volume, path: &Path, sectors: u32) -> Result<Mounted, String> {
    let fat = volume.fat_type();
    volume
        .unmount()
        .map_err(|err| format!("cannot write {}: {err}", path.display()))?;
    let mut mbr = [0u8; SECTOR_SIZE];
    let entry = &mut mbr[446..462];
    // No CHS addresses: 0xfeffff says "use the LBA fields" to anyone who reads them.
    entry[1..4].copy_from_slice(&[0xfe, 0xff, 0xff]);
    entry[4] = match fat {
        FatType::Fat12 => 0x01,
        FatType::Fat16 => 0x0e,
        FatType::Fat32 => 0x0c,
    };
    entry[5..8].copy_from_slice(&[0xfe, 0xff, 0xff]);
    entry[8..12].copy_from_slice(&(PARTITION_START as u32).to_le_bytes());
    entry[12..16].copy_from_slice(&sectors.to_le_bytes());
    mbr[510..].copy_from_slice(&[0x55, 0xaa]);
    let write = || -> std::io::Result<()> {
        use std::io::{Seek, SeekFrom, Write};
        let mut file = std::fs::OpenOptions::new().write(true).open(path)?;
        file.seek(SeekFrom::Start(0))?;
        file.write_all(&mbr)
    };
    write().map_err(|err| format!("cannot write the MBR of {}: {err}", path.display()))?;
    open(path)
}

/// Opens the volume of an existing image: a whole-disk volume or an MBR's first FAT
/// partition.
pub(crate) fn open(path: &Path) -> Result<Mounted, String> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .or_else(|_| File::open(path))
        .map_err(|err| format!("cannot open {}: {err}", path.display()))?;
    let len = file
        .metadata()
        .map_err(|err| format!("cannot read {}: {err}", path.display()))?
        .len();
    let mut first = [0u8; SECTOR_SIZE];
    {
        use std::io::Read;
        (&file).read_exact(&mut first).map_err(|_| {
            format!(
                "{}: not a FAT image: it holds {len} bytes, less than one sector",
                path.display()
            )
        })?;
    }
    let region = match find_volume(&first) {
        Found::WholeDisk => Region::new(file, 0, len),
        Found::Partition { start, sectors } => {
            let start = start * SECTOR_SIZE as u64;
            let end = start + sectors * SECTOR_SIZE as u64;
            if end > len {
                return Err(format!(
                    "{}: the MBR's FAT partition ends at byte {end}, past the image's end \
                     ({len} bytes): a truncated image",
                    path.display()
                ));
            }
            Region::new(file, start, end - start)
        }
        Found::Nothing => {
            return Err(format!(
                "{}: not a FAT image: sector 0 is neither a FAT boot sector nor an MBR with a \
                 FAT partition",
                path.display()
            ));
        }
    };
    mount_region(region, path)
}

fn mount_region(region: Region, path: &Path) -> Result<Mounted, String> {
    let clock = Clock::new(SystemTime::now());
    let options = FsOptions::new()
        .time_provider(clock.clone())
        .update_accessed_date(false);
    let volume = FileSystem::new(region, options)
        .map_err(|err| format!("{}: not a usable FAT volume: {err}", path.display()))?;
    Ok(Mounted { volume, clock })
}

/// What sector 0 of an image holds.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Found {
    WholeDisk,
    Partition { start: u64, sectors: u64 },
    Nothing,
}

/// MBR partition types of FAT volumes: FAT12, FAT16 < 32 MiB, FAT16, FAT32 (CHS), FAT32
/// (LBA), FAT16 (LBA).
const FAT_PARTITION_TYPES: [u8; 6] = [0x01, 0x04, 0x06, 0x0b, 0x0c, 0x0e];

pub(crate) fn find_volume(first: &[u8; SECTOR_SIZE]) -> Found {
    let word = |at: usize| u16::from_le_bytes([first[at], first[at + 1]]);
    let bytes_per_sector = word(11);
    let sectors_per_cluster = first[13];
    let looks_like_boot_sector = matches!(first[0], 0xeb | 0xe9)
        && matches!(bytes_per_sector, 512 | 1024 | 2048 | 4096)
        && sectors_per_cluster.is_power_of_two()
        && word(14) > 0
        && matches!(first[16], 1 | 2);
    if looks_like_boot_sector {
        return Found::WholeDisk;
    }
    if first[510..] != [0x55, 0xaa] {
        return Found::Nothing;
    }
    first[446..510]
        .chunks_exact(16)
        .find(|entry| FAT_PARTITION_TYPES.contains(&entry[4]))
        .map(|entry| {
            let field = |at: usize| {
                u64::from(u32::from_le_bytes([
                    entry[at],
                    entry[at + 1],
                    entry[at + 2],
                    entry[at + 3],
                ]))
            };
            Found::Partition {
                start: field(8),
                sectors: field(12),
            }
        })
        .filter(|found| matches!(found, Found::Partition { start, sectors } if *start > 0 && *sectors > 0))
        .unwrap_or(Found::Nothing)
}

/// `1 file`, `2 files`: a count and its noun.
pub(crate) fn count(number: usize, one: &str, many: &str) -> String {
    match number {
        1 => format!("1 {one}"),
        _ => format!("{number} {many}"),
    }
}

/// `64 MiB`, `1.5 GiB`, `512 KiB`, `700 B`: a size for people.
pub(crate) fn show_bytes(bytes: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
    for (size, unit) in UNITS {
        if bytes >= size {
            let tenths = bytes * 10 / size;
            return match tenths % 10 {
                0 => format!("{} {unit}", tenths / 10),
                rest => format!("{}.{rest} {unit}", tenths / 10),
            };
        }
    }
    format!("{bytes} B")
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
