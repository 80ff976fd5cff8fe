//! Disks whose interrupts wake the threads waiting on them, on a fake board of two cores
//! that the test drives turn by turn: fake disks A and B share line 1 (taken by core 1),
//! disk C has line 2 (core 0). One test, because the kernel's state is global.

use std::sync::{Arc, Mutex};

use hal::block::SECTOR_SIZE;
use hal::irq::Line;
use hal::mock::{FakeCores, FakeDisk, FakeInterrupts, RecordingIdle};
use kernel::block::{self, Error, ErrorKind};
use kernel::host_test;
use kernel::thread;

kernel::devices!(hal::mock::MockPlatform);
kernel::cores!(hal::mock::FakeCores);

const SECTORS: u64 = 64;

/// Byte `i` of sector `s` of the disk with `seed`.
fn image(seed: u8) -> Vec<u8> {
    (0..SECTORS as usize * SECTOR_SIZE)
        .map(|i| ((i / SECTOR_SIZE) * 13 + i * 7) as u8 ^ seed)
        .collect()
}

fn sector(seed: u8, s: u64) -> Vec<u8> {
    let start = s as usize * SECTOR_SIZE;
    image(seed)[start..start + SECTOR_SIZE].to_vec()
}

struct Machine {
    cores: FakeCores,
    idle: RecordingIdle,
    irq: FakeInterrupts,
    a: FakeDisk,
    b: FakeDisk,
    c: FakeDisk,
    line1: Line,
    line2: Line,
}

impl Machine {
    fn turn(&self, core: usize) {
        self.cores.set_current(core);
        host_test::turn();
        self.cores.set_current(0);
    }
}

/// What a reading thread ends with.
type Outcome = Arc<Mutex<Option<Result<Vec<u8>, Error>>>>;

/// Starts a thread on core 0 that reads sector `first` of disk `index` into `outcome`.
fn read(index: usize, first: u64) -> Outcome {
    let outcome: Outcome = Arc::default();
    let out = outcome.clone();
    thread::Builder::new()
        .core(0)
        .spawn(move || {
            let mut buf = vec![0; SECTOR_SIZE];
            let result = block::disk(index).and_then(|d| d.read(first, &mut buf));
            *out.lock().unwrap() = Some(result.map(|()| buf));
        })
        .expect("spawn a reader");
    outcome
}

fn taken(outcome: &Outcome) -> Option<Result<Vec<u8>, Error>> {
    outcome.lock().unwrap().take()
}

#[test]
fn device_interrupts_wake_the_waiting_threads() {
    let mut board = hal::mock::board(2, 16 << 20);
    let irq = board.interrupts.clone();
    let (line1, line2) = (Line::new(1).unwrap(), Line::new(2).unwrap());
    let disks = [1, 2, 3].map(|seed| FakeDisk::from_bytes(image(seed)));
    for (disk, line) in disks.iter().zip([line1, line1, line2]) {
        disk.connect(&irq, line);
        board.devices.blocks.push((disk.clone(), line));
    }
    let [a, b, c] = disks;
    let m = Machine {
        cores: board.cores.clone(),
        idle: board.idle.clone(),
        irq,
        a,
        b,
        c,
        line1,
        line2,
    };
    kernel::init(board);
    host_test::assume_running_cores(2);

    interrupt_wakes_the_parked_thread(&m);
    shared_line_services_every_device(&m);
    interrupt_races_the_park(&m);
    interrupt_races_the_halt(&m);
    full_queue_waits_for_room(&m);
    errors_come_back(&m);
    no_such_disk(&m);
}

fn interrupt_wakes_the_parked_thread(m: &Machine) {
    assert_eq!(
        m.irq.routed(m.line1),
        None,
        "discovery waits for the first request"
    );
    let outcome = read(0, 3);
    m.turn(0);
    assert_eq!(block::disks().len(), 3);
    assert_eq!(block::disks()[0].sector_count(), SECTORS);
    assert_eq!(block::disks()[0].name(), "fake-disk");
    assert_eq!(
        m.irq.routed(m.line1),
        Some(1),
        "line n goes to core n mod 2"
    );
    assert_eq!(m.irq.routed(m.line2), Some(0));
    assert_eq!(m.a.waiting(), 1, "the request reached disk A");
    assert!(taken(&outcome).is_none(), "the reader waits for the disk");
    assert!(!m.irq.masked(m.line1));

    m.a.finish_all();
    assert_eq!(m.irq.raised(), [m.line1]);
    assert!(m.irq.masked(m.line1), "the top half leaves the line masked");
    m.cores.set_current(1);
    assert!(!host_test::would_idle(), "core 1 has a line to service");
    m.turn(0);
    assert!(
        taken(&outcome).is_none(),
        "core 0 does not service core 1's line"
    );

    m.turn(1);
    assert!(!m.irq.masked(m.line1), "serviced: unmasked again");
    assert_eq!(m.irq.raised(), [m.line1], "acked: the line stays quiet");
    m.turn(0);
    assert_eq!(taken(&outcome), Some(Ok(sector(1, 3))));
}

