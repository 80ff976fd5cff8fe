//! `probe bench disk`: what the guest gets out of a virtio disk. A 64 MiB image filled
//! with probe's pattern (real data, not a sparse file) is attached with `cache=none`, so
//! that the host's page cache neither serves the reads nor absorbs the writes; the example
//! `bench_disk` reads and writes it (see there) and prints `DISK <metric> <value> <unit>`.
//! Right after each Novillo guest, the Linux baseline boots on the same machine with the
//! same drive and runs `probe/linux/disk.c`, which prints the same lines.

use std::path::Path;
use std::time::Duration;

use crate::bench::linux::{self as baseline, Finished};
use crate::bench::report::{Plot, Table};
use crate::bench::stats::Align::{Left, Right};
use crate::bench::{Failure, MEM, build_example, settings, with_console};
use crate::board::Board;
use crate::cli::DiskOptions;
use crate::disk::{Bus, DiskSpec, SECTOR_SIZE, Scratch, uncached_args, write_image};
use crate::exit::GuestExit;
use crate::fat::command::{NewOptions, new};
use crate::fat::{Format, Layout};
use crate::guest::boot_file;
use crate::linux::{Image, Machine, Skipped};

/// The `apps` example that measures.
const EXAMPLE: &str = "bench_disk";
/// What it prints once every metric is out.
const DONE: &str = "DISK-DONE";
/// The image's size: the span the example covers.
const IMAGE_BYTES: u64 = 64 << 20;
/// Far more than the example needs under TCG on a loaded host.
const TIMEOUT: Duration = Duration::from_secs(300);
/// The `apps` example of the file workloads, and the size of the FAT image it works on:
/// room for its 64 MiB file and 1,000 small ones (FAT16 with 2 KiB clusters).
const FILES_EXAMPLE: &str = "bench_files";
const FILES_IMAGE_BYTES: u64 = 128 << 20;

/// One metric of one guest.
#[derive(Debug, PartialEq)]
struct Metric {
    name: String,
    value: f64,
    unit: String,
}

/// The metrics of one board and CPU count, or why there are none.
#[derive(Debug)]
struct Run {
    board: Board,
    smp: u32,
    metrics: Result<Vec<Metric>, String>,
    /// The Linux guest's.
    linux: Result<Vec<Metric>, String>,
}

