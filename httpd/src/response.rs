//! What to answer: [`reply`] turns a parsed request into a response head (and, for errors,
//! a short body) and says which bytes of which file follow.
//!
//! The file system is an input ([`Lookup`]), so every status is tested on the host. A
//! folder is answered with its `index.html`; there are no folder listings.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

use crate::date::{self, HttpDate};
use crate::path::{self, SafePath};
use crate::range::{self, ByteRange};
use crate::request::{Method, Request};
use crate::{Status, mime};

/// What the server found at a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Found {
    /// A file of `len` bytes, last modified `modified` (Unix seconds) when known.
    File {
        /// Its length in bytes.
        len: u64,
        /// When it was last written, in seconds since 1970 UTC.
        modified: Option<u64>,
    },
    /// A folder.
    Folder,
}

/// Why nothing was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Missing {
    /// No such file or folder (404).
    NotFound,
    /// The disk failed (500).
    Failed,
}

/// Looks a path up on the server's volume.
pub type Lookup<'a> = dyn FnMut(&str) -> Result<Found, Missing> + 'a;

/// The file bytes to send after the head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Body {
    /// The file, as a path on the volume.
    pub path: String,
    /// The first byte to send.
    pub offset: u64,
    /// How many bytes to send.
    pub len: u64,
}

/// The answer to one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The status sent.
    pub status: Status,
    /// The file bytes to send after the head; `None` for errors, 304 and `HEAD`.
    pub body: Option<Body>,
    /// Whether the connection stays open.
    pub keep_alive: bool,
}

/// Answers `request` for the folder `root` of the volume at time `now` (Unix seconds):
/// appends the head (and an error's body) to `out`, and returns what follows.
pub fn reply(
    request: &Request<'_>,
    root: &str,
    now: u64,
    lookup: &mut Lookup<'_>,
    out: &mut Vec<u8>,
) -> Reply {
    let keep_alive = request.keep_alive;
    let get = match request.method {
        Method::Get => true,
        Method::Head => false,
        Method::Other(_) => return error(Status::MethodNotAllowed, now, keep_alive, false, out),
    };
    let path = match path::resolve(request.target) {
        Ok(path) => path,
        Err(status) => return error(status, now, keep_alive, !get, out),
    };
    let (file, len, modified) = match find(&path, root, lookup) {
        Ok(found) => found,
        Err(status) => return error(status, now, keep_alive, !get, out),
    };
    if let (Some(modified), Some(since)) =
        (modified, request.if_modified_since.and_then(date::parse))
        && modified <= since
    {
        head(out, Status::NotModified, now, keep_alive);
        last_modified(out, Some(modified));
        out.extend_from_slice(b"\r\n");
        return Reply {
            status: Status::NotModified,
            body: None,
            keep_alive,
        };
    }
    let range = request
        .range
        .map_or(ByteRange::Whole, |value| range::resolve(value, len));
    let (status, offset, count) = match range {
        ByteRange::Whole => (Status::Ok, 0, len),
        ByteRange::Part { first, last } => (Status::PartialContent, first, last - first + 1),
        ByteRange::Unsatisfiable => {
            head(out, Status::RangeNotSatisfiable, now, keep_alive);
            let _ = write!(Text(out), "Content-Range: bytes */{len}\r\n");
            out.extend_from_slice(b"Content-Length: 0\r\n\r\n");
            return Reply {
                status: Status::RangeNotSatisfiable,
                body: None,
                keep_alive,
            };
        }
    };
    head(out, status, now, keep_alive);
    let _ = write!(
        Text(out),
        "Content-Type: {}\r\nContent-Length: {count}\r\nAccept-Ranges: bytes\r\n",
        mime::content_type(&file)
    );
    if status == Status::PartialContent {
        let _ = write!(
            Text(out),
            "Content-Range: bytes {offset}-{}/{len}\r\n",
            offset + count - 1
        );
    }
    last_modified(out, modified);
    out.extend_from_slice(b"\r\n");
    Reply {
        status,
        body: (get && count > 0).then_some(Body {
            path: file,
            offset,
            len: count,
        }),
        keep_alive,
    }
}

