//! Tests of `--disk` parsing, the QEMU arguments, the pattern and the after-run check.

use std::path::PathBuf;

use super::{
    Bus, Disk, DiskSpec, SECTOR_SIZE, Scratch, Written, check, check_images, disk_args,
    pattern_sector, slow_disk_args, suite_writes, uncached_args, write_image,
};
use crate::board::Board;

fn disk(file: &str, bus: Bus) -> Disk {
    Disk {
        file: PathBuf::from(file),
        bus,
        faults: None,
    }
}

fn joined(board: Board, disks: &[Disk]) -> String {
    let words: Vec<_> = disk_args(board, disks, 0)
        .iter()
        .map(|arg| arg.to_string_lossy().into_owned())
        .collect();
    words.join(" ")
}

#[test]
fn a_disk_with_faults_is_read_through_blkdebug() {
    let mut faulty = disk("/d/a,b.img", Bus::Virtio);
    faulty.faults = Some(PathBuf::from("/d/rules.conf"));
    assert_eq!(
        joined(Board::Microvm, &[faulty]),
        "-drive file=blkdebug:/d/rules.conf:/d/a,,b.img,format=raw,if=none,id=disk0 \
         -device virtio-blk-device,drive=disk0"
    );
}

#[test]
fn parses_file_and_bus() {
    assert_eq!(Disk::parse("a.img"), Ok(disk("a.img", Bus::Virtio)));
    assert_eq!(Disk::parse("a.img,bus=ide"), Ok(disk("a.img", Bus::Ide)));
    assert_eq!(
        Disk::parse("/x/b.img,bus=virtio"),
        Ok(disk("/x/b.img", Bus::Virtio))
    );
}

#[test]
fn bad_disk_values_are_one_line_errors() {
    assert_eq!(
        Disk::parse("a.img,bus=scsi"),
        Err("--disk a.img,bus=scsi: bus must be virtio or ide, not 'scsi'".to_owned())
    );
    assert_eq!(
        Disk::parse("a.img,cache=none"),
        Err(
            "--disk a.img,cache=none: unknown option 'cache=none' (FILE[,bus=virtio|ide])"
                .to_owned()
        )
    );
    assert!(Disk::parse("").unwrap_err().contains("needs a file"));
    assert!(
        Disk::parse(",bus=ide")
            .unwrap_err()
            .contains("needs a file")
    );
    assert!(
        Disk::parse("a.img,")
            .unwrap_err()
            .contains("unknown option ''")
    );
}

#[test]
fn microvm_takes_virtio_mmio_disks() {
    assert_eq!(
        joined(
            Board::Microvm,
            &[disk("/d/a.img", Bus::Virtio), disk("/d/b.img", Bus::Virtio)]
        ),
        "-drive file=/d/a.img,format=raw,if=none,id=disk0 -device virtio-blk-device,drive=disk0 \
         -drive file=/d/b.img,format=raw,if=none,id=disk1 -device virtio-blk-device,drive=disk1"
    );
    assert_eq!(joined(Board::Microvm, &[]), "");
}

#[test]
fn the_pc_takes_virtio_pci_and_ide_disks_in_order() {
    assert_eq!(
        joined(
            Board::QemuPc,
            &[
                disk("a", Bus::Ide),
                disk("b", Bus::Virtio),
                disk("c", Bus::Ide),
                disk("d", Bus::Ide),
                disk("e", Bus::Ide),
            ]
        ),
        "-drive file=a,format=raw,if=none,id=disk0 -device ide-hd,drive=disk0,bus=ide.0,unit=0 \
         -drive file=b,format=raw,if=none,id=disk1 -device virtio-blk-pci,drive=disk1 \
         -drive file=c,format=raw,if=none,id=disk2 -device ide-hd,drive=disk2,bus=ide.0,unit=1 \
         -drive file=d,format=raw,if=none,id=disk3 -device ide-hd,drive=disk3,bus=ide.1,unit=0 \
         -drive file=e,format=raw,if=none,id=disk4 -device ide-hd,drive=disk4,bus=ide.1,unit=1"
    );
}

#[test]
fn a_comma_in_a_path_is_doubled_for_qemu() {
    assert!(
        joined(Board::Microvm, &[disk("/t/a,b.img", Bus::Virtio)])
            .starts_with("-drive file=/t/a,,b.img,format=raw,")
    );
}

