//! placeholder
pub mod codec;
pub mod filelog;
pub mod lockfile;
