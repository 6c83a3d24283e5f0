//! Integration tests of the supervisor: real `weft-test-service` child
//! processes in temporary workspaces, real sockets on 127.0.0.1.

mod degradation;
mod ordering;
mod output;
mod ports;
mod probes;
mod restarts;
mod settings;
mod shutdown;
mod support;
