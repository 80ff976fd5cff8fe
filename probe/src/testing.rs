//! `probe test`: the host tests, then every guest case on every board, one summary.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::board::Board;
use crate::cargo::{self, Artifact, Counts};
use crate::cli::TestOptions;
use crate::disk::{Disk, Scratch, write_image};
use crate::elf::with_board_note;
use crate::exit::{GuestExit, status_name};
use crate::fat::command::{NewOptions, new};
use crate::guest::{Settings, boot_file, host_unix_seconds, start_file};
use crate::net::{Backend, NetSpec};
use crate::netns;
use crate::qemu::{MachineVariant, Outcome, Running, Waited};
use crate::suite::{AfterRun, Case, CaseImage, cases};
use crate::tsc::host_tsc_khz;

/// The host tests: everything but the applications, which only build for bare metal (the
/// boards' boot code is left out on the host, their parsers are tested). Without
/// fail-fast, so one failing crate does not hide the results of the others.
const HOST_TEST: &[&str] = &[
    "test",
    "--no-fail-fast",
    "--target",
    "host-tuple",
    "--workspace",
    "--exclude",
    "apps",
];

/// How long a case with a host peer waits for the guest's ready line without a timeout.
const PEER_PATIENCE: Duration = Duration::from_secs(60);

/// Tallies of one `probe test`.
#[derive(Debug, Default)]
struct Tally {
    counts: Counts,
    /// Names of the guest cases (and steps) that failed, for the closing list.
    failures: Vec<String>,
    /// Guest cases this host cannot run, each with why.
    skipped: Vec<String>,
}

impl Tally {
    fn fail(&mut self, what: String) {
        self.counts.failed += 1;
        self.failures.push(what);
    }
}

/// Runs the suite and returns probe's exit code: 0 when everything passed, else 1.
pub(crate) fn run(options: &TestOptions) -> u8 {
    let mut tally = Tally::default();
    if options.host {
        host_tests(&mut tally);
    }
    if options.guests {
        guest_tests(options, &mut tally);
    }
    let Counts { passed, failed } = tally.counts;
    if !tally.skipped.is_empty() {
        println!("\nskipped:");
        for skipped in &tally.skipped {
            println!("    {skipped}");
        }
    }
    if !tally.failures.is_empty() {
        println!("\nfailures:");
        for failure in &tally.failures {
            println!("    {failure}");
        }
    }
    let verdict = if failed == 0 { "ok" } else { "FAILED" };
    println!("\ntest result: {verdict}. {passed} passed; {failed} failed");
    println!("{passed} passed, {failed} failed");
    u8::from(failed != 0)
}

fn host_tests(tally: &mut Tally) {
    println!("probe: host tests: {}", cargo::describe(HOST_TEST));
    let mut counts = Counts::default();
    let result = cargo::run_lines(HOST_TEST, |line| {
        if let Some(found) = cargo::test_counts(line) {
            counts.passed += found.passed;
            counts.failed += found.failed;
        }
    });
    tally.counts.passed += counts.passed;
    tally.counts.failed += counts.failed;
    let problem = match result {
        Ok(status) if status.success() => None,
        Ok(status) => Some(format!(
            "{} failed ({})",
            cargo::describe(HOST_TEST),
            cargo::exit_text(status)
        )),
        Err(message) => Some(message),
    };
    if counts.failed > 0 {
        tally.failures.push("host tests (see above)".to_owned());
    } else if let Some(problem) = problem {
        // Cargo failed without a failing test (a build error, a crashed harness): count it.
        eprintln!("probe: {problem}");
        tally.fail(format!("host tests: {problem}"));
    }
}

