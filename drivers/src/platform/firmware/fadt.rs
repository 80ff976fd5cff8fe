//! ACPI soft-off (S5): where the FADT says the sleep control register is, and which sleep
//! type the DSDT's `\_S5` object gives.
//!
//! A PC (QEMU's PIIX4) has a PM1a control block in I/O space; a hardware-reduced machine
//! (QEMU's microvm with `acpi=on`, through its generic event device) has a sleep control
//! register instead. There is no AML interpreter: `\_S5` is read from its usual encoding,
//! `Name (_S5, Package () { type, ... })`, which is how QEMU, SeaBIOS and most firmware
//! write it. A DSDT that says it some other way leaves S5 undescribed. The FADT also names
//! the CMOS clock's century register. The parsers read byte slices; the board decides
//! which memory to show them.

use crate::platform::firmware::acpi::{self, Acpi, le32, le64};
use crate::platform::firmware::mptable::checksum_ok;

/// The offset of the FADT's `DSDT` field (a 32-bit address).
const DSDT: usize = 40;
/// The offset of `PM1a_CNT_BLK` (an I/O port).
const PM1A_CONTROL: usize = 64;
/// The offset of `CENTURY`: the CMOS index of the clock's century register (0: none).
const CENTURY: usize = 108;
/// The offset of the FADT's flags.
const FLAGS: usize = 112;
/// Flag bit: the machine has no fixed ACPI hardware (no PM1 blocks).
const HARDWARE_REDUCED: u32 = 1 << 20;
/// The offset of `X_DSDT` (a 64-bit address, ACPI 2.0 and later).
const X_DSDT: usize = 140;
/// The offset of `SLEEP_CONTROL_REG` (a generic address, ACPI 5.0 and later).
const SLEEP_CONTROL: usize = 244;

/// Where to write to enter S5.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SleepRegister {
    /// The 16-bit PM1a control register at this I/O port.
    Pm1aControl(u16),
    /// A hardware-reduced machine's 8-bit sleep control register at this physical memory
    /// address.
    SleepControlMemory(u64),
    /// A hardware-reduced machine's 8-bit sleep control register at this I/O port.
    SleepControlPort(u16),
}

/// How to enter S5: the register and the value to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SoftOff {
    /// Where to write.
    pub register: SleepRegister,
    /// What to write: the sleep type with the sleep-enable bit.
    pub value: u16,
}

/// Finds the FADT and the DSDT through the RSDP at `rsdp` (or, for `None`, one found in the
/// BIOS area) and reads how to enter S5. `None` without ACPI, with damaged tables or with
/// an S5 they do not describe, and when the register lies in memory the boot page tables
/// do not map.
///
/// # Safety
/// Physical memory from 4 KiB to 4 GiB must be identity-mapped and readable.
pub unsafe fn scan(rsdp: Option<u64>) -> Option<SoftOff> {
    // SAFETY: the caller vouches for the memory.
    let fadt = unsafe { acpi::find_table(rsdp, b"FACP")? };
    // SAFETY: as above.
    let dsdt = unsafe { acpi::table_at(dsdt_address(fadt)?)? };
    SoftOff::new(fadt, dsdt).filter(|off| match off.register {
        SleepRegister::SleepControlMemory(address) => (0x1000..1 << 32).contains(&address),
        SleepRegister::Pm1aControl(_) | SleepRegister::SleepControlPort(_) => true,
    })
}

/// [`scan`] in the tables `acpi` says the machine has.
///
/// # Safety
/// As for [`scan`].
pub unsafe fn scan_tables(acpi: Acpi) -> Option<SoftOff> {
    // SAFETY: the caller vouches for the memory.
    unsafe {
        match acpi {
            Acpi::Absent => None,
            Acpi::At(rsdp) => scan(Some(rsdp)),
            Acpi::Search => scan(None),
        }
    }
}

