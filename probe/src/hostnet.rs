//! Host-side peers of guest cases with a network: each runs while the guest serves, talks
//! to it through the forwarded ports, and says what went wrong.

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::time::Duration;

use crate::dns;
use crate::net::{Network, Protocol};

/// How long a peer waits for one answer before it sends again: user networking holds a
/// datagram only briefly while it asks the guest's address (ARP), and a slow TCG guest on a
/// busy host may answer later than that.
const ANSWER_WITHIN: Duration = Duration::from_secs(3);
/// How often a peer sends a datagram before it gives up on its echo.
const TRIES: usize = 5;

/// The `nic` example's peer: datagrams of several sizes to guest UDP port 7 come back byte
/// for byte (each sent again while no echo comes; a late echo of an earlier try is
/// skipped), then `bye` ends the guest. The guest exits right after it echoes `bye`, so
/// that echo may never leave QEMU: the peer does not wait for it.
pub(crate) fn udp_echo(network: &Network) -> Result<(), String> {
    let socket = udp_socket(network)?;
    let mut sent = Vec::new();
    for (i, len) in [1, 18, 100, 1000, 1472].into_iter().enumerate() {
        let datagram: Vec<u8> = (0..len).map(|j| (i * 31 + j * 7) as u8).collect();
        echo(&socket, &datagram, &sent)?;
        sent.push(datagram);
    }
    socket
        .send(b"bye")
        .map_err(|e| format!("sending bye: {e}"))?;
    Ok(())
}

/// Sends `datagram` until its echo comes back byte for byte; echoes of `earlier` ones are
/// skipped, anything else is an error.
fn echo(socket: &UdpSocket, datagram: &[u8], earlier: &[Vec<u8>]) -> Result<(), String> {
    let len = datagram.len();
    let mut answer = vec![0; 2048];
    for _ in 0..TRIES {
        socket
            .send(datagram)
            .map_err(|e| format!("sending {len} bytes: {e}"))?;
        loop {
            let got = match socket.recv(&mut answer) {
                Ok(got) => got,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
                Err(e) => return Err(format!("waiting for the echo of {len} bytes: {e}")),
            };
            if answer[..got] == *datagram {
                return Ok(());
            }
            if !earlier.iter().any(|e| e[..] == answer[..got]) {
                return Err(format!(
                    "the echo of {len} bytes came back as {got} other bytes"
                ));
            }
        }
    }
    Err(format!(
        "no echo of {len} bytes after {TRIES} tries {} s apart",
        ANSWER_WITHIN.as_secs()
    ))
}

/// The `net` suite's peer: TCP echo of 1 MiB and of many connections at once, UDP echo,
/// then a server on the host that the guest connects out to, told through port 8.
pub(crate) fn net_suite(network: &Network) -> Result<(), String> {
    let tcp = guest(network, Protocol::Tcp, 7)?;
    let control = guest(network, Protocol::Tcp, 8)?;
    tcp_echo(tcp, 1 << 20, 1)?;
    tcp_echo(tcp, ECHO_AT_ONCE, CONNECTIONS_AT_ONCE)?;
    udp_echo_round_trips(network)?;
    connect_out(control, network)
}

/// Where the host reaches guest port `port`.
pub(crate) fn guest(
    network: &Network,
    protocol: Protocol,
    port: u16,
) -> Result<SocketAddr, String> {
    network
        .address(protocol, port)
        .ok_or_else(|| format!("{protocol}:{port} is not forwarded"))
}

/// A UDP socket connected to guest port 7, answers awaited for [`ANSWER_WITHIN`].
fn udp_socket(network: &Network) -> Result<UdpSocket, String> {
    let guest = guest(network, Protocol::Udp, 7)?;
    let socket =
        UdpSocket::bind((network.bind_address(), 0)).map_err(|e| format!("udp socket: {e}"))?;
    socket
        .connect(guest)
        .and_then(|()| socket.set_read_timeout(Some(ANSWER_WITHIN)))
        .map_err(|e| format!("udp socket: {e}"))?;
    Ok(socket)
}

/// Connections the suite's peer opens at once, and what each echoes: the README's promise.
const CONNECTIONS_AT_ONCE: usize = 40;
const ECHO_AT_ONCE: usize = 64 << 10;

/// `count` connections at once to the guest's TCP echo, each sending `len` bytes while
/// reading the echo, which must match byte for byte.
fn tcp_echo(guest: SocketAddr, len: usize, count: usize) -> Result<(), String> {
    let clients: Vec<_> = (0..count)
        .map(|i| std::thread::spawn(move || tcp_echo_one(guest, len, i as u8)))
        .collect();
    for client in clients {
        client
            .join()
            .map_err(|_| "an echo client panicked".to_owned())??;
    }
    Ok(())
}

