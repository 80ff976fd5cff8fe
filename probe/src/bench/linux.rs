//! The Linux baseline of the benchmarks: the workloads probe runs in a Linux guest (see
//! `crate::linux`) and readers for what they print.
//!
//! `threads`: a static C benchmark (`probe/linux/threads.c`, compiled on the host) that
//! prints a table of thread costs. `idle`: busybox httpd listening on a forwarded port and
//! nothing else, for the host CPU an idle guest costs. `disk`: a static C program
//! (`probe/linux/disk.c`) that measures `/dev/vda` as the example `bench_disk` measures
//! its disk and prints the same `DISK` lines.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::bench::with_console;
use crate::board::Board;
use crate::children;
use crate::disk::Bus;
use crate::exit::GuestExit;
use crate::linux::{
    self, BEGIN, END, GuestFile, Image, Kernel, Machine, Request, Scratch, Skipped, VFAT_MODULES,
    Workload,
};

/// The C source of the threads benchmark, compiled on the host at bench time.
const THREADS_C: &str = include_str!("../../linux/threads.c");
/// Where the compiled benchmark goes in the guest.
const THREADS_BIN: &str = "/bin/threads";
/// The C source of the disk benchmark.
const DISK_C: &str = include_str!("../../linux/disk.c");
/// Where it goes in the guest.
const DISK_BIN: &str = "/bin/disk";

/// The C source of the file benchmark.
const FILES_C: &str = include_str!("../../linux/files.c");
/// Where it goes in the guest.
const FILES_BIN: &str = "/bin/files";

/// The C source of the network benchmark's servers.
const NET_C: &str = include_str!("../../linux/net.c");
/// Where they go in the guest.
const NET_BIN: &str = "/bin/bench_net";
/// The ports of the network benchmark's servers, in both guests: sink, source, echo.
pub(crate) const NET_PORTS: [u16; 3] = [5001, 5002, 5003];
/// What both guests print once the servers listen.
pub(crate) const NET_READY: &str = "BENCH-NET-READY";

/// The threads baseline as the guest printed it.
#[derive(Debug, PartialEq)]
pub(crate) struct ThreadsBaseline {
    /// Each metric's median in ns per operation; `None` where the guest had too few CPUs.
    pub(crate) medians: Vec<(String, Option<f64>)>,
    /// The benchmark's `#` lines, then what probe adds: kernel, machine, wall time.
    pub(crate) notes: Vec<String>,
}

impl ThreadsBaseline {
    pub(crate) fn median(&self, metric: &str) -> Option<f64> {
        self.medians
            .iter()
            .find(|(name, _)| name == metric)
            .and_then(|(_, median)| *median)
    }
}

/// Checks the prerequisites, compiles the benchmark and builds the guest for `board`.
pub(crate) fn threads_image(board: Board, kernel: Option<&Path>) -> Result<Image, Skipped> {
    let microvm = board == Board::Microvm;
    let (checked, binary) = c_benchmark(kernel, microvm, "threads", THREADS_C, THREADS_BIN)?;
    let workload = Workload {
        command: THREADS_BIN.to_owned(),
        files: vec![binary],
        ports: Vec::new(),
        disks: Vec::new(),
        disk_bus: Bus::Virtio,
        modules: Vec::new(),
    };
    Image::build(&checked, microvm, &workload).map_err(Skipped::Failed)
}

/// Checks the prerequisites, compiles the disk benchmark and builds the guest for
/// `boards`, with `disk` as its `/dev/vda`.
pub(crate) fn disk_image(
    boards: &[Board],
    kernel: Option<&Path>,
    disk: &Path,
) -> Result<Image, Skipped> {
    let microvm = boards.contains(&Board::Microvm);
    let (checked, binary) = c_benchmark(kernel, microvm, "disk", DISK_C, DISK_BIN)?;
    let workload = Workload {
        command: DISK_BIN.to_owned(),
        files: vec![binary],
        ports: Vec::new(),
        disks: vec![disk.to_path_buf()],
        disk_bus: Bus::Virtio,
        modules: Vec::new(),
    };
    Image::build(&checked, microvm, &workload).map_err(Skipped::Failed)
}

