//! Boots an image file with a guest command line: the one path `probe run`, every guest
//! test case and every benchmark go through.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::accel::Accel;
use crate::board::Board;
use crate::cli::memory_bytes;
use crate::cmdline::{check_length, guest_cmdline, with_time};
use crate::disk::{self, Bus, IDE_DRIVES, Scratch};
use crate::elf::image_of_file;
use crate::image;
use crate::qemu::{self, Boot, Launch, LaunchError, MachineVariant, Outcome, Running};

/// How guests are booted, settled once per probe invocation.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub(crate) qemu: String,
    pub(crate) accel: Accel,
    pub(crate) smp: u32,
    pub(crate) mem: String,
    /// The TSC hint for the guest, if any.
    pub(crate) tsc_khz: Option<u64>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) variant: MachineVariant,
}

/// Boots `elf` with `args`, on the board its note names; `stream` copies the console to
/// our stdout as it arrives.
pub(crate) fn boot_file(
    settings: &Settings,
    elf: &Path,
    args: &[String],
    stream: bool,
) -> Result<Outcome, LaunchError> {
    start_file(settings, elf, args, stream)?.finish()
}

/// Starts `elf` as `boot_file` does but returns while it runs, for callers that watch the
/// console or QEMU's process (benchmarks); the settings' timeout applies to `finish`.
pub(crate) fn start_file(
    settings: &Settings,
    elf: &Path,
    args: &[String],
    stream: bool,
) -> Result<Running, LaunchError> {
    let image = image_of_file(elf).map_err(LaunchError::Other)?;
    check_mem_holds_image(&settings.mem, image.load_start).map_err(LaunchError::Other)?;
    let board = image.board;
    let mut args = args.to_vec();
    if let Some(net) = &settings.variant.net {
        args.splice(0..0, net.guest_params());
    }
    let cmdline = with_time(host_unix_seconds(), &guest_cmdline(settings.tsc_khz, &args));
    check_length(board, elf, &cmdline).map_err(LaunchError::Usage)?;
    disk::check(board, &settings.variant.disks).map_err(LaunchError::Usage)?;
    if let Some(net) = &settings.variant.net {
        net.qemu_args(board).map_err(LaunchError::Usage)?;
    }
    let Boot::Disk(bus, damage) = settings.variant.boot else {
        return launch(settings, elf, board, &cmdline, stream);
    };
    if board != Board::QemuPc {
        return Err(LaunchError::Usage(format!(
            "--boot disk boots a BIOS disk image, and {} is built for {board}; build it with \
             --features bsp-qemu-pc",
            elf.display()
        )));
    }
    if bus == Bus::Ide
        && settings
            .variant
            .disks
            .iter()
            .filter(|disk| disk.bus == Bus::Ide)
            .count()
            >= IDE_DRIVES
    {
        return Err(LaunchError::Usage(format!(
            "the boot disk takes one of the PC's {IDE_DRIVES} IDE drives; give at most {} \
             more",
            IDE_DRIVES - 1
        )));
    }
    let scratch = Scratch::new("boot").map_err(LaunchError::Other)?;
    let file = scratch.path().join("boot.img");
    let mut bytes = image::write(elf, &cmdline, None, &file).map_err(LaunchError::Other)?;
    if let Some(damage) = damage {
        image::damage(&mut bytes, damage);
        std::fs::write(&file, &bytes)
            .map_err(|err| LaunchError::Other(format!("cannot write {}: {err}", file.display())))?;
    }
    Ok(launch(settings, &file, board, &cmdline, stream)?.keeping(scratch))
}

/// Starts QEMU on `file` (the ELF, or the disk image made of it) with `cmdline`.
fn launch(
    settings: &Settings,
    file: &Path,
    board: Board,
    cmdline: &str,
    stream: bool,
) -> Result<Running, LaunchError> {
    qemu::start(&Launch {
        qemu: &settings.qemu,
        elf: file,
        board,
        accel: settings.accel,
        smp: settings.smp,
        mem: &settings.mem,
        cmdline,
        timeout: settings.timeout,
        stream,
        variant: &settings.variant,
    })
}

/// The host's wall clock in Unix seconds; 0 on a host whose clock reads before 1970.
pub(crate) fn host_unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

/// Refuses a memory size that ends at or below where the image is loaded: QEMU would load
/// it into memory that does not exist and the guest would hang without a word. Any larger
/// size boots far enough for the guest to say how much it needs.
fn check_mem_holds_image(mem: &str, load_start: Option<u64>) -> Result<(), String> {
    match (memory_bytes(mem), load_start) {
        (Some(bytes), Some(start)) if bytes <= start => Err(format!(
            "--mem {mem} is {} KiB of RAM, and the image is loaded from {} KiB up: none of it \
             would be in RAM and the guest would hang; give it more (it then says how much it \
             needs)",
            bytes >> 10,
            start >> 10
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::check_mem_holds_image;

    #[test]
    fn memory_that_ends_below_the_image_is_refused() {
        let start = Some(1 << 20);
        let err = check_mem_holds_image("1M", start).unwrap_err();
        assert!(
            err.starts_with("--mem 1M is 1024 KiB of RAM, and the image is loaded from 1024 KiB"),
            "{err}"
        );
        assert!(check_mem_holds_image("512K", start).is_err());
        assert_eq!(check_mem_holds_image("1032K", start), Ok(()));
        assert_eq!(check_mem_holds_image("1M", None), Ok(()));
    }
}
