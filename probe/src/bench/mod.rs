//! `probe bench`: benchmarks that boot a release image of an `apps` example and report what
//! it measured (`threads`, `disk`), how fast and small `hello` boots (`boot`), or what it
//! costs the host while it does nothing (`idle`), with a Linux guest under the same QEMU as
//! an optional baseline. `probe bench` alone runs them all (`--quick`: a short version
//! without the Linux guest, for CI). Each returns [`report::Table`]s, which are printed and
//! written to `target/bench/` (see [`report`]).
//!
//! Benchmarks are commands, never tests: their numbers depend on the machine and its load,
//! so nothing here passes or fails on a threshold. Ratios against the baseline come from
//! one command, both guests booted back to back on the same machine.

mod boot;
pub(crate) mod cpu_time;
mod disk;
mod http;
mod idle;
mod linux;
mod net;
mod progress;
mod report;
mod stats;
mod thread_count;
mod threads;
mod wrk;

use std::path::PathBuf;
use std::time::Duration;

use crate::accel::Accel;
use crate::accel::AccelChoice;
use crate::bench::report::{Report, Table};
use crate::board::Board;
use crate::cargo::{self, TargetKind};
use crate::cli::{
    Bench, BootOptions, DiskOptions, GuestOptions, HttpOptions, IdleOptions, ThreadsOptions,
};
use crate::exit;
use crate::guest::Settings;
use crate::qemu::{LaunchError, MachineVariant};
use crate::tsc::host_tsc_khz;

/// Guest memory for benchmark guests and their Linux baselines.
const MEM: &str = "128M";

/// Where the report goes, under the workspace.
const REPORT_DIR: &str = "target/bench";

/// Runs a benchmark (or all), prints its tables and writes the report; returns probe's
/// exit code: 0 done, 1 failed, 127 no QEMU.
pub(crate) fn run(bench: Bench) -> u8 {
    let (tables, failure) = match bench {
        Bench::All { quick } => all(quick),
        Bench::Boot(options) => one(boot::run(&options)),
        Bench::Threads(options) => one(threads::run(&options, true)),
        Bench::Idle(options) => one(idle::run(&options)),
        Bench::Disk(options) => one(disk::run(&options)),
        Bench::Http(options) => one(http::run(&options)),
        Bench::Net(options) => one(net::run(&options)),
    };
    for table in &tables {
        println!();
        print!("{}", table.text());
    }
    let mut code = 0;
    if !tables.is_empty() {
        let dir = cargo::workspace_root().join(REPORT_DIR);
        match (Report { tables }).write(&dir) {
            Ok(files) => {
                println!();
                for file in files {
                    println!("probe: wrote {}", file.display());
                }
            }
            Err(message) => {
                eprintln!("probe: {message}");
                code = 1;
            }
        }
    }
    match failure {
        Some(failure) => {
            eprintln!("probe: {}", failure.message);
            failure.code
        }
        None => code,
    }
}

/// One benchmark's tables, or its failure.
fn one(result: Result<Vec<Table>, Failure>) -> (Vec<Table>, Option<Failure>) {
    match result {
        Ok(tables) => (tables, None),
        Err(failure) => (Vec::new(), Some(failure)),
    }
}

