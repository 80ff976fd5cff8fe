//! The ATA driver against a fake register bank.

use alloc::boxed::Box;
use alloc::vec;
use alloc::vec::Vec;

use hal::block::{BlockDevice, ErrorKind, Request, SECTOR_SIZE};
use hal::irq::InterruptSource;
use hal::mock::{BlockHarness, ManualClock, block_contract};
use hal::time::Clock;

use super::fake::{Drive, FakeHal, FakeRegisters, drive_with};
use super::{AtaDrive, Channel, Error, Transfer, cmd, dma};

/// A clock that stands still: no command times out.
fn clock() -> Box<dyn Clock + Send> {
    Box::new(ManualClock::new())
}

struct Harness {
    bank: FakeRegisters,
    drive: AtaDrive<FakeRegisters, FakeHal>,
    transfer: Transfer,
}

impl Harness {
    /// Drive `unit` of a channel with `drives`, with a bus master for [`Transfer::Dma`].
    fn new(drives: [Option<Drive>; 2], unit: usize, writable: bool, transfer: Transfer) -> Self {
        let bank = match transfer {
            Transfer::Dma => FakeRegisters::with_bus_master(drives),
            Transfer::Pio => FakeRegisters::new(drives),
        };
        let (found, _) = Channel::<_, FakeHal>::probe(bank.clone(), writable, transfer, clock());
        let drive = found
            .into_iter()
            .find(|d| d.unit() == unit)
            .expect("the drive is found");
        Self {
            bank,
            drive,
            transfer,
        }
    }
}

impl BlockHarness for Harness {
    type Device = AtaDrive<FakeRegisters, FakeHal>;

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
        *self = Self::new(drives, self.drive.unit, false, self.transfer);
    }
}

#[test]
fn a_master_keeps_the_contract() {
    block_contract(|image| Harness::new([Some(drive_with(image)), None], 0, true, Transfer::Pio));
}

#[test]
fn a_slave_beside_a_master_keeps_the_contract() {
    block_contract(|image| {
        let master = drive_with(&vec![0x55; 4 * SECTOR_SIZE]);
        Harness::new(
            [Some(master), Some(drive_with(image))],
            1,
            true,
            Transfer::Pio,
        )
    });
}

/// Runs `request` on `drive`, stepping the bank until it completes.
fn run(
    bank: &FakeRegisters,
    drive: &mut AtaDrive<FakeRegisters, FakeHal>,
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
    let (mut drives, found) =
        Channel::<_, FakeHal>::probe(bank.clone(), true, Transfer::Pio, clock());
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
    let (mut drives, _) = Channel::<_, FakeHal>::probe(bank.clone(), true, Transfer::Pio, clock());
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
fn a_drive_with_multiple_mode_moves_blocks_and_keeps_the_contract() {
    let with_blocks = |image: &[u8]| Drive {
        multiple: 4,
        ..drive_with(image)
    };
    block_contract(|image| Harness::new([Some(with_blocks(image)), None], 0, true, Transfer::Pio));
    let bank = FakeRegisters::new([Some(with_blocks(&vec![6; 40 * SECTOR_SIZE])), None]);
    let (mut drives, found) =
        Channel::<_, FakeHal>::probe(bank.clone(), true, Transfer::Pio, clock());
    assert_eq!(found[0].map(|id| id.multiple), Ok(4));
    let mut buf = vec![0; 10 * SECTOR_SIZE];
    assert_eq!(
        run(
            &bank,
            &mut drives[0],
            Request::Read {
                first: 3,
                buf: &mut buf
            }
        ),
        Ok(())
    );
    assert!(buf.iter().all(|&x| x == 6));
    let data = vec![9; 7 * SECTOR_SIZE];
    assert_eq!(
        run(
            &bank,
            &mut drives[0],
            Request::Write {
                first: 30,
                buf: &data
            }
        ),
        Ok(())
    );
    assert_eq!(bank.sector(0, 36), vec![9; SECTOR_SIZE]);
    let commands = bank.0.lock().commands.clone();
    assert_eq!(
        commands[2..],
        [cmd::SET_MULTIPLE, cmd::READ_MULTIPLE, cmd::WRITE_MULTIPLE],
        "after IDENTIFY of both units"
    );
}

#[test]
fn a_failing_sector_fails_its_request_only() {
    let mut drive = drive_with(&vec![4; 8 * SECTOR_SIZE]);
    drive.bad_sector = Some(3);
    let bank = FakeRegisters::new([Some(drive), None]);
    let (mut drives, _) = Channel::<_, FakeHal>::probe(bank.clone(), true, Transfer::Pio, clock());
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
        let (drives, found) = Channel::<_, FakeHal>::probe(
            FakeRegisters::new([drive, None]),
            true,
            Transfer::Pio,
            clock(),
        );
        assert!(drives.is_empty(), "{error}");
        assert_eq!(found, [Err(error), Err(Error::NoDrive)]);
    }
    assert_eq!(
        Error::Packet.to_string(),
        "a packet (ATAPI) device, not a disk"
    );
}

