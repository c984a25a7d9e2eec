//! The filter language (DESIGN §4): a JSON object of `field → {operator: value}` plus the
//! boolean groups `any_of`, `all_of` and `not`, validated against the whitelist into a typed
//! tree. Everything a caller can get wrong is caught here, with the offending field named.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::datum::Datum;
use super::fields::{Entity, Field, Kind};
use crate::error::ApiError;

/// Longest string value accepted in a filter.
pub const MAX_VALUE_CHARS: usize = 512;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Eq,
    Ne,
    In,
    NotIn,
    Contains,
    NotContains,
    StartsWith,
    Gt,
    Gte,
    Lt,
    Lte,
    Any,
    All,
    None,
    IsNull,
}

impl Op {
    pub const ALL: [Op; 15] = [
        Op::Eq,
        Op::Ne,
        Op::In,
        Op::NotIn,
        Op::Contains,
        Op::NotContains,
        Op::StartsWith,
        Op::Gt,
        Op::Gte,
        Op::Lt,
        Op::Lte,
        Op::Any,
        Op::All,
        Op::None,
        Op::IsNull,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Op::Eq => "eq",
            Op::Ne => "ne",
            Op::In => "in",
            Op::NotIn => "not_in",
            Op::Contains => "contains",
            Op::NotContains => "not_contains",
            Op::StartsWith => "starts_with",
            Op::Gt => "gt",
            Op::Gte => "gte",
            Op::Lt => "lt",
            Op::Lte => "lte",
            Op::Any => "any",
            Op::All => "all",
            Op::None => "none",
            Op::IsNull => "is_null",
        }
    }

    pub fn parse(name: &str) -> Option<Op> {
        Self::ALL.into_iter().find(|op| op.name() == name)
    }

    /// Whether the operator applies to a column of this kind.
    pub fn fits(self, kind: Kind) -> bool {
        use Op::*;
        match self {
            IsNull => true,
            Any | All | None => kind == Kind::TextArray,
            Contains | NotContains | StartsWith => matches!(kind, Kind::Text | Kind::Keyword),
            Eq | Ne | In | NotIn => kind != Kind::TextArray,
            Gt | Gte | Lt | Lte => !matches!(kind, Kind::TextArray | Kind::Uuid),
        }
    }
}

/// One validated condition. `value` is what gets bound (patterns already built and escaped,
/// text already lower-cased); for `is_null` it is the wanted boolean and is never bound.
#[derive(Debug, Clone, PartialEq)]
pub struct Cond {
    pub field: &'static Field,
    pub op: Op,
    pub value: Datum,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Cond(Cond),
    AnyOf(Vec<Group>),
    Not(Group),
}

/// Conditions that must all hold.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Group(pub Vec<Node>);

impl Group {
    /// Every condition in the tree, depth first.
    pub fn conds(&self) -> Vec<&Cond> {
        let mut out = Vec::new();
        self.walk(&mut |c| out.push(c));
        out
    }

    fn walk<'a>(&'a self, f: &mut dyn FnMut(&'a Cond)) {
        for node in &self.0 {
            match node {
                Node::Cond(c) => f(c),
                Node::AnyOf(groups) => groups.iter().for_each(|g| g.walk(f)),
                Node::Not(g) => g.walk(f),
            }
        }
    }
}

/// Caps on the size of a filter tree.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_filters: usize,
    pub max_list_len: usize,
    pub max_depth: usize,
}

/// Parse and validate a `filters` object.
pub fn parse(entity: Entity, filters: &Value, limits: Limits) -> Result<Group, ApiError> {
    let mut parser = Parser {
        entity,
        limits,
        count: 0,
    };
    match filters {
        Value::Null => Ok(Group::default()),
        other => parser.group(other, 1, "filters"),
    }
}

struct Parser {
    entity: Entity,
    limits: Limits,
    count: usize,
}

