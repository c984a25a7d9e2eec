//! `rolodex bench ingest`: how fast the daemon applies events, side by side with the floor and
//! the naive baseline (issue 5), all into the same fully indexed `contacts` table shape:
//!
//! 1. publish N contact upserts (MessagePack) to a fresh stream, on a throw-away database and
//!    prefix;
//! 2. start the real daemon (`rolodex serve`, a child process) and time it from spawn until
//!    every event is applied and acked; read its peak memory (VmHWM) from /proc;
//! 3. COPY the same N rows into an empty `LIKE contacts INCLUDING ALL` table (the floor);
//! 4. one-row-at-a-time `INSERT ... ON CONFLICT` of a sample of new rows in 200-row
//!    transactions into that same COPY-filled table (the naive baseline), reported as a rate.
//!
//! Each phase starts from a fresh `CHECKPOINT` and records the WAL it wrote and the checkpoints
//! it caused: on a small `max_wal_size`, full-page images after each checkpoint can outweigh
//! the rows themselves, and that is the server's configuration, not the writer.
//!
//! Everything it creates (database, stream) is removed at the end unless `keep` is set.

use std::time::{Duration, Instant};

use async_nats::jetstream;
use serde_json::json;
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

use crate::Config;
use rolodex_actors::persist::core::{statements::array_literal, stream_name};

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Events published and applied.
    pub events: u64,
    /// Rows of the naive baseline (its rate is what counts).
    pub naive_sample: u64,
    /// `persist.batch_size` of the daemon under test.
    pub batch_size: usize,
    /// `persist.writers` of the daemon under test.
    pub writers: usize,
    /// Leave the database and stream behind for inspection.
    pub keep: bool,
}

/// The measured figures.
#[derive(Debug, Clone)]
pub struct Report {
    pub events: u64,
    pub publish_per_sec: f64,
    pub daemon_secs: f64,
    pub daemon_per_sec: f64,
    pub daemon_peak_kib: u64,
    pub daemon_wal: Wal,
    pub copy_secs: f64,
    pub copy_per_sec: f64,
    pub copy_wal: Wal,
    pub naive_rows: u64,
    pub naive_per_sec: f64,
}

impl Report {
    pub fn render(&self) -> String {
        format!(
            "events                     {}\n\
             publish                    {:.0} events/s\n\
             daemon (events → rows)     {:.0} rows/s  ({:.1} s, peak RSS {} MiB, {})\n\
             COPY floor                 {:.0} rows/s  ({:.1} s, {})\n\
             naive 1-row INSERTs        {:.0} rows/s  ({} rows, 200 per transaction)\n\
             daemon / COPY              {:.0}%\n\
             daemon / naive             {:.1}x\n",
            self.events,
            self.publish_per_sec,
            self.daemon_per_sec,
            self.daemon_secs,
            self.daemon_peak_kib / 1024,
            self.daemon_wal.render(self.events),
            self.copy_per_sec,
            self.copy_secs,
            self.copy_wal.render(self.events),
            self.naive_per_sec,
            self.naive_rows,
            100.0 * self.daemon_per_sec / self.copy_per_sec,
            self.daemon_per_sec / self.naive_per_sec,
        )
    }
}

/// What one phase cost the server's write-ahead log.
#[derive(Debug, Clone, Copy, Default)]
pub struct Wal {
    pub bytes: f64,
    pub checkpoints: i64,
}

impl Wal {
    fn render(&self, rows: u64) -> String {
        format!(
            "WAL {:.1} KiB/row, {} checkpoints",
            self.bytes / 1024.0 / rows.max(1) as f64,
            self.checkpoints
        )
    }
}

/// The WAL position and the checkpoint count, after a checkpoint of its own so every phase
/// starts with the same (empty) set of pages owing a full-page image.
async fn wal_mark(conn: &mut PgConnection) -> Result<(String, i64), BenchError> {
    sqlx::raw_sql("CHECKPOINT").execute(&mut *conn).await?;
    Ok(sqlx::query_as(
        "SELECT pg_current_wal_lsn()::text, \
         (SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter)",
    )
    .fetch_one(&mut *conn)
    .await?)
}

/// What was written since `mark` (the checkpoint count includes the next mark's own).
async fn wal_since(conn: &mut PgConnection, mark: &(String, i64)) -> Result<Wal, BenchError> {
    let (bytes, checkpoints): (f64, i64) = sqlx::query_as(
        "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::float8, \
         (SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter)",
    )
    .bind(&mark.0)
    .fetch_one(&mut *conn)
    .await?;
    Ok(Wal {
        bytes,
        checkpoints: checkpoints - mark.1,
    })
}

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("{0}")]
    Setup(String),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Bootstrap(#[from] crate::db::DbError),
    #[error("the daemon: {0}")]
    Daemon(String),
}