#[test]
fn boards_refuse_disks_they_cannot_take() {
    let scratch = Scratch::new("disk-unit-limits").unwrap();
    let file = scratch.path().join("a.img");
    std::fs::write(&file, [0; SECTOR_SIZE]).unwrap();
    let at = |bus| Disk {
        file: file.clone(),
        bus,
        faults: None,
    };
    assert_eq!(
        check(Board::Microvm, &[at(Bus::Virtio), at(Bus::Ide)]),
        Err(format!(
            "--disk {},bus=ide: microvm has no IDE controller; use bus=virtio",
            file.display()
        ))
    );
    assert_eq!(check(Board::Microvm, &vec![at(Bus::Virtio); 8]), Ok(()));
    assert_eq!(
        check(Board::Microvm, &vec![at(Bus::Virtio); 9]),
        Err("9 virtio disks given, but microvm has 8 virtio-mmio slots".to_owned())
    );
    assert_eq!(check(Board::QemuPc, &vec![at(Bus::Ide); 4]), Ok(()));
    assert_eq!(
        check(Board::QemuPc, &vec![at(Bus::Ide); 5]),
        Err("5 IDE disks given, but the PC's IDE controller takes 4".to_owned())
    );
    assert_eq!(check(Board::QemuPc, &vec![at(Bus::Virtio); 9]), Ok(()));
}

#[test]
fn missing_and_unusable_files_are_refused() {
    let scratch = Scratch::new("disk-unit-files").unwrap();
    let missing = scratch.path().join("none.img");
    let message = check(Board::Microvm, &[Disk::virtio(missing.clone())]).unwrap_err();
    assert_eq!(
        message,
        format!(
            "--disk {0}: no such file (a raw image; make one with `truncate -s 64M {0}`)",
            missing.display()
        )
    );
    // A directory cannot be opened for writing, whoever runs the test (root included).
    let message = check(Board::QemuPc, &[Disk::virtio(scratch.path().to_path_buf())]).unwrap_err();
    assert!(
        message.contains(": cannot open it for reading and writing: "),
        "{message}"
    );
}

#[test]
fn the_pattern_names_its_sector() {
    let sector = pattern_sector(2, 300);
    assert_eq!(&sector[..8], b"NOVILLO\0");
    assert_eq!(&sector[8..12], &2u32.to_le_bytes());
    assert_eq!(&sector[12..16], &300u32.to_le_bytes());
    // (300 * 131 + 16 * 7 + 2 * 29 + 1) mod 256 = 39471 mod 256
    assert_eq!(sector[16], (39_471 % 256) as u8);
    assert_eq!(
        sector[511],
        ((300 * 131 + 511 * 7 + 2 * 29 + 1) % 256) as u8
    );
    assert_ne!(pattern_sector(1, 300), sector);
    assert_ne!(pattern_sector(2, 301), sector);
}

/// Writes the suite's two images as the guest would leave them after a run on `cores`.
fn images_after_a_run(scratch: &Scratch, specs: &[DiskSpec], cores: u32) -> Vec<PathBuf> {
    let paths: Vec<_> = (0..specs.len())
        .map(|index| scratch.path().join(format!("disk{index}.img")))
        .collect();
    for (spec, path) in specs.iter().zip(&paths) {
        write_image(path, spec).unwrap();
    }
    for written in suite_writes(cores) {
        let mut image = std::fs::read(&paths[written.disk]).unwrap();
        for sector in written.first..written.first + written.count {
            let at = sector as usize * SECTOR_SIZE;
            image[at..at + SECTOR_SIZE].copy_from_slice(&pattern_sector(written.seed, sector));
        }
        std::fs::write(&paths[written.disk], image).unwrap();
    }
    paths
}

fn suite_specs() -> Vec<DiskSpec> {
    vec![DiskSpec::new(4096, 1), DiskSpec::new(1024, 2)]
}

#[test]
fn the_guests_writes_pass_the_check() {
    let scratch = Scratch::new("disk-unit-pass").unwrap();
    let paths = images_after_a_run(&scratch, &suite_specs(), 4);
    assert_eq!(
        check_images(&suite_specs(), &paths, &suite_writes(4)),
        Vec::<String>::new()
    );
}

