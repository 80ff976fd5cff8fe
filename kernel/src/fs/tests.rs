//! The file layer on RAM disks (`hal::mock::FakeDisk`), formatted by the FAT crate.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};
use core::time::Duration;
use std::format;

use hal::block::{ErrorKind as DiskErrorKind, SECTOR_SIZE};
use hal::mock::FakeDisk;

use super::device::{Device, Storage};
use super::{ErrorKind, OpenOptions, Sectors, Volume};
use crate::time::UNIX_EPOCH;

/// A RAM disk as the file layer sees one.
struct Ram(FakeDisk);

impl Sectors for Ram {
    fn sector_count(&self) -> u64 {
        hal::block::BlockDevice::sector_count(&self.0)
    }

    fn read(&mut self, first: u64, buf: &mut [u8]) -> Result<(), DiskErrorKind> {
        self.0.read_now(first, buf)
    }

    fn write(&mut self, first: u64, buf: &[u8]) -> Result<(), DiskErrorKind> {
        self.0.write_now(first, buf)
    }

    fn flush(&mut self) -> Result<(), DiskErrorKind> {
        self.0.flush_now();
        Ok(())
    }
}

/// 2026-11-27 19:53:28 UTC.
const NOW: u64 = 1_795_809_208;

/// A test clock: seconds since the Unix epoch, set by hand.
fn clock() -> (Arc<AtomicU64>, impl Fn() -> Duration + Send + Sync) {
    let secs = Arc::new(AtomicU64::new(NOW));
    let theirs = secs.clone();
    (secs, move || {
        Duration::from_secs(theirs.load(Ordering::SeqCst))
    })
}

/// A disk of `sectors` sectors holding a fresh FAT volume of `fat` type.
fn formatted(sectors: u64, fat: Option<fatfs::FatType>) -> FakeDisk {
    let disk = FakeDisk::new(sectors);
    let device = Arc::new(spin::Mutex::new(Device::new(
        alloc::boxed::Box::new(Ram(disk.clone())),
        0,
        sectors,
    )));
    let mut storage = Storage::new(device.clone());
    let mut options = fatfs::FormatVolumeOptions::new().volume_id(7);
    if let Some(fat) = fat {
        options = options.fat_type(fat);
    }
    fatfs::format_volume(&mut storage, options).expect("format");
    device.lock().write_back().unwrap();
    disk
}

fn mount(disk: &FakeDisk) -> Volume {
    let (_, clock) = clock();
    Volume::mount_with_clock(Ram(disk.clone()), clock).expect("mount")
}

/// 8 MiB: FAT16 as the FAT crate picks it.
fn volume() -> (FakeDisk, Volume) {
    let disk = formatted(16 * 1024, None);
    let volume = mount(&disk);
    (disk, volume)
}

#[test]
fn a_written_file_reads_back_after_a_remount() {
    let (disk, v) = volume();
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    v.write("/hello.bin", &data).unwrap();
    assert_eq!(v.read("hello.bin").unwrap(), data);
    v.sync().unwrap();
    drop(v);
    let again = mount(&disk);
    assert_eq!(again.read("/HELLO.BIN").unwrap(), data, "names ignore case");
    assert_eq!(again.metadata("/hello.bin").unwrap().len(), 100_000);
}

#[test]
fn each_fat_type_mounts_and_keeps_files() {
    for (sectors, fat) in [
        (4096, fatfs::FatType::Fat12),
        (16 * 1024, fatfs::FatType::Fat16),
        (80 * 1024, fatfs::FatType::Fat32),
    ] {
        let disk = formatted(sectors, Some(fat));
        let v = mount(&disk);
        v.create_dir("/d").unwrap();
        v.write("/d/a long file name.text", b"x").unwrap();
        assert_eq!(
            v.read_to_string("/d/a long file name.text").unwrap(),
            "x",
            "{fat:?}"
        );
    }
}

#[test]
fn reads_writes_and_seeks_move_one_position() {
    let (_, v) = volume();
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .open_on(&v, "/f")
        .unwrap();
    f.write_all(b"hello world").unwrap();
    f.seek(embedded_io::SeekFrom::Start(6)).unwrap();
    let mut buf = [0; 5];
    f.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"world");
    assert_eq!(f.read(&mut buf).unwrap(), 0, "at the end");
    // A write past the end fills the gap with zeros.
    f.seek(embedded_io::SeekFrom::End(3)).unwrap();
    f.write_all(b"!").unwrap();
    assert_eq!(v.read("/f").unwrap(), b"hello world\0\0\0!");
    let err = f.seek(embedded_io::SeekFrom::Current(-100)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    // Overwrite in the middle keeps the rest.
    f.seek(embedded_io::SeekFrom::Start(0)).unwrap();
    f.write_all(b"J").unwrap();
    assert_eq!(v.read("/f").unwrap(), b"Jello world\0\0\0!");
}