pub(super) fn run(options: &DiskOptions) -> Result<Vec<Table>, Failure> {
    let accel = options.accel.resolve()?;
    let scratch = Scratch::new("bench-disk")?;
    let image = scratch.path().join("disk.img");
    let mut notes = Vec::new();
    let linux_image = if options.linux && options.raw {
        baseline::disk_image(&options.boards, None, &image)
            .map_err(|skipped| skipped.column(&mut notes))
    } else {
        Err("-")
    };
    let mut runs = Vec::new();
    for &board in &options.boards {
        let elf = match build_example(board, EXAMPLE) {
            Ok(elf) => elf,
            Err(message) => {
                eprintln!("probe: {message}");
                runs.extend(options.smp_list.iter().map(|&smp| Run {
                    board,
                    smp,
                    metrics: Err("not built".to_owned()),
                    linux: Err("-".to_owned()),
                }));
                continue;
            }
        };
        if options.files {
            runs.push(files_run(
                accel,
                board,
                options.smp_list[0],
                &scratch.path().join("files.img"),
                &mut notes,
            ));
        }
        let raw_smp = if options.raw {
            options.smp_list.as_slice()
        } else {
            &[]
        };
        for &smp in raw_smp {
            println!("probe: {EXAMPLE} on {board} with smp {smp} under {accel}");
            let metrics =
                measure(accel, board, options.ata, &elf, smp, &image).map_err(|failure| {
                    eprintln!("probe: {}", failure.message);
                    "failed".to_owned()
                });
            let machine = Machine {
                board,
                accel,
                smp,
                mem: MEM,
            };
            let linux = match &linux_image {
                Ok(linux_image) => measure_linux(linux_image, machine, &image).map_err(|message| {
                    eprintln!("probe: {message}");
                    "failed".to_owned()
                }),
                Err(why) => Err((*why).to_owned()),
            };
            runs.push(Run {
                board,
                smp,
                metrics,
                linux,
            });
        }
    }
    let mut table = report(&runs);
    table.command = command(options);
    let disk = match options.ata {
        Some(ata) => format!("IDE disk (ata={ata})"),
        None => "virtio-blk".to_owned(),
    };
    if let Some(ata) = options.ata {
        table.title = format!("Disk: IDE, ata={ata}");
    }
    table.notes.push(format!(
        "a {} MiB image of probe's pattern on the board's {disk}, cache=none (no host page \
         cache), accel {accel}; seq = 64 KiB requests over the image, the writes ending with \
         a flush; rand = 4 KiB reads at random places, one at a time, then one thread per core",
        IMAGE_BYTES >> 20
    ));
    if options.files {
        table.notes.push(format!(
            "file-* = files on a {} MiB FAT image made by `probe disk new`, cache=none, on \
         virtio-blk (microvm) and IDE (qemu-pc), first CPU count only: a 64 MiB file written \
         in 64 KiB writes then synced, read back in 64 KiB reads; 1,000 files of 4 KiB \
         created, written and closed, then synced; Linux mounts the image as vfat \
         (probe/linux/files.c) and drops its page cache before the read",
            FILES_IMAGE_BYTES >> 20
        ));
    }
    table.ratio =
        Some("novillo / linux: above 1 Novillo is faster, except for a median in us".to_owned());
    if let Ok(linux_image) = &linux_image {
        table.notes.push(format!(
            "linux: kernel {} ({}), probe/linux/disk.c with O_DIRECT on /dev/vda, the same \
             drive arguments, booted right after each Novillo guest; Linux's microvm has ACPI \
             on (its default), Novillo's off",
            linux_image.version,
            options
                .boards
                .iter()
                .map(|&board| format!("{} on {board}", linux_image.boot_kind(board)))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        for note in &linux_image.notes {
            table.notes.push(format!("linux: {note}"));
        }
    }
    table.notes.extend(notes);
    let failed = runs
        .iter()
        .filter(|run| run.metrics.is_err() || matches!(&run.linux, Err(why) if why == "failed"))
        .count();
    if failed > 0 {
        print!("{}", table.text());
        return Err(format!("{failed} of {} disk benchmark runs failed", runs.len()).into());
    }
    Ok(vec![table])
}

/// The command that makes the table, with the options given.
fn command(options: &DiskOptions) -> String {
    let smp: Vec<String> = options.smp_list.iter().map(u32::to_string).collect();
    let board = match options.boards.as_slice() {
        [board] => board.to_string(),
        _ => "all".to_owned(),
    };
    let ata = options
        .ata
        .map(|ata| format!(" --ata {ata}"))
        .unwrap_or_default();
    format!(
        "cargo probe bench disk --board {board} --smp-list {}{ata}{}",
        smp.join(","),
        if options.raw { "" } else { " --files-only" }
    )
}

/// The file workloads on `board`: Novillo's example, then the Linux guest, each on a
/// fresh FAT image at `image`.
fn files_run(
    accel: crate::accel::Accel,
    board: Board,
    smp: u32,
    image: &Path,
    notes: &mut Vec<String>,
) -> Run {
    let (bus, _) = baseline::files_disk(board);
    let metrics = build_example(board, FILES_EXAMPLE)
        .map_err(|message| {
            eprintln!("probe: {message}");
            "not built".to_owned()
        })
        .and_then(|elf| {
            println!("probe: {FILES_EXAMPLE} on {board} ({bus}) with smp {smp} under {accel}");
            measure_files(accel, board, bus, &elf, smp, image).map_err(|failure| {
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
    let linux = fresh_fat_image(image)
        .map_err(Skipped::Failed)
        .and_then(|()| baseline::files_image(board, None, image))
        .map_err(|skipped| skipped.column(notes).to_owned())
        .and_then(|linux_image| {
            fresh_fat_image(image)?;
            let finished = baseline::run_workload(&linux_image, machine, Some(TIMEOUT)).map_err(
                |skipped| match skipped {
                    Skipped::Missing(message) | Skipped::Failed(message) => message,
                },
            )?;
            parse_metrics(&finished.text)
                .map_err(|message| with_console(format!("files.c: {message}"), &finished.console))
        })
        .map_err(|message| {
            if message != "skipped" && message != "failed" {
                eprintln!("probe: {message}");
                return "failed".to_owned();
            }
            message
        });
    Run {
        board,
        smp,
        metrics,
        linux,
    }
}

/// An empty FAT volume at `image`, replacing what is there.
fn fresh_fat_image(image: &Path) -> Result<(), String> {
    new(&NewOptions {
        format: Format {
            bytes: FILES_IMAGE_BYTES,
            layout: Layout::WholeDisk,
            fat: None,
        },
        share: None,
        force: true,
        file: image.to_path_buf(),
    })
    .map(drop)
}

/// Makes a fresh FAT image, boots the file example on it and returns its metrics.
fn measure_files(
    accel: crate::accel::Accel,
    board: Board,
    bus: Bus,
    elf: &Path,
    smp: u32,
    image: &Path,
) -> Result<Vec<Metric>, Failure> {
    fresh_fat_image(image)?;
    let mut settings = settings(accel, smp, Some(TIMEOUT));
    settings.variant.extra_args = uncached_args(board, bus, &[image.to_path_buf()])?;
    let outcome = boot_file(&settings, elf, &[], false)?;
    if outcome.exit != GuestExit::Status(0) {
        return Err(with_console(
            format!("{FILES_EXAMPLE} on {board} ended with {}", outcome.exit),
            &outcome.console,
        )
        .into());
    }
    parse_metrics(&String::from_utf8_lossy(&outcome.console)).map_err(|message| {
        with_console(format!("{FILES_EXAMPLE}: {message}"), &outcome.console).into()
    })
}

/// Writes a fresh image, boots the example on it (on IDE with `ata=` from `ata`, else
/// virtio-blk) and returns its metrics.
fn measure(
    accel: crate::accel::Accel,
    board: Board,
    ata: Option<&str>,
    elf: &Path,
    smp: u32,
    image: &Path,
) -> Result<Vec<Metric>, Failure> {
    write_image(image, &DiskSpec::new(IMAGE_BYTES / SECTOR_SIZE as u64, 1))?;
    let mut settings = settings(accel, smp, Some(TIMEOUT));
    let bus = if ata.is_some() { Bus::Ide } else { Bus::Virtio };
    settings.variant.extra_args = uncached_args(board, bus, &[image.to_path_buf()])?;
    let args: Vec<String> = ata.map(|ata| format!("ata={ata}")).into_iter().collect();
    let outcome = boot_file(&settings, elf, &args, false)?;
    if outcome.exit != GuestExit::Status(0) {
        return Err(with_console(
            format!("{EXAMPLE} on {board} ended with {}", outcome.exit),
            &outcome.console,
        )
        .into());
    }
    parse_metrics(&String::from_utf8_lossy(&outcome.console))
        .map_err(|message| with_console(format!("{EXAMPLE}: {message}"), &outcome.console).into())
}

/// Writes a fresh image, boots the Linux guest on it and returns its metrics.
fn measure_linux(image: &Image, machine: Machine<'_>, disk: &Path) -> Result<Vec<Metric>, String> {
    write_image(disk, &DiskSpec::new(IMAGE_BYTES / SECTOR_SIZE as u64, 1))?;
    let finished: Finished =
        baseline::run_workload(image, machine, Some(TIMEOUT)).map_err(|skipped| match skipped {
            Skipped::Missing(message) | Skipped::Failed(message) => message,
        })?;
    parse_metrics(&finished.text)
        .map_err(|message| with_console(format!("disk.c: {message}"), &finished.console))
}

/// The `DISK` lines of the console, which must end with [`DONE`].
fn parse_metrics(console: &str) -> Result<Vec<Metric>, String> {
    let mut metrics = Vec::new();
    for line in console.lines().map(|line| line.trim_end_matches('\r')) {
        if line == DONE {
            if metrics.is_empty() {
                return Err(format!("{DONE} without a DISK line before it"));
            }
            return Ok(metrics);
        }
        let Some(rest) = line.strip_prefix("DISK ") else {
            continue;
        };
        let words: Vec<&str> = rest.split(' ').collect();
        let [name, value, unit] = words[..] else {
            return Err(format!(
                "malformed line '{line}' (DISK <metric> <value> <unit>)"
            ));
        };
        let value = value
            .parse()
            .ok()
            .filter(|value: &f64| value.is_finite())
            .ok_or_else(|| format!("malformed value in '{line}'"))?;
        metrics.push(Metric {
            name: name.to_owned(),
            value,
            unit: unit.to_owned(),
        });
    }
    Err(format!("no {DONE} line"))
}

/// One row per board, CPU count and metric, Novillo's beside Linux's.
fn report(runs: &[Run]) -> Table {
    let header = [
        ("board", Left),
        ("smp", Right),
        ("metric", Left),
        ("novillo", Right),
        ("linux", Right),
        ("ratio", Right),
        ("unit", Left),
    ];
    let mut cells = Vec::new();
    for run in runs {
        let linux_value = |name: &str| match &run.linux {
            Ok(metrics) => metrics
                .iter()
                .find(|metric| metric.name == name)
                .map(|metric| metric.value),
            Err(_) => None,
        };
        let linux_cell = |name: &str| match (&run.linux, linux_value(name)) {
            (_, Some(value)) => format!("{value:.1}"),
            (Err(why), None) => why.clone(),
            (Ok(_), None) => "-".to_owned(),
        };
        let row = |metric: &str, ours: String, ratio: String, unit: &str| {
            vec![
                run.board.to_string(),
                run.smp.to_string(),
                metric.to_owned(),
                ours,
                linux_cell(metric),
                ratio,
                unit.to_owned(),
            ]
        };
        match &run.metrics {
            Ok(metrics) => cells.extend(metrics.iter().map(|metric| {
                let ratio = linux_value(&metric.name)
                    .filter(|linux| *linux > 0.0)
                    .map_or_else(
                        || "-".to_owned(),
                        |linux| format!("{:.2}", metric.value / linux),
                    );
                row(
                    &metric.name,
                    format!("{:.1}", metric.value),
                    ratio,
                    &metric.unit,
                )
            })),
            // Linux's figures still show, beside why Novillo has none.
            Err(why) => match &run.linux {
                Ok(metrics) if !metrics.is_empty() => cells.extend(
                    metrics
                        .iter()
                        .map(|metric| row(&metric.name, why.clone(), "-".to_owned(), &metric.unit)),
                ),
                _ => cells.push(row("-", why.clone(), "-".to_owned(), "-")),
            },
        }
    }
    let mut table = Table::from_grid("Disk: virtio-blk", "cargo probe bench disk", &header, cells);
    table.plot = Some(Plot {
        label: vec![0, 1, 2],
        series: vec![3, 4],
        unit: "the unit column's (MiB/s, IOPS, µs)".to_owned(),
    });
    table
}

#[cfg(test)]
mod tests {
    use super::{Metric, Run, parse_metrics, report};
    use crate::board::Board;

    #[test]
    fn metrics_come_from_disk_lines_up_to_done() {
        let console = "boot\r\nDISK seq-read-64k 89.3 MiB/s\r\nnoise\nDISK rand-read-4k-qd1 4681 \
                       IOPS\nDISK-DONE\n";
        assert_eq!(
            parse_metrics(console).unwrap(),
            [
                Metric {
                    name: "seq-read-64k".to_owned(),
                    value: 89.3,
                    unit: "MiB/s".to_owned()
                },
                Metric {
                    name: "rand-read-4k-qd1".to_owned(),
                    value: 4681.0,
                    unit: "IOPS".to_owned()
                },
            ]
        );
        assert_eq!(
            parse_metrics("DISK a 1 x\n").unwrap_err(),
            "no DISK-DONE line"
        );
        assert!(
            parse_metrics("DISK-DONE\n")
                .unwrap_err()
                .contains("without a DISK line")
        );
        assert!(
            parse_metrics("DISK a 1\nDISK-DONE\n")
                .unwrap_err()
                .contains("malformed line")
        );
        assert!(
            parse_metrics("DISK a NaN x\nDISK-DONE\n")
                .unwrap_err()
                .contains("malformed value")
        );
    }

    #[test]
    fn the_table_has_a_row_per_metric_and_one_per_failure() {
        let runs = [
            Run {
                board: Board::Microvm,
                smp: 1,
                metrics: Ok(vec![Metric {
                    name: "seq-read-64k".to_owned(),
                    value: 89.26,
                    unit: "MiB/s".to_owned(),
                }]),
                linux: Ok(vec![Metric {
                    name: "seq-read-64k".to_owned(),
                    value: 178.52,
                    unit: "MiB/s".to_owned(),
                }]),
            },
            Run {
                board: Board::QemuPc,
                smp: 2,
                metrics: Err("failed".to_owned()),
                linux: Err("skipped".to_owned()),
            },
        ];
        assert_eq!(
            report(&runs).grid(),
            "\
board    smp  metric        novillo    linux  ratio  unit
microvm    1  seq-read-64k     89.3    178.5   0.50  MiB/s
qemu-pc    2  -              failed  skipped      -  -
"
        );
        let only_linux = [Run {
            board: Board::QemuPc,
            smp: 1,
            metrics: Err("not built".to_owned()),
            linux: Ok(vec![Metric {
                name: "file-create-4k".to_owned(),
                value: 250.0,
                unit: "files/s".to_owned(),
            }]),
        }];
        assert_eq!(
            report(&only_linux).grid(),
            "\
board    smp  metric            novillo  linux  ratio  unit
qemu-pc    1  file-create-4k  not built  250.0      -  files/s
"
        );
    }
}
