//! The guest's network: `--net user|tap[=NAME]`, `--nic virtio|e1000` and `--forward`.
//!
//! With user networking (QEMU's own NAT, no privileges) the guest is 10.0.2.15 behind
//! 10.0.2.2, and reaches the host only through forwarded ports: each guest port named with
//! `--forward tcp:7,udp:7` gets a free host port on 127.0.0.1, picked at run time (a fixed
//! port would clash with another QEMU) and printed as `guest tcp:7 → 127.0.0.1:43121`.
//! With `--net tap=NAME` the guest sits on the host's existing tap `NAME`, reached at its
//! own address: there is nothing to forward. `--net tap` without a name makes a private
//! network namespace for the run with a tap in it (root only, see `netns`): the guest is
//! 10.0.2.15 behind 10.0.2.2 there too, reached by probe's host-side peers from inside
//! the namespace, and by nothing else.
//!
//! No option, no NIC: a guest has a network only when asked; `--forward` alone means
//! `--net user`.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::board::Board;
use crate::netns::{self, Namespace};
use crate::proc_tcp;

/// Where the guest's frames go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Backend {
    /// QEMU user networking with port forwards.
    User,
    /// A tap device: one that exists, or (`None`) one probe makes for the run in a private
    /// network namespace.
    Tap(Option<String>),
}

/// The NIC QEMU gives the guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Nic {
    Virtio,
    E1000,
}

impl Nic {
    pub(crate) fn parse(text: &str) -> Result<Nic, String> {
        match text {
            "virtio" => Ok(Nic::Virtio),
            "e1000" => Ok(Nic::E1000),
            other => Err(format!("--nic must be virtio or e1000, not '{other}'")),
        }
    }

    /// QEMU's device on `board`.
    fn device(self, board: Board) -> Result<&'static str, String> {
        match (self, board) {
            (Nic::Virtio, Board::Microvm) => Ok("virtio-net-device"),
            (Nic::Virtio, Board::QemuPc) => Ok("virtio-net-pci"),
            (Nic::E1000, Board::QemuPc) => Ok("e1000"),
            (Nic::E1000, Board::Microvm) => Err(
                "--nic e1000: the e1000 is a PCI card and microvm has no PCI; use --nic virtio \
                 or an image built for qemu-pc"
                    .to_owned(),
            ),
        }
    }
}

/// A transport protocol of a forwarded port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Protocol {
    Tcp,
    Udp,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        })
    }
}

/// A guest port to reach from the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Forward {
    pub(crate) protocol: Protocol,
    pub(crate) guest_port: u16,
}

impl Forward {
    /// `tcp:7,udp:7`: one or more `PROTOCOL:PORT`, comma-separated.
    pub(crate) fn parse_list(text: &str) -> Result<Vec<Forward>, String> {
        text.split(',')
            .map(|item| {
                let (protocol, port) = item
                    .split_once(':')
                    .ok_or_else(|| format!("--forward takes tcp:PORT or udp:PORT, not '{item}'"))?;
                let protocol = match protocol {
                    "tcp" => Protocol::Tcp,
                    "udp" => Protocol::Udp,
                    other => {
                        return Err(format!(
                            "--forward: '{other}' is not tcp or udp (in '{item}')"
                        ));
                    }
                };
                let guest_port = port
                    .parse::<u16>()
                    .ok()
                    .filter(|&port| port != 0)
                    .ok_or_else(|| format!("--forward: '{port}' is not a port from 1 to 65535"))?;
                Ok(Forward {
                    protocol,
                    guest_port,
                })
            })
            .collect()
    }
}

/// What the user asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct NetSpec {
    pub(crate) backend: Backend,
    pub(crate) nic: Nic,
    pub(crate) forwards: Vec<Forward>,
}

impl NetSpec {
    /// `--net user`, `--net tap`, `--net tap=NAME`.
    pub(crate) fn parse_backend(text: &str) -> Result<Backend, String> {
        match text.split_once('=') {
            None if text == "user" => Ok(Backend::User),
            None if text == "tap" => Ok(Backend::Tap(None)),
            Some(("tap", name)) if valid_interface(name) => Ok(Backend::Tap(Some(name.to_owned()))),
            Some(("tap", name)) => Err(format!(
                "--net tap={name}: an interface name is 1 to 15 letters, digits, '-' or '_'"
            )),
            _ => Err(format!("--net must be user, tap or tap=NAME, not '{text}'")),
        }
    }

