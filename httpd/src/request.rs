//! Parsing a request head: the request line and the header lines up to the empty line.
//!
//! [`parse`] takes the bytes received so far and returns either [`Parse::Incomplete`] (read
//! more), a [`Request`] borrowing from the buffer, or the [`Refusal`] to answer with. It
//! looks at each byte at most once per call and allocates nothing, so a client that sends
//! one byte at a time costs the server only its timeout.
//!
//! Rules (RFC 9112): empty lines before the request line are skipped; lines end in CRLF or a
//! bare LF; a header name is a token directly followed by `:`; a line folded onto the
//! previous one (`obs-fold`), a control character in a value, two different
//! `Content-Length`s, and an HTTP/1.1 request without `Host` are refused with 400; any
//! `Transfer-Encoding` with 501, since a static server takes no request body it must decode.

use crate::Status;

/// How much of a request the server takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The longest request line, in bytes (beyond it: 414).
    pub max_request_line: usize,
    /// The longest head, request line and headers together, in bytes (beyond it: 431).
    pub max_head: usize,
    /// The most header lines (beyond it: 431).
    pub max_headers: usize,
    /// The largest body, which the server reads and discards (beyond it: 413).
    pub max_body: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_request_line: 4096,
            max_head: 8192,
            max_headers: 64,
            max_body: 64 * 1024,
        }
    }
}

/// The request method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method<'a> {
    /// `GET`
    Get,
    /// `HEAD`
    Head,
    /// Any other token: the server answers 405.
    Other(&'a str),
}

/// The protocol version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    /// HTTP/1.0: the connection closes after the response unless the client asks.
    Http10,
    /// HTTP/1.1: the connection stays open unless either side says `close`.
    Http11,
}

/// A parsed request head; the values borrow from the received bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request<'a> {
    /// The method.
    pub method: Method<'a>,
    /// The request target as sent (see [`crate::path::resolve`]).
    pub target: &'a [u8],
    /// The version.
    pub version: Version,
    /// Whether the connection stays open after the response.
    pub keep_alive: bool,
    /// The `If-Modified-Since` value, if any.
    pub if_modified_since: Option<&'a [u8]>,
    /// The `Range` value, if any.
    pub range: Option<&'a [u8]>,
    /// The body's length, which the server skips (0 without `Content-Length`).
    pub content_length: u64,
}

/// The outcome of [`parse`] on the bytes received so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parse<'a> {
    /// The head is not complete yet and within the limits: read more.
    Incomplete,
    /// A whole head of `head_len` bytes; the body (if any) and the next request follow.
    Complete {
        /// The request.
        request: Request<'a>,
        /// How many bytes the head took, from the start of the buffer.
        head_len: usize,
    },
}

/// Why a request is refused: the status to answer with and, for the log, what was wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The status to answer with; the connection closes after it.
    pub status: Status,
    /// What was wrong, for the log.
    pub reason: &'static str,
}

const fn refuse(status: Status, reason: &'static str) -> Refusal {
    Refusal { status, reason }
}

/// Parses the head at the start of `buf` within `limits`: see the [module docs](self).
pub fn parse<'a>(buf: &'a [u8], limits: &Limits) -> Result<Parse<'a>, Refusal> {
    let start = buf
        .iter()
        .take(limits.max_request_line)
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(buf.len().min(limits.max_request_line));
    let Some((line, mut pos)) = next_line(buf, start) else {
        if buf.len() - start > limits.max_request_line {
            return Err(refuse(Status::UriTooLong, "request line too long"));
        }
        return Ok(Parse::Incomplete);
    };
    if line.len() > limits.max_request_line {
        return Err(refuse(Status::UriTooLong, "request line too long"));
    }
    let (method, target, version) = request_line(line)?;
    let mut head = Head::default();
    let mut count = 0;
    loop {
        if pos - start > limits.max_head {
            return Err(refuse(Status::HeaderFieldsTooLarge, "head too large"));
        }
        let Some((line, next)) = next_line(buf, pos) else {
            if buf.len() - start > limits.max_head {
                return Err(refuse(Status::HeaderFieldsTooLarge, "head too large"));
            }
            return Ok(Parse::Incomplete);
        };
        if next - start > limits.max_head {
            return Err(refuse(Status::HeaderFieldsTooLarge, "head too large"));
        }
        pos = next;
        if line.is_empty() {
            break;
        }
        count += 1;
        if count > limits.max_headers {
            return Err(refuse(
                Status::HeaderFieldsTooLarge,
                "too many header lines",
            ));
        }
        head.field(line)?;
    }
    if version == Version::Http11 && !head.host {
        return Err(refuse(Status::BadRequest, "HTTP/1.1 request without Host"));
    }
    if head.content_length > limits.max_body {
        return Err(refuse(Status::PayloadTooLarge, "body too large"));
    }
    let keep_alive = match version {
        Version::Http11 => !head.close,
        Version::Http10 => head.keep_alive && !head.close,
    };
    Ok(Parse::Complete {
        request: Request {
            method,
            target,
            version,
            keep_alive,
            if_modified_since: head.if_modified_since,
            range: head.range,
            content_length: head.content_length,
        },
        head_len: pos,
    })
}

