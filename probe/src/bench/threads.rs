//! `probe bench threads`: boots the `bench_threads` example, which times the thread API in
//! the guest and prints `BENCH <name> <ns_per_op>` per run, and prints the medians; with
//! `--baseline linux`, beside the same costs in a Linux guest. Then the thread-count curve
//! ([`thread_count`]).

use crate::bench::linux::{self, ThreadsBaseline};
use crate::bench::report::{Cell, Column, Plot, Table};
use crate::bench::stats::Align::{Left, Right};
use crate::bench::stats::{Series, format_ns, format_ratio, parse_results};
use crate::bench::{Failure, MEM, build_example, settings, thread_count, with_console};
use crate::cli::ThreadsOptions;
use crate::exit::GuestExit;
use crate::guest::boot_file;
use crate::linux::{Machine, Skipped};

/// The `apps` example that runs the thread benchmarks.
const EXAMPLE: &str = "bench_threads";

/// Runs the benchmark, then the thread-count curve when `curve`; returns their tables.
pub(super) fn run(options: &ThreadsOptions, curve: bool) -> Result<Vec<Table>, Failure> {
    let accel = options.guest.accel.resolve()?;
    let board = options.board;
    let smp = options.guest.smp;
    // Built before Novillo's guest runs, so that the two guests run back to back.
    let linux_image = options
        .linux
        .then(|| linux::threads_image(board, options.linux_kernel.as_deref()));
    let elf = build_example(board, EXAMPLE)?;
    println!("probe: booting {EXAMPLE} on {board} with smp {smp} under {accel}");
    let outcome = boot_file(
        &settings(accel, smp, options.guest.timeout),
        &elf,
        &[],
        false,
    )?;
    if outcome.exit != GuestExit::Status(0) {
        return Err(with_console(
            format!("{EXAMPLE} on {board} ended with {}", outcome.exit),
            &outcome.console,
        )
        .into());
    }
    let series = parse_results(&String::from_utf8_lossy(&outcome.console))
        .map_err(|message| with_console(format!("{EXAMPLE}: {message}"), &outcome.console))?;

    // Right after our guest, so both run under the same conditions.
    let machine = Machine {
        board,
        accel,
        smp,
        mem: MEM,
    };
    let baseline = linux_image.map(|image| {
        image.and_then(|image| linux::threads(&image, machine, options.guest.timeout))
    });
    let mut command = format!("cargo probe bench threads --board {board} --smp {smp}");
    if options.linux {
        command += " --baseline linux";
    }
    let mut table = report(
        &series,
        baseline.as_ref().and_then(|b| b.as_ref().ok()),
        &format!("Threads: {board}, {smp} CPUs"),
        &command,
    );
    table.notes.push(format!(
        "ns per operation; median, min and max of the runs the guest repeated itself \
         ({EXAMPLE} on {board}, smp {smp}, accel {accel})"
    ));
    match baseline {
        None => {}
        Some(Ok(baseline)) => {
            let (ratio, notes) = baseline_notes(&series, &baseline);
            table.ratio = Some(ratio);
            table.notes.extend(notes);
        }
        Some(Err(Skipped::Missing(message))) => table.notes.push(format!("probe: {message}")),
        Some(Err(Skipped::Failed(message))) => {
            return Err(format!("the Linux baseline failed: {message}").into());
        }
    }
    let mut tables = vec![table];
    if curve {
        tables.push(thread_count::run(board, accel, options.guest.timeout)?);
    }
    Ok(tables)
}

