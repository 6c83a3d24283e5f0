//! Integration tests of the test kit: the `weft-test-service` binary run as a
//! real child process, spoken to over a real socket on 127.0.0.1.

mod github;
mod test_service;
