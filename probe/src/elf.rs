//! Finds which board an image was built for, from the board note in its ELF program headers;
//! and, for the Linux baseline, whether a kernel has a given note and a program is static.
//!
//! The kernel embeds a note with name `"Novillo"`, type 1 and the board name as its
//! descriptor (NUL padding allowed) in a `PT_NOTE` segment. Reading it from the program
//! headers, not the section headers, means it survives `strip`. The image comes from
//! outside probe, so every offset is bounds-checked and a malformed file is an `Err`.

use std::path::Path;

use crate::board::Board;

/// The note owner name the kernel uses for its notes.
const NOTE_NAME: &[u8] = b"Novillo";
/// The note type of the board marker.
const NOTE_TYPE_BOARD: u32 = 1;
/// Program header type of a note segment.
const PT_NOTE: u32 = 4;
/// Program header type of a loadable segment.
const PT_LOAD: u32 = 1;
/// Program header type naming the dynamic loader: only dynamically linked programs have it.
const PT_INTERP: u32 = 3;

/// What probe needs to know of an image before it boots it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Image {
    /// The board it was built for.
    pub(crate) board: Board,
    /// The lowest physical address it is loaded at, if it has a loadable segment.
    pub(crate) load_start: Option<u64>,
}

/// Reads the image at `path`: its board and where it is loaded.
pub(crate) fn image_of_file(path: &Path) -> Result<Image, String> {
    let bytes = std::fs::read(path)
        .map_err(|err| format!("cannot read {}: {err}; {NOT_AN_IMAGE_HINT}", path.display()))?;
    let facts = board_of_image(&bytes).and_then(|board| {
        Ok(Image {
            board,
            load_start: load_start(&bytes)?,
        })
    });
    facts.map_err(|err| {
        if err.contains("bsp-") {
            format!("{}: {err}", path.display())
        } else {
            format!("{}: {err}; {NOT_AN_IMAGE_HINT}", path.display())
        }
    })
}

/// What to do when a file is not a Novillo image at all.
const NOT_AN_IMAGE_HINT: &str = "probe boots Novillo images, such as the one `cargo build -p \
                                 apps --bin hello --features bsp-microvm` makes";

/// The lowest physical address of the image's loadable segments.
pub(crate) fn load_start(image: &[u8]) -> Result<Option<u64>, String> {
    let header = Header::parse(image)?;
    let mut lowest = None;
    for index in 0..header.phnum {
        let entry = header.entry(index)?;
        if read_u32(image, entry)? == PT_LOAD {
            let paddr = read_u64(image, entry + 24)?;
            lowest = Some(lowest.map_or(paddr, |low: u64| low.min(paddr)));
        }
    }
    Ok(lowest)
}

/// A loadable segment of an image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Segment<'a> {
    /// Where it is loaded.
    pub(crate) paddr: u64,
    /// Its bytes in the file; the rest of its memory size is zeros.
    pub(crate) data: &'a [u8],
    pub(crate) mem_size: u64,
}

/// The image's loadable segments, in program-header order.
pub(crate) fn load_segments(image: &[u8]) -> Result<Vec<Segment<'_>>, String> {
    let header = Header::parse(image)?;
    let mut segments = Vec::new();
    for index in 0..header.phnum {
        let entry = header.entry(index)?;
        if read_u32(image, entry)? != PT_LOAD {
            continue;
        }
        let offset = to_usize(read_u64(image, entry + 8)?)?;
        let file_size = to_usize(read_u64(image, entry + 32)?)?;
        let data = slice(image, offset, file_size).ok_or_else(|| {
            format!("loadable segment {index} lies outside the file (truncated?)")
        })?;
        segments.push(Segment {
            paddr: read_u64(image, entry + 24)?,
            data,
            mem_size: read_u64(image, entry + 40)?,
        });
    }
    Ok(segments)
}