/// Checks the prerequisites, compiles the network benchmark's servers and builds the guest
/// for `boards`, the servers' ports forwarded.
pub(crate) fn net_image(boards: &[Board], kernel: Option<&Path>) -> Result<Image, Skipped> {
    let microvm = boards.contains(&Board::Microvm);
    let (checked, binary) = c_benchmark(kernel, microvm, "bench_net", NET_C, NET_BIN)?;
    let workload = Workload {
        command: NET_BIN.to_owned(),
        files: vec![binary],
        ports: NET_PORTS.to_vec(),
        disks: Vec::new(),
        disk_bus: Bus::Virtio,
        modules: Vec::new(),
    };
    Image::build(&checked, microvm, &workload).map_err(Skipped::Failed)
}

/// Checks the prerequisites, compiles the file benchmark and builds the guest for `board`,
/// with the FAT image `disk` on the disk Novillo's file benchmark uses there (virtio on
/// microvm, IDE on the PC), mounted as vfat.
pub(crate) fn files_image(
    board: Board,
    kernel: Option<&Path>,
    disk: &Path,
) -> Result<Image, Skipped> {
    let microvm = board == Board::Microvm;
    let (checked, binary) = c_benchmark(kernel, microvm, "files", FILES_C, FILES_BIN)?;
    let (bus, device) = files_disk(board);
    let workload = Workload {
        command: format!("mkdir -p /mnt && mount -t vfat {device} /mnt && {FILES_BIN} /mnt"),
        files: vec![binary],
        ports: Vec::new(),
        disks: vec![disk.to_path_buf()],
        disk_bus: bus,
        modules: VFAT_MODULES.to_vec(),
    };
    Image::build(&checked, microvm, &workload).map_err(Skipped::Failed)
}

/// The bus the file benchmark's disk is on for `board`, and its name in a Linux guest.
pub(crate) fn files_disk(board: Board) -> (Bus, &'static str) {
    match board {
        Board::Microvm => (Bus::Virtio, "/dev/vda"),
        Board::QemuPc => (Bus::Ide, "/dev/sda"),
    }
}

/// Checks the prerequisites of a Linux guest (for microvm too when `microvm`) that runs a
/// static C benchmark, and compiles the benchmark `name` to the guest file `path`.
fn c_benchmark(
    kernel: Option<&Path>,
    microvm: bool,
    name: &str,
    text: &str,
    path: &str,
) -> Result<(Kernel, GuestFile), Skipped> {
    let checked = linux::check(Request {
        kernel,
        microvm,
        static_c: true,
    })?;
    let contents = compile(name, text).map_err(Skipped::Failed)?;
    let binary = GuestFile {
        path: path.to_owned(),
        contents,
        executable: true,
    };
    Ok((checked, binary))
}

