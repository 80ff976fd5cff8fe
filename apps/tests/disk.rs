//! Disks: raw sector reads and writes, checked byte for byte, from threads on every core.
//!
//! probe boots this suite with two disks whose images it filled with a pattern, and passes
//! their sizes as `sectors=4096,1024`. After the run it reads the images back: the regions
//! this suite writes (disk 0 from [`REGION_START`], one region per core; disk 1 at
//! [`DISK1_WRITE`]) must hold this suite's pattern, every other sector still the host's
//! (`suite_writes` in `probe/src/disk.rs` keeps the same table).

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use apps as _;
use kernel::block::{self, Disk, Error, ErrorKind, SECTOR_SIZE};
use kernel::process::ExitCode;
use kernel::testing::{self, Outcome};
use kernel::thread::{self, Builder, JoinHandle};
use kernel::{cases, check, check_eq};

kernel::main!(main);

fn main() -> ExitCode {
    testing::run(cases![
        two_disks_are_found_with_their_sizes,
        sectors_read_back_the_host_pattern,
        requests_in_flight_at_once,
        out_of_range_is_refused,
        odd_length_is_refused,
        empty_buffer_is_done,
        writes_from_every_core_read_back,
        second_disk_is_independent,
    ])
}

/// The seeds of the host's pattern on disk 0 and disk 1.
const HOST_SEEDS: [u32; 2] = [1, 2];

/// Core `c` (the first [`WRITERS`]) writes sectors `REGION_START + REGION_LEN * c` onward
/// of disk 0 with seed `100 + c`.
const REGION_START: u64 = 2048;
const REGION_LEN: u64 = 256;
const WRITERS: usize = 8;

/// What `second_disk_is_independent` writes on disk 1: sectors 512..576, seed 200.
const DISK1_WRITE: (u64, u64, u32) = (512, 64, 200);

/// Sector `sector` of the pattern with `seed`: byte `i` is
/// `(sector * 131 + i * 7 + seed * 29 + (sector >> 8)) as u8`, except the first 16 bytes:
/// `b"NOVILLO\0"`, `seed` as a little-endian u32, `sector` as a little-endian u32, so a
/// sector found in the wrong place names itself. probe (`pattern_sector` in
/// `probe/src/disk.rs`) fills the images with the same formula.
fn pattern_sector(seed: u32, sector: u64, out: &mut [u8]) {
    for (i, byte) in out.iter_mut().enumerate() {
        let value = sector
            .wrapping_mul(131)
            .wrapping_add(i as u64 * 7)
            .wrapping_add(u64::from(seed) * 29)
            .wrapping_add(sector >> 8);
        *byte = value as u8;
    }
    out[..8].copy_from_slice(b"NOVILLO\0");
    out[8..12].copy_from_slice(&seed.to_le_bytes());
    out[12..16].copy_from_slice(&(sector as u32).to_le_bytes());
}

/// The pattern with `seed` for `count` sectors from `first`.
fn pattern(seed: u32, first: u64, count: u64) -> Vec<u8> {
    let mut bytes = vec![0; count as usize * SECTOR_SIZE];
    for (sector, out) in (first..).zip(bytes.chunks_exact_mut(SECTOR_SIZE)) {
        pattern_sector(seed, sector, out);
    }
    bytes
}

/// Checks that `found`, read from sector `first` of disk `disk`, holds the pattern with
/// `seed`; a mismatch names the sector, the byte, and the sector the header claims.
fn check_pattern(disk: usize, seed: u32, first: u64, found: &[u8]) -> Outcome {
    let mut wanted = [0; SECTOR_SIZE];
    for (sector, got) in (first..).zip(found.chunks_exact(SECTOR_SIZE)) {
        pattern_sector(seed, sector, &mut wanted);
        if let Some(at) = got.iter().zip(&wanted).position(|(g, w)| g != w) {
            let word =
                |at: usize| u32::from_le_bytes([got[at], got[at + 1], got[at + 2], got[at + 3]]);
            return Err(format!(
                "disk {disk} sector {sector} byte {at}: wanted {:#04x} (pattern seed {seed}), \
                 found {:#04x}; the sector's header says seed {} sector {}",
                wanted[at],
                got[at],
                word(8),
                word(12)
            ));
        }
    }
    Ok(())
}

