//! Host-side peers of guest cases with a network: each runs while the guest serves, talks
//! to it through the forwarded ports, and says what went wrong.

use std::io::ErrorKind;
use std::net::UdpSocket;
use std::time::Duration;

use crate::net::{Forwarded, Protocol};

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
pub(crate) fn udp_echo(forwarded: &Forwarded) -> Result<(), String> {
    let port = forwarded
        .port(Protocol::Udp, 7)
        .ok_or("udp:7 is not forwarded")?;
    let socket = UdpSocket::bind("127.0.0.1:0").map_err(|e| format!("udp socket: {e}"))?;
    socket
        .connect(("127.0.0.1", port))
        .and_then(|()| socket.set_read_timeout(Some(ANSWER_WITHIN)))
        .map_err(|e| format!("udp socket: {e}"))?;
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
