//! One connection, from its first byte to its close: requests are parsed as they arrive
//! (pipelined ones too), answered in order, and files streamed in chunks.
//!
//! The connection, the volume and the clock are inputs, so the whole exchange, timeouts
//! included, is tested on the host. Timeouts: a connection waiting for its next request
//! closes after [`Config::idle_timeout_ms`] without a word; a request whose head has not
//! fully arrived [`Config::request_timeout_ms`] after its first byte gets 408, however
//! slowly its bytes trickle in (a client that sends one byte a minute is cut off on time).

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use embedded_io::{Error, ErrorKind, Read, Seek, SeekFrom, Write};

use crate::Status;
use crate::request::{Limits, Method, Parse, parse};
use crate::response::{Found, Missing, error, reply};

/// The files a server serves.
pub trait Volume {
    /// An open file.
    type File: Read + Seek;

    /// What is at `path` (a path from the volume's root, such as `/site/a.txt`).
    fn lookup(&mut self, path: &str) -> Result<Found, Missing>;

    /// Opens the file at `path` for reading.
    fn open(&mut self, path: &str) -> Result<Self::File, Missing>;
}

/// A client connection.
pub trait Connection: Read + Write {
    /// Makes the next reads fail with [`ErrorKind::TimedOut`] after `millis` milliseconds
    /// without data.
    fn set_read_timeout(&mut self, millis: u64);
}

/// The time, as the server needs it.
pub trait Clock {
    /// Seconds since 1970 UTC, for `Date`.
    fn unix_seconds(&self) -> u64;
    /// Milliseconds from any fixed point, for timeouts.
    fn millis(&self) -> u64;
}

/// How a server serves.
#[derive(Clone, Debug)]
pub struct Config {
    /// The folder served, as a path from the volume's root (`""` for all of it).
    pub root: String,
    /// Limits on requests.
    pub limits: Limits,
    /// How long a kept-alive connection waits for its next request.
    pub idle_timeout_ms: u64,
    /// How long a request's head may take to arrive, from its first byte.
    pub request_timeout_ms: u64,
    /// The size of the chunks a file is sent in.
    pub chunk: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            root: String::new(),
            limits: Limits::default(),
            idle_timeout_ms: 15_000,
            request_timeout_ms: 10_000,
            chunk: 16 * 1024,
        }
    }
}

/// One request as the access log shows it.
#[derive(Clone, Copy, Debug)]
pub struct Logged<'a> {
    /// The method, as sent; empty for a request refused before it was parsed.
    pub method: &'a str,
    /// The target, as sent; empty for a request refused before it was parsed.
    pub target: &'a [u8],
    /// The status answered.
    pub status: Status,
    /// The body bytes sent.
    pub bytes: u64,
}

/// Why a connection ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// The client closed it, between requests.
    Closed,
    /// A response said `Connection: close`.
    Done,
    /// No request came within the idle timeout.
    Idle,
    /// A request was refused (400, 408, 413, 414, 431, 501, 505) and the connection closed.
    Refused(Status),
    /// The connection failed (reset, or closed in the middle of a request).
    Broken,
    /// The disk failed while a file was being sent; the connection was closed because the
    /// response could not be completed.
    DiskFailed,
}

