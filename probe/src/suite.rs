//! The guest test cases: which image to boot, with which arguments, and what must happen.
//!
//! To add a case, add a row to `fixed_cases`; every integration test of `apps`
//! (`apps/tests/*.rs`) becomes a case on its own, on one core and on four, unless it needs
//! more than a plain boot (disks): those are listed in `SUITES_WITH_OWN_CASES` and get
//! their cases in `fixed_cases`.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use fatfs::FatType;

use crate::board::Board;
use crate::cargo::{Artifact, TargetKind};
use crate::disk::{Bus, DiskSpec, check_images, suite_writes};
use crate::fat::{Format, Layout};
use crate::fs_suite;
use crate::hostnet;
use crate::http_check;
use crate::net::{Forward, Network, Nic};
use crate::qemu::{Boot, Damage, MachineVariant};

/// What the guest harness prints at the end of a suite that passed.
const ALL_PASSED: &str = " passed, 0 failed";

/// What a board prints when the machine has too little memory (status 103).
const NOT_ENOUGH_MEMORY: &str = "not enough memory: the firmware reports RAM up to ";

/// Whether the `disk` suite's cases run without `--only`: both boards find virtio-blk
/// disks, so they do.
const DISK_CASES_BY_DEFAULT: bool = true;

/// Whether the `fs` suite's cases run without `--only`.
const FS_CASES_BY_DEFAULT: bool = true;

/// The integration tests that do not become cases on their own: `fixed_cases` has theirs.
const SUITES_WITH_OWN_CASES: &[&str] = &["disk", "dns", "fs", "net"];

/// SeaBIOS built for microvm, as Debian's `seabios` package installs it.
const SEABIOS_MICROVM: &str = "/usr/share/seabios/bios-microvm.bin";

/// Writes the files of a FAT image's folder into the directory it is given.
pub(crate) type Fill = fn(&Path) -> Result<(), String>;

/// An image probe makes for a case before the boot.
#[derive(Clone, Debug)]
pub(crate) enum CaseImage {
    /// Sectors of probe's pattern (`disk::write_image`).
    Pattern(DiskSpec),
    /// A FAT volume as `probe disk new` makes it, holding the folder `fill` writes into the
    /// directory it is given, if any.
    Fat { format: Format, fill: Option<Fill> },
}

/// A disk of a case: its image and the bus it is attached on.
#[derive(Clone, Debug)]
pub(crate) struct CaseDisk {
    pub(crate) image: CaseImage,
    pub(crate) bus: Bus,
    /// Reads of the sector that starts with these bytes fail (QEMU's blkdebug).
    pub(crate) failing: Option<&'static [u8]>,
}

/// What a check after the run sees.
#[derive(Debug)]
pub(crate) struct AfterRun<'a> {
    pub(crate) case: &'a Case,
    /// The cores the guest ran on.
    pub(crate) smp: u32,
    /// The case's disk images, in order, as the guest left them.
    pub(crate) images: &'a [PathBuf],
    /// What the guest printed.
    pub(crate) console: &'a [u8],
    /// The host's clock just before QEMU started and just after it ended.
    pub(crate) started: SystemTime,
    pub(crate) ended: SystemTime,
}

/// Checks what the guest left on its disks after it exited: the problems found.
pub(crate) type AfterCheck = fn(&AfterRun<'_>) -> Vec<String>;

/// One guest test case.
#[derive(Clone, Debug)]
pub(crate) struct Case {
    /// Shown as `guest::<board>::<name>` and matched by `--only`.
    pub(crate) name: String,
    /// The cargo target to boot.
    pub(crate) kind: TargetKind,
    pub(crate) target: String,
    pub(crate) args: Vec<String>,
    /// The status the guest must report.
    pub(crate) status: u8,
    /// Strings that must appear in the console output.
    pub(crate) expect: Vec<&'static str>,
    /// Run without `--only`; otherwise only when `--only` matches it.
    pub(crate) default: bool,
    /// The number of CPUs, when the case needs its own rather than `--smp`.
    pub(crate) smp: Option<u32>,
    /// The memory size, when the case needs its own rather than the suite's.
    pub(crate) mem: Option<String>,
    /// Other firmware, machine options or a missing exit device.
    pub(crate) variant: MachineVariant,
    /// The one board whose build runs the case, when it is not every board.
    pub(crate) board: Option<Board>,
    /// Boot a copy of the image whose board note names this board instead: a note that
    /// lies, so the image lands on a machine it was not built for.
    pub(crate) board_note: Option<Board>,
    /// Images probe makes before the boot and attaches in order; removed after the run.
    pub(crate) disks: Vec<CaseDisk>,
    /// Run on the images once the guest has exited.
    pub(crate) after: Option<AfterCheck>,
    /// The guest prints `unix time: N` (`apps --example clock`), which must be the host's
    /// time during the boot, give or take `testing::WALL_CLOCK_SLACK`.
    pub(crate) wall_clock: bool,
    /// The guest halts for good instead of exiting: the case passes once the console holds
    /// every expected string and QEMU still runs (no reset), and then stops it; `status`
    /// is not checked.
    pub(crate) halts: bool,
    /// A NIC on QEMU user networking or in probe's private namespace, and the host-side
    /// peer that talks to the guest.
    pub(crate) net: Option<NetCase>,
    /// The least time the case gets, when `--timeout` is shorter (`--timeout 0` still
    /// means no limit).
    pub(crate) min_timeout: Option<Duration>,
}

/// A case's network: the NIC, the guest ports forwarded to free host ports, and the host's
/// side, which runs once the guest printed `ready` and while it keeps running.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct NetCase {
    pub(crate) nic: Nic,
    pub(crate) forwards: Vec<Forward>,
    pub(crate) ready: &'static str,
    pub(crate) host: HostPeer,
    /// On a tap in a private network namespace (`--net tap`) instead of user networking:
    /// the case needs root, and is skipped, saying so, without it.
    pub(crate) private: bool,
}

