//! A runner for etcd-style datadriven test files (the format of cockroachdb/datadriven, which
//! etcd-io/raft and raft-rs use for their interaction tests).
//!
//! A file is a sequence of test cases separated by blank lines; `#` comment lines and blank lines
//! between cases are kept as they are:
//!
//! ```text
//! # A comment.
//! command arg1 key=value list=(1,2) (3,4)
//! optional input lines
//! ----
//! expected output
//!
//! command-with-blank-lines-in-its-output
//! ----
//! ----
//! first paragraph
//!
//! second paragraph
//! ----
//! ----
//! ```
//!
//! Expected output ends at the first blank line, so output containing blank lines is written
//! between doubled separators as in the second case; the closing pair must then be followed by a
//! blank line, a comment or the end of the file. [`run_file`] hands each case to a handler
//! and compares what it returns with the expected output; with `REWRITE=1` in the environment
//! it instead writes the handler's output into the file. Rewrite, then read the diff before
//! committing.

use std::fmt::{self, Write as _};
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// One test case: a command line, optional input lines, and (in the file) its expected output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestCase {
    /// The file the case is in.
    pub file: PathBuf,
    /// The 1-based line number of the command line.
    pub line: usize,
    /// The first word of the command line.
    pub command: String,
    /// The rest of the command line, parsed.
    pub args: Vec<Arg>,
    /// The lines between the command line and `----`, joined with `\n` (no trailing newline).
    pub input: String,
    /// The command line as written, for messages.
    text: String,
}

/// One argument of a command line: `key=value`, `key=(v1,v2)`, or, without a key, `value` or
/// `(v1,v2)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Arg {
    /// The name before `=`; `None` for a positional argument.
    pub key: Option<String>,
    /// The value, or the comma-separated values between parentheses.
    pub values: Vec<String>,
}

/// A missing or malformed argument, naming the file, line and command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArgError(String);

impl fmt::Display for ArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ArgError {}

impl TestCase {
    /// The argument named `key`, if given.
    pub fn arg(&self, key: &str) -> Option<&Arg> {
        self.args.iter().find(|arg| arg.key.as_deref() == Some(key))
    }

    /// The arguments without a name, in order.
    pub fn positional(&self) -> Vec<&Arg> {
        self.args.iter().filter(|arg| arg.key.is_none()).collect()
    }

    /// Parses the single value of argument `key`; `Ok(None)` if it is absent.
    ///
    /// # Errors
    ///
    /// If the argument has several values or its value does not parse as a `T`.
    pub fn parse<T: FromStr>(&self, key: &str) -> Result<Option<T>, ArgError>
    where
        T::Err: fmt::Display,
    {
        self.arg(key)
            .map(|arg| self.parse_single(arg, key))
            .transpose()
    }

    /// Parses the single value of argument `key`, which must be given.
    ///
    /// # Errors
    ///
    /// If the argument is missing, has several values, or does not parse as a `T`.
    pub fn require<T: FromStr>(&self, key: &str) -> Result<T, ArgError>
    where
        T::Err: fmt::Display,
    {
        self.parse(key)?.ok_or_else(|| self.error(key, "missing"))
    }

    /// Parses every value of argument `key` (`key=(1,2)` or `key=1`); empty if it is absent.
    ///
    /// # Errors
    ///
    /// If a value does not parse as a `T`.
    pub fn parse_list<T: FromStr>(&self, key: &str) -> Result<Vec<T>, ArgError>
    where
        T::Err: fmt::Display,
    {
        let values = self.arg(key).map_or(&[][..], |arg| &arg.values);
        values
            .iter()
            .map(|value| self.parse_value(value, key))
            .collect()
    }

    /// Parses the single value of the `index`-th (from 0) positional argument.
    ///
    /// # Errors
    ///
    /// If there are not that many positional arguments, or the argument has several values or
    /// does not parse as a `T`.
    pub fn parse_positional<T: FromStr>(&self, index: usize) -> Result<T, ArgError>
    where
        T::Err: fmt::Display,
    {
        let name = format!("#{index}");
        let arg = *self
            .positional()
            .get(index)
            .ok_or_else(|| self.error(&name, "missing"))?;
        self.parse_single(arg, &name)
    }

