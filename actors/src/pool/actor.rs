//! The shell: the connections, the per-class semaphores, and the actor that owns them.

use std::ops::{Deref, DerefMut};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection as _, Executor, PgConnection};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

use super::core::{Class, ClassStats, Handout, Lifecycle, PoolStats};
use crate::config::{PoolConfig, StatementTimeouts};
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
/// How often idle connections are swept (retired, idled out) and the warm ones topped up.
const SWEEP_EVERY: Duration = Duration::from_secs(15);
/// The longest a check on a returned or idle connection may take before it is closed.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);
/// `statement_timeout` of [`Pool::admin`] work: migrations may rightly run long.
const ADMIN_STATEMENT_TIMEOUT_MS: u64 = 0;

/// The shared pool: cheap to clone, safe to lease from any task.
#[derive(Clone)]
pub struct Pool {
    inner: Arc<Inner>,
}

/// The connections themselves. sqlx's own pool pings every connection it takes back (one more
/// round trip to PostgreSQL per query, measured at nearly half the throughput of cheap
/// lookups), so Rolodex keeps its own: a connection whose last statement ran to completion
/// goes straight back; any other (an error, a cancelled request, a transaction left open) is
/// pinged first, which also flushes a pending rollback, exactly as sqlx would.
struct Inner {
    options: PgConnectOptions,
    lifecycle: Lifecycle,
    max: u32,
    /// Idle connections, the most recently used last (handed out first, so the cold ones at
    /// the bottom are the ones that idle out).
    idle: Mutex<Vec<Idle>>,
    /// One permit per connection that may still be opened; an open connection holds one.
    slots: Semaphore,
    /// Told whenever a connection comes back or a slot frees, for leases waiting on neither.
    returned: Notify,
    closed: AtomicBool,
    rations: Vec<Ration>,
    timeout: Duration,
    statement_timeouts: StatementTimeouts,
}

/// An open connection with what the lifecycle rules need to know about it.
struct Conn {
    raw: PgConnection,
    born: Instant,
    /// The session's `statement_timeout` now, so a lease sets it only when its class differs.
    statement_timeout_ms: u64,
}

struct Idle {
    conn: Conn,
    since: Instant,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("open", &self.inner.open())
            .finish()
    }
}

/// Connection options shared by the pool and the CLI: plan choice is made deliberate
/// (`plan_cache_mode = force_custom_plan`, see DESIGN §10: a generic plan of the company-join
/// query ran 132 ms against 4 ms), and a connection starts with the interactive class's
/// statement timeout (the most frequent lease; other classes set theirs when they lease it).
pub fn connect_options(url: &str, pool: &PoolConfig) -> Result<PgConnectOptions, sqlx::Error> {
    Ok(PgConnectOptions::from_str(url)?
        .application_name("rolodex")
        .options([
            ("plan_cache_mode", "force_custom_plan".to_owned()),
            (
                "statement_timeout",
                format!("{}ms", pool.statement_timeout_ms.interactive),
            ),
        ]))
}

