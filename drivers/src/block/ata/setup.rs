//! The commands discovery sends and waits for, bounded: IDENTIFY, SET MULTIPLE MODE and
//! SET FEATURES.

use hal::block::SECTOR_SIZE;

use super::{BSY, DF, DRQ, ERR, Error, IDENTIFY_POLLS, Identity, Registers, cmd, reg};

/// Sends IDENTIFY to drive `unit` and reads its answer, polling at most
/// [`IDENTIFY_POLLS`] times.
pub(super) fn identify<R: Registers>(r: &mut R, unit: usize) -> Result<Identity, Error> {
    r.write(reg::DEVICE, 0xa0 | (unit as u8) << 4);
    // Four reads of the alternate status: the 400 ns a drive takes to show its status.
    for _ in 0..4 {
        r.alt_status();
    }
    for register in [reg::COUNT, reg::LBA_LOW, reg::LBA_MID, reg::LBA_HIGH] {
        r.write(register, 0);
    }
    r.write(reg::STATUS, cmd::IDENTIFY);
    let first = r.read(reg::STATUS);
    if first == 0 || first == 0xff {
        return Err(Error::NoDrive);
    }
    let mut status = first;
    let mut polls = 0;
    while status & BSY != 0 || status & (DRQ | ERR) == 0 {
        polls += 1;
        if polls == IDENTIFY_POLLS {
            return Err(Error::Timeout);
        }
        status = r.read(reg::STATUS);
    }
    if status & ERR != 0 {
        // A packet device aborts IDENTIFY and leaves its signature.
        let signature = (r.read(reg::LBA_MID), r.read(reg::LBA_HIGH));
        return Err(match signature {
            (0x14, 0xeb) | (0x69, 0x96) => Error::Packet,
            _ => Error::Refused,
        });
    }
    let mut words = [0; SECTOR_SIZE];
    r.read_block(&mut words);
    Identity::parse(&words).ok_or(Error::NoSectors)
}

/// Sets drive `unit`'s data blocks to `sectors` sectors; `false` when it refuses or never
/// answers: it then moves one sector at a time.
pub(super) fn set_multiple<R: Registers>(r: &mut R, unit: usize, sectors: u8) -> bool {
    no_data_command(r, unit, 0, sectors, cmd::SET_MULTIPLE)
}

/// Sends `command` with `features` and `count` to drive `unit` and waits for it, polling at
/// most [`IDENTIFY_POLLS`] times; `false` when it refuses or never answers.
pub(super) fn no_data_command<R: Registers>(
    r: &mut R,
    unit: usize,
    features: u8,
    count: u8,
    command: u8,
) -> bool {
    r.write(reg::DEVICE, 0xa0 | (unit as u8) << 4);
    for _ in 0..4 {
        r.alt_status();
    }
    r.write(reg::ERROR, features);
    r.write(reg::COUNT, count);
    r.write(reg::STATUS, command);
    for _ in 0..4 {
        r.alt_status();
    }
    for _ in 0..IDENTIFY_POLLS {
        let status = r.read(reg::STATUS);
        if status & BSY == 0 {
            return status & (ERR | DF) == 0;
        }
    }
    false
}