/// The sizes probe gave: `sectors=4096,1024`.
fn expected_sizes() -> Result<Vec<u64>, String> {
    let value = kernel::env::param("sectors")
        .ok_or("no sectors= argument: probe passes the disks' sizes")?;
    value
        .split(',')
        .map(|size| {
            size.parse()
                .map_err(|_| format!("sectors={value}: '{size}' is not a number"))
        })
        .collect()
}

fn disk(index: usize) -> Result<Disk, String> {
    block::disk(index).map_err(|err| err.to_string())
}

/// Joins every handle, failing with the first error a thread returned or its failure.
fn join_all(handles: Vec<JoinHandle<Outcome>>) -> Outcome {
    let mut first_error = Ok(());
    for handle in handles {
        let outcome = handle.join().map_err(|err| err.to_string()).and_then(|o| o);
        if first_error.is_ok() {
            first_error = outcome;
        }
    }
    first_error
}

fn on_core(
    core: usize,
    work: impl FnOnce() -> Outcome + Send + 'static,
) -> Result<JoinHandle<Outcome>, String> {
    Builder::new()
        .core(core)
        .spawn(work)
        .map_err(|err| err.to_string())
}

fn two_disks_are_found_with_their_sizes() -> Outcome {
    let sizes = expected_sizes()?;
    let disks = block::disks();
    check_eq!(disks.len(), sizes.len());
    for (disk, size) in disks.iter().zip(&sizes) {
        check!(
            disk.sector_count() == *size,
            "{} has {} sectors, probe made {size}",
            disk.name(),
            disk.sector_count()
        );
    }
    if let [first, second, ..] = disks {
        check!(first.name() != second.name(), "two disks, two names");
    }
    Ok(())
}

/// Request sizes in sectors, in turn.
const REQUEST_SIZES: [u64; 3] = [1, 8, 64];

fn sectors_read_back_the_host_pattern() -> Outcome {
    let cores = thread::available_cores();
    let mut handles = Vec::new();
    for (index, seed) in HOST_SEEDS.into_iter().enumerate() {
        let disk = disk(index)?;
        for core in 0..cores {
            handles.push(on_core(core, move || {
                // The whole disk in 1-, 8- and 64-sector requests, every `cores`th one ours.
                let mut first = 0;
                let mut buf = vec![0; 64 * SECTOR_SIZE];
                for (number, size) in REQUEST_SIZES.iter().cycle().enumerate() {
                    if first >= disk.sector_count() {
                        break;
                    }
                    let count = (*size).min(disk.sector_count() - first);
                    if number % cores == core {
                        let buf = &mut buf[..count as usize * SECTOR_SIZE];
                        disk.read(first, buf).map_err(|err| err.to_string())?;
                        check_pattern(index, seed, first, buf)?;
                    }
                    first += count;
                }
                Ok(())
            })?);
        }
    }
    join_all(handles)
}

fn requests_in_flight_at_once() -> Outcome {
    let disk = disk(0)?;
    let cores = thread::available_cores();
    // Eight threads on core 0, eight spread over every core, each reading its own stripe
    // of the sectors no test writes, again and again.
    let handles: Result<Vec<_>, String> = (0..16)
        .map(|thread| {
            let core = if thread < 8 { 0 } else { thread % cores };
            on_core(core, move || {
                let mut buf = vec![0; 16 * SECTOR_SIZE];
                for round in 0..8 {
                    let first = ((thread * 8 + round) as u64 * 16) % REGION_START;
                    disk.read(first, &mut buf).map_err(|err| err.to_string())?;
                    check_pattern(0, HOST_SEEDS[0], first, &buf)?;
                }
                Ok(())
            })
        })
        .collect();
    join_all(handles?)
}

