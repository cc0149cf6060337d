//! SVG charts (plotters' SVG backend: text is SVG text, no font files needed).

use std::collections::BTreeMap;
use std::path::Path;

use herd_client::events::EventKind as ClientEventKind;
use herd_gateway::events::GatewayEventKind;
use herd_sim::trace::{Record, Trace};
use plotters::prelude::*;

/// A chart that could not be drawn (plotters' errors carry their backend's type).
pub type ChartResult = Result<(), String>;

fn err(error: impl std::fmt::Display) -> String {
    error.to_string()
}

const ADMITTED: RGBColor = RGBColor(46, 139, 87);
const REJECTED: RGBColor = RGBColor(230, 126, 34);
const FAULTED: RGBColor = RGBColor(192, 57, 43);
const CONFLICT: RGBColor = RGBColor(52, 101, 164);
const WAIT: RGBColor = RGBColor(170, 170, 170);
const LIMIT: RGBColor = RGBColor(30, 30, 30);

/// The allowed request rate over time: `(from_s, requests per second)` steps.
pub type RateSteps = Vec<(f64, f64)>;

/// Requests per second at the gateway, stacked: admitted, rate-limited, faulted; with the
/// allowed average rate as a step line.
pub fn requests_per_second(trace: &Trace, allowed: &RateSteps, path: &Path) -> ChartResult {
    let end_s = trace
        .records()
        .last()
        .map_or(1.0, |record| record.at().as_micros() as f64 / 1e6)
        .max(1.0);
    let times = trace.records().iter().filter_map(|record| {
        let Record::Gateway(event) = record else {
            return None;
        };
        let slot = match event.kind {
            GatewayEventKind::Admitted { .. } => 0,
            GatewayEventKind::RateLimited { .. } => 1,
            GatewayEventKind::Fault { .. } => 2,
            _ => return None,
        };
        Some((event.at.as_micros(), slot))
    });
    requests_per_second_of(times, end_s, allowed, "simulated time (s)", path)
}

/// The same chart from per-request `(µs, slot)` pairs (slot 0 admitted, 1 rate-limited, 2
/// fault): `herdsim serve`'s report draws it from what it answered.
pub fn requests_per_second_of(
    times: impl Iterator<Item = (u64, usize)>,
    end_s: f64,
    allowed: &RateSteps,
    x_desc: &str,
    path: &Path,
) -> ChartResult {
    let end_s = end_s.max(1.0);
    let bucket_s = (end_s / 240.0).ceil().max(1.0);
    let mut buckets: BTreeMap<u64, [f64; 3]> = BTreeMap::new();
    for (at_us, slot) in times {
        let bucket = (at_us as f64 / 1e6 / bucket_s) as u64;
        buckets.entry(bucket).or_insert([0.0; 3])[slot.min(2)] += 1.0 / bucket_s;
    }
    let peak = buckets
        .values()
        .map(|counts| counts.iter().sum::<f64>())
        .fold(0.0, f64::max);
    let allowed_peak = allowed.iter().map(|(_, rate)| *rate).fold(0.0, f64::max);
    let top = (peak.max(allowed_peak) * 1.1).max(1.0);

    let root = SVGBackend::new(path, (960, 420)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("Requests per second at the gateway ({bucket_s:.0} s buckets)"),
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(0f64..end_s, 0f64..top)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc("requests / s")
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(err)?;
    let colors = [ADMITTED, REJECTED, FAULTED];
    let names = ["admitted", "rate-limited (429)", "fault (5xx, 429 without limit)"];
    for (slot, (color, name)) in colors.iter().zip(names).enumerate() {
        let bars = buckets.iter().map(|(bucket, counts)| {
            let x0 = *bucket as f64 * bucket_s;
            let below: f64 = counts[..slot].iter().sum();
            Rectangle::new(
                [(x0, below), (x0 + bucket_s * 0.9, below + counts[slot])],
                color.filled(),
            )
        });
        let color = *color;
        chart
            .draw_series(bars)
            .map_err(err)?
            .label(name)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled()));
    }
    if !allowed.is_empty() {
        let mut steps = Vec::new();
        for (index, (from_s, rate)) in allowed.iter().enumerate() {
            let until = allowed.get(index + 1).map_or(end_s, |(next, _)| *next);
            steps.push((*from_s, *rate));
            steps.push((until.min(end_s), *rate));
        }
        chart
            .draw_series(LineSeries::new(steps, LIMIT.stroke_width(2)))
            .map_err(err)?
            .label("allowed average rate")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 12, y)], LIMIT.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)
}

