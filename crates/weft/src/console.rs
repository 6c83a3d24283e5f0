//! All user-facing output: colour (only on a terminal, never with NO_COLOR),
//! text and JSON, and diagnostics in a compiler-like layout.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use weft_model::config::ConfigError;
use weft_model::{Diagnostic, Severity};

use crate::cli::ColorChoice;
use crate::exit::UsageError;

static STDOUT_COLOR: AtomicBool = AtomicBool::new(false);
static STDERR_COLOR: AtomicBool = AtomicBool::new(false);

pub(crate) fn init(choice: ColorChoice) {
    let allowed = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::env::var("TERM").map_or(true, |t| t != "dumb");
    let (out, err) = match choice {
        ColorChoice::Always => (true, true),
        ColorChoice::Never => (false, false),
        ColorChoice::Auto => (
            allowed && std::io::stdout().is_terminal(),
            allowed && std::io::stderr().is_terminal(),
        ),
    };
    STDOUT_COLOR.store(out, Ordering::Relaxed);
    STDERR_COLOR.store(err, Ordering::Relaxed);
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Style {
    Bold,
    Dim,
    Red,
    Yellow,
    Green,
    Cyan,
}

impl Style {
    fn code(self) -> &'static str {
        match self {
            Style::Bold => "1",
            Style::Dim => "2",
            Style::Red => "1;31",
            Style::Yellow => "1;33",
            Style::Green => "32",
            Style::Cyan => "36",
        }
    }
}

fn paint_if(enabled: bool, style: Style, text: impl AsRef<str>) -> String {
    let text = text.as_ref();
    if enabled {
        format!("\x1b[{}m{text}\x1b[0m", style.code())
    } else {
        text.to_string()
    }
}

/// Colours text bound for standard output with a raw SGR code (`"35"`).
pub(crate) fn paint_code(code: &str, text: impl AsRef<str>) -> String {
    let text = text.as_ref();
    if STDOUT_COLOR.load(Ordering::Relaxed) {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

/// Styles text bound for standard output.
pub(crate) fn paint(style: Style, text: impl AsRef<str>) -> String {
    paint_if(STDOUT_COLOR.load(Ordering::Relaxed), style, text)
}

fn paint_err(style: Style, text: impl AsRef<str>) -> String {
    paint_if(STDERR_COLOR.load(Ordering::Relaxed), style, text)
}

/// A severity as a coloured word: `error`, `warning`, `note`.
pub(crate) fn severity(severity: weft_model::Severity) -> String {
    match severity {
        weft_model::Severity::Error => paint(Style::Red, "error"),
        weft_model::Severity::Warning => paint(Style::Yellow, "warning"),
        weft_model::Severity::Note => paint(Style::Cyan, "note"),
    }
}

/// `1 service`, `2 services`, `3 repositories`.
pub(crate) fn count(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else if let Some(stem) = word
        .strip_suffix('y')
        .filter(|stem| !stem.ends_with(['a', 'e', 'o', 'u']))
    {
        format!("{n} {stem}ies")
    } else {
        format!("{n} {word}s")
    }
}

/// Writes text to standard output. A closed pipe (`weft graph | head`) ends
/// output quietly rather than with a panic.
pub(crate) fn out(text: &str) {
    let mut stdout = std::io::stdout().lock();
    if stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .is_err()
    {
        std::process::exit(0);
    }
}

/// Writes text to standard output, going on when nobody reads it any more:
/// for work that must finish whatever happens to its output (a release that
/// `| head` stopped reading).
pub(crate) fn out_or_ignore(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush());
}

/// Writes a value as pretty JSON to standard output.
pub(crate) fn json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    out(&text);
    Ok(())
}

/// Dims a note bound for standard error.
pub(crate) fn paint_note(text: &str) -> String {
    paint_err(Style::Dim, text)
}

/// Rewrites the progress line on standard error, only when it is a
/// terminal; `None` clears it.
pub(crate) fn progress(text: Option<&str>) {
    let mut stderr = std::io::stderr().lock();
    if !stderr.is_terminal() {
        return;
    }
    let _ = match text {
        Some(text) => write!(stderr, "\r\x1b[2K{text}"),
        None => write!(stderr, "\r\x1b[2K"),
    };
    let _ = stderr.flush();
}

