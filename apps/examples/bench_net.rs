//! The guest side of `probe bench net`: three TCP servers the host's load generator
//! measures, each connection on a thread of its own, the threads spread over the cores.
//! - port 5001, sink: reads until the peer closes and discards what came (host to guest
//!   throughput);
//! - port 5002, source: reads an 8-byte little-endian count, writes that many bytes and
//!   closes (guest to host throughput);
//! - port 5003, echo of 64-byte requests: reads 64 bytes, writes them back, until the peer
//!   closes (request rate and latency, one connection per request or kept alive).
//!
//! Prints `BENCH-NET-READY` once all three listen and the interface has an address.

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
/// The size of one request and of its response.
const REQUEST: usize = 64;
/// Each connection's thread: one buffer and the socket calls.
const STACK: usize = 32 * 1024;
/// What one write of the source sends.
const CHUNK: usize = 16 * 1024;

fn main() -> ExitCode {
    match serve() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            kernel::println!("bench_net: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serve() -> net::Result<()> {
    net::wait_for_config(CONFIG_TIMEOUT)?;
    let sink = TcpListener::bind("0.0.0.0:5001")?;
    let source = TcpListener::bind("0.0.0.0:5002")?;
    let echo = TcpListener::bind("0.0.0.0:5003")?;
    kernel::println!("BENCH-NET-READY");
    let spawn = |listener: TcpListener, name: &'static str, work: fn(&TcpStream)| {
        thread::Builder::new()
            .name(name)
            .spawn(move || accept(&listener, work))
            .map(|_| ())
            .map_err(|_| kernel::println!("bench_net: no thread for {name}"))
    };
    let spawned = spawn(sink, "sink", drain).and(spawn(source, "source", send));
    if spawned.is_err() {
        return Ok(());
    }
    accept(&echo, answer);
    Ok(())
}

/// Gives each connection of `listener` a thread running `work`, on the cores in turn.
fn accept(listener: &TcpListener, work: fn(&TcpStream)) {
    let cores = thread::available_cores();
    for (n, stream) in listener.incoming().enumerate() {
        let Ok(stream) = stream else { continue };
        let spawned = thread::Builder::new()
            .core(n % cores)
            .stack_size(STACK)
            .spawn(move || work(&stream));
        if spawned.is_err() {
            kernel::println!("bench_net: no thread for a connection");
        }
    }
}

fn drain(stream: &TcpStream) {
    let mut buf = [0; CHUNK];
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 {
            return;
        }
    }
}

fn send(stream: &TcpStream) {
    let mut count = [0; 8];
    if stream.read_exact(&mut count).is_err() {
        return;
    }
    let mut left = u64::from_le_bytes(count);
    let chunk = [b'n'; CHUNK];
    while left > 0 {
        let n = usize::try_from(left).map_or(CHUNK, |left| left.min(CHUNK));
        if stream.write_all(&chunk[..n]).is_err() {
            return;
        }
        left -= n as u64;
    }
}

fn answer(stream: &TcpStream) {
    let mut request = [0; REQUEST];
    while stream.read_exact(&mut request).is_ok() {
        if stream.write_all(&request).is_err() {
            return;
        }
    }
}
