//! Rolodex: a contacts-and-companies search and ingestion engine over NATS and PostgreSQL.
//!
//! The daemon is a library call: [`serve`] takes the configuration and a shutdown future, so
//! `main.rs` passes SIGINT/SIGTERM and the tests pass a oneshot and run the real daemon
//! in-process. The engine (actors, planner, codec) lives in the `rolodex-actors` crate.

pub mod backfill;
pub mod bench;
pub mod cli;
pub mod client;
pub mod config;
pub mod db;
pub mod http;
pub mod telemetry;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use ractor::Actor;
use rolodex_actors::cache::{self, CacheActor, CacheArgs};
use rolodex_actors::gateway::{EndpointStats, GatewayActor, GatewayArgs, Route, ServiceIdentity};
use rolodex_actors::monitor::{Monitor, MonitorActor, MonitorArgs};
use rolodex_actors::persist::{PersistActor, PersistArgs};
use rolodex_actors::planner::core::Planner;
use rolodex_actors::planner::{self, PlannerActor, PlannerArgs};
use rolodex_actors::pool::{connect_options, Pool, PoolActor};
use rolodex_actors::supervisor::{Child, ChildSpec, RestartPolicy, Supervisor, SupervisorMsg};
use rolodex_actors::wire::Codec;
pub use rolodex_actors::Config;
use tokio::sync::oneshot;

/// The NATS micro service name every instance registers.
pub const SERVICE_NAME: &str = "rolodex";
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Why `serve` stopped with an error. Each says what failed and where, never a stack trace.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Database(#[from] db::DbError),
    #[error(
        "cannot reach NATS at {url}: {reason}\n  Is it running? Start it with `start-stop-daemon \
         --start --oknodo --background --exec /usr/sbin/nats-server -- -a 127.0.0.1 -p 4222 -js \
         -sd /var/lib/nats-server`, or `docker compose up -d nats`; the address is `nats.url` \
         (ROLODEX_NATS__URL)."
    )]
    Nats { url: String, reason: String },
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("could not start the actors: {0}")]
    Spawn(String),
    #[error("stopped: {0}")]
    Escalated(String),
}

/// The registered name of one of an instance's actors (`<prefix>/<child>`), unique per prefix
/// so several instances can share one process (the tests do).
pub fn actor_name(prefix: &str, child: &str) -> String {
    format!("{prefix}/{child}")
}

/// The name scope of an instance's actors: its prefix, or `prefix#n` when another instance in
/// this process already uses the prefix (two instances of one deployment in one test process).
fn actor_scope(prefix: &str) -> String {
    let mut scope = prefix.to_owned();
    let mut n = 1;
    while ractor::registry::where_is(actor_name(&scope, "supervisor")).is_some() {
        n += 1;
        scope = format!("{prefix}#{n}");
    }
    scope
}

/// Connect to NATS the way every Rolodex component does.
pub async fn connect_nats(config: &Config) -> Result<async_nats::Client, ServeError> {
    let opts = async_nats::ConnectOptions::new()
        .name(&config.nats.client_name)
        .connection_timeout(Duration::from_secs(5));
    opts.connect(config.nats.url.as_str())
        .await
        .map_err(|e| ServeError::Nats {
            url: config.nats.url.clone(),
            reason: e.to_string(),
        })
}

/// What a started daemon tells its embedder.
#[derive(Debug, Clone)]
pub struct Ready {
    /// Where `/metrics`, `/healthz` and `/readyz` are served, when `http.enabled`.
    pub http: Option<std::net::SocketAddr>,
}

/// Run the daemon until `shutdown` completes.
pub async fn serve(
    config: Config,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    serve_with(config, shutdown, None).await
}

