//! The conformance client against a host instance of the web server's own `httpd` crate:
//! std sockets and files behind httpd's `Connection`, `Volume` and `Clock` traits, serving
//! a temporary copy of `apps/site` with a 16 MiB file added and a file planted beside it.
//! This tests the client, and it is a host integration test of `httpd` over real TCP.

use std::fs;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use embedded_io::{ErrorKind, ErrorType};
use httpd::response::{Found, Missing};
use httpd::serve::{Clock, Config, Connection, Volume, serve};

use super::{LARGE_LEN, Outcome, PLANTED, Site, access_log_problems, check, lay_out, report};

const REQUEST_TIMEOUT: Duration = Duration::from_secs(1);

/// A volume folder laid out by `lay_out`, removed when dropped.
struct Fixture {
    volume: PathBuf,
    site: Site,
}

impl Fixture {
    fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let volume = std::env::temp_dir().join(format!(
            "novillo-http-check-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&volume);
        let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../apps/site");
        let site = lay_out(&sample, &volume, REQUEST_TIMEOUT).unwrap();
        Self { volume, site }
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.volume);
    }
}

struct Stream(TcpStream);

fn kind(error: &std::io::Error) -> ErrorKind {
    match error.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => ErrorKind::TimedOut,
        _ => ErrorKind::Other,
    }
}

impl ErrorType for Stream {
    type Error = ErrorKind;
}

impl embedded_io::Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        self.0.read(buf).map_err(|e| kind(&e))
    }
}

impl embedded_io::Write for Stream {
    fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        self.0.write(buf).map_err(|e| kind(&e))
    }

    fn flush(&mut self) -> Result<(), ErrorKind> {
        self.0.flush().map_err(|e| kind(&e))
    }
}

impl Connection for Stream {
    fn set_read_timeout(&mut self, millis: u64) {
        let _ = self
            .0
            .set_read_timeout(Some(Duration::from_millis(millis.max(1))));
    }
}

/// A host folder as httpd's volume. It joins whatever path httpd asks for, so a path that
/// escaped httpd's checks would reach the planted file.
struct Folder {
    volume: PathBuf,
    /// A volume path whose lookup fails as a disk error would.
    failing: String,
    /// A volume path whose content is served with one byte changed.
    corrupt: Option<String>,
}

impl Folder {
    fn local(&self, path: &str) -> PathBuf {
        self.volume.join(path.trim_start_matches('/'))
    }
}

struct HostFile {
    file: fs::File,
    flip_at: Option<u64>,
    at: u64,
}

impl ErrorType for HostFile {
    type Error = ErrorKind;
}

impl embedded_io::Read for HostFile {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        let n = self.file.read(buf).map_err(|e| kind(&e))?;
        if let Some(flip) = self.flip_at
            && (self.at..self.at + n as u64).contains(&flip)
        {
            let index = usize::try_from(flip - self.at).unwrap();
            buf[index] ^= 1;
        }
        self.at += n as u64;
        Ok(n)
    }
}

impl embedded_io::Seek for HostFile {
    fn seek(&mut self, pos: embedded_io::SeekFrom) -> Result<u64, ErrorKind> {
        let pos = match pos {
            embedded_io::SeekFrom::Start(n) => std::io::SeekFrom::Start(n),
            embedded_io::SeekFrom::End(n) => std::io::SeekFrom::End(n),
            embedded_io::SeekFrom::Current(n) => std::io::SeekFrom::Current(n),
        };
        self.at = std::io::Seek::seek(&mut self.file, pos).map_err(|e| kind(&e))?;
        Ok(self.at)
    }
}

impl Volume for Folder {
    type File = HostFile;

    fn lookup(&mut self, path: &str) -> Result<Found, Missing> {
        if path == self.failing {
            return Err(Missing::Failed);
        }
        let meta = fs::metadata(self.local(path)).map_err(|_| Missing::NotFound)?;
        if meta.is_dir() {
            return Ok(Found::Folder);
        }
        Ok(Found::File {
            len: meta.len(),
            modified: meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map(|since| since.as_secs()),
        })
    }

