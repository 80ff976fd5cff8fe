//! Serves the files of the first FAT volume over HTTP/1.1: Toro's showcase.
//!
//! Command line: `root=/site` serves that folder (default: the whole volume), `port=8080`
//! listens there (default 80), `max_conns=N` caps open connections (default: by memory,
//! at most 16384; the next one gets 503), `request_timeout=S` gives a request's head S
//! seconds to arrive before 408 (default 10), `idle_timeout=S` how long a kept-alive
//! connection may wait for its next request (default 15). `log=info` logs one line per
//! request.
//!
//! The main thread accepts; each connection gets a thread of its own, placed on the cores
//! in turn, so every core serves. Small files stay in memory after their first request
//! (the page cache a Linux server has): the server never writes the volume, so what it
//! keeps cannot go stale. The HTTP rules live in the `httpd` crate, tested and
//! fuzzed on the host; this file only connects them to `kernel::fs` and `kernel::net`.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use core::fmt;
use core::sync::atomic::{AtomicUsize, Ordering};
use core::time::Duration;

use apps as _;
use httpd::Status;
use httpd::response::{Found, Missing, error};
use httpd::serve::{Clock, Config, Connection, End, Volume, serve};
use kernel::fs;
use kernel::net::{self, Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use kernel::sync::Mutex;
use kernel::thread;
use kernel::time::{Instant, SystemTime, UNIX_EPOCH};

kernel::main!(main);

/// Each connection's thread: `httpd` keeps its buffers on the heap.
const CONNECTION_STACK: usize = 32 * 1024;
/// What one open connection may take of the heap, for the default `max_conns`: its stack,
/// the head and chunk buffers, and the socket's buffers.
const CONNECTION_COST: usize = 256 * 1024;
/// The default's ceiling, whatever the memory; `max_conns=` may go beyond it.
const MAX_CONNECTIONS: usize = 16 * 1024;
/// How long DHCP may take before the server says so and goes on waiting.
const DHCP_WAIT: Duration = Duration::from_secs(10);

static OPEN: AtomicUsize = AtomicUsize::new(0);

/// Files up to this size are kept in memory once read.
const CACHED_FILE: u64 = 64 * 1024;
/// What the kept files may take of the heap in all.
const CACHE_BYTES: usize = 256 * 1024;

/// A file kept in memory: its length is its contents'.
struct Cached {
    modified: Option<u64>,
    bytes: Arc<[u8]>,
}

/// The kept files by path, and the bytes they take.
static CACHE: Mutex<(BTreeMap<String, Cached>, usize)> = Mutex::new((BTreeMap::new(), 0));

fn main() -> Result<(), Error> {
    kernel::system::start_stats();
    let port = match kernel::env::param("port") {
        None => 80,
        Some(port) => port
            .parse()
            .map_err(|_| Error(format!("port={port}: not a port number (1 to 65535)")))?,
    };
    let root = kernel::env::param("root")
        .unwrap_or("/")
        .trim_end_matches('/');
    let root = if root.is_empty() || root.starts_with('/') {
        root.to_string()
    } else {
        format!("/{root}")
    };
    let folder = if root.is_empty() { "/" } else { root.as_str() };
    match fs::metadata(folder) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => return Err(Error(format!("root={folder} is a file, not a folder"))),
        Err(e) => return Err(Error(format!("root={folder}: {e}"))),
    }
    let max = match kernel::env::param("max_conns") {
        Some(n) => n
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| Error(format!("max_conns={n}: not a positive number")))?,
        None => (kernel::system::heap().free / CONNECTION_COST).clamp(4, MAX_CONNECTIONS),
    };
    let defaults = Config::default();
    let request_timeout_ms = seconds_param("request_timeout", 3600, defaults.request_timeout_ms)?;
    // Kept-alive connections may stay idle longer (bench idle holds 1,000 open).
    let idle_timeout_ms = seconds_param("idle_timeout", 86_400, defaults.idle_timeout_ms)?;
    let listener = TcpListener::bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port))
        .map_err(|e| Error(format!("cannot listen on port {port}: {e}")))?;
    let address = match net::wait_for_config(DHCP_WAIT) {
        Ok(config) => config.address.to_string(),
        Err(_) => "(no address from DHCP yet)".to_string(),
    };
    let cores = thread::available_cores();
    kernel::println!(
        "webserver: serving {folder} on http://{address}:{port}/ with {cores} cores, at most {max} connections"
    );
    let config = Config {
        root,
        request_timeout_ms,
        idle_timeout_ms,
        ..defaults
    };
    for (n, accepted) in (0..).zip(listener.incoming()) {
        let stream = match accepted {
            Ok(stream) => stream,
            Err(e) => {
                log::warn!("accept: {e}");
                continue;
            }
        };
        if OPEN.fetch_add(1, Ordering::AcqRel) >= max {
            OPEN.fetch_sub(1, Ordering::AcqRel);
            refuse(&stream);
            continue;
        }
        let config = config.clone();
        let spawned = thread::Builder::new()
            .name("http")
            .core(n % cores)
            .stack_size(CONNECTION_STACK)
            .spawn(move || {
                let mut stream = Stream(stream);
                let peer = stream.0.peer_addr().ok();
                let mut log = |logged: &httpd::serve::Logged<'_>| {
                    if !log::log_enabled!(log::Level::Info) {
                        return;
                    }
                    // A request refused before it was parsed shows as "-".
                    let request = if logged.method.is_empty() {
                        String::from("-")
                    } else {
                        format!(
                            "{} {}",
                            logged.method,
                            String::from_utf8_lossy(logged.target)
                        )
                    };
                    log::info!(
                        "{} \"{request}\" {} {}",
                        Peer(peer),
                        logged.status.code(),
                        logged.bytes
                    );
                };
                let end = serve(&mut stream, &mut Disk, &config, &Time, &mut log);
                if end == End::DiskFailed {
                    log::warn!("{}: the disk failed while a file was sent", Peer(peer));
                }
                OPEN.fetch_sub(1, Ordering::AcqRel);
            });
        if let Err(e) = spawned {
            OPEN.fetch_sub(1, Ordering::AcqRel);
            log::warn!("no thread for a connection: {e:?}");
        }
    }
    Ok(())
}

