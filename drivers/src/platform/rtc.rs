//! The CMOS real-time clock of a PC (the MC146818 at ports 0x70/0x71).
//!
//! The clock keeps the calendar in registers that change once a second; a read waits until
//! no update is in progress, reads them all, and reads again until two readings agree, so
//! that it never mixes the minute before an update with the second after. The firmware sets
//! the format in status register B: BCD or binary, 12- or 24-hour; the century, when the
//! clock keeps one, is in the register the ACPI FADT names. QEMU keeps the clock in UTC
//! unless told `-rtc base=localtime`.

use hal::time::DateTime;

use crate::x86_64::port;

/// Access to the clock's registers by index.
pub trait Registers {
    /// Reads register `index`.
    fn read(&mut self, index: u8) -> u8;
}

/// The registers behind the index port 0x70 and the data port 0x71.
#[derive(Debug)]
pub struct PortRegisters(());

impl PortRegisters {
    const INDEX: u16 = 0x70;
    const DATA: u16 = 0x71;

    /// # Safety
    /// The machine must be a PC whose ports 0x70/0x71 lead to the CMOS, used by nothing else
    /// while this value lives.
    pub unsafe fn new() -> Self {
        Self(())
    }
}

impl Registers for PortRegisters {
    fn read(&mut self, index: u8) -> u8 {
        // SAFETY: `new`'s caller vouched for the ports; bit 7 of the index (NMI disable)
        // stays clear, as the firmware leaves it.
        unsafe {
            port::outb(Self::INDEX, index & 0x7f);
            port::inb(Self::DATA)
        }
    }
}

const SECONDS: u8 = 0x00;
const MINUTES: u8 = 0x02;
const HOURS: u8 = 0x04;
const DAY: u8 = 0x07;
const MONTH: u8 = 0x08;
const YEAR: u8 = 0x09;
const STATUS_A: u8 = 0x0a;
const STATUS_B: u8 = 0x0b;

/// Status A: the clock is updating its registers (for up to about 2 ms).
const UPDATE_IN_PROGRESS: u8 = 1 << 7;
/// Status B: the registers hold binary rather than BCD.
const BINARY: u8 = 1 << 2;
/// Status B: the hour is 0 to 23 rather than 1 to 12 with bit 7 for PM.
const HOURS_24: u8 = 1 << 1;
/// In 12-hour mode: the hour is after noon.
const PM: u8 = 1 << 7;

/// How many times a read polls status A before it gives up on the update ending: some
/// thousands of port reads, several times the longest update on any PC.
const UPDATE_POLLS: u32 = 100_000;
/// How many readings a read takes, at most, to find two that agree.
const READINGS: u32 = 5;

/// Why the clock could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The update-in-progress flag never went down.
    Busy,
    /// No two readings in a row agreed.
    Unsteady,
    /// The registers hold no valid date (no clock answers: 0xff everywhere).
    Invalid {
        /// Status register B, as read.
        status_b: u8,
        /// Year, month, day, hour, minute, second, as read.
        raw: [u8; 6],
    },
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Busy => f.write_str("the RTC's update never ended"),
            Self::Unsteady => f.write_str("the RTC's readings kept changing"),
            Self::Invalid { status_b, raw } => {
                write!(
                    f,
                    "the RTC holds no valid date (status B {status_b}, registers"
                )?;
                raw.iter().try_for_each(|r| write!(f, " {r}"))?;
                f.write_str(")")
            }
        }
    }
}

/// One reading of the registers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Raw {
    registers: [u8; 6],
    century: u8,
}

/// The CMOS clock.
#[derive(Debug)]
pub struct Rtc<R> {
    registers: R,
    century: Option<u8>,
}

impl<R: Registers> Rtc<R> {
    /// The clock behind `registers`; `century` is the index of its century register, from
    /// the FADT (`None` or 0: it keeps none, and years 70 to 99 are 19xx, the rest 20xx).
    pub fn new(registers: R, century: Option<u8>) -> Self {
        Self {
            registers,
            century: century.filter(|&index| index != 0),
        }
    }

