//! The set-based statements a batch round runs, and the column arrays bound to them.
//!
//! Every value travels in a bind parameter: one array per column, unnested server-side. A
//! per-row bit mask says which fields the event carried (bit `i` = column `i`), so a partial
//! update keeps the stored value of every field it left out. Array columns (`departments`,
//! `industries`, ...) travel as PostgreSQL array literals in a `text[]` — PostgreSQL has no
//! ragged two-dimensional arrays — and are cast back per row.
//!
//! - Upsert: `MERGE` (PostgreSQL 15) applies a row only if it is newer than the stored version
//!   and than any tombstone; `MERGE` rather than `INSERT ... ON CONFLICT` because the update
//!   needs the mask, which `excluded` cannot carry.
//! - Metadata: merged only for rows whose stored version is now the event's version (the upsert
//!   applied, or was already applied), and only when some value actually changes
//!   (`IS DISTINCT FROM`, DESIGN §10: skipping unchanged rows avoids dead tuples and index churn).
//! - Delete: records or raises the tombstone, deletes the row and its metadata when older.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::event::{Change, Column, Entity, Event, Fields, Kind, Val};

/// One column's values for every row of a statement.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnArray {
    Text(Vec<Option<String>>),
    Int(Vec<Option<i32>>),
    BigInt(Vec<Option<i64>>),
    Uuid(Vec<Option<Uuid>>),
    Timestamp(Vec<Option<DateTime<Utc>>>),
    /// PostgreSQL array literals (`{"a","b"}`), cast to `text[]` in the statement.
    TextArray(Vec<Option<String>>),
}

impl ColumnArray {
    fn new(kind: Kind, capacity: usize) -> Self {
        match kind {
            Kind::Text => Self::Text(Vec::with_capacity(capacity)),
            Kind::Int => Self::Int(Vec::with_capacity(capacity)),
            Kind::BigInt => Self::BigInt(Vec::with_capacity(capacity)),
            Kind::Uuid => Self::Uuid(Vec::with_capacity(capacity)),
            Kind::Timestamp => Self::Timestamp(Vec::with_capacity(capacity)),
            Kind::TextArray => Self::TextArray(Vec::with_capacity(capacity)),
        }
    }

    /// Append one row's value; `None` (left out) and `Null` both bind as NULL, the mask tells
    /// them apart.
    fn push(&mut self, value: Option<&Val>) {
        let v = match value {
            None | Some(Val::Null) => None,
            Some(v) => Some(v),
        };
        match (self, v) {
            (Self::Text(a), Some(Val::Text(s))) => a.push(Some(s.clone())),
            (Self::Int(a), Some(Val::Int(i))) => a.push(Some(*i)),
            (Self::BigInt(a), Some(Val::BigInt(i))) => a.push(Some(*i)),
            (Self::Uuid(a), Some(Val::Uuid(u))) => a.push(Some(*u)),
            (Self::Timestamp(a), Some(Val::Timestamp(t))) => a.push(Some(*t)),
            (Self::TextArray(a), Some(Val::TextArray(items))) => a.push(Some(array_literal(items))),
            // Validation guarantees the kinds match; anything else binds as NULL.
            (Self::Text(a), _) | (Self::TextArray(a), _) => a.push(None),
            (Self::Int(a), _) => a.push(None),
            (Self::BigInt(a), _) => a.push(None),
            (Self::Uuid(a), _) => a.push(None),
            (Self::Timestamp(a), _) => a.push(None),
        }
    }
}

/// The arrays of an upsert (or metadata) statement, in bind order after uuid, version, mask.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UpsertArrays {
    pub uuids: Vec<Uuid>,
    pub versions: Vec<i64>,
    pub masks: Vec<i64>,
    pub columns: Vec<ColumnArray>,
}

impl UpsertArrays {
    fn new(columns: &[Column], capacity: usize) -> Self {
        Self {
            uuids: Vec::with_capacity(capacity),
            versions: Vec::with_capacity(capacity),
            masks: Vec::with_capacity(capacity),
            columns: columns
                .iter()
                .map(|c| ColumnArray::new(c.kind, capacity))
                .collect(),
        }
    }

    fn push(&mut self, e: &Event, fields: &Fields) {
        self.uuids.push(e.uuid);
        self.versions.push(e.version);
        let mut mask = 0i64;
        for (i, (array, value)) in self.columns.iter_mut().zip(fields).enumerate() {
            if value.is_some() {
                mask |= 1 << i;
            }
            array.push(value.as_ref());
        }
        self.masks.push(mask);
    }

