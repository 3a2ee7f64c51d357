//! The self-contained HTML report: inline SVG charts, no scripts, no files
//! beside it.

use std::fmt::Write as _;

use tickless_debug::html;

use crate::demo_cache::{self, Study};
use crate::demo_sched::{Overload, SchedRow};
use crate::leak::Series;

const COLORS: [&str; 8] = [
    "#2563eb", "#16a34a", "#9333ea", "#0891b2", "#ea580c", "#dc2626", "#4b5563", "#ca8a04",
];

/// A line chart of heap retained vs iterations, one polyline per series.
fn memory_chart(series: &[Series]) -> String {
    let (w, h, pad) = (760.0, 300.0, 50.0);
    let max_x = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let max_y = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(1.0, f64::max);
    let mut svg = format!(
        "<svg class=\"chart\" id=\"memory\" viewBox=\"0 0 {w} {}\" width=\"{w}\" height=\"{}\">",
        h + 2.0 * pad,
        h + 2.0 * pad
    );
    let _ = write!(
        svg,
        "<line x1=\"{pad}\" y1=\"{y}\" x2=\"{x}\" y2=\"{y}\" stroke=\"#999\"/><line x1=\"{pad}\" y1=\"{pad}\" x2=\"{pad}\" y2=\"{y}\" stroke=\"#999\"/>\
<text x=\"{pad}\" y=\"{t}\" font-size=\"12\">heap retained (max {:.1} MiB)</text><text x=\"{x}\" y=\"{b}\" font-size=\"12\" text-anchor=\"end\">{} iterations</text>",
        max_y / (1 << 20) as f64,
        max_x as u64,
        y = h + pad,
        x = w - pad,
        t = pad - 10.0,
        b = h + pad + 20.0
    );
    for (i, s) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let points: Vec<String> = s
            .points
            .iter()
            .map(|&(x, y)| {
                format!(
                    "{:.1},{:.1}",
                    pad + x as f64 / max_x * (w - 2.0 * pad),
                    pad + h - y / max_y * h
                )
            })
            .collect();
        let _ = write!(
            svg,
            "<polyline class=\"series\" data-name=\"{}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{}\"/>",
            html::escape(&s.name),
            points.join(" ")
        );
        let _ = write!(
            svg,
            "<rect x=\"{}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"{color}\"/><text x=\"{}\" y=\"{}\" font-size=\"12\">{}</text>",
            pad + 10.0,
            pad + 10.0 + i as f64 * 16.0,
            pad + 25.0,
            pad + 19.0 + i as f64 * 16.0,
            html::escape(&s.name)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// A bar chart of one implementation's lateness histogram (log₂ buckets).
fn lateness_chart(name: &str, buckets: &[(String, u64)]) -> String {
    let (w, h, pad) = (760.0, 140.0, 30.0);
    let max = buckets.iter().map(|b| b.1).max().unwrap_or(1).max(1) as f64;
    let bw = (w - 2.0 * pad) / buckets.len().max(1) as f64;
    let mut svg = format!(
        "<svg class=\"chart lateness\" data-name=\"{}\" viewBox=\"0 0 {w} {}\" width=\"{w}\" height=\"{}\">\
<text x=\"{pad}\" y=\"16\" font-size=\"13\">{}</text>",
        html::escape(name),
        h + 2.0 * pad,
        h + 2.0 * pad,
        html::escape(name)
    );
    for (i, (label, count)) in buckets.iter().enumerate() {
        let bh = *count as f64 / max * h;
        let x = pad + i as f64 * bw;
        let _ = write!(
            svg,
            "<rect class=\"bucket\" x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"#2563eb\"><title>{} : {count}</title></rect>\
",
            pad + h - bh,
            bw - 2.0,
            html::escape(label),
        );
        if i % 2 == 0 {
            // Every other label: they would overlap otherwise.
            let _ = write!(
                svg,
                "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"middle\">{}</text>",
                x + bw / 2.0,
                pad + h + 14.0,
                html::escape(label)
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

pub struct Report<'a> {
    pub series: &'a [Series],
    pub go_note: Option<&'a str>,
    pub planted: &'a [String],
    pub churn_rows: &'a [(String, f64, f64)],
    pub lateness: &'a [(String, Vec<(String, u64)>)],
    pub sched_rows: &'a [SchedRow],
    pub overload: Option<&'a Overload>,
    pub cache: Option<&'a Study>,
    pub text_summary: &'a str,
}

pub fn render(r: &Report<'_>) -> String {
    let mut rows = String::new();
    for s in r.series {
        let _ = write!(
            rows,
            "<tr><td>{}</td><td>{}</td><td>{:.0}</td><td>{:.1} MiB</td><td>{:.1}</td></tr>",
            html::escape(&s.name),
            s.iterations,
            s.ns_per_iter,
            s.retained() / (1 << 20) as f64,
            s.retained() / s.iterations.max(1) as f64
        );
    }
    let mut churn = String::new();
    for (name, ns, bytes) in r.churn_rows {
        let _ = write!(
            churn,
            "<tr><td>{}</td><td>{ns:.0}</td><td>{bytes:.0}</td></tr>",
            html::escape(name)
        );
    }
    let mut sched = String::new();
    for row in r.sched_rows {
        let _ = write!(
            sched,
            "<tr><td>{}</td><td>{}</td><td>{:.2}</td><td>{:.2}</td><td>{:.2}</td></tr>",
            html::escape(&row.name),
            row.runs,
            row.avg_ms,
            row.p99_ms,
            row.max_ms
        );
    }
    let overload = r.overload.map_or(String::new(), |o| {
        format!(
            "<p id=\"overload\">Overload ({:.1} s, 2 workers, queue 100, <code>Abort</code>, offered about twice the capacity): offered {}, completed {}, rejected {} — completed + rejected {} offered.</p>",
            o.secs,
            o.offered,
            o.completed,
            o.rejected,
            if o.completed + o.rejected == o.offered { "=" } else { "≠" }
        )
    });
    let planted: String = r
        .planted
        .iter()
        .map(|l| format!("<li><code>{}</code></li>", html::escape(l)))
        .collect();
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tickless report</title>
<style>body{{font:14px system-ui,sans-serif;margin:2em;max-width:900px}}table{{border-collapse:collapse}}td,th{{padding:3px 10px;border-bottom:1px solid #ddd;text-align:right}}td:first-child,th:first-child{{text-align:left}}pre{{background:#f3f4f6;padding:1em;overflow:auto}}</style>
</head><body>
<h1>tickless demo report</h1>
<p>Measured in this run, on this machine. Nothing here is recorded or hard-coded.</p>
<h2>The leak case study: <code>select {{ work, after(1h) }}</code></h2>
{memory}
<table id="leak"><tr><th>implementation</th><th>iterations</th><th>ns / iteration</th><th>heap retained</th><th>bytes / iteration</th></tr>{rows}</table>
<p>{go}</p>
<h2>Planted leak, named by <code>tickless::observe</code></h2><ul id="planted">{planted}</ul>
<h2>Timer churn: create, first poll, drop</h2>
<table id="churn"><tr><th>implementation</th><th>ns / op</th><th>bytes / pending timer</th></tr>{churn}</table>
<h2>Periodic jobs: the seed's dispatcher table (<code>tickless::sched</code>)</h2>
<table id="sched"><tr><th>dispatcher</th><th>runs</th><th>average latency (ms)</th><th>p99 (ms)</th><th>max (ms)</th></tr>{sched}</table>
{overload}
{cache}<h2>Lateness of sequential 1 ms sleeps (log₂ buckets)</h2>
{lateness}
<h2>Console output</h2><pre>{text}</pre>
</body></html>
"#,
        memory = memory_chart(r.series),
        go = html::escape(r.go_note.unwrap_or("")),
        lateness = r
            .lateness
            .iter()
            .map(|(name, b)| lateness_chart(name, b))
            .collect::<String>(),
        cache = r.cache.map_or(String::new(), demo_cache::html),
        text = html::escape(r.text_summary),
    )
}
