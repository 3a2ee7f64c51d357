//! The `tickless` command through its real binary.

mod support;

use std::process::{Command, Output};

use support::tickless;

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn help_lists_demo() {
    let o = tickless(&["--help"]);
    assert!(o.status.success());
    for sub in ["demo", "bench", "precision", "soak"] {
        assert!(stdout(&o).contains(sub), "{}", stdout(&o));
        assert!(tickless(&[sub, "--help"]).status.success());
    }
    let o = tickless(&["demo", "--help"]);
    assert!(o.status.success());
    assert!(stdout(&o).contains("--quick"));
}

#[test]
fn version_matches_the_crate() {
    let o = tickless(&["--version"]);
    assert!(o.status.success());
    assert_eq!(
        stdout(&o).trim(),
        format!("tickless {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn bad_flags_exit_with_usage_error() {
    let o = tickless(&["demo", "--no-such-flag"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("Usage"));
    let o = tickless(&[]);
    assert_eq!(o.status.code(), Some(2), "a subcommand is required");
    let o = tickless(&["bench", "no-such-suite"]);
    assert_eq!(o.status.code(), Some(2), "an unknown bench suite");
    let o = tickless(&["demo", "--live", "0"]);
    assert_eq!(o.status.code(), Some(2), "zero live timers is rejected");
    // Out-of-range values are clap errors that say the range, never a
    // capacity-overflow panic or a run of minutes (issue 17, item 16).
    for args in [
        &["demo", "--live", "18446744073709551615"][..],
        &["demo", "--live", "100000000000"],
        &["demo", "--iterations", "0"],
        &["precision", "--hz", "10000000"],
        &["precision", "--hz", "0"],
        &["precision", "--secs", "0"],
        &["precision", "--secs", "nan"],
        &["precision", "--secs", "1e9"],
    ] {
        let o = tickless(args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("invalid value"),
            "{args:?}: not a clap error: {err}"
        );
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

#[test]
fn quick_demo_prints_every_table() {
    let report = std::env::temp_dir().join(format!("tickless-report-{}.html", std::process::id()));
    let json = report.with_extension("json");
    let o = tickless(&[
        "demo",
        "--quick",
        "--report",
        report.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    let out = stdout(&o);
    // Status notes on stderr only.
    assert!(
        err.contains(&format!("report: {}", report.display())),
        "{err}"
    );
    assert!(err.contains(&format!("json: {}", json.display())), "{err}");
    assert!(
        !out.contains("report: ") && !out.contains("json: ") && !out.contains("done in"),
        "{out}"
    );
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).expect("valid JSON");
    let _ = std::fs::remove_file(&json);
    assert_eq!(doc["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(doc["leak"][0]["implementation"], "tickless after, select!");
    assert_eq!(doc["leak"][0]["iterations"], 20_000);
    assert_eq!(doc["queues"].as_array().map(Vec::len), Some(3), "{doc}");
    // The wheel's timeout churn at 1K live, in ns: measured, positive.
    let wheel = doc["queues"][0]["rows"][0]["results"]
        .as_object()
        .and_then(|r| r.values().next())
        .and_then(|v| v.as_f64());
    assert!(wheel > Some(0.0), "{doc}");
    assert_eq!(doc["sched"].as_array().map(Vec::len), Some(3), "{doc}");
    let o = &doc["overload"];
    assert_eq!(
        o["completed"].as_u64().unwrap() + o["rejected"].as_u64().unwrap(),
        o["offered"].as_u64().unwrap(),
        "{doc}"
    );
    for needle in [
        "timeout churn",
        "expiry throughput",
        "bytes per pending timer",
        "| 1K live |",
        "| 100K live |",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in:\n{out}");
    }
    // Every measured cell is a number with a unit; no placeholders.
    let wheel_cells: Vec<f64> = out
        .lines()
        .filter(|l| l.starts_with("| 1") && l.contains(" live"))
        .map(|l| {
            let cell = l.split('|').nth(2).unwrap().trim();
            cell.split_whitespace()
                .next()
                .unwrap()
                .parse::<f64>()
                .unwrap_or_else(|_| panic!("bad cell {cell:?}"))
        })
        .collect();
    assert_eq!(
        wheel_cells.len(),
        8,
        "2 churn + 4 expiry + 2 memory rows:\n{out}"
    );
    assert!(
        wheel_cells.iter().all(|v| v.is_finite() && *v > 0.0),
        "{wheel_cells:?}"
    );
}

#[test]
fn quick_bench_prints_ratios_and_json() {
    let json = std::env::temp_dir().join(format!("tickless-bench-{}.json", std::process::id()));
    let o = tickless(&[
        "bench",
        "--quick",
        "--only",
        "churn",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = stdout(&o);
    // A real markdown table: a column per implementation, a ratio in each
    // cell after the first.
    assert!(
        out.contains("| scenario | unit | better | tickless | tokio | async-io | futures-timer |"),
        "{out}"
    );
    let row = out
        .lines()
        .find(|l| l.starts_with("| churn: create, first poll, drop | ns/op | lower |"))
        .unwrap_or_else(|| panic!("no churn row:\n{out}"));
    let cells: Vec<&str> = row.trim_matches('|').split('|').map(str::trim).collect();
    assert_eq!(cells.len(), 7, "{row}");
    assert!(cells[3].parse::<f64>().is_ok(), "{row}");
    assert!(cells[4..].iter().all(|c| c.ends_with("×)")), "{row}");
    let text = std::fs::read_to_string(&json).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    assert_eq!(
        doc[0]["scenario"], "churn: create, first poll, drop",
        "{text}"
    );
    assert!(doc[0]["results"]["tokio"].as_f64().unwrap() > 0.0, "{text}");
    let _ = std::fs::remove_file(json);
    assert_eq!(
        tickless(&["bench", "--only", "no-such-scenario"])
            .status
            .code(),
        Some(2)
    );
}

/// The overload scenario alone (no Java, well under a second of load):
/// its table, its exact accounting under `Abort`, and its JSON.
#[test]
fn quick_bench_sched_overload_accounts_exactly() {
    let json = std::env::temp_dir().join(format!("tickless-sched-{}.json", std::process::id()));
    let o = tickless(&[
        "bench",
        "sched",
        "--quick",
        "--only",
        "overload",
        "--overload-secs",
        "0.2",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = stdout(&o);
    assert!(out.contains("offered rate | jobs/s | higher |"), "{out}");
    for policy in ["abort:", "caller_runs:", "block:"] {
        assert!(out.contains(policy), "missing {policy}:\n{out}");
    }
    assert!(
        out.contains("rejected + completed == offered:") && !out.contains("MISMATCH"),
        "{out}"
    );
    let text = std::fs::read_to_string(&json).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    let first = doc[0]["scenario"].as_str().unwrap_or_default();
    assert!(first.starts_with("overload"), "{text}");
    let _ = std::fs::remove_file(json);
    assert_eq!(
        tickless(&["bench", "sched", "--only", "no-such-scenario"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn quick_precision_measures_every_mechanism() {
    let o = tickless(&["precision", "--hz", "200", "--secs", "0.02"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = stdout(&o);
    let rows: Vec<&str> = out.lines().filter(|l| l.starts_with("| 200 |")).collect();
    assert_eq!(rows.len(), 10, "5 mechanisms × 2 slack settings:\n{out}");
    for m in [
        "nanosleep",
        "futex",
        "timerfd + epoll_wait",
        "tickless",
        "tokio interval",
    ] {
        assert!(out.contains(m), "missing {m}:\n{out}");
    }
    assert_eq!(tickless(&["precision", "--hz", "0"]).status.code(), Some(2));
    assert_eq!(
        tickless(&["precision", "--secs", "-1"]).status.code(),
        Some(2)
    );
}

#[test]
fn ctrl_c_stops_cleanly_and_still_reports() {
    let report =
        std::env::temp_dir().join(format!("tickless-interrupted-{}.html", std::process::id()));
    let child = Command::new(env!("CARGO_BIN_EXE_tickless"))
        .args([
            "demo",
            "--iterations",
            "200000000",
            "--report",
            report.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let o = child.wait_with_output().unwrap();
    let out = stdout(&o);
    assert_eq!(
        o.status.code(),
        Some(130),
        "interrupted: 128 + SIGINT, after a clean finish: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        out.contains("| tickless after, select! |"),
        "the interrupted measurement is printed:\n{out}"
    );
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("interrupted: the phases above are what was measured"),
        "a status note, on stderr"
    );
    assert!(report.exists(), "the report is still written");
    let _ = std::fs::remove_file(report);
}

#[test]
fn soak_runs_its_checkers_and_reports() {
    let json = std::env::temp_dir().join(format!("tickless-soak-{}.json", std::process::id()));
    let o = tickless(&[
        "soak",
        "--secs",
        "1",
        "--threads",
        "2",
        "--json",
        json.to_str().unwrap(),
    ]);
    let out = stdout(&o);
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).expect("valid JSON");
    let _ = std::fs::remove_file(&json);
    assert_eq!(doc["ok"], true, "{doc}");
    assert_eq!(doc["threads"], 2);
    assert!(doc["ops"].as_u64() > Some(0), "{doc}");
    assert_eq!(doc["violations"]["early"], 0, "{doc}");
    assert!(
        o.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        out.contains("early 0, lost 0, stale 0, twice 0, panics 0"),
        "{out}"
    );
    assert!(out.trim_end().ends_with("soak: ok"), "{out}");
    let bad = tickless(&["soak", "--secs", "0"]);
    assert!(!bad.status.success(), "out of range is a clap error");
}
