//! DNS against a name server the test starts itself, in probe's private network namespace.
//!
//! probe boots this suite on a tap in a network namespace of its own (root only), with
//! `ip=10.0.2.15/24 gw=10.0.2.2 dns=10.0.2.2` on the command line, and runs its host-side
//! peer (`hostnet::dns_suite`) once the guest printed `dns ready: `. The peer starts a name
//! server on 10.0.2.2:53 that knows `novillo.test` (two addresses) and answers NXDOMAIN for
//! every other name, then says `go` on the control connection (port 8); the guest looks
//! both names up and says `done`, and the peer checks that its server was asked each.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

use apps as _;
use kernel::net::{self, ErrorKind, Ipv4Addr, TcpListener, TcpStream};
use kernel::process::ExitCode;
use kernel::testing::{self, Outcome};
use kernel::{cases, check, check_eq};

kernel::main!(main);

/// The address probe gives the guest on its tap.
const GUEST: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 15);
/// The host's side of the tap: gateway and name server.
const HOST: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 2);
/// The name the test's server knows, and its addresses, in its order.
const KNOWN: &str = "novillo.test";
const KNOWN_ADDRESSES: [Ipv4Addr; 2] = [Ipv4Addr::new(10, 0, 2, 77), Ipv4Addr::new(10, 0, 2, 78)];
/// A name the test's server answers NXDOMAIN for.
const UNKNOWN: &str = "missing.novillo.test";

fn main() -> ExitCode {
    testing::run(cases![
        the_address_is_the_command_lines,
        names_resolve_against_the_tests_server
    ])
}

fn the_address_is_the_command_lines() -> Outcome {
    let config = net::wait_for_config(Duration::from_secs(30)).map_err(|e| format!("{e}"))?;
    check_eq!(config.address, GUEST);
    check_eq!(config.gateway, Some(HOST));
    check_eq!(config.dns_servers.as_slice(), [HOST].as_slice());
    Ok(())
}

fn names_resolve_against_the_tests_server() -> Outcome {
    let control = TcpListener::bind("0.0.0.0:8").map_err(|e| format!("bind tcp:8: {e}"))?;
    kernel::println!("dns ready: {GUEST}");
    let (control, _) = control.accept().map_err(|e| format!("control: {e}"))?;
    check_eq!(read_line(&control)?, "go");
    let known = net::lookup_host(KNOWN).map_err(|e| format!("looking up {KNOWN}: {e}"))?;
    // The stack may keep fewer answers than the server gives (smoltcp keeps as many as
    // its `dns-max-result-count`), never others, and in the server's order.
    check_eq!(known.first(), Some(&KNOWN_ADDRESSES[0]));
    check!(
        KNOWN_ADDRESSES.starts_with(&known),
        "{KNOWN} resolved to {known:?}, not a start of {KNOWN_ADDRESSES:?}"
    );
    let unknown = net::lookup_host(UNKNOWN);
    let err = match unknown {
        Ok(addrs) => return Err(format!("{UNKNOWN} resolved to {addrs:?}")),
        Err(e) => e,
    };
    check_eq!(err.kind(), ErrorKind::NotFound);
    check_eq!(format!("{err}"), "name not found");
    control
        .write_all(b"done\n")
        .map_err(|e| format!("control: {e}"))?;
    Ok(())
}

/// One line without its `\n`; the stream's end ends it too.
fn read_line(stream: &TcpStream) -> Result<String, String> {
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .map_err(|e| format!("{e}"))?;
    let mut line = Vec::new();
    let mut byte = [0];
    while stream.read(&mut byte).map_err(|e| format!("read: {e}"))? == 1 && byte[0] != b'\n' {
        line.push(byte[0]);
    }
    String::from_utf8(line).map_err(|_| "a line that is not UTF-8".into())
}
