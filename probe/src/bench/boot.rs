//! `probe bench boot`: how fast the stripped release `hello` boots and how little it needs.
//! For each board and CPU count: QEMU start to the app's first line and to QEMU's exit
//! (median, min and max of `--runs` boots), the guest's own first-instruction-to-`main`
//! time, the image's size and the smallest `--mem` that boots (a binary search to 8 KiB,
//! QEMU's granularity). With `--baseline linux`, the same for a Linux guest whose `/init`
//! prints one line and powers off, on the same QEMU settings, right after Novillo's boots.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::accel::Accel;
use crate::bench::linux::{self as baseline, HELLO as LINUX_HELLO};
use crate::bench::progress::Progress;
use crate::bench::report::{Cell, Column, Plot, Table};
use crate::bench::stats::Align::{Left, Right};
use crate::bench::stats::median;
use crate::bench::{Failure, MEM, settings};
use crate::board::Board;
use crate::cli::BootOptions;
use crate::exit::GuestExit;
use crate::guest::start_file;
use crate::linux::{Image, Machine};
use crate::qemu::Waited;
use crate::size::stripped_hello;

/// `hello`'s first line.
const HELLO: &str = "Hello from Novillo!";
/// How `hello` reports its boot time: `boot:   3.950 ms from the first instruction to main`.
const BOOT_LINE: &str = "boot:";
/// The longest a Novillo boot may take before it counts as one that does not boot.
const NOVILLO_TIMEOUT: Duration = Duration::from_secs(20);
/// The same for the Linux guest, which takes seconds under TCG.
const LINUX_TIMEOUT: Duration = Duration::from_secs(120);
/// The least time a Linux boot of the memory search gets, in seconds.
const MIN_LINUX_MEM_TIMEOUT_S: f64 = 10.0;
/// QEMU rounds `-m` up to this; the memory search stops at it.
const NOVILLO_MEM_STEP_KIB: u64 = 8;
/// The Linux search stops at a MiB: each step is a boot of seconds.
const LINUX_MEM_STEP_KIB: u64 = 1024;
/// The smallest `--mem` probe lets a Novillo image boot with (it refuses 1 MiB and less).
const NOVILLO_MEM_FLOOR_KIB: u64 = 1024;
/// Below this the Linux guest cannot hold its own initramfs.
const LINUX_MEM_FLOOR_KIB: u64 = 1024;

/// The times of one guest's boots, in ms.
#[derive(Debug, Default)]
struct Times {
    first_line: Vec<f64>,
    exit: Vec<f64>,
    /// The guest's own first instruction to `main` (Novillo only).
    to_main: Vec<f64>,
}

/// Everything measured for one guest on one machine.
#[derive(Debug)]
struct Measured {
    times: Times,
    image_bytes: u64,
    min_mem_kib: Option<u64>,
}

/// One board and CPU count, both guests.
#[derive(Debug)]
struct Row {
    board: Board,
    smp: u32,
    novillo: Result<Measured, String>,
    /// `None` without `--baseline linux`.
    linux: Option<Result<Measured, String>>,
}

