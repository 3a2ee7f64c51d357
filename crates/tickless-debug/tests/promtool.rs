//! Prometheus' own checker on what tickless ships: `promtool check rules`
//! and `promtool test rules` on `deploy/prometheus/`, and `promtool check
//! metrics` on a real scrape of the debug server's `/metrics`. Skipped with
//! a message when promtool is not installed, a failure in CI.

mod support;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use tickless::Driver;
use tickless_debug::{serve_with, Options};

fn report(what: &str, out: &Output) -> String {
    format!(
        "{what}: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn shipped_rules_pass_check_and_unit_tests() {
    let Some(promtool) = support::tool("promtool") else {
        return;
    };
    let out = Command::new(&promtool)
        .arg("check")
        .arg("rules")
        .arg(support::rules_file())
        .output()
        .expect("run promtool");
    assert!(out.status.success(), "{}", report("check rules", &out));
    let tests = support::rule_tests();
    assert!(
        !tests.is_empty(),
        "no rule tests in deploy/prometheus/tests"
    );
    let out = Command::new(&promtool)
        .args(["test", "rules"])
        .args(&tests)
        .output()
        .expect("run promtool");
    assert!(out.status.success(), "{}", report("test rules", &out));
}

#[test]
fn a_real_scrape_passes_check_metrics() {
    let Some(promtool) = support::tool("promtool") else {
        return;
    };
    let driver = Driver::builder().build().unwrap();
    let (_timers, _) = support::busy_driver(&driver);
    let _sched = support::busy_scheduler(&driver);
    let _cache = support::busy_cache(&driver);
    let mut options = Options::default();
    options.handle = driver.handle().clone();
    let srv = serve_with("127.0.0.1:0", options).unwrap();
    let (status, scrape) = support::get(srv.local_addr(), "/metrics").expect("a scrape");
    assert_eq!(status, 200);
    for family in [
        "tickless_fire_lateness_seconds_bucket{",
        "tickless_leak_suspect_live_timers{",
        "tickless_call_site_live_timers{",
        "tickless_cache_hit_ratio{",
        "tickless_cache_evictions_total{",
    ] {
        assert!(scrape.contains(family), "{family} missing from\n{scrape}");
    }
    let mut child = Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(scrape.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    // Success and silence: lint findings (names, units, help) print and
    // fail the check.
    assert!(out.status.success(), "{}", report("check metrics", &out));
    assert!(
        out.stdout.is_empty() && out.stderr.is_empty(),
        "{}",
        report("check metrics", &out)
    );
}
