//! `probe bench idle`: how much host CPU QEMU burns while the guest has nothing to do.
//!
//! The `idle` example prints `IDLE-READY` once its threads are parked; probe waits a
//! second more for the guest to settle, then reads QEMU's CPU time at the start and end of
//! a window of `--seconds`. 100 % is one host core busy for the whole window. With
//! `--baseline linux`, a Linux guest (busybox httpd, no traffic) boots on the same machine
//! right after each Novillo guest, prints `LINUX-IDLE-READY` and is measured the same way.
//! With `--slow-disk`, each Novillo guest boots a second time with a disk that answers
//! after a day and the argument `disk`, so that one thread stays parked on a read through
//! the window, and the table gains its CPU % and the difference in percentage points.

use std::path::Path;
use std::thread;
use std::time::Duration;

use crate::accel::Accel;
use crate::bench::cpu_time::{self, CpuClock, Source};
use crate::bench::linux::{self, IDLE_PORT, IDLE_READY};
use crate::bench::report::{Plot, Table};
use crate::bench::stats::Align::{Left, Right};
use crate::bench::{Failure, MEM, build_example, settings, with_console};
use crate::board::Board;
use crate::cli::IdleOptions;
use crate::disk::slow_disk_args;
use crate::linux::{Image, Machine};
use crate::load::{self, Booted, Target};
use crate::net::Nic;
use crate::netns;
use crate::qemu::{Running, Waited};

/// The `apps` example that boots and then idles.
const EXAMPLE: &str = "idle";
/// What it prints when it has nothing left to do but idle.
const READY: &str = "IDLE-READY";
/// How long the guest gets to boot and print `READY`.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the Linux guest gets to boot and start its web server (a few seconds under
/// TCG on a quiet host).
const LINUX_READY_TIMEOUT: Duration = Duration::from_secs(120);
/// Time after `READY` for the last boot work (console, timers) to drain.
const SETTLE: Duration = Duration::from_secs(1);
/// How long the slow disk takes to answer: longer than any boot and window.
const SLOW_DISK_LATENCY: Duration = Duration::from_secs(24 * 3600);
/// The example's argument that has it wait on the slow disk.
const DISK_ARG: &str = "disk";
/// How the Linux guest is named in messages.
const LINUX_GUEST: &str = "the Linux guest";

/// One measured configuration.
#[derive(Debug)]
struct Row {
    board: Board,
    smp: u32,
    /// Host CPU %, or why there is none.
    ours: Result<(f64, Source), String>,
    /// The Linux guest's host CPU %, or why there is none; `None` when not asked for.
    linux: Option<Result<f64, String>>,
    /// The host CPU % with a thread waiting on the slow disk, or why there is none; `None`
    /// when not asked for.
    slow_disk: Option<Result<f64, String>>,
}

