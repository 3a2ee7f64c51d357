//! The `/debug/timers` page and its JSON feed.
//!
//! The page is rendered on the server (so it is complete without
//! JavaScript, and a headless browser's DOM dump shows it) and then kept
//! fresh by a small script that polls `/debug/timers.json` every two seconds,
//! re-renders the table and the chart, and sorts on a header click.

use std::fmt::Write as _;

use std::time::Duration;

use tickless::cache::CacheStats;
use tickless::observe::{CallSite, Snapshot, SuspectReason};
use tickless::sched::SchedulerMetrics;
use tickless::Handle;

struct Model {
    snapshot: Snapshot,
    /// Per call site, in the snapshot's order: its `file:line:column` and,
    /// if it is a leak suspect, why.
    rows: Vec<(String, Option<String>)>,
    history: Vec<(f64, u64)>,
}

fn model(handle: &Handle, history: Vec<(f64, u64)>) -> Model {
    let snapshot = handle.snapshot();
    let suspects: Vec<(String, String)> = snapshot
        .leak_suspects()
        .into_iter()
        .map(|s| {
            let why = match s.reason {
                SuspectReason::Growing {
                    snapshots,
                    from,
                    to,
                } => {
                    format!("live grew {from} → {to} over {snapshots} snapshots")
                }
                SuspectReason::FarFuture { far, live } => {
                    format!("{far} of {live} live timers due > 10 min away")
                }
                _ => "suspect".to_string(),
            };
            (site_id(&s.site), why)
        })
        .collect();
    let rows = snapshot
        .sites
        .iter()
        .map(|site| {
            let id = site_id(site);
            let why = suspects
                .iter()
                .find(|(sid, _)| *sid == id)
                .map(|(_, why)| why.clone());
            (id, why)
        })
        .collect();
    Model {
        snapshot,
        rows,
        history,
    }
}

fn site_id(s: &CallSite) -> String {
    format!("{}:{}:{}", s.file, s.line, s.column)
}

fn secs(d: Option<std::time::Duration>) -> f64 {
    d.map_or(0.0, |d| d.as_secs_f64())
}

