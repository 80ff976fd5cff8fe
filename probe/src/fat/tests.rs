//! Tests of FAT images made and read on the host: round trips through `disk new --share`,
//! `ls` and `get`, long names, times, both layouts, and what is refused.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fatfs::FatType;

use super::command::{NewOptions, get, ls, new};
use super::share::{Tree, check_name};
use super::{Format, Layout, open};
use crate::disk::Scratch;

/// 2021-05-06 07:08:10 UTC.
const MAY_2021: u64 = 1_620_284_890;

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn write(path: &Path, bytes: &[u8], modified: SystemTime) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(modified)
        .unwrap();
}

/// Bytes that differ from offset to offset, so a misplaced cluster shows.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[2] ^ seed)
        .collect()
}

fn options(file: PathBuf, bytes: u64, share: Option<&Path>) -> NewOptions {
    NewOptions {
        format: Format {
            bytes,
            layout: Layout::WholeDisk,
            fat: None,
        },
        share: share.map(Path::to_path_buf),
        force: false,
        file,
    }
}

/// A folder with a long name, a file of several clusters, a nested directory, an empty
/// file and a dated one.
fn sample(dir: &Path) {
    write(&dir.join("a.txt"), b"hello\n", at(MAY_2021));
    write(
        &dir.join("sub/A long name with spaces, and \u{fc}mlauts.bin"),
        &pattern(300_000, 1),
        at(MAY_2021 + 3600),
    );
    write(&dir.join("sub/deeper/empty"), b"", at(MAY_2021 + 7200));
}

fn got(image: &Path, path: &str, out: &Path) -> Vec<u8> {
    get(image, path, Some(out)).unwrap();
    std::fs::read(out).unwrap()
}

#[test]
fn a_shared_folder_round_trips_in_both_layouts() {
    let scratch = Scratch::new("fat-round-trip").unwrap();
    let share = scratch.path().join("share");
    sample(&share);
    for layout in [Layout::WholeDisk, Layout::Mbr] {
        let image = scratch.path().join(format!("{layout:?}.img"));
        let mut new_options = options(image.clone(), 16 << 20, Some(&share));
        new_options.format.layout = layout;
        let summary = new(&new_options).unwrap();
        assert!(
            summary.contains(" 16 MiB FAT16 ")
                && summary.contains(", 292.9 KiB of 3 files and 2 directories from "),
            "{summary}"
        );
        let out = scratch.path().join("out");
        assert_eq!(got(&image, "/a.txt", &out), b"hello\n");
        // The file gets its time in the volume back on the host.
        assert_eq!(
            std::fs::metadata(&out).unwrap().modified().unwrap(),
            at(MAY_2021)
        );
        assert_eq!(
            got(
                &image,
                "SUB/a LONG name with spaces, and \u{dc}mlauts.bin",
                &out
            ),
            pattern(300_000, 1)
        );
        assert_eq!(got(&image, "sub/deeper/empty", &out), b"");
        let root = ls(&image, "/").unwrap();
        let sub = ls(&image, "sub").unwrap();
        assert!(
            root.starts_with("           6  2021-05-06 07:08:10  a.txt\n       <dir>  "),
            "{root}"
        );
        assert!(root.ends_with("  sub/\n"), "{root}");
        assert_eq!(
            sub.lines().next().unwrap(),
            "      300000  2021-05-06 08:08:10  A long name with spaces, and \u{fc}mlauts.bin"
        );
        assert!(sub.ends_with("  deeper/\n"), "{sub}");
        assert_eq!(
            ls(&image, "/sub/deeper/empty").unwrap(),
            "           0  2021-05-06 09:08:10  empty\n"
        );
    }
}

#[test]
fn the_size_picks_the_fat_type_unless_told() {
    let scratch = Scratch::new("fat-types").unwrap();
    for (bytes, fat, wanted) in [
        (1 << 20, None, FatType::Fat12),
        (64 << 20, None, FatType::Fat16),
        (600 << 20, None, FatType::Fat32),
        (64 << 20, Some(FatType::Fat32), FatType::Fat32),
        (2 << 20, Some(FatType::Fat12), FatType::Fat12),
    ] {
        let image = scratch.path().join(format!("{bytes}-{fat:?}.img"));
        let mut new_options = options(image.clone(), bytes, None);
        new_options.format.fat = fat;
        new(&new_options).unwrap();
        assert_eq!(open(&image).unwrap().volume.fat_type(), wanted);
        // Sparse: only the tables were written.
        assert_eq!(std::fs::metadata(&image).unwrap().len(), bytes);
        assert_eq!(ls(&image, "/").unwrap(), "");
    }
}

