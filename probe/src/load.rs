//! `probe load echo|webserver`: thousands of concurrent TCP connections against a guest, on a
//! tap in probe's private network namespace (root only: QEMU's user networking opens a
//! host socket per guest connection and has limits of its own, which this is not meant to
//! measure).
//!
//! - `echo`: the `echo` example; `--conns` connections are opened (from several threads)
//!   and all held open, then each sends a message of its own and must read it back byte for
//!   byte, with every connection still open; then they all close.
//! - `webserver`: the web server serving `apps/site/`; `flood` runs `--conns` keep-alive
//!   clients and `--slow` slowloris clients for `--seconds`, while a fresh client asks for a
//!   page every second.
//!
//! The guest boots with `stats=1`, so its kernel prints the heap's use and peak every
//! second; the report gives the heap and QEMU's host CPU % idle before the load, under it
//! (echo: with every connection open and idle), and idle again once the connections have
//! closed, and whether the guest survived. Nothing here passes or fails on a number: a run
//! fails only when the guest dies, or the load could not start.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::accel::{Accel, AccelChoice};
use crate::bench;
use crate::bench::cpu_time::{self, CpuClock};
use crate::board::Board;
use crate::cargo::{self, TargetKind};
use crate::disk::Bus;
use crate::flood::{self, Flood};
use crate::guest::{Settings, start_file};
use crate::net::{Backend, NetSpec, Network, Nic, Protocol};
use crate::qemu::{MachineVariant, Running, Waited};
use crate::share::{self, Prepared, Share};

/// What to load.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    Echo,
    Webserver,
}

/// `probe load` as given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LoadOptions {
    pub(crate) target: Target,
    /// Echo: connections; web server: keep-alive clients.
    pub(crate) conns: usize,
    /// Slowloris clients (web server only).
    pub(crate) slow: usize,
    pub(crate) board: Board,
    pub(crate) smp: u32,
    pub(crate) nic: Nic,
    pub(crate) mem: String,
    pub(crate) accel: AccelChoice,
    /// Each idle window, and the web server flood's length.
    pub(crate) seconds: u64,
    /// More words for the guest's command line (`max_conns=20000`).
    pub(crate) guest_args: Vec<String>,
}

/// The most connections `--conns` and `--slow` take together: the namespace's ephemeral
/// ports (32768-60999) are one host address's.
pub(crate) const MAX_CONNS: usize = 28_000;

/// How long the guest gets to boot and listen.
const READY_TIMEOUT: Duration = Duration::from_secs(120);
/// Time after the ready line, and after the connections closed, before an idle window:
/// the guest drops closed connections after its close timeout (30 s) at the latest.
const SETTLE: Duration = Duration::from_secs(3);
/// How long after the close the guest may take to return to its idle cost: past its close
/// timeout (30 s), with room.
const AFTER_CLOSE_LIMIT: Duration = Duration::from_secs(120);
/// How far above the CPU before the load counts as idle again, in percentage points.
const BACK_TO_IDLE_PP: f64 = 0.5;
/// Threads that open and exercise the echo connections.
const CLIENT_THREADS: usize = 32;
/// How long one connection may take to open, and one echo to come back.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
const ECHO_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the guest may go without a stats line.
const STATS_WAIT: Duration = Duration::from_secs(300);
/// How often the connections opened so far are reported.
const PROGRESS_EVERY: usize = 1000;
/// What the kernel prints each second with `stats=1`.
const STATS: &str = "stats: heap ";

/// Runs the load and prints the report; probe's exit code: 0 done, 1 failed.
pub(crate) fn run(options: &LoadOptions) -> u8 {
    match load(options) {
        Ok(()) => 0,
        Err(message) => {
            eprintln!("probe: load: {message}");
            1
        }
    }
}

