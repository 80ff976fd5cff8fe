//! The load generator of `bench http`: Debian's `wrk`, run as a child of probe, and a
//! reader for the summary it prints with `--latency`.

use std::process::Command;
use std::time::Duration;

use crate::children;

/// The one line that says what to install when wrk is missing.
pub(crate) const MISSING: &str =
    "bench http needs the load generator wrk: apt-get install wrk (Debian's package wrk)";

/// One wrk run against one URL.
#[derive(Clone, Debug)]
pub(crate) struct Load<'a> {
    pub(crate) url: &'a str,
    pub(crate) connections: u32,
    pub(crate) keep_alive: bool,
    pub(crate) duration: Duration,
}

/// What wrk measured.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Measured {
    pub(crate) requests: u64,
    pub(crate) requests_per_second: f64,
    pub(crate) bytes_per_second: f64,
    pub(crate) median: Duration,
    pub(crate) p99: Duration,
    /// Socket errors (connect, read, write, timeout) plus responses other than 2xx and 3xx.
    pub(crate) errors: u64,
}

/// Whether wrk can be started.
pub(crate) fn available() -> bool {
    children::output(Command::new("wrk").arg("--version")).is_ok()
}

/// Runs wrk for `load` and reads its summary.
pub(crate) fn run(load: &Load<'_>) -> Result<Measured, String> {
    // wrk wants at least as many connections as threads; two threads fill this host.
    let threads = load.connections.clamp(1, 2);
    let mut command = Command::new("wrk");
    command
        .arg(format!("-t{threads}"))
        .arg(format!("-c{}", load.connections))
        .arg(format!("-d{}s", load.duration.as_secs().max(1)))
        .args(["--timeout", "10s", "--latency"]);
    if !load.keep_alive {
        command.args(["-H", "Connection: close"]);
    }
    command.arg(load.url);
    let output = children::output(&mut command).map_err(|err| match err.kind() {
        std::io::ErrorKind::NotFound => MISSING.to_owned(),
        _ => format!("cannot run wrk: {err}"),
    })?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "wrk failed ({}): {}{}",
            output.status,
            text.trim(),
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    parse(&text)
}

/// Reads wrk's `--latency` summary.
pub(crate) fn parse(text: &str) -> Result<Measured, String> {
    let field = |prefix: &str| {
        text.lines()
            .map(str::trim)
            .find_map(|line| line.strip_prefix(prefix))
            .map(str::trim)
    };
    let missing = |what: &str| format!("wrk printed no {what}: {text:?}");
    let requests = text
        .lines()
        .find_map(|line| line.trim().split_once(" requests in "))
        .and_then(|(count, _)| count.trim().parse().ok())
        .ok_or_else(|| missing("request count"))?;
    let requests_per_second = field("Requests/sec:")
        .and_then(|value| value.parse().ok())
        .ok_or_else(|| missing("Requests/sec"))?;
    let bytes_per_second = field("Transfer/sec:")
        .and_then(size)
        .ok_or_else(|| missing("Transfer/sec"))?;
    let median = field("50%")
        .and_then(duration)
        .ok_or_else(|| missing("median latency"))?;
    let p99 = field("99%")
        .and_then(duration)
        .ok_or_else(|| missing("99th percentile"))?;
    let mut errors = 0;
    if let Some(sockets) = field("Socket errors:") {
        for part in sockets.split(',') {
            let count = part
                .split_whitespace()
                .last()
                .and_then(|n| n.parse::<u64>().ok());
            errors += count.ok_or_else(|| missing("socket error counts"))?;
        }
    }
    if let Some(non_2xx) = field("Non-2xx or 3xx responses:") {
        errors += non_2xx
            .parse::<u64>()
            .map_err(|_| missing("count of other responses"))?;
    }
    Ok(Measured {
        requests,
        requests_per_second,
        bytes_per_second,
        median,
        p99,
        errors,
    })
}

/// wrk's sizes: `1.23MB`, `512.00KB`, `100.00B` (binary multiples).
fn size(text: &str) -> Option<f64> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let scale = match unit {
        "B" => 1.0,
        "KB" => 1024.0,
        "MB" => 1024.0 * 1024.0,
        "GB" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    Some(number * scale)
}

/// wrk's times: `812.00us`, `1.23ms`, `2.00s`, `1.50m`.
fn duration(text: &str) -> Option<Duration> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let seconds = match unit {
        "us" => number / 1e6,
        "ms" => number / 1e3,
        "s" => number,
        "m" => number * 60.0,
        _ => return None,
    };
    Duration::try_from_secs_f64(seconds).ok()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{duration, parse, size};

    /// wrk 4.1 against the Linux guest's busybox httpd, keep-alive off.
    const CLOSE: &str = "\
Running 3s test @ http://127.0.0.1:40123/1k.txt
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    98.52ms   20.11ms 201.33ms   71.00%
    Req/Sec    80.21     12.50   110.00     66.67%
  Latency Distribution
     50%   95.10ms
     75%  105.02ms
     90%  121.77ms
     99%  180.40ms
  482 requests in 3.01s, 574.30KB read
  Socket errors: connect 0, read 3, write 0, timeout 2
  Non-2xx or 3xx responses: 4
Requests/sec:    160.13
Transfer/sec:    190.79KB
";

    #[test]
    fn reads_the_summary() {
        let measured = parse(CLOSE).unwrap();
        assert_eq!(measured.requests, 482);
        assert!((measured.requests_per_second - 160.13).abs() < 1e-9);
        assert!((measured.bytes_per_second - 190.79 * 1024.0).abs() < 1e-6);
        assert_eq!(measured.median, Duration::from_micros(95_100));
        assert_eq!(measured.p99, Duration::from_micros(180_400));
        assert_eq!(measured.errors, 3 + 2 + 4);
    }

    #[test]
    fn a_clean_run_has_no_errors() {
        let clean: String = CLOSE
            .lines()
            .filter(|line| !line.contains("errors") && !line.contains("Non-2xx"))
            .map(|line| format!("{line}\n"))
            .collect();
        assert_eq!(parse(&clean).unwrap().errors, 0);
    }

    #[test]
    fn says_what_is_missing() {
        let cut: String = CLOSE.replace("Requests/sec", "Something");
        assert!(parse(&cut).unwrap_err().contains("Requests/sec"));
        assert!(parse("").is_err());
    }

    #[test]
    fn reads_units() {
        assert_eq!(size("100.00B"), Some(100.0));
        assert_eq!(size("2.00MB"), Some(2.0 * 1024.0 * 1024.0));
        assert_eq!(size("3.0XB"), None);
        assert_eq!(duration("812.00us"), Some(Duration::from_micros(812)));
        assert_eq!(duration("2.00s"), Some(Duration::from_secs(2)));
        assert_eq!(duration("1.50m"), Some(Duration::from_secs(90)));
        assert_eq!(duration("5.00h"), None);
    }
}
