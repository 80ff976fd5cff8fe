//! ATA (IDE) disks on a PC's legacy channels, in PIO mode with interrupt completion.
//!
//! A channel (primary at ports 0x1f0/0x3f6 with ISA IRQ 14, secondary at 0x170/0x376 with
//! IRQ 15) holds up to two drives that share its registers and its line, so the drives'
//! [`AtaDrive`] values share one [`Channel`] behind a lock: the channel runs one command at
//! a time and starts a drive's queued request when the other's ends.
//!
//! A request is one or more commands (READ/WRITE SECTORS, or their EXT forms when the
//! request reaches past LBA28 or covers more than 256 sectors and the drive has LBA48), of
//! at most 256 (LBA28) or 65,536 (LBA48) sectors, moving one sector per data-request. The
//! driver never waits for the drive in `submit` or `poll`: each call moves every sector the
//! drive offers now and returns; the drive's interrupt brings the next call. Reading the
//! status register lowers the drive's interrupt, so each call does, and a sector that
//! becomes ready later raises a new edge.
//!
//! Discovery ([`Channel::probe`]) sends IDENTIFY to each drive and waits, bounded, for the
//! answer: no drive, a packet (ATAPI) device, a drive that never answers or reports no
//! sectors is logged and left out.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;
use core::ptr::NonNull;

use hal::block::{BlockDevice, Completion, ErrorKind, ErrorType, Request, SECTOR_SIZE, Token};
use hal::device::BlockDriver;
use hal::irq::InterruptSource;
use spin::Mutex;

use crate::x86_64::port;

/// Registers of the command block, by offset from its base.
pub mod reg {
    /// Error (read) and features (write).
    pub const ERROR: u8 = 1;
    /// Sector count.
    pub const COUNT: u8 = 2;
    /// LBA bits 0..8 (and 24..32 as the previous value, LBA48).
    pub const LBA_LOW: u8 = 3;
    /// LBA bits 8..16 (and 32..40).
    pub const LBA_MID: u8 = 4;
    /// LBA bits 16..24 (and 40..48).
    pub const LBA_HIGH: u8 = 5;
    /// Drive select, LBA mode and (LBA28) bits 24..28.
    pub const DEVICE: u8 = 6;
    /// Status (read; lowers the interrupt) and command (write).
    pub const STATUS: u8 = 7;
}

/// Status: the drive is busy; no other bit is valid.
pub const BSY: u8 = 1 << 7;
/// Status: the drive is ready.
pub const DRDY: u8 = 1 << 6;
/// Status: drive fault.
pub const DF: u8 = 1 << 5;
/// Status: the drive wants a sector moved through the data port.
pub const DRQ: u8 = 1 << 3;
/// Status: the command failed; the error register says why.
pub const ERR: u8 = 1 << 0;

/// Device control: interrupts off.
const NIEN: u8 = 1 << 1;

/// Commands.
pub mod cmd {
    /// READ SECTORS (LBA28).
    pub const READ: u8 = 0x20;
    /// READ SECTORS EXT (LBA48).
    pub const READ_EXT: u8 = 0x24;
    /// WRITE SECTORS (LBA28).
    pub const WRITE: u8 = 0x30;
    /// WRITE SECTORS EXT (LBA48).
    pub const WRITE_EXT: u8 = 0x34;
    /// FLUSH CACHE.
    pub const FLUSH: u8 = 0xe7;
    /// FLUSH CACHE EXT.
    pub const FLUSH_EXT: u8 = 0xea;
    /// IDENTIFY DEVICE.
    pub const IDENTIFY: u8 = 0xec;
}

/// How many status reads discovery spends on one drive's IDENTIFY before it gives up.
const IDENTIFY_POLLS: u32 = 1_000_000;

/// Access to one channel's registers.
pub trait Registers {
    /// Reads command-block register `offset` (1..8; see [`reg`]).
    fn read(&mut self, offset: u8) -> u8;
    /// Writes command-block register `offset`.
    fn write(&mut self, offset: u8, value: u8);
    /// Reads one sector from the data port.
    fn read_sector(&mut self, sector: &mut [u8]);
    /// Writes one sector to the data port.
    fn write_sector(&mut self, sector: &[u8]);
    /// Reads the alternate status: the status without lowering the interrupt.
    fn alt_status(&mut self) -> u8;
    /// Writes the device control register.
    fn set_control(&mut self, value: u8);
}