impl Parser {
    fn group(&mut self, value: &Value, depth: usize, at: &str) -> Result<Group, ApiError> {
        if depth > self.limits.max_depth {
            return Err(ApiError::limit(
                "filter group depth",
                self.limits.max_depth as u64,
            ));
        }
        let object = value
            .as_object()
            .ok_or_else(|| ApiError::invalid(at, "a filter group must be an object"))?;
        // Only the top level may be empty (every row). A nested `{}` is nearly always a form
        // field left blank, and it would silently widen `any_of` to every row or narrow `not`
        // to none, so it is refused, like an empty list.
        if depth > 1 && object.is_empty() {
            return Err(ApiError::invalid(
                at,
                "a nested filter group must name at least one condition",
            ));
        }
        let mut nodes = Vec::with_capacity(object.len());
        for (key, value) in object {
            match key.as_str() {
                "any_of" => nodes.push(Node::AnyOf(self.groups(value, depth, key)?)),
                "all_of" => {
                    for g in self.groups(value, depth, key)? {
                        nodes.push(Node::AnyOf(vec![g]));
                    }
                }
                "not" => nodes.push(Node::Not(self.group(value, depth + 1, key)?)),
                name => self.conditions(name, value, &mut nodes)?,
            }
        }
        Ok(Group(nodes))
    }

    fn groups(&mut self, value: &Value, depth: usize, key: &str) -> Result<Vec<Group>, ApiError> {
        let list = value
            .as_array()
            .filter(|l| !l.is_empty())
            .ok_or_else(|| ApiError::invalid(key, "must be a non-empty list of filter groups"))?;
        list.iter().map(|g| self.group(g, depth + 1, key)).collect()
    }

    fn conditions(
        &mut self,
        name: &str,
        value: &Value,
        out: &mut Vec<Node>,
    ) -> Result<(), ApiError> {
        let field = self.entity.known(name)?;
        let ops = value.as_object().filter(|o| !o.is_empty()).ok_or_else(|| {
            ApiError::invalid(name, "expected an object of operators, e.g. {\"eq\": ...}")
        })?;
        for (op_name, operand) in ops {
            self.count += 1;
            if self.count > self.limits.max_filters {
                return Err(ApiError::limit(
                    "number of filter conditions",
                    self.limits.max_filters as u64,
                ));
            }
            let op = Op::parse(op_name)
                .filter(|op| op.fits(field.kind))
                .ok_or_else(|| ApiError::UnknownOperator {
                    field: name.to_owned(),
                    op: op_name.to_owned(),
                })?;
            let value = self.operand(name, field, op, operand)?;
            out.push(Node::Cond(Cond { field, op, value }));
        }
        Ok(())
    }

    fn operand(&self, name: &str, field: &Field, op: Op, v: &Value) -> Result<Datum, ApiError> {
        match op {
            Op::IsNull => v
                .as_bool()
                .map(Datum::Bool)
                .ok_or_else(|| ApiError::invalid(name, "is_null takes true or false")),
            Op::In | Op::NotIn | Op::Any | Op::All | Op::None => {
                let items = self.list(name, v)?;
                list_datum(name, field.kind, items)
            }
            Op::Contains | Op::NotContains => {
                Ok(Datum::Text(format!("%{}%", escape_like(&text(name, v)?))))
            }
            Op::StartsWith => Ok(Datum::Text(format!("{}%", escape_like(&text(name, v)?)))),
            Op::Eq | Op::Ne | Op::Gt | Op::Gte | Op::Lt | Op::Lte => scalar(name, field.kind, v),
        }
    }

    fn list<'v>(&self, name: &str, v: &'v Value) -> Result<&'v Vec<Value>, ApiError> {
        let items = v
            .as_array()
            .filter(|l| !l.is_empty())
            .ok_or_else(|| ApiError::invalid(name, "expected a non-empty list"))?;
        if items.len() > self.limits.max_list_len {
            return Err(ApiError::limit(
                format!("list length of `{name}`"),
                self.limits.max_list_len as u64,
            ));
        }
        Ok(items)
    }
}

/// Escape `%`, `_` and `\` so user text matches literally inside a LIKE pattern.
pub fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    for ch in s.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

fn text(name: &str, v: &Value) -> Result<String, ApiError> {
    let s = v
        .as_str()
        .ok_or_else(|| ApiError::invalid(name, "expected a string"))?;
    if s.chars().count() > MAX_VALUE_CHARS {
        return Err(ApiError::limit(
            format!("length of the value of `{name}`"),
            MAX_VALUE_CHARS as u64,
        ));
    }
    if s.contains('\0') {
        return Err(ApiError::invalid(
            name,
            "text may not contain NUL characters",
        ));
    }
    Ok(s.to_lowercase())
}