fn out_of_range_is_refused() -> Outcome {
    let disk = disk(0)?;
    let end = disk.sector_count();
    check!(end >= 2, "disk 0 has {end} sectors, probe made 4096");
    let refused = Err(Error::Io(ErrorKind::OutOfRange));
    let mut one = [0; SECTOR_SIZE];
    let mut two = [0; 2 * SECTOR_SIZE];
    check_eq!(disk.read(end, &mut one), refused);
    check_eq!(disk.read(end - 1, &mut two), refused);
    check_eq!(disk.read(u64::MAX, &mut one), refused);
    // A refused write transfers nothing: the last sector keeps the host's pattern (probe
    // checks the file too).
    check_eq!(disk.write(end - 1, &pattern(7, end - 1, 2)), refused);
    disk.read(end - 1, &mut one)
        .map_err(|err| err.to_string())?;
    check_pattern(0, HOST_SEEDS[0], end - 1, &one)
}

fn odd_length_is_refused() -> Outcome {
    let disk = disk(0)?;
    let refused = Err(Error::Io(ErrorKind::InvalidBuffer));
    let mut odd = [0; 100];
    check_eq!(disk.read(0, &mut odd), refused);
    check_eq!(disk.write(0, &odd), refused);
    let mut and_a_half = [0; SECTOR_SIZE + SECTOR_SIZE / 2];
    check_eq!(disk.read(0, &mut and_a_half), refused);
    Ok(())
}

fn empty_buffer_is_done() -> Outcome {
    let disk = disk(0)?;
    check_eq!(disk.read(0, &mut []), Ok(()));
    check_eq!(disk.write(0, &[]), Ok(()));
    // Even where a sector would be out of range: nothing is transferred.
    check_eq!(disk.read(disk.sector_count(), &mut []), Ok(()));
    Ok(())
}

fn writes_from_every_core_read_back() -> Outcome {
    let disk = disk(0)?;
    let writers = thread::available_cores().min(WRITERS);
    let region = |core: usize| (REGION_START + REGION_LEN * core as u64, 100 + core as u32);
    let handles: Result<Vec<_>, String> = (0..writers)
        .map(|core| {
            on_core(core, move || {
                let (first, seed) = region(core);
                // In 64-sector requests, so several are in flight across the cores.
                for chunk in (0..REGION_LEN).step_by(64) {
                    disk.write(first + chunk, &pattern(seed, first + chunk, 64))
                        .map_err(|err| err.to_string())?;
                }
                disk.flush().map_err(|err| err.to_string())
            })
        })
        .collect();
    join_all(handles?)?;
    // Then every core reads every region back, its own and the others'.
    let handles: Result<Vec<_>, String> = (0..writers)
        .map(|core| {
            on_core(core, move || {
                let mut buf = vec![0; REGION_LEN as usize * SECTOR_SIZE];
                for other in 0..writers {
                    let (first, seed) = region(other);
                    disk.read(first, &mut buf).map_err(|err| err.to_string())?;
                    check_pattern(0, seed, first, &buf)?;
                }
                Ok(())
            })
        })
        .collect();
    join_all(handles?)
}

fn second_disk_is_independent() -> Outcome {
    let (first_disk, second) = (disk(0)?, disk(1)?);
    let (first, count, seed) = DISK1_WRITE;
    let mut buf = vec![0; count as usize * SECTOR_SIZE];
    // Disk 0 holds its own pattern at the same sectors.
    first_disk
        .read(first, &mut buf)
        .map_err(|err| err.to_string())?;
    check_pattern(0, HOST_SEEDS[0], first, &buf)?;
    second
        .read(first, &mut buf)
        .map_err(|err| err.to_string())?;
    check_pattern(1, HOST_SEEDS[1], first, &buf)?;

    second
        .write(first, &pattern(seed, first, count))
        .map_err(|err| err.to_string())?;
    second.flush().map_err(|err| err.to_string())?;
    second
        .read(first, &mut buf)
        .map_err(|err| err.to_string())?;
    check_pattern(1, seed, first, &buf)?;
    first_disk
        .read(first, &mut buf)
        .map_err(|err| err.to_string())?;
    check_pattern(0, HOST_SEEDS[0], first, &buf)
}
