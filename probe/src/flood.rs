//! Many connections at once against a web server: keep-alive clients that ask for a page
//! now and then and keep their connection open, and slowloris clients that send a header
//! line every second and never finish their request, while a fresh client asks for a page
//! every second. The server passes if the fresh client is always answered; the report says
//! how many connections it held, refused (503) or cut off (408, or closed).
//!
//! All connections live in one thread, non-blocking, so 10,000 of them cost the host file
//! descriptors only (the soft limit is raised to the hard one).

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::load;

/// What to send.
#[derive(Clone, Debug)]
pub(crate) struct Flood {
    pub(crate) addr: SocketAddr,
    /// A path the server serves, for every request.
    pub(crate) path: String,
    pub(crate) keep_alive: usize,
    pub(crate) slow: usize,
    pub(crate) duration: Duration,
}

/// What happened.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Report {
    /// Connections opened (keep-alive and slow).
    pub(crate) opened: usize,
    /// Connections that could not be opened.
    pub(crate) connect_failed: usize,
    /// Attempts the server refused (no listening socket left) and that were made again.
    pub(crate) refused_connects: usize,
    /// Answers with 2xx or 3xx on the keep-alive connections.
    pub(crate) answered: usize,
    /// 503 answers (the server's connection limit).
    pub(crate) refused: usize,
    /// 408 answers to the slow clients.
    pub(crate) timed_out: usize,
    /// Connections the server closed.
    pub(crate) closed: usize,
    /// Fresh requests answered with 200, and those that were not.
    pub(crate) fresh_ok: usize,
    pub(crate) fresh_failed: usize,
    /// The slowest fresh answer.
    pub(crate) fresh_slowest: Duration,
}

impl Report {
    /// One line for people.
    pub(crate) fn summary(&self) -> String {
        format!(
            "{} connections opened ({} failed to connect, {} refusals tried again); {} answers \
             on them, {} refused (503), {} timed out (408), {} closed by the server; fresh \
             requests: {} answered (slowest {} ms), {} not",
            self.opened,
            self.connect_failed,
            self.refused_connects,
            self.answered,
            self.refused,
            self.timed_out,
            self.closed,
            self.fresh_ok,
            self.fresh_slowest.as_millis(),
            self.fresh_failed
        )
    }
}

/// How often keep-alive clients ask again and slow clients trickle.
const TICK: Duration = Duration::from_secs(1);
/// How long a fresh request may take.
const FRESH_TIMEOUT: Duration = Duration::from_secs(10);

struct Client {
    stream: TcpStream,
    slow: bool,
    open: bool,
    /// Bytes received and not yet counted.
    unread: Vec<u8>,
}

/// Runs the flood and says what the server did.
pub(crate) fn run(flood: &Flood) -> Result<Report, String> {
    raise_file_limit(flood.keep_alive + flood.slow + 64)?;
    let request = format!("GET {} HTTP/1.1\r\nHost: flood\r\n\r\n", flood.path);
    let mut report = Report::default();
    let mut clients = Vec::with_capacity(flood.keep_alive + flood.slow);
    for n in 0..flood.keep_alive + flood.slow {
        let slow = n >= flood.keep_alive;
        let Ok(mut stream) = load::connect(flood.addr, &mut report.refused_connects) else {
            report.connect_failed += 1;
            continue;
        };
        let first: &[u8] = if slow {
            b"GET / HTTP/1.1\r\n"
        } else {
            request.as_bytes()
        };
        if stream.write_all(first).is_err() || stream.set_nonblocking(true).is_err() {
            report.connect_failed += 1;
            continue;
        }
        report.opened += 1;
        clients.push(Client {
            stream,
            slow,
            open: true,
            unread: Vec::new(),
        });
    }
    let end = Instant::now() + flood.duration;
    while Instant::now() < end {
        let tick = Instant::now();
        for client in clients.iter_mut().filter(|client| client.open) {
            drain(client, &mut report);
            if !client.open {
                continue;
            }
            let next: &[u8] = if client.slow {
                b"X-Slow: 1\r\n"
            } else {
                request.as_bytes()
            };
            match client.stream.write(next) {
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(_) => close(client, &mut report),
            }
        }
        fresh(flood.addr, &request, &mut report);
        if let Some(left) = TICK.checked_sub(tick.elapsed()) {
            std::thread::sleep(left);
        }
    }
    for client in clients.iter_mut().filter(|client| client.open) {
        drain(client, &mut report);
    }
    Ok(report)
}

/// Reads what the server sent and counts the answers in it.
fn drain(client: &mut Client, report: &mut Report) {
    let mut buf = [0; 16 * 1024];
    loop {
        match client.stream.read(&mut buf) {
            Ok(0) => {
                count(client, report);
                close(client, report);
                return;
            }
            Ok(n) => client.unread.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(_) => {
                count(client, report);
                close(client, report);
                return;
            }
        }
    }
    count(client, report);
}

/// Counts the status lines received; bodies never hold one in what the flood asks for.
fn count(client: &mut Client, report: &mut Report) {
    let text = String::from_utf8_lossy(&client.unread);
    let mut counted = 0;
    for (at, _) in text.match_indices("HTTP/1.1 ") {
        let Some(code) = text.get(at + 9..at + 12) else {
            break;
        };
        match code.as_bytes()[0] {
            b'2' | b'3' => report.answered += 1,
            _ if code == "503" => report.refused += 1,
            _ if code == "408" => report.timed_out += 1,
            _ => {}
        }
        counted = at + 12;
    }
    client.unread.drain(..counted.min(client.unread.len()));
}

fn close(client: &mut Client, report: &mut Report) {
    client.open = false;
    report.closed += 1;
}

/// One fresh connection, one request: answered with 200 within the limit or not.
fn fresh(addr: SocketAddr, request: &str, report: &mut Report) {
    let started = Instant::now();
    let answered = (|| -> std::io::Result<bool> {
        let mut stream = load::connect(addr, &mut report.refused_connects)?;
        stream.set_read_timeout(Some(FRESH_TIMEOUT))?;
        stream.write_all(request.as_bytes())?;
        let mut head = [0; 12];
        stream.read_exact(&mut head)?;
        Ok(&head[9..12] == b"200")
    })();
    if matches!(answered, Ok(true)) {
        report.fresh_ok += 1;
        report.fresh_slowest = report.fresh_slowest.max(started.elapsed());
    } else {
        report.fresh_failed += 1;
    }
}

/// Raises the soft limit on open files to at least `wanted`, within the hard limit.
pub(crate) fn raise_file_limit(wanted: usize) -> Result<(), String> {
    let wanted = libc::rlim_t::try_from(wanted).unwrap_or(libc::rlim_t::MAX);
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit into the value we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(format!(
            "cannot read the open-file limit: {}",
            std::io::Error::last_os_error()
        ));
    }
    if limit.rlim_cur >= wanted {
        return Ok(());
    }
    if limit.rlim_max < wanted {
        return Err(format!(
            "{wanted} connections need as many open files, and the hard limit is {} \
             (raise it with ulimit -Hn as root)",
            limit.rlim_max
        ));
    }
    limit.rlim_cur = wanted;
    // SAFETY: setrlimit reads one rlimit from the value we own.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
        return Err(format!(
            "cannot raise the open-file limit to {wanted}: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}
