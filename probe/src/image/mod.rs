//! `probe image`: a raw disk image of a PC application that a PC BIOS boots by itself.
//!
//! Layout, in sectors of 512 bytes:
//!
//! | sectors | what |
//! |---|---|
//! | 0 | the MBR: the loader's first stage, its parameters, the partition table |
//! | 1.. | the loader's stage 2 ([`loader`]) |
//! | then | the command line: the ELF's file name, a space, the guest command line, a NUL |
//! | then | the kernel: its loadable segments as they lie in memory, from the lowest address |
//! | from the next MiB | with `--share DIR` or `--disk FILE`: a FAT volume, partition 2 |
//! | to the next MiB | zeros: images are whole MiB, as VHD and some hypervisors want |
//!
//! Partition 1 (type 0xda, "non-file-system data", marked active) covers sectors 1 to the
//! kernel's end, so partitioning tools see the space as taken and no system mounts it.
//!
//! The kernel is entered as QEMU's `-kernel` enters it (Multiboot, with the a.out-kludge
//! header the PC board's ELF starts with), so the board boots the same way on both paths.

#[cfg(target_arch = "x86_64")]
pub(crate) mod loader;

use std::path::{Path, PathBuf};

use fatfs::FatType;

use crate::board::Board;
use crate::cli::ImageOptions;
use crate::disk::Scratch;
use crate::elf::{board_of_image, load_segments};
use crate::fat::command::NewOptions;
use crate::fat::share::Tree;
use crate::fat::{self, Format, Found};
use crate::qemu::Damage;

/// The size of one sector, in bytes.
pub(crate) const SECTOR: usize = 512;
/// The MBR's partition table and its four entries of 16 bytes.
pub(crate) const PARTITION_TABLE_AT: usize = 0x1be;
const PARTITION_ENTRY: usize = 16;
/// The MBR's 32-bit disk signature.
const DISK_SIGNATURE_AT: usize = 0x1b8;
/// The partition type of the loader and kernel: "non-file-system data".
pub(crate) const BOOT_PARTITION_TYPE: u8 = 0xda;
/// Images are rounded up to whole MiB.
const IMAGE_ALIGN: usize = 1 << 20;
/// The Multiboot header's magic number.
const MULTIBOOT_MAGIC: u32 = 0x1bad_b002;
/// The Multiboot flag saying the header's address fields are valid (the a.out kludge).
const MULTIBOOT_ADDRESSES: u32 = 1 << 16;
/// The longest command line the loader hands over, with the file name and the NUL: the
/// board keeps 4096 bytes after the file name.
const MAX_COMMAND_LINE: usize = 8 * SECTOR;
/// The lowest load address: the loader copies through low memory.
const LOWEST_LOAD: u64 = 1 << 20;

/// The kernel as the loader puts it in memory.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Kernel {
    /// Where its first byte goes.
    pub(crate) load_addr: u32,
    /// Its 32-bit entry point, from the Multiboot header.
    pub(crate) entry: u32,
    /// Its bytes from `load_addr` to the end of the last segment's file bytes.
    pub(crate) bytes: Vec<u8>,
}

