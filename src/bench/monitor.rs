//! `rolodex bench monitor`: what the query monitor costs. Two daemons run in this process on
//! the bench database, identical but for `monitor.enabled`, and are asked the same requests
//! (MessagePack + zstd) in turns, slice by slice (alternating which side goes first), each
//! side's slices pooled. Load drifting
//! over the run weighs on both alike, which is what makes a few percent measurable on a shared
//! two-core machine where back-to-back runs differ by 15%. Even so, two identical daemons
//! (`--same`) read a few percent apart, so the run also times the monitor's own work per
//! request alone and sets it against the CPU the whole machine spends per request: that share
//! bounds what the monitor can cost a CPU-bound server, well below the A/B noise.

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use serde::Serialize;

use super::queries::{
    classes, encoded_requests, measure, nats_once, setup_pool, Daemon, Measured, QueriesOptions,
    CURSOR_SECRET,
};
use super::{BenchError, Stats, Table, DEFAULT_DATABASE_URL};
use crate::client::Format;
use crate::Config;
use rolodex_actors::config::MonitorConfig;
use rolodex_actors::monitor::Monitor;
use rolodex_actors::planner::core::datum::Datum;
use rolodex_actors::planner::core::sql::Sql;
use rolodex_actors::planner::core::Planner;
use rolodex_actors::pool::connect_options;
use rolodex_actors::pool::Class;

#[derive(Debug, Clone, Args)]
pub struct MonitorArgs {
    /// Query classes (names as in `bench queries`), comma-separated
    #[arg(long, value_delimiter = ',', default_value = "get_email,company_join")]
    pub class: Vec<String>,
    /// Requests in flight, comma-separated
    #[arg(long, value_delimiter = ',', default_value = "64")]
    pub concurrency: Vec<usize>,
    /// Seconds each side runs per class and concurrency, in all
    #[arg(long, default_value_t = 20.0)]
    pub duration: f64,
    /// Turns each side takes (the duration is shared among them)
    #[arg(long, default_value_t = 10)]
    pub rounds: usize,
    /// Both sides with the monitor on: what the method itself reads as a difference
    #[arg(long)]
    pub same: bool,
    /// Set by the CLI from the global --database-url (default: the bench database).
    #[arg(skip)]
    pub database_url: Option<String>,
}

/// One class at one concurrency, both sides.
#[derive(Debug, Serialize)]
pub struct MonitorCell {
    pub class: String,
    pub concurrency: usize,
    pub on: Stats,
    pub off: Stats,
    pub errors: usize,
    /// The monitor's work per request, timed alone (ns).
    pub monitor_ns: f64,
}

impl MonitorCell {
    /// Throughput lost with the monitor on, in percent of the throughput without it.
    pub fn cost_percent(&self) -> f64 {
        (1.0 - self.on.throughput / self.off.throughput.max(f64::MIN_POSITIVE)) * 100.0
    }

    /// The monitor's share of the CPU the machine spends per request at the measured
    /// throughput (all cores busy at 64 in flight), in percent: an upper bound on its cost.
    pub fn cpu_share_percent(&self) -> f64 {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        self.monitor_ns * self.on.throughput / (cores * 1e9) * 100.0
    }
}

/// Time what the monitor does for one search with it on: the endpoint label, the request
/// counters and histogram, the query's tier histogram and summary (not slow: the common case).
fn monitor_ns_per_request(config: &MonitorConfig) -> f64 {
    let monitor = Monitor::new(
        MonitorConfig {
            enabled: true,
            ..config.clone()
        },
        "bench-monitor".into(),
    );
    let sql = Sql {
        text: "SELECT c.uuid FROM contacts c WHERE lower(c.email) = $1 LIMIT 26".into(),
        binds: vec![Datum::Text("ada@example.com".into())],
    };
    let n: u64 = 200_000;
    let started = Instant::now();
    for i in 0..n {
        let endpoint = std::hint::black_box("contacts-search");
        let query = Duration::from_micros(150 + i % 300);
        monitor.record_query(Class::Interactive, "contacts", &sql, query);
        monitor.record_request(endpoint, None, query + Duration::from_micros(80));
    }
    started.elapsed().as_nanos() as f64 / n as f64
}