fn guest_tests(options: &TestOptions, tally: &mut Tally) {
    let accel = match options.guest.accel.resolve() {
        Ok(accel) => accel,
        Err(message) => {
            eprintln!("probe: {message}");
            tally.fail(format!("guest tests: {message}"));
            return;
        }
    };
    let settings = Settings {
        qemu: "qemu-system-x86_64".to_owned(),
        accel,
        smp: options.guest.smp,
        mem: "128M".to_owned(),
        tsc_khz: host_tsc_khz(),
        timeout: options.guest.timeout,
        variant: MachineVariant::default(),
    };
    println!(
        "probe: guests boot under accel {accel} with smp {}",
        settings.smp
    );
    let only = options.only.as_deref();
    let mut selected = 0;
    let mut all_built = true;
    for &board in &options.boards {
        let feature = board.feature();
        let build = [
            "build",
            "--package",
            "apps",
            "--features",
            &feature,
            "--bins",
            "--tests",
            "--examples",
        ];
        println!(
            "probe: building guest images for {board}: {}",
            cargo::describe(&build)
        );
        let artifacts = match cargo::build(&build) {
            Ok(artifacts) => artifacts,
            Err(message) => {
                eprintln!("probe: building guest images for {board} failed: {message}");
                tally.fail(format!("guest::{board}: build failed"));
                all_built = false;
                continue;
            }
        };
        for case in cases(&artifacts)
            .iter()
            .filter(|case| case.selected_on(board, only))
        {
            selected += 1;
            run_case(&settings, board, case, &artifacts, tally);
        }
    }
    // A filter that matches nothing is a typo, unless a failed build hid the cases.
    if let (Some(filter), 0, true) = (only, selected, all_built) {
        let message = format!("no guest case name contains '{filter}'");
        eprintln!("probe: {message}");
        tally.fail(message);
    }
}

fn run_case(
    settings: &Settings,
    board: Board,
    case: &Case,
    artifacts: &[Artifact],
    tally: &mut Tally,
) {
    let full_name = format!("guest::{board}::{}", case.name);
    print!("test {full_name} ... ");
    // Show which case is running while it boots; a failed flush only delays the line.
    let _ignored = std::io::stdout().flush();
    let built = artifacts
        .iter()
        .find(|artifact| artifact.kind == case.kind && artifact.name == case.target);
    if let Some(why) = case
        .net
        .as_ref()
        .filter(|net| net.private)
        .and_then(|_| netns::why_not())
    {
        println!("skipped: {why}");
        tally.skipped.push(format!("{full_name}: {why}"));
        return;
    }
    let missing = case.missing();
    let (problems, console) = match built {
        _ if !missing.is_empty() => (missing, Vec::new()),
        None => (
            vec![format!(
                "{} '{}' was not built for {board} (does apps have it?)",
                case.kind.name(),
                case.target
            )],
            Vec::new(),
        ),
        Some(artifact) => boot_case(settings, board, case, &artifact.executable)
            .unwrap_or_else(|message| (vec![message], Vec::new())),
    };
    if problems.is_empty() {
        println!("ok");
        tally.counts.passed += 1;
        return;
    }
    println!("FAILED");
    for problem in &problems {
        println!("    {problem}");
    }
    if !console.is_empty() {
        println!("    console output:");
        for line in String::from_utf8_lossy(&console).lines() {
            println!("        {line}");
        }
    }
    tally.fail(full_name);
}

