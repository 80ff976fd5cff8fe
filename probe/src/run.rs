//! `probe run`: boots one image, streams its console and exits with the guest's status.

use std::sync::Arc;

use crate::cli::RunOptions;
use crate::exit::GuestExit;
use crate::guest::{Settings, boot_file};
use crate::qemu::MachineVariant;
use crate::tsc::host_tsc_khz;

/// Runs the command and returns probe's exit code.
pub(crate) fn run(options: RunOptions) -> u8 {
    let accel = match options.guest.accel.resolve() {
        Ok(accel) => accel,
        Err(message) => {
            eprintln!("probe: {message}");
            return crate::exit::NO_STATUS;
        }
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
            disks: options.disks,
            net: net.map(Arc::new),
            ..MachineVariant::default()
        },
    };
    let outcome = match boot_file(&settings, &options.elf, &options.guest_args, true) {
        Ok(outcome) => outcome,
        Err(err) => {
            eprintln!("probe: {}", err.message());
            return err.probe_code();
        }
    };
    match outcome.exit {
        // The guest's own output already said what happened.
        GuestExit::Status(_) => {}
        other => eprintln!("probe: {other}"),
    }
    if options.timing {
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
