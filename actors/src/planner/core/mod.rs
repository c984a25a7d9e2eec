//! The planner's pure core: request → validated filter tree → SQL plan. No I/O; every rule of
//! DESIGN §6 is unit- and snapshot-tested here.

pub mod canon;
pub mod cursor;
pub mod datum;
pub mod fields;
pub mod filter;
pub mod sql;

#[cfg(test)]
mod snapshots;

use serde_json::{json, Value};

use crate::config::QueryConfig;
use crate::error::ApiError;
use crate::model::{
    BindView, CountRequest, ExplainReply, FacetsRequest, Rank, SearchRequest, SortSpec,
    StreamRequest,
};
use cursor::{CursorCodec, Fingerprint};
use datum::{Datum, Plain};
use fields::{Entity, Field, Kind};
use filter::{Group, Limits};
use sql::{Dir, PagePlan, Query, SortKey, Sql, Start};

/// Most words in a free-text `q`.
pub const MAX_TEXT_TOKENS: usize = 16;
/// Most facet fields in one request, and most values per facet.
pub const MAX_FACETS: usize = 16;
pub const MAX_FACET_SIZE: u32 = 100;
/// Most sort keys.
pub const MAX_SORT_KEYS: usize = 4;

/// A search, planned.
#[derive(Debug, Clone)]
pub struct SearchPlan {
    pub page: PagePlan,
    pub limit: u32,
    pub fingerprint: Fingerprint,
    /// The count to run beside the page when `with_total` is set.
    pub total: Option<Sql>,
}

/// Plans requests under the configured caps and signs cursors.
#[derive(Debug, Clone)]
pub struct Planner {
    config: QueryConfig,
    cursors: CursorCodec,
    /// Normalises `title_normalized` filter values; without it they are only lower-cased.
    titles: Option<std::sync::Arc<crate::normalize::TitleRules>>,
}

/// The filter field whose values are job titles to normalise before binding.
pub const TITLE_NORMALIZED: &str = "title_normalized";

/// The parts of a request that decide which rows match.
struct Matching {
    filter: Group,
    tokens: Vec<String>,
    similar: Option<String>,
}

impl Matching {
    fn query(&self, entity: Entity) -> Query<'_> {
        Query {
            entity,
            filter: &self.filter,
            text_tokens: &self.tokens,
            similar_to: self.similar.as_deref(),
        }
    }
}

impl Planner {
    pub fn new(config: QueryConfig, cursor_secret: &[u8]) -> Self {
        Self {
            config,
            cursors: CursorCodec::new(cursor_secret),
            titles: None,
        }
    }

    /// Normalise `title_normalized` filter values with these rules (as writers do).
    pub fn with_titles(mut self, rules: std::sync::Arc<crate::normalize::TitleRules>) -> Self {
        self.titles = Some(rules);
        self
    }