/// Every benchmark in turn; `quick`: fewer runs, shorter windows, one board where a
/// benchmark takes long, no thread-count curve and no Linux guest. A failed benchmark is
/// reported and the others still run; the tables of those that finished are kept.
fn all(quick: bool) -> (Vec<Table>, Option<Failure>) {
    let linux = !quick;
    let boot = BootOptions {
        runs: if quick { 5 } else { 10 },
        linux,
        ..BootOptions::default()
    };
    let threads = ThreadsOptions {
        guest: GuestOptions {
            smp: 2,
            timeout: Some(Duration::from_secs(300)),
            ..GuestOptions::default()
        },
        board: Board::Microvm,
        linux,
        linux_kernel: None,
    };
    let idle = IdleOptions {
        accel: AccelChoice::Auto,
        boards: if quick {
            vec![Board::Microvm]
        } else {
            Board::ALL.to_vec()
        },
        seconds: if quick { 2 } else { 10 },
        smp_list: if quick { vec![1] } else { vec![1, 4] },
        linux,
        linux_kernel: None,
        slow_disk: false,
        // Root only (a private network namespace), and minutes under TCG: not in CI.
        conns: !quick,
    };
    let disk = DiskOptions {
        accel: AccelChoice::Auto,
        boards: if quick {
            vec![Board::Microvm]
        } else {
            Board::ALL.to_vec()
        },
        smp_list: if quick { vec![1] } else { vec![1, 2] },
        linux,
        files: !quick,
        ata: None,
        raw: true,
    };
    type Bench<'a> = (&'a str, Box<dyn Fn() -> Result<Vec<Table>, Failure> + 'a>);
    let benches: [Bench<'_>; 4] = [
        ("boot", Box::new(|| boot::run(&boot))),
        ("threads", Box::new(|| threads::run(&threads, !quick))),
        ("idle", Box::new(|| idle::run(&idle))),
        ("disk", Box::new(|| disk::run(&disk))),
    ];
    let mut tables = Vec::new();
    let mut failed = Vec::new();
    for (index, (name, bench)) in benches.iter().enumerate() {
        eprintln!(
            "probe: bench {}/{}: {name}{}",
            index + 1,
            benches.len(),
            if quick { " (quick)" } else { "" }
        );
        match bench() {
            Ok(more) => tables.extend(more),
            // Without QEMU no benchmark can run.
            Err(failure) if failure.code == exit::QEMU_MISSING => {
                return (tables, Some(failure));
            }
            Err(failure) => {
                eprintln!("probe: bench {name}: {}", failure.message);
                failed.push(*name);
            }
        }
    }
    let failure = (!failed.is_empty()).then(|| Failure {
        message: format!(
            "{} of {} benchmarks failed: {} (see above)",
            failed.len(),
            benches.len(),
            failed.join(", ")
        ),
        code: 1,
    });
    (tables, failure)
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

/// The command line that repeats a run of `bench http` or `bench net` (`bench`).
fn load_command(bench: &str, options: &HttpOptions) -> String {
    // `--board` takes one name or `all`, so the command says what was typed.
    let boards = match options.boards.as_slice() {
        [board] => board.to_string(),
        _ => "all".to_owned(),
    };
    let smp: Vec<String> = options.smp_list.iter().map(ToString::to_string).collect();
    let mut command = format!(
        "cargo probe bench {bench} --board {boards} --smp-list {} --seconds {}",
        smp.join(","),
        options.seconds
    );
    if options.linux {
        command.push_str(" --baseline linux");
    }
    command
}

/// Builds the `apps` example of that name in release for `board`; returns its image.
fn build_example(board: Board, example: &str) -> Result<PathBuf, String> {
    build_release(board, TargetKind::Example, example)
}

/// Builds one `apps` binary or example in release for `board`; returns its image.
pub(crate) fn build_release(board: Board, kind: TargetKind, name: &str) -> Result<PathBuf, String> {
    let feature = board.feature();
    let flag = match kind {
        TargetKind::Example => "--example",
        TargetKind::Bin | TargetKind::Test => "--bin",
    };
    let build = [
        "build",
        "--package",
        "apps",
        "--features",
        &feature,
        flag,
        name,
        "--release",
    ];
    println!(
        "probe: building {name} in release for {board}: {}",
        cargo::describe(&build)
    );
    let artifacts = cargo::build(&build)
        .map_err(|message| format!("building {name} for {board} failed: {message}"))?;
    artifacts
        .into_iter()
        .find(|artifact| artifact.kind == kind && artifact.name == name)
        .map(|artifact| artifact.executable)
        .ok_or_else(|| format!("{name} was not built for {board} (does apps have it yet?)"))
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
    use super::{load_command, with_console};
    use crate::cli::{Bench, Command, parse};

    /// The command a table prints parses back to the options that made it.
    #[test]
    fn load_commands_parse_back() {
        for line in [
            "bench net --board all --smp-list 1,2 --seconds 3 --baseline linux",
            "bench http --board qemu-pc --smp-list 4 --seconds 5",
        ] {
            let words: Vec<String> = line.split(' ').map(str::to_owned).collect();
            let (name, options) = match parse(&words, None) {
                Ok(Command::Bench(Bench::Net(options))) => ("net", options),
                Ok(Command::Bench(Bench::Http(options))) => ("http", options),
                other => panic!("{line}: {other:?}"),
            };
            assert_eq!(load_command(name, &options), format!("cargo probe {line}"));
        }
    }

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
