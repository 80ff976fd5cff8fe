//! The HTTP/1.1 of Novillo's static web server, without I/O: the server feeds it bytes and
//! writes what it returns, so every rule here is tested on the host and fuzzed.
//!
//! | module | what it does |
//! |---|---|
//! | [`request`] | parses a request head within [`Limits`], or says which status refuses it |
//! | [`path`] | turns a request target into a path that cannot leave the served folder |
//! | [`date`] | HTTP dates (`Date`, `Last-Modified`, `If-Modified-Since`) |
//! | [`range`] | a single `Range: bytes=` against a file's length |
//! | [`mime`] | `Content-Type` by file extension |
//! | [`response`] | what to answer: the response head and which bytes of which file follow |
//! | [`serve`] | one connection: requests in order, files in chunks, timeouts |
//!
//! Outside input never panics here: every malformed request is an `Err` naming the status
//! to answer with.

#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod date;
pub mod mime;
pub mod path;
pub mod range;
pub mod request;
pub mod response;
pub mod serve;
mod status;

pub use request::Limits;
pub use status::Status;