/// Returns the board named by the board note of an ELF image.
pub(crate) fn board_of_image(image: &[u8]) -> Result<Board, String> {
    let name = board_note(image)?.map(|note| note.name).ok_or_else(|| {
        "no Novillo board note in the image (was it built from the apps crate with a \
         bsp-<board> feature?)"
            .to_owned()
    })?;
    Board::from_name(&name).ok_or_else(|| {
        format!(
            "the image is for board '{name}', which probe does not know (known boards: {})",
            Board::known_names()
        )
    })
}

/// A copy of `image` whose board note names `board` instead: how a test makes an image
/// whose note lies about the board it was built for.
pub(crate) fn with_board_note(image: &[u8], board: Board) -> Result<Vec<u8>, String> {
    let note = board_note(image)?.ok_or("no Novillo board note in the image")?;
    let name = board.name().as_bytes();
    if name.len() > note.len {
        return Err(format!(
            "the board note has room for {} bytes, '{board}' needs {}",
            note.len,
            name.len()
        ));
    }
    let mut copy = image.to_vec();
    let descriptor = &mut copy[note.offset..note.offset + note.len];
    descriptor.fill(0);
    descriptor[..name.len()].copy_from_slice(name);
    Ok(copy)
}

/// Where the board note's descriptor lies in the file, and what it says.
#[derive(Debug)]
struct BoardNote {
    offset: usize,
    len: usize,
    name: String,
}

/// Returns the first board note, or `None` if there is none.
fn board_note(image: &[u8]) -> Result<Option<BoardNote>, String> {
    let Some((offset, desc)) = note(image, NOTE_NAME, NOTE_TYPE_BOARD)? else {
        return Ok(None);
    };
    let text =
        std::str::from_utf8(desc).map_err(|_| "the board note is not valid UTF-8".to_owned())?;
    Ok(Some(BoardNote {
        offset,
        len: desc.len(),
        name: text.trim_end_matches('\0').to_owned(),
    }))
}

/// True when the image has a note from `owner` (without its NUL) of type `note_type`.
pub(crate) fn has_note(image: &[u8], owner: &[u8], note_type: u32) -> Result<bool, String> {
    Ok(note(image, owner, note_type)?.is_some())
}