/// Serves `conn` until it ends; `log` sees every answered request, refused ones too.
pub fn serve<C: Connection, V: Volume>(
    conn: &mut C,
    volume: &mut V,
    config: &Config,
    clock: &dyn Clock,
    log: &mut dyn FnMut(&Logged<'_>),
) -> End {
    let mut buf = vec![0; config.limits.max_head];
    let mut filled = 0;
    let mut out = Vec::new();
    let mut chunk = Vec::new();
    // When the first byte of the request now arriving came.
    let mut started: Option<u64> = None;
    loop {
        let (request, head_len) = match parse(&buf[..filled], &config.limits) {
            Ok(Parse::Complete { request, head_len }) => (request, head_len),
            // The parser refuses only a head longer than the buffer, which never holds one.
            Ok(Parse::Incomplete) if filled == buf.len() => {
                return refuse(conn, Status::HeaderFieldsTooLarge, clock, &mut out, log);
            }
            Ok(Parse::Incomplete) => {
                let timeout = match started {
                    None => config.idle_timeout_ms,
                    Some(at) => {
                        let deadline = at.saturating_add(config.request_timeout_ms);
                        match deadline.checked_sub(clock.millis()) {
                            Some(left) if left > 0 => left,
                            _ => return refuse(conn, Status::RequestTimeout, clock, &mut out, log),
                        }
                    }
                };
                conn.set_read_timeout(timeout);
                match conn.read(&mut buf[filled..]) {
                    Ok(0) if filled == 0 => return End::Closed,
                    Ok(0) => return End::Broken,
                    Ok(n) => {
                        started.get_or_insert_with(|| clock.millis());
                        filled += n;
                    }
                    Err(e) if e.kind() == ErrorKind::TimedOut && started.is_none() => {
                        return End::Idle;
                    }
                    Err(e) if e.kind() == ErrorKind::TimedOut => {
                        return refuse(conn, Status::RequestTimeout, clock, &mut out, log);
                    }
                    Err(_) => return End::Broken,
                }
                continue;
            }
            Err(refusal) => return refuse(conn, refusal.status, clock, &mut out, log),
        };
        out.clear();
        let mut lookup = |path: &str| volume.lookup(path);
        let mut answer = reply(
            &request,
            &config.root,
            clock.unix_seconds(),
            &mut lookup,
            &mut out,
        );
        // The body's first chunk is read before the head goes out, so a disk that fails on
        // a file (most files are one chunk) still gets its 500.
        let mut file = None;
        let mut first = 0;
        if let Some(body) = &answer.body {
            chunk.resize(config.chunk.max(512), 0);
            let want = usize::try_from(body.len).map_or(chunk.len(), |len| len.min(chunk.len()));
            // A file that fails or ends before its length is a failed disk.
            let read = open_at(volume, &body.path, body.offset).and_then(|mut opened| match opened
                .read_exact(&mut chunk[..want])
            {
                Ok(()) => Ok(opened),
                Err(_) => Err(Missing::Failed),
            });
            match read {
                Ok(opened) => {
                    file = Some(opened);
                    first = want;
                }
                Err(_) => {
                    out.clear();
                    answer = error(
                        Status::InternalServerError,
                        clock.unix_seconds(),
                        false,
                        false,
                        &mut out,
                    );
                }
            }
        }
        if conn.write_all(&out).is_err() {
            return End::Broken;
        }
        let mut sent = 0;
        if let (Some(file), Some(body)) = (&mut file, &answer.body) {
            if conn.write_all(&chunk[..first]).is_err() {
                return End::Broken;
            }
            match send(conn, file, body.len - first as u64, &mut chunk) {
                Ok(n) => sent = first as u64 + n,
                Err(end) => return end,
            }
        }
        if conn.flush().is_err() {
            return End::Broken;
        }
        let method = match request.method {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Other(other) => other,
        };
        log(&Logged {
            method,
            target: request.target,
            status: answer.status,
            bytes: sent,
        });
        if !answer.keep_alive {
            return End::Done;
        }
        // Drop the head and the body the client sent, which a static server ignores.
        let mut skip = usize::try_from(request.content_length).unwrap_or(usize::MAX);
        let consumed = head_len.saturating_add(skip).min(filled);
        skip -= consumed.saturating_sub(head_len);
        buf.copy_within(consumed..filled, 0);
        filled -= consumed;
        while skip > 0 {
            let want = skip.min(buf.len());
            match conn.read(&mut buf[..want]) {
                Ok(0) | Err(_) => return End::Broken,
                Ok(n) => skip -= n,
            }
        }
        started = (filled > 0).then(|| clock.millis());
    }
}

/// Answers a request refused before it was parsed, logs it, and ends the connection.
fn refuse<C: Connection>(
    conn: &mut C,
    status: Status,
    clock: &dyn Clock,
    out: &mut Vec<u8>,
    log: &mut dyn FnMut(&Logged<'_>),
) -> End {
    out.clear();
    error(status, clock.unix_seconds(), false, false, out);
    // The connection closes either way; a client gone already changes nothing.
    let _ = conn.write_all(out).and_then(|()| conn.flush());
    log(&Logged {
        method: "",
        target: b"",
        status,
        bytes: 0,
    });
    End::Refused(status)
}

fn open_at<V: Volume>(volume: &mut V, path: &str, offset: u64) -> Result<V::File, Missing> {
    let mut file = volume.open(path)?;
    if offset > 0 {
        file.seek(SeekFrom::Start(offset))
            .map_err(|_| Missing::Failed)?;
    }
    Ok(file)
}

/// Sends `len` bytes of `file` in chunks; a file that fails or ends early ends the
/// connection, since its head promised `len` bytes.
fn send<C: Connection, F: Read>(
    conn: &mut C,
    file: &mut F,
    len: u64,
    chunk: &mut [u8],
) -> Result<u64, End> {
    let mut sent = 0;
    while sent < len {
        let want = usize::try_from(len - sent).map_or(chunk.len(), |left| left.min(chunk.len()));
        let n = match file.read(&mut chunk[..want]) {
            Ok(0) | Err(_) => return Err(End::DiskFailed),
            Ok(n) => n,
        };
        conn.write_all(&chunk[..n]).map_err(|_| End::Broken)?;
        sent += n as u64;
    }
    Ok(sent)
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::collections::{BTreeMap, VecDeque};
    use std::rc::Rc;
    use std::string::String;
    use std::vec::Vec;

    use embedded_io::{ErrorKind, ErrorType, Read, Seek, SeekFrom, Write};

    use super::{Clock, Config, Connection, End, Volume, serve};
    use crate::Status;
    use crate::response::{Found, Missing};

    /// A client: each chunk arrives `delay` ms after the previous read started.
    struct Client {
        input: VecDeque<(u64, Vec<u8>)>,
        output: Vec<u8>,
        now: Rc<Cell<u64>>,
        timeout: u64,
    }

    impl Client {
        fn new(now: &Rc<Cell<u64>>, chunks: &[(u64, &[u8])]) -> Self {
            Self {
                input: chunks.iter().map(|(d, c)| (*d, c.to_vec())).collect(),
                output: Vec::new(),
                now: now.clone(),
                timeout: u64::MAX,
            }
        }

        fn text(&self) -> String {
            String::from_utf8_lossy(&self.output).into_owned()
        }
    }

    impl ErrorType for Client {
        type Error = ErrorKind;
    }

    impl Read for Client {
        fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
            let Some((delay, mut chunk)) = self.input.pop_front() else {
                return Ok(0);
            };
            if delay > self.timeout {
                self.now.set(self.now.get() + self.timeout);
                self.input.push_front((delay - self.timeout, chunk));
                return Err(ErrorKind::TimedOut);
            }
            self.now.set(self.now.get() + delay);
            let n = chunk.len().min(buf.len());
            buf[..n].copy_from_slice(&chunk[..n]);
            if n < chunk.len() {
                self.input.push_front((0, chunk.split_off(n)));
            }
            Ok(n)
        }
    }

    impl Write for Client {
        fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
            self.output.extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> Result<(), ErrorKind> {
            Ok(())
        }
    }

    impl Connection for Client {
        fn set_read_timeout(&mut self, millis: u64) {
            self.timeout = millis;
        }
    }

    struct Time(Rc<Cell<u64>>);

    impl Clock for Time {
        fn unix_seconds(&self) -> u64 {
            1_800_000_000 + self.0.get() / 1000
        }

        fn millis(&self) -> u64 {
            self.0.get()
        }
    }

    #[derive(Default)]
    struct Disk {
        files: BTreeMap<String, Vec<u8>>,
        fail_open: bool,
        fail_read: bool,
    }

    struct OpenFile {
        data: Vec<u8>,
        at: usize,
        fail: bool,
    }

    impl ErrorType for OpenFile {
        type Error = ErrorKind;
    }

    impl Read for OpenFile {
        fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
            if self.fail {
                return Err(ErrorKind::Other);
            }
            let n = buf.len().min(self.data.len() - self.at);
            buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    impl Seek for OpenFile {
        fn seek(&mut self, pos: SeekFrom) -> Result<u64, ErrorKind> {
            let SeekFrom::Start(at) = pos else {
                return Err(ErrorKind::Unsupported);
            };
            self.at = usize::try_from(at).map_err(|_| ErrorKind::InvalidInput)?;
            Ok(at)
        }
    }

    impl Volume for Disk {
        type File = OpenFile;

        fn lookup(&mut self, path: &str) -> Result<Found, Missing> {
            if path == "/" {
                return Ok(Found::Folder);
            }
            self.files
                .get(path)
                .map(|data| Found::File {
                    len: data.len() as u64,
                    modified: Some(1_700_000_000),
                })
                .ok_or(Missing::NotFound)
        }

        fn open(&mut self, path: &str) -> Result<OpenFile, Missing> {
            if self.fail_open {
                return Err(Missing::Failed);
            }
            let data = self.files.get(path).ok_or(Missing::NotFound)?.clone();
            Ok(OpenFile {
                data,
                at: 0,
                fail: self.fail_read,
            })
        }
    }

    fn disk() -> Disk {
        let big: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
        Disk {
            files: BTreeMap::from([
                ("/index.html".into(), b"<h1>hi</h1>".to_vec()),
                ("/big.bin".into(), big),
            ]),
            fail_open: false,
            fail_read: false,
        }
    }

    fn run(chunks: &[(u64, &[u8])], disk: &mut Disk) -> (End, Client, Vec<Status>, u64) {
        let now = Rc::new(Cell::new(0));
        let mut client = Client::new(&now, chunks);
        let mut statuses = Vec::new();
        let end = serve(
            &mut client,
            disk,
            &Config::default(),
            &Time(now.clone()),
            &mut |logged| statuses.push(logged.status),
        );
        (end, client, statuses, now.get())
    }

    const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";

    #[test]
    fn pipelined_requests_are_answered_in_order() {
        let two = [GET, b"HEAD /big.bin HTTP/1.1\r\nHost: x\r\n\r\n"].concat();
        let (end, client, statuses, _) = run(&[(0, &two)], &mut disk());
        assert_eq!(end, End::Closed);
        assert_eq!(statuses, [Status::Ok, Status::Ok]);
        let text = client.text();
        let first = text.find("<h1>hi</h1>").expect("the index");
        let second = text.find("Content-Length: 1000000").expect("the HEAD");
        assert!(first < second, "{text}");
        assert!(text.ends_with("\r\n\r\n"), "HEAD sends no body");
    }

    #[test]
    fn large_files_arrive_byte_for_byte() {
        let get = b"GET /big.bin HTTP/1.0\r\n\r\n";
        let (end, client, _, _) = run(&[(0, get)], &mut disk());
        assert_eq!(end, End::Done, "HTTP/1.0 closes");
        let head_end = client
            .output
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap()
            + 4;
        assert_eq!(client.output[head_end..], disk().files["/big.bin"][..]);
    }

    #[test]
    fn ranges_send_only_their_bytes() {
        let get = b"GET /big.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=999990-\r\nConnection: close\r\n\r\n";
        let (_, client, statuses, _) = run(&[(0, get)], &mut disk());
        assert_eq!(statuses, [Status::PartialContent]);
        let body = &client.output[client.output.len() - 10..];
        assert_eq!(body, &disk().files["/big.bin"][999_990..]);
    }

    #[test]
    fn a_slow_request_gets_408_on_time() {
        let bytes: Vec<(u64, &[u8])> = GET.chunks(1).map(|b| (2_000, b)).collect();
        let (end, client, statuses, now) = run(&bytes, &mut disk());
        assert_eq!(end, End::Refused(Status::RequestTimeout));
        assert_eq!(statuses, [Status::RequestTimeout]);
        assert!(
            client
                .text()
                .starts_with("HTTP/1.1 408 Request Timeout\r\n")
        );
        let limit = 2_000 + Config::default().request_timeout_ms;
        assert!(now <= limit, "cut off at {now} ms, after {limit}");
    }

    #[test]
    fn an_idle_connection_closes_without_a_word() {
        let (end, client, _, now) = run(&[(0, GET), (60_000, GET)], &mut disk());
        assert_eq!(end, End::Idle);
        assert_eq!(client.text().matches("HTTP/1.1 200").count(), 1);
        assert_eq!(now, Config::default().idle_timeout_ms);
    }

    #[test]
    fn request_bodies_are_skipped() {
        let with_body = b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhel";
        let (end, _, statuses, _) = run(&[(0, with_body), (0, b"lo"), (0, GET)], &mut disk());
        assert_eq!(end, End::Closed);
        assert_eq!(statuses, [Status::Ok, Status::Ok]);
    }

    #[test]
    fn refusals_close_the_connection() {
        let (end, client, statuses, _) = run(&[(0, b"BAD\r\n\r\n"), (0, GET)], &mut disk());
        assert_eq!(end, End::Refused(Status::BadRequest));
        assert_eq!(statuses, [Status::BadRequest], "logged once");
        assert!(client.text().ends_with("\r\n\r\n400 Bad Request\n"));
        let (end, _, _, _) = run(&[(0, b"GET / HTTP/1.1\r\nHo")], &mut disk());
        assert_eq!(end, End::Broken, "closed in the middle of a head");
    }

    #[test]
    fn a_head_that_fills_the_buffer_gets_431() {
        let big = [
            &GET[..GET.len() - 2],
            b"X-Big: ",
            &[b'b'; 16 * 1024],
            b"\r\n\r\n",
        ]
        .concat();
        let (end, client, _, _) = run(&[(0, &big)], &mut disk());
        assert_eq!(end, End::Refused(Status::HeaderFieldsTooLarge));
        assert!(
            client.text().starts_with("HTTP/1.1 431 "),
            "{}",
            client.text()
        );
    }

    #[test]
    fn a_disk_that_fails_gives_500() {
        let mut failing = Disk {
            fail_open: true,
            ..disk()
        };
        let (end, client, statuses, _) = run(&[(0, GET)], &mut failing);
        assert_eq!(statuses, [Status::InternalServerError]);
        assert_eq!(end, End::Done);
        assert!(client.text().contains("Connection: close"));
    }

    #[test]
    fn a_file_the_disk_cannot_read_gets_500_before_any_byte_of_it() {
        let mut failing = Disk {
            fail_read: true,
            ..disk()
        };
        let (end, client, statuses, _) = run(&[(0, GET)], &mut failing);
        assert_eq!(statuses, [Status::InternalServerError]);
        assert_eq!(end, End::Done);
        assert!(
            client.text().starts_with("HTTP/1.1 500 "),
            "{}",
            client.text()
        );
        assert!(!client.text().contains("<h1>"));
    }
}