impl Pool {
    /// Build the pool. Connections open lazily, the warm ones in the background, so start-up
    /// does not wait on 25 handshakes; `check` proves the database is reachable.
    pub fn new(config: &PoolConfig, options: PgConnectOptions) -> Pool {
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
        let max = config.max_connections();
        let pool = Pool {
            inner: Arc::new(Inner {
                options,
                lifecycle: Lifecycle {
                    warm: config.size.min(max),
                    max_lifetime: Duration::from_secs(config.recycle_secs),
                    idle_timeout: Duration::from_secs(config.idle_secs),
                    ping_after_idle: config.pre_ping.then_some(PING_AFTER_IDLE),
                },
                max,
                idle: Mutex::new(Vec::new()),
                slots: Semaphore::new(max as usize),
                returned: Notify::new(),
                closed: AtomicBool::new(false),
                rations,
                timeout: Duration::from_secs(config.timeout_secs),
                statement_timeouts: config.statement_timeout_ms.clone(),
            }),
        };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(sweep(Arc::downgrade(&pool.inner)));
        }
        pool
    }

    /// One round trip to prove PostgreSQL answers (start-up, `/readyz`), on a connection
    /// outside the rations: a probe must not wait behind a busy class.
    pub async fn check(&self) -> Result<(), sqlx::Error> {
        let mut conn = self.admin().await?;
        conn.execute("SELECT 1").await?;
        conn.settle();
        Ok(())
    }

    /// A connection outside the rations (but within `max_connections`) for the daemon's own
    /// upkeep: migrations at start-up and health probes. Requests always [`Pool::lease`].
    pub async fn admin(&self) -> Result<Lease, sqlx::Error> {
        let deadline = Instant::now() + self.inner.timeout;
        let conn = self
            .inner
            .take(deadline, ADMIN_STATEMENT_TIMEOUT_MS)
            .await?;
        Ok(Lease::new(conn, self.clone(), None))
    }

    /// Lease a connection for a class of work, waiting at most the acquire timeout.
    pub async fn lease(&self, class: Class) -> Result<Lease, ApiError> {
        let ration = &self.inner.rations[class.index()];
        let started = Instant::now();
        let deadline = started + self.inner.timeout;
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
        let statement_timeout_ms = class.statement_timeout_ms(&self.inner.statement_timeouts);
        let conn = match self.inner.take(deadline, statement_timeout_ms).await {
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
        let mut lease = Lease::new(conn, self.clone(), Some(class));
        lease.permit = Some(permit);
        Ok(lease)
    }

    pub fn stats(&self) -> PoolStats {
        PoolStats {
            size: self.inner.open(),
            idle: self.inner.lock_idle().len() as u32,
            max: self.inner.max,
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

    /// Refuse new leases, then close every connection once the current ones come back
    /// (waiting at most the acquire timeout for stragglers).
    pub async fn close(&self) {
        let inner = &self.inner;
        inner.closed.store(true, Ordering::SeqCst);
        for r in &inner.rations {
            r.permits.close();
        }
        let deadline = Instant::now() + inner.timeout;
        loop {
            let waiting = inner.returned.notified();
            let idle = std::mem::take(&mut *inner.lock_idle());
            for i in idle {
                inner.retire(i.conn, true).await;
            }
            if inner.open() == 0 {
                return;
            }
            if tokio::time::timeout_at(deadline.into(), waiting)
                .await
                .is_err()
            {
                tracing::warn!(
                    open = inner.open(),
                    "Connections still leased at pool close."
                );
                return;
            }
        }
    }
}

impl Inner {
    fn lock_idle(&self) -> std::sync::MutexGuard<'_, Vec<Idle>> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Connections open now (leased or idle).
    fn open(&self) -> u32 {
        self.max - self.slots.available_permits() as u32
    }

    /// A fresh connection as [`connect_options`] opened it.
    fn opened(&self, raw: PgConnection) -> Conn {
        Conn {
            raw,
            born: Instant::now(),
            statement_timeout_ms: self.statement_timeouts.interactive,
        }
    }

    /// A ready connection whose session has the given `statement_timeout`.
    async fn take(
        &self,
        deadline: Instant,
        statement_timeout_ms: u64,
    ) -> Result<Conn, sqlx::Error> {
        let conn = self.take_any(deadline).await?;
        if conn.statement_timeout_ms == statement_timeout_ms {
            return Ok(conn);
        }
        let mut claim = Claim::new(self, conn);
        let set = sqlx::query("SELECT set_config('statement_timeout', $1, false)")
            .bind(format!("{statement_timeout_ms}ms"))
            .execute(&mut claim.conn().raw);
        match tokio::time::timeout(CHECK_TIMEOUT, set).await {
            Ok(Ok(_)) => {
                let mut conn = claim.keep();
                conn.statement_timeout_ms = statement_timeout_ms;
                Ok(conn)
            }
            Ok(Err(e)) => {
                self.retire(claim.keep(), false).await;
                Err(e)
            }
            Err(_elapsed) => {
                self.retire(claim.keep(), false).await;
                Err(sqlx::Error::PoolTimedOut)
            }
        }
    }

    /// A ready connection: the most recently used idle one (checked by the lifecycle rules),
    /// else a new one if a slot is free, else wait for either until `deadline`.
    async fn take_any(&self, deadline: Instant) -> Result<Conn, sqlx::Error> {
        loop {
            if self.closed.load(Ordering::SeqCst) {
                return Err(sqlx::Error::PoolClosed);
            }
            // Registered before looking, so a return in between is not missed.
            let waiting = self.returned.notified();
            let next = self.lock_idle().pop();
            if let Some(Idle { conn, since }) = next {
                match self.lifecycle.handout(conn.born.elapsed(), since.elapsed()) {
                    Handout::Use => return Ok(conn),
                    Handout::PingFirst => {
                        let mut claim = Claim::new(self, conn);
                        match check(&mut claim.conn().raw).await {
                            Ok(()) => return Ok(claim.keep()),
                            Err(_) => self.retire(claim.keep(), false).await,
                        }
                    }
                    Handout::Retire => self.retire(conn, true).await,
                }
                continue;
            }
            if let Ok(slot) = self.slots.try_acquire() {
                let connect = sqlx::ConnectOptions::connect(&self.options);
                return match tokio::time::timeout_at(deadline.into(), connect).await {
                    Ok(Ok(raw)) => {
                        slot.forget();
                        Ok(self.opened(raw))
                    }
                    Ok(Err(e)) => Err(e),
                    Err(_) => Err(sqlx::Error::PoolTimedOut),
                };
            }
            if tokio::time::timeout_at(deadline.into(), waiting)
                .await
                .is_err()
            {
                return Err(sqlx::Error::PoolTimedOut);
            }
        }
    }

    /// Put a connection back on the idle stack (or close it, once the pool is closing).
    fn give_back(&self, conn: Conn) {
        if self.closed.load(Ordering::SeqCst) {
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(close_detached(conn.raw));
            }
            self.free_slot();
        } else {
            self.lock_idle().push(Idle {
                conn,
                since: Instant::now(),
            });
            self.returned.notify_one();
        }
    }

    /// Close a connection (politely, or just drop the socket when it is suspect) and free its
    /// slot.
    async fn retire(&self, conn: Conn, polite: bool) {
        if polite {
            let _ = tokio::time::timeout(CHECK_TIMEOUT, conn.raw.close()).await;
        } else {
            let _ = conn.raw.close_hard().await;
        }
        self.free_slot();
    }

    /// A connection is gone: its slot may open another, and a waiting lease may look again.
    fn free_slot(&self) {
        self.slots.add_permits(1);
        self.returned.notify_one();
    }
}

/// A connection being made ready for a lease (pinged, or given its class's timeout). If the
/// lease is abandoned meanwhile (its future dropped at a request's deadline), the connection
/// goes with it and its slot comes back, so an abandoned lease never shrinks the pool.
struct Claim<'a> {
    inner: &'a Inner,
    conn: Option<Conn>,
}

