//! `run --gdb` and `probe gdb`: QEMU starts halted with its gdb server on a free local
//! port; probe says how to attach, or attaches gdb itself in the foreground.

use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::children;
use crate::proc_tcp;
use crate::qemu::Running;

/// How long QEMU may take to open its gdb server.
const LISTEN_WAIT: Duration = Duration::from_secs(10);

/// The environment variable naming the gdb that `probe gdb` runs.
const GDB_VARIABLE: &str = "NOVILLO_GDB";

/// A local TCP port that nobody listens on now, for QEMU's gdb server.
pub(crate) fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .map_err(|err| format!("cannot find a free local port for gdb: {err}"))
}

/// The QEMU arguments that start the guest halted with its gdb server on `port`.
pub(crate) fn qemu_args(port: u16) -> Vec<String> {
    vec![
        "-S".to_owned(),
        "-gdb".to_owned(),
        format!("tcp:127.0.0.1:{port}"),
    ]
}

/// Waits until QEMU listens on `port`, so that gdb can attach at once; `Err` when QEMU
/// exits first or takes too long.
pub(crate) fn wait_listening(guest: &mut Running, port: u16) -> Result<(), String> {
    let end = Instant::now() + LISTEN_WAIT;
    loop {
        if listening(port) {
            return Ok(());
        }
        if !guest.is_running() {
            return Err(format!(
                "QEMU exited before its gdb server listened on port {port} (see its message \
                 above)"
            ));
        }
        if Instant::now() >= end {
            return Err(format!(
                "QEMU's gdb server did not listen on port {port} within {} s",
                LISTEN_WAIT.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Whether a socket listens on local TCP `port`.
fn listening(port: u16) -> bool {
    proc_tcp::table().is_ok_and(|table| listens_in(&table, port))
}

/// Whether the `/proc/net/tcp` text `table` has a socket listening on `port`.
fn listens_in(table: &str, port: u16) -> bool {
    proc_tcp::listening(table).any(|socket| socket.port == port)
}

/// The command that attaches gdb to the server on `port`, ready to paste into a shell.
pub(crate) fn attach_command(elf: &Path, port: u16) -> String {
    format!(
        "gdb {} -ex 'target remote :{port}'",
        shell_word(&elf.display().to_string())
    )
}

/// `word` as one shell word: as it is when it holds nothing a shell reads specially,
/// else in single quotes.
fn shell_word(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "/._+-=:,@%".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// The application's `main` as gdb names it: `<crate>::main`, the crate being the binary,
/// example or test the image was built from (its file name, less cargo's `-<hash>`).
pub(crate) fn main_symbol(elf: &Path) -> String {
    let stem = elf
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match stem.rsplit_once('-') {
        Some((name, hash)) if hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
            name
        }
        _ => &stem,
    };
    format!("{}::main", name.replace('-', "_"))
}

/// The gdb to run: `NOVILLO_GDB`, else `gdb`.
fn program() -> String {
    std::env::var(GDB_VARIABLE).unwrap_or_else(|_| "gdb".to_owned())
}

/// Checks that the gdb `probe gdb` would run exists, before QEMU starts.
pub(crate) fn check_installed() -> Result<(), String> {
    let program = program();
    if found(&program) {
        Ok(())
    } else {
        Err(missing(&program))
    }
}

fn missing(program: &str) -> String {
    format!("{program} not found; install gdb (Debian/Ubuntu: sudo apt-get install gdb)")
}

/// Whether `program` names an executable file, directly (with a `/`) or through `PATH`.
fn found(program: &str) -> bool {
    let executable = |path: &Path| {
        std::fs::metadata(path).is_ok_and(|metadata| {
            metadata.is_file()
                && std::os::unix::fs::PermissionsExt::mode(&metadata.permissions()) & 0o111 != 0
        })
    };
    if program.contains('/') {
        return executable(Path::new(program));
    }
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| executable(&dir.join(program))))
}

/// Runs gdb on `elf`, attached to the server on `port`, in the foreground; returns its exit
/// code.
pub(crate) fn attach(elf: &Path, port: u16) -> Result<u8, String> {
    let program = program();
    let mut command = Command::new(&program);
    command
        .arg("-q")
        .arg(elf)
        .arg("-ex")
        .arg(format!("target remote :{port}"));
    let mut gdb = children::spawn_foreground(&mut command).map_err(|err| match err.kind() {
        std::io::ErrorKind::NotFound => missing(&program),
        _ => format!("cannot start {program}: {err}"),
    })?;
    let status = gdb
        .wait()
        .map_err(|err| format!("cannot wait for {program}: {err}"))?;
    Ok(status
        .code()
        .and_then(|code| u8::try_from(code).ok())
        .unwrap_or(crate::exit::NO_STATUS))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::{attach_command, listens_in, main_symbol, shell_word};

    #[test]
    fn names_the_main_of_a_binary_an_example_or_a_test() {
        let name = |path: &str| main_symbol(Path::new(path));
        assert_eq!(
            name("target/x86_64-unknown-none/debug/hello"),
            "hello::main"
        );
        assert_eq!(name("debug/examples/deep-fault"), "deep_fault::main");
        assert_eq!(name("debug/deps/threads-0123456789abcdef"), "threads::main");
        assert_eq!(name("debug/deps/threads-0123"), "threads_0123::main");
    }

    #[test]
    fn the_attach_command_survives_a_shell() {
        assert_eq!(
            attach_command(Path::new("target/debug/hello"), 4321),
            "gdb target/debug/hello -ex 'target remote :4321'"
        );
        assert_eq!(shell_word("my image"), "'my image'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
        assert_eq!(shell_word(""), "''");
    }

    #[test]
    fn finds_a_listening_port_in_proc_net_tcp() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue\n   \
                     0: 0100007F:9C5B 00000000:0000 0A 00000000:00000000\n   \
                     1: 0100007F:1F90 0100007F:C350 01 00000000:00000000\n";
        assert!(listens_in(table, 0x9c5b));
        // Connected, not listening.
        assert!(!listens_in(table, 0x1f90));
        assert!(!listens_in(table, 80));
    }
}
