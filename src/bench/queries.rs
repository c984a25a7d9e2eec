//! `rolodex bench queries`: named query classes, each measured three ways in one run — the
//! planner's own SQL executed directly through sqlx on warm connections (the floor), Rolodex
//! over NATS with MessagePack + zstd, and Rolodex over NATS with JSON — at concurrency 1 and
//! 64 in flight.
//!
//! Phases, in order: sample parameter values from the database (seeded, so every run asks the
//! same questions); wire sizes; the NATS transport floor; the SQL floor at more than one in
//! flight for every class (a pool of the interactive ration, closed before the daemon starts,
//! so the run fits PostgreSQL's `max_connections` beside other users); then the daemon,
//! started in-process on its own subject prefix, and per class: the SQL floor at one in flight
//! (one warm connection) back to back with Rolodex, then Rolodex at higher concurrency.
//!
//! Each measured cell starts with a warm-up of more than five executions per connection
//! (PostgreSQL may switch a prepared statement to a generic plan after five; the floor uses
//! the pool's own `connect_options`, which force custom plans just as the daemon does).

use std::future::Future;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rolodex_actors::model::{CountRequest, FacetsRequest, SearchRequest};
use rolodex_actors::planner::core::fields::Entity;
use rolodex_actors::planner::core::sql::{self, Sql};
use rolodex_actors::planner::core::Planner;
use rolodex_actors::planner::exec;
use rolodex_actors::pool::connect_options;
use serde::Serialize;
use serde_json::{json, Value};
use sqlx::postgres::PgPoolOptions;
use sqlx::{ConnectOptions as _, PgPool};
use tokio::sync::oneshot;

use super::floor::RawConnections;
use super::vocab;
use super::{progress, BenchError, Stats, DEFAULT_DATABASE_URL, DEFAULT_SEED};
use crate::client::{self, Format};
use crate::Config;
use rolodex_actors::wire::headers;

/// Signs cursors in both the floor's planner and the daemon, so cursors cross between them.
pub(super) const CURSOR_SECRET: &str = "rolodex-bench";
/// Distinct parameter sets per class, cycled through by the iterations.
const VARIANTS: usize = 64;
/// Warm-up executions per connection before measuring: past PostgreSQL's five.
const WARMUP_PER_WORKER: usize = 8;

#[derive(Debug, Clone, Args)]
pub struct QueriesArgs {
    /// A short run for CI: few iterations, concurrency 1 and 8
    #[arg(long)]
    pub quick: bool,
    /// Seconds each measured cell runs (ignored with --iterations)
    #[arg(long, default_value_t = 3.0)]
    pub duration: f64,
    /// Requests per measured cell instead of a duration
    #[arg(long)]
    pub iterations: Option<usize>,
    /// Slices each cell is cut into; the ways of a class take turns slice by slice and each
    /// way's slices are pooled, so load drifting over the run weighs on every way alike
    #[arg(long, default_value_t = 4)]
    pub rounds: usize,
    /// Requests in flight, comma-separated
    #[arg(long, value_delimiter = ',', default_value = "1,64")]
    pub concurrency: Vec<usize>,
    /// Only these classes (comma-separated names)
    #[arg(long, value_delimiter = ',')]
    pub class: Vec<String>,
    /// Seed of the parameter values
    #[arg(long, default_value_t = DEFAULT_SEED)]
    pub seed: u64,
    /// Where JSON results and SVG charts go
    #[arg(long, default_value = "bench-results")]
    pub out_dir: PathBuf,
    /// No progress bars
    #[arg(long)]
    pub quiet: bool,
    /// Set by the CLI from the global --database-url (default: the bench database).
    #[arg(skip)]
    pub database_url: Option<String>,
}

impl QueriesArgs {
    /// The options for a run, on top of the daemon's loaded configuration (NATS address,
    /// pool sizes, wire settings).
    pub fn options(&self, config: &Config) -> QueriesOptions {
        let mut o = QueriesOptions::new(config.clone());
        o.database_url = self
            .database_url
            .clone()
            .unwrap_or_else(|| DEFAULT_DATABASE_URL.into());
        o.seed = self.seed;
        o.out_dir = self.out_dir.clone();
        o.quiet = self.quiet;
        o.classes = self.class.clone();
        if self.quick {
            o.quick();
        } else {
            o.duration = Duration::from_secs_f64(self.duration.max(0.1));
            o.iterations = self.iterations;
            o.concurrency = self.concurrency.clone();
            o.rounds = self.rounds.max(1);
        }
        o
    }
}

