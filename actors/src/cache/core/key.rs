//! Cache keys and dependencies. A key is a hash of the canonical request (see
//! [`crate::planner::core::canon`]) together with the route and the reply's encoding, so a hit
//! hands back bytes ready to publish. The dependencies are the tables whose rows can change the
//! answer: the entity's own table plus every table a filter, sort, projection or facet names.

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::planner::core::fields::{Entity, Table};
use crate::wire::{ContentType, Negotiated};

/// 128 bits of SHA-256: collisions are out of reach, comparisons are two words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key(pub u128);

/// How the cached reply is encoded; part of the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Variant {
    pub json: bool,
    pub zstd: bool,
}

impl From<Negotiated> for Variant {
    fn from(n: Negotiated) -> Self {
        Self {
            json: n.content_type == ContentType::Json,
            zstd: n.accepts_zstd,
        }
    }
}

impl Key {
    /// The key of `canonical` asked on `route` (e.g. `contacts.search`) in `variant`.
    pub fn of(route: &str, variant: Variant, canonical: &Value) -> Key {
        let mut h = Sha256::new();
        h.update(route.as_bytes());
        h.update([0, u8::from(variant.json), u8::from(variant.zstd), 0]);
        h.update(canonical.to_string().as_bytes());
        let digest = h.finalize();
        let mut first = [0u8; 16];
        first.copy_from_slice(&digest[..16]);
        Key(u128::from_be_bytes(first))
    }
}

impl Key {
    /// The key of a request exactly as received: route, reply variant, the headers that
    /// decide decoding, and the body bytes. Identical bytes decode to the identical request,
    /// so this aliases the canonical key and lets a repeated request skip decompression,
    /// decoding and canonicalisation.
    pub fn of_raw(
        route: &str,
        variant: Variant,
        content_type: Option<&str>,
        content_encoding: Option<&str>,
        body: &[u8],
    ) -> Key {
        let mut h = Sha256::new();
        h.update(b"raw\0");
        h.update(route.as_bytes());
        h.update([0, u8::from(variant.json), u8::from(variant.zstd), 0]);
        h.update(content_type.unwrap_or_default().as_bytes());
        h.update([0]);
        h.update(content_encoding.unwrap_or_default().as_bytes());
        h.update([0]);
        h.update(body);
        let digest = h.finalize();
        let mut first = [0u8; 16];
        first.copy_from_slice(&digest[..16]);
        Key(u128::from_be_bytes(first))
    }
}

/// A set of tables, one bit each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tables(pub u8);

impl Tables {
    pub const NONE: Tables = Tables(0);
    pub const ALL: Tables = Tables(0b1111);
    pub const LIST: [Table; 4] = [
        Table::Contacts,
        Table::Companies,
        Table::ContactsMeta,
        Table::CompaniesMeta,
    ];

    pub fn index(t: Table) -> usize {
        match t {
            Table::Contacts => 0,
            Table::Companies => 1,
            Table::ContactsMeta => 2,
            Table::CompaniesMeta => 3,
        }
    }

    pub fn of(tables: &[Table]) -> Tables {
        Tables(tables.iter().fold(0, |acc, t| acc | 1 << Self::index(*t)))
    }

    pub fn with(self, t: Table) -> Tables {
        Tables(self.0 | 1 << Self::index(t))
    }

    pub fn contains(self, t: Table) -> bool {
        self.0 & (1 << Self::index(t)) != 0
    }

    pub fn iter(self) -> impl Iterator<Item = Table> {
        Self::LIST.into_iter().filter(move |t| self.contains(*t))
    }

    /// By table name (`contacts`, `companies_metadata`, ...); `None` for an unknown name.
    pub fn parse(name: &str) -> Option<Tables> {
        Self::LIST
            .into_iter()
            .find(|t| t.name() == name)
            .map(|t| Tables::of(&[t]))
    }

    /// What a change notice on `<prefix>.changes.<what>` touches. An entity's writes cover
    /// its metadata row too; an unknown kind of change conservatively touches everything.
    pub fn of_change(what: &str) -> Tables {
        match what {
            "contacts" | "contact" => Tables::of(&[Table::Contacts, Table::ContactsMeta]),
            "companies" | "company" => Tables::of(&[Table::Companies, Table::CompaniesMeta]),
            other => Tables::parse(other).unwrap_or(Tables::ALL),
        }
    }

    pub fn names(self) -> Vec<&'static str> {
        self.iter().map(Table::name).collect()
    }
}

/// The tables a request's answer depends on: the base table, and the table of every field
/// the request names anywhere (filters at any depth, sort, fields, facets). A name the
/// whitelist does not know makes it depend on everything (the planner rejects it anyway).
pub fn dependencies(entity: Entity, filters: &Value, names: &[&str]) -> Tables {
    let mut deps = Tables::NONE.with(entity.base());
    let mut add = |name: &str| match entity.field(name) {
        Some(f) => deps = deps.with(f.table),
        None => deps = Tables::ALL,
    };
    walk_filter_names(filters, &mut add);
    names.iter().for_each(|n| add(n));
    deps
}

fn walk_filter_names(v: &Value, f: &mut dyn FnMut(&str)) {
    let Value::Object(map) = v else { return };
    for (key, value) in map {
        match key.as_str() {
            "any_of" | "all_of" => {
                if let Value::Array(groups) = value {
                    groups.iter().for_each(|g| walk_filter_names(g, f));
                }
            }
            "not" => walk_filter_names(value, f),
            name => f(name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dependencies_follow_the_names_used() {
        let only = dependencies(Entity::Contacts, &json!({"first_name": {"eq": "x"}}), &[]);
        assert_eq!(only.names(), ["contacts"]);
        let nested = dependencies(
            Entity::Contacts,
            &json!({"not": {"any_of": [{"company.name": {"eq": "x"}}]}}),
            &["contact_meta.city"],
        );
        assert_eq!(
            nested.names(),
            ["contacts", "companies", "contacts_metadata"]
        );
        let unknown = dependencies(Entity::Companies, &json!({"zzz": {"eq": 1}}), &[]);
        assert_eq!(unknown, Tables::ALL);
    }

    #[test]
    fn change_notices_touch_the_entity_and_its_metadata() {
        assert_eq!(
            Tables::of_change("companies").names(),
            ["companies", "companies_metadata"]
        );
        assert_eq!(Tables::of_change("mystery"), Tables::ALL);
    }

    #[test]
    fn keys_differ_by_route_variant_and_request() {
        let v = Variant {
            json: false,
            zstd: true,
        };
        let a = Key::of("contacts.search", v, &json!({"q": "x"}));
        assert_eq!(a, Key::of("contacts.search", v, &json!({"q": "x"})));
        assert_ne!(a, Key::of("contacts.count", v, &json!({"q": "x"})));
        assert_ne!(
            a,
            Key::of(
                "contacts.search",
                Variant { json: true, ..v },
                &json!({"q": "x"})
            )
        );
    }
}