impl<'a> Claim<'a> {
    fn new(inner: &'a Inner, conn: Conn) -> Self {
        Self {
            inner,
            conn: Some(conn),
        }
    }

    fn conn(&mut self) -> &mut Conn {
        self.conn
            .as_mut()
            .expect("a claim holds its connection until kept")
    }

    /// The work on the connection finished: it is the caller's again.
    fn keep(mut self) -> Conn {
        self.conn
            .take()
            .expect("a claim holds its connection until kept")
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        if self.conn.take().is_some() {
            self.inner.free_slot();
        }
    }
}

/// The simplest round trip; it also reads whatever an interrupted statement left behind and
/// sends a rollback sqlx queued for a transaction dropped without commit.
async fn check(raw: &mut PgConnection) -> Result<(), sqlx::Error> {
    match tokio::time::timeout(CHECK_TIMEOUT, sqlx::Connection::ping(raw)).await {
        Ok(result) => result,
        Err(_) => Err(sqlx::Error::PoolTimedOut),
    }
}

async fn close_detached(raw: PgConnection) {
    let _ = tokio::time::timeout(CHECK_TIMEOUT, raw.close()).await;
}

/// Every `SWEEP_EVERY`: close idle connections past their lifetime and idle overflow ones, then
/// open connections until the warm count is reached (what sqlx's min_connections did). Ends
/// with the pool.
async fn sweep(pool: Weak<Inner>) {
    let mut tick = tokio::time::interval(SWEEP_EVERY);
    loop {
        tick.tick().await;
        let Some(inner) = pool.upgrade() else { return };
        if inner.closed.load(Ordering::SeqCst) {
            return;
        }
        let doomed: Vec<Conn> = {
            let mut idle = inner.lock_idle();
            // The stack's bottom is the longest idle: the sweep reads oldest-idle first.
            let facts: Vec<(Duration, Duration)> = idle
                .iter()
                .map(|i| (i.conn.born.elapsed(), i.since.elapsed()))
                .collect();
            let close = inner.lifecycle.sweep(&facts, inner.open());
            close
                .into_iter()
                .rev()
                .map(|i| idle.remove(i).conn)
                .collect()
        };
        for conn in doomed {
            inner.retire(conn, true).await;
        }
        while inner.open() < inner.lifecycle.warm && !inner.closed.load(Ordering::SeqCst) {
            let Ok(slot) = inner.slots.try_acquire() else {
                break;
            };
            match sqlx::ConnectOptions::connect(&inner.options).await {
                Ok(raw) => {
                    slot.forget();
                    inner.give_back(inner.opened(raw));
                }
                Err(e) => {
                    tracing::debug!(error = %e, "Could not open a warm connection.");
                    break;
                }
            }
        }
    }
}

