//! Proves that no way of ending `probe run` leaves its QEMU running: a signal, a kill, a
//! timeout, or a timeout too large to add to a clock.
//!
//! The QEMU is a stand-in shell script (`--qemu`) that prints its process id and that of a
//! child it starts, then sleeps; each test checks by those ids that both are gone. Needs
//! only `sh` and `sleep`.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// An ELF64 image with nothing but a `PT_NOTE` segment holding the microvm board note: all
/// probe reads before it starts QEMU.
fn board_image() -> Vec<u8> {
    let mut note = Vec::new();
    note.extend_from_slice(&8u32.to_le_bytes()); // name size, "Novillo\0"
    note.extend_from_slice(&8u32.to_le_bytes()); // descriptor size, "microvm\0"
    note.extend_from_slice(&1u32.to_le_bytes()); // type: board
    note.extend_from_slice(b"Novillo\0microvm\0");
    let notes_at = 64u64 + 56;
    let mut image = vec![0u8; 64];
    image[..7].copy_from_slice(b"\x7fELF\x02\x01\x01"); // 64-bit, little-endian, version 1
    image[0x10..0x12].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    image[0x12..0x14].copy_from_slice(&0x3eu16.to_le_bytes()); // EM_X86_64
    image[0x20..0x28].copy_from_slice(&64u64.to_le_bytes()); // program headers right after
    image[0x34..0x36].copy_from_slice(&64u16.to_le_bytes());
    image[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
    image[0x38..0x3a].copy_from_slice(&1u16.to_le_bytes());
    let size = u64::try_from(note.len()).unwrap();
    for field in [
        4u64 | (4 << 32), // PT_NOTE, readable
        notes_at,
        0,
        0,
        size,
        size,
        4,
    ] {
        image.extend_from_slice(&field.to_le_bytes());
    }
    image.extend_from_slice(&note);
    image
}

/// A directory of its own for each test, with the image and the stand-in QEMU; removed
/// when dropped.
struct Scratch {
    dir: PathBuf,
    image: PathBuf,
    qemu: PathBuf,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // Only the test's own files; a leftover in the temporary directory harms nothing.
        let _removed = std::fs::remove_dir_all(&self.dir);
    }
}

fn setup(test: &str) -> Scratch {
    let dir = std::env::temp_dir().join(format!("probe-lifecycle-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let image = dir.join("image.elf");
    std::fs::write(&image, board_image()).unwrap();
    let qemu = dir.join("qemu");
    // `exec` keeps the printed id: the sleeping process is the one probe started. Its
    // stderr is probe's, i.e. the test's pipe: an orphan holding it would keep the test
    // reading it waiting instead of failing.
    std::fs::write(
        &qemu,
        "#!/bin/sh\nexec 2>/dev/null\nsleep 600 &\necho \"qemu $$ child $!\"\nexec sleep 600\n",
    )
    .unwrap();
    let mut permissions = std::fs::metadata(&qemu).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(&qemu, permissions).unwrap();
    Scratch { dir, image, qemu }
}

fn probe_run(scratch: &Scratch, timeout: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_probe"));
    command
        // A core file of an aborted probe lands there, if the system writes one.
        .current_dir(&scratch.dir)
        .env_remove("NOVILLO_PROBE")
        .args([
            "run",
            "--accel",
            "tcg",
            "--no-tsc-hint",
            "--timeout",
            timeout,
        ])
        .arg("--qemu")
        .arg(&scratch.qemu)
        .arg(&scratch.image)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // A shell without job control starts background commands with SIGINT and SIGQUIT
    // ignored, and an ignored signal never reaches probe; the test may run under one.
    // SAFETY: runs between fork and exec and only calls `signal`, which is
    // async-signal-safe.
    unsafe {
        command.pre_exec(|| {
            for number in [libc::SIGHUP, libc::SIGINT, libc::SIGQUIT, libc::SIGTERM] {
                libc::signal(number, libc::SIG_DFL);
            }
            Ok(())
        });
    }
    command
}

/// Starts `probe run` on the stand-in and returns it with the ids of the stand-in and of
/// its child, once the stand-in has printed them.
fn start(scratch: &Scratch, timeout: &str) -> (Child, [libc::pid_t; 2]) {
    let mut probe = probe_run(scratch, timeout).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(probe.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let words: Vec<&str> = line.split_whitespace().collect();
    let [_, qemu, _, child] = words[..] else {
        panic!("the stand-in printed {line:?}");
    };
    let pids = [qemu.parse().unwrap(), child.parse().unwrap()];
    for pid in pids {
        assert!(alive(pid), "{pid} is not running");
    }
    (probe, pids)
}

/// True while `pid` runs (a zombie has exited; only its entry is left).
fn alive(pid: libc::pid_t) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit(')')
            .next()
            .is_some_and(|rest| !rest.starts_with(" Z"))
    })
}

