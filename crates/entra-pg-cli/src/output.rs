//! Terminal output: colour and a spinner on a terminal, neither when output is
//! piped or `NO_COLOR` is set (`anstream` strips the colour; `indicatif` hides
//! the spinner off a terminal).

use std::{io::Write as _, time::Duration};

use anstyle::{AnsiColor, Style};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

const GREEN: Style = AnsiColor::Green.on_default().bold();
const RED: Style = AnsiColor::Red.on_default().bold();
const DIM: Style = Style::new().dimmed();
const BOLD: Style = Style::new().bold();

/// A line to stdout.
pub(crate) fn line(text: &str) {
    let mut out = anstream::stdout();
    let _ = writeln!(out, "{text}");
}

/// A `key: value` line.
pub(crate) fn field(key: &str, value: &str) {
    let mut out = anstream::stdout();
    let _ = writeln!(out, "{BOLD}{key:>18}{BOLD:#}  {value}");
}

/// An error to stderr.
pub(crate) fn error(text: &str) {
    let mut err = anstream::stderr();
    let _ = writeln!(err, "{RED}error:{RED:#} {text}");
}

/// One step's result line: mark, name, time, detail.
pub(crate) fn step(ok: bool, name: &str, millis: u128, detail: &str) {
    let mut out = anstream::stdout();
    let (style, mark) = if ok {
        (GREEN, "✓ pass")
    } else {
        (RED, "✗ FAIL")
    };
    let _ = writeln!(
        out,
        "{style}{mark}{style:#}  {BOLD}{name:<14}{BOLD:#} {DIM}{millis:>6} ms{DIM:#}  {detail}"
    );
}

/// A hint under a failed step.
pub(crate) fn hint(text: &str) {
    let mut out = anstream::stdout();
    let _ = writeln!(out, "                      → {text}");
}

/// A spinner on stderr while a step waits (hidden off a terminal).
pub(crate) fn spinner(message: &str) -> ProgressBar {
    let spinner = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    if std::env::var_os("NO_COLOR").is_some() {
        spinner.set_draw_target(ProgressDrawTarget::hidden());
    }
    spinner.set_style(
        ProgressStyle::with_template("{spinner} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    spinner.set_message(message.to_owned());
    spinner.enable_steady_tick(Duration::from_millis(100));
    spinner
}
