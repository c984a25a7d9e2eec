//! The daemon's configuration as typed values. Loading (figment: defaults ← files ← env ←
//! flags) lives in the binary crate; this module owns the shape, the defaults and validation.
//!
//! Every struct denies unknown fields so a misspelt key stops start-up with its name.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub database: DatabaseConfig,
    pub nats: NatsConfig,
    pub pool: PoolConfig,
    pub wire: WireConfig,
    pub query: QueryConfig,
    pub gateway: GatewayConfig,
    pub supervisor: SupervisorConfig,
    pub log: LogConfig,
    pub monitor: MonitorConfig,
    pub http: HttpConfig,
    pub cache: CacheConfig,
    pub normalize: NormalizeConfig,
    pub persist: PersistConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// PostgreSQL URL; the database is created on start if it does not exist.
    pub url: String,
    /// Apply the migrations on `serve` (otherwise only `rolodex migrate` does).
    pub migrate_on_start: bool,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: "postgres://postgres@127.0.0.1:5432/rolodex".into(),
            migrate_on_start: true,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct NatsConfig {
    /// NATS server URL (comma-separated for several).
    pub url: String,
    /// Subject prefix: `<prefix>.contacts.search`, ... Different prefixes never share anything.
    pub prefix: String,
    /// Queue group of the service endpoints; instances in one group share the load.
    pub queue_group: String,
    /// Name the client gives itself to the server (`nats server report connections`).
    pub client_name: String,
}

impl Default for NatsConfig {
    fn default() -> Self {
        Self {
            url: "nats://127.0.0.1:4222".into(),
            prefix: "rolodex".into(),
            queue_group: "rolodex".into(),
            client_name: "rolodex".into(),
        }
    }
}

/// The PostgreSQL pool (DESIGN §6). Names follow the seed's `DATABASE_POOL_*` variables.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PoolConfig {
    /// Connections kept open and warm.
    pub size: u32,
    /// Extra connections opened under load; they close after `idle_secs` unused.
    pub max_overflow: u32,
    /// Seconds to wait for a lease before the request fails with 503.
    pub timeout_secs: u64,
    /// Seconds after which a connection is closed and replaced.
    pub recycle_secs: u64,
    /// Check a connection is alive before handing it out.
    pub pre_ping: bool,
    /// Seconds an overflow connection may stay idle before it closes.
    pub idle_secs: u64,
    /// How many connections each class of work may hold at once.
    pub rations: Rations,
    /// `statement_timeout` of each class of work, in milliseconds (0: none).
    pub statement_timeout_ms: StatementTimeouts,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            size: 25,
            max_overflow: 50,
            timeout_secs: 30,
            recycle_secs: 1800,
            pre_ping: true,
            idle_secs: 600,
            rations: Rations::default(),
            statement_timeout_ms: StatementTimeouts::default(),
        }
    }
}

impl PoolConfig {
    /// The most connections the pool ever opens.
    pub fn max_connections(&self) -> u32 {
        self.size + self.max_overflow
    }
}

/// Maximum concurrent leases per class of work. Interactive searches get the largest share so
/// that a burst of imports or exports can never take every connection.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Rations {
    pub interactive: u32,
    pub ingest: u32,
    pub jobs: u32,
}

impl Default for Rations {
    fn default() -> Self {
        Self {
            interactive: 45,
            ingest: 15,
            jobs: 15,
        }
    }
}

/// How long one statement of each class of work may run before PostgreSQL cancels it, in
/// milliseconds; 0 means no limit. A user waits on interactive work; an ingest batch or a job
/// may rightly take longer, but a stuck one must not hold its connection for ever.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct StatementTimeouts {
    pub interactive: u64,
    pub ingest: u64,
    pub jobs: u64,
}

