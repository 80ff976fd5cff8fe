//! Panics and CPU exceptions: a readable report on the console, then power off with
//! [`PANIC`](crate::process::PANIC) or [`FAULT`](crate::process::FAULT).
//!
//! Until the kernel has threads, every fault is the main thread's and ends the machine.

use core::panic::PanicInfo;

use hal::trap::Fault;

use crate::{console, process, system};

/// The name of the thread that is running.
fn current_thread() -> &'static str {
    "main"
}

/// Where the board sends CPU exceptions.
pub fn on_fault(fault: &Fault) -> ! {
    console::emergency_print(format_args!(
        "\nthread '{}' on core {} stopped by a {}\n",
        current_thread(),
        system::current_core(),
        fault
    ));
    process::exit(process::FAULT)
}

/// Reports a panic as `std` does: `thread 'main' panicked at file:line:column:` and the
/// message.
pub fn on_panic(info: &PanicInfo<'_>) -> ! {
    let thread = current_thread();
    match info.location() {
        Some(at) => console::emergency_print(format_args!(
            "\nthread '{thread}' panicked at {}:{}:{}:\n{}\n",
            at.file(),
            at.line(),
            at.column(),
            info.message()
        )),
        None => console::emergency_print(format_args!(
            "\nthread '{thread}' panicked:\n{}\n",
            info.message()
        )),
    }
    process::exit(process::PANIC)
}

#[cfg(target_os = "none")]
#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    on_panic(info)
}