/// A legacy channel's registers in I/O space.
#[derive(Debug)]
pub struct PortRegisters {
    base: u16,
    control: u16,
}

impl PortRegisters {
    /// The primary channel: command block 0x1f0, control 0x3f6, ISA IRQ 14.
    pub const PRIMARY: (u16, u16, u8) = (0x1f0, 0x3f6, 14);
    /// The secondary channel: command block 0x170, control 0x376, ISA IRQ 15.
    pub const SECONDARY: (u16, u16, u8) = (0x170, 0x376, 15);

    /// # Safety
    /// An ATA channel's command block must be at `base..base + 8` and its control register
    /// at `control`, used by nothing else.
    pub unsafe fn new(base: u16, control: u16) -> Self {
        Self { base, control }
    }
}

impl Registers for PortRegisters {
    fn read(&mut self, offset: u8) -> u8 {
        // SAFETY: `new`'s caller vouched for the channel.
        unsafe { port::inb(self.base + u16::from(offset)) }
    }

    fn write(&mut self, offset: u8, value: u8) {
        // SAFETY: as for `read`.
        unsafe { port::outb(self.base + u16::from(offset), value) }
    }

    fn read_sector(&mut self, sector: &mut [u8]) {
        // SAFETY: as for `read`; the drive has a sector ready (DRQ).
        unsafe { port::insw(self.base, sector) }
    }

    fn write_sector(&mut self, sector: &[u8]) {
        // SAFETY: as for `read`; the drive wants a sector (DRQ).
        unsafe { port::outsw(self.base, sector) }
    }

    fn alt_status(&mut self) -> u8 {
        // SAFETY: as for `read`.
        unsafe { port::inb(self.control) }
    }

    fn set_control(&mut self, value: u8) {
        // SAFETY: as for `read`.
        unsafe { port::outb(self.control, value) }
    }
}

/// What IDENTIFY says about a drive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Identity {
    /// Addressable sectors.
    pub sectors: u64,
    /// Whether the drive takes LBA48 commands.
    pub lba48: bool,
}

impl Identity {
    /// Reads the answer to IDENTIFY (256 little-endian words): `None` when it reports no
    /// addressable sectors.
    pub fn parse(words: &[u8; SECTOR_SIZE]) -> Option<Self> {
        let word = |i: usize| u64::from(u16::from_le_bytes([words[2 * i], words[2 * i + 1]]));
        let lba48 = word(83) & (1 << 10) != 0;
        let lba28_sectors = word(60) | word(61) << 16;
        let lba48_sectors = word(100) | word(101) << 16 | word(102) << 32 | word(103) << 48;
        let sectors = if lba48 && lba48_sectors != 0 {
            lba48_sectors
        } else {
            lba28_sectors
        };
        (sectors != 0).then_some(Self { sectors, lba48 })
    }
}

/// Why a drive was left out at discovery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// Nothing answers at this position (status 0 or 0xff).
    NoDrive,
    /// A packet device (a CD drive): not a disk this driver drives.
    Packet,
    /// The drive stayed busy or never offered its IDENTIFY data.
    Timeout,
    /// The drive refused IDENTIFY (status ERR).
    Refused,
    /// IDENTIFY reports no addressable sectors.
    NoSectors,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NoDrive => "no drive",
            Self::Packet => "a packet (ATAPI) device, not a disk",
            Self::Timeout => "IDENTIFY never finished",
            Self::Refused => "IDENTIFY refused",
            Self::NoSectors => "IDENTIFY reports no sectors",
        })
    }
}

/// What a request asks of the channel.
#[derive(Clone, Copy, Debug)]
enum Op {
    Read(NonNull<u8>),
    Write(NonNull<u8>),
    Flush,
}

/// A request accepted from one drive.
#[derive(Clone, Copy, Debug)]
struct Job {
    op: Op,
    /// The next sector to move.
    lba: u64,
    /// Sectors left in the request.
    left: u64,
    /// Sectors moved so far (the buffer offset, in sectors).
    moved: u64,
}

/// The command in progress.
#[derive(Clone, Copy, Debug)]
struct Active {
    unit: usize,
    job: Job,
    /// Sectors left in the current command.
    in_command: u64,
}

