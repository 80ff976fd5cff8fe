//! The kernel taking over a fake board: console, clocks, machine facts, logging, and a CPU
//! exception reported and turned into a power-off. One test, because the kernel's state is
//! global and taken over once.

use std::panic::{self, AssertUnwindSafe};
use std::time::Duration;

use hal::trap::Fault;
use kernel::time::{SystemTime, UNIX_EPOCH};

kernel::cores!(hal::mock::FakeCores);
kernel::wall_clock!(hal::mock::MockPlatform);

#[test]
fn kernel_takes_over_the_board_and_reports_a_fault() {
    let mut board = hal::mock::board(2, 1 << 20);
    board.command_line = "log=debug serve -- --port 80";
    let console = board.console.clone();
    let clock = board.clock.clone();
    let power = board.power.clone();
    let traps = board.traps.clone();
    board.wall_clock = hal::mock::FakeWallClock::new(Some(Duration::from_secs(1_795_809_209)));
    let wall_clock = board.wall_clock.clone();
    kernel::init(board);

    kernel::println!("hello {}", 42);
    assert!(console.text().contains("hello 42\n"));
    assert_eq!(kernel::system::board(), "mock");
    assert_eq!(kernel::system::core_count(), 2);
    assert_eq!(kernel::system::memory_bytes(), 1 << 20);
    // All of the region but alignment and the heap's bitmap (one bit per 32 bytes).
    assert!(kernel::system::heap().total > (1 << 20) - (1 << 20) / 256 - 64);
    assert_eq!(
        kernel::env::args().collect::<Vec<_>>(),
        ["serve", "--port", "80"]
    );

    let start = kernel::time::Instant::now();
    clock.advance(Duration::from_millis(5));
    assert_eq!(start.elapsed(), Duration::from_millis(5));

    log::debug!("disk ready");
    assert!(
        console
            .text()
            .contains("[    0.005000] DEBUG board: disk ready\n"),
        "{}",
        console.text()
    );

    assert_eq!(wall_clock.reads(), 0, "read on first use, not at boot");
    let wall = SystemTime::now();
    assert_eq!(
        wall.duration_since(UNIX_EPOCH),
        Ok(Duration::from_secs(1_795_809_209) + Duration::from_millis(5))
    );
    assert_eq!(wall.date_time().to_string(), "2026-11-27T19:53:29Z");
    clock.advance(Duration::from_secs(2));
    assert_eq!(wall.elapsed(), Ok(Duration::from_secs(2)));
    assert_eq!(wall_clock.reads(), 1, "read once");

    let fault = Fault {
        vector: 6,
        name: "invalid opcode",
        instruction_pointer: 0x10_2030,
        stack_pointer: 0x20_0000,
        error_code: None,
        address: None,
    };
    // The fake power switch panics, since powering off never returns.
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| traps.raise(&fault)));
    assert!(outcome.is_err(), "a fault must not return");
    assert_eq!(power.status(), Some(kernel::process::FAULT));
    let report = console.text();
    assert!(
        report.contains(
            "the kernel on core 0 stopped by a CPU exception 6 (invalid opcode) at RIP=0x102030"
        ),
        "{report}"
    );
}
