//! Reports: Markdown tables on stdout, the raw results as JSON and SVG charts under
//! `bench-results/`. The goals of issue 4 are computed here, in one place:
//! - latency: Rolodex p50 ≤ 1.15 × (SQL floor p50 + NATS echo p50 at the reply's size);
//! - throughput at the highest concurrency ≥ 80% of the SQL floor's.

use std::path::{Path, PathBuf};

use plotters::prelude::*;

use super::queries::{ClassResult, QueriesResults, Way};
use super::transport::nearest;
use super::{ms, BenchError, Table};

/// Allowed latency over (SQL floor + NATS round trip).
pub const LATENCY_GOAL: f64 = 1.15;
/// Share of the SQL floor's throughput Rolodex must reach at the highest concurrency.
pub const THROUGHPUT_GOAL: f64 = 0.8;

/// How one class did against the goals for one way over NATS.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Verdict {
    pub class: String,
    pub way: Way,
    pub floor_p50_ms: f64,
    pub rtt_p50_ms: f64,
    pub p50_ms: f64,
    /// `p50 / (floor + rtt)`; the goal is ≤ 1.15.
    pub latency_ratio: f64,
    /// Throughput at the highest concurrency over the floor's; the goal is ≥ 0.8.
    pub throughput_ratio: Option<f64>,
    /// `p50 / (paced floor + rtt)`: against PostgreSQL idling between statements as it does
    /// behind any server (informational; the goal is read against the back-to-back floor).
    pub paced_ratio: Option<f64>,
    /// `(paced floor + rtt) / (floor + rtt)`: the ratio a server that added nothing but the
    /// wire would get here, with PostgreSQL paced by that wire. Above the goal, no server
    /// meets it on this machine, whatever it does (informational).
    pub bound_ratio: Option<f64>,
}

impl Verdict {
    pub fn meets(&self) -> bool {
        self.latency_ratio <= LATENCY_GOAL
            && self.throughput_ratio.is_none_or(|t| t >= THROUGHPUT_GOAL)
    }
}

/// Where the throughput goal is read: the most requests in flight measured, when more than
/// one (one at a time measures latency). A run at 64 alone still gets its throughput table.
fn throughput_concurrency(r: &QueriesResults) -> Option<usize> {
    r.concurrency.iter().max().copied().filter(|&n| n > 1)
}

/// Compare one class with its floors.
pub fn verdict(r: &QueriesResults, class: &ClassResult, way: Way) -> Option<Verdict> {
    let low = *r.concurrency.iter().min()?;
    let floor = class.cell(Way::Floor, low)?;
    let cell = class.cell(way, low)?;
    let rtt = nearest(&r.transport, cell.reply_bytes, low).map_or(0.0, |t| t.stats.p50_ms);
    let throughput_ratio = throughput_concurrency(r)
        .and_then(|high| Some((class.cell(Way::Floor, high)?, class.cell(way, high)?)))
        .filter(|(f, _)| f.stats.throughput > 0.0)
        .map(|(f, c)| c.stats.throughput / f.stats.throughput);
    let paced = class.cell(Way::PacedFloor, low).map(|p| p.stats.p50_ms);
    Some(Verdict {
        class: class.name.clone(),
        way,
        floor_p50_ms: floor.stats.p50_ms,
        rtt_p50_ms: rtt,
        p50_ms: cell.stats.p50_ms,
        latency_ratio: cell.stats.p50_ms / (floor.stats.p50_ms + rtt).max(1e-9),
        throughput_ratio,
        paced_ratio: paced.map(|p| cell.stats.p50_ms / (p + rtt).max(1e-9)),
        bound_ratio: paced.map(|p| (p + rtt) / (floor.stats.p50_ms + rtt).max(1e-9)),
    })
}

fn tick(ok: bool) -> String {
    if ok {
        "yes".into()
    } else {
        "**no**".into()
    }
}

/// CPU per request at `low` in flight, from the cells' `/proc` readings; empty without them.
fn cpu_markdown(r: &QueriesResults, low: usize) -> String {
    let mut t = Table::new(&[
        "class",
        "floor",
        "paced",
        "msgpack+zstd",
        "JSON",
        "Rolodex's own",
    ]);
    let mut any = false;
    for class in &r.classes {
        let cpu = |w| class.cell(w, low).and_then(|c| c.cpu_us);
        let us = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.0}"));
        let paced = cpu(Way::PacedFloor);
        let own = |w| cpu(w).zip(paced).map(|(c, p)| c - p);
        any |= cpu(Way::MsgpackZstd).is_some();
        t.row(vec![
            class.name.clone(),
            us(cpu(Way::Floor)),
            us(paced),
            us(cpu(Way::MsgpackZstd)),
            us(cpu(Way::Json)),
            format!("{} / {}", us(own(Way::MsgpackZstd)), us(own(Way::Json))),
        ]);
    }
    if !any {
        return String::new();
    }
    format!(
        "\n### CPU per request, {low} in flight (µs of the bench process)\n\n\
         The daemon runs in the bench process, so its cells carry its work as well as the \
         client's. The paced floor pays an echo round trip and the statement from the same \
         process, so \"Rolodex's own\" (the cell's CPU less the paced floor's, MessagePack / \
         JSON) is what the daemon adds: intake, planning, encoding, compression, publishing. \
         Read from `/proc/self/stat` (10 ms ticks) around the measured requests.\n\n{}",
        t.markdown()
    )
}

