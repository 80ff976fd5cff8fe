use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::memory::{GuardError, GuardPages, PAGE_SIZE, Page};
use crate::mock::time::Shared;

/// Guard pages that only keep a list: host memory stays as it is. Clones share the list.
#[derive(Clone, Debug, Default)]
pub struct FakeGuard {
    protected: Arc<Shared<Vec<usize>>>,
}

impl FakeGuard {
    /// No guard pages yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The pages protected now.
    pub fn protected(&self) -> Vec<usize> {
        self.protected.with(|p| p.clone())
    }
}

impl GuardPages for FakeGuard {
    fn protect(
        &self,
        page: usize,
        _table: &mut dyn FnMut() -> Option<&'static mut Page>,
    ) -> Result<(), GuardError> {
        if !page.is_multiple_of(PAGE_SIZE) || page == 0 {
            return Err(GuardError::BadAddress);
        }
        self.protected.with(|p| p.push(page));
        Ok(())
    }

    fn unprotect(&self, page: usize) {
        self.protected.with(|p| p.retain(|&q| q != page));
    }
}