/// The kernel of the PC board's ELF `elf`: its loadable segments laid out as in memory,
/// checked against the Multiboot header at its start.
pub(crate) fn kernel_of_elf(elf: &[u8]) -> Result<Kernel, String> {
    match board_of_image(elf)? {
        Board::QemuPc => {}
        other => {
            return Err(format!(
                "the image is built for {other}; a BIOS disk image needs one built with \
                 --features bsp-qemu-pc"
            ));
        }
    }
    let segments: Vec<_> = load_segments(elf)?
        .into_iter()
        .filter(|segment| !segment.data.is_empty())
        .collect();
    let base = segments
        .iter()
        .map(|segment| segment.paddr)
        .min()
        .ok_or("the image has no loadable bytes")?;
    let end = segments
        .iter()
        .map(|segment| segment.paddr.saturating_add(segment.data.len() as u64))
        .max()
        .unwrap_or(base);
    if base < LOWEST_LOAD || end > 1 << 32 {
        return Err(format!(
            "the image loads at {base:#x}..{end:#x}; the loader needs it between 1 MiB and \
             4 GiB"
        ));
    }
    let mut bytes = vec![0; (end - base) as usize];
    for segment in &segments {
        let at = (segment.paddr - base) as usize;
        bytes[at..at + segment.data.len()].copy_from_slice(segment.data);
    }
    let word = |at: usize| {
        bytes
            .get(at..at + 4)
            .map(|field| u32::from_le_bytes([field[0], field[1], field[2], field[3]]))
    };
    let (magic, flags, sum) = (word(0), word(4), word(8));
    let (Some(MULTIBOOT_MAGIC), Some(flags), Some(sum)) = (magic, flags, sum) else {
        return Err("the image does not start with a Multiboot header".to_owned());
    };
    if MULTIBOOT_MAGIC.wrapping_add(flags).wrapping_add(sum) != 0
        || flags & MULTIBOOT_ADDRESSES == 0
    {
        return Err("the image's Multiboot header is damaged or lacks its addresses".to_owned());
    }
    let (header_addr, load_addr, entry) = (word(12), word(16), word(28));
    let base32 = base as u32;
    match (header_addr, load_addr, entry) {
        (Some(header), Some(load), Some(entry))
            if header == base32 && load == base32 && (base..end).contains(&u64::from(entry)) =>
        {
            Ok(Kernel {
                load_addr: base32,
                entry,
                bytes,
            })
        }
        _ => {
            Err("the image's Multiboot header does not describe where its segments load".to_owned())
        }
    }
}

/// A FAT volume the image carries as partition 2, after the kernel from the next MiB on:
/// the files of the application, the volume the guest's file layer mounts first.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Volume {
    pub(crate) bytes: Vec<u8>,
    /// Its MBR partition type: 0x01 (FAT12), 0x0e (FAT16, LBA) or 0x0c (FAT32, LBA).
    pub(crate) kind: u8,
}

/// Where an image's files come from (`--share DIR` or `--disk FILE`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Files {
    /// A folder, copied into a new FAT volume.
    Share(PathBuf),
    /// A FAT image (a whole-disk volume, or an MBR whose first FAT partition is taken).
    Disk(PathBuf),
}

/// The smallest volume `--share` makes: 8 MiB, as FAT16.
const MIN_SHARE_BYTES: u64 = 8 << 20;

/// The FAT volume of the image at `path`, checked by mounting a copy of it in `scratch`
/// (lamfat may write to what it mounts; the user's file stays as it was).
fn volume_of_file(path: &Path, scratch: &Scratch) -> Result<Volume, String> {
    let bytes =
        std::fs::read(path).map_err(|err| format!("cannot read {}: {err}", path.display()))?;
    let first: [u8; SECTOR] = bytes
        .get(..SECTOR)
        .and_then(|sector| sector.try_into().ok())
        .ok_or_else(|| format!("{}: not a FAT image: shorter than a sector", path.display()))?;
    let range = match fat::find_volume(&first) {
        Found::WholeDisk => 0..bytes.len() / SECTOR * SECTOR,
        Found::Partition { start, sectors } => {
            (start as usize * SECTOR)..((start + sectors) as usize * SECTOR)
        }
        Found::Nothing => {
            return Err(format!(
                "{}: not a FAT image (no FAT boot sector, no MBR with a FAT partition)",
                path.display()
            ));
        }
    };
    let bytes = bytes
        .get(range)
        .ok_or_else(|| format!("{}: its FAT partition runs past its end", path.display()))?
        .to_vec();
    let copy = scratch.path().join("volume.img");
    std::fs::write(&copy, &bytes)
        .map_err(|err| format!("cannot write {}: {err}", copy.display()))?;
    let kind = match fat::open(&copy)
        .map_err(|err| format!("{}: {err}", path.display()))?
        .volume
        .fat_type()
    {
        FatType::Fat12 => 0x01,
        FatType::Fat16 => 0x0e,
        FatType::Fat32 => 0x0c,
    };
    Ok(Volume { bytes, kind })
}