    fn open(&mut self, path: &str) -> Result<HostFile, Missing> {
        let file = fs::File::open(self.local(path)).map_err(|_| Missing::NotFound)?;
        let flip_at = (self.corrupt.as_deref() == Some(path)).then_some(LARGE_LEN as u64 / 2);
        Ok(HostFile {
            file,
            flip_at,
            at: 0,
        })
    }
}

struct HostClock(Instant);

impl Clock for HostClock {
    fn unix_seconds(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs())
    }

    fn millis(&self) -> u64 {
        u64::try_from(self.0.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

/// Serves `volume`'s `site` folder with httpd on a free port, a thread per connection.
fn start_httpd(volume: &Path, corrupt: Option<&str>) -> SocketAddr {
    start_httpd_with(volume, corrupt, REQUEST_TIMEOUT).0
}

/// The same, with httpd's request timeout `request_timeout`; also returns the access log,
/// one line per request as the guest's web server prints it.
fn start_httpd_with(
    volume: &Path,
    corrupt: Option<&str>,
    request_timeout: Duration,
) -> (SocketAddr, Arc<Mutex<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let access_log = Arc::new(Mutex::new(String::new()));
    let log = access_log.clone();
    let volume = volume.to_path_buf();
    let corrupt = corrupt.map(str::to_string);
    let config = Config {
        root: "/site".into(),
        request_timeout_ms: u64::try_from(request_timeout.as_millis()).unwrap(),
        idle_timeout_ms: 5_000,
        ..Config::default()
    };
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let mut folder = Folder {
                volume: volume.clone(),
                failing: "/site/broken.txt".into(),
                corrupt: corrupt.clone(),
            };
            let config = config.clone();
            let log = log.clone();
            std::thread::spawn(move || {
                let clock = HostClock(Instant::now());
                let mut stream = Stream(stream);
                serve(&mut stream, &mut folder, &config, &clock, &mut |logged| {
                    let line = format!(
                        "[    1.000000] INFO  webserver: 127.0.0.1:1 \"{} {}\" {} {}\n",
                        logged.method,
                        String::from_utf8_lossy(logged.target),
                        logged.status.code(),
                        logged.bytes
                    );
                    log.lock().unwrap().push_str(&line);
                });
                linger(stream.0);
            });
        }
    });
    (addr, access_log)
}

/// Closes as RFC 9112 §9.6 asks: closing with unread request bytes would send a reset that
/// can destroy the answer (a 431 to a 64 KiB header) before the client reads it, so the
/// server stops sending, then reads and drops what still comes for a while.
fn linger(mut stream: TcpStream) {
    let _ = stream.shutdown(Shutdown::Write);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut sink = [0; 4096];
    while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
}

/// A server that answers every request with 200 and the planted file.
fn start_leaky() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut buf = [0; 4096];
                let _ = stream.read(&mut buf);
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    PLANTED.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(PLANTED);
            });
        }
    });
    addr
}

fn failed(outcomes: &[Outcome]) -> Vec<&'static str> {
    outcomes
        .iter()
        .filter(|outcome| outcome.result.is_err())
        .map(|outcome| outcome.name)
        .collect()
}

#[test]
fn httpd_on_the_host_passes_every_check() {
    let fixture = Fixture::new();
    let addr = start_httpd(&fixture.volume, None);
    let outcomes = check(addr, &fixture.site);
    assert_eq!(outcomes.len(), super::CHECKS.len());
    report(&outcomes).unwrap();
}

#[test]
fn one_wrong_byte_in_the_large_file_fails_only_that_check() {
    let fixture = Fixture::new();
    let addr = start_httpd(&fixture.volume, Some("/site/big.bin"));
    let outcomes = check(addr, &fixture.site);
    assert_eq!(failed(&outcomes), ["large file"]);
    let message = outcomes
        .iter()
        .find_map(|outcome| outcome.result.as_ref().err())
        .unwrap();
    let at = LARGE_LEN / 2;
    assert!(
        message.contains(&format!("first difference at byte {at}")),
        "{message}"
    );
}

