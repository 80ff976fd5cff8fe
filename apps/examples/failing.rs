//! A guest test suite with one failing case, on purpose: `probe`'s own test runs it to show
//! that a failing guest test fails the suite.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use apps as _;
use kernel::process::ExitCode;
use kernel::{cases, check_eq, testing};

kernel::main!(main);

fn main() -> ExitCode {
    testing::run(cases![arithmetic_still_works, two_and_two_make_five])
}

fn arithmetic_still_works() -> testing::Outcome {
    check_eq!(2 + 2, 4);
    Ok(())
}

fn two_and_two_make_five() -> testing::Outcome {
    check_eq!(2 + 2, 5);
    Ok(())
}