impl Default for StatementTimeouts {
    fn default() -> Self {
        Self {
            interactive: 15_000,
            ingest: 60_000,
            jobs: 600_000,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct WireConfig {
    /// Largest request body accepted, as received (compressed or not).
    pub max_request_bytes: usize,
    /// Largest body a compressed request may expand to (a zstd bomb gets 413).
    pub max_decompressed_bytes: usize,
    /// Replies larger than this are compressed when the caller accepts zstd.
    pub compress_threshold_bytes: usize,
    /// zstd level for replies: 1 is the fastest regular level, -1..-7 trade ratio for speed
    /// (zstd's "fast" levels), 3 is zstd's default.
    pub zstd_level: i32,
}

impl Default for WireConfig {
    fn default() -> Self {
        Self {
            max_request_bytes: 1024 * 1024,
            max_decompressed_bytes: 8 * 1024 * 1024,
            compress_threshold_bytes: 1024,
            zstd_level: 1,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct QueryConfig {
    /// Page size when a request gives none.
    pub default_limit: u32,
    /// Largest page size.
    pub max_limit: u32,
    /// Largest `offset`; deeper pages must use the cursor.
    pub max_offset: u64,
    /// Most conditions in one request, groups included.
    pub max_filters: usize,
    /// Longest `in` / `any` list.
    pub max_list_len: usize,
    /// Deepest nesting of `any_of` / `not` groups.
    pub max_depth: usize,
    /// Secret that signs cursors; empty means a random one per process (cursors then do not
    /// survive a restart nor cross instances; set it when running more than one).
    pub cursor_secret: String,
    /// Whether `explain: true` is honoured.
    pub allow_explain: bool,
    /// Rows fetched per round trip when streaming large results (at most 5,000).
    pub stream_batch: u32,
    /// Stream chunks a client may leave unacknowledged before the server waits.
    pub stream_window: u32,
    /// Seconds the server waits for a stream client's ack before giving up on it.
    pub stream_ack_timeout_secs: u64,
}

impl Default for QueryConfig {
    fn default() -> Self {
        Self {
            default_limit: 25,
            max_limit: 1000,
            max_offset: 10_000,
            max_filters: 64,
            max_list_len: 1000,
            max_depth: 4,
            cursor_secret: String::new(),
            allow_explain: true,
            stream_batch: 5_000,
            stream_window: 2,
            stream_ack_timeout_secs: 30,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct GatewayConfig {
    /// Requests handled at once by this instance; more get 429 at once rather than queueing.
    pub max_in_flight: usize,
    /// Seconds a request may take end to end before the caller gets 408.
    pub request_timeout_secs: u64,
    /// Seconds `serve` waits for in-flight requests to finish on shutdown.
    pub drain_secs: u64,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            max_in_flight: 4096,
            request_timeout_secs: 35,
            drain_secs: 10,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SupervisorConfig {
    /// Restarts allowed within `window_secs` before the supervisor gives up and stops serve.
    pub max_restarts: u32,
    pub window_secs: u64,
    /// First restart delay; doubles per restart inside the window.
    pub backoff_ms: u64,
    /// Longest restart delay.
    pub max_backoff_ms: u64,
}

impl Default for SupervisorConfig {
    fn default() -> Self {
        Self {
            max_restarts: 5,
            window_secs: 60,
            backoff_ms: 50,
            max_backoff_ms: 5_000,
        }
    }
}

/// The query monitor and slow-query log.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MonitorConfig {
    /// Record timings and metrics at all (off only to measure what the monitor costs).
    pub enabled: bool,
    /// Queries slower than this (ms) are logged and kept in the slow-query log.
    pub slow_ms: u64,
    /// Queries slower than this (ms) get their plan captured with EXPLAIN (ANALYZE, BUFFERS).
    pub explain_ms: u64,
    /// Most plan captures per minute (each runs the query again).
    pub explain_per_minute: usize,
    /// statement_timeout of a plan capture, in ms.
    pub explain_timeout_ms: u64,
    /// Slow queries kept for `rolodex.admin.slow_queries`.
    pub slow_log_size: usize,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            slow_ms: 1000,
            explain_ms: 2000,
            explain_per_minute: 6,
            explain_timeout_ms: 10_000,
            slow_log_size: 100,
        }
    }
}

/// The result cache (DESIGN §3): search, count and facet replies, and Apollo URL analyses.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    /// Serve repeated searches from memory; `false` makes every request a miss.
    pub enabled: bool,
    /// Seconds a result may be served (a write invalidates it sooner).
    pub ttl_secs: u64,
    /// Seconds an Apollo URL analysis is kept.
    pub apollo_ttl_secs: u64,
    /// Most entries kept; least recently used go first.
    pub max_entries: usize,
    /// Most bytes of encoded replies kept; one entry may take at most an eighth of it.
    pub max_bytes: usize,
    /// Milliseconds between sweeps of expired and invalidated entries.
    pub sweep_ms: u64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            ttl_secs: 300,
            apollo_ttl_secs: 3600,
            max_entries: 10_000,
            max_bytes: 128 * 1024 * 1024,
            sweep_ms: 1_000,
        }
    }
}

/// The small HTTP listener for /metrics, /healthz and /readyz.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    pub enabled: bool,
    /// Address to listen on; port 0 picks a free one.
    pub listen: String,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: "127.0.0.1:9464".into(),
        }
    }
}

/// Data files for normalising imported and queried values.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct NormalizeConfig {
    /// Apollo industry tag id → industry name (`tag_id,industry`), loaded once at start.
    pub industries_csv: String,
    /// Title abbreviation rules and the common titles pre-loaded into the title cache.
    pub titles_toml: String,
    /// Entries of the normalised-title LRU.
    pub title_cache_entries: usize,
    /// Milliseconds between runs of the backfill that fills `contacts.title_normalized` for
    /// rows written without it; 0 turns it off.
    pub backfill_ms: u64,
}

