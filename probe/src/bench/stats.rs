//! Reads the `BENCH <name> <ns_per_op>` lines a benchmark guest prints, and summarises and
//! formats the numbers.
//!
//! The guest output is input from outside probe: a malformed line is an `Err` that quotes
//! it, never a panic.

use std::fmt::Write;

/// The line a benchmark guest prints after its last result.
pub(crate) const DONE: &str = "BENCH-DONE";

/// The word that starts a result line.
const RESULT: &str = "BENCH";

/// Every run of one benchmark, in the order the guest printed them.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Series {
    pub(crate) name: String,
    /// Nanoseconds per operation, one value per run.
    pub(crate) runs: Vec<f64>,
}

/// Median, minimum and maximum of a series, in ns per operation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Summary {
    pub(crate) median: f64,
    pub(crate) min: f64,
    pub(crate) max: f64,
    pub(crate) runs: usize,
}

impl Series {
    /// `None` for a series without runs, which `parse_results` never returns.
    pub(crate) fn summary(&self) -> Option<Summary> {
        let mut sorted = self.runs.clone();
        sorted.sort_by(f64::total_cmp);
        Some(Summary {
            median: median(&sorted)?,
            min: *sorted.first()?,
            max: *sorted.last()?,
            runs: sorted.len(),
        })
    }
}

/// The median of values sorted in ascending order: the middle one, or the mean of the two
/// middle ones; `None` when there are none.
pub(crate) fn median(sorted: &[f64]) -> Option<f64> {
    let len = sorted.len();
    match len {
        0 => None,
        _ if len % 2 == 1 => Some(sorted[len / 2]),
        _ => Some((sorted[len / 2 - 1] + sorted[len / 2]) / 2.0),
    }
}

/// Collects the results from a benchmark guest's console, one series per name in the order
/// of first appearance. Other lines (boot messages, logs) are ignored; the output must end
/// with `BENCH-DONE` and hold at least one result.
pub(crate) fn parse_results(console: &str) -> Result<Vec<Series>, String> {
    let mut series: Vec<Series> = Vec::new();
    for (index, raw) in console.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        if line == DONE {
            return if series.is_empty() {
                Err(format!(
                    "the guest printed {DONE} without any {RESULT} line"
                ))
            } else {
                Ok(series)
            };
        }
        let mut words = line.split_whitespace();
        if words.next() != Some(RESULT) {
            continue;
        }
        let malformed = |why: &str| {
            format!(
                "malformed {RESULT} line {} ({why}; expected `{RESULT} <name> <ns_per_op>`): \
                 {line:?}",
                index + 1
            )
        };
        let (Some(name), Some(value), None) = (words.next(), words.next(), words.next()) else {
            return Err(malformed("not three words"));
        };
        let value: f64 = value
            .parse()
            .ok()
            .filter(|value: &f64| value.is_finite() && *value >= 0.0)
            .ok_or_else(|| malformed("the time is not a non-negative decimal number"))?;
        match series.iter_mut().find(|known| known.name == name) {
            Some(known) => known.runs.push(value),
            None => series.push(Series {
                name: name.to_owned(),
                runs: vec![value],
            }),
        }
    }
    Err(format!(
        "the guest did not print {DONE} (it stopped before finishing the benchmarks)"
    ))
}

/// Formats a time per operation: nanoseconds below 10 µs (one decimal below 100 ns), else
/// microseconds with two decimals.
pub(crate) fn format_ns(ns: f64) -> String {
    if ns < 100.0 {
        format!("{ns:.1} ns")
    } else if ns < 10_000.0 {
        format!("{ns:.0} ns")
    } else {
        format!("{:.2} µs", ns / 1000.0)
    }
}

/// Formats `baseline / ours`: `5.0x` means ours is five times cheaper; `-` when ours is 0.
pub(crate) fn format_ratio(baseline: f64, ours: f64) -> String {
    if ours <= 0.0 {
        return "-".to_owned();
    }
    let ratio = baseline / ours;
    if ratio < 1.0 {
        format!("{ratio:.2}x")
    } else {
        format!("{ratio:.1}x")
    }
}

/// How a table column lines up its cells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Align {
    /// Names and words.
    Left,
    /// Numbers.
    Right,
}

