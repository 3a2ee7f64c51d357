//! A real Prometheus on loopback scrapes a tickless debug server every
//! second, with the shipped alerting rules (their `for:` cut to 1 s): every
//! rule and every dashboard query evaluates without error, every metric they
//! name is in the scrape, and the leak alert fires for a planted leak.
//! Skipped with a message when `prometheus` is not installed, a failure in CI.

mod support;

use std::collections::BTreeSet;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tickless::Driver;
use tickless_debug::{serve_with, Options};

/// How long any one wait of this test may last: generous, the machine is
/// shared; the whole test normally takes under 10 s.
const PATIENCE: Duration = Duration::from_secs(30);

/// A Prometheus server of this test: killed, and its directory removed, on drop.
struct Prometheus {
    child: Child,
    addr: SocketAddr,
    dir: PathBuf,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Prometheus {
    /// Starts `binary` scraping `target` every second, with `rules`, on a
    /// free loopback port; waits until it is ready.
    fn start(binary: &Path, target: SocketAddr, rules: &str) -> Prometheus {
        let dir = std::env::temp_dir().join(format!("tickless-prometheus-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("data")).unwrap();
        std::fs::write(dir.join("rules.yml"), rules).unwrap();
        let config = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             rule_files: [rules.yml]\n\
             scrape_configs:\n  - job_name: tickless\n    static_configs:\n      - targets: ['{target}']\n"
        );
        std::fs::write(dir.join("prometheus.yml"), config).unwrap();
        // A free port may be taken between our probe and Prometheus' bind:
        // then it exits, and we try another.
        for _ in 0..3 {
            let addr = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .unwrap();
            let log = std::fs::File::create(dir.join("log")).unwrap();
            let mut child = Command::new(binary)
                .arg(format!(
                    "--config.file={}",
                    dir.join("prometheus.yml").display()
                ))
                .arg(format!(
                    "--storage.tsdb.path={}",
                    dir.join("data").display()
                ))
                .arg(format!("--web.listen-address={addr}"))
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("start prometheus");
            let start = Instant::now();
            while start.elapsed() < PATIENCE {
                if let Ok(Some(_)) = child.try_wait() {
                    break; // exited: the port was taken, or worse (see the log)
                }
                if support::get(addr, "/-/ready").is_some_and(|(s, _)| s == 200) {
                    return Prometheus { child, addr, dir };
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let log = std::fs::read_to_string(dir.join("log")).unwrap_or_default();
        let _ = std::fs::remove_dir_all(&dir);
        panic!("prometheus did not start; its log:\n{log}");
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }

    /// GETs an API path and returns its `data`, failing on any error.
    fn api(&self, target: &str) -> Value {
        let (status, body) = support::get(self.addr, target)
            .unwrap_or_else(|| panic!("no answer to {target}; log: {}", self.log()));
        let json: Value =
            serde_json::from_str(&body).unwrap_or_else(|e| panic!("{target}: {e}: {body}"));
        assert!(
            status == 200 && json["status"] == "success",
            "{target}: {status} {body}"
        );
        json["data"].clone()
    }

    /// Evaluates `expr` now; its result vector.
    fn query(&self, expr: &str) -> Vec<Value> {
        let data = self.api(&format!("/api/v1/query?query={}", support::encode(expr)));
        match &data["result"] {
            Value::Array(result) => result.clone(),
            // A scalar or string result is one value.
            other => vec![other.clone()],
        }
    }

    /// Waits until `done` returns `Some`, or fails naming `what`.
    fn wait_for<T>(&self, what: &str, mut done: impl FnMut() -> Option<T>) -> T {
        let start = Instant::now();
        loop {
            if let Some(t) = done() {
                return t;
            }
            assert!(
                start.elapsed() < PATIENCE,
                "timed out waiting for {what}; log: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// The shipped rules with every `for:` cut to one second.
fn rules_with_short_for(shipped: &str) -> String {
    shipped
        .lines()
        .map(|line| match line.trim_start().strip_prefix("for:") {
            Some(_) => format!("{}for: 1s", &line[..line.len() - line.trim_start().len()]),
            None => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every PromQL query of the dashboard: its panels' `expr`s (rows nest
/// panels) and its variables' `label_values(metric, label)` as PromQL.
fn dashboard_queries(dashboard: &Value) -> Vec<String> {
    fn exprs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(map) => {
                for (k, v) in map {
                    match (k.as_str(), v) {
                        ("expr", Value::String(e)) => out.push(e.clone()),
                        _ => exprs(v, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| exprs(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    exprs(&dashboard["panels"], &mut out);
    for var in dashboard["templating"]["list"].as_array().unwrap() {
        if let Some(q) = var["query"]["query"].as_str() {
            let inner = q
                .strip_prefix("label_values(")
                .and_then(|q| q.strip_suffix(')'))
                .unwrap_or_else(|| panic!("variable query {q}: only label_values(…) is handled"));
            let (metric, label) = inner.rsplit_once(',').unwrap();
            out.push(format!("count by ({}) ({metric})", label.trim()));
        }
    }
    out
}

/// Every `tickless_…` metric name in `expr`, but the rules' recorded
/// series (`tickless_cache:hit_ratio:rate5m`: a colon, not exported).
fn metric_names(expr: &str) -> BTreeSet<String> {
    expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .filter(|w| w.starts_with("tickless_") && !w.contains(':'))
        .map(str::to_string)
        .collect()
}

#[test]
fn prometheus_scrapes_evaluates_every_rule_and_panel_and_fires_the_leak_alert() {
    let Some(binary) = support::tool("prometheus") else {
        return;
    };
    // The service: a driver with timers that fire, live ones, and a leak.
    let driver = Driver::builder().build().unwrap();
    let (_timers, leak_line) = support::busy_driver(&driver);
    let _sched = support::busy_scheduler(&driver);
    let cache = support::busy_cache(&driver);
    let stop = Arc::new(AtomicBool::new(false));
    let ticking = {
        let (driver, stop, cache) = (driver.handle().clone(), stop.clone(), cache.clone());
        // Timers keep firing and the cache keeps being read (a hit and a
        // miss each turn), so rates, lateness quantiles and the hit ratio
        // have data.
        std::thread::spawn(move || {
            // Relaxed: a stop flag; nothing else is published through it.
            while !stop.load(Ordering::Relaxed) {
                let _ = driver.timer(Duration::from_millis(5)).receiver().recv();
                cache.insert(7, 7);
                let _ = (cache.get(&7), cache.get(&u64::MAX));
            }
        })
    };
    let mut options = Options::default();
    options.handle = driver.handle().clone();
    let srv = serve_with("127.0.0.1:0", options).unwrap();
    let shipped = std::fs::read_to_string(support::rules_file()).unwrap();
    let prom = Prometheus::start(&binary, srv.local_addr(), &rules_with_short_for(&shipped));

    // Scraped: the target is up and a few samples are in.
    prom.wait_for("three scrapes", || {
        let r = prom.query("count_over_time(tickless_timers_live{job=\"tickless\"}[1m])");
        let n: f64 = r.first()?["value"][1].as_str()?.parse().ok()?;
        (n >= 3.0).then_some(())
    });

    // The planted leak fires its alert, naming the line.
    let leak = prom.wait_for("the leak alert to fire", || {
        let alerts = prom.api("/api/v1/alerts");
        alerts["alerts"]
            .as_array()?
            .iter()
            .find(|a| a["labels"]["alertname"] == "TicklessLeakSuspect" && a["state"] == "firing")
            .cloned()
    });
    assert_eq!(leak["labels"]["line"], leak_line.to_string(), "{leak}");
    assert!(
        leak["labels"]["file"]
            .as_str()
            .unwrap()
            .ends_with("support/mod.rs"),
        "{leak}"
    );
    assert_eq!(
        leak["annotations"]["description"]
            .as_str()
            .unwrap()
            .split(' ')
            .next(),
        Some("1500")
    );

    // Every shipped rule (alerting and recording) is loaded, evaluated
    // without error by the server, and evaluates without error through the
    // query API.
    let shipped_rules: BTreeSet<String> = shipped
        .lines()
        .filter_map(|l| {
            let l = l.trim_start();
            l.strip_prefix("- alert:")
                .or_else(|| l.strip_prefix("- record:"))
        })
        .map(|n| n.trim().to_string())
        .collect();
    let groups = prom.api("/api/v1/rules");
    let rules: Vec<Value> = groups["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap().clone())
        .collect();
    let loaded: BTreeSet<String> = rules
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(loaded, shipped_rules, "every shipped rule is loaded");
    prom.wait_for("every rule evaluated", || {
        let groups = prom.api("/api/v1/rules");
        let health: Vec<Value> = groups["groups"]
            .as_array()?
            .iter()
            .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
            .map(|r| {
                assert_ne!(r["health"], "err", "a rule failed to evaluate: {r}");
                r["health"].clone()
            })
            .collect();
        health.iter().all(|h| h == "ok").then_some(())
    });
    let mut names = BTreeSet::new();
    for rule in &rules {
        let expr = rule["query"].as_str().unwrap();
        prom.query(expr);
        names.extend(metric_names(expr));
    }

    // Every dashboard query evaluates, with data, at Grafana's variables set
    // to this target.
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(support::deploy().join("grafana/tickless.json")).unwrap(),
    )
    .unwrap();
    let queries = dashboard_queries(&dashboard);
    assert!(queries.len() >= 10, "{queries:?}");
    for q in &queries {
        let expr = q
            .replace("$__rate_interval", "10s")
            .replace("$job", "tickless")
            .replace("$instance", &srv.local_addr().to_string());
        let result = prom.query(&expr);
        assert!(!result.is_empty(), "no data for the dashboard query {expr}");
        names.extend(metric_names(&expr));
    }

    // Every metric the rules and the dashboard name is in a scrape: a typo
    // would otherwise evaluate to nothing, silently.
    let (_, scrape) = support::get(srv.local_addr(), "/metrics").unwrap();
    for name in &names {
        assert!(
            scrape
                .lines()
                .any(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} "))),
            "{name} is not exported"
        );
    }
    // Relaxed: see the loop.
    stop.store(true, Ordering::Relaxed);
    ticking.join().unwrap();
}