#[test]
fn open_options_follow_std() {
    let (_, v) = volume();
    let err = |o: &OpenOptions, p| o.open_on(&v, p).unwrap_err().kind();
    assert_eq!(err(&OpenOptions::new(), "/a"), ErrorKind::InvalidInput);
    assert_eq!(
        err(OpenOptions::new().read(true).create(true), "/a"),
        ErrorKind::InvalidInput
    );
    assert_eq!(
        err(OpenOptions::new().append(true).truncate(true), "/a"),
        ErrorKind::InvalidInput
    );
    assert_eq!(
        err(OpenOptions::new().read(true), "/a"),
        ErrorKind::NotFound
    );
    v.write("/a", b"123").unwrap();
    assert_eq!(
        err(OpenOptions::new().write(true).create_new(true), "/a"),
        ErrorKind::AlreadyExists
    );
    let mut log = OpenOptions::new().append(true).open_on(&v, "/a").unwrap();
    log.write_all(b"45").unwrap();
    log.seek(embedded_io::SeekFrom::Start(0)).unwrap();
    log.write_all(b"6").unwrap();
    assert_eq!(v.read("/a").unwrap(), b"123456", "appends go to the end");
    let mut buf = [0; 1];
    assert_eq!(
        log.read(&mut buf).unwrap_err().kind(),
        ErrorKind::PermissionDenied
    );
    OpenOptions::new()
        .write(true)
        .truncate(true)
        .open_on(&v, "/a")
        .unwrap();
    assert_eq!(v.metadata("/a").unwrap().len(), 0);
    let mut ro = v.open("/a").unwrap();
    assert_eq!(
        ro.write(b"x").unwrap_err().kind(),
        ErrorKind::PermissionDenied
    );
}

#[test]
fn set_len_cuts_and_grows() {
    let (_, v) = volume();
    let f = v.create("/f").unwrap();
    f.set_len(10_000).unwrap();
    assert_eq!(v.read("/f").unwrap(), vec![0; 10_000]);
    f.set_len(3).unwrap();
    assert_eq!(v.metadata("/f").unwrap().len(), 3);
    f.set_len(0).unwrap();
    assert!(v.metadata("/f").unwrap().is_empty());
}

