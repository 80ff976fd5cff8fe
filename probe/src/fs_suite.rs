//! The host side of the guest suite `apps/tests/fs.rs`: the folder probe puts on the FAT
//! image before the boot, and the check after it, through FAT tools that are not ours:
//! `fsck.fat -n` (dosfstools) must find the volume clean, and `mcopy`/`mdir` (mtools) must
//! read back every file the guest wrote, byte for byte, dated within the run, and find none
//! of those it removed. The file table below is the suite's; `apps/tests/fs.rs` keeps the
//! same one.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::children;
use crate::disk::Scratch;
use crate::fat::time::{civil_from_days, days_from_civil};
use crate::suite::AfterRun;

/// The modification time of the host's files: 2021-05-06 07:08:10 UTC.
pub(crate) const HOST_TIME: u64 = 1_620_284_890;

/// The bytes of the suite's files: byte `i` of the pattern with `seed` is
/// `(i * 31 + seed * 7 + (i >> 9)) as u8`; `apps/tests/fs.rs` has the same formula.
pub(crate) fn pattern(seed: u32, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| {
            (i as u64)
                .wrapping_mul(31)
                .wrapping_add(u64::from(seed) * 7)
                .wrapping_add(i as u64 >> 9) as u8
        })
        .collect()
}

/// The host's files: path, contents, seconds after [`HOST_TIME`].
fn host_files() -> Vec<(String, Vec<u8>, u64)> {
    vec![
        ("hello.txt".to_owned(), b"hello from the host\n".to_vec(), 0),
        (
            "A long name, with spaces & \u{fc}mlauts.bin".to_owned(),
            pattern(5, 100_000),
            3600,
        ),
        (
            "nested/deeper/leaf.txt".to_owned(),
            b"leaf\n".to_vec(),
            7200,
        ),
    ]
}

/// Writes the host's files into `dir`, the folder probe copies into the image.
pub(crate) fn fill(dir: &Path) -> Result<(), String> {
    for (path, contents, after) in host_files() {
        let file = dir.join(&path);
        let failed = |err: std::io::Error| format!("cannot write {}: {err}", file.display());
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent).map_err(failed)?;
        }
        std::fs::write(&file, &contents).map_err(failed)?;
        std::fs::File::options()
            .write(true)
            .open(&file)
            .and_then(|handle| {
                handle.set_modified(UNIX_EPOCH + Duration::from_secs(HOST_TIME + after))
            })
            .map_err(failed)?;
    }
    Ok(())
}

/// The files the guest writes on a machine with `cores` cores: path and contents.
pub(crate) fn guest_files(cores: u32) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = (0..cores)
        .map(|core| {
            (
                format!("cores/core{core}/Written on core {core}.bin"),
                pattern(10 + core, 65_536 + 1000 * core as usize),
            )
        })
        .collect();
    files.push(("renamed/after.txt".to_owned(), b"renamed\n".to_vec()));
    files.extend((0..100).map(|i| {
        (
            format!("many/file{i:03}.txt"),
            format!("file {i}\n").into_bytes(),
        )
    }));
    files.push(("big.bin".to_owned(), pattern(3, 700_000)));
    files.push(("appended.txt".to_owned(), b"one\ntwo\n".to_vec()));
    files
}

/// What the guest removes or renames away: gone after the run.
const GONE: [&str; 2] = ["renamed/before.txt", "removed.txt"];

/// The check after a run of the suite: disk 0 is the suite's volume.
pub(crate) fn check(run: &AfterRun<'_>) -> Vec<String> {
    let Some(image) = run.images.first() else {
        return vec!["the fs suite has no disk image to check".to_owned()];
    };
    match check_image(image, run.smp, run.started, run.ended) {
        Ok(problems) => problems,
        Err(message) => vec![message],
    }
}

/// The problems with the image the guest left; `Err` when a tool could not run at all.
pub(crate) fn check_image(
    image: &Path,
    cores: u32,
    started: SystemTime,
    ended: SystemTime,
) -> Result<Vec<String>, String> {
    let mut problems = Vec::new();
    let fsck = run_tool(Command::new(FSCK).arg("-n").arg(image))?;
    if !fsck.status.success() {
        problems.push(format!(
            "fsck.fat -n finds the volume not clean: {}",
            one_line(&fsck.stdout)
        ));
    }
    let mut wanted: Vec<(String, Vec<u8>, Option<u64>)> = host_files()
        .into_iter()
        .map(|(path, contents, after)| (path, contents, Some((HOST_TIME + after) / 60)))
        .collect();
    wanted.extend(
        guest_files(cores)
            .into_iter()
            .map(|(path, contents)| (path, contents, None)),
    );
    let scratch = Scratch::new(&format!("fs-check-{cores}"))?;
    let copy = scratch.path().join("copy");
    for (path, contents, _) in &wanted {
        let mcopy = run_tool(
            mtools(MCOPY, image)
                .arg(format!("::/{path}"))
                .arg(&copy)
                .arg("-o"),
        )?;
        if !mcopy.status.success() {
            problems.push(format!(
                "mcopy cannot read /{path}: {}",
                one_line(&mcopy.stderr)
            ));
            continue;
        }
        let found =
            std::fs::read(&copy).map_err(|err| format!("cannot read {}: {err}", copy.display()))?;
        if found != *contents {
            problems.push(differs(path, &found, contents));
        }
    }
    // mdir shows minutes, and the guest's clock may be a little behind or ahead of the
    // host's: a minute either side of the run.
    let run = (minute_of(started).saturating_sub(1), minute_of(ended) + 1);
    let mut listings: Vec<(String, Vec<Listed>)> = Vec::new();
    for (path, _, host_minute) in &wanted {
        let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
        if !listings.iter().any(|(listed, _)| listed == dir) {
            let mdir = run_tool(mtools(MDIR, image).arg(format!("::/{dir}")))?;
            if !mdir.status.success() {
                problems.push(format!(
                    "mdir cannot list /{dir}: {}",
                    one_line(&mdir.stderr)
                ));
            }
            listings.push((
                dir.to_owned(),
                mdir_entries(&String::from_utf8_lossy(&mdir.stdout)),
            ));
        }
        let stamp = listings
            .iter()
            .find(|(listed, _)| listed == dir)
            .and_then(|(_, entries)| entries.iter().find(|(listed, _)| listed == name))
            .and_then(|(_, minute)| *minute);
        let (low, high) = host_minute.map_or(run, |minute| (minute, minute));
        match stamp {
            Some(minute) if (low..=high).contains(&minute) => {}
            Some(minute) => problems.push(format!(
                "mdir dates /{path} {}, outside {} to {}",
                show_minute(minute),
                show_minute(low),
                show_minute(high)
            )),
            None => problems.push(format!("mdir lists /{path} without a date it can read")),
        }
    }
    for gone in GONE {
        let mdir = run_tool(mtools(MDIR, image).arg(format!("::/{gone}")))?;
        if mdir.status.success() {
            problems.push(format!("/{gone} is still there after the guest removed it"));
        }
    }
    Ok(problems)
}

