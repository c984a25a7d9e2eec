//! SQL text from a validated request. The only place in Rolodex where SQL for queries is built.
//!
//! Rules (DESIGN §6): join only the tables a request touches; counts use `EXISTS` instead of
//! joins; every value is a `$n` bind; every name comes from the whitelist in [`super::fields`].

use std::collections::BTreeSet;
use std::fmt::Write;

use serde::Serialize;

use super::datum::Datum;
use super::fields::{Entity, Field, Kind, Table};
use super::filter::{Cond, Group, Node, Op};

/// How broad a plan is, by the tables it touches. Reported by `explain` and the monitor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// The entity's own table only.
    Minimal,
    /// Plus the companies table.
    Company,
    /// Plus one or both metadata tables.
    Metadata,
    /// Companies and metadata.
    Full,
}

impl Tier {
    fn of(entity: Entity, tables: &BTreeSet<Table>) -> Tier {
        let company = entity == Entity::Contacts && tables.contains(&Table::Companies);
        let meta = tables.contains(&Table::ContactsMeta) || tables.contains(&Table::CompaniesMeta);
        match (company, meta) {
            (false, false) => Tier::Minimal,
            (true, false) => Tier::Company,
            (false, true) => Tier::Metadata,
            (true, true) => Tier::Full,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Tier::Minimal => "minimal",
            Tier::Company => "company",
            Tier::Metadata => "metadata",
            Tier::Full => "full",
        }
    }
}

/// SQL text plus its binds, in `$n` order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sql {
    pub text: String,
    pub binds: Vec<Datum>,
}

impl Sql {
    /// Add a bind and return its placeholder.
    pub fn bind(&mut self, value: Datum) -> String {
        self.binds.push(value);
        format!("${}", self.binds.len())
    }
}

/// The placeholder of the similarity text: [`Query::where_clause`] binds it first, so sort
/// keys built before the statement can name it.
pub const SIMILARITY_BIND: &str = "$1";

/// Related-table conditions either refer to a joined alias or become `EXISTS` subqueries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Join,
    Exists,
}

/// Direction of a sort key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dir {
    Asc,
    Desc,
}

/// One resolved sort key: the SQL expression, how to decode it, its direction, and whether it
/// can be NULL (which changes the keyset predicate).
#[derive(Debug, Clone, PartialEq)]
pub struct SortKey {
    pub expr: String,
    pub kind: Kind,
    pub dir: Dir,
    pub nullable: bool,
    pub table: Table,
}

impl SortKey {
    /// Sort on a whitelisted field. Text sorts case-insensitively on `lower(col)`, which the
    /// same B-tree indexes serve as equality filters.
    pub fn on(entity: Entity, field: &'static Field, dir: Dir) -> SortKey {
        let expr = match field.kind {
            Kind::Text => format!("lower({})", field.qualified()),
            _ => field.qualified(),
        };
        SortKey {
            expr,
            kind: field.kind,
            dir,
            nullable: !(field.table == entity.base()
                && matches!(field.column, "uuid" | "created_at" | "updated_at")),
            table: field.table,
        }
    }

    /// The base table's uuid, the tie-breaker that makes every order total.
    pub fn uuid(entity: Entity, dir: Dir) -> SortKey {
        let base = entity.base();
        SortKey {
            expr: format!("{}.uuid", base.alias()),
            kind: Kind::Uuid,
            dir,
            nullable: false,
            table: base,
        }
    }
}

/// What a plan is for, beyond the common filter.
#[derive(Debug, Clone, PartialEq)]
pub struct Query<'a> {
    pub entity: Entity,
    pub filter: &'a Group,
    /// Lower-cased free-text tokens, each of which must occur in `text_search`.
    pub text_tokens: &'a [String],
    /// Typo-tolerant text: match and rank by pg_trgm word similarity.
    pub similar_to: Option<&'a str>,
}