    /// The date and time the clock holds, as it keeps it (UTC on QEMU).
    pub fn read(&mut self) -> Result<DateTime, Error> {
        let mut last = self.reading()?;
        for _ in 1..READINGS {
            let next = self.reading()?;
            if next == last {
                let status_b = self.registers.read(STATUS_B);
                return decode(last, status_b, self.century.is_some());
            }
            last = next;
        }
        Err(Error::Unsteady)
    }

    /// Waits for no update in progress, then reads every register once.
    fn reading(&mut self) -> Result<Raw, Error> {
        let mut polls = 0;
        while self.registers.read(STATUS_A) & UPDATE_IN_PROGRESS != 0 {
            polls += 1;
            if polls == UPDATE_POLLS {
                return Err(Error::Busy);
            }
        }
        let registers = [YEAR, MONTH, DAY, HOURS, MINUTES, SECONDS].map(|i| self.registers.read(i));
        let century = self.century.map_or(0, |index| self.registers.read(index));
        Ok(Raw { registers, century })
    }
}

/// The date in `raw`, in the format status register B gives.
fn decode(raw: Raw, status_b: u8, has_century: bool) -> Result<DateTime, Error> {
    let invalid = Error::Invalid {
        status_b,
        raw: raw.registers,
    };
    let value = |byte: u8| {
        if status_b & BINARY != 0 {
            Some(byte)
        } else {
            from_bcd(byte)
        }
    };
    let [year, month, day, hours, minute, second] = raw.registers;
    let hour = if status_b & HOURS_24 != 0 {
        value(hours)
    } else {
        // 12 AM is midnight, 12 PM noon.
        value(hours & !PM)
            .filter(|h| (1..=12).contains(h))
            .map(|h| h % 12 + if hours & PM != 0 { 12 } else { 0 })
    };
    let year = value(year).filter(|&y| y < 100).map(u16::from);
    let century = if has_century {
        value(raw.century).map(u16::from)
    } else {
        year.map(|y| if y < 70 { 20 } else { 19 })
    };
    let fields = (
        century.zip(year),
        value(month),
        value(day),
        hour,
        value(minute),
        value(second),
    );
    let (Some((century, year)), Some(month), Some(day), Some(hour), Some(minute), Some(second)) =
        fields
    else {
        return Err(invalid);
    };
    let date = DateTime {
        year: century * 100 + year,
        month,
        day,
        hour,
        minute,
        second,
    };
    date.to_unix_seconds().map(|_| date).ok_or(invalid)
}

/// The value of a BCD byte, or `None` when a digit is above 9.
fn from_bcd(byte: u8) -> Option<u8> {
    let (tens, ones) = (byte >> 4, byte & 0xf);
    (tens < 10 && ones < 10).then_some(tens * 10 + ones)
}

#[cfg(test)]
mod tests {
    use alloc::vec::Vec;

    use hal::time::DateTime;

    use super::{Error, Registers, Rtc};

    /// A register bank: each read of status A pops the next update flag (then stays
    /// clear), and each reading of the seconds register may be scripted to tick.
    struct FakeCmos {
        bank: [u8; 128],
        updating: Vec<bool>,
        ticks: Vec<u8>,
        reads: usize,
    }

    impl FakeCmos {
        fn new(status_b: u8, year: u8, month: u8, day: u8, hour: u8, min: u8, sec: u8) -> Self {
            let mut bank = [0; 128];
            bank[0x0b] = status_b;
            bank[0x09] = year;
            bank[0x08] = month;
            bank[0x07] = day;
            bank[0x04] = hour;
            bank[0x02] = min;
            bank[0x00] = sec;
            Self {
                bank,
                updating: Vec::new(),
                ticks: Vec::new(),
                reads: 0,
            }
        }
    }

