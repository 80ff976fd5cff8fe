//! Tests of the image writer on ELF files built byte by byte, with a stand-in loader (and,
//! on x86_64 hosts, the real one).

use std::path::Path;

use super::{
    BOOT_PARTITION_TYPE, Files, Kernel, PARTITION_TABLE_AT, SECTOR, Volume, build_with, checksum,
    kernel_of_elf, params, volume_of,
};
use crate::disk::Scratch;

const PT_LOAD: u32 = 1;
const PT_NOTE: u32 = 4;
const BASE: u64 = 0x10_0000;

/// The board note for `board`.
fn board_note(board: &[u8]) -> Vec<u8> {
    let mut note = Vec::new();
    note.extend_from_slice(&8u32.to_le_bytes());
    note.extend_from_slice(&8u32.to_le_bytes());
    note.extend_from_slice(&1u32.to_le_bytes());
    note.extend_from_slice(b"Novillo\0");
    let mut desc = board.to_vec();
    desc.resize(8, 0);
    note.extend_from_slice(&desc);
    note
}

/// A Multiboot header with addresses, entry at `entry`, padded to `len` bytes of code.
fn multiboot_start(entry: u32, len: usize) -> Vec<u8> {
    let (magic, flags) = (0x1bad_b002u32, (1u32 << 16) | (1 << 1));
    let mut out = Vec::new();
    for word in [
        magic,
        flags,
        0u32.wrapping_sub(magic.wrapping_add(flags)),
        BASE as u32,
        BASE as u32,
        0,
        0,
        entry,
    ] {
        out.extend_from_slice(&word.to_le_bytes());
    }
    out.extend((out.len()..len).map(|i| (i * 7 + 3) as u8));
    out
}

/// An ELF64 image with segments (type, physical address, file bytes) after the headers.
fn elf(segments: &[(u32, u64, Vec<u8>)]) -> Vec<u8> {
    let phnum = segments.len();
    let mut out = vec![0u8; 64];
    out[..4].copy_from_slice(b"\x7fELF");
    out[4] = 2;
    out[5] = 1;
    out[6] = 1;
    out[0x20..0x28].copy_from_slice(&64u64.to_le_bytes());
    out[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
    out[0x38..0x3a].copy_from_slice(&(phnum as u16).to_le_bytes());
    let mut offset = 64 + 56 * phnum as u64;
    for (kind, paddr, data) in segments {
        let size = data.len() as u64;
        out.extend_from_slice(&kind.to_le_bytes());
        out.extend_from_slice(&7u32.to_le_bytes());
        for field in [offset, *paddr, *paddr, size, size + 0x100, 4] {
            out.extend_from_slice(&field.to_le_bytes());
        }
        offset += size;
    }
    for (_, _, data) in segments {
        out.extend_from_slice(data);
    }
    out
}

/// A PC image: a header and code at 1 MiB, data 0x2345 bytes further (a gap of zeros
/// between), and the board note.
fn pc_elf() -> Vec<u8> {
    elf(&[
        (PT_LOAD, BASE, multiboot_start(BASE as u32 + 0x40, 0x1800)),
        (
            PT_LOAD,
            BASE + 0x2345,
            (0..700u32).map(|i| i as u8 ^ 0x5a).collect(),
        ),
        (PT_NOTE, BASE + 0x20, board_note(b"qemu-pc")),
    ])
}

/// A loader stand-in: an MBR with the boot signature and one sector of stage 2.
fn fake_loader() -> Vec<u8> {
    let mut loader = vec![0xccu8; 2 * SECTOR];
    loader[params::AT..0x200].fill(0);
    loader[0x1fe] = 0x55;
    loader[0x1ff] = 0xaa;
    loader
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap())
}

#[test]
fn the_kernel_is_the_loadable_segments_as_in_memory() {
    let kernel = kernel_of_elf(&pc_elf()).unwrap();
    assert_eq!(kernel.load_addr, 0x10_0000);
    assert_eq!(kernel.entry, 0x10_0040);
    assert_eq!(kernel.bytes.len(), 0x2345 + 700);
    assert_eq!(kernel.bytes[..0x1800], multiboot_start(0x10_0040, 0x1800));
    assert!(kernel.bytes[0x1800..0x2345].iter().all(|&b| b == 0));
    assert_eq!(kernel.bytes[0x2345], 0x5a);
}

