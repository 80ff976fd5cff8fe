//! `probe bench http`: static files over HTTP/1.1 under load from the host's `wrk`, through
//! QEMU's user network (`hostfwd` on 127.0.0.1), for each board and CPU count: 1 KiB and
//! 64 KiB files of `apps/site`, 1, 16 and 256 connections, keep-alive on and off
//! (`Connection: close` on every request). Per run: requests/s, MiB/s, median and 99th
//! percentile latency, errors, and QEMU's host CPU seconds per 10,000 requests.
//!
//! Novillo's `webserver` (release build) serves `apps/site` from a FAT volume made as
//! `--share` makes one, on port 80 forwarded to a free host port. With `--baseline linux`,
//! one Linux guest per board and CPU count, booted right after the Novillo guest it is
//! compared with, serves the same files with busybox httpd (port 80) and nginx from
//! Debian's `nginx-light` (port 8080, copied into the initramfs with the libraries `ldd`
//! names), on the same QEMU settings and the same network backend (user networking, a
//! virtio NIC). Each Novillo row gains its requests/s over the best Linux server's in the
//! same mode.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use crate::accel::Accel;
use crate::bench::cpu_time::CpuClock;
use crate::bench::report::{Plot, Table};
use crate::bench::stats::Align::{self, Left, Right};
#[cfg(test)]
use crate::bench::stats::table;
use crate::bench::wrk::{self, Load, Measured};
use crate::bench::{Failure, MEM, build_release, load_command, settings, with_console};
use crate::board::Board;
use crate::cargo::{self, TargetKind};
use crate::children;
use crate::cli::HttpOptions;
use crate::disk::Bus;
use crate::guest::start_file;
use crate::linux::{self, GuestFile, Image, Machine, Request, Skipped, Workload};
use crate::net::{Backend, Forward, NetSpec, Nic, Protocol};
use crate::qemu::{Running, Waited};
use crate::share::{self, Share};

/// The files measured, from the sample site.
const FILES: [(&str, &[u8]); 2] = [
    ("1k.txt", include_bytes!("../../../apps/site/1k.txt")),
    ("64k.txt", include_bytes!("../../../apps/site/64k.txt")),
];
/// Concurrent connections.
const CONNECTIONS: [u32; 3] = [1, 16, 256];
/// What the Linux guest prints once both servers listen.
const LINUX_READY: &str = "LINUX-HTTP-READY";
/// How long the Linux guest gets to boot and start its servers.
const LINUX_READY_TIMEOUT: Duration = Duration::from_secs(120);
/// busybox httpd's port in the Linux guest.
const BUSYBOX_PORT: u16 = 80;
/// nginx's port in the Linux guest.
const NGINX_PORT: u16 = 8080;
/// Where Debian's nginx-light puts nginx.
const NGINX: &str = "/usr/sbin/nginx";
/// nginx as a benchmark would configure it: every core, no access log, sendfile,
/// keep-alive for as long as the client likes.
const NGINX_CONF: &str = "\
user root;
worker_processes auto;
pid /tmp/nginx.pid;
error_log /tmp/nginx-error.log;
events { worker_connections 2048; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 60;
    keepalive_requests 1000000;
    types { text/plain txt; text/html html; }
    client_body_temp_path /tmp/nginx-body;
    proxy_temp_path /tmp/nginx-proxy;
    fastcgi_temp_path /tmp/nginx-fastcgi;
    uwsgi_temp_path /tmp/nginx-uwsgi;
    scgi_temp_path /tmp/nginx-scgi;
    server { listen 8080 reuseport; root /www; }
}
";
/// The `apps` binary measured.
const WEBSERVER: &str = "webserver";
/// The folder it serves, under the workspace.
const SITE: &str = "apps/site";
/// What the web server prints once it listens.
const NOVILLO_READY: &str = "webserver: serving";
/// How long the Novillo guest gets to boot, mount and listen.
const NOVILLO_READY_TIMEOUT: Duration = Duration::from_secs(60);
/// The web server's port in the Novillo guest.
const NOVILLO_PORT: u16 = 80;

/// A server the bench measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Server {
    Novillo,
    Busybox,
    Nginx,
}