/// The whole report as Markdown.
pub fn queries_markdown(r: &QueriesResults) -> String {
    let low = r.concurrency.iter().min().copied().unwrap_or(1);
    let mut out = format!(
        "## rolodex bench queries{}\n\nDataset: {} contacts, {} companies. Started {}.\n\n",
        if r.quick { " (quick)" } else { "" },
        r.contacts,
        r.companies,
        r.started
    );
    let m = &r.monitor;
    if m.enabled {
        out.push_str(&format!(
            "The daemon runs with its query monitor as configured: statements over {} ms are logged \
             (not printed here) and up to {} a minute over {} ms are run again under EXPLAIN ANALYZE, \
             a cost its cells carry and the floor's do not.\n\n",
            m.slow_ms, m.explain_per_minute, m.explain_ms
        ));
    }

    out.push_str("### Transport floor: NATS echo request/reply\n\n");
    let mut t = Table::new(&["payload B", "in flight", "p50 ms", "p99 ms", "req/s"]);
    for c in &r.transport {
        t.row(vec![
            c.payload_bytes.to_string(),
            c.concurrency.to_string(),
            ms(c.stats.p50_ms),
            ms(c.stats.p99_ms),
            format!("{:.0}", c.stats.throughput),
        ]);
    }
    out.push_str(&t.markdown());

    out.push_str(&format!(
        "\n### Latency, {low} in flight (ms)\n\nGoal: p50 ≤ {LATENCY_GOAL} × (SQL floor p50 + NATS echo p50 at the reply's size). \
         The paced floor runs each statement after an untimed echo round trip, so PostgreSQL idles \
         between statements as it does behind a server; \"vs paced\" is p50 / (paced floor p50 + echo p50), \
         MessagePack / JSON, for reading only. \"bound\" is (paced floor p50 + echo p50) / (floor p50 + echo p50): \
         the ratio of a server that added nothing but the wire; above {LATENCY_GOAL}, no server meets the goal \
         on this machine, and a miss there reads \"**no**, bound\".\n\n"
    ));
    let mut t = Table::new(&[
        "class",
        "floor p50",
        "floor p99",
        "paced p50",
        "msgpack+zstd p50",
        "p99",
        "JSON p50",
        "p99",
        "echo p50",
        "ratio msgpack",
        "ratio JSON",
        "vs paced",
        "bound",
        "meets",
    ]);
    for class in &r.classes {
        let cell = |w| class.cell(w, low).map(|c| &c.stats);
        let (Some(f), Some(m), Some(j)) =
            (cell(Way::Floor), cell(Way::MsgpackZstd), cell(Way::Json))
        else {
            continue;
        };
        let vm = verdict(r, class, Way::MsgpackZstd);
        let vj = verdict(r, class, Way::Json);
        let ratio = |v: &Option<Verdict>| {
            v.as_ref()
                .map_or("-".into(), |v| format!("{:.2}", v.latency_ratio))
        };
        let ok = [&vm, &vj]
            .iter()
            .all(|v| v.as_ref().is_some_and(|v| v.latency_ratio <= LATENCY_GOAL));
        let beyond_any_server = [&vm, &vj].iter().any(|v| {
            v.as_ref()
                .and_then(|v| v.bound_ratio)
                .is_some_and(|b| b > LATENCY_GOAL)
        });
        let both = |read: fn(&Verdict) -> Option<f64>| {
            let one = |v: &Option<Verdict>| {
                v.as_ref()
                    .and_then(read)
                    .map_or("-".into(), |r| format!("{r:.2}"))
            };
            format!("{} / {}", one(&vm), one(&vj))
        };
        t.row(vec![
            class.name.clone(),
            ms(f.p50_ms),
            ms(f.p99_ms),
            class
                .cell(Way::PacedFloor, low)
                .map_or("-".into(), |p| ms(p.stats.p50_ms)),
            ms(m.p50_ms),
            ms(m.p99_ms),
            ms(j.p50_ms),
            ms(j.p99_ms),
            vm.as_ref().map_or("-".into(), |v| ms(v.rtt_p50_ms)),
            ratio(&vm),
            ratio(&vj),
            both(|v| v.paced_ratio),
            both(|v| v.bound_ratio),
            if !ok && beyond_any_server {
                "**no**, bound".into()
            } else {
                tick(ok)
            },
        ]);
    }
    out.push_str(&t.markdown());

    out.push_str(&cpu_markdown(r, low));

    if let Some(high) = throughput_concurrency(r) {
        out.push_str(&format!(
            "\n### Throughput, {high} in flight (req/s)\n\nGoal: ≥ {:.0}% of the SQL floor.\n\n",
            THROUGHPUT_GOAL * 100.0
        ));
        let mut t = Table::new(&[
            "class",
            "floor req/s",
            "floor p99",
            "msgpack+zstd req/s",
            "p99",
            "JSON req/s",
            "p99",
            "share msgpack",
            "share JSON",
            "meets",
        ]);
        for class in &r.classes {
            let cell = |w| class.cell(w, high).map(|c| &c.stats);
            let (Some(f), Some(m), Some(j)) =
                (cell(Way::Floor), cell(Way::MsgpackZstd), cell(Way::Json))
            else {
                continue;
            };
            let share = |s: f64| s / f.throughput.max(1e-9);
            t.row(vec![
                class.name.clone(),
                format!("{:.0}", f.throughput),
                ms(f.p99_ms),
                format!("{:.0}", m.throughput),
                ms(m.p99_ms),
                format!("{:.0}", j.throughput),
                ms(j.p99_ms),
                format!("{:.0}%", share(m.throughput) * 100.0),
                format!("{:.0}%", share(j.throughput) * 100.0),
                tick(
                    share(m.throughput) >= THROUGHPUT_GOAL
                        && share(j.throughput) >= THROUGHPUT_GOAL,
                ),
            ]);
        }
        out.push_str(&t.markdown());
    }

    out.push_str("\n### Wire size (bytes; % of JSON)\n\n");
    let mut t = Table::new(&[
        "page",
        "JSON",
        "MessagePack",
        "MessagePack+zstd",
        "JSON+gzip",
    ]);
    let mut pages: Vec<(usize, &str)> = r.wire.iter().map(|w| (w.rows, w.shape.as_str())).collect();
    pages.dedup();
    for (rows, shape) in pages {
        let get = |enc: &str| {
            r.wire
                .iter()
                .find(|w| w.rows == rows && w.shape == shape && w.encoding == enc)
                .map_or(0, |w| w.bytes)
        };
        let json = get("json").max(1);
        let cell = |enc: &str| {
            format!(
                "{} ({:.0}%)",
                get(enc),
                get(enc) as f64 * 100.0 / json as f64
            )
        };
        t.row(vec![
            format!("{rows} rows, {shape} fields"),
            json.to_string(),
            cell("msgpack"),
            cell("msgpack+zstd"),
            cell("json+gzip"),
        ]);
    }
    out.push_str(&t.markdown());
    out.push_str(&encode_cost_table(&r.wire));
    out.push_str(&plan_cost_table(&r.classes));
    let notes: Vec<String> = r
        .classes
        .iter()
        .flat_map(|c| &c.cells)
        .filter(|c| c.errors > 0)
        .map(|c| {
            format!(
                "{} errors via {} at {}",
                c.errors,
                c.way.label(),
                c.concurrency
            )
        })
        .collect();
    if !notes.is_empty() {
        out.push_str(&format!("\nFailed requests: {}.\n", notes.join("; ")));
    }
    out
}

