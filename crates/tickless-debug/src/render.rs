//! The debug server's responses as plain functions, to mount on a router of
//! your own (axum, hyper, actix, …) instead of running [`serve`](crate::serve).
//!
//! | function | what | content type |
//! |---|---|---|
//! | [`timers_html`] | the `/debug/timers` page | `text/html; charset=utf-8` |
//! | [`timers_json`] | its JSON feed, `/debug/timers.json` | `application/json` |
//! | [`metrics_text`] | Prometheus text exposition, `/metrics` | `text/plain; version=0.0.4; charset=utf-8` |
//! | [`pprof_body`] | gzip'd pprof profile, `/debug/pprof/timers` | `application/octet-stream` |
//!
//! Each call takes one [`Handle::snapshot`](tickless::Handle::snapshot)
//! (O(pending timers)) and returns a [`Rendered`] body: nothing is cached,
//! and no call can fail. The built-in server answers with these same
//! functions.
//!
//! The page fetches `/debug/timers.json` every two seconds and links to
//! `/metrics` and `/debug/pprof/timers`: mount the four at those paths. The
//! page's chart of live timers comes from a [`History`], which something
//! must [`sample`](History::sample) (the built-in server does it once a
//! second); with a history never sampled the chart is empty and the rest of
//! the page is complete. `crates/tickless-debug/examples/axum.rs` mounts all
//! four on an axum router.
//!
//! These bodies name source files and lines: serve them where only the
//! people debugging the service can reach them.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Instant;

use tickless::Handle;

use crate::page;

/// A response body and its `Content-Type`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Rendered {
    /// The value for the `Content-Type` header.
    pub content_type: &'static str,
    /// The response body.
    pub body: Vec<u8>,
}

impl Rendered {
    fn new(content_type: &'static str, body: impl Into<Vec<u8>>) -> Self {
        Rendered {
            content_type,
            body: body.into(),
        }
    }
}

/// The page of timers by call site, leak suspects highlighted, with the
/// chart of `history`.
///
/// ```
/// use std::time::Duration;
/// use tickless::{clock::ManualClock, Driver};
/// use tickless_debug::render::{timers_html, History};
///
/// let driver = Driver::builder().clock(ManualClock::new()).build()?;
/// let _timer = driver.handle().timer(Duration::from_secs(60));
/// let page = timers_html(driver.handle(), &History::new());
/// assert_eq!(page.content_type, "text/html; charset=utf-8");
/// let html = String::from_utf8(page.body)?;
/// assert!(html.contains("live <b id=\"live\">1</b>"), "{html}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn timers_html(handle: &Handle, history: &History) -> Rendered {
    Rendered::new(
        "text/html; charset=utf-8",
        page::html(handle, history.points()),
    )
}

/// The page's data as JSON: counters, one object per call site and the
/// `history` as `[seconds, live]` pairs.
///
/// ```
/// use std::time::Duration;
/// use tickless::{clock::ManualClock, Driver};
/// use tickless_debug::render::{timers_json, History};
///
/// let driver = Driver::builder().clock(ManualClock::new()).build()?;
/// let _timers = [
///     driver.handle().timer(Duration::from_secs(1)),
///     driver.handle().timer(Duration::from_secs(2)),
/// ];
/// let history = History::new();
/// history.sample(driver.handle());
/// let feed = timers_json(driver.handle(), &history);
/// assert_eq!(feed.content_type, "application/json");
/// let json = String::from_utf8(feed.body)?;
/// assert!(json.starts_with("{\"live\":2,"), "{json}");
/// assert!(json.ends_with(",2]]}"), "one sample of 2 live timers: {json}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn timers_json(handle: &Handle, history: &History) -> Rendered {
    Rendered::new("application/json", page::json(handle, history.points()))
}

