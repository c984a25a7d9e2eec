//! Rolodex: a contacts-and-companies search and ingestion engine over NATS and PostgreSQL.
//!
//! The daemon is a library call: [`serve`] takes the configuration and a shutdown future, so
//! `main.rs` passes SIGINT/SIGTERM and the tests pass a oneshot and run the real daemon
//! in-process. The engine (actors, planner, codec) lives in the `rolodex-actors` crate.

pub mod bench;
pub mod cli;
pub mod client;
pub mod config;
pub mod db;
pub mod telemetry;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use ractor::Actor;
use rolodex_actors::gateway::{EndpointStats, GatewayActor, GatewayArgs, Route, ServiceIdentity};
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
    ready: Option<oneshot::Sender<()>>,
) -> Result<(), ServeError> {
    let problems = config.problems();
    if !problems.is_empty() {
        return Err(ServeError::Config(problems.join("; ")));
    }
    db::ensure_database(&config.database.url).await?;
    let options =
        connect_options(&config.database.url, &config.query).map_err(db::DbError::BadUrl)?;
    let address = db::address(&options);
    let pool = Pool::new(&config.pool, options);
    pool.check()
        .await
        .map_err(|source| db::DbError::Unreachable {
            addr: address.clone(),
            source,
        })?;
    if config.database.migrate_on_start {
        db::MIGRATOR
            .run(pool.pg())
            .await
            .map_err(db::DbError::from)?;
    }
    let client = connect_nats(&config).await?;

    let prefix = config.nats.prefix.clone();
    let children = children(&config, &pool, &client);
    let policy = RestartPolicy::from(&config.supervisor);
    let (supervisor, supervisor_done) = Actor::spawn(
        Some(actor_name(&prefix, "supervisor")),
        Supervisor,
        (policy, children),
    )
    .await
    .map_err(|e| ServeError::Spawn(e.to_string()))?;

    tracing::info!(
        service = SERVICE_NAME,
        nats = %config.nats.url,
        subjects = %format!("{prefix}.>"),
        database = %address,
        "Rolodex ready."
    );
    if let Some(ready) = ready {
        let _ = ready.send(());
    }

    let mut supervisor_done = supervisor_done;
    let outcome = tokio::select! {
        _ = shutdown => Ok(()),
        _ = &mut supervisor_done => Err(ServeError::Escalated("a child kept crashing; see the log".into())),
    };
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
    if let Err(e) = client.drain().await {
        tracing::debug!(error = %e, "NATS drain failed.");
    }
    pool.close().await;
    tracing::info!("Rolodex stopped.");
    outcome
}

/// The supervision tree's children, in start order.
fn children(config: &Config, pool: &Pool, client: &async_nats::Client) -> Vec<Box<dyn Child>> {
    let prefix = &config.nats.prefix;
    let secret = if config.query.cursor_secret.is_empty() {
        tracing::warn!("query.cursor_secret is empty: cursors are signed with a per-process key.");
        uuid::Uuid::new_v4().as_bytes().to_vec()
    } else {
        config.query.cursor_secret.as_bytes().to_vec()
    };
    let planner_args = PlannerArgs {
        pool: pool.clone(),
        planner: Arc::new(Planner::new(config.query.clone(), &secret)),
    };
    let stats = Arc::new(
        Route::ALL
            .iter()
            .map(|r| (*r, Arc::new(EndpointStats::default())))
            .collect::<Vec<_>>(),
    );
    let stats_pool = pool.clone();
    let gateway_args = GatewayArgs {
        client: client.clone(),
        prefix: prefix.clone(),
        codec: Codec::new(config.wire.clone()),
        planner: planner::Handle::new(actor_name(prefix, "planner")),
        max_in_flight: config.gateway.max_in_flight,
        deadline: Duration::from_secs(config.gateway.request_timeout_secs),
        drain: Duration::from_secs(config.gateway.drain_secs),
        identity: ServiceIdentity {
            name: SERVICE_NAME.into(),
            id: uuid::Uuid::new_v4().simple().to_string(),
            version: VERSION.into(),
            description: "Contacts-and-companies search and ingestion".into(),
            started: chrono::Utc::now().to_rfc3339(),
            queue_group: config.nats.queue_group.clone(),
        },
        stats,
        extra_stats: Arc::new(move || serde_json::json!({ "pool": stats_pool.stats() })),
    };
    vec![
        Box::new(ChildSpec {
            name: actor_name(prefix, "pool"),
            make: || PoolActor,
            args: pool.clone(),
        }),
        Box::new(ChildSpec {
            name: actor_name(prefix, "planner"),
            make: || PlannerActor,
            args: planner_args,
        }),
        Box::new(ChildSpec {
            name: actor_name(prefix, "gateway"),
            make: || GatewayActor,
            args: gateway_args,
        }),
    ]
}
