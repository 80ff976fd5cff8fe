//! Host-side peers of guest cases with a network: each runs while the guest serves, talks
//! to it through the forwarded ports, and says what went wrong.

use std::net::UdpSocket;
use std::time::Duration;

use crate::net::{Forwarded, Protocol};

/// How long a peer waits for one answer: TCG guests are slow, and the first datagram waits
/// for ARP.
const ANSWER_WITHIN: Duration = Duration::from_secs(10);

/// The `nic` example's peer: datagrams of several sizes to guest UDP port 7 come back byte
/// for byte, then `bye` ends the guest.
pub(crate) fn udp_echo(forwarded: &Forwarded) -> Result<(), String> {
    let port = forwarded
        .port(Protocol::Udp, 7)
        .ok_or("udp:7 is not forwarded")?;
    let socket = UdpSocket::bind("127.0.0.1:0").map_err(|e| format!("udp socket: {e}"))?;
    socket
        .connect(("127.0.0.1", port))
        .and_then(|()| socket.set_read_timeout(Some(ANSWER_WITHIN)))
        .map_err(|e| format!("udp socket: {e}"))?;
    let mut answer = vec![0; 2048];
    for (i, len) in [1, 18, 100, 1000, 1472].into_iter().enumerate() {
        let datagram: Vec<u8> = (0..len).map(|j| (i * 31 + j * 7) as u8).collect();
        socket
            .send(&datagram)
            .map_err(|e| format!("sending {len} bytes: {e}"))?;
        let got = socket
            .recv(&mut answer)
            .map_err(|e| format!("no echo of {len} bytes: {e}"))?;
        if answer[..got] != datagram[..] {
            return Err(format!(
                "the echo of {len} bytes came back as {got} other bytes"
            ));
        }
    }
    socket
        .send(b"bye")
        .map_err(|e| format!("sending bye: {e}"))?;
    let got = socket
        .recv(&mut answer)
        .map_err(|e| format!("no echo of bye: {e}"))?;
    if &answer[..got] != b"bye" {
        return Err("bye came back different".to_owned());
    }
    Ok(())
}
