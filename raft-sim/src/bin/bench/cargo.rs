//! Building the programs some sections run as subprocesses, with the cargo that runs this
//! benchmark, into the target directory holding it.

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The cargo target directory holding this executable (`…/target`, above `release`).
pub(crate) fn target_dir() -> Result<PathBuf, String> {
    let exe = env::current_exe().map_err(|e| format!("cannot find the bench itself: {e}"))?;
    exe.parent()
        .filter(|dir| dir.ends_with("release") || dir.ends_with("debug"))
        .and_then(|dir| dir.parent())
        .map(Path::to_path_buf)
        .ok_or_else(|| format!("{} is not in a cargo target directory", exe.display()))
}

/// Runs `cargo build --release` with `args` in `dir`, into `target`.
pub(crate) fn build_release(dir: &Path, args: &[&str], target: &Path) -> Result<(), String> {
    // `cargo run` says which cargo it is.
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .arg("build")
        .arg("--release")
        .args(args)
        .env("CARGO_TARGET_DIR", target)
        .current_dir(dir)
        .stdout(Stdio::null())
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("cargo build {} failed ({status})", args.join(" ")))
    }
}

/// The workspace this benchmark belongs to (raft-sim's parent).
pub(crate) fn workspace() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}
