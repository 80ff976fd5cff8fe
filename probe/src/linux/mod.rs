//! A Linux guest under the same QEMU settings as Novillo's: the yardstick of `probe bench
//! --baseline linux`. probe builds it from Debian packages and nothing else: the newest
//! kernel in `/boot` (or one named with `--linux-kernel`), `busybox-static`, the kernel's own
//! NIC modules, and an initramfs (a cpio archive written here) whose `/init` runs a
//! workload and powers off.
//!
//! A `Workload` is a shell command for `/init`, files to put into the initramfs, and guest
//! TCP ports to reach from the host; an `Image` is a kernel and an initramfs ready to boot,
//! once for each machine (board, accelerator, CPUs, memory) a benchmark measures.
//!
//! microvm boots the kernel's `vmlinux` through PVH, as Novillo boots, when probe can
//! unpack it from the bzImage; otherwise the bzImage through the firmware. qemu-pc boots
//! the bzImage through SeaBIOS.

mod cpio;
mod initramfs;
mod kernel;
mod prereq;

use std::ffi::OsString;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

pub(crate) use initramfs::{BEGIN, END, VFAT_MODULES};

use crate::accel::Accel;
use crate::board::Board;
use crate::disk::{Bus, uncached_args};
pub(crate) use crate::linux::kernel::Kernel;
use crate::linux::prereq::{BUSYBOX, ThisHost, Wants};
use crate::qemu::{BARE_MACHINE, LaunchError, Running};
use crate::tsc::host_tsc_khz;

/// Why there is no baseline.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Skipped {
    /// Something must be installed first; the message is the one line that says what.
    Missing(String),
    /// Preparing, booting or reading the guest failed.
    Failed(String),
}

impl Skipped {
    /// What a benchmark table shows in the Linux column instead of figures, after saying why:
    /// a missing package goes to `notes` (printed under the table), a failure to stderr.
    pub(crate) fn column(self, notes: &mut Vec<String>) -> &'static str {
        match self {
            Skipped::Missing(message) => {
                notes.push(format!("probe: {message}"));
                "skipped"
            }
            Skipped::Failed(message) => {
                eprintln!("probe: the Linux baseline failed: {message}");
                "failed"
            }
        }
    }
}

/// What runs in the guest.
#[derive(Debug, Default)]
pub(crate) struct Workload {
    /// Shell text `/init` runs once the system (and the network, with ports) is up; its
    /// output goes to the console. The guest powers off when it ends.
    pub(crate) command: String,
    /// Files to put into the initramfs.
    pub(crate) files: Vec<GuestFile>,
    /// Guest TCP ports to forward from free ports on the host's 127.0.0.1. Any port gives
    /// the guest a virtio NIC on QEMU's user network, at 10.0.2.15.
    pub(crate) ports: Vec<u16>,
    /// Raw images attached on `disk_bus` (`/dev/vda`... on virtio, `/dev/sda`... on IDE), as
    /// Novillo's benchmark guest gets them (`disk::uncached_args`); any disk loads the
    /// bus's modules.
    pub(crate) disks: Vec<PathBuf>,
    pub(crate) disk_bus: Bus,
    /// Kernel modules the workload needs besides the NIC's and the disks' (file systems).
    pub(crate) modules: Vec<&'static str>,
}

/// A file in the guest's initramfs.
#[derive(Debug)]
pub(crate) struct GuestFile {
    /// Absolute, e.g. `/bin/threads` or `/www/index.html`.
    pub(crate) path: String,
    pub(crate) contents: Vec<u8>,
    pub(crate) executable: bool,
}

/// The QEMU machine a guest boots on; the same as the Novillo guest's it is compared with.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Machine<'a> {
    pub(crate) board: Board,
    pub(crate) accel: Accel,
    pub(crate) smp: u32,
    pub(crate) mem: &'a str,
}

/// What a benchmark asks for before it builds its workload.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Request<'a> {
    /// `--linux-kernel`: a bzImage instead of the newest `/boot/vmlinuz-*`.
    pub(crate) kernel: Option<&'a Path>,
    /// Some guest will boot on microvm, which wants the kernel unpacked for PVH.
    pub(crate) microvm: bool,
    /// The workload compiles static C programs on the host.
    pub(crate) static_c: bool,
}