/// Write `queries.json` and the charts into `dir`; returns the paths written.
pub fn write_queries(r: &QueriesResults, dir: &Path) -> Result<Vec<PathBuf>, BenchError> {
    let fail = |path: &Path, e: String| BenchError::Write {
        path: path.to_owned(),
        reason: e,
    };
    std::fs::create_dir_all(dir).map_err(|e| fail(dir, e.to_string()))?;
    let json_path = dir.join("queries.json");
    let verdicts: Vec<Verdict> = r
        .classes
        .iter()
        .flat_map(|c| [Way::MsgpackZstd, Way::Json].map(|w| verdict(r, c, w)))
        .flatten()
        .collect();
    let body = serde_json::json!({ "results": r, "verdicts": verdicts });
    let text = serde_json::to_string_pretty(&body).map_err(|e| fail(&json_path, e.to_string()))?;
    std::fs::write(&json_path, text).map_err(|e| fail(&json_path, e.to_string()))?;
    let mut written = vec![json_path];
    let low = r.concurrency.iter().min().copied().unwrap_or(1);
    let latency = dir.join("queries-latency-p50.svg");
    bars(
        r,
        &latency,
        &format!("p50 latency per class, {low} in flight (ms, log scale)"),
        |c, w| c.cell(w, low).map(|c| c.stats.p50_ms),
        true,
    )
    .map_err(|e| fail(&latency, e))?;
    written.push(latency);
    if let Some(high) = throughput_concurrency(r) {
        let throughput = dir.join("queries-throughput.svg");
        bars(
            r,
            &throughput,
            &format!("throughput per class, {high} in flight (req/s, log scale)"),
            |c, w| c.cell(w, high).map(|c| c.stats.throughput),
            true,
        )
        .map_err(|e| fail(&throughput, e))?;
        written.push(throughput);
    }
    Ok(written)
}

