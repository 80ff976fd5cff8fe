//! The hand-off from board to kernel to application.
//!
//! Three pieces meet at link time, so that neither the board nor the kernel has to name
//! the other:
//! - the board, once it is ready, calls `__novillo_start(board)`;
//! - [`board!`](crate::board), invoked once where the board is picked (the `apps` crate),
//!   defines `__novillo_start` for that board's [`Platform`] and calls [`start`];
//! - [`main!`](crate::main), invoked by each application, defines `__novillo_main`, which
//!   [`start`] calls;
//! - [`board!`](crate::board) also defines `__novillo_discover`, which the kernel calls the
//!   first time an application asks for a device (see `device`).
//! - [`cores!`](crate::cores), invoked by `board!`, defines `__novillo_current_core`,
//!   which tells the kernel which core runs without an indirect call.

use alloc::boxed::Box;
use alloc::vec::Vec;

use hal::board::{Board, Platform};
use hal::cpu::Cores;
use hal::time::Clock;
use hal::trap::Traps;

use crate::{console, device, env, fault, heap, logger, process, sched, system, thread, time};

unsafe extern "Rust" {
    /// The application's `main`, wrapped by [`main!`](crate::main): returns its status.
    fn __novillo_main() -> u8;
}

/// The main thread's stack.
const MAIN_STACK: usize = 256 * 1024;
/// The stack of each started core's own loop.
const CORE_STACK: usize = 64 * 1024;

// Boards check the memory against `hal::board::heap_needed` before booting: the stacks
// above must stay within it, with room for the caches' spans.
const _: () = assert!(
    MAIN_STACK + 2 * hal::memory::PAGE_SIZE < hal::board::HEAP_FOR_BOOT_CORE,
    "the main stack outgrew hal::board::HEAP_FOR_BOOT_CORE"
);
const _: () = assert!(
    CORE_STACK < hal::board::HEAP_PER_CORE,
    "the core stack outgrew hal::board::HEAP_PER_CORE"
);

// The kernel's own tests run on the fake cores and the fake board's wall clock.
#[cfg(test)]
crate::cores!(hal::mock::FakeCores);
#[cfg(test)]
crate::wall_clock!(hal::mock::MockPlatform);

fn leak<T>(value: T) -> &'static mut T {
    Box::leak(Box::new(value))
}

/// Takes the board over: its memory becomes the heap, its console the kernel console, its
/// clock the kernel's time (its wall clock waits for the first `SystemTime::now`), its
/// cores the schedulers'; the logger starts and CPU
/// exceptions come to [`fault::on_fault`]; the interrupt controller and devices wait for
/// the first request for a device. Runs once, on core 0, before anything else in
/// the kernel. The other cores start with [`start`].
pub fn init<P: Platform>(board: Board<P>) {
    let Board {
        name,
        command_line,
        memory_map,
        heap,
        console,
        clock,
        wall_clock,
        cores,
        idle,
        switch,
        guard,
        power,
        traps,
        interrupts,
        devices,
    } = board;
    heap::init(heap);
    console::install(leak(console));
    let clock: &'static (dyn Clock + Sync) = leak(clock);
    time::install(clock);
    time::install_wall_clock::<P>(wall_clock);
    process::install(leak(power));
    let cores: &'static (dyn Cores + Sync) = leak(cores);
    system::install(name, hal::memory::usable_bytes(memory_map), cores);
    sched::init(sched::Machine {
        cores,
        idle: leak(idle),
        switch: leak(switch),
        guard: leak(guard),
        clock,
    });
    env::install(command_line);
    logger::init(env::boot_param("log"));
    leak(traps).set_fault_handler(fault::on_fault);
    device::store::<P>(interrupts, devices);
}

/// Runs the application on `board`: [`init`], start the other cores, then `main` in the
/// main thread on core 0; when `main` returns, power off with its status.
pub fn start<P: Platform>(board: Board<P>) -> ! {
    init(board);
    start_cores();
    let main = thread::Builder::new()
        .name("main")
        .core(0)
        .stack_size(MAIN_STACK)
        .spawn(|| {
            system::main_started();
            // SAFETY: `__novillo_main` is defined by `kernel::main!` with exactly this
            // signature; an application without it does not link.
            let status = unsafe { __novillo_main() };
            process::exit(status)
        });
    match main {
        Ok(main) => thread::set_main(main.thread()),
        Err(error) => {
            crate::println!("cannot start the main thread: {error}");
            process::exit(process::FAILURE)
        }
    }
    sched::run_core()
}

/// Starts cores 1.. together, each in its scheduler loop; threads run on the cores before
/// the first one that did not start (a core after it that did start stays idle).
fn start_cores() {
    let cores = sched::machine().cores;
    let stack_tops: Vec<usize> = (1..cores.count())
        .map(|_| {
            let stack: &'static mut [u8] =
                Box::leak(alloc::vec![0u8; CORE_STACK].into_boxed_slice());
            stack.as_ptr_range().end as usize & !0xf
        })
        .collect();
    let mut running = 1;
    // SAFETY: each stack is 16-byte aligned at its top, 64 KiB, leaked (lives for ever) and
    // used by nothing else.
    unsafe {
        cores.start_all(&stack_tops, core_entry, &mut |core, result| match result {
            // Reports come in core order: a core counts while none before it failed.
            Ok(()) if core == running => running += 1,
            Ok(()) => {}
            Err(error) => log::warn!("core {core} did not start ({error})"),
        });
    }
    if running < cores.count() {
        log::warn!("running on {running} cores");
    }
    sched::set_running_cores(running);
}

/// Where every core but 0 begins.
extern "C" fn core_entry(_core: usize) -> ! {
    sched::run_core()
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
/// where the board is picked. It also defines the board's device discovery
/// ([`devices!`](crate::devices)).
#[macro_export]
macro_rules! board {
    ($platform:ty) => {
        $crate::devices!($platform);
        $crate::wall_clock!($platform);

        #[unsafe(no_mangle)]
        fn __novillo_start(board: $crate::hal::board::Board<$platform>) -> ! {
            $crate::start(board)
        }
        $crate::cores!(<$platform as $crate::hal::board::Platform>::Cores);
    };
}

/// Defines how the kernel reads a board's wall clock:
/// `kernel::wall_clock!(bsp_microvm::Microvm);`. [`board!`](crate::board) calls it; host
/// tests that read the time of day call it themselves.
#[macro_export]
macro_rules! wall_clock {
    ($platform:ty) => {
        #[unsafe(no_mangle)]
        fn __novillo_wall_clock(
            source: &mut (dyn ::core::any::Any + Send),
            now: $crate::time::Instant,
        ) -> ::core::option::Option<$crate::time::Duration> {
            $crate::time::__read_wall_clock::<$platform>(source, now)
        }
    };
}

/// Tells the kernel how its cores find their number without a `Cores` value
/// ([`Cores::here`](hal::cpu::Cores::here)): [`board!`](crate::board) invokes it for the
/// board's cores; a host test of the kernel, for the fake ones,
/// `kernel::cores!(hal::mock::FakeCores);`.
///
/// The kernel calls it by name, directly: with link-time optimisation a board's lookup
/// (one load on x86_64) is inlined into the kernel's locks and allocator.
#[macro_export]
macro_rules! cores {
    ($cores:ty) => {
        #[unsafe(no_mangle)]
        fn __novillo_current_core() -> ::core::option::Option<usize> {
            <$cores as $crate::hal::cpu::Cores>::here()
        }
    };
}