/// JSON string escaping.
fn js(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

pub(crate) fn json(handle: &Handle, history: Vec<(f64, u64)>) -> String {
    let m = model(handle, history);
    let c = &m.snapshot.counters;
    let mut out = format!(
        "{{\"live\":{},\"created\":{},\"fired\":{},\"cancelled\":{},\"reset\":{},\"wakeups\":{},\"resolution_ns\":{},\"sites\":[",
        c.live,
        c.created,
        c.fired,
        c.cancelled,
        c.reset,
        c.wakeups,
        m.snapshot.resolution.as_nanos()
    );
    for (i, (s, (id, why))) in m.snapshot.sites.iter().zip(&m.rows).enumerate() {
        let suspect = why.as_deref().map(js);
        let _ = write!(
            out,
            "{}{{\"site\":{},\"file\":{},\"line\":{},\"live\":{},\"created\":{},\"fired\":{},\"cancelled\":{},\"oldest_age_s\":{},\"farthest_s\":{},\"suspect\":{}}}",
            if i == 0 { "" } else { "," },
            js(id),
            js(s.file),
            s.line,
            s.live,
            s.created,
            s.fired,
            s.cancelled,
            secs(s.oldest_live_age),
            secs(s.farthest_deadline),
            suspect.unwrap_or_else(|| "null".into())
        );
    }
    out.push_str("],\"caches\":[");
    for (i, c) in m.snapshot.caches.iter().enumerate() {
        let _ = write!(
            out,
            "{}{{\"name\":{},\"entries\":{},\"weighted_size\":{},\"hits\":{},\"misses\":{},\"hit_ratio\":{},\"evictions\":{{\"expired\":{},\"size\":{},\"explicit\":{},\"replaced\":{}}}}}",
            if i == 0 { "" } else { "," },
            js(&c.name),
            c.entries,
            c.weighted_size,
            c.hits,
            c.misses,
            c.hit_ratio(),
            c.expired,
            c.size,
            c.explicit,
            c.replaced
        );
    }
    out.push_str("],\"history\":[");
    for (i, (t, live)) in m.history.iter().enumerate() {
        let _ = write!(out, "{}[{t:.3},{live}]", if i == 0 { "" } else { "," });
    }
    out.push_str("]}");
    out
}

/// The chart: live timers over the sampled history, as inline SVG.
fn chart(history: &[(f64, u64)]) -> String {
    let (w, h) = (600.0, 120.0);
    let max = history.iter().map(|&(_, l)| l).max().unwrap_or(0).max(1) as f64;
    let (t0, t1) = (
        history.first().map_or(0.0, |p| p.0),
        history.last().map_or(1.0, |p| p.0),
    );
    let span = (t1 - t0).max(1.0);
    let points: Vec<String> = history
        .iter()
        .map(|&(t, l)| format!("{:.1},{:.1}", (t - t0) / span * w, h - l as f64 / max * h))
        .collect();
    format!(
        "<svg id=\"chart\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"live timers over time\">\
<polyline fill=\"none\" stroke=\"#2563eb\" stroke-width=\"2\" points=\"{}\"/>\
<text x=\"4\" y=\"14\" font-size=\"12\">max {max}</text></svg>",
        points.join(" ")
    )
}

/// The schedulers of the driver, one row each (rendered with the page; a
/// reload refreshes it).
fn schedulers(list: &[SchedulerMetrics]) -> String {
    if list.is_empty() {
        return String::new();
    }
    let ms = |d: Option<Duration>| {
        d.map_or("–".to_string(), |d| {
            format!("{:.3}", d.as_secs_f64() * 1e3)
        })
    };
    let mut rows = String::new();
    for s in list {
        let t = &s.total;
        let _ = write!(
            rows,
            "<tr><td class=\"site\">{}</td><td>{}</td><td>{}</td><td>{}/{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} ({})</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            crate::html::escape(&s.name),
            s.workers,
            s.pending,
            s.queued,
            s.queue_capacity,
            s.running,
            t.completed,
            t.panicked,
            s.rejected()[s.policy as usize],
            s.policy.name(),
            ms(t.lateness.quantile(0.5)),
            ms(t.lateness.quantile(0.99)),
            ms(t.run_time.quantile(0.99)),
            s.stall_wakes,
        );
    }
    format!(
        "<h2>Schedulers</h2>\n<table id=\"schedulers\"><thead><tr><th class=\"site\">scheduler</th><th>workers</th><th>pending</th><th>queued</th><th>running</th><th>completed</th><th>panicked</th><th>rejected (policy)</th><th>lateness p50 (ms)</th><th>lateness p99 (ms)</th><th>run time p99 (ms)</th><th>stall wakes</th></tr></thead><tbody>{rows}</tbody></table>\n<p>Quantiles are log₂ bucket bounds (at most 2× the true value). Stall wakes: workers woken because the one draining short runs took none for 250 µs while runs waited.</p>\n"
    )
}

/// The caches of the driver, one row each (rendered with the page, then
/// re-rendered by its script from `/debug/timers.json` every 2 s, in the
/// same markup).
fn caches(list: &[CacheStats]) -> String {
    if list.is_empty() {
        return String::new();
    }
    let mut rows = String::new();
    for c in list {
        let ratio = if c.hits + c.misses == 0 {
            "–".to_string()
        } else {
            format!("{:.1} %", c.hit_ratio() * 100.0)
        };
        let _ = write!(
            rows,
            "<tr><td class=\"site\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{ratio}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            crate::html::escape(&c.name),
            c.entries,
            c.weighted_size,
            c.hits,
            c.misses,
            c.expired,
            c.size,
            c.explicit,
            c.replaced,
        );
    }
    format!(
        "<h2>Caches</h2>\n<table id=\"caches\"><thead><tr><th class=\"site\">cache</th><th>entries</th><th>weighted size</th><th>hits</th><th>misses</th><th>hit ratio</th><th>expired</th><th>evicted for size</th><th>removed explicitly</th><th>replaced</th></tr></thead><tbody>{rows}</tbody></table>\n<p>Hit ratio: hits over reads since each cache was built. Unnamed caches show the line that built them.</p>\n"
    )
}

pub(crate) fn html(handle: &Handle, history: Vec<(f64, u64)>) -> String {
    let m = model(handle, history);
    let c = &m.snapshot.counters;
    let mut rows = String::new();
    for (s, (id, why)) in m.snapshot.sites.iter().zip(&m.rows) {
        let _ = write!(
            rows,
            "<tr{}><td class=\"site\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1}</td><td>{:.1}</td><td>{}</td></tr>",
            if why.is_some() { " class=\"suspect\"" } else { "" },
            crate::html::escape(id),
            s.live,
            s.created,
            s.fired,
            s.cancelled,
            secs(s.oldest_live_age),
            secs(s.farthest_deadline),
            why.as_deref().map_or(String::new(), |why| format!("<span class=\"badge\">leak suspect</span> {}", crate::html::escape(why)))
        );
    }
    format!(
        r##"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tickless timers</title>
<style>
body {{ font: 14px system-ui, sans-serif; margin: 1.5em; color: #111; }}
table {{ border-collapse: collapse; margin-top: 1em; }}
th, td {{ padding: 4px 10px; border-bottom: 1px solid #ddd; text-align: right; }}
th {{ cursor: pointer; background: #f3f4f6; user-select: none; }}
td.site, th.site {{ text-align: left; font-family: ui-monospace, monospace; }}
tr.suspect {{ background: #fee2e2; }}
.badge {{ background: #dc2626; color: white; border-radius: 3px; padding: 1px 5px; font-size: 12px; }}
.counters span {{ margin-right: 1.5em; }}
</style></head>
<body>
<h1>tickless timers</h1>
<p class="counters"><span>live <b id="live">{live}</b></span><span>created {created}</span><span>fired {fired}</span><span>cancelled {cancelled}</span><span>wakeups {wakeups}</span></p>
<h2>Live timers, last minutes</h2>
{chart}
<h2>By call site</h2>
<table id="sites"><thead><tr>
<th class="site" data-key="site">call site</th><th data-key="live">live</th><th data-key="created">created</th><th data-key="fired">fired</th><th data-key="cancelled">cancelled</th><th data-key="oldest_age_s">oldest age (s)</th><th data-key="farthest_s">farthest deadline (s)</th><th data-key="suspect">leak suspect</th>
</tr></thead><tbody>{rows}</tbody></table>
{schedulers}{caches}<p>Also: <a href="/metrics">/metrics</a> · <a href="/debug/pprof/timers">/debug/pprof/timers</a> (<code>go tool pprof -top</code>) · <a href="/debug/timers.json">JSON</a></p>
<script>
let sortKey = "live", sortDesc = true, data = null;
const esc = s => String(s).replace(/[&<>"]/g, c => ({{"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;"}})[c]);
function render() {{
  if (!data) return;
  document.getElementById("live").textContent = data.live;
  const sites = data.sites.slice().sort((a, b) => {{
    const x = a[sortKey] ?? "", y = b[sortKey] ?? "";
    const c = typeof x === "number" ? x - y : String(x).localeCompare(String(y));
    return sortDesc ? -c : c;
  }});
  document.querySelector("#sites tbody").innerHTML = sites.map(s =>
    `<tr${{s.suspect ? ' class="suspect"' : ""}}><td class="site">${{esc(s.site)}}</td><td>${{s.live}}</td><td>${{s.created}}</td><td>${{s.fired}}</td><td>${{s.cancelled}}</td><td>${{s.oldest_age_s.toFixed(1)}}</td><td>${{s.farthest_s.toFixed(1)}}</td><td>${{s.suspect ? '<span class="badge">leak suspect</span> ' + esc(s.suspect) : ""}}</td></tr>`).join("");
  const caches = document.querySelector("#caches tbody");
  if (caches && data.caches) {{
    caches.innerHTML = data.caches.map(c => {{
      const e = c.evictions, ratio = c.hits + c.misses ? (c.hit_ratio * 100).toFixed(1) + " %" : "–";
      return `<tr><td class="site">${{esc(c.name)}}</td><td>${{c.entries}}</td><td>${{c.weighted_size}}</td><td>${{c.hits}}</td><td>${{c.misses}}</td><td>${{ratio}}</td><td>${{e.expired}}</td><td>${{e.size}}</td><td>${{e.explicit}}</td><td>${{e.replaced}}</td></tr>`;
    }}).join("");
    document.getElementById("caches").dataset.refreshed = "1";
  }}
  const h = data.history, w = 600, ht = 120;
  if (h.length) {{
    const max = Math.max(1, ...h.map(p => p[1])), t0 = h[0][0], span = Math.max(1, h[h.length - 1][0] - t0);
    document.querySelector("#chart polyline").setAttribute("points", h.map(p => `${{((p[0] - t0) / span * w).toFixed(1)}},${{(ht - p[1] / max * ht).toFixed(1)}}`).join(" "));
    document.querySelector("#chart text").textContent = "max " + max;
  }}
}}
document.querySelectorAll("#sites th").forEach(th => th.addEventListener("click", () => {{
  const k = th.dataset.key; sortDesc = sortKey === k ? !sortDesc : true; sortKey = k; render();
}}));
async function refresh() {{
  try {{ data = await (await fetch("/debug/timers.json")).json(); render(); }} catch (e) {{}}
}}
setInterval(refresh, 2000);
</script>
</body></html>
"##,
        live = c.live,
        created = c.created,
        fired = c.fired,
        cancelled = c.cancelled,
        wakeups = c.wakeups,
        chart = chart(&m.history),
        schedulers = schedulers(&m.snapshot.schedulers),
        caches = caches(&m.snapshot.caches),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(js("a\"b\\c\n\u{1}"), r#""a\"b\\c\n\u0001""#);
    }

    #[test]
    fn caches_table_escapes_names_and_shows_no_ratio_before_a_read() {
        assert_eq!(caches(&[]), "", "no table without a cache");
        let mut c = CacheStats::default();
        c.name = "<a>".into();
        let html = caches(&[c.clone()]);
        assert!(html.contains("<td class=\"site\">&lt;a&gt;</td>"), "{html}");
        assert!(html.contains("<td>0</td><td>–</td>"), "{html}");
        c.hits = 3;
        c.misses = 1;
        assert!(caches(&[c]).contains("<td>3</td><td>1</td><td>75.0 %</td>"));
    }

    #[test]
    fn chart_scales_points() {
        let svg = chart(&[(0.0, 0), (10.0, 50), (20.0, 100)]);
        assert!(
            svg.contains("points=\"0.0,120.0 300.0,60.0 600.0,0.0\""),
            "{svg}"
        );
    }
}
