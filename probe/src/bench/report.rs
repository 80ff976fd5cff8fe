//! What every benchmark hands back: tables, each with its title, the command that makes it,
//! its columns (with units), its rows, how its ratio to the baseline reads, notes, and what
//! to plot. `probe bench` prints them and writes them all to `target/bench/`:
//! `report.json` (every cell's text and number), `report.md` (the tables the README shows)
//! and one SVG bar chart per table that has a plot.
//!
//! A new benchmark adds itself by returning its [`Table`]s; nothing here knows any
//! benchmark.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::bench::stats::{Align, table};

/// One cell: what is shown, and the number behind it where there is one (in the column's
/// unit), for the JSON and the plots.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Cell {
    pub(crate) text: String,
    pub(crate) value: Option<f64>,
}

impl Cell {
    /// A cell that shows `text` for `value`.
    pub(crate) fn number(text: String, value: f64) -> Cell {
        Cell {
            text,
            value: Some(value),
        }
    }
}

impl Cell {
    /// A cell whose number is its text, where the text is a plain decimal number (such as
    /// `0.31` or `+0.04`).
    pub(crate) fn parsed(text: String) -> Cell {
        let value = text
            .strip_prefix('+')
            .unwrap_or(&text)
            .parse::<f64>()
            .ok()
            .filter(|value| value.is_finite());
        Cell { text, value }
    }
}

impl From<String> for Cell {
    fn from(text: String) -> Cell {
        Cell { text, value: None }
    }
}

impl From<&str> for Cell {
    fn from(text: &str) -> Cell {
        Cell::from(text.to_owned())
    }
}

/// A column: its name, how it lines up, and the unit of its numbers (`""` for none).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Column {
    pub(crate) name: String,
    pub(crate) align: Align,
    pub(crate) unit: String,
}

impl Column {
    pub(crate) fn new(name: &str, align: Align, unit: &str) -> Column {
        Column {
            name: name.to_owned(),
            align,
            unit: unit.to_owned(),
        }
    }
}

/// What a table's chart shows: one group of bars per row, labelled by the `label` columns,
/// one bar per `series` column, on a logarithmic axis when the values span more than
/// [`LOG_SPAN`]; in the series' common unit.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Plot {
    pub(crate) label: Vec<usize>,
    pub(crate) series: Vec<usize>,
    pub(crate) unit: String,
}

/// Above this ratio of the largest to the smallest value a chart's axis is logarithmic.
const LOG_SPAN: f64 = 50.0;

/// One benchmark table.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Table {
    /// A short name, also the plot's file name (as a slug).
    pub(crate) title: String,
    /// The command that makes this table.
    pub(crate) command: String,
    pub(crate) columns: Vec<Column>,
    pub(crate) rows: Vec<Vec<Cell>>,
    /// How the ratio to the baseline reads, e.g. `linux / novillo: above 1 Novillo is
    /// faster`; `None` without a baseline column.
    pub(crate) ratio: Option<String>,
    /// Lines printed under the table.
    pub(crate) notes: Vec<String>,
    pub(crate) plot: Option<Plot>,
}

impl Table {
    /// A table without rows, ratio, notes or plot.
    pub(crate) fn new(title: &str, command: &str, columns: Vec<Column>) -> Table {
        Table {
            title: title.to_owned(),
            command: command.to_owned(),
            columns,
            rows: Vec::new(),
            ratio: None,
            notes: Vec::new(),
            plot: None,
        }
    }

    /// A table of text cells under `header`, each cell's number read from its text
    /// ([`Cell::parsed`]); the columns have no unit.
    pub(crate) fn from_grid(
        title: &str,
        command: &str,
        header: &[(&str, Align)],
        rows: Vec<Vec<String>>,
    ) -> Table {
        let columns = header
            .iter()
            .map(|&(name, align)| Column::new(name, align, ""))
            .collect();
        let mut table = Table::new(title, command, columns);
        table.rows = rows
            .into_iter()
            .map(|row| row.into_iter().map(Cell::parsed).collect())
            .collect();
        table
    }

