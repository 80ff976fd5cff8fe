//! `probe lint`: formatting and clippy over every crate, for the host and for bare metal.

use crate::board::Board;
use crate::cargo;

/// Runs each check in turn, stopping at the first failure; returns probe's exit code.
pub(crate) fn run() -> u8 {
    let mut steps: Vec<Vec<String>> = vec![
        words("fmt --all --check"),
        words("clippy --target host-tuple --workspace --exclude apps --all-targets -- -D warnings"),
        // The default target is bare metal, where the kernel and the boards really build.
        words("clippy -p hal -p drivers -p kernel -p bsp-microvm -p bsp-qemu-pc -- -D warnings"),
    ];
    for board in Board::ALL {
        let mut step = words("clippy -p apps --features");
        step.push(board.feature());
        step.extend(words("--bins --tests --examples -- -D warnings"));
        steps.push(step);
    }
    for step in &steps {
        let args: Vec<&str> = step.iter().map(String::as_str).collect();
        println!("probe: {}", cargo::describe(&args));
        if let Err(message) = cargo::run(&args) {
            eprintln!("probe: lint failed: {message}");
            return 1;
        }
    }
    println!("probe: lint passed");
    0
}

fn words(line: &str) -> Vec<String> {
    line.split_whitespace().map(str::to_owned).collect()
}
