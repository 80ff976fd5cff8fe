//! The guest test cases: which image to boot, with which arguments, and what must happen.
//!
//! To add a case, add a row to `fixed_cases`; every integration test of `apps`
//! (`apps/tests/*.rs`) becomes a case on its own, on one core and on four, unless it needs
//! more than a plain boot (disks): those are listed in `SUITES_WITH_OWN_CASES` and get
//! their cases in `fixed_cases`.

use std::path::Path;

use crate::board::Board;
use crate::cargo::{Artifact, TargetKind};
use crate::disk::DiskSpec;
use crate::qemu::MachineVariant;

/// What the guest harness prints at the end of a suite that passed.
const ALL_PASSED: &str = " passed, 0 failed";

/// What a board prints when the machine has too little memory (status 103).
const NOT_ENOUGH_MEMORY: &str = "not enough memory: the firmware reports RAM up to ";

/// Whether the `disk` suite's cases run without `--only`: both boards find virtio-blk
/// disks, so they do.
const DISK_CASES_BY_DEFAULT: bool = true;

/// The integration tests that do not become cases on their own: `fixed_cases` has theirs.
const SUITES_WITH_OWN_CASES: &[&str] = &["disk"];

/// SeaBIOS built for microvm, as Debian's `seabios` package installs it.
const SEABIOS_MICROVM: &str = "/usr/share/seabios/bios-microvm.bin";

/// One guest test case.
#[derive(Clone, Debug, PartialEq, Eq)]
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
    /// Raw images probe creates with the host pattern before the boot and attaches as
    /// virtio disks in order; after the run it checks them against what the `disk` suite
    /// writes (`disk::suite_writes`), so only that suite's cases have disks.
    pub(crate) disks: Vec<DiskSpec>,
    /// The guest prints `unix time: N` (`apps --example clock`), which must be the host's
    /// time during the boot, give or take `testing::WALL_CLOCK_SLACK`.
    pub(crate) wall_clock: bool,
}

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
            wall_clock: false,
        }
    }

    /// The `clock` example, whose wall clock must read the host's time.
    fn clock(name: &str) -> Self {
        let mut case = Case::new(name, TargetKind::Example, "clock", 0, &["unix time: "]);
        case.wall_clock = true;
        case
    }

    /// A case of the `disk` suite on `cpus` cores with two disks (2 MiB and 512 KiB), whose
    /// sizes it learns from its `sectors=` argument.
    fn disk_suite(name: &str, cpus: u32) -> Self {
        let disks = vec![DiskSpec::new(4096, 1), DiskSpec::new(1024, 2)];
        let sizes: Vec<String> = disks.iter().map(|disk| disk.sectors.to_string()).collect();
        let mut case = Case::new(name, TargetKind::Test, "disk", 0, &[ALL_PASSED]).smp(cpus);
        case.args = vec![format!("sectors={}", sizes.join(","))];
        case.disks = disks;
        case.default = DISK_CASES_BY_DEFAULT;
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
    fn null_disks(mut self, device: &str, count: u64) -> Self {
        for i in 0..count {
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
        if let Some(spec) = self.disks.get_mut(disk) {
            spec.altered = Some(sector);
        }
        self
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

/// The cases that do not depend on what the build found.
fn fixed_cases() -> Vec<Case> {
    use TargetKind::{Bin, Example};
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
        Case::new("failing-on-purpose", Example, "failing", 0, &[ALL_PASSED]).not_by_default(),
        // Sectors read back byte for byte from threads on every core, writes that reach the
        // image files, refused requests, two disks at once.
        Case::disk_suite("disk", 1),
        Case::disk_suite("disk-smp4", 4),
        // One sector of disk 0's host pattern spoiled: the guest's read-back and probe's
        // check of the image afterwards must both fail it.
        Case::disk_suite("corrupt-image-on-purpose", 1)
            .altered_sector(0, 1000)
            .not_by_default(),
    ]
}

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

    use super::{Case, DISK_CASES_BY_DEFAULT, SEABIOS_MICROVM, cases};
    use crate::board::Board;
    use crate::cargo::{Artifact, TargetKind};
    use crate::disk::DiskSpec;

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
                "disks-mmio",
                "disks-mmio-acpi",
                "failing-on-purpose",
                "disk",
                "disk-smp4",
                "corrupt-image-on-purpose",
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
        assert_eq!(default.len(), 31 + 2 * usize::from(DISK_CASES_BY_DEFAULT));
        let faults: Vec<_> = all
            .iter()
            .filter(|case| case.selected(Some("fault")))
            .collect();
        assert_eq!(faults.len(), 2);
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
        assert_eq!(disk.len(), 3);
        for case in &disk {
            assert_eq!(case.kind, TargetKind::Test);
            assert_eq!(case.args, ["sectors=4096,1024"]);
            assert_eq!(case.disks[1], DiskSpec::new(1024, 2));
            assert!(case.runs_on(Board::Microvm) && case.runs_on(Board::QemuPc));
        }
        assert_eq!(disk[0].disks[0], DiskSpec::new(4096, 1));
        assert_eq!((disk[0].smp, disk[1].smp), (Some(1), Some(4)));
        assert_eq!(disk[0].default, DISK_CASES_BY_DEFAULT);
        assert!(disk[1].selected(Some("disk")));
        let corrupt = disk[2];
        assert_eq!(corrupt.name, "corrupt-image-on-purpose");
        assert_eq!(corrupt.disks[0].altered, Some(1000));
        assert!(!corrupt.selected(None) && !corrupt.selected(Some("disk")));
        let plain: Vec<_> = all.iter().filter(|case| case.disks.is_empty()).collect();
        assert_eq!(plain.len(), all.len() - 3);
    }
}
