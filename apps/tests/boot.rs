//! The kernel as the board handed it over: console, heap, clock, command line, machine facts.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::boxed::Box;
use alloc::vec::Vec;

use apps as _;
use kernel::process::ExitCode;
use kernel::testing::{self, Outcome};
use kernel::time::{Duration, Instant};
use kernel::{cases, check, check_eq, system};

kernel::main!(main);

fn main() -> ExitCode {
    testing::run(cases![
        board_is_known,
        machine_has_cores_and_memory,
        boot_took_under_a_second,
        clock_moves_forward,
        heap_allocates_and_frees,
        heap_serves_page_alignment,
        log_level_comes_from_the_command_line,
    ])
}

fn board_is_known() -> Outcome {
    check!(
        matches!(system::board(), "microvm" | "qemu-pc"),
        "unknown board {:?}",
        system::board()
    );
    Ok(())
}

fn machine_has_cores_and_memory() -> Outcome {
    check!(system::core_count() >= 1);
    check_eq!(system::current_core(), 0);
    check!(
        system::memory_bytes() >= 32 << 20,
        "only {} bytes of RAM",
        system::memory_bytes()
    );
    Ok(())
}

fn boot_took_under_a_second() -> Outcome {
    let boot = system::boot_time();
    check!(
        boot > Duration::ZERO && boot < Duration::from_secs(1),
        "boot took {boot:?}"
    );
    check!(Instant::now().since_boot() > boot);
    Ok(())
}

fn clock_moves_forward() -> Outcome {
    let start = Instant::now();
    let mut last = start;
    for _ in 0..10_000 {
        let now = Instant::now();
        check!(now >= last, "the clock went back from {last:?} to {now:?}");
        last = now;
    }
    check!(last > start, "10000 readings and the clock did not move");
    Ok(())
}

fn heap_allocates_and_frees() -> Outcome {
    let before = system::heap().free;
    {
        let numbers: Vec<u64> = (0..100_000).collect();
        check_eq!(numbers.iter().sum::<u64>(), 4_999_950_000);
        let boxed = Box::new([7u8; 4096]);
        check!(boxed.iter().all(|&b| b == 7));
        check!(system::heap().free < before);
    }
    check_eq!(system::heap().free, before);
    Ok(())
}

fn heap_serves_page_alignment() -> Outcome {
    #[repr(align(4096))]
    struct Page([u8; 4096]);
    let pages: Vec<Box<Page>> = (0..8).map(|i| Box::new(Page([i; 4096]))).collect();
    for (i, page) in pages.iter().enumerate() {
        check_eq!(&raw const **page as usize % 4096, 0);
        check_eq!(page.0[4095], i as u8);
    }
    Ok(())
}

fn log_level_comes_from_the_command_line() -> Outcome {
    let expected = match kernel::env::param("log") {
        Some(level) => kernel::logger::parse_level(level).unwrap_or(log::LevelFilter::Info),
        None => log::LevelFilter::Info,
    };
    check_eq!(log::max_level(), expected);
    Ok(())
}
