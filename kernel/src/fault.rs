//! Panics and CPU exceptions.
//!
//! In a thread other than `main`, a panic or a CPU exception ends that thread only: a
//! one-line report goes to the console and [`JoinHandle::join`](crate::thread::JoinHandle)
//! returns the error. In the main thread, or in kernel code (a scheduler at work, a core's
//! own loop), it ends the machine with a full report and [`PANIC`](crate::process::PANIC)
//! or [`FAULT`](crate::process::FAULT), as a panic in `main` ends a `std` process.

use alloc::string::ToString;
use core::panic::PanicInfo;

use hal::trap::Fault;

use crate::thread::ThreadError;
use crate::{console, process, sched, system, thread};

/// What the reports call the code that failed.
fn who() -> alloc::string::String {
    match sched::current() {
        Some(thread) => match &thread.name {
            Some(name) => alloc::format!("thread '{name}'"),
            None => alloc::format!("thread {}", thread.id),
        },
        None => "the kernel".to_string(),
    }
}

/// Whether an exception can end just the thread it hit: not a debug trap, breakpoint or
/// NMI (they are not the thread's doing, and an NMI must end in `iretq`), nor a machine
/// check (the machine itself is failing).
fn thread_may_survive(vector: u8) -> bool {
    !matches!(vector, 1..=3 | 18)
}

/// Where the board sends CPU exceptions.
pub fn on_fault(fault: &Fault) -> ! {
    if let Some((thread, overflow)) = sched::faulting_thread(fault.address)
        && !thread::is_main(thread.id)
        && thread_may_survive(fault.vector)
    {
        drop(thread);
        let error = match (overflow, fault.address) {
            (true, Some(address)) => ThreadError::StackOverflow { address },
            _ => ThreadError::Fault {
                vector: fault.vector,
                name: fault.name,
                instruction_pointer: fault.instruction_pointer,
                address: fault.address,
            },
        };
        console::emergency_print(format_args!(
            "{} on core {} ended: {error}\n",
            who(),
            system::current_core()
        ));
        sched::fail_current(error)
    }
    console::emergency_print(format_args!(
        "\n{} on core {} stopped by a {}\n",
        who(),
        system::current_core(),
        fault
    ));
    process::exit(process::FAULT)
}

/// Reports a panic as `std` does: `thread 'main' panicked at file:line:column:` and the
/// message.
pub fn on_panic(info: &PanicInfo<'_>) -> ! {
    let who = who();
    match info.location() {
        Some(at) => console::emergency_print(format_args!(
            "\n{who} panicked at {}:{}:{}:\n{}\n",
            at.file(),
            at.line(),
            at.column(),
            info.message()
        )),
        None => console::emergency_print(format_args!("\n{who} panicked:\n{}\n", info.message())),
    }
    if let Some((thread, _)) = sched::faulting_thread(None)
        && !thread::is_main(thread.id)
    {
        drop(thread);
        sched::enter_kernel();
        let message = info.message().to_string();
        sched::leave_kernel();
        sched::fail_current(ThreadError::Panicked(message))
    }
    process::exit(process::PANIC)
}

#[cfg(target_os = "none")]
#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    on_panic(info)
}