/// `name=S` from the command line in milliseconds: whole seconds from 1 to `max`, else
/// `default_ms` when the word is absent.
fn seconds_param(name: &str, max: u64, default_ms: u64) -> Result<u64, Error> {
    match kernel::env::param(name) {
        None => Ok(default_ms),
        Some(s) => s
            .parse::<u64>()
            .ok()
            .filter(|s| (1..=max).contains(s))
            .map(|s| s * 1000)
            .ok_or_else(|| {
                Error(format!(
                    "{name}={s}: not a number of seconds from 1 to {max}"
                ))
            }),
    }
}

/// Answers 503 to a connection over the limit, without letting it hold the accepting
/// thread.
fn refuse(stream: &TcpStream) {
    let now = Time.unix_seconds();
    let mut out = alloc::vec::Vec::new();
    error(Status::ServiceUnavailable, now, false, false, &mut out);
    let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
    let _ = stream.write_all(&out);
}

/// The application's error: what went wrong, in words.
struct Error(String);

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

struct Peer(Option<SocketAddrV4>);

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(peer) => write!(f, "{peer}"),
            None => f.write_str("?"),
        }
    }
}

/// The mounted volume, as `httpd` looks files up, through the cache of small files.
struct Disk;

impl Disk {
    fn cached(path: &str) -> Option<(Option<u64>, Arc<[u8]>)> {
        let cache = CACHE.lock().ok()?;
        let cached = cache.0.get(path)?;
        Some((cached.modified, cached.bytes.clone()))
    }