fn load(options: &LoadOptions) -> Result<(), String> {
    // QEMU inherits the limit; each connection is one descriptor in probe.
    flood::raise_file_limit(options.conns + options.slow + 256)?;
    println!(
        "probe: load {} on {} with smp {}, --mem {}, {} connections{}",
        options.target.name(),
        options.board,
        options.smp,
        options.mem,
        options.conns,
        match options.target {
            Target::Echo => String::new(),
            Target::Webserver =>
                format!(" and {} slow ones for {} s", options.slow, options.seconds),
        }
    );
    let mut args = vec!["stats=1".to_owned()];
    args.extend(options.guest_args.iter().cloned());
    let machine = Machine {
        target: options.target,
        board: options.board,
        smp: options.smp,
        nic: options.nic,
        mem: &options.mem,
        accel: options.accel.resolve()?,
    };
    let Booted {
        mut guest,
        network,
        addr,
        _site,
    } = boot(&machine, &args)?;
    let window = Duration::from_secs(options.seconds);
    std::thread::sleep(SETTLE);
    let before = idle(&mut guest, window)?;
    say(format!("idle before:     {before}"));
    match options.target {
        Target::Echo => {
            let held = network.run_peer(|| echo_all(addr, options.conns))??;
            say(format!(
                "echo:            {} of {} connections open at once, {} echoed byte for byte, \
                 {} failed to connect ({} refusals tried again), {} echoes lost or wrong \
                 (opened in {:.1} s, echoed in {:.1} s)",
                held.streams.len(),
                options.conns,
                held.echoed,
                held.connect_failed,
                held.refused,
                held.lost,
                held.open_time.as_secs_f64(),
                held.exercise_time.as_secs_f64()
            ));
            let open = idle(&mut guest, window)?;
            say(format!(
                "{:<17}{open}",
                format!("{} open idle:", held.streams.len())
            ));
            drop(held);
        }
        Target::Webserver => {
            let flood = Flood {
                addr,
                path: "/".to_owned(),
                keep_alive: options.conns,
                slow: options.slow,
                duration: window,
            };
            let report = network.run_peer(|| flood::run(&flood))??;
            let stats = stats(&mut guest)?;
            say(format!("flood:           {}", report.summary()));
            say(format!("under the flood: {stats}"));
        }
    }
    if !guest.is_running() {
        return Err(dead(guest, "the guest ended under the load"));
    }
    // Back to idle: within the goal of the idle benchmark (0.5 percentage points) of the
    // CPU before the load, measured window after window from the close on.
    let closed = Instant::now();
    let after = loop {
        let after = idle(&mut guest, window)?;
        let since = closed.elapsed().as_secs();
        say(format!("{:<17}{after}", format!("idle +{since} s:")));
        if after.pct <= before.pct + BACK_TO_IDLE_PP {
            break Some(since);
        }
        if closed.elapsed() >= AFTER_CLOSE_LIMIT {
            break None;
        }
    };
    say(match after {
        Some(since) => format!("back to idle:    within {since} s of the close"),
        None => format!(
            "back to idle:    NOT within {} s of the close",
            AFTER_CLOSE_LIMIT.as_secs()
        ),
    });
    let peak = stats(&mut guest)?;
    say(format!("heap peak:       {} KiB", peak.peak_kib));
    let outcome = guest.stop().map_err(|err| err.message())?;
    let console = String::from_utf8_lossy(&outcome.console);
    if let Some(line) = console.lines().find(|line| line.contains("panic")) {
        say(format!("the guest said: {line}"));
    }
    say(format!(
        "host load average at the end: {}",
        load_average().unwrap_or_else(|| "unknown".to_owned())
    ));
    Ok(())
}

impl Target {
    pub(crate) fn parse(text: &str) -> Result<Target, String> {
        match text {
            "echo" => Ok(Target::Echo),
            "webserver" => Ok(Target::Webserver),
            other => Err(format!("probe load: '{other}' is not echo or webserver")),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Target::Echo => "echo",
            Target::Webserver => "webserver",
        }
    }
}

/// One line of the report, printed as soon as it is known.
fn say(line: String) {
    println!("{line}");
}

/// A guest to load.
pub(crate) struct Machine<'a> {
    pub(crate) target: Target,
    pub(crate) board: Board,
    pub(crate) smp: u32,
    pub(crate) nic: Nic,
    pub(crate) mem: &'a str,
    pub(crate) accel: Accel,
}

/// A guest serving in probe's private namespace: its address, and its site's disk (kept
/// until the guest is gone).
pub(crate) struct Booted {
    pub(crate) guest: Running,
    pub(crate) network: Arc<Network>,
    pub(crate) addr: SocketAddr,
    pub(crate) _site: Vec<Prepared>,
}