/// Per-worker swimlanes: each attempt as a bar from send to answer, coloured by the answer;
/// waits (backoff, pacing, breaker) as grey lines. Only for runs with few workers.
pub fn swimlanes(trace: &Trace, max_lanes: usize, path: &Path) -> ChartResult {
    let mut lanes: BTreeMap<(u32, u64), usize> = BTreeMap::new();
    for record in trace.records() {
        if let Record::Client { instance, event, .. } = record {
            let next = lanes.len();
            if next < max_lanes || lanes.contains_key(&(*instance, event.worker)) {
                lanes.entry((*instance, event.worker)).or_insert(next);
            }
        }
    }
    let end_s = trace
        .records()
        .last()
        .map_or(1.0, |record| record.at().as_micros() as f64 / 1e6)
        .max(0.001);
    let height = (lanes.len() as u32 * 16 + 90).clamp(160, 1200);
    let root = SVGBackend::new(path, (960, height)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Workers: attempts (bars, by answer) and waits (grey)",
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..end_s, 0f64..lanes.len().max(1) as f64)
        .map_err(err)?;
    let names: BTreeMap<usize, String> = lanes
        .iter()
        .map(|((instance, worker), lane)| (*lane, format!("i{instance} w{worker}")))
        .collect();
    chart
        .configure_mesh()
        .x_desc("simulated time (s)")
        .y_labels(lanes.len().min(40))
        .y_label_formatter(&|y| names.get(&(*y as usize)).cloned().unwrap_or_default())
        .disable_y_mesh()
        .draw()
        .map_err(err)?;
    let mut sent: BTreeMap<(u32, u64), f64> = BTreeMap::new();
    let mut bars = Vec::new();
    let mut waits = Vec::new();
    for record in trace.records() {
        let Record::Client { at, instance, event } = record else {
            continue;
        };
        let Some(&lane) = lanes.get(&(*instance, event.worker)) else {
            continue;
        };
        let t = at.as_micros() as f64 / 1e6;
        let y = lane as f64;
        match &event.kind {
            ClientEventKind::Attempt { .. } => {
                sent.insert((*instance, event.worker), t);
            }
            ClientEventKind::Response { status, .. } => {
                let color = match status {
                    200..=299 => ADMITTED,
                    429 => REJECTED,
                    409 => CONFLICT,
                    _ => FAULTED,
                };
                let from = sent.remove(&(*instance, event.worker)).unwrap_or(t);
                bars.push((from, t.max(from + end_s / 2000.0), y, color));
            }
            ClientEventKind::TransportFailed { .. } => {
                let from = sent.remove(&(*instance, event.worker)).unwrap_or(t);
                bars.push((from, t.max(from + end_s / 2000.0), y, FAULTED));
            }
            ClientEventKind::Retry { delay_ms, .. }
            | ClientEventKind::Paced { delay_ms, .. }
            | ClientEventKind::BreakerWait { delay_ms, .. } => {
                waits.push((t, (t + *delay_ms as f64 / 1000.0).min(end_s), y));
            }
            _ => {}
        }
    }
    chart
        .draw_series(waits.into_iter().map(|(from, to, y)| {
            PathElement::new(vec![(from, y + 0.5), (to, y + 0.5)], WAIT.stroke_width(1))
        }))
        .map_err(err)?;
    chart
        .draw_series(
            bars.into_iter()
                .map(|(from, to, y, color)| Rectangle::new([(from, y + 0.2), (to, y + 0.8)], color.filled())),
        )
        .map_err(err)?;
    root.present().map_err(err)
}