pub(super) fn run(options: &BootOptions) -> Result<Vec<Table>, Failure> {
    let accel = options.accel.resolve()?;
    let mut progress = Progress::new("boot");
    let mut notes = Vec::new();
    let linux_image = if options.linux {
        progress.step("building the Linux guest");
        match baseline::hello_image(&options.boards, options.linux_kernel.as_deref()) {
            Ok(image) => Some(Ok(image)),
            Err(skipped) => Some(Err(skipped.column(&mut notes).to_owned())),
        }
    } else {
        None
    };
    let mut rows = Vec::new();
    for &board in &options.boards {
        progress.step(&format!("building the stripped release hello for {board}"));
        let image = stripped_hello(board);
        for &smp in &options.smp_list {
            let novillo = match &image {
                Ok((elf, bytes)) => {
                    measure_novillo(&mut progress, elf, *bytes, board, accel, smp, options.runs)
                }
                Err(message) => Err(message.clone()),
            };
            let linux = linux_image.as_ref().map(|image| match image {
                Ok(image) => {
                    let machine = Machine {
                        board,
                        accel,
                        smp,
                        mem: MEM,
                    };
                    measure_linux(&mut progress, image, machine, options.runs)
                }
                Err(why) => Err(why.clone()),
            });
            rows.push(Row {
                board,
                smp,
                novillo,
                linux,
            });
        }
    }
    progress.end_line();
    for row in &rows {
        for (guest, result) in [
            ("novillo", Some(&row.novillo)),
            ("linux", row.linux.as_ref()),
        ] {
            if let Some(Err(why)) = result {
                eprintln!(
                    "probe: bench boot: {guest} on {} smp {}: {why}",
                    row.board, row.smp
                );
            }
        }
    }
    let command = command(options);
    let mut tables = vec![
        times_table(&rows, &command, accel, options.runs),
        size_table(&rows, &command),
    ];
    if let Some(Ok(image)) = &linux_image {
        let boots: Vec<String> = options
            .boards
            .iter()
            .map(|&board| format!("{} on {board}", image.boot_kind(board)))
            .collect();
        notes.push(format!(
            "linux: kernel {} ({}), a busybox initramfs whose /init prints one line and powers \
             off; microvm with its defaults (ACPI on), Novillo's with ACPI off",
            image.version,
            boots.join(", ")
        ));
        notes.extend(image.notes.iter().map(|note| format!("linux: {note}")));
    }
    for table in &mut tables {
        table.notes.extend(notes.iter().cloned());
    }
    // A Linux guest that could not be measured fails the command; a missing package only
    // empties its column.
    let failed = rows
        .iter()
        .filter(|row| {
            row.novillo.is_err() || matches!(&row.linux, Some(Err(why)) if why != "skipped")
        })
        .count();
    if failed > 0 {
        print!("{}", tables.iter().map(Table::text).collect::<String>());
        return Err(format!("{failed} of {} boot measurements failed", rows.len()).into());
    }
    Ok(tables)
}

/// The command that makes these tables, for the report.
fn command(options: &BootOptions) -> String {
    let mut command = String::from("cargo probe bench boot");
    if options.linux {
        command += " --baseline linux";
    }
    command
}

/// Boots the Novillo image `runs` times for the times, then searches its smallest memory.
fn measure_novillo(
    progress: &mut Progress,
    elf: &Path,
    image_bytes: u64,
    board: Board,
    accel: Accel,
    smp: u32,
    runs: usize,
) -> Result<Measured, String> {
    let what = format!("hello on {board}, smp {smp}");
    progress.step(&format!("{what}: {runs} boots"));
    let settings = settings(accel, smp, Some(NOVILLO_TIMEOUT));
    let mut times = Times::default();
    for run in 1..=runs {
        progress.run(&what, run, runs);
        let boot = time_boot(
            || start_file(&settings, elf, &[], false).map_err(|err| err.message()),
            HELLO,
        )?;
        if boot.exit != GuestExit::Status(0) {
            return Err(format!("hello ended with {}", boot.exit));
        }
        times.first_line.push(boot.first_line);
        times.exit.push(boot.exit_ms);
        let to_main = boot_ms(&boot.console)
            .ok_or_else(|| format!("hello printed no '{BOOT_LINE} ... ms' line"))?;
        times.to_main.push(to_main);
    }
    progress.step(&format!("{what}: the smallest --mem that boots"));
    let mut boots = |kib: u64| {
        progress.run(&format!("{what}: --mem {kib}K"), 1, 1);
        let settings = crate::guest::Settings {
            mem: format!("{kib}K"),
            ..settings.clone()
        };
        time_boot(
            || start_file(&settings, elf, &[], false).map_err(|err| err.message()),
            HELLO,
        )
        .is_ok_and(|boot| boot.exit == GuestExit::Status(0))
    };
    let min_mem_kib = smallest(
        NOVILLO_MEM_FLOOR_KIB,
        mem_kib(MEM),
        NOVILLO_MEM_STEP_KIB,
        &mut boots,
    );
    Ok(Measured {
        times,
        image_bytes,
        min_mem_kib,
    })
}