    pub fn len(&self) -> usize {
        self.uuids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.uuids.is_empty()
    }
}

/// Entity rows of the upserts among `events`.
pub fn upsert_arrays(entity: Entity, events: &[&Event]) -> UpsertArrays {
    let mut out = UpsertArrays::new(entity.columns(), events.len());
    for e in events {
        if let Change::Upsert { fields, .. } = &e.change {
            out.push(e, fields);
        }
    }
    out
}

/// Metadata rows of the upserts that carry `metadata`.
pub fn meta_arrays(entity: Entity, events: &[&Event]) -> UpsertArrays {
    let mut out = UpsertArrays::new(entity.meta_columns(), 0);
    for e in events {
        if let Change::Upsert {
            meta: Some(meta), ..
        } = &e.change
        {
            out.push(e, meta);
        }
    }
    out
}

/// uuids and versions of the deletes among `events`.
pub fn delete_arrays(events: &[&Event]) -> (Vec<Uuid>, Vec<i64>) {
    events
        .iter()
        .filter(|e| e.change == Change::Delete)
        .map(|e| (e.uuid, e.version))
        .unzip()
}

/// A PostgreSQL array literal of strings: every element quoted, `\` and `"` escaped.
pub fn array_literal(items: &[String]) -> String {
    let mut out = String::with_capacity(2 + items.iter().map(|s| s.len() + 3).sum::<usize>());
    out.push('{');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('"');
        for c in item.chars() {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
        out.push('"');
    }
    out.push('}');
    out
}

fn pg_array_type(kind: Kind) -> &'static str {
    match kind {
        Kind::Text | Kind::TextArray => "text[]",
        Kind::Int => "int4[]",
        Kind::BigInt => "int8[]",
        Kind::Uuid => "uuid[]",
        Kind::Timestamp => "timestamptz[]",
    }
}

/// `x.<col>`, cast back to an array for array columns.
fn source(c: &Column) -> String {
    match c.kind {
        Kind::TextArray => format!("x.{}::text[]", c.name),
        _ => format!("x.{}", c.name),
    }
}

/// `unnest($1::uuid[], $2::int8[], $3::int8[], ...) AS x(uuid, version, mask, ...)`.
fn unnest(columns: &[Column]) -> String {
    let mut args = String::from("$1::uuid[], $2::int8[], $3::int8[]");
    let mut names = String::from("uuid, version, mask");
    for (i, c) in columns.iter().enumerate() {
        let _ = write!(args, ", ${}::{}", i + 4, pg_array_type(c.kind));
        let _ = write!(names, ", {}", c.name);
    }
    format!("unnest({args}) AS x({names})")
}

/// The value a column takes on update: the event's when it carried the field, else the stored.
fn merged(i: usize, c: &Column, stored: &str) -> String {
    format!(
        "CASE WHEN (x.mask & {}) <> 0 THEN {} ELSE {stored}.{} END",
        1i64 << i,
        source(c),
        c.name
    )
}

/// The upsert of one entity: newer than the stored version and than any tombstone.
pub fn upsert_sql(entity: Entity) -> String {
    let cols = entity.columns();
    let sets: Vec<String> = cols
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{} = {}", c.name, merged(i, c, "s")))
        .collect();
    let names: Vec<&str> = cols.iter().map(|c| c.name).collect();
    let values: Vec<String> = cols
        .iter()
        .map(|c| match (c.kind, c.nullable) {
            (Kind::TextArray, _) => format!("coalesce({}, '{{}}')", source(c)),
            (_, false) => format!("coalesce({}, now())", source(c)),
            _ => source(c),
        })
        .collect();
    format!(
        "MERGE INTO {table} AS s \
         USING (SELECT x.* FROM {unnest} WHERE NOT EXISTS (SELECT 1 FROM tombstones t \
           WHERE t.kind = '{kind}' AND t.uuid = x.uuid AND t.version >= x.version)) AS x \
         ON s.uuid = x.uuid \
         WHEN MATCHED AND s.version < x.version THEN UPDATE SET version = x.version, \
           updated_at = now(), {sets} \
         WHEN NOT MATCHED THEN INSERT (uuid, version, {names}, updated_at) \
           VALUES (x.uuid, x.version, {values}, now())",
        table = entity.table(),
        unnest = unnest(cols),
        kind = entity.name(),
        sets = sets.join(", "),
        names = names.join(", "),
        values = values.join(", "),
    )
}

