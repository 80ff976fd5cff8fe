//! The thread-count case of `probe bench threads`: boots the `bench_thread_count` example
//! with 1 and with 4 CPUs, which spawns and joins many threads at once (and as many
//! sleepers), and prints how the time grows with the count.

use std::time::Duration;

use crate::accel::Accel;
use crate::bench::report::{Cell, Column, Plot, Table};
use crate::bench::stats::Align::{Left, Right};
use crate::bench::stats::{Series, format_ns, parse_results};
use crate::bench::{Failure, build_example, settings, with_console};
use crate::board::Board;
use crate::exit::GuestExit;
use crate::guest::{Settings, boot_file};

/// The `apps` example that runs the thread-count case.
const EXAMPLE: &str = "bench_thread_count";
/// The thread counts, each alive at once.
const COUNTS: [u32; 4] = [10_000, 20_000, 40_000, 100_000];
/// The CPU counts the example boots with.
const CPUS: [u32; 2] = [1, 4];
/// Guest memory: 100,000 threads with 8 KiB stacks take about 1.2 GiB.
const MEM: &str = "2G";
/// The line where the guest says how many heap bytes one thread takes.
const BYTES: &str = "THREAD-BYTES";

/// What one boot measured.
struct Curve {
    cpus: u32,
    series: Vec<Series>,
    bytes_per_thread: Option<u64>,
}

pub(super) fn run(board: Board, accel: Accel, timeout: Option<Duration>) -> Result<Table, Failure> {
    let elf = build_example(board, EXAMPLE)?;
    let args: Vec<String> = COUNTS.iter().map(u32::to_string).collect();
    let mut curves = Vec::new();
    for cpus in CPUS {
        println!("probe: booting {EXAMPLE} on {board} with smp {cpus}, {MEM} under {accel}");
        let settings = Settings {
            mem: MEM.to_owned(),
            ..settings(accel, cpus, timeout)
        };
        let outcome = boot_file(&settings, &elf, &args, false)?;
        let console = String::from_utf8_lossy(&outcome.console);
        if outcome.exit != GuestExit::Status(0) {
            return Err(with_console(
                format!(
                    "{EXAMPLE} on {board} with smp {cpus} ended with {}",
                    outcome.exit
                ),
                &outcome.console,
            )
            .into());
        }
        let series = parse_results(&console)
            .map_err(|message| with_console(format!("{EXAMPLE}: {message}"), &outcome.console))?;
        curves.push(Curve {
            cpus,
            series,
            bytes_per_thread: bytes_per_thread(&console),
        });
    }
    let mut table = report(&curves);
    table.title = format!("Many threads at once: {board}");
    table.command = format!("cargo probe bench threads --board {board}");
    let bytes = curves.iter().find_map(|curve| curve.bytes_per_thread);
    table.notes.push(format!(
        "time for all the threads (per thread); median of the runs the guest repeated \
         ({EXAMPLE} on {board}, {MEM}, accel {accel}); threads go to the cores in turn, \
         each with an 8 KiB stack{}",
        bytes.map_or(String::new(), |bytes| format!(
            " and {bytes} bytes of heap in all"
        ))
    ));
    Ok(table)
}

/// The heap bytes per thread the guest reported, if it did.
fn bytes_per_thread(console: &str) -> Option<u64> {
    console.lines().find_map(|line| {
        let mut words = line.trim_end_matches('\r').split_whitespace();
        (words.next() == Some(BYTES))
            .then(|| words.next()?.parse().ok())
            .flatten()
    })
}

/// One row per thread count, two columns (spawn + join, sleepers) per CPU count.
fn report(curves: &[Curve]) -> Table {
    let names: Vec<String> = curves
        .iter()
        .flat_map(|curve| {
            let cpus = match curve.cpus {
                1 => "1 CPU".to_owned(),
                n => format!("{n} CPUs"),
            };
            [format!("spawn+join, {cpus}"), format!("sleepers, {cpus}")]
        })
        .collect();
    let mut columns = vec![Column::new("threads", Left, "")];
    columns.extend(names.iter().map(|name| Column::new(name, Right, "ms")));
    let series = (1..columns.len()).collect();
    let mut table = Table::new("Many threads at once", "", columns);
    table.rows = COUNTS
        .iter()
        .map(|&count| {
            let mut row = vec![Cell::number(count.to_string(), f64::from(count))];
            for curve in curves {
                for case in ["spawn_join", "sleepers"] {
                    row.push(cell(&curve.series, &format!("{case}/{count}"), count));
                }
            }
            row
        })
        .collect();
    table.plot = Some(Plot {
        label: vec![0],
        series,
        unit: "ms for all the threads (median)".to_owned(),
    });
    table
}

/// `total (per thread)` for the series `name` of `count` threads, or `-`; its number is
/// the total in ms.
fn cell(series: &[Series], name: &str, count: u32) -> Cell {
    series
        .iter()
        .find(|series| series.name == name)
        .and_then(Series::summary)
        .map_or(Cell::from("-"), |summary| {
            let total_ms = summary.median * f64::from(count) / 1e6;
            Cell::number(
                format!("{total_ms:.0} ms ({})", format_ns(summary.median)),
                total_ms,
            )
        })
}

#[cfg(test)]
mod tests {
    use super::{Curve, bytes_per_thread, report};
    use crate::bench::stats::parse_results;

    const ONE: &str = "\
BENCH spawn_join/10000 8000
BENCH sleepers/10000 15000
BENCH spawn_join/10000 9000
BENCH sleepers/10000 16000
BENCH spawn_join/20000 10000
BENCH sleepers/20000 14000
THREAD-BYTES 12741
BENCH-DONE
";

    const FOUR: &str = "\
BENCH spawn_join/10000 40000
BENCH sleepers/10000 60000
BENCH-DONE
";

    #[test]
    fn the_curve_shows_totals_and_costs_per_thread() {
        let curves = [
            Curve {
                cpus: 1,
                series: parse_results(ONE).unwrap(),
                bytes_per_thread: bytes_per_thread(ONE),
            },
            Curve {
                cpus: 4,
                series: parse_results(FOUR).unwrap(),
                bytes_per_thread: bytes_per_thread(FOUR),
            },
        ];
        assert_eq!(curves[0].bytes_per_thread, Some(12741));
        assert_eq!(curves[1].bytes_per_thread, None);
        assert_eq!(
            report(&curves).grid(),
            "\
threads  spawn+join, 1 CPU    sleepers, 1 CPU  spawn+join, 4 CPUs   sleepers, 4 CPUs
10000      85 ms (8500 ns)  155 ms (15.50 µs)   400 ms (40.00 µs)  600 ms (60.00 µs)
20000    200 ms (10.00 µs)  280 ms (14.00 µs)                   -                  -
40000                    -                  -                   -                  -
100000                   -                  -                   -                  -
"
        );
    }

    #[test]
    fn a_bad_byte_count_is_no_count() {
        assert_eq!(bytes_per_thread("THREAD-BYTES lots\nBENCH-DONE\n"), None);
        assert_eq!(bytes_per_thread("THREAD-BYTES\n"), None);
    }
}