    impl Registers for FakeCmos {
        fn read(&mut self, index: u8) -> u8 {
            self.reads += 1;
            match index {
                0x0a => {
                    let busy = if self.updating.is_empty() {
                        false
                    } else {
                        self.updating.remove(0)
                    };
                    if busy { 0xa6 } else { 0x26 }
                }
                0x00 if !self.ticks.is_empty() => {
                    self.bank[0] = self.ticks.remove(0);
                    self.bank[0]
                }
                index => self.bank[usize::from(index)],
            }
        }
    }

    fn date(year: u16, month: u8, day: u8, hour: u8, minute: u8, second: u8) -> DateTime {
        DateTime {
            year,
            month,
            day,
            hour,
            minute,
            second,
        }
    }

    #[test]
    fn reads_bcd_24_hour_as_qemu_keeps_it() {
        let mut cmos = FakeCmos::new(0x02, 0x26, 0x11, 0x27, 0x19, 0x53, 0x29);
        cmos.bank[0x32] = 0x20;
        let mut rtc = Rtc::new(cmos, Some(0x32));
        assert_eq!(rtc.read(), Ok(date(2026, 11, 27, 19, 53, 29)));
    }

    #[test]
    fn reads_binary_and_12_hour() {
        let binary = FakeCmos::new(0x06, 26, 11, 27, 19, 53, 29);
        assert_eq!(
            Rtc::new(binary, None).read(),
            Ok(date(2026, 11, 27, 19, 53, 29))
        );
        for (hour, expected) in [(0x12, 0), (0x01, 1), (0x92, 12), (0x87, 19)] {
            let cmos = FakeCmos::new(0x00, 0x99, 0x12, 0x31, hour, 0, 0);
            assert_eq!(
                Rtc::new(cmos, None).read().map(|d| (d.year, d.hour)),
                Ok((1999, expected)),
                "{hour:#x}"
            );
        }
        let binary_pm = FakeCmos::new(0x04, 70, 1, 1, 0x80 | 11, 0, 0);
        assert_eq!(
            Rtc::new(binary_pm, None).read(),
            Ok(date(1970, 1, 1, 23, 0, 0))
        );
    }

    #[test]
    fn waits_out_an_update_and_rereads_a_tick() {
        let mut cmos = FakeCmos::new(0x02, 0x26, 0x11, 0x27, 0x19, 0x53, 0x29);
        cmos.updating = alloc::vec![true, true, false];
        // The second reading sees the next second: a third one must agree with it.
        cmos.ticks = alloc::vec![0x59, 0x00, 0x00];
        cmos.bank[0x02] = 0x59;
        assert_eq!(
            Rtc::new(cmos, None).read(),
            Ok(date(2026, 11, 27, 19, 59, 0))
        );
    }

    #[test]
    fn a_missing_or_stuck_clock_is_an_error_not_a_hang() {
        let mut absent = FakeCmos::new(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
        absent.bank = [0xff; 128];
        let err = Rtc::new(absent, Some(0x32)).read().unwrap_err();
        assert!(
            matches!(err, Error::Invalid { status_b: 0xff, .. }),
            "{err:?}"
        );
        assert!(err.to_string().starts_with("the RTC holds no valid date"));

        let mut stuck = FakeCmos::new(0x02, 0x26, 0x11, 0x27, 0x19, 0x53, 0x29);
        stuck.updating = alloc::vec![true; 200_000];
        let mut rtc = Rtc::new(stuck, None);
        assert_eq!(rtc.read(), Err(Error::Busy));
        assert!(rtc.registers.reads <= 100_000);

        let mut ticking = FakeCmos::new(0x02, 0x26, 0x11, 0x27, 0x19, 0x53, 0x00);
        ticking.ticks = (1..20).collect();
        assert_eq!(Rtc::new(ticking, None).read(), Err(Error::Unsteady));

        let bad_bcd = FakeCmos::new(0x02, 0x26, 0x1a, 0x27, 0x19, 0x53, 0x29);
        assert!(Rtc::new(bad_bcd, None).read().is_err());
        let feb_30 = FakeCmos::new(0x02, 0x26, 0x02, 0x30, 0x19, 0x53, 0x29);
        assert!(Rtc::new(feb_30, None).read().is_err());
    }
}
