//! Where the `tickless` command's output goes: tables on stdout, notes and
//! progress on stderr, JSON on stdout with `--json -`, and — on a terminal —
//! progress bars that never share a line with a table row.

mod support;

use std::process::Command;

use support::{text, tickless};

/// What a terminal shows of one line of output: `\r` moves back to the
/// first column, text overwrites, `ESC [ 2K` clears the line and `ESC [ K`
/// the rest of it; other escape sequences (cursor visibility) show nothing.
fn rendered(line: &str) -> String {
    let mut screen: Vec<char> = Vec::new();
    let mut cursor = 0;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\r' => cursor = 0,
            '\u{1b}' => {
                let mut params = String::new();
                if chars.next() != Some('[') {
                    continue;
                }
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        match (c, params.as_str()) {
                            ('K', "2") => screen.clear(),
                            ('K', "" | "0") => screen.truncate(cursor),
                            _ => {}
                        }
                        break;
                    }
                    params.push(c);
                }
            }
            c => {
                if cursor < screen.len() {
                    screen[cursor] = c;
                } else {
                    screen.resize(cursor, ' ');
                    screen.push(c);
                }
                cursor += 1;
            }
        }
    }
    screen.into_iter().collect()
}

/// Runs `args` under a pseudo-terminal (util-linux `script`), stdout and
/// stderr both on it; `None` when `script` is not installed.
fn on_a_terminal(args: &str) -> Option<String> {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: `script` (util-linux) is not installed");
        return None;
    }
    let command = format!("'{}' {args}", env!("CARGO_BIN_EXE_tickless"));
    let o = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("TERM", "xterm")
        .env("COLUMNS", "100")
        .env("NO_COLOR", "1")
        .output()
        .expect("run script");
    assert!(o.status.success(), "{args}: {}", text(&o.stdout));
    Some(text(&o.stdout))
}

/// Every line holding a table row shows the row alone: nothing of a
/// progress bar before it (glued) or after it (overwritten, not cleared).
fn rows_stand_alone(out: &str, row_start: &str) -> usize {
    let mut rows = 0;
    for line in out.split('\n').filter(|l| l.contains(row_start)) {
        let shown = rendered(line);
        assert!(
            shown.starts_with(row_start) && shown.trim_end().ends_with('|'),
            "a row shares its line with a bar: {shown:?} (written as {line:?})\n{out}"
        );
        rows += 1;
    }
    rows
}

#[test]
fn the_terminal_model_catches_a_glued_row() {
    // What `precision` wrote before indicatif: a bar, then the row after it.
    assert_eq!(
        rendered("\rwakeup precision [##--] 10%| 200 | x |"),
        "wakeup precision [##--] 10%| 200 | x |"
    );
    assert_eq!(
        rendered("a long progress bar\r| 200 |"),
        "| 200 |progress bar"
    );
    assert_eq!(rendered("bar [##]\r\u{1b}[2K| 200 |\r"), "| 200 |");
}

#[test]
fn on_a_terminal_rows_never_share_a_line_with_a_progress_bar() {
    // precision: a bar updated between rows (not ticking: it measures CPU).
    let Some(out) = on_a_terminal("precision --hz 200 --secs 0.02") else {
        return;
    };
    assert!(
        out.contains("wakeup precision [") && out.contains("\u{1b}[2K"),
        "a bar was drawn and cleared on the terminal:\n{out:?}"
    );
    assert_eq!(rows_stand_alone(&out, "| 200 |"), 10, "{out}");
    // bench: bars that tick from their own thread while a phase runs.
    let out = on_a_terminal("bench --quick --only churn").unwrap();
    assert!(out.contains("churn ["), "{out:?}");
    assert_eq!(rows_stand_alone(&out, "| churn: "), 1, "{out}");
}

