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

/// Index ranges of the runs of cells from one table (the projection is built in whitelist
/// order, so each table's cells are contiguous).
fn runs<C: Cells>(c: &C) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
    let mut start = 0;
    std::iter::from_fn(move || {
        let n = c.count();
        if start >= n {
            return None;
        }
        let table = c.field(start).table;
        let end = (start..n).find(|&i| c.field(i).table != table).unwrap_or(n);
        let run = start..end;
        start = end;
        Some(run)
    })
}

/// The wire form of a row: top-level columns, then one nested map per related table that has
/// a value; nulls left out.
pub struct Shape<'a, C>(pub &'a C);

impl<C: Cells> Serialize for Shape<'_, C> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let c = self.0;
        let entity = c.entity();
        let nest = |run: &std::ops::Range<usize>| nest_key(entity, c.field(run.start).table);
        let present = |run: std::ops::Range<usize>| run.filter(|&i| !c.is_null(i));
        let top: usize = runs(c)
            .filter(|r| nest(r).is_none())
            .map(|r| present(r).count())
            .sum();
        let nested = runs(c)
            .filter(|r| nest(r).is_some() && present(r.clone()).next().is_some())
            .count();
        let mut map = s.serialize_map(Some(top + nested))?;
        for run in runs(c).filter(|r| nest(r).is_none()) {
            for i in present(run) {
                map.serialize_entry(c.field(i).column, &Value(c, i))?;
            }
        }
        for run in runs(c) {
            if let Some(key) = nest(&run) {
                if present(run.clone()).next().is_some() {
                    map.serialize_entry(key, &Group(c, run))?;
                }
            }
        }
        map.end()
    }
}

/// One related table's present values, as a map.
struct Group<'a, C>(&'a C, std::ops::Range<usize>);

impl<C: Cells> Serialize for Group<'_, C> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let c = self.0;
        let present = || self.1.clone().filter(|&i| !c.is_null(i));
        let mut map = s.serialize_map(Some(present().count()))?;
        for i in present() {
            map.serialize_entry(c.field(i).column, &Value(c, i))?;
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
