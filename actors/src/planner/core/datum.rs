//! Typed values: what the planner binds as parameters and what it reads back from rows.

use chrono::{DateTime, Utc};
use serde::{ser::SerializeMap, Deserialize, Serialize, Serializer};
use uuid::Uuid;

use super::fields::{Entity, Field, Table};
use crate::wire::timestamp::Rfc3339;

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
            Datum::Timestamp(v) => Rfc3339(v).serialize(s),
            Datum::Uuid(v) => v.serialize(s),
            Datum::TextArray(v) => v.serialize(s),
            Datum::IntArray(v) => v.serialize(s),
            Datum::UuidArray(v) => v.serialize(s),
            Datum::TimestampArray(v) => s.collect_seq(v.iter().map(Rfc3339)),
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

/// Anything that holds a row's projected values, in projection order: a decoded [`Row`], or
/// the rows PostgreSQL sent, serialised without decoding them first (`planner::exec`). Both
/// go out through [`Shape`], so their wire form cannot drift apart.
pub trait Cells {
    fn entity(&self) -> Entity;
    fn count(&self) -> usize;
    fn field(&self, i: usize) -> &'static Field;
    fn is_null(&self, i: usize) -> bool;
    /// The `i`-th value as a plain wire value (see [`Plain`]).
    fn serialize_value<S: Serializer>(&self, i: usize, s: S) -> Result<S::Ok, S::Error>;
}

impl Cells for Row {
    fn entity(&self) -> Entity {
        self.entity
    }
    fn count(&self) -> usize {
        self.cells.len()
    }
    fn field(&self, i: usize) -> &'static Field {
        self.cells[i].0
    }
    fn is_null(&self, i: usize) -> bool {
        self.cells[i].1.is_null()
    }
    fn serialize_value<S: Serializer>(&self, i: usize, s: S) -> Result<S::Ok, S::Error> {
        Plain(&self.cells[i].1).serialize(s)
    }
}

impl Serialize for Row {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Shape(self).serialize(s)
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

/// The wire form of a row: top-level columns, then one nested map per related table that has
/// a value; nulls left out.
pub struct Shape<'a, C>(pub &'a C);

/// A present cell's index and the nested map it goes into (`None`: top level).
type Placed = (usize, Option<&'static str>);

impl<C: Cells> Serialize for Shape<'_, C> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let c = self.0;
        let entity = c.entity();
        // Each cell's null check once (on PostgreSQL's rows it reads the buffer). The projection
        // is built in whitelist order, so each table's cells are contiguous.
        let cells: Vec<Placed> = (0..c.count())
            .filter(|&i| !c.is_null(i))
            .map(|i| (i, nest_key(entity, c.field(i).table)))
            .collect();
        let top = cells.iter().filter(|(_, key)| key.is_none());
        let nested: Vec<&[Placed]> = cells
            .chunk_by(|a, b| a.1 == b.1)
            .filter(|group| group[0].1.is_some())
            .collect();
        let mut map = s.serialize_map(Some(top.clone().count() + nested.len()))?;
        for &(i, _) in top {
            map.serialize_entry(c.field(i).column, &Value(c, i))?;
        }
        for group in nested {
            if let Some(key) = group[0].1 {
                map.serialize_entry(key, &Group(c, group))?;
            }
        }
        map.end()
    }
}

/// One related table's present values, as a map.
struct Group<'a, C>(&'a C, &'a [Placed]);

impl<C: Cells> Serialize for Group<'_, C> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.1.len()))?;
        for &(i, _) in self.1 {
            map.serialize_entry(self.0.field(i).column, &Value(self.0, i))?;
        }
        map.end()
    }
}

/// The `i`-th value of a row.
struct Value<'a, C>(&'a C, usize);

impl<C: Cells> Serialize for Value<'_, C> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize_value(self.1, s)
    }
}
