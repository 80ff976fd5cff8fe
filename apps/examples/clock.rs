//! Prints the wall clock: the Unix time, which probe's `clock` cases compare with the
//! host's, and the UTC date; then checks that it runs forward with the monotonic clock.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use apps as _;
use kernel::println;
use kernel::process::ExitCode;
use kernel::thread;
use kernel::time::{Duration, SystemTime, UNIX_EPOCH};

kernel::main!(main);

fn main() -> ExitCode {
    let now = SystemTime::now();
    let Ok(since_epoch) = now.duration_since(UNIX_EPOCH) else {
        println!("the wall clock reads before 1970");
        return ExitCode::FAILURE;
    };
    println!("unix time: {}", since_epoch.as_secs());
    println!("utc: {}", now.date_time());
    println!("now: {now:?}");
    thread::sleep(Duration::from_millis(20));
    match now.elapsed() {
        Ok(elapsed) if elapsed >= Duration::from_millis(20) => ExitCode::SUCCESS,
        Ok(elapsed) => {
            println!("20 ms of sleep, but the wall clock moved {elapsed:?}");
            ExitCode::FAILURE
        }
        Err(e) => {
            println!("the wall clock ran backwards: {e}");
            ExitCode::FAILURE
        }
    }
}
