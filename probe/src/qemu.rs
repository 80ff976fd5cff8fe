//! Boots one image under QEMU: builds the command line, streams and keeps the console,
//! enforces the timeout and decodes the verdict. A `Running` guest can also be watched
//! while it runs (its console, QEMU's process id) and stopped, for benchmarks.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use crate::accel::Accel;
use crate::board::Board;
use crate::children::{self, Child};
use crate::disk::{Bus, Disk, Scratch, disk_args};
use crate::exit::{self, GuestExit};
use crate::net::Network;
use crate::symbols::Annotator;

/// Everything needed to boot one image.
#[derive(Debug)]
pub(crate) struct Launch<'a> {
    /// The QEMU program to run.
    pub(crate) qemu: &'a str,
    pub(crate) elf: &'a Path,
    pub(crate) board: Board,
    pub(crate) accel: Accel,
    pub(crate) smp: u32,
    /// Memory size as QEMU's `-m` takes it, e.g. `128M`.
    pub(crate) mem: &'a str,
    /// The guest command line (see `cmdline`).
    pub(crate) cmdline: &'a str,
    /// `None` waits forever.
    pub(crate) timeout: Option<Duration>,
    /// Copy the console to our stdout as it arrives, besides keeping it.
    pub(crate) stream: bool,
    /// Departures from the board's usual machine.
    pub(crate) variant: &'a MachineVariant,
}

/// What a launch changes in the board's usual machine: disks, and for tests other
/// firmware, other machine options or a missing exit device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct MachineVariant {
    /// Attach QEMU's `isa-debug-exit` (the usual way a guest reports its status).
    pub(crate) exit_device: bool,
    /// QEMU arguments after all of probe's own: a later `-M` merges into the board's, and a
    /// later `-smp` or `-append` replaces probe's (to give the guest what probe refuses to).
    pub(crate) extra_args: Vec<String>,
    /// Raw images attached in order (`--disk`); `disk::check` has accepted them.
    pub(crate) disks: Vec<Disk>,
    /// The NIC and where its frames go (`--net`), shared by the launches of one run.
    pub(crate) net: Option<Arc<Network>>,
    /// How the firmware gets to the kernel.
    pub(crate) boot: Boot,
}

/// How a guest is booted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Boot {
    /// QEMU loads the ELF itself (`-kernel`): PVH on microvm, Multiboot on the PC.
    #[default]
    Kernel,
    /// The BIOS boots a disk image of the ELF (`image`) from its first disk on `bus`,
    /// damaged on purpose when asked, for the loader's error tests.
    Disk(Bus, Option<Damage>),
}

/// A way to spoil a disk image, to see the loader refuse it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Damage {
    /// A sector in the middle of the kernel overwritten.
    KernelSector,
    /// The file cut in the middle of the kernel.
    Truncated,
}

impl Default for MachineVariant {
    fn default() -> Self {
        MachineVariant {
            exit_device: true,
            extra_args: Vec::new(),
            disks: Vec::new(),
            boot: Boot::Kernel,
            net: None,
        }
    }
}

/// How a boot ended, with everything the guest printed.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub(crate) exit: GuestExit,
    pub(crate) console: Vec<u8>,
    /// From just before spawning QEMU to the first console byte.
    pub(crate) first_byte: Option<Duration>,
    /// From just before spawning QEMU to its exit.
    pub(crate) elapsed: Duration,
}

/// Why QEMU could not be run at all.
#[derive(Debug)]
pub(crate) enum LaunchError {
    /// The QEMU program does not exist; holds its name.
    QemuMissing(String),
    /// What the user asked for cannot be booted as asked (such as a command line the board
    /// would cut); holds the message.
    Usage(String),
    Other(String),
}

impl LaunchError {
    /// The one-line message for the user, without the `probe: ` prefix.
    pub(crate) fn message(&self) -> String {
        match self {
            LaunchError::QemuMissing(qemu) => format!(
                "{qemu} not found; install QEMU (Debian/Ubuntu: sudo apt-get install \
                 qemu-system-x86)"
            ),
            LaunchError::Usage(message) | LaunchError::Other(message) => message.clone(),
        }
    }

    /// The exit code probe ends with for this error.
    pub(crate) fn probe_code(&self) -> u8 {
        match self {
            LaunchError::QemuMissing(_) => exit::QEMU_MISSING,
            LaunchError::Usage(_) => exit::USAGE,
            LaunchError::Other(_) => exit::NO_STATUS,
        }
    }
}

