//! Parses probe's command line (and `NOVILLO_PROBE`) into a `Command`.
//!
//! Hand-written rather than generated: the grammar is small, `run` must stop at the ELF path
//! so that everything after it reaches the guest untouched, and every mistake gets one line
//! that names the option and the subcommand.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use crate::accel::AccelChoice;
use crate::board::Board;
use crate::disk::{Bus, Disk};
use crate::fat::command::{DiskCommand, NewOptions, parse_fat};
use crate::fat::{Format, Layout};
use crate::image::Files;
use crate::load::{LoadOptions, MAX_CONNS, Target};
use crate::net::{Backend, Forward, NetSpec, Nic};
use crate::qemu::Boot;
use crate::share::Share;

/// The environment variable whose words are parsed as `run` options before the real ones.
pub(crate) const ENV_OPTIONS: &str = "NOVILLO_PROBE";

/// What the user asked for.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Command {
    /// Help, on one subcommand or (`None`) on probe as a whole.
    Help(Option<Subcommand>),
    /// `run`, and `gdb` (a `run` whose `gdb` is [`Gdb::Attach`]).
    Run(RunOptions),
    Test(TestOptions),
    Image(ImageOptions),
    Size,
    Lint,
    Bench(Bench),
    Disk(DiskCommand),
    Load(LoadOptions),
}

/// The subcommands, for help topics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Subcommand {
    Run,
    Gdb,
    Test,
    Image,
    Size,
    Lint,
    Bench,
    Disk,
    Load,
}

impl Subcommand {
    fn from_name(name: &str) -> Option<Subcommand> {
        match name {
            "run" => Some(Subcommand::Run),
            "gdb" => Some(Subcommand::Gdb),
            "test" => Some(Subcommand::Test),
            "image" => Some(Subcommand::Image),
            "size" => Some(Subcommand::Size),
            "lint" => Some(Subcommand::Lint),
            "bench" => Some(Subcommand::Bench),
            "disk" => Some(Subcommand::Disk),
            "load" => Some(Subcommand::Load),
            _ => None,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Subcommand::Run => "run",
            Subcommand::Gdb => "gdb",
            Subcommand::Test => "test",
            Subcommand::Image => "image",
            Subcommand::Size => "size",
            Subcommand::Lint => "lint",
            Subcommand::Bench => "bench",
            Subcommand::Disk => "disk",
            Subcommand::Load => "load",
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
    /// `--boot`.
    pub(crate) boot: Boot,
    /// `--share`, in the order given; attached after the `--disk` disks.
    pub(crate) shares: Vec<Share>,
    /// `--net`, `--nic`, `--forward`.
    pub(crate) net: NetOptions,
    pub(crate) elf: PathBuf,
    pub(crate) guest_args: Vec<String>,
    pub(crate) gdb: Gdb,
}

/// Whether `run` lets gdb in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Gdb {
    Off,
    /// `run --gdb`: QEMU starts halted with a gdb server; probe prints how to attach.
    Server,
    /// `probe gdb`: as `Server`, and probe runs gdb attached to it in the foreground.
    Attach,
}

/// `--net`, `--nic` and `--forward` as given; [`NetOptions::spec`] makes them one network.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct NetOptions {
    pub(crate) backend: Option<Backend>,
    pub(crate) nic: Option<Nic>,
    pub(crate) forwards: Vec<Forward>,
}

impl NetOptions {
    /// The network asked for: none without options, user networking when only ports are
    /// named, the virtio NIC unless `--nic` says otherwise.
    pub(crate) fn spec(&self) -> Result<Option<NetSpec>, String> {
        let backend = match (&self.backend, self.forwards.is_empty()) {
            (None, true) if self.nic.is_none() => return Ok(None),
            (None, _) => Backend::User,
            (Some(Backend::Tap(_)), false) => {
                return Err(
                    "--forward needs --net user: a tap guest is reached at its own \
                            address"
                        .to_owned(),
                );
            }
            (Some(backend), _) => backend.clone(),
        };
        Ok(Some(NetSpec {
            backend,
            nic: self.nic.unwrap_or(Nic::Virtio),
            forwards: self.forwards.clone(),
        }))
    }
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

/// `probe image`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ImageOptions {
    pub(crate) elf: PathBuf,
    pub(crate) output: PathBuf,
    /// The guest command line stored in the image.
    pub(crate) cmdline: String,
    /// `--share DIR` or `--disk FILE`: the FAT volume of partition 2.
    pub(crate) files: Option<Files>,
}