#[test]
fn writes_that_never_reached_the_file_fail_the_check() {
    let scratch = Scratch::new("disk-unit-lost").unwrap();
    let paths = images_after_a_run(&scratch, &suite_specs(), 1);
    // The guest ran on one core, but four cores' writes are expected.
    assert_eq!(
        check_images(&suite_specs(), &paths, &suite_writes(4)),
        [
            "disk 0 sector 2304 should hold the guest's pattern with seed 101, but holds sector \
             2304 of the pattern with seed 1 (and 767 more sectors differ)"
        ]
    );
}

#[test]
fn an_altered_host_sector_fails_the_check() {
    let scratch = Scratch::new("disk-unit-altered").unwrap();
    let mut specs = suite_specs();
    specs[1].altered = Some(7);
    let paths = images_after_a_run(&scratch, &specs, 1);
    assert_eq!(
        check_images(&suite_specs(), &paths, &suite_writes(1)),
        [
            "disk 1 sector 7 should hold the host's pattern with seed 2, but holds a spoiled \
             copy of sector 7 of the pattern with seed 2 (first wrong byte at 100)"
        ]
    );
}

#[test]
fn a_misplaced_or_foreign_sector_is_named() {
    let scratch = Scratch::new("disk-unit-foreign").unwrap();
    let specs = [DiskSpec::new(4, 1)];
    let path = scratch.path().join("disk0.img");
    write_image(&path, &specs[0]).unwrap();
    let mut image = std::fs::read(&path).unwrap();
    image[SECTOR_SIZE..2 * SECTOR_SIZE].copy_from_slice(&pattern_sector(1, 3));
    image[3 * SECTOR_SIZE..].fill(0);
    std::fs::write(&path, &image).unwrap();
    let writes = [Written {
        disk: 0,
        first: 0,
        count: 1,
        seed: 1,
    }];
    assert_eq!(
        check_images(&specs, std::slice::from_ref(&path), &writes),
        [
            "disk 0 sector 1 should hold the host's pattern with seed 1, but holds sector 3 of \
             the pattern with seed 1 (and 1 more sectors differ)"
        ]
    );
    image.truncate(SECTOR_SIZE);
    std::fs::write(&path, &image).unwrap();
    assert_eq!(
        check_images(&specs, &[path], &writes),
        ["disk 0: the image is now 512 bytes, not 2048"]
    );
}

#[test]
fn a_zeroed_sector_has_no_pattern() {
    assert_eq!(
        super::describe(&[0; SECTOR_SIZE]),
        "no pattern (it starts [00, 00, 00, 00, 00, 00, 00, 00, 00, 00, 00, 00, 00, 00, 00, 00])"
    );
}

#[test]
fn scratch_is_removed_on_drop() {
    let scratch = Scratch::new("disk-unit-scratch").unwrap();
    let path = scratch.path().to_path_buf();
    std::fs::write(path.join("x"), b"x").unwrap();
    drop(scratch);
    assert!(!path.exists());
}

#[test]
fn the_slow_disk_is_a_null_drive_with_a_geometry_on_the_boards_virtio() {
    let latency = std::time::Duration::from_secs(2);
    assert_eq!(
        slow_disk_args(Board::Microvm, latency).join(" "),
        "-drive driver=null-co,size=1M,latency-ns=2000000000,if=none,id=slow \
         -device virtio-blk-device,drive=slow,cyls=2,heads=16,secs=63"
    );
    assert_eq!(
        slow_disk_args(Board::QemuPc, latency)[3],
        "virtio-blk-pci,drive=slow,cyls=2,heads=16,secs=63"
    );
}

#[test]
fn benchmark_images_bypass_the_host_cache_on_the_boards_virtio() {
    let files = [PathBuf::from("/t/a,b.img"), PathBuf::from("/t/c.img")];
    assert_eq!(
        uncached_args(Board::QemuPc, Bus::Virtio, &files)
            .unwrap()
            .join(" "),
        "-drive file=/t/a,,b.img,format=raw,if=none,id=bench0,cache=none \
         -device virtio-blk-pci,drive=bench0 \
         -drive file=/t/c.img,format=raw,if=none,id=bench1,cache=none \
         -device virtio-blk-pci,drive=bench1"
    );
    assert_eq!(
        uncached_args(Board::Microvm, Bus::Virtio, &files[1..]).unwrap()[3],
        "virtio-blk-device,drive=bench0"
    );
    assert_eq!(
        uncached_args(Board::QemuPc, Bus::Ide, &files).unwrap()[7],
        "ide-hd,drive=bench1,bus=ide.0,unit=1"
    );
}
