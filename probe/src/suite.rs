//! The guest test cases: which image to boot, with which arguments, and what must happen.
//!
//! To add a case, add a row to `fixed_cases`; every integration test of `apps`
//! (`apps/tests/*.rs`) becomes a case on its own.

use crate::cargo::{Artifact, TargetKind};

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
                "oom-main-panic",
                "oom-main-alloc",
                "oom-thread-panic",
                "oom-thread-alloc",
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
        assert_eq!(default.len(), 9);
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
