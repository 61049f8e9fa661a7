//! The command line's one way to the terminal.
//!
//! Results go to stdout, one line at a time ([`out!`]) or, under the global `--json`, as one JSON
//! document ([`json`]); status, progress and errors go to stderr ([`status`], [`progress`],
//! [`progress_end`], [`error`]). The workspace's `clippy.toml` disallows `println!`, `eprintln!`, `print!`, `eprint!`
//! and `dbg!` everywhere else, so everything the CLI prints passes through this module and stdout
//! carries results only.
#![allow(clippy::disallowed_macros, reason = "the one module allowed to print")]

use std::{fmt, sync::OnceLock};

/// How results and errors are printed, set once from the global flags.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutputMode {
    /// Results as one JSON document (`--json`) instead of text lines.
    pub json: bool,
    /// `-v` count: from 1 on, errors show eyre's full report (locations, backtrace if captured).
    pub verbose: u8,
    /// `-q`: only errors on stderr, no [`status`] lines.
    pub quiet: bool,
}

static MODE: OnceLock<OutputMode> = OnceLock::new();

/// Sets the output mode for the rest of the process (the first call wins).
pub fn init(mode: OutputMode) {
    let _ = MODE.set(mode);
}

/// The output mode ([`OutputMode::default`] until [`init`]).
pub fn mode() -> OutputMode {
    MODE.get().copied().unwrap_or_default()
}

/// Whether results are printed as JSON (`--json`).
pub fn is_json() -> bool {
    mode().json
}

/// Prints one line of text results to stdout, with `println!`'s arguments; nothing under
/// `--json`, where the command prints one [`json`] document instead.
macro_rules! out {
    () => {
        $crate::output::line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::output::line(format_args!($($arg)*))
    };
}
pub(crate) use out;

/// Writes `args` and a newline to stdout (what [`out!`] expands to); nothing under `--json`.
pub fn line(args: fmt::Arguments<'_>) {
    if !is_json() {
        println!("{args}");
    }
}

/// Writes `value` to stdout as one line of JSON (the `--json` result document).
pub fn json(value: &serde_json::Value) {
    println!("{value}");
}

/// Writes `args` and a newline to stderr: what was done or what to do next, for a person
/// reading along (not a result); nothing under `-q`.
pub fn status(args: fmt::Arguments<'_>) {
    if !mode().quiet {
        eprintln!("{args}");
    }
}

/// Writes `args` to stderr without a newline: a progress line redrawn in place (`\r`).
pub fn progress(args: fmt::Arguments<'_>) {
    eprint!("{args}");
}

/// Ends a progress line on stderr.
pub fn progress_end() {
    eprintln!();
}

/// Reports a failed command on stderr (`main`'s last word): the message and its causes, one per
/// line; with `-v`, eyre's full report (source locations, and a backtrace when `RUST_BACKTRACE`
/// captured one). Under `--json` (and without `-v`) it is one JSON document instead:
/// `{"error": .., "causes": [..]}`.
pub fn error(err: &eyre::Report) {
    let mode = mode();
    if mode.json && mode.verbose == 0 {
        eprintln!("{}", error_json(err));
    } else {
        eprintln!("{}", error_text(err, mode.verbose));
    }
}

/// The causes of `err` below its own message, each once (see [`error_text`]).
fn causes(err: &eyre::Report) -> Vec<String> {
    let mut previous = err.to_string();
    let mut causes = Vec::new();
    for cause in err.chain().skip(1) {
        // Wrappers that display their source's message (alloy's transport error around
        // reqwest's) would repeat the line before: it is shown once.
        let cause = cause.to_string();
        if cause != previous {
            causes.push(cause.clone());
        }
        previous = cause;
    }
    causes
}

/// The JSON document [`error`] prints under `--json`.
pub fn error_json(err: &eyre::Report) -> serde_json::Value {
    serde_json::json!({ "error": err.to_string(), "causes": causes(err) })
}

/// The text [`error`] prints.
pub fn error_text(err: &eyre::Report, verbose: u8) -> String {
    if verbose > 0 {
        return format!("Error: {err:?}");
    }
    let mut text = format!("Error: {err}");
    for cause in causes(err) {
        text.push_str(&format!("\n  caused by: {cause}"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use eyre::WrapErr;

    fn failed() -> eyre::Report {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
        Err::<(), _>(io).wrap_err("no JSON-RPC answer from http://127.0.0.1:1").unwrap_err()
    }

    #[test]
    fn an_error_prints_its_chain_without_locations() {
        let text = error_text(&failed(), 0);
        assert_eq!(
            text,
            "Error: no JSON-RPC answer from http://127.0.0.1:1\n  caused by: connection refused"
        );
    }

    #[test]
    fn a_cause_that_repeats_the_line_before_is_shown_once() {
        let io = std::io::Error::other("connection refused");
        let err = eyre::Report::new(io).wrap_err("connection refused").wrap_err("no answer");
        assert_eq!(error_text(&err, 0), "Error: no answer\n  caused by: connection refused");
    }

    #[test]
    fn a_json_error_is_one_document_with_its_causes() {
        assert_eq!(
            error_json(&failed()),
            serde_json::json!({
                "error": "no JSON-RPC answer from http://127.0.0.1:1",
                "causes": ["connection refused"],
            })
        );
    }

    #[test]
    fn verbose_errors_show_the_full_report() {
        let text = error_text(&failed(), 1);
        assert!(text.contains("connection refused"), "{text}");
        assert!(text.contains("Location"), "{text}");
    }
}
