//! Parses probe's command line (and `NOVILLO_PROBE`) into a `Command`.
//!
//! Hand-written rather than generated: the grammar is small, `run` must stop at the ELF path
//! so that everything after it reaches the guest untouched, and every mistake gets one line
//! that names the option and the subcommand.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::accel::AccelChoice;
use crate::board::Board;
use crate::disk::Disk;

/// The environment variable whose words are parsed as `run` options before the real ones.
pub(crate) const ENV_OPTIONS: &str = "NOVILLO_PROBE";

/// What the user asked for.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Command {
    /// Help, on one subcommand or (`None`) on probe as a whole.
    Help(Option<Subcommand>),
    Run(RunOptions),
    Test(TestOptions),
    Size,
    Lint,
    Bench(Bench),
}

/// The subcommands, for help topics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Subcommand {
    Run,
    Test,
    Size,
    Lint,
    Bench,
}

impl Subcommand {
    fn from_name(name: &str) -> Option<Subcommand> {
        match name {
            "run" => Some(Subcommand::Run),
            "test" => Some(Subcommand::Test),
            "size" => Some(Subcommand::Size),
            "lint" => Some(Subcommand::Lint),
            "bench" => Some(Subcommand::Bench),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Subcommand::Run => "run",
            Subcommand::Test => "test",
            Subcommand::Size => "size",
            Subcommand::Lint => "lint",
            Subcommand::Bench => "bench",
        }
    }
}

/// Options shared by `run` and `test` that shape how a guest is booted.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct GuestOptions {
    pub(crate) accel: AccelChoice,
    pub(crate) smp: u32,
    /// `None`: no timeout.
    pub(crate) timeout: Option<Duration>,
}

impl Default for GuestOptions {
    fn default() -> Self {
        GuestOptions {
            accel: AccelChoice::Auto,
            smp: 1,
            timeout: Some(Duration::from_secs(60)),
        }
    }
}

/// `probe run`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct RunOptions {
    pub(crate) guest: GuestOptions,
    pub(crate) mem: String,
    pub(crate) timing: bool,
    pub(crate) tsc_hint: bool,
    pub(crate) qemu: String,
    /// `--disk`, in the order given (`NOVILLO_PROBE`'s first).
    pub(crate) disks: Vec<Disk>,
    pub(crate) elf: PathBuf,
    pub(crate) guest_args: Vec<String>,
}

/// `probe test`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct TestOptions {
    pub(crate) guest: GuestOptions,
    pub(crate) boards: Vec<Board>,
    pub(crate) host: bool,
    pub(crate) guests: bool,
    pub(crate) only: Option<String>,
}

/// `probe bench`: which benchmark, with its options.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Bench {
    Threads(ThreadsOptions),
    Idle(IdleOptions),
    Disk(DiskOptions),
    Http(HttpOptions),
}

/// `probe bench threads`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ThreadsOptions {
    /// `smp` defaults to 2 (the cross-core cases need a second core), the timeout to 300 s.
    pub(crate) guest: GuestOptions,
    pub(crate) board: Board,
    /// `--baseline linux`: also run the Linux guest's thread benchmark.
    pub(crate) linux: bool,
    /// `--linux-kernel`: the baseline's kernel instead of the newest in `/boot`.
    pub(crate) linux_kernel: Option<PathBuf>,
}

/// `probe bench idle`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct IdleOptions {
    pub(crate) accel: AccelChoice,
    pub(crate) boards: Vec<Board>,
    /// The length of the measured window.
    pub(crate) seconds: u64,
    /// The CPU counts to boot each board with, in order.
    pub(crate) smp_list: Vec<u32>,
    /// `--baseline linux`: also measure an idle Linux guest.
    pub(crate) linux: bool,
    /// `--linux-kernel`: the baseline's kernel instead of the newest in `/boot`.
    pub(crate) linux_kernel: Option<PathBuf>,
    /// `--slow-disk`: also measure each guest with a thread blocked on a disk read.
    pub(crate) slow_disk: bool,
}

/// `probe bench disk`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct DiskOptions {
    pub(crate) accel: AccelChoice,
    pub(crate) boards: Vec<Board>,
    /// The CPU counts to boot each board with, in order.
    pub(crate) smp_list: Vec<u32>,
}