fn shared_line_services_every_device(m: &Machine) {
    let from_a = read(0, 10);
    let from_b = read(1, 11);
    m.turn(0);
    assert_eq!((m.a.waiting(), m.b.waiting()), (1, 1));
    let raised = m.irq.raised().len();
    m.b.finish_all();
    m.a.finish_all();
    assert_eq!(m.irq.raised().len(), raised + 1, "one interrupt for both");
    m.turn(1);
    assert_eq!(
        m.irq.raised().len(),
        raised + 1,
        "both acked: no second interrupt"
    );
    assert!(!m.irq.masked(m.line1));
    m.turn(0);
    assert_eq!(taken(&from_a), Some(Ok(sector(1, 10))));
    assert_eq!(taken(&from_b), Some(Ok(sector(2, 11))));
}

fn interrupt_races_the_park(m: &Machine) {
    m.c.finish_at_submit(true);
    let outcome = read(2, 5);
    m.turn(0);
    assert_eq!(taken(&outcome), Some(Ok(sector(3, 5))));
    assert_eq!(m.irq.raised().last(), Some(&m.line2));
    assert!(
        !m.irq.masked(m.line2),
        "core 0 serviced its line as the thread left"
    );
    m.c.finish_at_submit(false);
}

fn interrupt_races_the_halt(m: &Machine) {
    let outcome = read(0, 20);
    m.turn(0);
    m.turn(1);
    m.cores.set_current(1);
    assert!(host_test::would_idle(), "core 1 has nothing to do");
    m.a.finish_all();
    m.cores.set_current(1);
    assert!(
        !host_test::would_idle(),
        "the interrupt came before the halt"
    );
    let halts = m.idle.calls().len();
    host_test::idle_once();
    assert_eq!(m.idle.calls().len(), halts, "core 1 did not halt");
    m.turn(1);
    m.cores.set_current(1);
    host_test::idle_once();
    assert_eq!(
        m.idle.calls().len(),
        halts + 1,
        "serviced: core 1 halts again"
    );
    m.cores.set_current(0);
    m.turn(0);
    assert_eq!(taken(&outcome), Some(Ok(sector(1, 20))));
}

fn full_queue_waits_for_room(m: &Machine) {
    m.a.set_depth(1);
    let first = read(0, 30);
    let second = read(0, 31);
    m.turn(0);
    assert_eq!(m.a.in_flight(), 1, "the second request waits for room");
    m.a.finish_all();
    m.turn(1);
    m.turn(0);
    assert_eq!(taken(&first), Some(Ok(sector(1, 30))));
    assert!(taken(&second).is_none());
    assert_eq!(m.a.in_flight(), 1, "the second request got the room");
    m.a.finish_all();
    m.turn(1);
    m.turn(0);
    assert_eq!(taken(&second), Some(Ok(sector(1, 31))));
    m.a.set_depth(4);
}

fn errors_come_back(m: &Machine) {
    m.a.fail_sector(Some(40));
    let outcome = read(0, 40);
    m.turn(0);
    m.a.finish_all();
    m.turn(1);
    m.turn(0);
    assert_eq!(taken(&outcome), Some(Err(Error::Io(ErrorKind::Device))));
    m.a.fail_sector(None);

    let started = m.a.started();
    let outcome = read(0, SECTORS);
    m.turn(0);
    assert_eq!(taken(&outcome), Some(Err(Error::Io(ErrorKind::OutOfRange))));
    let refused: Outcome = Arc::default();
    let out = refused.clone();
    thread::Builder::new()
        .core(0)
        .spawn(move || {
            let disk = block::disk(0).unwrap();
            let odd = disk.read(0, &mut [0; 100]);
            let empty = disk.write(0, &[]);
            *out.lock().unwrap() = Some(odd.and(empty).map(|()| Vec::new()));
        })
        .unwrap();
    m.turn(0);
    assert_eq!(
        taken(&refused),
        Some(Err(Error::Io(ErrorKind::InvalidBuffer)))
    );
    assert_eq!(
        m.a.started(),
        started,
        "refused requests never reach the disk"
    );
    assert_eq!(
        Error::Io(ErrorKind::OutOfRange).to_string(),
        "disk error: request reaches past the end of the device"
    );
}

fn no_such_disk(m: &Machine) {
    let outcome = read(5, 0);
    m.turn(0);
    let error = taken(&outcome).unwrap().unwrap_err();
    assert_eq!(error, Error::NoSuchDisk { index: 5, count: 3 });
    assert_eq!(
        error.to_string(),
        "no disk 5: this machine has 3 disks (attach one with `--disk FILE`)"
    );
}