    /// The rows laid out in columns, as the terminal shows them.
    pub(crate) fn grid(&self) -> String {
        let header: Vec<(&str, Align)> = self
            .columns
            .iter()
            .map(|column| (column.name.as_str(), column.align))
            .collect();
        let rows: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|row| row.iter().map(|cell| cell.text.clone()).collect())
            .collect();
        table(&header, &rows)
    }

    /// The title, the grid, the ratio's reading and the notes, for the terminal.
    pub(crate) fn text(&self) -> String {
        let mut text = format!("{} ({})\n{}", self.title, self.command, self.grid());
        if let Some(ratio) = &self.ratio {
            text += &format!("ratio = {ratio}\n");
        }
        for note in &self.notes {
            text += note;
            text.push('\n');
        }
        text
    }

    /// The table as a Markdown section: title, command, table, ratio and notes.
    fn markdown(&self) -> String {
        let mut md = format!("### {}\n\n`{}`\n\n", self.title, self.command);
        let names: Vec<String> = self
            .columns
            .iter()
            .map(|column| escape_md(&column.name))
            .collect();
        md += &format!("| {} |\n", names.join(" | "));
        let rules: Vec<&str> = self
            .columns
            .iter()
            .map(|column| match column.align {
                Align::Left => "---",
                Align::Right => "---:",
            })
            .collect();
        md += &format!("|{}|\n", rules.join("|"));
        for row in &self.rows {
            let cells: Vec<String> = row.iter().map(|cell| escape_md(&cell.text)).collect();
            md += &format!("| {} |\n", cells.join(" | "));
        }
        if self.ratio.is_some() || !self.notes.is_empty() {
            md.push('\n');
        }
        if let Some(ratio) = &self.ratio {
            md += &format!("ratio = {}\n", escape_md(ratio));
        }
        for note in &self.notes {
            md += &format!("{}\n", escape_md(note));
        }
        if self.plot.is_some() {
            md += &format!("\n![{}]({}.svg)\n", self.title, slug(&self.title));
        }
        md
    }

    fn json(&self) -> Value {
        let columns: Vec<Value> = self
            .columns
            .iter()
            .map(|column| json!({ "name": column.name, "unit": column.unit }))
            .collect();
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|row| {
                row.iter()
                    .map(|cell| json!({ "text": cell.text, "value": cell.value }))
                    .collect()
            })
            .collect();
        json!({
            "title": self.title,
            "command": self.command,
            "columns": columns,
            "rows": rows,
            "ratio": self.ratio,
            "notes": self.notes,
        })
    }

    /// The chart as an SVG document, or `None` when the table has no plot or nothing to
    /// plot.
    fn svg(&self) -> Option<String> {
        let plot = self.plot.as_ref()?;
        let groups: Vec<(String, Vec<Option<f64>>)> = self
            .rows
            .iter()
            .map(|row| {
                let label: Vec<&str> = plot
                    .label
                    .iter()
                    .filter_map(|&column| row.get(column).map(|cell| cell.text.as_str()))
                    .collect();
                let values = plot
                    .series
                    .iter()
                    .map(|&column| {
                        row.get(column)
                            .and_then(|cell| cell.value)
                            .filter(|value| *value > 0.0)
                    })
                    .collect();
                (label.join(", "), values)
            })
            .collect();
        let names: Vec<&str> = plot
            .series
            .iter()
            .filter_map(|&column| self.columns.get(column).map(|c| c.name.as_str()))
            .collect();
        bar_chart(&self.title, &plot.unit, &names, &groups)
    }
}

/// All tables of one `probe bench` command.
#[derive(Debug, Default)]
pub(crate) struct Report {
    pub(crate) tables: Vec<Table>,
}

impl Report {
    /// `report.md`: every table, under a heading.
    pub(crate) fn markdown(&self) -> String {
        let mut md = String::from("## Benchmarks\n\n");
        for table in &self.tables {
            md += &table.markdown();
            md.push('\n');
        }
        md
    }

    /// `report.json`: `{"tables": [...]}`.
    pub(crate) fn json(&self) -> String {
        let tables: Vec<Value> = self.tables.iter().map(Table::json).collect();
        let mut text = serde_json::to_string_pretty(&json!({ "tables": tables }))
            .unwrap_or_else(|_| "{}".to_owned());
        text.push('\n');
        text
    }

    /// Writes `report.json`, `report.md` and the charts into `dir` (made if missing) and
    /// returns the files written.
    pub(crate) fn write(&self, dir: &Path) -> Result<Vec<PathBuf>, String> {
        std::fs::create_dir_all(dir)
            .map_err(|err| format!("cannot create {}: {err}", dir.display()))?;
        let mut files = vec![
            (dir.join("report.json"), self.json()),
            (dir.join("report.md"), self.markdown()),
        ];
        for table in &self.tables {
            if let Some(svg) = table.svg() {
                files.push((dir.join(format!("{}.svg", slug(&table.title))), svg));
            }
        }
        for (path, text) in &files {
            std::fs::write(path, text)
                .map_err(|err| format!("cannot write {}: {err}", path.display()))?;
        }
        Ok(files.into_iter().map(|(path, _)| path).collect())
    }
}

/// A title as a file name: lower-case letters and digits, words joined by `-`.
pub(crate) fn slug(title: &str) -> String {
    let mut slug = String::new();
    for c in title.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let slug = slug.trim_end_matches('-');
    if slug.is_empty() {
        "table".to_owned()
    } else {
        slug.to_owned()
    }
}

