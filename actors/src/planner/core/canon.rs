//! The canonical form of a request: one value for every spelling of the same question, so that
//! cursor fingerprints and result-cache keys agree on what "the same query" means.
//!
//! Normalised: object keys sorted; `in` with one value is `eq` (and `not_in` with one is `ne`);
//! lists of `in`/`not_in`/`any`/`all`/`none` sorted and de-duplicated; text compared
//! case-insensitively (text and keyword fields) lower-cased; `{}` filters are no filters;
//! `any_of` / `all_of` alternatives in a stable order; `q` trimmed, lower-cased and its
//! whitespace collapsed; the default limit, offset, sort and facet size made explicit.
//! Anything the planner would reject is left as it is (it gets the same 400 either way).

use serde_json::{json, Map, Value};

use super::fields::{Entity, Kind};
use crate::model::{CountRequest, FacetsRequest, SearchRequest};

/// Canonical `filters`.
pub fn filters(entity: Entity, filters: &Value) -> Value {
    match filters {
        Value::Object(m) if m.is_empty() => Value::Null,
        Value::Object(_) => group(entity, filters),
        other => other.clone(),
    }
}

fn group(entity: Entity, value: &Value) -> Value {
    let Value::Object(map) = value else {
        return value.clone();
    };
    let mut out = Map::new();
    for (key, v) in map {
        let v = match key.as_str() {
            "any_of" | "all_of" => match v {
                Value::Array(groups) => {
                    let mut gs: Vec<Value> = groups.iter().map(|g| group(entity, g)).collect();
                    gs.sort_by_cached_key(|g| g.to_string());
                    gs.dedup();
                    Value::Array(gs)
                }
                other => other.clone(),
            },
            "not" => group(entity, v),
            name => condition(entity, name, v),
        };
        out.insert(key.clone(), v);
    }
    Value::Object(out)
}

fn condition(entity: Entity, name: &str, ops: &Value) -> Value {
    let (Some(field), Value::Object(ops)) = (entity.field(name), ops) else {
        return ops.clone();
    };
    // Every text compares without case, arrays included (their lower-cased twins).
    let lower = matches!(field.kind, Kind::Text | Kind::Keyword | Kind::TextArray);
    let fold = |v: &Value| match v {
        Value::String(s) if lower => Value::String(s.to_lowercase()),
        other => other.clone(),
    };
    let mut out = Map::new();
    for (op, operand) in ops {
        let (op, operand) = match (op.as_str(), operand) {
            ("in" | "not_in" | "any" | "all" | "none", Value::Array(items)) => {
                let mut items: Vec<Value> = items.iter().map(fold).collect();
                items.sort_by_cached_key(|v| v.to_string());
                items.dedup();
                match (op.as_str(), items.len()) {
                    ("in", 1) => ("eq".to_owned(), items.remove(0)),
                    ("not_in", 1) => ("ne".to_owned(), items.remove(0)),
                    _ => (op.clone(), Value::Array(items)),
                }
            }
            ("is_null", v) => (op.clone(), v.clone()),
            (_, v) => (op.clone(), fold(v)),
        };
        // `{"in": ["a"], "eq": "a"}` collapses to one `eq`; a real conflict stays visible.
        out.entry(op).or_insert(operand);
    }
    Value::Object(out)
}

/// Canonical free text: what the planner matches on (`rank` is keyed on its own).
pub fn q(q: Option<&str>) -> Value {
    let q = q.map(str::trim).filter(|q| !q.is_empty());
    q.map_or(Value::Null, |q| Value::String(words(q)))
}

/// Free text lower-cased, its words one space apart.
pub fn words(q: &str) -> String {
    q.split_whitespace()
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Canonical sort: the default (`created_at desc`, or similarity) made explicit.
pub fn sort(req: &SearchRequest) -> Value {
    if req.sort.is_empty() && req.rank.is_none() {
        return json!([{"field": "created_at", "dir": "desc"}]);
    }
    json!(req.sort)
}

/// Canonical search request (everything that decides the reply, nothing else).
pub fn search(entity: Entity, req: &SearchRequest, default_limit: u32) -> Value {
    let fields = req.fields.as_ref().map(|f| {
        let mut f = f.clone();
        f.sort();
        f.dedup();
        f
    });
    json!({
        "entity": entity,
        "filters": filters(entity, &req.filters),
        "q": q(req.q.as_deref()),
        "rank": req.rank,
        "sort": sort(req),
        "limit": req.limit.unwrap_or(default_limit),
        "offset": req.offset.unwrap_or(0),
        "cursor": req.cursor,
        "fields": fields,
        "with_total": req.with_total,
        "explain": req.explain,
    })
}

pub fn count(entity: Entity, req: &CountRequest) -> Value {
    json!({
        "entity": entity,
        "filters": filters(entity, &req.filters),
        "q": q(req.q.as_deref()),
        "mode": req.mode,
    })
}

pub fn facets(entity: Entity, req: &FacetsRequest) -> Value {
    let mut names = req.facets.clone();
    names.sort();
    names.dedup();
    json!({
        "entity": entity,
        "filters": filters(entity, &req.filters),
        "q": q(req.q.as_deref()),
        "facets": names,
        "size": req.size.unwrap_or(10),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: Value) -> SearchRequest {
        serde_json::from_value(v).unwrap()
    }

    fn key(v: Value) -> Value {
        search(Entity::Contacts, &s(v), 25)
    }

    #[test]
    fn equivalent_spellings_share_one_form() {
        let a = key(json!({
            "filters": {"seniority": {"in": ["VP"]}, "departments": {"any": ["Sales", "Eng", "Sales"]},
                        "first_name": {"contains": "JO"}},
            "q": "  Rust   Berlin ",
        }));
        let b = key(json!({
            "filters": {"first_name": {"contains": "jo"}, "departments": {"any": ["Eng", "Sales"]},
                        "seniority": {"eq": "vp"}},
            "q": "rust berlin", "limit": 25, "offset": 0,
            "sort": [{"field": "created_at", "dir": "desc"}],
        }));
        assert_eq!(a, b);
        assert_eq!(key(json!({"filters": {}})), key(json!({})));
        // Arrays match without case, so their case is not part of the question.
        assert_eq!(
            key(json!({"filters": {"departments": {"any": ["sales"]}}})),
            key(json!({"filters": {"departments": {"any": ["Sales"]}}}))
        );
        assert_eq!(
            key(json!({"filters": {"any_of": [{"email": {"eq": "a"}}, {"email": {"eq": "b"}}]}})),
            key(json!({"filters": {"any_of": [{"email": {"eq": "B"}}, {"email": {"eq": "a"}}]}}))
        );
    }

    #[test]
    fn different_questions_stay_different() {
        assert_ne!(key(json!({"limit": 10})), key(json!({})));
        assert_ne!(
            key(json!({"filters": {"seniority": {"in": ["vp", "cto"]}}})),
            key(json!({"filters": {"seniority": {"eq": "vp"}}}))
        );
        assert_ne!(key(json!({"q": "a b"})), key(json!({"q": "ab"})));
    }
}