impl Server {
    fn name(self) -> &'static str {
        match self {
            Server::Novillo => "Novillo webserver",
            Server::Busybox => "Linux busybox httpd",
            Server::Nginx => "Linux nginx",
        }
    }

    fn port(self) -> u16 {
        match self {
            Server::Novillo => NOVILLO_PORT,
            Server::Busybox => BUSYBOX_PORT,
            Server::Nginx => NGINX_PORT,
        }
    }
}

/// One measured configuration.
#[derive(Debug)]
struct Row {
    board: Board,
    smp: u32,
    server: Server,
    file: &'static str,
    connections: u32,
    keep_alive: bool,
    result: Result<(Measured, Option<f64>), String>,
}

pub(super) fn run(options: &HttpOptions) -> Result<Vec<Table>, Failure> {
    if !wrk::available() {
        return Err(wrk::MISSING.to_owned().into());
    }
    let accel = options.accel.resolve()?;
    let duration = Duration::from_secs(options.seconds);
    let mut notes = vec![format!(
        "Novillo: `{WEBSERVER}` (release) serving {SITE} from a FAT volume on virtio-blk, \
         log=warn; every guest: QEMU user networking (hostfwd on 127.0.0.1), a virtio NIC, \
         {MEM} of memory, accel {accel}"
    )];
    let image = if options.linux {
        match linux_image(&options.boards, options.linux_kernel.as_deref()) {
            Ok(image) => {
                notes.extend(image.notes.iter().cloned());
                Some(image)
            }
            Err(skipped) => {
                skipped.column(&mut notes);
                None
            }
        }
    } else {
        notes.push("add --baseline linux for busybox httpd and nginx".to_owned());
        None
    };
    let mut rows = Vec::new();
    let mut failed = 0;
    for &board in &options.boards {
        let elf = build_release(board, TargetKind::Bin, WEBSERVER);
        for &smp in &options.smp_list {
            let ours = match &elf {
                Ok(elf) => measure_novillo(elf, board, accel, smp, duration, &mut rows),
                Err(message) => Err(message.clone().into()),
            };
            if let Err(failure) = ours {
                eprintln!("probe: {}", failure.message);
                failed += 1;
            }
            let Some(image) = &image else { continue };
            let machine = Machine {
                board,
                accel,
                smp,
                mem: MEM,
            };
            if let Err(failure) = measure_linux(image, machine, duration, &mut rows) {
                eprintln!("probe: {}", failure.message);
            }
        }
    }
    let mut table = Table::from_grid(
        "Static files over HTTP (wrk)",
        &load_command("http", options),
        &HEADER,
        lines(&rows),
    );
    table.ratio = Some(
        "the Novillo row's req/s over the best Linux server's in the same \
         mode: above 1 Novillo serves more"
            .to_owned(),
    );
    table.plot = Some(Plot {
        label: vec![0, 1, 2, 3, 4, 5],
        series: vec![6],
        unit: "requests/s".to_owned(),
    });
    table.notes = notes;
    if failed > 0 {
        print!("{}", table.text());
        return Err(format!("{failed} Novillo web server guests failed (see above)").into());
    }
    Ok(vec![table])
}

/// Boots the web server with the site on its volume, checks that it serves the files,
/// and runs every load against it; QEMU is killed at the end whatever happens.
fn measure_novillo(
    elf: &Path,
    board: Board,
    accel: Accel,
    smp: u32,
    duration: Duration,
    rows: &mut Vec<Row>,
) -> Result<(), Failure> {
    println!("probe: {WEBSERVER} on {board} with smp {smp} under {accel}");
    let site = Share {
        dir: cargo::workspace_root().join(SITE),
        keep: None,
        bytes: None,
        bus: Bus::Virtio,
    };
    let shares = share::prepare(board, &[site], 0)?;
    let network = NetSpec {
        backend: Backend::User,
        nic: Nic::Virtio,
        forwards: vec![Forward {
            protocol: Protocol::Tcp,
            guest_port: NOVILLO_PORT,
        }],
    }
    .resolve()?;
    let port = network
        .forwarded
        .port(Protocol::Tcp, NOVILLO_PORT)
        .ok_or_else(|| "no host port for the web server".to_owned())?;
    let mut settings = settings(accel, smp, None);
    settings.variant.disks = shares.iter().map(|share| share.disk.clone()).collect();
    settings.variant.net = Some(Arc::new(network));
    let mut running = start_file(&settings, elf, &["log=warn".to_owned()], false)?;
    match running.wait_for(NOVILLO_READY, NOVILLO_READY_TIMEOUT) {
        Waited::Found => {}
        Waited::Closed | Waited::TimedOut => {
            let outcome = running.stop()?;
            return Err(with_console(
                format!("{WEBSERVER} did not print '{NOVILLO_READY}'"),
                &outcome.console,
            )
            .into());
        }
    }
    let guest = Guest {
        board,
        smp,
        clock: CpuClock::new(running.pid())?,
        running,
    };
    let result = loads(guest, Server::Novillo, port, duration, rows);
    drop(shares);
    result
}

