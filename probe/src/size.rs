//! `probe size`: how big the stripped release images of `hello` and `webserver` are on
//! each board.

use std::path::PathBuf;

use crate::board::Board;
use crate::cargo::{self, TargetKind};

/// The applications measured: the smallest, and the web server.
const MEASURED: [&str; 2] = ["hello", "webserver"];

/// Builds the images and prints the table; returns probe's exit code.
pub(crate) fn run() -> u8 {
    let mut rows = Vec::new();
    for board in Board::ALL {
        for bin in MEASURED {
            match stripped(board, bin) {
                Ok((_, bytes)) => rows.push((board, bin, bytes)),
                Err(message) => {
                    eprintln!("probe: size of {bin} for {board}: {message}");
                    return 1;
                }
            }
        }
    }
    println!(
        "{:<10} {:<10} {:>10} {:>9}",
        "board", "image", "bytes", "KiB"
    );
    for (board, bin, bytes) in rows {
        // KiB to one decimal place, rounded down, in integers.
        let kib = format!("{}.{}", bytes / 1024, bytes % 1024 * 10 / 1024);
        println!("{:<10} {bin:<10} {bytes:>10} {kib:>9}", board.name());
    }
    0
}

/// Builds the stripped release `hello` for `board`; its path and size in bytes.
pub(crate) fn stripped_hello(board: Board) -> Result<(PathBuf, u64), String> {
    stripped(board, "hello")
}

/// Builds the stripped release binary `bin` of `apps` for `board`; its path and size in
/// bytes.
fn stripped(board: Board, bin: &str) -> Result<(PathBuf, u64), String> {
    let feature = board.feature();
    // A separate target dir: the stripped release build must not evict the usual one.
    let build = [
        "build",
        "--release",
        "--package",
        "apps",
        "--bin",
        bin,
        "--features",
        &feature,
        "--config",
        "profile.release.strip=true",
        "--target-dir",
        "target/size",
    ];
    let artifacts = cargo::build(&build)?;
    let built = artifacts
        .iter()
        .find(|artifact| artifact.kind == TargetKind::Bin && artifact.name == bin)
        .ok_or_else(|| format!("cargo reported no {bin} executable"))?;
    let bytes = std::fs::metadata(&built.executable)
        .map(|metadata| metadata.len())
        .map_err(|err| format!("cannot read {}: {err}", built.executable.display()))?;
    Ok((built.executable.clone(), bytes))
}
