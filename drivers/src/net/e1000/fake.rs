//! An 82540EM played on the host, for tests and fuzzing: [`FakeE1000`] is a register bank
//! that does what the device does with the driver's writes, and reads and writes the
//! descriptor rings and buffers at the addresses the driver gave it, as the device's DMA
//! would (the driver's addresses are physical = virtual, on the host too).
//!
//! The test is the wire: [`FakeE1000::deliver`] brings a frame in, [`FakeE1000::write_back`]
//! writes any descriptor the device could write (malformed ones too), and
//! [`FakeE1000::send`] puts the queued frames out.

use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;

use spin::Mutex;

use super::{
    BUFFER_SIZE, DESC_DD, DESC_EOP, Registers, RxDescriptor, STATUS_LU, TxDescriptor, ctrl, int,
    reg,
};

/// What the device and the test share.
#[derive(Debug)]
struct State {
    registers: BTreeMap<usize, u32>,
    eeprom: [u16; 64],
    link: bool,
    /// Frames lost for want of a descriptor, until `MPC` is read.
    missed: u32,
    /// Whether `RST` clears: a device that never does is one the driver must give up on.
    resets: bool,
    /// Whether a reset loads receive address 0 from the EEPROM.
    load_address: bool,
}

impl State {
    fn get(&self, offset: usize) -> u32 {
        self.registers.get(&offset).copied().unwrap_or(0)
    }

    fn set(&mut self, offset: usize, value: u32) {
        self.registers.insert(offset, value);
    }

    fn raise(&mut self, cause: u32) {
        let icr = self.get(reg::ICR);
        self.set(reg::ICR, icr | cause);
    }

    /// Ring base and descriptor count of the ring whose base-low register is `bal`.
    fn ring(&self, bal: usize, len: usize) -> (u64, usize) {
        let base = u64::from(self.get(bal)) | u64::from(self.get(bal + 4)) << 32;
        (base, self.get(len) as usize / 16)
    }

    /// Loads what the EEPROM holds into receive address 0, as the device does at reset.
    fn reset(&mut self) {
        self.registers.clear();
        if !self.load_address {
            return;
        }
        let [a, b] = self.eeprom[0].to_le_bytes();
        let [c, d] = self.eeprom[1].to_le_bytes();
        let [e, f] = self.eeprom[2].to_le_bytes();
        if self.eeprom[..3].iter().any(|&w| w != 0) {
            self.set(reg::RAL0, u32::from_le_bytes([a, b, c, d]));
            self.set(reg::RAH0, u32::from_le_bytes([e, f, 0, 0]) | 1 << 31);
        }
    }
}

/// One descriptor's write-back, as the device would make it for a received frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriteBack {
    /// The length the device claims.
    pub length: u16,
    /// Status bits (the fake sets `DD` always).
    pub status: u8,
    /// Error bits.
    pub errors: u8,
}

/// An 82540EM; clones share the device (one for the driver, one for the test).
#[derive(Clone, Debug)]
pub struct FakeE1000(Arc<Mutex<State>>);

impl FakeE1000 {
    /// A device whose EEPROM holds `mac`, with its link up.
    pub fn new(mac: [u8; 6]) -> Self {
        let mut eeprom = [0; 64];
        for (word, pair) in eeprom.iter_mut().zip(mac.chunks(2)) {
            *word = u16::from_le_bytes([pair[0], pair[1]]);
        }
        let mut state = State {
            registers: BTreeMap::new(),
            eeprom,
            link: true,
            missed: 0,
            resets: true,
            load_address: true,
        };
        state.reset();
        Self(Arc::new(Mutex::new(state)))
    }

    /// Leaves receive address 0 empty from now on, so that the driver must read the
    /// EEPROM.
    pub fn forget_receive_address(&self) {
        let mut state = self.0.lock();
        state.load_address = false;
        state.registers.remove(&reg::RAL0);
        state.registers.remove(&reg::RAH0);
    }

    /// Makes the EEPROM hold `mac` (all zeros: no address at all).
    pub fn set_eeprom_mac(&self, mac: [u8; 6]) {
        let mut state = self.0.lock();
        for (word, pair) in state.eeprom.iter_mut().zip(mac.chunks(2)) {
            *word = u16::from_le_bytes([pair[0], pair[1]]);
        }
    }

    /// Makes the device hang in reset.
    pub fn never_reset(&self) {
        self.0.lock().resets = false;
    }

    /// Sets `CTRL.RST` as a device still resetting shows it.
    pub fn write_reset_bit(&self) {
        self.0.lock().set(reg::CTRL, ctrl::RST);
    }

    /// Takes the link down or up, raising a link-status change.
    pub fn set_link(&self, up: bool) {
        let mut state = self.0.lock();
        state.link = up;
        state.raise(int::LSC);
    }

    /// The register at `offset` as the driver left it.
    pub fn register(&self, offset: usize) -> u32 {
        self.0.lock().get(offset)
    }

    /// Whether the device would raise its interrupt line now.
    pub fn interrupt_pending(&self) -> bool {
        let state = self.0.lock();
        state.get(reg::ICR) & state.get(reg::IMS) != 0
    }