/// The line starting at `from`, without its CRLF or LF, and where the next one starts.
fn next_line(buf: &[u8], from: usize) -> Option<(&[u8], usize)> {
    let rest = buf.get(from..)?;
    let lf = rest.iter().position(|&b| b == b'\n')?;
    let line = &rest[..lf];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    Some((line, from + lf + 1))
}

fn request_line(line: &[u8]) -> Result<(Method<'_>, &[u8], Version), Refusal> {
    let mut parts = line.split(|&b| b == b' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(refuse(Status::BadRequest, "malformed request line"));
    };
    if !is_token(method) {
        return Err(refuse(Status::BadRequest, "malformed method"));
    }
    if target.is_empty() || !target.iter().all(|b| (0x21..0x7f).contains(b)) {
        return Err(refuse(Status::BadRequest, "malformed request target"));
    }
    let method = match method {
        b"GET" => Method::Get,
        b"HEAD" => Method::Head,
        // A token is ASCII.
        other => Method::Other(core::str::from_utf8(other).unwrap_or("?")),
    };
    let version = match version {
        b"HTTP/1.1" => Version::Http11,
        b"HTTP/1.0" => Version::Http10,
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            return Err(refuse(Status::VersionNotSupported, "unsupported version"));
        }
        _ => return Err(refuse(Status::BadRequest, "malformed version")),
    };
    Ok((method, target, version))
}

/// What the server keeps of the header lines.
#[derive(Default)]
struct Head<'a> {
    host: bool,
    close: bool,
    keep_alive: bool,
    if_modified_since: Option<&'a [u8]>,
    range: Option<&'a [u8]>,
    content_length: u64,
    content_length_seen: bool,
}

impl<'a> Head<'a> {
    fn field(&mut self, line: &'a [u8]) -> Result<(), Refusal> {
        if line[0] == b' ' || line[0] == b'\t' {
            return Err(refuse(Status::BadRequest, "folded header line"));
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            return Err(refuse(Status::BadRequest, "header line without a colon"));
        };
        let (name, value) = (&line[..colon], trim(&line[colon + 1..]));
        if !is_token(name) {
            return Err(refuse(Status::BadRequest, "malformed header name"));
        }
        if value.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f) {
            return Err(refuse(Status::BadRequest, "control character in a header"));
        }
        if name.eq_ignore_ascii_case(b"host") {
            if self.host {
                return Err(refuse(Status::BadRequest, "two Host headers"));
            }
            self.host = true;
        } else if name.eq_ignore_ascii_case(b"connection") {
            for option in value.split(|&b| b == b',').map(trim) {
                self.close |= option.eq_ignore_ascii_case(b"close");
                self.keep_alive |= option.eq_ignore_ascii_case(b"keep-alive");
            }
        } else if name.eq_ignore_ascii_case(b"content-length") {
            let length = content_length(value)?;
            if self.content_length_seen && length != self.content_length {
                return Err(refuse(Status::BadRequest, "two different Content-Lengths"));
            }
            self.content_length = length;
            self.content_length_seen = true;
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            return Err(refuse(
                Status::NotImplemented,
                "request body with a transfer coding",
            ));
        } else if name.eq_ignore_ascii_case(b"if-modified-since") {
            self.if_modified_since = Some(value);
        } else if name.eq_ignore_ascii_case(b"range") {
            self.range = Some(value);
        }
        Ok(())
    }
}

fn content_length(value: &[u8]) -> Result<u64, Refusal> {
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return Err(refuse(Status::BadRequest, "malformed Content-Length"));
    }
    value.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(d - b'0')))
            .ok_or(refuse(Status::PayloadTooLarge, "body too large"))
    })
}

/// Strips optional whitespace (spaces and tabs) from both ends.
pub(crate) fn trim(value: &[u8]) -> &[u8] {
    let is_ows = |b: &u8| *b == b' ' || *b == b'\t';
    let start = value.iter().position(|b| !is_ows(b)).unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|b| !is_ows(b))
        .map_or(start, |i| i + 1);
    &value[start..end]
}