    fn parse_single<T: FromStr>(&self, arg: &Arg, name: &str) -> Result<T, ArgError>
    where
        T::Err: fmt::Display,
    {
        match &arg.values[..] {
            [value] => self.parse_value(value, name),
            values => Err(self.error(name, &format!("expected one value, got {values:?}"))),
        }
    }

    fn parse_value<T: FromStr>(&self, value: &str, name: &str) -> Result<T, ArgError>
    where
        T::Err: fmt::Display,
    {
        value
            .parse()
            .map_err(|error| self.error(name, &format!("{value:?}: {error}")))
    }

    fn error(&self, name: &str, problem: &str) -> ArgError {
        let at = self.file.display();
        ArgError(format!(
            "{at}:{}: `{}`: argument {name}: {problem}",
            self.line, self.text
        ))
    }
}

/// Runs every case in the file at `path` through `handler` and compares its output with the
/// expected output; with `REWRITE=1` set, writes the outputs into the file instead.
///
/// Output that is not empty and lacks a final newline gets one.
///
/// ```no_run
/// use raft_sim::datadriven::run_file;
///
/// run_file("testdata/echo.txt", |case| match case.command.as_str() {
///     "echo" => case.input.clone(),
///     "add" => match (case.parse_positional::<u64>(0), case.parse::<u64>("to")) {
///         (Ok(a), Ok(b)) => format!("{}", a + b.unwrap_or(0)),
///         (Err(error), _) | (_, Err(error)) => format!("error: {error}"),
///     },
///     other => format!("unknown command {other:?}"),
/// });
/// ```
///
/// # Panics
///
/// At the first case whose output differs (with a diff naming the file and line), or if the file
/// cannot be read, parsed or rewritten. A panic in the handler is reported with the case's
/// location and passed on.
pub fn run_file(path: impl AsRef<Path>, handler: impl FnMut(&TestCase) -> String) {
    let rewrite = std::env::var("REWRITE").is_ok_and(|value| !value.is_empty() && value != "0");
    if let Err(message) = run(path.as_ref(), rewrite, handler) {
        panic!("{message}");
    }
}

/// A file's content: verbatim lines between cases, and cases.
enum Chunk {
    Text(String),
    Case {
        case: TestCase,
        header: String,
        expected: String,
    },
}

fn run(
    path: &Path,
    rewrite: bool,
    mut handler: impl FnMut(&TestCase) -> String,
) -> Result<(), String> {
    let text =
        std::fs::read_to_string(path).map_err(|error| format!("{}: {error}", path.display()))?;
    let mut chunks = parse_file(path, &text)?;
    for chunk in &mut chunks {
        let Chunk::Case { case, expected, .. } = chunk else {
            continue;
        };
        let actual = normalize(call(case, &mut handler));
        if rewrite {
            *expected = actual;
        } else if actual != *expected {
            let at = format!("{}:{}", path.display(), case.line);
            let diff = diff(expected, &actual);
            return Err(format!(
                "{at}: output of `{}` differs (REWRITE=1 rewrites it):\n{diff}",
                case.text
            ));
        }
    }
    if rewrite {
        std::fs::write(path, render(&chunks))
            .map_err(|error| format!("{}: {error}", path.display()))?;
    }
    Ok(())
}

fn call(case: &TestCase, handler: &mut impl FnMut(&TestCase) -> String) -> String {
    panic::catch_unwind(AssertUnwindSafe(|| handler(case))).unwrap_or_else(|payload| {
        eprintln!(
            "{}:{}: panic while running `{}`",
            case.file.display(),
            case.line,
            case.text
        );
        panic::resume_unwind(payload)
    })
}

fn normalize(mut output: String) -> String {
    if !output.is_empty() && !output.ends_with('\n') {
        output.push('\n');
    }
    output
}

