//! The Linux baseline: the shared scripts that boot a minimal Linux guest (Debian's kernel
//! and a busybox initramfs) under the same QEMU, and readers for what they print.
//!
//! probe never installs anything. `linux-guest-threads.sh` gets `--no-install` and says
//! which Debian packages are missing; `linux-guest-http.sh` has no such switch and would
//! install what it lacks, so probe checks its prerequisites itself first and runs it only
//! when nothing is missing.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::accel::Accel;
use crate::bench::stats::median;
use crate::board::Board;
use crate::cargo::workspace_root;
use crate::children;

/// The threads script's exit code when packages are missing under `--no-install`.
const MISSING_PACKAGES: i32 = 2;

/// Why there is no baseline.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Skipped {
    /// Something must be installed first; the message says what.
    Missing(String),
    /// The script ran and failed, or printed what probe cannot read.
    Failed(String),
}

/// The shared script `name`, beside the workspace: `<workspace>/../shared/tools/<name>`.
fn script(name: &str) -> Result<PathBuf, Skipped> {
    let root = workspace_root();
    let path = root
        .parent()
        .unwrap_or(root)
        .join("shared")
        .join("tools")
        .join(name);
    if path.is_file() {
        Ok(path)
    } else {
        Err(Skipped::Missing(format!(
            "the Linux baseline script {} does not exist",
            path.display()
        )))
    }
}

/// The script's `--machine` for a board.
fn machine(board: Board) -> &'static str {
    match board {
        Board::Microvm => "microvm",
        Board::QemuPc => "pc",
    }
}

/// The `-cpu` model probe gives Novillo guests under this accelerator, so both guests run
/// on the same virtual CPU.
fn cpu_model(accel: Accel) -> &'static str {
    match accel {
        Accel::Tcg => "qemu64,+arat",
        Accel::Kvm => "host",
    }
}

fn run_script(command: &mut Command, what: &str) -> Result<Output, Skipped> {
    // The script's QEMU ends with probe, as probe's own do.
    children::output(command.stdin(Stdio::null()))
        .map_err(|err| Skipped::Failed(format!("cannot run {what}: {err}")))
}

/// The last lines of a script's stderr, for an error message.
fn tail(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect();
    lines[lines.len().saturating_sub(5)..].join(" | ")
}

/// The threads baseline as the script printed it.
#[derive(Debug, PartialEq)]
pub(crate) struct ThreadsBaseline {
    /// Each metric's median in ns per operation; `None` where the guest had too few CPUs.
    pub(crate) medians: Vec<(String, Option<f64>)>,
    /// The script's `#` lines: kernel, QEMU, command line, host load warnings.
    pub(crate) notes: Vec<String>,
}

impl ThreadsBaseline {
    pub(crate) fn median(&self, metric: &str) -> Option<f64> {
        self.medians
            .iter()
            .find(|(name, _)| name == metric)
            .and_then(|(_, median)| *median)
    }
}

/// Runs `linux-guest-threads.sh` for the same machine, CPUs, accelerator, CPU model and
/// memory as the Novillo guest.
pub(crate) fn threads(
    board: Board,
    smp: u32,
    accel: Accel,
    mem: &str,
) -> Result<ThreadsBaseline, Skipped> {
    let path = script("linux-guest-threads.sh")?;
    let smp = smp.to_string();
    let args = [
        "--no-install",
        "--machine",
        machine(board),
        "--smp",
        &smp,
        "--accel",
        &accel.to_string(),
        "--cpu",
        cpu_model(accel),
        "--mem",
        mem,
    ];
    println!(
        "probe: Linux baseline: {} {}",
        path.display(),
        args.join(" ")
    );
    let output = run_script(
        Command::new("bash").arg(&path).args(args),
        "the Linux baseline",
    )?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    match output.status.code() {
        Some(0) => parse_threads(&stdout).map_err(Skipped::Failed),
        Some(MISSING_PACKAGES) => Err(missing_packages(&String::from_utf8_lossy(&output.stderr))),
        _ => Err(Skipped::Failed(format!(
            "{} failed ({}): {}",
            path.display(),
            crate::cargo::exit_text(output.status),
            tail(&output.stderr)
        ))),
    }
}

/// Turns the script's `missing Debian packages: a b` into advice.
fn missing_packages(stderr: &str) -> Skipped {
    let listed = stderr
        .lines()
        .find_map(|line| line.strip_prefix("missing Debian packages:"))
        .map(str::trim);
    match listed {
        Some(packages) if !packages.is_empty() => Skipped::Missing(format!(
            "it needs Debian packages that are not installed; install them with \
             `sudo apt-get install {packages}`"
        )),
        _ => Skipped::Failed(format!(
            "the script rejected its arguments: {}",
            stderr.trim()
        )),
    }
}