fn tcp_echo_one(guest: SocketAddr, len: usize, seed: u8) -> Result<(), String> {
    let data: Vec<u8> = (0..len)
        .map(|i| (i as u8).wrapping_mul(7) ^ seed ^ (i >> 10) as u8)
        .collect();
    let stream = TcpStream::connect(guest).map_err(|e| format!("connect: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .map_err(|e| format!("timeout: {e}"))?;
    let mut reader = stream.try_clone().map_err(|e| format!("clone: {e}"))?;
    let expected = data.clone();
    let read = std::thread::spawn(move || -> Result<(), String> {
        let mut got = vec![0; expected.len()];
        reader
            .read_exact(&mut got)
            .map_err(|e| format!("echo of {} bytes: {e}", expected.len()))?;
        if got != expected {
            return Err(format!("the echo of {} bytes differs", expected.len()));
        }
        Ok(())
    });
    (&stream)
        .write_all(&data)
        .map_err(|e| format!("sending {len} bytes: {e}"))?;
    read.join()
        .map_err(|_| "an echo reader panicked".to_owned())??;
    Ok(())
}

fn udp_echo_round_trips(network: &Network) -> Result<(), String> {
    let socket = udp_socket(network)?;
    let mut answer = vec![0; 2048];
    for len in [1, 100, 1472] {
        let datagram: Vec<u8> = (0..len).map(|j| (j * 13) as u8).collect();
        socket
            .send(&datagram)
            .map_err(|e| format!("sending {len} bytes: {e}"))?;
        let got = socket
            .recv(&mut answer)
            .map_err(|e| format!("no UDP echo of {len} bytes: {e}"))?;
        if answer[..got] != datagram[..] {
            return Err(format!("the UDP echo of {len} bytes differs"));
        }
    }
    Ok(())
}

/// Starts a server on the host, tells the guest its port, and checks the greeting the
/// guest's connection brings.
fn connect_out(control: SocketAddr, network: &Network) -> Result<(), String> {
    let server =
        TcpListener::bind((network.bind_address(), 0)).map_err(|e| format!("server: {e}"))?;
    let port = server
        .local_addr()
        .map_err(|e| format!("server: {e}"))?
        .port();
    let mut control = TcpStream::connect(control).map_err(|e| format!("control: {e}"))?;
    control
        .set_read_timeout(Some(Duration::from_secs(60)))
        .map_err(|e| format!("control: {e}"))?;
    control
        .write_all(format!("{port}\n").as_bytes())
        .map_err(|e| format!("control: {e}"))?;
    server
        .set_nonblocking(true)
        .map_err(|e| format!("server: {e}"))?;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let (mut guest, _) = loop {
        match server.accept() {
            Ok(conn) => break conn,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if std::time::Instant::now() > deadline {
                    return Err("the guest never connected out".to_owned());
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(format!("server: {e}")),
        }
    };
    guest
        .set_nonblocking(false)
        .and_then(|()| guest.set_read_timeout(Some(Duration::from_secs(60))))
        .map_err(|e| format!("guest connection: {e}"))?;
    let mut greeting = [0; 19];
    guest
        .read_exact(&mut greeting)
        .map_err(|e| format!("the guest's greeting: {e}"))?;
    if &greeting != b"hello from novillo\n" {
        return Err(format!(
            "the guest sent {:?}",
            String::from_utf8_lossy(&greeting)
        ));
    }
    guest
        .write_all(b"hello back\n")
        .map_err(|e| format!("answering the guest: {e}"))?;
    let mut ok = [0; 3];
    control
        .read_exact(&mut ok)
        .map_err(|e| format!("control: {e}"))?;
    if &ok != b"ok\n" {
        return Err("the guest did not say ok".to_owned());
    }
    control
        .write_all(b"done\n")
        .map_err(|e| format!("control: {e}"))
}

/// The name the `dns` suite's server knows, and its addresses.
const DNS_KNOWN: &str = "novillo.test";
const DNS_KNOWN_ADDRESSES: [Ipv4Addr; 2] =
    [Ipv4Addr::new(10, 0, 2, 77), Ipv4Addr::new(10, 0, 2, 78)];
/// The name it answers NXDOMAIN for (as it does for every other).
const DNS_UNKNOWN: &str = "missing.novillo.test";

/// The `dns` suite's peer: a name server on the host's side of the link, port 53, then
/// `go` on the control connection (port 8); once the guest says `done`, the server must
/// have been asked both names, and answered the unknown one NXDOMAIN.
pub(crate) fn dns_suite(network: &Network) -> Result<(), String> {
    let host = network
        .host()
        .ok_or("the guest's network has no host address probe knows")?;
    let server = dns::Server::start(
        SocketAddr::from((host, 53)),
        vec![(DNS_KNOWN.to_owned(), DNS_KNOWN_ADDRESSES.to_vec())],
    )?;
    let control = guest(network, Protocol::Tcp, 8)?;
    let mut control = TcpStream::connect(control).map_err(|e| format!("control: {e}"))?;
    control
        .set_read_timeout(Some(Duration::from_secs(60)))
        .and_then(|()| control.write_all(b"go\n"))
        .map_err(|e| format!("control: {e}"))?;
    let mut done = [0; 5];
    control
        .read_exact(&mut done)
        .map_err(|e| format!("the guest did not say done: {e}"))?;
    if &done != b"done\n" {
        return Err(format!(
            "the guest sent {:?}, not done",
            String::from_utf8_lossy(&done)
        ));
    }
    let asked = server.asked();
    for (name, known) in [(DNS_KNOWN, true), (DNS_UNKNOWN, false)] {
        let expected = dns::Asked {
            name: name.to_owned(),
            known,
        };
        if !asked.contains(&expected) {
            return Err(format!(
                "the name server was not asked {name} (it was asked {asked:?})"
            ));
        }
    }
    Ok(())
}
