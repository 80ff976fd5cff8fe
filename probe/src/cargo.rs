//! Runs cargo as a child of probe and reads what it reports.
//!
//! probe itself is started by `cargo run`, which has released the build-directory lock by
//! the time probe runs, so the nested cargo shares the workspace's `target/` without waiting.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

use crate::children;

/// The workspace root: the parent of probe's own manifest directory.
pub(crate) fn workspace_root() -> &'static Path {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest)
}

/// The bare-metal target every guest image is built for.
pub(crate) const BARE_METAL: &str = "x86_64-unknown-none";

/// Checks that the toolchain the workspace pins has the bare-metal target's `core`: rustup
/// adds the targets `rust-toolchain.toml` names only when it installs the toolchain, so a
/// toolchain installed before has none, and every build for it fails with E0463. `Err` is
/// the one line that says what to run.
pub(crate) fn check_bare_metal_target() -> Result<(), String> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let output = children::output(
        Command::new(rustc)
            .args(["--print", "target-libdir", "--target", BARE_METAL])
            .current_dir(workspace_root()),
    )
    .map_err(|err| format!("cannot run rustc to find the {BARE_METAL} target: {err}"))?;
    let libdir = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    if output.status.success() && has_core(Path::new(&libdir)) {
        Ok(())
    } else {
        Err(missing_target_message())
    }
}

/// True when `libdir` holds a compiled `core`.
fn has_core(libdir: &Path) -> bool {
    std::fs::read_dir(libdir).is_ok_and(|entries| {
        entries.flatten().any(|entry| {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            name.starts_with("libcore-") && name.ends_with(".rlib")
        })
    })
}

fn missing_target_message() -> String {
    format!(
        "the Rust target {BARE_METAL} is not installed for the pinned toolchain (rustup adds \
         it only when it installs the toolchain): run `rustup target add {BARE_METAL}`"
    )
}

/// A cargo command in the workspace root; `CARGO` (set by cargo for its children) wins, so
/// the nested cargo is the same toolchain as the one that started probe.
pub(crate) fn cargo(args: &[&str]) -> Command {
    let program = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(program);
    command.args(args).current_dir(workspace_root());
    command
}

/// How a cargo invocation is named in messages: `cargo build --package apps ...`.
pub(crate) fn describe(args: &[&str]) -> String {
    format!("cargo {}", args.join(" "))
}

/// Describes a non-zero exit for messages.
pub(crate) fn exit_text(status: ExitStatus) -> String {
    match status.code() {
        Some(code) => format!("exit code {code}"),
        None => "killed by a signal".to_owned(),
    }
}

/// A cargo command that failed: which, how, and where cargo said why.
fn failed(args: &[&str], status: ExitStatus) -> String {
    format!(
        "{} failed ({}): fix what cargo printed above, then run probe again",
        describe(args),
        exit_text(status)
    )
}

/// Runs cargo with inherited output; `Err` says which command failed and how.
pub(crate) fn run(args: &[&str]) -> Result<(), String> {
    let status = children::spawn(cargo(args).stdin(Stdio::null()))
        .and_then(|mut child| child.wait())
        .map_err(|err| format!("cannot run cargo: {err}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(failed(args, status))
    }
}

/// Runs cargo, passing its stdout through line by line and handing each line to `seen`.
pub(crate) fn run_lines(args: &[&str], mut seen: impl FnMut(&str)) -> Result<ExitStatus, String> {
    let mut child = children::spawn(cargo(args).stdin(Stdio::null()).stdout(Stdio::piped()))
        .map_err(|err| format!("cannot run cargo: {err}"))?;
    if let Some(stdout) = child.take_stdout() {
        for_each_line(stdout, |line| {
            let mut out = std::io::stdout().lock();
            // A closed stdout of ours must not stop the run; the counts still matter.
            let _ignored = out.write_all(line).and_then(|()| out.flush());
            seen(&String::from_utf8_lossy(line));
        });
    }
    child
        .wait()
        .map_err(|err| format!("cannot wait for cargo: {err}"))
}

/// Calls `f` with each line (newline included) until the end of the stream; lines need
/// not be UTF-8.
fn for_each_line(stream: impl Read, mut f: impl FnMut(&[u8])) {
    let mut reader = BufReader::new(stream);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => f(&line),
        }
    }
}

