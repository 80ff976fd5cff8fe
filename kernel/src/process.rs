//! Leaving: exit statuses, `main`'s return value, and powering off.

use alloc::boxed::Box;
use core::fmt;

use hal::power::PowerOff;
use spin::Mutex;

/// The status of a normal, successful run.
pub const SUCCESS: u8 = 0;
/// The status of a run that failed (an error from `main`, a failed test).
pub const FAILURE: u8 = 1;
/// The status after a panic.
pub const PANIC: u8 = 101;
/// The status after a CPU exception in the kernel.
pub const FAULT: u8 = 102;

static POWER: Mutex<Option<&'static mut (dyn PowerOff + Send)>> = Mutex::new(None);

pub(crate) fn install(power: &'static mut (dyn PowerOff + Send)) {
    *POWER.lock() = Some(power);
}

/// What [`exit`] runs before it powers off: the file layer's write-back, once a volume is
/// mounted. An application that uses no files links none of it.
static AT_EXIT: spin::Once<fn()> = spin::Once::new();

/// Has [`exit`] call `hook` first; the first hook given stays.
pub(crate) fn at_exit(hook: fn()) {
    AT_EXIT.call_once(|| hook);
}

/// Leaves: writes back the mounted file volumes (the hook of [`at_exit`]), then powers the
/// machine off with `status` (0 is success). `main`'s return comes here too.
pub fn exit(status: u8) -> ! {
    if let Some(hook) = AT_EXIT.get() {
        hook();
    }
    power_off(status)
}

/// Powers the machine off with `status`, with no write-back: the end of a failure report,
/// where the file layer may be in the middle of an operation. Before the kernel has the
/// board's power switch, there is nothing to do but panic.
pub(crate) fn power_off(status: u8) -> ! {
    let power = POWER.lock().take();
    match power {
        Some(power) => power.power_off(status),
        None => panic!("exit({status}) before the kernel took over the board"),
    }
}

/// Powers the machine off with `status` if the kernel has the power switch, else stops
/// here for good: the last resort of a failure report, which must not panic again.
pub(crate) fn halt(status: u8) -> ! {
    let power = POWER.lock().take();
    if let Some(power) = power {
        power.power_off(status)
    }
    loop {
        core::hint::spin_loop();
    }
}

/// What `main` returns, turned into an exit status.
pub trait Termination {
    /// The exit status.
    fn report(self) -> u8;
}

impl Termination for () {
    fn report(self) -> u8 {
        SUCCESS
    }
}

/// An exit status for `main` to return, as `std::process::ExitCode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExitCode(u8);

impl ExitCode {
    /// Success.
    pub const SUCCESS: Self = Self(SUCCESS);
    /// Failure.
    pub const FAILURE: Self = Self(FAILURE);
}

impl From<u8> for ExitCode {
    fn from(status: u8) -> Self {
        Self(status)
    }
}

impl Termination for ExitCode {
    fn report(self) -> u8 {
        self.0
    }
}

impl<T: Termination, E: fmt::Debug> Termination for Result<T, E> {
    /// `Ok` reports what it holds; `Err` prints `Error: {err:?}` and fails.
    fn report(self) -> u8 {
        match self {
            Ok(value) => value.report(),
            Err(err) => {
                crate::println!("Error: {err:?}");
                FAILURE
            }
        }
    }
}

impl<E: fmt::Debug> Termination for Box<E> {
    fn report(self) -> u8 {
        crate::println!("Error: {self:?}");
        FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::{ExitCode, FAILURE, SUCCESS, Termination};

    #[test]
    fn main_results_map_to_statuses() {
        assert_eq!(().report(), SUCCESS);
        assert_eq!(ExitCode::from(7).report(), 7);
        assert_eq!(Ok::<(), &str>(()).report(), SUCCESS);
        assert_eq!(Err::<(), &str>("no disk").report(), FAILURE);
        assert_eq!(Ok::<ExitCode, &str>(ExitCode::FAILURE).report(), FAILURE);
    }
}
