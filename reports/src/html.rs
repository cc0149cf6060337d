//! Self-contained HTML: a report page with a zoomable timeline of every request (no files
//! beside it, no network), and the live dashboard `herdsim serve` serves at `/__herdsim/`.

use std::fmt::Write as _;

use herd_sim::scorecard::series::CLASSES;

/// The live dashboard (it polls `report` and `live` beside it).
pub const DASHBOARD: &str = include_str!("pages/dashboard.html");

const TIMELINE_JS: &str = include_str!("pages/timeline.js");
const COLORS: [&str; 5] = ["#2e8b57", "#e67e22", "#c0392b", "#3465a4", "#888"];

/// Buckets across the visible range of the timeline (the page and its tests agree on it).
pub const TIMELINE_BUCKETS: usize = 240;

/// Escapes text for HTML.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A page: `title`, `intro_html` (already escaped), and the timeline of `points`, each a
/// request's time in µs and its answer class ([`CLASSES`]), in time order.
pub fn timeline_page(title: &str, intro_html: &str, points: &[(u64, u8)]) -> String {
    let mut times = String::with_capacity(points.len() * 8);
    let mut classes = String::with_capacity(points.len() * 2);
    for (index, (t_us, class)) in points.iter().enumerate() {
        if index > 0 {
            times.push(',');
            classes.push(',');
        }
        let _ = write!(times, "{t_us}");
        let _ = write!(classes, "{class}");
    }
    let class_names: Vec<String> = CLASSES.iter().map(|name| format!("{name:?}")).collect();
    let colors: Vec<String> = COLORS.iter().map(|color| format!("{color:?}")).collect();
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title><link rel="icon" href="data:,">
<style>
body {{ font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; max-width: 1000px; }}
canvas {{ border: 1px solid #ddd; cursor: grab; }}
#legend i {{ display: inline-block; width: 10px; height: 10px; margin: 0 4px 0 12px; }}
pre {{ background: #f6f6f6; padding: 8px; overflow-x: auto; }}
</style></head>
<body>
<h1>{title}</h1>
{intro_html}
<h2>Every request, zoomable</h2>
<p>Scroll to zoom at the pointer, drag to pan, or <button id="zoom-in">zoom in</button>
<button id="zoom-out">zoom out</button> <button id="zoom-reset">all</button>.
A link with <code>#from=0&amp;to=1</code> opens at that range (s).</p>
<p>Showing <span id="view"></span>: <span id="shown">0</span> requests in {TIMELINE_BUCKETS} bars of
<span id="bucket-ms"></span> ms; the tallest bar holds <span id="peak">0</span>.</p>
<canvas id="timeline" width="960" height="320"></canvas>
<div id="legend"></div>
<script>
const T = [{times}];
const C = [{classes}];
const CLASSES = [{class_names}];
const COLORS = [{colors}];
{TIMELINE_JS}
</script>
</body></html>
"#,
        title = escape(title),
        class_names = class_names.join(","),
        colors = colors.join(","),
    )
}

/// The tallest bar the page shows over `[from_s, to_s)`, computed as the page computes it (the
/// browser test compares the two).
pub fn timeline_peak(points: &[(u64, u8)], from_s: f64, to_s: f64) -> u64 {
    let width = (to_s - from_s) / TIMELINE_BUCKETS as f64;
    let mut bars = vec![0u64; TIMELINE_BUCKETS];
    for (t_us, _) in points {
        let t = *t_us as f64 / 1e6;
        if t < from_s || t >= to_s {
            continue;
        }
        let index = (((t - from_s) / width).floor() as usize).min(TIMELINE_BUCKETS - 1);
        bars[index] += 1;
    }
    bars.into_iter().max().unwrap_or(0)
}
