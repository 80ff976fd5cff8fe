//! The `log` facade on the kernel console: `[    0.001234] INFO  target: message`, with
//! the time since boot. The level comes from the `log=` parameter (`off`, `error`, `warn`,
//! `info`, `debug`, `trace`; default `info`).

use core::fmt;

use log::{LevelFilter, Log, Metadata, Record};

use crate::console;
use crate::time::Instant;

struct Logger;

impl Log for Logger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if self.enabled(record.metadata()) {
            console::_print(format_args!(
                "{}\n",
                Line {
                    at: Instant::now(),
                    record
                }
            ));
        }
    }

    fn flush(&self) {}
}

/// One log line.
struct Line<'a> {
    at: Instant,
    record: &'a Record<'a>,
}

impl fmt::Display for Line<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Seconds and microseconds apart, both u64: `as_micros` is a u128, and formatting
        // one costs the image 1.4 KiB; u64 is the one integer width every image formats.
        let since_boot = self.at.since_boot();
        write!(
            f,
            "[{:5}.{:06}] {:<5} {}: {}",
            since_boot.as_secs(),
            u64::from(since_boot.subsec_micros()),
            self.record.level(),
            self.record.target(),
            self.record.args()
        )
    }
}

static LOGGER: Logger = Logger;

/// The level a `log=` value names, or `None` when it names none.
pub fn parse_level(value: &str) -> Option<LevelFilter> {
    value.parse().ok()
}

pub(crate) fn init(level: Option<&str>) {
    // Fails only when a logger is set already: then it stays.
    let _ = log::set_logger(&LOGGER);
    let parsed = level.map(|value| (value, parse_level(value)));
    log::set_max_level(match parsed {
        Some((_, Some(level))) => level,
        _ => LevelFilter::Info,
    });
    if let Some((value, None)) = parsed {
        log::warn!("log={value} names no level (off, error, warn, info, debug, trace): using info");
    }
}

#[cfg(test)]
mod tests {
    use log::{Level, LevelFilter, Record};

    use super::{Line, parse_level};
    use crate::time::Instant;

    #[test]
    fn levels_parse_in_any_case() {
        assert_eq!(parse_level("debug"), Some(LevelFilter::Debug));
        assert_eq!(parse_level("WARN"), Some(LevelFilter::Warn));
        assert_eq!(parse_level("loud"), None);
    }

    #[test]
    fn line_shows_time_level_target_and_message() {
        let args = format_args!("disk ready");
        let record = Record::builder()
            .level(Level::Info)
            .target("blk")
            .args(args)
            .build();
        let line = Line {
            at: Instant::now(),
            record: &record,
        };
        assert_eq!(line.to_string(), "[    0.000000] INFO  blk: disk ready");
    }
}