#[test]
fn only_pc_images_with_a_true_multiboot_header() {
    let microvm = elf(&[
        (PT_LOAD, BASE, multiboot_start(BASE as u32, 64)),
        (PT_NOTE, BASE, board_note(b"microvm")),
    ]);
    let err = kernel_of_elf(&microvm).unwrap_err();
    assert!(err.contains("--features bsp-qemu-pc"), "{err}");
    let mut header = multiboot_start(BASE as u32 + 0x40, 0x100);
    header[8] ^= 1;
    let damaged = elf(&[
        (PT_LOAD, BASE, header),
        (PT_NOTE, BASE, board_note(b"qemu-pc")),
    ]);
    assert!(kernel_of_elf(&damaged).unwrap_err().contains("damaged"));
    let outside = elf(&[
        (PT_LOAD, BASE, multiboot_start(0x50_0000, 0x100)),
        (PT_NOTE, BASE, board_note(b"qemu-pc")),
    ]);
    assert!(
        kernel_of_elf(&outside)
            .unwrap_err()
            .contains("does not describe")
    );
    let low = elf(&[
        (PT_LOAD, 0x8000, vec![1; 16]),
        (PT_NOTE, BASE, board_note(b"qemu-pc")),
    ]);
    assert!(kernel_of_elf(&low).unwrap_err().contains("between 1 MiB"));
    assert!(kernel_of_elf(b"\x7fELF").is_err());
}

#[test]
fn partition_table_covers_loader_and_kernel() {
    let kernel = kernel_of_elf(&pc_elf()).unwrap();
    let image = build_with(&fake_loader(), &kernel, "hello log=debug", None).unwrap();
    let entry = &image[PARTITION_TABLE_AT..PARTITION_TABLE_AT + 16];
    // 1 sector of stage 2, 1 of command line, 11 of kernel (0x2601 bytes).
    let sectors = 1 + 1 + 0x2601usize.div_ceil(SECTOR) as u32;
    assert_eq!(entry[0], 0x80, "active");
    assert_eq!(entry[4], BOOT_PARTITION_TYPE);
    assert_eq!(u32_at(entry, 8), 1, "first sector");
    assert_eq!(u32_at(entry, 12), sectors);
    // CHS of sector 1: head 0, sector 2, cylinder 0; of the last: within cylinder 0.
    assert_eq!(entry[1..4], [0, 2, 0]);
    assert_eq!(entry[5..8], [0, sectors as u8 + 1, 0]);
    assert!(
        image[PARTITION_TABLE_AT + 16..0x1fe]
            .iter()
            .all(|&b| b == 0)
    );
    assert_eq!(image[0x1fe..0x200], [0x55, 0xaa]);
}

#[test]
fn sectors_lie_where_the_parameters_say() {
    let kernel = kernel_of_elf(&pc_elf()).unwrap();
    let line = format!("app {}", "x".repeat(600));
    let image = build_with(&fake_loader(), &kernel, &line, None).unwrap();
    assert_eq!(image.len(), 1 << 20, "whole MiB");
    assert_eq!(image[..0x1a0], fake_loader()[..0x1a0], "the MBR's code");
    assert_eq!(image[0x200..0x400], fake_loader()[0x200..], "stage 2");
    // The command line takes two sectors, NUL-terminated.
    assert_eq!(&image[0x400..0x400 + line.len()], line.as_bytes());
    assert_eq!(image[0x400 + line.len()], 0);
    assert_eq!(
        u16::from_le_bytes([image[params::BOOT_SECTORS], image[params::BOOT_SECTORS + 1]]),
        3
    );
    let lba = u32_at(&image, params::KERNEL_LBA) as usize;
    assert_eq!(lba, 4);
    let sectors = u32_at(&image, params::KERNEL_SECTORS) as usize;
    assert_eq!(u32_at(&image, params::LOAD_ADDR), 0x10_0000);
    assert_eq!(u32_at(&image, params::ENTRY), 0x10_0040);
    let stored = &image[lba * SECTOR..(lba + sectors) * SECTOR];
    assert_eq!(u32_at(&image, params::CHECKSUM), checksum(stored));
    assert!(image[(lba + sectors) * SECTOR..].iter().all(|&b| b == 0));
}