/// One ATA channel and up to two drives' requests: see the [module docs](self).
#[derive(Debug)]
pub struct Channel<R> {
    registers: R,
    identity: [Option<Identity>; 2],
    writable: bool,
    queued: [Option<Job>; 2],
    active: Option<Active>,
    done: [Option<Result<(), ErrorKind>>; 2],
    /// The last unit a command ran for: the other goes first when both wait.
    last: usize,
    /// Whether the drive may have raised its interrupt since the last ack.
    unacked: bool,
}

// SAFETY: the jobs' pointers are request buffers that `submit`'s caller keeps valid until
// `poll` returns their tokens, on whichever core that is; the registers are ports, usable
// from any core.
unsafe impl<R: Send> Send for Channel<R> {}

impl<R: Registers> Channel<R> {
    /// Identifies both drives of the channel behind `registers` (waiting for each, bounded)
    /// and returns one [`AtaDrive`] per disk found, with what happened to each position.
    /// `writable: false` makes the drives refuse writes. Interrupts are on afterwards.
    pub fn probe(
        mut registers: R,
        writable: bool,
    ) -> (Vec<AtaDrive<R>>, [Result<Identity, Error>; 2]) {
        registers.set_control(NIEN);
        let found = [identify(&mut registers, 0), identify(&mut registers, 1)];
        registers.set_control(0);
        // Lowers an interrupt IDENTIFY left pending.
        registers.read(reg::STATUS);
        let channel = Arc::new(Mutex::new(Self {
            registers,
            identity: [found[0].ok(), found[1].ok()],
            writable,
            queued: [None; 2],
            active: None,
            done: [None; 2],
            last: 1,
            unacked: false,
        }));
        let drives = (0..2)
            .filter_map(|unit| {
                let sectors = found[unit].ok()?.sectors;
                Some(AtaDrive {
                    channel: channel.clone(),
                    unit,
                    sectors,
                })
            })
            .collect();
        (drives, found)
    }

    /// Starts the next queued job if the channel is free.
    fn start_next(&mut self) {
        if self.active.is_some() {
            return;
        }
        let other = 1 - self.last;
        let Some(unit) = [other, self.last]
            .into_iter()
            .find(|&u| self.queued[u].is_some())
        else {
            return;
        };
        if let Some(job) = self.queued[unit].take() {
            self.last = unit;
            self.issue(unit, job);
        }
    }

    /// Sends the command for the next part of `job`.
    fn issue(&mut self, unit: usize, job: Job) {
        let lba48 = self.identity[unit].is_some_and(|id| id.lba48);
        let end = job.lba + job.left;
        let long = lba48 && (end > 1 << 28 || job.left > 256);
        let max = if long { 65_536 } else { 256 };
        let count = job.left.min(max);
        let command = match (job.op, long) {
            (Op::Read(_), false) => cmd::READ,
            (Op::Read(_), true) => cmd::READ_EXT,
            (Op::Write(_), false) => cmd::WRITE,
            (Op::Write(_), true) => cmd::WRITE_EXT,
            (Op::Flush, false) => cmd::FLUSH,
            (Op::Flush, true) => cmd::FLUSH_EXT,
        };
        let lba = job.lba.to_le_bytes();
        let r = &mut self.registers;
        if long {
            r.write(reg::DEVICE, 0x40 | (unit as u8) << 4);
            // The high bytes first: the drive keeps the previous value of each register.
            r.write(reg::COUNT, (count >> 8) as u8);
            r.write(reg::LBA_LOW, lba[3]);
            r.write(reg::LBA_MID, lba[4]);
            r.write(reg::LBA_HIGH, lba[5]);
        } else {
            r.write(reg::DEVICE, 0xe0 | (unit as u8) << 4 | (lba[3] & 0xf));
        }
        // A count of 0 means 256 (LBA28) or 65,536 (LBA48).
        r.write(reg::COUNT, count as u8);
        r.write(reg::LBA_LOW, lba[0]);
        r.write(reg::LBA_MID, lba[1]);
        r.write(reg::LBA_HIGH, lba[2]);
        r.write(reg::STATUS, command);
        // The 400 ns a drive takes to show its new status.
        for _ in 0..4 {
            r.alt_status();
        }
        self.unacked = true;
        let in_command = if matches!(job.op, Op::Flush) {
            0
        } else {
            count
        };
        self.active = Some(Active {
            unit,
            job,
            in_command,
        });
    }

