//! Disks for guests: the `--disk FILE[,bus=virtio|ide]` option, the QEMU arguments that
//! attach raw images, and the images of the guest `disk` suite (a pattern probe writes
//! before the boot and checks after it, so the guest's writes are seen to reach the file).

use std::ffi::OsString;
use std::fmt;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::board::Board;

/// The size of one sector, in bytes.
pub(crate) const SECTOR_SIZE: usize = 512;

/// The virtio-mmio slots QEMU's microvm has: at most this many virtio disks there.
const MICROVM_VIRTIO_SLOTS: usize = 8;

/// The PC's IDE controller: two channels of two drives each.
pub(crate) const IDE_DRIVES: usize = 4;

/// How a disk is attached.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Bus {
    /// virtio-blk: on microvm's virtio-mmio, on the PC's PCI bus.
    #[default]
    Virtio,
    /// An IDE hard disk on the PC's IDE controller.
    Ide,
}

impl fmt::Display for Bus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Bus::Virtio => "virtio",
            Bus::Ide => "ide",
        })
    }
}

/// A raw image attached to the guest; its writes go to the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Disk {
    pub(crate) file: PathBuf,
    pub(crate) bus: Bus,
    /// QEMU's blkdebug rules the image is read through, for a test that makes reads fail.
    pub(crate) faults: Option<PathBuf>,
}

impl Disk {
    /// A virtio disk, the default bus.
    pub(crate) fn virtio(file: PathBuf) -> Self {
        Disk {
            file,
            bus: Bus::Virtio,
            faults: None,
        }
    }

    /// Parses the value of `--disk`: `FILE[,bus=virtio|ide]`. Whether the file exists and
    /// whether the board has the bus is checked at boot (see [`check`]).
    pub(crate) fn parse(value: &str) -> Result<Disk, String> {
        let (file, options) = match value.split_once(',') {
            Some((file, options)) => (file, Some(options)),
            None => (value, None),
        };
        if file.is_empty() {
            return Err(format!(
                "--disk needs a file: FILE[,bus=virtio|ide], not '{value}'"
            ));
        }
        let mut disk = Disk::virtio(PathBuf::from(file));
        for option in options.into_iter().flat_map(|options| options.split(',')) {
            match option.split_once('=') {
                Some(("bus", "virtio")) => disk.bus = Bus::Virtio,
                Some(("bus", "ide")) => disk.bus = Bus::Ide,
                Some(("bus", other)) => {
                    return Err(format!(
                        "--disk {value}: bus must be virtio or ide, not '{other}'"
                    ));
                }
                _ => {
                    return Err(format!(
                        "--disk {value}: unknown option '{option}' (FILE[,bus=virtio|ide])"
                    ));
                }
            }
        }
        Ok(disk)
    }
}

/// Refuses disks `board` cannot take and files the guest could not use, one line each.
pub(crate) fn check(board: Board, disks: &[Disk]) -> Result<(), String> {
    let count = |bus| disks.iter().filter(|disk| disk.bus == bus).count();
    match board {
        Board::Microvm => {
            if let Some(ide) = disks.iter().find(|disk| disk.bus == Bus::Ide) {
                return Err(format!(
                    "--disk {},bus=ide: microvm has no IDE controller; use bus=virtio",
                    ide.file.display()
                ));
            }
            if count(Bus::Virtio) > MICROVM_VIRTIO_SLOTS {
                return Err(format!(
                    "{} virtio disks given, but microvm has {MICROVM_VIRTIO_SLOTS} virtio-mmio \
                     slots",
                    count(Bus::Virtio)
                ));
            }
        }
        Board::QemuPc => {
            if count(Bus::Ide) > IDE_DRIVES {
                return Err(format!(
                    "{} IDE disks given, but the PC's IDE controller takes {IDE_DRIVES}",
                    count(Bus::Ide)
                ));
            }
        }
    }
    for disk in disks {
        check_file(&disk.file)?;
    }
    Ok(())
}