/// The same for the Linux guest.
fn measure_linux(
    progress: &mut Progress,
    image: &Image,
    machine: Machine<'_>,
    runs: usize,
) -> Result<Measured, String> {
    let what = format!("linux on {}, smp {}", machine.board, machine.smp);
    progress.step(&format!("{what}: {runs} boots"));
    let boot_once = |machine: Machine<'_>, timeout: Duration| {
        time_boot(
            || {
                image
                    .boot(machine, Some(timeout))
                    .map(|guest| guest.running)
                    .map_err(|err| err.message())
            },
            LINUX_HELLO,
        )
    };
    let mut times = Times::default();
    for run in 1..=runs {
        progress.run(&what, run, runs);
        let boot = boot_once(machine, LINUX_TIMEOUT)?;
        if !baseline::workload_succeeded(&String::from_utf8_lossy(&boot.console)) {
            return Err(format!(
                "the Linux guest ended with {} before its end",
                boot.exit
            ));
        }
        times.first_line.push(boot.first_line);
        times.exit.push(boot.exit_ms);
    }
    let image_bytes = image
        .boot_files(machine.board)
        .iter()
        .map(|path| std::fs::metadata(path).map(|metadata| metadata.len()))
        .sum::<std::io::Result<u64>>()
        .map_err(|err| format!("cannot read the Linux guest's files: {err}"))?;
    // Linux may hang rather than stop when memory runs out: a boot that takes several
    // times the longest full boot above counts as one that does not boot.
    let slowest = times.exit.iter().copied().fold(0.0, f64::max);
    let limit = Duration::from_secs_f64((slowest * 3.0 / 1000.0).max(MIN_LINUX_MEM_TIMEOUT_S));
    progress.step(&format!(
        "{what}: the smallest --mem that boots (a boot over {:.0} s does not count)",
        limit.as_secs_f64()
    ));
    let mut boots = |kib: u64| {
        progress.run(&format!("{what}: --mem {kib}K"), 1, 1);
        let mem = format!("{kib}K");
        boot_once(
            Machine {
                mem: &mem,
                ..machine
            },
            limit,
        )
        .is_ok_and(|boot| baseline::workload_succeeded(&String::from_utf8_lossy(&boot.console)))
    };
    let min_mem_kib = smallest(
        LINUX_MEM_FLOOR_KIB,
        mem_kib(MEM),
        LINUX_MEM_STEP_KIB,
        &mut boots,
    );
    Ok(Measured {
        times,
        image_bytes,
        min_mem_kib,
    })
}

/// `MEM` in KiB.
fn mem_kib(mem: &str) -> u64 {
    crate::cli::memory_bytes(mem).map_or(0, |bytes| bytes >> 10)
}

/// One timed boot.
#[derive(Debug)]
struct Boot {
    /// QEMU start to the line, in ms.
    first_line: f64,
    /// QEMU start to its exit, in ms.
    exit_ms: f64,
    exit: GuestExit,
    console: Vec<u8>,
}

/// Starts a guest with `start`, and times it to `line` on its console and to its end.
fn time_boot(
    start: impl FnOnce() -> Result<crate::qemu::Running, String>,
    line: &str,
) -> Result<Boot, String> {
    let started = Instant::now();
    let mut running = start()?;
    let waited = running.wait_for(line, LINUX_TIMEOUT);
    let first_line = started.elapsed();
    let outcome = running.finish().map_err(|err| err.message())?;
    if waited != Waited::Found {
        return Err(format!(
            "the guest ended with {} before it printed '{line}'",
            outcome.exit
        ));
    }
    Ok(Boot {
        first_line: first_line.as_secs_f64() * 1000.0,
        exit_ms: outcome.elapsed.as_secs_f64() * 1000.0,
        exit: outcome.exit,
        console: outcome.console,
    })
}

/// The ms of `hello`'s `boot:   X ms from the first instruction to main` line.
fn boot_ms(console: &[u8]) -> Option<f64> {
    String::from_utf8_lossy(console).lines().find_map(|line| {
        let mut words = line.trim().strip_prefix(BOOT_LINE)?.split_whitespace();
        let ms = words.next()?.parse::<f64>().ok()?;
        (words.next() == Some("ms")).then_some(ms)
    })
}

