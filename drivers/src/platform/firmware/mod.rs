//! What the firmware says about the machine: the MP table and the ACPI tables (MADT, FADT
//! and the DSDT's `\_S5`). The parsers read byte slices, so they are tested on the host;
//! the `scan` functions decide which physical memory to show them.

pub mod acpi;
pub mod fadt;
pub mod mptable;
