//! A harness for in-guest test suites.
//!
//! A guest test is an application whose `main` returns [`run`]'s exit code. Each case
//! returns `Ok(())` or an `Err` with a message ([`check!`](crate::check) and
//! [`check_eq!`](crate::check_eq) make one); the harness prints a line per case and the
//! closing line `N passed, N failed`, and the run fails when a case did. A case that panics
//! ends the whole guest with the panic status, which `probe` reports as a failure too.

use alloc::string::String;
use core::fmt;

use crate::process::ExitCode;

/// What a test case returns: `Err` with a message when it failed.
pub type Outcome = Result<(), String>;

/// One test case.
#[derive(Clone, Copy, Debug)]
pub struct Case {
    /// What the case is called in the report.
    pub name: &'static str,
    /// The test.
    pub run: fn() -> Outcome,
}

/// Runs `cases` in order, reporting on the console.
pub fn run(cases: &[Case]) -> ExitCode {
    run_to(&mut ConsoleOut, cases)
}

struct ConsoleOut;

impl fmt::Write for ConsoleOut {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        crate::print!("{s}");
        Ok(())
    }
}

/// Runs `cases`, reporting to `out`.
pub fn run_to(out: &mut impl fmt::Write, cases: &[Case]) -> ExitCode {
    let _ = writeln!(out, "running {} tests", cases.len());
    let mut failed = 0;
    for case in cases {
        match (case.run)() {
            Ok(()) => {
                let _ = writeln!(out, "test {} ... ok", case.name);
            }
            Err(message) => {
                failed += 1;
                let _ = writeln!(out, "test {} ... FAILED\n    {message}", case.name);
            }
        }
    }
    let _ = writeln!(out, "{} passed, {failed} failed", cases.len() - failed);
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Lists test functions as [`Case`]s: `kernel::cases![boots, prints]`.
#[macro_export]
macro_rules! cases {
    ($($case:path),* $(,)?) => {
        &[$($crate::testing::Case { name: stringify!($case), run: $case }),*]
    };
}

/// Fails the current case with a message unless `cond` holds.
#[macro_export]
macro_rules! check {
    ($cond:expr $(,)?) => {
        if !$cond {
            return Err($crate::__format!("check failed: {} ({}:{})", stringify!($cond), file!(), line!()));
        }
    };
    ($cond:expr, $($message:tt)+) => {
        if !$cond {
            return Err($crate::__format!("{} ({}:{})", $crate::__format!($($message)+), file!(), line!()));
        }
    };
}

/// Fails the current case unless the two values are equal, showing both.
#[macro_export]
macro_rules! check_eq {
    ($left:expr, $right:expr $(,)?) => {
        match (&$left, &$right) {
            (left, right) => {
                if left != right {
                    return Err($crate::__format!(
                        "check failed: {} == {}\n      left: {:?}\n     right: {:?} ({}:{})",
                        stringify!($left),
                        stringify!($right),
                        left,
                        right,
                        file!(),
                        line!()
                    ));
                }
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use alloc::string::String;

    use super::{Case, run_to};
    use crate::process::ExitCode;

    fn passes() -> Result<(), String> {
        check_eq!(1 + 1, 2);
        check!(true);
        Ok(())
    }

    fn fails() -> Result<(), String> {
        check_eq!(1 + 1, 3);
        Ok(())
    }

    #[test]
    fn counts_and_reports_each_case() {
        let mut out = String::new();
        assert_eq!(run_to(&mut out, crate::cases![passes]), ExitCode::SUCCESS);
        assert!(
            out.ends_with("test passes ... ok\n1 passed, 0 failed\n"),
            "{out}"
        );

        let mut out = String::new();
        let cases: &[Case] = crate::cases![passes, fails];
        assert_eq!(run_to(&mut out, cases), ExitCode::FAILURE);
        assert!(
            out.contains("test fails ... FAILED\n    check failed: 1 + 1 == 3"),
            "{out}"
        );
        assert!(out.contains("left: 2"), "{out}");
        assert!(out.ends_with("1 passed, 1 failed\n"), "{out}");
    }
}
