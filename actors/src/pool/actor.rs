//! The shell: the sqlx pool, the per-class semaphores, and the actor that owns them.

use std::ops::{Deref, DerefMut};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Executor, PgPool, Postgres};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::core::{Class, ClassStats, PoolStats};
use crate::config::{PoolConfig, QueryConfig};
use crate::error::ApiError;

#[derive(Default)]
struct Counters {
    in_use: AtomicU64,
    waiting: AtomicU64,
    granted: AtomicU64,
    timeouts: AtomicU64,
}

struct Ration {
    class: Class,
    permits: Arc<Semaphore>,
    size: u32,
    counters: Counters,
}

/// Connections idle at least this long are pinged before they are handed out.
const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// The shared pool: cheap to clone, safe to lease from any task.
#[derive(Clone)]
pub struct Pool {
    inner: Arc<Inner>,
}

struct Inner {
    pg: PgPool,
    rations: Vec<Ration>,
    timeout: Duration,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("size", &self.inner.pg.size())
            .finish()
    }
}

/// Connection options shared by the pool and the CLI: plan choice is made deliberate
/// (`plan_cache_mode = force_custom_plan`, see DESIGN §10: a generic plan of the company-join
/// query ran 132 ms against 4 ms), and interactive statements get their timeout.
pub fn connect_options(url: &str, query: &QueryConfig) -> Result<PgConnectOptions, sqlx::Error> {
    Ok(PgConnectOptions::from_str(url)?
        .application_name("rolodex")
        .options([
            ("plan_cache_mode", "force_custom_plan".to_owned()),
            (
                "statement_timeout",
                format!("{}ms", query.interactive_timeout_ms),
            ),
        ]))
}

impl Pool {
    /// Build the pool. Connections open lazily, warm ones in the background, so start-up
    /// does not wait on 25 handshakes; `check` proves the database is reachable.
    pub fn new(config: &PoolConfig, options: PgConnectOptions) -> Pool {
        let pre_ping = config.pre_ping;
        let pg = PgPoolOptions::new()
            .max_connections(config.max_connections())
            .min_connections(config.size)
            .acquire_timeout(Duration::from_secs(config.timeout_secs))
            .max_lifetime(Some(Duration::from_secs(config.recycle_secs)))
            .idle_timeout(Some(Duration::from_secs(config.idle_secs)))
            // Pre-ping as SQLAlchemy's pool_pre_ping means it (a dead connection is never
            // handed out), but only for connections that sat idle: one in constant use has just
            // proved itself, and pinging it would double every query's round trips.
            .test_before_acquire(false)
            .before_acquire(move |conn, meta| {
                Box::pin(async move {
                    if pre_ping && meta.idle_for >= PING_AFTER_IDLE {
                        sqlx::Connection::ping(conn).await?;
                    }
                    Ok(true)
                })
            })
            .connect_lazy_with(options);
        let rations = Class::ALL
            .into_iter()
            .map(|class| {
                let size = class.ration(&config.rations);
                Ration {
                    class,
                    permits: Arc::new(Semaphore::new(size as usize)),
                    size,
                    counters: Counters::default(),
                }
            })
            .collect();
        Pool {
            inner: Arc::new(Inner {
                pg,
                rations,
                timeout: Duration::from_secs(config.timeout_secs),
            }),
        }
    }

    /// The underlying sqlx pool, for migrations and the CLI. Request paths lease instead.
    pub fn pg(&self) -> &PgPool {
        &self.inner.pg
    }

    /// One round trip to prove PostgreSQL answers.
    pub async fn check(&self) -> Result<(), sqlx::Error> {
        self.inner.pg.execute("SELECT 1").await.map(|_| ())
    }