/// A running guest being measured.
struct Guest {
    board: Board,
    smp: u32,
    clock: CpuClock,
    running: Running,
}

/// Checks that `server` at host `port` serves the files, then runs every load against it;
/// stops the guest at the end.
fn loads(
    mut guest: Guest,
    server: Server,
    port: u16,
    duration: Duration,
    rows: &mut Vec<Row>,
) -> Result<(), Failure> {
    if let Err(message) = fetch_check(port) {
        let outcome = guest.running.stop()?;
        return Err(with_console(format!("{}: {message}", server.name()), &outcome.console).into());
    }
    if !loads_on(&mut guest, server, port, duration, rows) {
        return Err(ended(guest.running, server)?);
    }
    guest.running.stop()?;
    Ok(())
}

/// Every load against `server` at host `port` in `guest`; false if the guest ended.
fn loads_on(
    guest: &mut Guest,
    server: Server,
    port: u16,
    duration: Duration,
    rows: &mut Vec<Row>,
) -> bool {
    for (file, _) in FILES {
        let url = format!("http://127.0.0.1:{port}/{file}");
        for connections in CONNECTIONS {
            for keep_alive in [true, false] {
                let load = Load {
                    url: &url,
                    connections,
                    keep_alive,
                    duration,
                };
                let result = measure(&guest.clock, &load);
                if let Err(message) = &result {
                    eprintln!("probe: {} {file} c={connections}: {message}", server.name());
                }
                rows.push(Row {
                    board: guest.board,
                    smp: guest.smp,
                    server,
                    file,
                    connections,
                    keep_alive,
                    result,
                });
                if !guest.running.is_running() {
                    return false;
                }
            }
        }
    }
    true
}

/// The failure of a guest that ended while `server` was measured.
fn ended(running: Running, server: Server) -> Result<Failure, Failure> {
    let outcome = running.finish()?;
    Ok(with_console(
        format!("the guest of {} ended with {}", server.name(), outcome.exit),
        &outcome.console,
    )
    .into())
}

/// The Linux guest: busybox httpd and nginx serving `/www`, the bench's files in it.
fn linux_image(boards: &[Board], kernel: Option<&Path>) -> Result<Image, Skipped> {
    let microvm = boards.contains(&Board::Microvm);
    let checked = linux::check(Request {
        kernel,
        microvm,
        static_c: false,
    })?;
    let mut files = nginx_files()?;
    files.extend(FILES.iter().map(|(name, contents)| GuestFile {
        path: format!("/www/{name}"),
        contents: contents.to_vec(),
        executable: false,
    }));
    files.push(GuestFile {
        path: "/etc/nginx.conf".to_owned(),
        contents: NGINX_CONF.as_bytes().to_vec(),
        executable: false,
    });
    // nginx looks its user up even as root.
    files.push(GuestFile {
        path: "/etc/passwd".to_owned(),
        contents: b"root:x:0:0:root:/root:/bin/sh\n".to_vec(),
        executable: false,
    });
    files.push(GuestFile {
        path: "/etc/group".to_owned(),
        contents: b"root:x:0:\n".to_vec(),
        executable: false,
    });
    // Both servers bind and listen before they go to the background.
    let command = format!(
        "mkdir -p /var/log/nginx /var/lib/nginx\n\
         httpd -p {BUSYBOX_PORT} -h /www\n\
         /bin/nginx -c /etc/nginx.conf -e /tmp/nginx-error.log || cat /tmp/nginx-error.log\n\
         echo {LINUX_READY}\n\
         while :; do sleep 3600; done"
    );
    let workload = Workload {
        command,
        files,
        ports: vec![BUSYBOX_PORT, NGINX_PORT],
        disks: Vec::new(),
        disk_bus: Bus::Virtio,
        modules: Vec::new(),
    };
    Image::build(&checked, microvm, &workload).map_err(Skipped::Failed)
}