/// `probe bench http`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct HttpOptions {
    pub(crate) accel: AccelChoice,
    pub(crate) boards: Vec<Board>,
    /// The CPU counts to boot each board with, in order.
    pub(crate) smp_list: Vec<u32>,
    /// How long each load runs.
    pub(crate) seconds: u64,
    /// `--baseline linux`: also measure busybox httpd and nginx in a Linux guest.
    pub(crate) linux: bool,
    /// `--linux-kernel`: the baseline's kernel instead of the newest in `/boot`.
    pub(crate) linux_kernel: Option<PathBuf>,
}

/// A command-line mistake; the message is one line, without the `probe: ` prefix.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct UsageError(pub(crate) String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Parses the arguments after the program name; `env` is the value of `NOVILLO_PROBE`.
pub(crate) fn parse(args: &[String], env: Option<&str>) -> Result<Command, UsageError> {
    let Some((first, rest)) = args.split_first() else {
        return Err(UsageError(
            "no subcommand given (see probe --help)".to_owned(),
        ));
    };
    match first.as_str() {
        "--help" | "-h" | "help" => match rest.first() {
            None => Ok(Command::Help(None)),
            Some(topic) => Subcommand::from_name(topic)
                .map(|sub| Command::Help(Some(sub)))
                .ok_or_else(|| UsageError(format!("no help on '{topic}' (see probe --help)"))),
        },
        "run" => parse_run(rest, env),
        "test" => parse_test(rest),
        "size" => parse_bare(Subcommand::Size, rest, Command::Size),
        "lint" => parse_bare(Subcommand::Lint, rest, Command::Lint),
        "bench" => parse_bench(rest),
        other if other.starts_with('-') => Err(UsageError(format!(
            "unknown option {other} (a subcommand comes first; see probe --help)"
        ))),
        other => Err(UsageError(format!(
            "unknown subcommand '{other}' (see probe --help)"
        ))),
    }
}

fn is_help(word: &str) -> bool {
    word == "--help" || word == "-h"
}

/// Where option words come from, for error messages.
#[derive(Clone, Copy)]
enum Origin {
    CommandLine,
    Environment,
}

/// Walks the option words of one subcommand.
struct Options<'a> {
    sub: Subcommand,
    origin: Origin,
    words: std::slice::Iter<'a, String>,
}

impl<'a> Options<'a> {
    fn new(sub: Subcommand, origin: Origin, words: &'a [String]) -> Self {
        Options {
            sub,
            origin,
            words: words.iter(),
        }
    }

    fn see_help(&self) -> String {
        format!("(see probe {} --help)", self.sub.name())
    }

    fn unknown(&self, flag: &str) -> UsageError {
        let place = match self.origin {
            Origin::CommandLine => "",
            Origin::Environment => " in NOVILLO_PROBE",
        };
        UsageError(format!(
            "unknown option {flag}{place} for '{}' {}",
            self.sub.name(),
            self.see_help()
        ))
    }

    /// The value of `flag`: the part after `=`, or else the next word.
    fn value(&mut self, flag: &str, inline: Option<&str>) -> Result<String, UsageError> {
        if let Some(value) = inline {
            return Ok(value.to_owned());
        }
        self.words.next().cloned().ok_or_else(|| {
            UsageError(format!(
                "option {flag} for '{}' needs a value {}",
                self.sub.name(),
                self.see_help()
            ))
        })
    }

    /// Checks that a switch was not given a value with `=`.
    fn switch(&self, flag: &str, inline: Option<&str>) -> Result<bool, UsageError> {
        match inline {
            None => Ok(true),
            Some(_) => Err(UsageError(format!(
                "option {flag} for '{}' takes no value {}",
                self.sub.name(),
                self.see_help()
            ))),
        }
    }

