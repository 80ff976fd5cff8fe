//! A fake ATA channel for the host tests: a register bank whose drives keep their sectors
//! in memory, with a bus master that moves data through [`FakeHal`]'s memory.

use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;

use hal::block::SECTOR_SIZE;
use spin::Mutex;

use super::dma::{self, ACTIVE, FAILED, INTERRUPT, START, TO_MEMORY, bm};
pub(super) use super::fake_hal::FakeHal;
use super::{BSY, DRDY, DRQ, ERR, Registers, cmd, reg};

/// One fake drive: sparse sectors (absent ones read as zeros) and how it misbehaves.
#[derive(Clone, Debug, Default)]
pub(super) struct Drive {
    pub(super) sectors: u64,
    pub(super) lba48: bool,
    pub(super) data: BTreeMap<u64, Vec<u8>>,
    /// IDENTIFY never ends.
    pub(super) stuck: bool,
    /// IDENTIFY fails, leaving this signature.
    pub(super) refuses: Option<(u8, u8)>,
    /// Reading this sector fails.
    pub(super) bad_sector: Option<u64>,
    /// The most sectors per data block it offers for the MULTIPLE commands.
    pub(super) multiple: u8,
    /// It offers multiword DMA modes 0..=2 and Ultra DMA modes 0..=5, as QEMU's do.
    pub(super) dma: bool,
    /// The bus master cannot reach memory for this drive's transfers.
    pub(super) engine_fails: bool,
    /// Its DMA commands never end (until a reset).
    pub(super) silent: bool,
}

#[derive(Debug, PartialEq, Eq)]
pub(super) enum Phase {
    Idle,
    /// Busy until the next step, then `DRQ` (a sector to read or to write) or done.
    Busy,
    Drq,
    Error,
}

/// A channel's registers: each command and each sector keeps the drive busy until the
/// test steps it, as a real drive does, then raises the interrupt.
#[derive(Debug)]
pub(super) struct Bank {
    pub(super) drives: [Option<Drive>; 2],
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
    pub(super) commands: Vec<u8>,
    /// Each drive's sectors per block, as SET MULTIPLE MODE left it (0: never set).
    block: [u64; 2],
    /// The features register (SET FEATURES' subcommand).
    features: u8,
    /// Each drive's transfer mode, as SET FEATURES left it (0: never set).
    pub(super) mode: [u8; 2],
    /// Whether the controller has a bus master.
    bus_master: bool,
    /// Bus-master command and status registers, and the PRD table's address.
    bm_command: u8,
    bm_status: u8,
    table: u32,
    /// Software resets seen.
    pub(super) resets: usize,
}

#[derive(Clone, Debug)]
pub(super) struct FakeRegisters(pub(super) Arc<Mutex<Bank>>);