impl Query<'_> {
    fn base(&self) -> Table {
        self.entity.base()
    }

    /// Tables the WHERE clause needs joined (in join mode).
    fn filter_tables(&self) -> BTreeSet<Table> {
        self.filter
            .conds()
            .iter()
            .map(|c| c.field.table)
            .filter(|t| *t != self.base())
            .collect()
    }

    /// The WHERE clause (without the keyword), `TRUE` when there is nothing to filter.
    pub fn where_clause(&self, sql: &mut Sql, access: Access) -> String {
        let mut parts = Vec::new();
        let text_col = || format!("{}.text_search", self.base().alias());
        if let Some(q) = self.similar_to {
            let p = sql.bind(Datum::Text(q.to_owned()));
            debug_assert_eq!(
                p, SIMILARITY_BIND,
                "the similarity text must be the first bind"
            );
            parts.push(format!("{p} <% {}", text_col()));
        }
        let filter = compile_group(self.entity, self.filter, access, sql);
        if filter != "TRUE" {
            parts.push(filter);
        }
        for token in self.text_tokens {
            let p = sql.bind(Datum::Text(format!(
                "%{}%",
                super::filter::escape_like(token)
            )));
            parts.push(format!("{} ILIKE {p}", text_col()));
        }
        if parts.is_empty() {
            "TRUE".into()
        } else {
            parts.join(" AND ")
        }
    }
}

fn joins(entity: Entity, tables: &BTreeSet<Table>) -> String {
    let mut out = String::new();
    for t in tables {
        if let Some(link) = t.link(entity) {
            let _ = write!(
                out,
                " LEFT JOIN {} {} ON {}.uuid = {link}",
                t.name(),
                t.alias(),
                t.alias()
            );
        }
    }
    out
}

fn from(entity: Entity, tables: &BTreeSet<Table>) -> String {
    let base = entity.base();
    format!(
        "FROM {} {}{}",
        base.name(),
        base.alias(),
        joins(entity, tables)
    )
}

fn compile_group(entity: Entity, group: &Group, access: Access, sql: &mut Sql) -> String {
    let mut parts: Vec<String> = Vec::new();
    // In EXISTS mode, positive conditions on one related table share one subquery.
    let mut shared: Vec<(Table, Vec<String>)> = Vec::new();
    for node in &group.0 {
        match node {
            Node::Cond(c) => {
                let related = c.field.table != entity.base();
                if access == Access::Exists && related && !holds_on_null(c) {
                    let text = condition(c, sql);
                    match shared.iter_mut().find(|(t, _)| *t == c.field.table) {
                        Some((_, conds)) => conds.push(text),
                        None => shared.push((c.field.table, vec![text])),
                    }
                } else if access == Access::Exists && related {
                    parts.push(not_exists_non_null(entity, c));
                } else {
                    parts.push(condition(c, sql));
                }
            }
            Node::AnyOf(groups) => {
                let alts: Vec<String> = groups
                    .iter()
                    .map(|g| compile_group(entity, g, access, sql))
                    .collect();
                parts.push(if alts.len() == 1 {
                    alts.into_iter().next().unwrap_or_default()
                } else {
                    format!("({})", alts.join(" OR "))
                });
            }
            Node::Not(g) => parts.push(format!(
                "NOT coalesce(({}), false)",
                compile_group(entity, g, access, sql)
            )),
        }
    }
    for (table, conds) in shared {
        parts.push(exists(entity, table, &conds.join(" AND ")));
    }
    match parts.len() {
        0 => "TRUE".into(),
        1 => parts.pop().unwrap_or_default(),
        _ => format!("({})", parts.join(" AND ")),
    }
}

/// `is_null: true` is the one condition a missing related row satisfies.
fn holds_on_null(c: &Cond) -> bool {
    c.op == Op::IsNull && c.value == Datum::Bool(true)
}

