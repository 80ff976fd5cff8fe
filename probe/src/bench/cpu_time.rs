//! How much host CPU a process (QEMU) uses, from Linux's `/proc`.
//!
//! The precise source is the scheduler's own account, `/proc/<pid>/task/<tid>/schedstat`,
//! whose first field is the thread's CPU time in nanoseconds; it is per thread, so the
//! threads are summed (QEMU runs one per vCPU plus its main loop). A thread that exits
//! between two samples takes its time with it, which an idle QEMU's threads do not do.
//! Without schedstat (a kernel without `CONFIG_SCHED_INFO`) the fallback is utime + stime
//! from `/proc/<pid>/stat`, which counts every thread but only in clock ticks (10 ms at
//! the usual 100 Hz).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Where the CPU time comes from; chosen once per process so two samples always compare.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    /// Sum of the threads' schedstat, in nanoseconds.
    Schedstat,
    /// utime + stime from stat, in clock ticks of this many per second.
    Ticks(u64),
}

impl Source {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Source::Schedstat => "schedstat",
            Source::Ticks(_) => "stat ticks",
        }
    }
}

/// Samples one process's CPU time.
#[derive(Debug)]
pub(crate) struct CpuClock {
    pid: u32,
    source: Source,
}

/// One reading: the process's CPU time and when it was read.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sample {
    pub(crate) cpu: Duration,
    pub(crate) at: Instant,
}

impl CpuClock {
    /// Picks the source for `pid`: schedstat when it is readable, else stat ticks.
    pub(crate) fn new(pid: u32) -> Result<CpuClock, String> {
        let source = if schedstat_ns(pid).is_ok() {
            Source::Schedstat
        } else {
            Source::Ticks(clock_ticks_per_second())
        };
        let clock = CpuClock { pid, source };
        clock.sample()?;
        Ok(clock)
    }

    pub(crate) fn source(&self) -> Source {
        self.source
    }

    /// Reads the CPU time now.
    pub(crate) fn sample(&self) -> Result<Sample, String> {
        let cpu = match self.source {
            Source::Schedstat => Duration::from_nanos(schedstat_ns(self.pid)?),
            Source::Ticks(per_second) => {
                let stat = read(&format!("/proc/{}/stat", self.pid))?;
                let ticks = stat_ticks(&stat).ok_or_else(|| {
                    format!("cannot read utime and stime from /proc/{}/stat", self.pid)
                })?;
                ticks_to_duration(ticks, per_second)
            }
        };
        Ok(Sample {
            cpu,
            at: Instant::now(),
        })
    }
}

/// Host CPU use between two samples, in percent of one host core.
pub(crate) fn percent(start: Sample, end: Sample) -> Option<f64> {
    cpu_percent(
        end.cpu.saturating_sub(start.cpu),
        end.at.saturating_duration_since(start.at),
    )
}

/// `cpu / wall * 100`: 100 % is one host core busy all the time; `None` for no wall time.
pub(crate) fn cpu_percent(cpu: Duration, wall: Duration) -> Option<f64> {
    if wall.is_zero() {
        return None;
    }
    Some(cpu.as_secs_f64() / wall.as_secs_f64() * 100.0)
}

fn read(path: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|err| format!("cannot read {path}: {err}"))
}

/// The sum of the first schedstat field of every thread of `pid`, in nanoseconds.
fn schedstat_ns(pid: u32) -> Result<u64, String> {
    let dir = format!("/proc/{pid}/task");
    let tasks = std::fs::read_dir(&dir).map_err(|err| format!("cannot read {dir}: {err}"))?;
    let mut total: u64 = 0;
    let mut threads = 0;
    for task in tasks.flatten() {
        let path = Path::new(&dir).join(task.file_name()).join("schedstat");
        // A thread can exit between listing and reading; it no longer counts.
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let ns = schedstat_first(&text)
            .ok_or_else(|| format!("cannot read {}: unexpected {text:?}", path.display()))?;
        total = total.saturating_add(ns);
        threads += 1;
    }
    if threads == 0 {
        return Err(format!(
            "no thread of process {pid} has a readable schedstat"
        ));
    }
    Ok(total)
}

