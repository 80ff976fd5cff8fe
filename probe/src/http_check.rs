//! A host-side HTTP/1.1 conformance client for the web server: given the server's address
//! and a host copy of the folder it serves, [`check`] sends the requests of issue 10 and
//! says which answers are wrong.
//!
//! It checks every status the server gives (200, 206, 304, 400, 404, 405 with `Allow`, 408,
//! 413, 414, 431, 416, 505, and 500 when the site names a path the disk fails on), the
//! `Date`, `Last-Modified`, `Content-Type`, `Content-Length` and `Connection` headers,
//! byte-exact bodies (a large file too), pipelining, keep-alive, ranges, and a list of
//! traversal attempts that must all get 400 or 404 without the planted file's content ever
//! appearing. It knows nothing of the server's code: what it expects comes from the RFCs and
//! the files on the host.

use std::cell::Cell;
use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::net::{Network, Protocol};
use crate::suite::AfterRun;

/// What the server serves, as the client checks it.
#[derive(Clone, Debug)]
pub(crate) struct Site {
    /// A host copy of the served folder (the server's `root=`).
    pub(crate) folder: PathBuf,
    /// A large file in it, checked byte for byte (`/big.bin`), if there is one.
    pub(crate) large: Option<String>,
    /// The name of a file in the served folder's parent, outside what is served.
    pub(crate) planted_name: String,
    /// That file's content, which no answer may contain.
    pub(crate) planted: Vec<u8>,
    /// A path the disk fails to read, which must get 500, if the test arranged one.
    pub(crate) failing: Option<String>,
    /// How long the server gives a request's head before 408.
    pub(crate) request_timeout: Duration,
}

/// The name of the file [`lay_out`] plants beside the served folder.
pub(crate) const PLANTED_NAME: &str = "secret.txt";
/// Its content, which no answer may contain.
pub(crate) const PLANTED: &[u8] = b"PLANTED-OUTSIDE-THE-ROOT 7f3a9c0e5b2d\n";
/// The file [`lay_out`] adds to the site for the disk to fail on: the guest case makes
/// reading its first sector fail (QEMU's blkdebug), finding the sector by this content.
pub(crate) const BROKEN_NAME: &str = "broken.txt";
/// Its content: found at a sector's start nowhere else on the volume.
pub(crate) const BROKEN: &[u8] = b"THE-DISK-FAILS-ON-THIS-SECTOR 91c4e2a7\n";
/// The large file [`lay_out`] adds to the site, checked byte for byte.
pub(crate) const LARGE_NAME: &str = "big.bin";
/// Its length: 16 MiB, as the issue asks.
pub(crate) const LARGE_LEN: usize = 16 * 1024 * 1024;

/// Lays out a volume for the checks in the empty folder `volume`: `site/`, a copy of the
/// sample site `sample` with the large file and the file the disk fails on added, and the
/// planted file beside it. The server serves `site` (`root=/site`); the returned `Site`
/// says what the client expects.
pub(crate) fn lay_out(
    sample: &Path,
    volume: &Path,
    request_timeout: Duration,
) -> Result<Site, String> {
    let site = volume.join("site");
    copy_folder(sample, &site)?;
    let write = |path: PathBuf, bytes: &[u8]| {
        fs::write(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))
    };
    write(site.join(LARGE_NAME), &large_contents())?;
    write(site.join(BROKEN_NAME), BROKEN)?;
    write(volume.join(PLANTED_NAME), PLANTED)?;
    Ok(Site {
        folder: site,
        large: Some(format!("/{LARGE_NAME}")),
        planted_name: PLANTED_NAME.to_owned(),
        planted: PLANTED.to_vec(),
        failing: Some(format!("/{BROKEN_NAME}")),
        request_timeout,
    })
}

/// The sample site in the repository.
fn sample_site() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../apps/site")
}

/// How long the guest's web server gives a request's head: its case passes
/// `request_timeout=1`, so the 408 check takes a second, not the default ten.
pub(crate) const GUEST_REQUEST_TIMEOUT: Duration = Duration::from_secs(1);