fn setup(e: impl std::fmt::Display) -> BenchError {
    BenchError::Setup(e.to_string())
}

/// One generated contact, the same for the daemon, COPY and the naive baseline.
struct Row {
    uuid: Uuid,
    first_name: &'static str,
    last_name: String,
    email: String,
    title: &'static str,
    /// Index into `TITLES`, so the floor can write the title's canonical form as the daemon does.
    title_index: usize,
    seniority: &'static str,
    departments: Vec<String>,
    created_at: chrono::DateTime<chrono::Utc>,
}

const FIRST: [&str; 16] = [
    "John", "Ada", "Grace", "Linus", "Joanna", "Bob", "Alan", "Maria", "Chen", "Priya", "Omar",
    "Sofia", "Yuki", "Lars", "Amara", "Diego",
];
const LAST: [&str; 12] = [
    "Smith", "Lovelace", "Hopper", "Jones", "Turing", "Garcia", "Wang", "Patel", "Hassan", "Rossi",
    "Tanaka", "Berg",
];
const TITLES: [&str; 8] = [
    "Senior Software Engineer",
    "VP of Sales",
    "Director of Engineering",
    "Account Executive",
    "Chief Technology Officer",
    "Marketing Manager",
    "Data Scientist",
    "Head of People",
];
const SENIORITY: [&str; 6] = ["entry", "senior", "manager", "director", "vp", "c_suite"];
const DEPARTMENTS: [&str; 6] = [
    "Engineering",
    "Sales",
    "Marketing",
    "Finance",
    "Research",
    "Operations",
];

fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn row(k: u64) -> Row {
    let h = mix(k);
    let first = FIRST[(h % 16) as usize];
    let last = format!("{}{}", LAST[((h >> 8) % 12) as usize], (h >> 16) % 1000);
    Row {
        uuid: Uuid::from_u64_pair(mix(h), k),
        first_name: first,
        email: format!(
            "{}.{}{}@example{}.com",
            first.to_lowercase(),
            last.to_lowercase(),
            k,
            (h >> 24) % 997
        ),
        last_name: last,
        title: TITLES[((h >> 32) % 8) as usize],
        title_index: ((h >> 32) % 8) as usize,
        seniority: SENIORITY[((h >> 40) % 6) as usize],
        departments: (0..1 + (h >> 48) % 2)
            .map(|i| DEPARTMENTS[((h >> (50 + i)) % 6) as usize].to_owned())
            .collect(),
        created_at: chrono::DateTime::from_timestamp(1_700_000_000 + k as i64, 0)
            .unwrap_or_default(),
    }
}

/// Run the benchmark with the database and NATS of `base`.
pub async fn run(base: &Config, opts: &Options) -> Result<Report, BenchError> {
    let tag = &Uuid::new_v4().simple().to_string()[..8];
    let mut config = base.clone();
    let root = base
        .database
        .url
        .rsplit_once('/')
        .map(|(r, _)| r.to_owned())
        .ok_or_else(|| setup("database.url has no database name"))?;
    config.database.url = format!("{root}/rolodex_bench_ingest_{tag}");
    config.nats.prefix = format!("bench_ingest_{tag}");
    crate::db::ensure_database(&config.database.url).await?;
    let result = measure(&config, opts).await;
    if !opts.keep {
        if let Ok(nats) = crate::connect_nats(&config).await {
            let _ = jetstream::new(nats)
                .delete_stream(stream_name(&config.nats.prefix))
                .await;
        }
        let _ = crate::db::drop_database(&config.database.url).await;
    }
    result
}