/// The start of every guest's QEMU line, Novillo's and the Linux baseline's: nothing the
/// guest does not ask for (no default NIC, VGA, config file or monitor), the console on
/// stdio, and a triple fault or reset ends the run (QEMU exits 0) instead of rebooting for
/// ever.
pub(crate) const BARE_MACHINE: &[&str] = &[
    "-nodefaults",
    "-no-user-config",
    "-display",
    "none",
    "-serial",
    "stdio",
    "-no-reboot",
];

/// The QEMU arguments for a launch.
pub(crate) fn qemu_args(launch: &Launch<'_>) -> Vec<OsString> {
    let mut args: Vec<OsString> = Vec::new();
    let mut push = |words: &[&str]| args.extend(words.iter().map(OsString::from));
    push(BARE_MACHINE);
    push(&["-m", launch.mem, "-smp", &launch.smp.to_string()]);
    // The guest reports its status by writing to this port (see `exit`).
    if launch.variant.exit_device {
        push(&["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]);
    }
    push(launch.accel.qemu_args());
    push(launch.board.machine_args());
    match launch.variant.boot {
        Boot::Kernel => {
            args.extend(disk_args(launch.board, &launch.variant.disks, 0));
            args.push("-kernel".into());
            args.push(launch.elf.into());
            args.push("-append".into());
            args.push(launch.cmdline.into());
        }
        // `elf` is the image here; it goes first, so the firmware boots it.
        Boot::Disk(bus, _) => {
            let file = launch.elf.to_string_lossy().replace(',', ",,");
            args.push("-drive".into());
            args.push(format!("file={file},format=raw,if=none,id=boot").into());
            args.push("-device".into());
            args.push(match bus {
                Bus::Ide => "ide-hd,drive=boot,bus=ide.0,unit=0,bootindex=0".into(),
                Bus::Virtio => "virtio-blk-pci,drive=boot,bootindex=0".into(),
            });
            let first_ide = usize::from(bus == Bus::Ide);
            args.extend(disk_args(launch.board, &launch.variant.disks, first_ide));
        }
    }
    // After the disks: microvm fills its virtio-mmio slots in this order.
    // `guest::start_file` checked that the network fits the board.
    if let Some(net) = &launch.variant.net {
        args.extend(
            net.qemu_args(launch.board)
                .unwrap_or_default()
                .into_iter()
                .map(OsString::from),
        );
    }
    args.extend(launch.variant.extra_args.iter().map(OsString::from));
    args
}

/// Starts the image and returns at once, so the caller can watch the console and QEMU's
/// process while the guest runs (or just `finish` it); the launch's timeout applies to
/// `Running::finish` and `Running::wait_for`.
pub(crate) fn start(launch: &Launch<'_>) -> Result<Running, LaunchError> {
    let mut command = Command::new(launch.qemu);
    command.args(qemu_args(launch));
    if let Some(net) = &launch.variant.net {
        net.put_in(&mut command);
    }
    let symbols = Some(Annotator::new(launch.elf));
    let running = Running::spawn(command, launch.qemu, launch.timeout, launch.stream, symbols)?;
    if let Some(net) = &launch.variant.net
        && let Err(err) = net.widen_forward_backlogs(running.pid())
    {
        eprintln!("probe: {err}; connections in a burst may be reset");
    }
    Ok(running)
}

/// A chunk of console output and when it arrived (from just before spawning QEMU).
type Chunk = (Duration, Vec<u8>);

/// How `Running::wait_for` ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Waited {
    /// The console now holds the text.
    Found,
    /// QEMU closed its console (it is exiting) without printing the text.
    Closed,
    /// The time ran out first.
    TimedOut,
}

/// A QEMU (or, in tests, a stand-in) that is running, with its console piped to us.
///
/// Dropping it kills and reaps the process (see `children::Child`), so an early return
/// never leaves a QEMU behind.
#[derive(Debug)]
pub(crate) struct Running {
    child: Child,
    chunks: mpsc::Receiver<Chunk>,
    reader: Option<thread::JoinHandle<()>>,
    /// Everything received from the reader so far.
    console: Vec<u8>,
    first_byte: Option<Duration>,
    /// False once the reader has hung up, i.e. QEMU closed its console.
    open: bool,
    start: Instant,
    timeout: Option<Duration>,
    /// Files the guest uses (a boot image), removed when QEMU is gone.
    scratch: Option<Scratch>,
}

impl Running {
    /// Starts `command` (a QEMU, named `program` in messages) with its console piped to us;
    /// `start` builds the command for Novillo images, the Linux baseline its own. `symbols`
    /// names the addresses of the guest's backtraces in the console as it arrives.
    pub(crate) fn spawn(
        mut command: Command,
        program: &str,
        timeout: Option<Duration>,
        stream: bool,
        symbols: Option<Annotator>,
    ) -> Result<Running, LaunchError> {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let start = Instant::now();
        let mut child = children::spawn(&mut command).map_err(|err| match err.kind() {
            std::io::ErrorKind::NotFound => LaunchError::QemuMissing(program.to_owned()),
            _ => LaunchError::Other(format!("cannot start {program}: {err}")),
        })?;
        let Some(stdout) = child.take_stdout() else {
            return Err(LaunchError::Other(
                "QEMU's console pipe is missing".to_owned(),
            ));
        };
        // The reader hangs up when QEMU closes its console, i.e. when QEMU exits.
        let (sender, chunks) = mpsc::channel();
        let reader = thread::spawn(move || read_console(stdout, stream, symbols, start, &sender));
        Ok(Running {
            child,
            chunks,
            reader: Some(reader),
            console: Vec::new(),
            first_byte: None,
            open: true,
            start,
            timeout,
            scratch: None,
        })
    }

    /// Keeps `scratch` until QEMU is gone.
    pub(crate) fn keeping(mut self, scratch: Scratch) -> Running {
        self.scratch = Some(scratch);
        self
    }

    /// QEMU's process id, for reading its CPU time from `/proc`.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until the console holds `text`, QEMU closes its console, or `limit` passes
    /// (never beyond the launch's timeout).
    pub(crate) fn wait_for(&mut self, text: &str, limit: Duration) -> Waited {
        let deadline = match (Instant::now().checked_add(limit), self.deadline()) {
            (Some(end), Some(launch_end)) => Some(end.min(launch_end)),
            (end, launch_end) => end.or(launch_end),
        };
        loop {
            if contains(&self.console, text.as_bytes()) {
                return Waited::Found;
            }
            if !self.open {
                return Waited::Closed;
            }
            if !self.receive(deadline) && self.open {
                return Waited::TimedOut;
            }
        }
    }

    /// Everything the guest printed so far, what arrived since the last look included.
    pub(crate) fn console_so_far(&mut self) -> &[u8] {
        while self.open && self.receive(Some(Instant::now())) {}
        &self.console
    }

    /// True while QEMU has not exited (an exited QEMU is reaped here).
    pub(crate) fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits for QEMU to exit, killing it if the launch's timeout passes first.
    pub(crate) fn finish(mut self) -> Result<Outcome, LaunchError> {
        let deadline = self.deadline();
        while self.open {
            if !self.receive(deadline) && self.open {
                break;
            }
        }
        let status = if self.open {
            None
        } else {
            wait_until(&mut self.child, deadline)?
        };
        let exit = match status {
            Some(status) => decode_status(status),
            None => {
                // Killed, the exit status says nothing: the timeout is the verdict.
                let _killed = self.child.kill();
                GuestExit::TimedOut(self.timeout.unwrap_or_default())
            }
        };
        self.outcome(exit)
    }

    /// Kills QEMU (only our process group) and returns what the guest printed until then.
    pub(crate) fn stop(mut self) -> Result<Outcome, LaunchError> {
        let exit = match self.child.kill() {
            Ok(status) => decode_status(status),
            Err(_) => GuestExit::QemuFailed(-1),
        };
        self.outcome(exit)
    }

    /// When the launch's timeout ends; `None` for no timeout, or one too long to represent.
    fn deadline(&self) -> Option<Instant> {
        self.timeout
            .and_then(|timeout| self.start.checked_add(timeout))
    }

    /// Takes one chunk from the reader, waiting until `deadline` at most; false when none
    /// came (the time ran out, or the reader hung up and `open` is now false).
    fn receive(&mut self, deadline: Option<Instant>) -> bool {
        let received = match deadline {
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                match self.chunks.recv_timeout(left) {
                    Ok(chunk) => Some(chunk),
                    Err(RecvTimeoutError::Timeout) => return false,
                    Err(RecvTimeoutError::Disconnected) => None,
                }
            }
            None => self.chunks.recv().ok(),
        };
        match received {
            Some((at, bytes)) => {
                self.first_byte.get_or_insert(at);
                self.console.extend_from_slice(&bytes);
                true
            }
            None => {
                self.open = false;
                false
            }
        }
    }

    /// Collects the rest of the console once QEMU is gone.
    fn outcome(&mut self, exit: GuestExit) -> Result<Outcome, LaunchError> {
        let elapsed = self.start.elapsed();
        while self.open {
            self.receive(None);
        }
        if let Some(reader) = self.reader.take() {
            reader
                .join()
                .map_err(|_| LaunchError::Other("the console reader thread panicked".to_owned()))?;
        }
        Ok(Outcome {
            exit: exit::with_console_status(exit, &self.console),
            console: std::mem::take(&mut self.console),
            first_byte: self.first_byte,
            elapsed,
        })
    }
}