/// Reads the script's table: `#` notes, a `name median_ns min_ns max_ns iterations` header,
/// one row per metric (`n/a` where it needs more CPUs), then `DONE`.
pub(crate) fn parse_threads(stdout: &str) -> Result<ThreadsBaseline, String> {
    let mut baseline = ThreadsBaseline {
        medians: Vec::new(),
        notes: Vec::new(),
    };
    let mut header = false;
    let mut done = false;
    for line in stdout.lines().map(|line| line.trim_end_matches('\r')) {
        if let Some(note) = line.strip_prefix('#') {
            baseline.notes.push(note.trim().to_owned());
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            [] => {}
            ["DONE"] => done = true,
            ["name", "median_ns", ..] => header = true,
            [name, median, _min, _max, _iterations] if header => {
                let median = match *median {
                    "n/a" => None,
                    text => Some(text.parse::<f64>().map_err(|_| {
                        format!("the Linux baseline printed an unreadable row: {line:?}")
                    })?),
                };
                baseline.medians.push(((*name).to_owned(), median));
            }
            // Anything else (a FAIL line, stray console output) is not a row.
            _ => {}
        }
    }
    if !done || baseline.medians.is_empty() {
        return Err("the Linux baseline's output has no result table ending in DONE".to_owned());
    }
    Ok(baseline)
}

/// The Linux metric that measures what a Novillo benchmark measures, if any.
pub(crate) fn threads_counterpart(name: &str) -> Option<&'static str> {
    Some(match name {
        // Two threads on one core handing the CPU to each other.
        "switch" => "ctxsw_yield_same_core",
        "spawn_join_same" => "spawn_join_same_core",
        "spawn_join_other" => "spawn_join_other_core",
        // A message to a thread on another core that blocks for it, and the reply.
        "round_trip" => "roundtrip_condvar_cross",
        "mutex_uncontended" => "mutex_uncontended",
        "mutex_contended" => "mutex_contended_4t",
        _ => return None,
    })
}

/// What `linux-guest-http.sh` needs, as its `need_pkgs` checks it: a command (or file) and
/// the Debian package that provides it.
const HTTP_PREREQUISITES: &[(&str, &str)] = &[
    ("qemu-system-x86_64", "qemu-system-x86"),
    ("wrk", "wrk"),
    ("curl", "curl"),
    ("cpio", "cpio"),
    ("xz", "xz-utils"),
    ("ip", "iproute2"),
    ("/usr/bin/time", "time"),
    ("/bin/busybox", "busybox-static"),
    ("file", "file"),
];

/// The packages `linux-guest-http.sh` would install, given a test for whether a command
/// (or absolute path) exists and whether a kernel is installed.
fn http_missing(exists: impl Fn(&str) -> bool, kernel: bool) -> Vec<&'static str> {
    let mut missing: Vec<&'static str> = HTTP_PREREQUISITES
        .iter()
        .filter(|(what, _)| !exists(what))
        .map(|&(_, package)| package)
        .collect();
    if !kernel {
        missing.push("linux-image-amd64");
    }
    missing
}

/// Whether `name` is an executable file on `PATH`, or an existing file when it is a path.
fn command_exists(name: &str) -> bool {
    if name.starts_with('/') {
        return Path::new(name).is_file();
    }
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(name).is_file()))
}

fn kernel_installed() -> bool {
    std::fs::read_dir("/boot").is_ok_and(|entries| {
        entries
            .flatten()
            .any(|entry| entry.file_name().to_string_lossy().starts_with("vmlinuz-"))
    })
}