/// Checks everything the request needs and reads the kernel; anything missing is one
/// `Skipped::Missing` line naming the Debian packages to install.
pub(crate) fn check(request: Request<'_>) -> Result<Kernel, Skipped> {
    let path = match request.kernel {
        Some(path) => Some(path.to_owned()),
        None => kernel::newest(Path::new("/boot")),
    };
    let kernel = path
        .map(|path| Kernel::read(&path))
        .transpose()
        .map_err(Skipped::Failed)?;
    let unpacker = kernel
        .as_ref()
        .filter(|_| request.microvm)
        .and_then(Kernel::payload_format)
        .map(|format| (format.tool(), format.package));
    let needs = prereq::missing(
        &ThisHost,
        Wants {
            kernel: kernel.is_some(),
            unpacker,
            static_c: request.static_c,
        },
    );
    match kernel {
        Some(kernel) if needs.is_empty() => Ok(kernel),
        _ => Err(Skipped::Missing(prereq::advice(&needs))),
    }
}

/// A directory of probe's own under the temporary directory, removed with everything in
/// it when dropped.
#[derive(Debug)]
pub(crate) struct Scratch {
    path: PathBuf,
}

impl Scratch {
    pub(crate) fn new(what: &str) -> Result<Scratch, String> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "probe-{what}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path)
            .map_err(|err| format!("cannot create {}: {err}", path.display()))?;
        Ok(Scratch { path })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `bytes` to `name` in the directory and returns its path.
    fn write(&self, name: &str, bytes: &[u8]) -> Result<PathBuf, String> {
        let path = self.path.join(name);
        std::fs::write(&path, bytes)
            .map_err(|err| format!("cannot write {}: {err}", path.display()))?;
        Ok(path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // Only the directory this value created, named for our pid.
        let _ignored = std::fs::remove_dir_all(&self.path);
    }
}

/// A kernel and an initramfs, ready to boot as often as a benchmark needs.
#[derive(Debug)]
pub(crate) struct Image {
    /// Holds the kernel and initramfs files; removes them when the image is dropped.
    _scratch: Scratch,
    /// The bzImage, as found or named.
    pub(crate) kernel_path: PathBuf,
    /// The unpacked kernel microvm boots through PVH, when there is one.
    vmlinux: Option<PathBuf>,
    initrd: PathBuf,
    pub(crate) version: String,
    ports: Vec<u16>,
    disks: Vec<PathBuf>,
    disk_bus: Bus,
    /// What a reader of the numbers should know, e.g. why microvm boots the bzImage.
    pub(crate) notes: Vec<String>,
}

impl Image {
    /// Builds the initramfs for `workload` and, when `microvm`, unpacks the kernel for PVH.
    pub(crate) fn build(
        kernel: &Kernel,
        microvm: bool,
        workload: &Workload,
    ) -> Result<Image, String> {
        let scratch = Scratch::new("linux")?;
        let mut notes = Vec::new();
        let vmlinux = if microvm {
            match kernel.pvh_vmlinux() {
                Ok(vmlinux) => Some(scratch.write("vmlinux", &vmlinux)?),
                Err(why) => {
                    notes.push(format!(
                        "microvm boots the bzImage through its firmware, not PVH: {why}"
                    ));
                    None
                }
            }
        } else {
            None
        };
        let busybox =
            std::fs::read(BUSYBOX).map_err(|err| format!("cannot read {BUSYBOX}: {err}"))?;
        let mut wanted = Vec::new();
        if !workload.ports.is_empty() {
            wanted.extend(initramfs::NIC_MODULES);
        }
        if !workload.disks.is_empty() {
            match workload.disk_bus {
                Bus::Virtio => wanted.extend(initramfs::DISK_MODULES),
                Bus::Ide => wanted.extend(initramfs::IDE_MODULES),
            }
        }
        wanted.extend(&workload.modules);
        let modules =
            initramfs::modules(&Path::new("/lib/modules").join(&kernel.version), &wanted)?;
        let archive = initramfs::build(&busybox, &modules, workload)?;
        let initrd = scratch.write("initrd.cpio", &archive)?;
        Ok(Image {
            kernel_path: kernel.path.clone(),
            vmlinux,
            initrd,
            version: kernel.version.clone(),
            ports: workload.ports.clone(),
            disks: workload.disks.clone(),
            disk_bus: workload.disk_bus,
            notes,
            _scratch: scratch,
        })
    }

    /// How the kernel boots on `board`, for notes: `PVH vmlinux` or `bzImage`.
    pub(crate) fn boot_kind(&self, board: Board) -> &'static str {
        match (board, &self.vmlinux) {
            (Board::Microvm, Some(_)) => "PVH vmlinux",
            _ => "bzImage",
        }
    }

