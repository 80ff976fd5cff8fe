//! `probe bench`: benchmarks that boot a release image of an `apps` example and report what
//! it measured (`threads`, `disk`), or what it costs the host while it does nothing (`idle`), with
//! a Linux guest under the same QEMU as an optional baseline.
//!
//! Benchmarks are commands, never tests: their numbers depend on the machine and its load,
//! so nothing here passes or fails on a threshold. Ratios against the baseline come from
//! one command, both guests booted back to back on the same machine.

mod cpu_time;
mod disk;
mod http;
mod idle;
mod linux;
mod stats;
mod thread_count;
mod threads;
mod wrk;

use std::path::PathBuf;
use std::time::Duration;

use crate::accel::Accel;
use crate::board::Board;
use crate::cargo::{self, TargetKind};
use crate::cli::Bench;
use crate::exit;
use crate::guest::Settings;
use crate::qemu::{LaunchError, MachineVariant};
use crate::tsc::host_tsc_khz;

/// Guest memory for benchmark guests and their Linux baselines.
const MEM: &str = "128M";

/// Runs a benchmark and returns probe's exit code: 0 done, 1 failed, 127 no QEMU.
pub(crate) fn run(bench: Bench) -> u8 {
    let result = match bench {
        Bench::Threads(options) => threads::run(&options),
        Bench::Idle(options) => idle::run(&options),
        Bench::Disk(options) => disk::run(&options),
        Bench::Http(options) => http::run(&options),
    };
    match result {
        Ok(()) => 0,
        Err(failure) => {
            eprintln!("probe: {}", failure.message);
            failure.code
        }
    }
}

/// Why a benchmark could not finish, and the exit code that says so.
#[derive(Debug)]
struct Failure {
    message: String,
    code: u8,
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Failure { message, code: 1 }
    }
}

impl From<LaunchError> for Failure {
    fn from(err: LaunchError) -> Self {
        let code = match err {
            LaunchError::QemuMissing(_) => exit::QEMU_MISSING,
            LaunchError::Usage(_) => exit::USAGE,
            LaunchError::Other(_) => 1,
        };
        Failure {
            message: err.message(),
            code,
        }
    }
}

/// Builds the `apps` examples in release for `board` and returns the image of `example`.
fn build_example(board: Board, example: &str) -> Result<PathBuf, String> {
    let feature = board.feature();
    let build = [
        "build",
        "--package",
        "apps",
        "--features",
        &feature,
        "--examples",
        "--release",
    ];
    println!(
        "probe: building release images for {board}: {}",
        cargo::describe(&build)
    );
    let artifacts = cargo::build(&build).map_err(|message| {
        format!("building the benchmark images for {board} failed: {message}")
    })?;
    artifacts
        .into_iter()
        .find(|artifact| artifact.kind == TargetKind::Example && artifact.name == example)
        .map(|artifact| artifact.executable)
        .ok_or_else(|| {
            format!("example '{example}' was not built for {board} (does apps have it yet?)")
        })
}

/// How benchmark guests boot: probe's QEMU, the TSC hint, 128 MiB.
fn settings(accel: Accel, smp: u32, timeout: Option<Duration>) -> Settings {
    Settings {
        qemu: "qemu-system-x86_64".to_owned(),
        accel,
        smp,
        mem: MEM.to_owned(),
        tsc_khz: host_tsc_khz(),
        timeout,
        variant: MachineVariant::default(),
    }
}

/// A failure message followed by the guest's console, indented, for context.
fn with_console(message: String, console: &[u8]) -> String {
    if console.is_empty() {
        return format!("{message} (no console output)");
    }
    let mut text = format!("{message}; console output:");
    for line in String::from_utf8_lossy(console).lines() {
        text.push_str("\n    ");
        text.push_str(line.trim_end_matches('\r'));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::with_console;

    #[test]
    fn failures_show_the_console() {
        assert_eq!(
            with_console("boom".to_owned(), b"a\r\nb\n"),
            "boom; console output:\n    a\n    b"
        );
        assert_eq!(
            with_console("boom".to_owned(), b""),
            "boom (no console output)"
        );
    }
}
