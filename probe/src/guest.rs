//! Boots an image file with a guest command line: the one path `probe run` and every
//! guest test case go through.

use std::path::Path;
use std::time::Duration;

use crate::accel::Accel;
use crate::cmdline::guest_cmdline;
use crate::elf::board_of_file;
use crate::qemu::{self, Launch, LaunchError, Outcome};

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
}

/// Boots `elf` with `args`, on the board its note names; `stream` copies the console to
/// our stdout as it arrives.
pub(crate) fn boot_file(
    settings: &Settings,
    elf: &Path,
    args: &[String],
    stream: bool,
) -> Result<Outcome, LaunchError> {
    let board = board_of_file(elf).map_err(LaunchError::Other)?;
    let cmdline = guest_cmdline(settings.tsc_khz, args);
    qemu::boot(&Launch {
        qemu: &settings.qemu,
        elf,
        board,
        accel: settings.accel,
        smp: settings.smp,
        mem: &settings.mem,
        cmdline: &cmdline,
        timeout: settings.timeout,
        stream,
    })
}