impl FakeRegisters {
    /// A channel without a bus master.
    pub(super) fn new(drives: [Option<Drive>; 2]) -> Self {
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
            block: [0; 2],
            features: 0,
            mode: [0; 2],
            bus_master: false,
            bm_command: 0,
            bm_status: 0,
            table: 0,
            resets: 0,
        })))
    }

    /// A channel with a bus master.
    pub(super) fn with_bus_master(drives: [Option<Drive>; 2]) -> Self {
        let bank = Self::new(drives);
        bank.0.lock().bus_master = true;
        bank
    }

    /// Lets the busy drive finish what it was doing.
    pub(super) fn step(&self) {
        let mut bank = self.0.lock();
        if bank.phase != Phase::Busy {
            return;
        }
        if dma_command(bank.command) {
            bank.run_dma();
        } else {
            bank.ready_next();
        }
    }

    pub(super) fn sector(&self, unit: usize, lba: u64) -> Vec<u8> {
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

    /// Sectors in the current command's next data block.
    fn block_len(&self) -> u64 {
        let multiple = matches!(
            self.command,
            cmd::READ_MULTIPLE
                | cmd::READ_MULTIPLE_EXT
                | cmd::WRITE_MULTIPLE
                | cmd::WRITE_MULTIPLE_EXT
        );
        let block = if multiple { self.block[self.unit] } else { 1 };
        block.min(self.left)
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
        let ext = matches!(
            command,
            cmd::READ_EXT
                | cmd::WRITE_EXT
                | cmd::FLUSH_EXT
                | cmd::READ_MULTIPLE_EXT
                | cmd::WRITE_MULTIPLE_EXT
                | dma::cmd::READ_EXT
                | dma::cmd::WRITE_EXT
        );
        let [count, low, mid, high] = self.taskfile;
        let (lba, count) = if ext {
            let lba = u64::from_le_bytes([low[1], mid[1], high[1], low[0], mid[0], high[0], 0, 0]);
            let count = u64::from(u16::from_le_bytes([count[1], count[0]]));
            (lba, if count == 0 { 65_536 } else { count })
        } else {
            let lba = u64::from_le_bytes([low[1], mid[1], high[1], self.device & 0xf, 0, 0, 0, 0]);
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
                words[94] = drive.multiple;
                if drive.dma {
                    let mode = self.mode[self.unit];
                    let selected = |base: u8| match mode.checked_sub(base) {
                        Some(n) if n < 8 => 1u16 << (8 + n),
                        _ => 0,
                    };
                    let word = |words: &mut Vec<u8>, i: usize, value: u16| {
                        words[2 * i..2 * i + 2].copy_from_slice(&value.to_le_bytes());
                    };
                    word(&mut words, 49, 1 << 8);
                    word(&mut words, 53, 1 << 2);
                    word(&mut words, 63, 0x7 | selected(0x20));
                    word(&mut words, 88, 0x3f | selected(0x40));
                }
                if drive.lba48 {
                    words[166..168].copy_from_slice(&(1u16 << 10).to_le_bytes());
                    words[200..208].copy_from_slice(&drive.sectors.to_le_bytes());
                }
                self.buffer = words;
                self.left = 1;
                self.phase = Phase::Drq;
                self.irq = true;
            }
            dma::cmd::SET_FEATURES => {
                let mode = self.taskfile[0][1];
                let known = matches!(mode, 0x20..=0x22 | 0x40..=0x45);
                self.phase = if self.features == dma::SET_TRANSFER_MODE && drive.dma && known {
                    self.mode[self.unit] = mode;
                    Phase::Idle
                } else {
                    Phase::Error
                };
                return;
            }
            dma::cmd::READ | dma::cmd::READ_EXT | dma::cmd::WRITE | dma::cmd::WRITE_EXT
                if drive.dma =>
            {
                self.phase = Phase::Busy;
            }
            cmd::SET_MULTIPLE => {
                let sectors = self.taskfile[0][1];
                if sectors == 0 || sectors > drive.multiple {
                    self.phase = Phase::Error;
                } else {
                    self.block[self.unit] = u64::from(sectors);
                    self.phase = Phase::Idle;
                }
                return;
            }
            cmd::READ
            | cmd::READ_EXT
            | cmd::READ_MULTIPLE
            | cmd::READ_MULTIPLE_EXT
            | cmd::FLUSH
            | cmd::FLUSH_EXT => {
                self.phase = Phase::Busy;
            }
            cmd::WRITE | cmd::WRITE_EXT => self.phase = Phase::Drq,
            cmd::WRITE_MULTIPLE | cmd::WRITE_MULTIPLE_EXT if self.block[self.unit] > 0 => {
                self.phase = Phase::Drq;
            }
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
        let (command, lba, n) = (self.command, self.lba, self.block_len());
        let left = self.left;
        let Some(drive) = self.drive() else { return };
        let reads = matches!(
            command,
            cmd::READ | cmd::READ_EXT | cmd::READ_MULTIPLE | cmd::READ_MULTIPLE_EXT
        );
        let writes = matches!(
            command,
            cmd::WRITE | cmd::WRITE_EXT | cmd::WRITE_MULTIPLE | cmd::WRITE_MULTIPLE_EXT
        );
        let bad = drive
            .bad_sector
            .is_some_and(|bad| (lba..lba + n).contains(&bad));
        let mut buffer = Vec::new();
        let phase = if reads && bad {
            Phase::Error
        } else if reads {
            for sector in lba..lba + n {
                let data = drive.data.get(&sector).cloned();
                buffer.extend(data.unwrap_or_else(|| vec![0; SECTOR_SIZE]));
            }
            Phase::Drq
        } else if writes && left > 0 {
            Phase::Drq
        } else {
            Phase::Idle
        };
        self.buffer = buffer;
        self.phase = phase;
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
            reg::ERROR => bank.features = value,
            _ => {}
        }
    }

    fn read_block(&mut self, block: &mut [u8]) {
        let mut bank = self.0.lock();
        assert_eq!(bank.phase, Phase::Drq, "data read without DRQ");
        assert_eq!(
            block.len(),
            bank.buffer.len(),
            "a read of another block size"
        );
        block.copy_from_slice(&bank.buffer);
        let n = (block.len() / SECTOR_SIZE) as u64;
        bank.lba += n;
        bank.left -= n;
        bank.phase = if bank.left > 0 {
            Phase::Busy
        } else {
            Phase::Idle
        };
    }

    fn write_block(&mut self, block: &[u8]) {
        let mut bank = self.0.lock();
        assert_eq!(bank.phase, Phase::Drq, "data written without DRQ");
        let n = bank.block_len();
        assert_eq!(
            block.len() as u64,
            n * SECTOR_SIZE as u64,
            "a write of another block size"
        );
        let lba = bank.lba;
        if let Some(drive) = bank.drive() {
            for (i, sector) in block.chunks(SECTOR_SIZE).enumerate() {
                drive.data.insert(lba + i as u64, sector.to_vec());
            }
        }
        bank.lba += n;
        bank.left -= n;
        bank.phase = Phase::Busy;
    }

    fn alt_status(&mut self) -> u8 {
        self.0.lock().status()
    }

    fn set_control(&mut self, value: u8) {
        let mut bank = self.0.lock();
        // The reset bit: both drives drop what they were doing.
        if value & 1 << 2 != 0 {
            bank.resets += 1;
            bank.phase = Phase::Idle;
            bank.left = 0;
        }
    }

    fn has_bus_master(&self) -> bool {
        self.0.lock().bus_master
    }

    fn bus_master_read(&mut self, offset: u8) -> u8 {
        let bank = self.0.lock();
        assert!(bank.bus_master, "bus-master read without one");
        match offset {
            bm::COMMAND => bank.bm_command,
            bm::STATUS => bank.bm_status,
            _ => 0,
        }
    }

    fn bus_master_write(&mut self, offset: u8, value: u8) {
        let mut bank = self.0.lock();
        assert!(bank.bus_master, "bus-master write without one");
        match offset {
            bm::COMMAND => {
                bank.bm_command = value;
                if value & START != 0 {
                    bank.bm_status |= ACTIVE;
                } else {
                    bank.bm_status &= !ACTIVE;
                }
            }
            // Interrupt and error clear where written with 1.
            bm::STATUS => bank.bm_status &= !(value & (INTERRUPT | FAILED)),
            _ => {}
        }
    }

    fn set_prd_table(&mut self, address: u32) {
        let mut bank = self.0.lock();
        assert!(bank.bus_master, "PRD table without a bus master");
        bank.table = address;
    }
}