/// The volume of `files`: a copy of the image, or a new one (twice the folder's size, at
/// least [`MIN_SHARE_BYTES`]) made in a scratch directory.
pub(crate) fn volume_of(files: &Files) -> Result<Volume, String> {
    match files {
        Files::Disk(path) => volume_of_file(path, &Scratch::new("image-disk")?),
        Files::Share(dir) => {
            let tree = Tree::scan(dir)?;
            let scratch = Scratch::new("image-share")?;
            let file = scratch.path().join("share.img");
            let bytes = MIN_SHARE_BYTES.max((tree.bytes_needed() * 2).next_multiple_of(1 << 20));
            fat::command::new(&NewOptions {
                format: Format {
                    bytes,
                    layout: fat::Layout::WholeDisk,
                    fat: None,
                },
                share: Some(dir.clone()),
                force: false,
                file: file.clone(),
            })?;
            volume_of_file(&file, &scratch)
        }
    }
}

/// Where an image's parts lie, in sectors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Layout {
    /// The loader's stage 2, from sector 1.
    pub(crate) stage2_sectors: usize,
    pub(crate) cmdline_sectors: usize,
    pub(crate) kernel_lba: usize,
    pub(crate) kernel_sectors: usize,
    /// The FAT volume's first sector (a whole MiB), when there is one.
    pub(crate) volume_lba: usize,
    /// The whole image.
    pub(crate) total_sectors: usize,
}

impl Layout {
    fn new(loader_len: usize, cmdline_len: usize, kernel_len: usize, volume_len: usize) -> Self {
        let stage2_sectors = loader_len / SECTOR - 1;
        let cmdline_sectors = (cmdline_len + 1).div_ceil(SECTOR);
        let kernel_lba = 1 + stage2_sectors + cmdline_sectors;
        let kernel_sectors = kernel_len.div_ceil(SECTOR);
        let align = IMAGE_ALIGN / SECTOR;
        let volume_lba = (kernel_lba + kernel_sectors).next_multiple_of(align);
        let used = volume_lba * SECTOR + volume_len;
        Layout {
            stage2_sectors,
            cmdline_sectors,
            kernel_lba,
            kernel_sectors,
            volume_lba,
            total_sectors: used.next_multiple_of(IMAGE_ALIGN) / SECTOR,
        }
    }
}

/// The wrapping sum of the little-endian u32 words of `bytes` (a multiple of 4 long), as
/// the loader sums what it copies.
pub(crate) fn checksum(bytes: &[u8]) -> u32 {
    bytes
        .chunks_exact(4)
        .map(|word| u32::from_le_bytes([word[0], word[1], word[2], word[3]]))
        .fold(0, u32::wrapping_add)
}

/// A partition table entry: active or not, type, first sector and count (LBA), with the
/// CHS fields of a 255-head, 63-sector geometry (the most CHS can say past 8 GiB).
fn partition_entry(active: bool, kind: u8, first: u32, count: u32) -> [u8; PARTITION_ENTRY] {
    let chs = |lba: u32| -> [u8; 3] {
        let (cylinder, head, sector) = (lba / (255 * 63), lba / 63 % 255, lba % 63 + 1);
        if cylinder > 1023 {
            return [254, 0xff, 0xff];
        }
        [
            head as u8,
            (sector as u8) | ((cylinder >> 2) as u8 & 0xc0),
            cylinder as u8,
        ]
    };
    let mut entry = [0; PARTITION_ENTRY];
    entry[0] = if active { 0x80 } else { 0 };
    entry[1..4].copy_from_slice(&chs(first));
    entry[4] = kind;
    entry[5..8].copy_from_slice(&chs(first + count - 1));
    entry[8..12].copy_from_slice(&first.to_le_bytes());
    entry[12..16].copy_from_slice(&count.to_le_bytes());
    entry
}