/// Builds the release image of `machine.target`, boots it with `args` in a private
/// network namespace and waits until it serves.
pub(crate) fn boot(machine: &Machine<'_>, args: &[String]) -> Result<Booted, String> {
    let (elf, ready, port) = build(machine.target, machine.board)?;
    let network = NetSpec {
        backend: Backend::Tap(None),
        nic: machine.nic,
        forwards: Vec::new(),
    }
    .resolve()
    .map_err(|message| {
        format!(
            "{message}\n(loads need the private namespace: QEMU's user networking opens a \
             host socket per guest connection and caps them on its own)"
        )
    })?;
    let site = match machine.target {
        Target::Echo => Vec::new(),
        Target::Webserver => share::prepare(
            machine.board,
            &[Share {
                dir: cargo::workspace_root().join("apps/site"),
                keep: None,
                bytes: None,
                bus: Bus::Virtio,
            }],
            0,
        )?,
    };
    let network = Arc::new(network);
    let settings = Settings {
        qemu: "qemu-system-x86_64".to_owned(),
        accel: machine.accel,
        smp: machine.smp,
        mem: machine.mem.to_owned(),
        tsc_khz: None,
        timeout: None,
        variant: MachineVariant {
            disks: site.iter().map(|prepared| prepared.disk.clone()).collect(),
            net: Some(Arc::clone(&network)),
            ..MachineVariant::default()
        },
    };
    let mut guest = start_file(&settings, &elf, args, false).map_err(|err| err.message())?;
    if guest.wait_for(ready, READY_TIMEOUT) != Waited::Found {
        return Err(dead(guest, &format!("the guest did not print {ready:?}")));
    }
    let addr = network
        .address(Protocol::Tcp, port)
        .ok_or("the guest has no address")?;
    Ok(Booted {
        guest,
        network,
        addr,
        _site: site,
    })
}

/// Builds the release image; returns it, its ready line and its TCP port.
fn build(target: Target, board: Board) -> Result<(PathBuf, &'static str, u16), String> {
    let (kind, name, ready, port) = match target {
        Target::Echo => (TargetKind::Example, "echo", "echo: listening on", 7),
        Target::Webserver => (TargetKind::Bin, "webserver", "webserver: serving", 80),
    };
    Ok((bench::build_release(board, kind, name)?, ready, port))
}

/// The guest's heap, from its latest `stats:` line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct HeapLine {
    used_kib: u64,
    peak_kib: u64,
}

impl std::fmt::Display for HeapLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "heap {} KiB used (peak so far {} KiB)",
            self.used_kib, self.peak_kib
        )
    }
}

/// Reads `stats: heap 812 KiB used, peak 1024 KiB, of 62000 KiB`.
fn heap_line(line: &str) -> Option<HeapLine> {
    let rest = line.trim_end().strip_prefix(STATS)?;
    let (used, rest) = rest.split_once(" KiB used, peak ")?;
    let (peak, _) = rest.split_once(" KiB, of ")?;
    Some(HeapLine {
        used_kib: used.parse().ok()?,
        peak_kib: peak.parse().ok()?,
    })
}

/// The guest's latest heap line, waiting for a new one: it prints one a second, unless its
/// cores are all busy (closing thousands of connections can keep them so for minutes).
fn stats(guest: &mut Running) -> Result<HeapLine, String> {
    let seen = guest.console_so_far().len();
    let deadline = Instant::now() + STATS_WAIT;
    while Instant::now() < deadline && guest.is_running() {
        std::thread::sleep(Duration::from_millis(200));
        let console = guest.console_so_far();
        let fresh = String::from_utf8_lossy(&console[seen.min(console.len())..]).into_owned();
        if let Some(line) = fresh.lines().filter_map(heap_line).next_back() {
            return Ok(line);
        }
    }
    Err(format!(
        "the guest printed no stats line for {} s{}",
        STATS_WAIT.as_secs(),
        tail(guest.console_so_far())
    ))
}

/// The end of a console, for a message.
fn tail(console: &[u8]) -> String {
    let text = String::from_utf8_lossy(console);
    let lines: Vec<&str> = text.lines().collect();
    let last = &lines[lines.len().saturating_sub(20)..];
    format!("; the console ended with:\n    {}", last.join("\n    "))
}