/// A cell's text in a Markdown table: `|` would end the cell.
fn escape_md(text: &str) -> String {
    text.replace('|', "\\|")
}

/// Text in SVG: the five characters XML reserves.
fn escape_xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// The bar colours, one per series in order (then again).
const COLOURS: [&str; 4] = ["#2b6cb0", "#c05621", "#2f855a", "#6b46c1"];

/// Geometry of a chart, in SVG user units.
const LABEL_WIDTH: f64 = 260.0;
const BAR_AREA: f64 = 420.0;
const VALUE_WIDTH: f64 = 110.0;
const BAR_HEIGHT: f64 = 14.0;
const GROUP_GAP: f64 = 10.0;
const TOP: f64 = 48.0;

/// A horizontal grouped bar chart: for each group its label and one bar per series, each
/// with its value written after it; `None` when no group has a value.
fn bar_chart(
    title: &str,
    unit: &str,
    series: &[&str],
    groups: &[(String, Vec<Option<f64>>)],
) -> Option<String> {
    let values: Vec<f64> = groups
        .iter()
        .flat_map(|(_, values)| values.iter().flatten().copied())
        .collect();
    let max = values.iter().copied().fold(f64::MIN, f64::max);
    let min = values.iter().copied().fold(f64::MAX, f64::min);
    if values.is_empty() {
        return None;
    }
    let log = max / min > LOG_SPAN;
    // The axis starts one decade below the smallest value on a log scale, so that the
    // smallest bar still shows.
    let floor = if log { min.log10().floor() - 1.0 } else { 0.0 };
    let length = |value: f64| {
        let fraction = if log {
            (value.log10() - floor) / (max.log10() - floor)
        } else {
            value / max
        };
        (fraction * BAR_AREA).max(1.0)
    };
    let group_height = BAR_HEIGHT * series.len() as f64 + GROUP_GAP;
    let legend = 22.0;
    let height = TOP + group_height * groups.len() as f64 + legend;
    let width = LABEL_WIDTH + BAR_AREA + VALUE_WIDTH;
    let mut svg = String::new();
    // Writing to a String cannot fail.
    let _ = writeln!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
         viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"12\">"
    );
    let _ = writeln!(
        svg,
        "<rect width=\"{width}\" height=\"{height}\" fill=\"white\"/>"
    );
    let scale = if log { ", log scale" } else { "" };
    let _ = writeln!(
        svg,
        "<text x=\"8\" y=\"20\" font-size=\"14\" font-weight=\"bold\">{}</text>",
        escape_xml(title)
    );
    let _ = writeln!(
        svg,
        "<text x=\"8\" y=\"36\" fill=\"#555\">{}{scale}</text>",
        escape_xml(unit)
    );
    for (index, (label, values)) in groups.iter().enumerate() {
        let y = TOP + group_height * index as f64;
        let _ = writeln!(
            svg,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            LABEL_WIDTH - 8.0,
            y + BAR_HEIGHT * series.len() as f64 / 2.0 + 4.0,
            escape_xml(label)
        );
        for (bar, value) in values.iter().enumerate() {
            let top = y + BAR_HEIGHT * bar as f64;
            let Some(value) = value else {
                continue;
            };
            let bar_length = length(*value);
            let _ = writeln!(
                svg,
                "<rect x=\"{LABEL_WIDTH}\" y=\"{top}\" width=\"{bar_length:.1}\" height=\"{}\" \
                 fill=\"{}\"/>",
                BAR_HEIGHT - 2.0,
                COLOURS[bar % COLOURS.len()]
            );
            let _ = writeln!(
                svg,
                "<text x=\"{:.1}\" y=\"{}\">{}</text>",
                LABEL_WIDTH + bar_length + 4.0,
                top + BAR_HEIGHT - 3.0,
                escape_xml(&format_value(*value))
            );
        }
    }
    let legend_y = height - 8.0;
    let mut x = LABEL_WIDTH;
    for (index, name) in series.iter().enumerate() {
        let _ = writeln!(
            svg,
            "<rect x=\"{x}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"{}\"/>",
            legend_y - 9.0,
            COLOURS[index % COLOURS.len()]
        );
        let _ = writeln!(
            svg,
            "<text x=\"{}\" y=\"{legend_y}\">{}</text>",
            x + 14.0,
            escape_xml(name)
        );
        x += 24.0 + 7.0 * name.chars().count() as f64;
    }
    svg.push_str("</svg>\n");
    Some(svg)
}

/// A bar's value: three significant figures or whole numbers.
fn format_value(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

#[cfg(test)]
#[path = "report_tests.rs"]
mod tests;
