//! placeholder
pub mod datadriven;
pub mod linearizability;