    /// Picks a free host port for each forward (user networking) or makes the private
    /// namespace and its tap, for one run.
    pub(crate) fn resolve(&self) -> Result<Network, String> {
        let mut ports = Vec::new();
        let mut namespace = None;
        match &self.backend {
            Backend::User => {
                for forward in &self.forwards {
                    ports.push((*forward, free_port(forward.protocol)?));
                }
            }
            Backend::Tap(Some(_)) => {}
            Backend::Tap(None) => namespace = Some(Namespace::new()?),
        }
        Ok(Network {
            spec: self.clone(),
            forwarded: Forwarded { ports },
            namespace,
        })
    }
}

fn valid_interface(name: &str) -> bool {
    (1..16).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A free port on 127.0.0.1 for `protocol`, as the kernel picks one.
fn free_port(protocol: Protocol) -> Result<u16, String> {
    let port = match protocol {
        Protocol::Tcp => TcpListener::bind("127.0.0.1:0").and_then(|s| s.local_addr()),
        Protocol::Udp => UdpSocket::bind("127.0.0.1:0").and_then(|s| s.local_addr()),
    };
    port.map(|address| address.port())
        .map_err(|err| format!("no free {protocol} port on 127.0.0.1: {err}"))
}

/// The host ports the guest's ports were forwarded to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Forwarded {
    pub(crate) ports: Vec<(Forward, u16)>,
}

impl Forwarded {
    /// The host port of guest port `guest_port` over `protocol`.
    pub(crate) fn port(&self, protocol: Protocol, guest_port: u16) -> Option<u16> {
        self.ports
            .iter()
            .find(|(f, _)| f.protocol == protocol && f.guest_port == guest_port)
            .map(|(_, port)| *port)
    }

    /// One line per port: `guest tcp:7 → 127.0.0.1:43121`.
    pub(crate) fn lines(&self) -> Vec<String> {
        self.ports
            .iter()
            .map(|(f, port)| format!("guest {}:{} → 127.0.0.1:{port}", f.protocol, f.guest_port))
            .collect()
    }
}

/// A network for one run: ports picked, or the private namespace made.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Network {
    pub(crate) spec: NetSpec,
    pub(crate) forwarded: Forwarded,
    pub(crate) namespace: Option<Namespace>,
}

impl Network {
    /// Where the host reaches guest port `guest_port` over `protocol`: its forward on
    /// 127.0.0.1, or the guest's own address on a tap probe made (from inside the
    /// namespace: see [`Network::run_peer`]).
    pub(crate) fn address(&self, protocol: Protocol, guest_port: u16) -> Option<SocketAddr> {
        match &self.namespace {
            Some(_) => Some(SocketAddr::from((netns::GUEST, guest_port))),
            None => self
                .forwarded
                .port(protocol, guest_port)
                .map(|port| SocketAddr::from((Ipv4Addr::LOCALHOST, port))),
        }
    }

    /// The address the guest reaches the host at, where probe knows it: user networking's
    /// alias of the host's loopback, or the host side of probe's tap.
    pub(crate) fn host(&self) -> Option<Ipv4Addr> {
        match (&self.spec.backend, &self.namespace) {
            (Backend::User, _) | (_, Some(_)) => Some(netns::HOST),
            (Backend::Tap(_), None) => None,
        }
    }

    /// The address a server for the guest binds on the host: loopback for user networking
    /// (which takes the guest's connections to 10.0.2.2 there), the tap's address in the
    /// namespace.
    pub(crate) fn bind_address(&self) -> Ipv4Addr {
        match &self.namespace {
            Some(_) => netns::HOST,
            None => Ipv4Addr::LOCALHOST,
        }
    }

    /// Runs a host-side peer where it reaches the guest: inside probe's namespace, or
    /// right here.
    pub(crate) fn run_peer<T: Send>(&self, peer: impl FnOnce() -> T + Send) -> Result<T, String> {
        match &self.namespace {
            Some(namespace) => namespace.run(peer),
            None => Ok(peer()),
        }
    }

    /// Has `command` (QEMU) start where the tap is.
    pub(crate) fn put_in(&self, command: &mut Command) {
        if let Some(namespace) = &self.namespace {
            namespace.put_in(command);
        }
    }