/// The image's kernel bytes, read back as the loader reads them, equal the ELF's loadable
/// segments at their addresses.
#[test]
fn round_trip_to_the_segments() {
    let elf_bytes = pc_elf();
    let image = build_with(
        &fake_loader(),
        &kernel_of_elf(&elf_bytes).unwrap(),
        "hello",
        None,
    )
    .unwrap();
    let lba = u32_at(&image, params::KERNEL_LBA) as usize;
    let sectors = u32_at(&image, params::KERNEL_SECTORS) as usize;
    let load = u64::from(u32_at(&image, params::LOAD_ADDR));
    let memory = &image[lba * SECTOR..(lba + sectors) * SECTOR];
    let segments = crate::elf::load_segments(&elf_bytes).unwrap();
    assert_eq!(segments.len(), 2);
    for segment in segments {
        let at = (segment.paddr - load) as usize;
        assert_eq!(&memory[at..at + segment.data.len()], segment.data);
    }
}

#[test]
fn a_command_line_too_long_or_with_nul_is_refused() {
    let kernel = Kernel {
        load_addr: 0x10_0000,
        entry: 0x10_0000,
        bytes: vec![1; 8],
    };
    assert!(build_with(&fake_loader(), &kernel, &"a".repeat(4095), None).is_ok());
    let err = build_with(&fake_loader(), &kernel, &"a".repeat(4096), None).unwrap_err();
    assert!(err.contains("at most 4095"), "{err}");
    assert!(build_with(&fake_loader(), &kernel, "a\0b", None).is_err());
}

/// The real loader: a boot sector with its signature and room for the parameters and the
/// partition table, and a stage 2 of whole sectors.
#[cfg(target_arch = "x86_64")]
#[test]
fn the_loader_is_a_boot_sector_and_a_small_stage_2() {
    let loader = super::loader::bytes();
    assert_eq!(loader.len() % SECTOR, 0);
    assert!(loader.len() <= 3 * SECTOR, "{} bytes", loader.len());
    assert_eq!(loader[0x1fe..0x200], [0x55, 0xaa]);
    assert!(loader[params::AT..0x1fe].iter().all(|&b| b == 0));
    let image = super::build(&pc_elf(), Path::new("/x/hello"), "a b", None).unwrap();
    assert_eq!(image[..params::AT], loader[..params::AT]);
    assert_eq!(&image[loader.len()..loader.len() + 10], b"hello a b\0");
}

/// A FAT volume goes to partition 2 from the first whole MiB after the kernel, and the
/// image ends at the next whole MiB after it.
#[test]
fn the_files_are_partition_2_from_the_next_mib() {
    let kernel = kernel_of_elf(&pc_elf()).unwrap();
    let volume = Volume {
        bytes: (0..3 * SECTOR + 7 * SECTOR)
            .map(|i| (i % 251) as u8)
            .collect(),
        kind: 0x0e,
    };
    let image = build_with(&fake_loader(), &kernel, "hello", Some(&volume)).unwrap();
    let entry = &image[PARTITION_TABLE_AT + 16..PARTITION_TABLE_AT + 32];
    assert_eq!(entry[0], 0, "not active");
    assert_eq!(entry[4], 0x0e);
    assert_eq!(u32_at(entry, 8), 2048);
    assert_eq!(u32_at(entry, 12), 10);
    assert_eq!(image.len(), 2 << 20);
    assert_eq!(image[1 << 20..(1 << 20) + volume.bytes.len()], volume.bytes);
}

/// `--share DIR` makes a FAT volume that holds the folder's files; `--disk FILE` takes a
/// FAT image's volume as it is, and refuses a file that holds none.
#[test]
fn share_and_disk_become_the_volume() {
    let dir = Scratch::new("image-test-share").unwrap();
    let site = dir.path().join("site");
    std::fs::create_dir_all(site.join("css")).unwrap();
    std::fs::write(site.join("index.html"), b"<h1>hi</h1>").unwrap();
    std::fs::write(site.join("css/a.css"), b"h1{}").unwrap();
    let volume = volume_of(&Files::Share(site)).unwrap();
    assert_eq!(volume.kind, 0x0e, "8 MiB: FAT16");
    assert_eq!(volume.bytes.len(), 8 << 20);
    let file = dir.path().join("volume.img");
    std::fs::write(&file, &volume.bytes).unwrap();
    let listing = crate::fat::command::ls(&file, "/").unwrap();
    assert!(
        listing.contains("index.html") && listing.contains("css/"),
        "{listing}"
    );
    let again = volume_of(&Files::Disk(file.clone())).unwrap();
    assert_eq!(again, volume);
    std::fs::write(&file, [0u8; 4096]).unwrap();
    let err = volume_of(&Files::Disk(file)).unwrap_err();
    assert!(err.contains("not a FAT image"), "{err}");
}