/// Grouped bars: one group per class, one bar per way.
fn bars(
    r: &QueriesResults,
    path: &Path,
    title: &str,
    value: impl Fn(&ClassResult, Way) -> Option<f64>,
    log: bool,
) -> Result<(), String> {
    let ways = [Way::Floor, Way::MsgpackZstd, Way::Json];
    let colors = [
        RGBColor(90, 90, 90),
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
    ];
    let values: Vec<f64> = r
        .classes
        .iter()
        .flat_map(|c| ways.map(|w| value(c, w)))
        .flatten()
        .filter(|v| *v > 0.0)
        .collect();
    let max = values.iter().copied().fold(1e-3, f64::max) * 2.0;
    let min = if log {
        values
            .iter()
            .copied()
            .fold(f64::MAX, f64::min)
            .min(max / 4.0)
            / 2.0
    } else {
        0.0
    };
    let n = r.classes.len().max(1);
    let root = SVGBackend::new(path, (1200, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let names: Vec<String> = r.classes.iter().map(|c| c.name.clone()).collect();
    let label = |x: &f64| {
        let i = x.round() as i64;
        if (x - i as f64).abs() < 1e-6 && i >= 0 {
            names.get(i as usize).cloned().unwrap_or_default()
        } else {
            String::new()
        }
    };
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(70)
        .y_label_area_size(70)
        .build_cartesian_2d(-0.6f64..(n as f64 - 0.4), (min.max(1e-4)..max).log_scale())
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n)
        .x_label_formatter(&label)
        .draw()
        .map_err(|e| e.to_string())?;
    let width = 0.8 / ways.len() as f64;
    for (k, way) in ways.iter().enumerate() {
        let color = colors[k];
        let rects: Vec<Rectangle<(f64, f64)>> = r
            .classes
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                let v = value(c, *way)?;
                let x0 = i as f64 - 0.4 + k as f64 * width;
                Some(Rectangle::new(
                    [
                        (x0, min.max(1e-4)),
                        (x0 + width * 0.9, v.max(min.max(1e-4))),
                    ],
                    color.filled(),
                ))
            })
            .collect();
        chart
            .draw_series(rects)
            .map_err(|e| e.to_string())?
            .label(way.label())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled()));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())?;
    Ok(())
}

/// What planning one request of each class costs the daemon (median µs).
fn plan_cost_table(classes: &[ClassResult]) -> String {
    let mut t = Table::new(&["class", "plan µs"]);
    for c in classes {
        t.row(vec![c.name.clone(), format!("{:.1}", c.plan_us)]);
    }
    format!(
        "\n### Planning cost (µs per request, the daemon's planner, median)\n\n{}",
        t.markdown()
    )
}

/// What encoding each page costs the daemon (median µs through its codec), if measured.
fn encode_cost_table(wire: &[super::wire_size::WireSize]) -> String {
    let mut pages: Vec<(usize, &str)> = wire.iter().map(|w| (w.rows, w.shape.as_str())).collect();
    pages.dedup();
    let encodings = ["json", "msgpack", "msgpack+zstd"];
    let mut t = Table::new(&["page", "JSON", "MessagePack", "MessagePack+zstd"]);
    let mut any = false;
    for (rows, shape) in pages {
        let mut row = vec![format!("{rows} rows, {shape} fields")];
        for enc in encodings {
            let us = wire
                .iter()
                .find(|w| w.rows == rows && w.shape == shape && w.encoding == enc)
                .and_then(|w| w.encode_us);
            any |= us.is_some();
            row.push(us.map_or("-".into(), |us| format!("{us:.1}")));
        }
        t.row(row);
    }
    if !any {
        return String::new();
    }
    format!(
        "\n### Encoding cost (µs per page, the daemon's codec, median)\n\n{}",
        t.markdown()
    )
}
