//! A name server small enough to trust in a test: it answers A questions for the names it
//! is given and NXDOMAIN for every other name, over UDP, and keeps a log of what it was
//! asked. Anything that is not one plain question is ignored, as a lost datagram would be.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Record type A and class IN.
const TYPE_A: u16 = 1;
const CLASS_IN: u16 = 1;
/// Answer flags: a response (QR), recursion desired and available, no error.
const RESPONSE: u16 = 0x8180;
/// The response code for a name that does not exist.
const NXDOMAIN: u16 = 3;
/// What a server tells resolvers to keep an answer for.
const TTL_SECONDS: u32 = 60;
/// How often the server looks whether it should stop.
const STOP_CHECK: Duration = Duration::from_millis(100);

/// One question the server answered: the name and whether it knew it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Asked {
    pub(crate) name: String,
    pub(crate) known: bool,
}

/// A running server; stopped on drop.
pub(crate) struct Server {
    log: Arc<Mutex<Vec<Asked>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Serves on `at`: `names` are known, each with its addresses in order.
    pub(crate) fn start(
        at: SocketAddr,
        names: Vec<(String, Vec<Ipv4Addr>)>,
    ) -> Result<Server, String> {
        let socket =
            UdpSocket::bind(at).map_err(|e| format!("the name server cannot bind {at}: {e}"))?;
        socket
            .set_read_timeout(Some(STOP_CHECK))
            .map_err(|e| format!("the name server's socket: {e}"))?;
        let log = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (log, stop) = (Arc::clone(&log), Arc::clone(&stop));
            std::thread::spawn(move || serve(&socket, &names, &log, &stop))
        };
        Ok(Server {
            log,
            stop,
            thread: Some(thread),
        })
    }

    /// What the server was asked so far, in order.
    pub(crate) fn asked(&self) -> Vec<Asked> {
        self.log.lock().map(|log| log.clone()).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ignored = thread.join();
        }
    }
}

fn serve(
    socket: &UdpSocket,
    names: &[(String, Vec<Ipv4Addr>)],
    log: &Mutex<Vec<Asked>>,
    stop: &AtomicBool,
) {
    let mut query = [0; 512];
    while !stop.load(Ordering::Relaxed) {
        let Ok((len, from)) = socket.recv_from(&mut query) else {
            continue;
        };
        let Some((name, answer)) = answer(&query[..len], names) else {
            continue;
        };
        // Logged first, so that whoever got the answer finds the question in the log.
        let known = names
            .iter()
            .any(|(known, _)| known.eq_ignore_ascii_case(&name));
        if let Ok(mut log) = log.lock() {
            log.push(Asked { name, known });
        }
        let _lost_like_any_datagram = socket.send_to(&answer, from);
    }
}

/// The name asked in `query` and the answer to it, or `None` when `query` is not one
/// question for an A record of class IN.
pub(crate) fn answer(query: &[u8], names: &[(String, Vec<Ipv4Addr>)]) -> Option<(String, Vec<u8>)> {
    let header = query.get(..12)?;
    let flags = u16::from_be_bytes([header[2], header[3]]);
    let questions = u16::from_be_bytes([header[4], header[5]]);
    // A query (QR clear), standard (opcode 0), with exactly one question.
    if flags & 0xf800 != 0 || questions != 1 {
        return None;
    }
    let (name, end) = read_name(query, 12)?;
    let fixed = query.get(end..end + 4)?;
    if u16::from_be_bytes([fixed[0], fixed[1]]) != TYPE_A
        || u16::from_be_bytes([fixed[2], fixed[3]]) != CLASS_IN
    {
        return None;
    }
    let addresses = names
        .iter()
        .find(|(known, _)| known.eq_ignore_ascii_case(&name))
        .map(|(_, addresses)| addresses.as_slice());
    let count = addresses.map_or(0, <[Ipv4Addr]>::len);
    let mut reply = Vec::with_capacity(end + 4 + count * 16);
    reply.extend_from_slice(&header[..2]);
    let code = if addresses.is_some() { 0 } else { NXDOMAIN };
    reply.extend_from_slice(&(RESPONSE | code).to_be_bytes());
    reply.extend_from_slice(&1u16.to_be_bytes());
    reply.extend_from_slice(&u16::try_from(count).ok()?.to_be_bytes());
    reply.extend_from_slice(&[0; 4]);
    reply.extend_from_slice(&query[12..end + 4]);
    for address in addresses.unwrap_or_default() {
        // The name as a pointer to the question's, at offset 12.
        reply.extend_from_slice(&0xc00cu16.to_be_bytes());
        reply.extend_from_slice(&TYPE_A.to_be_bytes());
        reply.extend_from_slice(&CLASS_IN.to_be_bytes());
        reply.extend_from_slice(&TTL_SECONDS.to_be_bytes());
        reply.extend_from_slice(&4u16.to_be_bytes());
        reply.extend_from_slice(&address.octets());
    }
    Some((name, reply))
}

