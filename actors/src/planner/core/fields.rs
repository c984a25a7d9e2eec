//! The whitelist: every field a request may filter, sort, facet or project on, with the table
//! and column it lives in. Nothing outside this table ever reaches SQL text as a name.

use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// What a request searches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Entity {
    Contacts,
    Companies,
}

impl Entity {
    pub fn singular(self) -> &'static str {
        match self {
            Self::Contacts => "contact",
            Self::Companies => "company",
        }
    }

    /// The table the entity lives in.
    pub fn base(self) -> Table {
        match self {
            Self::Contacts => Table::Contacts,
            Self::Companies => Table::Companies,
        }
    }

    /// Every field this entity's requests may name, in output order.
    pub fn fields(self) -> impl Iterator<Item = &'static Field> {
        FIELDS.iter().filter(move |f| f.scope(self).is_some())
    }

    /// Look a wire name up in the whitelist.
    pub fn field(self, name: &str) -> Option<&'static Field> {
        FIELDS
            .iter()
            .find(|f| f.scope(self).is_some_and(|wire| wire == name))
    }

    /// A wire name from a request: its field, or `400 unknown_field` that points to the name
    /// meant when the request spelled a company field the other entity's way.
    pub fn known(self, name: &str) -> Result<&'static Field, ApiError> {
        self.field(name).ok_or_else(|| {
            let hint = match self {
                Self::Companies => name
                    .strip_prefix("company.")
                    .filter(|bare| self.field(bare).is_some())
                    .map(|bare| format!(" (on companies their own fields are bare: `{bare}`)")),
                Self::Contacts => Some(format!("company.{name}"))
                    .filter(|related| self.field(related).is_some())
                    .map(|related| format!(" (a contact's company fields are `{related}`)")),
            };
            ApiError::UnknownField {
                field: name.to_owned(),
                hint: hint.unwrap_or_default(),
            }
        })
    }
}

/// A table a plan may touch, with the alias the planner gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Table {
    Contacts,
    Companies,
    ContactsMeta,
    CompaniesMeta,
}

impl Table {
    pub fn name(self) -> &'static str {
        match self {
            Self::Contacts => "contacts",
            Self::Companies => "companies",
            Self::ContactsMeta => "contacts_metadata",
            Self::CompaniesMeta => "companies_metadata",
        }
    }

    pub fn alias(self) -> &'static str {
        match self {
            Self::Contacts => "c",
            Self::Companies => "co",
            Self::ContactsMeta => "cm",
            Self::CompaniesMeta => "com",
        }
    }

    /// How this table hangs off the entity's base table: `alias.uuid = <this expression>`.
    /// `None` for the base table itself.
    pub fn link(self, entity: Entity) -> Option<&'static str> {
        match (entity, self) {
            (Entity::Contacts, Table::Contacts) | (Entity::Companies, Table::Companies) => None,
            (Entity::Contacts, Table::Companies) => Some("c.company_id"),
            (Entity::Contacts, Table::ContactsMeta) => Some("c.uuid"),
            (Entity::Contacts, Table::CompaniesMeta) => Some("c.company_id"),
            (Entity::Companies, Table::CompaniesMeta) => Some("co.uuid"),
            (Entity::Companies, _) => None,
        }
    }
}

/// The value type of a column, which decides operators, binds and decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Free text; compared case-insensitively (`lower(col)`, `ILIKE`).
    Text,
    /// A short code stored lower-case (seniority, email status); compared exactly after
    /// lower-casing the value, so plain B-tree indexes serve it.
    Keyword,
    /// `integer`.
    Int,
    /// `bigint`.
    BigInt,
    Timestamp,
    Uuid,
    /// A computed `real` (similarity); never a column, only a sort key.
    Real,
    /// `text[]`, compared exactly as stored with the GIN-friendly `&&` / `@>`.
    TextArray,
}