#[test]
fn directories_nest_list_and_remove() {
    let (_, v) = volume();
    v.create_dir_all("/a/b/c").unwrap();
    v.create_dir_all("/a/b").unwrap();
    assert_eq!(
        v.create_dir("/a").unwrap_err().kind(),
        ErrorKind::AlreadyExists
    );
    assert_eq!(
        v.create_dir("/x/y").unwrap_err().kind(),
        ErrorKind::NotFound
    );
    v.write("/a/b/file.txt", b"text").unwrap();
    let mut names: Vec<String> = v
        .read_dir("/a/b")
        .unwrap()
        .map(|e| String::from(e.unwrap().file_name()))
        .collect();
    names.sort();
    assert_eq!(names, ["c", "file.txt"]);
    let entry = v
        .read_dir("/a/b/")
        .unwrap()
        .find(|e| e.as_ref().unwrap().file_name() == "c");
    let entry = entry.unwrap().unwrap();
    assert!(entry.file_type().unwrap().is_dir());
    assert_eq!(entry.path(), "/a/b/c");
    assert_eq!(
        v.remove_dir("/a/b").unwrap_err().kind(),
        ErrorKind::DirectoryNotEmpty
    );
    assert_eq!(
        v.remove_dir("/a/b/file.txt").unwrap_err().kind(),
        ErrorKind::NotADirectory
    );
    assert_eq!(
        v.remove_file("/a/b/c").unwrap_err().kind(),
        ErrorKind::IsADirectory
    );
    assert_eq!(
        v.open("/a/b/c").unwrap_err().kind(),
        ErrorKind::IsADirectory
    );
    assert_eq!(
        v.open("/a/b/file.txt/x").unwrap_err().kind(),
        ErrorKind::NotADirectory
    );
    assert_eq!(
        v.remove_dir("/").unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    v.remove_file("/a/b/file.txt").unwrap();
    v.remove_dir("/a/b/c").unwrap();
    v.remove_dir("/a/b/../b").unwrap();
    assert_eq!(v.read_dir("/a").unwrap().count(), 0);
    assert_eq!(v.metadata("/a/b").unwrap_err().kind(), ErrorKind::NotFound);
    assert!(v.metadata("/").unwrap().is_dir());
}

#[test]
fn renames_move_files_and_replace_them() {
    let (_, v) = volume();
    v.create_dir("/in").unwrap();
    v.create_dir("/out").unwrap();
    v.write("/in/a", b"a").unwrap();
    v.write("/out/b", b"b").unwrap();
    v.rename("/in/a", "/out/b").unwrap();
    assert_eq!(v.read("/out/b").unwrap(), b"a", "replaced");
    assert_eq!(v.metadata("/in/a").unwrap_err().kind(), ErrorKind::NotFound);
    v.rename("/out/b", "/out/a much longer name").unwrap();
    assert_eq!(v.read("/out/a much longer name").unwrap(), b"a");
    v.rename("/out", "/renamed").unwrap();
    assert_eq!(v.read("/renamed/a much longer name").unwrap(), b"a");
    assert_eq!(
        v.rename("/renamed", "/in/x").unwrap_err().kind(),
        ErrorKind::Unsupported
    );
    assert_eq!(
        v.rename("/in", "/renamed").unwrap_err().kind(),
        ErrorKind::AlreadyExists
    );
    assert_eq!(
        v.rename("/nothing", "/x").unwrap_err().kind(),
        ErrorKind::NotFound
    );
    // An open file follows its path: renamed away, its calls say so.
    let mut f = v.open("/renamed/a much longer name").unwrap();
    v.rename("/renamed/a much longer name", "/renamed/z")
        .unwrap();
    let err = f.read(&mut [0; 1]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(format!("{err}").contains("removed or renamed"), "{err}");
}

#[test]
fn a_full_volume_says_so_and_keeps_what_fit() {
    let disk = formatted(4096, Some(fatfs::FatType::Fat12)); // 2 MiB
    let v = mount(&disk);
    let big = vec![7u8; 3 << 20];
    let mut f = v.create("/big").unwrap();
    let written = f.write(&big).unwrap();
    assert!(written > 1 << 20 && written < 2 << 20, "{written}");
    assert_eq!(f.write(&big).unwrap_err().kind(), ErrorKind::StorageFull);
    assert_eq!(
        v.write("/more", &big).unwrap_err().kind(),
        ErrorKind::StorageFull
    );
    assert_eq!(v.metadata("/big").unwrap().len(), written as u64);
    v.remove_file("/big").unwrap();
    v.write("/small", b"fits again").unwrap();
}

#[test]
fn a_thousand_files_share_one_directory() {
    let (disk, v) = volume();
    v.create_dir("/many").unwrap();
    for i in 0..1000 {
        v.write(&format!("/many/file number {i}.txt"), format!("{i}"))
            .unwrap();
    }
    v.sync().unwrap();
    let again = mount(&disk);
    assert_eq!(again.read_dir("/many").unwrap().count(), 1000);
    for i in (0..1000).step_by(97) {
        assert_eq!(
            again
                .read_to_string(&format!("/many/file number {i}.txt"))
                .unwrap(),
            format!("{i}")
        );
    }
}

#[test]
fn a_fixed_root_directory_fills_up() {
    let disk = formatted(4096, Some(fatfs::FatType::Fat12));
    let v = mount(&disk);
    let mut made = 0;
    let err = loop {
        match v.write(&format!("/f{made}"), b"") {
            Ok(()) => made += 1,
            Err(e) => break e,
        }
    };
    assert_eq!(err.kind(), ErrorKind::StorageFull);
    assert!(made >= 100, "{made}");
}

#[test]
fn names_fat_cannot_store_are_refused() {
    let (_, v) = volume();
    let long = "x".repeat(256);
    assert_eq!(
        v.write(&long, b"").unwrap_err().kind(),
        ErrorKind::InvalidFilename
    );
    assert_eq!(
        v.write("/a:b", b"").unwrap_err().kind(),
        ErrorKind::InvalidFilename
    );
    assert_eq!(v.open("/").unwrap_err().kind(), ErrorKind::IsADirectory);
    v.write("/Ünïcödé ñame.txt", b"u").unwrap_err();
    v.write("/an ünïcödé ñame.txt", b"u").unwrap();
    let names: Vec<String> = v
        .read_dir("/")
        .unwrap()
        .map(|e| String::from(e.unwrap().file_name()))
        .collect();
    assert_eq!(names, ["an ünïcödé ñame.txt"]);
}

#[test]
fn files_carry_the_clock_s_time() {
    let disk = formatted(16 * 1024, None);
    let (secs, clock) = clock();
    let v = Volume::mount_with_clock(Ram(disk), clock).unwrap();
    v.write("/t", b"1").unwrap();
    let m = v.metadata("/t").unwrap();
    let at = |secs| UNIX_EPOCH + Duration::from_secs(secs);
    assert_eq!(m.created().unwrap(), at(NOW));
    assert_eq!(m.modified().unwrap(), at(NOW));
    assert_eq!(m.accessed().unwrap(), at(NOW - NOW % 86_400));
    secs.store(NOW + 3600, Ordering::SeqCst);
    let mut f = OpenOptions::new().append(true).open_on(&v, "/t").unwrap();
    f.write_all(b"2").unwrap();
    let m = v.metadata("/t").unwrap();
    assert_eq!(m.modified().unwrap(), at(NOW + 3600), "a write moves it");
    assert_eq!(m.created().unwrap(), at(NOW));
    assert!(
        v.metadata("/").unwrap().modified().is_err(),
        "the root has no times"
    );
}

#[test]
fn threads_use_one_volume_at_once() {
    let (disk, v) = volume();
    let workers: Vec<_> = (0..4)
        .map(|t| {
            let v = v.clone();
            std::thread::spawn(move || {
                let data: Vec<u8> = (0..20_000u32).map(|i| (i * (t + 1)) as u8).collect();
                for round in 0..10 {
                    let path = format!("/thread {t} round {round}");
                    v.write(&path, &data).unwrap();
                    assert_eq!(v.read(&path).unwrap(), data);
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    v.sync().unwrap();
    assert_eq!(mount(&disk).read_dir("/").unwrap().count(), 40);
}

#[test]
fn sync_marks_the_volume_clean_and_flushes() {
    let (disk, v) = volume();
    let dirty = |d: &FakeDisk| d.bytes()[0x25] & 1 == 1; // FAT16's status byte
    assert!(!dirty(&disk));
    let mut f = v.create("/f").unwrap();
    f.write_all(b"data").unwrap();
    let flushes = disk.flushes();
    f.sync_all().unwrap();
    assert!(!dirty(&disk));
    assert_eq!(disk.flushes(), flushes + 1);
    f.write_all(b"more").unwrap();
    drop(f);
    drop(v);
    assert!(!dirty(&disk), "the last clone unmounts");
}

#[test]
fn a_read_only_disk_reads_and_refuses_writes() {
    let disk = formatted(16 * 1024, None);
    mount(&disk).write("/f", b"kept").unwrap();
    disk.set_read_only(true);
    let v = mount(&disk);
    assert_eq!(v.read("/f").unwrap(), b"kept");
    let err = v.write("/g", b"x").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    assert_eq!(
        format!("{err}"),
        "/g: permission denied: the disk is read-only"
    );
}

#[test]
fn a_failing_sector_is_an_error_not_a_panic() {
    let (disk, v) = volume();
    v.write("/f", vec![1; 8192]).unwrap();
    disk.fail_sector(Some(200));
    let result = (0..20)
        .try_for_each(|i| v.write(&format!("/g{i}"), vec![2; 8192]))
        .and_then(|()| v.sync());
    assert_eq!(result.unwrap_err().kind(), ErrorKind::Other);
}

#[test]
fn partitions_are_found_through_the_mbr() {
    let volume = formatted(16 * 1024, None).bytes();
    let mut image = vec![0u8; 2048 * SECTOR_SIZE];
    image[446 + 4] = 0x06;
    image[446 + 8..446 + 12].copy_from_slice(&2048u32.to_le_bytes());
    image[446 + 12..446 + 16].copy_from_slice(&(16u32 * 1024).to_le_bytes());
    image[510] = 0x55;
    image[511] = 0xaa;
    image.extend_from_slice(&volume);
    let disk = FakeDisk::from_bytes(image);
    mount(&disk).write("/in partition", b"p").unwrap();
    assert_eq!(mount(&disk).read("/in partition").unwrap(), b"p");
}

/// Bad volumes: each gives an error, never a panic or a hang.
mod corrupt {
    use alloc::vec;

    use hal::mock::FakeDisk;

    use alloc::vec::Vec;

    use super::{Ram, clock, formatted, mount};
    use crate::fs::{ErrorKind, Volume};

    fn mount_err(disk: FakeDisk) -> ErrorKind {
        let (_, clock) = clock();
        Volume::mount_with_clock(Ram(disk), clock)
            .unwrap_err()
            .kind()
    }

    #[test]
    fn a_disk_that_is_not_fat() {
        assert_eq!(mount_err(FakeDisk::new(100)), ErrorKind::InvalidData);
        assert_eq!(mount_err(FakeDisk::new(0)), ErrorKind::InvalidData);
    }

    #[test]
    fn a_truncated_image() {
        let image = formatted(16 * 1024, None).bytes();
        assert_eq!(
            mount_err(FakeDisk::from_bytes(image[..1 << 20].to_vec())),
            ErrorKind::InvalidData
        );
    }

    /// FAT16 as formatted here: 512-byte sectors, the FAT at sector `reserved`.
    fn fat16_layout(image: &[u8]) -> (usize, usize) {
        let reserved = u16::from_le_bytes([image[14], image[15]]) as usize;
        let per_fat = u16::from_le_bytes([image[22], image[23]]) as usize;
        (reserved * 512, per_fat * 512)
    }

    #[test]
    fn a_looping_cluster_chain() {
        let disk = formatted(16 * 1024, Some(fatfs::FatType::Fat16));
        let v = mount(&disk);
        v.write("/loop", vec![1; 20_000]).unwrap();
        v.create_dir("/dir").unwrap();
        for i in 0..40 {
            v.write(&alloc::format!("/dir/entry with a long name {i}"), b"")
                .unwrap();
        }
        v.sync().unwrap();
        drop(v);
        // Point every FAT entry from cluster 3 on back at cluster 3: the file's chain and the
        // directory's both loop.
        let mut image = disk.bytes();
        let (fat, per_fat) = fat16_layout(&image);
        for copy in 0..2 {
            for cluster in 3..64 {
                let at = fat + copy * per_fat + cluster * 2;
                image[at..at + 2].copy_from_slice(&3u16.to_le_bytes());
            }
        }
        let v = mount(&FakeDisk::from_bytes(image));
        let err = v.read_dir("/dir").map(Iterator::count).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidData, "{err}");
        assert!(alloc::format!("{err}").contains("loops"), "{err}");
        assert_eq!(
            v.write("/dir/new", b"x").unwrap_err().kind(),
            ErrorKind::InvalidData
        );
        // The file's 20000 bytes fit in its size; reading loops over its clusters, in bounds.
        assert!(v.read("/loop").map(|d| d.len() == 20_000).unwrap_or(true));
        assert!(v.remove_file("/loop").is_err() || v.metadata("/loop").is_err());
    }

    #[test]
    fn an_entry_pointing_past_the_end_and_a_lying_size() {
        let disk = formatted(16 * 1024, Some(fatfs::FatType::Fat16));
        let v = mount(&disk);
        v.write("/far", b"far").unwrap();
        v.write("/liar", b"short").unwrap();
        v.sync().unwrap();
        drop(v);
        let mut image = disk.bytes();
        let root = image.windows(11).position(|w| w == b"FAR        ").unwrap();
        image[root + 26..root + 28].copy_from_slice(&0xfff0u16.to_le_bytes());
        let liar = image.windows(11).position(|w| w == b"LIAR       ").unwrap();
        image[liar + 28..liar + 32].copy_from_slice(&u32::MAX.to_le_bytes());
        let v = mount(&FakeDisk::from_bytes(image));
        assert_eq!(v.read("/far").unwrap_err().kind(), ErrorKind::InvalidData);
        let err = v.read("/liar").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidData, "{err}");
    }

    /// The first FAT's byte offset, one FAT's size in bytes and how many FATs there are.
    fn fats(image: &[u8]) -> (usize, usize, usize) {
        let reserved = u16::from_le_bytes([image[14], image[15]]) as usize;
        let per_fat = match u16::from_le_bytes([image[22], image[23]]) {
            0 => u32::from_le_bytes(image[36..40].try_into().unwrap()) as usize,
            n => n as usize,
        };
        (reserved * 512, per_fat * 512, image[16] as usize)
    }

    /// Sets FAT entry `cluster` to `value` in every FAT.
    fn set_fat(image: &mut [u8], fat: fatfs::FatType, cluster: usize, value: u32) {
        let (start, per_fat, count) = fats(image);
        for copy in 0..count {
            let base = start + copy * per_fat;
            match fat {
                fatfs::FatType::Fat12 => {
                    let at = base + cluster + cluster / 2;
                    let old = u16::from_le_bytes([image[at], image[at + 1]]);
                    let new = if cluster.is_multiple_of(2) {
                        (old & 0xf000) | value as u16
                    } else {
                        (old & 0x000f) | ((value as u16) << 4)
                    };
                    image[at..at + 2].copy_from_slice(&new.to_le_bytes());
                }
                fatfs::FatType::Fat16 => {
                    let at = base + cluster * 2;
                    image[at..at + 2].copy_from_slice(&(value as u16).to_le_bytes());
                }
                fatfs::FatType::Fat32 => {
                    let at = base + cluster * 4;
                    image[at..at + 4].copy_from_slice(&value.to_le_bytes());
                }
            }
        }
    }

    /// The volume's last cluster number.
    fn last_cluster(image: &[u8]) -> u32 {
        let (start, per_fat, count) = fats(image);
        let root = u16::from_le_bytes([image[17], image[18]]) as usize * 32 / 512;
        let total = match u16::from_le_bytes([image[19], image[20]]) {
            0 => u32::from_le_bytes(image[32..36].try_into().unwrap()) as usize,
            n => n as usize,
        };
        let data = (start + count * per_fat) / 512 + root;
        ((total - data) / image[13] as usize + 1) as u32
    }

    /// Where the short entry named `name` (11 bytes, as stored) lies in `image`.
    fn entry(image: &[u8], name: &[u8; 11]) -> usize {
        image.windows(11).position(|w| w == name).unwrap()
    }

    /// The first cluster of the entry at `at`.
    fn first_cluster(image: &[u8], at: usize) -> usize {
        let high = u16::from_le_bytes([image[at + 20], image[at + 21]]) as usize;
        let low = u16::from_le_bytes([image[at + 26], image[at + 27]]) as usize;
        (high << 16) | low
    }

    /// A volume of `fat` type holding a 300-cluster filler (so that the victim's FAT entries
    /// lie past the FAT's first sector, read at mount), `/victim.bin` of 8 clusters and
    /// `/dir` with a file; its image.
    fn victims(sectors: u64, fat: fatfs::FatType) -> Vec<u8> {
        let disk = formatted(sectors, Some(fat));
        let v = mount(&disk);
        v.write("/filler", vec![0; 300 * 4096]).unwrap();
        v.write("/victim.bin", vec![5; 8 * 4096]).unwrap();
        v.create_dir("/dir").unwrap();
        v.write("/dir/inner", b"inner").unwrap();
        v.sync().unwrap();
        drop(v);
        disk.bytes()
    }

    /// Mounts `image` and runs `op`: the mount or the operation fails with `InvalidData`.
    fn refused<T: core::fmt::Debug>(
        image: Vec<u8>,
        op: impl FnOnce(&Volume) -> Result<T, crate::fs::Error>,
    ) {
        let (_, clock) = clock();
        match Volume::mount_with_clock(Ram(FakeDisk::from_bytes(image)), clock) {
            Err(err) => assert_eq!(err.kind(), ErrorKind::InvalidData, "{err}"),
            Ok(v) => {
                let err = op(&v).unwrap_err();
                assert_eq!(err.kind(), ErrorKind::InvalidData, "{err}");
            }
        }
    }

    const VICTIM: &[u8; 11] = b"VICTIM  BIN";
    const DIR: &[u8; 11] = b"DIR        ";

    #[test]
    fn a_fat_entry_of_one_in_a_chain() {
        for (sectors, fat) in [
            (16 * 1024, fatfs::FatType::Fat16),
            (80 * 1024, fatfs::FatType::Fat32),
            (4096, fatfs::FatType::Fat12),
        ] {
            let mut image = victims(sectors, fat);
            let cluster = first_cluster(&image, entry(&image, VICTIM));
            set_fat(&mut image, fat, cluster + 2, 1);
            refused(image.clone(), |v| v.read("/victim.bin"));
            refused(image, |v| v.write("/victim.bin", vec![1; 9 * 4096]));
        }
    }

    #[test]
    fn a_first_cluster_of_one() {
        for (sectors, fat) in [
            (16 * 1024, fatfs::FatType::Fat16),
            (80 * 1024, fatfs::FatType::Fat32),
            (4096, fatfs::FatType::Fat12),
        ] {
            let mut image = victims(sectors, fat);
            for name in [VICTIM, DIR] {
                let at = entry(&image, name);
                image[at + 20..at + 22].fill(0);
                image[at + 26..at + 28].copy_from_slice(&1u16.to_le_bytes());
            }
            refused(image.clone(), |v| v.read("/victim.bin"));
            refused(image.clone(), |v| v.write("/victim.bin", b"x"));
            refused(image.clone(), |v| v.remove_file("/victim.bin"));
            refused(image.clone(), |v| v.read_dir("/dir").map(Iterator::count));
            refused(image.clone(), |v| v.write("/dir/new", b"x"));
            refused(image, |v| v.remove_dir("/dir"));
        }
    }

    #[test]
    fn a_chain_and_entries_pointing_past_the_last_cluster() {
        for (sectors, fat) in [
            (16 * 1024, fatfs::FatType::Fat16),
            (80 * 1024, fatfs::FatType::Fat32),
            (4096, fatfs::FatType::Fat12),
        ] {
            let mut image = victims(sectors, fat);
            let past = last_cluster(&image) + 1;
            let cluster = first_cluster(&image, entry(&image, VICTIM));
            set_fat(&mut image, fat, cluster + 4, past);
            refused(image.clone(), |v| v.read("/victim.bin"));
            let at = entry(&image, DIR);
            image[at + 20..at + 22].copy_from_slice(&((past >> 16) as u16).to_le_bytes());
            image[at + 26..at + 28].copy_from_slice(&(past as u16).to_le_bytes());
            refused(image, |v| v.read_dir("/dir").map(Iterator::count));
        }
        // FAT32 keeps the high half of a first cluster apart.
        let mut image = victims(80 * 1024, fatfs::FatType::Fat32);
        let at = entry(&image, VICTIM);
        image[at + 20..at + 22].copy_from_slice(&0x0fffu16.to_le_bytes());
        refused(image, |v| v.read("/victim.bin"));
    }

    #[test]
    fn reserved_fat_entries_and_a_fat32_root_outside_the_clusters() {
        let mut image = victims(16 * 1024, fatfs::FatType::Fat16);
        set_fat(&mut image, fatfs::FatType::Fat16, 0, 0);
        refused(image, |v| v.write("/new", vec![1; 8192]));
        for root in [0u32, 1, 0x0fff_fff0] {
            let mut image = victims(80 * 1024, fatfs::FatType::Fat32);
            image[44..48].copy_from_slice(&root.to_le_bytes());
            refused(image, |v| v.read_dir("/").map(Iterator::count));
        }
    }

    #[test]
    fn a_boot_sector_whose_sizes_lie() {
        let image = formatted(16 * 1024, None).bytes();
        for (at, value) in [(12usize, 0u8), (13, 3), (16, 0), (14, 0)] {
            let mut bad = image.clone();
            bad[at] = value;
            if at == 14 {
                bad[15] = 0;
            }
            assert_eq!(
                mount_err(FakeDisk::from_bytes(bad)),
                ErrorKind::InvalidData,
                "byte {at}"
            );
        }
        // FAT32 sizes whose 32-bit sums overflow (the FAT crate would compute them).
        let mut bad = formatted(80 * 1024, Some(fatfs::FatType::Fat32)).bytes();
        bad[36..40].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
        assert_eq!(mount_err(FakeDisk::from_bytes(bad)), ErrorKind::InvalidData);
        // Sectors per FAT far beyond the disk.
        let mut bad = image.clone();
        bad[22..24].copy_from_slice(&0xffffu16.to_le_bytes());
        let (_, clock) = clock();
        if let Ok(v) = Volume::mount_with_clock(Ram(FakeDisk::from_bytes(bad)), clock) {
            assert!(v.read_dir("/").is_err() || v.write("/x", b"x").is_err());
        }
    }
}

/// The volume's cache, write buffer and read-ahead, seen from the disk.
mod cache {
    use alloc::sync::Arc;
    use alloc::vec;
    use alloc::vec::Vec;
    use core::sync::atomic::{AtomicUsize, Ordering};

    use hal::block::ErrorKind as DiskErrorKind;
    use hal::mock::FakeDisk;

    use super::{clock, formatted, mount};
    use crate::fs::{ErrorKind, OpenOptions, Sectors, Volume};

    /// A RAM disk that counts the requests it is given.
    struct Counted {
        disk: FakeDisk,
        reads: Arc<AtomicUsize>,
        writes: Arc<AtomicUsize>,
    }

    impl Sectors for Counted {
        fn sector_count(&self) -> u64 {
            hal::block::BlockDevice::sector_count(&self.disk)
        }

        fn read(&mut self, first: u64, buf: &mut [u8]) -> Result<(), DiskErrorKind> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            self.disk.read_now(first, buf)
        }

        fn write(&mut self, first: u64, buf: &[u8]) -> Result<(), DiskErrorKind> {
            self.writes.fetch_add(1, Ordering::SeqCst);
            self.disk.write_now(first, buf)
        }

        fn flush(&mut self) -> Result<(), DiskErrorKind> {
            self.disk.flush_now();
            Ok(())
        }
    }

    /// A fresh 8 MiB FAT16 volume on a counting disk: the disk, the volume and the counters
    /// of reads and writes.
    fn counted() -> (FakeDisk, Volume, Arc<AtomicUsize>, Arc<AtomicUsize>) {
        let disk = formatted(16 * 1024, Some(fatfs::FatType::Fat16));
        let (reads, writes) = (Arc::default(), Arc::default());
        let counted = Counted {
            disk: disk.clone(),
            reads: Arc::clone(&reads),
            writes: Arc::clone(&writes),
        };
        let (_, clock) = clock();
        let v = Volume::mount_with_clock(counted, clock).unwrap();
        (disk, v, reads, writes)
    }

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 % 253) as u8).collect()
    }

    #[test]
    fn sequential_data_goes_in_few_large_requests() {
        let (_, v, reads, writes) = counted();
        let data = pattern(4 << 20);
        writes.store(0, Ordering::SeqCst);
        let mut f = v.create("/big").unwrap();
        for chunk in data.chunks(64 << 10) {
            f.write_all(chunk).unwrap();
        }
        f.sync_all().unwrap();
        // 2048 clusters of 2 KiB: in 256 KiB requests, with the FAT and the entry around.
        let written = writes.load(Ordering::SeqCst);
        assert!(written < 48, "{written} write requests");
        reads.store(0, Ordering::SeqCst);
        let mut f = v.open("/big").unwrap();
        let mut back = vec![0; data.len()];
        for chunk in back.chunks_mut(64 << 10) {
            f.read_exact(chunk).unwrap();
        }
        assert!(back == data);
        let read = reads.load(Ordering::SeqCst);
        assert!(read < 64, "{read} read requests");
    }

    #[test]
    fn changes_reach_the_disk_at_a_sync() {
        let (disk, v, _, writes) = counted();
        v.write("/first", b"written through: the first change after a mount")
            .unwrap();
        let data = pattern(64 << 10);
        let before = writes.load(Ordering::SeqCst);
        v.write("/second", &data).unwrap();
        assert_eq!(writes.load(Ordering::SeqCst), before, "held in memory");
        let on_disk = |d: &FakeDisk| d.bytes().windows(4096).any(|w| w == &data[..4096]);
        assert!(!on_disk(&disk));
        assert_eq!(v.read("/second").unwrap(), data, "read from memory");
        v.sync().unwrap();
        assert!(on_disk(&disk));
        assert_eq!(mount(&disk).read("/second").unwrap(), data);
    }

    #[test]
    fn later_writes_win_over_held_ones() {
        let (disk, v, _, _) = counted();
        let mut expected = pattern(3 * 4096);
        v.write("/f", &expected).unwrap();
        let mut f = OpenOptions::new().write(true).open_on(&v, "/f").unwrap();
        // Part of a held sector, then whole sectors over it and part of them again.
        f.seek(embedded_io::SeekFrom::Start(1000)).unwrap();
        f.write_all(&[1; 100]).unwrap();
        expected[1000..1100].fill(1);
        f.seek(embedded_io::SeekFrom::Start(4096)).unwrap();
        f.write_all(&[2; 4096]).unwrap();
        expected[4096..8192].fill(2);
        f.seek(embedded_io::SeekFrom::Start(5000)).unwrap();
        f.write_all(&[3; 10]).unwrap();
        expected[5000..5010].fill(3);
        assert_eq!(v.read("/f").unwrap(), expected);
        v.sync().unwrap();
        assert_eq!(mount(&disk).read("/f").unwrap(), expected);
    }

    #[test]
    fn a_failed_write_back_is_an_error_and_is_retried() {
        let (disk, v, _, _) = counted();
        v.write("/first", b"through").unwrap();
        let data = pattern(128 << 10);
        v.write("/held", &data).unwrap();
        // The disk turns read-only under the held changes.
        disk.set_read_only(true);
        let err = v.sync().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
        disk.set_read_only(false);
        v.sync().unwrap();
        assert_eq!(mount(&disk).read("/held").unwrap(), data);
    }
}

#[test]
fn data_read_ahead_follows_later_writes() {
    let (_, v) = volume();
    v.write("/f", vec![1u8; 64 << 10]).unwrap();
    let mut reader = v.open("/f").unwrap();
    let mut buf = [0; 1000];
    reader.read_exact(&mut buf).unwrap();
    reader.read_exact(&mut buf).unwrap(); // sequential: reads ahead
    assert_eq!(buf, [1; 1000]);
    let mut writer = OpenOptions::new().write(true).open_on(&v, "/f").unwrap();
    writer.seek(embedded_io::SeekFrom::Start(2000)).unwrap();
    writer.write_all(&[2; 1000]).unwrap();
    reader.read_exact(&mut buf).unwrap();
    assert_eq!(buf, [2; 1000], "the write since the read ahead is seen");
    reader.read_exact(&mut buf).unwrap();
    assert_eq!(buf, [1; 1000]);
    let mut rest = Vec::new();
    reader.read_to_end(&mut rest).unwrap();
    assert_eq!(rest.len(), (64 << 10) - 4000);
    assert!(rest.iter().all(|&b| b == 1));
}

#[test]
fn a_bad_sector_after_a_file_does_not_fail_reading_it() {
    let (disk, v) = volume();
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    v.write("/first.bin", &data).unwrap();
    v.write("/second.bin", vec![0x5a; 4096]).unwrap();
    v.sync().unwrap();
    let bytes = disk.bytes();
    let at = bytes
        .windows(4096)
        .position(|w| w.iter().all(|&b| b == 0x5a))
        .expect("the second file's data");
    disk.fail_sector(Some((at / SECTOR_SIZE) as u64));
    let v = mount(&disk);
    let mut file = v.open("/first.bin").unwrap();
    let mut back = Vec::new();
    let mut chunk = [0; 16 << 10];
    loop {
        match file.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => back.extend_from_slice(&chunk[..n]),
            Err(e) => panic!("read at {} failed: {e}", back.len()),
        }
    }
    assert!(
        back == data,
        "{} of {} bytes read back",
        back.len(),
        data.len()
    );
    assert!(
        v.read("/second.bin").is_err(),
        "the bad sector itself fails"
    );
}