    /// Moves every sector the drive offers now and finishes what it finished.
    fn advance(&mut self) {
        while let Some(mut active) = self.active {
            let status = self.registers.read(reg::STATUS);
            if status & BSY != 0 {
                return;
            }
            if status & (ERR | DF) != 0 {
                self.finish(active.unit, Err(ErrorKind::Device));
                continue;
            }
            let job = active.job;
            let offset = job.moved as usize * SECTOR_SIZE;
            match job.op {
                Op::Read(buf) if status & DRQ != 0 && active.in_command > 0 => {
                    // SAFETY: the buffer holds `left + moved` sectors and stays valid and
                    // untouched until the token is polled (`submit`'s contract).
                    let sector = unsafe {
                        core::slice::from_raw_parts_mut(buf.as_ptr().add(offset), SECTOR_SIZE)
                    };
                    self.registers.read_sector(sector);
                }
                Op::Write(buf) if status & DRQ != 0 && active.in_command > 0 => {
                    // SAFETY: as above.
                    let sector = unsafe {
                        core::slice::from_raw_parts(buf.as_ptr().add(offset), SECTOR_SIZE)
                    };
                    self.registers.write_sector(sector);
                }
                Op::Read(_) | Op::Write(_) | Op::Flush if status & DRQ == 0 => {
                    // Neither busy nor asking while sectors are left: the drive has not
                    // shown its next state yet; its interrupt will.
                    if active.in_command > 0 {
                        return;
                    }
                    if job.left == 0 {
                        self.finish(active.unit, Ok(()));
                    } else {
                        self.active = None;
                        self.issue(active.unit, job);
                    }
                    continue;
                }
                _ => {
                    // DRQ with nothing left to move: the drive wants more than was asked.
                    self.finish(active.unit, Err(ErrorKind::Device));
                    continue;
                }
            }
            active.job.lba += 1;
            active.job.left -= 1;
            active.job.moved += 1;
            active.in_command -= 1;
            self.active = Some(active);
            self.unacked = true;
            // After a read's last sector the drive raises no interrupt: it is over.
            if matches!(job.op, Op::Read(_)) && active.in_command == 0 && active.job.left == 0 {
                self.finish(active.unit, Ok(()));
            }
        }
    }

    fn finish(&mut self, unit: usize, result: Result<(), ErrorKind>) {
        self.active = None;
        self.done[unit] = Some(result);
        self.start_next();
    }
}

/// Sends IDENTIFY to drive `unit` and reads its answer, polling at most
/// [`IDENTIFY_POLLS`] times.
fn identify<R: Registers>(r: &mut R, unit: usize) -> Result<Identity, Error> {
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
    r.read_sector(&mut words);
    Identity::parse(&words).ok_or(Error::NoSectors)
}

/// One drive of a [`Channel`]: a [`BlockDevice`] with a queue of one request.
#[derive(Debug)]
pub struct AtaDrive<R> {
    channel: Arc<Mutex<Channel<R>>>,
    unit: usize,
    sectors: u64,
}

// The PC board hands the drives to the kernel.
const _: () = {
    const fn is_driver<D: BlockDriver>() {}
    is_driver::<AtaDrive<PortRegisters>>();
};

impl<R> AtaDrive<R> {
    /// 0 for the channel's master, 1 for its slave.
    pub fn unit(&self) -> usize {
        self.unit
    }
}

impl<R> ErrorType for AtaDrive<R> {
    type Error = ErrorKind;
}

impl<R: Registers> BlockDevice for AtaDrive<R> {
    fn sector_count(&self) -> u64 {
        self.sectors
    }

    fn queue_depth(&self) -> usize {
        1
    }