/// `gcc -static -O2 -pthread` of the benchmark `name`, in a scratch directory.
fn compile(name: &str, text: &str) -> Result<Vec<u8>, String> {
    let scratch = Scratch::new(name)?;
    let source = scratch.path().join(format!("{name}.c"));
    let binary = scratch.path().join(name);
    std::fs::write(&source, text)
        .map_err(|err| format!("cannot write {}: {err}", source.display()))?;
    // gcc ends with probe, as every child probe starts does.
    let output = children::output(
        Command::new("gcc")
            .args(["-static", "-O2", "-pthread", "-o"])
            .arg(&binary)
            .arg(&source),
    )
    .map_err(|err| format!("cannot run gcc: {err}"))?;
    if !output.status.success() {
        return Err(format!(
            "gcc could not compile the {name} benchmark: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    std::fs::read(&binary).map_err(|err| format!("cannot read {}: {err}", binary.display()))
}

/// Boots the threads guest on `machine` and reads its table.
pub(crate) fn threads(
    image: &Image,
    machine: Machine<'_>,
    timeout: Option<Duration>,
) -> Result<ThreadsBaseline, Skipped> {
    let finished = run_workload(image, machine, timeout)?;
    let failed = |message: String| Skipped::Failed(message);
    let mut baseline = parse_threads(&finished.text)
        .map_err(|message| failed(with_console(message, &finished.console)))?;
    baseline.notes.push(format!(
        "kernel {} ({}, {}) | machine={} smp={} accel={} mem={} cpu={}",
        finished.release,
        image.kernel_path.display(),
        image.boot_kind(machine.board),
        machine.board,
        machine.smp,
        machine.accel,
        machine.mem,
        machine
            .accel
            .qemu_args()
            .last()
            .copied()
            .unwrap_or("default"),
    ));
    baseline
        .notes
        .push(format!("kernel command line: {}", finished.cmdline));
    baseline.notes.extend(image.notes.iter().cloned());
    baseline.notes.push(format!(
        "wall: QEMU start to power-off {:.1} s",
        finished.elapsed.as_secs_f64()
    ));
    Ok(baseline)
}

/// What a workload that ran to its end printed.
#[derive(Debug)]
pub(crate) struct Finished {
    /// Between `/init`'s markers.
    pub(crate) text: String,
    /// The guest kernel's release.
    pub(crate) release: String,
    /// The whole console, for messages.
    pub(crate) console: Vec<u8>,
    pub(crate) cmdline: String,
    /// QEMU start to power-off.
    pub(crate) elapsed: Duration,
}

/// Boots the guest on `machine` and waits for its workload to end with status 0.
pub(crate) fn run_workload(
    image: &Image,
    machine: Machine<'_>,
    timeout: Option<Duration>,
) -> Result<Finished, Skipped> {
    println!(
        "probe: Linux baseline: kernel {} ({}) on {} with smp {} under {}",
        image.version,
        image.boot_kind(machine.board),
        machine.board,
        machine.smp,
        machine.accel
    );
    let failed = |message: String| Skipped::Failed(message);
    let guest = image
        .boot(machine, timeout)
        .map_err(|err| failed(err.message()))?;
    let cmdline = guest.cmdline.clone();
    let outcome = guest
        .running
        .finish()
        .map_err(|err| failed(err.message()))?;
    let console = String::from_utf8_lossy(&outcome.console);
    let Some(output) = workload_output(&console) else {
        return Err(failed(with_console(
            format!(
                "the Linux guest ended with {} before its benchmark finished",
                outcome.exit
            ),
            &outcome.console,
        )));
    };
    if matches!(outcome.exit, GuestExit::TimedOut(_)) || output.status != Some(0) {
        return Err(failed(with_console(
            format!(
                "the Linux benchmark did not finish cleanly (exit {}, guest {})",
                output
                    .status
                    .map_or_else(|| "unknown".to_owned(), |status| status.to_string()),
                outcome.exit
            ),
            &outcome.console,
        )));
    }
    Ok(Finished {
        text: output.text.to_owned(),
        release: output.release.to_owned(),
        cmdline,
        elapsed: outcome.elapsed,
        console: outcome.console,
    })
}

/// What the workload printed between `/init`'s markers.
#[derive(Debug, PartialEq, Eq)]
struct WorkloadOutput<'a> {
    /// The guest kernel's release, from the `BEGIN` line.
    release: &'a str,
    text: &'a str,
    /// The workload's exit status from the `END` line; `None` if it never ended.
    status: Option<i32>,
}

/// Finds the workload's output in the console; `None` if `/init` never started it.
fn workload_output(console: &str) -> Option<WorkloadOutput<'_>> {
    let begin = console.find(BEGIN)?;
    let after = &console[begin + BEGIN.len()..];
    let (release, rest) = after.split_once('\n').unwrap_or((after, ""));
    let (text, status) = match rest.find(END) {
        Some(end) => {
            let status = rest[end + END.len()..]
                .trim_start()
                .strip_prefix("rc=")
                .and_then(|tail| tail.split_whitespace().next())
                .and_then(|code| code.parse().ok());
            (&rest[..end], status)
        }
        None => (rest, None),
    };
    Some(WorkloadOutput {
        release: release.trim(),
        text,
        status,
    })
}

/// Reads the benchmark's table: `#` notes, a `name median_ns min_ns max_ns iterations`
/// header, one row per metric (`n/a` where it needs more CPUs), then `DONE`.
pub(crate) fn parse_threads(stdout: &str) -> Result<ThreadsBaseline, String> {
    let mut baseline = ThreadsBaseline {
        medians: Vec::new(),
        notes: Vec::new(),
    };
    let mut header = false;
    let mut done = false;
    for line in stdout.lines().map(|line| line.trim_end_matches('\r')) {
        if let Some(note) = line.strip_prefix('#') {
            baseline.notes.push(note.trim().to_owned());
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            [] => {}
            ["DONE"] => done = true,
            ["name", "median_ns", ..] => header = true,
            [name, median, _min, _max, _iterations] if header => {
                let median = match *median {
                    "n/a" => None,
                    text => Some(text.parse::<f64>().map_err(|_| {
                        format!("the Linux baseline printed an unreadable row: {line:?}")
                    })?),
                };
                baseline.medians.push(((*name).to_owned(), median));
            }
            // Anything else (a FAIL line, stray console output) is not a row.
            _ => {}
        }
    }
    if !done || baseline.medians.is_empty() {
        return Err("the Linux baseline's output has no result table ending in DONE".to_owned());
    }
    Ok(baseline)
}

/// The Linux metric that measures what a Novillo benchmark measures, if any.
pub(crate) fn threads_counterpart(name: &str) -> Option<&'static str> {
    Some(match name {
        // Two threads on one core handing the CPU to each other.
        "switch" => "ctxsw_yield_same_core",
        "spawn_join_same" => "spawn_join_same_core",
        "spawn_join_other" => "spawn_join_other_core",
        // A message to a thread on another core that blocks for it, and the reply.
        "round_trip" => "roundtrip_condvar_cross",
        "mutex_uncontended" => "mutex_uncontended",
        "mutex_contended" => "mutex_contended_4t",
        _ => return None,
    })
}