    /// Lease a connection for a class of work, waiting at most the acquire timeout.
    pub async fn lease(&self, class: Class) -> Result<Lease, ApiError> {
        let ration = &self.inner.rations[class.index()];
        let started = Instant::now();
        ration.counters.waiting.fetch_add(1, Ordering::Relaxed);
        let permit =
            tokio::time::timeout(self.inner.timeout, ration.permits.clone().acquire_owned()).await;
        ration.counters.waiting.fetch_sub(1, Ordering::Relaxed);
        let exhausted = || {
            ration.counters.timeouts.fetch_add(1, Ordering::Relaxed);
            ApiError::PoolExhausted {
                class: class.name().into(),
                waited_ms: started.elapsed().as_millis() as u64,
            }
        };
        let permit = match permit {
            Ok(Ok(permit)) => permit,
            Ok(Err(_closed)) => {
                return Err(ApiError::Unavailable("the pool is shutting down".into()))
            }
            Err(_elapsed) => return Err(exhausted()),
        };
        let conn = match self.inner.pg.acquire().await {
            Ok(conn) => conn,
            Err(sqlx::Error::PoolTimedOut) => return Err(exhausted()),
            Err(sqlx::Error::PoolClosed) => {
                return Err(ApiError::Unavailable("the pool is shutting down".into()))
            }
            Err(e) => {
                return Err(ApiError::Unavailable(format!(
                    "PostgreSQL is unreachable: {e}"
                )))
            }
        };
        ration.counters.granted.fetch_add(1, Ordering::Relaxed);
        ration.counters.in_use.fetch_add(1, Ordering::Relaxed);
        Ok(Lease {
            conn,
            _permit: permit,
            pool: self.clone(),
            class,
        })
    }

    pub fn stats(&self) -> PoolStats {
        PoolStats {
            size: self.inner.pg.size(),
            idle: self.inner.pg.num_idle() as u32,
            max: self.inner.pg.options().get_max_connections(),
            classes: self
                .inner
                .rations
                .iter()
                .map(|r| ClassStats {
                    class: r.class.name().into(),
                    ration: r.size,
                    in_use: r.counters.in_use.load(Ordering::Relaxed),
                    waiting: r.counters.waiting.load(Ordering::Relaxed),
                    granted: r.counters.granted.load(Ordering::Relaxed),
                    timeouts: r.counters.timeouts.load(Ordering::Relaxed),
                })
                .collect(),
        }
    }

    /// Refuse new leases, then close every connection once the current ones come back.
    pub async fn close(&self) {
        for r in &self.inner.rations {
            r.permits.close();
        }
        self.inner.pg.close().await;
    }
}

/// A leased connection; returns itself and its ration permit when dropped.
pub struct Lease {
    conn: PoolConnection<Postgres>,
    _permit: OwnedSemaphorePermit,
    pool: Pool,
    class: Class,
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease").field("class", &self.class).finish()
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.pool.inner.rations[self.class.index()]
            .counters
            .in_use
            .fetch_sub(1, Ordering::Relaxed);
    }
}

impl Deref for Lease {
    type Target = sqlx::PgConnection;
    fn deref(&self) -> &Self::Target {
        &self.conn
    }
}

impl DerefMut for Lease {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.conn
    }
}

/// Messages to the pool actor.
pub enum PoolMsg {
    Stats(RpcReplyPort<PoolStats>),
}

/// The actor owning the pool's lifecycle.
pub struct PoolActor;

impl Actor for PoolActor {
    type Msg = PoolMsg;
    type State = Pool;
    type Arguments = Pool;

    async fn pre_start(
        &self,
        _me: ActorRef<PoolMsg>,
        pool: Pool,
    ) -> Result<Pool, ActorProcessingErr> {
        Ok(pool)
    }

    async fn handle(
        &self,
        _me: ActorRef<PoolMsg>,
        msg: PoolMsg,
        pool: &mut Pool,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            PoolMsg::Stats(reply) => {
                if reply.send(pool.stats()).is_err() {
                    tracing::debug!("Stats caller went away.");
                }
            }
        }
        Ok(())
    }
}