    unsafe fn submit(&mut self, request: Request<'_>) -> nb::Result<Token, ErrorKind> {
        request.check(self.sectors)?;
        let mut channel = self.channel.lock();
        let unit = self.unit;
        let (op, first, len) = match request {
            Request::Read { first, buf } => {
                let len = buf.len();
                (Op::Read(NonNull::from(buf).cast()), first, len)
            }
            Request::Write { .. } if !channel.writable => {
                return Err(nb::Error::Other(ErrorKind::ReadOnly));
            }
            Request::Write { first, buf } => {
                (Op::Write(NonNull::from(buf).cast()), first, buf.len())
            }
            Request::Flush => (Op::Flush, 0, 0),
        };
        let busy = channel.queued[unit].is_some()
            || channel.done[unit].is_some()
            || channel.active.is_some_and(|a| a.unit == unit);
        if busy {
            return Err(nb::Error::WouldBlock);
        }
        channel.queued[unit] = Some(Job {
            op,
            lba: first,
            left: (len / SECTOR_SIZE) as u64,
            moved: 0,
        });
        channel.start_next();
        Ok(Token(0))
    }

    fn poll(&mut self) -> Option<Completion<ErrorKind>> {
        let mut channel = self.channel.lock();
        channel.advance();
        let result = channel.done[self.unit].take()?;
        Some(Completion {
            token: Token(0),
            result,
        })
    }
}

impl<R: Registers> InterruptSource for AtaDrive<R> {
    fn ack_interrupt(&mut self) -> bool {
        let mut channel = self.channel.lock();
        // Reading the status lowers the channel's interrupt.
        let status = channel.registers.read(reg::STATUS);
        let mine = channel.unacked && status & BSY == 0;
        channel.unacked = false;
        mine
    }
}

#[cfg(test)]
mod tests {
    use alloc::collections::BTreeMap;
    use alloc::sync::Arc;
    use alloc::vec;
    use alloc::vec::Vec;

    use hal::block::{BlockDevice, ErrorKind, Request, SECTOR_SIZE};
    use hal::irq::InterruptSource;
    use hal::mock::{BlockHarness, block_contract};
    use spin::Mutex;

    use super::{AtaDrive, BSY, Channel, DRDY, DRQ, ERR, Error, Registers, cmd, reg};

    /// One fake drive: sparse sectors (absent ones read as zeros) and how it misbehaves.
    #[derive(Clone, Debug, Default)]
    struct Drive {
        sectors: u64,
        lba48: bool,
        data: BTreeMap<u64, Vec<u8>>,
        /// IDENTIFY never ends.
        stuck: bool,
        /// IDENTIFY fails, leaving this signature.
        refuses: Option<(u8, u8)>,
        /// Reading this sector fails.
        bad_sector: Option<u64>,
    }

    #[derive(Debug, PartialEq, Eq)]
    enum Phase {
        Idle,
        /// Busy until the next step, then `DRQ` (a sector to read or to write) or done.
        Busy,
        Drq,
        Error,
    }

    /// A channel's registers: each command and each sector keeps the drive busy until the
    /// test steps it, as a real drive does, then raises the interrupt.
    #[derive(Debug)]
    struct Bank {
        drives: [Option<Drive>; 2],
        unit: usize,
        /// [previous, current] of count and the three LBA registers (LBA48 reads both).
        taskfile: [[u8; 2]; 4],
        device: u8,
        command: u8,
        lba: u64,
        left: u64,
        phase: Phase,
        buffer: Vec<u8>,
        irq: bool,
        commands: Vec<u8>,
    }

    #[derive(Clone, Debug)]
    struct FakeRegisters(Arc<Mutex<Bank>>);

    impl FakeRegisters {
        fn new(drives: [Option<Drive>; 2]) -> Self {
            Self(Arc::new(Mutex::new(Bank {
                drives,
                unit: 0,
                taskfile: [[0; 2]; 4],
                device: 0,
                command: 0,
                lba: 0,
                left: 0,
                phase: Phase::Idle,
                buffer: Vec::new(),
                irq: false,
                commands: Vec::new(),
            })))
        }

        /// Lets the busy drive finish what it was doing.
        fn step(&self) {
            let mut bank = self.0.lock();
            if bank.phase == Phase::Busy {
                bank.ready_next();
            }
        }

        fn sector(&self, unit: usize, lba: u64) -> Vec<u8> {
            let bank = self.0.lock();
            let drive = bank.drives[unit].as_ref().expect("a drive");
            drive
                .data
                .get(&lba)
                .cloned()
                .unwrap_or_else(|| vec![0; SECTOR_SIZE])
        }
    }

    impl Bank {
        fn drive(&mut self) -> Option<&mut Drive> {
            self.drives[self.unit].as_mut()
        }

