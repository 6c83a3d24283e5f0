//! Integration tests of `weft push`'s engine against real git: a bare remote
//! in a temporary directory and several clones of it.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on anything unexpected"
)]

mod batching;
mod concurrency;
mod landing;
mod locking;
mod policies;
mod recovery;
mod rollback;
mod support;