/// The Prometheus text exposition of the driver
/// ([`Snapshot::to_prometheus`](tickless::observe::Snapshot::to_prometheus)).
///
/// ```
/// use std::time::Duration;
/// use tickless::{clock::ManualClock, Driver};
///
/// let driver = Driver::builder().clock(ManualClock::new()).build()?;
/// let _timer = driver.handle().timer(Duration::from_secs(60));
/// let scrape = tickless_debug::render::metrics_text(driver.handle());
/// assert_eq!(scrape.content_type, "text/plain; version=0.0.4; charset=utf-8");
/// assert!(String::from_utf8(scrape.body)?.contains("tickless_call_site_live_timers{"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn metrics_text(handle: &Handle) -> Rendered {
    Rendered::new(
        "text/plain; version=0.0.4; charset=utf-8",
        handle.snapshot().to_prometheus(),
    )
}

/// A gzip'd pprof profile of live and created timers by call site
/// ([`Snapshot::to_pprof`](tickless::observe::Snapshot::to_pprof)): serve
/// it and run `go tool pprof -top http://HOST/PATH`.
///
/// ```
/// use tickless::{clock::ManualClock, Driver};
///
/// let driver = Driver::builder().clock(ManualClock::new()).build()?;
/// let profile = tickless_debug::render::pprof_body(driver.handle());
/// assert_eq!(profile.content_type, "application/octet-stream");
/// assert_eq!(&profile.body[..2], &[0x1f, 0x8b], "gzip");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn pprof_body(handle: &Handle) -> Rendered {
    Rendered::new("application/octet-stream", handle.snapshot().to_pprof())
}

/// The live-timer counts behind the page's chart: the last
/// [`HISTORY`](crate::HISTORY) samples, each with its time in seconds since
/// the history was created.
///
/// Share it (e.g. in an `Arc`) between whatever samples it, once a second
/// is what the built-in server does, and the handlers that render it.
///
/// ```
/// use std::time::Duration;
/// use tickless::{clock::ManualClock, Driver};
/// use tickless_debug::render::History;
///
/// let driver = Driver::builder().clock(ManualClock::new()).build()?;
/// let history = History::new();
/// history.sample(driver.handle());
/// let _timer = driver.handle().timer(Duration::from_secs(60));
/// history.sample(driver.handle());
/// let live: Vec<u64> = history.points().iter().map(|&(_, live)| live).collect();
/// assert_eq!(live, [0, 1]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct History {
    started: Instant,
    /// (seconds since `started`, live timers), oldest first; at most
    /// `HISTORY` long.
    samples: Mutex<VecDeque<(f64, u64)>>,
}

impl History {
    /// An empty history; its clock starts now.
    pub fn new() -> Self {
        History {
            started: Instant::now(),
            samples: Mutex::new(VecDeque::new()),
        }
    }

    /// Records the driver's live timer count now (one snapshot:
    /// O(pending timers)), dropping the oldest sample beyond
    /// [`HISTORY`](crate::HISTORY).
    pub fn sample(&self, handle: &Handle) {
        let live = handle.snapshot().counters.live;
        let t = self.started.elapsed().as_secs_f64();
        let mut samples = self.samples.lock().unwrap_or_else(|p| p.into_inner());
        samples.push_back((t, live));
        while samples.len() > crate::HISTORY {
            samples.pop_front();
        }
    }

    /// The samples, oldest first, as (seconds since [`new`](History::new),
    /// live timers).
    pub fn points(&self) -> Vec<(f64, u64)> {
        let samples = self.samples.lock().unwrap_or_else(|p| p.into_inner());
        samples.iter().copied().collect()
    }
}

impl Default for History {
    fn default() -> Self {
        History::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tickless::clock::ManualClock;
    use tickless::Driver;

    #[test]
    fn history_keeps_the_last_samples_in_order() {
        let driver = Driver::builder().clock(ManualClock::new()).build().unwrap();
        let history = History::new();
        let mut timers = Vec::new();
        for _ in 0..crate::HISTORY + 5 {
            timers.push(driver.handle().timer(std::time::Duration::from_secs(60)));
            history.sample(driver.handle());
        }
        let points = history.points();
        assert_eq!(points.len(), crate::HISTORY);
        assert_eq!(points[0].1, 6, "the five oldest samples dropped");
        assert_eq!(points.last().unwrap().1, crate::HISTORY as u64 + 5);
        assert!(points.windows(2).all(|w| w[0].0 <= w[1].0), "time order");
    }
}
