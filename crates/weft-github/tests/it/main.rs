//! The client against a GitHub on 127.0.0.1 that answers as the REST API does.

mod client;
mod workflows;