/// Fills the folder a guest case's FAT image is made from (a suite's `Fill`): the sample
/// site with the large file under `/site`, the planted file at the root.
pub(crate) fn fill_volume(dir: &Path) -> Result<(), String> {
    lay_out(&sample_site(), dir, GUEST_REQUEST_TIMEOUT).map(drop)
}

/// The guest cases' host peer: the checks against the web server behind the forwarded
/// port 80.
pub(crate) fn guest_peer(network: &Network) -> Result<(), String> {
    let server = network
        .address(Protocol::Tcp, 80)
        .ok_or("tcp:80 is not forwarded")?;
    check_guest(server)
}

/// The host side of the guest case: runs every check against the web server at `addr`,
/// which serves `root=/site` of a volume [`fill_volume`] made, and says which failed. The
/// expected files come from a fresh layout of the same content in a scratch folder.
pub(crate) fn check_guest(addr: SocketAddr) -> Result<(), String> {
    let scratch = std::env::temp_dir().join(format!("probe-http-check-{}", std::process::id()));
    let _ = fs::remove_dir_all(&scratch);
    let result = lay_out(&sample_site(), &scratch, GUEST_REQUEST_TIMEOUT)
        .and_then(|site| report(&check(addr, &site)));
    let _ = fs::remove_dir_all(&scratch);
    result
}

fn copy_folder(from: &Path, to: &Path) -> Result<(), String> {
    let failed = |path: &Path, e: std::io::Error| format!("{}: {e}", path.display());
    fs::create_dir_all(to).map_err(|e| failed(to, e))?;
    for entry in fs::read_dir(from).map_err(|e| failed(from, e))? {
        let entry = entry.map_err(|e| failed(from, e))?;
        let (source, target) = (entry.path(), to.join(entry.file_name()));
        if entry.file_type().map_err(|e| failed(&source, e))?.is_dir() {
            copy_folder(&source, &target)?;
        } else {
            fs::copy(&source, &target).map_err(|e| failed(&source, e))?;
        }
    }
    Ok(())
}

/// The large file: 16 MiB in which no shifted or repeated copy of itself matches
/// (xorshift), so a misplaced chunk shows.
pub(crate) fn large_contents() -> Vec<u8> {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    (0..LARGE_LEN)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[3]
        })
        .collect()
}

/// The verdict on one check.
#[derive(Debug)]
pub(crate) struct Outcome {
    /// What was checked.
    pub(crate) name: &'static str,
    /// `Err` says what was wrong.
    pub(crate) result: Result<(), String>,
}

type Check = fn(&Client<'_>) -> Result<(), String>;

const CHECKS: &[(&str, Check)] = &[
    ("small files", small_files),
    ("folder index", folder_index),
    ("HEAD", head),
    ("large file", large_file),
    ("304 If-Modified-Since", not_modified),
    ("206 Range", ranges),
    ("416 Range past the end", range_past_end),
    ("404", not_found),
    ("405 with Allow", method_not_allowed),
    ("400 malformed", bad_request),
    ("505 version", version),
    ("408 slow request", slow_request),
    ("413 body too large", body_too_large),
    ("414 URI too long", uri_too_long),
    ("431 headers too large", headers_too_large),
    ("pipelining", pipelining),
    ("keep-alive and close", keep_alive),
    ("traversal", traversal),
    ("500 disk error", disk_error),
    ("answers counted", answers_counted),
];

/// Runs every check against the server at `addr`; one outcome per check, in order.
pub(crate) fn check(addr: SocketAddr, site: &Site) -> Vec<Outcome> {
    let client = Client {
        addr,
        site,
        answers: Cell::new(0),
    };
    CHECKS
        .iter()
        .map(|(name, check)| Outcome {
            name,
            result: check(&client),
        })
        .collect()
}

/// How long one read may wait: a 16 MiB file through QEMU's user network under TCG is slow.
const READ_TIMEOUT: Duration = Duration::from_secs(60);

struct Client<'a> {
    addr: SocketAddr,
    site: &'a Site,
    /// The responses received so far: one access-log line each.
    answers: Cell<usize>,
}