#[test]
fn sizes_and_types_that_cannot_be_are_refused_and_leave_nothing() {
    let scratch = Scratch::new("fat-sizes").unwrap();
    let image = scratch.path().join("x.img");
    let err = new(&options(image.clone(), 32 << 10, None)).unwrap_err();
    assert_eq!(
        err,
        "--size 32 KiB is too small: the smallest image is 64 KiB"
    );
    let err = new(&options(image.clone(), 3 << 40, None)).unwrap_err();
    assert!(err.starts_with("--size 3072 GiB is too large"), "{err}");
    let mut fat32 = options(image.clone(), 1 << 20, None);
    fat32.format.fat = Some(FatType::Fat32);
    let err = new(&fat32).unwrap_err();
    assert!(
        err.starts_with("cannot make a FAT32 volume of 1 MiB in "),
        "{err}"
    );
    let mut mbr = options(image.clone(), 1 << 20, None);
    mbr.format.layout = Layout::Mbr;
    let err = new(&mbr).unwrap_err();
    assert!(err.contains("the partition starts at 1 MiB"), "{err}");
    assert!(!image.exists());
}

#[test]
fn an_existing_file_is_kept_unless_forced() {
    let scratch = Scratch::new("fat-force").unwrap();
    let image = scratch.path().join("x.img");
    std::fs::write(&image, b"precious").unwrap();
    let mut new_options = options(image.clone(), 1 << 20, None);
    let err = new(&new_options).unwrap_err();
    assert!(
        err.ends_with("exists already; give --force to replace it"),
        "{err}"
    );
    assert_eq!(std::fs::read(&image).unwrap(), b"precious");
    new_options.force = true;
    new(&new_options).unwrap();
    assert_eq!(std::fs::metadata(&image).unwrap().len(), 1 << 20);
}

#[test]
fn a_folder_that_does_not_fit_is_refused_and_leaves_no_image() {
    let scratch = Scratch::new("fat-too-big").unwrap();
    let share = scratch.path().join("share");
    write(&share.join("big"), &pattern(2 << 20, 2), at(MAY_2021));
    let image = scratch.path().join("x.img");
    let err = new(&options(image.clone(), 1 << 20, Some(&share))).unwrap_err();
    assert!(
        err.contains(
            ": 2 MiB in 1 file and 0 directories does not fit the volume; it needs \
                      about 3 MiB"
        ),
        "{err}"
    );
    assert!(!image.exists());
}

#[test]
fn names_fat_cannot_hold_are_refused() {
    assert_eq!(check_name("plain.txt"), Ok(()));
    assert_eq!(check_name("\u{fc}mlauts & spaces, [brackets]"), Ok(()));
    assert_eq!(check_name(&"n".repeat(255)), Ok(()));
    assert!(
        check_name(&"n".repeat(256))
            .unwrap_err()
            .contains("256 bytes")
    );
    for bad in [
        "a:b",
        "a?",
        "a*b",
        "a\\b",
        "a|b",
        "a<b",
        "a\"b",
        "tab\there",
    ] {
        assert!(check_name(bad).is_err(), "{bad}");
    }
    assert!(
        check_name("emoji \u{1f600}")
            .unwrap_err()
            .contains("U+FFFF")
    );
    assert!(
        check_name("trailing.")
            .unwrap_err()
            .contains("ends with a dot")
    );
    assert!(check_name("trailing ").is_err());
}

#[test]
fn folders_with_clashing_or_bad_names_are_refused_before_any_image() {
    let scratch = Scratch::new("fat-bad-share").unwrap();
    let share = scratch.path().join("share");
    write(&share.join("sub/Read.me"), b"1", at(MAY_2021));
    write(&share.join("sub/READ.ME"), b"2", at(MAY_2021));
    let err = Tree::scan(&share).unwrap_err();
    assert!(err.contains("differ only in case"), "{err}");
    std::fs::remove_file(share.join("sub/READ.ME")).unwrap();
    write(&share.join("what?"), b"3", at(MAY_2021));
    let image = scratch.path().join("x.img");
    let err = new(&options(image.clone(), 1 << 20, Some(&share))).unwrap_err();
    assert!(err.contains("what?: the name holds '?'"), "{err}");
    assert!(!image.exists());
    std::fs::remove_file(share.join("what?")).unwrap();
    std::os::unix::fs::symlink(share.join("sub"), share.join("loop")).unwrap();
    let err = Tree::scan(&share).unwrap_err();
    assert!(err.contains("is a link to a directory"), "{err}");
    let err = Tree::scan(&share.join("sub/Read.me")).unwrap_err();
    assert!(err.ends_with("not a directory"), "{err}");
}

