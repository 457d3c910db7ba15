//! SVG figures of an experiment: convergence with confidence bands, the distribution of final
//! results, and one figure per ablation sweep.

use std::path::Path;

use plotters::prelude::*;

use crate::experiment::{by_method, Method, MethodSummary, TrialResult};
use crate::{stats, Config, Error, Result};

const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

fn plot_error(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::data(path, format!("cannot draw the figure: {e}"))
}

fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.filter(|v| v.is_finite()).fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| (l.min(v), h.max(v)));
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.05).max(1e-6);
    (lo - pad, hi + pad)
}

/// Writes `convergence.svg`, `final.svg` and `sweep-<strategy>-<key>.svg` into `out`.
pub fn write_plots(config: &Config, methods: &[Method], results: &[TrialResult], summaries: &[MethodSummary], out: &Path) -> Result<()> {
    let groups = by_method(methods, results);
    let plain: Vec<&Method> = methods.iter().filter(|m| m.setting.is_none()).collect();
    convergence(&plain, &groups, &out.join("convergence.svg"))?;
    distribution(methods, &groups, &out.join("final.svg"))?;
    for sweep in config.experiment.iter().flat_map(|e| e.sweep.iter()) {
        let points: Vec<(f64, &MethodSummary)> = sweep
            .values
            .iter()
            .filter_map(|v| {
                let x = v.as_float().or_else(|| v.as_integer().map(|i| i as f64))?;
                let label = format!("{} {}={}", sweep.strategy, sweep.key, v);
                summaries.iter().find(|s| s.method == label).map(|s| (x, s))
            })
            .collect();
        let path = out.join(format!("sweep-{}-{}.svg", sweep.strategy, sweep.key));
        sweep_figure(&sweep.key, &points, &path)?;
    }
    Ok(())
}

/// One line of a figure: its label and, per point, the mean and the band's low and high ends.
type Series = (String, Vec<(f64, f64, f64)>);