/// A histogram of the backoff delays the clients chose (retry events), in seconds.
pub fn backoff_histogram(trace: &Trace, path: &Path) -> ChartResult {
    let delays: Vec<f64> = trace
        .records()
        .iter()
        .filter_map(|record| match record {
            Record::Client { event, .. } => match event.kind {
                ClientEventKind::Retry { delay_ms, .. } => Some(delay_ms as f64 / 1000.0),
                _ => None,
            },
            _ => None,
        })
        .collect();
    let max = delays.iter().copied().fold(0.0, f64::max).max(0.001);
    let bins = 40usize;
    let width = max / bins as f64;
    let mut counts = vec![0u32; bins];
    for delay in &delays {
        counts[((delay / width) as usize).min(bins - 1)] += 1;
    }
    let top = counts.iter().copied().max().unwrap_or(0).max(1);
    let root = SVGBackend::new(path, (960, 360)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("Backoff delays chosen ({} retries)", delays.len()),
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(0f64..max * 1.02, 0u32..top + top / 10 + 1)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("delay (s)")
        .y_desc("retries")
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(err)?;
    chart
        .draw_series(counts.iter().enumerate().map(|(bin, count)| {
            let x0 = bin as f64 * width;
            Rectangle::new([(x0, 0), (x0 + width * 0.92, *count)], CONFLICT.filled())
        }))
        .map_err(err)?;
    root.present().map_err(err)
}

/// One point of a makespan-against-wasted-attempts chart.
pub struct ScatterPoint {
    pub label: String,
    pub wasted: f64,
    pub makespan_s: f64,
    pub frontier: bool,
    pub recommended: bool,
}

/// Median makespan against median wasted attempts per setting (sweeps) or per preset
/// (comparisons); the Pareto frontier joined by a line, the recommendation ringed. The makespan
/// axis is logarithmic when the settings differ by more than 20×.
pub fn makespan_vs_wasted(title: &str, points: &[ScatterPoint], path: &Path) -> ChartResult {
    let max_x = points.iter().map(|p| p.wasted).fold(0.0, f64::max).max(1.0) * 1.25;
    let max_y = points.iter().map(|p| p.makespan_s).fold(0.0, f64::max).max(0.001);
    let min_y = points
        .iter()
        .map(|p| p.makespan_s)
        .fold(f64::INFINITY, f64::min)
        .max(0.001);
    let root = SVGBackend::new(path, (960, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut builder = ChartBuilder::on(&root);
    builder
        .caption(title, ("sans-serif", 18))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(64);
    if max_y / min_y > 20.0 {
        let mut chart = builder
            .build_cartesian_2d(0f64..max_x, (min_y / 1.5..max_y * 1.5).log_scale())
            .map_err(err)?;
        chart
            .configure_mesh()
            .light_line_style(WHITE.mix(0.0))
            .x_desc("wasted attempts (median over seeds)")
            .y_desc("makespan, s (median, log scale)")
            .draw()
            .map_err(err)?;
        draw_scatter(&mut chart, points)
    } else {
        let mut chart = builder
            .build_cartesian_2d(0f64..max_x, 0f64..max_y * 1.15)
            .map_err(err)?;
        chart
            .configure_mesh()
            .light_line_style(WHITE.mix(0.0))
            .x_desc("wasted attempts (median over seeds)")
            .y_desc("makespan, s (median over seeds)")
            .draw()
            .map_err(err)?;
        draw_scatter(&mut chart, points)
    }?;
    root.present().map_err(err)
}

fn draw_scatter<'a, Y>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<plotters::coord::types::RangedCoordf64, Y>>,
    points: &[ScatterPoint],
) -> ChartResult
where
    Y: Ranged<ValueType = f64>,
{
    let mut frontier: Vec<(f64, f64)> = points
        .iter()
        .filter(|p| p.frontier)
        .map(|p| (p.wasted, p.makespan_s))
        .collect();
    frontier.sort_by(|a, b| a.0.total_cmp(&b.0));
    chart
        .draw_series(LineSeries::new(frontier, ADMITTED.stroke_width(2)))
        .map_err(err)?
        .label("Pareto frontier")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 12, y)], ADMITTED.stroke_width(2)));
    for point in points {
        let color = if point.frontier { ADMITTED } else { WAIT };
        let ring = if point.recommended { 10 } else { 0 };
        let label = if point.recommended {
            format!("{} (recommended)", point.label)
        } else {
            point.label.clone()
        };
        let marker = EmptyElement::at((point.wasted, point.makespan_s))
            + Circle::new((0, 0), 5, color.filled())
            + Circle::new((0, 0), ring, REJECTED.stroke_width(3))
            + Text::new(label, (9, -4), ("sans-serif", 12).into_font().color(&BLACK));
        chart.draw_series(std::iter::once(marker)).map_err(err)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    Ok(())
}