async fn measure(config: &Config, opts: &Options) -> Result<Report, BenchError> {
    let mut conn = PgConnection::connect(&config.database.url).await?;
    crate::db::MIGRATOR
        .run(&mut conn)
        .await
        .map_err(crate::db::DbError::from)?;
    let nats = crate::connect_nats(config).await.map_err(setup)?;
    let js = jetstream::new(nats.clone());
    let stream = rolodex_actors::persist::ensure_stream(&js, &config.nats.prefix, &config.persist)
        .await
        .map_err(setup)?;
    drop(stream);

    eprintln!("Publishing {} events...", opts.events);
    let started = Instant::now();
    publish(&js, &config.nats.prefix, opts.events).await?;
    let publish_per_sec = opts.events as f64 / started.elapsed().as_secs_f64();

    eprintln!("Starting the daemon and applying...");
    let mark = wal_mark(&mut conn).await?;
    let (daemon_secs, daemon_peak_kib) = daemon(config, opts, &nats).await?;
    let daemon_wal = wal_since(&mut conn, &mark).await?;
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM contacts")
        .fetch_one(&mut conn)
        .await?;
    if applied as u64 != opts.events {
        return Err(BenchError::Daemon(format!(
            "{applied} rows applied, expected {}",
            opts.events
        )));
    }

    // The daemon writes each title's canonical form beside it; so do the floor and baseline.
    let (_, rules) = rolodex_actors::normalize::load(&config.normalize).map_err(setup)?;
    let normalized = TITLES.map(|t| rules.normalize(t));
    eprintln!("COPY floor...");
    sqlx::raw_sql(
        "DROP TABLE IF EXISTS bench_copy; CREATE TABLE bench_copy (LIKE contacts INCLUDING ALL)",
    )
    .execute(&mut conn)
    .await?;
    let mark = wal_mark(&mut conn).await?;
    let copy_secs = copy(&mut conn, opts.events, &normalized).await?;
    let copy_wal = wal_since(&mut conn, &mark).await?;
    wal_mark(&mut conn).await?; // the naive baseline starts from a checkpoint too
    eprintln!("Naive baseline...");
    let naive_rows = opts.naive_sample.max(1);
    let naive_secs = naive(&mut conn, opts.events, naive_rows, &normalized).await?;
    let _ = conn.close().await;
    Ok(Report {
        events: opts.events,
        publish_per_sec,
        daemon_secs,
        daemon_per_sec: opts.events as f64 / daemon_secs,
        daemon_peak_kib,
        daemon_wal,
        copy_secs,
        copy_per_sec: opts.events as f64 / copy_secs,
        copy_wal,
        naive_rows,
        naive_per_sec: naive_rows as f64 / naive_secs,
    })
}

async fn publish(js: &jetstream::Context, prefix: &str, n: u64) -> Result<(), BenchError> {
    let subject = format!("{prefix}.events.contact.upserted");
    let mut acks = Vec::with_capacity(1024);
    for k in 0..n {
        let r = row(k);
        let body = json!({"uuid": r.uuid, "version": 1, "data": {
            "first_name": r.first_name, "last_name": r.last_name, "email": r.email,
            "title": r.title, "seniority": r.seniority, "departments": r.departments,
            "email_status": "verified", "created_at": r.created_at}});
        let payload = rolodex_actors::wire::codec::encode_body(
            rolodex_actors::wire::ContentType::MsgPack,
            &body,
        )
        .map_err(setup)?;
        let mut h = async_nats::HeaderMap::new();
        h.insert("Content-Type", "application/msgpack");
        h.insert("Nats-Msg-Id", r.uuid.to_string().as_str());
        acks.push(
            js.publish_with_headers(subject.clone(), h, payload.into())
                .await
                .map_err(setup)?,
        );
        if acks.len() >= 512 {
            for ack in acks.drain(..) {
                ack.await.map_err(setup)?;
            }
        }
    }
    for ack in acks {
        ack.await.map_err(setup)?;
    }
    Ok(())
}

/// Run `rolodex serve` until the consumer has nothing pending; (seconds, peak KiB).
async fn daemon(
    config: &Config,
    opts: &Options,
    nats: &async_nats::Client,
) -> Result<(f64, u64), BenchError> {
    let exe = std::env::current_exe().map_err(setup)?;
    let started = Instant::now();
    let mut child = tokio::process::Command::new(exe)
        .args(["--database-url", &config.database.url])
        .args(["--prefix", &config.nats.prefix])
        .args(["--set", &format!("nats.queue_group={}", config.nats.prefix)])
        .args(["--set", &format!("persist.batch_size={}", opts.batch_size)])
        .args(["--set", &format!("persist.writers={}", opts.writers)])
        .args([
            "--set",
            &format!(
                "persist.max_in_flight={}",
                (opts.batch_size * opts.writers * 4).max(2000)
            ),
        ])
        .args(["--set", "pool.size=4", "--set", "pool.max_overflow=4"])
        .arg("serve")
        .kill_on_drop(true)
        .stdout(std::process::Stdio::null())
        .spawn()
        .map_err(|e| BenchError::Daemon(e.to_string()))?;
    let pid = child.id().unwrap_or_default();
    let mut peak = 0;
    let finished = loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        peak = peak.max(vm_hwm_kib(pid));
        if let Ok(Some(status)) = child.try_wait() {
            return Err(BenchError::Daemon(format!("exited early: {status}")));
        }
        if rolodex_actors::persist::settled(nats, &config.nats.prefix).await {
            break started.elapsed();
        }
    };
    peak = peak.max(vm_hwm_kib(pid));
    let _ = tokio::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .await;
    let _ = tokio::time::timeout(Duration::from_secs(30), child.wait()).await;
    Ok((finished.as_secs_f64(), peak))
}

