//! TCP/IP against the host, through QEMU user networking.
//!
//! probe boots this suite with a NIC, forwards guest TCP ports 7 and 8 and UDP port 7 to
//! free host ports, and runs its host-side peer (`hostnet::net_suite`) once the guest
//! printed `net ready: `. The guest serves TCP and UDP echo on port 7 (a thread per
//! connection, over every core); the peer checks the echoes byte for byte (1 MiB, and
//! many connections at once), then sends a port number on the control connection
//! (port 8): the guest connects out to that port on the host (10.0.2.2) and exchanges a
//! greeting with the peer's server there.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::format;
use alloc::vec::Vec;
use core::time::Duration;

use apps as _;
use kernel::net::{self, Ipv4Addr, TcpListener, TcpStream, UdpSocket};
use kernel::process::ExitCode;
use kernel::testing::{self, Outcome};
use kernel::thread;
use kernel::{cases, check, check_eq};

kernel::main!(main);

/// QEMU user networking's DHCP answer.
const GUEST: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 15);
/// The host, as user networking shows it to the guest.
const HOST: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 2);

fn main() -> ExitCode {
    testing::run(cases![dhcp_gives_the_address, serves_and_connects_out])
}

fn dhcp_gives_the_address() -> Outcome {
    let config = net::wait_for_config(Duration::from_secs(30)).map_err(|e| format!("{e}"))?;
    check_eq!(config.address, GUEST);
    check_eq!(config.prefix_len, 24);
    check_eq!(config.gateway, Some(HOST));
    check!(!config.dns_servers.is_empty(), "DHCP names a name server");
    Ok(())
}

fn serves_and_connects_out() -> Outcome {
    let listener = TcpListener::bind("0.0.0.0:7").map_err(|e| format!("bind tcp:7: {e}"))?;
    let udp = UdpSocket::bind("0.0.0.0:7").map_err(|e| format!("bind udp:7: {e}"))?;
    let control = TcpListener::bind("0.0.0.0:8").map_err(|e| format!("bind tcp:8: {e}"))?;
    thread::spawn(move || tcp_echo(&listener));
    thread::spawn(move || udp_echo(&udp));
    kernel::println!("net ready: {GUEST}");
    let (control, _) = control.accept().map_err(|e| format!("control: {e}"))?;
    let line = read_line(&control)?;
    let port: u16 = line
        .trim()
        .parse()
        .map_err(|_| format!("the host sent {line:?}, not a port"))?;
    let out = TcpStream::connect((HOST, port)).map_err(|e| format!("connect to the host: {e}"))?;
    out.write_all(b"hello from novillo\n")
        .map_err(|e| format!("write to the host: {e}"))?;
    check_eq!(read_line(&out)?, "hello back");
    control
        .write_all(b"ok\n")
        .map_err(|e| format!("control: {e}"))?;
    check_eq!(read_line(&control)?, "done");
    Ok(())
}

/// One line without its `\n`; the stream's end ends it too.
fn read_line(stream: &TcpStream) -> Result<alloc::string::String, alloc::string::String> {
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .map_err(|e| format!("{e}"))?;
    let mut line = Vec::new();
    let mut byte = [0];
    while stream.read(&mut byte).map_err(|e| format!("read: {e}"))? == 1 && byte[0] != b'\n' {
        line.push(byte[0]);
    }
    alloc::string::String::from_utf8(line).map_err(|_| "a line that is not UTF-8".into())
}

fn tcp_echo(listener: &TcpListener) {
    let cores = thread::available_cores();
    for (n, stream) in listener.incoming().enumerate() {
        let Ok(stream) = stream else { continue };
        let _ = thread::Builder::new().core(n % cores).spawn(move || {
            let mut buf = [0; 4096];
            while let Ok(n @ 1..) = stream.read(&mut buf) {
                if stream.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
        });
    }
}

fn udp_echo(socket: &UdpSocket) {
    let mut buf = [0; 2048];
    while let Ok((n, from)) = socket.recv_from(&mut buf) {
        let _ = socket.send_to(&buf[..n], from);
    }
}
