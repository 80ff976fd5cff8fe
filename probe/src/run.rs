//! `probe run`: boots one image, streams its console and exits with the guest's status;
//! with `--gdb` (and as `probe gdb`) the guest starts halted for gdb.

use std::sync::Arc;

use crate::cli::{Gdb, RunOptions};
use crate::elf::image_of_file;
use crate::exit::GuestExit;
use crate::guest::{Settings, start_file};
use crate::qemu::{LaunchError, MachineVariant, Outcome};
use crate::tsc::host_tsc_khz;
use crate::{exit, gdb, share};

/// Runs the command and returns probe's exit code.
pub(crate) fn run(options: RunOptions) -> u8 {
    let accel = match options.guest.accel.resolve() {
        Ok(accel) => accel,
        Err(message) => {
            eprintln!("probe: {message}");
            return exit::NO_STATUS;
        }
    };
    // The share images live until the guest has exited. An image that is no Novillo ELF
    // gets no shares made: the boot below says what is wrong with it.
    let board = image_of_file(&options.elf).map(|image| image.board);
    let prepared = match board {
        Ok(board) => share::prepare(board, &options.shares, options.disks.len()),
        Err(_) => Ok(Vec::new()),
    };
    let shares = match prepared {
        Ok(shares) => shares,
        Err(message) => {
            eprintln!("probe: {message}");
            return exit::USAGE;
        }
    };
    let mut disks = options.disks;
    disks.extend(shares.iter().map(|share| share.disk.clone()));
    if options.gdb == Gdb::Attach
        && let Err(message) = gdb::check_installed()
    {
        eprintln!("probe: {message}");
        return exit::QEMU_MISSING;
    }
    let port = match options.gdb {
        Gdb::Off => None,
        Gdb::Server | Gdb::Attach => match gdb::free_port() {
            Ok(port) => Some(port),
            Err(message) => {
                eprintln!("probe: {message}");
                return exit::NO_STATUS;
            }
        },
    };
    let net = match options
        .net
        .spec()
        .and_then(|spec| spec.map(|s| s.resolve()).transpose())
    {
        Ok(net) => net,
        Err(message) => {
            eprintln!("probe: {message}");
            return crate::exit::USAGE;
        }
    };
    if let Some(net) = &net {
        for line in net.forwarded.lines() {
            eprintln!("probe: {line}");
        }
    }
    let settings = Settings {
        qemu: options.qemu,
        accel,
        smp: options.guest.smp,
        mem: options.mem,
        tsc_khz: if options.tsc_hint {
            host_tsc_khz()
        } else {
            None
        },
        timeout: options.guest.timeout,
        variant: MachineVariant {
            disks,
            boot: options.boot,
            extra_args: port.map(gdb::qemu_args).unwrap_or_default(),
            net: net.map(Arc::new),
            ..MachineVariant::default()
        },
    };
    let mut guest = match start_file(&settings, &options.elf, &options.guest_args, true) {
        Ok(guest) => guest,
        Err(err) => return launch_failed(&err),
    };
    if let Some(line) = settings
        .variant
        .net
        .as_ref()
        .and_then(|net| net.namespace_line(guest.pid()))
    {
        eprintln!("probe: {line}");
    }
    if let Some(port) = port {
        if let Err(message) = gdb::wait_listening(&mut guest, port) {
            eprintln!("probe: {message}");
            return exit::NO_STATUS;
        }
        if options.gdb == Gdb::Attach {
            let code = match gdb::attach(&options.elf, port) {
                Ok(code) => code,
                Err(message) => {
                    eprintln!("probe: {message}");
                    exit::QEMU_MISSING
                }
            };
            // gdb is done with the guest: whatever it was doing, it ends here.
            if let Ok(outcome) = guest.stop()
                && let GuestExit::Status(status) = outcome.exit
            {
                eprintln!("probe: the guest had exited with status {status}");
            }
            return code;
        }
        eprintln!(
            "probe: the guest waits for gdb on 127.0.0.1:{port} (then e.g. `break {}`, or \
             `break main` in a release build, and `continue`); attach with:",
            gdb::main_symbol(&options.elf)
        );
        eprintln!("{}", gdb::attach_command(&options.elf, port));
    }
    match guest.finish() {
        Ok(outcome) => report(&outcome, options.timing, accel),
        Err(err) => launch_failed(&err),
    }
}

fn launch_failed(err: &LaunchError) -> u8 {
    eprintln!("probe: {}", err.message());
    err.probe_code()
}

/// Says how the guest ended (and, with `--timing`, when) and returns probe's exit code.
fn report(outcome: &Outcome, timing: bool, accel: crate::accel::Accel) -> u8 {
    match outcome.exit {
        // The guest's own output already said what happened.
        GuestExit::Status(_) => {}
        other => eprintln!("probe: {other}"),
    }
    if timing {
        let first = outcome.first_byte.map_or_else(
            || "no console output".to_owned(),
            |first| format!("first console byte after {} ms", first.as_millis()),
        );
        eprintln!(
            "probe: {first}, exit after {} ms (accel {accel})",
            outcome.elapsed.as_millis()
        );
    }
    outcome.exit.probe_code()
}