#[test]
fn json_to_stdout_is_one_document_and_the_tables_go_to_stderr() {
    let o = tickless(&["precision", "--hz", "200", "--secs", "0.02", "--json", "-"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("stdout is JSON");
    let rows = doc["wakeup_mechanisms"]
        .as_array()
        .expect("an array of rows");
    assert_eq!(rows.len(), 10, "5 mechanisms × 2 slack settings: {doc}");
    for table in ["sleep_1ms_lateness", "random_deadlines_10k"] {
        let peers: Vec<_> = doc[table]
            .as_array()
            .unwrap_or_else(|| panic!("{table}: {doc}"))
            .iter()
            .map(|r| r["implementation"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(peers, ["tickless", "tokio", "async-io"], "{table}: {doc}");
    }
    assert_eq!(rows[0]["hz"], 200);
    assert!(
        rows.iter().all(|r| r["wakeups"].as_u64() >= Some(3)),
        "{doc}"
    );
    assert!(
        rows.iter()
            .any(|r| r["mechanism"] == "timerfd + epoll_wait" && r["timer_slack"] == "1 ns"),
        "{doc}"
    );
    let err = text(&o.stderr);
    assert!(
        err.contains("| Hz | mechanism |"),
        "the table, on stderr: {err}"
    );
    // Not a terminal: no bar drawn, only plain lines.
    assert!(!err.contains('\r') && !err.contains('\u{1b}'), "{err:?}");

    let o = tickless(&["bench", "--quick", "--only", "timeout", "--json", "-"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("stdout is JSON");
    assert_eq!(
        doc[0]["scenario"], "timeout around a future pending once",
        "{doc}"
    );
    for peer in ["tickless", "tokio", "async-io", "futures-timer"] {
        assert!(
            doc[0]["results"][peer].as_f64() > Some(0.0),
            "{peer}: {doc}"
        );
    }
    assert!(text(&o.stderr).contains("| timeout around a future pending once |"));
}

#[test]
fn status_notes_go_to_stderr() {
    let json = std::env::temp_dir().join(format!("tickless-notes-{}.json", std::process::id()));
    let o = tickless(&[
        "precision",
        "--hz",
        "100",
        "--secs",
        "0.03",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    // stdout: the tables, each after a blank line and its caption, and
    // nothing else.
    assert!(
        out.lines()
            .all(|l| l.is_empty() || l.starts_with('|') || l.ends_with(':')),
        "only tables on stdout:\n{out}"
    );
    assert_eq!(
        out.lines().filter(|l| l.starts_with('|')).count(),
        12 + 5 + 5,
        "header, rule, 10 rows; then two tables of 3 rows:\n{out}"
    );
    assert!(err.contains(&format!("json: {}", json.display())), "{err}");
    assert!(err.contains("wakeup precision done in"), "{err}");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(doc["wakeup_mechanisms"].as_array().map(Vec::len), Some(10));
    let _ = std::fs::remove_file(json);
}

#[test]
fn range_errors_are_clap_errors() {
    for args in [
        &["bench", "--only", "no-such-scenario"][..],
        &["bench", "--only", ""],
        &["bench", "sched", "--only", "no-such-scenario"],
        &["bench", "sched", "--secs", "0"],
        &["bench", "sched", "--overload-secs", "nan"],
        &["bench", "server", "--idle", "0"],
        &["bench", "server", "--slow", "0"],
        &["bench", "server", "--duration", "0"],
        &["soak", "--threads", "0"],
        &["soak", "--threads", "65"],
        &["demo", "--live", "1000,,5"],
        &["demo", "--live", "abc"],
        &["precision", "--hz", "10,x"],
        &["precision", "--json", ""],
    ] {
        let o = tickless(args);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.starts_with("error: invalid value") && err.contains("For more information"),
            "{args:?}: not clap's message: {err}"
        );
        assert!(o.stdout.is_empty(), "{args:?}");
    }
    // A suite's flags are its own: bench's `--only` before a suite is refused.
    let o = tickless(&["bench", "--only", "churn", "sched"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(text(&o.stderr).starts_with("error:"));
}