/// A host-side peer: talks to the guest through the forwarded ports; `Err` says what went
/// wrong.
#[derive(Clone, Copy)]
pub(crate) struct HostPeer {
    pub(crate) name: &'static str,
    pub(crate) run: fn(&Network) -> Result<(), String>,
}

impl std::fmt::Debug for HostPeer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

impl PartialEq for HostPeer {
    /// Peers are told apart by name: function addresses are not stable.
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for HostPeer {}

impl Case {
    fn new(
        name: &str,
        kind: TargetKind,
        target: &str,
        status: u8,
        expect: &[&'static str],
    ) -> Self {
        Case {
            name: name.to_owned(),
            kind,
            target: target.to_owned(),
            args: Vec::new(),
            status,
            expect: expect.to_vec(),
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

    /// Attaches the case's disks as IDE drives, on the PC (the one board with IDE).
    fn on_ide(mut self) -> Self {
        for disk in &mut self.disks {
            disk.bus = Bus::Ide;
        }
        self.only_on(Board::QemuPc)
    }

    /// The `clock` example, whose wall clock must read the host's time.
    fn clock(name: &str) -> Self {
        let mut case = Case::new(name, TargetKind::Example, "clock", 0, &["unix time: "]);
        case.wall_clock = true;
        case
    }

    /// Boots with `nic` on user networking, forwarding `forwards`; `host` runs once the
    /// guest printed `ready`.
    fn net(mut self, nic: Nic, forwards: &str, ready: &'static str, host: HostPeer) -> Self {
        self.net = Some(NetCase {
            nic,
            forwards: Forward::parse_list(forwards).unwrap_or_default(),
            ready,
            host,
            private: false,
        });
        self
    }

    /// Moves the case's network into a private namespace of its own (see `netns`).
    fn in_namespace(mut self) -> Self {
        if let Some(net) = &mut self.net {
            net.private = true;
        }
        self
    }

    /// A case of the `net` suite with `nic` on `cpus` cores.
    fn net_suite(name: &str, nic: Nic, cpus: u32) -> Self {
        Case::new(name, TargetKind::Test, "net", 0, &[ALL_PASSED])
            .smp(cpus)
            .net(nic, "tcp:7,tcp:8,udp:7", "net ready: ", NET_SUITE)
    }

    /// A case of the `disk` suite on `cpus` cores with two disks (2 MiB and 512 KiB), whose
    /// sizes it learns from its `sectors=` argument.
    fn disk_suite(name: &str, cpus: u32) -> Self {
        let specs = [DiskSpec::new(4096, 1), DiskSpec::new(1024, 2)];
        let sizes: Vec<String> = specs.iter().map(|disk| disk.sectors.to_string()).collect();
        let mut case = Case::new(name, TargetKind::Test, "disk", 0, &[ALL_PASSED]).smp(cpus);
        case.args = vec![format!("sectors={}", sizes.join(","))];
        case.disks = specs
            .into_iter()
            .map(|spec| CaseDisk {
                image: CaseImage::Pattern(spec),
                bus: Bus::Virtio,
                failing: None,
            })
            .collect();
        case.after = Some(check_pattern_disks);
        case.default = DISK_CASES_BY_DEFAULT;
        case
    }

    /// A case of the `fs` suite on `cpus` cores with one FAT disk of `bytes` (of type `fat`
    /// where given) on `bus`, holding the host's files; checked afterwards with fsck.fat and
    /// mtools.
    fn fs_suite(name: &str, cpus: u32, bus: Bus, bytes: u64, fat: Option<FatType>) -> Self {
        let mut case = Case::new(name, TargetKind::Test, "fs", 0, &[ALL_PASSED]).smp(cpus);
        case.disks = vec![CaseDisk {
            image: CaseImage::Fat {
                format: Format {
                    bytes,
                    layout: Layout::WholeDisk,
                    fat,
                },
                fill: Some(fs_suite::fill),
            },
            bus,
            failing: None,
        }];
        case.after = Some(fs_suite::check);
        case.default = FS_CASES_BY_DEFAULT;
        case
    }

    /// The web server on `nic` and `cpus` cores, serving `root=/site` of a FAT volume
    /// `http_check` laid out, whose disk fails on one file's sector; `http_check` checks it
    /// through port 80, and its access log afterwards (one line per answer at `log=info`,
    /// none at `log=warn`). The server runs until probe stops it.
    fn web(name: &str, nic: Nic, cpus: u32, level: &str) -> Self {
        let logged = level == "log=info";
        let expect: &[&'static str] = if logged {
            &[http_check::DONE_TARGET]
        } else {
            &[]
        };
        let mut case = Case::new(name, TargetKind::Bin, "webserver", 0, expect)
            .smp(cpus)
            .args(&["root=/site", "request_timeout=1", level])
            .net(nic, "tcp:80", WEB_READY, HTTP_CHECK)
            .halting();
        // A debug build sends the 16 MiB file at a few hundred KiB/s under TCG.
        case.min_timeout = Some(WEB_TIMEOUT);
        case.disks = vec![CaseDisk {
            image: CaseImage::Fat {
                format: Format {
                    bytes: 32 << 20,
                    layout: Layout::WholeDisk,
                    fat: None,
                },
                fill: Some(http_check::fill_volume),
            },
            bus: Bus::Virtio,
            failing: Some(http_check::BROKEN),
        }];
        case.after = Some(http_check::after_run);
        case
    }

    fn args(mut self, args: &[&str]) -> Self {
        self.args = args.iter().map(|arg| (*arg).to_owned()).collect();
        self
    }

    fn smp(mut self, cpus: u32) -> Self {
        self.smp = Some(cpus);
        self
    }

    /// Boots without QEMU's `isa-debug-exit`: the guest must end the machine another way
    /// and print its status as the console's last line.
    fn without_exit_device(mut self) -> Self {
        self.variant.exit_device = false;
        self
    }

    /// Boots with `-m size` instead of the suite's memory size.
    fn mem(mut self, size: &str) -> Self {
        self.mem = Some(size.to_owned());
        self
    }

    /// QEMU arguments after probe's own (a later `-M` merges into the board's; a later
    /// `-smp` or `-append` replaces probe's), for a machine probe's options do not make.
    fn qemu(mut self, args: &[&str]) -> Self {
        self.variant
            .extra_args
            .extend(args.iter().map(|arg| (*arg).to_owned()));
        self
    }

    /// Attaches `count` disks of QEMU's null driver (reading zeros, no image file) on
    /// `device`, disk *i* of `64 KiB × (i + 1)`, so that each is told by its size.
    fn null_disks(self, device: &str, count: u64) -> Self {
        self.null_disks_at(count, |_| device.to_owned())
    }

    /// As `null_disks`, as IDE drives: master, slave of the primary channel, then of the
    /// secondary.
    fn null_ide_disks(self, count: u64) -> Self {
        self.null_disks_at(count, |i| {
            format!("ide-hd,bus=ide.{},unit={}", i / 2, i % 2)
        })
    }

    /// Attaches `count` null disks, disk *i* with the `-device` value `device(i)`.
    fn null_disks_at(mut self, count: u64, device: impl Fn(u64) -> String) -> Self {
        for i in 0..count {
            let device = device(i);
            self.variant.extra_args.extend([
                "-blockdev".to_owned(),
                format!(
                    "driver=null-co,node-name=n{i},size={},read-zeroes=on",
                    65536 * (i + 1)
                ),
                "-device".to_owned(),
                format!("{device},drive=n{i}"),
            ]);
        }
        self
    }

    /// Boots a BIOS disk image of the build (PC builds only) from the first disk on `bus`,
    /// spoiled as `damage` says.
    fn boot_disk(mut self, bus: Bus, damage: Option<Damage>) -> Self {
        self.variant.boot = Boot::Disk(bus, damage);
        self.only_on(Board::QemuPc)
    }

    /// The guest halts, printing every expected string first (see [`Case::halts`]).
    fn halting(mut self) -> Self {
        self.halts = true;
        self
    }

    /// Runs the case on `board`'s build only.
    fn only_on(mut self, board: Board) -> Self {
        self.board = Some(board);
        self
    }

    /// Boots a copy of the image whose board note names `board`.
    fn with_board_note(mut self, board: Board) -> Self {
        self.board_note = Some(board);
        self
    }

    /// Whether the case runs on `board`'s build.
    pub(crate) fn runs_on(&self, board: Board) -> bool {
        self.board.is_none_or(|only| only == board)
    }

    /// Spoils `sector` of disk `disk`'s host pattern after it is written.
    fn altered_sector(mut self, disk: usize, sector: u64) -> Self {
        if let Some(CaseDisk {
            image: CaseImage::Pattern(spec),
            ..
        }) = self.disks.get_mut(disk)
        {
            spec.altered = Some(sector);
        }
        self
    }

    /// The pattern images among the case's disks.
    pub(crate) fn pattern_specs(&self) -> Vec<DiskSpec> {
        self.disks
            .iter()
            .filter_map(|disk| match &disk.image {
                CaseImage::Pattern(spec) => Some(spec.clone()),
                CaseImage::Fat { .. } => None,
            })
            .collect()
    }

    fn not_by_default(mut self) -> Self {
        self.default = false;
        self
    }

    /// What the case needs on the host that is missing: the files its QEMU arguments name
    /// (firmware given with `-bios`), each with the Debian package that has it.
    pub(crate) fn missing(&self) -> Vec<String> {
        self.variant
            .extra_args
            .windows(2)
            .filter(|pair| pair[0] == "-bios" && !Path::new(&pair[1]).exists())
            .map(|pair| match pair[1].as_str() {
                SEABIOS_MICROVM => format!(
                    "{SEABIOS_MICROVM} is missing: install Debian's seabios package \
                     (apt-get install seabios)"
                ),
                other => format!("the firmware {other} is missing"),
            })
            .collect()
    }

    /// Whether this case runs on `board` under the given `--only` filter.
    pub(crate) fn selected_on(&self, board: Board, only: Option<&str>) -> bool {
        self.runs_on(board) && self.selected(only)
    }

    /// Whether this case runs under the given `--only` filter.
    pub(crate) fn selected(&self, only: Option<&str>) -> bool {
        match only {
            Some(filter) => self.name.contains(filter),
            None => self.default,
        }
    }
}

/// The check after a `disk` suite case: the guest's writes reached the images and nothing
/// else changed.
fn check_pattern_disks(run: &AfterRun<'_>) -> Vec<String> {
    check_images(
        &run.case.pattern_specs(),
        run.images,
        &suite_writes(run.smp),
    )
}

/// The cases that do not depend on what the build found.
fn fixed_cases() -> Vec<Case> {
    use TargetKind::{Bin, Example, Test};
    vec![
        Case::new("hello", Bin, "hello", 0, &["Hello from Novillo"]),
        // The board counts the cores the firmware lists (MP table or ACPI MADT).
        Case::new("hello-smp4", Bin, "hello", 0, &["cores:  4\n"]).smp(4),
        Case::new(
            "panic",
            Example,
            "panic",
            101,
            &["panicked at", "apps/examples/panic.rs"],
        ),
        Case::new(
            "fault-ud2",
            Example,
            "fault",
            102,
            &["invalid opcode", "RIP"],
        )
        .args(&["ud2"]),
        Case::new("fault-pf", Example, "fault", 102, &["page fault", "CR2"]).args(&["pf"]),
        // A thread's fault three calls deep: probe names each call of the backtrace.
        Case::new(
            "fault-deep",
            Example,
            "fault",
            0,
            &[
                "thread 'deep' on core 0 ended by a CPU exception 14 (page fault)",
                "backtrace:\n",
                " fault::read_null at apps/examples/fault.rs:",
                " fault::third at apps/examples/fault.rs:",
                " fault::second at apps/examples/fault.rs:",
                " fault::first at apps/examples/fault.rs:",
                "join: Ok(Err(Fault { vector: 14,",
            ],
        )
        .args(&["deep"]),
        // Without QEMU's exit device the guest turns the machine off (ACPI S5 on the PC)
        // or resets it (i8042, else a triple fault: microvm with ACPI off has neither S5
        // nor an i8042), and its status travels on the console's last line.
        Case::new(
            "no-exit-device",
            Bin,
            "hello",
            0,
            &["Hello from Novillo", "novillo: exit status 0\n"],
        )
        .without_exit_device(),
        Case::new(
            "no-exit-device-panic",
            Example,
            "panic",
            101,
            &["panicked at", "novillo: exit status 101\n"],
        )
        .without_exit_device(),
        // ACPI S5 proper: a reset now reboots the guest (`-action reboot=reset` overrides
        // `-no-reboot`), so only a power-off ends the run in time. On microvm with ACPI on,
        // through the generic event device's sleep register; on the PC, through PM1a.
        Case::new(
            "no-exit-device-acpi",
            Bin,
            "hello",
            0,
            &["Hello from Novillo", "novillo: exit status 0\n"],
        )
        .without_exit_device()
        .qemu(&["-M", "microvm,acpi=on", "-action", "reboot=reset"])
        .only_on(Board::Microvm),
        Case::new(
            "no-exit-device-s5",
            Bin,
            "hello",
            0,
            &["Hello from Novillo", "novillo: exit status 0\n"],
        )
        .without_exit_device()
        .qemu(&["-action", "reboot=reset"])
        .only_on(Board::QemuPc),
        // A PC without ACPI: the i8042 resets it.
        Case::new(
            "no-exit-device-i8042",
            Bin,
            "hello",
            0,
            &["Hello from Novillo", "novillo: exit status 0\n"],
        )
        .without_exit_device()
        .qemu(&["-M", "pc,acpi=off"])
        .only_on(Board::QemuPc),
        // A PC image whose note says microvm: QEMU's microvm loads it through Multiboot,
        // and the board must notice the machine is no PC rather than run on it.
        Case::new(
            "lying-board-note",
            Bin,
            "hello",
            1,
            &[
                "qemu-pc: this image is built for a PC",
                "--features bsp-microvm",
            ],
        )
        .with_board_note(Board::Microvm)
        .only_on(Board::QemuPc),
        // Failures with the whole heap used up are still reported: the report needs no heap.
        Case::new(
            "oom-main-panic",
            Example,
            "oom",
            101,
            &[
                "used up the heap",
                "thread 'main' panicked at",
                "apps/examples/oom.rs",
                "the heap is used up",
            ],
        )
        .args(&["main-panic"]),
        Case::new(
            "oom-main-alloc",
            Example,
            "oom",
            101,
            &[
                "used up the heap",
                "thread 'main' ran out of memory: an allocation of 4096 bytes failed",
            ],
        )
        .args(&["main-alloc"]),
        Case::new(
            "oom-thread-panic",
            Example,
            "oom",
            0,
            &[
                "thread 'hog' panicked at",
                "the heap is used up",
                "main goes on after the thread failed",
            ],
        )
        .args(&["thread-panic"]),
        Case::new(
            "oom-thread-alloc",
            Example,
            "oom",
            0,
            &[
                "thread 'hog' ran out of memory: an allocation of 4096 bytes failed",
                "join gave the error: out of memory: an allocation of 4096 bytes failed",
                "main goes on after the thread failed",
            ],
        )
        .args(&["thread-alloc"]),
        // Too little memory, in each band that used to hang or reset: the RAM ends inside
        // the image (reset), leaves no heap (page-fault loop), leaves too small a heap
        // (allocation panic); and enough for one core but not for four. The sizes fit the
        // debug `hello` these cases boot (its image ends near 1.4 MiB; it needs about
        // 2.0 MiB on one core and 2.5 MiB on four, and the PC's firmware keeps 128 KiB).
        Case::new(
            "mem-inside-image",
            Bin,
            "hello",
            103,
            &[NOT_ENOUGH_MEMORY, "KiB (with 1 core"],
        )
        .mem("1100K"),
        Case::new("mem-no-heap", Bin, "hello", 103, &[NOT_ENOUGH_MEMORY]).mem("1500K"),
        Case::new("mem-small-heap", Bin, "hello", 103, &[NOT_ENOUGH_MEMORY]).mem("1800K"),
        Case::new(
            "mem-smp4",
            Bin,
            "hello",
            103,
            &[NOT_ENOUGH_MEMORY, "KiB (with 4 cores)"],
        )
        .mem("2400K")
        .smp(4),
        // A small machine above the minimum boots.
        Case::new("mem-3m", Bin, "hello", 0, &["Hello from Novillo"]).mem("3M"),
        // SeaBIOS's microvm firmware (QEMU 10's default with ACPI on) leaves the PVH
        // memory map in page 0; the cores come from the MADT. SeaBIOS boots PVH through
        // QEMU's `pvh.bin` option ROM, which the board's usual machine leaves out.
        Case::new("seabios-acpi-smp4", Bin, "hello", 0, &["cores:  4\n"])
            .smp(4)
            .qemu(&[
                "-bios",
                SEABIOS_MICROVM,
                "-M",
                "microvm,acpi=on,x-option-roms=on",
            ])
            .only_on(Board::Microvm),
        // Limits the guest meets are said, not met silently. probe refuses to make these
        // machines itself, so QEMU's later `-smp` and `-append` override its own.
        Case::new(
            "warns-too-many-cores",
            Bin,
            "hello",
            0,
            &[
                ": warning: 80 cores found, running on 64: the kernel supports at most 64\n",
                "cores:  64\n",
            ],
        )
        .qemu(&["-smp", "80"]),
        Case::new(
            "warns-cut-command-line",
            Bin,
            "hello",
            0,
            &[
                ": warning: command line cut at 4096 bytes: the loader passed ",
                "Hello from Novillo",
            ],
        )
        .qemu(&["-append", &"a".repeat(5000)]),
        Case::new(
            "warns-bad-tsc-hint",
            Bin,
            "hello",
            0,
            &[
                ": warning: ignoring tsc_khz=0: not a whole number from 1000 to 100000000 (kHz)",
                "Hello from Novillo",
            ],
        )
        .qemu(&["-append", "tsc_khz=0"]),
        Case::new(
            "warns-bad-time-hint",
            Example,
            "clock",
            0,
            &[
                ": warning: ignoring time=soon: not a whole number of Unix seconds",
                "unix time: ",
            ],
        )
        .qemu(&["-append", "time=soon"]),
        // The wall clock: from probe's `time=` on both boards, from the CMOS RTC on a PC
        // without it; without either (microvm), from the epoch at boot, with a warning.
        Case::clock("clock"),
        Case::clock("clock-rtc")
            .qemu(&["-append", ""])
            .only_on(Board::QemuPc),
        Case::new(
            "clock-without-source",
            Example,
            "clock",
            0,
            &[
                ": no wall clock (no time= on the command line, no RTC)",
                "utc: 1970-01-01T00:00:0",
            ],
        )
        .qemu(&["-append", ""])
        .only_on(Board::Microvm),
        // Fails one check on purpose, so probe's own test can prove the suite can fail.
        // Device discovery: the PC's PCI scan listed at log=debug, virtio-blk on MSI-X
        // (its own edge line each) and, with QEMU's MSI-X vectors taken away, on INTx
        // through the I/O APIC, lines shared by two disks and spread over the cores; on
        // microvm, the slots QEMU names on the command line (cut off before the
        // application's arguments) or, with ACPI on, the probed slots behind the second I/O
        // APIC. The disks read zeros (QEMU's null block driver): no image file needed.
        Case::new(
            "disks-pci",
            Example,
            "disks",
            0,
            &[
                "pci 00:00.0 8086:1237 class 06.00 host bridge",
                "pci 00:02.0 1af4:1001 class 01.00 pin A line 10 virtio-blk",
                "pci 00:02.0: virtio-blk on intx",
                "disk 0: virtio-blk 00:02.0, 128 sectors, read ok",
                "line 1 on core 1",
                "disk 3: virtio-blk 00:05.0, 512 sectors, read ok",
            ],
        )
        .args(&["log=debug"])
        .smp(2)
        .qemu(&["-global", "virtio-blk-pci.vectors=0"])
        .null_disks("virtio-blk-pci", 4)
        .only_on(Board::QemuPc),
        Case::new(
            "disks-msix",
            Example,
            "disks",
            0,
            &[
                "pci 00:02.0: virtio-blk on msi-x",
                "disk 0: virtio-blk 00:02.0, 128 sectors, read ok",
                "pci 00:05.0: virtio-blk on msi-x",
                "line 3 on core 1",
                "disk 3: virtio-blk 00:05.0, 512 sectors, read ok",
            ],
        )
        .args(&["log=debug"])
        .smp(2)
        .null_disks("virtio-blk-pci", 4)
        .only_on(Board::QemuPc),
        // IDE drives on both channels, each found by IDENTIFY, on ISA IRQs 14 and 15.
        Case::new(
            "disks-ide",
            Example,
            "disks",
            0,
            &[
                "disk 0: ide 0.0, 128 sectors, read ok",
                "disk 1: ide 0.1, 256 sectors, read ok",
                "disk 2: ide 1.0, 384 sectors, read ok",
            ],
        )
        .null_ide_disks(3)
        .only_on(Board::QemuPc),
        Case::new(
            "disks-mmio",
            Example,
            "disks",
            0,
            &[
                "arguments: a b\n",
                "disk 0: virtio-blk mmio 0xfeb00e00, 128 sectors, read ok",
                "disk 1: virtio-blk mmio 0xfeb00c00, 256 sectors, read ok",
            ],
        )
        .args(&["--", "a", "b"])
        .null_disks("virtio-blk-device", 2)
        .only_on(Board::Microvm),
        Case::new(
            "disks-mmio-acpi",
            Example,
            "disks",
            0,
            &[
                "arguments:\n",
                "disk 0: virtio-blk mmio 0xfeb02e00, 128 sectors, read ok",
                "disk 1: virtio-blk mmio 0xfeb02c00, 256 sectors, read ok",
            ],
        )
        .null_disks("virtio-blk-device", 2)
        .qemu(&["-M", "microvm,acpi=on"])
        .only_on(Board::Microvm),
        // The PC board from its own BIOS disk image (`probe image`): SeaBIOS boots it from
        // an IDE disk, a virtio-blk disk, and q35's AHCI disk; the image path on a large
        // machine (the RAM above 4 GiB in the E820 map, ignored by the heap); and the
        // loader's own errors on damaged images, after which it halts.
        Case::new("image-ide", Bin, "hello", 0, &["Hello from Novillo"]).boot_disk(Bus::Ide, None),
        Case::new("image-virtio", Bin, "hello", 0, &["Hello from Novillo"])
            .boot_disk(Bus::Virtio, None),
        Case::new("image-q35", Bin, "hello", 0, &["Hello from Novillo"])
            .boot_disk(Bus::Ide, None)
            .qemu(&["-M", "q35"]),
        Case::new("image-threads-ide", Test, "threads", 0, &[ALL_PASSED])
            .boot_disk(Bus::Ide, None)
            .smp(2),
        Case::new("image-threads-virtio", Test, "threads", 0, &[ALL_PASSED])
            .boot_disk(Bus::Virtio, None)
            .smp(2),
        Case::new("image-threads-q35", Test, "threads", 0, &[ALL_PASSED])
            .boot_disk(Bus::Ide, None)
            .smp(2)
            .qemu(&["-M", "q35"]),
        Case::new(
            "image-6g-smp8",
            Bin,
            "hello",
            0,
            &["cores:  8\n", "memory: 6"],
        )
        .boot_disk(Bus::Ide, None)
        .mem("6G")
        .smp(8),
        Case::new(
            "image-damaged-kernel",
            Bin,
            "hello",
            0,
            &["novillo loader: kernel checksum mismatch"],
        )
        .boot_disk(Bus::Ide, Some(Damage::KernelSector))
        .halting(),
        Case::new(
            "image-truncated",
            Bin,
            "hello",
            0,
            &["novillo loader: disk read error"],
        )
        .boot_disk(Bus::Ide, Some(Damage::Truncated))
        .halting(),
        Case::new("failing-on-purpose", Example, "failing", 0, &[ALL_PASSED]).not_by_default(),
        // Sectors read back byte for byte from threads on every core, writes that reach the
        // image files, refused requests, two disks at once.
        Case::disk_suite("disk", 1),
        Case::disk_suite("disk-smp4", 4),
        // The same on the PC's IDE channel: both disks on the primary, master and slave.
        Case::disk_suite("disk-ide", 1).on_ide(),
        Case::disk_suite("disk-ide-smp4", 4).on_ide(),
        // One sector of disk 0's host pattern spoiled: the guest's read-back and probe's
        // check of the image afterwards must both fail it.
        Case::disk_suite("corrupt-image-on-purpose", 1)
            .altered_sector(0, 1000)
            .not_by_default(),
        // The NIC drivers without a network stack: the `nic` example answers ARP and
        // echoes UDP frame by frame; the host sends datagrams through the forwarded port
        // and checks each echo byte for byte.
        Case::new("nic-virtio", Example, "nic", 0, &[NIC_DONE]).net(
            Nic::Virtio,
            "udp:7",
            NIC_READY,
            UDP_ECHO,
        ),
        Case::new("nic-virtio-smp4", Example, "nic", 0, &[NIC_DONE])
            .smp(4)
            .net(Nic::Virtio, "udp:7", NIC_READY, UDP_ECHO),
        Case::new("nic-e1000", Example, "nic", 0, &[NIC_DONE])
            .net(Nic::E1000, "udp:7", NIC_READY, UDP_ECHO)
            .only_on(Board::QemuPc),
        Case::new("nic-e1000-smp4", Example, "nic", 0, &[NIC_DONE])
            .smp(4)
            .net(Nic::E1000, "udp:7", NIC_READY, UDP_ECHO)
            .only_on(Board::QemuPc),
        // Files from threads on every core, checked from outside by fsck.fat and mtools, on
        // each FAT type and each bus a board has.
        Case::fs_suite("fs", 1, Bus::Virtio, 32 << 20, None),
        Case::fs_suite("fs-smp4", 4, Bus::Virtio, 64 << 20, Some(FatType::Fat32)),
        Case::fs_suite("fs-ide", 1, Bus::Ide, 4 << 20, Some(FatType::Fat12)).only_on(Board::QemuPc),
        Case::fs_suite("fs-ide-smp4", 4, Bus::Ide, 64 << 20, Some(FatType::Fat32))
            .only_on(Board::QemuPc),
        // TCP/IP through kernel::net: DHCP, TCP and UDP echo checked by the host, and a
        // connection from the guest to a server on the host.
        Case::net_suite("net-virtio", Nic::Virtio, 1),
        Case::net_suite("net-virtio-smp4", Nic::Virtio, 4),
        Case::net_suite("net-e1000", Nic::E1000, 1).only_on(Board::QemuPc),
        Case::net_suite("net-e1000-smp4", Nic::E1000, 4).only_on(Board::QemuPc),
        // The web server from outside: every status, headers, bodies byte for byte (16 MiB
        // too), pipelining, ranges, traversal attempts, a disk error, the access log.
        Case::web("web-virtio-smp2", Nic::Virtio, 2, "log=info"),
        Case::web("web-e1000", Nic::E1000, 1, "log=warn").only_on(Board::QemuPc),
        // DNS against a name server the host-side peer starts on port 53, which only a
        // private namespace has free for us.
        Case::new("net-dns", TargetKind::Test, "dns", 0, &[ALL_PASSED])
            .net(Nic::Virtio, "tcp:8", "dns ready: ", DNS_SUITE)
            .in_namespace(),
    ]
}

/// The web server cases' least timeout.
const WEB_TIMEOUT: Duration = Duration::from_secs(300);

/// What the web server prints once it listens, with its address.
const WEB_READY: &str = "webserver: serving ";

/// The web server's host-side peer.
const HTTP_CHECK: HostPeer = HostPeer {
    name: "http_check",
    run: http_check::guest_peer,
};

/// The `dns` suite's host-side peer.
const DNS_SUITE: HostPeer = HostPeer {
    name: "dns_suite",
    run: hostnet::dns_suite,
};

/// The `net` suite's host-side peer.
const NET_SUITE: HostPeer = HostPeer {
    name: "net_suite",
    run: hostnet::net_suite,
};

/// What the `nic` example prints once it listens, and when the peer said `bye` (the count
/// varies: the peer sends a datagram again when its echo is late).
const NIC_READY: &str = "nic ready: ";
const NIC_DONE: &str = "nic done: ";

/// The `nic` example's host-side peer.
const UDP_ECHO: HostPeer = HostPeer {
    name: "udp_echo",
    run: hostnet::udp_echo,
};

/// All cases for one board's build: the fixed ones, then one per integration test built.
pub(crate) fn cases(artifacts: &[Artifact]) -> Vec<Case> {
    let mut cases = fixed_cases();
    let mut suites: Vec<&str> = artifacts
        .iter()
        .filter(|artifact| artifact.kind == TargetKind::Test)
        .map(|artifact| artifact.name.as_str())
        .filter(|name| !SUITES_WITH_OWN_CASES.contains(name))
        .collect();
    suites.sort_unstable();
    suites.dedup();
    // Every suite runs on one core and on four, where threads meet across cores.
    for suite in suites {
        cases.push(Case::new(
            &format!("tests::{suite}"),
            TargetKind::Test,
            suite,
            0,
            &[ALL_PASSED],
        ));
        cases.push(
            Case::new(
                &format!("tests::{suite}::smp4"),
                TargetKind::Test,
                suite,
                0,
                &[ALL_PASSED],
            )
            .smp(4),
        );
    }
    cases
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::{
        Case, CaseImage, DISK_CASES_BY_DEFAULT, FS_CASES_BY_DEFAULT, SEABIOS_MICROVM, cases,
    };
    use crate::board::Board;
    use crate::cargo::{Artifact, TargetKind};
    use crate::disk::{Bus, DiskSpec};
    use crate::fat::Format;
    use crate::net::{Forward, Nic};
    use crate::qemu::Boot;

    fn artifact(kind: TargetKind, name: &str) -> Artifact {
        Artifact {
            kind,
            name: name.to_owned(),
            executable: PathBuf::from(format!("/t/{name}")),
        }
    }

    #[test]
    fn each_integration_test_is_a_case() {
        let built = [
            artifact(TargetKind::Test, "timers"),
            artifact(TargetKind::Bin, "hello"),
            artifact(TargetKind::Test, "alloc"),
            artifact(TargetKind::Test, "disk"),
            artifact(TargetKind::Test, "net"),
        ];
        let names: Vec<_> = cases(&built).into_iter().map(|case| case.name).collect();
        assert_eq!(
            names,
            [
                "hello",
                "hello-smp4",
                "panic",
                "fault-ud2",
                "fault-pf",
                "fault-deep",
                "no-exit-device",
                "no-exit-device-panic",
                "no-exit-device-acpi",
                "no-exit-device-s5",
                "no-exit-device-i8042",
                "lying-board-note",
                "oom-main-panic",
                "oom-main-alloc",
                "oom-thread-panic",
                "oom-thread-alloc",
                "mem-inside-image",
                "mem-no-heap",
                "mem-small-heap",
                "mem-smp4",
                "mem-3m",
                "seabios-acpi-smp4",
                "warns-too-many-cores",
                "warns-cut-command-line",
                "warns-bad-tsc-hint",
                "warns-bad-time-hint",
                "clock",
                "clock-rtc",
                "clock-without-source",
                "disks-pci",
                "disks-msix",
                "disks-ide",
                "disks-mmio",
                "disks-mmio-acpi",
                "image-ide",
                "image-virtio",
                "image-q35",
                "image-threads-ide",
                "image-threads-virtio",
                "image-threads-q35",
                "image-6g-smp8",
                "image-damaged-kernel",
                "image-truncated",
                "failing-on-purpose",
                "disk",
                "disk-smp4",
                "disk-ide",
                "disk-ide-smp4",
                "corrupt-image-on-purpose",
                "nic-virtio",
                "nic-virtio-smp4",
                "nic-e1000",
                "nic-e1000-smp4",
                "fs",
                "fs-smp4",
                "fs-ide",
                "fs-ide-smp4",
                "net-virtio",
                "net-virtio-smp4",
                "net-e1000",
                "net-e1000-smp4",
                "web-virtio-smp2",
                "web-e1000",
                "net-dns",
                "tests::alloc",
                "tests::alloc::smp4",
                "tests::timers",
                "tests::timers::smp4"
            ]
        );
    }

    #[test]
    fn only_selects_by_substring_and_reaches_hidden_cases() {
        let all = cases(&[]);
        let default: Vec<_> = all.iter().filter(|case| case.selected(None)).collect();
        assert_eq!(
            default.len(),
            54 + 4 * usize::from(DISK_CASES_BY_DEFAULT) + 4 * usize::from(FS_CASES_BY_DEFAULT)
        );
        let faults: Vec<_> = all
            .iter()
            .filter(|case| case.selected(Some("fault")))
            .collect();
        assert_eq!(faults.len(), 3);
        assert!(
            all.iter()
                .any(|case| case.selected(Some("failing-on-purpose")))
        );
    }

    #[test]
    fn cases_without_the_exit_device_run_where_they_can() {
        let all = cases(&[]);
        let without: Vec<_> = all
            .iter()
            .filter(|case| !case.variant.exit_device)
            .collect();
        assert_eq!(without.len(), 5);
        let acpi = without
            .iter()
            .find(|case| case.name == "no-exit-device-acpi")
            .unwrap();
        assert_eq!(
            acpi.variant.extra_args,
            ["-M", "microvm,acpi=on", "-action", "reboot=reset"]
        );
        assert!(acpi.runs_on(Board::Microvm) && !acpi.runs_on(Board::QemuPc));
        assert!(without[0].runs_on(Board::Microvm) && without[0].runs_on(Board::QemuPc));
    }

    #[test]
    fn a_case_for_one_board_runs_only_there() {
        let all = cases(&[]);
        let seabios = all
            .iter()
            .find(|case| case.name == "seabios-acpi-smp4")
            .expect("the SeaBIOS case exists");
        assert!(seabios.selected_on(Board::Microvm, None));
        assert!(!seabios.selected_on(Board::QemuPc, None));
        assert!(!seabios.selected_on(Board::QemuPc, Some("seabios")));
        let hello = &all[0];
        assert!(hello.selected_on(Board::QemuPc, None));
        assert_eq!(
            seabios.variant.extra_args,
            [
                "-bios",
                SEABIOS_MICROVM,
                "-M",
                "microvm,acpi=on,x-option-roms=on"
            ]
        );
    }

    #[test]
    fn disk_image_cases_boot_the_pc_build_from_its_image() {
        let all = cases(&[]);
        let images: Vec<_> = all
            .iter()
            .filter(|case| case.variant.boot != Boot::Kernel)
            .collect();
        assert_eq!(images.len(), 9);
        for case in &images {
            assert!(case.runs_on(Board::QemuPc) && !case.runs_on(Board::Microvm));
            assert!(case.name.starts_with("image-"), "{}", case.name);
        }
        let halting: Vec<_> = images.iter().filter(|case| case.halts).collect();
        assert_eq!(halting.len(), 2);
        assert!(
            halting
                .iter()
                .all(|case| case.expect[0].starts_with("novillo loader: "))
        );
        let big = images
            .iter()
            .find(|case| case.name == "image-6g-smp8")
            .unwrap();
        assert_eq!((big.mem.as_deref(), big.smp), (Some("6G"), Some(8)));
    }

    #[test]
    fn missing_firmware_is_named_with_its_package() {
        let case = Case::new("x", TargetKind::Bin, "hello", 0, &[]).qemu(&[
            "-bios",
            "/nonexistent/bios.bin",
            "-M",
            "microvm,acpi=on",
        ]);
        assert_eq!(
            case.missing(),
            ["the firmware /nonexistent/bios.bin is missing"]
        );
        let present = Case::new("x", TargetKind::Bin, "hello", 0, &[]).qemu(&["-bios", "/"]);
        assert!(present.missing().is_empty());
        let mem = Case::new("x", TargetKind::Bin, "hello", 0, &[]).mem("2M");
        assert_eq!(mem.mem.as_deref(), Some("2M"));
    }

    #[test]
    fn the_disk_suite_gets_its_disks_and_their_sizes() {
        let all = cases(&[artifact(TargetKind::Test, "disk")]);
        let disk: Vec<_> = all.iter().filter(|case| case.target == "disk").collect();
        assert_eq!(disk.len(), 5);
        for case in &disk {
            assert_eq!(case.kind, TargetKind::Test);
            assert_eq!(case.args, ["sectors=4096,1024"]);
            assert_eq!(case.pattern_specs()[1], DiskSpec::new(1024, 2));
            assert!(case.after.is_some());
            let ide = case.disks.iter().all(|disk| disk.bus == Bus::Ide);
            assert!(ide || case.disks.iter().all(|disk| disk.bus == Bus::Virtio));
            assert_eq!(ide, case.name.contains("ide"), "{}", case.name);
            assert!(case.runs_on(Board::Microvm) != ide && case.runs_on(Board::QemuPc));
        }
        assert_eq!(disk[0].pattern_specs()[0], DiskSpec::new(4096, 1));
        assert_eq!((disk[0].smp, disk[1].smp), (Some(1), Some(4)));
        assert_eq!(disk[0].default, DISK_CASES_BY_DEFAULT);
        assert!(disk[1].selected(Some("disk")));
        assert_eq!((disk[2].smp, disk[3].smp), (Some(1), Some(4)));
        let corrupt = disk[4];
        assert_eq!(corrupt.name, "corrupt-image-on-purpose");
        assert_eq!(corrupt.pattern_specs()[0].altered, Some(1000));
        assert!(!corrupt.selected(None) && !corrupt.selected(Some("disk")));
        let plain: Vec<_> = all.iter().filter(|case| case.disks.is_empty()).collect();
        assert_eq!(plain.len(), all.len() - 5 - 4 - 2);
    }

    #[test]
    fn the_fs_suite_runs_on_every_bus_with_one_fat_disk_and_a_check() {
        let all = cases(&[artifact(TargetKind::Test, "fs")]);
        let fs: Vec<_> = all.iter().filter(|case| case.target == "fs").collect();
        let names: Vec<_> = fs.iter().map(|case| case.name.as_str()).collect();
        assert_eq!(names, ["fs", "fs-smp4", "fs-ide", "fs-ide-smp4"]);
        for case in &fs {
            assert_eq!(case.disks.len(), 1);
            assert!(case.after.is_some());
            assert_eq!(case.default, FS_CASES_BY_DEFAULT);
            assert!(matches!(
                case.disks[0].image,
                CaseImage::Fat { fill: Some(_), .. }
            ));
            assert!(case.runs_on(Board::QemuPc));
            // IDE only where there is an IDE controller.
            assert_eq!(
                case.runs_on(Board::Microvm),
                case.disks[0].bus == Bus::Virtio
            );
        }
        assert_eq!((fs[0].smp, fs[1].smp), (Some(1), Some(4)));
    }

    #[test]
    fn the_web_server_runs_on_every_nic_against_a_disk_that_fails_once() {
        let all = cases(&[]);
        let web: Vec<_> = all
            .iter()
            .filter(|case| case.target == "webserver")
            .collect();
        let names: Vec<_> = web.iter().map(|case| case.name.as_str()).collect();
        assert_eq!(names, ["web-virtio-smp2", "web-e1000"]);
        for case in &web {
            assert!(case.halts && case.default && case.after.is_some());
            let net = case.net.as_ref().unwrap();
            assert_eq!(net.host.name, "http_check");
            assert_eq!(net.ready, "webserver: serving ");
            assert_eq!(net.forwards, Forward::parse_list("tcp:80").unwrap());
            assert_eq!(case.args[..2], ["root=/site", "request_timeout=1"]);
            assert_eq!(case.disks.len(), 1);
            assert_eq!(case.disks[0].failing, Some(crate::http_check::BROKEN));
            assert!(matches!(
                case.disks[0].image,
                CaseImage::Fat {
                    fill: Some(_),
                    format: Format { bytes, .. }
                } if bytes > crate::http_check::LARGE_LEN as u64
            ));
        }
        assert_eq!(
            (web[0].smp, web[0].net.as_ref().unwrap().nic),
            (Some(2), Nic::Virtio)
        );
        assert!(web[0].runs_on(Board::Microvm) && web[0].runs_on(Board::QemuPc));
        assert_eq!(web[0].args[2], "log=info");
        assert_eq!(web[0].expect, [crate::http_check::DONE_TARGET]);
        assert_eq!(web[1].net.as_ref().unwrap().nic, Nic::E1000);
        assert!(!web[1].runs_on(Board::Microvm));
        assert_eq!(web[1].args[2], "log=warn");
        assert!(web[1].expect.is_empty());
        assert!(web.iter().all(|case| case.min_timeout.is_some()));
        assert!(all.iter().filter(|case| case.min_timeout.is_some()).count() == 2);
    }
}