/// QEMU's host CPU % over `window`, and the heap at its end.
fn idle(guest: &mut Running, window: Duration) -> Result<Window, String> {
    let clock = CpuClock::new(guest.pid())?;
    let start = clock.sample()?;
    std::thread::sleep(window);
    let end = clock.sample()?;
    let pct = cpu_time::percent(start, end).ok_or("the window took no time")?;
    let heap = stats(guest)?;
    Ok(Window {
        pct,
        seconds: window.as_secs(),
        heap,
    })
}

/// QEMU's host CPU over a window, and the guest's heap at its end.
struct Window {
    pct: f64,
    seconds: u64,
    heap: HeapLine,
}

impl std::fmt::Display for Window {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "host CPU {:.2} % over {} s, {}",
            self.pct, self.seconds, self.heap
        )
    }
}

/// Says that the guest died, with the end of its console.
fn dead(guest: Running, what: &str) -> String {
    let console = guest
        .stop()
        .map(|outcome| outcome.console)
        .unwrap_or_default();
    format!("{what}{}", tail(&console))
}

fn load_average() -> Option<String> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    Some(
        text.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
    )
}

/// Connections to the echo server, held open.
pub(crate) struct Held {
    pub(crate) streams: Vec<TcpStream>,
    /// Connections that could not be opened at all.
    pub(crate) connect_failed: usize,
    /// Attempts the guest refused (and that were tried again).
    pub(crate) refused: usize,
    /// Connections whose exercise (an echo, a request) passed, and failed.
    pub(crate) echoed: usize,
    pub(crate) lost: usize,
    /// How long opening them all took, and then exercising them.
    pub(crate) open_time: Duration,
    pub(crate) exercise_time: Duration,
}

/// Opens `count` connections to `addr` from [`CLIENT_THREADS`] threads, then, with all of
/// them open, has each echo a message of its own; returns them still open.
pub(crate) fn echo_all(addr: SocketAddr, count: usize) -> Result<Held, String> {
    open_all(addr, count, echo_one)
}

/// Opens `count` connections to the web server at `addr` as [`echo_all`] does, and has each
/// ask for `/` once, keeping the connection alive; returns them still open.
pub(crate) fn keep_alive_all(addr: SocketAddr, count: usize) -> Result<Held, String> {
    open_all(addr, count, get_once)
}