/// Writes a line to standard error (progress and summaries for people).
pub(crate) fn note(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

/// Renders one diagnostic like a compiler message.
pub(crate) fn render(diagnostic: &Diagnostic, color: bool) -> String {
    let (label, style) = match diagnostic.severity {
        Severity::Error => ("error", Style::Red),
        Severity::Warning => ("warning", Style::Yellow),
        Severity::Note => ("note", Style::Cyan),
    };
    let mut text = format!(
        "{}{} {}\n",
        paint_if(color, style, format!("{label}[{}]", diagnostic.code)),
        paint_if(color, Style::Bold, ":"),
        paint_if(color, Style::Bold, &diagnostic.message)
    );
    if let Some(location) = diagnostic.location() {
        text.push_str(&format!(
            "  {} {location}\n",
            paint_if(color, Style::Cyan, "-->")
        ));
    }
    if let (Some(snippet), Some(line)) = (&diagnostic.snippet, diagnostic.line) {
        let gutter = line.to_string();
        let pad = " ".repeat(gutter.len());
        let bar = paint_if(color, Style::Cyan, "|");
        text.push_str(&format!(" {pad} {bar}\n"));
        text.push_str(&format!(
            " {} {bar} {snippet}\n",
            paint_if(color, Style::Cyan, &gutter)
        ));
        if let Some(column) = diagnostic.column {
            let prefix: String = snippet
                .chars()
                .take(column.saturating_sub(1) as usize)
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            text.push_str(&format!(
                " {pad} {bar} {prefix}{}\n",
                paint_if(color, style, "^")
            ));
        }
    }
    if let Some(hint) = &diagnostic.hint {
        text.push_str(&format!(
            "  {} {hint}\n",
            paint_if(color, Style::Cyan, "= hint:")
        ));
    }
    text
}

/// Prints diagnostics to standard error: errors and warnings in full, notes
/// only when `verbose`, and a count of what was not shown.
pub(crate) fn diagnostics(diagnostics: &[Diagnostic], verbose: bool) {
    let color = STDERR_COLOR.load(Ordering::Relaxed);
    let mut stderr = std::io::stderr().lock();
    let mut hidden = 0;
    for diagnostic in diagnostics {
        if diagnostic.severity == Severity::Note && !verbose {
            hidden += 1;
            continue;
        }
        let _ = writeln!(stderr, "{}", render(diagnostic, color));
    }
    if hidden > 0 {
        let _ = writeln!(
            stderr,
            "{}",
            paint_err(
                Style::Dim,
                format!("({hidden} notes not shown; `weft check --verbose` shows them)")
            )
        );
    }
}

/// A one-line count of diagnostics for the end of a command's output.
pub(crate) fn diagnostic_summary(diagnostics: &[Diagnostic]) -> Option<String> {
    let count = |severity| {
        diagnostics
            .iter()
            .filter(|d| d.severity == severity)
            .count()
    };
    let (errors, warnings) = (count(Severity::Error), count(Severity::Warning));
    if errors + warnings == 0 {
        return None;
    }
    Some(format!(
        "{errors} error{} and {warnings} warning{} in input files; `weft check` shows them",
        if errors == 1 { "" } else { "s" },
        if warnings == 1 { "" } else { "s" }
    ))
}

/// Prints a command's failure to standard error.
pub(crate) fn error(error: &anyhow::Error) {
    let color = STDERR_COLOR.load(Ordering::Relaxed);
    let mut stderr = std::io::stderr().lock();
    if let Some(weft_discover::DiscoverError::Config(ConfigError::Invalid { diagnostic })) =
        error.downcast_ref::<weft_discover::DiscoverError>()
    {
        let _ = write!(stderr, "{}", render(diagnostic, color));
        return;
    }
    let mut message = format!("{} {error}", paint_if(color, Style::Red, "error:"));
    for cause in error.chain().skip(1) {
        message.push_str(&format!("\n  caused by: {cause}"));
    }
    let _ = writeln!(stderr, "{message}");
    if let Some(hint) = error
        .downcast_ref::<UsageError>()
        .and_then(|e| e.hint.as_deref())
    {
        let _ = writeln!(
            stderr,
            "  {} {hint}",
            paint_if(color, Style::Cyan, "= hint:")
        );
    }
}
