//! ATA (IDE) disks on a PC's legacy channels: bus-master DMA where the controller and the
//! drive offer it, else PIO; both with interrupt completion.
//!
//! A channel (primary at ports 0x1f0/0x3f6 with ISA IRQ 14, secondary at 0x170/0x376 with
//! IRQ 15) holds up to two drives that share its registers and its line, so the drives'
//! [`AtaDrive`] values share one [`Channel`] behind a lock: the channel runs one command at
//! a time and starts a drive's queued request when the other's ends.
//!
//! A request is one or more commands (READ/WRITE MULTIPLE, or SECTORS for a drive without
//! multiple mode; their EXT forms when the request reaches past LBA28 or covers more than
//! 256 sectors and the drive has LBA48), of at most 256 (LBA28) or 65,536 (LBA48) sectors,
//! moving one data block per data-request: the drive's most sectors per block (QEMU: 16),
//! which discovery sets with SET MULTIPLE MODE, else one sector. The
//! driver never waits for the drive in `submit` or `poll`: each call moves every sector the
//! drive offers now and returns; the drive's interrupt brings the next call. Reading the
//! status register lowers the drive's interrupt, so each call does, and a sector that
//! becomes ready later raises a new edge.
//!
//! With DMA ([`dma`]), a read or write is one or more READ/WRITE DMA (EXT) commands of at
//! most 256 (LBA28) or [`dma::MAX_SECTORS`] (LBA48) sectors, straight between the drive and
//! the request's buffer: the channel's one-page PRD table describes the buffer's part for
//! the command, the drive's interrupt (latched in the bus-master status) ends it. Memory
//! for the table and the buffers' physical addresses come from a `virtio_drivers::Hal`
//! ([`VirtioHal`] on Novillo's identity map), as for virtio devices. A buffer DMA cannot
//! reach (above 4 GiB, or at an odd address) goes by PIO; so does a flush.
//!
//! Discovery ([`Channel::probe`]) sends IDENTIFY to each drive and waits, bounded, for the
//! answer: no drive, a packet (ATAPI) device, a drive that never answers or reports no
//! sectors is logged and left out. A drive uses DMA when the probe is asked for it, the
//! channel has a bus master, the drive offers a DMA mode (IDENTIFY words 49, 63, 88) and
//! takes SET FEATURES for one when none is selected yet.

pub mod dma;
mod ports;
mod setup;

pub use self::ports::PortRegisters;
use self::setup::{identify, no_data_command, set_multiple};

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;
use core::marker::PhantomData;
use core::ptr::NonNull;
use core::time::Duration;

use hal::block::{BlockDevice, Completion, ErrorKind, ErrorType, Request, SECTOR_SIZE, Token};
use hal::device::BlockDriver;
use hal::irq::InterruptSource;
use hal::time::{Clock, Instant};
use spin::Mutex;
use virtio_drivers::{BufferDirection, Hal, PhysAddr};

use self::dma::{FAILED, INTERRUPT, START, TO_MEMORY, bm};
use crate::virtio::VirtioHal;

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
/// Device control: software reset of both drives.
const SRST: u8 = 1 << 2;

/// How long a command may run before the channel gives up on it, resets its drives and
/// fails the request: far longer than any command takes on a working drive (a real disk
/// spinning up takes seconds).
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

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
    /// READ MULTIPLE (LBA28).
    pub const READ_MULTIPLE: u8 = 0xc4;
    /// READ MULTIPLE EXT (LBA48).
    pub const READ_MULTIPLE_EXT: u8 = 0x29;
    /// WRITE MULTIPLE (LBA28).
    pub const WRITE_MULTIPLE: u8 = 0xc5;
    /// WRITE MULTIPLE EXT (LBA48).
    pub const WRITE_MULTIPLE_EXT: u8 = 0x39;
    /// SET MULTIPLE MODE: the sectors per data block of the MULTIPLE commands.
    pub const SET_MULTIPLE: u8 = 0xc6;
}

/// How many status reads discovery spends on one drive's IDENTIFY before it gives up.
const IDENTIFY_POLLS: u32 = 1_000_000;