    /// Applies one of the options shared by `run` and `test`; false if `flag` is not one.
    fn guest_option(
        &mut self,
        guest: &mut GuestOptions,
        flag: &str,
        inline: Option<&str>,
    ) -> Result<bool, UsageError> {
        match flag {
            "--accel" => guest.accel = parse_accel(&self.value(flag, inline)?)?,
            "--smp" => {
                let value = self.value(flag, inline)?;
                guest.smp = parse_smp(&value).ok_or_else(|| {
                    UsageError(format!(
                        "--smp must be a whole number from 1 to {MAX_SMP} (the most cores the \
                         guest runs on), not '{value}'"
                    ))
                })?;
            }
            "--timeout" => {
                let value = self.value(flag, inline)?;
                let secs = value
                    .parse()
                    .ok()
                    .filter(|secs| *secs <= MAX_TIMEOUT_SECS)
                    .ok_or_else(|| {
                        UsageError(format!(
                            "--timeout must be a whole number of seconds from 0 (no timeout) to \
                             {MAX_TIMEOUT_SECS} (a week), not '{value}'"
                        ))
                    })?;
                guest.timeout = (secs > 0).then(|| Duration::from_secs(secs));
            }
            _ => return Ok(false),
        }
        Ok(true)
    }
}

fn parse_accel(value: &str) -> Result<AccelChoice, UsageError> {
    AccelChoice::parse(value)
        .ok_or_else(|| UsageError(format!("--accel must be tcg, kvm or auto, not '{value}'")))
}

/// The most cores the guest runs on: `MAX_CORES` in drivers' `x86_64::mptable`. With
/// more, the guest would run on this many and leave the others idle.
pub(crate) const MAX_SMP: u32 = 64;

/// The longest `--timeout`: a week. Longer is no timeout in practice, and `0` says so.
const MAX_TIMEOUT_SECS: u64 = 7 * 24 * 3600;

/// A CPU count the guest runs on in full: 1 to [`MAX_SMP`].
fn parse_smp(value: &str) -> Option<u32> {
    value.parse().ok().filter(|smp| (1..=MAX_SMP).contains(smp))
}

/// Splits `--flag=value` into the flag and its inline value.
fn split_flag(word: &str) -> (&str, Option<&str>) {
    match word.split_once('=') {
        Some((flag, value)) if flag.starts_with("--") => (flag, Some(value)),
        _ => (word, None),
    }
}

fn parse_run(args: &[String], env: Option<&str>) -> Result<Command, UsageError> {
    let mut run = RunOptions {
        guest: GuestOptions::default(),
        mem: "128M".to_owned(),
        timing: false,
        tsc_hint: true,
        qemu: "qemu-system-x86_64".to_owned(),
        disks: Vec::new(),
        elf: PathBuf::new(),
        guest_args: Vec::new(),
    };
    let env_words: Vec<String> = env
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let mut from_env = Options::new(Subcommand::Run, Origin::Environment, &env_words);
    while let Some(word) = from_env.words.next() {
        if !word.starts_with('-') || is_help(word) || word == "--" {
            return Err(UsageError(format!(
                "NOVILLO_PROBE may hold only options of 'run', found '{word}' (see probe run \
                 --help)"
            )));
        }
        run_option(&mut run, &mut from_env, word)?;
    }

    let mut options = Options::new(Subcommand::Run, Origin::CommandLine, args);
    let elf = loop {
        let Some(word) = options.words.next() else {
            return Err(UsageError(
                "'run' needs the path of an ELF image (see probe run --help)".to_owned(),
            ));
        };
        if is_help(word) {
            return Ok(Command::Help(Some(Subcommand::Run)));
        }
        if word == "--" {
            break options.words.next().ok_or_else(|| {
                UsageError("'run' needs the path of an ELF image after '--'".to_owned())
            })?;
        }
        if !word.starts_with('-') || word == "-" {
            break word;
        }
        run_option(&mut run, &mut options, word)?;
    };
    run.elf = PathBuf::from(elf);
    run.guest_args = options.words.cloned().collect();
    Ok(Command::Run(run))
}

fn run_option(
    run: &mut RunOptions,
    options: &mut Options<'_>,
    word: &str,
) -> Result<(), UsageError> {
    let (flag, inline) = split_flag(word);
    if options.guest_option(&mut run.guest, flag, inline)? {
        return Ok(());
    }
    match flag {
        "--mem" => {
            let value = options.value(flag, inline)?;
            match memory_bytes(&value) {
                None => {
                    return Err(UsageError(format!(
                        "--mem must be a size such as 128M or 1G, not '{value}'"
                    )));
                }
                Some(0) => {
                    return Err(UsageError(format!(
                        "--mem must be more than nothing (QEMU would take 0 as its default), \
                         not '{value}'"
                    )));
                }
                Some(_) => run.mem = value,
            }
        }
        "--timing" => run.timing = options.switch(flag, inline)?,
        "--no-tsc-hint" => run.tsc_hint = !options.switch(flag, inline)?,
        "--qemu" => {
            run.qemu = options.value(flag, inline)?;
            if run.qemu.is_empty() {
                return Err(UsageError("--qemu needs a program, not ''".to_owned()));
            }
        }
        "--disk" => run
            .disks
            .push(Disk::parse(&options.value(flag, inline)?).map_err(UsageError)?),
        _ => return Err(options.unknown(flag)),
    }
    Ok(())
}

