use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::irq::{InterruptHandler, Interrupts, Line, MAX_LINES};
use crate::mock::time::Shared;

/// An interrupt controller of level-triggered lines, driven by fake devices and the test.
/// Clones share one controller.
///
/// A line fires when it is routed, unmasked and asserted by at least one device: it calls
/// the installed handler at once, on the calling thread, and becomes masked, as a board's
/// top half leaves it. A line still asserted when it is unmasked fires again.
#[derive(Clone, Debug, Default)]
pub struct FakeInterrupts {
    state: Arc<Shared<State>>,
}

#[derive(Debug)]
struct State {
    handler: Option<InterruptHandler>,
    lines: [LineState; MAX_LINES],
    raised: Vec<Line>,
}

impl Default for State {
    fn default() -> Self {
        Self {
            handler: None,
            lines: [LineState::default(); MAX_LINES],
            raised: Vec::new(),
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct LineState {
    core: Option<usize>,
    masked: bool,
    /// How many devices hold the line up.
    asserted: usize,
}

impl Default for LineState {
    fn default() -> Self {
        Self {
            core: None,
            masked: true,
            asserted: 0,
        }
    }
}

impl FakeInterrupts {
    /// A controller with every line masked and unrouted.
    pub fn new() -> Self {
        Self::default()
    }

    /// One more device holds `line` up (what a fake device does when it has news).
    pub fn assert_line(&self, line: Line) {
        self.state.with(|s| s.lines[line.index()].asserted += 1);
        self.fire(line);
    }

    /// One device lets `line` down again (its interrupt was acknowledged).
    pub fn lower_line(&self, line: Line) {
        self.state.with(|s| {
            let asserted = &mut s.lines[line.index()].asserted;
            *asserted = asserted.saturating_sub(1);
        });
    }

    /// The core `line` is routed to, if it is.
    pub fn routed(&self, line: Line) -> Option<usize> {
        self.state.with(|s| s.lines[line.index()].core)
    }

    /// Whether `line` is masked.
    pub fn masked(&self, line: Line) -> bool {
        self.state.with(|s| s.lines[line.index()].masked)
    }

    /// Every interrupt delivered to the handler so far, in order.
    pub fn raised(&self) -> Vec<Line> {
        self.state.with(|s| s.raised.clone())
    }

    /// Delivers `line`'s interrupt if it is due: routed, unmasked and asserted.
    fn fire(&self, line: Line) {
        let handler = self.state.with(|s| {
            let state = &mut s.lines[line.index()];
            let handler = s.handler?;
            if state.core.is_none() || state.masked || state.asserted == 0 {
                return None;
            }
            state.masked = true;
            s.raised.push(line);
            Some(handler)
        });
        // Outside the lock: the handler may look at the controller.
        if let Some(handler) = handler {
            handler(line);
        }
    }
}

impl Interrupts for FakeInterrupts {
    fn set_handler(&mut self, handler: InterruptHandler) {
        self.state.with(|s| s.handler = Some(handler));
    }

    fn route(&self, line: Line, core: usize) {
        self.state.with(|s| {
            let state = &mut s.lines[line.index()];
            state.core = Some(core);
            state.masked = false;
        });
        self.fire(line);
    }

    fn unmask(&self, line: Line) {
        self.state.with(|s| s.lines[line.index()].masked = false);
        self.fire(line);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::FakeInterrupts;
    use crate::irq::{Interrupts, Line};

    static CALLS: AtomicUsize = AtomicUsize::new(0);

    fn count(line: Line) {
        assert_eq!(line.index(), 3);
        CALLS.fetch_add(1, Ordering::SeqCst);
    }

    #[test]
    fn level_lines_fire_once_per_unmask_while_asserted() {
        let line = Line::new(3).unwrap();
        let mut irq = FakeInterrupts::new();
        irq.set_handler(count);
        irq.assert_line(line);
        assert!(irq.masked(line), "unrouted lines stay masked");
        assert_eq!(CALLS.load(Ordering::SeqCst), 0);

        irq.route(line, 1);
        assert_eq!(irq.routed(line), Some(1));
        assert_eq!(
            CALLS.load(Ordering::SeqCst),
            1,
            "routing an asserted line fires it"
        );
        assert!(irq.masked(line), "the top half leaves the line masked");

        irq.unmask(line);
        assert_eq!(
            CALLS.load(Ordering::SeqCst),
            2,
            "still asserted: fires again"
        );
        irq.lower_line(line);
        irq.unmask(line);
        assert!(!irq.masked(line));
        assert_eq!(CALLS.load(Ordering::SeqCst), 2, "lowered: quiet");

        irq.assert_line(line);
        assert_eq!(CALLS.load(Ordering::SeqCst), 3);
        assert_eq!(irq.raised(), [line; 3]);
    }
}