pub async fn run(config: &Config, args: &MonitorArgs) -> Result<Vec<MonitorCell>, BenchError> {
    let mut opts = QueriesOptions::new(config.clone());
    opts.database_url = args
        .database_url
        .clone()
        .unwrap_or_else(|| DEFAULT_DATABASE_URL.into());
    opts.classes = args.class.clone();
    opts.rounds = args.rounds.max(1);
    opts.duration = Duration::from_secs_f64(args.duration.max(0.1));
    // Two daemons must fit under max_connections together: the same smaller pool for both.
    let pool = &mut opts.config.pool;
    pool.size = 10;
    pool.max_overflow = 30;
    pool.rations.interactive = 30;
    pool.rations.ingest = 5;
    pool.rations.jobs = 5;

    let planner = Planner::new(opts.config.query.clone(), CURSOR_SECRET.as_bytes());
    let single = setup_pool(&connect_options(&opts.database_url, &opts.config.pool)?).await?;
    let contacts: i64 = sqlx::query_scalar("SELECT count(*) FROM contacts")
        .fetch_one(&single)
        .await?;
    let classes = classes(&opts, &planner, &single, contacts).await?;
    single.close().await;
    let nats = crate::connect_nats(config)
        .await
        .map_err(|e| BenchError::Nats(e.to_string()))?;

    let options = |enabled: bool| {
        let mut o = opts.clone();
        o.config.monitor.enabled = enabled;
        o
    };
    // Side 0 has the monitor on, side 1 off (or on too with --same). A daemon started second
    // measured a few percent faster than its twin even with identical settings, so the run has
    // two passes with the start order swapped, each side's samples pooled over both.
    let enabled = [true, args.same];
    let mut pooled: Vec<[Measured; 2]> = Vec::new();
    let mut slice = opts.slice();
    slice.duration /= 2;
    // Connections and plans are warm after a side's first slice.
    let warm = QueriesOptions {
        warmup_per_worker: 0,
        ..slice.clone()
    };
    for pass in 0..2 {
        let order = if pass == 0 { [0, 1] } else { [1, 0] };
        let mut daemons = Vec::new();
        for side in order {
            daemons.push((side, Daemon::start(&options(enabled[side])).await?));
        }
        daemons.sort_by_key(|(side, _)| *side);
        let mut cell = 0;
        for class in &classes {
            let mut requests = Vec::new();
            for (_, d) in &daemons {
                let r = encoded_requests(&nats, &d.prefix, class, Format::MsgPackZstd).await?;
                requests.push(Arc::new(r));
            }
            for &n in &args.concurrency {
                if pooled.len() <= cell {
                    pooled.push([Measured::default(), Measured::default()]);
                }
                for round in 0..opts.rounds {
                    let slice = if round == 0 { &slice } else { &warm };
                    // Which side goes first after a switch alternates too.
                    let turns = if round % 2 == 0 { [0, 1] } else { [1, 0] };
                    for side in turns {
                        let requests = requests[side].clone();
                        let nats = nats.clone();
                        let m = measure(slice, n, move |i| {
                            let requests = requests.clone();
                            let nats = nats.clone();
                            async move { nats_once(&nats, &requests[i % requests.len()]).await }
                        })
                        .await;
                        pooled[cell][side].merge(m);
                    }
                }
                cell += 1;
            }
        }
        for (_, d) in &mut daemons {
            d.stop().await?;
        }
    }
    let monitor_ns = monitor_ns_per_request(&opts.config.monitor);
    let labels = classes
        .iter()
        .flat_map(|c| args.concurrency.iter().map(move |&n| (c.name, n)));
    let cells = labels
        .zip(pooled)
        .map(|((class, n), [on, off])| MonitorCell {
            monitor_ns,
            class: class.into(),
            concurrency: n,
            errors: on.errors.len() + off.errors.len(),
            on: Stats::from_durations(&on.samples, on.wall),
            off: Stats::from_durations(&off.samples, off.wall),
        })
        .collect();
    Ok(cells)
}

/// The Markdown table of a run.
pub fn markdown(cells: &[MonitorCell]) -> String {
    let mut t = Table::new(&[
        "class",
        "in flight",
        "req/s monitor on",
        "req/s monitor off",
        "A/B cost",
        "monitor ns/request",
        "share of CPU per request",
        "p50 on ms",
        "p50 off ms",
        "errors",
    ]);
    for c in cells {
        t.row(vec![
            c.class.clone(),
            c.concurrency.to_string(),
            format!("{:.0}", c.on.throughput),
            format!("{:.0}", c.off.throughput),
            format!("{:+.1}%", c.cost_percent()),
            format!("{:.0}", c.monitor_ns),
            format!("{:.2}%", c.cpu_share_percent()),
            super::ms(c.on.p50_ms),
            super::ms(c.off.p50_ms),
            c.errors.to_string(),
        ]);
    }
    t.markdown()
}