impl SoftOff {
    /// The register of `fadt` (a whole FADT, checksum included) and the S5 sleep type from
    /// `dsdt` (a whole DSDT). `None` when either does not describe S5.
    pub fn new(fadt: &[u8], dsdt: &[u8]) -> Option<Self> {
        let register = sleep_register(fadt)?;
        let sleep_type = s5_sleep_type(dsdt)?;
        let value = match register {
            // SLP_TYP in bits 10..13, SLP_EN is bit 13.
            SleepRegister::Pm1aControl(_) => (u16::from(sleep_type & 7) << 10) | 1 << 13,
            // SLP_TYP in bits 2..5, SLP_EN is bit 5.
            SleepRegister::SleepControlMemory(_) | SleepRegister::SleepControlPort(_) => {
                (u16::from(sleep_type & 7) << 2) | 1 << 5
            }
        };
        Some(Self { register, value })
    }
}

/// The sleep control register a FADT (a whole table) names, or `None` for a damaged
/// table or one that names none.
pub fn sleep_register(fadt: &[u8]) -> Option<SleepRegister> {
    if !fadt.starts_with(b"FACP") || !checksum_ok(fadt) {
        return None;
    }
    if le32(fadt, FLAGS)? & HARDWARE_REDUCED == 0 {
        let port = u16::try_from(le32(fadt, PM1A_CONTROL)?).ok()?;
        return (port != 0).then_some(SleepRegister::Pm1aControl(port));
    }
    // A generic address: space (0 memory, 1 I/O), bit width, bit offset, access size, address.
    let gas = fadt.get(SLEEP_CONTROL..SLEEP_CONTROL + 12)?;
    let address = le64(gas, 4)?;
    match (gas[0], address) {
        (_, 0) => None,
        (0, address) => Some(SleepRegister::SleepControlMemory(address)),
        (1, port) => u16::try_from(port)
            .ok()
            .map(SleepRegister::SleepControlPort),
        _ => None,
    }
}

/// The CMOS index of the clock's century register that a FADT (a whole table) names, or
/// `None` for a damaged table or one that names none.
pub fn century_register(fadt: &[u8]) -> Option<u8> {
    if !fadt.starts_with(b"FACP") || !checksum_ok(fadt) {
        return None;
    }
    // The CMOS has 128 registers; the first 14 are the clock's own.
    fadt.get(CENTURY)
        .copied()
        .filter(|index| (14..128).contains(index))
}

/// [`century_register`] of the FADT in the tables `acpi` says the machine has.
///
/// # Safety
/// As for [`scan`].
pub unsafe fn scan_century(acpi: Acpi) -> Option<u8> {
    let rsdp = match acpi {
        Acpi::Absent => return None,
        Acpi::At(rsdp) => Some(rsdp),
        Acpi::Search => None,
    };
    // SAFETY: the caller vouches for the memory.
    century_register(unsafe { acpi::find_table(rsdp, b"FACP")? })
}

/// The physical address of the DSDT a FADT names (`X_DSDT` when set, else `DSDT`).
pub fn dsdt_address(fadt: &[u8]) -> Option<u64> {
    le64(fadt, X_DSDT)
        .filter(|&address| address != 0)
        .or_else(|| le32(fadt, DSDT).map(u64::from))
        .filter(|&address| address != 0)
}

