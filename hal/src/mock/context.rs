use core::arch::naked_asm;

use crate::context::{Context, ContextSwitch, Entry};

/// A context switch that really switches stacks, in a host process: the kernel's
/// scheduler runs its threads on it in host tests. It follows the x86_64 System V
/// convention, saving the callee-saved registers on the stack it leaves.
#[derive(Clone, Copy, Debug, Default)]
pub struct StackSwitch;

impl ContextSwitch for StackSwitch {
    fn prepare(&self, stack: &mut [u8], entry: Entry, arg: usize) -> Option<Context> {
        const FRAME: usize = 9 * 8;
        if stack.len() < 256 {
            return None;
        }
        let base = stack.as_ptr() as usize;
        let top = (base + stack.len()) & !0xf;
        let sp = top - FRAME;
        // Popped by `switch_to`: r15, r14, r13 (entry), r12 (arg), rbx, rbp, then the return
        // into `start`, after which the stack is aligned for a call.
        let words: [usize; 7] = [0, 0, entry as usize, arg, 0, 0, start as *const () as usize];
        for (i, word) in words.iter().enumerate() {
            let at = sp - base + i * 8;
            stack[at..at + 8].copy_from_slice(&word.to_ne_bytes());
        }
        Some(Context { stack_pointer: sp })
    }

    unsafe fn switch(&self, from: &mut Context, to: &Context) {
        // SAFETY: the caller promises `to` is a live, suspended context.
        unsafe { switch_to(from, to.stack_pointer) }
    }

    /// No chain: host builds leave frame pointers out.
    fn frame_pointer(&self) -> usize {
        0
    }
}

#[unsafe(naked)]
unsafe extern "C" fn switch_to(from: *mut Context, to_stack: usize) {
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

#[unsafe(naked)]
extern "C" fn start() {
    naked_asm!("mov rdi, r12", "call r13", "ud2");
}