/// One whitelisted field.
#[derive(Debug, PartialEq, Eq)]
pub struct Field {
    /// Name when the request is about contacts (`None`: not available there).
    pub on_contacts: Option<&'static str>,
    /// Name when the request is about companies.
    pub on_companies: Option<&'static str>,
    pub table: Table,
    pub column: &'static str,
    pub kind: Kind,
    /// Backed by an index that makes ordering by it cheap.
    pub sortable: bool,
}

impl Field {
    pub fn scope(&self, entity: Entity) -> Option<&'static str> {
        match entity {
            Entity::Contacts => self.on_contacts,
            Entity::Companies => self.on_companies,
        }
    }

    /// `alias.column`, for SQL text.
    pub fn qualified(&self) -> String {
        let mut out = String::new();
        self.write_qualified(&mut out);
        out
    }

    /// `alias.column` appended to statement text being written, without a string of its own.
    pub fn write_qualified(&self, out: &mut String) {
        out.push_str(self.table.alias());
        out.push('.');
        out.push_str(self.column);
    }

    /// Columns PostgreSQL derives from others (search text, normalised title): filterable,
    /// but left out of default projections.
    pub fn is_derived(&self) -> bool {
        matches!(self.column, "text_search" | "title_normalized")
    }

    /// Contact points and profile links: each value belongs to one person or one company, so
    /// counting rows per value answers nothing and, over a million rows, takes seconds.
    pub fn is_identifier(&self) -> bool {
        matches!(
            self.column,
            "email"
                | "mobile_phone"
                | "phone"
                | "website"
                | "linkedin_url"
                | "facebook_url"
                | "twitter_url"
        )
    }

    /// Its table holds at most one row per row of `entity` (the base table and its own
    /// metadata), so an identifier there names a single result.
    pub fn is_one_per(&self, entity: Entity) -> bool {
        matches!(
            (entity, self.table),
            (Entity::Contacts, Table::Contacts | Table::ContactsMeta)
                | (Entity::Companies, Table::Companies | Table::CompaniesMeta)
        )
    }

    pub fn is_text(&self) -> bool {
        matches!(self.kind, Kind::Text | Kind::Keyword)
    }
}

macro_rules! field {
    ($contacts:expr, $companies:expr, $table:ident, $column:literal, $kind:ident, $sortable:literal) => {
        Field {
            on_contacts: $contacts,
            on_companies: $companies,
            table: Table::$table,
            column: $column,
            kind: Kind::$kind,
            sortable: $sortable,
        }
    };
}

