//! SVG charts of a comparison: throughput, and latency percentiles, as grouped bars.

use std::path::Path;

use plotters::coord::types::RangedCoordi32;
use plotters::prelude::*;

use super::report::Summary;
use super::scenario::Scenario;

/// Width of one group on the x axis, in axis units.
const GROUP: i32 = 10;

const COLORS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

type Error = Box<dyn std::error::Error>;

/// Bars: one group per label, one bar per series in each group.
struct Bars<'a> {
    title: String,
    y_desc: &'a str,
    groups: Vec<String>,
    series: Vec<(String, Vec<f64>)>,
}

/// Writes `throughput.svg` and `latency.svg` into `dir`.
pub fn write(
    dir: &Path,
    sums: &[Summary],
    scenarios: &[Scenario],
    servers: &[String],
) -> std::io::Result<()> {
    let value = |sc: &str, server: &str, f: fn(&Summary) -> f64| {
        sums.iter()
            .find(|s| s.scenario == sc && s.server == server && s.runs > 0)
            .map_or(0.0, f)
    };
    let throughput = Bars {
        title: "Throughput (median msgs/s, log scale)".into(),
        y_desc: "msgs/s",
        groups: scenarios.iter().map(|s| s.name.to_string()).collect(),
        series: servers
            .iter()
            .map(|srv| {
                (
                    srv.clone(),
                    scenarios
                        .iter()
                        .map(|sc| value(sc.name, srv, |s| s.msgs_per_sec))
                        .collect(),
                )
            })
            .collect(),
    };
    let path = dir.join("throughput.svg");
    draw_one(&path, &throughput)
        .map_err(|e| std::io::Error::other(format!("{}: {e}", path.display())))?;

    let panels: Vec<Bars> = scenarios
        .iter()
        .map(|sc| Bars {
            title: format!("{} latency (us, log scale)", sc.name),
            y_desc: "us",
            groups: vec!["p50".into(), "p99".into(), "p99.9".into()],
            series: servers
                .iter()
                .map(|srv| {
                    let get = |f: fn(&Summary) -> f64| value(sc.name, srv, f);
                    (
                        srv.clone(),
                        vec![get(|s| s.p50_us), get(|s| s.p99_us), get(|s| s.p999_us)],
                    )
                })
                .collect(),
        })
        .collect();
    let path = dir.join("latency.svg");
    draw_panels(&path, &panels)
        .map_err(|e| std::io::Error::other(format!("{}: {e}", path.display())))
}

fn draw_one(path: &Path, bars: &Bars) -> Result<(), Error> {
    let root =
        SVGBackend::new(path, (160 * bars.groups.len().max(4) as u32, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    draw_bars(&root, bars)?;
    root.present()?;
    Ok(())
}

fn draw_panels(path: &Path, panels: &[Bars]) -> Result<(), Error> {
    let cols = panels.len().clamp(1, 3);
    let rows = panels.len().div_ceil(cols).max(1);
    let root = SVGBackend::new(path, (420 * cols as u32, 340 * rows as u32)).into_drawing_area();
    root.fill(&WHITE)?;
    for (area, bars) in root.split_evenly((rows, cols)).iter().zip(panels) {
        draw_bars(area, bars)?;
    }
    root.present()?;
    Ok(())
}

fn draw_bars<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    bars: &Bars,
) -> Result<(), Error>
where
    DB::ErrorType: 'static,
{
    let n = bars.groups.len() as i32;
    // Log scale: throughputs and latencies span orders of magnitude. The tallest bar reaches
    // 70% of the height, leaving the top free for the legend.
    let max = bars
        .series
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .fold(10.0f64, f64::max);
    let top = max.powf(1.0 / 0.7);
    let mut builder = ChartBuilder::on(area);
    builder
        .caption(&bars.title, ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(60);
    let groups = &bars.groups;
    let label = move |x: &i32| {
        let i = x / GROUP;
        if x % GROUP == GROUP / 2 && (0..groups.len() as i32).contains(&i) {
            groups[i as usize].clone()
        } else {
            String::new()
        }
    };
    let mut chart = builder.build_cartesian_2d(0..n * GROUP, (1.0..top).log_scale())?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels((n * GROUP) as usize + 1)
        .x_label_formatter(&label)
        .y_label_formatter(&|v| human(*v))
        .y_desc(bars.y_desc)
        .draw()?;
    series(&mut chart, bars, 1.0)?;
    legend(&mut chart)?;
    Ok(())
}

/// 1500 -> "1.5k", 2000000 -> "2M".
fn human(v: f64) -> String {
    let (x, unit) = match v {
        v if v >= 1e6 => (v / 1e6, "M"),
        v if v >= 1e3 => (v / 1e3, "k"),
        v => (v, ""),
    };
    let text = format!("{x:.1}");
    format!("{}{unit}", text.trim_end_matches(".0"))
}

fn series<'a, DB, Y>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<RangedCoordi32, Y>>,
    bars: &Bars,
    floor: f64,
) -> Result<(), Error>
where
    DB: DrawingBackend + 'a,
    DB::ErrorType: 'static,
    Y: Ranged<ValueType = f64>,
{
    let k = bars.series.len().max(1) as i32;
    let width = (GROUP - 2) / k;
    for (j, (name, values)) in bars.series.iter().enumerate() {
        // The same colour for a server in every chart, whichever servers were picked.
        let k = super::SERVERS.iter().position(|s| s == name).unwrap_or(j);
        let color = COLORS[k % COLORS.len()];
        let x0 = 1 + j as i32 * width;
        let rects = values
            .iter()
            .enumerate()
            .filter(|(_, v)| **v > floor)
            .map(move |(i, v)| {
                let x = i as i32 * GROUP + x0;
                Rectangle::new([(x, floor), (x + width, *v)], color.filled())
            });
        chart
            .draw_series(rects)?
            .label(name.as_str())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled()));
    }
    Ok(())
}

fn legend<'a, DB, Y>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<RangedCoordi32, Y>>,
) -> Result<(), Error>
where
    DB: DrawingBackend + 'a,
    DB::ErrorType: 'static,
    Y: Ranged<ValueType = f64>,
{
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}