/// The guest reads and writes the file, and QEMU's `-drive` needs its path as text.
fn check_file(file: &Path) -> Result<(), String> {
    if file.to_str().is_none() {
        return Err(format!(
            "--disk {}: the path is not UTF-8, which QEMU's -drive cannot take",
            file.display()
        ));
    }
    match OpenOptions::new().read(true).write(true).open(file) {
        Ok(_) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Err(format!(
            "--disk {}: no such file (a raw image; make one with `truncate -s 64M {}`)",
            file.display(),
            file.display()
        )),
        Err(err) => Err(format!(
            "--disk {}: cannot open it for reading and writing: {err}",
            file.display()
        )),
    }
}

/// The QEMU arguments attaching `disks`, in order, as `disk0`, `disk1`...; [`check`] has
/// accepted them, on the IDE drives from `first_ide` on (a boot disk may take the first).
/// `format=raw` spares QEMU's format probing (and its warning); the default writeback cache
/// reaches the file by the time QEMU exits.
pub(crate) fn disk_args(board: Board, disks: &[Disk], first_ide: usize) -> Vec<OsString> {
    let mut args = Vec::new();
    let mut ide = first_ide;
    for (index, disk) in disks.iter().enumerate() {
        let file = match &disk.faults {
            Some(rules) => format!("blkdebug:{}:{}", rules.display(), disk.file.display()),
            None => disk.file.to_string_lossy().into_owned(),
        };
        // QEMU's option syntax: a comma inside a value is written twice.
        let file = file.replace(',', ",,");
        args.push("-drive".into());
        args.push(format!("file={file},format=raw,if=none,id=disk{index}").into());
        let device = match (disk.bus, board) {
            (Bus::Virtio, Board::Microvm) => format!("virtio-blk-device,drive=disk{index}"),
            (Bus::Virtio, Board::QemuPc) => format!("virtio-blk-pci,drive=disk{index}"),
            (Bus::Ide, _) => {
                let device = format!(
                    "ide-hd,drive=disk{index},bus=ide.{},unit={}",
                    ide / 2,
                    ide % 2
                );
                ide += 1;
                device
            }
        };
        args.push("-device".into());
        args.push(device.into());
    }
    args
}

/// The QEMU arguments attaching `files` as the board's disks `bench0`, `bench1`... on
/// `bus`, bypassing the host's page cache (`cache=none`), for benchmarks: the same for
/// Novillo's guest and the Linux baseline. [`check`] has accepted the bus for the board.
pub(crate) fn uncached_args(
    board: Board,
    bus: Bus,
    files: &[PathBuf],
) -> Result<Vec<String>, String> {
    let mut args = Vec::new();
    for (index, file) in files.iter().enumerate() {
        let file = file
            .to_str()
            .ok_or_else(|| format!("{}: the path is not UTF-8", file.display()))?
            .replace(',', ",,");
        args.push("-drive".to_owned());
        args.push(format!(
            "file={file},format=raw,if=none,id=bench{index},cache=none"
        ));
        args.push("-device".to_owned());
        args.push(match (bus, board) {
            (Bus::Virtio, Board::Microvm) => format!("virtio-blk-device,drive=bench{index}"),
            (Bus::Virtio, Board::QemuPc) => format!("virtio-blk-pci,drive=bench{index}"),
            (Bus::Ide, _) => format!(
                "ide-hd,drive=bench{index},bus=ide.{},unit={}",
                index / 2,
                index % 2
            ),
        });
    }
    Ok(args)
}

