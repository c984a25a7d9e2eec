//! `rolodex bench monitor`: what the query monitor costs. Two daemons run in this process on
//! the bench database, identical but for `monitor.enabled`, and are asked the same requests
//! (MessagePack + zstd) in turns, slice by slice, each side's slices pooled. Load drifting
//! over the run weighs on both alike, which is what makes a few percent measurable on a shared
//! two-core machine where back-to-back runs differ by 15%.

use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use serde::Serialize;

use super::queries::{
    classes, encoded_requests, floor_pool, measure, nats_once, Daemon, Measured, QueriesOptions,
    CURSOR_SECRET,
};
use super::{BenchError, Stats, Table, DEFAULT_DATABASE_URL};
use crate::client::Format;
use crate::Config;
use rolodex_actors::planner::core::Planner;
use rolodex_actors::pool::connect_options;

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
}

impl MonitorCell {
    /// Throughput lost with the monitor on, in percent of the throughput without it.
    pub fn cost_percent(&self) -> f64 {
        (1.0 - self.on.throughput / self.off.throughput.max(f64::MIN_POSITIVE)) * 100.0
    }
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
    let single = floor_pool(&connect_options(&opts.database_url, &opts.config.query)?, 1).await?;
    let contacts: i64 = sqlx::query_scalar("SELECT count(*) FROM contacts")
        .fetch_one(&single)
        .await?;
    let classes = classes(&opts, &planner, &single, contacts).await?;
    single.close().await;
    let nats = crate::connect_nats(config)
        .await
        .map_err(|e| BenchError::Nats(e.to_string()))?;

    let side = |enabled: bool| {
        let mut o = opts.clone();
        o.config.monitor.enabled = enabled;
        o
    };
    let mut daemons = [
        Daemon::start(&side(true)).await?,
        Daemon::start(&side(false)).await?,
    ];
    let slice = opts.slice();
    let mut cells = Vec::new();
    for class in &classes {
        let mut requests = Vec::new();
        for d in &daemons {
            let r = encoded_requests(&nats, &d.prefix, class, Format::MsgPackZstd).await?;
            requests.push(Arc::new(r));
        }
        for &n in &args.concurrency {
            let mut pooled = [Measured::default(), Measured::default()];
            for _ in 0..opts.rounds {
                for (requests, acc) in requests.iter().zip(&mut pooled) {
                    let requests = requests.clone();
                    let nats = nats.clone();
                    let m = measure(&slice, n, move |i| {
                        let requests = requests.clone();
                        let nats = nats.clone();
                        async move { nats_once(&nats, &requests[i % requests.len()]).await }
                    })
                    .await;
                    acc.merge(m);
                }
            }
            let [on, off] = pooled;
            cells.push(MonitorCell {
                class: class.name.into(),
                concurrency: n,
                errors: on.errors.len() + off.errors.len(),
                on: Stats::from_durations(&on.samples, on.wall),
                off: Stats::from_durations(&off.samples, off.wall),
            });
        }
    }
    for d in &mut daemons {
        d.stop().await?;
    }
    Ok(cells)
}

/// The Markdown table of a run.
pub fn markdown(cells: &[MonitorCell]) -> String {
    let mut t = Table::new(&[
        "class",
        "in flight",
        "req/s monitor on",
        "req/s monitor off",
        "cost",
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
            super::ms(c.on.p50_ms),
            super::ms(c.off.p50_ms),
            c.errors.to_string(),
        ]);
    }
    t.markdown()
}
