//! weft-notify end to end: real HTTP servers and a real SMTP server
//! (aiosmtpd) on 127.0.0.1, an in-memory issue tracker, and weft.yaml read
//! by the real loader.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on anything unexpected"
)]
#![expect(
    clippy::print_stdout,
    reason = "SKIP lines tell why a real server was not used"
)]

mod config;
mod email;
mod http;
mod issues;
mod rules;
mod support;
