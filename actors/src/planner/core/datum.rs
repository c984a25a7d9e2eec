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
    fn is_null(&self, i: usize) -> bool;
    /// Bit `i` set: cell `i` is null, for the first 64 cells, when the row keeps such a mask
    /// (then a map's length is a popcount instead of a walk over its cells).
    fn null_bits(&self) -> Option<u64> {
        None
    }
    /// The `i`-th value as a plain wire value (see [`Plain`]).
    fn serialize_value<S: Serializer>(&self, i: usize, s: S) -> Result<S::Ok, S::Error>;
}

impl Cells for Row {
    fn is_null(&self, i: usize) -> bool {
        self.cells[i].1.is_null()
    }
    fn serialize_value<S: Serializer>(&self, i: usize, s: S) -> Result<S::Ok, S::Error> {
        Plain(&self.cells[i].1).serialize(s)
    }
}

impl Serialize for Row {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // An owned row is the tests' and the bench's form, so its layout is worked out here.
        let fields: Vec<&'static Field> = self.cells.iter().map(|(f, _)| *f).collect();
        Shape(&Layout::new(self.entity, &fields), self).serialize(s)
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

/// Where a projection's columns go on the wire, worked out once per page rather than once per
/// row: runs of columns that share a place, top level (`key: None`) or a related table's
/// nested map. The projection is built in whitelist order, so each table's columns are one run.
#[derive(Debug)]
pub struct Layout {
    entity: Entity,
    columns: Vec<&'static Field>,
    runs: Vec<Run>,
}

#[derive(Debug)]
struct Run {
    key: Option<&'static str>,
    cells: std::ops::Range<usize>,
}

impl Layout {
    pub fn new(entity: Entity, columns: &[&'static Field]) -> Layout {
        let mut runs: Vec<Run> = Vec::new();
        for (i, f) in columns.iter().enumerate() {
            let key = nest_key(entity, f.table);
            match runs.last_mut() {
                Some(run) if run.key == key => run.cells.end = i + 1,
                _ => runs.push(Run {
                    key,
                    cells: i..i + 1,
                }),
            }
        }
        Layout {
            entity,
            columns: columns.to_vec(),
            runs,
        }
    }

    pub fn entity(&self) -> Entity {
        self.entity
    }

    pub fn columns(&self) -> &[&'static Field] {
        &self.columns
    }

    /// How many cells of `range` have a value.
    fn present(cells: &impl Cells, range: std::ops::Range<usize>) -> usize {
        match cells.null_bits() {
            Some(nulls) if range.end <= 64 => {
                let span = (u64::MAX >> (64 - range.len())) << range.start;
                (span & !nulls).count_ones() as usize
            }
            _ => range.filter(|&i| !cells.is_null(i)).count(),
        }
    }
}

/// The wire form of a row: top-level columns, then one nested map per related table that has
/// a value; nulls left out.
pub struct Shape<'a, C>(pub &'a Layout, pub &'a C);

impl<C: Cells> Serialize for Shape<'_, C> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Map lengths come from the layout and the row's null mask: nothing is allocated and
        // no cell is looked at twice.
        let Shape(layout, cells) = *self;
        let present = |r: &Run| Layout::present(cells, r.cells.clone());
        let len = layout
            .runs
            .iter()
            .map(|r| match r.key {
                None => present(r),
                Some(_) => usize::from(present(r) > 0),
            })
            .sum();
        let mut map = s.serialize_map(Some(len))?;
        for run in layout.runs.iter().filter(|r| r.key.is_none()) {
            for i in run.cells.clone().filter(|&i| !cells.is_null(i)) {
                map.serialize_entry(layout.columns[i].column, &Value(cells, i))?;
            }
        }
        for run in &layout.runs {
            if let Some(key) = run.key.filter(|_| present(run) > 0) {
                map.serialize_entry(key, &Group(layout, cells, run))?;
            }
        }
        map.end()
    }
}

/// One related table's present values, as a map.
struct Group<'a, C>(&'a Layout, &'a C, &'a Run);

impl<C: Cells> Serialize for Group<'_, C> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Group(layout, cells, run) = *self;
        let mut map = s.serialize_map(Some(Layout::present(cells, run.cells.clone())))?;
        for i in run.cells.clone().filter(|&i| !cells.is_null(i)) {
            map.serialize_entry(layout.columns[i].column, &Value(cells, i))?;
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

        // A row that hands over its null mask (as PostgreSQL's rows do) counts its maps by
        // popcount: the same shape, whichever cells are null.
        for nulls in 0u64..(1 << row.cells.len()) {
            let mut masked = row.clone();
            for (i, cell) in masked.cells.iter_mut().enumerate() {
                if nulls & (1 << i) != 0 {
                    cell.1 = Datum::Null;
                }
            }
            let fields: Vec<_> = masked.cells.iter().map(|(f, _)| *f).collect();
            let layout = Layout::new(masked.entity, &fields);
            let with_bits = Masked(&masked);
            let packed = rmp_serde::to_vec_named(&Shape(&layout, &with_bits)).unwrap();
            let unpacked: serde_json::Value = rmp_serde::from_slice(&packed).unwrap();
            assert_eq!(
                unpacked,
                serde_json::to_value(&masked).unwrap(),
                "{nulls:b}"
            );
        }
    }

    /// A row that keeps its nullness as bits.
    struct Masked<'a>(&'a Row);

    impl Cells for Masked<'_> {
        fn is_null(&self, i: usize) -> bool {
            self.0.is_null(i)
        }
        fn null_bits(&self) -> Option<u64> {
            Some(
                (0..self.0.cells.len())
                    .filter(|&i| self.0.is_null(i))
                    .fold(0, |m, i| m | 1 << i),
            )
        }
        fn serialize_value<S: Serializer>(&self, i: usize, s: S) -> Result<S::Ok, S::Error> {
            self.0.serialize_value(i, s)
        }
    }
}