fn parse_file(path: &Path, text: &str) -> Result<Vec<Chunk>, String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut chunks = Vec::new();
    let mut at = 0;
    while at < lines.len() {
        let line = lines[at];
        if line.trim().is_empty() || line.starts_with('#') {
            chunks.push(Chunk::Text(line.to_owned()));
            at += 1;
            continue;
        }
        let error = |problem: &str| format!("{}:{}: `{line}`: {problem}", path.display(), at + 1);
        // Input ends at `----`; a blank line first means the separator was forgotten, and
        // searching on would swallow the next case.
        let separator = (at + 1..lines.len())
            .find(|&i| lines[i] == "----" || lines[i].trim().is_empty())
            .filter(|&i| lines[i] == "----")
            .ok_or_else(|| error("no ---- line before the next blank line"))?;
        let (command, args) = parse_command(line).map_err(|problem| error(&problem))?;
        let (expected, next) = parse_expected(&lines, separator + 1).ok_or_else(|| {
            error("its output opens with a second ---- line but no pair of ---- lines closes it")
        })?;
        let case = TestCase {
            file: path.to_owned(),
            line: at + 1,
            command,
            args,
            input: lines[at + 1..separator].join("\n"),
            text: line.to_owned(),
        };
        chunks.push(Chunk::Case {
            case,
            header: lines[at..separator].join("\n"),
            expected,
        });
        at = next;
    }
    Ok(chunks)
}

/// Reads expected output starting at line `start`: up to a blank line, or between doubled
/// separators. Returns it with the index of the first line after it.
fn parse_expected(lines: &[&str], start: usize) -> Option<(String, usize)> {
    let (body, next) = if lines.get(start) == Some(&"----") {
        // The closing pair ends the case, so it is followed by a blank line, a comment, or the
        // end of the file; that also lets the output contain `----` lines.
        let ends_case = |i: usize| {
            lines
                .get(i)
                .is_none_or(|line| line.trim().is_empty() || line.starts_with('#'))
        };
        let end = (start + 1..lines.len()).find(|&i| {
            lines[i] == "----" && lines.get(i + 1) == Some(&"----") && ends_case(i + 2)
        })?;
        (&lines[start + 1..end], end + 2)
    } else {
        let end = (start..lines.len())
            .find(|&i| lines[i].trim().is_empty())
            .unwrap_or(lines.len());
        (&lines[start..end], end)
    };
    let expected = body.iter().flat_map(|line| [*line, "\n"]).collect();
    Some((expected, next))
}

