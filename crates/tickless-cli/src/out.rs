//! Where each kind of output goes, for every subcommand:
//!
//! - tables (what was measured) on stdout — or on stderr when the JSON goes
//!   to stdout (`--json -`), so stdout is one JSON document;
//! - status notes ("json: FILE", "report: FILE", a skipped peer and how to
//!   add it) on stderr;
//! - progress bars on stderr, drawn only when stderr is a terminal
//!   ([`crate::progress`]);
//! - JSON, built with `serde_json`, to a file or to stdout.
//!
//! Every line goes through the progress bars' [`MultiProgress`], which
//! clears them before the line and redraws them after it: a row is never
//! glued onto a bar.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::LazyLock;

use indicatif::{MultiProgress, ProgressDrawTarget};

/// The bars of the phases running now; hidden when stderr is not a terminal.
pub(crate) static BARS: LazyLock<MultiProgress> =
    LazyLock::new(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));

/// Set by `--json -`: tables go to stderr, stdout carries only the JSON.
static TABLES_TO_STDERR: AtomicBool = AtomicBool::new(false);

/// A table line (or a result): stdout, or stderr under `--json -`. A closed
/// pipe (`| head`) is not an error worth a panic.
pub fn say(line: impl AsRef<str>) {
    // Relaxed: set once, before any measurement, by the same thread.
    if TABLES_TO_STDERR.load(Ordering::Relaxed) {
        note(line);
        return;
    }
    BARS.suspend(|| {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", line.as_ref());
        let _ = out.flush();
    });
}

/// A status note: always stderr.
pub fn note(line: impl AsRef<str>) {
    BARS.suspend(|| {
        let _ = writeln!(std::io::stderr().lock(), "{}", line.as_ref());
    });
}

/// Where `--json` writes: a file, or stdout for `-`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JsonTo {
    Stdout,
    File(PathBuf),
}

/// `--json`'s value parser: `-` is stdout, anything else a file; empty is refused.
pub fn json_to(text: &str) -> Result<JsonTo, String> {
    match text {
        "" => Err("an empty file name (use - for stdout)".into()),
        "-" => Ok(JsonTo::Stdout),
        path => Ok(JsonTo::File(PathBuf::from(path))),
    }
}

/// The `--json` help text shared by every measuring subcommand.
pub const JSON_HELP: &str = "Also write the results as JSON to FILE; with `-`, the JSON goes \
     to stdout and the tables to stderr (so `--json - | jq` reads one document)";

/// Call before measuring: with `--json -`, the tables move to stderr.
pub fn start(json: Option<&JsonTo>) {
    if json == Some(&JsonTo::Stdout) {
        // Relaxed: read by `say` on this thread (and by later threads it spawns).
        TABLES_TO_STDERR.store(true, Ordering::Relaxed);
    }
}

/// Writes `value` (pretty, with a final newline) where `--json` says; a
/// note names the file. `Err` says what could not be written.
pub fn write_json(to: &JsonTo, value: &serde_json::Value) -> Result<(), String> {
    let mut text =
        serde_json::to_string_pretty(value).map_err(|e| format!("cannot encode JSON: {e}"))?;
    text.push('\n');
    match to {
        JsonTo::Stdout => BARS.suspend(|| {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())
                .and_then(|()| out.flush())
                .map_err(|e| format!("cannot write JSON to stdout: {e}"))
        }),
        JsonTo::File(path) => {
            std::fs::write(path, text)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            note(format!("json: {}", path.display()));
            Ok(())
        }
    }
}

/// A finite number as JSON, anything else (`NaN`, `inf`) as `null`.
pub fn number(v: f64) -> serde_json::Value {
    serde_json::Number::from_f64(v).map_or(serde_json::Value::Null, serde_json::Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_destinations() {
        assert_eq!(json_to("-"), Ok(JsonTo::Stdout));
        assert_eq!(json_to("a.json"), Ok(JsonTo::File("a.json".into())));
        assert!(json_to("").is_err());
    }

    #[test]
    fn non_finite_numbers_are_null() {
        assert_eq!(number(f64::NAN), serde_json::Value::Null);
        assert_eq!(number(f64::INFINITY), serde_json::Value::Null);
        assert_eq!(number(1.5).to_string(), "1.5");
    }
}
