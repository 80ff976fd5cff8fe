//! Proves that `probe test` can fail: the guest `failing` example fails one check on
//! purpose, and probe must report it, exit non-zero and close with `0 passed, 1 failed`.
//!
//! This needs QEMU and the `apps` example `failing`, and builds `apps` for microvm.

use std::process::Command;

#[test]
fn a_failing_guest_fails_the_suite() {
    let output = Command::new(env!("CARGO_BIN_EXE_probe"))
        .args([
            "test",
            "--guest-only",
            "--board",
            "microvm",
            "--only",
            "failing-on-purpose",
        ])
        .output()
        .expect("probe runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let report = format!("stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        !output.status.success(),
        "probe test passed a failing guest\n{report}"
    );
    assert_eq!(
        stdout.lines().last(),
        Some("0 passed, 1 failed"),
        "{report}"
    );
    assert!(
        stdout.contains("test guest::microvm::failing-on-purpose ... FAILED"),
        "{report}"
    );
}