/// `probe bench`: which benchmark, with its options.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Bench {
    /// `bench` alone: every benchmark that applies; `quick` is `--quick`.
    All {
        quick: bool,
    },
    Boot(BootOptions),
    Threads(ThreadsOptions),
    Idle(IdleOptions),
    Disk(DiskOptions),
    Http(HttpOptions),
    Net(HttpOptions),
}

/// `probe bench boot`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct BootOptions {
    pub(crate) accel: AccelChoice,
    pub(crate) boards: Vec<Board>,
    /// The CPU counts to boot each board with, in order.
    pub(crate) smp_list: Vec<u32>,
    /// Boots per guest and machine for the times.
    pub(crate) runs: usize,
    /// `--baseline linux`: also boot the Linux guest.
    pub(crate) linux: bool,
    /// `--linux-kernel`: the baseline's kernel instead of the newest in `/boot`.
    pub(crate) linux_kernel: Option<PathBuf>,
}

impl Default for BootOptions {
    fn default() -> Self {
        BootOptions {
            accel: AccelChoice::Auto,
            boards: Board::ALL.to_vec(),
            smp_list: vec![1, 4],
            runs: 10,
            linux: false,
            linux_kernel: None,
        }
    }
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
    /// `--conns`: also measure `echo` and the web server with open idle connections.
    pub(crate) conns: bool,
}

/// `probe bench disk`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct DiskOptions {
    pub(crate) accel: AccelChoice,
    pub(crate) boards: Vec<Board>,
    /// The CPU counts to boot each board with, in order.
    pub(crate) smp_list: Vec<u32>,
    /// Also measure the Linux guest (always, but for `bench --quick`).
    pub(crate) linux: bool,
    /// Also measure the file workloads (always, but for `bench --quick`: they take minutes).
    pub(crate) files: bool,
    /// `--ata pio|dma`: the raw workloads on qemu-pc's IDE disk with this `ata=` parameter.
    pub(crate) ata: Option<&'static str>,
    /// Measure the raw-device workloads (always, but for `--files-only`).
    pub(crate) raw: bool,
}

/// `probe bench http` and `probe bench net`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct HttpOptions {
    pub(crate) accel: AccelChoice,
    pub(crate) boards: Vec<Board>,
    /// The CPU counts to boot each board with, in order.
    pub(crate) smp_list: Vec<u32>,
    /// How long each load runs.
    pub(crate) seconds: u64,
    /// `--baseline linux`: also measure the Linux guest's servers.
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
    // Bare `probe` is someone finding out what it does.
    let Some((first, rest)) = args.split_first() else {
        return Ok(Command::Help(None));
    };
    match first.as_str() {
        "--help" | "-h" | "help" => match rest.first() {
            None => Ok(Command::Help(None)),
            Some(topic) => Subcommand::from_name(topic)
                .map(|sub| Command::Help(Some(sub)))
                .ok_or_else(|| UsageError(format!("no help on '{topic}' (see probe --help)"))),
        },
        "run" => parse_run(Subcommand::Run, rest, env),
        "gdb" => parse_run(Subcommand::Gdb, rest, env),
        "test" => parse_test(rest),
        "image" => parse_image(rest),
        "size" => parse_bare(Subcommand::Size, rest, Command::Size),
        "lint" => parse_bare(Subcommand::Lint, rest, Command::Lint),
        "bench" => parse_bench(rest),
        "disk" => parse_disk(rest),
        "load" => parse_load(rest),
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
                         guest runs on), not \
                             '{value}'"
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
                             {MAX_TIMEOUT_SECS} (a week), not \
                             '{value}'"
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
    AccelChoice::parse(value).ok_or_else(|| {
        UsageError(format!(
            "--accel must be tcg, kvm or auto, not \
                             '{value}'"
        ))
    })
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

