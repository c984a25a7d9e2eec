//! Running plans through sqlx: binding [`Datum`]s and decoding rows by the whitelist's kinds.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use serde::ser::{Error as _, SerializeSeq as _};
use serde::{Serialize, Serializer};
use sqlx::postgres::{PgArguments, PgRow, PgValueFormat};
use sqlx::{Arguments, PgConnection, Row as _, ValueRef as _};
use uuid::Uuid;

use super::core::datum::{Cells, Datum, Layout, Plain, Row, Shape};
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
    /// The page's projection and where each column goes, shared by its rows.
    layout: Arc<Layout>,
    row: PgRow,
    /// Bit `i` set: column `i` is null. Read once per cell here, because the wire shape asks
    /// a cell whether it is null more than once and each `try_get_raw` builds a value.
    nulls: u64,
}

impl PgItem {
    /// The first `columns.len()` columns of each row (sort keys may follow them).
    pub fn all(entity: Entity, columns: &[&'static Field], rows: Vec<PgRow>) -> Vec<PgItem> {
        let layout = Arc::new(Layout::new(entity, columns));
        rows.into_iter()
            .map(|row| {
                let nulls = (0..columns.len().min(NULL_BITS))
                    .filter(|&i| raw_is_null(&row, i))
                    .fold(0u64, |mask, i| mask | 1 << i);
                PgItem {
                    layout: layout.clone(),
                    row,
                    nulls,
                }
            })
            .collect()
    }

    /// Decode into a [`Row`] of owned values.
    pub fn to_row(&self) -> Result<Row, ApiError> {
        row(self.layout.entity(), self.layout.columns(), &self.row)
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
    fn is_null(&self, i: usize) -> bool {
        if i < NULL_BITS {
            self.nulls & (1 << i) != 0
        } else {
            raw_is_null(&self.row, i)
        }
    }
    fn null_bits(&self) -> Option<u64> {
        Some(self.nulls)
    }
    fn serialize_value<S: Serializer>(&self, i: usize, s: S) -> Result<S::Ok, S::Error> {
        let raw = self.row.try_get_raw(i).map_err(S::Error::custom)?;
        if raw.is_null() {
            return s.serialize_none();
        }
        let kind = self.layout.columns()[i].kind;
        match raw.format() {
            PgValueFormat::Binary => {
                Binary(kind, raw.as_bytes().map_err(S::Error::custom)?).serialize(s)
            }
            PgValueFormat::Text => {
                Plain(&decode(&self.row, i, kind).map_err(S::Error::custom)?).serialize(s)
            }
        }
    }
}

/// A value in PostgreSQL's binary format, written out by its whitelisted kind straight from
/// the row's buffer. Going through sqlx's `Decode` (and chrono's calendar arithmetic for
/// timestamps) cost a fifth of a page's encoding (BENCHMARKS.md, "Sixth round"); the formats
/// are PostgreSQL's documented send/recv forms. A value of the wrong width is an error.
struct Binary<'r>(Kind, &'r [u8]);

/// Microseconds from the Unix epoch to PostgreSQL's (2000-01-01T00:00:00Z).
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

impl Serialize for Binary<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Binary(kind, bytes) = *self;
        let malformed = |what: &str| S::Error::custom(format!("malformed {what} value"));
        match kind {
            Kind::Text | Kind::Keyword => {
                s.serialize_str(std::str::from_utf8(bytes).map_err(|_| malformed("text"))?)
            }
            Kind::Int => s.serialize_i32(i32::from_be_bytes(
                bytes.try_into().map_err(|_| malformed("int4"))?,
            )),
            Kind::BigInt => s.serialize_i64(i64::from_be_bytes(
                bytes.try_into().map_err(|_| malformed("int8"))?,
            )),
            Kind::Real => s.serialize_f32(f32::from_be_bytes(
                bytes.try_into().map_err(|_| malformed("float4"))?,
            )),
            Kind::Timestamp => {
                let micros =
                    i64::from_be_bytes(bytes.try_into().map_err(|_| malformed("timestamptz"))?);
                let at = micros
                    .checked_add(PG_EPOCH_MICROS)
                    .and_then(DateTime::from_timestamp_micros)
                    .ok_or_else(|| S::Error::custom("timestamp out of range"))?;
                Rfc3339(&at).serialize(s)
            }
            Kind::Uuid => {
                Uuid::from_bytes(bytes.try_into().map_err(|_| malformed("uuid"))?).serialize(s)
            }
            Kind::TextArray => TextArray(bytes).serialize(s),
        }
    }
}

/// A `text[]` in PostgreSQL's binary array format, written out element by element from the
/// row's buffer (a `Vec<String>` would allocate every element of every row first).
struct TextArray<'r>(&'r [u8]);