/// Pass and fail counts from the test harness.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub(crate) passed: u64,
    pub(crate) failed: u64,
}

/// Reads libtest's summary line: `test result: ok. 3 passed; 1 failed; 0 ignored; ...`.
///
/// The line must start with `test result:` and carry the ignored and measured counts too,
/// so that a summary quoted inside a test's output (such as probe's own, shorter one) is
/// not counted twice.
pub(crate) fn test_counts(line: &str) -> Option<Counts> {
    let rest = line.strip_prefix("test result: ")?;
    let (mut passed, mut failed, mut ignored, mut measured) = (None, None, None, None);
    for part in rest.split(';') {
        let mut words = part.split_whitespace().rev();
        let (Some(label), Some(number)) = (words.next(), words.next()) else {
            continue;
        };
        let slot = match label {
            "passed" => &mut passed,
            "failed" => &mut failed,
            "ignored" => &mut ignored,
            "measured" => &mut measured,
            _ => continue,
        };
        *slot = number.parse::<u64>().ok();
    }
    ignored?;
    measured?;
    Some(Counts {
        passed: passed?,
        failed: failed?,
    })
}

/// The kinds of cargo target probe runs in a guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TargetKind {
    Bin,
    /// An integration test (`apps/tests/*.rs`).
    Test,
    Example,
}

impl TargetKind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            TargetKind::Bin => "bin",
            TargetKind::Test => "test",
            TargetKind::Example => "example",
        }
    }
}

/// An executable cargo built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Artifact {
    pub(crate) kind: TargetKind,
    pub(crate) name: String,
    pub(crate) executable: PathBuf,
}

/// Reads one line of `--message-format=json`: an executable artifact, or `None`.
///
/// A bin or example compiled as its own unit-test harness (`profile.test`) is skipped: only
/// integration tests are run as test suites.
pub(crate) fn parse_artifact(line: &str) -> Option<Artifact> {
    let message: serde_json::Value = serde_json::from_str(line).ok()?;
    if message.get("reason")?.as_str()? != "compiler-artifact" {
        return None;
    }
    let executable = PathBuf::from(message.get("executable")?.as_str()?);
    let target = message.get("target")?;
    let name = target.get("name")?.as_str()?.to_owned();
    let kinds = target.get("kind")?.as_array()?;
    let unit_test = message
        .get("profile")
        .and_then(|profile| profile.get("test"))
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false);
    let kind = kinds.iter().find_map(|kind| match kind.as_str()? {
        "bin" if !unit_test => Some(TargetKind::Bin),
        "example" if !unit_test => Some(TargetKind::Example),
        "test" => Some(TargetKind::Test),
        _ => None,
    })?;
    Some(Artifact {
        kind,
        name,
        executable,
    })
}

