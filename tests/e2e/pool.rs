//! The connection pool against the real PostgreSQL: a settled connection goes straight back,
//! anything else is made clean before anyone else gets it.

use std::time::Duration;

use rolodex_actors::pool::{connect_options, Class, Pool};
use rolodex_actors::Config;
use sqlx::{Connection, Executor, PgConnection};

use crate::harness::test_config;

/// A pool of exactly one connection on a fresh database, so every lease gets the same one.
async fn one_connection_pool(tag: &str) -> (Config, Pool) {
    let mut config = test_config(tag);
    config.pool.size = 1;
    config.pool.max_overflow = 0;
    rolodex::db::ensure_database(&config.database.url)
        .await
        .expect("a database");
    let options = connect_options(&config.database.url, &config.pool).unwrap();
    let pool = Pool::new(&config.pool, options);
    (config, pool)
}

async fn backend_pid(conn: &mut PgConnection) -> i32 {
    sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(conn)
        .await
        .unwrap()
}

async fn finish(config: Config, pool: Pool) {
    pool.close().await;
    assert_eq!(pool.stats().size, 0, "close leaves no connection open");
    let _ = rolodex::db::drop_database(&config.database.url).await;
}

#[tokio::test]
async fn a_settled_connection_goes_straight_back_and_an_abandoned_transaction_is_rolled_back() {
    let (config, pool) = one_connection_pool("pool_clean").await;
    let mut lease = pool.lease(Class::Jobs).await.unwrap();
    let pid = backend_pid(&mut lease).await;
    lease
        .execute("CREATE TABLE kept (x int)")
        .await
        .expect("DDL runs");
    lease.settle();
    drop(lease);
    // Back on the idle stack at once: no check, no round trip on the way.
    assert_eq!(pool.stats().idle, 1);

    // A transaction dropped uncommitted, on the same connection.
    let mut lease = pool.lease(Class::Interactive).await.unwrap();
    assert_eq!(
        backend_pid(&mut lease).await,
        pid,
        "the one connection again"
    );
    {
        let mut tx = lease.begin().await.unwrap();
        tx.execute("INSERT INTO kept VALUES (1)").await.unwrap();
        tx.execute("LOCK TABLE kept IN ACCESS EXCLUSIVE MODE")
            .await
            .unwrap();
    }
    drop(lease);

    // Nobody waits on the lock it took: the rollback is sent on the way back, not left in a
    // buffer until the connection's next use.
    let mut other = PgConnection::connect(&config.database.url).await.unwrap();
    other
        .execute("SET lock_timeout = '5s'; INSERT INTO kept VALUES (2)")
        .await
        .expect("the table is not locked");
    other.close().await.unwrap();

    // The next lease (the same connection again) sees only the committed row.
    let mut lease = pool.lease(Class::Ingest).await.unwrap();
    assert_eq!(backend_pid(&mut lease).await, pid);
    let rows: Vec<i32> = sqlx::query_scalar("SELECT x FROM kept")
        .fetch_all(&mut *lease)
        .await
        .unwrap();
    assert_eq!(rows, vec![2], "the abandoned insert was rolled back");
    lease.settle();
    drop(lease);
    finish(config, pool).await;
}

#[tokio::test]
async fn an_interrupted_query_leaves_nothing_for_the_next_lease() {
    let (config, pool) = one_connection_pool("pool_cut").await;
    let mut lease = pool.lease(Class::Interactive).await.unwrap();
    let cut = tokio::time::timeout(
        Duration::from_millis(50),
        sqlx::query_scalar::<_, i32>("SELECT 1 FROM pg_sleep(0.5)").fetch_one(&mut *lease),
    )
    .await;
    assert!(cut.is_err(), "the request gave up first");
    // Not settled: the connection still owes an answer...
    drop(lease);
    // ...which the check reads before the next lease runs its own statement.
    let mut lease = pool.lease(Class::Interactive).await.unwrap();
    let two: i32 = sqlx::query_scalar("SELECT 2")
        .fetch_one(&mut *lease)
        .await
        .unwrap();
    assert_eq!(two, 2);
    lease.settle();
    drop(lease);
    assert_eq!(
        pool.stats().size,
        1,
        "the connection was reused, not replaced"
    );
    finish(config, pool).await;
}