/// True when the image is a statically linked program: it names no dynamic loader.
pub(crate) fn is_static(image: &[u8]) -> Result<bool, String> {
    let header = Header::parse(image)?;
    for index in 0..header.phnum {
        if read_u32(image, header.entry(index)?)? == PT_INTERP {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The first note from `owner` of type `note_type`, if any: its descriptor's offset in the
/// file, and the descriptor.
fn note<'a>(
    image: &'a [u8],
    owner: &[u8],
    note_type: u32,
) -> Result<Option<(usize, &'a [u8])>, String> {
    let header = Header::parse(image)?;
    for index in 0..header.phnum {
        let entry = header.entry(index)?;
        let p_type = read_u32(image, entry)?;
        if p_type != PT_NOTE {
            continue;
        }
        let offset = to_usize(read_u64(image, entry + 8)?)?;
        let size = to_usize(read_u64(image, entry + 32)?)?;
        let align = read_u64(image, entry + 48)?;
        let segment = slice(image, offset, size)
            .ok_or_else(|| format!("note segment {index} lies outside the file"))?;
        // Notes are 4-aligned, except in segments that declare 8 (as GNU property notes do).
        let note_align = if align == 8 { 8 } else { 4 };
        if let Some((at, desc)) = find_note(segment, note_align, owner, note_type)? {
            return Ok(Some((offset + at, desc)));
        }
    }
    Ok(None)
}

/// The fields of the ELF header probe needs.
struct Header {
    phoff: usize,
    phentsize: usize,
    phnum: usize,
}

impl Header {
    fn parse(image: &[u8]) -> Result<Header, String> {
        if image.get(..4) != Some(b"\x7fELF".as_slice()) {
            return Err("not an ELF file".to_owned());
        }
        if image.len() < 64 {
            return Err("truncated ELF header".to_owned());
        }
        if image[4] != 2 {
            return Err("not a 64-bit ELF file".to_owned());
        }
        if image[5] != 1 {
            return Err("not a little-endian ELF file".to_owned());
        }
        let phoff = to_usize(read_u64(image, 0x20)?)?;
        let phentsize = usize::from(read_u16(image, 0x36)?);
        let phnum = usize::from(read_u16(image, 0x38)?);
        if phnum > 0 && phentsize < 56 {
            return Err(format!(
                "program header entries are {phentsize} bytes, expected 56"
            ));
        }
        let table_len = phnum
            .checked_mul(phentsize)
            .ok_or("program header table size overflows")?;
        if slice(image, phoff, table_len).is_none() {
            return Err("program header table lies outside the file (truncated?)".to_owned());
        }
        Ok(Header {
            phoff,
            phentsize,
            phnum,
        })
    }

    /// The file offset of program header `index` (below `phnum`, checked by `parse`).
    fn entry(&self, index: usize) -> Result<usize, String> {
        index
            .checked_mul(self.phentsize)
            .and_then(|offset| offset.checked_add(self.phoff))
            .ok_or_else(|| "program header table offset overflows".to_owned())
    }
}

/// Walks the notes of one segment and returns the first note from `owner` of type
/// `note_type`, if any: its descriptor's offset in the segment, and the descriptor.
fn find_note<'a>(
    segment: &'a [u8],
    align: usize,
    owner: &[u8],
    note_type: u32,
) -> Result<Option<(usize, &'a [u8])>, String> {
    let mut notes = segment;
    while !notes.is_empty() {
        if notes.len() < 12 {
            return Err("truncated note header".to_owned());
        }
        let namesz = to_usize(u64::from(read_u32(notes, 0)?))?;
        let descsz = to_usize(u64::from(read_u32(notes, 4)?))?;
        let this_type = read_u32(notes, 8)?;
        let name_end = 12usize
            .checked_add(namesz)
            .ok_or("note name size overflows")?;
        let desc_start = align_up(name_end, align).ok_or("note name size overflows")?;
        let desc_end = desc_start
            .checked_add(descsz)
            .ok_or("note descriptor size overflows")?;
        let name = notes
            .get(12..name_end)
            .ok_or("note name runs past its segment")?;
        let desc = notes
            .get(desc_start..desc_end)
            .ok_or("note descriptor runs past its segment")?;
        if name.strip_suffix(b"\0") == Some(owner) && this_type == note_type {
            return Ok(Some((segment.len() - notes.len() + desc_start, desc)));
        }
        // The last note's padding may be missing at the very end of the segment.
        let next = align_up(desc_end, align).ok_or("note descriptor size overflows")?;
        notes = notes.get(next..).unwrap_or_default();
    }
    Ok(None)
}

fn align_up(value: usize, align: usize) -> Option<usize> {
    Some(value.checked_add(align - 1)? / align * align)
}

fn slice(bytes: &[u8], offset: usize, len: usize) -> Option<&[u8]> {
    bytes.get(offset..offset.checked_add(len)?)
}

fn to_usize(value: u64) -> Result<usize, String> {
    usize::try_from(value).map_err(|_| format!("offset {value:#x} does not fit in memory"))
}

fn read_array<const N: usize>(bytes: &[u8], offset: usize) -> Result<[u8; N], String> {
    slice(bytes, offset, N)
        .and_then(|field| field.try_into().ok())
        .ok_or_else(|| format!("truncated ELF file (needed {N} bytes at offset {offset:#x})"))
}

fn read_u16(bytes: &[u8], offset: usize) -> Result<u16, String> {
    read_array(bytes, offset).map(u16::from_le_bytes)
}

fn read_u32(bytes: &[u8], offset: usize) -> Result<u32, String> {
    read_array(bytes, offset).map(u32::from_le_bytes)
}

fn read_u64(bytes: &[u8], offset: usize) -> Result<u64, String> {
    read_array(bytes, offset).map(u64::from_le_bytes)
}

#[cfg(test)]
#[path = "elf_tests.rs"]
mod tests;