/// Opens `count` connections from [`CLIENT_THREADS`] threads; once all are open, runs
/// `exercise` on each (with its number), counting those it passed.
fn open_all(
    addr: SocketAddr,
    count: usize,
    exercise: fn(&TcpStream, usize) -> std::io::Result<()>,
) -> Result<Held, String> {
    let threads = CLIENT_THREADS.min(count.max(1));
    let started = Instant::now();
    let done = AtomicUsize::new(0);
    let opened: Vec<Opened> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let done = &done;
                scope.spawn(move || {
                    let mut opened = Opened::default();
                    for n in (t..count).step_by(threads) {
                        match connect(addr, &mut opened.refused) {
                            Ok(stream) => opened.streams.push((n, stream)),
                            Err(_) => opened.failed += 1,
                        }
                        let so_far = done.fetch_add(1, Ordering::Relaxed) + 1;
                        if so_far.is_multiple_of(PROGRESS_EVERY) && so_far < count {
                            println!(
                                "probe: load: {so_far} connections tried in {:.1} s",
                                started.elapsed().as_secs_f64()
                            );
                        }
                    }
                    opened
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().unwrap_or_default())
            .collect()
    });
    let open_time = started.elapsed();
    let connect_failed = opened.iter().map(|o| o.failed).sum();
    let refused = opened.iter().map(|o| o.refused).sum();
    let (passed, lost) = std::thread::scope(|scope| {
        let workers: Vec<_> = opened
            .iter()
            .map(|Opened { streams, .. }| {
                scope.spawn(move || {
                    let passed = streams
                        .iter()
                        .filter(|(n, stream)| exercise(stream, *n).is_ok())
                        .count();
                    (passed, streams.len() - passed)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().unwrap_or((0, 0)))
            .fold((0, 0), |(p, l), (passed, lost)| (p + passed, l + lost))
    });
    Ok(Held {
        streams: opened
            .into_iter()
            .flat_map(|o| o.streams.into_iter().map(|(_, stream)| stream))
            .collect(),
        connect_failed,
        refused,
        echoed: passed,
        lost,
        open_time,
        exercise_time: started.elapsed() - open_time,
    })
}

/// One client thread's connections (numbered), and its failures.
#[derive(Default)]
struct Opened {
    streams: Vec<(usize, TcpStream)>,
    failed: usize,
    refused: usize,
}

/// Attempts at one connection the guest refuses before it counts as failed.
const CONNECT_TRIES: usize = 200;
/// The pause after a refusal.
const REFUSED_PAUSE: Duration = Duration::from_millis(20);

/// Opens one connection. The guest refuses a SYN (RST) when it has no listening socket
/// left, i.e. when a burst outran its backlog (`kernel::net::BACKLOG`), where Linux would
/// drop it and let the client send it again: so try again after a pause, counting each
/// refusal in `refused`.
pub(crate) fn connect(addr: SocketAddr, refused: &mut usize) -> std::io::Result<TcpStream> {
    let mut tries = 0;
    loop {
        match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
            Err(e) if e.kind() == ErrorKind::ConnectionRefused && tries < CONNECT_TRIES => {
                *refused += 1;
                tries += 1;
                std::thread::sleep(REFUSED_PAUSE);
            }
            other => return other,
        }
    }
}

/// Asks for `/` keeping the connection alive, and reads the whole 200 answer.
fn get_once(mut stream: &TcpStream, _n: usize) -> std::io::Result<()> {
    stream.set_read_timeout(Some(ECHO_TIMEOUT))?;
    stream.write_all(b"GET / HTTP/1.1\r\nHost: load\r\n\r\n")?;
    let mut head = Vec::new();
    let mut byte = [0];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte)?;
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    let invalid = |what: &str| std::io::Error::new(ErrorKind::InvalidData, what.to_owned());
    if !head.starts_with("http/1.1 200 ") {
        return Err(invalid("not 200"));
    }
    let length = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|value| value.trim().parse::<usize>().ok())
        .ok_or_else(|| invalid("no content-length"))?;
    let mut body = vec![0; length];
    stream.read_exact(&mut body)
}

/// Sends connection `n`'s message and reads it back.
fn echo_one(mut stream: &TcpStream, n: usize) -> std::io::Result<()> {
    let message = format!("connection {n} says hello to the echo server\n");
    stream.set_read_timeout(Some(ECHO_TIMEOUT))?;
    stream.write_all(message.as_bytes())?;
    let mut back = vec![0; message.len()];
    stream.read_exact(&mut back)?;
    if back != message.as_bytes() {
        return Err(std::io::Error::new(ErrorKind::InvalidData, "another echo"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpListener;

    use super::{HeapLine, echo_all, heap_line};

    #[test]
    fn reads_the_kernels_stats_line() {
        assert_eq!(
            heap_line("stats: heap 812 KiB used, peak 1024 KiB, of 62000 KiB\r"),
            Some(HeapLine {
                used_kib: 812,
                peak_kib: 1024
            })
        );
        assert_eq!(heap_line("stats: heap lots used"), None);
        assert_eq!(heap_line("echo: listening on 10.0.2.15:7"), None);
    }

    /// Against an echo server on the host that answers every connection but the third it
    /// accepts, whose echo it turns to upper case.
    #[test]
    fn echo_all_holds_every_connection_and_counts_echoes() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for (n, stream) in listener.incoming().enumerate() {
                let mut stream = stream.unwrap();
                std::thread::spawn(move || {
                    let mut buf = [0; 256];
                    while let Ok(len @ 1..) = stream.read(&mut buf) {
                        if n == 2 {
                            buf.make_ascii_uppercase();
                        }
                        if stream.write_all(&buf[..len]).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        let held = echo_all(addr, 40).unwrap();
        assert_eq!(held.streams.len(), 40);
        assert_eq!(held.connect_failed, 0);
        assert_eq!((held.echoed, held.lost), (39, 1));
    }
}