/// `run` or `gdb` (`sub`): the same options and arguments.
fn parse_run(sub: Subcommand, args: &[String], env: Option<&str>) -> Result<Command, UsageError> {
    let name = sub.name();
    let mut run = RunOptions {
        guest: GuestOptions::default(),
        mem: "128M".to_owned(),
        timing: false,
        tsc_hint: true,
        qemu: "qemu-system-x86_64".to_owned(),
        disks: Vec::new(),
        boot: Boot::Kernel,
        shares: Vec::new(),
        net: NetOptions::default(),
        elf: PathBuf::new(),
        guest_args: Vec::new(),
        gdb: if sub == Subcommand::Gdb {
            Gdb::Attach
        } else {
            Gdb::Off
        },
    };
    let env_words: Vec<String> = env
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let mut from_env = Options::new(sub, Origin::Environment, &env_words);
    while let Some(word) = from_env.words.next() {
        if !word.starts_with('-') || is_help(word) || word == "--" {
            return Err(UsageError(format!(
                "NOVILLO_PROBE may hold only options of 'run', found '{word}' (see probe run \
                 --help)"
            )));
        }
        run_option(&mut run, &mut from_env, word)?;
    }

    let mut options = Options::new(sub, Origin::CommandLine, args);
    let elf = loop {
        let Some(word) = options.words.next() else {
            return Err(UsageError(format!(
                "'{name}' needs the path of an ELF image (see probe {name} --help)"
            )));
        };
        if is_help(word) {
            return Ok(Command::Help(Some(sub)));
        }
        if word == "--" {
            break options.words.next().ok_or_else(|| {
                UsageError(format!(
                    "'{name}' needs the path of an ELF image after '--'"
                ))
            })?;
        }
        if !word.starts_with('-') || word == "-" {
            break word;
        }
        run_option(&mut run, &mut options, word)?;
    };
    run.elf = PathBuf::from(elf);
    run.guest_args = options.words.cloned().collect();
    // A guest waiting for gdb, or stopped in it, is not stuck: no timeout unless asked for.
    let option_words = &args[..args.len() - run.guest_args.len()];
    let timeout_given = env_words
        .iter()
        .chain(option_words)
        .any(|word| split_flag(word).0 == "--timeout");
    if run.gdb != Gdb::Off && !timeout_given {
        run.guest.timeout = None;
    }
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
                        "--mem must be a size such as 128M or 1G, not \
                             '{value}'"
                    )));
                }
                Some(0) => {
                    return Err(UsageError(format!(
                        "--mem must be more than nothing (QEMU would take 0 as its default), \
                         not \
                             '{value}'"
                    )));
                }
                Some(_) => run.mem = value,
            }
        }
        "--timing" => run.timing = options.switch(flag, inline)?,
        "--gdb" => {
            options.switch(flag, inline)?;
            if run.gdb == Gdb::Off {
                run.gdb = Gdb::Server;
            }
        }
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
        "--boot" => run.boot = parse_boot(&options.value(flag, inline)?)?,
        "--share" => run
            .shares
            .push(Share::parse(&options.value(flag, inline)?).map_err(UsageError)?),
        "--net" => {
            run.net.backend =
                Some(NetSpec::parse_backend(&options.value(flag, inline)?).map_err(UsageError)?);
        }
        "--nic" => {
            run.net.nic = Some(Nic::parse(&options.value(flag, inline)?).map_err(UsageError)?)
        }
        "--forward" => run
            .net
            .forwards
            .extend(Forward::parse_list(&options.value(flag, inline)?).map_err(UsageError)?),
        _ => return Err(options.unknown(flag)),
    }
    Ok(())
}