    /// How to reach a guest in probe's namespace from a shell, QEMU being `qemu_pid`.
    pub(crate) fn namespace_line(&self, qemu_pid: u32) -> Option<String> {
        self.namespace.as_ref().map(|_| {
            format!(
                "guest {} behind {} on tap {} in a private network namespace, gone with \
                 QEMU; from a shell: nsenter --net=/proc/{qemu_pid}/ns/net",
                netns::GUEST,
                netns::HOST,
                netns::TAP
            )
        })
    }

    /// The guest's kernel parameters this network needs: its address on probe's tap.
    pub(crate) fn guest_params(&self) -> Vec<String> {
        match &self.namespace {
            Some(_) => Namespace::guest_params(),
            None => Vec::new(),
        }
    }

    /// What the run's QEMU line gains on `board`, or why it cannot be.
    pub(crate) fn qemu_args(&self, board: Board) -> Result<Vec<String>, String> {
        let device = self.spec.nic.device(board)?;
        let netdev = match (&self.spec.backend, &self.namespace) {
            (Backend::User, _) => {
                let mut netdev = "user,id=net0".to_owned();
                for (forward, port) in &self.forwarded.ports {
                    netdev.push_str(&format!(
                        ",hostfwd={}:127.0.0.1:{port}-:{}",
                        forward.protocol, forward.guest_port
                    ));
                }
                netdev
            }
            (Backend::Tap(name), namespace) => {
                let name = name
                    .as_deref()
                    .or(namespace.as_ref().map(|_| netns::TAP))
                    .ok_or("--net tap: no tap was made")?;
                format!("tap,id=net0,ifname={name},script=no,downscript=no")
            }
        };
        Ok(vec![
            "-netdev".to_owned(),
            netdev,
            "-device".to_owned(),
            format!("{device},netdev=net0"),
        ])
    }
}

/// The listen backlog probe gives QEMU's forwarded TCP ports: the most Linux takes by
/// default (`net.core.somaxconn`; a larger one is cut to it).
const FORWARD_BACKLOG: libc::c_int = 4096;
/// How long probe waits for QEMU to open its forwarded TCP ports.
const FORWARDS_OPEN_WITHIN: Duration = Duration::from_secs(10);

impl Network {
    /// Widens the listen backlog of QEMU's forwarded TCP ports (see
    /// [`widen_forward_backlogs`]), QEMU being `qemu_pid`.
    pub(crate) fn widen_forward_backlogs(&self, qemu_pid: u32) -> Result<(), String> {
        if self.spec.backend != Backend::User {
            return Ok(());
        }
        let ports: Vec<u16> = self
            .forwarded
            .ports
            .iter()
            .filter(|(forward, _)| forward.protocol == Protocol::Tcp)
            .map(|&(_, port)| port)
            .collect();
        widen_forward_backlogs(qemu_pid, &ports)
    }
}

/// Widens the listen backlog of the TCP `ports` QEMU (`qemu_pid`) forwards from
/// 127.0.0.1; waits until QEMU opened them (or exited). User networking listens on each
/// with a backlog of one and accepts one connection per turn of QEMU's main loop, so a
/// burst of connections overflows it: the host kernel answers the next SYNs with SYN
/// cookies, drops a client's first data while the queue is still full, and resets the
/// client when its next segment fails the cookie check. The guest never sees those
/// connections. `listen` on a socket that already listens only sets its backlog, so probe
/// calls it on a copy of QEMU's socket (`pidfd_getfd`, allowed to the parent).
pub(crate) fn widen_forward_backlogs(qemu_pid: u32, ports: &[u16]) -> Result<(), String> {
    if ports.is_empty() {
        return Ok(());
    }
    let qemu = pidfd_open(qemu_pid)?;
    let deadline = Instant::now() + FORWARDS_OPEN_WITHIN;
    let mut waiting = ports.to_vec();
    while !waiting.is_empty() {
        if exited(&qemu) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "QEMU did not open its forwarded TCP ports within {} s",
                FORWARDS_OPEN_WITHIN.as_secs()
            ));
        }
        let mut still = Vec::new();
        for port in waiting {
            match listening_fd(qemu_pid, port)? {
                Some(fd) => widen_backlog(&qemu, fd, port)?,
                None => still.push(port),
            }
        }
        waiting = still;
        if !waiting.is_empty() {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    Ok(())
}

