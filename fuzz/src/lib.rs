//! Shared pieces of the fuzz targets in `fuzz_targets/`: a small universe of servers, input
//! types that `arbitrary` builds from libFuzzer's bytes, and a one-server driver that checks
//! the core's promises after every step.
//!
//! The inputs name terms and indexes *relative to the server's current state* ("the current
//! term", "one past the log end") as well as absolutely, so that a random input often says
//! something the server accepts: that is what lets the fuzzer win elections, append and
//! commit entries and install snapshots instead of being refused at the first check.

pub mod driver;
pub mod spec;
pub mod universe;