/// The image of `kernel` booted by `loader` (the loader's bytes: MBR and stage 2) with
/// `cmdline`, which starts with a program name, as a Multiboot command line does, and with
/// `volume` as partition 2.
pub(crate) fn build_with(
    loader: &[u8],
    kernel: &Kernel,
    cmdline: &str,
    volume: Option<&Volume>,
) -> Result<Vec<u8>, String> {
    if cmdline.len() >= MAX_COMMAND_LINE {
        return Err(format!(
            "the command line with the file name is {} bytes; the image holds at most {}",
            cmdline.len(),
            MAX_COMMAND_LINE - 1
        ));
    }
    if cmdline.contains('\0') {
        return Err("the command line holds a NUL byte".to_owned());
    }
    let volume_len = volume.map_or(0, |volume| volume.bytes.len());
    let layout = Layout::new(loader.len(), cmdline.len(), kernel.bytes.len(), volume_len);
    let mut image = vec![0; layout.total_sectors * SECTOR];
    image[..loader.len()].copy_from_slice(loader);
    let cmdline_at = (1 + layout.stage2_sectors) * SECTOR;
    image[cmdline_at..cmdline_at + cmdline.len()].copy_from_slice(cmdline.as_bytes());
    let kernel_at = layout.kernel_lba * SECTOR;
    image[kernel_at..kernel_at + kernel.bytes.len()].copy_from_slice(&kernel.bytes);
    let kernel_end = kernel_at + layout.kernel_sectors * SECTOR;
    let sum = checksum(&image[kernel_at..kernel_end]);
    let boot_sectors = u16::try_from(layout.stage2_sectors + layout.cmdline_sectors)
        .map_err(|_| "the loader and command line take too many sectors".to_owned())?;
    let kernel_sectors = u32::try_from(layout.kernel_sectors)
        .map_err(|_| "the kernel is too large for the loader".to_owned())?;
    let mut put = |at: usize, value: u32| image[at..at + 4].copy_from_slice(&value.to_le_bytes());
    put(params::KERNEL_LBA, layout.kernel_lba as u32);
    put(params::KERNEL_SECTORS, kernel_sectors);
    put(params::LOAD_ADDR, kernel.load_addr);
    put(params::ENTRY, kernel.entry);
    put(params::CHECKSUM, sum);
    // Any stable value: the kernel's sum, so the same input makes the same image.
    put(DISK_SIGNATURE_AT, sum);
    image[params::BOOT_SECTORS..params::BOOT_SECTORS + 2]
        .copy_from_slice(&boot_sectors.to_le_bytes());
    let entry = partition_entry(
        true,
        BOOT_PARTITION_TYPE,
        1,
        (kernel_end / SECTOR - 1) as u32,
    );
    image[PARTITION_TABLE_AT..PARTITION_TABLE_AT + PARTITION_ENTRY].copy_from_slice(&entry);
    if let Some(volume) = volume {
        let at = layout.volume_lba * SECTOR;
        image[at..at + volume.bytes.len()].copy_from_slice(&volume.bytes);
        let sectors = u32::try_from(volume.bytes.len() / SECTOR)
            .map_err(|_| "the FAT volume is too large for an MBR partition".to_owned())?;
        let entry = partition_entry(false, volume.kind, layout.volume_lba as u32, sectors);
        let second = PARTITION_TABLE_AT + PARTITION_ENTRY;
        image[second..second + PARTITION_ENTRY].copy_from_slice(&entry);
    }
    Ok(image)
}