/// Whether `command` moves data by DMA.
fn dma_command(command: u8) -> bool {
    matches!(
        command,
        dma::cmd::READ | dma::cmd::READ_EXT | dma::cmd::WRITE | dma::cmd::WRITE_EXT
    )
}

impl Bank {
    /// Runs the DMA command once the engine was started: checks the PRD table as a PIIX
    /// would need it, moves the sectors and raises the interrupt.
    fn run_dma(&mut self) {
        if self.bm_command & START == 0 {
            return;
        }
        let reads = matches!(self.command, dma::cmd::READ | dma::cmd::READ_EXT);
        assert_eq!(
            self.bm_command & TO_MEMORY != 0,
            reads,
            "the engine's direction"
        );
        let (lba, left, unit) = (self.lba, self.left, self.unit);
        let Some(drive) = self.drives[unit].as_mut() else {
            return;
        };
        if drive.silent {
            return;
        }
        self.irq = true;
        self.bm_status = self.bm_status & !ACTIVE | INTERRUPT;
        if drive.engine_fails {
            self.bm_status |= FAILED;
            self.phase = Phase::Drq;
            return;
        }
        if reads
            && drive
                .bad_sector
                .is_some_and(|bad| (lba..lba + left).contains(&bad))
        {
            self.phase = Phase::Error;
            return;
        }
        let regions = FakeHal::prd_regions(self.table);
        let total: usize = regions.iter().map(|(_, len)| len).sum();
        assert_eq!(
            total as u64,
            left * SECTOR_SIZE as u64,
            "PRD bytes = sectors"
        );
        let mut bytes = Vec::with_capacity(total);
        if !reads {
            for &(at, len) in &regions {
                bytes.extend_from_slice(FakeHal::memory(at, len));
            }
            for (i, sector) in bytes.chunks(SECTOR_SIZE).enumerate() {
                drive.data.insert(lba + i as u64, sector.to_vec());
            }
        } else {
            for sector in lba..lba + left {
                let data = drive.data.get(&sector).cloned();
                bytes.extend(data.unwrap_or_else(|| vec![0; SECTOR_SIZE]));
            }
            let mut from = 0;
            for (at, len) in regions {
                FakeHal::memory(at, len).copy_from_slice(&bytes[from..from + len]);
                from += len;
            }
        }
        self.lba += left;
        self.left = 0;
        self.phase = Phase::Idle;
    }
}

pub(super) fn drive_with(image: &[u8]) -> Drive {
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