/// The whole whitelist (DESIGN §5). Order is the output order of a full row.
pub static FIELDS: &[Field] = &[
    field!(Some("uuid"), None, Contacts, "uuid", Uuid, true),
    field!(Some("first_name"), None, Contacts, "first_name", Text, true),
    field!(Some("last_name"), None, Contacts, "last_name", Text, true),
    field!(Some("email"), None, Contacts, "email", Text, true),
    field!(Some("title"), None, Contacts, "title", Text, false),
    // The canonical title; filter values on it are normalised by the planner the same way.
    field!(
        Some("title_normalized"),
        None,
        Contacts,
        "title_normalized",
        Text,
        false
    ),
    field!(
        Some("seniority"),
        None,
        Contacts,
        "seniority",
        Keyword,
        false
    ),
    field!(
        Some("departments"),
        None,
        Contacts,
        "departments",
        TextArray,
        false
    ),
    field!(
        Some("mobile_phone"),
        None,
        Contacts,
        "mobile_phone",
        Text,
        false
    ),
    field!(
        Some("email_status"),
        None,
        Contacts,
        "email_status",
        Keyword,
        false
    ),
    field!(
        Some("company_id"),
        None,
        Contacts,
        "company_id",
        Uuid,
        false
    ),
    field!(
        Some("text_search"),
        None,
        Contacts,
        "text_search",
        Text,
        false
    ),
    field!(
        Some("created_at"),
        None,
        Contacts,
        "created_at",
        Timestamp,
        true
    ),
    field!(
        Some("updated_at"),
        None,
        Contacts,
        "updated_at",
        Timestamp,
        true
    ),
    field!(
        Some("company.uuid"),
        Some("uuid"),
        Companies,
        "uuid",
        Uuid,
        true
    ),
    field!(
        Some("company.name"),
        Some("name"),
        Companies,
        "name",
        Text,
        true
    ),
    field!(
        Some("company.employees_count"),
        Some("employees_count"),
        Companies,
        "employees_count",
        Int,
        true
    ),
    field!(
        Some("company.annual_revenue"),
        Some("annual_revenue"),
        Companies,
        "annual_revenue",
        BigInt,
        true
    ),
    field!(
        Some("company.industries"),
        Some("industries"),
        Companies,
        "industries",
        TextArray,
        false
    ),
    field!(
        Some("company.keywords"),
        Some("keywords"),
        Companies,
        "keywords",
        TextArray,
        false
    ),
    field!(
        Some("company.technologies"),
        Some("technologies"),
        Companies,
        "technologies",
        TextArray,
        false
    ),
    field!(
        Some("company.text_search"),
        Some("text_search"),
        Companies,
        "text_search",
        Text,
        false
    ),
    field!(
        Some("company.created_at"),
        Some("created_at"),
        Companies,
        "created_at",
        Timestamp,
        true
    ),
    field!(
        Some("company.updated_at"),
        Some("updated_at"),
        Companies,
        "updated_at",
        Timestamp,
        true
    ),
    field!(
        Some("contact_meta.linkedin_url"),
        None,
        ContactsMeta,
        "linkedin_url",
        Text,
        false
    ),
    field!(
        Some("contact_meta.city"),
        None,
        ContactsMeta,
        "city",
        Text,
        false
    ),
    field!(
        Some("contact_meta.state"),
        None,
        ContactsMeta,
        "state",
        Text,
        false
    ),
    field!(
        Some("contact_meta.country"),
        None,
        ContactsMeta,
        "country",
        Text,
        false
    ),
    field!(
        Some("contact_meta.website"),
        None,
        ContactsMeta,
        "website",
        Text,
        false
    ),
    field!(
        Some("contact_meta.facebook_url"),
        None,
        ContactsMeta,
        "facebook_url",
        Text,
        false
    ),
    field!(
        Some("contact_meta.twitter_url"),
        None,
        ContactsMeta,
        "twitter_url",
        Text,
        false
    ),
    field!(
        Some("company_meta.website"),
        Some("company_meta.website"),
        CompaniesMeta,
        "website",
        Text,
        false
    ),
    field!(
        Some("company_meta.linkedin_url"),
        Some("company_meta.linkedin_url"),
        CompaniesMeta,
        "linkedin_url",
        Text,
        false
    ),
    field!(
        Some("company_meta.city"),
        Some("company_meta.city"),
        CompaniesMeta,
        "city",
        Text,
        false
    ),
    field!(
        Some("company_meta.state"),
        Some("company_meta.state"),
        CompaniesMeta,
        "state",
        Text,
        false
    ),
    field!(
        Some("company_meta.country"),
        Some("company_meta.country"),
        CompaniesMeta,
        "country",
        Text,
        false
    ),
    field!(
        Some("company_meta.phone"),
        Some("company_meta.phone"),
        CompaniesMeta,
        "phone",
        Text,
        false
    ),
    field!(
        Some("company_meta.founded_year"),
        Some("company_meta.founded_year"),
        CompaniesMeta,
        "founded_year",
        Int,
        false
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_wire_name_is_unique_per_entity() {
        for entity in [Entity::Contacts, Entity::Companies] {
            let mut names: Vec<_> = entity.fields().filter_map(|f| f.scope(entity)).collect();
            let n = names.len();
            names.sort();
            names.dedup();
            assert_eq!(n, names.len(), "{entity:?}");
        }
    }

    #[test]
    fn related_tables_link_to_their_base() {
        for f in FIELDS {
            for entity in [Entity::Contacts, Entity::Companies] {
                if f.scope(entity).is_some() && f.table != entity.base() {
                    assert!(f.table.link(entity).is_some(), "{f:?}");
                }
            }
        }
    }
}