/// What the idle guest prints once httpd listens and nothing else will run.
pub(crate) const IDLE_READY: &str = "LINUX-IDLE-READY";
/// The port httpd listens on in the idle guest.
pub(crate) const IDLE_PORT: u16 = 80;
/// The page httpd serves, fetched once through the forwarded port before measuring.
const IDLE_PAGE: &str = "probe idle baseline\n";

/// Checks the prerequisites and builds the idle guest (busybox httpd) for `boards`.
pub(crate) fn idle_image(boards: &[Board], kernel: Option<&Path>) -> Result<Image, Skipped> {
    let microvm = boards.contains(&Board::Microvm);
    let checked = linux::check(Request {
        kernel,
        microvm,
        static_c: false,
    })?;
    // httpd binds and listens before it goes to the background, so READY means serving.
    let workload = Workload {
        command: format!(
            "httpd -p {IDLE_PORT} -h /www\necho {IDLE_READY}\nwhile :; do sleep 3600; done"
        ),
        files: vec![GuestFile {
            path: "/www/index.html".to_owned(),
            contents: IDLE_PAGE.as_bytes().to_vec(),
            executable: false,
        }],
        ports: vec![IDLE_PORT],
        disks: Vec::new(),
        disk_bus: Bus::Virtio,
        modules: Vec::new(),
    };
    Image::build(&checked, microvm, &workload).map_err(Skipped::Failed)
}

/// The first line the boot baseline's workload prints, as `hello` prints its greeting.
pub(crate) const HELLO: &str = "Hello from Linux!";