/// `--boot kernel` or `--boot disk[,bus=ide|virtio]` (IDE by default: every BIOS boots it).
fn parse_boot(value: &str) -> Result<Boot, UsageError> {
    let bad = || {
        UsageError(format!(
            "--boot must be kernel, disk, disk,bus=ide or disk,bus=virtio, not '{value}'"
        ))
    };
    match value.split_once(',') {
        None if value == "kernel" => Ok(Boot::Kernel),
        None if value == "disk" => Ok(Boot::Disk(Bus::Ide, None)),
        Some(("disk", "bus=ide")) => Ok(Boot::Disk(Bus::Ide, None)),
        Some(("disk", "bus=virtio")) => Ok(Boot::Disk(Bus::Virtio, None)),
        _ => Err(bad()),
    }
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

fn parse_image(args: &[String]) -> Result<Command, UsageError> {
    let (mut elf, mut output, mut cmdline, mut files) = (None, None, String::new(), None);
    let mut options = Options::new(Subcommand::Image, Origin::CommandLine, args);
    while let Some(word) = options.words.next() {
        if is_help(word) {
            return Ok(Command::Help(Some(Subcommand::Image)));
        }
        if !word.starts_with('-') {
            if elf.replace(PathBuf::from(word)).is_some() {
                return Err(UsageError(format!(
                    "'image' takes one ELF, found a second: '{word}' (see probe image --help)"
                )));
            }
            continue;
        }
        let (flag, inline) = split_flag(word);
        match flag {
            "-o" | "--output" => output = Some(PathBuf::from(options.value(flag, inline)?)),
            "--cmdline" => cmdline = options.value(flag, inline)?,
            "--share" | "--disk" => {
                let path = PathBuf::from(options.value(flag, inline)?);
                let given = match flag {
                    "--share" => Files::Share(path),
                    _ => Files::Disk(path),
                };
                if files.replace(given).is_some() {
                    return Err(UsageError(
                        "'image' takes one --share DIR or one --disk FILE: the image has one \
                         FAT partition (see probe image --help)"
                            .to_owned(),
                    ));
                }
            }
            _ => return Err(options.unknown(flag)),
        }
    }
    let elf = elf.ok_or_else(|| {
        UsageError("'image' needs the path of an ELF image (see probe image --help)".to_owned())
    })?;
    let output = output.ok_or_else(|| {
        UsageError("'image' needs -o FILE, the image to write (see probe image --help)".to_owned())
    })?;
    Ok(Command::Image(ImageOptions {
        elf,
        output,
        cmdline,
        files,
    }))
}

/// The longest idle window `bench idle --seconds` accepts: an hour.
const MAX_IDLE_SECONDS: u64 = 3600;

/// The most boots `bench boot --runs` takes per guest and machine.
const MAX_BOOT_RUNS: usize = 1000;

/// `bench [--quick]`, `bench boot ...`, `bench threads ...`, `bench idle ...` or
/// `bench disk ...`.
fn parse_bench(args: &[String]) -> Result<Command, UsageError> {
    let Some((kind, rest)) = args.split_first() else {
        return Ok(Command::Bench(Bench::All { quick: false }));
    };
    match kind.as_str() {
        word if is_help(word) => Ok(Command::Help(Some(Subcommand::Bench))),
        "--quick" => match rest.first() {
            None => Ok(Command::Bench(Bench::All { quick: true })),
            Some(word) => Err(UsageError(format!(
                "unexpected argument '{word}' after 'bench --quick', which runs every \
                 benchmark (see probe bench --help)"
            ))),
        },
        "boot" => parse_bench_boot(rest),
        "threads" => parse_bench_threads(rest),
        "idle" => parse_bench_idle(rest),
        "disk" => parse_bench_disk(rest),
        "http" => parse_bench_load(rest, Bench::Http),
        "net" => parse_bench_load(rest, Bench::Net),
        other => Err(UsageError(format!(
            "unknown benchmark '{other}': boot, threads, idle, disk, http or net, or none for all \
             (see probe bench --help)"
        ))),
    }
}

/// A whole number from 1 to `max` for `flag`, or the usage error that says so.
fn count<T>(flag: &str, value: &str, max: T) -> Result<T, UsageError>
where
    T: FromStr + PartialOrd + From<u8> + Copy + fmt::Display,
{
    value
        .parse()
        .ok()
        .filter(|n| (T::from(1)..=max).contains(n))
        .ok_or_else(|| {
            UsageError(format!(
                "{flag} must be a whole number from 1 to {max}, not '{value}'"
            ))
        })
}

fn parse_bench_boot(args: &[String]) -> Result<Command, UsageError> {
    let mut boot = BootOptions::default();
    let mut options = Options::new(Subcommand::Bench, Origin::CommandLine, args);
    while let Some(word) = options.words.next() {
        if is_help(word) {
            return Ok(Command::Help(Some(Subcommand::Bench)));
        }
        let (flag, inline) = bench_flag(word)?;
        match flag {
            "--accel" => boot.accel = parse_accel(&options.value(flag, inline)?)?,
            "--board" => boot.boards = parse_boards(&options.value(flag, inline)?)?,
            "--smp-list" => boot.smp_list = parse_smp_list(&options.value(flag, inline)?)?,
            "--runs" => boot.runs = count(flag, &options.value(flag, inline)?, MAX_BOOT_RUNS)?,
            "--baseline" => boot.linux = parse_baseline(&options.value(flag, inline)?)?,
            "--linux-kernel" => {
                boot.linux_kernel = Some(parse_kernel(&options.value(flag, inline)?)?)
            }
            _ => return Err(options.unknown(flag)),
        }
    }
    kernel_needs_baseline(boot.linux, boot.linux_kernel.as_ref())?;
    Ok(Command::Bench(Bench::Boot(boot)))
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
                        "--board must be one of {}, not \
                             '{value}'",
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
        conns: false,
    };
    let mut options = Options::new(Subcommand::Bench, Origin::CommandLine, args);
    while let Some(word) = options.words.next() {
        if is_help(word) {
            return Ok(Command::Help(Some(Subcommand::Bench)));
        }
        let (flag, inline) = bench_flag(word)?;
        match flag {
            "--slow-disk" => idle.slow_disk = options.switch(flag, inline)?,
            "--conns" => idle.conns = options.switch(flag, inline)?,
            "--accel" => idle.accel = parse_accel(&options.value(flag, inline)?)?,
            "--board" => {
                let value = options.value(flag, inline)?;
                idle.boards = parse_boards(&value)?;
            }
            "--seconds" => {
                idle.seconds = count(flag, &options.value(flag, inline)?, MAX_IDLE_SECONDS)?
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

fn parse_load(args: &[String]) -> Result<Command, UsageError> {
    let Some((target, rest)) = args.split_first() else {
        return Err(UsageError(
            "probe load needs echo or webserver (see probe load --help)".to_owned(),
        ));
    };
    if is_help(target) {
        return Ok(Command::Help(Some(Subcommand::Load)));
    }
    let target = Target::parse(target).map_err(UsageError)?;
    let mut load = LoadOptions {
        target,
        conns: 10_000,
        slow: 0,
        board: Board::Microvm,
        smp: 4,
        nic: Nic::Virtio,
        mem: "3G".to_owned(),
        accel: AccelChoice::Auto,
        seconds: 10,
        guest_args: Vec::new(),
    };
    let (rest, guest_args) = match rest.iter().position(|word| word == "--") {
        Some(at) => (&rest[..at], &rest[at + 1..]),
        None => (rest, &[][..]),
    };
    load.guest_args = guest_args.to_vec();
    let mut options = Options::new(Subcommand::Load, Origin::CommandLine, rest);
    while let Some(word) = options.words.next() {
        if is_help(word) {
            return Ok(Command::Help(Some(Subcommand::Load)));
        }
        let (flag, inline) = split_flag(word);
        match flag {
            "--conns" => load.conns = count(flag, &options.value(flag, inline)?, MAX_CONNS)?,
            "--slow" => {
                let value = options.value(flag, inline)?;
                load.slow = if value == "0" {
                    0
                } else {
                    count(flag, &value, MAX_CONNS)?
                };
            }
            "--board" => {
                let value = options.value(flag, inline)?;
                load.board = Board::from_name(&value).ok_or_else(|| {
                    UsageError(format!("--board must be microvm or qemu-pc, not '{value}'"))
                })?;
            }
            "--smp" => {
                let value = options.value(flag, inline)?;
                load.smp = parse_smp(&value).ok_or_else(|| {
                    UsageError(format!("--smp must be from 1 to {MAX_SMP}, not '{value}'"))
                })?;
            }
            "--nic" => load.nic = Nic::parse(&options.value(flag, inline)?).map_err(UsageError)?,
            "--mem" => {
                let value = options.value(flag, inline)?;
                if memory_bytes(&value).is_none() {
                    return Err(UsageError(format!(
                        "--mem must be a size such as 512M or 3G, not '{value}'"
                    )));
                }
                load.mem = value;
            }
            "--accel" => load.accel = parse_accel(&options.value(flag, inline)?)?,
            "--seconds" => {
                load.seconds = count(flag, &options.value(flag, inline)?, MAX_IDLE_SECONDS)?
            }
            _ => return Err(options.unknown(flag)),
        }
    }
    if load.conns + load.slow > MAX_CONNS {
        return Err(UsageError(format!(
            "--conns and --slow take at most {MAX_CONNS} together (the ports of one host \
             address)"
        )));
    }
    if load.slow > 0 && load.target == Target::Echo {
        return Err(UsageError(
            "--slow is for webserver: slowloris clients send an HTTP request slowly".to_owned(),
        ));
    }
    Ok(Command::Load(load))
}

fn parse_bench_disk(args: &[String]) -> Result<Command, UsageError> {
    let mut disk = DiskOptions {
        accel: AccelChoice::Auto,
        boards: Board::ALL.to_vec(),
        smp_list: vec![1, 2],
        linux: true,
        files: true,
        ata: None,
        raw: true,
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
            "--ata" => {
                disk.ata = Some(match options.value(flag, inline)?.as_str() {
                    "pio" => "pio",
                    "dma" => "dma",
                    other => {
                        return Err(UsageError(format!(
                            "--ata must be pio or dma, not '{other}'"
                        )));
                    }
                })
            }
            "--files-only" if inline.is_none() => disk.raw = false,
            _ => return Err(options.unknown(flag)),
        }
    }
    if disk.ata.is_some() {
        if !disk.boards.contains(&Board::QemuPc) {
            return Err(UsageError(
                "--ata measures qemu-pc's IDE disk: use it with --board qemu-pc".to_owned(),
            ));
        }
        disk.boards = vec![Board::QemuPc];
        disk.linux = false;
        disk.files = false;
    }
    Ok(Command::Bench(Bench::Disk(disk)))
}

/// The longest load `bench http|net --seconds` runs: ten minutes.
const MAX_HTTP_SECONDS: u64 = 600;

/// `bench http` or `bench net` (same options), made into a benchmark by `wrap`.
fn parse_bench_load(
    args: &[String],
    wrap: fn(HttpOptions) -> Bench,
) -> Result<Command, UsageError> {
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
                http.seconds = count(flag, &options.value(flag, inline)?, MAX_HTTP_SECONDS)?
            }
            "--baseline" => http.linux = parse_baseline(&options.value(flag, inline)?)?,
            "--linux-kernel" => {
                http.linux_kernel = Some(parse_kernel(&options.value(flag, inline)?)?)
            }
            _ => return Err(options.unknown(flag)),
        }
    }
    kernel_needs_baseline(http.linux, http.linux_kernel.as_ref())?;
    Ok(Command::Bench(wrap(http)))
}

