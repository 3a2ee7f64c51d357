//! Counters, call sites, leak suspects and exporters, on ManualClock drivers.

mod support;

use std::time::Duration;

use tickless::observe::SuspectReason;

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

use support::manual_driver as driver;

#[test]
fn counters_and_call_sites() {
    let (clock, driver) = driver();
    let line = line!() + 2;
    let timers: Vec<_> = (0..10)
        .map(|i| driver.handle().timer(secs(10 + i)))
        .collect();
    clock.advance(secs(5));
    let mut timers = timers;
    timers.truncate(7); // 3 cancelled
    clock.advance(secs(6)); // t=11: the 10 s and 11 s timers fire
    let s = driver.handle().snapshot();
    assert_eq!(s.counters.created, 10);
    assert_eq!(s.counters.cancelled, 3);
    assert_eq!(s.counters.fired, 2);
    assert_eq!(s.counters.live, 5);
    assert_eq!(s.lateness.iter().map(|b| b.count).sum::<u64>(), 2);
    let site = s
        .sites
        .iter()
        .find(|x| x.line == line)
        .expect("the call site is listed");
    assert!(site.file.ends_with("observe.rs"));
    assert_eq!(
        (site.live, site.created, site.fired, site.cancelled),
        (5, 10, 2, 3)
    );
    assert_eq!(site.oldest_live_age, Some(secs(11)));
    assert_eq!(
        site.farthest_deadline,
        Some(secs(5)),
        "the 16 s timer, 5 s from now"
    );
    drop(timers);
}

#[test]
fn planted_leak_is_named_and_healthy_code_is_not() {
    let (clock, driver) = driver();
    let leak_line = line!() + 4;
    for round in 0..4 {
        // The leak: detached one-hour callbacks, created in a loop.
        for _ in 0..500 {
            driver.handle().after_func(secs(3600), || {}).detach();
        }
        // Healthy: timeouts created and dropped (cancelled) every round.
        let healthy: Vec<_> = (0..500).map(|_| driver.handle().timer(secs(30))).collect();
        drop(healthy);
        let s = driver.handle().snapshot();
        let suspects = s.leak_suspects();
        assert!(
            suspects.iter().all(|x| x.site.line == leak_line),
            "healthy code suspected: {suspects:?}"
        );
        match round {
            0 => assert!(
                suspects.is_empty(),
                "500 timers, one snapshot: too early to tell"
            ),
            // 1000 live, all an hour out: the far-future shape.
            1 => assert!(matches!(
                suspects[0].reason,
                SuspectReason::FarFuture {
                    far: 1000,
                    live: 1000
                }
            )),
            // Three or more snapshots, never falling: growing.
            _ => assert!(
                matches!(suspects[0].reason, SuspectReason::Growing { from: 500, .. }),
                "{:?}",
                suspects[0].reason
            ),
        }
        clock.advance(secs(1));
    }
}

#[test]
fn far_future_bulk_is_suspected() {
    let (_clock, driver) = driver();
    let line = line!() + 2;
    let far: Vec<_> = (0..1500)
        .map(|_| driver.handle().timer(secs(3600)))
        .collect();
    let near: Vec<_> = (0..1500).map(|_| driver.handle().timer(secs(5))).collect();
    let s = driver.handle().snapshot();
    let suspects = s.leak_suspects();
    assert_eq!(suspects.len(), 1, "{suspects:?}");
    assert_eq!(suspects[0].site.line, line);
    assert_eq!(
        suspects[0].reason,
        SuspectReason::FarFuture {
            far: 1500,
            live: 1500
        }
    );
    // Exported: the count, and the suspect's live timers by site and reason.
    let text = s.to_prometheus();
    assert!(
        text.lines().any(|l| l == "tickless_leak_suspects 1"),
        "{text}"
    );
    let series = text
        .lines()
        .find(|l| l.starts_with("tickless_leak_suspect_live_timers{"))
        .expect("a suspect series");
    assert!(series.contains(&format!("line=\"{line}\"")), "{series}");
    assert!(series.contains("reason=\"far_future\""), "{series}");
    assert!(series.ends_with("} 1500"), "{series}");
    drop((far, near));
}

#[test]
fn prometheus_text_parses_back() {
    let (clock, driver) = driver();
    let line = line!() + 1;
    let timers: Vec<_> = (0..4).map(|_| driver.handle().timer(secs(60))).collect();
    let _fired = driver.handle().timer(secs(1));
    clock.advance(secs(1));
    let text = driver.handle().snapshot().to_prometheus();
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string())))
        .expect("valid exposition");
    let value = |name: &str| -> f64 {
        match scrape
            .samples
            .iter()
            .find(|s| s.metric == name)
            .map(|s| &s.value)
        {
            Some(
                prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Untyped(v),
            ) => *v,
            other => panic!("{name}: {other:?}"),
        }
    };
    assert_eq!(value("tickless_timers_live"), 4.0);
    assert_eq!(value("tickless_timers_created_total"), 5.0);
    assert_eq!(value("tickless_timers_fired_total"), 1.0);
    assert_eq!(value("tickless_leak_suspects"), 0.0);
    let site = scrape
        .samples
        .iter()
        .find(|s| {
            s.metric == "tickless_call_site_live_timers"
                && s.labels.get("line") == Some(&line.to_string())
        })
        .expect("call site series");
    assert!(site.labels.get("file").unwrap().ends_with("observe.rs"));
    assert!(matches!(site.value, prometheus_parse::Value::Gauge(v) if v == 4.0));
    let hist = scrape
        .samples
        .iter()
        .find(|s| s.metric == "tickless_fire_lateness_seconds")
        .expect("histogram");
    match &hist.value {
        prometheus_parse::Value::Histogram(buckets) => {
            assert_eq!(buckets.last().unwrap().count, 1.0)
        }
        other => panic!("{other:?}"),
    }
    drop(timers);
}

