//! probe: Novillo's host tool. It is the cargo runner that boots an image under QEMU
//! (`run`), the test driver (`test`), the size and lint checks (`size`, `lint`) and the
//! benchmark driver (`bench`).
//!
//! Exit codes are documented in `help.rs`; the guest status protocol in `exit.rs`.

mod accel;
mod bench;
mod board;
mod cargo;
mod children;
mod cli;
mod cmdline;
mod disk;
mod dns;
mod elf;
mod exit;
mod fat;
mod flood;
mod fs_suite;
mod gdb;
mod guest;
mod help;
mod hostnet;
mod http_check;
mod image;
mod lint;
mod linux;
mod load;
mod net;
mod netns;
mod proc_tcp;
mod qemu;
mod run;
mod share;
mod size;
mod suite;
mod symbols;
mod testing;
mod tsc;

use std::process::ExitCode;

use crate::cli::{Command, ENV_OPTIONS};

fn main() -> ExitCode {
    // First, before any thread starts (see `children::install`).
    if let Err(message) = children::install() {
        eprintln!("probe: {message}");
        return ExitCode::from(exit::NO_STATUS);
    }
    ExitCode::from(dispatch())
}

fn dispatch() -> u8 {
    let mut args = Vec::new();
    for arg in std::env::args_os().skip(1) {
        match arg.into_string() {
            Ok(arg) => args.push(arg),
            Err(arg) => {
                eprintln!("probe: argument {arg:?} is not valid UTF-8");
                return exit::USAGE;
            }
        }
    }
    let env = match std::env::var(ENV_OPTIONS) {
        Ok(value) => Some(value),
        Err(std::env::VarError::NotPresent) => None,
        Err(std::env::VarError::NotUnicode(_)) => {
            eprintln!("probe: {ENV_OPTIONS} is not valid UTF-8");
            return exit::USAGE;
        }
    };
    let command = match cli::parse(&args, env.as_deref()) {
        Ok(command) => command,
        Err(err) => {
            eprintln!("probe: {err}");
            return exit::USAGE;
        }
    };
    // Help, run and image (their image is built already), disk tools and host tests alone
    // build nothing for bare metal; everything else does, first.
    let bare_metal = match &command {
        Command::Help(_) | Command::Run(_) | Command::Image(_) | Command::Disk(_) => false,
        Command::Test(options) => options.guests,
        Command::Size | Command::Lint | Command::Bench(_) | Command::Load(_) => true,
    };
    if bare_metal && let Err(message) = cargo::check_bare_metal_target() {
        eprintln!("probe: {message}");
        return 1;
    }
    match command {
        Command::Help(topic) => {
            print!("{}", help::text(topic));
            0
        }
        Command::Run(options) => run::run(options),
        Command::Test(options) => testing::run(&options),
        Command::Image(options) => image::run(&options),
        Command::Size => size::run(),
        Command::Lint => lint::run(),
        Command::Bench(bench) => bench::run(bench),
        Command::Disk(disk) => fat::command::run(&disk),
        Command::Load(load) => load::run(&load),
    }
}
