//! Debugging a guest from the outside: gdb attached through `probe run --gdb` stops in an
//! application's `main` on both boards, and a thread's fault three calls deep is reported
//! with a backtrace that probe names, in a debug and in a release build.
//!
//! Needs QEMU, builds `apps` (hello for both boards, the `fault` example for microvm in
//! debug and release); the gdb test needs Debian's `gdb` and is skipped, saying so, without
//! it.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

/// Builds of one board overwrite those of the other: one build-and-boot at a time.
static BUILDS: Mutex<()> = Mutex::new(());

fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

/// Builds `target` (`--bin hello`, `--example fault`) of `apps` for `board` and returns
/// the image's path, from cargo's own report.
fn build(board: &str, target: &[&str], release: bool) -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let feature = format!("bsp-{board}");
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace())
        .args(["build", "--package", "apps", "--features", &feature])
        .args(target)
        .arg("--message-format=json-render-diagnostics")
        .stderr(Stdio::inherit());
    if release {
        command.arg("--release");
    }
    let output = command.output().expect("cargo runs");
    assert!(output.status.success(), "cargo build {target:?} failed");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find_map(|message| message["executable"].as_str().map(PathBuf::from))
        .expect("cargo reported an executable")
}

fn probe() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_probe"));
    command.env_remove("NOVILLO_PROBE").current_dir(workspace());
    command
}

/// Kills `child` if it is still running after `limit`, so that a hung gdb or guest fails
/// the test instead of hanging it; returns its status and stdout.
fn finish(mut child: Child, limit: Duration, what: &str) -> (std::process::ExitStatus, String) {
    let mut stdout = child.stdout.take().unwrap();
    let reader = thread::spawn(move || {
        let mut text = String::new();
        stdout.read_to_string(&mut text).map(|_| text)
    });
    let end = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() >= end {
            let _killed = child.kill();
            let text = reader.join().unwrap().unwrap_or_default();
            panic!(
                "{what} still runs after {} s; its output:\n{text}",
                limit.as_secs()
            );
        }
        thread::sleep(Duration::from_millis(20));
    };
    (status, reader.join().unwrap().unwrap())
}

fn gdb_installed() -> bool {
    Command::new("gdb")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// `probe run --gdb` on hello for `board`, gdb in batch mode: break on `hello::main`,
/// continue, `bt`.
fn gdb_stops_in_main(board: &str) {
    let _builds = BUILDS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let hello = build(board, &["--bin", "hello"], false);
    let mut guest = probe()
        .args(["run", "--gdb", "--accel", "tcg", "--timeout", "120"])
        .arg(&hello)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut said = String::new();
    let mut stderr = BufReader::new(guest.stderr.take().unwrap());
    let port = loop {
        let mut line = String::new();
        if stderr.read_line(&mut line).unwrap() == 0 {
            let _killed = guest.kill();
            panic!("{board}: probe run --gdb never said how to attach:\n{said}");
        }
        said.push_str(&line);
        if let Some((_, port)) = line.trim_end().split_once("target remote :") {
            break port.trim_end_matches('\'').to_owned();
        }
    };
    assert!(
        said.contains("break hello::main"),
        "{board}: no hint at main: {said}"
    );
    let gdb = Command::new("gdb")
        .arg("-batch")
        .arg("-nx")
        .arg(&hello)
        .args(["-ex", &format!("target remote :{port}")])
        .args(["-ex", "break hello::main", "-ex", "continue", "-ex", "bt"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let (_, session) = finish(gdb, Duration::from_secs(120), "gdb");
    assert!(
        session.contains("Breakpoint 1, hello::main () at apps/src/bin/hello.rs:"),
        "{board}: gdb did not stop in main:\n{session}"
    );
    let first_frame = session
        .lines()
        .find(|line| line.starts_with("#0 "))
        .unwrap_or_default();
    assert!(
        first_frame.contains("hello::main ()"),
        "{board}: bt does not start in main:\n{session}"
    );
    assert!(
        session.contains("in hello::__novillo_main ()"),
        "{board}: bt lacks main's caller:\n{session}"
    );
    // Once gdb detaches, the guest runs on to its end.
    let (status, console) = finish(guest, Duration::from_secs(120), "the guest");
    assert_eq!(status.code(), Some(0), "{board}: {console}");
    assert!(
        console.contains("Hello from Novillo!"),
        "{board}: {console}"
    );
}

#[test]
fn gdb_stops_in_main_on_both_boards() {
    if !gdb_installed() {
        eprintln!("skipped: gdb is not installed (Debian/Ubuntu: apt-get install gdb)");
        return;
    }
    for board in ["microvm", "qemu-pc"] {
        gdb_stops_in_main(board);
    }
}

/// Boots `fault deep` and checks that the thread's backtrace names the three calls and
/// their file.
fn backtrace_names_the_calls(release: bool) {
    let _builds = BUILDS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let image = build("microvm", &["--example", "fault"], release);
    let run = probe()
        .args(["run", "--accel", "tcg", "--timeout", "120"])
        .arg(&image)
        .arg("deep")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let (status, console) = finish(run, Duration::from_secs(180), "the guest");
    let build = if release { "release" } else { "debug" };
    assert_eq!(status.code(), Some(0), "{build}: {console}");
    let backtrace: Vec<&str> = console
        .lines()
        .skip_while(|line| *line != "backtrace:")
        .skip(1)
        .take_while(|line| line.starts_with("  "))
        .collect();
    for function in ["third", "second", "first"] {
        let named = format!("fault::{function} at apps/examples/fault.rs:");
        assert!(
            backtrace.iter().any(|line| line.contains(&named)),
            "{build}: no frame names {named}:\n{console}"
        );
    }
    // Innermost first (calls inlined into one another share a line, in that order too).
    let order: Vec<usize> = ["fault::third", "fault::second", "fault::first"]
        .iter()
        .map(|name| console.find(name).unwrap())
        .collect();
    assert!(
        order.is_sorted(),
        "{build}: the calls are not innermost first:\n{console}"
    );
}

#[test]
fn a_threads_fault_is_named_three_calls_deep_in_debug_and_release() {
    backtrace_names_the_calls(false);
    backtrace_names_the_calls(true);
}