    /// Reads a small file into the cache while there is room; a failed read keeps it out
    /// (its request then fails as it would have).
    fn keep(path: &str, len: u64, modified: Option<u64>) {
        let Ok(size) = usize::try_from(len) else {
            return;
        };
        if len > CACHED_FILE || CACHE.lock().map_or(true, |c| c.1 + size > CACHE_BYTES) {
            return;
        }
        let Ok(bytes) = fs::read(path) else { return };
        if bytes.len() != size {
            return;
        }
        if let Ok(mut cache) = CACHE.lock()
            && cache.1 + size <= CACHE_BYTES
            && !cache.0.contains_key(path)
        {
            cache.1 += size;
            let bytes: Arc<[u8]> = Arc::from(bytes);
            cache.0.insert(path.to_string(), Cached { modified, bytes });
        }
    }
}

impl Volume for Disk {
    type File = Body;

    fn lookup(&mut self, path: &str) -> Result<Found, Missing> {
        if let Some((modified, bytes)) = Self::cached(path) {
            return Ok(Found::File {
                len: bytes.len() as u64,
                modified,
            });
        }
        match fs::metadata(path) {
            Ok(meta) if meta.is_dir() => Ok(Found::Folder),
            Ok(meta) => {
                let modified = meta
                    .modified()
                    .ok()
                    .and_then(|at| at.duration_since(UNIX_EPOCH).ok())
                    .map(|since| since.as_secs());
                Self::keep(path, meta.len(), modified);
                Ok(Found::File {
                    len: meta.len(),
                    modified,
                })
            }
            Err(e) => Err(missing(path, &e)),
        }
    }

    fn open(&mut self, path: &str) -> Result<Body, Missing> {
        if let Some((_, bytes)) = Self::cached(path) {
            return Ok(Body::Memory { bytes, at: 0 });
        }
        fs::File::open(path)
            .map(Body::Disk)
            .map_err(|e| missing(path, &e))
    }
}

/// An open file: kept in memory, or on the disk.
enum Body {
    Memory { bytes: Arc<[u8]>, at: u64 },
    Disk(fs::File),
}

impl embedded_io::ErrorType for Body {
    type Error = fs::Error;
}

impl embedded_io::Read for Body {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, fs::Error> {
        match self {
            Body::Memory { bytes, at } => {
                let start = usize::try_from(*at).map_or(bytes.len(), |at| at.min(bytes.len()));
                let n = buf.len().min(bytes.len() - start);
                buf[..n].copy_from_slice(&bytes[start..start + n]);
                *at += n as u64;
                Ok(n)
            }
            Body::Disk(file) => file.read(buf),
        }
    }
}

impl embedded_io::Seek for Body {
    fn seek(&mut self, pos: embedded_io::SeekFrom) -> Result<u64, fs::Error> {
        match self {
            Body::Memory { bytes, at } => {
                let new = match pos {
                    embedded_io::SeekFrom::Start(to) => Some(to),
                    embedded_io::SeekFrom::End(by) => (bytes.len() as u64).checked_add_signed(by),
                    embedded_io::SeekFrom::Current(by) => at.checked_add_signed(by),
                };
                *at = new.ok_or(fs::ErrorKind::InvalidInput)?;
                Ok(*at)
            }
            Body::Disk(file) => file.seek(pos),
        }
    }
}

fn missing(path: &str, error: &fs::Error) -> Missing {
    match error.kind() {
        fs::ErrorKind::NotFound | fs::ErrorKind::NotADirectory | fs::ErrorKind::InvalidInput => {
            Missing::NotFound
        }
        _ => {
            log::warn!("{path}: {error}");
            Missing::Failed
        }
    }
}

struct Stream(TcpStream);

impl embedded_io::ErrorType for Stream {
    type Error = net::Error;
}

impl embedded_io::Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, net::Error> {
        self.0.read(buf)
    }
}

impl embedded_io::Write for Stream {
    fn write(&mut self, buf: &[u8]) -> Result<usize, net::Error> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> Result<(), net::Error> {
        Ok(())
    }
}

impl Connection for Stream {
    fn set_read_timeout(&mut self, millis: u64) {
        let _ = self
            .0
            .set_read_timeout(Some(Duration::from_millis(millis.max(1))));
    }
}

struct Time;

impl Clock for Time {
    fn unix_seconds(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs())
    }

    fn millis(&self) -> u64 {
        u64::try_from(Instant::now().since_boot().as_millis()).unwrap_or(u64::MAX)
    }
}