/// [`serve`], telling `ready` once every endpoint is subscribed.
pub async fn serve_with(
    config: Config,
    shutdown: impl Future<Output = ()> + Send,
    ready: Option<oneshot::Sender<Ready>>,
) -> Result<(), ServeError> {
    let problems = config.problems();
    if !problems.is_empty() {
        return Err(ServeError::Config(problems.join("; ")));
    }
    db::ensure_database(&config.database.url).await?;
    let options =
        connect_options(&config.database.url, &config.pool).map_err(db::DbError::BadUrl)?;
    let address = db::address(&options);
    let pool = Pool::new(&config.pool, options);
    pool.check()
        .await
        .map_err(|source| db::DbError::Unreachable {
            addr: address.clone(),
            source,
        })?;
    if config.database.migrate_on_start {
        let mut conn = pool
            .admin()
            .await
            .map_err(|source| db::DbError::Unreachable {
                addr: address.clone(),
                source,
            })?;
        db::MIGRATOR
            .run_direct(&mut *conn)
            .await
            .map_err(db::DbError::from)?;
    }
    let client = connect_nats(&config).await?;

    let (industries, titles) = rolodex_actors::normalize::load(&config.normalize)
        .map_err(|e| ServeError::Config(e.to_string()))?;
    let rules = Arc::new(titles);
    let normalize = Normalize {
        industries: Arc::new(industries),
        titles: Arc::new(rolodex_actors::normalize::TitleCache::new(
            rules.clone(),
            config.normalize.title_cache_entries,
        )),
        rules,
    };

    let scope = actor_scope(&config.nats.prefix);
    let prefix = &config.nats.prefix;
    let monitor = Monitor::new(config.monitor.clone(), actor_name(&scope, "monitor"));
    let cache = cache::Handle::new(
        &config.cache,
        uuid::Uuid::new_v4().simple().to_string(),
        actor_name(&scope, "cache"),
        Some(cache::Broadcast {
            client: client.clone(),
            subject: format!("{prefix}.cache.invalidate"),
        }),
    );
    let (http_stop, http_stopped) = oneshot::channel::<()>();
    let (http_addr, http_task) = if config.http.enabled {
        let stopped = async move {
            let _ = http_stopped.await;
        };
        let (addr, server) = http::bind(
            &config.http.listen,
            monitor.clone(),
            cache.clone(),
            pool.clone(),
            client.clone(),
            stopped,
        )
        .await
        .map_err(|e| {
            ServeError::Spawn(format!(
                "cannot listen on http.listen {}: {e}",
                config.http.listen
            ))
        })?;
        (Some(addr), Some(tokio::spawn(server)))
    } else {
        (None, None)
    };
    let children = children(
        &config, &scope, &pool, &client, &normalize, &cache, &monitor,
    );
    let policy = RestartPolicy::from(&config.supervisor);
    let (supervisor, supervisor_done) = Actor::spawn(
        Some(actor_name(&scope, "supervisor")),
        Supervisor,
        (policy, children),
    )
    .await
    .map_err(|e| ServeError::Spawn(e.to_string()))?;

    tracing::info!(
        service = SERVICE_NAME,
        nats = %config.nats.url,
        subjects = %format!("{}.>", config.nats.prefix),
        database = %address,
        http = %http_addr.map_or("off".to_owned(), |a| a.to_string()),
        "Rolodex ready."
    );
    if let Some(ready) = ready {
        let _ = ready.send(Ready { http: http_addr });
    }
    let backfill = (config.normalize.backfill_ms > 0).then(|| {
        tokio::spawn(backfill::run(
            pool.clone(),
            normalize.titles.clone(),
            cache.clone(),
            Duration::from_millis(config.normalize.backfill_ms),
        ))
    });

    let mut supervisor_done = supervisor_done;
    let outcome = tokio::select! {
        _ = shutdown => Ok(()),
        _ = &mut supervisor_done => Err(ServeError::Escalated("a child kept crashing; see the log".into())),
    };
    if let Some(task) = backfill {
        task.abort();
    }
    if outcome.is_ok() {
        tracing::info!("Shutting down: stopping intake, draining.");
        let drain = Duration::from_secs(config.gateway.drain_secs);
        let _ = supervisor
            .call(
                |reply| SupervisorMsg::Shutdown(drain, reply),
                Some(drain * 4),
            )
            .await;
        let _ = tokio::time::timeout(drain, supervisor_done).await;
    }
    let _ = http_stop.send(());
    if let Some(task) = http_task {
        let _ = tokio::time::timeout(Duration::from_secs(2), task).await;
    }
    if let Err(e) = client.drain().await {
        tracing::debug!(error = %e, "NATS drain failed.");
    }
    pool.close().await;
    tracing::info!("Rolodex stopped.");
    outcome
}

/// The normalisation data loaded once at start.
struct Normalize {
    industries: Arc<rolodex_actors::normalize::Industries>,
    rules: Arc<rolodex_actors::normalize::TitleRules>,
    titles: Arc<rolodex_actors::normalize::TitleCache>,
}

