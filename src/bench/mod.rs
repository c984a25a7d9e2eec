//! `rolodex bench`: reproducible figures, measured side by side with the physical floor in
//! the same run so they read as ratios that hold on a noisy machine.
//!
//! Roles, one file each: [`generate`] (the seeded dataset, loaded with COPY), [`queries`]
//! (query classes: planner SQL direct vs Rolodex over NATS), `floor` (the plain connections
//! the SQL floor runs on), [`transport`] (the raw NATS
//! request/reply floor), [`wire_size`] (page sizes per encoding), [`report`] (Markdown on
//! stdout, JSON and SVG charts under `bench-results/`). This module holds the command line and
//! the pieces every bench shares: [`Stats`] from a set of durations, and [`Table`].
//!
//! A later bench (`bench ingest`, `bench cache`, `bench monitor`) is one more [`BenchCommand`] variant and one
//! more file that returns `Stats` and `Table`s; `report` writes them the same way.
//!
//! Never does: assert timings (the CI smoke test only checks that every class produced
//! results); run against a database it did not create (`generate` drops and recreates its own).

pub mod cache;
pub mod cpu;
mod floor;
pub mod generate;
pub mod ingest;
pub mod monitor;
pub mod queries;
pub mod report;
pub mod transport;
mod vocab;
pub mod wire_size;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

/// The default bench database: dropped and recreated by `bench generate`.
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/rolodex_bench";
/// The default seed of the synthetic dataset and of the query parameters.
pub const DEFAULT_SEED: u64 = 20_261_127;

#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub command: BenchCommand,
}

#[derive(Debug, Clone, Subcommand)]
pub enum BenchCommand {
    /// Drop and recreate the bench database and load a seeded synthetic dataset with COPY.
    Generate(generate::GenerateArgs),
    /// Run the query classes: planner SQL direct (the floor) vs Rolodex over NATS.
    Queries(queries::QueriesArgs),
    /// Event ingestion: applied events/s beside COPY (the floor) and one-row INSERTs (naive),
    /// in a throw-away database and stream on the configured server.
    Ingest(ingest::IngestArgs),
    /// Result-cache hit and miss latency over NATS beside the raw NATS round trip (needs a
    /// daemon already serving the configured prefix).
    Cache(cache::CacheArgs),
    /// What the query monitor costs: two daemons, monitor on and off, asked in turns.
    Monitor(monitor::MonitorArgs),
}

impl BenchArgs {
    /// The database named by the global `--database-url`, if given (else the bench default).
    pub fn set_database_url(&mut self, url: Option<String>) {
        match &mut self.command {
            BenchCommand::Generate(a) => a.database_url = url,
            BenchCommand::Queries(a) => a.database_url = url,
            BenchCommand::Monitor(a) => a.database_url = url,
            // These derive their databases from the configuration's `database.url`.
            BenchCommand::Ingest(_) | BenchCommand::Cache(_) => {}
        }
    }
}

/// Why a bench failed. Each says what and where.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
    #[error("PostgreSQL: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("NATS: {0}")]
    Nats(String),
    #[error("the daemon: {0}")]
    Serve(#[from] crate::ServeError),
    #[error("{class}: {reason}")]
    Class { class: String, reason: String },
    #[error("cannot write {path}: {reason}")]
    Write { path: PathBuf, reason: String },
    #[error("{0}")]
    Invalid(String),
}

/// Run a `rolodex bench` subcommand (the CLI entry point).
pub async fn run(config: &crate::Config, args: &BenchArgs) -> Result<(), BenchError> {
    match &args.command {
        BenchCommand::Generate(a) => {
            generate::run(&a.options(&config.normalize))
                .await
                .map(|summary| {
                    println!("{summary}");
                })
        }
        BenchCommand::Queries(a) => {
            let opts = a.options(config);
            let results = queries::run(&opts).await?;
            println!("{}", report::queries_markdown(&results));
            let written = report::write_queries(&results, &opts.out_dir)?;
            for path in written {
                eprintln!("wrote {}", path.display());
            }
            Ok(())
        }
        BenchCommand::Ingest(a) => {
            let report = ingest::run(config, &a.options())
                .await
                .map_err(|e| BenchError::Invalid(e.to_string()))?;
            print!("{}", report.render());
            Ok(())
        }
        BenchCommand::Monitor(a) => {
            let cells = monitor::run(config, a).await?;
            println!("{}", monitor::markdown(&cells));
            Ok(())
        }
        BenchCommand::Cache(a) => {
            let report = cache::run(config, a.iterations)
                .await
                .map_err(|e| BenchError::Invalid(e.to_string()))?;
            println!(
                "{}",
                serde_json::to_string_pretty(&report).unwrap_or_default()
            );
            Ok(())
        }
    }
}