/// The QEMU arguments attaching one virtio disk of 1 MiB that holds no data and answers
/// every request after `latency`: QEMU's `null-co` driver. Its geometry is given, because
/// QEMU otherwise reads sector 0 to guess one and would stall its own start-up for as long.
pub(crate) fn slow_disk_args(board: Board, latency: Duration) -> Vec<String> {
    let device = match board {
        Board::Microvm => "virtio-blk-device",
        Board::QemuPc => "virtio-blk-pci",
    };
    vec![
        "-drive".to_owned(),
        format!(
            "driver=null-co,size=1M,latency-ns={},if=none,id=slow",
            latency.as_nanos()
        ),
        "-device".to_owned(),
        // 2 cylinders of 16 heads of 63 sectors: the 1 MiB, rounded down, as QEMU wants.
        format!("{device},drive=slow,cyls=2,heads=16,secs=63"),
    ]
}

/// Sector `sector` of the pattern with `seed`: byte `i` is
/// `(sector * 131 + i * 7 + seed * 29 + (sector >> 8)) as u8`, except the first 16 bytes:
/// `b"NOVILLO\0"`, `seed` as a little-endian u32, `sector` as a little-endian u32, so a
/// sector found in the wrong place names itself. `apps/tests/disk.rs` has the same formula.
pub(crate) fn pattern_sector(seed: u32, sector: u64) -> [u8; SECTOR_SIZE] {
    let mut bytes = [0; SECTOR_SIZE];
    for (i, byte) in bytes.iter_mut().enumerate() {
        let value = sector
            .wrapping_mul(131)
            .wrapping_add(i as u64 * 7)
            .wrapping_add(u64::from(seed) * 29)
            .wrapping_add(sector >> 8);
        *byte = value as u8;
    }
    bytes[..8].copy_from_slice(b"NOVILLO\0");
    bytes[8..12].copy_from_slice(&seed.to_le_bytes());
    // The header keeps the low 32 bits; the suite's disks are far smaller.
    bytes[12..16].copy_from_slice(&(sector as u32).to_le_bytes());
    bytes
}

/// One image of a guest case: `sectors` sectors holding the pattern with `seed`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DiskSpec {
    pub(crate) sectors: u64,
    pub(crate) seed: u32,
    /// A sector whose pattern is spoiled after it is written, to prove the checks fail.
    pub(crate) altered: Option<u64>,
}

impl DiskSpec {
    pub(crate) fn new(sectors: u64, seed: u32) -> Self {
        DiskSpec {
            sectors,
            seed,
            altered: None,
        }
    }
}

/// The byte of an altered sector that differs: past the header, so the sector still names
/// itself.
const ALTERED_BYTE: usize = 100;

/// Writes the image `spec` describes to `path`.
pub(crate) fn write_image(path: &Path, spec: &DiskSpec) -> Result<(), String> {
    let mut image = Vec::with_capacity(spec.sectors as usize * SECTOR_SIZE);
    for sector in 0..spec.sectors {
        image.extend_from_slice(&pattern_sector(spec.seed, sector));
    }
    if let Some(sector) = spec.altered.filter(|sector| *sector < spec.sectors) {
        image[sector as usize * SECTOR_SIZE + ALTERED_BYTE] ^= 0xff;
    }
    std::fs::write(path, image).map_err(|err| format!("cannot write {}: {err}", path.display()))
}

/// A run of sectors the `disk` suite writes with its own seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Written {
    pub(crate) disk: usize,
    pub(crate) first: u64,
    pub(crate) count: u64,
    pub(crate) seed: u32,
}

/// At most this many cores write a region of disk 0 in the `disk` suite.
const SUITE_WRITERS: u32 = 8;

/// What the guest suite `apps/tests/disk.rs` writes on a machine with `cores` cores (the
/// suite keeps the same table): `writes_from_every_core_read_back` has core `c` (the first
/// eight) write sectors `2048 + 256c ..+256` of disk 0 with seed `100 + c`, and
/// `second_disk_is_independent` writes sectors `512..576` of disk 1 with seed 200. Every
/// other sector keeps the host's pattern (a refused write transfers nothing).
pub(crate) fn suite_writes(cores: u32) -> Vec<Written> {
    let mut writes: Vec<Written> = (0..cores.min(SUITE_WRITERS))
        .map(|core| Written {
            disk: 0,
            first: 2048 + 256 * u64::from(core),
            count: 256,
            seed: 100 + core,
        })
        .collect();
    writes.push(Written {
        disk: 1,
        first: 512,
        count: 64,
        seed: 200,
    });
    writes
}

