//! Throw-away resources per test on the real services: each [`Instance`] is the real daemon,
//! in-process, with its own database and NATS subject prefix, so tests run in parallel and
//! leave nothing behind.

use std::future::Future;
use std::time::{Duration, Instant};

use futures::StreamExt;
use rolodex::client::{self, Format, Reply};
use rolodex::{Config, ServeError};
use serde_json::Value;
use sqlx::PgPool;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const PG: &str = "postgres://postgres@127.0.0.1:5432";
pub const NATS: &str = "nats://127.0.0.1:4222";

static CLEANUP: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();

/// Drop databases and streams left by earlier runs that were interrupted (once per test
/// process, before any test creates its own). Only those of processes that are gone: under
/// cargo-nextest every test is a process of its own, and sweeping everything would pull the
/// database out from under the tests running beside this one.
async fn cleanup_leftovers() {
    CLEANUP
        .get_or_init(|| async {
            let Ok(pool) = PgPool::connect(&format!("{PG}/postgres")).await else {
                return;
            };
            let names: Vec<String> = sqlx::query_scalar(
                "SELECT datname FROM pg_database WHERE datname LIKE 'rolodex\\_t\\_%'",
            )
            .fetch_all(&pool)
            .await
            .unwrap_or_default();
            for name in names.into_iter().filter(|n| abandoned(n)) {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .execute(&pool)
                    .await;
            }
            pool.close().await;
            // And the event streams of test prefixes (the SIGKILLed children leave theirs).
            if let Ok(nats) = async_nats::connect(NATS).await {
                let js = async_nats::jetstream::new(nats);
                let names: Vec<String> = js
                    .stream_names()
                    .filter_map(|n| async { n.ok() })
                    .collect()
                    .await;
                let leftovers = names
                    .iter()
                    .filter(|n| n.starts_with("ROLODEX_EVENTS_T_") && abandoned(n));
                for name in leftovers {
                    let _ = js.delete_stream(name).await;
                }
            }
        })
        .await;
}

