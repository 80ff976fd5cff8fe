//! The virtio-mmio slots of QEMU's microvm: where its virtio devices sit and which GSI
//! each raises.
//!
//! With ACPI off, QEMU names each device it placed by appending a word
//! `virtio_mmio.device=<size>@<address>:<irq>` to the kernel command line (Linux's
//! syntax), after everything the user wrote. The board cuts these words off
//! ([`split_devices`]) so that the application never sees them, and reads them at
//! discovery ([`parse_devices`]). With ACPI on there are no words (the DSDT lists the
//! devices): the slots are then probed at their fixed places ([`probed_slot`]): 8 on GSI
//! 16.., or 24 on the second I/O APIC's pins when QEMU added one; it fills them from the
//! last one down.

use core::fmt;

/// The word prefix QEMU appends for each device.
const PREFIX: &[u8] = b"virtio_mmio.device=";
/// How many slots microvm has with one I/O APIC.
pub const SLOTS: usize = 8;
/// How many slots microvm has when it adds a second I/O APIC (ACPI on), for their GSIs.
pub const SLOTS_WITH_SECOND_IOAPIC: usize = 24;
/// Where microvm's first slot is; slot *i* is [`SLOT_STRIDE`]` × i` above.
pub const FIRST_SLOT: usize = 0xfeb0_0000;
/// The distance between slots, and the size of each.
pub const SLOT_STRIDE: usize = 0x200;
/// The GSI of slot 0 with ACPI on and one I/O APIC: slot *i* raises GSI `16 + i`. With
/// a second I/O APIC, QEMU wires the slots to its pins instead: GSI `24 + i` (its GSI
/// base), as a guest finds out the hard way: an interrupt on 16 + i never comes.
pub const ACPI_FIRST_GSI: u32 = 16;

/// One device's registers and interrupt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    /// The physical address of its registers.
    pub address: usize,
    /// Their size.
    pub size: usize,
    /// The GSI it raises.
    pub gsi: u32,
}

/// Slot `index` probed at its fixed place, slot 0 raising GSI `first_gsi`
/// ([`ACPI_FIRST_GSI`], or the second I/O APIC's GSI base).
pub fn probed_slot(index: usize, first_gsi: u32) -> Slot {
    Slot {
        address: FIRST_SLOT + SLOT_STRIDE * index,
        size: SLOT_STRIDE,
        gsi: first_gsi + index as u32,
    }
}

/// Splits the trailing `virtio_mmio.device=` words off `line`: the line without them
/// (trailing spaces dropped too), and the words. Words of that name before other words
/// belong to the user and stay. One pass over the bytes and no trimming helpers: this runs
/// at boot in every microvm image (`cargo probe size`).
pub fn split_devices(line: &[u8]) -> (&[u8], &[u8]) {
    // The end of the last word that is not a device word, and the span of the device
    // words after it.
    let mut kept = 0;
    let mut words = None;
    let mut i = 0;
    while i < line.len() {
        if line[i] == b' ' {
            i += 1;
            continue;
        }
        let start = i;
        // PREFIX has no space: the word starts with it if the rest of the line does.
        let device = is_device_word(&line[start..]);
        while i < line.len() && line[i] != b' ' {
            i += 1;
        }
        if device {
            words = Some((words.map_or(start, |(first, _)| first), i));
        } else {
            kept = i;
            words = None;
        }
    }
    let (first, last) = words.unwrap_or((kept, kept));
    // In bounds (`kept <= first <= last <= line.len()`); `get` says so without a panic path.
    (
        line.get(..kept).unwrap_or_default(),
        line.get(first..last).unwrap_or_default(),
    )
}

/// Whether `bytes` start with [`PREFIX`]. A byte loop, not `starts_with`: this runs at
/// boot in every image, and `starts_with` brings in `memcmp` (half a KiB, `cargo probe
/// size`).
fn is_device_word(bytes: &[u8]) -> bool {
    bytes.len() >= PREFIX.len() && bytes.iter().zip(PREFIX).all(|(a, b)| a == b)
}

/// A `virtio_mmio.device=` word that does not say `<size>@<address>:<irq>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadWord<'a>(pub &'a [u8]);

impl fmt::Display for BadWord<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let word = core::str::from_utf8(self.0).unwrap_or("(not UTF-8)");
        write!(
            f,
            "ignored `{word}`: expected virtio_mmio.device=<size>@<address>:<irq>"
        )
    }
}