/// The idle CPU of a Linux guest (busybox httpd, no traffic) for one board and each CPU
/// count: `(smp, host CPU %)`, the median over the script's runs.
pub(crate) fn idle(
    board: Board,
    smp_list: &[u32],
    accel: Accel,
    seconds: u64,
) -> Result<Vec<(u32, f64)>, Skipped> {
    let path = script("linux-guest-http.sh")?;
    let missing = http_missing(command_exists, kernel_installed());
    if !missing.is_empty() {
        return Err(Skipped::Missing(format!(
            "{} needs Debian packages that are not installed and would install them itself, \
             which probe does not let it do; install them with `sudo apt-get install {}`",
            path.display(),
            missing.join(" ")
        )));
    }
    // The script's `microvm` variant boots the bzImage through qboot and `pc-virtio` a PC
    // with a virtio NIC: the closest to each board that its idle measurement offers.
    let variant = match board {
        Board::Microvm => "microvm",
        Board::QemuPc => "pc-virtio",
    };
    let work = std::env::temp_dir().join(format!("probe-linux-idle-{}", std::process::id()));
    let smps: Vec<String> = smp_list.iter().map(u32::to_string).collect();
    let smps = smps.join(" ");
    println!(
        "probe: Linux baseline: {} (variant {variant}, smp {smps}, {seconds} s idle)",
        path.display()
    );
    let mut command = Command::new("bash");
    command
        .arg(&path)
        .env("WORK", &work)
        .env("SKIP", "sizes boot wrk native")
        .env("NET_VARIANTS", variant)
        .env("NETS", "user")
        .env("SMPS", &smps)
        .env("IDLE_RUNS", "1")
        .env("IDLE_SECS", seconds.to_string())
        .env("ACCEL", accel.to_string())
        .env("MEM", "128M");
    let output = run_script(&mut command, "the Linux baseline");
    let result = output.and_then(|output| {
        if !output.status.success() {
            return Err(Skipped::Failed(format!(
                "{} failed ({}): {}",
                path.display(),
                crate::cargo::exit_text(output.status),
                tail(&output.stderr)
            )));
        }
        let csv = read_results(&work.join("results")).map_err(Skipped::Failed)?;
        Ok(smp_list
            .iter()
            .filter_map(|&smp| idle_percent(&csv, variant, smp).map(|pct| (smp, pct)))
            .collect())
    });
    // Only our own scratch directory, named for our pid.
    let _ignored = std::fs::remove_dir_all(&work);
    result
}

/// The text of the raw CSV files the script wrote into `dir`.
fn read_results(dir: &Path) -> Result<String, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|err| format!("cannot read {}: {err}", dir.display()))?;
    let mut text = String::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("raw-") && name.ends_with(".csv") {
            let path = entry.path();
            text += &std::fs::read_to_string(&path)
                .map_err(|err| format!("cannot read {}: {err}", path.display()))?;
        }
    }
    Ok(text)
}

/// The median idle CPU % of one variant and CPU count in the script's raw CSV
/// (`kind,variant,accel,smp,net,file,run,metric,value`): from schedstat (`cpu_pct_ns`, as
/// probe measures Novillo) when present, else from clock ticks (`cpu_pct`).
pub(crate) fn idle_percent(csv: &str, variant: &str, smp: u32) -> Option<f64> {
    let smp = smp.to_string();
    let values = |metric: &str| -> Vec<f64> {
        let mut values: Vec<f64> = csv
            .lines()
            .filter_map(|line| {
                let fields: Vec<&str> = line.trim_end_matches('\r').split(',').collect();
                match fields.as_slice() {
                    ["idle", v, _, s, "user", _, _, m, value]
                        if *v == variant && *s == smp && *m == metric =>
                    {
                        value.parse().ok().filter(|value: &f64| value.is_finite())
                    }
                    _ => None,
                }
            })
            .collect();
        values.sort_by(f64::total_cmp);
        values
    };
    median(&values("cpu_pct_ns")).or_else(|| median(&values("cpu_pct")))
}

#[cfg(test)]
mod tests {
    use super::{Skipped, http_missing, idle_percent, missing_packages, parse_threads};
    use super::{machine, threads_counterpart};
    use crate::board::Board;

    /// What the script printed on the 2-core development machine under TCG.
    const THREADS: &str = "\
# kernel 6.1.0-56-amd64 (/boot/vmlinuz-6.1.0-56-amd64, pvh) | QEMU 7.2.22 | machine=microvm smp=2 accel=tcg mem=256M cpu=default
# kernel command line: console=ttyS0 quiet panic=-1 tsc_early_khz=2599961 tsc=reliable
# cpus=2 reps=7 scale=1; ns per op: median/min/max of reps runs of `iterations` ops
name                         median_ns      min_ns      max_ns iterations
ctxsw_yield_same_core           3656.1      3609.7      3724.4      40000
ctxsw_futex_same_core           7289.8      7175.6      7500.5      40000
ctxsw_condvar_same_core         9343.5      7550.1      9455.2      20000
spawn_join_same_core          179013.7    176313.7    181085.4       2000
spawn_join_other_core         361720.8    297453.7    420884.6        500
roundtrip_condvar_cross       107418.2    105745.4    143624.1        500
roundtrip_pipe_cross          118922.3    116918.6    194435.8        500
mutex_uncontended                 53.4        52.5        53.9    1000000
mutex_contended_4t               148.4       142.2       156.8     400000
DONE
# wall: qemu (boot+bench+poweroff) 12.0 s, script 13.1 s; host 2 CPUs, on average: our qemu used 1.11, everything else 0.00, steal 0.00
";