        fn status(&mut self) -> u8 {
            let Some(drive) = self.drives[self.unit].as_ref() else {
                return 0;
            };
            if drive.stuck && self.command == cmd::IDENTIFY {
                return BSY;
            }
            match self.phase {
                Phase::Idle => DRDY,
                Phase::Busy => BSY,
                Phase::Drq => DRDY | DRQ,
                Phase::Error => DRDY | ERR,
            }
        }

        fn start(&mut self, command: u8) {
            self.command = command;
            self.commands.push(command);
            let Some(drive) = self.drives[self.unit].clone() else {
                return;
            };
            let ext = matches!(command, cmd::READ_EXT | cmd::WRITE_EXT | cmd::FLUSH_EXT);
            let [count, low, mid, high] = self.taskfile;
            let (lba, count) = if ext {
                let lba =
                    u64::from_le_bytes([low[1], mid[1], high[1], low[0], mid[0], high[0], 0, 0]);
                let count = u64::from(u16::from_le_bytes([count[1], count[0]]));
                (lba, if count == 0 { 65_536 } else { count })
            } else {
                let lba =
                    u64::from_le_bytes([low[1], mid[1], high[1], self.device & 0xf, 0, 0, 0, 0]);
                let count = u64::from(count[1]);
                (lba, if count == 0 { 256 } else { count })
            };
            self.lba = lba;
            self.left = count;
            match command {
                cmd::IDENTIFY => {
                    if let Some(signature) = drive.refuses {
                        self.taskfile[2][1] = signature.0;
                        self.taskfile[3][1] = signature.1;
                        self.phase = Phase::Error;
                        return;
                    }
                    let mut words = vec![0u8; SECTOR_SIZE];
                    let lba28 = drive.sectors.min(0x0fff_ffff) as u32;
                    words[120..124].copy_from_slice(&lba28.to_le_bytes());
                    if drive.lba48 {
                        words[166..168].copy_from_slice(&(1u16 << 10).to_le_bytes());
                        words[200..208].copy_from_slice(&drive.sectors.to_le_bytes());
                    }
                    self.buffer = words;
                    self.left = 1;
                    self.phase = Phase::Drq;
                    self.irq = true;
                }
                cmd::READ | cmd::READ_EXT | cmd::FLUSH | cmd::FLUSH_EXT => {
                    self.phase = Phase::Busy;
                }
                cmd::WRITE | cmd::WRITE_EXT => self.phase = Phase::Drq,
                _ => self.phase = Phase::Error,
            }
            let moves_data = !matches!(command, cmd::IDENTIFY | cmd::FLUSH | cmd::FLUSH_EXT);
            if moves_data && ((ext && !drive.lba48) || lba + count > drive.sectors) {
                self.phase = Phase::Error;
                self.irq = true;
            }
        }

        /// The end of a busy spell.
        fn ready_next(&mut self) {
            let (command, lba) = (self.command, self.lba);
            let Some(drive) = self.drive() else { return };
            self.phase = match command {
                cmd::READ | cmd::READ_EXT if drive.bad_sector == Some(lba) => Phase::Error,
                cmd::READ | cmd::READ_EXT => {
                    let sector = drive.data.get(&lba).cloned();
                    self.buffer = sector.unwrap_or_else(|| vec![0; SECTOR_SIZE]);
                    Phase::Drq
                }
                cmd::WRITE | cmd::WRITE_EXT if self.left > 0 => Phase::Drq,
                _ => Phase::Idle,
            };
            self.irq = true;
        }
    }

    impl Registers for FakeRegisters {
        fn read(&mut self, offset: u8) -> u8 {
            let mut bank = self.0.lock();
            match offset {
                reg::STATUS => {
                    bank.irq = false;
                    bank.status()
                }
                reg::COUNT..=reg::LBA_HIGH => bank.taskfile[usize::from(offset - reg::COUNT)][1],
                _ => 0,
            }
        }

        fn write(&mut self, offset: u8, value: u8) {
            let mut bank = self.0.lock();
            match offset {
                reg::STATUS => bank.start(value),
                reg::DEVICE => {
                    bank.device = value;
                    bank.unit = usize::from(value >> 4 & 1);
                }
                reg::COUNT..=reg::LBA_HIGH => {
                    let register = &mut bank.taskfile[usize::from(offset - reg::COUNT)];
                    *register = [register[1], value];
                }
                _ => {}
            }
        }

