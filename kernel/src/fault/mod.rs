//! Panics and CPU exceptions.
//!
//! In a thread other than `main`, a panic or a CPU exception ends that thread only: a
//! report goes to the console and [`JoinHandle::join`](crate::thread::JoinHandle) returns
//! the error. In the main thread, or in kernel code (a scheduler at work, a core's own
//! loop), it ends the machine with a full report and [`PANIC`](crate::process::PANIC) or
//! [`FAULT`](crate::process::FAULT), as a panic in `main` ends a `std` process.
//!
//! Reporting needs no heap: the heap may be what ran out. A failed allocation
//! (`handle_alloc_error`'s panic) is reported as running out of memory.

mod message;

use alloc::sync::Arc;
use core::fmt;
use core::panic::PanicInfo;
use core::sync::atomic::{AtomicUsize, Ordering};

use hal::trap::Fault;
pub use message::PanicMessage;

use crate::sched::{self, ThreadInner};
use crate::thread::ThreadError;
use crate::{console, heap, process, system, thread};

/// What the reports call the code that failed: a thread by its name or number, or the
/// kernel.
struct Who(Option<Arc<ThreadInner>>);

impl Who {
    fn now() -> Self {
        Self(sched::current())
    }
}

impl fmt::Display for Who {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(thread) => match &thread.name {
                Some(name) => write!(f, "thread '{name}'"),
                None => write!(f, "thread {}", thread.id),
            },
            None => f.write_str("the kernel"),
        }
    }
}

/// How full the heap is, for an out-of-memory report; nothing if its lock is taken.
struct HeapUse;

impl fmt::Display for HeapUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match heap::try_stats() {
            Some(stats) => write!(
                f,
                " (the shared heap has {} bytes free of {})",
                stats.free, stats.total
            ),
            None => Ok(()),
        }
    }
}

/// The core (plus one) writing the report that ends the machine, or 0.
static STOPPING: AtomicUsize = AtomicUsize::new(0);

/// Claims the machine's last report for this core. A failure while that report is being
/// written (a panic in a `Display`, a fault in the console) ends the machine at once
/// instead of reporting again and again; a failure on another core meanwhile waits for the
/// power-off.
fn claim_last_report(status: u8) {
    let me = system::current_core() + 1;
    match STOPPING.compare_exchange(0, me, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => {}
        Err(reporter) if reporter == me => {
            console::emergency_print(format_args!(
                "\nfailed again on core {} while reporting a failure\n",
                me - 1
            ));
            process::halt(status)
        }
        Err(_) => loop {
            core::hint::spin_loop();
        },
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
        let who = Who(Some(thread));
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
            "{who} on core {} ended: {error}\n",
            system::current_core()
        ));
        drop(who);
        sched::fail_current(error)
    }
    claim_last_report(process::FAULT);
    console::emergency_print(format_args!(
        "\n{} on core {} stopped by a {}\n",
        Who::now(),
        system::current_core(),
        fault
    ));
    process::power_off(process::FAULT)
}

/// Reports a panic as `std` does: `thread 'main' panicked at file:line:column:` and the
/// message; a failed allocation as `thread 'main' ran out of memory: ...`.
pub fn on_panic(info: &PanicInfo<'_>) -> ! {
    if let Some((thread, _)) = sched::faulting_thread(None)
        && !thread::is_main(thread.id)
    {
        let who = Who(Some(thread));
        // A panic or fault while the message is formatted is the kernel's, so it stops the
        // machine rather than starting this report again.
        sched::enter_kernel();
        let message = PanicMessage::new(info.message());
        let error = match report_panic(&who, info, &message) {
            Some(size) => ThreadError::OutOfMemory { size },
            None => ThreadError::Panicked(message),
        };
        sched::leave_kernel();
        drop(who);
        sched::fail_current(error)
    }
    claim_last_report(process::PANIC);
    report_panic(&Who::now(), info, &PanicMessage::new(info.message()));
    process::power_off(process::PANIC)
}

/// Writes the report of a panic whose message is `message` (cut short, so the report
/// formats `info`'s whole message again); returns the size of the allocation that failed
/// when it was a failed allocation. One function for both reports keeps one copy of each
/// format in the image.
fn report_panic(who: &Who, info: &PanicInfo<'_>, message: &PanicMessage) -> Option<usize> {
    let size = message.failed_allocation();
    match (size, info.location()) {
        (Some(size), _) => console::emergency_print(format_args!(
            "\n{who} ran out of memory: an allocation of {size} bytes failed{HeapUse}\n"
        )),
        (None, Some(at)) => console::emergency_print(format_args!(
            "\n{who} panicked at {}:{}:{}:\n{}\n",
            at.file(),
            // As u64, the one integer width every image formats (`cargo probe size`).
            u64::from(at.line()),
            u64::from(at.column()),
            info.message(),
        )),
        (None, None) => {
            console::emergency_print(format_args!("\n{who} panicked:\n{}\n", info.message()));
        }
    }
    size
}

#[cfg(target_os = "none")]
#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    on_panic(info)
}