impl Default for NormalizeConfig {
    fn default() -> Self {
        Self {
            industries_csv: "config/industries.csv".into(),
            titles_toml: "config/titles.toml".into(),
            title_cache_entries: 10_000,
            backfill_ms: 60_000,
        }
    }
}

/// Event ingestion from JetStream (DESIGN §4 Events, §7): the stream, its durable consumer and
/// how events are batched into transactions.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PersistConfig {
    /// Run the persist actor (create the stream, consume events) under `serve`.
    pub enabled: bool,
    /// Most events written in one transaction.
    pub batch_size: usize,
    /// Milliseconds a partial batch waits for more events before it is written anyway.
    pub flush_ms: u64,
    /// Most events delivered and not yet acknowledged (the consumer's `max_ack_pending`).
    pub max_in_flight: usize,
    /// Batches written at once, each on its own ingest lease.
    pub writers: usize,
    /// Deliveries after which a failing event goes to the dead-letter subject.
    pub max_deliver: i64,
    /// Seconds the server waits for an ack before it redelivers.
    pub ack_wait_secs: u64,
    /// Seconds within which a repeated `Nats-Msg-Id` is dropped by the stream.
    pub duplicate_window_secs: u64,
    /// Largest size of the stream in bytes; publishers get an error beyond it (nothing is
    /// discarded silently).
    pub max_bytes: i64,
    /// Seconds an unconsumed event is kept.
    pub max_age_secs: u64,
    /// First nak delay after a transient database failure; doubles per delivery.
    pub retry_backoff_ms: u64,
    /// Longest nak delay.
    pub max_backoff_ms: u64,
}

impl Default for PersistConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            batch_size: 200,
            flush_ms: 20,
            max_in_flight: 2_000,
            writers: 2,
            max_deliver: 10,
            ack_wait_secs: 30,
            duplicate_window_secs: 120,
            max_bytes: 1024 * 1024 * 1024,
            max_age_secs: 7 * 24 * 3600,
            retry_backoff_ms: 200,
            max_backoff_ms: 5_000,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `pretty` for a terminal, `json` for a log collector.
    pub format: LogFormat,
    /// tracing filter, e.g. `info` or `rolodex=debug,sqlx=warn`.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Pretty,
            level: "info".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