/// Checks the prerequisites and builds the boot baseline for `boards`: `/init` prints
/// [`HELLO`] and the guest powers off.
pub(crate) fn hello_image(boards: &[Board], kernel: Option<&Path>) -> Result<Image, Skipped> {
    let microvm = boards.contains(&Board::Microvm);
    let checked = linux::check(Request {
        kernel,
        microvm,
        static_c: false,
    })?;
    let workload = Workload {
        command: format!("echo '{HELLO}'"),
        ..Workload::default()
    };
    Image::build(&checked, microvm, &workload).map_err(Skipped::Failed)
}

/// True when the console shows the workload ended with status 0.
pub(crate) fn workload_succeeded(console: &str) -> bool {
    workload_output(console).is_some_and(|output| output.status == Some(0))
}

/// Fetches the idle guest's page through the forwarded `port`, to show the guest serves.
pub(crate) fn check_idle_page(port: u16) -> Result<(), String> {
    let response = http_get(port, "/index.html", Duration::from_secs(10))?;
    check_response(&response, IDLE_PAGE)
}

/// A plain HTTP/1.0 GET to 127.0.0.1:`port`; the whole response, as text.
fn http_get(port: u16, path: &str, limit: Duration) -> Result<String, String> {
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let failed = |err: std::io::Error| format!("GET http://{address}{path} failed: {err}");
    let deadline = Instant::now() + limit;
    let mut stream = TcpStream::connect_timeout(&address, limit).map_err(failed)?;
    stream.set_read_timeout(Some(limit)).map_err(failed)?;
    stream
        .write_all(format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes())
        .map_err(failed)?;
    let mut response = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(len) => response.extend_from_slice(&buffer[..len]),
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
            Err(err) => return Err(failed(err)),
        }
        if Instant::now() > deadline {
            return Err(format!(
                "GET http://{address}{path} took more than {} s",
                limit.as_secs()
            ));
        }
    }
    Ok(String::from_utf8_lossy(&response).into_owned())
}