/// The dotted name of labels starting at `at`, and where it ends; compression pointers are
/// not expected in a question and refused.
fn read_name(message: &[u8], mut at: usize) -> Option<(String, usize)> {
    let mut labels = Vec::new();
    loop {
        let len = usize::from(*message.get(at)?);
        at += 1;
        if len == 0 {
            break;
        }
        if len > 63 {
            return None;
        }
        let label = std::str::from_utf8(message.get(at..at + len)?).ok()?;
        labels.push(label);
        at += len;
    }
    Some((labels.join("."), at))
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, UdpSocket};
    use std::time::Duration;

    use super::{Asked, Server, answer};

    /// A query for `name`, as resolvers send it: id 0x1234, recursion desired.
    fn query(name: &str, qtype: u16) -> Vec<u8> {
        let mut query = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        for label in name.split('.') {
            query.push(label.len() as u8);
            query.extend_from_slice(label.as_bytes());
        }
        query.push(0);
        query.extend_from_slice(&qtype.to_be_bytes());
        query.extend_from_slice(&1u16.to_be_bytes());
        query
    }

    fn names() -> Vec<(String, Vec<Ipv4Addr>)> {
        vec![(
            "novillo.test".to_owned(),
            vec![Ipv4Addr::new(10, 0, 2, 77), Ipv4Addr::new(10, 0, 2, 78)],
        )]
    }

    #[test]
    fn known_names_get_their_addresses_and_others_nxdomain() {
        let asked = query("Novillo.test", 1);
        let (name, reply) = answer(&asked, &names()).unwrap();
        assert_eq!(name, "Novillo.test");
        assert_eq!(
            &reply[..12],
            [0x12, 0x34, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0]
        );
        assert_eq!(reply[12..asked.len()], asked[12..]);
        let records = &reply[asked.len()..];
        assert_eq!(records.len(), 32);
        assert_eq!(
            records[..16],
            [0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0, 2, 77]
        );
        assert_eq!(records[28..], [10, 0, 2, 78]);

        let (_, reply) = answer(&query("missing.novillo.test", 1), &names()).unwrap();
        assert_eq!(&reply[2..8], [0x81, 0x83, 0, 1, 0, 0]);
    }

    #[test]
    fn anything_but_one_a_question_is_ignored() {
        assert_eq!(answer(&query("novillo.test", 28), &names()), None);
        let mut response = query("novillo.test", 1);
        response[2] |= 0x80;
        assert_eq!(answer(&response, &names()), None);
        let mut two = query("novillo.test", 1);
        two[5] = 2;
        assert_eq!(answer(&two, &names()), None);
        let whole = query("novillo.test", 1);
        for len in 0..whole.len() {
            assert_eq!(answer(&whole[..len], &names()), None, "{len} bytes");
        }
        let mut pointer = query("novillo.test", 1);
        pointer[12] = 0xc0;
        assert_eq!(answer(&pointer, &names()), None);
    }

    #[test]
    fn the_server_answers_over_udp_and_logs() {
        // A free port, found by binding it and letting it go.
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let at = socket.local_addr().unwrap();
        drop(socket);
        let server = Server::start(at, names()).unwrap();
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut reply = [0; 512];
        client.send_to(&query("novillo.test", 1), at).unwrap();
        let len = client.recv(&mut reply).unwrap();
        assert_eq!(&reply[len - 4..len], [10, 0, 2, 78]);
        client.send_to(&query("other.test", 1), at).unwrap();
        client.recv(&mut reply).unwrap();
        assert_eq!(
            server.asked(),
            [
                Asked {
                    name: "novillo.test".to_owned(),
                    known: true
                },
                Asked {
                    name: "other.test".to_owned(),
                    known: false
                }
            ]
        );
    }
}