/// Checks the images after the run: the sectors in `writes` hold the guest's pattern, every
/// other sector still the host's. One problem per disk that differs, naming the first
/// sector and what it holds.
pub(crate) fn check_images(
    specs: &[DiskSpec],
    paths: &[PathBuf],
    writes: &[Written],
) -> Vec<String> {
    let mut problems = Vec::new();
    for (disk, (spec, path)) in specs.iter().zip(paths).enumerate() {
        let image = match std::fs::read(path) {
            Ok(image) => image,
            Err(err) => {
                problems.push(format!(
                    "disk {disk}: cannot read {}: {err}",
                    path.display()
                ));
                continue;
            }
        };
        let expected_len = spec.sectors as usize * SECTOR_SIZE;
        if image.len() != expected_len {
            problems.push(format!(
                "disk {disk}: the image is now {} bytes, not {expected_len}",
                image.len()
            ));
            continue;
        }
        let mut wrong =
            image
                .chunks_exact(SECTOR_SIZE)
                .zip(0u64..)
                .filter_map(|(found, sector)| {
                    let (seed, whose) = match writes
                        .iter()
                        .find(|w| w.disk == disk && (w.first..w.first + w.count).contains(&sector))
                    {
                        Some(written) => (written.seed, "the guest's"),
                        None => (spec.seed, "the host's"),
                    };
                    (found != pattern_sector(seed, sector)).then(|| {
                        format!(
                            "disk {disk} sector {sector} should hold {whose} pattern with seed \
                         {seed}, but holds {}",
                            describe(found)
                        )
                    })
                });
        if let Some(first) = wrong.next() {
            let more = wrong.count();
            problems.push(match more {
                0 => first,
                more => format!("{first} (and {more} more sectors differ)"),
            });
        }
    }
    problems
}

/// What a sector holds, by its header when it has the pattern's.
fn describe(sector: &[u8]) -> String {
    let word = |at: usize| {
        u32::from_le_bytes([sector[at], sector[at + 1], sector[at + 2], sector[at + 3]])
    };
    if sector.starts_with(b"NOVILLO\0") {
        let (seed, number) = (word(8), word(12));
        if sector == pattern_sector(seed, u64::from(number)) {
            return format!("sector {number} of the pattern with seed {seed}");
        }
        return format!(
            "a spoiled copy of sector {number} of the pattern with seed {seed} (first wrong \
             byte at {})",
            first_difference(sector, &pattern_sector(seed, u64::from(number)))
        );
    }
    format!("no pattern (it starts {:02x?})", &sector[..16])
}

fn first_difference(left: &[u8], right: &[u8]) -> usize {
    left.iter()
        .zip(right)
        .position(|(l, r)| l != r)
        .unwrap_or(left.len().min(right.len()))
}

/// A directory of its own under the system's temporary directory, removed with everything
/// in it on drop.
#[derive(Debug)]
pub(crate) struct Scratch {
    path: PathBuf,
}

impl Scratch {
    /// Creates `novillo-probe-<pid>-<label>`; one left over from a killed probe of the same
    /// process id is emptied first.
    pub(crate) fn new(label: &str) -> Result<Scratch, String> {
        let path = std::env::temp_dir().join(format!(
            "novillo-probe-{}-{}",
            std::process::id(),
            label.replace(['/', ':'], "-")
        ));
        // Nothing there is the usual case.
        let _ignored = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path)
            .map_err(|err| format!("cannot create {}: {err}", path.display()))?;
        Ok(Scratch { path })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // A directory left behind in the temporary directory harms nothing.
        let _ignored = std::fs::remove_dir_all(&self.path);
    }
}

#[cfg(test)]
#[path = "disk_tests.rs"]
mod tests;