/// Splits an option word of `bench`; a bare word there is a mistake.
fn bench_flag(word: &str) -> Result<(&str, Option<&str>), UsageError> {
    if !word.starts_with('-') {
        return Err(UsageError(format!(
            "unexpected argument '{word}' for 'bench' (see \
             probe bench --help)"
        )));
    }
    Ok(split_flag(word))
}

/// `--baseline`: only `linux` exists.
fn parse_baseline(value: &str) -> Result<bool, UsageError> {
    match value {
        "linux" => Ok(true),
        _ => Err(UsageError(format!(
            "--baseline must be linux, not \
                             '{value}'"
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
            "--board must be one of {} or all, not \
                             '{value}'",
            Board::known_names()
        ))),
    }
}

/// `--smp-list 1,4`: CPU counts separated by commas, each from 1 to [`MAX_SMP`].
fn parse_smp_list(value: &str) -> Result<Vec<u32>, UsageError> {
    let bad = || {
        UsageError(format!(
            "--smp-list must be CPU counts from 1 to {MAX_SMP} separated by commas, such as \
             1,4, not \
                             '{value}'"
        ))
    };
    // An empty value splits into one empty part, which is rejected like any other.
    value
        .split(',')
        .map(|part| parse_smp(part.trim()).ok_or_else(bad))
        .collect()
}

