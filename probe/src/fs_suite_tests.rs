//! Tests of the fs suite's check after the run, on images made here as the guest would
//! leave them: it passes a good one and names each thing wrong with a bad one.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{check_image, fill, guest_files, mdir_entries, minute_from, pattern, show_minute};
use crate::disk::Scratch;
use crate::fat::command::{NewOptions, new};
use crate::fat::{Format, Layout};

const CORES: u32 = 2;

/// An image holding the host's files and the guest's, the guest's dated `when`, and
/// `extra` files too.
fn image(dir: &Path, name: &str, when: SystemTime, spoil: impl Fn(&Path)) -> PathBuf {
    let folder = dir.join(format!("{name}-folder"));
    std::fs::create_dir(&folder).unwrap();
    fill(&folder).unwrap();
    for (path, contents) in guest_files(CORES) {
        let file = folder.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, contents).unwrap();
        std::fs::File::options()
            .write(true)
            .open(&file)
            .unwrap()
            .set_modified(when)
            .unwrap();
    }
    spoil(&folder);
    let file = dir.join(format!("{name}.img"));
    new(&NewOptions {
        format: Format {
            bytes: 16 << 20,
            layout: Layout::WholeDisk,
            fat: None,
        },
        share: Some(folder),
        force: false,
        file: file.clone(),
    })
    .unwrap();
    file
}

#[test]
fn a_volume_as_the_guest_leaves_it_passes_and_each_fault_is_named() {
    let scratch = Scratch::new("fs-suite-check").unwrap();
    let now = SystemTime::now();
    let (started, ended) = (now - Duration::from_secs(30), now + Duration::from_secs(30));
    let good = image(scratch.path(), "good", now, |_| {});
    // A missing tool fails here with the package to install (`.ci/run` installs both).
    assert_eq!(
        check_image(&good, CORES, started, ended).unwrap(),
        Vec::<String>::new()
    );

    let bad = image(scratch.path(), "bad", now, |folder| {
        let mut big = pattern(3, 700_000);
        big[4321] ^= 1;
        std::fs::write(folder.join("big.bin"), big).unwrap();
        std::fs::write(folder.join("removed.txt"), b"x").unwrap();
        std::fs::remove_file(folder.join("many/file007.txt")).unwrap();
        let old = folder.join("appended.txt");
        std::fs::File::options()
            .write(true)
            .open(old)
            .unwrap()
            .set_modified(UNIX_EPOCH + Duration::from_secs(1_000_000_000))
            .unwrap();
    });
    let mut bytes = std::fs::read(&bad).unwrap();
    // FAT16's dirty bit: the volume was not unmounted.
    bytes[37] |= 1;
    std::fs::write(&bad, bytes).unwrap();
    let problems = check_image(&bad, CORES, started, ended).unwrap();
    let expected = [
        "fsck.fat -n finds the volume not clean: ",
        "/big.bin differs from what the guest wrote at byte 4321",
        "mcopy cannot read /many/file007.txt",
        "mdir dates /appended.txt 2001-09-09 01:46, outside ",
        "/removed.txt is still there after the guest removed it",
    ];
    for wanted in expected {
        assert!(
            problems.iter().any(|problem| problem.starts_with(wanted)),
            "{wanted}: {problems:#?}"
        );
    }
}

#[test]
fn reads_mdir_listings() {
    let listing = "\
 Volume in drive : has no label
Directory for ::/sub

.            <DIR>     2026-11-27  19:57
ALONGN~1 BIN    300000 2026-11-27  19:57  A long name with spaces, and \u{fc}mlauts.bin
DEEPER       <DIR>     2021-05-06   7:08  deeper
BIG      BIN    700000 2021-05-06   7:08
        4 files             300 000 bytes
";
    let entries = mdir_entries(listing);
    let minute = minute_from("2021-05-06", "7:08");
    assert_eq!(show_minute(minute.unwrap()), "2021-05-06 07:08");
    assert_eq!(
        entries[1],
        (
            "A long name with spaces, and \u{fc}mlauts.bin".to_owned(),
            minute_from("2026-11-27", "19:57")
        )
    );
    assert_eq!(entries[2], ("deeper".to_owned(), minute));
    assert_eq!(entries[3], ("big.bin".to_owned(), minute));
    assert_eq!(entries.len(), 4);
    assert_eq!(minute_from("1979-12-31", "0:00"), None);
    assert_eq!(minute_from("2021-13-01", "0:00"), None);
}