/// Whether `s` is an RFC 9110 token: one or more of the characters allowed in names.
fn is_token(s: &[u8]) -> bool {
    !s.is_empty()
        && s.iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::{Limits, Method, Parse, Refusal, Request, Version, parse};
    use crate::Status;

    fn complete(buf: &[u8]) -> (Request<'_>, usize) {
        match parse(buf, &Limits::default()) {
            Ok(Parse::Complete { request, head_len }) => (request, head_len),
            other => panic!("{:?}: {other:?}", core::str::from_utf8(buf)),
        }
    }

    fn status(buf: &[u8]) -> Status {
        match parse(buf, &Limits::default()) {
            Err(Refusal { status, .. }) => status,
            other => panic!("{:?}: {other:?}", core::str::from_utf8(buf)),
        }
    }

    #[test]
    fn a_get_with_host_is_complete_and_keeps_the_connection() {
        let buf = b"GET /index.html HTTP/1.1\r\nHost: example\r\nRange: bytes=0-9\r\n\r\nGET";
        let (request, head_len) = complete(buf);
        assert_eq!(request.method, Method::Get);
        assert_eq!(request.target, b"/index.html");
        assert_eq!(request.version, Version::Http11);
        assert!(request.keep_alive);
        assert_eq!(request.range, Some(&b"bytes=0-9"[..]));
        assert_eq!(
            &buf[head_len..],
            b"GET",
            "the next request starts after the head"
        );
    }

    #[test]
    fn bare_line_feeds_and_leading_empty_lines_are_accepted() {
        let (request, head_len) = complete(b"\r\n\nHEAD / HTTP/1.0\nIf-Modified-Since: x\n\n");
        assert_eq!(request.method, Method::Head);
        assert_eq!(request.if_modified_since, Some(&b"x"[..]));
        assert!(!request.keep_alive, "HTTP/1.0 closes by default");
        assert_eq!(head_len, 41);
    }

    #[test]
    fn connection_options_decide_keep_alive() {
        let close = complete(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: Close\r\n\r\n").0;
        assert!(!close.keep_alive);
        let keep = complete(b"GET / HTTP/1.0\r\nConnection: foo, keep-alive\r\n\r\n").0;
        assert!(keep.keep_alive);
    }

    #[test]
    fn partial_heads_ask_for_more() {
        let full = b"GET / HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n";
        for end in 0..full.len() {
            assert_eq!(
                parse(&full[..end], &Limits::default()),
                Ok(Parse::Incomplete),
                "{end} bytes"
            );
        }
        complete(full);
    }

    #[test]
    fn malformed_requests_get_400() {
        for bad in [
            &b"GET /\r\n\r\n"[..],
            b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET / HTTP/1.1 extra\r\nHost: a\r\n\r\n",
            b"G(T / HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET /\x00 HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET /\xff HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET / HTTP/1.1\r\n\r\n",
            b"GET / http/1.1\r\nHost: a\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost : a\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nNo colon\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\x00b\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1x\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        ] {
            assert_eq!(
                status(bad),
                Status::BadRequest,
                "{:?}",
                core::str::from_utf8(bad)
            );
        }
    }

    #[test]
    fn other_methods_parse_for_a_405_and_other_versions_get_505() {
        let request = complete(b"DELETE /x HTTP/1.1\r\nHost: a\r\n\r\n").0;
        assert_eq!(request.method, Method::Other("DELETE"));
        assert_eq!(
            status(b"GET / HTTP/2.0\r\nHost: a\r\n\r\n"),
            Status::VersionNotSupported
        );
        assert_eq!(
            status(b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Status::NotImplemented
        );
    }

    #[test]
    fn limits_give_414_431_and_413() {
        let limits = Limits::default();
        let mut long = b"GET /".to_vec();
        long.resize(limits.max_request_line + 1, b'a');
        assert_eq!(
            status(&long),
            Status::UriTooLong,
            "even before the line ends"
        );
        long.extend_from_slice(b" HTTP/1.1\r\n");
        assert_eq!(status(&long), Status::UriTooLong);

        let mut many = b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec();
        for _ in 0..limits.max_headers {
            many.extend_from_slice(b"X: y\r\n");
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(status(&many), Status::HeaderFieldsTooLarge);

        let mut big = b"GET / HTTP/1.1\r\nHost: a\r\nX: ".to_vec();
        big.resize(limits.max_head + 1, b'v');
        assert_eq!(
            status(&big),
            Status::HeaderFieldsTooLarge,
            "without an end of line"
        );

        let body = b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 65537\r\n\r\n";
        assert_eq!(status(body), Status::PayloadTooLarge);
        let huge = b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n";
        assert_eq!(status(huge), Status::PayloadTooLarge);
        let fits = complete(b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 65536\r\n\r\n").0;
        assert_eq!(fits.content_length, 65536);
    }

    #[test]
    fn endless_empty_lines_are_refused() {
        let blank = [b'\n'; 10_000];
        assert_eq!(status(&blank), Status::BadRequest);
        assert_eq!(
            parse(&blank[..100], &Limits::default()),
            Ok(Parse::Incomplete)
        );
    }
}