        fn read_sector(&mut self, sector: &mut [u8]) {
            let mut bank = self.0.lock();
            assert_eq!(bank.phase, Phase::Drq, "data read without DRQ");
            sector.copy_from_slice(&bank.buffer);
            bank.lba += 1;
            bank.left -= 1;
            bank.phase = if bank.left > 0 {
                Phase::Busy
            } else {
                Phase::Idle
            };
        }

        fn write_sector(&mut self, sector: &[u8]) {
            let mut bank = self.0.lock();
            assert_eq!(bank.phase, Phase::Drq, "data written without DRQ");
            let lba = bank.lba;
            if let Some(drive) = bank.drive() {
                drive.data.insert(lba, sector.to_vec());
            }
            bank.lba += 1;
            bank.left -= 1;
            bank.phase = Phase::Busy;
        }

        fn alt_status(&mut self) -> u8 {
            self.0.lock().status()
        }

        fn set_control(&mut self, _value: u8) {}
    }

    fn drive_with(image: &[u8]) -> Drive {
        Drive {
            sectors: (image.len() / SECTOR_SIZE) as u64,
            data: image
                .chunks(SECTOR_SIZE)
                .enumerate()
                .map(|(i, s)| (i as u64, s.to_vec()))
                .collect(),
            ..Drive::default()
        }
    }

    struct Harness {
        bank: FakeRegisters,
        drive: AtaDrive<FakeRegisters>,
    }

    impl Harness {
        fn new(drives: [Option<Drive>; 2], unit: usize, writable: bool) -> Self {
            let bank = FakeRegisters::new(drives);
            let (found, _) = Channel::probe(bank.clone(), writable);
            let drive = found
                .into_iter()
                .find(|d| d.unit() == unit)
                .expect("the drive is found");
            Self { bank, drive }
        }
    }

    impl BlockHarness for Harness {
        type Device = AtaDrive<FakeRegisters>;

        fn device(&mut self) -> &mut Self::Device {
            &mut self.drive
        }

        fn progress(&mut self) {
            self.bank.step();
        }

        fn interrupts(&self) -> bool {
            true
        }

        fn image(&self) -> Vec<u8> {
            let sectors = self.drive.sectors;
            let unit = self.drive.unit;
            (0..sectors)
                .flat_map(|lba| self.bank.sector(unit, lba))
                .collect()
        }

        fn set_read_only(&mut self) {
            let drives = self.bank.0.lock().drives.clone();
            *self = Self::new(drives, self.drive.unit, false);
        }
    }

    #[test]
    fn a_master_keeps_the_contract() {
        block_contract(|image| Harness::new([Some(drive_with(image)), None], 0, true));
    }

    #[test]
    fn a_slave_beside_a_master_keeps_the_contract() {
        block_contract(|image| {
            let master = drive_with(&vec![0x55; 4 * SECTOR_SIZE]);
            Harness::new([Some(master), Some(drive_with(image))], 1, true)
        });
    }

    /// Runs `request` on `drive`, stepping the bank until it completes.
    fn run(
        bank: &FakeRegisters,
        drive: &mut AtaDrive<FakeRegisters>,
        request: Request<'_>,
    ) -> Result<(), ErrorKind> {
        // SAFETY: the buffer outlives this function, which returns after the completion.
        unsafe { drive.submit(request) }.expect("accepted");
        for _ in 0..100_000 {
            if let Some(done) = drive.poll() {
                return done.result;
            }
            bank.step();
        }
        panic!("the request never finished");
    }