/// The lateness histogram is a real Prometheus histogram: cumulative
/// `_bucket`s whose `le` is inclusive, a `+Inf` bucket equal to `_count`, and
/// `_sum` the total lateness — what `histogram_quantile` and
/// `rate(_sum) / rate(_count)` need.
#[test]
fn lateness_histogram_has_inclusive_buckets_sum_and_count() {
    let (clock, driver) = driver();
    // Deadlines on whole ticks of the 100 µs resolution: lateness is exactly
    // how far past them the clock is moved.
    let exact = Duration::from_nanos(1 << 20); // 1_048_576 ns: a bucket's bound
    let a = driver.handle().timer(secs(1));
    clock.advance(secs(1) + exact); // `a` fires 2^20 ns late
    let b = driver.handle().timer(secs(2) - exact); // due at 3 s
    clock.advance(secs(2) - exact + Duration::from_millis(500)); // 500 ms late
    drop((a, b));
    let s = driver.handle().snapshot();
    assert_eq!(s.counters.fired, 2);
    let text = s.to_prometheus();
    let sample = |name: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("no sample {name} in\n{text}"))
    };
    let bucket = |le: &str| {
        sample(&format!(
            "tickless_fire_lateness_seconds_bucket{{le=\"{le}\"}}"
        ))
    };
    assert_eq!(sample("tickless_fire_lateness_seconds_count"), 2.0);
    assert_eq!(bucket("+Inf"), 2.0);
    assert_eq!(sample("tickless_fire_lateness_seconds_sum"), 0.501048576);
    // 2^20 ns late is not <= 2^20 - 1 ns, and is <= 2^21 - 1 ns.
    assert_eq!(bucket("0.001048575"), 0.0, "{text}");
    assert!(bucket("0.002097151") >= 1.0, "{text}");
    assert!(
        !text.contains("le=\"0.001048576\""),
        "le is inclusive: 2^k - 1 ns"
    );
    // Buckets are cumulative and end at the count.
    let counts: Vec<f64> = text
        .lines()
        .filter(|l| l.starts_with("tickless_fire_lateness_seconds_bucket"))
        .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
        .collect();
    assert!(counts.windows(2).all(|w| w[0] <= w[1]), "{counts:?}");
    assert_eq!(counts.len(), 40, "39 bounded buckets and +Inf");
}

#[cfg(feature = "pprof")]
#[test]
fn pprof_profile_lists_the_call_site() {
    use std::io::Read as _;
    let (_clock, driver) = driver();
    let line = line!() + 1;
    let timers: Vec<_> = (0..7).map(|_| driver.handle().timer(secs(60))).collect();
    let gz = driver.handle().snapshot().to_pprof();
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_end(&mut raw)
        .expect("gzip");
    assert!(raw
        .windows(b"live_timers".len())
        .any(|w| w == b"live_timers"));
    if std::process::Command::new("go")
        .arg("version")
        .output()
        .is_err()
    {
        // In CI a missing tool is a failure (.ci/run installs it); locally a skip.
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "go is missing in CI: .ci/run installs golang-go"
        );
        eprintln!("go not installed: skipping `go tool pprof -top` (apt-get install golang-go)");
        return;
    }
    let path = std::env::temp_dir().join(format!("tickless-timers-{}.pb.gz", std::process::id()));
    std::fs::write(&path, &gz).unwrap();
    let out = std::process::Command::new("go")
        .args(["tool", "pprof", "-top", "-sample_index=live_timers"])
        .arg(&path)
        .output()
        .expect("run go tool pprof");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(&format!("observe.rs:{line}")),
        "pprof -top does not list the call site:\n{text}"
    );
    let _ = std::fs::remove_file(path);
    drop(timers);
}

/// `FutureExt::timeout` is `#[track_caller]`: its timer is accounted to the
/// line that called it, not to the trait.
#[test]
fn future_ext_timeout_records_the_callers_line() {
    use tickless::FutureExt;
    let line = line!() + 1;
    let mut t = std::future::pending::<()>().timeout(Duration::from_secs(3600));
    assert!(support::poll_noop(&mut t).is_pending());
    let snap = tickless::observe::snapshot();
    assert!(
        snap.sites
            .iter()
            .any(|s| s.file.ends_with("observe.rs") && s.line == line && s.live >= 1),
        "no live timer at observe.rs:{line}"
    );
}