pub(super) fn run(options: &IdleOptions) -> Result<Vec<Table>, Failure> {
    let accel = options.accel.resolve()?;
    let window = Duration::from_secs(options.seconds);
    let mut notes = Vec::new();
    // Built first, so each Linux guest boots right after the Novillo guest it is
    // compared with.
    let linux_image = options
        .linux
        .then(|| linux::idle_image(&options.boards, options.linux_kernel.as_deref()))
        .transpose()
        .map_err(|skipped| skipped.column(&mut notes));
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
                    slow_disk: None,
                }));
                continue;
            }
        };
        for &smp in &options.smp_list {
            println!(
                "probe: {EXAMPLE} on {board} with smp {smp} under {accel}: {} s window",
                options.seconds
            );
            let ours = measure(accel, &elf, smp, window, None).map_err(|failure| {
                eprintln!("probe: {}", failure.message);
                "failed".to_owned()
            });
            let slow_disk = options.slow_disk.then(|| {
                println!(
                    "probe: {EXAMPLE} {DISK_ARG} on {board} with smp {smp} under {accel}, one \
                     thread waiting on a disk that answers after {} h",
                    SLOW_DISK_LATENCY.as_secs() / 3600
                );
                measure(accel, &elf, smp, window, Some(board))
                    .map(|(pct, _)| pct)
                    .map_err(|failure| {
                        eprintln!("probe: {}", failure.message);
                        "failed".to_owned()
                    })
            });
            let machine = Machine {
                board,
                accel,
                smp,
                mem: MEM,
            };
            let linux = match &linux_image {
                Ok(None) => None,
                Ok(Some(image)) => Some(measure_linux(image, machine, window).map_err(|failure| {
                    eprintln!("probe: {}", failure.message);
                    "failed".to_owned()
                })),
                Err(why) => Some(Err((*why).to_owned())),
            };
            rows.push(Row {
                board,
                smp,
                ours,
                linux,
                slow_disk,
            });
        }
    }
    let conn_rows: Vec<ConnRow> = if options.conns {
        options
            .boards
            .iter()
            .flat_map(|&board| {
                [OpenLoad::ECHO, OpenLoad::WEBSERVER]
                    .into_iter()
                    .map(move |load| measure_open(accel, board, load, window))
            })
            .collect()
    } else {
        Vec::new()
    };
    let mut table = report(&rows, options.linux, options.slow_disk);
    table.command = command(options);
    table.notes.push(format!(
        "host CPU % of QEMU over {} s after {READY} (100 % = one host core), accel {accel}",
        options.seconds
    ));
    if options.slow_disk {
        table.notes.push(format!(
            "slow disk: the same guest with `{DISK_ARG}`, a thread parked on a read of a QEMU \
             null-co virtio disk answering after {} h, the other cores idle; +pp = slow disk - \
             plain, in percentage points",
            SLOW_DISK_LATENCY.as_secs() / 3600
        ));
    }
    if let Ok(Some(image)) = &linux_image {
        let boots: Vec<String> = options
            .boards
            .iter()
            .map(|&board| format!("{} on {board}", image.boot_kind(board)))
            .collect();
        table.notes.push(format!(
            "linux: kernel {} ({}), busybox httpd listening on a forwarded port without \
             traffic, booted right after each Novillo guest on the same machine and measured \
             the same way over a window as long",
            image.version,
            boots.join(", ")
        ));
        for note in &image.notes {
            table.notes.push(format!("linux: {note}"));
        }
    }
    table.notes.extend(notes);
    let failed = rows
        .iter()
        .filter(|row| row.ours.is_err() || matches!(row.slow_disk, Some(Err(_))))
        .count();
    let linux_failed = rows
        .iter()
        .filter(|row| matches!(&row.linux, Some(Err(why)) if why == "failed"))
        .count();
    let mut failures = Vec::new();
    if failed > 0 {
        failures.push(format!("{failed} of {} idle measurements", rows.len()));
    }
    if linux_failed > 0 {
        failures.push(format!(
            "{linux_failed} of {} Linux baseline measurements",
            rows.len()
        ));
    }
    let mut tables = vec![table];
    if options.conns {
        let mut conns = conns_report(&conn_rows);
        conns.command = command(options);
        conns.notes.push(format!(
            "host CPU % of QEMU over {} s (100 % = one host core), accel {accel}, smp \
             {OPEN_SMP}, virtio-net on a tap in probe's private network namespace; `none`: \
             the guest serving, no connection; `open`: the same guest right after, with the \
             connections open and idle; +pp = open - none, in percentage points (goal: at \
             most +0.5)",
            options.seconds
        ));
        let conns_failed = conn_rows
            .iter()
            .filter(|row| {
                row.measured
                    .as_ref()
                    .is_err_and(|why| !why.starts_with(SKIPPED))
            })
            .count();
        if conns_failed > 0 {
            failures.push(format!(
                "{conns_failed} of {} measurements with open connections",
                conn_rows.len()
            ));
        }
        tables.push(conns);
    }
    if !failures.is_empty() {
        for table in &tables {
            print!("{}", table.text());
        }
        return Err(format!("{} failed", failures.join(" and ")).into());
    }
    Ok(tables)
}

/// The CPU count of the guests measured with open connections (the issues' goal's).
const OPEN_SMP: u32 = 4;
/// Their memory: room for a thread and buffers per connection.
const OPEN_MEM: &str = "512M";
/// What a row says when the host cannot make the namespace.
const SKIPPED: &str = "skipped";

