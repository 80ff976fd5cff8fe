//! The x86_64 context switch, for the System V calling convention.
//!
//! A suspended thread's callee-saved registers (rbx, rbp, r12–r15) sit on its own stack,
//! under the address to resume at; its [`Context`] holds only the stack pointer. The
//! kernel is built without SSE, so there is no vector state to save.

use core::arch::naked_asm;

use hal::context::{Context, ContextSwitch, Entry};

/// The x86_64 context switch.
#[derive(Clone, Copy, Debug, Default)]
pub struct X86ContextSwitch;

/// The smallest stack `prepare` accepts.
const MIN_STACK: usize = 256;

/// Bytes [`X86ContextSwitch::prepare`] lays out: six registers, the resume address and
/// padding that leaves the first function's stack aligned.
const FRAME: usize = 9 * 8;

impl ContextSwitch for X86ContextSwitch {
    fn prepare(&self, stack: &mut [u8], entry: Entry, arg: usize) -> Option<Context> {
        if stack.len() < MIN_STACK {
            return None;
        }
        let base = stack.as_ptr() as usize;
        let top = (base + stack.len()) & !0xf;
        let sp = top - FRAME;
        // Popped in this order by `switch`: r15, r14, r13, r12, rbx, rbp, then `ret` to
        // `first_entry`, which finds `entry` in r13 and `arg` in r12. After that `ret` the
        // stack pointer is `top - 16`, aligned as a `call` expects.
        let words: [usize; 7] = [
            0,
            0,
            entry as usize,
            arg,
            0,
            0,
            first_entry as *const () as usize,
        ];
        let offset = sp - base;
        for (i, word) in words.iter().enumerate() {
            let at = offset + i * 8;
            stack[at..at + 8].copy_from_slice(&word.to_ne_bytes());
        }
        Some(Context { stack_pointer: sp })
    }

    unsafe fn switch(&self, from: &mut Context, to: &Context) {
        // SAFETY: the caller promises `to` is a live, suspended context; `from` is ours.
        unsafe { switch_stacks(from, to.stack_pointer) }
    }

    // Never inlined: the method's own frame is what `saved_frame_pointer` looks through.
    #[inline(never)]
    fn frame_pointer(&self) -> usize {
        saved_frame_pointer()
    }
}

/// The frame pointer saved in the caller's frame: called from a function with a frame
/// (the image keeps frame pointers), the frame pointer of that function's caller. Being
/// naked, this has no frame of its own.
#[unsafe(naked)]
extern "C" fn saved_frame_pointer() -> usize {
    naked_asm!("mov rax, [rbp]", "ret");
}

/// Pushes the callee-saved registers, stores the stack pointer in `*from`, loads
/// `to_stack` and pops the other thread's registers.
#[unsafe(naked)]
unsafe extern "C" fn switch_stacks(from: *mut Context, to_stack: usize) {
    naked_asm!(
        "push rbp",
        "push rbx",
        "push r12",
        "push r13",
        "push r14",
        "push r15",
        "mov [rdi], rsp",
        "mov rsp, rsi",
        "pop r15",
        "pop r14",
        "pop r13",
        "pop r12",
        "pop rbx",
        "pop rbp",
        "ret",
    );
}

/// Where a new context starts: calls `entry(arg)` from r13 and r12.
#[unsafe(naked)]
extern "C" fn first_entry() {
    naked_asm!("mov rdi, r12", "call r13", "ud2");
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use hal::context::{Context, ContextSwitch};

    use super::X86ContextSwitch;

    /// The two contexts of the test, reached through the new thread's argument.
    struct PingPong {
        main: Context,
        worker: Context,
        counter: Cell<u32>,
    }

    extern "C" fn worker(arg: usize) -> ! {
        // SAFETY: `arg` is the address of the test's `PingPong`, alive while the test runs.
        let shared = unsafe { &mut *(arg as *mut PingPong) };
        loop {
            shared.counter.set(shared.counter.get() + 1);
            let main = &raw const shared.main;
            // SAFETY: `main` was saved by the switch that resumed us and is suspended.
            unsafe { X86ContextSwitch.switch(&mut shared.worker, &*main) };
        }
    }

    #[test]
    fn switches_to_a_new_stack_and_back_repeatedly() {
        let mut stack = vec![0u8; 64 * 1024];
        let mut shared = PingPong {
            main: Context::default(),
            worker: Context::default(),
            counter: Cell::new(0),
        };
        let arg = &raw mut shared as usize;
        shared.worker = X86ContextSwitch.prepare(&mut stack, worker, arg).unwrap();
        for round in 1..=1000 {
            let worker = &raw const shared.worker;
            // SAFETY: `worker` was prepared on a live stack or saved by its last switch.
            unsafe { X86ContextSwitch.switch(&mut shared.main, &*worker) };
            assert_eq!(shared.counter.get(), round);
        }
        let sp = shared.worker.stack_pointer;
        assert!(
            stack.as_ptr_range().contains(&(sp as *const u8)),
            "the worker ran on its own stack"
        );
    }

    #[test]
    fn refuses_a_tiny_stack() {
        extern "C" fn never(_: usize) -> ! {
            unreachable!()
        }
        assert!(X86ContextSwitch.prepare(&mut [0; 16], never, 0).is_none());
    }
}