/// A leased connection. Call [`Lease::settle`] after a statement ran to completion so the
/// connection goes straight back; otherwise it is checked on the way back. The ration permit
/// returns with it.
pub struct Lease {
    conn: Option<Conn>,
    settled: bool,
    /// The ration's permit (none for [`Pool::admin`]), released with the lease.
    permit: Option<OwnedSemaphorePermit>,
    pool: Pool,
    class: Option<Class>,
}

impl Lease {
    fn new(conn: Conn, pool: Pool, class: Option<Class>) -> Lease {
        Lease {
            conn: Some(conn),
            settled: false,
            permit: None,
            pool,
            class,
        }
    }

    /// Say that the last statement ran to completion (its result read in full, no transaction
    /// open): the connection is clean and goes back without a check. Any later use of the
    /// connection takes this back.
    pub fn settle(&mut self) {
        self.settled = self
            .conn
            .as_ref()
            .is_some_and(|c| !sqlx::Connection::should_flush(&c.raw));
    }
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease").field("class", &self.class).finish()
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(class) = self.class {
            self.pool.inner.rations[class.index()]
                .counters
                .in_use
                .fetch_sub(1, Ordering::Relaxed);
        }
        let Some(mut conn) = self.conn.take() else {
            return;
        };
        let inner = self.pool.inner.clone();
        if self.settled {
            inner.give_back(conn);
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    match check(&mut conn.raw).await {
                        Ok(()) => inner.give_back(conn),
                        Err(_) => inner.retire(conn, false).await,
                    }
                });
            }
            // No runtime left to check it on: let the socket go.
            Err(_) => {
                drop(conn);
                inner.free_slot();
            }
        }
    }
}

impl Deref for Lease {
    type Target = sqlx::PgConnection;
    fn deref(&self) -> &Self::Target {
        &self
            .conn
            .as_ref()
            .expect("a lease holds its connection until dropped")
            .raw
    }
}

impl DerefMut for Lease {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.settled = false;
        &mut self
            .conn
            .as_mut()
            .expect("a lease holds its connection until dropped")
            .raw
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
