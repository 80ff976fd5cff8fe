//! Boots an image file with a guest command line: the one path `probe run`, every guest
//! test case and every benchmark go through.

use std::path::Path;
use std::time::Duration;

use crate::accel::Accel;
use crate::cmdline::{check_length, guest_cmdline};
use crate::elf::board_of_file;
use crate::qemu::{self, Launch, LaunchError, MachineVariant, Outcome, Running};

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
    let board = board_of_file(elf).map_err(LaunchError::Other)?;
    let cmdline = guest_cmdline(settings.tsc_khz, args);
    check_length(board, elf, &cmdline).map_err(LaunchError::Usage)?;
    qemu::start(&Launch {
        qemu: &settings.qemu,
        elf,
        board,
        accel: settings.accel,
        smp: settings.smp,
        mem: &settings.mem,
        cmdline: &cmdline,
        timeout: settings.timeout,
        stream,
        variant: &settings.variant,
    })
}