impl Client<'_> {
    fn connect(&self) -> Result<Conn<'_>, String> {
        let stream = TcpStream::connect_timeout(&self.addr, Duration::from_secs(10))
            .map_err(|e| format!("connect to {}: {e}", self.addr))?;
        stream
            .set_read_timeout(Some(READ_TIMEOUT))
            .map_err(|e| e.to_string())?;
        let _ = stream.set_nodelay(true);
        Ok(Conn {
            stream,
            pending: Vec::new(),
            raw: Vec::new(),
            answers: &self.answers,
        })
    }

    /// The host copy of the file at `path` (a path from the served folder's root).
    fn file(&self, path: &str) -> Result<Vec<u8>, String> {
        let local = self.site.folder.join(path.trim_start_matches('/'));
        fs::read(&local).map_err(|e| format!("{}: {e}", local.display()))
    }

    /// Sends `request` on a new connection and reads one response.
    fn ask(&self, request: &[u8], head_only: bool) -> Result<Response, String> {
        let mut conn = self.connect()?;
        conn.send(request)?;
        conn.response(head_only)
    }

    fn get(&self, path: &str, extra: &str) -> Result<Response, String> {
        self.ask(
            format!("GET {path} HTTP/1.1\r\nHost: novillo\r\n{extra}\r\n").as_bytes(),
            false,
        )
    }
}

struct Conn<'a> {
    stream: TcpStream,
    /// Bytes read past the last response.
    pending: Vec<u8>,
    /// Every byte received, for the traversal check.
    raw: Vec<u8>,
    /// The client's count of responses.
    answers: &'a Cell<usize>,
}

impl Conn<'_> {
    fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.stream
            .write_all(bytes)
            .map_err(|e| format!("send: {e}"))
    }

    /// Reads more bytes into `pending`; `Ok(false)` when the server closed.
    fn fill(&mut self) -> Result<bool, String> {
        let mut buf = [0; 64 * 1024];
        let n = self.stream.read(&mut buf).map_err(|e| match e.kind() {
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
                format!("no answer within {READ_TIMEOUT:?}")
            }
            _ => format!("receive: {e}"),
        })?;
        self.pending.extend_from_slice(&buf[..n]);
        self.raw.extend_from_slice(&buf[..n]);
        Ok(n > 0)
    }

    /// Reads one response; `head_only` for the answer to `HEAD`, which has no body.
    fn response(&mut self, head_only: bool) -> Result<Response, String> {
        let head_end = loop {
            if let Some(at) = find(&self.pending, b"\r\n\r\n") {
                break at + 4;
            }
            if !self.fill()? {
                return Err(if self.pending.is_empty() {
                    "closed without an answer".into()
                } else {
                    format!(
                        "closed in the middle of a head: {:?}",
                        String::from_utf8_lossy(&self.pending)
                    )
                });
            }
        };
        let head: Vec<u8> = self.pending.drain(..head_end).collect();
        self.answers.set(self.answers.get() + 1);
        let mut response = Response::parse(&head)?;
        let len = match response.header("content-length") {
            Some(value) => Some(
                value
                    .parse::<usize>()
                    .map_err(|_| format!("Content-Length: {value:?}"))?,
            ),
            None => None,
        };
        if head_only || response.status == 304 {
            return Ok(response);
        }
        match len {
            Some(len) => {
                while self.pending.len() < len {
                    if !self.fill()? {
                        return Err(format!(
                            "{}: closed after {} of {len} body bytes",
                            response.status,
                            self.pending.len()
                        ));
                    }
                }
                response.body = self.pending.drain(..len).collect();
            }
            None => {
                while self.fill()? {}
                response.body = std::mem::take(&mut self.pending);
            }
        }
        Ok(response)
    }

    /// Whether the server closes the connection (rather than sending more) within `wait`.
    fn closes(&mut self, wait: Duration) -> Result<bool, String> {
        self.stream
            .set_read_timeout(Some(wait))
            .map_err(|e| e.to_string())?;
        let mut buf = [0; 256];
        match self.stream.read(&mut buf) {
            Ok(0) => Ok(true),
            Ok(n) => Err(format!(
                "unexpected bytes after the response: {:?}",
                String::from_utf8_lossy(&buf[..n])
            )),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => Ok(true),
            Err(_) => Ok(false),
        }
    }
}