/// Checks that each of `pids` is gone within a few seconds: a process reparented to init
/// once probe is gone is reaped there, not by probe.
fn assert_gone(pids: &[libc::pid_t], after: &str) {
    let end = Instant::now() + Duration::from_secs(10);
    for &pid in pids {
        while alive(pid) {
            assert!(Instant::now() < end, "{pid} still runs after {after}");
            thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Waits for probe to end; kills it and fails if it is still running after a while, so a
/// probe that missed its signal fails the test instead of hanging it.
fn wait_ended(probe: &mut Child, after: &str) -> ExitStatus {
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = probe.try_wait().unwrap() {
            return status;
        }
        if Instant::now() >= end {
            let _killed = probe.kill();
            panic!("probe still runs after {after}");
        }
        thread::sleep(Duration::from_millis(10));
    }
}

fn signal(probe: &Child, signal: libc::c_int) {
    let pid = libc::pid_t::try_from(probe.id()).unwrap();
    // SAFETY: `kill` touches no memory; `pid` is our child, not yet reaped.
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
}

#[test]
fn each_ending_signal_ends_qemu_and_what_it_started() {
    for (number, name) in [
        (libc::SIGTERM, "SIGTERM"),
        (libc::SIGINT, "SIGINT"),
        (libc::SIGHUP, "SIGHUP"),
        (libc::SIGQUIT, "SIGQUIT"),
    ] {
        let scratch = setup(name);
        let (mut probe, pids) = start(&scratch, "0");
        signal(&probe, number);
        let status = wait_ended(&mut probe, name);
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut probe.stderr.take().unwrap(), &mut stderr).unwrap();
        assert_eq!(status.code(), Some(128 + number), "{name}: {stderr}");
        assert!(
            stderr.contains(&format!(
                "probe: stopped by {name} after ending its child processes {}",
                pids[0]
            )),
            "{name}: {stderr}"
        );
        // probe reaps its QEMU before it exits.
        assert!(!alive(pids[0]), "{name}: QEMU {} outlived probe", pids[0]);
        assert_gone(&pids, name);
    }
}

#[test]
fn a_killed_or_aborted_probe_takes_qemu_along() {
    // SIGKILL cannot be caught, and SIGABRT is how a panic ends probe (`panic = "abort"`):
    // the kernel ends the stand-in when probe dies. Its own child is beyond that reach.
    for (number, name) in [(libc::SIGKILL, "SIGKILL"), (libc::SIGABRT, "SIGABRT")] {
        let scratch = setup(name);
        let (mut probe, [qemu, child]) = start(&scratch, "0");
        signal(&probe, number);
        let status = wait_ended(&mut probe, name);
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(number)
        );
        assert_gone(&[qemu], name);
        // SAFETY: `kill` touches no memory; the stand-in's child is left to us to end.
        unsafe { libc::kill(child, libc::SIGKILL) };
    }
}

#[test]
fn a_timeout_ends_qemu_and_what_it_started() {
    let scratch = setup("timeout");
    let (mut probe, pids) = start(&scratch, "1");
    let status = wait_ended(&mut probe, "its timeout");
    assert_eq!(status.code(), Some(124));
    assert_gone(&pids, "the timeout");
}

#[test]
fn a_timeout_past_any_clock_is_refused_before_qemu_starts() {
    let scratch = setup("huge");
    let output = probe_run(&scratch, "18446744073709551615")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(
        stderr.trim_end(),
        "probe: --timeout must be a whole number of seconds from 0 (no timeout) to 604800 (a \
         week), not '18446744073709551615'"
    );
    // The stand-in prints its id first thing: it never ran.
    assert!(output.stdout.is_empty());
}
