//! A private network namespace for one run (`--net tap` without a name): a tap `novillo0`
//! at 10.0.2.2/24 that QEMU attaches the guest to, the guest at 10.0.2.15 (given as
//! `ip=`/`gw=`/`dns=` on its command line: there is no DHCP server on the link), and
//! nothing else but loopback. Other runs, other engineers' QEMUs and the host's own
//! addresses never see it, so every run can use the same addresses and ports, port 53
//! included.
//!
//! probe's threads stay in the host's namespace; QEMU is started inside this one, and the
//! host-side peers (test clients, load generators) run on threads that enter it first
//! ([`Namespace::run`]). Nothing needs tearing down by hand: the kernel removes a namespace,
//! and its tap, when the last process in it has exited and the last handle on it is
//! closed, so QEMU's end and probe's (by Ctrl-C or SIGTERM too, which end QEMU first)
//! remove it. Making one needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN).

use std::fs::File;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::Command;

/// The tap's name inside the namespace: always the same, as nothing else is there.
pub(crate) const TAP: &str = "novillo0";
/// The host's side of the link: the guest's gateway and name server.
pub(crate) const HOST: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 2);
/// The guest's address.
pub(crate) const GUEST: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 15);
/// The link's prefix length.
const PREFIX_LEN: u8 = 24;

/// Why this host cannot make a private namespace, as far as probe can tell without trying:
/// `None` when probe runs as root.
pub(crate) fn why_not() -> Option<String> {
    // SAFETY: `geteuid` has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    (!root).then(|| {
        "needs root, for a tap in a private network namespace (where port 53 is free); \
         run probe as root, as CI does"
            .to_owned()
    })
}

/// A network namespace probe made; closed (and so removed once QEMU is gone) on drop.
#[derive(Debug)]
pub(crate) struct Namespace {
    handle: OwnedFd,
}

/// A namespace is only ever equal to itself: two handles are two namespaces.
impl PartialEq for Namespace {
    fn eq(&self, other: &Self) -> bool {
        self.handle.as_raw_fd() == other.handle.as_raw_fd()
    }
}

impl Eq for Namespace {}

impl Namespace {
    /// Makes the namespace, with loopback up and the tap up at [`HOST`].
    pub(crate) fn new() -> Result<Namespace, String> {
        // A thread of its own moves into the new namespace, hands out a handle on it and
        // ends, so that no other thread of probe leaves the host's namespace.
        let handle = std::thread::spawn(|| -> Result<OwnedFd, String> {
            // SAFETY: `unshare` takes flags only and moves just this thread.
            if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
                let err = std::io::Error::last_os_error();
                return Err(format!(
                    "--net tap: cannot make a private network namespace ({err}): that needs \
                     root (CAP_SYS_ADMIN); use --net user (QEMU's user networking, no \
                     privileges), or --net tap=NAME with a tap you made"
                ));
            }
            let file = File::open("/proc/thread-self/ns/net")
                .map_err(|err| format!("--net tap: cannot open the new namespace: {err}"))?;
            Ok(OwnedFd::from(file))
        })
        .join()
        .map_err(|_| "--net tap: the namespace thread panicked".to_owned())??;
        let namespace = Namespace { handle };
        let address = format!("{HOST}/{PREFIX_LEN}");
        for args in [
            &["link", "set", "lo", "up"][..],
            &["tuntap", "add", "dev", TAP, "mode", "tap"],
            &["addr", "add", &address, "dev", TAP],
            &["link", "set", TAP, "up"],
        ] {
            namespace.ip(args)?;
        }
        Ok(namespace)
    }

    /// Runs `ip ARGS` inside the namespace.
    fn ip(&self, args: &[&str]) -> Result<(), String> {
        let mut command = Command::new("ip");
        command.args(args);
        self.put_in(&mut command);
        let output = command
            .output()
            .map_err(|err| format!("--net tap: cannot run `ip`: {err} (install iproute2)"))?;
        if output.status.success() {
            return Ok(());
        }
        Err(format!(
            "--net tap: `ip {}` in the private namespace failed ({}): {}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }

    /// Has `command` start inside the namespace.
    pub(crate) fn put_in(&self, command: &mut Command) {
        let fd = self.handle.as_raw_fd();
        // SAFETY: the closure runs in the child between fork and exec and only makes one
        // system call, which is async-signal-safe; `fd` stays open in probe (the namespace
        // outlives the spawn that borrows it) and so in the child until exec.
        unsafe {
            command.pre_exec(move || {
                if libc::setns(fd, libc::CLONE_NEWNET) == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            });
        }
    }

    /// Runs `work` on a thread inside the namespace (threads it starts are inside too) and
    /// returns what it returns.
    pub(crate) fn run<T: Send>(&self, work: impl FnOnce() -> T + Send) -> Result<T, String> {
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    self.enter()?;
                    Ok(work())
                })
                .join()
                .map_err(|_| "a host peer in the private namespace panicked".to_owned())?
        })
    }

    /// Moves the calling thread into the namespace.
    fn enter(&self) -> Result<(), String> {
        // SAFETY: a handle on a network namespace we own; `setns` moves only this thread.
        if unsafe { libc::setns(self.handle.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(format!(
                "cannot enter the private network namespace: {}",
                std::io::Error::last_os_error()
            ));
        }
        Ok(())
    }

    /// The guest's kernel parameters for this link.
    pub(crate) fn guest_params() -> Vec<String> {
        vec![
            format!("ip={GUEST}/{PREFIX_LEN}"),
            format!("gw={HOST}"),
            format!("dns={HOST}"),
        ]
    }
}

#[cfg(test)]
mod tests {
    use std::net::{TcpListener, TcpStream};

    use super::{HOST, Namespace, TAP};

    /// Runs where probe runs as root (CI); elsewhere checks that the refusal says why and
    /// what to use instead.
    #[test]
    fn a_namespace_has_the_tap_at_the_host_address_and_nothing_of_the_host() {
        let namespace = match Namespace::new() {
            Ok(namespace) => namespace,
            Err(message) => {
                assert!(message.contains("--net user"), "{message}");
                return;
            }
        };
        let outside = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = outside.local_addr().unwrap().port();
        let (inside, reached_outside) = namespace
            .run(|| {
                let inside = TcpListener::bind((HOST, 0)).map(|l| l.local_addr().is_ok());
                (inside, TcpStream::connect(("127.0.0.1", port)).is_ok())
            })
            .unwrap();
        assert!(matches!(inside, Ok(true)), "{TAP} has {HOST}: {inside:?}");
        assert!(
            !reached_outside,
            "the host's loopback is not the namespace's"
        );
    }
}
