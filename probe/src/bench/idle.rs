//! `probe bench idle`: how much host CPU QEMU burns while the guest has nothing to do.
//!
//! The `idle` example prints `IDLE-READY` once its threads are parked; probe waits a
//! second more for the guest to settle, then reads QEMU's CPU time at the start and end of
//! a window of `--seconds`. 100 % is one host core busy for the whole window.

use std::path::Path;
use std::thread;
use std::time::Duration;

use crate::accel::Accel;
use crate::bench::cpu_time::{self, CpuClock, Source};
use crate::bench::linux::{self, Skipped};
use crate::bench::stats::Align::{Left, Right};
use crate::bench::stats::table;
use crate::bench::{Failure, build_example, settings, with_console};
use crate::board::Board;
use crate::cli::IdleOptions;
use crate::qemu::{Running, Waited};

/// The `apps` example that boots and then idles.
const EXAMPLE: &str = "idle";
/// What it prints when it has nothing left to do but idle.
const READY: &str = "IDLE-READY";
/// How long the guest gets to boot and print `READY`.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// Time after `READY` for the last boot work (console, timers) to drain.
const SETTLE: Duration = Duration::from_secs(1);

/// One measured configuration.
#[derive(Debug)]
struct Row {
    board: Board,
    smp: u32,
    /// Host CPU %, or why there is none.
    ours: Result<(f64, Source), String>,
    /// The Linux guest's host CPU %, when measured.
    linux: Option<f64>,
}

pub(super) fn run(options: &IdleOptions) -> Result<(), Failure> {
    let accel = options.accel.resolve()?;
    let window = Duration::from_secs(options.seconds);
    let mut rows = Vec::new();
    for &board in &options.boards {
        let elf = match build_example(board, EXAMPLE) {
            Ok(elf) => elf,
            Err(message) => {
                eprintln!("probe: {message}");
                rows.extend(options.smp_list.iter().map(|&smp| Row {
                    board,
                    smp,
                    ours: Err("not built".to_owned()),
                    linux: None,
                }));
                continue;
            }
        };
        for &smp in &options.smp_list {
            println!(
                "probe: {EXAMPLE} on {board} with smp {smp} under {accel}: {} s window",
                options.seconds
            );
            let ours = measure(accel, &elf, smp, window).map_err(|failure| {
                eprintln!("probe: {}", failure.message);
                "failed".to_owned()
            });
            rows.push(Row {
                board,
                smp,
                ours,
                linux: None,
            });
        }
    }
    let mut notes = Vec::new();
    if options.linux {
        for &board in &options.boards {
            match linux::idle(board, &options.smp_list, accel, options.seconds) {
                Ok(figures) => {
                    for row in rows.iter_mut().filter(|row| row.board == board) {
                        row.linux = figures
                            .iter()
                            .find(|(smp, _)| *smp == row.smp)
                            .map(|&(_, pct)| pct);
                    }
                }
                Err(Skipped::Missing(message) | Skipped::Failed(message)) => {
                    notes.push(format!("no Linux baseline for {board}: {message}"));
                }
            }
        }
    }
    println!();
    print!("{}", report(&rows, options.linux));
    println!(
        "host CPU % of QEMU over {} s after {READY} (100 % = one host core), accel {accel}",
        options.seconds
    );
    if rows.iter().any(|row| row.linux.is_some()) {
        println!(
            "linux: busybox httpd guest without traffic (linux-guest-http.sh), one window of \
             the same length, measured the same way"
        );
    }
    for note in &notes {
        println!("{note}");
    }
    let failed = rows.iter().filter(|row| row.ours.is_err()).count();
    if failed > 0 {
        return Err(format!("{failed} of {} idle measurements failed", rows.len()).into());
    }
    Ok(())
}

/// Boots the image, waits for `READY` and the settling time, and returns QEMU's host CPU %
/// over `window`; QEMU is killed at the end whatever happens.
fn measure(accel: Accel, elf: &Path, smp: u32, window: Duration) -> Result<(f64, Source), Failure> {
    // No timeout of its own: probe stops the guest itself, and dropping `guest` kills it.
    let guest = crate::guest::start_file(&settings(accel, smp, None), elf, &[], false)?;
    watch(guest, SETTLE, window)
}