/// nginx and the shared libraries it loads, at the paths `ldd` gives.
fn nginx_files() -> Result<Vec<GuestFile>, Skipped> {
    let missing = || {
        Skipped::Missing(
            "bench http --baseline linux needs nginx: apt-get install nginx-light".to_owned(),
        )
    };
    let binary = std::fs::read(NGINX).map_err(|_| missing())?;
    let output = children::output(Command::new("ldd").arg(NGINX))
        .map_err(|err| Skipped::Failed(format!("cannot run ldd {NGINX}: {err}")))?;
    if !output.status.success() {
        return Err(Skipped::Failed(format!(
            "ldd {NGINX} failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    let mut files = vec![GuestFile {
        path: "/bin/nginx".to_owned(),
        contents: binary,
        executable: true,
    }];
    for library in libraries(&String::from_utf8_lossy(&output.stdout)) {
        let contents = std::fs::read(&library)
            .map_err(|err| Skipped::Failed(format!("cannot read {library}: {err}")))?;
        files.push(GuestFile {
            path: library,
            contents,
            executable: true,
        });
    }
    Ok(files)
}

/// The files `ldd` names: `libc.so.6 => /lib/.../libc.so.6 (0x...)` and the loader's
/// `/lib64/ld-linux-x86-64.so.2 (0x...)`; the vDSO has no file.
fn libraries(ldd: &str) -> Vec<String> {
    ldd.lines()
        .filter_map(|line| {
            let line = line.trim();
            let path = match line.split_once("=>") {
                Some((_, rest)) => rest.trim(),
                None => line,
            };
            let path = path.split_whitespace().next()?;
            path.starts_with('/').then(|| path.to_owned())
        })
        .collect()
}

/// Boots the Linux guest on `machine`, checks that both servers serve the files, and
/// runs every load against each; QEMU is killed at the end whatever happens.
fn measure_linux(
    image: &Image,
    machine: Machine<'_>,
    duration: Duration,
    rows: &mut Vec<Row>,
) -> Result<(), Failure> {
    println!(
        "probe: Linux guest: kernel {} ({}) on {} with smp {} under {}",
        image.version,
        image.boot_kind(machine.board),
        machine.board,
        machine.smp,
        machine.accel
    );
    let booted = image.boot(machine, None)?;
    let ports: Vec<(Server, u16)> = [Server::Busybox, Server::Nginx]
        .into_iter()
        .filter_map(|server| Some((server, booted.host_port(server.port())?)))
        .collect();
    let running = ready(booted.running)?;
    let mut guest = Guest {
        board: machine.board,
        smp: machine.smp,
        clock: CpuClock::new(running.pid())?,
        running,
    };
    for (server, port) in ports {
        if let Err(message) = fetch_check(port) {
            eprintln!("probe: {}: {message}", server.name());
            continue;
        }
        if !loads_on(&mut guest, server, port, duration, rows) {
            return Err(ended(guest.running, server)?);
        }
    }
    guest.running.stop()?;
    Ok(())
}

/// One wrk run, with QEMU's CPU seconds per 10,000 requests over it.
fn measure(clock: &CpuClock, load: &Load<'_>) -> Result<(Measured, Option<f64>), String> {
    let start = clock.sample()?;
    let measured = wrk::run(load)?;
    let end = clock.sample()?;
    let cpu = end.cpu.saturating_sub(start.cpu).as_secs_f64();
    #[expect(
        clippy::cast_precision_loss,
        reason = "request counts stay far below 2^52"
    )]
    let per_10k = (measured.requests > 0).then(|| cpu / measured.requests as f64 * 10_000.0);
    Ok((measured, per_10k))
}

fn ready(mut guest: Running) -> Result<Running, Failure> {
    match guest.wait_for(LINUX_READY, LINUX_READY_TIMEOUT) {
        Waited::Found => Ok(guest),
        Waited::Closed => {
            let outcome = guest.finish()?;
            Err(with_console(
                format!(
                    "the Linux guest ended with {} before printing {LINUX_READY}",
                    outcome.exit
                ),
                &outcome.console,
            )
            .into())
        }
        Waited::TimedOut => {
            let outcome = guest.stop()?;
            Err(with_console(
                format!(
                    "the Linux guest did not print {LINUX_READY} within {} s",
                    LINUX_READY_TIMEOUT.as_secs()
                ),
                &outcome.console,
            )
            .into())
        }
    }
}