/// `disk new ...`, `disk ls ...` or `disk get ...`.
fn parse_disk(args: &[String]) -> Result<Command, UsageError> {
    let Some((action, rest)) = args.split_first() else {
        return Err(UsageError(
            "'disk' needs an action: new, ls or get (see probe disk --help)".to_owned(),
        ));
    };
    let mut options = Options::new(Subcommand::Disk, Origin::CommandLine, rest);
    let mut size = None;
    let mut format = Format {
        bytes: 0,
        layout: Layout::WholeDisk,
        fat: None,
    };
    let (mut share, mut force, mut out) = (None, false, None);
    let mut operands = Vec::new();
    match action.as_str() {
        word if is_help(word) => return Ok(Command::Help(Some(Subcommand::Disk))),
        "new" | "ls" | "get" => {}
        other => {
            return Err(UsageError(format!(
                "unknown disk action '{other}': new, ls or get (see probe disk --help)"
            )));
        }
    }
    while let Some(word) = options.words.next() {
        if is_help(word) {
            return Ok(Command::Help(Some(Subcommand::Disk)));
        }
        if !word.starts_with('-') || word == "-" {
            operands.push(word.clone());
            continue;
        }
        let (flag, inline) = split_flag(word);
        match (action.as_str(), flag) {
            ("new", "--size") => {
                let value = options.value(flag, inline)?;
                size = Some(memory_bytes(&value).ok_or_else(|| {
                    UsageError(format!(
                        "--size must be a size such as 64M or 1G (digits with K, M, G or T;                          none = M), not '{value}'"
                    ))
                })?);
            }
            ("new", "--share") => share = Some(PathBuf::from(options.value(flag, inline)?)),
            ("new", "--mbr") => {
                if options.switch(flag, inline)? {
                    format.layout = Layout::Mbr;
                }
            }
            ("new", "--fat") => {
                let value = options.value(flag, inline)?;
                format.fat = Some(parse_fat(&value).ok_or_else(|| {
                    UsageError(format!("--fat must be 12, 16 or 32, not '{value}'"))
                })?);
            }
            ("new", "--force") => force = options.switch(flag, inline)?,
            ("get", "-o" | "--output") => out = Some(PathBuf::from(options.value(flag, inline)?)),
            _ => {
                return Err(UsageError(format!(
                    "unknown option {flag} for 'disk {action}' (see probe disk --help)"
                )));
            }
        }
    }
    let extra = |max: usize| {
        UsageError(format!(
            "'disk {action}' takes {max} path{}, got {} ({}) (see probe disk --help)",
            if max == 1 { "" } else { "s" },
            operands.len(),
            operands.join(" ")
        ))
    };
    let command = match (action.as_str(), operands.as_slice()) {
        ("new", [file]) => {
            format.bytes = size.ok_or_else(|| {
                UsageError("'disk new' needs --size, such as --size 64M".to_owned())
            })?;
            DiskCommand::New(NewOptions {
                format,
                share,
                force,
                file: PathBuf::from(file),
            })
        }
        ("new", []) => {
            return Err(UsageError(
                "'disk new' needs the image file to make (see probe disk --help)".to_owned(),
            ));
        }
        ("new", _) => return Err(extra(1)),
        ("ls", [file]) => DiskCommand::Ls {
            file: PathBuf::from(file),
            path: "/".to_owned(),
        },
        ("ls", [file, path]) => DiskCommand::Ls {
            file: PathBuf::from(file),
            path: path.clone(),
        },
        ("ls", []) => {
            return Err(UsageError(
                "'disk ls' needs an image file, and optionally a path in it".to_owned(),
            ));
        }
        ("ls", _) => return Err(extra(2)),
        ("get", [file, path]) => DiskCommand::Get {
            file: PathBuf::from(file),
            path: path.clone(),
            out,
        },
        ("get", [] | [_]) => {
            return Err(UsageError(
                "'disk get' needs an image file and the path of a file in it".to_owned(),
            ));
        }
        _ => return Err(extra(2)),
    };
    Ok(Command::Disk(command))
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