/// Boots `case` from the image at `executable`, with its disks, and returns what went
/// wrong and the console output.
fn boot_case(
    settings: &Settings,
    board: Board,
    case: &Case,
    executable: &Path,
) -> Result<(Vec<String>, Vec<u8>), String> {
    let image = match case.board_note {
        None => Image::Built(executable),
        Some(note) => relabelled(executable, note, board, &case.name)?,
    };
    let smp = case.smp.unwrap_or(settings.smp);
    let mut variant = case.variant.clone();
    // The images live until the check below; the directory goes when the function returns.
    let scratch = if case.disks.is_empty() {
        None
    } else {
        Some(Scratch::new(&format!("{board}-{}", case.name))?)
    };
    let mut disk_files = Vec::new();
    if let Some(dir) = &scratch {
        for (index, disk) in case.disks.iter().enumerate() {
            let file = dir.path().join(format!("disk{index}.img"));
            make_image(dir.path(), index, &disk.image, &file)?;
            let faults = match disk.failing {
                Some(content) => Some(blkdebug_rules(dir.path(), index, &file, content)?),
                None => None,
            };
            variant.disks.push(Disk {
                file: file.clone(),
                bus: disk.bus,
                faults,
            });
            disk_files.push(file);
        }
    }
    let mut peer_problem = None;
    if let Some(net) = &case.net {
        let spec = NetSpec {
            backend: if net.private {
                Backend::Tap(None)
            } else {
                Backend::User
            },
            nic: net.nic,
            forwards: net.forwards.clone(),
        };
        variant.net = Some(Arc::new(spec.resolve()?));
    }
    let timeout = match (settings.timeout, case.min_timeout) {
        (Some(timeout), Some(least)) => Some(timeout.max(least)),
        (timeout, _) => timeout,
    };
    let settings = Settings {
        smp,
        mem: case.mem.clone().unwrap_or_else(|| settings.mem.clone()),
        timeout,
        variant,
        ..settings.clone()
    };
    let started = SystemTime::now();
    let host_start = host_unix_seconds();
    if case.halts && case.net.is_none() {
        return watch_halt(&settings, case, image.path());
    }
    let mut found = Vec::new();
    let outcome = match (&case.net, &settings.variant.net) {
        (Some(net), Some(network)) => {
            let mut running = start_file(&settings, image.path(), &case.args, false)
                .map_err(|err| err.message())?;
            let limit = settings.timeout.unwrap_or(PEER_PATIENCE);
            peer_problem = match running.wait_for(net.ready, limit) {
                Waited::Found => network
                    .run_peer(|| (net.host.run)(network))
                    .and_then(|result| result)
                    .err()
                    .map(|e| format!("host peer {}: {e}", net.host.name)),
                Waited::Closed | Waited::TimedOut => Some(format!(
                    "the guest never printed {:?}, so the host peer did not run",
                    net.ready
                )),
            };
            if case.halts {
                // A server: it must still run, with every expected line printed, when the
                // peer is done; after a failed peer, waiting for them would only take time.
                if peer_problem.is_none() {
                    found.extend(await_halt(&mut running, case, limit));
                }
                running.stop()
            } else {
                running.finish()
            }
        }
        _ => boot_file(&settings, image.path(), &case.args, false),
    }
    .map_err(|err| err.message())?;
    let ended = SystemTime::now();
    found.extend(problems(case, &outcome));
    found.extend(peer_problem);
    if case.wall_clock {
        found.extend(wall_clock_problem(
            &outcome.console,
            host_start,
            host_unix_seconds(),
        ));
    }
    if let Some(after) = case.after {
        found.extend(after(&AfterRun {
            case,
            smp,
            images: &disk_files,
            console: &outcome.console,
            started,
            ended,
        }));
    }
    Ok((found, outcome.console))
}

/// How long a guest that halts must stay up after its last expected line: a reset would
/// end QEMU (`-no-reboot`) well within it.
const HALT_WATCH: Duration = Duration::from_millis(300);

/// Boots a case whose guest halts for good: waits until the console holds each expected
/// string (within the launch's timeout), checks that QEMU still runs a little later, then
/// stops it.
fn watch_halt(
    settings: &Settings,
    case: &Case,
    path: &Path,
) -> Result<(Vec<String>, Vec<u8>), String> {
    let mut guest = start_file(settings, path, &case.args, false).map_err(|err| err.message())?;
    let found = await_halt(&mut guest, case, settings.timeout.unwrap_or(Duration::MAX));
    let outcome = guest.stop().map_err(|err| err.message())?;
    Ok((found, outcome.console))
}

/// Waits until the console holds each of `case`'s expected strings (`limit` each), then
/// checks that QEMU still runs a little later: the problems found.
fn await_halt(guest: &mut Running, case: &Case, limit: Duration) -> Vec<String> {
    let mut found = Vec::new();
    for expected in &case.expect {
        match guest.wait_for(expected, limit) {
            Waited::Found => {}
            Waited::Closed => {
                found.push(format!("QEMU exited before the console held {expected:?}"))
            }
            Waited::TimedOut => found.push(format!("the console lacks {expected:?}")),
        }
    }
    if found.is_empty() {
        std::thread::sleep(HALT_WATCH);
        if !guest.is_running() {
            found.push("the guest did not stay halted (QEMU exited)".to_owned());
        }
    }
    found
}

