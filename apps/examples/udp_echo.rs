//! UDP echo on port 7: sends every datagram back to its sender. Prints
//! `udp-echo: listening on ADDRESS:7` once the interface has an address, then serves for
//! ever. Exits with 1 when there is no network.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use core::time::Duration;

use apps as _;
use kernel::net::{self, UdpSocket};
use kernel::process::ExitCode;

kernel::main!(main);

/// How long to wait for DHCP.
const CONFIG_TIMEOUT: Duration = Duration::from_secs(30);

fn main() -> ExitCode {
    match serve() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            kernel::println!("udp-echo: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serve() -> net::Result<()> {
    let config = net::wait_for_config(CONFIG_TIMEOUT)?;
    let socket = UdpSocket::bind("0.0.0.0:7")?;
    kernel::println!("udp-echo: listening on {}:7", config.address);
    let mut buf = [0; 2048];
    loop {
        let (n, from) = socket.recv_from(&mut buf)?;
        socket.send_to(&buf[..n], from)?;
    }
}
