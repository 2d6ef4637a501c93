//! `raft-kv`: a replicated key-value store on raft-mio, and the tools to run it.
//!
//! Run `raft-kv --help` for the commands.

mod args;
mod bench;
mod demo;
mod echo;
mod load;
mod server;

/// See the `mimalloc` feature in Cargo.toml for why.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::borrow::Cow;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use args::Args;
use raft_core::ClusterId;
use raft_mio::kv::{KvClient, KvCommand, KvReply, KvStore};
use raft_mio::{StateMachine, control};

const USAGE: &str = "\
raft-kv: a replicated key-value store on Raft (raft-core + raft-mio)

Usage:
  raft-kv create-cluster --db PATH --name NAME --local tcp:IP:PORT [--election-timer MS]
  raft-kv join-cluster --db PATH --name NAME --local tcp:IP:PORT --remote tcp:IP:PORT
                       [--remote tcp:IP:PORT ...] [--cid UUID]
  raft-kv serve --db PATH --control SOCKET --client IP:PORT
  raft-kv ctl --control SOCKET COMMAND [ARGS]
  raft-kv client --server IP:PORT put KEY VALUE | get KEY | cas KEY OLD NEW | delete KEY
  raft-kv demo
  raft-kv bench [--seconds N] [--clients N] [--conns N]

create-cluster writes the log of a new one-server cluster; join-cluster writes the log of a
server that joins an existing cluster (through any of its --remote servers) when it is
first served. serve runs a server: Raft on the log's address, clients on --client, and
administration on the Unix socket --control (mode 0600).

bench starts 3 servers in a temporary directory and prints the disk's fdatasync latency,
the loopback round trip, and commits/s with latency for closed-loop clients: by default 1
client, 64 on a connection each, and 64 sharing 8 connections, --seconds each (default 5);
--clients N [--conns M] runs that one phase instead (at most 64 clients a connection). For
each phase of many clients it first measures the same clients against an echo server with
nothing behind it: the most the client protocol allows on this machine.

Addresses are tcp:IP:PORT, with IPv6 as tcp:[IP]:PORT.

ctl commands:
";

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    match run(&argv) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("raft-kv: error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn usage() -> String {
    let mut text = USAGE.to_owned();
    for (command, help) in control::COMMANDS {
        text.push_str(&format!("  {command:<40} {help}\n"));
    }
    text
}

fn run(argv: &[String]) -> Result<(), String> {
    let Some((command, rest)) = argv.split_first() else {
        print!("{}", usage());
        return Err("no command given".to_owned());
    };
    match command.as_str() {
        "-h" | "--help" | "help" => {
            print!("{}", usage());
            Ok(())
        }
        "create-cluster" => create_cluster(rest),
        "join-cluster" => join_cluster(rest),
        "serve" => server::serve(rest),
        "ctl" => ctl(rest),
        "client" => client(rest),
        "demo" => demo::run(rest),
        "bench" => bench::run(rest),
        other => Err(format!("unknown command {other:?} (try --help)")),
    }
}

/// Parses `rest`, printing the usage and returning `None` on `--help`.
fn parse(rest: &[String], known: &[&str], stop: bool) -> Result<Option<Args>, String> {
    let args = Args::parse(rest, known, stop)?;
    if args.help {
        print!("{}", usage());
        return Ok(None);
    }
    Ok(Some(args))
}

fn no_positional(args: &Args) -> Result<(), String> {
    match args.positional.first() {
        Some(extra) => Err(format!("unexpected argument {extra:?} (try --help)")),
        None => Ok(()),
    }
}

fn create_cluster(rest: &[String]) -> Result<(), String> {
    let Some(args) = parse(rest, &["db", "name", "local", "election-timer"], false)? else {
        return Ok(());
    };
    no_positional(&args)?;
    let db = Path::new(args.required("db")?);
    let (cid, sid) = raft_mio::create_cluster(
        db,
        args.required("name")?,
        args.required("local")?,
        args.number("election-timer")?,
        KvStore::default().snapshot(),
    )
    .map_err(|e| e.to_string())?;
    println!(
        "created cluster {cid} with server {sid} in {}",
        db.display()
    );
    Ok(())
}

fn join_cluster(rest: &[String]) -> Result<(), String> {
    let known = ["db", "name", "local", "remote", "cid"];
    let Some(args) = parse(rest, &known, false)? else {
        return Ok(());
    };
    no_positional(&args)?;
    let cid = args
        .optional("cid")?
        .map(|c| {
            uuid::Uuid::parse_str(c)
                .map(ClusterId)
                .map_err(|e| format!("--cid {c:?}: {e}"))
        })
        .transpose()?;
    let db = Path::new(args.required("db")?);
    let sid = raft_mio::join_cluster(
        db,
        args.required("name")?,
        args.required("local")?,
        &args.all("remote"),
        cid,
    )
    .map_err(|e| e.to_string())?;
    println!(
        "server {sid} will join the cluster when served from {}",
        db.display()
    );
    Ok(())
}

fn ctl(rest: &[String]) -> Result<(), String> {
    let Some(args) = parse(rest, &["control"], true)? else {
        return Ok(());
    };
    if args.positional.is_empty() {
        return Err("ctl: no command given (try --help)".to_owned());
    }
    let text = control::call(Path::new(args.required("control")?), &args.positional)?;
    if !text.is_empty() {
        println!("{}", text.trim_end());
    }
    Ok(())
}

fn client(rest: &[String]) -> Result<(), String> {
    let Some(args) = parse(rest, &["server", "timeout-ms"], true)? else {
        return Ok(());
    };
    let server = args.required("server")?;
    let address = server
        .parse()
        .map_err(|_| format!("--server {server:?}: expected IP:PORT"))?;
    let timeout = Duration::from_millis(args.number("timeout-ms")?.unwrap_or(10_000));
    let command = kv_command(&args.positional)?;
    let mut client = KvClient::connect(address, timeout).map_err(|e| format!("{server}: {e}"))?;
    match client.call(&command).map_err(|e| e.to_string())? {
        KvReply::Ok => println!("ok"),
        KvReply::Value(Some(v)) => println!("{v}"),
        KvReply::Value(None) => return Err("key not found".to_owned()),
        KvReply::Cas { swapped: true, .. } => println!("swapped"),
        KvReply::Cas { current, .. } => {
            return Err(format!(
                "not swapped: the value is {}",
                current.map_or("missing".to_owned(), |c| format!("{c:?}"))
            ));
        }
        KvReply::Invalid(why) => return Err(format!("the server refused the command: {why}")),
    }
    Ok(())
}

fn kv_command(words: &[String]) -> Result<KvCommand<'static>, String> {
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    let s = |x: &&str| Cow::from(x.to_string());
    Ok(match w.as_slice() {
        ["put", k, v] => KvCommand::Put {
            key: s(k),
            value: s(v),
        },
        ["get", k] => KvCommand::Get { key: s(k) },
        ["cas", k, old, new] => KvCommand::Cas {
            key: s(k),
            old: Some(s(old)),
            new: s(new),
        },
        ["delete", k] => KvCommand::Delete { key: s(k) },
        [] => return Err("client: no operation given (put, get, cas, delete)".to_owned()),
        [op, ..] => {
            return Err(format!(
                "client: bad operation {op:?} or arguments (put KEY VALUE | get KEY | \
                 cas KEY OLD NEW | delete KEY)"
            ));
        }
    })
}