/// A server measured idle with and without open connections.
#[derive(Clone, Copy, Debug)]
struct OpenLoad {
    target: Target,
    conns: usize,
    /// More guest arguments.
    args: &'static [&'static str],
}

impl OpenLoad {
    const ECHO: OpenLoad = OpenLoad {
        target: Target::Echo,
        conns: 100,
        args: &[],
    };
    /// Kept-alive connections outlive the window (the default idle timeout is 15 s).
    const WEBSERVER: OpenLoad = OpenLoad {
        target: Target::Webserver,
        conns: 1000,
        args: &["idle_timeout=600", "max_conns=1100"],
    };
}

/// One row of the second table.
#[derive(Debug)]
struct ConnRow {
    board: Board,
    load: OpenLoad,
    /// Host CPU % without and with the connections open, or why there is none.
    measured: Result<(f64, f64), String>,
}

/// Boots `load`'s server, measures it over `window`, opens its connections, and measures it
/// again.
fn measure_open(accel: Accel, board: Board, load: OpenLoad, window: Duration) -> ConnRow {
    let name = match load.target {
        Target::Echo => "echo",
        Target::Webserver => "webserver",
    };
    println!(
        "probe: {name} on {board} with smp {OPEN_SMP} under {accel}: {} s idle, then {} s with \
         {} open connections",
        window.as_secs(),
        window.as_secs(),
        load.conns
    );
    let measured = match netns::why_not() {
        Some(why) => Err(format!("{SKIPPED}: {why}")),
        None => open(accel, board, load, window).inspect_err(|message| {
            eprintln!("probe: {message}");
        }),
    };
    ConnRow {
        board,
        load,
        measured,
    }
}

fn open(
    accel: Accel,
    board: Board,
    load: OpenLoad,
    window: Duration,
) -> Result<(f64, f64), String> {
    let machine = load::Machine {
        target: load.target,
        board,
        smp: OPEN_SMP,
        nic: Nic::Virtio,
        mem: OPEN_MEM,
        accel,
    };
    let args: Vec<String> = load.args.iter().map(|&arg| arg.to_owned()).collect();
    let Booted {
        mut guest,
        network,
        addr,
        _site,
    } = load::boot(&machine, &args)?;
    thread::sleep(SETTLE);
    let none = cpu_over(&guest, window)?;
    let held = network.run_peer(|| match load.target {
        Target::Echo => load::echo_all(addr, load.conns),
        Target::Webserver => load::keep_alive_all(addr, load.conns),
    })??;
    if held.streams.len() != load.conns || held.lost > 0 {
        let _stopped = guest.stop();
        return Err(format!(
            "{} of {} connections opened, {} answered, {} not",
            held.streams.len(),
            load.conns,
            held.echoed,
            held.lost
        ));
    }
    thread::sleep(SETTLE);
    let open = cpu_over(&guest, window)?;
    if !guest.is_running() {
        let outcome = guest.finish().map_err(|err| err.message())?;
        return Err(with_console(
            "the guest ended with its connections open".to_owned(),
            &outcome.console,
        ));
    }
    drop(held);
    guest.stop().map_err(|err| err.message())?;
    Ok((none, open))
}

/// QEMU's host CPU % over `window`.
fn cpu_over(guest: &Running, window: Duration) -> Result<f64, String> {
    let clock = CpuClock::new(guest.pid())?;
    let start = clock.sample()?;
    thread::sleep(window);
    let end = clock.sample()?;
    cpu_time::percent(start, end).ok_or_else(|| "the measured window took no time".to_owned())
}