/// The results table, with the Linux columns when there is a baseline.
fn report(
    series: &[Series],
    baseline: Option<&ThreadsBaseline>,
    title: &str,
    command: &str,
) -> Table {
    let mut columns = vec![
        Column::new("benchmark", Left, ""),
        Column::new("median", Right, "ns"),
        Column::new("min", Right, "ns"),
        Column::new("max", Right, "ns"),
        Column::new("runs", Right, ""),
    ];
    if baseline.is_some() {
        columns.extend([
            Column::new("linux median", Right, "ns"),
            Column::new("ratio", Right, ""),
            Column::new("linux metric", Left, ""),
        ]);
    }
    let ns = |value: f64| Cell::number(format_ns(value), value);
    let mut table = Table::new(title, command, columns);
    table.rows = series
        .iter()
        .filter_map(|series| {
            let summary = series.summary()?;
            let mut row = vec![
                Cell::from(series.name.clone()),
                ns(summary.median),
                ns(summary.min),
                ns(summary.max),
                Cell::number(summary.runs.to_string(), summary.runs as f64),
            ];
            if let Some(baseline) = baseline {
                let metric = linux::threads_counterpart(&series.name);
                match metric.and_then(|metric| baseline.median(metric)) {
                    Some(linux) => {
                        row.push(ns(linux));
                        row.push(Cell::number(
                            format_ratio(linux, summary.median),
                            linux / summary.median,
                        ));
                    }
                    None => row.extend([Cell::from("-"), Cell::from("-")]),
                }
                row.push(Cell::from(metric.unwrap_or("-")));
            }
            Some(row)
        })
        .collect();
    let mut series = vec![1];
    if baseline.is_some() {
        series.push(5);
    }
    table.plot = Some(Plot {
        label: vec![0],
        series,
        unit: "ns per operation (median)".to_owned(),
    });
    table
}

/// How to read the ratio, then what to say under the table about the baseline: the Linux
/// metrics nothing of ours matched, and the baseline's notes.
fn baseline_notes(series: &[Series], baseline: &ThreadsBaseline) -> (String, Vec<String>) {
    let ratio = "linux median / novillo median (5.0x: Novillo is 5 times cheaper); both guests \
                 booted back to back by this command"
        .to_owned();
    let mut notes = Vec::new();
    let matched: Vec<&str> = series
        .iter()
        .filter_map(|series| linux::threads_counterpart(&series.name))
        .collect();
    let others: Vec<String> = baseline
        .medians
        .iter()
        .filter(|(name, _)| !matched.contains(&name.as_str()))
        .map(|(name, median)| match median {
            Some(median) => format!("{name} {}", format_ns(*median)),
            None => format!("{name} n/a"),
        })
        .collect();
    if !others.is_empty() {
        notes.push(format!("other Linux medians: {}", others.join(", ")));
    }
    for note in &baseline.notes {
        notes.push(format!("linux: {note}"));
    }
    (ratio, notes)
}

#[cfg(test)]
mod tests {
    use super::{baseline_notes, report};
    use crate::bench::linux::parse_threads;
    use crate::bench::stats::parse_results;

    const GUEST: &str = "\
BENCH switch 400
BENCH switch 420
BENCH switch 410
BENCH round_trip 20000
BENCH round_trip 21000
BENCH round_trip 19000
BENCH brand_new 7
BENCH-DONE
";

    const LINUX: &str = "\
# kernel 6.1.0-56-amd64
name median_ns min_ns max_ns iterations
ctxsw_yield_same_core 3690.0 3600.0 3700.0 40000
ctxsw_futex_same_core 7289.8 7175.6 7500.5 40000
roundtrip_condvar_cross 107418.2 105745.4 143624.1 500
DONE
";

    #[test]
    fn table_without_baseline() {
        let series = parse_results(GUEST).unwrap();
        assert_eq!(
            report(&series, None, "t", "c").grid(),
            "\
benchmark     median       min       max  runs
switch        410 ns    400 ns    420 ns     3
round_trip  20.00 µs  19.00 µs  21.00 µs     3
brand_new     7.0 ns    7.0 ns    7.0 ns     1
"
        );
    }

    #[test]
    fn table_with_baseline_and_ratios() {
        let series = parse_results(GUEST).unwrap();
        let baseline = parse_threads(LINUX).unwrap();
        assert_eq!(
            report(&series, Some(&baseline), "t", "c").grid(),
            "\
benchmark     median       min       max  runs  linux median  ratio  linux metric
switch        410 ns    400 ns    420 ns     3       3690 ns   9.0x  ctxsw_yield_same_core
round_trip  20.00 µs  19.00 µs  21.00 µs     3     107.42 µs   5.4x  roundtrip_condvar_cross
brand_new     7.0 ns    7.0 ns    7.0 ns     1             -      -  -
"
        );
        let (ratio, notes) = baseline_notes(&series, &baseline);
        assert!(ratio.starts_with("linux median / novillo median"));
        assert!(notes.contains(&"other Linux medians: ctxsw_futex_same_core 7290 ns".to_owned()));
        assert!(notes.contains(&"linux: kernel 6.1.0-56-amd64".to_owned()));
    }
}
