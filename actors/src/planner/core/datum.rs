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

impl<C: Cells> Shape<'_, C> {
    /// Where a present cell goes: `Some(None)` top level, `Some(Some(key))` the nested map
    /// `key`; `None` for a null, which is left out.
    fn place(&self, i: usize) -> Option<Option<&'static str>> {
        let c = self.0;
        (!c.is_null(i)).then(|| nest_key(c.entity(), c.field(i).table))
    }

    /// The nested maps with at least one value: each key with the range of cells it spans.
    /// The projection is built in whitelist order, so each table's cells are contiguous.
    fn groups(&self) -> impl Iterator<Item = (&'static str, std::ops::Range<usize>)> + '_ {
        let n = self.0.count();
        let mut i = 0;
        std::iter::from_fn(move || {
            while i < n {
                let start = i;
                let key = nest_key(self.0.entity(), self.0.field(i).table);
                while i < n && nest_key(self.0.entity(), self.0.field(i).table) == key {
                    i += 1;
                }
                if let Some(key) = key {
                    if (start..i).any(|j| !self.0.is_null(j)) {
                        return Some((key, start..i));
                    }
                }
            }
            None
        })
    }
}

impl<C: Cells> Serialize for Shape<'_, C> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Two passes over the cells (count, then write) rather than a list per row: a page
        // serialises thousands of cells, and this allocates nothing.
        let c = self.0;
        let top = || (0..c.count()).filter(|&i| self.place(i) == Some(None));
        let mut map = s.serialize_map(Some(top().count() + self.groups().count()))?;
        for i in top() {
            map.serialize_entry(c.field(i).column, &Value(c, i))?;
        }
        for (key, cells) in self.groups() {
            map.serialize_entry(key, &Group(c, cells))?;
        }
        map.end()
    }
}

/// One related table's present values, as a map.
struct Group<'a, C>(&'a C, std::ops::Range<usize>);

impl<C: Cells> Serialize for Group<'_, C> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let present = || self.1.clone().filter(|&i| !self.0.is_null(i));
        let mut map = s.serialize_map(Some(present().count()))?;
        for i in present() {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cell(name: &str, d: Datum) -> Cell {
        (Entity::Contacts.field(name).expect(name), d)
    }

    #[test]
    fn a_row_nests_related_tables_and_leaves_nulls_out() {
        let row = Row {
            entity: Entity::Contacts,
            cells: vec![
                cell("first_name", Datum::Text("Ada".into())),
                cell("title", Datum::Null),
                cell("company.name", Datum::Text("Analytical".into())),
                cell("company.employees_count", Datum::Int(12)),
                cell("contact_meta.city", Datum::Null),
                cell("company_meta.country", Datum::Text("UK".into())),
            ],
        };
        let expected = json!({
            "first_name": "Ada",
            "company": {"name": "Analytical", "employees_count": 12},
            "company_metadata": {"country": "UK"},
        });
        assert_eq!(serde_json::to_value(&row).unwrap(), expected);
        // MessagePack writes each map's length up front: the counts must match the entries.
        let packed = rmp_serde::to_vec_named(&row).unwrap();
        let unpacked: serde_json::Value = rmp_serde::from_slice(&packed).unwrap();
        assert_eq!(unpacked, expected);
    }
}
