//! Files: `kernel::fs` on the FAT volume probe made, from threads on every core.
//!
//! probe boots this suite with one FAT disk (virtio-blk, or IDE on the PC) holding the
//! host's files (`fill` in `probe/src/fs_suite.rs`), and after the run checks the image with
//! `fsck.fat -n` and reads back with mtools what this suite wrote, byte for byte and dated
//! within the run. Both sides keep the same file table: what the host put there, what the
//! guest writes (`guest_files`), what it removes (`GONE`).

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use apps as _;
use kernel::fs::{self, ErrorKind, File, OpenOptions};
use kernel::process::ExitCode;
use kernel::testing::{self, Outcome};
use kernel::thread::{self, Builder, JoinHandle};
use kernel::time::UNIX_EPOCH;
use kernel::{cases, check, check_eq};

kernel::main!(main);

fn main() -> ExitCode {
    testing::run(cases![
        host_files_read_back_with_their_times,
        cores_write_their_own_files_at_once,
        rename_then_remove,
        many_files_in_one_directory,
        set_len_cuts_a_file,
        append_writes_at_the_end,
        errors_have_their_kinds,
    ])
}

/// The modification time of the host's files: 2021-05-06 07:08:10 UTC.
const HOST_TIME: u64 = 1_620_284_890;

/// Byte `i` of the pattern with `seed` is `(i * 31 + seed * 7 + (i >> 9)) as u8`; probe
/// (`pattern` in `probe/src/fs_suite.rs`) has the same formula.
fn pattern(seed: u32, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| {
            (i as u64)
                .wrapping_mul(31)
                .wrapping_add(u64::from(seed) * 7)
                .wrapping_add(i as u64 >> 9) as u8
        })
        .collect()
}

fn text(err: fs::Error) -> String {
    err.to_string()
}

/// Joins every handle, failing with the first error a thread returned or its failure.
fn join_all(handles: Vec<JoinHandle<Outcome>>) -> Outcome {
    let mut first_error = Ok(());
    for handle in handles {
        let outcome = handle.join().map_err(|err| err.to_string()).and_then(|o| o);
        if first_error.is_ok() {
            first_error = outcome;
        }
    }
    first_error
}

fn host_files_read_back_with_their_times() -> Outcome {
    let host: [(&str, Vec<u8>, u64); 3] = [
        ("/hello.txt", b"hello from the host\n".to_vec(), 0),
        (
            "/A long name, with spaces & \u{fc}mlauts.bin",
            pattern(5, 100_000),
            3600,
        ),
        ("/nested/deeper/leaf.txt", b"leaf\n".to_vec(), 7200),
    ];
    for (path, contents, after) in host {
        let found = fs::read(path).map_err(text)?;
        check!(
            found == contents,
            "{path}: {} bytes differ from the host's",
            found.len()
        );
        let modified = fs::metadata(path).map_err(text)?.modified().map_err(text)?;
        let since_epoch = modified
            .duration_since(UNIX_EPOCH)
            .map_err(|_| format!("{path}: modified before 1970"))?;
        check_eq!(since_epoch.as_secs(), HOST_TIME + after);
    }
    // Names are found whatever their case, as FAT compares them.
    check_eq!(
        fs::read_to_string("/HELLO.TXT").map_err(text)?,
        "hello from the host\n"
    );
    Ok(())
}

/// Where core `core` writes, and what.
fn core_file(core: usize) -> (String, Vec<u8>) {
    (
        format!("/cores/core{core}/Written on core {core}.bin"),
        pattern(10 + core as u32, 65_536 + 1000 * core),
    )
}

