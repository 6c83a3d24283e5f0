//! weft-ci through its public API: generated workflows and scripts, which
//! must never make the checker panic or point outside the file.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on anything unexpected"
)]

mod robustness;
mod rules;
