//! `probe size`: how big a stripped release `hello` image is on each board.

use std::path::PathBuf;

use crate::board::Board;
use crate::cargo::{self, TargetKind};

/// Builds the images and prints the table; returns probe's exit code.
pub(crate) fn run() -> u8 {
    let mut rows = Vec::new();
    for board in Board::ALL {
        match stripped_hello(board) {
            Ok((_, bytes)) => rows.push((board, bytes)),
            Err(message) => {
                eprintln!("probe: size of hello for {board}: {message}");
                return 1;
            }
        }
    }
    println!("{:<10} {:>10} {:>9}", "board", "bytes", "KiB");
    for (board, bytes) in rows {
        // KiB to one decimal place, rounded down, in integers.
        let kib = format!("{}.{}", bytes / 1024, bytes % 1024 * 10 / 1024);
        println!("{:<10} {bytes:>10} {kib:>9}", board.name());
    }
    0
}

/// Builds the stripped release `hello` for `board`; its path and size in bytes.
pub(crate) fn stripped_hello(board: Board) -> Result<(PathBuf, u64), String> {
    let feature = board.feature();
    // A separate target dir: the stripped release build must not evict the usual one.
    let build = [
        "build",
        "--release",
        "--package",
        "apps",
        "--bin",
        "hello",
        "--features",
        &feature,
        "--config",
        "profile.release.strip=true",
        "--target-dir",
        "target/size",
    ];
    let artifacts = cargo::build(&build)?;
    let hello = artifacts
        .iter()
        .find(|artifact| artifact.kind == TargetKind::Bin && artifact.name == "hello")
        .ok_or("cargo reported no hello executable")?;
    let bytes = std::fs::metadata(&hello.executable)
        .map(|metadata| metadata.len())
        .map_err(|err| format!("cannot read {}: {err}", hello.executable.display()))?;
    Ok((hello.executable.clone(), bytes))
}