fn exists(entity: Entity, table: Table, cond: &str) -> String {
    let link = table.link(entity).unwrap_or("NULL");
    format!(
        "EXISTS (SELECT 1 FROM {} {} WHERE {}.uuid = {link} AND {cond})",
        table.name(),
        table.alias(),
        table.alias()
    )
}

/// A related column is NULL when there is no related row or the row holds NULL there.
fn not_exists_non_null(entity: Entity, c: &Cond) -> String {
    format!(
        "NOT {}",
        exists(
            entity,
            c.field.table,
            &format!("{} IS NOT NULL", c.field.qualified())
        )
    )
}

/// One condition as SQL. Text compares on `lower(col)` (values arrive lower-cased); patterns
/// use ILIKE so trigram GIN indexes serve them; arrays use `&&` / `@>` on their lower-cased
/// twin (`col_lower`, generated by PostgreSQL; migrations) so GIN serves them.
fn condition(c: &Cond, sql: &mut Sql) -> String {
    let col = c.field.qualified();
    let lhs = match c.field.kind {
        Kind::Text => format!("lower({col})"),
        Kind::TextArray => format!("{col}_lower"),
        _ => col.clone(),
    };
    if c.op == Op::IsNull {
        let not = if c.value == Datum::Bool(true) {
            ""
        } else {
            " NOT"
        };
        return format!("{col} IS{not} NULL");
    }
    let p = sql.bind(c.value.clone());
    match c.op {
        Op::Eq => format!("{lhs} = {p}"),
        Op::Ne => format!("{lhs} <> {p}"),
        Op::In => format!("{lhs} = ANY({p})"),
        Op::NotIn => format!("{lhs} <> ALL({p})"),
        Op::Contains | Op::StartsWith => format!("{col} ILIKE {p}"),
        Op::NotContains => format!("{col} NOT ILIKE {p}"),
        Op::Gt => format!("{lhs} > {p}"),
        Op::Gte => format!("{lhs} >= {p}"),
        Op::Lt => format!("{lhs} < {p}"),
        Op::Lte => format!("{lhs} <= {p}"),
        Op::Any => format!("{lhs} && {p}"),
        Op::All => format!("{lhs} @> {p}"),
        Op::None => format!("NOT ({lhs} && {p})"),
        Op::IsNull => unreachable_is_null(),
    }
}

fn unreachable_is_null() -> String {
    // Handled above; kept total without a panic path.
    "FALSE".into()
}

/// Room for a page statement of the default projection with its filters and keyset, so the
/// common page is written without reallocating; a longer one grows as any `String` does.
const PAGE_TEXT_CAPACITY: usize = 1024;

/// A page query.
#[derive(Debug, Clone, PartialEq)]
pub struct PagePlan {
    pub sql: Sql,
    pub tier: Tier,
    /// Projected fields, in output order; the sort keys follow them in the row.
    pub columns: Vec<&'static Field>,
    pub sort: Vec<SortKey>,
}

/// Where a page starts.
#[derive(Debug, Clone, PartialEq)]
pub enum Start {
    Offset(u64),
    /// Strictly after this sort-key tuple (as decoded from a cursor).
    After(Vec<Datum>),
}