/// The metadata upsert, for rows whose entity now stands at the event's version.
pub fn meta_sql(entity: Entity) -> String {
    let cols = entity.meta_columns();
    let new: Vec<String> = cols
        .iter()
        .enumerate()
        .map(|(i, c)| merged(i, c, "m"))
        .collect();
    let old: Vec<String> = cols.iter().map(|c| format!("m.{}", c.name)).collect();
    let sets: Vec<String> = cols
        .iter()
        .zip(&new)
        .map(|(c, v)| format!("{} = {v}", c.name))
        .collect();
    let names: Vec<&str> = cols.iter().map(|c| c.name).collect();
    let values: Vec<String> = cols.iter().map(source).collect();
    format!(
        "MERGE INTO {meta} AS m \
         USING (SELECT x.* FROM {unnest} JOIN {table} e ON e.uuid = x.uuid AND e.version = x.version) AS x \
         ON m.uuid = x.uuid \
         WHEN MATCHED AND ({new}) IS DISTINCT FROM ({old}) THEN UPDATE SET {sets} \
         WHEN NOT MATCHED THEN INSERT (uuid, {names}) VALUES (x.uuid, {values})",
        meta = entity.meta_table(),
        table = entity.table(),
        unnest = unnest(cols),
        new = new.join(", "),
        old = old.join(", "),
        sets = sets.join(", "),
        names = names.join(", "),
        values = values.join(", "),
    )
}

/// The delete: raise the tombstone, delete the row (and its metadata) when it is older.
pub fn delete_sql(entity: Entity) -> String {
    format!(
        "WITH x AS (SELECT * FROM unnest($1::uuid[], $2::int8[]) AS x(uuid, version)), \
         t AS (INSERT INTO tombstones (kind, uuid, version) SELECT '{kind}', uuid, version FROM x \
           ON CONFLICT (kind, uuid) DO UPDATE SET version = excluded.version, deleted_at = now() \
           WHERE tombstones.version < excluded.version), \
         d AS (DELETE FROM {table} e USING x WHERE e.uuid = x.uuid AND e.version < x.version \
           RETURNING e.uuid) \
         DELETE FROM {meta} m USING d WHERE m.uuid = d.uuid",
        kind = entity.name(),
        table = entity.table(),
        meta = entity.meta_table(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persist::core::event::{validate, Op};
    use serde_json::json;

    #[test]
    fn array_literals_quote_and_escape() {
        assert_eq!(array_literal(&[]), "{}");
        let items = ["a".to_owned(), "b \"c\" \\d".to_owned(), "{,}".to_owned()];
        assert_eq!(array_literal(&items), r#"{"a","b \"c\" \\d","{,}"}"#);
    }

    #[test]
    fn masks_mark_given_fields_and_metadata_is_separate() {
        let u = "00000000-0000-0000-0000-000000000001";
        let a = validate(
            Entity::Contact,
            Op::Upserted,
            json!({"uuid": u, "version": 2, "data": {"last_name": null, "departments": ["R&D"],
                "metadata": {"city": "Oslo"}}}),
            &str::to_owned,
        )
        .unwrap();
        let b = validate(
            Entity::Contact,
            Op::Upserted,
            json!({"uuid": u, "version": 3, "data": {}}),
            &str::to_owned,
        )
        .unwrap();
        let rows = upsert_arrays(Entity::Contact, &[&a, &b]);
        assert_eq!(rows.masks, vec![0b10_0010, 0]);
        assert_eq!(rows.columns[1], ColumnArray::Text(vec![None, None]));
        assert_eq!(
            rows.columns[5],
            ColumnArray::TextArray(vec![Some(r#"{"R&D"}"#.into()), None])
        );
        let meta = meta_arrays(Entity::Contact, &[&a, &b]);
        assert_eq!(meta.len(), 1);
        assert_eq!(meta.masks, vec![0b10]);
    }

    #[test]
    fn statements_bind_every_value() {
        let sql = upsert_sql(Entity::Company);
        assert!(sql.contains("$10::timestamptz[]"), "{sql}");
        assert!(sql.contains(
            "CASE WHEN (x.mask & 8) <> 0 THEN x.industries::text[] ELSE s.industries END"
        ));
        assert!(sql.contains("t.version >= x.version"));
        assert!(sql.contains("s.version < x.version"));
        let meta = meta_sql(Entity::Contact);
        assert!(meta.contains("IS DISTINCT FROM"));
        assert!(meta.contains("$10::text[]"), "{meta}");
        let del = delete_sql(Entity::Contact);
        assert!(del.contains("tombstones.version < excluded.version"));
    }
}
