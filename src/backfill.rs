//! The title backfill: fills `contacts.title_normalized` for rows written without it (direct
//! SQL, writers that predate the column, or a `title` update that cleared it — see the
//! migration's trigger), in batches on a jobs lease so searches are never starved, and
//! invalidates the contact results in the cache after each batch that changed rows.

use std::sync::Arc;
use std::time::Duration;

use rolodex_actors::cache::{self, Tables};
use rolodex_actors::normalize::TitleCache;
use rolodex_actors::pool::{Class, Pool};
use sqlx::Row;
use tracing::Instrument as _;
use uuid::Uuid;

/// Rows normalised per transaction.
pub const BATCH: i64 = 1_000;

#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    #[error("no connection for the backfill: {0}")]
    Lease(#[from] rolodex_actors::ApiError),
    #[error("backfill query failed: {0}")]
    Db(#[from] sqlx::Error),
}

/// Normalise one batch; returns how many rows it filled.
pub async fn titles_once(pool: &Pool, titles: &TitleCache) -> Result<u64, BackfillError> {
    let mut lease = pool.lease(Class::Jobs).await?;
    let rows = sqlx::query(
        "SELECT uuid, title FROM contacts \
         WHERE title IS NOT NULL AND title_normalized IS NULL LIMIT $1",
    )
    .bind(BATCH)
    .fetch_all(&mut *lease)
    .await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let mut ids: Vec<Uuid> = Vec::with_capacity(rows.len());
    let mut raw: Vec<String> = Vec::with_capacity(rows.len());
    let mut normalized: Vec<String> = Vec::with_capacity(rows.len());
    for row in rows {
        let title: String = row.try_get(1)?;
        ids.push(row.try_get(0)?);
        normalized.push(titles.normalize(&title).to_string());
        raw.push(title);
    }
    // `c.title = u.t`: a title changed since it was read is left for the next run.
    let done = sqlx::query(
        "UPDATE contacts c SET title_normalized = u.n \
         FROM unnest($1::uuid[], $2::text[], $3::text[]) AS u(id, t, n) \
         WHERE c.uuid = u.id AND c.title = u.t AND c.title_normalized IS NULL",
    )
    .bind(&ids)
    .bind(&raw)
    .bind(&normalized)
    .execute(&mut *lease)
    .await?;
    Ok(done.rows_affected())
}

/// Run the backfill every `every` until the task is aborted.
pub async fn run(pool: Pool, titles: Arc<TitleCache>, cache: cache::Handle, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        loop {
            let span = tracing::info_span!("job", kind = "title_backfill");
            match titles_once(&pool, &titles).instrument(span).await {
                Ok(0) => break,
                Ok(n) => {
                    cache.invalidate(Tables::of_change("contacts")).await;
                    tracing::info!(rows = n, "Normalised titles backfilled.");
                    if n < BATCH as u64 {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "Title backfill failed; retrying next round.");
                    break;
                }
            }
        }
    }
}