impl Config {
    /// Every problem with the configuration, each naming its key. Empty when valid.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut check = |ok: bool, key: &str, why: &str| {
            if !ok {
                out.push(format!("`{key}`: {why}"));
            }
        };
        check(
            self.database.url.starts_with("postgres://")
                || self.database.url.starts_with("postgresql://"),
            "database.url",
            "must be a postgres:// URL",
        );
        check(
            self.nats.url.contains("://") || !self.nats.url.is_empty(),
            "nats.url",
            "must not be empty",
        );
        check(
            is_subject_token_path(&self.nats.prefix),
            "nats.prefix",
            "must be dot-separated tokens of letters, digits, '-' or '_'",
        );
        check(
            !self.nats.queue_group.is_empty(),
            "nats.queue_group",
            "must not be empty",
        );
        check(self.pool.size >= 1, "pool.size", "must be at least 1");
        check(
            self.pool.timeout_secs >= 1,
            "pool.timeout_secs",
            "must be at least 1",
        );
        let r = &self.pool.rations;
        for (key, value) in [
            ("pool.rations.interactive", r.interactive),
            ("pool.rations.ingest", r.ingest),
            ("pool.rations.jobs", r.jobs),
        ] {
            // A ration above the pool's size is harmless: the pool bounds it anyway.
            check(value >= 1, key, "must be at least 1");
        }
        check(
            self.wire.max_request_bytes >= 1024,
            "wire.max_request_bytes",
            "must be at least 1024",
        );
        check(
            self.wire.max_decompressed_bytes >= self.wire.max_request_bytes,
            "wire.max_decompressed_bytes",
            "must be at least wire.max_request_bytes",
        );
        check(
            (-7..=19).contains(&self.wire.zstd_level),
            "wire.zstd_level",
            "must be between -7 and 19",
        );
        check(
            self.query.default_limit >= 1 && self.query.default_limit <= self.query.max_limit,
            "query.default_limit",
            "must be between 1 and query.max_limit",
        );
        check(
            (1..=5000).contains(&self.query.stream_batch),
            "query.stream_batch",
            "must be between 1 and 5000",
        );
        check(
            (1..=64).contains(&self.query.stream_window),
            "query.stream_window",
            "must be between 1 and 64",
        );
        check(
            self.query.max_depth >= 1,
            "query.max_depth",
            "must be at least 1",
        );
        check(
            self.gateway.max_in_flight >= 1,
            "gateway.max_in_flight",
            "must be at least 1",
        );
        check(
            self.http.listen.parse::<std::net::SocketAddr>().is_ok(),
            "http.listen",
            "must be an address such as 127.0.0.1:9464",
        );
        check(
            self.monitor.slow_log_size >= 1,
            "monitor.slow_log_size",
            "must be at least 1",
        );
        check(
            self.cache.ttl_secs >= 1,
            "cache.ttl_secs",
            "must be at least 1",
        );
        check(
            self.cache.max_entries >= 1,
            "cache.max_entries",
            "must be at least 1",
        );
        check(
            self.cache.max_bytes >= 64 * 1024,
            "cache.max_bytes",
            "must be at least 65536",
        );
        check(
            self.cache.sweep_ms >= 10,
            "cache.sweep_ms",
            "must be at least 10",
        );
        check(
            self.normalize.title_cache_entries >= 1,
            "normalize.title_cache_entries",
            "must be at least 1",
        );
        check(
            self.supervisor.max_restarts >= 1,
            "supervisor.max_restarts",
            "must be at least 1",
        );
        let p = &self.persist;
        check(
            (1..=5000).contains(&p.batch_size),
            "persist.batch_size",
            "must be between 1 and 5000",
        );
        check(p.flush_ms >= 1, "persist.flush_ms", "must be at least 1");
        check(
            p.max_in_flight >= p.batch_size,
            "persist.max_in_flight",
            "must be at least persist.batch_size",
        );
        check(
            (1..=16).contains(&p.writers),
            "persist.writers",
            "must be between 1 and 16",
        );
        check(
            p.max_deliver >= 1,
            "persist.max_deliver",
            "must be at least 1",
        );
        check(
            p.ack_wait_secs >= 1,
            "persist.ack_wait_secs",
            "must be at least 1",
        );
        check(
            p.duplicate_window_secs >= 1,
            "persist.duplicate_window_secs",
            "must be at least 1",
        );
        check(
            p.max_bytes == -1 || p.max_bytes >= 1024 * 1024,
            "persist.max_bytes",
            "must be -1 (unlimited) or at least 1 MiB",
        );
        check(
            p.retry_backoff_ms >= 1 && p.retry_backoff_ms <= p.max_backoff_ms,
            "persist.retry_backoff_ms",
            "must be between 1 and persist.max_backoff_ms",
        );
        out
    }
}

fn is_subject_token_path(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|t| {
            !t.is_empty()
                && t.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_match_the_contract() {
        let c = Config::default();
        assert!(c.problems().is_empty(), "{:?}", c.problems());
        assert_eq!(c.pool.max_connections(), 75);
        assert_eq!(c.nats.prefix, "rolodex");
    }

    #[test]
    fn problems_name_every_bad_key() {
        let mut c = Config::default();
        c.nats.prefix = "a b".into();
        c.pool.rations.jobs = 0;
        let problems = c.problems();
        assert!(problems.iter().any(|p| p.contains("nats.prefix")));
        assert!(problems.iter().any(|p| p.contains("pool.rations.jobs")));
    }

    #[test]
    fn persist_limits_are_checked() {
        let mut c = Config::default();
        assert_eq!(c.persist.batch_size, 200);
        c.persist.batch_size = 5001;
        c.persist.writers = 0;
        c.persist.max_bytes = 10;
        let problems = c.problems().join("\n");
        for key in ["persist.batch_size", "persist.writers", "persist.max_bytes"] {
            assert!(problems.contains(key), "{problems}");
        }
    }
}