/// The bytes of a size as QEMU's `-m` takes it: digits with an optional K, M, G or T
/// suffix (none means MiB); `None` for anything else or a size past `u64`.
pub(crate) fn memory_bytes(text: &str) -> Option<u64> {
    let digits = text.trim_end_matches(['K', 'M', 'G', 'T', 'k', 'm', 'g', 't']);
    let shift = match &text[digits.len()..] {
        "K" | "k" => 10,
        "" | "M" | "m" => 20,
        "G" | "g" => 30,
        "T" | "t" => 40,
        _ => return None,
    };
    if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(1 << shift)
}

fn parse_test(args: &[String]) -> Result<Command, UsageError> {
    let mut test = TestOptions {
        guest: GuestOptions::default(),
        boards: Board::ALL.to_vec(),
        host: true,
        guests: true,
        only: None,
    };
    let (mut host_only, mut guest_only) = (false, false);
    let mut options = Options::new(Subcommand::Test, Origin::CommandLine, args);
    while let Some(word) = options.words.next() {
        if is_help(word) {
            return Ok(Command::Help(Some(Subcommand::Test)));
        }
        if !word.starts_with('-') {
            return Err(UsageError(format!(
                "unexpected argument '{word}' for 'test' (see probe test --help)"
            )));
        }
        let (flag, inline) = split_flag(word);
        if options.guest_option(&mut test.guest, flag, inline)? {
            continue;
        }
        match flag {
            "--board" => {
                test.boards = parse_boards(&options.value(flag, inline)?)?;
            }
            "--host-only" => host_only = options.switch(flag, inline)?,
            "--guest-only" => guest_only = options.switch(flag, inline)?,
            "--only" => test.only = Some(options.value(flag, inline)?),
            _ => return Err(options.unknown(flag)),
        }
    }
    if host_only && guest_only {
        return Err(UsageError(
            "--host-only and --guest-only exclude each other (see probe test --help)".to_owned(),
        ));
    }
    test.host = !guest_only;
    test.guests = !host_only;
    Ok(Command::Test(test))
}

/// The longest idle window `bench idle --seconds` accepts: an hour.
const MAX_IDLE_SECONDS: u64 = 3600;

/// `bench threads ...`, `bench idle ...` or `bench disk ...`.
fn parse_bench(args: &[String]) -> Result<Command, UsageError> {
    let Some((kind, rest)) = args.split_first() else {
        return Err(UsageError(
            "'bench' needs a benchmark: threads, idle, disk or http (see probe bench --help)"
                .to_owned(),
        ));
    };
    match kind.as_str() {
        word if is_help(word) => Ok(Command::Help(Some(Subcommand::Bench))),
        "threads" => parse_bench_threads(rest),
        "idle" => parse_bench_idle(rest),
        "disk" => parse_bench_disk(rest),
        "http" => parse_bench_http(rest),
        other => Err(UsageError(format!(
            "unknown benchmark '{other}': threads, idle, disk or http (see probe bench --help)"
        ))),
    }
}