    /// `filters` with every `title_normalized` value in canonical form.
    fn normalize_titles<'f>(&self, filters: &'f Value) -> std::borrow::Cow<'f, Value> {
        let Some(rules) = &self.titles else {
            return std::borrow::Cow::Borrowed(filters);
        };
        fn walk(v: &mut Value, rules: &crate::normalize::TitleRules) {
            let Value::Object(map) = v else { return };
            for (key, value) in map.iter_mut() {
                match key.as_str() {
                    "any_of" | "all_of" => {
                        if let Value::Array(groups) = value {
                            groups.iter_mut().for_each(|g| walk(g, rules));
                        }
                    }
                    "not" => walk(value, rules),
                    TITLE_NORMALIZED => {
                        if let Value::Object(ops) = value {
                            for operand in ops.values_mut() {
                                match operand {
                                    Value::String(s) => *s = rules.normalize(s),
                                    Value::Array(items) => items.iter_mut().for_each(|i| {
                                        if let Value::String(s) = i {
                                            *s = rules.normalize(s);
                                        }
                                    }),
                                    _ => {}
                                }
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        fn mentions(v: &Value) -> bool {
            match v {
                Value::Object(map) => map
                    .iter()
                    .any(|(k, v)| k == TITLE_NORMALIZED || mentions(v)),
                Value::Array(items) => items.iter().any(mentions),
                _ => false,
            }
        }
        if !mentions(filters) {
            return std::borrow::Cow::Borrowed(filters);
        }
        let mut owned = filters.clone();
        walk(&mut owned, rules);
        std::borrow::Cow::Owned(owned)
    }

    pub fn config(&self) -> &QueryConfig {
        &self.config
    }

    fn limits(&self) -> Limits {
        Limits {
            max_filters: self.config.max_filters,
            max_list_len: self.config.max_list_len,
            max_depth: self.config.max_depth,
        }
    }

    fn matching(
        &self,
        entity: Entity,
        filters: &Value,
        q: Option<&str>,
        rank: Option<Rank>,
    ) -> Result<Matching, ApiError> {
        let filters = self.normalize_titles(filters);
        let filter = filter::parse(entity, &filters, self.limits())?;
        let q = q.map(str::trim).filter(|q| !q.is_empty());
        if let Some(q) = q {
            if q.chars().count() > filter::MAX_VALUE_CHARS {
                return Err(ApiError::limit(
                    "length of `q`",
                    filter::MAX_VALUE_CHARS as u64,
                ));
            }
        }
        let (tokens, similar) = match (q, rank) {
            // Words one space apart: the rank splits the text on single spaces.
            (Some(q), Some(Rank::Similarity)) => (Vec::new(), Some(canon::words(q))),
            (None, Some(Rank::Similarity)) => {
                return Err(ApiError::invalid("rank", "similarity ranking needs `q`"))
            }
            (q, None) => {
                let tokens: Vec<String> = q
                    .unwrap_or_default()
                    .split_whitespace()
                    .map(str::to_lowercase)
                    .collect();
                if tokens.len() > MAX_TEXT_TOKENS {
                    return Err(ApiError::limit("words in `q`", MAX_TEXT_TOKENS as u64));
                }
                (tokens, None)
            }
        };
        Ok(Matching {
            filter,
            tokens,
            similar,
        })
    }

    /// Plan a search page.
    pub fn search(&self, entity: Entity, req: &SearchRequest) -> Result<SearchPlan, ApiError> {
        let m = self.matching(entity, &req.filters, req.q.as_deref(), req.rank)?;
        let limit = req.limit.unwrap_or(self.config.default_limit);
        if limit == 0 || limit > self.config.max_limit {
            return Err(ApiError::LimitExceeded {
                what: "limit".into(),
                max: u64::from(self.config.max_limit),
                hint: " (and must be at least 1)".into(),
            });
        }
        let offset = req.offset.unwrap_or(0);
        if offset > self.config.max_offset {
            return Err(ApiError::LimitExceeded {
                what: "offset".into(),
                max: self.config.max_offset,
                hint: "; page deeper with `cursor` (each page's `next_cursor`)".into(),
            });
        }
        let sort = self.sort(entity, &req.sort, &m)?;
        let columns = self.projection(entity, req.fields.as_deref())?;
        // The canonical spelling, so that every spelling the result cache treats as one query
        // also accepts the cursors of the others.
        let fingerprint = cursor::fingerprint(&json!({
            "entity": entity,
            "filters": canon::filters(entity, &req.filters),
            "q": canon::q(req.q.as_deref()),
            "rank": req.rank,
            "sort": canon::sort(req),
        }));
        let start = match &req.cursor {
            Some(_) if offset > 0 => {
                return Err(ApiError::invalid(
                    "cursor",
                    "use either `cursor` or `offset`, not both",
                ))
            }
            Some(c) => Start::After(self.cursors.decode(c, fingerprint, sort.len())?),
            None => Start::Offset(offset),
        };
        let query = m.query(entity);
        let page = sql::page(&query, columns, sort, &start, limit);
        let total = req.with_total.then(|| sql::count(&query));
        Ok(SearchPlan {
            page,
            limit,
            fingerprint,
            total,
        })
    }

    fn sort(
        &self,
        entity: Entity,
        specs: &[SortSpec],
        m: &Matching,
    ) -> Result<Vec<SortKey>, ApiError> {
        if specs.len() > MAX_SORT_KEYS {
            return Err(ApiError::limit("number of sort keys", MAX_SORT_KEYS as u64));
        }
        let mut keys = Vec::with_capacity(specs.len() + 2);
        if m.similar.is_some() {
            if !specs.is_empty() {
                return Err(ApiError::invalid(
                    "sort",
                    "rank: similarity orders by similarity; leave `sort` out",
                ));
            }
            // Each word scored on its own and summed: the best stretch for the whole text
            // ranks Aaron Smith over Jonas Smith for `jon smith` (the trigrams of "on " and
            // "smith" outnumber those of "jon"); word by word Jonas leads (docs/requests.md).
            keys.push(SortKey {
                expr: format!(
                    "(SELECT sum(word_similarity(w, {}.text_search)) \
                     FROM unnest(string_to_array({}, ' ')) AS w)",
                    entity.base().alias(),
                    sql::SIMILARITY_BIND,
                ),
                kind: Kind::Real,
                dir: Dir::Desc,
                nullable: false,
                table: entity.base(),
            });
        }
        let mut named: Vec<&'static Field> = Vec::with_capacity(specs.len());
        for spec in specs {
            let field = entity.known(&spec.field)?;
            // A second key on the same field could never order anything: a mistake to point out.
            if named.contains(&field) {
                return Err(ApiError::invalid(&spec.field, "named twice in `sort`"));
            }
            named.push(field);
            if !field.sortable {
                return Err(ApiError::invalid(
                    &spec.field,
                    "not sortable (no index serves that order)",
                ));
            }
            keys.push(SortKey::on(entity, field, spec.dir));
        }
        if specs.is_empty() && m.similar.is_none() {
            let created = entity
                .field("created_at")
                .ok_or_else(|| ApiError::Internal("whitelist lacks created_at".into()))?;
            keys.push(SortKey::on(entity, created, Dir::Desc));
        }
        let last_dir = keys.last().map_or(Dir::Desc, |k| k.dir);
        if !specs.iter().any(|s| s.field == "uuid") {
            keys.push(SortKey::uuid(entity, last_dir));
        }
        Ok(keys)
    }

    fn projection(
        &self,
        entity: Entity,
        fields: Option<&[String]>,
    ) -> Result<Vec<&'static Field>, ApiError> {
        let Some(names) = fields else {
            return Ok(entity
                .fields()
                .filter(|f| f.table == entity.base() && !f.is_derived())
                .collect());
        };
        if names.is_empty() {
            return Err(ApiError::invalid("fields", "must name at least one field"));
        }
        let mut chosen = Vec::with_capacity(names.len());
        for name in names {
            let field = entity.known(name)?;
            if !chosen.contains(&field) {
                chosen.push(field);
            }
        }
        // Whitelist order keeps each table's columns together in the row.
        chosen.sort_by_key(|f| fields::FIELDS.iter().position(|g| std::ptr::eq(g, *f)));
        Ok(chosen)
    }

    /// One batch of a stream: the same plan as a search page, `batch` rows from just after
    /// `after` (the previous batch's last sort key), so memory stays constant at any size.
    pub fn stream_batch(
        &self,
        entity: Entity,
        req: &StreamRequest,
        after: Option<Vec<Datum>>,
    ) -> Result<PagePlan, ApiError> {
        let m = self.matching(entity, &req.filters, req.q.as_deref(), None)?;
        let sort = self.sort(entity, &req.sort, &m)?;
        let columns = self.projection(entity, req.fields.as_deref())?;
        let start = after.map_or(Start::Offset(0), Start::After);
        Ok(sql::page(
            &m.query(entity),
            columns,
            sort,
            &start,
            self.config.stream_batch.saturating_sub(1).max(1),
        ))
    }

    /// The cursor that continues after a row with these sort-key values.
    pub fn next_cursor(&self, plan: &SearchPlan, keys: &[Datum]) -> String {
        self.cursors.encode(plan.fingerprint, keys)
    }

    pub fn count(&self, entity: Entity, req: &CountRequest) -> Result<Sql, ApiError> {
        let m = self.matching(entity, &req.filters, req.q.as_deref(), None)?;
        let query = m.query(entity);
        Ok(match req.mode {
            crate::model::CountMode::Exact => sql::count(&query),
            crate::model::CountMode::Estimated => sql::estimate(&query),
        })
    }

    pub fn facets(
        &self,
        entity: Entity,
        req: &FacetsRequest,
    ) -> Result<(Sql, Vec<&'static Field>), ApiError> {
        if req.facets.is_empty() || req.facets.len() > MAX_FACETS {
            return Err(ApiError::LimitExceeded {
                what: "number of facets".into(),
                max: MAX_FACETS as u64,
                hint: " (and at least one is needed)".into(),
            });
        }
        let size = req.size.unwrap_or(10);
        if size == 0 || size > MAX_FACET_SIZE {
            return Err(ApiError::limit("facet size", u64::from(MAX_FACET_SIZE)));
        }
        let mut fields: Vec<&'static Field> = Vec::with_capacity(req.facets.len());
        for name in &req.facets {
            let f = entity.known(name)?;
            if matches!(f.kind, Kind::Uuid | Kind::Timestamp) || f.is_derived() {
                return Err(ApiError::invalid(
                    name,
                    "cannot be faceted (values are unique)",
                ));
            }
            // A company's website is shared by its contacts, so it may be faceted on
            // contacts; a contact's email never is.
            if f.is_identifier() && f.is_one_per(entity) {
                return Err(ApiError::invalid(
                    name,
                    format!(
                        "cannot be faceted (each value belongs to one {})",
                        entity.singular()
                    ),
                ));
            }
            // A field named twice is counted once: the reply has one list per name.
            if !fields.iter().any(|g| std::ptr::eq(*g, f)) {
                fields.push(f);
            }
        }
        let m = self.matching(entity, &req.filters, req.q.as_deref(), None)?;
        Ok((sql::facets(&m.query(entity), &fields, size), fields))
    }

    /// The explain reply for a plan.
    pub fn explain(&self, plan: &PagePlan) -> Result<ExplainReply, ApiError> {
        if !self.config.allow_explain {
            return Err(ApiError::invalid(
                "explain",
                "disabled by configuration (query.allow_explain)",
            ));
        }
        Ok(ExplainReply {
            tier: plan.tier,
            sql: plan.sql.text.clone(),
            binds: plan
                .sql
                .binds
                .iter()
                .map(|d| BindView {
                    pg_type: d.pg_type(),
                    value: serde_json::to_value(Plain(d)).unwrap_or(Value::Null),
                })
                .collect(),
        })
    }
}
