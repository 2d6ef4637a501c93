//! The control socket: a Unix socket (mode 0600) over which `raft-kv ctl` runs
//! administrative requests on a running server.
//!
//! One request per connection: the client writes a JSON array of strings (the command and its
//! arguments) and a newline; the server answers with one line, `{"ok":TEXT}` or
//! `{"error":TEXT}`.

use std::fs;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::thread;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{Admin, Handle};

/// The commands `parse` knows, with their arguments, for help texts.
pub const COMMANDS: &[(&str, &str)] = &[
    ("cluster/status", "show the server's view of the cluster"),
    ("cluster/cid", "print the cluster id"),
    ("cluster/sid", "print this server's id"),
    ("cluster/leave", "leave the cluster for good"),
    (
        "cluster/kick SERVER",
        "remove SERVER (address or id prefix)",
    ),
    (
        "cluster/change-election-timer MS",
        "change the election timer (leader only)",
    ),
    (
        "cluster/set-backlog-threshold N BYTES",
        "per-connection backlog limits",
    ),
    (
        "cluster/transfer-leadership",
        "hand over leadership (leader only)",
    ),
    (
        "cluster/failure-test NAME",
        "engage a failure test, or `clear`",
    ),
    (
        "cluster/compact",
        "take a snapshot now (a leader hands over leadership first)",
    ),
];

/// The longest request line read: a command and a few short arguments fit many times over,
/// and a client cannot make the server buffer without end.
const MAX_REQUEST_LEN: u64 = 64 * 1024;

/// How long a client may take to send its request line before the server gives up on it.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A reply line.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Reply {
    Ok(String),
    Error(String),
}

/// Parses a command line such as `["cluster/kick", "4a2b"]`.
pub fn parse(args: &[String]) -> Result<Admin, String> {
    let arg = |i: usize, what: &str| {
        args.get(i)
            .cloned()
            .ok_or_else(|| format!("{}: missing argument {what}", args[0]))
    };
    let number = |i: usize, what: &str| -> Result<u64, String> {
        let text = arg(i, what)?;
        text.parse()
            .map_err(|_| format!("{}: {what} must be a number, not {text:?}", args[0]))
    };
    let Some(name) = args.first() else {
        return Err("no command given".to_owned());
    };
    let (command, n_args) = match name.as_str() {
        "cluster/status" => (Admin::Status, 0),
        "cluster/cid" => (Admin::ClusterId, 0),
        "cluster/sid" => (Admin::ServerId, 0),
        "cluster/leave" => (Admin::Leave, 0),
        "cluster/kick" => (Admin::Kick(arg(1, "SERVER")?), 1),
        "cluster/change-election-timer" => (Admin::ChangeElectionTimer(number(1, "MS")?), 1),
        "cluster/set-backlog-threshold" => (
            Admin::SetBacklogThreshold(number(1, "N")?, number(2, "BYTES")?),
            2,
        ),
        "cluster/transfer-leadership" => (Admin::TransferLeadership, 0),
        "cluster/failure-test" => (Admin::FailureTest(arg(1, "NAME")?), 1),
        "cluster/compact" => (Admin::Compact, 0),
        other => return Err(format!("unknown command {other:?} (try --help)")),
    };
    if args.len() > n_args + 1 {
        return Err(format!("{name}: too many arguments"));
    }
    Ok(command)
}

/// Creates the control socket at `path` with mode 0600. A stale socket left by a dead server
/// is replaced; a live one is an error.
pub fn bind(path: &Path) -> io::Result<UnixListener> {
    if UnixStream::connect(path).is_ok() {
        return Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            format!("{}: another server is listening there", path.display()),
        ));
    }
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    // Bound under a temporary name and renamed once its mode is 0600, so the final name is
    // never reachable with the default (umask) permissions.
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".{}.tmp", std::process::id()));
    let listener = UnixListener::bind(&tmp)?;
    fs::set_permissions(&tmp, fs::Permissions::from_mode(0o600))?;
    fs::rename(&tmp, path)?;
    Ok(listener)
}

/// Serves requests on `listener` with `handle`, on a thread of its own.
pub fn serve(listener: UnixListener, handle: Handle) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let handle = handle.clone();
            // One thread per request: a client that connects and then stalls must not hold up
            // the next one (an operator's `ctl` would hang behind it).
            thread::spawn(move || {
                // A client that sends nothing sensible just gets an error line, or nothing.
                let _ = serve_one(stream, &handle);
            });
        }
    })
}

fn serve_one(stream: UnixStream, handle: &Handle) -> io::Result<()> {
    stream.set_read_timeout(Some(REQUEST_TIMEOUT))?;
    let mut line = Vec::new();
    BufReader::new(&stream)
        .take(MAX_REQUEST_LEN)
        .read_until(b'\n', &mut line)?;
    let complete = line.ends_with(b"\n") || (line.len() as u64) < MAX_REQUEST_LEN;
    let reply = match serde_json::from_slice::<Vec<String>>(&line) {
        _ if !complete => Reply::Error(format!("bad request: longer than {MAX_REQUEST_LEN} bytes")),
        Ok(args) => match parse(&args) {
            Ok(command) => match handle.admin(command) {
                Ok(text) => Reply::Ok(text),
                Err(text) => Reply::Error(text),
            },
            Err(text) => Reply::Error(text),
        },
        Err(e) => Reply::Error(format!("bad request: {e}")),
    };
    let mut text = serde_json::to_string(&reply).map_err(io::Error::other)?;
    text.push('\n');
    (&stream).write_all(text.as_bytes())?;
    drain_then_close(stream)
}

/// Closes after reading what the client still sends (up to a bound): on Linux, closing a Unix
/// socket with unread input resets the connection, and the client may lose the answer (an
/// oversized request, say) before it reads it.
fn drain_then_close(stream: UnixStream) -> io::Result<()> {
    const MAX_DRAIN: u64 = 16 << 20;
    stream.shutdown(std::net::Shutdown::Write)?;
    io::copy(&mut (&stream).take(MAX_DRAIN), &mut io::sink())?;
    Ok(())
}

/// Runs `args` on the server whose control socket is `path` and returns its answer.
pub fn call(path: &Path, args: &[String]) -> Result<String, String> {
    let fail = |e: io::Error| format!("{}: {e}", path.display());
    let stream = UnixStream::connect(path).map_err(fail)?;
    let mut request = serde_json::to_string(args).map_err(|e| e.to_string())?;
    request.push('\n');
    (&stream).write_all(request.as_bytes()).map_err(fail)?;
    // Nothing more to say: the server sees the end of the request at once.
    stream.shutdown(std::net::Shutdown::Write).map_err(fail)?;
    let mut line = String::new();
    BufReader::new(&stream).read_line(&mut line).map_err(fail)?;
    match serde_json::from_str::<Reply>(&line) {
        Ok(Reply::Ok(text)) => Ok(text),
        Ok(Reply::Error(text)) => Err(text),
        Err(_) if line.is_empty() => Err(format!(
            "{}: the server closed the connection without answering",
            path.display()
        )),
        Err(e) => Err(format!("{}: bad answer: {e}", path.display())),
    }
}
