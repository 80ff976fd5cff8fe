//! An idle guest: prints `IDLE-READY`, then sleeps, on every core. `probe bench idle`
//! measures what it costs the host.
//!
//! With the argument `disk`, one more thread, on the last core, reads the first sector of
//! disk 0 first: probe attaches a drive that takes far longer than the measurement to
//! answer, so the thread stays parked on the request, its device's interrupt routed and
//! unmasked. `IDLE-READY` follows once the request is on its way. Should the read ever end,
//! the guest says so and exits with 1, so that probe's measurement fails instead of
//! measuring a guest with nothing pending.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use apps as _;
use kernel::block::{self, SECTOR_SIZE};
use kernel::process::ExitCode;
use kernel::sync::mpsc;
use kernel::thread::{self, Builder};
use kernel::time::Duration;

kernel::main!(main);

fn main() -> ExitCode {
    let wait_on_disk = match kernel::env::args().next() {
        None => false,
        Some("disk") => true,
        Some(other) => {
            kernel::println!("idle: unknown argument '{other}' (none, or disk)");
            return ExitCode::FAILURE;
        }
    };
    let cores = thread::available_cores();
    // A sleeping thread on every core, so that every core has a timer armed, as a server
    // with a timeout on each core would.
    for core in 1..cores {
        Builder::new()
            .core(core)
            .spawn(sleep_for_ever)
            .expect("a thread on each core");
    }
    if wait_on_disk {
        let disk = match block::disk(0) {
            Ok(disk) => disk,
            Err(e) => {
                kernel::println!("idle: {e}");
                return ExitCode::FAILURE;
            }
        };
        let (issuing, issued) = mpsc::channel();
        Builder::new()
            .core(cores - 1)
            .spawn(move || {
                let mut sector = [0u8; SECTOR_SIZE];
                // The request is handed over just after this; probe waits a second more.
                issuing.send(()).expect("main waits for this");
                let read = disk.read(0, &mut sector);
                kernel::println!("IDLE-DISK-READ-ENDED {read:?}");
                kernel::process::exit(1);
            })
            .expect("the disk thread");
        if issued.recv().is_err() {
            kernel::println!("idle: the disk thread ended before reading");
            return ExitCode::FAILURE;
        }
    }
    kernel::println!("IDLE-READY on {cores} cores");
    sleep_for_ever();
}

fn sleep_for_ever() -> ! {
    loop {
        thread::sleep(Duration::from_secs(1));
    }
}