#[test]
fn a_server_that_leaks_the_planted_file_fails() {
    let fixture = Fixture::new();
    let outcomes = check(start_leaky(), &fixture.site);
    let failed = failed(&outcomes);
    for name in [
        "traversal",
        "404",
        "405 with Allow",
        "304 If-Modified-Since",
    ] {
        assert!(failed.contains(&name), "{name} passed: {failed:?}");
    }
    let traversal = outcomes.iter().find(|o| o.name == "traversal").unwrap();
    assert!(
        traversal
            .result
            .as_ref()
            .unwrap_err()
            .contains("planted file's content"),
        "{traversal:?}"
    );
    assert!(report(&outcomes).is_err());
}

#[test]
fn a_flood_leaves_httpd_answering_and_cuts_the_slow_clients_off() {
    let fixture = Fixture::new();
    let addr = start_httpd(&fixture.volume, None);
    let report = crate::flood::run(&crate::flood::Flood {
        addr,
        path: "/hello.txt".into(),
        keep_alive: 30,
        slow: 30,
        duration: Duration::from_secs(4),
    })
    .unwrap();
    assert_eq!(report.opened, 60, "{report:?}");
    assert_eq!(report.fresh_failed, 0, "{report:?}");
    assert!(report.fresh_ok >= 3, "{report:?}");
    assert_eq!(
        report.timed_out, 30,
        "every slow client gets 408: {report:?}"
    );
    assert!(report.answered >= 30 * 3, "{report:?}");
    assert_eq!(report.refused, 0, "{report:?}");
}

#[test]
fn the_guest_side_checks_a_volume_fill_volume_made() {
    let fixture = Fixture::new();
    let volume = fixture.volume.join("guest");
    super::fill_volume(&volume).unwrap();
    assert_eq!(fs::read(volume.join("secret.txt")).unwrap(), PLANTED);
    assert_eq!(
        fs::metadata(volume.join("site/big.bin")).unwrap().len(),
        LARGE_LEN as u64
    );
    let (addr, log) = start_httpd_with(&volume, None, super::GUEST_REQUEST_TIMEOUT);
    super::check_guest(addr).unwrap();
    // httpd logs every request once, refused ones too.
    let log = log.lock().unwrap().clone();
    assert_eq!(access_log_problems(&log, true), Vec::<String>::new());
    assert!(log.contains("\"GET /big.bin\" 200 16777216\n"), "{log}");
    assert!(log.contains("\" \" 408 0\n"), "{log}");
    assert_eq!(access_log_problems(&log, false).len(), 1);
}

#[test]
fn the_access_log_holds_one_line_per_answer() {
    let line = |target: &str| {
        format!("[    2.5] INFO  webserver: 10.0.2.2:40000 \"GET {target}\" 404 0\n")
    };
    let done = line("/http-check-done?answers=2");
    let two = format!("{}{}", line("/a"), line("/b"));
    let banner = "webserver: serving /site on http://10.0.2.15:80/\n";
    let good = format!("{banner}{two}{done}");
    assert!(access_log_problems(&good, true).is_empty());
    assert!(access_log_problems(banner, false).is_empty());
    assert_eq!(
        access_log_problems(&format!("{two}{}", line("/b")), true),
        ["no access-log line for /http-check-done?answers=N among 3 lines"]
    );
    assert_eq!(
        access_log_problems(&format!("{two}{}{done}", line("/b")), true),
        ["4 access-log lines for 3 requests"]
    );
    assert_eq!(
        access_log_problems(&format!("{}{done}", line("/a")), true),
        ["2 access-log lines for 3 requests"]
    );
    assert_eq!(access_log_problems(&good, false).len(), 1);
}

#[test]
fn http_dates_are_recognised() {
    assert!(super::is_http_date("Sun, 06 Nov 1994 08:49:37 GMT"));
    for bad in [
        "Sunday, 06-Nov-94 08:49:37 GMT",
        "Sun Nov  6 08:49:37 1994",
        "Sun, 6 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "",
    ] {
        assert!(!super::is_http_date(bad), "{bad}");
    }
}