fn dma_drive(image: &[u8]) -> Drive {
    Drive {
        dma: true,
        multiple: 16,
        ..drive_with(image)
    }
}

/// The commands the bank saw after discovery's IDENTIFY, SET MULTIPLE and SET FEATURES.
fn commands_after_setup(bank: &FakeRegisters) -> Vec<u8> {
    let commands = bank.0.lock().commands.clone();
    let setup = [cmd::IDENTIFY, cmd::SET_MULTIPLE, dma::cmd::SET_FEATURES];
    commands
        .into_iter()
        .filter(|c| !setup.contains(c))
        .collect()
}

#[test]
fn a_dma_drive_keeps_the_contract_and_moves_data_by_dma() {
    block_contract(|image| {
        let harness = Harness::new([Some(dma_drive(image)), None], 0, true, Transfer::Dma);
        assert!(harness.drive.uses_dma());
        harness
    });
    let mut harness = Harness::new(
        [Some(dma_drive(&vec![7; 64 * SECTOR_SIZE])), None],
        0,
        true,
        Transfer::Dma,
    );
    assert_eq!(
        harness.bank.0.lock().mode[0],
        0x22,
        "multiword DMA 2 selected"
    );
    let mut buf = vec![0; 8 * SECTOR_SIZE];
    let read = Request::Read {
        first: 0,
        buf: &mut buf,
    };
    assert_eq!(run(&harness.bank.clone(), &mut harness.drive, read), Ok(()));
    let data = vec![8; 4 * SECTOR_SIZE];
    let write = Request::Write {
        first: 60,
        buf: &data,
    };
    assert_eq!(
        run(&harness.bank.clone(), &mut harness.drive, write),
        Ok(())
    );
    assert!(buf.iter().all(|&x| x == 7));
    assert_eq!(harness.bank.sector(0, 63), vec![8; SECTOR_SIZE]);
    assert_eq!(
        commands_after_setup(&harness.bank),
        [dma::cmd::READ, dma::cmd::WRITE]
    );
    assert_eq!(
        FakeHal::outstanding(),
        1,
        "every buffer unshared; the table stays"
    );
    drop(harness);
    assert_eq!(
        FakeHal::outstanding(),
        0,
        "the table is freed with the channel"
    );
}

#[test]
fn dma_regions_split_at_64_kib_and_long_requests_split_into_commands() {
    let sectors = dma::MAX_SECTORS + 600;
    let big = Drive {
        sectors: sectors + 10,
        lba48: true,
        ..dma_drive(&[])
    };
    let bank = FakeRegisters::with_bus_master([Some(big), Some(dma_drive(&[0; 2048 * 512]))]);
    let (mut drives, _) = Channel::<_, FakeHal>::probe(bank.clone(), true, Transfer::Dma, clock());
    // Starts 256 bytes before a 64 KiB boundary, so no region ends on a sector.
    let mut memory = vec![0u8; (sectors as usize + 256) * SECTOR_SIZE];
    let skip = (0x1_0000 - 256 - memory.as_ptr() as usize % 0x1_0000) % 0x1_0000;
    let len = sectors as usize * SECTOR_SIZE;
    let data: Vec<u8> = (0..len).map(|i| (i / SECTOR_SIZE % 251) as u8).collect();
    memory[skip..skip + len].copy_from_slice(&data);
    let write = Request::Write {
        first: 5,
        buf: &memory[skip..skip + len],
    };
    assert_eq!(run(&bank, &mut drives[0], write), Ok(()));
    assert_eq!(bank.sector(0, 5 + sectors - 1), data[len - SECTOR_SIZE..]);
    let back = &mut memory[skip..skip + len];
    back.fill(0);
    let read = Request::Read {
        first: 5,
        buf: back,
    };
    assert_eq!(run(&bank, &mut drives[0], read), Ok(()));
    assert!(
        memory[skip..skip + len] == data[..],
        "read back what was written"
    );
    // 300 sectors below LBA28 on the small drive: 256 + 44, LBA28 commands.
    let mut small = vec![0; 300 * SECTOR_SIZE];
    let read = Request::Read {
        first: 0,
        buf: &mut small,
    };
    assert_eq!(run(&bank, &mut drives[1], read), Ok(()));
    assert_eq!(
        commands_after_setup(&bank),
        [
            dma::cmd::WRITE_EXT,
            dma::cmd::WRITE_EXT,
            dma::cmd::READ_EXT,
            dma::cmd::READ_EXT,
            dma::cmd::READ,
            dma::cmd::READ
        ]
    );
}