/// The slots the words `words` (from [`split_devices`]) name, in order: each a slot or
/// the word it could not read. Sizes take a `K` or `M` suffix, numbers a `0x` prefix.
pub fn parse_devices(words: &[u8]) -> impl Iterator<Item = Result<Slot, BadWord<'_>>> {
    words
        .split(|&b| b == b' ')
        .filter(|word| !word.is_empty())
        .map(|word| parse_word(word).ok_or(BadWord(word)))
}

fn parse_word(word: &[u8]) -> Option<Slot> {
    let spec = word.strip_prefix(PREFIX)?;
    let at = spec.iter().position(|&b| b == b'@')?;
    let colon = spec.iter().rposition(|&b| b == b':')?;
    let (size, rest) = (&spec[..at], spec.get(at + 1..colon)?);
    let irq = number(&spec[colon + 1..])?;
    let (digits, unit) = match size.last() {
        Some(b'K' | b'k') => (&size[..size.len() - 1], 1 << 10),
        Some(b'M' | b'm') => (&size[..size.len() - 1], 1 << 20),
        _ => (size, 1),
    };
    Some(Slot {
        address: usize::try_from(number(rest)?).ok()?,
        size: usize::try_from(number(digits)?.checked_mul(unit)?).ok()?,
        gsi: u32::try_from(irq).ok()?,
    })
}

fn number(text: &[u8]) -> Option<u64> {
    let text = core::str::from_utf8(text).ok()?;
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::{ACPI_FIRST_GSI, BadWord, Slot, parse_devices, probed_slot, split_devices};

    fn split(line: &str) -> (&str, &str) {
        let (kept, words) = split_devices(line.as_bytes());
        (
            core::str::from_utf8(kept).unwrap(),
            core::str::from_utf8(words).unwrap(),
        )
    }

    #[test]
    fn trailing_device_words_are_cut_off() {
        assert_eq!(
            split(
                "log=debug -- a b virtio_mmio.device=512@0xfeb00e00:12 \
                 virtio_mmio.device=512@0xfeb00c00:11"
            ),
            (
                "log=debug -- a b",
                "virtio_mmio.device=512@0xfeb00e00:12 virtio_mmio.device=512@0xfeb00c00:11"
            )
        );
        assert_eq!(split("log=debug -- a b"), ("log=debug -- a b", ""));
        assert_eq!(split(""), ("", ""));
        assert_eq!(
            split("virtio_mmio.device=512@0xfeb00e00:12"),
            ("", "virtio_mmio.device=512@0xfeb00e00:12")
        );
        assert_eq!(
            split("-- virtio_mmio.device=mine x  virtio_mmio.device=1K@0x1000:5  "),
            (
                "-- virtio_mmio.device=mine x",
                "virtio_mmio.device=1K@0x1000:5"
            )
        );
    }

    #[test]
    fn words_name_address_size_and_irq() {
        let words = b"virtio_mmio.device=512@0xfeb00e00:12 virtio_mmio.device=4K@4096:5";
        let slots: Vec<_> = parse_devices(words).collect();
        assert_eq!(
            slots,
            [
                Ok(Slot {
                    address: 0xfeb0_0e00,
                    size: 512,
                    gsi: 12
                }),
                Ok(Slot {
                    address: 4096,
                    size: 4096,
                    gsi: 5
                }),
            ]
        );
    }

    #[test]
    fn bad_words_are_errors_that_say_so() {
        let bad: Vec<_> = parse_devices(
            b"virtio_mmio.device=512 virtio_mmio.device=x@0x1:1 virtio_mmio.device=1@0x1:99999999999 \
              virtio_mmio.device=99999999999999999999M@1:1",
        )
        .collect();
        assert_eq!(bad.len(), 4);
        assert!(bad.iter().all(Result::is_err));
        assert_eq!(
            BadWord(b"virtio_mmio.device=512").to_string(),
            "ignored `virtio_mmio.device=512`: expected virtio_mmio.device=<size>@<address>:<irq>"
        );
    }

    #[test]
    fn probed_slots_follow_acpi_numbering() {
        assert_eq!(
            probed_slot(3, ACPI_FIRST_GSI),
            Slot {
                address: 0xfeb0_0600,
                size: 0x200,
                gsi: 19
            }
        );
        assert_eq!(probed_slot(23, 24).gsi, 47);
    }
}