fn cores_write_their_own_files_at_once() -> Outcome {
    let cores = thread::available_cores();
    let spawn = |core: usize, work: fn(usize) -> Outcome| {
        Builder::new()
            .core(core)
            .spawn(move || work(core))
            .map_err(|err| err.to_string())
    };
    let writers: Result<Vec<_>, String> = (0..cores)
        .map(|core| {
            spawn(core, |core| {
                let (path, contents) = core_file(core);
                fs::create_dir_all(&format!("/cores/core{core}")).map_err(text)?;
                let mut file = File::create(&path).map_err(text)?;
                // Odd-sized writes, so clusters and sectors are crossed mid-write.
                for chunk in contents.chunks(4093) {
                    file.write_all(chunk).map_err(text)?;
                }
                file.sync_all().map_err(text)
            })
        })
        .collect();
    join_all(writers?)?;
    // Every core reads every file back.
    let readers: Result<Vec<_>, String> = (0..cores)
        .map(|core| {
            spawn(core, |_| {
                for other in 0..thread::available_cores() {
                    let (path, contents) = core_file(other);
                    let found = fs::read(&path).map_err(text)?;
                    check!(found == contents, "{path} read back differs");
                }
                Ok(())
            })
        })
        .collect();
    join_all(readers?)
}

fn rename_then_remove() -> Outcome {
    fs::create_dir("/renamed").map_err(text)?;
    fs::write("/renamed/before.txt", b"renamed\n").map_err(text)?;
    fs::rename("/renamed/before.txt", "/renamed/after.txt").map_err(text)?;
    check_eq!(fs::read("/renamed/after.txt").map_err(text)?, b"renamed\n");
    check_eq!(
        fs::metadata("/renamed/before.txt")
            .map(|_| ())
            .map_err(|e| e.kind()),
        Err(ErrorKind::NotFound)
    );
    fs::write("/removed.txt", b"soon gone\n").map_err(text)?;
    fs::remove_file("/removed.txt").map_err(text)?;
    check_eq!(
        fs::read("/removed.txt").map(|_| ()).map_err(|e| e.kind()),
        Err(ErrorKind::NotFound)
    );
    Ok(())
}

fn many_files_in_one_directory() -> Outcome {
    fs::create_dir("/many").map_err(text)?;
    for i in 0..100 {
        fs::write(&format!("/many/file{i:03}.txt"), format!("file {i}\n")).map_err(text)?;
    }
    let mut names = Vec::new();
    for entry in fs::read_dir("/many").map_err(text)? {
        names.push(entry.map_err(text)?.file_name().to_string());
    }
    names.sort();
    let wanted: Vec<String> = (0..100).map(|i| format!("file{i:03}.txt")).collect();
    check_eq!(names, wanted);
    check_eq!(
        fs::read_to_string("/many/file042.txt").map_err(text)?,
        "file 42\n"
    );
    Ok(())
}

fn set_len_cuts_a_file() -> Outcome {
    let mut file = File::create("/big.bin").map_err(text)?;
    file.write_all(&pattern(3, 1 << 20)).map_err(text)?;
    file.set_len(700_000).map_err(text)?;
    file.sync_all().map_err(text)?;
    check_eq!(file.metadata().map_err(text)?.len(), 700_000);
    let found = fs::read("/big.bin").map_err(text)?;
    check!(
        found == pattern(3, 700_000),
        "big.bin after set_len differs"
    );
    Ok(())
}

fn append_writes_at_the_end() -> Outcome {
    fs::write("/appended.txt", b"one\n").map_err(text)?;
    let mut file = OpenOptions::new()
        .append(true)
        .open("/appended.txt")
        .map_err(text)?;
    file.write_all(b"two\n").map_err(text)?;
    file.sync_all().map_err(text)?;
    check_eq!(
        fs::read_to_string("/appended.txt").map_err(text)?,
        "one\ntwo\n"
    );
    Ok(())
}

fn errors_have_their_kinds() -> Outcome {
    let kind = |result: Result<(), fs::Error>| result.map_err(|err| err.kind());
    check_eq!(kind(fs::open("/nope").map(drop)), Err(ErrorKind::NotFound));
    check_eq!(
        kind(fs::create_dir("/nested")),
        Err(ErrorKind::AlreadyExists)
    );
    check_eq!(
        kind(fs::write("/what?", b"x")),
        Err(ErrorKind::InvalidFilename)
    );
    check_eq!(
        kind(fs::remove_dir("/nested")),
        Err(ErrorKind::DirectoryNotEmpty)
    );
    let mut buf = vec![0; 16];
    check_eq!(
        fs::open("/nested")
            .and_then(|mut dir| dir.read(&mut buf))
            .map(drop)
            .map_err(|e| e.kind()),
        Err(ErrorKind::IsADirectory)
    );
    Ok(())
}