/// The smallest size in `(floor, ceiling]`, to `step`, for which `boots` says true,
/// assuming that more memory never hurts; `None` when even `ceiling` does not boot.
fn smallest(
    floor: u64,
    ceiling: u64,
    step: u64,
    boots: &mut dyn FnMut(u64) -> bool,
) -> Option<u64> {
    if !boots(ceiling) {
        return None;
    }
    // `low` does not boot (or is the floor, which is refused), `high` does.
    let (mut low, mut high) = (floor, ceiling);
    while high - low > step {
        let middle = (low + (high - low) / 2) / step * step;
        let middle = middle.max(low + step);
        if boots(middle) {
            high = middle;
        } else {
            low = middle;
        }
    }
    Some(high)
}

/// Median (min–max) of `values` in ms, and the median as the cell's number.
fn times_cell(values: &[f64]) -> Cell {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match (median(&sorted), sorted.first(), sorted.last()) {
        (Some(mid), Some(min), Some(max)) => {
            Cell::number(format!("{} ({}–{})", ms(mid), ms(*min), ms(*max)), mid)
        }
        _ => Cell::from("-"),
    }
}

/// A time in ms: one decimal below 100 ms.
fn ms(value: f64) -> String {
    if value < 100.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.0}")
    }
}

/// `linux / novillo`, from two cells' numbers.
fn ratio_cell(novillo: &Cell, linux: &Cell) -> Cell {
    match (novillo.value, linux.value) {
        (Some(ours), Some(theirs)) if ours > 0.0 => {
            let ratio = theirs / ours;
            Cell::number(format!("{ratio:.1}x"), ratio)
        }
        _ => Cell::from("-"),
    }
}

/// The columns of both tables: where, what, both guests and the ratio.
fn columns(unit: &str) -> Vec<Column> {
    vec![
        Column::new("board", Left, ""),
        Column::new("smp", Right, ""),
        Column::new("metric", Left, ""),
        Column::new("novillo", Right, unit),
        Column::new("linux", Right, unit),
        Column::new("linux / novillo", Right, ""),
    ]
}

/// A row of a table: the measure `pick` makes of each guest.
fn metric_row(row: &Row, metric: &str, pick: &dyn Fn(&Measured) -> Cell) -> Vec<Cell> {
    let cell = |result: Option<&Result<Measured, String>>| match result {
        None => Cell::from("-"),
        Some(Ok(measured)) => pick(measured),
        Some(Err(why)) => Cell::from(short_failure(why)),
    };
    let novillo = cell(Some(&row.novillo));
    let linux = cell(row.linux.as_ref());
    let ratio = ratio_cell(&novillo, &linux);
    vec![
        Cell::from(row.board.to_string()),
        Cell::number(row.smp.to_string(), f64::from(row.smp)),
        Cell::from(metric),
        novillo,
        linux,
        ratio,
    ]
}

/// What a cell says for a guest that could not be measured: `skipped` and `failed` as the
/// other benchmarks say them, else `failed` (the reason went to stderr).
fn short_failure(why: &str) -> &str {
    match why {
        "skipped" => "skipped",
        _ => "failed",
    }
}

fn times_table(rows: &[Row], command: &str, accel: Accel, runs: usize) -> Table {
    let mut table = Table::new("Boot time: hello", command, columns("ms"));
    for row in rows {
        table
            .rows
            .push(metric_row(row, "QEMU start → first line", &|m| {
                times_cell(&m.times.first_line)
            }));
        table.rows.push(metric_row(row, "QEMU start → exit", &|m| {
            times_cell(&m.times.exit)
        }));
        table
            .rows
            .push(metric_row(row, "first instruction → main", &|m| {
                if m.times.to_main.is_empty() {
                    Cell::from("-")
                } else {
                    times_cell(&m.times.to_main)
                }
            }));
    }
    table.ratio =
        Some("linux / novillo of the medians: 10x means Novillo takes a tenth".to_owned());
    table.notes.push(format!(
        "ms, median (min–max) of {runs} boots each, {MEM}, accel {accel}; the stripped release \
         hello beside the Linux guest on the same machine, CPU model and memory"
    ));
    table.plot = Some(Plot {
        label: vec![0, 1, 2],
        series: vec![3, 4],
        unit: "ms (median)".to_owned(),
    });
    table
}

