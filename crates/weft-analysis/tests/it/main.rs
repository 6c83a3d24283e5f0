//! Integration tests of weft's graph analyses: property tests against simple
//! independent algorithms, and large graphs.

mod large;
mod properties;
mod support;
