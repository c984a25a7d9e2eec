//! Request and reply shapes as they travel on the wire (DESIGN §4). Field names are the
//! contract; every request struct denies unknown fields so a typo is a 400, not a silent no-op.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::planner::core::datum::Row;
use crate::planner::core::sql::Dir;

/// `rolodex.{contacts,companies}.search`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SearchRequest {
    /// `field → {operator: value}`, plus `any_of`, `all_of` and `not` groups.
    pub filters: Value,
    /// Free text over `text_search`: every word must occur.
    pub q: Option<String>,
    /// `similarity`: typo-tolerant match on `q`, ordered by pg_trgm word similarity.
    pub rank: Option<Rank>,
    /// Sort keys on indexed fields; default `created_at desc`, always tie-broken by uuid.
    pub sort: Vec<SortSpec>,
    pub limit: Option<u32>,
    pub offset: Option<u64>,
    /// The `next_cursor` of the previous page of the same query.
    pub cursor: Option<String>,
    /// Fields to return (whitelist); default: the entity's own columns.
    pub fields: Option<Vec<String>>,
    /// Also count every match.
    pub with_total: bool,
    /// Return the plan (tier, SQL, binds) instead of rows, when the config allows it.
    pub explain: bool,
    /// `false` bypasses the result cache.
    pub cache: Option<bool>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Rank {
    Similarity,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SortSpec {
    pub field: String,
    #[serde(default = "default_dir")]
    pub dir: Dir,
}

fn default_dir() -> Dir {
    Dir::Asc
}

/// `rolodex.{contacts,companies}.stream`: every match, in chunks (see docs/requests.md).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct StreamRequest {
    pub filters: Value,
    pub q: Option<String>,
    pub sort: Vec<SortSpec>,
    pub fields: Option<Vec<String>>,
}

/// One chunk of a stream: at most 5,000 rows.
#[derive(Debug, Clone, Serialize)]
pub struct StreamChunk<'a, T = Row> {
    pub seq: u64,
    pub items: &'a [T],
}

/// The last message of a stream.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StreamEnd {
    pub end: bool,
    /// Rows sent in all.
    pub count: u64,
    /// Chunks sent.
    pub chunks: u64,
}

/// `rolodex.{contacts,companies}.count`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CountRequest {
    pub filters: Value,
    pub q: Option<String>,
    pub mode: CountMode,
    pub cache: Option<bool>,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum CountMode {
    #[default]
    Exact,
    /// The planner's row estimate: instant, approximate (PostgREST's `count=planned`).
    Estimated,
}

/// `rolodex.{contacts,companies}.facets`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct FacetsRequest {
    pub filters: Value,
    pub q: Option<String>,
    /// Fields to facet on, e.g. `seniority`, `departments`, `company.industries`.
    pub facets: Vec<String>,
    /// Top values per facet (default 10, at most 100).
    pub size: Option<u32>,
    pub cache: Option<bool>,
}

/// `rolodex.{contacts,companies}.get`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GetRequest {
    pub uuid: String,
}

/// A page of results: decoded [`Row`]s, or (from the planner) rows serialised straight from
/// PostgreSQL's buffers, which go out in the same form.
#[derive(Debug, Clone, Serialize)]
pub struct Page<T = Row> {
    pub items: Vec<T>,
    /// Opaque; pass it back as `cursor` for the next page. Absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CountReply {
    pub count: u64,
    /// `exact` or `estimated`, echoing how the number was obtained.
    pub mode: CountMode,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FacetValue {
    pub value: String,
    pub count: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FacetsReply {
    /// Facet field → its top values, most frequent first.
    pub facets: std::collections::BTreeMap<String, Vec<FacetValue>>,
}

/// What `explain: true` returns instead of rows.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ExplainReply {
    pub tier: crate::planner::core::sql::Tier,
    pub sql: String,
    pub binds: Vec<BindView>,
}

/// A bind as shown by `explain`: its type and value.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BindView {
    #[serde(rename = "type")]
    pub pg_type: &'static str,
    pub value: Value,
}

/// `rolodex.admin.slow_queries`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SlowQueriesRequest {
    /// Most entries to return, newest first (default 20).
    pub limit: Option<usize>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SlowQueriesReply {
    pub slow_queries: Vec<crate::monitor::SlowQuery>,
}
