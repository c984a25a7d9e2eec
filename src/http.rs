//! The small HTTP listener (config `http.listen`): `/metrics` in Prometheus text, `/healthz`
//! (the process is alive) and `/readyz` (NATS and PostgreSQL reachable, migrations applied).

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use rolodex_actors::monitor::Monitor;
use rolodex_actors::pool::Pool;
use serde_json::json;

#[derive(Clone)]
struct Probe {
    monitor: Monitor,
    cache: rolodex_actors::cache::Handle,
    pool: Pool,
    nats: async_nats::Client,
}

/// Bind the listener (so start-up fails early on a taken port) and return its address and the
/// server future, which stops when `shutdown` completes.
pub async fn bind(
    listen: &str,
    monitor: Monitor,
    cache: rolodex_actors::cache::Handle,
    pool: Pool,
    nats: async_nats::Client,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<(SocketAddr, impl std::future::Future<Output = ()>)> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .with_state(Probe {
            monitor,
            cache,
            pool,
            nats,
        });
    let server = async move {
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::warn!(error = %e, "HTTP listener stopped.");
        }
    };
    Ok((addr, server))
}

async fn metrics(State(p): State<Probe>) -> impl IntoResponse {
    p.monitor.metrics().observe_pool(&p.pool.stats());
    p.monitor.metrics().observe_cache(&p.cache.metrics());
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        p.monitor.metrics().render(),
    )
}

async fn readyz(State(p): State<Probe>) -> impl IntoResponse {
    let nats_ok = matches!(
        p.nats.connection_state(),
        async_nats::connection::State::Connected
    );
    let (postgres_ok, migrations_ok) =
        match tokio::time::timeout(Duration::from_secs(2), migrations_applied(&p.pool)).await {
            Ok(Ok(applied)) => (true, applied),
            _ => (false, false),
        };
    let ready = nats_ok && postgres_ok && migrations_ok;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let word = |ok: bool| if ok { "ok" } else { "unavailable" };
    (
        status,
        Json(json!({
            "ready": ready,
            "nats": word(nats_ok),
            "postgres": word(postgres_ok),
            "migrations": if !postgres_ok { "unknown" } else if migrations_ok { "ok" } else { "pending" },
        })),
    )
}

/// Whether the newest migration this binary carries is applied.
async fn migrations_applied(pool: &Pool) -> Result<bool, sqlx::Error> {
    let latest = crate::db::MIGRATOR
        .iter()
        .map(|m| m.version)
        .max()
        .unwrap_or(0);
    let mut conn = pool.admin().await?;
    let applied: Option<i64> =
        sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations WHERE success")
            .fetch_one(&mut *conn)
            .await?;
    conn.settle();
    Ok(applied.unwrap_or(0) >= latest)
}