/// Latency and throughput of one measured run: durations of each request plus the wall time
/// the run took (throughput is requests over wall time, so it counts concurrency).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Stats {
    pub count: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub mean_ms: f64,
    pub max_ms: f64,
    pub throughput: f64,
}

impl Stats {
    /// Summarise `samples` measured over `wall`. An empty set gives zeros.
    pub fn from_durations(samples: &[Duration], wall: Duration) -> Stats {
        if samples.is_empty() {
            return Stats {
                count: 0,
                p50_ms: 0.0,
                p99_ms: 0.0,
                mean_ms: 0.0,
                max_ms: 0.0,
                throughput: 0.0,
            };
        }
        let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        ms.sort_by(f64::total_cmp);
        let secs = wall.as_secs_f64();
        Stats {
            count: ms.len(),
            p50_ms: percentile(&ms, 50.0),
            p99_ms: percentile(&ms, 99.0),
            mean_ms: ms.iter().sum::<f64>() / ms.len() as f64,
            max_ms: ms[ms.len() - 1],
            throughput: if secs > 0.0 {
                ms.len() as f64 / secs
            } else {
                0.0
            },
        }
    }
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// A Markdown table: headers and rows of cells, columns padded for the terminal.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Table {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(headers: &[&str]) -> Table {
        Table {
            headers: headers.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn markdown(&self) -> String {
        let widths: Vec<usize> = (0..self.headers.len())
            .map(|i| {
                self.rows
                    .iter()
                    .filter_map(|r| r.get(i))
                    .chain(std::iter::once(&self.headers[i]))
                    .map(|c| c.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |cells: &[String]| {
            let padded: Vec<String> = widths
                .iter()
                .enumerate()
                .map(|(i, w)| format!("{:<w$}", cells.get(i).map_or("", String::as_str)))
                .collect();
            format!("| {} |\n", padded.join(" | "))
        };
        let mut out = line(&self.headers);
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat((*w).max(3))).collect();
        out.push_str(&format!("|-{}-|\n", rule.join("-|-")));
        for r in &self.rows {
            out.push_str(&line(r));
        }
        out
    }
}

/// Format milliseconds compactly: three significant digits.
pub fn ms(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else if v >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// A progress bar for a long phase (drawn on stderr; hidden when `quiet`).
pub fn progress(len: u64, what: &str, quiet: bool) -> ProgressBar {
    let bar = if quiet {
        ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::hidden())
    } else {
        ProgressBar::new(len)
    };
    let style = ProgressStyle::with_template(
        "{prefix:>18} [{bar:32}] {human_pos}/{human_len} ({per_sec}, eta {eta}) {msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(what.to_owned());
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_take_nearest_rank_percentiles() {
        let samples: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        let s = Stats::from_durations(&samples, Duration::from_secs(2));
        assert_eq!(s.count, 100);
        assert!((s.p50_ms - 50.0).abs() < 1e-9);
        assert!((s.p99_ms - 99.0).abs() < 1e-9);
        assert!((s.mean_ms - 50.5).abs() < 1e-9);
        assert!((s.throughput - 50.0).abs() < 1e-9);
        assert_eq!(Stats::from_durations(&[], Duration::ZERO).count, 0);
    }

    #[test]
    fn tables_render_as_markdown() {
        let mut t = Table::new(&["class", "p50"]);
        t.row(vec!["minimal".into(), "0.25".into()]);
        assert_eq!(
            t.markdown(),
            "| class   | p50  |\n|---------|------|\n| minimal | 0.25 |\n"
        );
    }
}