fn parse_command(line: &str) -> Result<(String, Vec<Arg>), String> {
    let (command, mut rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    let mut args = Vec::new();
    rest = rest.trim_start();
    while !rest.is_empty() {
        let end = token_end(rest)?;
        args.push(parse_arg(&rest[..end])?);
        rest = rest[end..].trim_start();
    }
    Ok((command.to_owned(), args))
}

/// The end of the first token of `text`: the first whitespace outside parentheses.
fn token_end(text: &str) -> Result<usize, String> {
    let mut depth = 0usize;
    for (index, char) in text.char_indices() {
        match char {
            '(' => depth += 1,
            ')' => depth = depth.checked_sub(1).ok_or("unbalanced )")?,
            _ if char.is_whitespace() && depth == 0 => return Ok(index),
            _ => {}
        }
    }
    if depth == 0 {
        Ok(text.len())
    } else {
        Err("unclosed (".to_owned())
    }
}

fn parse_arg(token: &str) -> Result<Arg, String> {
    let (key, value) = match token.split_once('=') {
        Some((key, value)) if !key.is_empty() && !value.is_empty() => (Some(key.to_owned()), value),
        Some(_) => return Err(format!("argument {token:?} needs a key and a value")),
        None => (None, token),
    };
    let values = match value.strip_prefix('(') {
        Some(inner) => {
            let inner = inner
                .strip_suffix(')')
                .ok_or_else(|| format!("argument {token:?}: text after )"))?;
            inner
                .split(',')
                .map(str::trim)
                .filter(|value| !value.is_empty())
                .map(str::to_owned)
                .collect()
        }
        None => vec![value.to_owned()],
    };
    Ok(Arg { key, values })
}

fn render(chunks: &[Chunk]) -> String {
    let mut text = String::new();
    for chunk in chunks {
        match chunk {
            Chunk::Text(line) => {
                text.push_str(line);
                text.push('\n');
            }
            Chunk::Case {
                header, expected, ..
            } => {
                // A blank line would end the output early, and a first line `----` would read as
                // the second separator, so such output goes between doubled separators.
                let mut lines = expected.lines();
                let doubled = lines.clone().any(|line| line.trim().is_empty())
                    || lines.next() == Some("----");
                let (open, close) = if doubled {
                    ("----\n----\n", "----\n----\n")
                } else {
                    ("----\n", "")
                };
                let _ = write!(text, "{header}\n{open}{expected}{close}");
            }
        }
    }
    text
}

/// A line diff (longest common subsequence) of `expected` and `actual`.
fn diff(expected: &str, actual: &str) -> String {
    let (old, new): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), actual.lines().collect());
    // common[i][j]: the length of the longest common subsequence of old[i..] and new[j..].
    let mut common = vec![vec![0usize; new.len() + 1]; old.len() + 1];
    for i in (0..old.len()).rev() {
        for j in (0..new.len()).rev() {
            common[i][j] = if old[i] == new[j] {
                common[i + 1][j + 1] + 1
            } else {
                common[i + 1][j].max(common[i][j + 1])
            };
        }
    }
    let mut text = String::from("--- expected\n+++ actual\n");
    let (mut i, mut j) = (0, 0);
    while i < old.len() || j < new.len() {
        if i < old.len() && j < new.len() && old[i] == new[j] {
            let _ = writeln!(text, " {}", old[i]);
            (i, j) = (i + 1, j + 1);
        } else if i < old.len() && (j == new.len() || common[i + 1][j] >= common[i][j + 1]) {
            let _ = writeln!(text, "-{}", old[i]);
            i += 1;
        } else {
            let _ = writeln!(text, "+{}", new[j]);
            j += 1;
        }
    }
    if old == new {
        text.push_str("(the outputs differ only in line endings)\n");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file in a fresh directory under the system temp dir, removed on drop.
    struct TempFile(PathBuf);

    impl TempFile {
        fn new(name: &str, content: &str) -> Self {
            let dir = std::env::temp_dir()
                .join(format!("raft-sim-datadriven-{}-{name}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join("case.txt");
            std::fs::write(&path, content).unwrap();
            Self(path)
        }

        fn read(&self) -> String {
            std::fs::read_to_string(&self.0).unwrap()
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            if let Some(dir) = self.0.parent() {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }

    fn case(line: &str) -> TestCase {
        let (command, args) = parse_command(line).unwrap();
        let file = PathBuf::from("t.txt");
        TestCase {
            file,
            line: 7,
            command,
            args,
            input: String::new(),
            text: line.to_owned(),
        }
    }

    /// Echoes the command and its input, so expectations are easy to write by hand.
    fn echo(case: &TestCase) -> String {
        format!("{} {:?}\n{}", case.command, case.args.len(), case.input)
    }

    #[test]
    fn parses_positional_keyed_and_list_arguments() {
        let case = case("deliver 2 (1, 3) seed=7 drop=(1,2) quiet");
        assert_eq!(case.command, "deliver");
        assert_eq!(case.parse_positional::<u64>(0), Ok(2));
        assert_eq!(case.positional()[1].values, ["1", "3"]);
        assert_eq!(case.parse_positional::<String>(2).as_deref(), Ok("quiet"));
        assert_eq!(case.parse::<u64>("seed"), Ok(Some(7)));
        assert_eq!(case.parse::<u64>("absent"), Ok(None));
        assert_eq!(case.parse_list::<u8>("drop"), Ok(vec![1, 2]));
        assert_eq!(case.parse_list::<u8>("absent"), Ok(vec![]));
        assert_eq!(case.require::<u64>("seed"), Ok(7));
    }

    #[test]
    fn argument_errors_name_file_line_command_and_argument() {
        let case = case("tick 1 ms=abc drop=(1,2)");
        let error = case.parse::<u64>("ms").unwrap_err().to_string();
        let expected = r#"t.txt:7: `tick 1 ms=abc drop=(1,2)`: argument ms: "abc": invalid digit found in string"#;
        assert_eq!(error, expected);
        let error = case.require::<u64>("seed").unwrap_err().to_string();
        assert!(error.ends_with("argument seed: missing"), "{error}");
        let error = case.parse::<u64>("drop").unwrap_err().to_string();
        assert!(
            error.ends_with(r#"argument drop: expected one value, got ["1", "2"]"#),
            "{error}"
        );
        let error = case.parse_positional::<u64>(3).unwrap_err().to_string();
        assert!(error.ends_with("argument #3: missing"), "{error}");
    }

    #[test]
    fn malformed_command_lines_are_rejected() {
        for line in ["cmd (1,2", "cmd 1)", "cmd =3", "cmd k=", "cmd k=(1)x"] {
            assert!(parse_command(line).is_err(), "{line}");
        }
    }

    #[test]
    fn matching_file_passes_and_handler_sees_each_case() {
        let file = TempFile::new(
            "match",
            "# header\n\ncmd a b=1\nin 1\nin 2\n----\ncmd 2\nin 1\nin 2\n\n# between\nother\n----\nother 0\n",
        );
        let mut seen = Vec::new();
        let result = run(&file.0, false, |case| {
            seen.push((case.line, case.command.clone()));
            echo(case)
        });
        assert_eq!(result, Ok(()));
        assert_eq!(seen, [(3, "cmd".to_owned()), (12, "other".to_owned())]);
    }

    #[test]
    fn mismatch_reports_file_line_and_diff() {
        let file = TempFile::new("mismatch", "# c\nshow\n----\nkeep\nold\n");
        let error = run(&file.0, false, |_| "keep\nnew".to_owned()).unwrap_err();
        let expected = format!(
            "{}:2: output of `show` differs (REWRITE=1 rewrites it):\n--- expected\n+++ actual\n keep\n-old\n+new\n",
            file.0.display()
        );
        assert_eq!(error, expected);
    }

    #[test]
    fn missing_separator_is_an_error_naming_the_line() {
        let file = TempFile::new("separator", "first\n\nsecond\n----\nout\n");
        let error = run(&file.0, false, |_| String::new()).unwrap_err();
        assert!(
            error.ends_with(":1: `first`: no ---- line before the next blank line"),
            "{error}"
        );
    }

    #[test]
    fn rewrite_replaces_outputs_and_keeps_comments_commands_and_input() {
        let before =
            "# header\n\ncmd a\nin\n----\nstale\nlines\n\n\n# two blank lines above\nnew\n----\n";
        let file = TempFile::new("rewrite", before);
        assert_eq!(run(&file.0, true, echo), Ok(()));
        let after = "# header\n\ncmd a\nin\n----\ncmd 1\nin\n\n\n# two blank lines above\nnew\n----\nnew 0\n";
        assert_eq!(file.read(), after);
        assert_eq!(run(&file.0, false, echo), Ok(()));
    }

    #[test]
    fn output_with_blank_lines_round_trips_through_double_separators() {
        let file = TempFile::new("blank", "para\n----\n\nnext\n----\n\nsep\n----\n");
        let output = |case: &TestCase| match case.command.as_str() {
            "para" => "one\n\ntwo\n  \n".to_owned(),
            "next" => "\nleading blank".to_owned(),
            _ => "----\n".to_owned(),
        };
        assert_eq!(run(&file.0, true, output), Ok(()));
        let expected = "para\n----\n----\none\n\ntwo\n  \n----\n----\n\n\
                        next\n----\n----\n\nleading blank\n----\n----\n\n\
                        sep\n----\n----\n----\n----\n----\n";
        assert_eq!(file.read(), expected);
        assert_eq!(run(&file.0, false, output), Ok(()));
        let error = run(&file.0, false, |_| "one\ntwo\n".to_owned()).unwrap_err();
        assert!(error.contains(" one\n-\n two\n"), "{error}");
    }

    #[test]
    fn unclosed_double_separator_is_an_error() {
        let file = TempFile::new("unclosed", "cmd\n----\n----\nout\n\n");
        let error = run(&file.0, false, |_| String::new()).unwrap_err();
        assert!(error.contains("no pair of ---- lines closes it"), "{error}");
    }
}