/// A unique name for this test's database and subject prefix. It carries this process's id,
/// so another test process's sweep of leftovers can tell it is still in use.
pub fn unique(tag: &str) -> String {
    format!(
        "t_{tag}_{}_{}",
        std::process::id(),
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

/// Whether a database or stream named by [`unique`] belongs to a process that has ended (or
/// whose liveness cannot be told: names from before the process id, systems without /proc).
fn abandoned(name: &str) -> bool {
    let owner = name.rsplit('_').nth(1).and_then(|p| p.parse::<u32>().ok());
    let proc = std::path::Path::new("/proc");
    match owner {
        Some(pid) if proc.is_dir() => !proc.join(pid.to_string()).exists(),
        _ => true,
    }
}

/// A configuration for tests: a fresh database and prefix, small pool.
pub fn test_config(tag: &str) -> Config {
    let id = unique(tag);
    let mut c = Config::default();
    c.database.url = format!("{PG}/rolodex_{id}");
    c.nats.url = NATS.into();
    c.nats.prefix = id.clone();
    c.nats.queue_group = id;
    c.pool.size = 1;
    c.pool.max_overflow = 4;
    c.pool.timeout_secs = 5;
    c.pool.rations.interactive = 3;
    c.pool.rations.ingest = 2;
    c.pool.rations.jobs = 2;
    c.query.cursor_secret = "test-secret".into();
    c.gateway.drain_secs = 3;
    c.http.listen = "127.0.0.1:0".into();
    // JetStream reserves a stream's max_bytes up front; many parallel tests must fit.
    c.persist.max_bytes = 64 * 1024 * 1024;
    c
}

/// The daemon running in this process.
pub struct Instance {
    pub config: Config,
    /// Where the daemon's HTTP listener is (`/metrics`, `/healthz`, `/readyz`).
    pub http: Option<std::net::SocketAddr>,
    pub nats: async_nats::Client,
    pub db: PgPool,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<Result<(), ServeError>>>,
}

impl Instance {
    pub async fn start(tag: &str) -> Instance {
        Self::start_with(test_config(tag)).await
    }

    pub async fn start_with(config: Config) -> Instance {
        cleanup_leftovers().await;
        let (tx, rx) = oneshot::channel();
        let (ready_tx, ready_rx) = oneshot::channel();
        let handle = tokio::spawn(rolodex::serve_with(
            config.clone(),
            async move {
                let _ = rx.await;
            },
            Some(ready_tx),
        ));
        let ready = match ready_rx.await {
            Ok(ready) => ready,
            Err(_) => panic!("rolodex did not start: {:?}", handle.await),
        };
        let nats = async_nats::connect(NATS).await.expect("NATS is running");
        let db = PgPool::connect(&config.database.url)
            .await
            .expect("test database");
        Instance {
            config,
            http: ready.http,
            nats,
            db,
            shutdown: Some(tx),
            handle: Some(handle),
        }
    }

    pub fn subject(&self, suffix: &str) -> String {
        format!("{}.{suffix}", self.config.nats.prefix)
    }

    /// A request in MessagePack + zstd.
    pub async fn req(&self, suffix: &str, body: Value) -> Reply {
        self.req_as(suffix, body, Format::MsgPackZstd).await
    }

    pub async fn req_as(&self, suffix: &str, body: Value, format: Format) -> Reply {
        self.try_req_as(suffix, body, format)
            .await
            .expect("a reply")
    }

    /// A request that may legitimately find nobody listening (while a gateway restarts).
    pub async fn try_req_as(
        &self,
        suffix: &str,
        body: Value,
        format: Format,
    ) -> Result<Reply, client::ClientError> {
        client::request(
            &self.nats,
            &self.subject(suffix),
            &body,
            format,
            Some("tester"),
            Duration::from_secs(30),
        )
        .await
    }

    /// The reply body of a request that must succeed.
    pub async fn ok(&self, suffix: &str, body: Value) -> Value {
        let reply = self.req(suffix, body.clone()).await;
        match reply.error {
            None => reply.body,
            Some((status, e)) => {
                panic!("{suffix} {body} failed: {status} {} {}", e.code, e.message)
            }
        }
    }

    /// The error (status, code) of a request that must fail.
    pub async fn err(&self, suffix: &str, body: Value) -> (u16, String) {
        let reply = self.req(suffix, body.clone()).await;
        match reply.error {
            Some((status, e)) => (status, e.code),
            None => panic!(
                "{suffix} {body} should have failed but returned {}",
                reply.body
            ),
        }
    }

    /// Run SQL directly against this instance's database.
    pub async fn sql(&self, statement: &str) {
        sqlx::raw_sql(statement)
            .execute(&self.db)
            .await
            .expect("SQL runs");
    }

    /// Stop the daemon gracefully and drop its database.
    pub async fn stop(mut self) -> Result<(), ServeError> {
        let _ = self.shutdown.take().map(|tx| tx.send(()));
        let result = match self.handle.take() {
            Some(h) => tokio::time::timeout(Duration::from_secs(30), h)
                .await
                .expect("serve stops within 30 s")
                .expect("serve did not panic"),
            None => Ok(()),
        };
        self.db.close().await;
        let _ = rolodex::db::drop_database(&self.config.database.url).await;
        delete_event_stream(&self.nats, &self.config.nats.prefix).await;
        result
    }
}

/// Delete the events stream of a prefix (each test's own), so nothing is left on the server.
pub async fn delete_event_stream(nats: &async_nats::Client, prefix: &str) {
    let js = async_nats::jetstream::new(nats.clone());
    let _ = js
        .delete_stream(rolodex_actors::persist::core::stream_name(prefix))
        .await;
}

/// Poll `check` until it holds or `timeout` passes (no sleeps standing in for sync).
pub async fn wait_until<F, Fut>(timeout: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Insert a few contacts and companies with known values; returns nothing, the SQL says it all.
pub const SMALL_DATASET: &str = r#"
INSERT INTO companies (uuid, name, employees_count, annual_revenue, industries, keywords, technologies, created_at) VALUES
 ('00000000-0000-0000-0000-00000000c001', 'Acme Tech', 120, 5000000, '{Software}', '{saas,b2b}', '{Kubernetes,Rust}', '2024-01-01T00:00:00Z'),
 ('00000000-0000-0000-0000-00000000c002', 'Globex', 40, 900000, '{Manufacturing}', '{widgets}', '{SAP}', '2024-01-02T00:00:00Z');
INSERT INTO companies_metadata (uuid, website, city, country, founded_year) VALUES
 ('00000000-0000-0000-0000-00000000c001', 'https://acme.example', 'Berlin', 'Germany', 2010);
INSERT INTO contacts (uuid, first_name, last_name, email, title, seniority, departments, email_status, company_id, created_at) VALUES
 ('00000000-0000-0000-0000-000000000001', 'John', 'Smith', 'john@acme.example', 'VP of Sales', 'vp', '{Sales}', 'verified', '00000000-0000-0000-0000-00000000c001', '2024-02-01T00:00:00Z'),
 ('00000000-0000-0000-0000-000000000002', 'Joanna', 'Jones', 'joanna@globex.example', 'Senior Engineer', 'senior', '{Engineering}', 'guessed', '00000000-0000-0000-0000-00000000c002', '2024-02-02T00:00:00Z'),
 ('00000000-0000-0000-0000-000000000003', 'Ada', 'Lovelace', 'ada@example.org', 'Director of Engineering', 'director', '{Engineering,Research}', 'verified', NULL, '2024-02-03T00:00:00Z'),
 ('00000000-0000-0000-0000-000000000004', 'Bob', 'O''Brien', NULL, 'Account Executive', 'entry', '{Sales}', NULL, '00000000-0000-0000-0000-00000000c001', '2024-02-04T00:00:00Z');
INSERT INTO contacts_metadata (uuid, city, country, linkedin_url) VALUES
 ('00000000-0000-0000-0000-000000000001', 'Berlin', 'Germany', 'https://linkedin.com/in/john'),
 ('00000000-0000-0000-0000-000000000003', 'London', 'United Kingdom', NULL);
"#;

/// The uuids of the items of a page, in order.
pub fn uuids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["uuid"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Short form of a small-dataset uuid: its last digit(s).
pub fn short(uuids: &[String]) -> Vec<String> {
    uuids
        .iter()
        .map(|u| {
            u.trim_start_matches("00000000-0000-0000-0000-")
                .trim_start_matches('0')
                .to_owned()
        })
        .collect()
}