impl Serialize for TextArray<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let bad = |what: &str| S::Error::custom(format!("malformed text[] value: {what}"));
        let mut rest = Bytes(self.0);
        let int = |rest: &mut Bytes| rest.int().ok_or_else(|| bad("truncated"));
        // Header: dimensions, has-nulls flag, element type; then length and lower bound per
        // dimension. A one-dimensional array is what every `text[]` column holds.
        let (dims, _has_nulls, _element_type) = (int(&mut rest)?, int(&mut rest)?, int(&mut rest)?);
        let len = match dims {
            0 => 0,
            1 => {
                let (len, _lower_bound) = (int(&mut rest)?, int(&mut rest)?);
                usize::try_from(len).map_err(|_| bad("negative length"))?
            }
            _ => return Err(bad("more than one dimension")),
        };
        let mut seq = s.serialize_seq(Some(len))?;
        for _ in 0..len {
            match int(&mut rest)? {
                -1 => seq.serialize_element(&None::<&str>)?,
                n => {
                    let n = usize::try_from(n).map_err(|_| bad("negative element length"))?;
                    let element = rest.take(n).ok_or_else(|| bad("truncated element"))?;
                    let text = std::str::from_utf8(element).map_err(|_| bad("not UTF-8"))?;
                    seq.serialize_element(text)?;
                }
            }
        }
        seq.end()
    }
}

/// What is left of a binary value, read from the front.
struct Bytes<'r>(&'r [u8]);

impl<'r> Bytes<'r> {
    fn int(&mut self) -> Option<i32> {
        self.take(4)
            .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn take(&mut self, n: usize) -> Option<&'r [u8]> {
        let (head, tail) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = tail;
        Some(head)
    }
}

impl Serialize for PgItem {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Shape(&self.layout, self).serialize(s)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// PostgreSQL's binary form of a one-dimensional `text[]` (element type 25).
    fn binary(elements: &[Option<&str>]) -> Vec<u8> {
        let mut out = Vec::new();
        let int = |v: i32, out: &mut Vec<u8>| out.extend_from_slice(&v.to_be_bytes());
        if elements.is_empty() {
            [0, 0, 25].iter().for_each(|v| int(*v, &mut out));
            return out;
        }
        let has_nulls = i32::from(elements.iter().any(Option::is_none));
        [1, has_nulls, 25, elements.len() as i32, 1]
            .iter()
            .for_each(|v| int(*v, &mut out));
        for e in elements {
            match e {
                None => int(-1, &mut out),
                Some(text) => {
                    int(text.len() as i32, &mut out);
                    out.extend_from_slice(text.as_bytes());
                }
            }
        }
        out
    }

    #[test]
    fn binary_values_are_written_by_their_kind() {
        use serde_json::json;
        let json = |kind, bytes: &[u8]| {
            serde_json::to_value(Binary(kind, bytes)).map_err(|e| e.to_string())
        };
        assert_eq!(json(Kind::Int, &(-42i32).to_be_bytes()), Ok(json!(-42)));
        assert_eq!(
            json(Kind::BigInt, &(1i64 << 40).to_be_bytes()),
            Ok(json!(1i64 << 40))
        );
        assert_eq!(json(Kind::Real, &0.5f32.to_be_bytes()), Ok(json!(0.5)));
        assert_eq!(
            json(Kind::Text, "Zoë \"Z\"".as_bytes()),
            Ok(json!("Zoë \"Z\""))
        );
        let id = Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
        assert_eq!(json(Kind::Uuid, id.as_bytes()), Ok(json!(id.to_string())));
        // PostgreSQL counts microseconds from 2000-01-01, negative before it.
        let at = |micros: i64| json(Kind::Timestamp, &micros.to_be_bytes());
        assert_eq!(at(0), Ok(json!("2000-01-01T00:00:00Z")));
        assert_eq!(at(1_500_000), Ok(json!("2000-01-01T00:00:01.500Z")));
        assert_eq!(at(-1), Ok(json!("1999-12-31T23:59:59.999999Z")));
        assert_eq!(
            at(820_497_600_000_123),
            Ok(json!("2025-12-31T12:00:00.000123Z"))
        );
        // Wrong widths, bytes that are not UTF-8 and `infinity` are errors, never panics.
        let bad: [(Kind, &[u8]); 6] = [
            (Kind::Int, &[0; 3]),
            (Kind::BigInt, &[0; 4]),
            (Kind::Real, &[0; 8]),
            (Kind::Uuid, &[0; 15]),
            (Kind::Timestamp, &[0; 9]),
            (Kind::Text, &[0xff, 0xfe]),
        ];
        for (kind, bytes) in bad {
            assert!(json(kind, bytes).is_err(), "{kind:?} {bytes:?}");
        }
        assert!(at(i64::MAX).is_err());
    }

    #[test]
    fn a_text_array_is_written_from_its_binary_form() {
        let json = |bytes: &[u8]| serde_json::to_value(TextArray(bytes)).map_err(|e| e.to_string());
        assert_eq!(json(&binary(&[])), Ok(serde_json::json!([])));
        assert_eq!(
            json(&binary(&[Some("R&D"), Some("Ops \"x\""), Some("")])),
            Ok(serde_json::json!(["R&D", "Ops \"x\"", ""]))
        );
        assert_eq!(
            json(&binary(&[Some("a"), None])),
            Ok(serde_json::json!(["a", null]))
        );
        let whole = binary(&[Some("Sales"), Some("Research")]);
        for cut in 0..whole.len() {
            let err = json(&whole[..cut]).expect_err("a cut value is refused");
            assert!(err.contains("malformed text[]"), "{cut}: {err}");
        }
    }
}
