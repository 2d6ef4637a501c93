//! A small command-line parser: `--flag VALUE` or `--flag=VALUE` options and positional
//! arguments, enough for raft-kv's subcommands without a dependency.

use std::collections::BTreeMap;

/// Parsed options and positional arguments of one subcommand.
#[derive(Debug, Default)]
pub struct Args {
    options: BTreeMap<String, Vec<String>>,
    /// The positional arguments, in order.
    pub positional: Vec<String>,
    /// True if `-h` or `--help` was given.
    pub help: bool,
}

impl Args {
    /// Parses `args`, accepting the options named in `known` (without dashes), each of which
    /// takes a value. Everything after the first positional argument is positional when
    /// `stop_at_positional` is set (so `ctl … cluster/kick --x` passes `--x` on).
    pub fn parse(
        args: &[String],
        known: &[&str],
        stop_at_positional: bool,
    ) -> Result<Args, String> {
        let mut out = Args::default();
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            if stop_at_positional && !out.positional.is_empty() {
                out.positional.push(arg.clone());
                continue;
            }
            if arg == "-h" || arg == "--help" {
                out.help = true;
                continue;
            }
            let Some(flag) = arg.strip_prefix("--") else {
                out.positional.push(arg.clone());
                continue;
            };
            let (name, value) = match flag.split_once('=') {
                Some((name, value)) => (name, value.to_owned()),
                None => {
                    let value = it
                        .next()
                        .ok_or_else(|| format!("option --{flag} needs a value"))?;
                    (flag, value.clone())
                }
            };
            if !known.contains(&name) {
                return Err(format!("unknown option --{name} (try --help)"));
            }
            out.options.entry(name.to_owned()).or_default().push(value);
        }
        Ok(out)
    }

    /// The value of option `name`, which must be given once.
    pub fn required(&self, name: &str) -> Result<&str, String> {
        match self.options.get(name).map(Vec::as_slice) {
            Some([value]) => Ok(value),
            Some(_) => Err(format!("option --{name} given more than once")),
            None => Err(format!("option --{name} is required (try --help)")),
        }
    }

    /// The value of option `name`, if given (at most once).
    pub fn optional(&self, name: &str) -> Result<Option<&str>, String> {
        match self.options.get(name).map(Vec::as_slice) {
            Some([value]) => Ok(Some(value)),
            Some(_) => Err(format!("option --{name} given more than once")),
            None => Ok(None),
        }
    }

    /// Every value of option `name`.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.options
            .get(name)
            .map(|v| v.iter().map(String::as_str).collect())
            .unwrap_or_default()
    }

    /// The value of option `name` parsed as a number, if given.
    pub fn number(&self, name: &str) -> Result<Option<u64>, String> {
        self.optional(name)?
            .map(|v| {
                v.parse()
                    .map_err(|_| format!("option --{name}: {v:?} is not a number"))
            })
            .transpose()
    }
}