/// True when `text` occurs in `haystack`.
fn contains(haystack: &[u8], text: &[u8]) -> bool {
    text.is_empty() || haystack.windows(text.len()).any(|window| window == text)
}

/// Starts a shell script standing in for QEMU, for tests of code that drives a guest.
#[cfg(all(test, unix))]
pub(crate) fn stand_in(script: &str, timeout: Option<Duration>) -> Running {
    let mut command = Command::new("sh");
    command.arg("-c").arg(script);
    Running::spawn(command, "sh", timeout, false, None).expect("sh runs")
}

/// Runs QEMU (or, in tests, a stand-in) to its end with the console piped to us.
#[cfg(test)]
fn supervise(
    command: Command,
    program: &str,
    timeout: Option<Duration>,
    stream: bool,
) -> Result<Outcome, LaunchError> {
    Running::spawn(command, program, timeout, stream, None)?.finish()
}

/// Reads the console to its end, naming backtrace addresses when `symbols` is given,
/// copying it to our stdout when asked and handing each chunk to `sender`; returning drops
/// the sender, which tells the receiver QEMU is gone.
fn read_console(
    mut stdout: impl Read,
    stream: bool,
    mut symbols: Option<Annotator>,
    start: Instant,
    sender: &mpsc::Sender<Chunk>,
) {
    let mut buffer = [0u8; 4096];
    loop {
        let len = match stdout.read(&mut buffer) {
            Ok(0) => break,
            Ok(len) => len,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        let annotated = symbols.as_mut().map(|symbols| symbols.feed(&buffer[..len]));
        let bytes = annotated.as_deref().unwrap_or(&buffer[..len]);
        if stream {
            // Our own stdout going away (a closed pipe) must not stop the guest or the copy.
            let mut out = std::io::stdout().lock();
            let _ignored = out.write_all(bytes).and_then(|()| out.flush());
        }
        // The receiver only goes away with the `Running`, which kills QEMU anyway.
        if sender.send((start.elapsed(), bytes.to_vec())).is_err() {
            break;
        }
    }
}

/// Waits for the child to exit; `None` if the deadline passes first.
fn wait_until(
    child: &mut Child,
    deadline: Option<Instant>,
) -> Result<Option<std::process::ExitStatus>, LaunchError> {
    let failed = |err| LaunchError::Other(format!("cannot wait for QEMU: {err}"));
    let Some(deadline) = deadline else {
        return child.wait().map(Some).map_err(failed);
    };
    // QEMU has closed its console, so it is exiting; this loop is normally one pass.
    loop {
        if let Some(status) = child.try_wait().map_err(failed)? {
            return Ok(Some(status));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        thread::sleep(Duration::from_millis(1));
    }
}

fn decode_status(status: std::process::ExitStatus) -> GuestExit {
    #[cfg(unix)]
    let signal = std::os::unix::process::ExitStatusExt::signal(&status);
    #[cfg(not(unix))]
    let signal = None;
    exit::decode(status.code(), signal)
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};
    use std::process::Command;
    use std::time::Duration;

    #[cfg(unix)]
    use super::stand_in;
    use super::{Boot, Launch, MachineVariant, Waited, qemu_args, start, supervise};
    use crate::accel::Accel;
    use crate::board::Board;
    use crate::disk::{Bus, Disk};
    use crate::exit::GuestExit;

    const USUAL: &MachineVariant = &MachineVariant {
        exit_device: true,
        extra_args: Vec::new(),
        disks: Vec::new(),
        boot: Boot::Kernel,
        net: None,
    };

    fn launch<'a>(qemu: &'a str, board: Board, accel: Accel) -> Launch<'a> {
        Launch {
            qemu,
            elf: Path::new("/img/hello"),
            board,
            accel,
            smp: 2,
            mem: "256M",
            cmdline: "tsc_khz=1000000 a",
            timeout: Some(Duration::from_secs(5)),
            stream: false,
            variant: USUAL,
        }
    }

    fn joined(launch: &Launch<'_>) -> String {
        let args = qemu_args(launch);
        let words: Vec<_> = args.iter().map(|arg| arg.to_string_lossy()).collect();
        words.join(" ")
    }

    #[test]
    fn microvm_under_tcg() {
        assert_eq!(
            joined(&launch("qemu", Board::Microvm, Accel::Tcg)),
            "-nodefaults -no-user-config -display none -serial stdio -no-reboot -m 256M \
             -smp 2 -device isa-debug-exit,iobase=0xf4,iosize=0x04 -accel tcg \
             -cpu qemu64,+arat -M microvm,x-option-roms=off,rtc=off,acpi=off \
             -kernel /img/hello -append tsc_khz=1000000 a"
        );
    }

    #[test]
    fn a_variant_drops_the_exit_device_and_adds_arguments() {
        let variant = MachineVariant {
            exit_device: false,
            extra_args: vec!["-M".to_owned(), "microvm,acpi=on".to_owned()],
            disks: Vec::new(),
            boot: Boot::Kernel,
            net: None,
        };
        let line = joined(&Launch {
            variant: &variant,
            ..launch("qemu", Board::Microvm, Accel::Tcg)
        });
        assert!(!line.contains("isa-debug-exit"), "{line}");
        assert!(
            line.ends_with("-append tsc_khz=1000000 a -M microvm,acpi=on"),
            "{line}"
        );
    }

    #[test]
    fn disks_come_after_the_machine() {
        let variant = MachineVariant {
            disks: vec![Disk::virtio(PathBuf::from("/d/a.img"))],
            ..MachineVariant::default()
        };
        let line = joined(&Launch {
            variant: &variant,
            ..launch("qemu", Board::QemuPc, Accel::Tcg)
        });
        assert!(
            line.contains(
                " -M pc -drive file=/d/a.img,format=raw,if=none,id=disk0 \
                 -device virtio-blk-pci,drive=disk0 -kernel /img/hello "
            ),
            "{line}"
        );
    }

    #[test]
    fn a_boot_disk_comes_first_and_replaces_the_kernel() {
        let variant = MachineVariant {
            disks: vec![Disk {
                file: PathBuf::from("/d/a.img"),
                bus: Bus::Ide,
                faults: None,
            }],
            boot: Boot::Disk(Bus::Ide, None),
            ..MachineVariant::default()
        };
        let line = joined(&Launch {
            variant: &variant,
            elf: Path::new("/t/boot.img"),
            ..launch("qemu", Board::QemuPc, Accel::Tcg)
        });
        assert!(
            line.ends_with(
                " -M pc -drive file=/t/boot.img,format=raw,if=none,id=boot \
                 -device ide-hd,drive=boot,bus=ide.0,unit=0,bootindex=0 \
                 -drive file=/d/a.img,format=raw,if=none,id=disk0 \
                 -device ide-hd,drive=disk0,bus=ide.0,unit=1"
            ),
            "{line}"
        );
        let variant = MachineVariant {
            boot: Boot::Disk(Bus::Virtio, None),
            ..MachineVariant::default()
        };
        let line = joined(&Launch {
            variant: &variant,
            ..launch("qemu", Board::QemuPc, Accel::Tcg)
        });
        assert!(
            line.ends_with("-device virtio-blk-pci,drive=boot,bootindex=0"),
            "{line}"
        );
        assert!(
            !line.contains("-kernel") && !line.contains("-append"),
            "{line}"
        );
    }

    #[test]
    fn pc_under_kvm() {
        let line = joined(&launch("qemu", Board::QemuPc, Accel::Kvm));
        assert!(
            line.contains(" -accel kvm -cpu host -M pc -kernel "),
            "{line}"
        );
    }

    #[test]
    fn the_cmdline_is_one_argument() {
        let args = qemu_args(&launch("qemu", Board::QemuPc, Accel::Tcg));
        assert_eq!(
            args.last().map(|arg| arg.to_string_lossy()),
            Some("tsc_khz=1000000 a".into())
        );
    }

    #[test]
    fn a_missing_qemu_is_reported_as_such() {
        let err = start(&launch(
            "/nonexistent/qemu-system-x86_64",
            Board::Microvm,
            Accel::Tcg,
        ))
        .unwrap_err();
        assert_eq!(err.probe_code(), 127);
        assert!(
            err.message()
                .starts_with("/nonexistent/qemu-system-x86_64 not found; install")
        );
    }

    /// Runs a shell script standing in for QEMU.
    #[cfg(unix)]
    fn fake_qemu(script: &str, timeout: Duration) -> super::Outcome {
        let mut command = Command::new("sh");
        command.arg("-c").arg(script);
        supervise(command, "sh", Some(timeout), false).unwrap()
    }

    #[test]
    #[cfg(unix)]
    fn keeps_the_console_and_decodes_the_status() {
        let outcome = fake_qemu("printf 'hello\\n'; exit 235", Duration::from_secs(10));
        assert_eq!(outcome.exit, GuestExit::Status(101));
        assert_eq!(outcome.console, b"hello\n");
        assert!(outcome.first_byte.is_some());
    }

    #[test]
    #[cfg(unix)]
    fn a_guest_without_the_exit_device_reports_on_its_console() {
        let outcome = fake_qemu(
            "printf 'hello\\nnovillo: exit status 101\\n'; exit 0",
            Duration::from_secs(10),
        );
        assert_eq!(outcome.exit, GuestExit::Status(101));
        let outcome = fake_qemu(
            "printf 'novillo: exit status 0\\nreset\\n'; exit 0",
            Duration::from_secs(10),
        );
        assert_eq!(outcome.exit, GuestExit::Stopped);
    }

    #[test]
    #[cfg(unix)]
    fn kills_a_guest_that_runs_too_long() {
        let outcome = fake_qemu("printf 'x'; exec sleep 30", Duration::from_millis(300));
        assert_eq!(
            outcome.exit,
            GuestExit::TimedOut(Duration::from_millis(300))
        );
        assert_eq!(outcome.console, b"x");
        assert!(outcome.elapsed < Duration::from_secs(10));
    }

    #[test]
    #[cfg(unix)]
    fn waits_for_a_marker_then_stops_the_guest() {
        let mut guest = stand_in(
            "printf 'booting\\nREA'; sleep 0.2; printf 'DY\\n'; exec sleep 30",
            None,
        );
        assert!(guest.pid() > 0);
        assert_eq!(
            guest.wait_for("READY", Duration::from_secs(10)),
            Waited::Found
        );
        assert!(guest.is_running());
        let started = std::time::Instant::now();
        let outcome = guest.stop().unwrap();
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(outcome.console, b"booting\nREADY\n");
        assert!(
            matches!(outcome.exit, GuestExit::Signal(_)),
            "{:?}",
            outcome.exit
        );
    }

    #[test]
    #[cfg(unix)]
    fn a_marker_that_never_comes() {
        let mut guest = stand_in("printf 'x'; exec sleep 30", None);
        assert_eq!(
            guest.wait_for("READY", Duration::from_millis(200)),
            Waited::TimedOut
        );
        // Dropping the handle kills and reaps the process.
        let pid = guest.pid();
        drop(guest);
        assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());

        let mut guest = stand_in("printf 'x'; exit 235", None);
        assert_eq!(
            guest.wait_for("READY", Duration::from_secs(10)),
            Waited::Closed
        );
        // A closed console means exiting, not yet reaped, so no `is_running` check here.
        let outcome = guest.finish().unwrap();
        assert_eq!(outcome.exit, GuestExit::Status(101));
        assert_eq!(outcome.console, b"x");
    }

    #[test]
    #[cfg(unix)]
    fn waiting_never_outlasts_the_launch_timeout() {
        let mut guest = stand_in("exec sleep 30", Some(Duration::from_millis(200)));
        let started = std::time::Instant::now();
        assert_eq!(
            guest.wait_for("READY", Duration::from_secs(30)),
            Waited::TimedOut
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        let outcome = guest.finish().unwrap();
        assert_eq!(
            outcome.exit,
            GuestExit::TimedOut(Duration::from_millis(200))
        );
    }
}