/// Answers with `status` and a one-line body (its length only, for `HEAD`), as for a
/// request the parser refused. The connection stays open only after a 404 or 405: after
/// any other refusal the rest of the stream cannot be trusted.
pub fn error(
    status: Status,
    now: u64,
    keep_alive: bool,
    head_only: bool,
    out: &mut Vec<u8>,
) -> Reply {
    let keep_alive = keep_alive && matches!(status, Status::NotFound | Status::MethodNotAllowed);
    head(out, status, now, keep_alive);
    if status == Status::MethodNotAllowed {
        out.extend_from_slice(b"Allow: GET, HEAD\r\n");
    }
    let body = format!("{status}\n");
    let _ = write!(
        Text(out),
        "Content-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    if !head_only {
        out.extend_from_slice(body.as_bytes());
    }
    Reply {
        status,
        body: None,
        keep_alive,
    }
}

/// The file a request names: a folder's `index.html`.
fn find(
    path: &SafePath,
    root: &str,
    lookup: &mut Lookup<'_>,
) -> Result<(String, u64, Option<u64>), Status> {
    let mut file = path.under(root);
    let found = match lookup(&file) {
        Ok(Found::Folder) => {
            if !file.ends_with('/') {
                file.push('/');
            }
            file.push_str("index.html");
            lookup(&file)
        }
        // `/file.txt/` names a folder that is not there.
        Ok(Found::File { .. }) if path.trailing_slash() => Err(Missing::NotFound),
        other => other,
    };
    match found {
        Ok(Found::File { len, modified }) => Ok((file, len, modified)),
        Ok(Found::Folder) | Err(Missing::NotFound) => Err(Status::NotFound),
        Err(Missing::Failed) => Err(Status::InternalServerError),
    }
}

fn head(out: &mut Vec<u8>, status: Status, now: u64, keep_alive: bool) {
    let connection = if keep_alive { "keep-alive" } else { "close" };
    let _ = write!(
        Text(out),
        "HTTP/1.1 {status}\r\nDate: {}\r\nServer: Novillo\r\nConnection: {connection}\r\n",
        HttpDate::from_unix(now)
    );
}

fn last_modified(out: &mut Vec<u8>, modified: Option<u64>) {
    if let Some(modified) = modified {
        let _ = write!(
            Text(out),
            "Last-Modified: {}\r\n",
            HttpDate::from_unix(modified)
        );
    }
}

/// `fmt::Write` into a byte vector, which cannot fail.
struct Text<'a>(&'a mut Vec<u8>);