    /// Brings `frame` in from the wire: fills as many descriptors as it takes (2048 bytes
    /// each, `EOP` on the last), or loses it (counted in `MPC`, `RXO` raised) when the
    /// driver left too few. Returns whether the device took it.
    pub fn deliver(&self, frame: &[u8]) -> bool {
        let pieces: Vec<&[u8]> = if frame.is_empty() {
            Vec::from([frame])
        } else {
            frame.chunks(BUFFER_SIZE).collect()
        };
        if self.room() < pieces.len() {
            let mut state = self.0.lock();
            state.missed += 1;
            state.raise(int::RXO);
            return false;
        }
        for (i, piece) in pieces.iter().enumerate() {
            let status = if i + 1 == pieces.len() { DESC_EOP } else { 0 };
            let back = WriteBack {
                length: piece.len() as u16,
                status,
                errors: 0,
            };
            self.write_back(piece, back);
        }
        true
    }

    /// How many receive descriptors the device owns (`RDH..RDT`).
    pub fn room(&self) -> usize {
        let state = self.0.lock();
        let (_, count) = state.ring(reg::RDBAL, reg::RDLEN);
        if count == 0 || state.get(reg::RCTL) & 2 == 0 {
            return 0;
        }
        let (head, tail) = (state.get(reg::RDH) as usize, state.get(reg::RDT) as usize);
        (tail + count - head) % count
    }

    /// Writes `bytes` (at most a buffer) into the next receive descriptor's buffer and
    /// `back` into the descriptor, whatever they say, and raises `RXT0`. Returns `false`
    /// when the device owns no descriptor.
    pub fn write_back(&self, bytes: &[u8], back: WriteBack) -> bool {
        if self.room() == 0 {
            return false;
        }
        let mut state = self.0.lock();
        let (base, count) = state.ring(reg::RDBAL, reg::RDLEN);
        let head = state.get(reg::RDH) as usize;
        let at = (base as usize + 16 * head) as *mut RxDescriptor;
        // SAFETY: the driver gave the device this ring (`RDBAL`, `RDLEN`) and owns no
        // descriptor in `RDH..RDT`, which `room` checked.
        let mut descriptor = unsafe { at.read_volatile() };
        let len = bytes.len().min(BUFFER_SIZE);
        // SAFETY: the descriptor's buffer, a whole `BUFFER_SIZE` lent to the device.
        unsafe {
            core::ptr::copy_nonoverlapping(bytes.as_ptr(), descriptor.addr as *mut u8, len);
        }
        descriptor.length = back.length;
        descriptor.status = back.status | DESC_DD;
        descriptor.errors = back.errors;
        // SAFETY: as above.
        unsafe { at.write_volatile(descriptor) };
        state.set(reg::RDH, ((head + 1) % count) as u32);
        state.raise(int::RXT0);
        true
    }

    /// Sends every frame queued in `TDH..TDT`, marks each descriptor done and raises
    /// `TXDW`; returns the frames (the descriptors of one frame joined up to `EOP`).
    pub fn send(&self) -> Vec<Vec<u8>> {
        let mut state = self.0.lock();
        let (base, count) = state.ring(reg::TDBAL, reg::TDLEN);
        if count == 0 || state.get(reg::TCTL) & 2 == 0 {
            return Vec::new();
        }
        let mut frames = Vec::new();
        let mut frame = Vec::new();
        let mut head = state.get(reg::TDH) as usize % count;
        let tail = state.get(reg::TDT) as usize % count;
        while head != tail {
            let at = (base as usize + 16 * head) as *mut TxDescriptor;
            // SAFETY: the driver gave the device this ring and the descriptors in
            // `TDH..TDT` with their buffers.
            let mut descriptor = unsafe { at.read_volatile() };
            // SAFETY: as above.
            let bytes = unsafe {
                core::slice::from_raw_parts(
                    descriptor.addr as *const u8,
                    usize::from(descriptor.length),
                )
            };
            frame.extend_from_slice(bytes);
            if descriptor.cmd & super::TX_EOP != 0 {
                frames.push(core::mem::take(&mut frame));
            }
            descriptor.status |= DESC_DD;
            // SAFETY: as above.
            unsafe { at.write_volatile(descriptor) };
            head = (head + 1) % count;
        }
        state.set(reg::TDH, head as u32);
        if !frames.is_empty() {
            state.raise(int::TXDW);
        }
        frames
    }
}

impl Registers for FakeE1000 {
    fn read(&self, offset: usize) -> u32 {
        let mut state = self.0.lock();
        match offset {
            reg::ICR => {
                let value = state.get(reg::ICR);
                state.set(reg::ICR, 0);
                value
            }
            reg::MPC => core::mem::take(&mut state.missed),
            reg::STATUS => {
                if state.link {
                    STATUS_LU
                } else {
                    0
                }
            }
            _ => state.get(offset),
        }
    }

    fn write(&mut self, offset: usize, value: u32) {
        let mut state = self.0.lock();
        match offset {
            reg::CTRL if value & ctrl::RST != 0 && state.resets => {
                state.reset();
                state.set(reg::CTRL, value & !ctrl::RST);
            }
            reg::CTRL if !state.resets => state.set(reg::CTRL, value | ctrl::RST),
            reg::IMS => {
                let mask = state.get(reg::IMS);
                state.set(reg::IMS, mask | value);
            }
            reg::IMC => {
                let mask = state.get(reg::IMS);
                state.set(reg::IMS, mask & !value);
            }
            reg::EERD if value & 1 != 0 => {
                let word = (value >> 8) as usize & 0xff;
                let data = state.eeprom.get(word).copied().unwrap_or(0);
                state.set(reg::EERD, u32::from(data) << 16 | 1 << 4);
            }
            _ => state.set(offset, value),
        }
    }
}