#[derive(Debug)]
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn parse(head: &[u8]) -> Result<Self, String> {
        let text = std::str::from_utf8(head).map_err(|_| "a head that is not UTF-8")?;
        let mut lines = text.trim_end().split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status = status_line
            .strip_prefix("HTTP/1.1 ")
            .and_then(|rest| rest.get(..3))
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| format!("status line {status_line:?}"))?;
        let mut headers = Vec::new();
        for line in lines {
            let (name, value) = line
                .split_once(':')
                .ok_or_else(|| format!("header line {line:?}"))?;
            headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
        }
        Ok(Self {
            status,
            headers,
            body: Vec::new(),
        })
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn expect(&self, status: u16) -> Result<&Self, String> {
        if self.status == status {
            Ok(self)
        } else {
            Err(format!("status {} where {status} was due", self.status))
        }
    }

    fn expect_header(&self, name: &str, want: impl Fn(&str) -> bool) -> Result<&str, String> {
        match self.header(name) {
            Some(value) if want(value) => Ok(value),
            Some(value) => Err(format!("{}: {name}: {value:?}", self.status)),
            None => Err(format!("{}: no {name} header", self.status)),
        }
    }

    /// `Date` is present and an IMF-fixdate.
    fn dated(&self) -> Result<&Self, String> {
        self.expect_header("date", is_http_date)?;
        Ok(self)
    }
}