/// Runs a cargo build with `--message-format=json-render-diagnostics` and returns the
/// executables it reports; diagnostics go to stderr as usual.
pub(crate) fn build(args: &[&str]) -> Result<Vec<Artifact>, String> {
    let mut all = args.to_vec();
    all.push("--message-format=json-render-diagnostics");
    let mut child = children::spawn(cargo(&all).stdin(Stdio::null()).stdout(Stdio::piped()))
        .map_err(|err| format!("cannot run cargo: {err}"))?;
    let mut artifacts = Vec::new();
    if let Some(stdout) = child.take_stdout() {
        for_each_line(stdout, |line| {
            artifacts.extend(parse_artifact(&String::from_utf8_lossy(line)));
        });
    }
    let status = child
        .wait()
        .map_err(|err| format!("cannot wait for cargo: {err}"))?;
    if status.success() {
        Ok(artifacts)
    } else {
        Err(failed(args, status))
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::{
        Artifact, Counts, TargetKind, check_bare_metal_target, failed, has_core,
        missing_target_message, parse_artifact, test_counts,
    };

    #[test]
    fn a_libdir_without_core_is_a_missing_target() {
        let dir = std::env::temp_dir().join(format!("probe-libdir-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert!(!has_core(&dir));
        assert!(!has_core(&dir.join("absent")));
        std::fs::write(dir.join("libcore-0123abcd.rlib"), b"").unwrap();
        assert!(has_core(&dir));
        std::fs::remove_dir_all(&dir).unwrap();
        let message = missing_target_message();
        assert!(message.ends_with("run `rustup target add x86_64-unknown-none`"));
        assert!(!message.contains('\n'));
    }

    #[test]
    fn a_failed_build_says_where_to_look() {
        let status = std::process::Command::new("sh")
            .args(["-c", "exit 101"])
            .status()
            .unwrap();
        assert_eq!(
            failed(&["build", "-p", "apps"], status),
            "cargo build -p apps failed (exit code 101): fix what cargo printed above, then run \
             probe again"
        );
    }

    #[test]
    fn this_toolchain_has_the_target() {
        assert_eq!(check_bare_metal_target(), Ok(()));
    }

    #[test]
    fn reads_test_result_lines() {
        let line = "test result: ok. 12 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; \
                    finished in 0.01s\n";
        assert_eq!(
            test_counts(line),
            Some(Counts {
                passed: 12,
                failed: 0
            })
        );
        let line = "test result: FAILED. 3 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out";
        assert_eq!(
            test_counts(line),
            Some(Counts {
                passed: 3,
                failed: 2
            })
        );
        assert_eq!(test_counts("test foo ... ok"), None);
        // probe's own summary, quoted in a failing test's output, is not libtest's.
        assert_eq!(test_counts("test result: FAILED. 0 passed; 1 failed"), None);
        assert_eq!(
            test_counts("  test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured"),
            None
        );
        assert_eq!(test_counts("test result: garbled"), None);
        assert_eq!(
            test_counts("test result: ok. many passed; 0 failed; 0 ignored; 0 measured"),
            None
        );
    }

    fn artifact_line(kind: &str, name: &str, test: bool, executable: &str) -> String {
        format!(
            r#"{{"reason":"compiler-artifact","package_id":"path+file:///w/apps#0.1.0","manifest_path":"/w/apps/Cargo.toml","target":{{"kind":["{kind}"],"crate_types":["bin"],"name":"{name}","src_path":"/w/apps/src/bin/{name}.rs","edition":"2024","doc":true,"doctest":false,"test":true}},"profile":{{"opt_level":"0","debuginfo":2,"debug_assertions":true,"overflow_checks":true,"test":{test}}},"features":["bsp-microvm"],"filenames":["{executable}"],"executable":{executable_json},"fresh":true}}"#,
            executable_json = if executable.is_empty() {
                "null".to_owned()
            } else {
                format!("\"{executable}\"")
            }
        )
    }

    #[test]
    fn reads_executable_artifacts() {
        let line = artifact_line(
            "bin",
            "hello",
            false,
            "/w/target/x86_64-unknown-none/debug/hello",
        );
        assert_eq!(
            parse_artifact(&line),
            Some(Artifact {
                kind: TargetKind::Bin,
                name: "hello".to_owned(),
                executable: PathBuf::from("/w/target/x86_64-unknown-none/debug/hello"),
            })
        );
        let line = artifact_line("test", "smoke", true, "/w/t/deps/smoke-1234");
        assert_eq!(
            parse_artifact(&line).map(|a| a.kind),
            Some(TargetKind::Test)
        );
        let line = artifact_line("example", "fault", false, "/w/t/examples/fault");
        assert_eq!(
            parse_artifact(&line).map(|a| a.kind),
            Some(TargetKind::Example)
        );
    }

    #[test]
    fn skips_everything_else() {
        // A bin's own unit-test harness, a library, other messages, garbage.
        assert_eq!(
            parse_artifact(&artifact_line("bin", "hello", true, "/w/t/deps/h-1")),
            None
        );
        assert_eq!(
            parse_artifact(&artifact_line("lib", "apps", false, "")),
            None
        );
        assert_eq!(
            parse_artifact(&artifact_line("bin", "hello", false, "")),
            None
        );
        assert_eq!(
            parse_artifact(r#"{"reason":"build-finished","success":true}"#),
            None
        );
        assert_eq!(parse_artifact("Compiling apps"), None);
        assert_eq!(parse_artifact(""), None);
    }
}