/// One cell of a matrix chart: its text, and where it lies from good (0, green) through
/// yellow to bad (1, red); `None` draws it grey: broken, or nothing to measure.
#[derive(Clone, Debug, PartialEq)]
pub struct MatrixCell {
    pub text: String,
    pub fill: Option<f64>,
}

/// A matrix chart: rows down, columns across, each cell coloured by its `fill`; the `outlined`
/// row is framed (the recommendation), and `legend` says what the colours mean.
pub fn matrix(
    title: &str,
    rows: &[String],
    columns: &[String],
    cells: &[Vec<Option<MatrixCell>>],
    outlined: Option<usize>,
    legend: &str,
    path: &Path,
) -> ChartResult {
    let label_w = rows.iter().map(String::len).max().unwrap_or(8).clamp(8, 60) as i32 * 7 + 16;
    let cell_w = 64i32;
    let cell_h = 28i32;
    let top = 64i32;
    let width = (label_w + cell_w * columns.len().max(1) as i32 + 24).max((legend.len() as i32) * 6 + 24);
    let height = top + cell_h * rows.len().max(1) as i32 + 56;
    let root = SVGBackend::new(path, (width as u32, height as u32)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    root.draw(&Text::new(title.to_string(), (12, 12), ("sans-serif", 18)))
        .map_err(err)?;
    let small = ("sans-serif", 12).into_font();
    for (j, column) in columns.iter().enumerate() {
        let x = label_w + cell_w * j as i32 + 6;
        root.draw(&Text::new(column.clone(), (x, top - 18), small.clone()))
            .map_err(err)?;
    }
    for (i, row) in rows.iter().enumerate() {
        let y = top + cell_h * i as i32;
        root.draw(&Text::new(row.clone(), (8, y + cell_h / 2 - 6), small.clone()))
            .map_err(err)?;
        for (j, cell) in cells.get(i).into_iter().flatten().enumerate() {
            let x = label_w + cell_w * j as i32;
            let corners = [(x + 1, y + 1), (x + cell_w - 1, y + cell_h - 1)];
            let Some(cell) = cell else { continue };
            let fill = cell.fill.map_or(WAIT, scale_colour);
            root.draw(&Rectangle::new(corners, fill.filled())).map_err(err)?;
            root.draw(&Text::new(
                cell.text.clone(),
                (x + 6, y + cell_h / 2 - 6),
                small.clone(),
            ))
            .map_err(err)?;
        }
        if outlined == Some(i) {
            let right = label_w + cell_w * columns.len() as i32;
            root.draw(&Rectangle::new(
                [(2, y), (right, y + cell_h)],
                LIMIT.stroke_width(2),
            ))
            .map_err(err)?;
        }
    }
    let legend_y = top + cell_h * rows.len() as i32 + 16;
    root.draw(&Text::new(legend.to_string(), (8, legend_y), small))
        .map_err(err)?;
    root.present().map_err(err)
}

/// Green at 0, yellow at 0.5, red at 1.
fn scale_colour(t: f64) -> RGBColor {
    let t = t.clamp(0.0, 1.0);
    let (green, yellow, red) = (
        (120.0, 200.0, 120.0),
        (240.0, 220.0, 110.0),
        (230.0, 110.0, 100.0),
    );
    let mix = |a: (f64, f64, f64), b: (f64, f64, f64), t: f64| {
        RGBColor(
            (a.0 + (b.0 - a.0) * t) as u8,
            (a.1 + (b.1 - a.1) * t) as u8,
            (a.2 + (b.2 - a.2) * t) as u8,
        )
    };
    if t < 0.5 {
        mix(green, yellow, t * 2.0)
    } else {
        mix(yellow, red, (t - 0.5) * 2.0)
    }
}