fn parse_bench_threads(args: &[String]) -> Result<Command, UsageError> {
    let mut threads = ThreadsOptions {
        guest: GuestOptions {
            smp: 2,
            timeout: Some(Duration::from_secs(300)),
            ..GuestOptions::default()
        },
        board: Board::Microvm,
        linux: false,
        linux_kernel: None,
    };
    let mut options = Options::new(Subcommand::Bench, Origin::CommandLine, args);
    while let Some(word) = options.words.next() {
        if is_help(word) {
            return Ok(Command::Help(Some(Subcommand::Bench)));
        }
        let (flag, inline) = bench_flag(word)?;
        if options.guest_option(&mut threads.guest, flag, inline)? {
            continue;
        }
        match flag {
            "--board" => {
                let value = options.value(flag, inline)?;
                threads.board = Board::from_name(&value).ok_or_else(|| {
                    UsageError(format!(
                        "--board must be one of {}, not '{value}'",
                        Board::known_names()
                    ))
                })?;
            }
            "--baseline" => threads.linux = parse_baseline(&options.value(flag, inline)?)?,
            "--linux-kernel" => {
                threads.linux_kernel = Some(parse_kernel(&options.value(flag, inline)?)?)
            }
            _ => return Err(options.unknown(flag)),
        }
    }
    kernel_needs_baseline(threads.linux, threads.linux_kernel.as_ref())?;
    Ok(Command::Bench(Bench::Threads(threads)))
}

fn parse_bench_idle(args: &[String]) -> Result<Command, UsageError> {
    let mut idle = IdleOptions {
        accel: AccelChoice::Auto,
        boards: vec![Board::Microvm],
        seconds: 10,
        smp_list: vec![1, 4],
        linux: false,
        linux_kernel: None,
        slow_disk: false,
    };
    let mut options = Options::new(Subcommand::Bench, Origin::CommandLine, args);
    while let Some(word) = options.words.next() {
        if is_help(word) {
            return Ok(Command::Help(Some(Subcommand::Bench)));
        }
        let (flag, inline) = bench_flag(word)?;
        match flag {
            "--slow-disk" => idle.slow_disk = options.switch(flag, inline)?,
            "--accel" => idle.accel = parse_accel(&options.value(flag, inline)?)?,
            "--board" => {
                let value = options.value(flag, inline)?;
                idle.boards = parse_boards(&value)?;
            }
            "--seconds" => {
                let value = options.value(flag, inline)?;
                idle.seconds = value
                    .parse()
                    .ok()
                    .filter(|secs| (1..=MAX_IDLE_SECONDS).contains(secs))
                    .ok_or_else(|| {
                        UsageError(format!(
                            "--seconds must be a whole number from 1 to {MAX_IDLE_SECONDS}, \
                             not '{value}'"
                        ))
                    })?;
            }
            "--smp-list" => idle.smp_list = parse_smp_list(&options.value(flag, inline)?)?,
            "--baseline" => idle.linux = parse_baseline(&options.value(flag, inline)?)?,
            "--linux-kernel" => {
                idle.linux_kernel = Some(parse_kernel(&options.value(flag, inline)?)?)
            }
            _ => return Err(options.unknown(flag)),
        }
    }
    kernel_needs_baseline(idle.linux, idle.linux_kernel.as_ref())?;
    Ok(Command::Bench(Bench::Idle(idle)))
}

fn parse_bench_disk(args: &[String]) -> Result<Command, UsageError> {
    let mut disk = DiskOptions {
        accel: AccelChoice::Auto,
        boards: Board::ALL.to_vec(),
        smp_list: vec![1, 2],
    };
    let mut options = Options::new(Subcommand::Bench, Origin::CommandLine, args);
    while let Some(word) = options.words.next() {
        if is_help(word) {
            return Ok(Command::Help(Some(Subcommand::Bench)));
        }
        let (flag, inline) = bench_flag(word)?;
        match flag {
            "--accel" => disk.accel = parse_accel(&options.value(flag, inline)?)?,
            "--board" => disk.boards = parse_boards(&options.value(flag, inline)?)?,
            "--smp-list" => disk.smp_list = parse_smp_list(&options.value(flag, inline)?)?,
            _ => return Err(options.unknown(flag)),
        }
    }
    Ok(Command::Bench(Bench::Disk(disk)))
}

/// The longest load `bench http --seconds` runs: ten minutes.
const MAX_HTTP_SECONDS: u64 = 600;