impl Write for Text<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::string::String;
    use std::vec::Vec;

    use super::{Body, Found, Missing, Reply, reply};
    use crate::request::{Limits, Parse, parse};
    use crate::{Status, date};

    const NOW: u64 = 1_800_000_000;
    const MODIFIED: u64 = 1_700_000_000;

    fn volume() -> BTreeMap<&'static str, Result<Found, Missing>> {
        let file = |len| {
            Ok(Found::File {
                len,
                modified: Some(MODIFIED),
            })
        };
        BTreeMap::from([
            ("/site", Ok(Found::Folder)),
            ("/site/index.html", file(120)),
            ("/site/docs", Ok(Found::Folder)),
            ("/site/a.txt", file(100)),
            ("/site/empty.txt", file(0)),
            ("/site/bad.bin", Err(Missing::Failed)),
            ("/secret.txt", file(6)),
        ])
    }

    fn answer(head: &str) -> (Reply, String) {
        let head = head.replace('\n', "\r\n");
        let Ok(Parse::Complete { request, .. }) = parse(head.as_bytes(), &Limits::default()) else {
            panic!("not a request: {head}");
        };
        let volume = volume();
        let mut lookup = |path: &str| volume.get(path).copied().unwrap_or(Err(Missing::NotFound));
        let mut out = Vec::new();
        let reply = reply(&request, "/site", NOW, &mut lookup, &mut out);
        (reply, String::from_utf8(out).expect("heads are text"))
    }

    fn get(path: &str, extra: &str) -> (Reply, String) {
        answer(&format!("GET {path} HTTP/1.1\nHost: x\n{extra}\n"))
    }

    #[test]
    fn a_file_comes_with_its_headers() {
        let (reply, head) = get("/a.txt", "");
        assert_eq!(reply.status, Status::Ok);
        assert_eq!(
            reply.body,
            Some(Body {
                path: "/site/a.txt".into(),
                offset: 0,
                len: 100
            })
        );
        assert!(reply.keep_alive);
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        for line in [
            "Content-Type: text/plain; charset=utf-8\r\n",
            "Content-Length: 100\r\n",
            "Connection: keep-alive\r\n",
            &format!("Date: {}\r\n", date::HttpDate::from_unix(NOW)),
            &format!("Last-Modified: {}\r\n", date::HttpDate::from_unix(MODIFIED)),
        ] {
            assert!(head.contains(line), "{line:?} in {head}");
        }
        assert!(head.ends_with("\r\n\r\n"));
    }

    #[test]
    fn folders_serve_their_index_and_head_sends_no_body() {
        for path in ["/", "/index.html", "/docs/../"] {
            let (reply, _) = get(path, "");
            assert_eq!(
                reply.body.map(|b| b.path),
                Some("/site/index.html".into()),
                "{path}"
            );
        }
        let (reply, head) = answer("HEAD /a.txt HTTP/1.1\nHost: x\n\n");
        assert_eq!((reply.status, reply.body), (Status::Ok, None));
        assert!(head.contains("Content-Length: 100\r\n"));
    }

    #[test]
    fn missing_files_folders_without_index_and_disk_errors() {
        assert_eq!(get("/nothing", "").0.status, Status::NotFound);
        assert_eq!(get("/docs/", "").0.status, Status::NotFound);
        assert_eq!(get("/a.txt/", "").0.status, Status::NotFound);
        let (reply, head) = get("/bad.bin", "");
        assert_eq!(reply.status, Status::InternalServerError);
        assert!(!reply.keep_alive);
        assert!(
            head.ends_with("\r\n\r\n500 Internal Server Error\n"),
            "{head}"
        );
    }

    #[test]
    fn the_file_outside_the_root_is_never_reached() {
        for attack in [
            "/../secret.txt",
            "/%2e%2e/secret.txt",
            "http://x/../secret.txt",
        ] {
            let (reply, _) = get(attack, "");
            assert_eq!(reply.status, Status::BadRequest, "{attack}");
        }
    }

    #[test]
    fn if_modified_since_gives_304() {
        let since = |t| format!("If-Modified-Since: {}\n", date::HttpDate::from_unix(t));
        let (reply, head) = get("/a.txt", &since(MODIFIED));
        assert_eq!((reply.status, reply.body), (Status::NotModified, None));
        assert!(!head.contains("Content-Length"), "{head}");
        assert_eq!(get("/a.txt", &since(MODIFIED - 1)).0.status, Status::Ok);
        assert_eq!(
            get("/a.txt", "If-Modified-Since: garbage\n").0.status,
            Status::Ok
        );
    }

    #[test]
    fn ranges_give_206_and_416() {
        let (reply, head) = get("/a.txt", "Range: bytes=10-19\n");
        assert_eq!(reply.status, Status::PartialContent);
        assert_eq!(reply.body.map(|b| (b.offset, b.len)), Some((10, 10)));
        assert!(
            head.contains("Content-Range: bytes 10-19/100\r\n"),
            "{head}"
        );
        assert!(head.contains("Content-Length: 10\r\n"));
        let (reply, head) = get("/a.txt", "Range: bytes=100-\n");
        assert_eq!(reply.status, Status::RangeNotSatisfiable);
        assert!(head.contains("Content-Range: bytes */100\r\n"), "{head}");
        assert_eq!(get("/empty.txt", "").0.body, None, "nothing to stream");
    }

    #[test]
    fn other_methods_get_405_with_allow() {
        let (reply, head) = answer("POST /a.txt HTTP/1.1\nHost: x\n\n");
        assert_eq!(reply.status, Status::MethodNotAllowed);
        assert!(head.contains("Allow: GET, HEAD\r\n"));
        assert!(reply.keep_alive);
    }
}