fn integer(name: &str, v: &Value) -> Result<i64, ApiError> {
    v.as_i64()
        .ok_or_else(|| ApiError::invalid(name, "expected an integer"))
}

fn scalar(name: &str, kind: Kind, v: &Value) -> Result<Datum, ApiError> {
    Ok(match kind {
        Kind::Text | Kind::Keyword => Datum::Text(text(name, v)?),
        Kind::Int => {
            let n = integer(name, v)?;
            Datum::Int(
                i32::try_from(n)
                    .map_err(|_| ApiError::invalid(name, "out of range for a 32-bit integer"))?,
            )
        }
        Kind::BigInt => Datum::BigInt(integer(name, v)?),
        Kind::Timestamp => Datum::Timestamp(timestamp(name, v)?),
        Kind::Uuid => Datum::Uuid(uuid(name, v)?),
        Kind::TextArray | Kind::Real => {
            return Err(ApiError::invalid(name, "arrays take any/all/none"))
        }
    })
}

fn list_datum(name: &str, kind: Kind, items: &[Value]) -> Result<Datum, ApiError> {
    Ok(match kind {
        Kind::Text | Kind::Keyword => Datum::TextArray(
            items
                .iter()
                .map(|v| text(name, v))
                .collect::<Result<_, _>>()?,
        ),
        // Arrays compare on their lower-cased twin, so their values are lower-cased too.
        Kind::TextArray => Datum::TextArray(
            items
                .iter()
                .map(|v| {
                    v.as_str()
                        .filter(|s| s.len() <= MAX_VALUE_CHARS && !s.contains('\0'))
                        .map(str::to_lowercase)
                        .ok_or_else(|| ApiError::invalid(name, "expected a list of short strings"))
                })
                .collect::<Result<_, _>>()?,
        ),
        Kind::Int | Kind::BigInt => Datum::IntArray(
            items
                .iter()
                .map(|v| integer(name, v))
                .collect::<Result<_, _>>()?,
        ),
        Kind::Timestamp => Datum::TimestampArray(
            items
                .iter()
                .map(|v| timestamp(name, v))
                .collect::<Result<_, _>>()?,
        ),
        Kind::Uuid => Datum::UuidArray(
            items
                .iter()
                .map(|v| uuid(name, v))
                .collect::<Result<_, _>>()?,
        ),
        Kind::Real => return Err(ApiError::invalid(name, "not a filterable field")),
    })
}

/// An RFC 3339 timestamp, or a bare date (`2024-01-31`), which means that day's midnight UTC:
/// "created since January" is usually asked with a date.
fn timestamp(name: &str, v: &Value) -> Result<DateTime<Utc>, ApiError> {
    v.as_str()
        .and_then(|s| {
            DateTime::parse_from_rfc3339(s)
                .map(|t| t.with_timezone(&Utc))
                .ok()
                .or_else(|| {
                    NaiveDate::parse_from_str(s, "%Y-%m-%d")
                        .ok()
                        .map(|d| d.and_time(NaiveTime::MIN).and_utc())
                })
        })
        .ok_or_else(|| {
            ApiError::invalid(
                name,
                "expected an RFC 3339 timestamp such as 2024-01-31T12:00:00Z, or a date such as 2024-01-31",
            )
        })
}

fn uuid(name: &str, v: &Value) -> Result<Uuid, ApiError> {
    v.as_str()
        .and_then(|s| Uuid::parse_str(s).ok())
        .ok_or_else(|| ApiError::invalid(name, "expected a UUID"))
}