/// The second table: one row per board and server.
fn conns_report(rows: &[ConnRow]) -> Table {
    let header = [
        ("board", Left),
        ("server", Left),
        ("open connections", Right),
        ("none CPU %", Right),
        ("open CPU %", Right),
        ("+pp", Right),
    ];
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            let server = match row.load.target {
                Target::Echo => "echo",
                Target::Webserver => "webserver (keep-alive)",
            };
            let mut cells = vec![
                row.board.to_string(),
                server.to_owned(),
                row.load.conns.to_string(),
            ];
            match &row.measured {
                Ok((none, open)) => {
                    // Rounded first, so that a hair below zero reads +0.00.
                    let difference = ((open - none) * 100.0).round() / 100.0 + 0.0;
                    cells.push(format!("{none:.2}"));
                    cells.push(format!("{open:.2}"));
                    cells.push(format!("{difference:+.2}"));
                }
                Err(why) => {
                    let short = if why.starts_with(SKIPPED) {
                        SKIPPED
                    } else {
                        "failed"
                    };
                    cells.extend([short.to_owned(), "-".to_owned(), "-".to_owned()]);
                }
            }
            cells
        })
        .collect();
    let mut table = Table::from_grid(
        "Idle with open connections: host CPU",
        "cargo probe bench idle --conns",
        &header,
        cells,
    );
    table.plot = Some(Plot {
        label: vec![0, 1],
        series: vec![3, 4],
        unit: "% of one host core".to_owned(),
    });
    for row in rows {
        if let Err(why) = &row.measured
            && why.starts_with(SKIPPED)
        {
            table
                .notes
                .push(format!("{} {}: {why}", row.board, row.load.conns));
        }
    }
    table
}

/// The command that makes the table, with the options given.
fn command(options: &IdleOptions) -> String {
    let board = match options.boards.as_slice() {
        [board] => board.to_string(),
        _ => "all".to_owned(),
    };
    let smp: Vec<String> = options.smp_list.iter().map(u32::to_string).collect();
    let mut command = format!(
        "cargo probe bench idle --board {board} --smp-list {} --seconds {}",
        smp.join(","),
        options.seconds
    );
    if options.linux {
        command += " --baseline linux";
    }
    if options.slow_disk {
        command += " --slow-disk";
    }
    if options.conns {
        command += " --conns";
    }
    command
}

/// Boots the image, waits for `READY` and the settling time, and returns QEMU's host CPU %
/// over `window`; QEMU is killed at the end whatever happens. `slow_disk` names the board
/// to attach the slow disk on and has the guest wait on it.
fn measure(
    accel: Accel,
    elf: &Path,
    smp: u32,
    window: Duration,
    slow_disk: Option<Board>,
) -> Result<(f64, Source), Failure> {
    // No timeout of its own: probe stops the guest itself, and dropping `guest` kills it.
    let mut settings = settings(accel, smp, None);
    let mut args = Vec::new();
    if let Some(board) = slow_disk {
        settings.variant.extra_args = slow_disk_args(board, SLOW_DISK_LATENCY);
        args.push(DISK_ARG.to_owned());
    }
    let guest = crate::guest::start_file(&settings, elf, &args, false)?;
    watch(guest, SETTLE, window)
}

/// The same for the Linux guest, which must also serve its page through the forwarded
/// port before the window starts.
fn measure_linux(image: &Image, machine: Machine<'_>, window: Duration) -> Result<f64, Failure> {
    println!(
        "probe: Linux baseline: kernel {} ({}) on {} with smp {} under {}: {} s window",
        image.version,
        image.boot_kind(machine.board),
        machine.board,
        machine.smp,
        machine.accel,
        window.as_secs()
    );
    let guest = image.boot(machine, None)?;
    let port = guest
        .host_port(IDLE_PORT)
        .ok_or_else(|| "the Linux idle guest has no forwarded port".to_owned())?;
    let guest = ready(guest.running, LINUX_GUEST, IDLE_READY, LINUX_READY_TIMEOUT)?;
    if let Err(message) = linux::check_idle_page(port) {
        let outcome = guest.stop()?;
        return Err(with_console(message, &outcome.console).into());
    }
    let (pct, _) = measure_window(guest, LINUX_GUEST, SETTLE, window)?;
    Ok(pct)
}

/// Waits for `READY`, then `settle`, then measures the running guest over `window`.
fn watch(guest: Running, settle: Duration, window: Duration) -> Result<(f64, Source), Failure> {
    let guest = ready(guest, EXAMPLE, READY, READY_TIMEOUT)?;
    measure_window(guest, EXAMPLE, settle, window)
}

