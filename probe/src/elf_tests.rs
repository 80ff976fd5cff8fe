//! Tests of the board-note reader (and the note and static checks) on ELF images built
//! byte by byte.

use super::{
    board_note, board_of_image, has_note, image_of_file, is_static, load_start, with_board_note,
};
use crate::board::Board;

/// One note, encoded with 4-byte padding.
fn note(name: &[u8], note_type: u32, desc: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&u32::try_from(name.len()).unwrap().to_le_bytes());
    out.extend_from_slice(&u32::try_from(desc.len()).unwrap().to_le_bytes());
    out.extend_from_slice(&note_type.to_le_bytes());
    out.extend_from_slice(name);
    pad(&mut out, 4);
    out.extend_from_slice(desc);
    pad(&mut out, 4);
    out
}

fn pad(bytes: &mut Vec<u8>, align: usize) {
    while !bytes.len().is_multiple_of(align) {
        bytes.push(0);
    }
}

/// A program header: (type, file contents).
type Segment = (u32, Vec<u8>);

/// An ELF64 little-endian image with the given segments laid out after the headers.
fn image(segments: &[Segment]) -> Vec<u8> {
    let phoff = 64u64;
    let phnum = u16::try_from(segments.len()).unwrap();
    let mut data_offset = phoff + 56 * u64::from(phnum);
    let mut out = vec![0u8; 64];
    out[..4].copy_from_slice(b"\x7fELF");
    out[4] = 2; // ELFCLASS64
    out[5] = 1; // ELFDATA2LSB
    out[6] = 1; // EV_CURRENT
    out[0x10..0x12].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    out[0x12..0x14].copy_from_slice(&0x3eu16.to_le_bytes()); // EM_X86_64
    out[0x20..0x28].copy_from_slice(&phoff.to_le_bytes());
    out[0x34..0x36].copy_from_slice(&64u16.to_le_bytes());
    out[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
    out[0x38..0x3a].copy_from_slice(&phnum.to_le_bytes());
    for (p_type, contents) in segments {
        let size = u64::try_from(contents.len()).unwrap();
        let mut header = Vec::new();
        header.extend_from_slice(&p_type.to_le_bytes());
        header.extend_from_slice(&4u32.to_le_bytes()); // p_flags: R
        header.extend_from_slice(&data_offset.to_le_bytes()); // p_offset
        header.extend_from_slice(&0u64.to_le_bytes()); // p_vaddr
        header.extend_from_slice(&0u64.to_le_bytes()); // p_paddr
        header.extend_from_slice(&size.to_le_bytes()); // p_filesz
        header.extend_from_slice(&size.to_le_bytes()); // p_memsz
        header.extend_from_slice(&4u64.to_le_bytes()); // p_align
        out.extend_from_slice(&header);
        data_offset += size;
    }
    for (_, contents) in segments {
        out.extend_from_slice(contents);
    }
    out
}

const PT_LOAD: u32 = 1;
const PT_NOTE: u32 = 4;

fn board_image(desc: &[u8]) -> Vec<u8> {
    image(&[
        (PT_LOAD, vec![0x90; 16]),
        (PT_NOTE, note(b"Novillo\0", 1, desc)),
    ])
}

#[test]
fn finds_each_known_board() {
    assert_eq!(board_of_image(&board_image(b"microvm")), Ok(Board::Microvm));
    assert_eq!(board_of_image(&board_image(b"qemu-pc")), Ok(Board::QemuPc));
}

#[test]
fn trims_nul_padding_of_the_descriptor() {
    assert_eq!(
        board_of_image(&board_image(b"qemu-pc\0\0\0\0\0")),
        Ok(Board::QemuPc)
    );
}

#[test]
fn skips_other_notes_before_the_marker() {
    let mut notes = note(b"GNU\0", 3, &[0xab; 20]);
    notes.extend(note(b"Novillo\0", 2, b"not the board"));
    notes.extend(note(b"Novillo\0", 1, b"microvm"));
    let elf = image(&[(PT_NOTE, note(b"Xen\0", 18, &[1, 2, 3])), (PT_NOTE, notes)]);
    assert_eq!(board_of_image(&elf), Ok(Board::Microvm));
}

#[test]
fn unknown_board_names_the_known_ones() {
    let err = board_of_image(&board_image(b"rpi4")).unwrap_err();
    assert!(err.contains("'rpi4'"), "{err}");
    assert!(err.contains("microvm, qemu-pc"), "{err}");
}

#[test]
fn missing_marker_is_an_error() {
    let elf = image(&[
        (PT_NOTE, note(b"GNU\0", 3, &[0; 16])),
        (PT_LOAD, vec![0; 8]),
    ]);
    let err = board_of_image(&elf).unwrap_err();
    assert!(err.contains("no Novillo board note"), "{err}");
    assert!(board_of_image(&image(&[])).is_err());
}

#[test]
fn rejects_files_that_are_not_elf64_le() {
    assert_eq!(board_of_image(b"").unwrap_err(), "not an ELF file");
    assert_eq!(
        board_of_image(b"#!/bin/sh\n").unwrap_err(),
        "not an ELF file"
    );
    assert_eq!(
        board_of_image(b"\x7fELF\x02\x01").unwrap_err(),
        "truncated ELF header"
    );
    let mut elf32 = board_image(b"microvm");
    elf32[4] = 1;
    assert!(board_of_image(&elf32).unwrap_err().contains("64-bit"));
    let mut big_endian = board_image(b"microvm");
    big_endian[5] = 2;
    assert!(
        board_of_image(&big_endian)
            .unwrap_err()
            .contains("little-endian")
    );
}

#[test]
fn rejects_truncated_or_out_of_range_tables() {
    let elf = board_image(b"microvm");
    // Every truncation either fails cleanly or, once the note is whole, finds the board.
    for len in 0..elf.len() {
        assert!(board_of_image(&elf[..len]).is_err(), "length {len}");
    }
    let mut far_table = elf.clone();
    far_table[0x20..0x28].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(
        board_of_image(&far_table)
            .unwrap_err()
            .contains("outside the file")
    );
    let mut small_entries = elf.clone();
    small_entries[0x36..0x38].copy_from_slice(&8u16.to_le_bytes());
    assert!(board_of_image(&small_entries).unwrap_err().contains("56"));
    let mut many_entries = elf;
    many_entries[0x38..0x3a].copy_from_slice(&u16::MAX.to_le_bytes());
    assert!(board_of_image(&many_entries).is_err());
}

#[test]
fn rejects_segments_and_notes_out_of_range() {
    let elf = board_image(b"microvm");
    let second_header = 64 + 56;
    let mut far_segment = elf.clone();
    far_segment[second_header + 8..second_header + 16].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(
        board_note(&far_segment)
            .unwrap_err()
            .contains("outside the file")
    );
    let mut huge_segment = elf;
    huge_segment[second_header + 32..second_header + 40]
        .copy_from_slice(&(u64::MAX - 4).to_le_bytes());
    assert!(board_note(&huge_segment).is_err());

    let mut huge_name = note(b"Novillo\0", 1, b"microvm");
    huge_name[..4].copy_from_slice(&u32::MAX.to_le_bytes());
    let err = board_note(&image(&[(PT_NOTE, huge_name)])).unwrap_err();
    assert!(err.contains("name"), "{err}");
    let mut huge_desc = note(b"Novillo\0", 1, b"microvm");
    huge_desc[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    let err = board_note(&image(&[(PT_NOTE, huge_desc)])).unwrap_err();
    assert!(err.contains("descriptor"), "{err}");
    let err = board_note(&image(&[(PT_NOTE, vec![8, 0, 0, 0, 0])])).unwrap_err();
    assert_eq!(err, "truncated note header");
}

#[test]
fn rejects_a_board_name_that_is_not_utf8() {
    let err = board_of_image(&board_image(&[0xff, 0xfe, 0])).unwrap_err();
    assert!(err.contains("UTF-8"), "{err}");
}

#[test]
fn rewrites_the_board_note_and_nothing_else() {
    let mut notes = note(b"GNU\0", 3, &[0xab; 20]);
    notes.extend(note(b"Novillo\0", 1, b"qemu-pc\0"));
    let elf = image(&[(PT_LOAD, vec![0x90; 16]), (PT_NOTE, notes)]);
    let lying = with_board_note(&elf, Board::Microvm).unwrap();
    assert_eq!(board_of_image(&lying), Ok(Board::Microvm));
    assert_eq!(lying.len(), elf.len());
    let changed = elf.iter().zip(&lying).filter(|(a, b)| a != b).count();
    assert_eq!(changed, "microvm".len(), "only the descriptor's bytes");
    assert_eq!(
        board_of_image(&with_board_note(&lying, Board::QemuPc).unwrap()),
        Ok(Board::QemuPc)
    );
}

#[test]
fn a_board_note_too_small_for_the_name_is_an_error() {
    let err = with_board_note(&board_image(b"pc"), Board::Microvm).unwrap_err();
    assert!(err.contains("room for 2 bytes"), "{err}");
    let no_note = image(&[(PT_LOAD, vec![0x90; 16])]);
    assert!(with_board_note(&no_note, Board::Microvm).is_err());
}

#[test]
fn load_start_is_the_lowest_loadable_address() {
    let mut elf = image(&[(1, vec![0; 8]), (4, vec![0; 4]), (1, vec![0; 8])]);
    let set_paddr = |elf: &mut Vec<u8>, index: usize, paddr: u64| {
        let at = 64 + 56 * index + 24;
        elf[at..at + 8].copy_from_slice(&paddr.to_le_bytes());
    };
    set_paddr(&mut elf, 0, 0x20_0000);
    set_paddr(&mut elf, 1, 0x1000);
    set_paddr(&mut elf, 2, 0x10_0000);
    assert_eq!(
        load_start(&elf),
        Ok(Some(0x10_0000)),
        "the note does not count"
    );
    assert_eq!(load_start(&image(&[(4, vec![0; 4])])), Ok(None));
    assert!(load_start(b"not elf").is_err());
}

#[test]
fn finds_notes_by_owner_and_type() {
    let mut notes = note(b"GNU\0", 3, &[0; 16]);
    notes.extend(note(b"Xen\0", 18, &[0; 4]));
    let kernel = image(&[(PT_LOAD, vec![0; 8]), (PT_NOTE, notes)]);
    assert_eq!(has_note(&kernel, b"Xen", 18), Ok(true));
    assert_eq!(has_note(&kernel, b"Xen", 17), Ok(false));
    assert_eq!(has_note(&kernel, b"Xe", 18), Ok(false));
    assert_eq!(has_note(&board_image(b"microvm"), b"Xen", 18), Ok(false));
    assert!(has_note(b"MZ not elf", b"Xen", 18).is_err());
}

#[test]
fn a_program_without_an_interpreter_is_static() {
    const PT_INTERP: u32 = 3;
    assert_eq!(is_static(&image(&[(PT_LOAD, vec![0; 8])])), Ok(true));
    let dynamic = image(&[
        (PT_LOAD, vec![0; 8]),
        (PT_INTERP, b"/lib64/ld-linux-x86-64.so.2\0".to_vec()),
    ]);
    assert_eq!(is_static(&dynamic), Ok(false));
    assert!(is_static(b"#!/bin/sh\n").is_err());
}

#[test]
fn a_file_that_is_no_image_says_how_to_make_one() {
    let path = std::env::temp_dir().join(format!("probe-not-an-image-{}", std::process::id()));
    std::fs::write(&path, b"#!/bin/sh\n").unwrap();
    let err = image_of_file(&path).unwrap_err();
    std::fs::remove_file(&path).unwrap();
    assert!(
        err.contains("not an ELF file; probe boots Novillo images"),
        "{err}"
    );
    assert!(err.contains("--features bsp-microvm"), "{err}");
    assert!(!err.contains('\n'), "{err}");
    let missing = image_of_file(std::path::Path::new("/nonexistent/hello")).unwrap_err();
    assert!(
        missing.starts_with("cannot read /nonexistent/hello"),
        "{missing}"
    );
    assert!(missing.contains("cargo build -p apps"), "{missing}");
}