/// Writes QEMU blkdebug rules beside `image` that make reads of its sector starting with
/// `content` fail with EIO, and returns their file.
fn blkdebug_rules(
    dir: &Path,
    index: usize,
    image: &Path,
    content: &[u8],
) -> Result<PathBuf, String> {
    let bytes =
        std::fs::read(image).map_err(|err| format!("cannot read {}: {err}", image.display()))?;
    let sector = bytes
        .chunks(SECTOR)
        .position(|sector| sector.starts_with(content))
        .ok_or_else(|| {
            format!(
                "{}: no sector starts with the failing file",
                image.display()
            )
        })?;
    let rules = dir.join(format!("disk{index}-blkdebug.conf"));
    // `read_aio` is the event of every read the raw format passes down.
    let text =
        format!("[inject-error]\nevent = \"read_aio\"\nerrno = \"5\"\nsector = \"{sector}\"\n");
    std::fs::write(&rules, text)
        .map_err(|err| format!("cannot write {}: {err}", rules.display()))?;
    Ok(rules)
}

/// The sector size of case images.
const SECTOR: usize = 512;

/// Makes the image of disk `index` at `file`; a FAT image's folder is filled in `dir`.
fn make_image(dir: &Path, index: usize, image: &CaseImage, file: &Path) -> Result<(), String> {
    match image {
        CaseImage::Pattern(spec) => write_image(file, spec),
        CaseImage::Fat { format, fill } => {
            let share = match fill {
                Some(fill) => {
                    let folder = dir.join(format!("disk{index}-folder"));
                    std::fs::create_dir(&folder)
                        .map_err(|err| format!("cannot create {}: {err}", folder.display()))?;
                    fill(&folder)?;
                    Some(folder)
                }
                None => None,
            };
            new(&NewOptions {
                format: *format,
                share,
                force: false,
                file: file.to_owned(),
            })
            .map(drop)
        }
    }
}

/// The image a case boots: the one cargo built, or a relabelled copy removed on drop.
enum Image<'a> {
    Built(&'a Path),
    Copy(PathBuf),
}

impl Image<'_> {
    fn path(&self) -> &Path {
        match self {
            Image::Built(path) => path,
            Image::Copy(path) => path,
        }
    }
}

impl Drop for Image<'_> {
    fn drop(&mut self) {
        if let Image::Copy(path) = self {
            // A copy left behind in the temporary directory harms nothing.
            let _ignored = std::fs::remove_file(path);
        }
    }
}

/// A temporary copy of the image at `path` whose board note names `note`.
fn relabelled<'a>(path: &Path, note: Board, board: Board, case: &str) -> Result<Image<'a>, String> {
    let image =
        std::fs::read(path).map_err(|err| format!("cannot read {}: {err}", path.display()))?;
    let copy = with_board_note(&image, note).map_err(|err| format!("{}: {err}", path.display()))?;
    let target = std::env::temp_dir().join(format!(
        "novillo-probe-{}-{board}-{case}",
        std::process::id()
    ));
    std::fs::write(&target, copy)
        .map_err(|err| format!("cannot write {}: {err}", target.display()))?;
    Ok(Image::Copy(target))
}

/// What went wrong with a finished run, if anything.
fn problems(case: &Case, outcome: &Outcome) -> Vec<String> {
    let mut problems = Vec::new();
    match outcome.exit {
        // Stopped by probe: its status says nothing.
        _ if case.halts => {}
        GuestExit::Status(status) if status == case.status => {}
        GuestExit::TimedOut(_) => problems.push(outcome.exit.to_string()),
        other => {
            let expected = match status_name(case.status) {
                Some(name) => format!("status {} ({name})", case.status),
                None => format!("status {}", case.status),
            };
            problems.push(format!("expected {expected}, got {other}"));
        }
    }
    let console = String::from_utf8_lossy(&outcome.console);
    for expected in &case.expect {
        if !console.contains(expected) {
            problems.push(format!("the console output lacks {expected:?}"));
        }
    }
    problems
}

/// How far the guest's wall clock may be from the host's: it counts whole seconds from
/// `time=` or the RTC, and a loaded host may take a second or two to start QEMU.
pub(crate) const WALL_CLOCK_SLACK: u64 = 5;

