//! Drives `/debug/timers` in headless Chromium: the page loads, lists the
//! call sites of this program, highlights a planted leak, and shows the
//! caches table. Skipped with a message when Chromium is not installed
//! (`.ci/run` installs Debian's).

mod support;

use std::process::Command;
use std::time::Duration;

use tickless::Driver;
use tickless_debug::{serve_with, Options};

fn chromium() -> Option<&'static str> {
    [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .into_iter()
    .find(|p| std::path::Path::new(p).exists())
}

#[test]
fn page_lists_call_sites_and_caches_and_highlights_a_planted_leak() {
    let Some(browser) = chromium() else {
        // In CI a missing tool is a failure (.ci/run installs it); locally a skip.
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "chromium is missing in CI: .ci/run installs it"
        );
        eprintln!("chromium not installed: skipping the browser test (apt-get install chromium)");
        return;
    };
    let driver = Driver::builder().build().unwrap();
    let mut options = Options::default();
    options.handle = driver.handle().clone();
    options.sample_every = Duration::from_millis(200);
    let srv = serve_with("127.0.0.1:0", options).unwrap();

    let cache = support::busy_cache(&driver);
    let healthy_line = line!() + 2;
    let healthy: Vec<_> = (0..20)
        .map(|_| driver.handle().timer(Duration::from_secs(30)))
        .collect();
    let leak_line = line!() + 7;
    // The planted leak: detached one-hour callbacks, more every 400 ms. The
    // page samples history at most once a second, so grow for 3.5 s.
    for _ in 0..9 {
        for _ in 0..200 {
            driver
                .handle()
                .after_func(Duration::from_secs(3600), || {})
                .detach();
        }
        let _ = driver.handle().snapshot(); // a snapshot at least every second feeds the trend
        std::thread::sleep(Duration::from_millis(400));
    }

    let url = format!("http://{}/debug/timers", srv.local_addr());
    let profile = std::env::temp_dir().join(format!("tickless-chromium-{}", std::process::id()));
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=3000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(&url)
        .output()
        .expect("run chromium");
    let _ = std::fs::remove_dir_all(&profile);
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        dom.contains("<h1>tickless timers</h1>"),
        "page did not load:\n{}\n{}",
        dom,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        dom.contains(&format!("browser.rs:{healthy_line}:")),
        "healthy call site not listed:\n{dom}"
    );
    let leak_row = dom
        .split("<tr")
        .find(|row| row.contains(&format!("browser.rs:{leak_line}:")))
        .unwrap_or_else(|| panic!("leak call site not listed:\n{dom}"));
    assert!(
        leak_row.starts_with(" class=\"suspect\""),
        "the planted leak is not highlighted: <tr{leak_row}"
    );
    assert!(leak_row.contains("leak suspect"));
    let healthy_row = dom
        .split("<tr")
        .find(|row| row.contains(&format!("browser.rs:{healthy_line}:")))
        .unwrap();
    assert!(
        !healthy_row.starts_with(" class=\"suspect\""),
        "healthy code highlighted"
    );
    let sessions = dom
        .split("<tr>")
        .find(|row| row.starts_with("<td class=\"site\">sessions</td>"))
        .unwrap_or_else(|| panic!("the cache is not listed:\n{dom}"));
    assert!(
        sessions.starts_with(&format!(
            "<td class=\"site\">sessions</td><td>{}</td>",
            cache.entry_count()
        )),
        "{sessions}"
    );
    assert!(
        dom.contains("id=\"caches\" data-refreshed=\"1\""),
        "the script did not refresh the caches table from the JSON:\n{dom}"
    );
    drop(healthy);
}