/// Access to one channel's registers.
pub trait Registers {
    /// Reads command-block register `offset` (1..8; see [`reg`]).
    fn read(&mut self, offset: u8) -> u8;
    /// Writes command-block register `offset`.
    fn write(&mut self, offset: u8, value: u8);
    /// Reads one data block (a whole number of sectors) from the data port.
    fn read_block(&mut self, block: &mut [u8]);
    /// Writes one data block to the data port.
    fn write_block(&mut self, block: &[u8]);
    /// Reads the alternate status: the status without lowering the interrupt.
    fn alt_status(&mut self) -> u8;
    /// Writes the device control register.
    fn set_control(&mut self, value: u8);
    /// Whether the channel has a bus master: the next three are called only if so.
    fn has_bus_master(&self) -> bool;
    /// Reads bus-master register `offset` (see [`dma::bm`]).
    fn bus_master_read(&mut self, offset: u8) -> u8;
    /// Writes bus-master register `offset`.
    fn bus_master_write(&mut self, offset: u8, value: u8);
    /// Writes the PRD table's physical address.
    fn set_prd_table(&mut self, address: u32);
}

/// What IDENTIFY says about a drive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Identity {
    /// Addressable sectors.
    pub sectors: u64,
    /// Whether the drive takes LBA48 commands.
    pub lba48: bool,
    /// The most sectors per data block of READ/WRITE MULTIPLE (0 or 1: one).
    pub multiple: u8,
    /// The DMA modes it offers.
    pub dma: dma::Modes,
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
        let multiple = (word(47) & 0xff) as u8;
        let dma = dma::Modes::parse(|i| word(i) as u16);
        (sectors != 0).then_some(Self {
            sectors,
            lba48,
            multiple,
            dma,
        })
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

/// What [`Channel::probe`] found: the drives, and what happened at each position.
pub type Probed<R, H> = (Vec<AtaDrive<R, H>>, [Result<Identity, Error>; 2]);

/// Which transfer a probe should set drives up for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transfer {
    /// Bus-master DMA where the channel and the drive offer it, else PIO.
    Dma,
    /// PIO only.
    Pio,
}

/// What a request asks of the channel.
#[derive(Clone, Copy, Debug)]
enum Op {
    Read(NonNull<u8>),
    Write(NonNull<u8>),
    Flush,
}

impl Op {
    /// The buffer of a read or write of `sectors` sectors, and which way the data goes.
    fn buffer(self, sectors: u64) -> Option<(NonNull<[u8]>, BufferDirection)> {
        let len = sectors as usize * SECTOR_SIZE;
        match self {
            Self::Read(at) => Some((
                NonNull::slice_from_raw_parts(at, len),
                BufferDirection::DeviceToDriver,
            )),
            Self::Write(at) => Some((
                NonNull::slice_from_raw_parts(at, len),
                BufferDirection::DriverToDevice,
            )),
            Self::Flush => None,
        }
    }
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
    /// The buffer's physical address when it moves by DMA.
    shared: Option<PhysAddr>,
}

/// The command in progress.
#[derive(Clone, Copy, Debug)]
struct Active {
    unit: usize,
    job: Job,
    /// Sectors left in the current command (all of them until the end, for DMA).
    in_command: u64,
    /// When the command was sent.
    sent: Instant,
}

/// The channel's PRD table: one page from the DMA allocator.
#[derive(Debug)]
struct Table {
    physical: PhysAddr,
    entries: NonNull<[[u8; 8]; dma::PRD_ENTRIES]>,
    /// The allocator's `dma_dealloc`.
    free: unsafe fn(PhysAddr, NonNull<u8>, usize) -> i32,
}

/// One ATA channel and up to two drives' requests: see the [module docs](self).
pub struct Channel<R, H = VirtioHal> {
    registers: R,
    identity: [Option<Identity>; 2],
    /// Sectors per data block of each drive: more than 1 when it took SET MULTIPLE MODE.
    block: [u64; 2],
    table: Option<Table>,
    writable: bool,
    queued: [Option<Job>; 2],
    active: Option<Active>,
    done: [Option<Result<(), ErrorKind>>; 2],
    /// The last unit a command ran for: the other goes first when both wait.
    last: usize,
    /// Whether the drive may have raised its interrupt since the last ack.
    unacked: bool,
    /// For [`COMMAND_TIMEOUT`].
    clock: Box<dyn Clock + Send>,
    hal: PhantomData<H>,
}

impl<R: fmt::Debug, H> fmt::Debug for Channel<R, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Channel")
            .field("registers", &self.registers)
            .field("identity", &self.identity)
            .field("active", &self.active)
            .field("queued", &self.queued)
            .finish_non_exhaustive()
    }
}