/// The first value of the `\_S5` package in `dsdt` (a whole DSDT): the SLP_TYPa for S5.
pub fn s5_sleep_type(dsdt: &[u8]) -> Option<u8> {
    const PACKAGE_OP: u8 = 0x12;
    if !dsdt.starts_with(b"DSDT") || !checksum_ok(dsdt) {
        return None;
    }
    let at = dsdt.windows(5).position(|w| w == b"_S5_\x12")? + 4;
    let package = dsdt.get(at..)?;
    if package.first() != Some(&PACKAGE_OP) {
        return None;
    }
    // PkgLength: bits 6-7 of its first byte count the bytes that follow; then the number
    // of elements; then the first element.
    let length_bytes = usize::from(package.get(1)? >> 6);
    let element = package.get(1 + 1 + length_bytes + 1..)?;
    match *element {
        [0x00, ..] => Some(0),            // ZeroOp
        [0x01, ..] => Some(1),            // OneOp
        [0x0a, value, ..] => Some(value), // BytePrefix
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::{
        SleepRegister, SoftOff, century_register, dsdt_address, s5_sleep_type, sleep_register,
    };
    use crate::platform::firmware::mptable::fuzz::{self, Rng};
    use crate::platform::firmware::mptable::seal;

    /// A table of `len` bytes with `signature`, `fields` written at their offsets, sealed.
    fn table(signature: &[u8; 4], len: usize, fields: &[(usize, &[u8])]) -> Vec<u8> {
        let mut t = vec![0u8; len];
        t[..4].copy_from_slice(signature);
        t[4..8].copy_from_slice(&(len as u32).to_le_bytes());
        for &(at, bytes) in fields {
            t[at..at + bytes.len()].copy_from_slice(bytes);
        }
        seal(&mut t, 9);
        t
    }

    /// A PC's FADT: PM1a control at 0x604, DSDT at 0x7fe0040, century in CMOS 0x32.
    fn pc_fadt() -> Vec<u8> {
        table(
            b"FACP",
            116,
            &[
                (40, &0x07fe_0040u32.to_le_bytes()),
                (64, &0x604u32.to_le_bytes()),
                (108, &[0x32]),
            ],
        )
    }

    #[test]
    fn names_the_century_register_when_sound() {
        assert_eq!(century_register(&pc_fadt()), Some(0x32));
        assert_eq!(century_register(&reduced_fadt()), None, "none named");
        let mut damaged = pc_fadt();
        damaged[100] ^= 1;
        assert_eq!(century_register(&damaged), None);
        assert_eq!(century_register(&pc_fadt()[..100]), None);
        let clock_register = table(b"FACP", 116, &[(108, &[0x09])]);
        assert_eq!(century_register(&clock_register), None);
    }

    /// A hardware-reduced FADT with its sleep control register in memory at 0xfea00200.
    fn reduced_fadt() -> Vec<u8> {
        let mut gas = vec![0, 8, 0, 1];
        gas.extend(0xfea0_0200u64.to_le_bytes());
        table(
            b"FACP",
            276,
            &[
                (112, &(1u32 << 20).to_le_bytes()),
                (140, &0x1234_5000u64.to_le_bytes()),
                (244, &gas),
            ],
        )
    }

    /// A DSDT holding `Name (_S5, Package (4) { first, Zero, Zero, Zero })`, the first
    /// element's encoding given, after some other AML.
    fn dsdt(first: &[u8]) -> Vec<u8> {
        let mut aml = vec![0x08, b'_', b'S', b'3', b'_', 0x12, 0x06, 0x04, 1, 1, 0, 0];
        aml.extend([0x08, b'_', b'S', b'5', b'_', 0x12]);
        aml.push(5 + first.len() as u8);
        aml.push(4);
        aml.extend(first);
        aml.extend([0, 0, 0]);
        let len = 36 + aml.len();
        table(b"DSDT", len, &[(36, &aml)])
    }

    #[test]
    fn a_pc_writes_its_pm1a_control_port() {
        let fadt = pc_fadt();
        assert_eq!(
            sleep_register(&fadt),
            Some(SleepRegister::Pm1aControl(0x604))
        );
        assert_eq!(dsdt_address(&fadt), Some(0x07fe_0040));
        // QEMU's PIIX4: \_S5 is type 0, so the write is SLP_EN alone.
        assert_eq!(
            SoftOff::new(&fadt, &dsdt(&[0x00])),
            Some(SoftOff {
                register: SleepRegister::Pm1aControl(0x604),
                value: 0x2000
            })
        );
    }

    #[test]
    fn a_hardware_reduced_machine_writes_its_sleep_control_register() {
        let fadt = reduced_fadt();
        assert_eq!(
            sleep_register(&fadt),
            Some(SleepRegister::SleepControlMemory(0xfea0_0200))
        );
        assert_eq!(dsdt_address(&fadt), Some(0x1234_5000), "X_DSDT first");
        // QEMU's generic event device: S5 is type 5.
        assert_eq!(
            SoftOff::new(&fadt, &dsdt(&[0x0a, 5])).map(|off| off.value),
            Some(5 << 2 | 1 << 5)
        );
    }

    #[test]
    fn reads_each_encoding_of_the_s5_type() {
        assert_eq!(s5_sleep_type(&dsdt(&[0x00])), Some(0));
        assert_eq!(s5_sleep_type(&dsdt(&[0x01])), Some(1));
        assert_eq!(s5_sleep_type(&dsdt(&[0x0a, 7])), Some(7));
        assert_eq!(
            s5_sleep_type(&dsdt(&[0x0b, 7, 0])),
            None,
            "a word is not a type"
        );
    }

    #[test]
    fn s5_is_undescribed_without_sound_tables() {
        let mut damaged = dsdt(&[0x00]);
        damaged[40] ^= 1;
        assert_eq!(s5_sleep_type(&damaged), None);
        assert_eq!(s5_sleep_type(&table(b"DSDT", 40, &[])), None, "no \\_S5");
        let mut fadt = pc_fadt();
        fadt[64] ^= 1;
        assert_eq!(sleep_register(&fadt), None);
        let no_port = table(b"FACP", 116, &[]);
        assert_eq!(sleep_register(&no_port), None);
        assert_eq!(dsdt_address(&no_port), None);
        // Hardware-reduced, but too short to hold the sleep control register.
        let short = table(b"FACP", 244, &[(112, &(1u32 << 20).to_le_bytes())]);
        assert_eq!(sleep_register(&short), None);
        assert_eq!(SoftOff::new(&short, &dsdt(&[0x00])), None);
        assert_eq!(sleep_register(&dsdt(&[0x00])), None, "not a FADT");
    }

    /// Mutated FADTs and DSDTs: every one read or refused, none a panic, and what is read
    /// is a write that enters a sleep state.
    #[test]
    fn hostile_tables_are_refused_or_read_never_fatal() {
        fuzz::within_a_minute(|| {
            let mut rng = Rng::new(0x6661_6474_2d5f_5335);
            let fadts = [pc_fadt(), reduced_fadt()];
            let dsdts = [dsdt(&[0x00]), dsdt(&[0x0a, 5])];
            let s5_package = dsdts[0].windows(4).position(|w| w == b"_S5_").unwrap() + 4;
            let (mut registers, mut types) = (0, 0);
            for _ in 0..100_000 {
                let pick = &fadts[rng.below(fadts.len())];
                let mut fadt = fuzz::mutate(&mut rng, pick, &[40, 64, 112, 140, 244, 248]);
                if fadt.len() > 9 && rng.below(4) != 0 {
                    seal(&mut fadt, 9);
                }
                let pick = &dsdts[rng.below(dsdts.len())];
                let mut dsdt = fuzz::mutate(&mut rng, pick, &[s5_package + 1, s5_package + 3]);
                if dsdt.len() > 9 && rng.below(4) != 0 {
                    seal(&mut dsdt, 9);
                }
                registers += usize::from(sleep_register(&fadt).is_some());
                types += usize::from(s5_sleep_type(&dsdt).is_some());
                if let Some(address) = dsdt_address(&fadt) {
                    assert_ne!(address, 0);
                }
                if let Some(off) = SoftOff::new(&fadt, &dsdt) {
                    let enable = match off.register {
                        SleepRegister::Pm1aControl(_) => 1 << 13,
                        _ => 1 << 5,
                    };
                    assert_ne!(off.value & enable, 0, "{off:?}");
                }
            }
            // The mutations are mild enough to reach the register and the package.
            assert!(registers > 1_000 && types > 1_000, "{registers} {types}");
        });
    }
}
