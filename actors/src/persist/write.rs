//! Writing one batch: one transaction on an ingest lease, the rounds of [`core::rounds`] as
//! set-based statements, and the one function that classifies a database error (STYLE habit 8).

use std::sync::OnceLock;

use sqlx::postgres::PgArguments;
use sqlx::query::Query;
use sqlx::{Connection as _, PgConnection, Postgres};

use super::core::statements::{
    delete_arrays, delete_sql, meta_arrays, meta_sql, upsert_arrays, upsert_sql, ColumnArray,
    UpsertArrays,
};
use super::core::{entity_locks, rounds, Entity, Event, ENTITY_LOCK_SPACE};
use crate::pool::{Class, Pool};

/// Why a batch did not commit, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// The database is unreachable, busy or lost a race: nak with backoff and try again.
    #[error("transient database failure: {0}")]
    Retry(String),
    /// A value the database refuses: split the batch until the offending event is alone,
    /// then dead-letter it with this reason.
    #[error("{0}")]
    Data(String),
}

/// The one place a database error becomes a retry or a dead letter. Data exceptions (class 22)
/// and integrity violations (class 23) are the event's fault — except a unique violation, which
/// on these tables only means another writer inserted the same uuid first (retrying sees it).
/// Everything else (lost connections, timeouts, serialization failures, deadlocks, shutdown) is
/// transient; a message that keeps failing still ends in the dead-letter subject after
/// `persist.max_deliver` deliveries.
pub fn classify(e: &sqlx::Error) -> Failure {
    match e {
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            let data = (code.starts_with("22") || code.starts_with("23")) && code != "23505";
            if data {
                Failure::Data(format!(
                    "PostgreSQL rejected a value ({code}): {}",
                    db.message()
                ))
            } else {
                Failure::Retry(format!("PostgreSQL error {code}: {}", db.message()))
            }
        }
        sqlx::Error::Encode(why) => Failure::Data(format!("cannot encode a value: {why}")),
        other => Failure::Retry(other.to_string()),
    }
}

struct Statements {
    upsert: String,
    meta: String,
    delete: String,
}

fn statements(entity: Entity) -> &'static Statements {
    static CACHE: OnceLock<[Statements; 2]> = OnceLock::new();
    let all = CACHE.get_or_init(|| {
        Entity::ALL.map(|e| Statements {
            upsert: upsert_sql(e),
            meta: meta_sql(e),
            delete: delete_sql(e),
        })
    });
    &all[entity as usize]
}

/// Apply a batch in one transaction; nothing is visible unless all of it commits.
pub async fn apply(pool: &Pool, events: &[&Event]) -> Result<(), Failure> {
    let mut lease = pool
        .lease(Class::Ingest)
        .await
        .map_err(|e| Failure::Retry(e.to_string()))?;
    let mut tx = lease.begin().await.map_err(|e| classify(&e))?;
    write_batch(&mut tx, events).await?;
    tx.commit().await.map_err(|e| classify(&e))?;
    lease.settle();
    Ok(())
}

/// The statements of one batch inside the caller's transaction. First the batch's entity
/// locks ([`entity_locks`]), in a statement of their own: a writer on another instance that
/// holds one of the same entities finishes first, and the writes below, each reading afresh
/// under READ COMMITTED, then see its rows and tombstones. Without them an upsert creating
/// an entity and a newer delete of it, in two transactions at once, would both commit: the
/// delete finds no row yet, the upsert no tombstone yet, and the deleted entity lives on.
pub async fn write_batch(conn: &mut PgConnection, events: &[&Event]) -> Result<(), Failure> {
    // Every title written below comes with its canonical form: the title trigger is told so,
    // for this transaction only (migration 20261129000001).
    sqlx::query("SELECT set_config('rolodex.title_normalized_written', 'on', true)")
        .execute(&mut *conn)
        .await
        .map_err(|e| classify(&e))?;
    sqlx::query("SELECT pg_advisory_xact_lock($1, k) FROM unnest($2::int4[]) AS u(k)")
        .bind(ENTITY_LOCK_SPACE)
        .bind(entity_locks(events))
        .execute(&mut *conn)
        .await
        .map_err(|e| classify(&e))?;
    for round in rounds(events) {
        for (entity, idx) in &round.deletes {
            let picked: Vec<&Event> = idx.iter().map(|&i| events[i]).collect();
            let (uuids, versions) = delete_arrays(&picked);
            sqlx::query(&statements(*entity).delete)
                .bind(uuids)
                .bind(versions)
                .execute(&mut *conn)
                .await
                .map_err(|e| classify(&e))?;
        }
        for (entity, idx) in &round.upserts {
            let picked: Vec<&Event> = idx.iter().map(|&i| events[i]).collect();
            let s = statements(*entity);
            run(conn, &s.upsert, upsert_arrays(*entity, &picked)).await?;
            let meta = meta_arrays(*entity, &picked);
            if !meta.is_empty() {
                run(conn, &s.meta, meta).await?;
            }
        }
    }
    Ok(())
}

async fn run(conn: &mut PgConnection, sql: &str, rows: UpsertArrays) -> Result<(), Failure> {
    bind(sqlx::query(sql), rows)
        .execute(conn)
        .await
        .map(|_| ())
        .map_err(|e| classify(&e))
}

fn bind(
    q: Query<'_, Postgres, PgArguments>,
    rows: UpsertArrays,
) -> Query<'_, Postgres, PgArguments> {
    let mut q = q.bind(rows.uuids).bind(rows.versions).bind(rows.masks);
    for column in rows.columns {
        q = match column {
            ColumnArray::Text(v) | ColumnArray::TextArray(v) => q.bind(v),
            ColumnArray::Int(v) => q.bind(v),
            ColumnArray::BigInt(v) => q.bind(v),
            ColumnArray::Uuid(v) => q.bind(v),
            ColumnArray::Timestamp(v) => q.bind(v),
        };
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_and_io_failures_are_transient() {
        assert!(matches!(
            classify(&sqlx::Error::PoolTimedOut),
            Failure::Retry(_)
        ));
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        assert!(matches!(classify(&sqlx::Error::Io(io)), Failure::Retry(_)));
    }
}