/// What is wrong with the `unix time: N` line in `console`, when the boot ran from
/// `host_start` to `host_end` (host Unix seconds): missing, or not within
/// [`WALL_CLOCK_SLACK`] of that span.
fn wall_clock_problem(console: &[u8], host_start: u64, host_end: u64) -> Option<String> {
    let console = String::from_utf8_lossy(console);
    let guest = console
        .lines()
        .find_map(|line| line.strip_prefix("unix time: "))
        .and_then(|n| n.trim().parse::<u64>().ok());
    let Some(guest) = guest else {
        return Some("the console output has no `unix time: N` line".to_owned());
    };
    let earliest = host_start.saturating_sub(WALL_CLOCK_SLACK);
    let latest = host_end.saturating_add(WALL_CLOCK_SLACK);
    (!(earliest..=latest).contains(&guest)).then(|| {
        format!(
            "the guest's wall clock read {guest}, the host's {host_start} to {host_end} \
             (allowed {WALL_CLOCK_SLACK} s either side)"
        )
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{blkdebug_rules, problems, wall_clock_problem};
    use crate::cargo::TargetKind;
    use crate::disk::Scratch;
    use crate::exit::GuestExit;
    use crate::qemu::{MachineVariant, Outcome};
    use crate::suite::Case;

    fn case() -> Case {
        Case {
            name: "hello".to_owned(),
            kind: TargetKind::Bin,
            target: "hello".to_owned(),
            args: Vec::new(),
            status: 0,
            expect: vec!["Hello"],
            default: true,
            smp: None,
            mem: None,
            variant: MachineVariant::default(),
            board: None,
            board_note: None,
            disks: Vec::new(),
            after: None,
            wall_clock: false,
            halts: false,
            net: None,
            min_timeout: None,
        }
    }

    #[test]
    fn the_guest_clock_must_read_the_hosts() {
        let console = b"hi\nunix time: 1000\nutc: 1970-01-01T00:16:40Z\n";
        assert_eq!(wall_clock_problem(console, 1000, 1001), None);
        assert_eq!(wall_clock_problem(console, 1004, 1006), None);
        assert_eq!(wall_clock_problem(console, 990, 995), None);
        assert_eq!(
            wall_clock_problem(console, 1006, 1007).as_deref(),
            Some(
                "the guest's wall clock read 1000, the host's 1006 to 1007 (allowed 5 s either side)"
            )
        );
        assert!(wall_clock_problem(console, 900, 994).is_some());
        assert_eq!(
            wall_clock_problem(b"unix time: soon\n", 0, 1).as_deref(),
            Some("the console output has no `unix time: N` line")
        );
    }

    fn outcome(exit: GuestExit, console: &str) -> Outcome {
        Outcome {
            exit,
            console: console.as_bytes().to_vec(),
            first_byte: None,
            elapsed: Duration::ZERO,
        }
    }

    #[test]
    fn a_passing_run_has_no_problems() {
        assert!(problems(&case(), &outcome(GuestExit::Status(0), "Hello!\n")).is_empty());
    }

    #[test]
    fn names_each_failed_expectation() {
        let found = problems(&case(), &outcome(GuestExit::Status(101), "boom\n"));
        assert_eq!(
            found,
            [
                "expected status 0 (success), got status 101 (panic)",
                "the console output lacks \"Hello\""
            ]
        );
        let found = problems(
            &case(),
            &outcome(GuestExit::TimedOut(Duration::from_secs(9)), "Hello"),
        );
        assert_eq!(found, ["guest timed out after 9 s"]);
    }

    #[test]
    fn blkdebug_fails_the_sector_that_starts_with_the_content() {
        let scratch = Scratch::new("testing-unit-blkdebug").unwrap();
        let image = scratch.path().join("disk0.img");
        let mut bytes = vec![0u8; 8 * 512];
        // The content in the middle of a sector does not count; at a sector's start it does.
        bytes[100..104].copy_from_slice(b"FAIL");
        bytes[5 * 512..5 * 512 + 4].copy_from_slice(b"FAIL");
        std::fs::write(&image, &bytes).unwrap();
        let rules = blkdebug_rules(scratch.path(), 0, &image, b"FAIL").unwrap();
        assert_eq!(
            std::fs::read_to_string(rules).unwrap(),
            "[inject-error]\nevent = \"read_aio\"\nerrno = \"5\"\nsector = \"5\"\n"
        );
        let missing = blkdebug_rules(scratch.path(), 0, &image, b"NONE").unwrap_err();
        assert!(
            missing.ends_with("no sector starts with the failing file"),
            "{missing}"
        );
    }
}