/// Canonical form of a filter object, for fingerprints and cache keys: keys sorted (serde_json
/// maps are ordered), and nothing else changed.
pub fn canonical(filters: &Value) -> Value {
    match filters {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), canonical(v)))
                .collect::<Map<_, _>>(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const LIMITS: Limits = Limits {
        max_filters: 8,
        max_list_len: 3,
        max_depth: 3,
    };

    fn err(filters: Value) -> ApiError {
        parse(Entity::Contacts, &filters, LIMITS).unwrap_err()
    }

    #[test]
    fn unknown_fields_and_operators_are_named() {
        assert_eq!(err(json!({"nope": {"eq": 1}})).code(), "unknown_field");
        let e = err(json!({"first_name": {"near": "x"}}));
        assert_eq!(e.details()["operator"], "near");
        // An operator that exists but does not fit the type is just as unknown there.
        assert_eq!(
            err(json!({"departments": {"contains": "x"}})).code(),
            "unknown_operator"
        );
        // Company-only names are not contact fields; the error says what is.
        let e = err(json!({"name": {"eq": "x"}}));
        assert_eq!(e.code(), "unknown_field");
        assert_eq!(e.details()["field"], "name");
        assert!(e.to_string().contains("`company.name`"), "{e}");
        // On companies, the company's own fields are bare.
        let e = parse(
            Entity::Companies,
            &json!({"company.name": {"eq": "x"}}),
            LIMITS,
        )
        .unwrap_err();
        assert_eq!(e.code(), "unknown_field");
        assert!(e.to_string().contains("bare: `name`"), "{e}");
        // A name nobody has gets no hint.
        assert_eq!(
            err(json!({"nope": {"eq": 1}})).to_string(),
            "unknown field `nope`"
        );
    }

    #[test]
    fn values_are_typed_and_patterns_escaped() {
        let g = parse(
            Entity::Contacts,
            &json!({"first_name": {"contains": "50%_OFF\\"}, "company.employees_count": {"gte": 5}}),
            LIMITS,
        )
        .unwrap();
        let conds = g.conds();
        let value = |column: &str| {
            conds
                .iter()
                .find(|c| c.field.column == column)
                .map(|c| c.value.clone())
        };
        assert_eq!(
            value("first_name"),
            Some(Datum::Text("%50\\%\\_off\\\\%".into()))
        );
        assert_eq!(value("employees_count"), Some(Datum::Int(5)));
        assert_eq!(
            err(json!({"company.employees_count": {"gte": "5"}})).code(),
            "invalid_value"
        );
        assert_eq!(
            err(json!({"created_at": {"gt": "yesterday"}})).code(),
            "invalid_value"
        );
        assert_eq!(
            err(json!({"created_at": {"gt": "2024-02-30"}})).code(),
            "invalid_value"
        );
    }

    #[test]
    fn a_bare_date_is_that_days_midnight_utc() {
        let at = |v: &str| {
            let g = parse(Entity::Contacts, &json!({"created_at": {"gte": v}}), LIMITS).unwrap();
            g.conds()[0].value.clone()
        };
        assert_eq!(at("2024-01-31"), at("2024-01-31T00:00:00Z"));
        assert_eq!(at("2024-01-31"), at("2024-01-31T01:00:00+01:00"));
        assert_ne!(at("2024-01-31"), at("2024-01-31T00:00:01Z"));
    }

    #[test]
    fn only_the_top_level_group_may_be_empty() {
        assert!(parse(Entity::Contacts, &json!({}), LIMITS).is_ok());
        for filters in [
            json!({"not": {}}),
            json!({"any_of": [{}, {"first_name": {"eq": "x"}}]}),
            json!({"all_of": [{}]}),
        ] {
            let e = err(filters.clone());
            assert_eq!(e.code(), "invalid_value", "{filters}");
            assert!(["not", "any_of", "all_of"].contains(&e.details()["field"].as_str().unwrap()));
        }
    }

    #[test]
    fn caps_hold() {
        assert_eq!(
            err(json!({"seniority": {"in": ["a", "b", "c", "d"]}})).code(),
            "limit_exceeded"
        );
        assert_eq!(
            err(json!({"not": {"not": {"not": {"first_name": {"eq": "x"}}}}})).code(),
            "limit_exceeded"
        );
        let many: Map<String, Value> = ["first_name", "last_name", "email", "title", "seniority"]
            .iter()
            .map(|f| (f.to_string(), json!({"eq": "a", "ne": "b"})))
            .collect();
        assert_eq!(err(Value::Object(many)).code(), "limit_exceeded");
    }
}