/// The supervision tree's children, in start order.
fn children(
    config: &Config,
    scope: &str,
    pool: &Pool,
    client: &async_nats::Client,
    normalize: &Normalize,
    cache: &cache::Handle,
    monitor: &Monitor,
) -> Vec<Box<dyn Child>> {
    let prefix = &config.nats.prefix;
    let cache = cache.clone();
    let cache_args = CacheArgs {
        handle: cache.clone(),
        client: client.clone(),
        prefix: prefix.clone(),
        sweep: Duration::from_millis(config.cache.sweep_ms),
    };
    let stats_cache = cache.clone();
    let secret = if config.query.cursor_secret.is_empty() {
        tracing::warn!("query.cursor_secret is empty: cursors are signed with a per-process key.");
        uuid::Uuid::new_v4().as_bytes().to_vec()
    } else {
        config.query.cursor_secret.as_bytes().to_vec()
    };
    let planner_args = PlannerArgs {
        pool: pool.clone(),
        planner: Arc::new(
            Planner::new(config.query.clone(), &secret).with_titles(normalize.rules.clone()),
        ),
        monitor: monitor.clone(),
    };
    let stats = Arc::new(
        Route::ALL
            .iter()
            .map(|r| (*r, Arc::new(EndpointStats::default())))
            .collect::<Vec<_>>(),
    );
    let stats_pool = pool.clone();
    let stats_monitor = monitor.clone();
    let gateway_args = GatewayArgs {
        client: client.clone(),
        prefix: prefix.clone(),
        codec: Codec::new(config.wire.clone()),
        planner: planner::Handle::new(actor_name(scope, "planner")).inline(planner_args.clone()),
        max_in_flight: config.gateway.max_in_flight,
        deadline: Duration::from_secs(config.gateway.request_timeout_secs),
        drain: Duration::from_secs(config.gateway.drain_secs),
        stream_window: config.query.stream_window as usize,
        stream_ack_timeout: Duration::from_secs(config.query.stream_ack_timeout_secs),
        identity: ServiceIdentity {
            name: SERVICE_NAME.into(),
            id: cache.origin().to_owned(),
            version: VERSION.into(),
            description: "Contacts-and-companies search and ingestion".into(),
            started: chrono::Utc::now().to_rfc3339(),
            queue_group: config.nats.queue_group.clone(),
        },
        stats,
        monitor: monitor.clone(),
        extra_stats: Arc::new(move || {
            serde_json::json!({
                "pool": stats_pool.stats(),
                "queries": stats_monitor.query_summaries(),
                "cache": stats_cache.metrics(),
            })
        }),
        cache: cache.clone(),
        industries: normalize.industries.clone(),
        default_limit: config.query.default_limit,
    };
    let mut out: Vec<Box<dyn Child>> = vec![
        Box::new(ChildSpec {
            name: actor_name(scope, "pool"),
            make: || PoolActor,
            args: pool.clone(),
        }),
        Box::new(ChildSpec {
            name: actor_name(scope, "monitor"),
            make: || MonitorActor,
            args: MonitorArgs {
                monitor: monitor.clone(),
                pool: pool.clone(),
            },
        }),
        Box::new(ChildSpec {
            name: actor_name(scope, "planner"),
            make: || PlannerActor,
            args: planner_args,
        }),
    ];
    if config.persist.enabled {
        // After the planner, before the gateway: shutdown (reverse order) stops intake first,
        // then flushes and acks the batches in hand while the pool is still open.
        out.push(Box::new(ChildSpec {
            name: actor_name(scope, "persist"),
            make: || PersistActor,
            args: PersistArgs {
                client: client.clone(),
                pool: pool.clone(),
                codec: Codec::new(config.wire.clone()),
                prefix: prefix.clone(),
                config: config.persist.clone(),
                drain: Duration::from_secs(config.gateway.drain_secs),
                cache: Some(cache.clone()),
                monitor: Some(monitor.clone()),
                titles: normalize.titles.clone(),
            },
        }));
    }
    out.push(Box::new(ChildSpec {
        name: actor_name(scope, "cache"),
        make: || CacheActor,
        args: cache_args,
    }));
    out.push(Box::new(ChildSpec {
        name: actor_name(scope, "gateway"),
        make: || GatewayActor,
        args: gateway_args,
    }));
    out
}
