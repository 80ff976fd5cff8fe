//! The guest test cases: which image to boot, with which arguments, and what must happen.
//!
//! To add a case, add a row to `fixed_cases`; every integration test of `apps`
//! (`apps/tests/*.rs`) becomes a case on its own.

use crate::cargo::{Artifact, TargetKind};
use crate::qemu::MachineVariant;

/// What the guest harness prints at the end of a suite that passed.
const ALL_PASSED: &str = " passed, 0 failed";

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
        }
    }

    fn args(mut self, args: &[&str]) -> Self {
        self.args = args.iter().map(|arg| (*arg).to_owned()).collect();
        self
    }

    fn smp(mut self, cpus: u32) -> Self {
        self.smp = Some(cpus);
        self
    }

    /// QEMU arguments after probe's own, for a machine probe's options refuse to make.
    fn qemu(mut self, args: &[&str]) -> Self {
        self.variant
            .extra_args
            .extend(args.iter().map(|arg| (*arg).to_owned()));
        self
    }

    fn not_by_default(mut self) -> Self {
        self.default = false;
        self
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
        // Fails one check on purpose, so probe's own test can prove the suite can fail.
        Case::new("failing-on-purpose", Example, "failing", 0, &[ALL_PASSED]).not_by_default(),
    ]
}

/// All cases for one board's build: the fixed ones, then one per integration test built.
pub(crate) fn cases(artifacts: &[Artifact]) -> Vec<Case> {
    let mut cases = fixed_cases();
    let mut suites: Vec<&str> = artifacts
        .iter()
        .filter(|artifact| artifact.kind == TargetKind::Test)
        .map(|artifact| artifact.name.as_str())
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

    use super::cases;
    use crate::cargo::{Artifact, TargetKind};

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
                "warns-too-many-cores",
                "warns-cut-command-line",
                "warns-bad-tsc-hint",
                "failing-on-purpose",
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
        assert_eq!(default.len(), 8);
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
}
