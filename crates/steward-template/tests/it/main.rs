//! Integration tests of steward-template.

mod cases;
mod robust;