#[test]
fn what_is_not_fat_or_not_there_is_one_line_each() {
    let scratch = Scratch::new("fat-errors").unwrap();
    let out = scratch.path().join("out");
    let junk = scratch.path().join("junk.img");
    std::fs::write(&junk, pattern(1 << 20, 3)).unwrap();
    let err = ls(&junk, "/").unwrap_err();
    assert!(
        err.ends_with(
            "not a FAT image: sector 0 is neither a FAT boot sector nor an MBR with a FAT partition"
        ),
        "{err}"
    );
    let short = scratch.path().join("short.img");
    std::fs::write(&short, b"tiny").unwrap();
    assert!(
        ls(&short, "/")
            .unwrap_err()
            .contains("less than one sector")
    );
    let missing = scratch.path().join("missing.img");
    assert!(ls(&missing, "/").unwrap_err().starts_with("cannot open "));

    let share = scratch.path().join("share");
    sample(&share);
    let image = scratch.path().join("x.img");
    new(&options(image.clone(), 16 << 20, Some(&share))).unwrap();
    assert!(
        ls(&image, "/nope")
            .unwrap_err()
            .ends_with("no /nope in the volume")
    );
    assert!(
        ls(&image, "a.txt/x")
            .unwrap_err()
            .ends_with("/a.txt is a file, not a directory")
    );
    assert!(
        get(&image, "sub", Some(&out))
            .unwrap_err()
            .contains("sub is a directory")
    );
    assert!(
        get(&image, "/", Some(&out))
            .unwrap_err()
            .contains("/ is a directory")
    );
    assert!(
        get(&image, "sub/none", Some(&out))
            .unwrap_err()
            .ends_with("no /sub/none in the volume")
    );

    // Cut after the tables: the data of the long file is gone.
    let cut = scratch.path().join("cut.img");
    std::fs::write(&cut, &std::fs::read(&image).unwrap()[..200 << 10]).unwrap();
    let err = get(
        &cut,
        "sub/A long name with spaces, and \u{fc}mlauts.bin",
        Some(&out),
    )
    .unwrap_err();
    assert!(
        err.contains("but only 120320 could be read: a truncated image?"),
        "{err}"
    );
    assert!(!out.exists());

    // An MBR whose partition runs past the end of the image.
    let mut mbr = options(scratch.path().join("mbr.img"), 8 << 20, None);
    mbr.format.layout = Layout::Mbr;
    new(&mbr).unwrap();
    let cut = scratch.path().join("cut-mbr.img");
    std::fs::write(&cut, &std::fs::read(&mbr.file).unwrap()[..4 << 20]).unwrap();
    assert!(ls(&cut, "/").unwrap_err().contains("a truncated image"));
}

#[test]
fn a_directory_whose_cluster_chain_loops_is_an_error() {
    let scratch = Scratch::new("fat-loop").unwrap();
    let share = scratch.path().join("share");
    // Enough entries for the directory to take two clusters (1 KiB each on 4 MiB FAT16).
    for i in 0..40 {
        write(&share.join(format!("dir/file{i}")), b"x", at(MAY_2021));
    }
    let image = scratch.path().join("x.img");
    let mut new_options = options(image.clone(), 8 << 20, Some(&share));
    new_options.format.fat = Some(FatType::Fat16);
    new(&new_options).unwrap();
    let mut bytes = std::fs::read(&image).unwrap();
    let word =
        |bytes: &[u8], at: usize| usize::from(u16::from_le_bytes([bytes[at], bytes[at + 1]]));
    let reserved = word(&bytes, 14);
    // The directory's first cluster is the first one allocated (2); point its successor
    // back at itself in both FATs.
    let fat_bytes = word(&bytes, 22) * 512;
    for fat in 0..2 {
        let entry = reserved * 512 + fat * fat_bytes + 2 * 2;
        assert_ne!(word(&bytes, entry + 2), 0, "cluster 3 follows 2");
        bytes[entry..entry + 2].copy_from_slice(&2u16.to_le_bytes());
    }
    std::fs::write(&image, bytes).unwrap();
    let err = ls(&image, "dir").unwrap_err();
    assert!(err.ends_with("its cluster chain loops"), "{err}");
}

/// Lists every directory and reads every file under `path`, as far as the image lets;
/// the number of files read whole.
fn walk_all(image: &Path, path: &str, out: &Path, depth: usize) -> usize {
    let Ok(listing) = ls(image, path) else {
        return 0;
    };
    let mut read = 0;
    for line in listing.lines() {
        // `{size:>12}  {date} {time}  {name}`
        let name = line.get(35..).unwrap_or_default();
        let child = format!("{path}/{}", name.trim_end_matches('/'));
        if name.ends_with('/') {
            if depth < 4 {
                read += walk_all(image, &child, out, depth + 1);
            }
        } else if get(image, &child, Some(out)).is_ok() {
            read += 1;
        }
    }
    read
}

#[test]
fn mutated_images_give_errors_not_panics() {
    let scratch = Scratch::new("fat-mutated").unwrap();
    let share = scratch.path().join("share");
    sample(&share);
    let image = scratch.path().join("x.img");
    let mut new_options = options(image.clone(), 1 << 20, Some(&share));
    new_options.format.fat = Some(FatType::Fat12);
    new(&new_options).unwrap();
    let out = scratch.path().join("out");
    assert_eq!(walk_all(&image, "", &out, 0), 3);
    let original = std::fs::read(&image).unwrap();
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..MUTATIONS {
        let mut bytes = original.clone();
        // The boot sector, the FATs and the directories are in the first 64 KiB.
        for _ in 0..1 + next() % 8 {
            let at = (next() % (64 << 10)) as usize;
            bytes[at] = next() as u8;
        }
        std::fs::write(&image, &bytes).unwrap();
        walk_all(&image, "", &out, 0);
    }
}

/// Mutated images per run of the test above.
const MUTATIONS: usize = 100;