fn convergence(methods: &[&Method], groups: &std::collections::BTreeMap<String, Vec<&TrialResult>>, path: &Path) -> Result<()> {
    let length = groups.values().flatten().map(|r| r.curve.len()).max().unwrap_or(0);
    if length == 0 {
        return Ok(());
    }
    // Mean and 99% band of the best-so-far report metric after each query.
    let series: Vec<Series> = methods
        .iter()
        .map(|m| {
            let trials = &groups[&m.label];
            let points = (0..length)
                .filter_map(|q| {
                    let vals: Vec<f64> = trials.iter().filter_map(|t| t.curve.get(q).copied()).collect();
                    if vals.is_empty() {
                        return None;
                    }
                    let mean = stats::mean(&vals);
                    // One trial has no interval: draw its line alone.
                    let half = stats::mean_ci_half_width(&vals, 0.99).max(0.0);
                    Some((mean, mean - half, mean + half))
                })
                .collect();
            (m.label.clone(), points)
        })
        .collect();
    let (lo, hi) = bounds(series.iter().flat_map(|(_, p)| p.iter().flat_map(|&(_, l, h)| [l, h])));
    // Skip the first few queries, where a single random draw dominates the scale.
    let lo = series.iter().flat_map(|(_, p)| p.iter().skip(length / 10).map(|&(_, l, _)| l)).fold(hi, f64::min).max(lo);
    let root = SVGBackend::new(path, (800, 500)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| plot_error(path, e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption("Best architecture so far", ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(1f64..length as f64, lo..hi)
        .map_err(|e| plot_error(path, e))?;
    chart
        .configure_mesh()
        .x_desc("queries")
        .y_desc("report metric of the best (mean, 99% CI)")
        .draw()
        .map_err(|e| plot_error(path, e))?;
    for (i, (label, points)) in series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let upper = points.iter().enumerate().map(|(q, p)| (q as f64 + 1.0, p.2.min(hi)));
        let lower = points.iter().enumerate().rev().map(|(q, p)| (q as f64 + 1.0, p.1.max(lo)));
        chart
            .draw_series(std::iter::once(Polygon::new(upper.chain(lower).collect::<Vec<_>>(), color.mix(0.15))))
            .map_err(|e| plot_error(path, e))?;
        chart
            .draw_series(LineSeries::new(points.iter().enumerate().map(|(q, p)| (q as f64 + 1.0, p.0.max(lo))), color.stroke_width(2)))
            .map_err(|e| plot_error(path, e))?
            .label(label.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| plot_error(path, e))?;
    root.present().map_err(|e| plot_error(path, e))
}

fn distribution(methods: &[Method], groups: &std::collections::BTreeMap<String, Vec<&TrialResult>>, path: &Path) -> Result<()> {
    let (lo, hi) = bounds(groups.values().flatten().map(|r| r.best_report));
    let n = methods.len().max(1);
    let root = SVGBackend::new(path, (120 + 110 * n as u32, 500)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| plot_error(path, e))?;
    let labels: Vec<String> = methods.iter().map(|m| m.label.clone()).collect();
    let mut chart = ChartBuilder::on(&root)
        .caption("Final result per trial", ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(60)
        .y_label_area_size(60)
        .build_cartesian_2d(-0.5f64..n as f64 - 0.5, lo..hi)
        .map_err(|e| plot_error(path, e))?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n)
        .x_label_formatter(&|x| {
            let i = x.round();
            if (x - i).abs() < 1e-9 && i >= 0.0 { labels.get(i as usize).cloned().unwrap_or_default() } else { String::new() }
        })
        .y_desc("report metric of the best architecture")
        .draw()
        .map_err(|e| plot_error(path, e))?;
    for (i, m) in methods.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let values: Vec<f64> = groups[&m.label].iter().map(|r| r.best_report).collect();
        if values.is_empty() {
            continue;
        }
        // Points spread sideways by a fixed pattern (no randomness in figures), plus mean and median.
        chart
            .draw_series(values.iter().enumerate().map(|(k, &v)| {
                let dx = ((k * 7919) % 61) as f64 / 61.0 * 0.5 - 0.25;
                Circle::new((i as f64 + dx, v), 2, color.mix(0.6).filled())
            }))
            .map_err(|e| plot_error(path, e))?;
        for (y, style) in [(stats::mean(&values), BLACK.stroke_width(2)), (stats::median(&values), color.stroke_width(2))] {
            chart
                .draw_series(std::iter::once(PathElement::new(vec![(i as f64 - 0.35, y), (i as f64 + 0.35, y)], style)))
                .map_err(|e| plot_error(path, e))?;
        }
    }
    root.present().map_err(|e| plot_error(path, e))
}

fn sweep_figure(key: &str, points: &[(f64, &MethodSummary)], path: &Path) -> Result<()> {
    if points.is_empty() {
        return Ok(());
    }
    let (lo, hi) = bounds(points.iter().flat_map(|(_, s)| [s.ci99.0, s.ci99.1]));
    let positions: Vec<f64> = (0..points.len()).map(|i| i as f64).collect();
    let root = SVGBackend::new(path, (700, 450)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| plot_error(path, e))?;
    let ticks: Vec<String> = points.iter().map(|(x, _)| format!("{x}")).collect();
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("Effect of {key}"), ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(-0.5f64..points.len() as f64 - 0.5, lo..hi)
        .map_err(|e| plot_error(path, e))?;
    chart
        .configure_mesh()
        .x_labels(points.len())
        .x_label_formatter(&|x| {
            let i = x.round();
            if (x - i).abs() < 1e-9 && i >= 0.0 { ticks.get(i as usize).cloned().unwrap_or_default() } else { String::new() }
        })
        .x_desc(key)
        .y_desc("mean report metric (99% CI)")
        .draw()
        .map_err(|e| plot_error(path, e))?;
    chart
        .draw_series(LineSeries::new(positions.iter().zip(points).map(|(&x, (_, s))| (x, s.mean)), PALETTE[0].stroke_width(2)))
        .map_err(|e| plot_error(path, e))?;
    chart
        .draw_series(positions.iter().zip(points).map(|(&x, (_, s))| {
            ErrorBar::new_vertical(x, s.ci99.0, s.mean, s.ci99.1, PALETTE[0].filled(), 8)
        }))
        .map_err(|e| plot_error(path, e))?;
    root.present().map_err(|e| plot_error(path, e))
}