fn parse_bench_http(args: &[String]) -> Result<Command, UsageError> {
    let mut http = HttpOptions {
        accel: AccelChoice::Auto,
        boards: Board::ALL.to_vec(),
        smp_list: vec![1, 2],
        seconds: 5,
        linux: false,
        linux_kernel: None,
    };
    let mut options = Options::new(Subcommand::Bench, Origin::CommandLine, args);
    while let Some(word) = options.words.next() {
        if is_help(word) {
            return Ok(Command::Help(Some(Subcommand::Bench)));
        }
        let (flag, inline) = bench_flag(word)?;
        match flag {
            "--accel" => http.accel = parse_accel(&options.value(flag, inline)?)?,
            "--board" => http.boards = parse_boards(&options.value(flag, inline)?)?,
            "--smp-list" => http.smp_list = parse_smp_list(&options.value(flag, inline)?)?,
            "--seconds" => {
                let value = options.value(flag, inline)?;
                http.seconds = value
                    .parse()
                    .ok()
                    .filter(|secs| (1..=MAX_HTTP_SECONDS).contains(secs))
                    .ok_or_else(|| {
                        UsageError(format!(
                            "--seconds must be a whole number from 1 to {MAX_HTTP_SECONDS}, \
                             not '{value}'"
                        ))
                    })?;
            }
            "--baseline" => http.linux = parse_baseline(&options.value(flag, inline)?)?,
            "--linux-kernel" => {
                http.linux_kernel = Some(parse_kernel(&options.value(flag, inline)?)?)
            }
            _ => return Err(options.unknown(flag)),
        }
    }
    kernel_needs_baseline(http.linux, http.linux_kernel.as_ref())?;
    Ok(Command::Bench(Bench::Http(http)))
}

/// Splits an option word of `bench`; a bare word there is a mistake.
fn bench_flag(word: &str) -> Result<(&str, Option<&str>), UsageError> {
    if !word.starts_with('-') {
        return Err(UsageError(format!(
            "unexpected argument '{word}' for 'bench' (see probe bench --help)"
        )));
    }
    Ok(split_flag(word))
}

/// `--baseline`: only `linux` exists.
fn parse_baseline(value: &str) -> Result<bool, UsageError> {
    match value {
        "linux" => Ok(true),
        _ => Err(UsageError(format!(
            "--baseline must be linux, not '{value}'"
        ))),
    }
}

/// `--linux-kernel FILE`: any non-empty path; whether it is a kernel is checked when read.
fn parse_kernel(value: &str) -> Result<PathBuf, UsageError> {
    if value.is_empty() {
        return Err(UsageError("--linux-kernel needs a file, not ''".to_owned()));
    }
    Ok(PathBuf::from(value))
}

/// A kernel for the baseline without the baseline is a mistake, not something to ignore.
fn kernel_needs_baseline(linux: bool, kernel: Option<&PathBuf>) -> Result<(), UsageError> {
    match (linux, kernel) {
        (false, Some(_)) => Err(UsageError(
            "--linux-kernel is for --baseline linux, which is not given (see probe bench \
             --help)"
                .to_owned(),
        )),
        _ => Ok(()),
    }
}

/// `--board NAME` or `--board all`.
fn parse_boards(value: &str) -> Result<Vec<Board>, UsageError> {
    match (value, Board::from_name(value)) {
        ("all", _) => Ok(Board::ALL.to_vec()),
        (_, Some(board)) => Ok(vec![board]),
        (_, None) => Err(UsageError(format!(
            "--board must be one of {} or all, not '{value}'",
            Board::known_names()
        ))),
    }
}

/// `--smp-list 1,4`: CPU counts separated by commas, each from 1 to [`MAX_SMP`].
fn parse_smp_list(value: &str) -> Result<Vec<u32>, UsageError> {
    let bad = || {
        UsageError(format!(
            "--smp-list must be CPU counts from 1 to {MAX_SMP} separated by commas, such as \
             1,4, not '{value}'"
        ))
    };
    // An empty value splits into one empty part, which is rejected like any other.
    value
        .split(',')
        .map(|part| parse_smp(part.trim()).ok_or_else(bad))
        .collect()
}

/// Subcommands without options accept only `--help`.
fn parse_bare(sub: Subcommand, args: &[String], command: Command) -> Result<Command, UsageError> {
    match args.first() {
        None => Ok(command),
        Some(word) if is_help(word) => Ok(Command::Help(Some(sub))),
        Some(word) if word.starts_with('-') => {
            Err(Options::new(sub, Origin::CommandLine, args).unknown(word))
        }
        Some(word) => Err(UsageError(format!(
            "unexpected argument '{word}' for '{}' (see probe {} --help)",
            sub.name(),
            sub.name()
        ))),
    }
}

#[cfg(test)]
#[path = "cli_tests.rs"]
mod tests;
