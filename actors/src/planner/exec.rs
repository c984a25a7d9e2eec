//! Running plans through sqlx: binding [`Datum`]s and decoding rows by the whitelist's kinds.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use serde::{Serialize, Serializer};
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::{Arguments, PgConnection, Row as _, ValueRef as _};
use uuid::Uuid;

use super::core::datum::{Cells, Datum, Row, Shape};
use super::core::fields::{Entity, Field, Kind};
use super::core::sql::{PagePlan, Sql};
use crate::error::ApiError;
use crate::wire::timestamp::Rfc3339;

/// Bind every value of a statement, in `$n` order.
pub fn arguments(binds: &[Datum]) -> Result<PgArguments, ApiError> {
    let mut args = PgArguments::default();
    for d in binds {
        let added = match d {
            Datum::Null => args.add(None::<String>),
            Datum::Bool(v) => args.add(*v),
            Datum::Int(v) => args.add(*v),
            Datum::BigInt(v) => args.add(*v),
            Datum::Float(v) => args.add(*v),
            Datum::Text(v) => args.add(v.as_str()),
            Datum::Timestamp(v) => args.add(*v),
            Datum::Uuid(v) => args.add(*v),
            Datum::TextArray(v) => args.add(v.as_slice()),
            Datum::IntArray(v) => args.add(v.as_slice()),
            Datum::UuidArray(v) => args.add(v.as_slice()),
            Datum::TimestampArray(v) => args.add(v.as_slice()),
        };
        added.map_err(|e| ApiError::Internal(format!("cannot bind a value: {e}")))?;
    }
    Ok(args)
}

/// Run a statement and collect its rows.
pub async fn fetch_all(conn: &mut PgConnection, sql: &Sql) -> Result<Vec<PgRow>, ApiError> {
    let args = arguments(&sql.binds)?;
    sqlx::query_with(&sql.text, args)
        .fetch(conn)
        .try_collect()
        .await
        .map_err(db_error)
}

/// Decode one column by its kind.
pub fn decode(row: &PgRow, index: usize, kind: Kind) -> Result<Datum, sqlx::Error> {
    fn opt<T>(v: Option<T>, f: impl FnOnce(T) -> Datum) -> Datum {
        v.map_or(Datum::Null, f)
    }
    Ok(match kind {
        Kind::Text | Kind::Keyword => opt(row.try_get::<Option<String>, _>(index)?, Datum::Text),
        Kind::Int => opt(row.try_get::<Option<i32>, _>(index)?, Datum::Int),
        Kind::BigInt => opt(row.try_get::<Option<i64>, _>(index)?, Datum::BigInt),
        Kind::Real => opt(row.try_get::<Option<f32>, _>(index)?, Datum::Float),
        Kind::Timestamp => opt(
            row.try_get::<Option<DateTime<Utc>>, _>(index)?,
            Datum::Timestamp,
        ),
        Kind::Uuid => opt(row.try_get::<Option<Uuid>, _>(index)?, Datum::Uuid),
        Kind::TextArray => opt(
            row.try_get::<Option<Vec<String>>, _>(index)?,
            Datum::TextArray,
        ),
    })
}

/// The sort-key values a page row carries after its projected columns: what a cursor (or the
/// next stream batch) continues after.
pub fn sort_keys(row: &PgRow, plan: &PagePlan) -> Result<Vec<Datum>, sqlx::Error> {
    let first = plan.columns.len();
    plan.sort
        .iter()
        .enumerate()
        .map(|(i, k)| decode(row, first + i, k.kind))
        .collect()
}

