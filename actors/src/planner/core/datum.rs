//! Typed values: what the planner binds as parameters and what it reads back from rows.

use chrono::{DateTime, Utc};
use serde::{ser::SerializeMap, Deserialize, Serialize, Serializer};
use uuid::Uuid;

use super::fields::{Entity, Field, Table};

/// One SQL value. Binds are always of these types, never spliced into SQL text.
///
/// The derived serde form is tagged (it travels inside cursors); rows go out untagged through
/// [`Plain`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Datum {
    Null,
    Bool(bool),
    Int(i32),
    BigInt(i64),
    Float(f32),
    Text(String),
    Timestamp(DateTime<Utc>),
    Uuid(Uuid),
    TextArray(Vec<String>),
    IntArray(Vec<i64>),
    UuidArray(Vec<Uuid>),
    TimestampArray(Vec<DateTime<Utc>>),
}

impl Datum {
    pub fn is_null(&self) -> bool {
        matches!(self, Self::Null)
    }

    /// The PostgreSQL type name, for `explain` output and snapshot tests.
    pub fn pg_type(&self) -> &'static str {
        match self {
            Self::Null => "null",
            Self::Bool(_) => "bool",
            Self::Int(_) => "int4",
            Self::BigInt(_) => "int8",
            Self::Float(_) => "float4",
            Self::Text(_) => "text",
            Self::Timestamp(_) => "timestamptz",
            Self::Uuid(_) => "uuid",
            Self::TextArray(_) => "text[]",
            Self::IntArray(_) => "int8[]",
            Self::UuidArray(_) => "uuid[]",
            Self::TimestampArray(_) => "timestamptz[]",
        }
    }
}

/// A datum as a plain wire value (a string, a number, a list).
pub struct Plain<'a>(pub &'a Datum);

impl Serialize for Plain<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Datum::Null => s.serialize_none(),
            Datum::Bool(v) => s.serialize_bool(*v),
            Datum::Int(v) => s.serialize_i32(*v),
            Datum::BigInt(v) => s.serialize_i64(*v),
            Datum::Float(v) => s.serialize_f32(*v),
            Datum::Text(v) => s.serialize_str(v),
            Datum::Timestamp(v) => v.serialize(s),
            Datum::Uuid(v) => v.serialize(s),
            Datum::TextArray(v) => v.serialize(s),
            Datum::IntArray(v) => v.serialize(s),
            Datum::UuidArray(v) => v.serialize(s),
            Datum::TimestampArray(v) => v.serialize(s),
        }
    }
}

/// One value of a row, with the field it belongs to.
pub type Cell = (&'static Field, Datum);

/// A result row: values in projection order. Serialises as a map with related tables nested
/// (`company`, `metadata`, `company_metadata`), and nulls left out to keep pages small.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub entity: Entity,
    pub cells: Vec<Cell>,
}

impl Row {
    pub fn get(&self, wire: &str) -> Option<&Datum> {
        self.cells
            .iter()
            .find(|(f, _)| f.scope(self.entity) == Some(wire))
            .map(|(_, d)| d)
    }
}

/// The nested object a related table's columns go into.
fn nest_key(entity: Entity, table: Table) -> Option<&'static str> {
    match (entity, table) {
        (Entity::Contacts, Table::Contacts) | (Entity::Companies, Table::Companies) => None,
        (Entity::Contacts, Table::Companies) => Some("company"),
        (Entity::Contacts, Table::ContactsMeta) | (Entity::Companies, Table::CompaniesMeta) => {
            Some("metadata")
        }
        (Entity::Contacts, Table::CompaniesMeta) => Some("company_metadata"),
        (Entity::Companies, _) => None,
    }
}

struct Group<'a>(&'a [Cell]);

impl Serialize for Group<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let present = self.0.iter().filter(|(_, d)| !d.is_null());
        let mut map = s.serialize_map(Some(present.clone().count()))?;
        for (field, value) in present {
            map.serialize_entry(field.column, &Plain(value))?;
        }
        map.end()
    }
}

impl Serialize for Row {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Cells arrive grouped by table (the projection is built in whitelist order).
        let groups: Vec<(Option<&'static str>, &[Cell])> = self
            .cells
            .chunk_by(|a, b| a.0.table == b.0.table)
            .map(|cells| (nest_key(self.entity, cells[0].0.table), cells))
            .collect();
        let top: Vec<_> = groups
            .iter()
            .filter(|(k, _)| k.is_none())
            .flat_map(|(_, cells)| cells.iter())
            .filter(|(_, d)| !d.is_null())
            .collect();
        let nested: Vec<_> = groups
            .iter()
            .filter_map(|(k, cells)| k.map(|k| (k, *cells)))
            .filter(|(_, cells)| cells.iter().any(|(_, d)| !d.is_null()))
            .collect();
        let mut map = s.serialize_map(Some(top.len() + nested.len()))?;
        for (field, value) in top {
            map.serialize_entry(field.column, &Plain(value))?;
        }
        for (key, cells) in nested {
            map.serialize_entry(key, &Group(cells))?;
        }
        map.end()
    }
}