/// Fetches each file once through `port` and compares it with the site's copy, so no
/// table row measures a server that answers something else.
fn fetch_check(port: u16) -> Result<(), String> {
    for (file, contents) in FILES {
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let failed = |err: std::io::Error| format!("GET /{file}: {err}");
        let mut stream =
            TcpStream::connect_timeout(&address, Duration::from_secs(10)).map_err(failed)?;
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .map_err(failed)?;
        stream
            .write_all(format!("GET /{file} HTTP/1.0\r\nHost: bench\r\n\r\n").as_bytes())
            .map_err(failed)?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).map_err(failed)?;
        let body = response
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map(|at| &response[at + 4..]);
        if !response.starts_with(b"HTTP/1.") || body != Some(contents) {
            let head = String::from_utf8_lossy(&response[..response.len().min(80)]).into_owned();
            return Err(format!("GET /{file} did not return the file: {head:?}"));
        }
    }
    Ok(())
}

/// The results table: one row per board, CPU count, server, file, connections and mode.
/// The table's columns.
const HEADER: [(&str, Align); 13] = [
    ("board", Left),
    ("smp", Right),
    ("server", Left),
    ("file", Left),
    ("conns", Right),
    ("keep-alive", Left),
    ("req/s", Right),
    ("MiB/s", Right),
    ("median", Right),
    ("p99", Right),
    ("errors", Right),
    ("CPU s/10k req", Right),
    ("x best Linux", Right),
];

/// The requests/s of `row`, if it finished any.
fn rate(row: &Row) -> Option<f64> {
    match &row.result {
        Ok((measured, _)) if measured.requests > 0 => Some(measured.requests_per_second),
        _ => None,
    }
}

/// A Novillo row's requests/s over the best Linux server's in the same mode (board, CPUs,
/// file, connections, keep-alive); `None` for Linux rows or without both figures.
fn ratio(row: &Row, rows: &[Row]) -> Option<f64> {
    if row.server != Server::Novillo {
        return None;
    }
    let best = rows
        .iter()
        .filter(|other| {
            other.server != Server::Novillo
                && other.board == row.board
                && other.smp == row.smp
                && other.file == row.file
                && other.connections == row.connections
                && other.keep_alive == row.keep_alive
        })
        .filter_map(rate)
        .fold(None, |best: Option<f64>, rate| {
            Some(best.map_or(rate, |b| b.max(rate)))
        })?;
    Some(rate(row)? / best)
}

/// The rows of `report`, one per measured configuration.
fn lines(rows: &[Row]) -> Vec<Vec<String>> {
    rows.iter()
        .map(|row| {
            let mut line = vec![
                row.board.to_string(),
                row.smp.to_string(),
                row.server.name().to_owned(),
                row.file.to_owned(),
                row.connections.to_string(),
                if row.keep_alive { "on" } else { "off" }.to_owned(),
            ];
            match &row.result {
                // wrk prints zero latencies when no request finished within the run.
                Ok((measured, _)) if measured.requests == 0 => line.extend(
                    [
                        "0",
                        "0.00",
                        "none done",
                        "",
                        &measured.errors.to_string(),
                        "n/a",
                    ]
                    .map(str::to_owned),
                ),
                Ok((measured, cpu)) => line.extend([
                    format!("{:.0}", measured.requests_per_second),
                    format!("{:.2}", measured.bytes_per_second / (1024.0 * 1024.0)),
                    format_latency(measured.median),
                    format_latency(measured.p99),
                    measured.errors.to_string(),
                    cpu.map_or("n/a".to_owned(), |cpu| format!("{cpu:.2}")),
                ]),
                Err(_) => line.extend(["failed", "", "", "", "", ""].map(str::to_owned)),
            }
            line.push(ratio(row, rows).map_or(String::new(), |ratio| format!("{ratio:.2}")));
            line
        })
        .collect()
}

/// The table as the terminal shows it.
#[cfg(test)]
fn report(rows: &[Row]) -> String {
    table(&HEADER, &lines(rows))
}