/// Where the loader's parameters lie in sector 0, written by [`build_with`]: each a
/// little-endian u32 but the last: the kernel's first sector, its sector count, its load
/// address, its 32-bit entry, the wrapping sum of its words ([`checksum`], sector padding
/// included), and (a u16) how many sectors follow sector 0 up to the kernel: stage 2 and
/// the command line. The MBR's code ends before them; its disk signature follows them.
pub(crate) mod params {
    pub(crate) const AT: usize = 0x1a0;
    pub(crate) const KERNEL_LBA: usize = AT;
    pub(crate) const KERNEL_SECTORS: usize = AT + 4;
    pub(crate) const LOAD_ADDR: usize = AT + 8;
    pub(crate) const ENTRY: usize = AT + 12;
    pub(crate) const CHECKSUM: usize = AT + 16;
    pub(crate) const BOOT_SECTORS: usize = AT + 20;
    pub(crate) const END: usize = AT + 24;
}

/// The loader's bytes, or why this probe has none.
fn loader_bytes() -> Result<&'static [u8], String> {
    #[cfg(target_arch = "x86_64")]
    return Ok(loader::bytes());
    #[cfg(not(target_arch = "x86_64"))]
    Err(
        "this probe was built for a host other than x86_64, where its BIOS loader cannot be \
         assembled; build disk images on an x86_64 host"
            .to_owned(),
    )
}

/// The image of the PC board's ELF `elf` (read from `path`, whose file name starts the
/// command line) with the guest command line `cmdline` and the FAT volume `volume`.
pub(crate) fn build(
    elf: &[u8],
    path: &Path,
    cmdline: &str,
    volume: Option<&Volume>,
) -> Result<Vec<u8>, String> {
    let kernel = kernel_of_elf(elf).map_err(|err| format!("{}: {err}", path.display()))?;
    let name = path
        .file_name()
        .map_or_else(|| "novillo".into(), |name| name.to_string_lossy());
    let line = if cmdline.is_empty() {
        name.into_owned()
    } else {
        format!("{name} {cmdline}")
    };
    build_with(loader_bytes()?, &kernel, &line, volume)
}

/// Writes the image of the ELF at `elf` with `cmdline` and `files` to `output`.
pub(crate) fn write(
    elf: &Path,
    cmdline: &str,
    files: Option<&Files>,
    output: &Path,
) -> Result<Vec<u8>, String> {
    let bytes =
        std::fs::read(elf).map_err(|err| format!("cannot read {}: {err}", elf.display()))?;
    let volume = files.map(volume_of).transpose()?;
    let image = build(&bytes, elf, cmdline, volume.as_ref())?;
    std::fs::write(output, &image)
        .map_err(|err| format!("cannot write {}: {err}", output.display()))?;
    Ok(image)
}

/// Spoils `image` as `damage` says, where the loader is to notice it: the kernel's middle
/// sector overwritten (a checksum mismatch), or the file cut in the middle of the kernel (a
/// read past the disk's end).
pub(crate) fn damage(image: &mut Vec<u8>, damage: Damage) {
    let word =
        |at: usize| u32::from_le_bytes([image[at], image[at + 1], image[at + 2], image[at + 3]]);
    let middle = (word(params::KERNEL_LBA) + word(params::KERNEL_SECTORS) / 2) as usize;
    match damage {
        Damage::KernelSector => image[middle * SECTOR..(middle + 1) * SECTOR].fill(0xa5),
        Damage::Truncated => image.truncate(middle * SECTOR),
    }
}

/// Runs `probe image` and returns probe's exit code.
pub(crate) fn run(options: &ImageOptions) -> u8 {
    match write(
        &options.elf,
        &options.cmdline,
        options.files.as_ref(),
        &options.output,
    ) {
        Ok(image) => {
            println!(
                "probe: wrote {} ({} KiB)",
                options.output.display(),
                image.len() >> 10
            );
            0
        }
        Err(message) => {
            eprintln!("probe: {message}");
            1
        }
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