// SAFETY: the jobs' pointers are request buffers that `submit`'s caller keeps valid until
// `poll` returns their tokens, on whichever core that is; the table is this channel's own
// DMA page; the registers are ports, usable from any core.
unsafe impl<R: Send, H> Send for Channel<R, H> {}

impl<R: Registers, H: Hal> Channel<R, H> {
    /// Identifies both drives of the channel behind `registers` (waiting for each, bounded),
    /// sets them up for `transfer`, and returns one [`AtaDrive`] per disk found, with what
    /// happened to each position. `writable: false` makes the drives refuse writes.
    /// `clock` times commands out (see [`COMMAND_TIMEOUT`]). Interrupts are on afterwards.
    pub fn probe(
        mut registers: R,
        writable: bool,
        transfer: Transfer,
        clock: Box<dyn Clock + Send>,
    ) -> Probed<R, H> {
        registers.set_control(NIEN);
        let found = [identify(&mut registers, 0), identify(&mut registers, 1)];
        let block = [0, 1].map(|unit| match found[unit] {
            Ok(id) if id.multiple > 1 && set_multiple(&mut registers, unit, id.multiple) => {
                u64::from(id.multiple)
            }
            _ => 1,
        });
        let table = (transfer == Transfer::Dma && registers.has_bus_master())
            .then(prd_table::<H>)
            .flatten();
        let dma = [0, 1].map(|unit| match found[unit] {
            Ok(id) if table.is_some() && id.dma() => match id.dma.to_select() {
                Some(mode) => no_data_command(
                    &mut registers,
                    unit,
                    dma::SET_TRANSFER_MODE,
                    mode,
                    dma::cmd::SET_FEATURES,
                ),
                None => true,
            },
            _ => false,
        });
        registers.set_control(0);
        // Lowers an interrupt IDENTIFY left pending.
        registers.read(reg::STATUS);
        let channel = Arc::new(Mutex::new(Self {
            registers,
            identity: [found[0].ok(), found[1].ok()],
            block,
            table,
            writable,
            queued: [None; 2],
            active: None,
            done: [None; 2],
            last: 1,
            unacked: false,
            clock,
            hal: PhantomData,
        }));
        let drives = (0..2)
            .filter_map(|unit| {
                let sectors = found[unit].ok()?.sectors;
                Some(AtaDrive {
                    channel: channel.clone(),
                    unit,
                    sectors,
                    dma: dma[unit],
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
        if let (Some(buffer), Some(table)) = (job.shared, &self.table) {
            let max = if long { dma::MAX_SECTORS } else { 256 };
            let read = matches!(job.op, Op::Read(_));
            let command = match (read, long) {
                (true, false) => dma::cmd::READ,
                (true, true) => dma::cmd::READ_EXT,
                (false, false) => dma::cmd::WRITE,
                (false, true) => dma::cmd::WRITE_EXT,
            };
            let at = buffer + job.moved * SECTOR_SIZE as u64;
            let len = job.left.min(max) as usize * SECTOR_SIZE;
            // SAFETY: the table is this channel's page, which only this locked channel
            // writes, and the engine is stopped (no command is active).
            let entries = unsafe { &mut *table.entries.as_ptr() };
            let count = (dma::fill(entries, at, len) / SECTOR_SIZE) as u64;
            let direction = if read { TO_MEMORY } else { 0 };
            let r = &mut self.registers;
            r.set_prd_table(table.physical as u32);
            let status = r.bus_master_read(bm::STATUS);
            r.bus_master_write(bm::STATUS, status | INTERRUPT | FAILED);
            r.bus_master_write(bm::COMMAND, direction);
            send(r, unit, job.lba, count, long, command);
            r.bus_master_write(bm::COMMAND, direction | START);
            self.begin(unit, job, count);
            return;
        }
        let max = if long { 65_536 } else { 256 };
        let count = job.left.min(max);
        let multiple = self.block[unit] > 1;
        let command = match (job.op, long, multiple) {
            (Op::Read(_), false, false) => cmd::READ,
            (Op::Read(_), true, false) => cmd::READ_EXT,
            (Op::Read(_), false, true) => cmd::READ_MULTIPLE,
            (Op::Read(_), true, true) => cmd::READ_MULTIPLE_EXT,
            (Op::Write(_), false, false) => cmd::WRITE,
            (Op::Write(_), true, false) => cmd::WRITE_EXT,
            (Op::Write(_), false, true) => cmd::WRITE_MULTIPLE,
            (Op::Write(_), true, true) => cmd::WRITE_MULTIPLE_EXT,
            (Op::Flush, false, _) => cmd::FLUSH,
            (Op::Flush, true, _) => cmd::FLUSH_EXT,
        };
        send(&mut self.registers, unit, job.lba, count, long, command);
        let in_command = if matches!(job.op, Op::Flush) {
            0
        } else {
            count
        };
        self.begin(unit, job, in_command);
    }

    /// Records the command just sent.
    fn begin(&mut self, unit: usize, job: Job, in_command: u64) {
        self.unacked = true;
        self.active = Some(Active {
            unit,
            job,
            in_command,
            sent: self.clock.now(),
        });
    }

    /// Moves every sector the drive offers now and finishes what it finished; fails a
    /// command older than [`COMMAND_TIMEOUT`].
    fn advance(&mut self) {
        while let Some(mut active) = self.active {
            if self.clock.now() - active.sent > COMMAND_TIMEOUT {
                self.give_up(active);
                continue;
            }
            if active.job.shared.is_some() {
                if !self.advance_dma(active) {
                    return;
                }
                continue;
            }
            let status = self.registers.read(reg::STATUS);
            if status & BSY != 0 {
                return;
            }
            if status & (ERR | DF) != 0 {
                self.finish(active, Err(ErrorKind::Device));
                continue;
            }
            let job = active.job;
            let offset = job.moved as usize * SECTOR_SIZE;
            // One data block: up to the drive's multiple, within the command.
            let sectors = self.block[active.unit].min(active.in_command);
            let len = sectors as usize * SECTOR_SIZE;
            match job.op {
                Op::Read(buf) if status & DRQ != 0 && sectors > 0 => {
                    // SAFETY: the buffer holds `left + moved` sectors (`sectors` is at most
                    // `left`) and stays valid and untouched until the token is polled
                    // (`submit`'s contract).
                    let block =
                        unsafe { core::slice::from_raw_parts_mut(buf.as_ptr().add(offset), len) };
                    self.registers.read_block(block);
                }
                Op::Write(buf) if status & DRQ != 0 && sectors > 0 => {
                    // SAFETY: as above.
                    let block =
                        unsafe { core::slice::from_raw_parts(buf.as_ptr().add(offset), len) };
                    self.registers.write_block(block);
                }
                Op::Read(_) | Op::Write(_) | Op::Flush if status & DRQ == 0 => {
                    // Neither busy nor asking while sectors are left: the drive has not
                    // shown its next state yet; its interrupt will.
                    if active.in_command > 0 {
                        return;
                    }
                    if job.left == 0 {
                        self.finish(active, Ok(()));
                    } else {
                        self.active = None;
                        self.issue(active.unit, job);
                    }
                    continue;
                }
                _ => {
                    // DRQ with nothing left to move: the drive wants more than was asked.
                    self.finish(active, Err(ErrorKind::Device));
                    continue;
                }
            }
            active.job.lba += sectors;
            active.job.left -= sectors;
            active.job.moved += sectors;
            active.in_command -= sectors;
            self.active = Some(active);
            self.unacked = true;
            // After a read's last sector the drive raises no interrupt: it is over.
            if matches!(job.op, Op::Read(_)) && active.in_command == 0 && active.job.left == 0 {
                self.finish(active, Ok(()));
            }
        }
    }

    /// Ends the DMA command `active` if the drive raised its interrupt (or the engine
    /// failed), starting the request's next command if any; `false` while it runs.
    fn advance_dma(&mut self, mut active: Active) -> bool {
        let r = &mut self.registers;
        let engine = r.bus_master_read(bm::STATUS);
        if engine & (INTERRUPT | FAILED) == 0 {
            return false;
        }
        r.bus_master_write(bm::COMMAND, 0);
        // Reading the status lowers the drive's interrupt.
        let status = r.read(reg::STATUS);
        r.bus_master_write(bm::STATUS, engine | INTERRUPT | FAILED);
        if engine & FAILED != 0 || status & (BSY | DRQ | ERR | DF) != 0 {
            self.finish(active, Err(ErrorKind::Device));
            return true;
        }
        let sectors = active.in_command;
        active.job.lba += sectors;
        active.job.left -= sectors;
        active.job.moved += sectors;
        if active.job.left == 0 {
            self.finish(active, Ok(()));
        } else {
            self.active = None;
            self.issue(active.unit, active.job);
        }
        true
    }

    /// Stops the engine, resets the channel's drives (so that the next command finds them
    /// ready) and fails `active`'s request.
    fn give_up(&mut self, active: Active) {
        let r = &mut self.registers;
        if active.job.shared.is_some() {
            r.bus_master_write(bm::COMMAND, 0);
        }
        r.set_control(SRST | NIEN);
        // The 5 µs the reset bit must stay set, and more.
        for _ in 0..50 {
            r.alt_status();
        }
        r.set_control(0);
        self.finish(active, Err(ErrorKind::Device));
    }

    /// Ends `active`'s request with `result` and starts the next.
    fn finish(&mut self, active: Active, result: Result<(), ErrorKind>) {
        let job = active.job;
        if let (Some(physical), Some((buffer, direction))) =
            (job.shared, job.op.buffer(job.moved + job.left))
        {
            // SAFETY: shared in `submit` with these values; the engine is stopped.
            unsafe { H::unshare(physical, buffer, direction) };
        }
        self.active = None;
        self.done[active.unit] = Some(result);
        self.start_next();
    }
}

impl Drop for Table {
    fn drop(&mut self) {
        // SAFETY: `prd_table` allocated this one page with the allocator `free` belongs
        // to; no command uses it any more (its channel, with every request, is gone).
        unsafe { (self.free)(self.physical, self.entries.cast(), 1) };
    }
}

/// One page of PRD table, or `None` when the allocator has none the engine can reach.
fn prd_table<H: Hal>() -> Option<Table> {
    let (physical, virtual_address) = H::dma_alloc(1, BufferDirection::DriverToDevice);
    if physical == 0 {
        return None;
    }
    if !dma::reachable(physical, dma::PRD_ENTRIES * 8) {
        // SAFETY: just allocated, one page, unused.
        unsafe { H::dma_dealloc(physical, virtual_address, 1) };
        return None;
    }
    Some(Table {
        physical,
        entries: virtual_address.cast(),
        free: H::dma_dealloc,
    })
}

/// Writes the task file for `count` sectors from `lba` on drive `unit` and sends
/// `command`.
fn send<R: Registers>(r: &mut R, unit: usize, lba: u64, count: u64, long: bool, command: u8) {
    let lba = lba.to_le_bytes();
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
}

/// One drive of a [`Channel`]: a [`BlockDevice`] with a queue of one request.
#[derive(Debug)]
pub struct AtaDrive<R, H = VirtioHal> {
    channel: Arc<Mutex<Channel<R, H>>>,
    unit: usize,
    sectors: u64,
    dma: bool,
}

// The PC board hands the drives to the kernel.
const _: () = {
    const fn is_driver<D: BlockDriver>() {}
    is_driver::<AtaDrive<PortRegisters>>();
};

impl<R, H> AtaDrive<R, H> {
    /// 0 for the channel's master, 1 for its slave.
    pub fn unit(&self) -> usize {
        self.unit
    }

    /// Whether the drive moves data by bus-master DMA (else PIO).
    pub fn uses_dma(&self) -> bool {
        self.dma
    }
}

impl<R, H> ErrorType for AtaDrive<R, H> {
    type Error = ErrorKind;
}

impl<R: Registers, H: Hal> BlockDevice for AtaDrive<R, H> {
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
        let sectors = (len / SECTOR_SIZE) as u64;
        let shared = match op.buffer(sectors) {
            Some((buffer, direction)) if self.dma => {
                // SAFETY: the buffer stays valid until its token is polled (our caller's
                // promise); `finish` unshares it before that.
                let physical = unsafe { H::share(buffer, direction) };
                if dma::reachable(physical, len) {
                    Some(physical)
                } else {
                    // SAFETY: shared just above, not used by the engine.
                    unsafe { H::unshare(physical, buffer, direction) };
                    None
                }
            }
            _ => None,
        };
        channel.queued[unit] = Some(Job {
            op,
            lba: first,
            left: sectors,
            moved: 0,
            shared,
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

impl<R: Registers, H: Hal> InterruptSource for AtaDrive<R, H> {
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
mod fake;
#[cfg(test)]
mod fake_hal;
#[cfg(test)]
mod tests;
