//! The hand-off from board to kernel to application.
//!
//! Three pieces meet at link time, so that neither the board nor the kernel has to name
//! the other:
//! - the board, once it is ready, calls `__novillo_start(board)`;
//! - [`board!`](crate::board), invoked once where the board is picked (the `apps` crate),
//!   defines `__novillo_start` for that board's [`Platform`] and calls [`start`];
//! - [`main!`](crate::main), invoked by each application, defines `__novillo_main`, which
//!   [`start`] calls.

use alloc::boxed::Box;

use hal::board::{Board, Platform};
use hal::trap::Traps;

use crate::{console, env, fault, heap, logger, process, system, time};

unsafe extern "Rust" {
    /// The application's `main`, wrapped by [`main!`](crate::main): returns its status.
    fn __novillo_main() -> u8;
}

/// Takes the board over: its memory becomes the heap, its console the kernel console, its
/// clock the kernel's time; the logger starts and CPU exceptions come to
/// [`fault::on_fault`]. Runs once, before anything else in the kernel.
pub fn init<P: Platform>(board: Board<P>) {
    let Board {
        name,
        command_line,
        memory_map,
        heap,
        console,
        clock,
        cores,
        power,
        traps,
    } = board;
    heap::init(heap);
    console::install(Box::leak(Box::new(console)));
    time::install(Box::leak(Box::new(clock)));
    process::install(Box::leak(Box::new(power)));
    system::install(
        name,
        hal::memory::usable_bytes(memory_map),
        Box::leak(Box::new(cores)),
    );
    env::install(command_line);
    logger::init(env::boot_param("log"));
    Box::leak(Box::new(traps)).set_fault_handler(fault::on_fault);
}

/// Runs the application on `board`: [`init`], then `main`, then power off with `main`'s
/// status.
pub fn start<P: Platform>(board: Board<P>) -> ! {
    init(board);
    system::main_started();
    // SAFETY: `__novillo_main` is defined by `kernel::main!` with exactly this signature;
    // an application without it does not link.
    let status = unsafe { __novillo_main() };
    process::exit(status)
}

/// Declares the application's `main`: `kernel::main!(main);`.
///
/// `main` takes nothing and returns anything that is a
/// [`Termination`](crate::process::Termination): `()`, an
/// [`ExitCode`](crate::process::ExitCode) or a `Result` whose error is `Debug`.
#[macro_export]
macro_rules! main {
    ($main:path) => {
        #[unsafe(no_mangle)]
        fn __novillo_main() -> u8 {
            $crate::process::Termination::report($main())
        }
    };
}

/// Connects a board to the kernel: `kernel::board!(bsp_microvm::Microvm);`, once per image,
/// where the board is picked.
#[macro_export]
macro_rules! board {
    ($platform:ty) => {
        #[unsafe(no_mangle)]
        fn __novillo_start(board: $crate::hal::board::Board<$platform>) -> ! {
            $crate::start(board)
        }
    };
}