/// Whether `value` is an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`, RFC 9110 §5.6.7).
fn is_http_date(value: &str) -> bool {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let parts: Vec<&str> = value.split(' ').collect();
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let time = |s: &str| {
        let t: Vec<&str> = s.split(':').collect();
        t.len() == 3 && t.iter().all(|part| digits(part, 2))
    };
    matches!(parts.as_slice(), [day, dd, month, year, hms, "GMT"]
        if day.strip_suffix(',').is_some_and(|d| DAYS.contains(&d))
            && digits(dd, 2)
            && MONTHS.contains(month)
            && digits(year, 4)
            && time(hms))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The media type the server should send for `path`, by extension.
fn media_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html",
        Some("css") => "text/css",
        Some("svg") => "image/svg+xml",
        Some("txt") => "text/plain",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

/// Every file of the sample site that is small enough to fetch many times.
fn small_paths(client: &Client<'_>) -> Result<Vec<String>, String> {
    let mut paths = Vec::new();
    let mut folders = vec![client.site.folder.clone()];
    while let Some(folder) = folders.pop() {
        let entries = fs::read_dir(&folder).map_err(|e| format!("{}: {e}", folder.display()))?;
        for entry in entries {
            let entry = entry.map_err(|e| e.to_string())?;
            let meta = entry.metadata().map_err(|e| e.to_string())?;
            if meta.is_dir() {
                folders.push(entry.path());
            } else if meta.len() <= 64 * 1024 {
                let relative = entry
                    .path()
                    .strip_prefix(&client.site.folder)
                    .map_err(|e| e.to_string())?
                    .to_string_lossy()
                    .into_owned();
                let path = format!("/{relative}");
                if client.site.failing.as_ref() != Some(&path) {
                    paths.push(path);
                }
            }
        }
    }
    paths.sort();
    if paths.is_empty() {
        return Err(format!("no files in {}", client.site.folder.display()));
    }
    Ok(paths)
}

fn body_is(response: &Response, want: &[u8], what: &str) -> Result<(), String> {
    if response.body == want {
        return Ok(());
    }
    let first = response
        .body
        .iter()
        .zip(want)
        .position(|(a, b)| a != b)
        .unwrap_or(response.body.len().min(want.len()));
    Err(format!(
        "{what}: {} bytes received, {} due, first difference at byte {first}",
        response.body.len(),
        want.len()
    ))
}

fn small_files(client: &Client<'_>) -> Result<(), String> {
    for path in small_paths(client)? {
        let want = client.file(&path)?;
        let response = client.get(&path, "")?;
        response
            .expect(200)
            .map_err(|e| format!("{path}: {e}"))?
            .dated()?;
        response.expect_header("content-type", |v| v.starts_with(media_type(&path)))?;
        response.expect_header("content-length", |v| v == want.len().to_string())?;
        response.expect_header("last-modified", is_http_date)?;
        response.expect_header("connection", |v| v.eq_ignore_ascii_case("keep-alive"))?;
        body_is(&response, &want, &path)?;
    }
    Ok(())
}

fn folder_index(client: &Client<'_>) -> Result<(), String> {
    for (path, index) in [("/", "/index.html"), ("/docs/", "/docs/index.html")] {
        let response = client.get(path, "")?;
        response.expect(200).map_err(|e| format!("{path}: {e}"))?;
        response.expect_header("content-type", |v| v.starts_with("text/html"))?;
        body_is(&response, &client.file(index)?, path)?;
    }
    Ok(())
}

fn head(client: &Client<'_>) -> Result<(), String> {
    let want = client.file("/index.html")?;
    let mut conn = client.connect()?;
    // A GET right behind the HEAD shows that the HEAD's answer had no body.
    conn.send(
        b"HEAD /index.html HTTP/1.1\r\nHost: novillo\r\n\r\nGET /hello.txt HTTP/1.1\r\nHost: novillo\r\n\r\n",
    )?;
    let response = conn.response(true)?;
    response.expect(200)?.dated()?;
    response.expect_header("content-length", |v| v == want.len().to_string())?;
    let next = conn.response(false)?;
    next.expect(200)
        .map_err(|e| format!("the GET after a HEAD: {e}"))?;
    body_is(&next, &client.file("/hello.txt")?, "the GET after a HEAD")
}

fn large_file(client: &Client<'_>) -> Result<(), String> {
    let Some(path) = &client.site.large else {
        return Ok(());
    };
    let want = client.file(path)?;
    let started = Instant::now();
    let response = client.get(path, "")?;
    response.expect(200)?;
    response.expect_header("content-length", |v| v == want.len().to_string())?;
    body_is(&response, &want, path)?;
    let seconds = started.elapsed().as_secs_f64();
    eprintln!("http check: {path}: {} bytes in {seconds:.2} s", want.len());
    Ok(())
}

fn not_modified(client: &Client<'_>) -> Result<(), String> {
    let first = client.get("/hello.txt", "")?;
    first.expect(200)?;
    let modified = first.expect_header("last-modified", is_http_date)?;
    let response = client.get("/hello.txt", &format!("If-Modified-Since: {modified}\r\n"))?;
    response.expect(304)?.dated()?;
    if !response.body.is_empty() {
        return Err("304 with a body".into());
    }
    let old = client.get(
        "/hello.txt",
        "If-Modified-Since: Thu, 01 Jan 1970 00:00:01 GMT\r\n",
    )?;
    old.expect(200)
        .map_err(|e| format!("a copy from 1970: {e}"))?;
    Ok(())
}

fn ranges(client: &Client<'_>) -> Result<(), String> {
    let want = client.file("/hello.txt")?;
    let len = want.len();
    for (range, first, last) in [
        ("bytes=2-5", 2, 5),
        ("bytes=6-", 6, len - 1),
        ("bytes=-3", len - 3, len - 1),
        ("bytes=0-99999", 0, len - 1),
    ] {
        let response = client.get("/hello.txt", &format!("Range: {range}\r\n"))?;
        response.expect(206).map_err(|e| format!("{range}: {e}"))?;
        let content_range = format!("bytes {first}-{last}/{len}");
        response.expect_header("content-range", |v| v == content_range)?;
        body_is(&response, &want[first..=last], range)?;
    }
    Ok(())
}

fn range_past_end(client: &Client<'_>) -> Result<(), String> {
    let len = client.file("/hello.txt")?.len();
    let response = client.get("/hello.txt", &format!("Range: bytes={len}-\r\n"))?;
    response.expect(416)?;
    response.expect_header("content-range", |v| v == format!("bytes */{len}"))?;
    Ok(())
}

fn not_found(client: &Client<'_>) -> Result<(), String> {
    for path in ["/no-such-file.txt", "/docs/none/", "/hello.txt/"] {
        let response = client.get(path, "")?;
        response
            .expect(404)
            .map_err(|e| format!("{path}: {e}"))?
            .dated()?;
    }
    Ok(())
}

fn method_not_allowed(client: &Client<'_>) -> Result<(), String> {
    for method in ["POST", "DELETE", "PUT", "OPTIONS"] {
        let request =
            format!("{method} /index.html HTTP/1.1\r\nHost: novillo\r\nContent-Length: 0\r\n\r\n");
        let response = client.ask(request.as_bytes(), false)?;
        response.expect(405).map_err(|e| format!("{method}: {e}"))?;
        response.expect_header("allow", |v| v.contains("GET") && v.contains("HEAD"))?;
    }
    Ok(())
}

fn bad_request(client: &Client<'_>) -> Result<(), String> {
    let requests: [&[u8]; 5] = [
        b"GARBAGE\r\n\r\n",
        b"GET / HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n",
        b"GET noslash HTTP/1.1\r\nHost: a\r\n\r\n",
    ];
    for request in requests {
        let mut conn = client.connect()?;
        conn.send(request)?;
        let response = conn.response(false)?;
        let what = String::from_utf8_lossy(request);
        response.expect(400).map_err(|e| format!("{what:?}: {e}"))?;
        response.expect_header("connection", |v| v.eq_ignore_ascii_case("close"))?;
        if !conn.closes(Duration::from_secs(10))? {
            return Err(format!("{what:?}: still open after 400"));
        }
    }
    Ok(())
}

fn version(client: &Client<'_>) -> Result<(), String> {
    for version in ["HTTP/2.0", "HTTP/3.0", "HTTP/1.2"] {
        let request = format!("GET / {version}\r\nHost: novillo\r\n\r\n");
        let response = client.ask(request.as_bytes(), false)?;
        response
            .expect(505)
            .map_err(|e| format!("{version}: {e}"))?;
    }
    Ok(())
}

fn slow_request(client: &Client<'_>) -> Result<(), String> {
    let mut conn = client.connect()?;
    let started = Instant::now();
    conn.send(b"GET /index.html HTTP/1.1\r\nHo")?;
    // One more byte now and then: a trickle must not keep the request alive.
    let step = client.site.request_timeout / 4;
    for byte in b"st" {
        std::thread::sleep(step);
        if conn.send(&[*byte]).is_err() {
            break;
        }
    }
    let response = conn.response(false)?;
    response.expect(408)?;
    let took = started.elapsed();
    let limit = client.site.request_timeout * 3 + Duration::from_secs(2);
    if took > limit {
        return Err(format!("408 after {took:?}, more than {limit:?}"));
    }
    Ok(())
}

fn body_too_large(client: &Client<'_>) -> Result<(), String> {
    let response = client.ask(
        b"GET / HTTP/1.1\r\nHost: novillo\r\nContent-Length: 1000000000\r\n\r\n",
        false,
    )?;
    response.expect(413)?;
    Ok(())
}

fn uri_too_long(client: &Client<'_>) -> Result<(), String> {
    let target = format!("/{}", "a".repeat(16 * 1024));
    let response = client.get(&target, "")?;
    response.expect(414)?;
    Ok(())
}

fn headers_too_large(client: &Client<'_>) -> Result<(), String> {
    let many: String = (0..200).map(|i| format!("X-Header-{i}: {i}\r\n")).collect();
    client
        .get("/", &many)?
        .expect(431)
        .map_err(|e| format!("200 headers: {e}"))?;
    let huge = format!("X-Big: {}\r\n", "b".repeat(64 * 1024));
    client
        .get("/", &huge)?
        .expect(431)
        .map_err(|e| format!("a 64 KiB header: {e}"))?;
    Ok(())
}

fn pipelining(client: &Client<'_>) -> Result<(), String> {
    let paths = ["/hello.txt", "/style.css", "/data.json", "/docs/notes.txt"];
    let mut conn = client.connect()?;
    let all: String = paths
        .iter()
        .map(|path| format!("GET {path} HTTP/1.1\r\nHost: novillo\r\n\r\n"))
        .collect();
    conn.send(all.as_bytes())?;
    for path in paths {
        let response = conn.response(false)?;
        response.expect(200).map_err(|e| format!("{path}: {e}"))?;
        body_is(&response, &client.file(path)?, path)?;
    }
    Ok(())
}

fn keep_alive(client: &Client<'_>) -> Result<(), String> {
    let want = client.file("/hello.txt")?;
    let mut conn = client.connect()?;
    for round in 0..5 {
        conn.send(b"GET /hello.txt HTTP/1.1\r\nHost: novillo\r\n\r\n")?;
        let response = conn.response(false)?;
        response
            .expect(200)
            .map_err(|e| format!("request {round}: {e}"))?;
        body_is(&response, &want, "kept alive")?;
    }
    for (request, what) in [
        (
            &b"GET /hello.txt HTTP/1.1\r\nHost: novillo\r\nConnection: close\r\n\r\n"[..],
            "Connection: close",
        ),
        (b"GET /hello.txt HTTP/1.0\r\n\r\n", "HTTP/1.0"),
    ] {
        let mut conn = client.connect()?;
        conn.send(request)?;
        let response = conn.response(false)?;
        response.expect(200).map_err(|e| format!("{what}: {e}"))?;
        response.expect_header("connection", |v| v.eq_ignore_ascii_case("close"))?;
        body_is(&response, &want, what)?;
        if !conn.closes(Duration::from_secs(10))? {
            return Err(format!("{what}: the server kept the connection open"));
        }
    }
    let mut conn = client.connect()?;
    conn.send(b"GET /hello.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")?;
    conn.response(false)?
        .expect_header("connection", |v| v.eq_ignore_ascii_case("keep-alive"))
        .map_err(|e| format!("HTTP/1.0 keep-alive: {e}"))?;
    Ok(())
}

/// Targets that try to leave the served folder; `{}` is the planted file's name.
const TRAVERSALS: &[&str] = &[
    "/../{}",
    "/../../{}",
    "/docs/../../{}",
    "/./../{}",
    "/%2e%2e/{}",
    "/%2E%2E/{}",
    "/.%2e/{}",
    "/%2e%2e%2f{}",
    "/..%2f{}",
    "/..%2F{}",
    "/docs/%2e%2e/%2e%2e/{}",
    "/..\\{}",
    "/..%5c{}",
    "/%5c..%5c{}",
    "\\..\\{}",
    "/%252e%252e/{}",
    "/%c0%ae%c0%ae/{}",
    "/.../{}",
    "/.. /{}",
    "/..%20/{}",
    "/..%00/{}",
    "/{}%00.html",
    "/%00/../../{}",
    "//../{}",
    "/docs//..//..//{}",
    "http://novillo/../{}",
    "http://novillo/%2e%2e/{}",
    "HTTP://novillo/..%2f{}",
    "http://../{}",
    "../{}",
    "{}",
    "/../{}?x=1",
    "/../{}#frag",
    "/docs/../docs/../../{}",
];

fn traversal(client: &Client<'_>) -> Result<(), String> {
    let name = &client.site.planted_name;
    let long_climb = format!("/{}{name}", "../".repeat(1000));
    let deep_climb = format!("/{}{}{name}", "a/".repeat(40), "../".repeat(41));
    let targets = TRAVERSALS
        .iter()
        .map(|template| template.replace("{}", name))
        .chain([long_climb, deep_climb]);
    let mut failures = Vec::new();
    for target in targets {
        let mut conn = client.connect()?;
        conn.send(format!("GET {target} HTTP/1.1\r\nHost: novillo\r\n\r\n").as_bytes())?;
        let verdict = conn.response(false);
        if find(&conn.raw, &client.site.planted).is_some() {
            return Err(format!("{target:?} got the planted file's content"));
        }
        match verdict {
            Ok(response) if matches!(response.status, 400 | 404) => {}
            Ok(response) => failures.push(format!("{target:?}: {}", response.status)),
            Err(e) => failures.push(format!("{target:?}: {e}")),
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(format!("not 400 or 404: {}", failures.join("; ")))
    }
}

fn disk_error(client: &Client<'_>) -> Result<(), String> {
    let Some(path) = &client.site.failing else {
        return Ok(());
    };
    let mut conn = client.connect()?;
    conn.send(format!("GET {path} HTTP/1.1\r\nHost: novillo\r\n\r\n").as_bytes())?;
    conn.response(false)?.expect(500)?;
    // The server is still there for the next client.
    client.get("/hello.txt", "")?.expect(200).map(|_| ())
}

/// The target of the last request, which tells the access-log check how many responses
/// came before it: `/http-check-done?answers=N`.
pub(crate) const DONE_TARGET: &str = "/http-check-done?answers=";

/// Asks for [`DONE_TARGET`] with the count of responses so far (a 404).
fn answers_counted(client: &Client<'_>) -> Result<(), String> {
    let target = format!("{DONE_TARGET}{}", client.answers.get());
    client.get(&target, "")?.expect(404).map(|_| ())
}

/// What is wrong with the guest's access log in `console`: at `log=info` one line per
/// response the client got before [`DONE_TARGET`] (plus its own), at `log=warn` none.
pub(crate) fn access_log_problems(console: &str, logged: bool) -> Vec<String> {
    let lines: Vec<&str> = console
        .lines()
        .filter(|line| line.contains(ACCESS_LOG_LINE))
        .collect();
    if !logged {
        return match lines.first() {
            None => Vec::new(),
            Some(first) => vec![format!(
                "{} access-log lines at log=warn, the first: {first:?}",
                lines.len()
            )],
        };
    }
    let done = lines.iter().find_map(|line| {
        let (_, after) = line.split_once(DONE_TARGET)?;
        after.split(['"', ' ']).next()?.parse::<usize>().ok()
    });
    match done {
        None => vec![format!(
            "no access-log line for {DONE_TARGET}N among {} lines",
            lines.len()
        )],
        Some(answers) if lines.len() == answers + 1 => Vec::new(),
        Some(answers) => vec![format!(
            "{} access-log lines for {} requests",
            lines.len(),
            answers + 1
        )],
    }
}

/// The check after a web server case: its access log (`log=info` among its arguments, or
/// not) against the count of answers the client got.
pub(crate) fn after_run(run: &AfterRun<'_>) -> Vec<String> {
    let logged = run.case.args.iter().any(|arg| arg == "log=info");
    access_log_problems(&String::from_utf8_lossy(run.console), logged)
}

/// What marks a line of the web server's access log on the console.
const ACCESS_LOG_LINE: &str = " INFO  webserver: ";

/// Prints the outcomes, one line each; `Ok(())` when all passed.
pub(crate) fn report(outcomes: &[Outcome]) -> Result<(), String> {
    let mut failed = 0;
    for outcome in outcomes {
        match &outcome.result {
            Ok(()) => eprintln!("http check: {}: ok", outcome.name),
            Err(e) => {
                failed += 1;
                eprintln!("http check: {}: FAILED: {e}", outcome.name);
            }
        }
    }
    if failed == 0 {
        Ok(())
    } else {
        Err(format!("{failed} of {} HTTP checks failed", outcomes.len()))
    }
}

#[cfg(test)]
#[path = "http_check_tests.rs"]
mod tests;
