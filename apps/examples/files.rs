//! Files on the first FAT volume: writes a greeting, appends to a log, lists the root,
//! reads the greeting back, renames it, and syncs. Run it with a FAT image:
//!
//! ```sh
//! mkfs.fat -C disk.img 65536      # or `cargo probe disk new`
//! NOVILLO_PROBE="--disk disk.img" cargo run -p apps --example files --features bsp-microvm
//! ```

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use apps as _;
use kernel::fs::{self, OpenOptions};

kernel::main!(main);

fn main() -> Result<(), fs::Error> {
    fs::create_dir_all("/novillo")?;
    fs::write("/novillo/hello.txt", "Hello from Novillo!\n")?;
    let mut log = OpenOptions::new()
        .append(true)
        .create(true)
        .open("/novillo/runs.log")?;
    log.write_all(b"one more run\n")?;

    for entry in fs::read_dir("/novillo")? {
        let entry = entry?;
        let meta = entry.metadata()?;
        let kind = if meta.is_dir() { "dir " } else { "file" };
        let modified = meta.modified()?;
        kernel::println!("{kind} {:>8} {modified:?} {}", meta.len(), entry.path());
    }
    kernel::print!("{}", fs::read_to_string("/novillo/hello.txt")?);
    fs::rename("/novillo/hello.txt", "/novillo/greeting.txt")?;
    kernel::println!(
        "renamed: {} bytes in /novillo/greeting.txt",
        fs::metadata("/novillo/greeting.txt")?.len()
    );
    log.sync_all()
}