#[tokio::test]
async fn with_every_slot_leased_an_unrationed_probe_waits_its_turn_then_times_out() {
    let (mut config, _) = one_connection_pool("pool_full").await;
    config.pool.timeout_secs = 1;
    let options = connect_options(&config.database.url, &config.pool).unwrap();
    let pool = Pool::new(&config.pool, options);
    let held = pool.lease(Class::Jobs).await.unwrap();
    let started = std::time::Instant::now();
    assert!(pool.check().await.is_err(), "no slot for the probe");
    assert!(started.elapsed() >= Duration::from_millis(900));
    drop(held);
    pool.check().await.expect("the slot came back");
    finish(config, pool).await;
}

async fn statement_timeout(lease: &mut PgConnection) -> String {
    sqlx::query_scalar("SHOW statement_timeout")
        .fetch_one(lease)
        .await
        .unwrap()
}

#[tokio::test]
async fn each_class_runs_under_its_own_statement_timeout_on_a_shared_connection() {
    let (mut config, _) = one_connection_pool("pool_timeouts").await;
    config.pool.statement_timeout_ms.interactive = 150;
    config.pool.statement_timeout_ms.ingest = 4_000;
    config.pool.statement_timeout_ms.jobs = 0;
    let options = connect_options(&config.database.url, &config.pool).unwrap();
    let pool = Pool::new(&config.pool, options);

    let mut lease = pool.lease(Class::Interactive).await.unwrap();
    let pid = backend_pid(&mut lease).await;
    assert_eq!(statement_timeout(&mut lease).await, "150ms");
    let cancelled = sqlx::query("SELECT pg_sleep(0.4)")
        .execute(&mut *lease)
        .await
        .expect_err("an interactive statement past its timeout is cancelled");
    let code = cancelled.as_database_error().and_then(|e| e.code());
    assert_eq!(code.as_deref(), Some("57014"), "{cancelled}");
    drop(lease);

    // The same connection, leased for ingestion: the longer limit lets the same statement run.
    let mut lease = pool.lease(Class::Ingest).await.unwrap();
    assert_eq!(
        backend_pid(&mut lease).await,
        pid,
        "the one connection again"
    );
    assert_eq!(statement_timeout(&mut lease).await, "4s");
    sqlx::query("SELECT pg_sleep(0.4)")
        .execute(&mut *lease)
        .await
        .expect("within the ingest class's timeout");
    lease.settle();
    drop(lease);

    let mut lease = pool.lease(Class::Jobs).await.unwrap();
    assert_eq!(statement_timeout(&mut lease).await, "0", "jobs: no limit");
    lease.settle();
    drop(lease);

    // Back to interactive work: its own limit again, not the last class's.
    let mut lease = pool.lease(Class::Interactive).await.unwrap();
    assert_eq!(backend_pid(&mut lease).await, pid);
    assert_eq!(statement_timeout(&mut lease).await, "150ms");
    lease.settle();
    drop(lease);
    finish(config, pool).await;
}

#[tokio::test]
async fn a_lease_abandoned_while_its_connection_is_readied_gives_its_slot_back() {
    let proxy = crate::proxy::Proxy::start("127.0.0.1:5432").await;
    let (mut config, _) = one_connection_pool("pool_abandon").await;
    let db_name = config.database.url.rsplit('/').next().unwrap().to_owned();
    config.database.url = format!("postgres://postgres@127.0.0.1:{}/{db_name}", proxy.port);
    config.pool.timeout_secs = 2;
    let options = connect_options(&config.database.url, &config.pool).unwrap();
    let pool = Pool::new(&config.pool, options);
    let mut lease = pool.lease(Class::Interactive).await.unwrap();
    let pid = backend_pid(&mut lease).await;
    lease.settle();
    drop(lease);

    // PostgreSQL hangs while the connection is given the ingest class's timeout, and the
    // lease is abandoned meanwhile, as at a request's deadline.
    proxy.freeze();
    let abandoned =
        tokio::time::timeout(Duration::from_millis(300), pool.lease(Class::Ingest)).await;
    assert!(
        abandoned.is_err(),
        "the lease was still readying its connection"
    );
    proxy.thaw();

    // The pool's one slot is free again: a new connection, not a wait into pool_exhausted.
    let mut lease = pool
        .lease(Class::Ingest)
        .await
        .expect("the abandoned connection's slot came back");
    assert_ne!(backend_pid(&mut lease).await, pid, "a new connection");
    lease.settle();
    drop(lease);
    finish(config, pool).await;
}