/// Checks for a `200` status and the expected body.
fn check_response(response: &str, body: &str) -> Result<(), String> {
    let status = response.lines().next().unwrap_or_default();
    let ok = status.starts_with("HTTP/1.") && status.split_whitespace().nth(1) == Some("200");
    if !ok {
        return Err(format!(
            "the guest's web server answered {status:?}, not 200"
        ));
    }
    match response.split_once("\r\n\r\n") {
        Some((_, got)) if got == body => Ok(()),
        _ => Err(format!(
            "the guest's web server sent an unexpected page: {response:?}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::thread;
    use std::time::Duration;

    use super::workload_output;
    use super::{WorkloadOutput, check_response, http_get, parse_threads, threads_counterpart};

    /// What the benchmark printed on the 2-core development machine under TCG.
    const THREADS: &str = "\
# cpus=2 reps=7; ns per op: median/min/max of 7 runs of `iterations` ops
name                         median_ns      min_ns      max_ns iterations
ctxsw_yield_same_core           3656.1      3609.7      3724.4      40000
ctxsw_futex_same_core           7289.8      7175.6      7500.5      40000
ctxsw_condvar_same_core         9343.5      7550.1      9455.2      20000
spawn_join_same_core          179013.7    176313.7    181085.4       2000
spawn_join_other_core         361720.8    297453.7    420884.6        500
roundtrip_condvar_cross       107418.2    105745.4    143624.1        500
roundtrip_pipe_cross          118922.3    116918.6    194435.8        500
mutex_uncontended                 53.4        52.5        53.9    1000000
mutex_contended_4t               148.4       142.2       156.8     400000
DONE
";

    #[test]
    fn reads_the_threads_table() {
        let baseline = parse_threads(THREADS).unwrap();
        assert_eq!(baseline.medians.len(), 9);
        assert_eq!(baseline.median("ctxsw_yield_same_core"), Some(3656.1));
        assert_eq!(baseline.median("mutex_contended_4t"), Some(148.4));
        assert_eq!(baseline.median("nothing"), None);
        assert_eq!(
            baseline.notes,
            ["cpus=2 reps=7; ns per op: median/min/max of 7 runs of `iterations` ops"]
        );
    }

    #[test]
    fn every_counterpart_exists_in_the_benchmark() {
        let baseline = parse_threads(THREADS).unwrap();
        for ours in [
            "switch",
            "spawn_join_same",
            "spawn_join_other",
            "round_trip",
            "mutex_uncontended",
            "mutex_contended",
        ] {
            let theirs = threads_counterpart(ours).unwrap();
            assert!(baseline.median(theirs).is_some(), "{ours} -> {theirs}");
        }
        assert_eq!(threads_counterpart("something_new"), None);
    }

    #[test]
    fn one_cpu_rows_are_not_available() {
        let text = "name median_ns min_ns max_ns iterations\n\
                    spawn_join_other_core n/a n/a n/a 0\n\
                    mutex_uncontended 50.0 49.0 51.0 1000000\nDONE\n";
        let baseline = parse_threads(text).unwrap();
        assert_eq!(
            baseline.medians[0],
            ("spawn_join_other_core".to_owned(), None)
        );
        assert_eq!(baseline.median("spawn_join_other_core"), None);
    }

    #[test]
    fn unfinished_or_garbled_tables_are_errors() {
        assert!(parse_threads("").is_err());
        assert!(parse_threads("name median_ns min_ns max_ns iterations\nDONE\n").is_err());
        let unfinished = THREADS.replace("DONE\n", "");
        assert!(parse_threads(&unfinished).is_err());
        let garbled = THREADS.replace("53.4", "fast");
        assert!(
            parse_threads(&garbled)
                .unwrap_err()
                .contains("unreadable row")
        );
    }

    #[test]
    fn finds_the_workload_between_the_markers() {
        let console = "[    0.5] a kernel warning\n\
                       PROBE-LINUX-BEGIN 6.1.0-56-amd64\r\n\
                       line one\nline two\n\
                       PROBE-LINUX-END rc=3\r\n\
                       [    9.1] reboot: Power down\n";
        assert_eq!(
            workload_output(console),
            Some(WorkloadOutput {
                release: "6.1.0-56-amd64",
                text: "line one\nline two\n",
                status: Some(3),
            })
        );
        let unfinished = workload_output("PROBE-LINUX-BEGIN 6.1\npartial").unwrap();
        assert_eq!(unfinished.text, "partial");
        assert_eq!(unfinished.status, None);
        let garbled = workload_output("PROBE-LINUX-BEGIN 6.1\nPROBE-LINUX-END rc=x\n").unwrap();
        assert_eq!(garbled.status, None);
        assert_eq!(workload_output("Kernel panic - not syncing"), None);
    }

    #[test]
    fn accepts_only_a_200_with_the_page() {
        let page = "probe idle baseline\n";
        let ok = format!("HTTP/1.0 200 OK\r\nContent-Length: 20\r\n\r\n{page}");
        assert_eq!(check_response(&ok, page), Ok(()));
        let missing = "HTTP/1.0 404 Not Found\r\n\r\n404";
        assert!(
            check_response(missing, page)
                .unwrap_err()
                .contains("\"HTTP/1.0 404 Not Found\"")
        );
        assert!(check_response("", page).is_err());
        let other = "HTTP/1.0 200 OK\r\n\r\nsomething else";
        assert!(
            check_response(other, page)
                .unwrap_err()
                .contains("unexpected page")
        );
    }

    #[test]
    fn gets_a_page_from_a_local_server() {
        let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut request = [0u8; 256];
            let len = stream.read(&mut request).unwrap();
            stream.write_all(b"HTTP/1.0 200 OK\r\n\r\nhi").unwrap();
            String::from_utf8_lossy(&request[..len]).into_owned()
        });
        let response = http_get(port, "/x.html", Duration::from_secs(10)).unwrap();
        assert_eq!(response, "HTTP/1.0 200 OK\r\n\r\nhi");
        assert!(
            server
                .join()
                .unwrap()
                .starts_with("GET /x.html HTTP/1.0\r\n")
        );
        // Nobody listens there any more.
        assert!(http_get(port, "/", Duration::from_secs(2)).is_err());
    }
}