const FSCK: &str = "fsck.fat";
const MCOPY: &str = "mcopy";
const MDIR: &str = "mdir";

/// An mtools command on `image`; its geometry check is skipped, as lamfat's images need.
fn mtools(program: &str, image: &Path) -> Command {
    let mut command = Command::new(program);
    command.env("MTOOLS_SKIP_CHECK", "1").arg("-i").arg(image);
    command
}

/// Runs a FAT tool; a missing one is named with the Debian package that has it.
fn run_tool(command: &mut Command) -> Result<std::process::Output, String> {
    let program = command.get_program().to_string_lossy().into_owned();
    children::output(command).map_err(|err| match err.kind() {
        std::io::ErrorKind::NotFound => {
            let package = if program == FSCK {
                "dosfstools"
            } else {
                "mtools"
            };
            format!("{program} is missing: install Debian's {package} (apt-get install {package})")
        }
        _ => format!("cannot run {program}: {err}"),
    })
}

/// An entry of an mdir listing: its name and the minute of its date.
type Listed = (String, Option<u64>);

/// The entries of an mdir listing: name (the long one where there is one) and the minute
/// of its date, `None` where the date cannot be read.
fn mdir_entries(listing: &str) -> Vec<Listed> {
    let mut entries = Vec::new();
    for line in listing.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some(at) = words.iter().position(|word| is_date(word)) else {
            continue;
        };
        let Some(time) = words.get(at + 1) else {
            continue;
        };
        // The long name is everything after the time, spaces and all.
        let after_time = line
            .find(&format!(" {time}"))
            .map(|start| line[start + time.len() + 1..].trim());
        let name = match after_time {
            Some(long) if !long.is_empty() => long.to_owned(),
            _ => short_name(&words[..at]),
        };
        entries.push((name, minute_from(words[at], time)));
    }
    entries
}

fn is_date(word: &str) -> bool {
    let bytes = word.as_bytes();
    bytes.len() == 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && word.chars().filter(char::is_ascii_digit).count() == 8
}

/// `NAME EXT size` or `NAME <DIR>` as mdir prints an 8.3 name: `name.ext`.
fn short_name(words: &[&str]) -> String {
    match words {
        [name, ext, _size] if *ext != "<DIR>" => format!("{name}.{ext}").to_lowercase(),
        [name, ..] => name.to_lowercase(),
        [] => String::new(),
    }
}

/// Minutes since 1970 of `YYYY-MM-DD` and `H:MM`, read as UTC.
fn minute_from(date: &str, time: &str) -> Option<u64> {
    let mut parts = date.split('-').map(|part| part.parse::<u64>().ok());
    let (year, month, day) = (parts.next()??, parts.next()??, parts.next()??);
    let (hour, minute) = time.split_once(':')?;
    let (hour, minute): (u64, u64) = (hour.parse().ok()?, minute.get(..2)?.parse().ok()?);
    if !(1980..=2107).contains(&year) || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    Some(days_from_civil(year, month, day) * 1440 + hour * 60 + minute)
}

fn minute_of(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs() / 60)
}

/// `2026-11-27 19:53` UTC.
fn show_minute(minute: u64) -> String {
    let (year, month, day) = civil_from_days(minute / 1440);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}",
        minute % 1440 / 60,
        minute % 60
    )
}

/// How a file read back differs from what the guest wrote.
fn differs(path: &str, found: &[u8], wanted: &[u8]) -> String {
    let first = found.iter().zip(wanted).position(|(f, w)| f != w);
    match first {
        Some(at) => format!(
            "/{path} differs from what the guest wrote at byte {at}: {:#04x}, not {:#04x}",
            found[at], wanted[at]
        ),
        None => format!(
            "/{path} is {} bytes, not the {} the guest wrote",
            found.len(),
            wanted.len()
        ),
    }
}

/// A tool's output on one line, for a problem report.
fn one_line(output: &[u8]) -> String {
    String::from_utf8_lossy(output)
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(" | ")
}

#[cfg(test)]
#[path = "fs_suite_tests.rs"]
mod tests;