/// Waits for `READY`, then `settle`, then measures the running guest over `window`.
fn watch(mut guest: Running, settle: Duration, window: Duration) -> Result<(f64, Source), Failure> {
    match guest.wait_for(READY, READY_TIMEOUT) {
        Waited::Found => {}
        Waited::Closed => {
            let outcome = guest.finish()?;
            return Err(with_console(
                format!(
                    "{EXAMPLE} ended with {} before printing {READY}",
                    outcome.exit
                ),
                &outcome.console,
            )
            .into());
        }
        Waited::TimedOut => {
            let outcome = guest.stop()?;
            return Err(with_console(
                format!(
                    "{EXAMPLE} did not print {READY} within {} s",
                    READY_TIMEOUT.as_secs()
                ),
                &outcome.console,
            )
            .into());
        }
    }
    thread::sleep(settle);
    let clock = CpuClock::new(guest.pid())?;
    let start = clock.sample()?;
    thread::sleep(window);
    let end = clock.sample()?;
    if !guest.is_running() {
        let outcome = guest.finish()?;
        return Err(with_console(
            format!("{EXAMPLE} ended with {} while it should idle", outcome.exit),
            &outcome.console,
        )
        .into());
    }
    guest.stop()?;
    let pct = cpu_time::percent(start, end)
        .ok_or_else(|| "the measured window took no time".to_owned())?;
    Ok((pct, clock.source()))
}

/// The results table: one row per board and CPU count.
fn report(rows: &[Row], linux: bool) -> String {
    let mut header = vec![
        ("board", Left),
        ("smp", Right),
        ("host CPU %", Right),
        ("source", Left),
    ];
    if linux {
        header.push(("linux CPU %", Right));
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            let (ours, source) = match &row.ours {
                Ok((pct, source)) => (format!("{pct:.2}"), source.name().to_owned()),
                Err(why) => (why.clone(), "-".to_owned()),
            };
            let mut cells = vec![row.board.to_string(), row.smp.to_string(), ours, source];
            if linux {
                cells.push(
                    row.linux
                        .map_or_else(|| "-".to_owned(), |pct| format!("{pct:.2}")),
                );
            }
            cells
        })
        .collect();
    table(&header, &cells)
}

#[cfg(test)]
mod tests {
    use super::{Row, report};
    use crate::bench::cpu_time::Source;
    use crate::board::Board;

    #[test]
    fn one_row_per_configuration() {
        let rows = [
            Row {
                board: Board::Microvm,
                smp: 1,
                ours: Ok((0.123, Source::Schedstat)),
                linux: Some(0.61),
            },
            Row {
                board: Board::QemuPc,
                smp: 4,
                ours: Err("failed".to_owned()),
                linux: None,
            },
        ];
        assert_eq!(
            report(&rows, true),
            "\
board    smp  host CPU %  source     linux CPU %
microvm    1        0.12  schedstat         0.61
qemu-pc    4      failed  -                    -
"
        );
        assert!(report(&rows, false).starts_with("board    smp  host CPU %  source\n"));
    }

    /// The whole measurement on shell scripts standing in for QEMU: one that sleeps once
    /// ready, one that spins, one that never gets ready and one that exits in the window.
    #[test]
    #[cfg(target_os = "linux")]
    fn measures_stand_ins() {
        use std::time::Duration;

        use super::watch;
        use crate::qemu::stand_in;

        let window = Duration::from_millis(500);
        let settle = Duration::from_millis(100);
        let (pct, _) = watch(
            stand_in("printf 'boot\\nIDLE-READY\\n'; exec sleep 30", None),
            settle,
            window,
        )
        .unwrap();
        assert!(pct < 5.0, "{pct}");
        let (pct, _) = watch(
            stand_in("echo IDLE-READY; while :; do :; done", None),
            settle,
            window,
        )
        .unwrap();
        assert!((40.0..=110.0).contains(&pct), "{pct}");
        let failure = watch(stand_in("echo booting; exit 235", None), settle, window).unwrap_err();
        assert!(
            failure
                .message
                .starts_with("idle ended with status 101 (panic) before printing IDLE-READY"),
            "{}",
            failure.message
        );
        assert!(
            failure.message.contains("\n    booting"),
            "{}",
            failure.message
        );
        let failure = watch(
            stand_in("echo IDLE-READY; exec sleep 0.3", None),
            settle,
            window,
        )
        .unwrap_err();
        assert!(
            failure.message.contains("while it should idle"),
            "{}",
            failure.message
        );
    }
}