#[test]
fn dma_errors_fail_their_request_only() {
    let mut bad = dma_drive(&vec![4; 16 * SECTOR_SIZE]);
    bad.bad_sector = Some(3);
    let bank = FakeRegisters::with_bus_master([Some(bad), None]);
    let (mut drives, _) = Channel::<_, FakeHal>::probe(bank.clone(), true, Transfer::Dma, clock());
    let mut buf = vec![0; 8 * SECTOR_SIZE];
    let read = Request::Read {
        first: 0,
        buf: &mut buf,
    };
    assert_eq!(run(&bank, &mut drives[0], read), Err(ErrorKind::Device));
    let read = Request::Read {
        first: 8,
        buf: &mut buf,
    };
    assert_eq!(
        run(&bank, &mut drives[0], read),
        Ok(()),
        "the next one works"
    );
    bank.0.lock().drives[0]
        .as_mut()
        .expect("drive")
        .engine_fails = true;
    let write = Request::Write {
        first: 8,
        buf: &buf,
    };
    assert_eq!(
        run(&bank, &mut drives[0], write),
        Err(ErrorKind::Device),
        "the bus master's error bit"
    );
    assert_eq!(FakeHal::outstanding(), 1, "failed requests unshare too");
}

#[test]
fn drives_fall_back_to_pio_without_a_bus_master_dma_mode_or_when_asked() {
    let image = vec![5; 16 * SECTOR_SIZE];
    let cases = [
        (
            FakeRegisters::new([Some(dma_drive(&image)), None]),
            Transfer::Dma,
        ),
        (
            FakeRegisters::with_bus_master([Some(drive_with(&image)), None]),
            Transfer::Dma,
        ),
        (
            FakeRegisters::with_bus_master([Some(dma_drive(&image)), None]),
            Transfer::Pio,
        ),
    ];
    for (bank, transfer) in cases {
        let (mut drives, _) = Channel::<_, FakeHal>::probe(bank.clone(), true, transfer, clock());
        assert!(!drives[0].uses_dma());
        let mut buf = vec![0; 2 * SECTOR_SIZE];
        let read = Request::Read {
            first: 1,
            buf: &mut buf,
        };
        assert_eq!(run(&bank, &mut drives[0], read), Ok(()));
        assert!(buf.iter().all(|&x| x == 5));
        let commands = commands_after_setup(&bank);
        assert!(
            commands == [cmd::READ] || commands == [cmd::READ_MULTIPLE],
            "{commands:x?}"
        );
    }
}

#[test]
fn buffers_out_of_the_engines_reach_go_by_pio() {
    let bank = FakeRegisters::with_bus_master([Some(dma_drive(&vec![6; 16 * SECTOR_SIZE])), None]);
    let (mut drives, _) = Channel::<_, FakeHal>::probe(bank.clone(), true, Transfer::Dma, clock());
    assert!(drives[0].uses_dma());
    let mut memory = vec![0; 3 * SECTOR_SIZE + 1];
    let odd = usize::from((memory.as_ptr() as usize).is_multiple_of(2));
    let read = Request::Read {
        first: 0,
        buf: &mut memory[odd..odd + 2 * SECTOR_SIZE],
    };
    assert_eq!(run(&bank, &mut drives[0], read), Ok(()), "an odd address");
    FakeHal::share_high(true);
    let mut high = vec![0; 2 * SECTOR_SIZE];
    let read = Request::Read {
        first: 2,
        buf: &mut high,
    };
    assert_eq!(run(&bank, &mut drives[0], read), Ok(()), "above 4 GiB");
    FakeHal::share_high(false);
    assert!(memory[odd..odd + 2 * SECTOR_SIZE].iter().all(|&x| x == 6));
    assert!(high.iter().all(|&x| x == 6));
    assert_eq!(
        commands_after_setup(&bank),
        [cmd::READ_MULTIPLE, cmd::READ_MULTIPLE]
    );
    assert_eq!(
        FakeHal::outstanding(),
        1,
        "refused buffers are unshared at once"
    );
}

#[test]
fn a_command_that_never_ends_times_out_with_an_error_and_the_channel_recovers() {
    let mut silent = dma_drive(&vec![2; 16 * SECTOR_SIZE]);
    silent.silent = true;
    let bank = FakeRegisters::with_bus_master([Some(silent), None]);
    let time = ManualClock::new();
    let (mut drives, _) =
        Channel::<_, FakeHal>::probe(bank.clone(), true, Transfer::Dma, Box::new(time.clone()));
    let mut buf = vec![0; 4 * SECTOR_SIZE];
    // SAFETY: the buffer outlives the request, which ends below.
    unsafe {
        drives[0].submit(Request::Read {
            first: 0,
            buf: &mut buf,
        })
    }
    .expect("accepted");
    for _ in 0..10 {
        bank.step();
        assert!(drives[0].poll().is_none(), "no answer yet");
    }
    time.advance(super::COMMAND_TIMEOUT / 2);
    assert!(drives[0].poll().is_none(), "not yet given up");
    time.advance(super::COMMAND_TIMEOUT);
    let done = drives[0].poll().expect("given up");
    assert_eq!(done.result, Err(ErrorKind::Device));
    assert_eq!(bank.0.lock().resets, 1, "the channel was reset");
    assert_eq!(FakeHal::outstanding(), 1, "the buffer unshared");
    bank.0.lock().drives[0].as_mut().expect("drive").silent = false;
    let read = Request::Read {
        first: 0,
        buf: &mut buf,
    };
    assert_eq!(run(&bank, &mut drives[0], read), Ok(()));
    assert!(buf.iter().all(|&x| x == 2));
}