    /// The kernel and the initramfs `board` boots, for their sizes.
    pub(crate) fn boot_files(&self, board: Board) -> [&Path; 2] {
        let kernel = match (board, &self.vmlinux) {
            (Board::Microvm, Some(vmlinux)) => vmlinux,
            _ => &self.kernel_path,
        };
        [kernel, &self.initrd]
    }

    /// Starts the guest on `machine`; its console can be watched while it runs, and
    /// dropping it kills QEMU.
    pub(crate) fn boot(
        &self,
        machine: Machine<'_>,
        timeout: Option<Duration>,
    ) -> Result<Guest, LaunchError> {
        let ports = free_ports(self.ports.len())
            .map_err(|err| LaunchError::Other(format!("cannot find a free port: {err}")))?;
        let forwards: Vec<Forward> = self
            .ports
            .iter()
            .zip(ports)
            .map(|(&guest, host)| Forward { guest, host })
            .collect();
        let [kernel, _] = self.boot_files(machine.board);
        let cmdline = cmdline(machine.accel, host_tsc_khz());
        let disks =
            uncached_args(machine.board, self.disk_bus, &self.disks).map_err(LaunchError::Other)?;
        let mut command = Command::new(QEMU);
        command.args(qemu_args(
            machine,
            kernel,
            &self.initrd,
            &cmdline,
            &forwards,
        ));
        command.args(disks);
        let running = Running::spawn(command, QEMU, timeout, false, None)?;
        let ports: Vec<u16> = forwards.iter().map(|forward| forward.host).collect();
        if let Err(err) = crate::net::widen_forward_backlogs(running.pid(), &ports) {
            eprintln!("probe: {err}; connections in a burst may be reset");
        }
        Ok(Guest {
            running,
            forwards,
            cmdline,
        })
    }
}

const QEMU: &str = "qemu-system-x86_64";

/// A guest port reachable at a port of the host's 127.0.0.1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Forward {
    pub(crate) guest: u16,
    pub(crate) host: u16,
}

/// A running Linux guest.
#[derive(Debug)]
pub(crate) struct Guest {
    pub(crate) running: Running,
    pub(crate) forwards: Vec<Forward>,
    /// The kernel command line it booted with.
    pub(crate) cmdline: String,
}

impl Guest {
    /// The host port that reaches `guest_port`, if the workload forwards it.
    pub(crate) fn host_port(&self, guest_port: u16) -> Option<u16> {
        self.forwards
            .iter()
            .find(|forward| forward.guest == guest_port)
            .map(|forward| forward.host)
    }
}

/// `count` ports of 127.0.0.1 that are free now, all different: the kernel picks each for a
/// listener, and all listeners are held until the last is picked. QEMU binds them a moment
/// later; another program would have to take one in between to make the boot fail.
fn free_ports(count: usize) -> std::io::Result<Vec<u16>> {
    let listeners = (0..count)
        .map(|_| TcpListener::bind((Ipv4Addr::LOCALHOST, 0)))
        .collect::<std::io::Result<Vec<_>>>()?;
    listeners
        .iter()
        .map(|listener| listener.local_addr().map(|address| address.port()))
        .collect()
}

/// The kernel command line: the serial console, quiet, and QEMU exits (through
/// `-no-reboot`) at once if `/init` dies. Under TCG the guest's TSC is the host's, so it
/// is told the rate: that spares it a PIT calibration, which fails often on a busy host and
/// then leaves microvm (no HPET, no ACPI PM timer) without a usable clock.
fn cmdline(accel: Accel, tsc_khz: Option<u64>) -> String {
    let mut line = String::from("console=ttyS0 quiet panic=-1");
    if let (Accel::Tcg, Some(khz)) = (accel, tsc_khz) {
        line += &format!(" tsc_early_khz={khz} tsc=reliable");
    }
    line
}

