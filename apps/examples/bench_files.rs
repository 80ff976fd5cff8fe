//! File throughput on the first FAT volume, for `probe bench disk`: a 64 MiB file written
//! in 64 KiB writes and synced, then read back in 64 KiB reads; then 1,000 files of 4 KiB
//! each created, written and closed, and the volume synced. Prints
//! `DISK <metric> <value> <unit>` lines and `DISK-DONE`, as `probe/linux/files.c` does on
//! Linux; exits with 1 when a file operation fails.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec;

use apps as _;
use kernel::fs::{self, File};
use kernel::process::ExitCode;
use kernel::time::Instant;

kernel::main!(main);

/// The big file's size, and one read or write of it.
const BIG: usize = 64 << 20;
const CHUNK: usize = 64 << 10;
/// How many small files, and the size of each.
const SMALL_FILES: u32 = 1000;
const SMALL: usize = 4 << 10;

fn main() -> ExitCode {
    match run() {
        Ok(()) => {
            kernel::println!("DISK-DONE");
            ExitCode::SUCCESS
        }
        Err(message) => {
            kernel::println!("bench_files: {message}");
            ExitCode::FAILURE
        }
    }
}

fn failed(what: &str) -> impl Fn(fs::Error) -> String + '_ {
    move |err| format!("{what}: {err}")
}

fn run() -> Result<(), String> {
    let mut buf = vec![0u8; CHUNK];
    let start = Instant::now();
    let mut big = File::create("/big.bin").map_err(failed("create /big.bin"))?;
    for index in 0..BIG / CHUNK {
        buf.fill(index as u8);
        big.write_all(&buf).map_err(failed("write /big.bin"))?;
    }
    big.sync_all().map_err(failed("sync /big.bin"))?;
    drop(big);
    let seconds = start.elapsed().as_secs_f64();
    kernel::println!(
        "DISK file-seq-write-64m {:.1} MiB/s",
        (BIG >> 20) as f64 / seconds
    );

    let start = Instant::now();
    let mut big = File::open("/big.bin").map_err(failed("open /big.bin"))?;
    for index in 0..BIG / CHUNK {
        big.read_exact(&mut buf).map_err(failed("read /big.bin"))?;
        if buf[CHUNK - 1] != index as u8 {
            return Err(format!(
                "/big.bin: chunk {index} does not hold what was written"
            ));
        }
    }
    drop(big);
    let seconds = start.elapsed().as_secs_f64();
    kernel::println!(
        "DISK file-seq-read-64m {:.1} MiB/s",
        (BIG >> 20) as f64 / seconds
    );

    fs::create_dir("/small").map_err(failed("mkdir /small"))?;
    let small = [b's'; SMALL];
    let start = Instant::now();
    for index in 0..SMALL_FILES {
        let path = format!("/small/file{index:04}.bin");
        let mut file = File::create(&path).map_err(failed(&path))?;
        file.write_all(&small).map_err(failed(&path))?;
    }
    fs::volume()
        .and_then(|volume| volume.sync())
        .map_err(failed("sync"))?;
    let seconds = start.elapsed().as_secs_f64();
    kernel::println!(
        "DISK file-create-4k {:.0} files/s",
        f64::from(SMALL_FILES) / seconds
    );
    Ok(())
}