/// VmHWM (peak resident set) of a process, in KiB; 0 when unknown.
fn vm_hwm_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// COPY text format escaping.
fn copy_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out
}

const COLUMNS: &str = "uuid, first_name, last_name, email, title, seniority, departments, \
                       email_status, version, created_at, title_normalized";

/// COPY of `n` rows into the empty `bench_copy`; `normalized` holds each of `TITLES` in canonical form.
async fn copy(conn: &mut PgConnection, n: u64, normalized: &[String]) -> Result<f64, BenchError> {
    let started = Instant::now();
    let mut copy = conn
        .copy_in_raw(&format!("COPY bench_copy ({COLUMNS}) FROM STDIN"))
        .await?;
    let mut buf = String::with_capacity(1 << 20);
    for k in 0..n {
        let r = row(k);
        buf.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\tverified\t1\t{}\t{}\n",
            r.uuid,
            copy_text(r.first_name),
            copy_text(&r.last_name),
            copy_text(&r.email),
            copy_text(r.title),
            copy_text(r.seniority),
            copy_text(&array_literal(&r.departments)),
            r.created_at.to_rfc3339(),
            copy_text(&normalized[r.title_index]),
        ));
        if buf.len() > 1 << 20 {
            copy.send(std::mem::take(&mut buf).into_bytes()).await?;
        }
    }
    copy.send(buf.into_bytes()).await?;
    copy.finish().await?;
    Ok(started.elapsed().as_secs_f64())
}

/// One-row INSERTs of `n` new rows into the table COPY filled, so the indexes are as large as
/// the daemon's at the end of its run.
async fn naive(
    conn: &mut PgConnection,
    first: u64,
    n: u64,
    normalized: &[String],
) -> Result<f64, BenchError> {
    let sql = format!(
        "INSERT INTO bench_copy ({COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'verified', 1, $8, $9) \
         ON CONFLICT (uuid) DO UPDATE SET first_name = excluded.first_name, \
         last_name = excluded.last_name, email = excluded.email, title = excluded.title, \
         title_normalized = excluded.title_normalized, \
         seniority = excluded.seniority, departments = excluded.departments, \
         version = excluded.version WHERE bench_copy.version < excluded.version"
    );
    let started = Instant::now();
    let mut k = first;
    let n = first + n;
    while k < n {
        let mut tx = conn.begin().await?;
        for _ in 0..200 {
            if k >= n {
                break;
            }
            let r = row(k);
            sqlx::query(&sql)
                .bind(r.uuid)
                .bind(r.first_name)
                .bind(&r.last_name)
                .bind(&r.email)
                .bind(r.title)
                .bind(r.seniority)
                .bind(&r.departments)
                .bind(r.created_at)
                .bind(&normalized[r.title_index])
                .execute(&mut *tx)
                .await?;
            k += 1;
        }
        tx.commit().await?;
    }
    Ok(started.elapsed().as_secs_f64())
}

#[derive(Debug, Clone, clap::Args)]
pub struct IngestArgs {
    /// Events to publish and apply
    #[arg(long, default_value_t = 1_000_000)]
    pub events: u64,
    /// Rows of the one-row-at-a-time baseline
    #[arg(long, default_value_t = 20_000)]
    pub naive_sample: u64,
    /// persist.batch_size of the daemon under test
    #[arg(long, default_value_t = 200)]
    pub batch_size: usize,
    /// persist.writers of the daemon under test
    #[arg(long, default_value_t = 2)]
    pub writers: usize,
    /// Keep the database and stream afterwards
    #[arg(long)]
    pub keep: bool,
}

impl IngestArgs {
    pub fn options(&self) -> Options {
        Options {
            events: self.events,
            naive_sample: self.naive_sample,
            batch_size: self.batch_size,
            writers: self.writers,
            keep: self.keep,
        }
    }
}
