//! Lists the machine's disks and reads the first and last sector of each: what a board's
//! device discovery found, in one line per disk, `disk N: NAME, S sectors, read ok`.
//! First it prints its arguments (`arguments: a b`), so that a test sees that the board's
//! own words (microvm's `virtio_mmio.device=`) are not among them. Exits with 1 when there
//! is no disk or a read fails.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::string::String;

use apps as _;
use kernel::block::{self, SECTOR_SIZE};
use kernel::process::ExitCode;

kernel::main!(main);

fn main() -> ExitCode {
    let mut arguments = String::new();
    for arg in kernel::env::args() {
        arguments.push(' ');
        arguments.push_str(arg);
    }
    kernel::println!("arguments:{arguments}");
    let disks = block::disks();
    if disks.is_empty() {
        kernel::println!("no disk");
        return ExitCode::FAILURE;
    }
    let mut failed = false;
    for (index, disk) in disks.iter().enumerate() {
        let mut sector = [0u8; SECTOR_SIZE];
        let last = disk.sector_count().saturating_sub(1);
        let read = disk
            .read(0, &mut sector)
            .and_then(|()| disk.read(last, &mut sector));
        match read {
            Ok(()) => kernel::println!(
                "disk {index}: {}, {} sectors, read ok",
                disk.name(),
                disk.sector_count()
            ),
            Err(e) => {
                failed = true;
                kernel::println!("disk {index}: {}: {e}", disk.name());
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