/// Build a page query: projection, joins for filters, projection and sort, keyset or offset,
/// and `LIMIT limit + 1` so the caller knows whether a next page exists.
pub fn page(
    q: &Query<'_>,
    columns: Vec<&'static Field>,
    sort: Vec<SortKey>,
    start: &Start,
    limit: u32,
) -> PagePlan {
    let mut sql = Sql::default();
    let mut tables = q.filter_tables();
    tables.extend(columns.iter().map(|f| f.table));
    tables.extend(sort.iter().map(|k| k.table));
    tables.remove(&q.base());
    let mut filter = q.where_clause(&mut sql, Access::Join);
    if let Start::After(values) = start {
        let keyset = keyset(&sort, values, &mut sql);
        filter = if filter == "TRUE" {
            keyset
        } else {
            format!("{filter} AND {keyset}")
        };
    }
    // One buffer, written in order: planning runs on every request, and a list of pieces
    // joined at the end cost as much as the rest of the plan.
    let mut text = String::with_capacity(PAGE_TEXT_CAPACITY);
    text.push_str("SELECT ");
    for (i, f) in columns.iter().enumerate() {
        if i > 0 {
            text.push_str(", ");
        }
        f.write_qualified(&mut text);
    }
    for (i, k) in sort.iter().enumerate() {
        if i > 0 || !columns.is_empty() {
            text.push_str(", ");
        }
        let _ = write!(text, "{} AS k{i}", k.expr);
    }
    text.push(' ');
    text.push_str(&from(q.entity, &tables));
    if filter != "TRUE" {
        text.push_str(" WHERE ");
        text.push_str(&filter);
    }
    text.push_str(" ORDER BY ");
    for (i, k) in sort.iter().enumerate() {
        if i > 0 {
            text.push_str(", ");
        }
        text.push_str(&k.expr);
        text.push_str(if k.dir == Dir::Asc { " ASC" } else { " DESC" });
    }
    let p = sql.bind(Datum::BigInt(i64::from(limit) + 1));
    let _ = write!(text, " LIMIT {p}");
    if let Start::Offset(n) = start {
        if *n > 0 {
            let p = sql.bind(Datum::BigInt(*n as i64));
            let _ = write!(text, " OFFSET {p}");
        }
    }
    sql.text = text;
    PagePlan {
        sql,
        tier: Tier::of(q.entity, &tables),
        columns,
        sort,
    }
}

/// The keyset predicate "strictly after `values` in `sort` order". Default null ordering
/// (ASC NULLS LAST, DESC NULLS FIRST) keeps plain B-tree indexes usable. When every key is
/// non-null and all run one way it is a single row comparison, which the index serves directly.
fn keyset(sort: &[SortKey], values: &[Datum], sql: &mut Sql) -> String {
    let same_dir = sort.iter().all(|k| k.dir == sort[0].dir);
    if same_dir
        && sort
            .iter()
            .zip(values)
            .all(|(k, v)| !k.nullable && !v.is_null())
    {
        let cols: Vec<&str> = sort.iter().map(|k| k.expr.as_str()).collect();
        let binds: Vec<String> = values.iter().map(|v| sql.bind(v.clone())).collect();
        let op = if sort[0].dir == Dir::Asc { ">" } else { "<" };
        return format!("({}) {op} ({})", cols.join(", "), binds.join(", "));
    }
    let mut alternatives = Vec::new();
    for i in 0..sort.len() {
        let mut conj: Vec<String> = Vec::new();
        for j in 0..i {
            conj.push(tie(&sort[j], &values[j], sql));
        }
        match after(&sort[i], &values[i], sql) {
            Some(a) => conj.push(a),
            None => continue,
        }
        alternatives.push(format!("({})", conj.join(" AND ")));
    }
    if alternatives.is_empty() {
        "FALSE".into()
    } else {
        format!("({})", alternatives.join(" OR "))
    }
}

fn tie(k: &SortKey, v: &Datum, sql: &mut Sql) -> String {
    if v.is_null() {
        format!("{} IS NULL", k.expr)
    } else {
        format!("{} = {}", k.expr, sql.bind(v.clone()))
    }
}

fn after(k: &SortKey, v: &Datum, sql: &mut Sql) -> Option<String> {
    match (k.dir, v.is_null()) {
        (Dir::Asc, false) if k.nullable => Some(format!(
            "({} > {} OR {} IS NULL)",
            k.expr,
            sql.bind(v.clone()),
            k.expr
        )),
        (Dir::Asc, false) => Some(format!("{} > {}", k.expr, sql.bind(v.clone()))),
        // Nulls sort last ascending: nothing comes after them but ties.
        (Dir::Asc, true) => None,
        (Dir::Desc, false) => Some(format!("{} < {}", k.expr, sql.bind(v.clone()))),
        // Nulls sort first descending: every non-null value comes after them.
        (Dir::Desc, true) => Some(format!("{} IS NOT NULL", k.expr)),
    }
}