/// Waits until the guest (`what`, in messages) prints `marker`, and hands it back.
fn ready(
    mut guest: Running,
    what: &str,
    marker: &str,
    limit: Duration,
) -> Result<Running, Failure> {
    match guest.wait_for(marker, limit) {
        Waited::Found => Ok(guest),
        Waited::Closed => {
            let outcome = guest.finish()?;
            Err(with_console(
                format!(
                    "{what} ended with {} before printing {marker}",
                    outcome.exit
                ),
                &outcome.console,
            )
            .into())
        }
        Waited::TimedOut => {
            let outcome = guest.stop()?;
            Err(with_console(
                format!("{what} did not print {marker} within {} s", limit.as_secs()),
                &outcome.console,
            )
            .into())
        }
    }
}

/// Waits `settle`, then returns QEMU's host CPU % over `window`, and stops the guest.
fn measure_window(
    mut guest: Running,
    what: &str,
    settle: Duration,
    window: Duration,
) -> Result<(f64, Source), Failure> {
    thread::sleep(settle);
    let clock = CpuClock::new(guest.pid())?;
    let start = clock.sample()?;
    thread::sleep(window);
    let end = clock.sample()?;
    if !guest.is_running() {
        let outcome = guest.finish()?;
        return Err(with_console(
            format!("{what} ended with {} while it should idle", outcome.exit),
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
fn report(rows: &[Row], linux: bool, slow_disk: bool) -> Table {
    let mut header = vec![
        ("board", Left),
        ("smp", Right),
        ("host CPU %", Right),
        ("source", Left),
    ];
    if slow_disk {
        header.push(("slow disk CPU %", Right));
        header.push(("+pp", Right));
    }
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
            if slow_disk {
                let (pct, extra) = match (&row.slow_disk, &row.ours) {
                    (Some(Ok(pct)), Ok((plain, _))) => {
                        {
                            // Rounded first, so that a hair below zero reads +0.00.
                            let difference = ((pct - plain) * 100.0).round() / 100.0 + 0.0;
                            (format!("{pct:.2}"), format!("{difference:+.2}"))
                        }
                    }
                    (Some(Ok(pct)), Err(_)) => (format!("{pct:.2}"), "-".to_owned()),
                    (Some(Err(why)), _) => (why.clone(), "-".to_owned()),
                    (None, _) => ("-".to_owned(), "-".to_owned()),
                };
                cells.push(pct);
                cells.push(extra);
            }
            if linux {
                cells.push(match &row.linux {
                    Some(Ok(pct)) => format!("{pct:.2}"),
                    Some(Err(why)) => why.clone(),
                    None => "-".to_owned(),
                });
            }
            cells
        })
        .collect();
    let mut series = vec![2];
    if slow_disk {
        series.push(4);
    }
    if linux {
        series.push(header.len() - 1);
    }
    let mut table = Table::from_grid("Idle: host CPU", "cargo probe bench idle", &header, cells);
    table.plot = Some(Plot {
        label: vec![0, 1],
        series,
        unit: "% of one host core".to_owned(),
    });
    table
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
                linux: Some(Ok(0.61)),
                slow_disk: Some(Ok(0.2)),
            },
            Row {
                board: Board::QemuPc,
                smp: 4,
                ours: Err("failed".to_owned()),
                linux: Some(Err("skipped".to_owned())),
                slow_disk: Some(Ok(1.0)),
            },
            Row {
                board: Board::QemuPc,
                smp: 8,
                ours: Ok((1.5, Source::Ticks(100))),
                linux: None,
                slow_disk: Some(Err("failed".to_owned())),
            },
        ];
        assert_eq!(
            report(&rows, true, false).grid(),
            "\
board    smp  host CPU %  source      linux CPU %
microvm    1        0.12  schedstat          0.61
qemu-pc    4      failed  -               skipped
qemu-pc    8        1.50  stat ticks            -
"
        );
        assert!(
            report(&rows, false, false)
                .grid()
                .starts_with("board    smp  host CPU %  source\n")
        );
        assert_eq!(
            report(&rows, false, true).grid(),
            "\
board    smp  host CPU %  source      slow disk CPU %    +pp
microvm    1        0.12  schedstat              0.20  +0.08
qemu-pc    4      failed  -                      1.00      -
qemu-pc    8        1.50  stat ticks           failed      -
"
        );
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
        // Spinning reads as running whatever share a loaded host leaves it (the sleeper
        // above reads below 5 %), and never as more than one core.
        assert!((5.0..=110.0).contains(&pct), "{pct}");
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
