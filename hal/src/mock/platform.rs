use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicU32, Ordering};

use crate::board::{Board, Platform};
use crate::device::{DeviceSink, Discover};
use crate::irq::Line;
use crate::memory::Region;
use crate::mock::{
    FakeCores, FakeDisk, FakeGuard, FakeInterrupts, FakeNic, FakeWallClock, ManualClock,
    RecordingConsole, RecordingIdle, StackSwitch,
};
use crate::power::PowerOff;
use crate::trap::{Fault, FaultHandler, Traps};

/// The device types of [`board`].
#[derive(Debug)]
pub struct MockPlatform;

impl Platform for MockPlatform {
    type Console = RecordingConsole;
    type Clock = ManualClock;
    type WallClock = FakeWallClock;
    type Cores = FakeCores;
    type Idle = RecordingIdle;
    type Switch = StackSwitch;
    type Guard = FakeGuard;
    type Power = FakePower;
    type Traps = FakeTraps;
    type Interrupts = FakeInterrupts;
    type Devices = FakeDevices;
}

/// The devices a mock board "finds": each disk is handed over as a clone, so that the
/// test keeps its own handle on it; each NIC is handed over itself.
#[derive(Debug, Default)]
pub struct FakeDevices {
    /// The disks, each with its line, in discovery order.
    pub blocks: Vec<(FakeDisk, Line)>,
    /// The NICs, each with its line, in discovery order.
    pub nics: Vec<(FakeNic, Line)>,
}

impl Discover for FakeDevices {
    fn discover(self, sink: &mut dyn DeviceSink) {
        for (disk, line) in self.blocks {
            sink.block("fake-disk", Box::leak(Box::new(disk)), line);
        }
        for (nic, line) in self.nics {
            sink.net("fake-nic", Box::leak(Box::new(nic)), line);
        }
    }
}

/// A power switch that records the status and then panics, since `power_off` must not
/// return: a host test catches the panic and reads [`FakePower::status`].
#[derive(Clone, Debug, Default)]
pub struct FakePower {
    status: Arc<AtomicU32>,
}

impl FakePower {
    const UNSET: u32 = u32::MAX;

    /// A switch that was not used yet.
    pub fn new() -> Self {
        Self {
            status: Arc::new(AtomicU32::new(Self::UNSET)),
        }
    }

    /// The status the machine was turned off with, if it was.
    pub fn status(&self) -> Option<u8> {
        u8::try_from(self.status.load(Ordering::SeqCst)).ok()
    }
}

impl PowerOff for FakePower {
    fn power_off(&mut self, status: u8) -> ! {
        self.status.store(status.into(), Ordering::SeqCst);
        panic!("fake power off with status {status}");
    }
}

/// Holds the fault handler the kernel installs; [`FakeTraps::raise`] plays a CPU exception.
#[derive(Clone, Debug, Default)]
pub struct FakeTraps {
    handler: Arc<crate::mock::time::Shared<Option<FaultHandler>>>,
}

impl FakeTraps {
    /// Calls the installed handler as the CPU would. Returns `false` when none is installed.
    pub fn raise(&self, fault: &Fault) -> bool {
        match self.handler.with(|h| *h) {
            Some(handler) => handler(fault),
            None => false,
        }
    }
}

impl Traps for FakeTraps {
    fn set_fault_handler(&mut self, handler: FaultHandler) {
        self.handler.with(|h| *h = Some(handler));
    }
}

/// A whole fake board: a recording console, a manual clock moved by the idle, no wall clock, `cores` fake
/// cores, a real stack switch, `heap_bytes` of heap (leaked: a board's heap lives for
/// ever), a fake interrupt controller and no devices (fill in `devices`).
pub fn board(cores: usize, heap_bytes: usize) -> Board<MockPlatform> {
    let heap = Box::leak(vec![MaybeUninit::uninit(); heap_bytes].into_boxed_slice());
    let map = Box::leak(Box::new([Region {
        start: 0,
        len: heap_bytes as u64,
        usable: true,
    }]));
    let clock = ManualClock::new();
    Board {
        name: "mock",
        command_line: "",
        memory_map: map,
        heap,
        console: RecordingConsole::new(),
        idle: RecordingIdle::new(clock.clone()),
        clock,
        wall_clock: FakeWallClock::new(None),
        cores: FakeCores::new(cores),
        switch: StackSwitch,
        guard: FakeGuard::new(),
        power: FakePower::new(),
        traps: FakeTraps::default(),
        interrupts: FakeInterrupts::new(),
        devices: FakeDevices::default(),
    }
}