/// Lays out rows under a header, each column as wide as its widest cell (counted in
/// characters, for `µs`) and aligned as its header says.
pub(crate) fn table(header: &[(&str, Align)], rows: &[Vec<String>]) -> String {
    let columns = header.len();
    let mut widths: Vec<usize> = header
        .iter()
        .map(|(cell, _)| cell.chars().count())
        .collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let names: Vec<String> = header.iter().map(|(cell, _)| (*cell).to_owned()).collect();
    for row in std::iter::once(&names).chain(rows) {
        let mut line = String::new();
        for (column, cell) in row.iter().enumerate().take(columns) {
            if column > 0 {
                line.push_str("  ");
            }
            let pad = " ".repeat(widths[column].saturating_sub(cell.chars().count()));
            match header[column].1 {
                Align::Left => line.push_str(&format!("{cell}{pad}")),
                Align::Right => line.push_str(&format!("{pad}{cell}")),
            }
        }
        // Writing to a String cannot fail.
        let _infallible = writeln!(out, "{}", line.trim_end());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{Align, Series, Summary, format_ns, format_ratio, median, parse_results, table};

    const SAMPLE: &str = "\
Novillo bench_threads, 2 cores\r
BENCH switch 412.5\r
BENCH spawn_join_same 2100\r
BENCH switch 400\r
[INFO ] a log line\r
BENCH switch 900.25\r
BENCH spawn_join_same 1900.5\r
BENCH-DONE\r
";

    #[test]
    fn reads_series_in_order_of_first_appearance() {
        let series = parse_results(SAMPLE).unwrap();
        assert_eq!(
            series,
            [
                Series {
                    name: "switch".to_owned(),
                    runs: vec![412.5, 400.0, 900.25]
                },
                Series {
                    name: "spawn_join_same".to_owned(),
                    runs: vec![2100.0, 1900.5]
                },
            ]
        );
        assert_eq!(
            series[0].summary(),
            Some(Summary {
                median: 412.5,
                min: 400.0,
                max: 900.25,
                runs: 3
            })
        );
        assert_eq!(series[1].summary().map(|s| s.median), Some(2000.25));
    }

    #[test]
    fn ignores_what_follows_done_and_lines_that_only_look_alike() {
        let text = "BENCHMARKS start\nBENCH a 1\nBENCH-DONE\nBENCH garbage\n";
        let series = parse_results(text).unwrap();
        assert_eq!(series.len(), 1);
        assert_eq!(series[0].runs, [1.0]);
    }

    #[test]
    fn malformed_lines_are_errors_that_quote_them() {
        for (text, why) in [
            ("BENCH switch\nBENCH-DONE\n", "not three words"),
            ("BENCH switch 1 2\nBENCH-DONE\n", "not three words"),
            ("BENCH\nBENCH-DONE\n", "not three words"),
            ("BENCH switch fast\nBENCH-DONE\n", "not a non-negative"),
            ("BENCH switch -3\nBENCH-DONE\n", "not a non-negative"),
            ("BENCH switch NaN\nBENCH-DONE\n", "not a non-negative"),
            ("BENCH switch inf\nBENCH-DONE\n", "not a non-negative"),
        ] {
            let err = parse_results(text).unwrap_err();
            assert!(err.contains(why), "{text:?}: {err}");
            assert!(err.contains("line 1"), "{err}");
            assert!(err.contains(text.lines().next().unwrap()), "{err}");
        }
    }

    #[test]
    fn needs_done_and_at_least_one_result() {
        let err = parse_results("BENCH switch 1\n").unwrap_err();
        assert!(err.contains("did not print BENCH-DONE"), "{err}");
        assert!(parse_results("").is_err());
        let err = parse_results("hello\nBENCH-DONE\n").unwrap_err();
        assert!(err.contains("without any BENCH line"), "{err}");
    }

    #[test]
    fn medians() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0]), Some(3.0));
        assert_eq!(median(&[1.0, 2.0, 10.0]), Some(2.0));
        assert_eq!(median(&[1.0, 2.0, 4.0, 10.0]), Some(3.0));
    }

    #[test]
    fn formats_times_and_ratios() {
        assert_eq!(format_ns(53.44), "53.4 ns");
        assert_eq!(format_ns(412.5), "412 ns");
        assert_eq!(format_ns(9999.4), "9999 ns");
        assert_eq!(format_ns(10_000.0), "10.00 µs");
        assert_eq!(format_ns(179_013.7), "179.01 µs");
        assert_eq!(format_ratio(3656.1, 412.5), "8.9x");
        assert_eq!(format_ratio(50.0, 100.0), "0.50x");
        assert_eq!(format_ratio(50.0, 0.0), "-");
    }

    #[test]
    fn aligns_columns() {
        let rows = vec![
            vec!["switch".to_owned(), "412 ns".to_owned()],
            vec!["round_trip".to_owned(), "10.00 µs".to_owned()],
        ];
        assert_eq!(
            table(&[("name", Align::Left), ("median", Align::Right)], &rows),
            "name          median\n\
             switch        412 ns\n\
             round_trip  10.00 µs\n"
        );
    }
}