/// `SELECT count(*)` with related-table conditions as `EXISTS` subqueries: no joins at all.
pub fn count(q: &Query<'_>) -> Sql {
    let mut sql = Sql::default();
    let filter = q.where_clause(&mut sql, Access::Exists);
    let base = q.base();
    sql.text = format!("SELECT count(*) FROM {} {}", base.name(), base.alias());
    if filter != "TRUE" {
        let _ = write!(sql.text, " WHERE {filter}");
    }
    sql
}

/// The statement whose row estimate answers an estimated count.
pub fn estimate(q: &Query<'_>) -> Sql {
    let mut sql = count(q);
    sql.text = format!(
        "EXPLAIN (FORMAT JSON) {}",
        sql.text.replacen("count(*)", "1", 1)
    );
    sql
}

/// Top values of each facet field among the matching rows, arrays unnested, as rows of
/// `(facet index, value as text, count)`.
pub fn facets(q: &Query<'_>, fields: &[&'static Field], size: u32) -> Sql {
    let mut sql = Sql::default();
    let filter = q.where_clause(&mut sql, Access::Join);
    let size = sql.bind(Datum::BigInt(i64::from(size)));
    let mut branches = Vec::new();
    for (i, f) in fields.iter().enumerate() {
        let mut tables = q.filter_tables();
        tables.insert(f.table);
        tables.remove(&q.base());
        let col = f.qualified();
        let (value, lateral) = if f.kind == Kind::TextArray {
            (
                "fv".to_owned(),
                format!(" CROSS JOIN LATERAL unnest({col}) fv"),
            )
        } else {
            (format!("{col}::text"), String::new())
        };
        let mut where_ = format!("{col} IS NOT NULL");
        if filter != "TRUE" {
            where_ = format!("{filter} AND {where_}");
        }
        let source = from(q.entity, &tables);
        branches.push(if matches!(f.kind, Kind::Text | Kind::TextArray) {
            // Filters match text in any case, so a count must too: "Sales" and "sales" are one
            // value, shown as its most frequent spelling (on a tie, the first in byte order:
            // capitals first). Grouping the stored values, then their distinct spellings,
            // costs little over the one grouping unless the spellings run to hundreds of
            // thousands (BENCHMARKS.md, tenth round).
            format!(
                "(SELECT {i} AS facet, (array_agg(value ORDER BY n DESC, value COLLATE \"C\"))[1] AS value, sum(n)::int8 AS n \
                 FROM (SELECT {value} AS value, count(*) AS n {source}{lateral} WHERE {where_} GROUP BY 1) spelled \
                 GROUP BY lower(value) ORDER BY 3 DESC, 2 LIMIT {size})"
            )
        } else {
            format!(
                "(SELECT {i} AS facet, {value} AS value, count(*) AS n {source}{lateral} WHERE {where_} GROUP BY 2 ORDER BY 3 DESC, 2 LIMIT {size})"
            )
        });
    }
    sql.text = branches.join(" UNION ALL ");
    sql
}

/// One entity by uuid with every related table joined.
pub fn get(entity: Entity, uuid: uuid::Uuid) -> (Sql, Vec<&'static Field>) {
    let columns: Vec<&'static Field> = entity.fields().filter(|f| !f.is_derived()).collect();
    let tables: BTreeSet<Table> = columns
        .iter()
        .map(|f| f.table)
        .filter(|t| *t != entity.base())
        .collect();
    let mut sql = Sql::default();
    let select: Vec<String> = columns.iter().map(|f| f.qualified()).collect();
    let p = sql.bind(Datum::Uuid(uuid));
    sql.text = format!(
        "SELECT {} {} WHERE {}.uuid = {p}",
        select.join(", "),
        from(entity, &tables),
        entity.base().alias()
    );
    (sql, columns)
}
