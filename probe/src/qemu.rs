//! Boots one image under QEMU: builds the command line, streams and keeps the console,
//! enforces the timeout and decodes the verdict.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use crate::accel::Accel;
use crate::board::Board;
use crate::exit::{self, GuestExit};

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
            LaunchError::Other(message) => message.clone(),
        }
    }

    /// The exit code probe ends with for this error.
    pub(crate) fn probe_code(&self) -> u8 {
        match self {
            LaunchError::QemuMissing(_) => exit::QEMU_MISSING,
            LaunchError::Other(_) => exit::NO_STATUS,
        }
    }
}

/// The QEMU arguments for a launch.
pub(crate) fn qemu_args(launch: &Launch<'_>) -> Vec<OsString> {
    let mut args: Vec<OsString> = Vec::new();
    let mut push = |words: &[&str]| args.extend(words.iter().map(OsString::from));
    // Nothing the board does not ask for: no default NIC, VGA, config file or monitor.
    push(&[
        "-nodefaults",
        "-no-user-config",
        "-display",
        "none",
        "-serial",
        "stdio",
    ]);
    // A triple fault ends the run (QEMU exits 0) instead of rebooting forever.
    push(&["-no-reboot"]);
    push(&["-m", launch.mem, "-smp", &launch.smp.to_string()]);
    // The guest reports its status by writing to this port (see `exit`).
    push(&["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]);
    push(launch.accel.qemu_args());
    push(launch.board.machine_args());
    args.push("-kernel".into());
    args.push(launch.elf.into());
    args.push("-append".into());
    args.push(launch.cmdline.into());
    args
}

/// Boots the image and waits for QEMU to exit or the timeout to pass.
pub(crate) fn boot(launch: &Launch<'_>) -> Result<Outcome, LaunchError> {
    let mut command = Command::new(launch.qemu);
    command.args(qemu_args(launch));
    supervise(command, launch.qemu, launch.timeout, launch.stream)
}

/// Runs QEMU (or, in tests, a stand-in) with the console piped to us.
fn supervise(
    mut command: Command,
    program: &str,
    timeout: Option<Duration>,
    stream: bool,
) -> Result<Outcome, LaunchError> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let start = Instant::now();
    let mut child = command.spawn().map_err(|err| match err.kind() {
        std::io::ErrorKind::NotFound => LaunchError::QemuMissing(program.to_owned()),
        _ => LaunchError::Other(format!("cannot start {program}: {err}")),
    })?;
    let Some(stdout) = child.stdout.take() else {
        kill(&mut child);
        return Err(LaunchError::Other(
            "QEMU's console pipe is missing".to_owned(),
        ));
    };
    // The reader drops `done` when QEMU closes its console, i.e. when QEMU exits.
    let (done, finished) = mpsc::channel::<()>();
    let reader = thread::spawn(move || {
        let console = read_console(stdout, stream, start);
        drop(done);
        console
    });

    let deadline = timeout.map(|timeout| start + timeout);
    let console_closed = match deadline {
        Some(deadline) => {
            let left = deadline.saturating_duration_since(Instant::now());
            !matches!(finished.recv_timeout(left), Err(RecvTimeoutError::Timeout))
        }
        None => {
            // Only fails once the reader has dropped its end, which is what we wait for.
            let _closed = finished.recv();
            true
        }
    };
    let status = if console_closed {
        wait_until(&mut child, deadline)?
    } else {
        None
    };
    let elapsed = start.elapsed();
    let exit = match status {
        Some(status) => decode_status(status),
        None => {
            kill(&mut child);
            GuestExit::TimedOut(timeout.unwrap_or_default())
        }
    };
    let (console, first_byte) = reader
        .join()
        .map_err(|_| LaunchError::Other("the console reader thread panicked".to_owned()))?;
    Ok(Outcome {
        exit,
        console,
        first_byte,
        elapsed,
    })
}

/// Reads the console to its end, copying it to our stdout when asked.
fn read_console(
    mut stdout: impl Read,
    stream: bool,
    start: Instant,
) -> (Vec<u8>, Option<Duration>) {
    let mut console = Vec::new();
    let mut first_byte = None;
    let mut buffer = [0u8; 4096];
    loop {
        let len = match stdout.read(&mut buffer) {
            Ok(0) => break,
            Ok(len) => len,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        first_byte.get_or_insert_with(|| start.elapsed());
        let bytes = &buffer[..len];
        if stream {
            // Our own stdout going away (a closed pipe) must not stop the guest or the copy.
            let mut out = std::io::stdout().lock();
            let _ignored = out.write_all(bytes).and_then(|()| out.flush());
        }
        console.extend_from_slice(bytes);
    }
    (console, first_byte)
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

/// Kills the QEMU we started (only that process) and reaps it.
fn kill(child: &mut Child) {
    // Errors mean it has already exited, which is what we want.
    let _ignored = child.kill();
    let _reaped = child.wait();
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
    use std::path::Path;
    use std::process::Command;
    use std::time::Duration;

    use super::{Launch, boot, qemu_args, supervise};
    use crate::accel::Accel;
    use crate::board::Board;
    use crate::exit::GuestExit;

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
        let err = boot(&launch(
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
    fn kills_a_guest_that_runs_too_long() {
        let outcome = fake_qemu("printf 'x'; exec sleep 30", Duration::from_millis(300));
        assert_eq!(
            outcome.exit,
            GuestExit::TimedOut(Duration::from_millis(300))
        );
        assert_eq!(outcome.console, b"x");
        assert!(outcome.elapsed < Duration::from_secs(10));
    }
}