#[derive(Debug, Clone)]
pub struct QueriesOptions {
    /// The daemon's configuration; the database URL and subject prefix are replaced.
    pub config: Config,
    pub database_url: String,
    pub seed: u64,
    pub duration: Duration,
    pub iterations: Option<usize>,
    /// Slices per cell, interleaved across the ways (see `QueriesArgs::rounds`).
    pub rounds: usize,
    pub concurrency: Vec<usize>,
    pub warmup_per_worker: usize,
    pub classes: Vec<String>,
    pub out_dir: PathBuf,
    pub quiet: bool,
    pub quick: bool,
}

impl QueriesOptions {
    pub fn new(config: Config) -> QueriesOptions {
        QueriesOptions {
            config,
            database_url: DEFAULT_DATABASE_URL.into(),
            seed: DEFAULT_SEED,
            duration: Duration::from_secs(3),
            iterations: None,
            rounds: 4,
            concurrency: vec![1, 64],
            warmup_per_worker: WARMUP_PER_WORKER,
            classes: Vec::new(),
            out_dir: PathBuf::from("bench-results"),
            quiet: false,
            quick: false,
        }
    }

    /// The options for one slice of a cell: its share of the duration or iterations.
    pub(super) fn slice(&self) -> QueriesOptions {
        let rounds = self.rounds.max(1);
        let mut o = self.clone();
        o.duration = self.duration / rounds as u32;
        o.iterations = self.iterations.map(|n| n.div_ceil(rounds));
        o
    }

    /// A few iterations per cell, concurrency 1 and 8: proves every path works, measures little.
    pub fn quick(&mut self) {
        self.quick = true;
        self.iterations = Some(12);
        self.rounds = 1;
        self.concurrency = vec![1, 8];
        self.warmup_per_worker = 6;
    }
}

/// How a request was carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Way {
    /// The planner's SQL through sqlx on a warm connection.
    Floor,
    /// The same, each statement after an untimed NATS echo (at 1 in flight only).
    PacedFloor,
    MsgpackZstd,
    Json,
}

impl Way {
    /// The client format of a way over NATS (`None` for the floor).
    fn format(self) -> Option<Format> {
        match self {
            Way::Floor | Way::PacedFloor => None,
            Way::MsgpackZstd => Some(Format::MsgPackZstd),
            Way::Json => Some(Format::Json),
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Way::Floor => "SQL floor",
            Way::PacedFloor => "SQL floor, paced by a NATS echo",
            Way::MsgpackZstd => "NATS msgpack+zstd",
            Way::Json => "NATS JSON",
        }
    }
}

/// One measured cell: a class, a way, a concurrency.
#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    pub way: Way,
    pub concurrency: usize,
    pub stats: Stats,
    pub errors: usize,
    /// Mean reply body size on the wire (0 for the floor).
    pub reply_bytes: usize,
    /// The bench process's CPU per request, µs (`None` without Linux's `/proc`). The daemon
    /// runs in this process, so its work is in its cells and not in the floors'.
    pub cpu_us: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ClassResult {
    pub name: String,
    pub what: String,
    pub subject: String,
    /// Median µs the daemon's planner spends on one of the class's requests.
    pub plan_us: f64,
    pub cells: Vec<Cell>,
}

