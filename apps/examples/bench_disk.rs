//! Disk throughput on disk 0, for `probe bench disk`: sequential reads and writes of
//! 64 KiB requests over the first 64 MiB (the writes end with a flush, inside the time),
//! then 4 KiB reads at random places, one at a time and then one thread per core. Prints
//! `DISK <metric> <value> <unit>` lines and `DISK-DONE`; exits with 1 when the disk is
//! missing, too small or fails.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use apps as _;
use kernel::block::{self, Disk, SECTOR_SIZE};
use kernel::process::ExitCode;
use kernel::thread::{self, Builder};
use kernel::time::{Duration, Instant};

kernel::main!(main);

/// The part of the disk the sequential runs cover.
const SPAN: u64 = 64 << 20;
/// One sequential request.
const SEQ_REQUEST: usize = 64 << 10;
/// One random read.
const RAND_REQUEST: usize = 4 << 10;
/// Random reads per run (and per thread in the one-per-core run).
const RAND_READS: u32 = 2000;

fn main() -> ExitCode {
    match run() {
        Ok(()) => {
            kernel::println!("DISK-DONE");
            ExitCode::SUCCESS
        }
        Err(message) => {
            kernel::println!("bench_disk: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let disk = block::disk(0).map_err(|e| format!("{e}"))?;
    let bytes = disk.sector_count() * SECTOR_SIZE as u64;
    if bytes < SPAN {
        return Err(format!(
            "disk 0 holds {bytes} bytes, fewer than the {SPAN} the benchmark covers"
        ));
    }
    let mut buf = vec![0u8; SEQ_REQUEST];
    let requests = SPAN / SEQ_REQUEST as u64;
    let per_request = (SEQ_REQUEST / SECTOR_SIZE) as u64;
    let start = Instant::now();
    for index in 0..requests {
        disk.read(index * per_request, &mut buf)
            .map_err(|e| format!("sequential read: {e}"))?;
    }
    print_rate("seq-read-64k", start.elapsed());
    let start = Instant::now();
    for index in 0..requests {
        buf.fill(index as u8);
        disk.write(index * per_request, &buf)
            .map_err(|e| format!("sequential write: {e}"))?;
    }
    disk.flush().map_err(|e| format!("flush: {e}"))?;
    print_rate("seq-write-64k", start.elapsed());
    let start = Instant::now();
    let mut latencies = random_reads(disk, 1, RAND_READS)?;
    let elapsed = start.elapsed();
    print_iops("rand-read-4k-qd1", RAND_READS, elapsed);
    latencies.sort_unstable();
    kernel::println!(
        "DISK rand-read-4k-qd1-median {} us",
        latencies[latencies.len() / 2].as_micros()
    );
    let cores = thread::available_cores();
    let start = Instant::now();
    let threads: Vec<_> = (0..cores)
        .map(|core| {
            Builder::new()
                .core(core)
                .spawn(move || random_reads(disk, 2 + core as u64, RAND_READS).map(|_| ()))
                .map_err(|e| format!("a thread on core {core}: {e:?}"))
        })
        .collect::<Result<_, _>>()?;
    for handle in threads {
        handle
            .join()
            .map_err(|e| format!("a reading thread: {e:?}"))??;
    }
    print_iops(
        "rand-read-4k-1-per-core",
        RAND_READS * cores as u32,
        start.elapsed(),
    );
    Ok(())
}

/// `count` reads of 4 KiB at places within the span drawn from `seed`; their latencies.
fn random_reads(disk: Disk, seed: u64, count: u32) -> Result<Vec<Duration>, String> {
    let mut buf = [0u8; RAND_REQUEST];
    let slots = SPAN / RAND_REQUEST as u64;
    let per_request = (RAND_REQUEST / SECTOR_SIZE) as u64;
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut latencies = Vec::with_capacity(count as usize);
    for _ in 0..count {
        // xorshift64: spread enough for a benchmark, and the same places on every run.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let start = Instant::now();
        disk.read((state % slots) * per_request, &mut buf)
            .map_err(|e| format!("random read: {e}"))?;
        latencies.push(start.elapsed());
    }
    Ok(latencies)
}

fn print_rate(metric: &str, elapsed: Duration) {
    let mib = (SPAN >> 20) as f64;
    kernel::println!("DISK {metric} {:.1} MiB/s", mib / elapsed.as_secs_f64());
}

fn print_iops(metric: &str, count: u32, elapsed: Duration) {
    kernel::println!(
        "DISK {metric} {:.0} IOPS",
        f64::from(count) / elapsed.as_secs_f64()
    );
}