    #[test]
    fn two_drives_share_the_channel_one_command_at_a_time() {
        let bank = FakeRegisters::new([
            Some(drive_with(&vec![1; 8 * SECTOR_SIZE])),
            Some(drive_with(&vec![2; 8 * SECTOR_SIZE])),
        ]);
        let (mut drives, found) = Channel::probe(bank.clone(), true);
        assert_eq!(found.map(|f| f.map(|id| id.sectors)), [Ok(8), Ok(8)]);
        let (mut a, mut b) = (drives.remove(0), drives.remove(0));
        let (mut buf_a, mut buf_b) = (vec![0; 2 * SECTOR_SIZE], vec![0; 3 * SECTOR_SIZE]);
        // SAFETY: both buffers live until both tokens come back below.
        unsafe {
            a.submit(Request::Read {
                first: 0,
                buf: &mut buf_a,
            })
            .expect("a");
            b.submit(Request::Read {
                first: 5,
                buf: &mut buf_b,
            })
            .expect("b");
        }
        let (mut done_a, mut done_b) = (None, None);
        for _ in 0..100 {
            bank.step();
            b.ack_interrupt();
            done_a = done_a.or_else(|| a.poll());
            done_b = done_b.or_else(|| b.poll());
        }
        assert_eq!(done_a.map(|d| d.result), Some(Ok(())));
        assert_eq!(done_b.map(|d| d.result), Some(Ok(())));
        assert!(buf_a.iter().all(|&x| x == 1) && buf_b.iter().all(|&x| x == 2));
    }

    #[test]
    fn long_requests_split_and_high_sectors_take_lba48() {
        let big = Drive {
            sectors: (1 << 28) + 600,
            lba48: true,
            ..Drive::default()
        };
        let small = drive_with(&vec![3; 600 * SECTOR_SIZE]);
        let bank = FakeRegisters::new([Some(small), Some(big)]);
        let (mut drives, _) = Channel::probe(bank.clone(), true);
        let mut buf = vec![0; 300 * SECTOR_SIZE];
        assert_eq!(
            run(
                &bank,
                &mut drives[0],
                Request::Read {
                    first: 10,
                    buf: &mut buf
                }
            ),
            Ok(())
        );
        assert!(buf.iter().all(|&x| x == 3));
        let data: Vec<u8> = (0..300 * SECTOR_SIZE).map(|i| (i % 251) as u8).collect();
        let high = (1 << 28) + 100;
        assert_eq!(
            run(
                &bank,
                &mut drives[1],
                Request::Write {
                    first: high,
                    buf: &data
                }
            ),
            Ok(())
        );
        assert_eq!(bank.sector(1, high + 299), data[299 * SECTOR_SIZE..]);
        assert_eq!(run(&bank, &mut drives[1], Request::Flush), Ok(()));
        let commands = bank.0.lock().commands.clone();
        assert_eq!(
            commands[2..],
            [cmd::READ, cmd::READ, cmd::WRITE_EXT, cmd::FLUSH],
            "300 sectors: two LBA28 commands; past LBA28: one EXT command"
        );
    }

    #[test]
    fn a_failing_sector_fails_its_request_only() {
        let mut drive = drive_with(&vec![4; 8 * SECTOR_SIZE]);
        drive.bad_sector = Some(3);
        let bank = FakeRegisters::new([Some(drive), None]);
        let (mut drives, _) = Channel::probe(bank.clone(), true);
        let mut buf = vec![0; 8 * SECTOR_SIZE];
        let result = run(
            &bank,
            &mut drives[0],
            Request::Read {
                first: 0,
                buf: &mut buf,
            },
        );
        assert_eq!(result, Err(ErrorKind::Device));
        let mut one = vec![0; SECTOR_SIZE];
        assert_eq!(
            run(
                &bank,
                &mut drives[0],
                Request::Read {
                    first: 4,
                    buf: &mut one
                }
            ),
            Ok(())
        );
    }

    #[test]
    fn drives_that_cannot_be_used_are_left_out_with_the_reason() {
        let cases = [
            (None, Error::NoDrive),
            (
                Some(Drive {
                    stuck: true,
                    sectors: 8,
                    ..Drive::default()
                }),
                Error::Timeout,
            ),
            (
                Some(Drive {
                    refuses: Some((0x14, 0xeb)),
                    ..Drive::default()
                }),
                Error::Packet,
            ),
            (
                Some(Drive {
                    refuses: Some((0, 0)),
                    ..Drive::default()
                }),
                Error::Refused,
            ),
            (Some(Drive::default()), Error::NoSectors),
        ];
        for (drive, error) in cases {
            let (drives, found) = Channel::probe(FakeRegisters::new([drive, None]), true);
            assert!(drives.is_empty(), "{error}");
            assert_eq!(found, [Err(error), Err(Error::NoDrive)]);
        }
        assert_eq!(
            Error::Packet.to_string(),
            "a packet (ATAPI) device, not a disk"
        );
    }
}
