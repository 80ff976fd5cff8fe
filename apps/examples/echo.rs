//! TCP echo on port 7: each connection gets a thread, the threads spread over the cores in
//! turn, and each sends back every byte it reads until the peer closes. Prints
//! `echo: listening on ADDRESS:7` once the interface has an address (DHCP, or `ip=` on the
//! command line), then serves for ever. Exits with 1 when there is no network.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use core::time::Duration;

use apps as _;
use kernel::net::{self, TcpListener, TcpStream};
use kernel::process::ExitCode;
use kernel::thread;

kernel::main!(main);

/// How long to wait for DHCP.
const CONFIG_TIMEOUT: Duration = Duration::from_secs(30);

fn main() -> ExitCode {
    kernel::system::start_stats();
    match serve() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            kernel::println!("echo: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serve() -> net::Result<()> {
    let config = net::wait_for_config(CONFIG_TIMEOUT)?;
    let listener = TcpListener::bind("0.0.0.0:7")?;
    kernel::println!("echo: listening on {}:7", config.address);
    let cores = thread::available_cores();
    for (n, stream) in listener.incoming().enumerate() {
        let stream = match stream {
            Ok(stream) => stream,
            Err(e) => {
                kernel::println!("echo: accept: {e}");
                continue;
            }
        };
        let spawned = thread::Builder::new()
            .core(n % cores)
            .spawn(move || echo(&stream));
        if let Err(e) = spawned {
            kernel::println!("echo: no thread for a connection: {e:?}");
        }
    }
    Ok(())
}

/// Sends back what comes until the peer closes; the stream closes when dropped.
fn echo(stream: &TcpStream) {
    let mut buf = [0; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if stream.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
        }
    }
}