/// QEMU's arguments for a Linux guest: the Novillo guest's CPU model, CPUs, memory and
/// accelerator; the machine with its defaults (Linux finds microvm's CPUs and virtio-mmio
/// devices in its ACPI tables, which Novillo's microvm turns off); a virtio NIC on the user
/// network only when ports are forwarded, reachable from 127.0.0.1 alone (`restrict=on`:
/// the guest reaches nothing outside).
fn qemu_args(
    machine: Machine<'_>,
    kernel: &Path,
    initrd: &Path,
    cmdline: &str,
    forwards: &[Forward],
) -> Vec<OsString> {
    let mut args: Vec<OsString> = Vec::new();
    let mut push = |words: &[&str]| args.extend(words.iter().map(OsString::from));
    push(BARE_MACHINE);
    push(&["-m", machine.mem, "-smp", &machine.smp.to_string()]);
    push(machine.accel.qemu_args());
    let (name, nic) = match machine.board {
        Board::Microvm => ("microvm", "virtio-net-device"),
        // No option ROM: SeaBIOS would run its network boot code for nothing.
        Board::QemuPc => ("pc", "virtio-net-pci,romfile="),
    };
    push(&["-M", name]);
    if !forwards.is_empty() {
        let mut netdev = String::from("user,id=net0,restrict=on");
        for forward in forwards {
            netdev += &format!(",hostfwd=tcp:127.0.0.1:{}-:{}", forward.host, forward.guest);
        }
        push(&["-netdev", &netdev, "-device", &format!("{nic},netdev=net0")]);
    }
    args.push("-kernel".into());
    args.push(kernel.into());
    args.push("-initrd".into());
    args.push(initrd.into());
    args.push("-append".into());
    args.push(cmdline.into());
    args
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::net::TcpListener;
    use std::path::Path;

    use super::{Forward, Machine, Scratch, cmdline, free_ports, qemu_args};
    use crate::accel::Accel;
    use crate::board::Board;

    fn joined(board: Board, accel: Accel, forwards: &[Forward]) -> String {
        let machine = Machine {
            board,
            accel,
            smp: 2,
            mem: "128M",
        };
        let args = qemu_args(
            machine,
            Path::new("/k/vmlinux"),
            Path::new("/k/initrd"),
            "console=ttyS0",
            forwards,
        );
        let words: Vec<_> = args.iter().map(|arg| arg.to_string_lossy()).collect();
        words.join(" ")
    }

    #[test]
    fn boots_like_the_novillo_guest_without_a_nic() {
        assert_eq!(
            joined(Board::Microvm, Accel::Tcg, &[]),
            "-nodefaults -no-user-config -display none -serial stdio -no-reboot -m 128M \
             -smp 2 -accel tcg -cpu qemu64,+arat -M microvm -kernel /k/vmlinux \
             -initrd /k/initrd -append console=ttyS0"
        );
    }

    #[test]
    fn forwards_ports_from_localhost_only() {
        let forwards = [
            Forward {
                guest: 80,
                host: 40_001,
            },
            Forward {
                guest: 7,
                host: 40_002,
            },
        ];
        let line = joined(Board::QemuPc, Accel::Kvm, &forwards);
        assert!(
            line.contains(
                " -M pc -netdev user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:40001-:80,\
                 hostfwd=tcp:127.0.0.1:40002-:7 -device virtio-net-pci,romfile=,netdev=net0 "
            ),
            "{line}"
        );
        assert!(line.contains(" -accel kvm -cpu host "), "{line}");
        let line = joined(Board::Microvm, Accel::Tcg, &forwards[..1]);
        assert!(
            line.contains(" -device virtio-net-device,netdev=net0 "),
            "{line}"
        );
    }

    #[test]
    fn tells_the_tsc_rate_only_under_tcg() {
        assert_eq!(
            cmdline(Accel::Tcg, Some(2_600_000)),
            "console=ttyS0 quiet panic=-1 tsc_early_khz=2600000 tsc=reliable"
        );
        assert_eq!(cmdline(Accel::Tcg, None), "console=ttyS0 quiet panic=-1");
        assert_eq!(
            cmdline(Accel::Kvm, Some(2_600_000)),
            "console=ttyS0 quiet panic=-1"
        );
    }

    #[test]
    fn picks_distinct_free_ports() {
        let ports = free_ports(3).unwrap();
        assert_eq!(ports.len(), 3);
        assert_eq!(ports.iter().collect::<HashSet<_>>().len(), 3);
        for port in ports {
            assert_ne!(port, 0);
            // Free once the picking listeners are gone.
            drop(TcpListener::bind(("127.0.0.1", port)).unwrap());
        }
        assert!(free_ports(0).unwrap().is_empty());
    }

    #[test]
    fn scratch_directories_are_removed() {
        let scratch = Scratch::new("test").unwrap();
        let file = scratch.write("a", b"x").unwrap();
        assert_eq!(std::fs::read(&file).unwrap(), b"x");
        let dir = scratch.path().to_owned();
        let other = Scratch::new("test").unwrap();
        assert_ne!(other.path(), dir);
        drop(scratch);
        assert!(!dir.exists());
    }
}
