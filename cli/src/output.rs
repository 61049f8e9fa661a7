//! The command line's one way to the terminal.
//!
//! Results go to stdout, one line at a time ([`out!`]); progress and errors go to stderr
//! ([`progress`], [`progress_end`], [`error`]). The workspace's `clippy.toml` disallows
//! `println!`, `eprintln!`, `print!`, `eprint!` and `dbg!` everywhere else, so everything the CLI
//! prints passes through this module and stdout carries results only.
#![allow(clippy::disallowed_macros, reason = "the one module allowed to print")]

use std::fmt;

/// Prints one line of results to stdout, with `println!`'s arguments.
macro_rules! out {
    () => {
        $crate::output::line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::output::line(format_args!($($arg)*))
    };
}
pub(crate) use out;

/// Writes `args` and a newline to stdout (what [`out!`] expands to).
pub fn line(args: fmt::Arguments<'_>) {
    println!("{args}");
}

/// Writes `args` to stderr without a newline: a progress line redrawn in place (`\r`).
pub fn progress(args: fmt::Arguments<'_>) {
    eprint!("{args}");
}

/// Ends a progress line on stderr.
pub fn progress_end() {
    eprintln!();
}

/// Reports a failed command on stderr with its chain of causes (`main`'s last word).
pub fn error(err: &eyre::Report) {
    eprintln!("Error: {err:?}");
}