fn format_latency(latency: Duration) -> String {
    let ms = latency.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else {
        format!("{ms:.0} ms")
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{FILES, Row, Server, format_latency, libraries, report};
    use crate::bench::wrk::Measured;
    use crate::board::Board;

    #[test]
    fn reads_the_libraries_ldd_names() {
        let ldd = "\tlinux-vdso.so.1 (0x00007ffd)\n\
                   \tlibpcre2-8.so.0 => /lib/x86_64-linux-gnu/libpcre2-8.so.0 (0x00007f11)\n\
                   \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f10)\n\
                   \t/lib64/ld-linux-x86-64.so.2 (0x00007f12)\n";
        assert_eq!(
            libraries(ldd),
            [
                "/lib/x86_64-linux-gnu/libpcre2-8.so.0",
                "/lib/x86_64-linux-gnu/libc.so.6",
                "/lib64/ld-linux-x86-64.so.2"
            ]
        );
    }

    #[test]
    fn the_files_are_the_sizes_the_table_names() {
        assert_eq!(FILES[0].1.len(), 1024);
        assert_eq!(FILES[1].1.len(), 64 * 1024);
    }

    #[test]
    fn one_table_line_per_run() {
        let measured = Measured {
            requests: 1000,
            requests_per_second: 333.3,
            bytes_per_second: 2.0 * 1024.0 * 1024.0,
            median: Duration::from_micros(2_500),
            p99: Duration::from_millis(40),
            errors: 1,
        };
        let rows = [
            Row {
                board: Board::Microvm,
                smp: 1,
                server: Server::Nginx,
                file: "1k.txt",
                connections: 16,
                keep_alive: true,
                result: Ok((measured, Some(1.5))),
            },
            Row {
                board: Board::QemuPc,
                smp: 2,
                server: Server::Busybox,
                file: "64k.txt",
                connections: 256,
                keep_alive: false,
                result: Err("wrk failed".to_owned()),
            },
        ];
        let text = report(&rows);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].contains("req/s"), "{text}");
        let nginx = lines.iter().find(|l| l.contains("Linux nginx")).unwrap();
        for cell in ["333", "2.00", "2.50 ms", "40 ms", "1.50"] {
            assert!(nginx.contains(cell), "{cell} in {nginx}");
        }
        let none = Measured {
            requests: 0,
            median: Duration::ZERO,
            p99: Duration::ZERO,
            ..rows[0].result.as_ref().unwrap().0.clone()
        };
        let idle = [Row {
            result: Ok((none, None)),
            ..Row {
                result: Err(String::new()),
                ..rows[1]
            }
        }];
        assert!(report(&idle).contains("none done"), "{}", report(&idle));
        let busybox = lines.iter().find(|l| l.contains("busybox")).unwrap();
        assert!(busybox.contains("failed"), "{busybox}");
        assert_eq!(format_latency(Duration::from_micros(812)), "0.81 ms");
    }

    #[test]
    fn novillo_rows_are_compared_with_the_best_linux_server_in_their_mode() {
        let measured = |rate: f64| Measured {
            requests: 100,
            requests_per_second: rate,
            bytes_per_second: 1024.0,
            median: Duration::from_millis(1),
            p99: Duration::from_millis(2),
            errors: 0,
        };
        let row = |server, keep_alive, rate| Row {
            board: Board::Microvm,
            smp: 1,
            server,
            file: "1k.txt",
            connections: 16,
            keep_alive,
            result: Ok((measured(rate), None)),
        };
        let rows = [
            row(Server::Novillo, true, 900.0),
            row(Server::Busybox, true, 100.0),
            row(Server::Nginx, true, 300.0),
            row(Server::Novillo, false, 50.0),
            row(Server::Nginx, false, 200.0),
        ];
        let ratio = |index: usize| super::ratio(&rows[index], &rows);
        assert_eq!(ratio(0), Some(3.0));
        assert_eq!(ratio(3), Some(0.25));
        assert_eq!(ratio(2), None);
        assert_eq!(super::ratio(&rows[0], &rows[..1]), None);
        let text = report(&rows);
        let line = text.lines().find(|l| l.contains("Novillo")).unwrap();
        assert!(line.trim_end().ends_with("3.00"), "{line}");
    }
}