fn pidfd_open(pid: u32) -> Result<OwnedFd, String> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    let fd = libc::c_int::try_from(fd)
        .ok()
        .filter(|&fd| fd >= 0)
        .ok_or_else(|| format!("pidfd_open: {}", std::io::Error::last_os_error()))?;
    // SAFETY: the descriptor was just made for us and is owned by nothing else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// True once the process behind `pidfd` has exited.
fn exited(pidfd: &OwnedFd) -> bool {
    let mut poll = libc::pollfd {
        fd: pidfd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, no wait.
    unsafe { libc::poll(&mut poll, 1, 0) == 1 }
}

/// QEMU's descriptor of the socket listening on 127.0.0.1:`port`, once it has one.
fn listening_fd(pid: u32, port: u16) -> Result<Option<libc::c_int>, String> {
    let table = proc_tcp::table().map_err(|e| format!("reading /proc/net/tcp: {e}"))?;
    let Some(inode) = listening_inode(&table, port) else {
        return Ok(None);
    };
    let socket = format!("socket:[{inode}]");
    let fds = format!("/proc/{pid}/fd");
    let entries = std::fs::read_dir(&fds).map_err(|e| format!("reading {fds}: {e}"))?;
    Ok(entries.flatten().find_map(|entry| {
        let target = std::fs::read_link(entry.path()).ok()?;
        (target.as_os_str() == socket.as_str())
            .then(|| entry.file_name().to_str()?.parse().ok())
            .flatten()
    }))
}

/// The inode of the socket listening on 127.0.0.1:`port` in `/proc/net/tcp`'s `table`.
fn listening_inode(table: &str, port: u16) -> Option<&str> {
    proc_tcp::listening(table)
        .find(|socket| socket.address == "0100007F" && socket.port == port)
        .and_then(|socket| socket.inode)
}

/// Sets the backlog of descriptor `fd` of the process behind `pidfd` (a listening socket).
fn widen_backlog(pidfd: &OwnedFd, fd: libc::c_int, port: u16) -> Result<(), String> {
    // SAFETY: pidfd_getfd takes a pidfd, a descriptor number in that process and flags, and
    // returns a new descriptor of ours or -1.
    let copy = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), fd, 0) };
    let copy = libc::c_int::try_from(copy)
        .ok()
        .filter(|&fd| fd >= 0)
        .ok_or_else(|| {
            format!(
                "taking QEMU's socket of 127.0.0.1:{port}: {}",
                std::io::Error::last_os_error()
            )
        })?;
    // SAFETY: the descriptor was just made for us and is owned by nothing else.
    let copy = unsafe { OwnedFd::from_raw_fd(copy) };
    // SAFETY: listen on a descriptor we own.
    if unsafe { libc::listen(copy.as_raw_fd(), FORWARD_BACKLOG) } != 0 {
        return Err(format!(
            "widening the backlog of 127.0.0.1:{port}: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, TcpListener, TcpStream};
    use std::os::fd::AsRawFd;
    use std::time::{Duration, Instant};

    use super::{Backend, Forward, Forwarded, NetSpec, Network, Nic, Protocol};
    use crate::board::Board;

    fn forwards(text: &str) -> Vec<Forward> {
        Forward::parse_list(text).unwrap()
    }

    #[test]
    fn forwards_name_protocol_and_port() {
        assert_eq!(
            forwards("tcp:7,udp:53"),
            [
                Forward {
                    protocol: Protocol::Tcp,
                    guest_port: 7
                },
                Forward {
                    protocol: Protocol::Udp,
                    guest_port: 53
                }
            ]
        );
        for (bad, says) in [
            ("7", "tcp:PORT or udp:PORT"),
            ("sctp:7", "'sctp' is not tcp or udp"),
            ("tcp:0", "not a port"),
            ("tcp:70000", "not a port"),
            ("tcp:7,", "tcp:PORT"),
        ] {
            let err = Forward::parse_list(bad).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }

    #[test]
    fn backends_and_nics_parse_or_say_why_not() {
        assert_eq!(NetSpec::parse_backend("user"), Ok(Backend::User));
        assert_eq!(NetSpec::parse_backend("tap"), Ok(Backend::Tap(None)));
        assert_eq!(
            NetSpec::parse_backend("tap=tap0"),
            Ok(Backend::Tap(Some("tap0".to_owned())))
        );
        assert!(
            NetSpec::parse_backend("tap=a/b")
                .unwrap_err()
                .contains("interface name")
        );
        assert!(
            NetSpec::parse_backend("bridge")
                .unwrap_err()
                .contains("user, tap")
        );
        assert_eq!(Nic::parse("e1000"), Ok(Nic::E1000));
        assert!(
            Nic::parse("rtl8139")
                .unwrap_err()
                .contains("virtio or e1000")
        );
    }

    #[test]
    fn user_networking_forwards_each_port_to_a_free_host_port() {
        let spec = NetSpec {
            backend: Backend::User,
            nic: Nic::Virtio,
            forwards: forwards("tcp:7,udp:7"),
        };
        let network = spec.resolve().unwrap();
        let tcp = network.forwarded.port(Protocol::Tcp, 7).unwrap();
        let udp = network.forwarded.port(Protocol::Udp, 7).unwrap();
        assert_ne!(tcp, 0);
        assert_eq!(network.forwarded.port(Protocol::Tcp, 8), None);
        assert_eq!(
            network.qemu_args(Board::Microvm).unwrap(),
            [
                "-netdev".to_owned(),
                format!(
                    "user,id=net0,hostfwd=tcp:127.0.0.1:{tcp}-:7,hostfwd=udp:127.0.0.1:{udp}-:7"
                ),
                "-device".to_owned(),
                "virtio-net-device,netdev=net0".to_owned()
            ]
        );
        assert_eq!(
            network.forwarded.lines(),
            [
                format!("guest tcp:7 → 127.0.0.1:{tcp}"),
                format!("guest udp:7 → 127.0.0.1:{udp}")
            ]
        );
    }

    #[test]
    fn each_board_gets_its_own_nic_and_microvm_has_no_e1000() {
        let network = |nic| Network {
            spec: NetSpec {
                backend: Backend::Tap(Some("tap3".to_owned())),
                nic,
                forwards: Vec::new(),
            },
            forwarded: Forwarded::default(),
            namespace: None,
        };
        assert_eq!(
            network(Nic::E1000).qemu_args(Board::QemuPc).unwrap(),
            [
                "-netdev",
                "tap,id=net0,ifname=tap3,script=no,downscript=no",
                "-device",
                "e1000,netdev=net0"
            ]
        );
        assert_eq!(
            network(Nic::Virtio).qemu_args(Board::QemuPc).unwrap()[3],
            "virtio-net-pci,netdev=net0"
        );
        let err = network(Nic::E1000).qemu_args(Board::Microvm).unwrap_err();
        assert!(err.contains("microvm has no PCI"), "{err}");
    }

    /// Connections that reach `listener`'s accept queue when `count` clients connect at
    /// once and nobody accepts meanwhile.
    fn queued_after_burst(listener: &TcpListener, count: usize) -> usize {
        let address = listener.local_addr().unwrap();
        let connecting: Vec<_> = (0..count)
            .map(|_| {
                std::thread::spawn(move || {
                    TcpStream::connect_timeout(&address, Duration::from_secs(1)).ok()
                })
            })
            .collect();
        let clients: Vec<_> = connecting.into_iter().map(|c| c.join()).collect();
        listener.set_nonblocking(true).unwrap();
        let mut accepted = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(2);
        while accepted.len() < count && Instant::now() < deadline {
            match listener.accept() {
                Ok((stream, _)) => accepted.push(stream),
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
        drop(clients);
        accepted.len()
    }

    #[test]
    fn a_forwarded_port_takes_a_burst_of_connections_once_its_backlog_is_widened() {
        const BURST: usize = 24;
        // A socket listening with user networking's backlog of one; this process stands in
        // for QEMU.
        let narrow = || {
            let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
            // SAFETY: listen on the listener's own descriptor.
            assert_eq!(unsafe { libc::listen(listener.as_raw_fd(), 1) }, 0);
            listener
        };
        let control = narrow();
        assert!(
            queued_after_burst(&control, BURST) < BURST,
            "a backlog of one should not hold {BURST} connections"
        );
        let listener = narrow();
        let port = listener.local_addr().unwrap().port();
        let network = Network {
            spec: NetSpec {
                backend: Backend::User,
                nic: Nic::Virtio,
                forwards: Forward::parse_list("tcp:7").unwrap(),
            },
            forwarded: Forwarded {
                ports: vec![(forwards("tcp:7")[0], port)],
            },
            namespace: None,
        };
        network.widen_forward_backlogs(std::process::id()).unwrap();
        assert_eq!(queued_after_burst(&listener, BURST), BURST);
    }
}