/// The first field of a schedstat line: time spent on the CPU, in nanoseconds.
fn schedstat_first(text: &str) -> Option<u64> {
    text.split_whitespace().next()?.parse().ok()
}

/// utime + stime (fields 14 and 15) of a `/proc/<pid>/stat` line. The command name (field
/// 2) is in parentheses and may hold spaces and parentheses, so fields are counted from
/// the last `)`.
fn stat_ticks(stat: &str) -> Option<u64> {
    let (_, after_name) = stat.rsplit_once(')')?;
    let mut fields = after_name.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    utime.checked_add(stime)
}

fn ticks_to_duration(ticks: u64, per_second: u64) -> Duration {
    let per_second = per_second.max(1);
    let nanos = u128::from(ticks) * 1_000_000_000 / u128::from(per_second);
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

/// `getconf CLK_TCK`, or Linux's usual 100 when that fails.
fn clock_ticks_per_second() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .filter(|output| output.status.success())
        .and_then(|output| String::from_utf8(output.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .filter(|&hz| hz > 0)
        .unwrap_or(100)
}

#[cfg(test)]
mod tests {
    use std::process::{Child, Command};
    use std::thread;
    use std::time::Duration;

    use super::{CpuClock, Source, cpu_percent, percent, schedstat_first, stat_ticks};
    use super::{clock_ticks_per_second, ticks_to_duration};

    #[test]
    fn percent_is_cpu_over_wall() {
        let pct = |cpu_ms, wall_ms| {
            cpu_percent(
                Duration::from_millis(cpu_ms),
                Duration::from_millis(wall_ms),
            )
        };
        assert_eq!(pct(0, 10_000), Some(0.0));
        assert_eq!(pct(10_000, 10_000), Some(100.0));
        assert_eq!(pct(250, 10_000), Some(2.5));
        // Two vCPUs spinning on a 4-core host.
        assert_eq!(pct(20_000, 10_000), Some(200.0));
        assert_eq!(pct(5, 0), None);
    }

    #[test]
    fn reads_proc_lines() {
        assert_eq!(schedstat_first("123456789 4567 89\n"), Some(123_456_789));
        assert_eq!(schedstat_first(""), None);
        assert_eq!(schedstat_first("x 1 2"), None);
        let stat = "4242 (qemu (x) y) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 \
                    5 0 100 1000 50";
        assert_eq!(stat_ticks(stat), Some(300));
        assert_eq!(stat_ticks("4242 (qemu) S 1 2"), None);
        assert_eq!(stat_ticks("no parenthesis"), None);
        assert_eq!(ticks_to_duration(250, 100), Duration::from_millis(2500));
        assert_eq!(ticks_to_duration(1, 0), Duration::from_secs(1));
        assert!(clock_ticks_per_second() > 0);
    }

    /// A process started for a test, killed and reaped whatever the test does.
    struct Started(Child);

    impl Drop for Started {
        fn drop(&mut self) {
            let _ignored = self.0.kill();
            let _reaped = self.0.wait();
        }
    }

    fn measure(script: &str) -> (f64, Source) {
        let started = Started(
            Command::new("sh")
                .arg("-c")
                .arg(script)
                .spawn()
                .expect("sh runs"),
        );
        let clock = CpuClock::new(started.0.id()).expect("a live process has CPU time");
        let start = clock.sample().unwrap();
        thread::sleep(Duration::from_millis(800));
        let end = clock.sample().unwrap();
        (percent(start, end).unwrap(), clock.source())
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn a_sleeping_process_uses_nothing() {
        let (pct, source) = measure("exec sleep 3");
        assert!(pct < 5.0, "{pct} % by {}", source.name());
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn a_spinning_process_uses_one_core() {
        let (pct, source) = measure("while :; do :; done");
        // A busy host (parallel tests, builds) may take most of the core away from it: the
        // point is that spinning reads as running, far above an idle process's ~0 %, and
        // never as more than one core.
        assert!((5.0..=110.0).contains(&pct), "{pct} % by {}", source.name());
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn a_missing_process_is_an_error() {
        // Pid numbers stop well below this (pid_max is at most 2^22).
        assert!(CpuClock::new(u32::MAX - 1).is_err());
    }
}