    #[test]
    fn reads_the_threads_table() {
        let baseline = parse_threads(THREADS).unwrap();
        assert_eq!(baseline.medians.len(), 9);
        assert_eq!(baseline.median("ctxsw_yield_same_core"), Some(3656.1));
        assert_eq!(baseline.median("mutex_contended_4t"), Some(148.4));
        assert_eq!(baseline.median("nothing"), None);
        assert_eq!(baseline.notes.len(), 4);
        assert!(baseline.notes[3].starts_with("wall: qemu"));
    }

    #[test]
    fn every_counterpart_exists_in_the_script() {
        let baseline = parse_threads(THREADS).unwrap();
        for ours in [
            "switch",
            "spawn_join_same",
            "spawn_join_other",
            "round_trip",
            "mutex_uncontended",
            "mutex_contended",
        ] {
            let theirs = threads_counterpart(ours).unwrap();
            assert!(baseline.median(theirs).is_some(), "{ours} -> {theirs}");
        }
        assert_eq!(threads_counterpart("something_new"), None);
        assert_eq!(machine(Board::QemuPc), "pc");
    }

    #[test]
    fn one_cpu_rows_are_not_available() {
        let text = "name median_ns min_ns max_ns iterations\n\
                    spawn_join_other_core n/a n/a n/a 0\n\
                    mutex_uncontended 50.0 49.0 51.0 1000000\nDONE\n";
        let baseline = parse_threads(text).unwrap();
        assert_eq!(
            baseline.medians[0],
            ("spawn_join_other_core".to_owned(), None)
        );
        assert_eq!(baseline.median("spawn_join_other_core"), None);
    }

    #[test]
    fn unfinished_or_garbled_tables_are_errors() {
        assert!(parse_threads("").is_err());
        assert!(parse_threads("name median_ns min_ns max_ns iterations\nDONE\n").is_err());
        let unfinished = THREADS.replace("DONE\n", "");
        assert!(parse_threads(&unfinished).is_err());
        let garbled = THREADS.replace("53.4", "fast");
        assert!(
            parse_threads(&garbled)
                .unwrap_err()
                .contains("unreadable row")
        );
    }

    #[test]
    fn missing_packages_become_advice() {
        assert_eq!(
            missing_packages("missing Debian packages: cpio busybox-static\n"),
            Skipped::Missing(
                "it needs Debian packages that are not installed; install them with \
                 `sudo apt-get install cpio busybox-static`"
                    .to_owned()
            )
        );
        assert!(matches!(
            missing_packages("unknown argument: --cpu (see --help)\n"),
            Skipped::Failed(_)
        ));
    }

    #[test]
    fn lists_what_the_http_script_would_install() {
        let none = http_missing(|_| true, true);
        assert!(none.is_empty());
        let some = http_missing(|what| what != "wrk" && what != "/usr/bin/time", false);
        assert_eq!(some, ["wrk", "time", "linux-image-amd64"]);
    }

    #[test]
    fn reads_idle_medians_from_the_raw_csv() {
        let csv = "kind,variant,accel,smp,net,file,run,metric,value\n\
                   idle,microvm,tcg,1,user,-,1,cpu_pct,0.60\n\
                   idle,microvm,tcg,1,user,-,1,foreign_qemu,0\n\
                   idle,microvm,tcg,1,user,-,1,cpu_pct_ns,0.512\n\
                   idle,microvm,tcg,1,user,-,2,cpu_pct_ns,0.700\n\
                   idle,microvm,tcg,1,user,-,3,cpu_pct_ns,0.400\n\
                   idle,microvm,tcg,4,user,-,1,cpu_pct,2.10\n\
                   idle,pc-virtio,tcg,1,user,-,1,cpu_pct_ns,9.9\n\
                   wrk,microvm,tcg,1,user,index.html,1,cpu_pct,80.0\n";
        assert_eq!(idle_percent(csv, "microvm", 1), Some(0.512));
        // Without schedstat figures, the tick-based ones.
        assert_eq!(idle_percent(csv, "microvm", 4), Some(2.1));
        assert_eq!(idle_percent(csv, "microvm", 2), None);
        assert_eq!(idle_percent(csv, "pc-virtio", 1), Some(9.9));
        assert_eq!(idle_percent("garbage\n,,,\n", "microvm", 1), None);
    }
}
