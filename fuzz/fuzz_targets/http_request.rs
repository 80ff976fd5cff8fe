//! The web server's request path on hostile bytes: parse every request in the stream (as a
//! pipelining client would send them), answer each against a small volume, and check that
//! no answer names a file outside the served folder.
#![no_main]

use httpd::request::{Limits, Parse, parse};
use httpd::response::{Found, Missing, reply};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_request_line: 256,
        max_head: 512,
        max_headers: 8,
        max_body: 64,
    };
    let mut lookup = |path: &str| {
        assert!(path.starts_with("/site"), "{path} is outside the served folder");
        match path {
            "/site" | "/site/dir" => Ok(Found::Folder),
            "/site/index.html" | "/site/a.txt" => Ok(Found::File {
                len: 100,
                modified: Some(1_700_000_000),
            }),
            "/site/bad" => Err(Missing::Failed),
            _ => Err(Missing::NotFound),
        }
    };
    let mut rest = data;
    let mut out = Vec::new();
    while let Ok(Parse::Complete { request, head_len }) = parse(rest, &limits) {
        assert!(head_len > 0 && head_len <= rest.len());
        let answer = reply(&request, "/site", 1_800_000_000, &mut lookup, &mut out);
        if let Some(body) = answer.body {
            assert!(body.len > 0 && body.offset + body.len <= 100);
        }
        let skip = usize::try_from(request.content_length).unwrap_or(usize::MAX);
        rest = rest.get(head_len.saturating_add(skip)..).unwrap_or_default();
        if !answer.keep_alive {
            break;
        }
    }
    let _ = httpd::date::parse(data);
    let _ = httpd::range::resolve(data, 1000);
});