fn size_table(rows: &[Row], command: &str) -> Table {
    let mut table = Table::new("Image and memory: hello", command, columns("KiB"));
    let kib = |bytes: u64| {
        let kib = bytes as f64 / 1024.0;
        Cell::number(format!("{kib:.1} KiB"), kib)
    };
    for row in rows {
        table
            .rows
            .push(metric_row(row, "image", &|m| kib(m.image_bytes)));
        table.rows.push(metric_row(
            row,
            "smallest --mem that boots",
            &|m| match m.min_mem_kib {
                Some(min) => Cell::number(format!("{min}K"), min as f64),
                None => Cell::from(format!("over {MEM}")),
            },
        ));
    }
    table.ratio = Some("linux / novillo".to_owned());
    table.notes.push(format!(
        "image: the stripped ELF (Linux: the kernel it boots plus its initramfs); smallest \
         --mem: a binary search between 1M and {MEM} to {NOVILLO_MEM_STEP_KIB} KiB (Linux: to \
         1 MiB) of boots that reach their line and exit cleanly"
    ));
    table.plot = Some(Plot {
        label: vec![0, 1, 2],
        series: vec![3, 4],
        unit: "KiB".to_owned(),
    });
    table
}

#[cfg(test)]
mod tests {
    use super::{Measured, Row, Times, boot_ms, size_table, smallest, times_table};
    use crate::accel::Accel;
    use crate::board::Board;

    #[test]
    fn reads_the_boot_line() {
        let console =
            b"Hello from Novillo!\r\nboot:   3.950 ms from the first instruction to main\r\n";
        assert_eq!(boot_ms(console), Some(3.95));
        assert_eq!(boot_ms(b"boot: soon\n"), None);
        assert_eq!(boot_ms(b"nothing\n"), None);
    }

    #[test]
    fn the_search_finds_the_boundary_to_the_step() {
        let mut tried = Vec::new();
        let mut boots = |kib: u64| {
            tried.push(kib);
            kib >= 1872
        };
        assert_eq!(smallest(1024, 131_072, 8, &mut boots), Some(1872));
        assert!(tried.len() < 20, "{tried:?}");
        assert_eq!(smallest(1024, 4096, 8, &mut |_| false), None);
        assert_eq!(
            smallest(1024, 4096, 1024, &mut |kib| kib > 2048),
            Some(3072)
        );
    }

    fn measured(first_line: &[f64], image_bytes: u64, min_mem_kib: Option<u64>) -> Measured {
        Measured {
            times: Times {
                first_line: first_line.to_vec(),
                exit: first_line.iter().map(|ms| ms + 10.0).collect(),
                to_main: Vec::new(),
            },
            image_bytes,
            min_mem_kib,
        }
    }

    #[test]
    fn tables_put_both_guests_side_by_side_with_ratios() {
        let rows = [Row {
            board: Board::Microvm,
            smp: 1,
            novillo: Ok(measured(&[40.0, 50.0, 45.0], 48_480, Some(1872))),
            linux: Some(Ok(measured(
                &[4000.0, 4500.0, 5000.0],
                10 << 20,
                Some(60 << 10),
            ))),
        }];
        let times = times_table(
            &rows,
            "cargo probe bench boot --baseline linux",
            Accel::Tcg,
            3,
        );
        let text = times.grid();
        assert!(text.contains("45.0 (40.0–50.0)"), "{text}");
        assert!(text.contains("4500 (4000–5000)"), "{text}");
        assert!(text.contains("100.0x"), "{text}");
        assert!(
            text.lines()
                .any(|line| line.contains("first instruction → main") && line.ends_with(" -")),
            "{text}"
        );
        let sizes = size_table(&rows, "cmd").grid();
        assert!(sizes.contains("47.3 KiB"), "{sizes}");
        assert!(sizes.contains("1872K"), "{sizes}");
        assert!(sizes.contains("61440K"), "{sizes}");
    }

    #[test]
    fn a_failed_guest_shows_in_its_column() {
        let rows = [Row {
            board: Board::QemuPc,
            smp: 4,
            novillo: Err("hello ended with status 1".to_owned()),
            linux: Some(Err("skipped".to_owned())),
        }];
        let text = times_table(&rows, "cmd", Accel::Tcg, 10).grid();
        assert!(text.contains("failed  skipped"), "{text}");
    }
}
