use serde_json::Value;

use super::{Cell, Column, Plot, Report, Table, slug};
use crate::bench::stats::Align::{Left, Right};

fn sample() -> Table {
    let mut table = Table::new(
        "Boot | hello",
        "cargo probe bench boot",
        vec![
            Column::new("board", Left, ""),
            Column::new("novillo", Right, "ms"),
            Column::new("linux", Right, "ms"),
        ],
    );
    table.rows = vec![
        vec![
            Cell::from("microvm"),
            Cell::number("40 ms".to_owned(), 40.0),
            Cell::number("4000 ms".to_owned(), 4000.0),
        ],
        vec![
            Cell::from("qemu-pc"),
            Cell::number("60 ms".to_owned(), 60.0),
            Cell::from("failed"),
        ],
    ];
    table.ratio = Some("linux / novillo".to_owned());
    table.notes = vec!["a note".to_owned()];
    table.plot = Some(Plot {
        label: vec![0],
        series: vec![1, 2],
        unit: "ms".to_owned(),
    });
    table
}

#[test]
fn text_shows_title_command_grid_ratio_and_notes() {
    assert_eq!(
        sample().text(),
        "Boot | hello (cargo probe bench boot)\n\
         board    novillo    linux\n\
         microvm    40 ms  4000 ms\n\
         qemu-pc    60 ms   failed\n\
         ratio = linux / novillo\n\
         a note\n"
    );
}

#[test]
fn markdown_is_a_table_with_its_command_and_plot() {
    let md = Report {
        tables: vec![sample()],
    }
    .markdown();
    assert!(md.starts_with("## Benchmarks\n\n### Boot | hello\n\n`cargo probe bench boot`\n\n"));
    assert!(
        md.contains("| board | novillo | linux |\n|---|---:|---:|\n"),
        "{md}"
    );
    assert!(md.contains("| qemu-pc | 60 ms | failed |\n"), "{md}");
    assert!(md.contains("ratio = linux / novillo\na note\n"), "{md}");
    assert!(md.contains("![Boot | hello](boot-hello.svg)"), "{md}");
}

#[test]
fn json_keeps_text_value_and_units() {
    let json: Value = serde_json::from_str(
        &Report {
            tables: vec![sample()],
        }
        .json(),
    )
    .unwrap();
    let table = &json["tables"][0];
    assert_eq!(table["title"], "Boot | hello");
    assert_eq!(table["columns"][1]["unit"], "ms");
    assert_eq!(table["rows"][0][2]["value"], 4000.0);
    assert_eq!(table["rows"][1][2]["text"], "failed");
    assert!(table["rows"][1][2]["value"].is_null());
    assert_eq!(table["ratio"], "linux / novillo");
}

#[test]
fn the_chart_has_a_bar_per_value_and_a_log_axis_for_wide_ranges() {
    let svg = sample().svg().unwrap();
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(svg.ends_with("</svg>\n"));
    // Three values plus the background and two legend swatches.
    assert_eq!(svg.matches("<rect").count(), 6, "{svg}");
    assert!(svg.contains("ms, log scale"), "{svg}");
    assert!(svg.contains("Boot | hello"), "{svg}");
    let mut narrow = sample();
    narrow.rows[0][2] = Cell::number("80 ms".to_owned(), 80.0);
    assert!(!narrow.svg().unwrap().contains("log scale"));
}

#[test]
fn text_in_the_chart_is_escaped() {
    let mut table = sample();
    table.title = "a < b & c".to_owned();
    let svg = table.svg().unwrap();
    assert!(svg.contains("a &lt; b &amp; c"), "{svg}");
}

#[test]
fn no_chart_without_a_plot_or_values() {
    let mut table = sample();
    table.plot = None;
    assert_eq!(table.svg(), None);
    let mut empty = sample();
    for row in &mut empty.rows {
        for cell in row.iter_mut() {
            cell.value = None;
        }
    }
    assert_eq!(empty.svg(), None);
}

#[test]
fn writes_json_markdown_and_one_chart_per_plot() {
    let dir = std::env::temp_dir().join(format!("probe-report-test-{}", std::process::id()));
    let mut plain = sample();
    plain.title = "Other".to_owned();
    plain.plot = None;
    let files = Report {
        tables: vec![sample(), plain],
    }
    .write(&dir)
    .unwrap();
    let names: Vec<String> = files
        .iter()
        .map(|file| file.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["report.json", "report.md", "boot-hello.svg"]);
    for file in &files {
        assert!(std::fs::metadata(file).unwrap().len() > 0);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn slugs_are_file_names() {
    assert_eq!(slug("Threads: microvm, 2 CPUs"), "threads-microvm-2-cpus");
    assert_eq!(slug("--"), "table");
}

#[test]
fn grids_read_plain_numbers_only() {
    let table = Table::from_grid(
        "t",
        "c",
        &[("a", Left), ("b", Right)],
        vec![
            vec!["0.31".to_owned(), "+0.04".to_owned()],
            vec!["failed".to_owned(), "12 ms".to_owned()],
        ],
    );
    let values: Vec<Option<f64>> = table.rows.iter().flatten().map(|cell| cell.value).collect();
    assert_eq!(values, [Some(0.31), Some(0.04), None, None]);
    assert_eq!(
        table.grid(),
        "a           b\n0.31    +0.04\nfailed  12 ms\n"
    );
}