/// Decode the projected columns of a row.
pub fn row(entity: Entity, columns: &[&'static Field], pg: &PgRow) -> Result<Row, ApiError> {
    let cells = columns
        .iter()
        .enumerate()
        .map(|(i, f)| decode(pg, i, f.kind).map(|d| (*f, d)))
        .collect::<Result<_, _>>()
        .map_err(db_error)?;
    Ok(Row { entity, cells })
}

/// A result row as PostgreSQL sent it, serialised straight from its buffer: text goes out
/// borrowed, with no [`Row`] of owned cells built first (that step cost as much as encoding a
/// page; BENCHMARKS.md). The wire form is [`Row`]'s, through the same [`Shape`].
pub struct PgItem {
    entity: Entity,
    columns: Arc<[&'static Field]>,
    row: PgRow,
    /// Bit `i` set: column `i` is null. Read once per cell here, because the wire shape asks
    /// a cell whether it is null more than once and each `try_get_raw` builds a value.
    nulls: u64,
}

impl PgItem {
    /// The first `columns.len()` columns of each row (sort keys may follow them).
    pub fn all(entity: Entity, columns: &[&'static Field], rows: Vec<PgRow>) -> Vec<PgItem> {
        let columns: Arc<[&'static Field]> = columns.into();
        rows.into_iter()
            .map(|row| {
                let nulls = (0..columns.len().min(NULL_BITS))
                    .filter(|&i| raw_is_null(&row, i))
                    .fold(0u64, |mask, i| mask | 1 << i);
                PgItem {
                    entity,
                    columns: columns.clone(),
                    row,
                    nulls,
                }
            })
            .collect()
    }

    /// Decode into a [`Row`] of owned values.
    pub fn to_row(&self) -> Result<Row, ApiError> {
        row(self.entity, &self.columns, &self.row)
    }
}

/// Columns whose nullness a [`PgItem`] keeps as bits (a projection has fewer).
const NULL_BITS: usize = u64::BITS as usize;

fn raw_is_null(row: &PgRow, i: usize) -> bool {
    row.try_get_raw(i).map_or(true, |v| v.is_null())
}

impl std::fmt::Debug for PgItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.to_row() {
            Ok(row) => row.fmt(f),
            Err(e) => write!(f, "PgItem(undecodable: {e})"),
        }
    }
}

impl Cells for PgItem {
    fn entity(&self) -> Entity {
        self.entity
    }
    fn count(&self) -> usize {
        self.columns.len()
    }
    fn field(&self, i: usize) -> &'static Field {
        self.columns[i]
    }
    fn is_null(&self, i: usize) -> bool {
        if i < NULL_BITS {
            self.nulls & (1 << i) != 0
        } else {
            raw_is_null(&self.row, i)
        }
    }
    fn serialize_value<S: Serializer>(&self, i: usize, s: S) -> Result<S::Ok, S::Error> {
        // The columns' types are fixed by the whitelist that built the SQL, so the per-cell
        // type check of `try_get` is skipped; a mismatch would still fail to decode.
        fn get<'r, T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>, E>(
            row: &'r PgRow,
            i: usize,
        ) -> Result<T, E>
        where
            E: serde::ser::Error,
        {
            row.try_get_unchecked(i).map_err(E::custom)
        }
        let r = &self.row;
        match self.columns[i].kind {
            Kind::Text | Kind::Keyword => s.serialize_str(get::<&str, _>(r, i)?),
            Kind::Int => s.serialize_i32(get(r, i)?),
            Kind::BigInt => s.serialize_i64(get(r, i)?),
            Kind::Real => s.serialize_f32(get(r, i)?),
            Kind::Timestamp => Rfc3339(&get::<DateTime<Utc>, _>(r, i)?).serialize(s),
            Kind::Uuid => get::<Uuid, _>(r, i)?.serialize(s),
            Kind::TextArray => get::<Vec<String>, _>(r, i)?.serialize(s),
        }
    }
}

impl Serialize for PgItem {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Shape(self).serialize(s)
    }
}

/// The one place a database error becomes a caller's error: timeouts and lost connections are
/// retryable conditions, everything else is internal (the SQL and values never leak).
pub fn db_error(e: sqlx::Error) -> ApiError {
    match &e {
        sqlx::Error::Database(db) if db.code().as_deref() == Some("57014") => {
            ApiError::Timeout("the query ran past its statement timeout".into())
        }
        sqlx::Error::Io(_) | sqlx::Error::PoolClosed | sqlx::Error::PoolTimedOut => {
            ApiError::Unavailable(format!("PostgreSQL: {e}"))
        }
        _ => {
            tracing::error!(error = %e, "Query failed.");
            ApiError::Internal("the query failed; see the server log".into())
        }
    }
}