impl ClassResult {
    pub fn cell(&self, way: Way, concurrency: usize) -> Option<&Cell> {
        self.cells
            .iter()
            .find(|c| c.way == way && c.concurrency == concurrency)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct QueriesResults {
    pub started: String,
    pub quick: bool,
    pub contacts: i64,
    pub companies: i64,
    pub concurrency: Vec<usize>,
    pub transport: Vec<super::transport::TransportCell>,
    pub wire: Vec<super::wire_size::WireSize>,
    pub classes: Vec<ClassResult>,
    /// The daemon's query monitor, as configured: its plan captures rerun slow statements,
    /// a production cost the daemon's cells carry and the floor's do not.
    pub monitor: rolodex_actors::config::MonitorConfig,
}

/// One request of a class: the subject suffix, the body, and the SQL the planner makes of it.
#[derive(Debug, Clone)]
pub(super) struct Job {
    suffix: &'static str,
    body: Value,
    floor: Vec<Sql>,
}

pub(super) struct Class {
    pub name: &'static str,
    what: &'static str,
    jobs: Vec<Job>,
}

/// Run every class three ways and return the results (the caller prints and writes them).
pub async fn run(opts: &QueriesOptions) -> Result<QueriesResults, BenchError> {
    let started = chrono::Utc::now().to_rfc3339();
    let options = connect_options(&opts.database_url, &opts.config.pool)?;
    let planner = Planner::new(opts.config.query.clone(), CURSOR_SECRET.as_bytes());
    let single = setup_pool(&options).await?;
    let (contacts, companies): (i64, i64) =
        sqlx::query_as("SELECT (SELECT count(*) FROM contacts), (SELECT count(*) FROM companies)")
            .fetch_one(&single)
            .await?;
    if contacts == 0 {
        return Err(BenchError::Invalid(format!(
            "no contacts in {}; run `rolodex bench generate` first",
            crate::config::redact("database.url", opts.database_url.clone())
        )));
    }
    let classes = classes(opts, &planner, &single, contacts).await?;
    let nats = async_nats::connect(opts.config.nats.url.as_str())
        .await
        .map_err(|e| BenchError::Nats(e.to_string()))?;

    let wire = super::wire_size::measure(&planner, &single, &opts.config.wire).await?;
    let mut sizes = vec![100];
    sizes.extend(
        wire.iter()
            .filter(|w| w.rows == 25 && w.shape == "default")
            .filter(|w| w.encoding == "json" || w.encoding == "msgpack+zstd")
            .map(|w| w.bytes),
    );
    sizes.sort_unstable();
    sizes.dedup();
    let transport = super::transport::measure_echo(&nats, opts, &sizes).await?;

    let mut results: Vec<ClassResult> = classes
        .iter()
        .map(|c| {
            Ok(ClassResult {
                name: c.name.into(),
                what: c.what.into(),
                subject: c.jobs.first().map(|j| j.suffix).unwrap_or_default().into(),
                plan_us: plan_us(&planner, c)?,
                cells: Vec::new(),
            })
        })
        .collect::<Result<_, BenchError>>()?;

    // The floor at more than one in flight needs the interactive ration's worth of connections,
    // which cannot be open beside the daemon's pool under max_connections: measured first.
    let wide = Arc::new(
        RawConnections::open(
            &options,
            opts.config.pool.rations.interactive.max(1) as usize,
        )
        .await?,
    );
    let bar = progress(classes.len() as u64, "SQL floor (wide)", opts.quiet);
    for (class, result) in classes.iter().zip(&mut results) {
        bar.set_message(class.name);
        for &n in opts.concurrency.iter().filter(|n| **n > 1) {
            result.cells.push(floor_cell(opts, &wide, class, n).await?);
        }
        bar.inc(1);
    }
    bar.finish();
    close(wide).await;

    // At one in flight the floor (one warm connection) and Rolodex take turns per class, slice
    // by slice, so a neighbour's load drifting over the run cannot skew their ratio.
    let one = Arc::new(RawConnections::open(&options, 1).await?);
    let echo = super::transport::Echo::start(opts.config.nats.url.as_str()).await?;
    let mut daemon = Daemon::start(opts).await?;
    let prefix = daemon.prefix.clone();
    let slice = opts.slice();
    // Connections and plans are warm after a way's first slice.
    let warm = QueriesOptions {
        warmup_per_worker: 0,
        ..slice.clone()
    };
    let bar = progress(classes.len() as u64, "over NATS", opts.quiet);
    for (class, result) in classes.iter().zip(&mut results) {
        bar.set_message(class.name);
        for &n in &opts.concurrency {
            let mut ways = vec![Way::MsgpackZstd, Way::Json];
            if n == 1 {
                ways.splice(0..0, [Way::Floor, Way::PacedFloor]);
            }
            let mut requests = Vec::new();
            for &way in &ways {
                requests.push(Arc::new(match way.format() {
                    Some(format) => encoded_requests(&nats, &prefix, class, format).await?,
                    None => Vec::new(),
                }));
            }
            let mut pooled: Vec<Measured> = ways.iter().map(|_| Measured::default()).collect();
            for round in 0..opts.rounds {
                let slice = if round == 0 { &slice } else { &warm };
                for ((way, requests), acc) in ways.iter().zip(&requests).zip(&mut pooled) {
                    let m = match way {
                        Way::Floor => floor_measure(slice, &one, class, n).await,
                        Way::PacedFloor => {
                            paced_floor_measure(slice, &one, &nats, &echo.subject, class, n).await
                        }
                        _ => {
                            let requests = requests.clone();
                            let nats = nats.clone();
                            measure(slice, n, move |i| {
                                let requests = requests.clone();
                                let nats = nats.clone();
                                async move { nats_once(&nats, &requests[i % requests.len()]).await }
                            })
                            .await
                        }
                    };
                    acc.merge(m);
                }
            }
            for (way, m) in ways.into_iter().zip(pooled) {
                result.cells.push(m.into_cell(way, n, class.name)?);
            }
        }
        bar.inc(1);
    }
    bar.finish();
    single.close().await;
    close(one).await;
    echo.stop().await;
    daemon.stop().await?;
    Ok(QueriesResults {
        started,
        quick: opts.quick,
        contacts,
        companies,
        concurrency: opts.concurrency.clone(),
        transport,
        wire,
        classes: results,
        monitor: opts.config.monitor.clone(),
    })
}

/// A small pool for the untimed work (sampling values, counting rows, checking replies).
pub(super) async fn setup_pool(
    options: &sqlx::postgres::PgConnectOptions,
) -> Result<PgPool, BenchError> {
    Ok(PgPoolOptions::new()
        .max_connections(1)
        .connect_with(options.clone().disable_statement_logging())
        .await?)
}

async fn floor_cell(
    opts: &QueriesOptions,
    conns: &Arc<RawConnections>,
    class: &Class,
    n: usize,
) -> Result<Cell, BenchError> {
    floor_measure(opts, conns, class, n)
        .await
        .into_cell(Way::Floor, n, class.name)
}

async fn floor_measure(
    opts: &QueriesOptions,
    conns: &Arc<RawConnections>,
    class: &Class,
    n: usize,
) -> Measured {
    let conns = conns.clone();
    let jobs = Arc::new(class.jobs.clone());
    measure(opts, n, move |i| {
        let conns = conns.clone();
        let jobs = jobs.clone();
        async move { conns.run(&jobs[i % jobs.len()].floor).await.map(|_| 0) }
    })
    .await
}

/// The floor with PostgreSQL paced as Rolodex paces it: before each statement an untimed
/// NATS echo round trip, so the server idles between statements for as long as a request's
/// trip over NATS keeps it waiting behind Rolodex. Back to back, a statement finds its caches
/// and CPU warm from the one before; with the gap PostgreSQL itself runs the same statement
/// slower (BENCHMARKS.md, "PostgreSQL paced by the wire").
async fn paced_floor_measure(
    opts: &QueriesOptions,
    conns: &Arc<RawConnections>,
    nats: &async_nats::Client,
    echo_subject: &str,
    class: &Class,
    n: usize,
) -> Measured {
    let conns = conns.clone();
    let nats = nats.clone();
    let subject = echo_subject.to_owned();
    let jobs = Arc::new(class.jobs.clone());
    measure_timed(opts, n, move |i| {
        let conns = conns.clone();
        let jobs = jobs.clone();
        let nats = nats.clone();
        let subject = subject.clone();
        async move {
            nats.request(subject, bytes::Bytes::from_static(b"x"))
                .await
                .map_err(|e| e.to_string())?;
            let t = Instant::now();
            conns.run(&jobs[i % jobs.len()].floor).await?;
            Ok((0, t.elapsed()))
        }
    })
    .await
}

/// Close the floor's connections once no measurement holds them.
async fn close(conns: Arc<RawConnections>) {
    if let Ok(conns) = Arc::try_unwrap(conns) {
        conns.close().await;
    }
}

/// One request of a class, encoded once before the cell (as the floor's SQL is built once).
pub(super) struct Encoded {
    subject: String,
    headers: async_nats::HeaderMap,
    body: bytes::Bytes,
}

/// Encode every request of a class for `format`, and check each is answered without an error
/// and decodes (untimed): the timed loop then only checks each reply's status header, so the
/// client's work per request is what the floor's is (send, receive; no value decoding).
pub(super) async fn encoded_requests(
    nats: &async_nats::Client,
    prefix: &str,
    class: &Class,
    format: Format,
) -> Result<Vec<Encoded>, BenchError> {
    let mut out = Vec::with_capacity(class.jobs.len());
    for job in &class.jobs {
        let subject = format!("{prefix}.{}", job.suffix);
        let reply = client::request(
            nats,
            &subject,
            &job.body,
            format,
            Some("bench"),
            Duration::from_secs(60),
        )
        .await
        .map_err(|e| BenchError::Nats(e.to_string()))?;
        if let Some((status, e)) = reply.error {
            return Err(BenchError::Class {
                class: class.name.into(),
                reason: format!("{status} {}: {}", e.code, e.message),
            });
        }
        let (headers, body) = client::encode_request(&job.body, format, Some("bench"))
            .map_err(|e| BenchError::Invalid(e.to_string()))?;
        out.push(Encoded {
            subject,
            headers,
            body: body.into(),
        });
    }
    Ok(out)
}

pub(super) async fn nats_once(nats: &async_nats::Client, req: &Encoded) -> Result<usize, String> {
    let request = async_nats::Request::new()
        .headers(req.headers.clone())
        .payload(req.body.clone())
        .timeout(Some(Duration::from_secs(60)));
    let msg = nats
        .send_request(req.subject.clone(), request)
        .await
        .map_err(|e| e.to_string())?;
    let failed = msg
        .headers
        .as_ref()
        .is_some_and(|h| h.get(headers::SERVICE_ERROR_CODE).is_some());
    if failed {
        let reply = client::decode_reply(&msg).map_err(|e| e.to_string())?;
        if let Some((status, e)) = reply.error {
            return Err(format!("{status} {}: {}", e.code, e.message));
        }
    }
    Ok(msg.payload.len())
}

/// What one measured run gave: durations, wall time, failures and reply sizes.
#[derive(Default)]
pub struct Measured {
    pub samples: Vec<Duration>,
    pub wall: Duration,
    pub errors: Vec<String>,
    pub bytes: usize,
    /// The process's CPU time over the measured requests (warm-up excluded).
    pub cpu: Option<Duration>,
}

/// The least CPU time a cell must have used for its per-request figure to mean something:
/// `/proc` counts in 10 ms ticks, read twice per slice, so below this a slow class's few
/// requests would read as 0 µs or as more than they cost.
const MIN_CPU_READING: Duration = Duration::from_millis(400);

impl Measured {
    /// Pool another slice of the same cell into this one.
    pub fn merge(&mut self, other: Measured) {
        self.samples.extend(other.samples);
        self.wall += other.wall;
        self.errors.extend(other.errors);
        self.bytes += other.bytes;
        // `None` only where `/proc` is missing, which holds for every slice of a run.
        self.cpu = other.cpu.map(|b| self.cpu.unwrap_or_default() + b);
    }

    fn into_cell(self, way: Way, concurrency: usize, class: &str) -> Result<Cell, BenchError> {
        if self.samples.is_empty() {
            return Err(BenchError::Class {
                class: class.into(),
                reason: format!(
                    "{} at concurrency {concurrency}: every request failed, e.g. {}",
                    way.label(),
                    self.errors.first().map_or("(none ran)", String::as_str)
                ),
            });
        }
        if let Some(e) = self.errors.first() {
            tracing::warn!(class, way = way.label(), errors = self.errors.len(), first = %e, "Requests failed.");
        }
        Ok(Cell {
            way,
            concurrency,
            reply_bytes: self.bytes / self.samples.len(),
            cpu_us: self
                .cpu
                .filter(|t| *t >= MIN_CPU_READING)
                .map(|t| t.as_secs_f64() * 1e6 / self.samples.len() as f64),
            stats: Stats::from_durations(&self.samples, self.wall),
            errors: self.errors.len(),
        })
    }
}

/// Run `once(i)` with `concurrency` workers: a warm-up of `warmup_per_worker` each, then the
/// measured requests (a fixed count, or until the duration has passed). `once` returns the
/// reply's wire size; the sample is the time it took.
pub async fn measure<F, Fut>(opts: &QueriesOptions, concurrency: usize, once: F) -> Measured
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<usize, String>> + Send,
{
    let once = Arc::new(once);
    measure_timed(opts, concurrency, move |i| {
        let once = once.clone();
        async move {
            let t = Instant::now();
            once(i).await.map(|bytes| (bytes, t.elapsed()))
        }
    })
    .await
}

/// [`measure`] where `once` times itself: it returns the wire size and the part of its work
/// that counts (the paced floor leaves its echo out).
async fn measure_timed<F, Fut>(opts: &QueriesOptions, concurrency: usize, once: F) -> Measured
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(usize, Duration), String>> + Send,
{
    let once = Arc::new(once);
    let warm = opts.warmup_per_worker;
    let next = Arc::new(AtomicUsize::new(0));
    let run_phase = |limit: Option<usize>, deadline: Option<Instant>, per_worker: Option<usize>| {
        let workers = (0..concurrency.max(1)).map(|_| {
            let once = once.clone();
            let next = next.clone();
            tokio::spawn(async move {
                let mut samples = Vec::new();
                let mut errors = Vec::new();
                let mut bytes = 0;
                let mut done = 0;
                loop {
                    if per_worker.is_some_and(|n| done >= n)
                        || deadline.is_some_and(|d| Instant::now() >= d)
                    {
                        break;
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if limit.is_some_and(|n| i >= n) {
                        break;
                    }
                    match once(i).await {
                        Ok((b, took)) => {
                            samples.push(took);
                            bytes += b;
                        }
                        Err(e) => errors.push(e),
                    }
                    done += 1;
                }
                (samples, errors, bytes)
            })
        });
        futures::future::join_all(workers)
    };
    let _ = run_phase(None, None, Some(warm)).await;
    next.store(0, Ordering::Relaxed);
    let cpu_before = super::cpu::process_cpu();
    let started = Instant::now();
    let phase = match opts.iterations {
        Some(n) => run_phase(Some(n.max(concurrency)), None, None),
        None => run_phase(None, Some(started + opts.duration), None),
    };
    let outcomes = phase.await;
    let wall = started.elapsed();
    let cpu = super::cpu::process_cpu()
        .zip(cpu_before)
        .map(|(after, before)| after.saturating_sub(before));
    let mut m = Measured {
        samples: Vec::new(),
        wall,
        errors: Vec::new(),
        bytes: 0,
        cpu,
    };
    for o in outcomes {
        match o {
            Ok((s, e, b)) => {
                m.samples.extend(s);
                m.errors.extend(e);
                m.bytes += b;
            }
            Err(e) => m.errors.push(format!("worker panicked: {e}")),
        }
    }
    m
}

/// The daemon, in-process, on a subject prefix of its own.
pub(super) struct Daemon {
    pub prefix: String,
    shutdown: Option<oneshot::Sender<()>>,
    handle: tokio::task::JoinHandle<Result<(), crate::ServeError>>,
}

impl Daemon {
    pub async fn start(opts: &QueriesOptions) -> Result<Daemon, BenchError> {
        let mut config = opts.config.clone();
        let prefix = format!("bench_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        config.database.url = opts.database_url.clone();
        config.nats.prefix = prefix.clone();
        config.nats.queue_group = prefix.clone();
        config.query.cursor_secret = CURSOR_SECRET.into();
        // Queries only: no event stream to reserve, no backfill writing while we measure.
        config.persist.enabled = false;
        config.normalize.backfill_ms = 0;
        config.http.enabled = false;
        let (tx, rx) = oneshot::channel();
        let (ready_tx, ready_rx) = oneshot::channel();
        let handle = tokio::spawn(crate::serve_with(
            config,
            async move {
                let _ = rx.await;
            },
            Some(ready_tx),
        ));
        if ready_rx.await.is_err() {
            return Err(match handle.await {
                Ok(Err(e)) => BenchError::Serve(e),
                other => BenchError::Invalid(format!("the daemon did not start: {other:?}")),
            });
        }
        Ok(Daemon {
            prefix,
            shutdown: Some(tx),
            handle,
        })
    }

    pub async fn stop(&mut self) -> Result<(), BenchError> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        match (&mut self.handle).await {
            Ok(r) => r.map_err(BenchError::Serve),
            Err(e) => Err(BenchError::Invalid(format!("the daemon panicked: {e}"))),
        }
    }
}

/// Values sampled from the loaded data, so lookups hit real rows.
struct Samples {
    uuids: Vec<String>,
    emails: Vec<String>,
}

async fn samples(pool: &PgPool) -> Result<Samples, BenchError> {
    // Ordered by the (random) uuid: a spread over the whole table, the same every run.
    let rows: Vec<(uuid::Uuid, Option<String>)> =
        sqlx::query_as("SELECT uuid, email FROM contacts ORDER BY uuid LIMIT 2000")
            .fetch_all(pool)
            .await?;
    Ok(Samples {
        uuids: rows.iter().map(|(u, _)| u.to_string()).collect(),
        emails: rows.into_iter().filter_map(|(_, e)| e).collect(),
    })
}

/// A lower-case piece of 3–5 characters of a word.
fn fragment(rng: &mut ChaCha8Rng, word: &str) -> String {
    let chars: Vec<char> = word
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric())
        .collect();
    if chars.len() <= 3 {
        return chars.into_iter().collect();
    }
    let len = rng.gen_range(3..=chars.len().min(5));
    let start = rng.gen_range(0..=chars.len() - len);
    chars[start..start + len].iter().collect()
}

/// Build every class with its parameter variants and floor SQL.
pub(super) async fn classes(
    opts: &QueriesOptions,
    planner: &Planner,
    pool: &PgPool,
    contacts: i64,
) -> Result<Vec<Class>, BenchError> {
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let s = samples(pool).await?;
    let pick = |rng: &mut ChaCha8Rng, list: &[&'static str]| list[rng.gen_range(0..list.len())];
    let title_words = [
        "engineer",
        "sales",
        "marketing",
        "director",
        "analyst",
        "product",
        "data",
        "manager",
        "design",
        "recruit",
        "finance",
        "founder",
        "success",
        "operations",
        "consult",
        "chief",
        "research",
        "account",
        "devops",
        "legal",
    ];
    let departments: Vec<&str> = vocab::FUNCTIONS.iter().map(|f| f.department).collect();
    let countries: Vec<&str> = vocab::PLACES.iter().map(|p| p.2).collect();
    let common_tech = &vocab::TECHNOLOGIES[..12];
    let seniorities = [
        "entry", "senior", "manager", "director", "vp", "c_suite", "owner",
    ];
    // Deep pages between half and all of the deepest allowed offset (5,000–10,000 by default),
    // kept inside small datasets.
    let deepest = opts
        .config
        .query
        .max_offset
        .min(u64::try_from(contacts / 2).unwrap_or(0))
        .max(50);
    let depths: Vec<u64> = (0..VARIANTS as u64)
        .map(|i| deepest / 2 + i * (deepest / 2) / VARIANTS as u64)
        .collect();
    let n = VARIANTS;
    let mut bodies: Vec<(&'static str, &'static str, &'static str, Vec<Value>)> = Vec::new();
    let mut search = |name, what, make: &mut dyn FnMut(&mut ChaCha8Rng) -> Value| {
        let list = (0..n).map(|_| make(&mut rng)).collect();
        bodies.push((name, what, "contacts.search", list));
    };
    search("minimal", "contacts only: first_name contains", &mut |r| {
        let w = pick(r, vocab::FIRST_NAMES);
        json!({"filters": {"first_name": {"contains": fragment(r, w)}}})
    });
    search("company_join", "company.name contains", &mut |r| {
        let w = pick(r, vocab::COMPANY_STEMS);
        json!({"filters": {"company.name": {"contains": fragment(r, w)}}})
    });
    search(
        "full_joins",
        "contact_meta.country eq + company_meta.website contains",
        &mut |r| {
            let country = pick(r, &countries);
            let w = pick(r, vocab::COMPANY_STEMS);
            json!({"filters": {"contact_meta.country": {"eq": country},
                           "company_meta.website": {"contains": fragment(r, w)}}})
        },
    );
    search(
        "title_trgm",
        "title contains (trigram)",
        &mut |r| json!({"filters": {"title": {"contains": pick(r, &title_words)}}}),
    );
    search("text_q", "q: two words over text_search", &mut |r| {
        let first = pick(r, vocab::FIRST_NAMES).to_lowercase();
        json!({"q": format!("{first} {}", pick(r, &title_words))})
    });
    search(
        "array_any",
        "departments any",
        &mut |r| json!({"filters": {"departments": {"any": [pick(r, &departments)]}}}),
    );
    search("array_all", "company.technologies all (two)", &mut |r| {
        let a = pick(r, common_tech);
        let mut b = pick(r, common_tech);
        while b == a {
            b = pick(r, common_tech);
        }
        json!({"filters": {"company.technologies": {"all": [a, b]}}})
    });
    search(
        "deep_offset",
        "no filter, offset 5,000–10,000",
        &mut |r| json!({"filters": {}, "offset": depths[r.gen_range(0..depths.len())]}),
    );
    search(
        "get_email",
        "search: email eq",
        &mut |r| json!({"filters": {"email": {"eq": s.emails.choose(r).cloned().unwrap_or_default()}}}),
    );
    let mut count_bodies = Vec::new();
    let mut facet_bodies = Vec::new();
    let mut get_bodies = Vec::new();
    for _ in 0..n {
        count_bodies.push(json!({"filters": {"seniority": {"eq": pick(&mut rng, &seniorities)},
                                             "departments": {"any": [pick(&mut rng, &departments)]}},
                                 "mode": "exact"}));
        facet_bodies.push(
            json!({"filters": {"last_name": {"eq": pick(&mut rng, vocab::LAST_NAMES)}},
                                 "facets": ["seniority", "departments"]}),
        );
        get_bodies.push(json!({"uuid": s.uuids.choose(&mut rng).cloned().unwrap_or_default()}));
    }
    bodies.push((
        "count_exact",
        "count: seniority eq + departments any",
        "contacts.count",
        count_bodies,
    ));
    bodies.push((
        "facets",
        "facets seniority, departments where last_name eq",
        "contacts.facets",
        facet_bodies,
    ));
    bodies.push(("get_uuid", "get by uuid", "contacts.get", get_bodies));

    let mut out = Vec::new();
    for (name, what, suffix, list) in bodies {
        let jobs = list
            .into_iter()
            .map(|mut body| {
                if suffix != "contacts.get" {
                    body["cache"] = json!(false);
                }
                let floor = floor_sql(planner, suffix, &body)?;
                Ok(Job {
                    suffix,
                    body,
                    floor,
                })
            })
            .collect::<Result<Vec<_>, BenchError>>()?;
        out.push(Class { name, what, jobs });
    }
    out.push(Class {
        name: "deep_cursor",
        what: "no filter, cursor at 5,000–10,000",
        jobs: cursor_jobs(planner, pool, &depths).await?,
    });
    // Offset and cursor side by side in the report.
    if let Some(i) = out.iter().position(|c| c.name == "deep_offset") {
        let cursor = out.remove(out.len() - 1);
        out.insert(i + 1, cursor);
    }
    if !opts.classes.is_empty() {
        out.retain(|c| opts.classes.iter().any(|w| w == c.name));
        if out.is_empty() {
            return Err(BenchError::Invalid(format!(
                "no class named {:?}",
                opts.classes
            )));
        }
    }
    Ok(out)
}

fn bad(e: impl std::fmt::Display) -> BenchError {
    BenchError::Invalid(format!("a bench request does not plan: {e}"))
}

/// A class's request as the daemon holds it once decoded.
enum Decoded {
    Search(SearchRequest),
    Count(CountRequest),
    Facets(FacetsRequest),
    Get(uuid::Uuid),
}

impl Decoded {
    fn of(suffix: &str, body: &Value) -> Result<Decoded, BenchError> {
        fn typed<T: serde::de::DeserializeOwned>(body: &Value) -> Result<T, BenchError> {
            serde_json::from_value(body.clone()).map_err(bad)
        }
        Ok(match suffix {
            "contacts.search" => Decoded::Search(typed(body)?),
            "contacts.count" => Decoded::Count(typed(body)?),
            "contacts.facets" => Decoded::Facets(typed(body)?),
            _ => Decoded::Get(
                body["uuid"]
                    .as_str()
                    .and_then(|u| uuid::Uuid::from_str(u).ok())
                    .ok_or_else(|| bad("get needs a uuid"))?,
            ),
        })
    }

    /// The statements the planner makes of it.
    fn plan(&self, planner: &Planner) -> Result<Vec<Sql>, BenchError> {
        let entity = Entity::Contacts;
        Ok(match self {
            Decoded::Search(req) => {
                let plan = planner.search(entity, req).map_err(bad)?;
                std::iter::once(plan.page.sql).chain(plan.total).collect()
            }
            Decoded::Count(req) => vec![planner.count(entity, req).map_err(bad)?],
            Decoded::Facets(req) => vec![planner.facets(entity, req).map_err(bad)?.0],
            Decoded::Get(uuid) => vec![sql::get(entity, *uuid).0],
        })
    }
}

/// The SQL the planner makes of a request: what the floor runs.
fn floor_sql(planner: &Planner, suffix: &str, body: &Value) -> Result<Vec<Sql>, BenchError> {
    Decoded::of(suffix, body)?.plan(planner)
}

/// Plans timed per variant of a class, for the median.
const PLAN_PASSES: usize = 50;

/// What planning one of a class's requests costs the daemon's planner (median µs, warm,
/// the request already decoded): validation, SQL and binds, cursor check.
fn plan_us(planner: &Planner, class: &Class) -> Result<f64, BenchError> {
    let mut times = Vec::with_capacity(class.jobs.len() * PLAN_PASSES);
    for job in &class.jobs {
        let req = Decoded::of(job.suffix, &job.body)?;
        for _ in 0..PLAN_PASSES {
            let started = Instant::now();
            std::hint::black_box(req.plan(planner)?);
            times.push(started.elapsed());
        }
    }
    times.sort_unstable();
    Ok(times
        .get(times.len() / 2)
        .map_or(0.0, |t| t.as_secs_f64() * 1e6))
}

/// Cursors at the given depths, made the way the planner actor makes them: from the sort keys
/// of the last row of the page that ends at that depth.
async fn cursor_jobs(
    planner: &Planner,
    pool: &PgPool,
    depths: &[u64],
) -> Result<Vec<Job>, BenchError> {
    let mut jobs = Vec::with_capacity(depths.len());
    let mut conn = pool.acquire().await?;
    for &depth in depths {
        let req: SearchRequest =
            serde_json::from_value(json!({"filters": {}, "offset": depth - 25})).map_err(bad)?;
        let plan = planner.search(Entity::Contacts, &req).map_err(bad)?;
        let rows = exec::fetch_all(&mut conn, &plan.page.sql)
            .await
            .map_err(bad)?;
        let last = rows
            .get(plan.limit as usize - 1)
            .ok_or_else(|| bad(format!("fewer than {depth} contacts for the cursor class")))?;
        let keys = exec::sort_keys(last, &plan.page)?;
        let body =
            json!({"filters": {}, "cursor": planner.next_cursor(&plan, &keys), "cache": false});
        let floor = floor_sql(planner, "contacts.search", &body)?;
        jobs.push(Job {
            suffix: "contacts.search",
            body,
            floor,
        });
    }
    Ok(jobs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measured(requests: usize, cpu_ms: u64) -> Measured {
        Measured {
            samples: vec![Duration::from_millis(1); requests],
            wall: Duration::from_secs(1),
            cpu: Some(Duration::from_millis(cpu_ms)),
            ..Measured::default()
        }
    }

    #[test]
    fn cpu_per_request_is_given_only_above_the_ticks_resolution() {
        let cell = |m: Measured| m.into_cell(Way::Json, 1, "c").unwrap().cpu_us;
        assert_eq!(cell(measured(1000, 500)), Some(500.0));
        assert_eq!(cell(measured(10, 300)), None);
        // Slices add up before the threshold is applied.
        let mut pooled = Measured::default();
        pooled.merge(measured(1000, 250));
        pooled.merge(measured(1000, 250));
        assert_eq!(cell(pooled), Some(250.0));
    }
}
