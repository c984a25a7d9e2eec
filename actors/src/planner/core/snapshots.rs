//! Snapshot tests of the planner: one `check` helper shows, for each request shape, the tier,
//! which tables are joined, the SQL and every bind. Update with `UPDATE_EXPECT=1 cargo test`.

use expect_test::{expect, Expect};
use serde_json::{json, Value};

use super::datum::Plain;
use super::fields::Entity;
use super::sql::Sql;
use super::Planner;
use crate::config::QueryConfig;
use crate::model::{CountRequest, FacetsRequest, SearchRequest};

fn planner() -> Planner {
    Planner::new(QueryConfig::default(), b"snapshot-secret")
}

fn render(sql: &Sql) -> String {
    let mut out = format!("{}\n", sql.text);
    for (i, b) in sql.binds.iter().enumerate() {
        let v = serde_json::to_string(&Plain(b)).unwrap_or_default();
        out.push_str(&format!("  ${} {} = {v}\n", i + 1, b.pg_type()));
    }
    out
}

fn check(entity: Entity, request: Value, expect: Expect) {
    let req: SearchRequest = serde_json::from_value(request).expect("a search request");
    let plan = planner().search(entity, &req).expect("plans");
    let mut out = format!(
        "tier: {}\n{}",
        plan.page.tier.name(),
        render(&plan.page.sql)
    );
    if let Some(total) = &plan.total {
        out.push_str(&format!("total: {}", render(total)));
    }
    expect.assert_eq(&out);
}

fn check_count(entity: Entity, request: Value, expect: Expect) {
    let req: CountRequest = serde_json::from_value(request).expect("a count request");
    expect.assert_eq(&render(&planner().count(entity, &req).expect("plans")));
}

fn check_facets(entity: Entity, request: Value, expect: Expect) {
    let req: FacetsRequest = serde_json::from_value(request).expect("a facets request");
    expect.assert_eq(&render(&planner().facets(entity, &req).expect("plans").0));
}

#[test]
fn contact_only_filters_touch_only_contacts() {
    check(
        Entity::Contacts,
        json!({"filters": {"first_name": {"contains": "john"}, "seniority": {"in": ["Senior", "director"]}}}),
        expect![[r#"
            tier: minimal
            SELECT c.uuid, c.first_name, c.last_name, c.email, c.title, c.seniority, c.departments, c.mobile_phone, c.email_status, c.company_id, c.created_at, c.updated_at, c.created_at AS k0, c.uuid AS k1 FROM contacts c WHERE (c.first_name ILIKE $1 AND c.seniority = ANY($2)) ORDER BY c.created_at DESC, c.uuid DESC LIMIT $3
              $1 text = "%john%"
              $2 text[] = ["senior","director"]
              $3 int8 = 26
        "#]],
    );
}

#[test]
fn company_filters_join_companies_and_nothing_else() {
    check(
        Entity::Contacts,
        json!({"filters": {"company.name": {"contains": "tech"}, "company.employees_count": {"gte": 50, "lte": 500}},
               "fields": ["uuid", "first_name"]}),
        expect![[r#"
            tier: company
            SELECT c.uuid, c.first_name, c.created_at AS k0, c.uuid AS k1 FROM contacts c LEFT JOIN companies co ON co.uuid = c.company_id WHERE (co.employees_count >= $1 AND co.employees_count <= $2 AND co.name ILIKE $3) ORDER BY c.created_at DESC, c.uuid DESC LIMIT $4
              $1 int4 = 50
              $2 int4 = 500
              $3 text = "%tech%"
              $4 int8 = 26
        "#]],
    );
}

#[test]
fn metadata_filters_join_only_the_metadata_table_named() {
    check(
        Entity::Contacts,
        json!({"filters": {"company_meta.website": {"contains": "example"}, "contact_meta.country": {"eq": "Germany"}},
               "fields": ["uuid"]}),
        expect![[r#"
            tier: metadata
            SELECT c.uuid, c.created_at AS k0, c.uuid AS k1 FROM contacts c LEFT JOIN contacts_metadata cm ON cm.uuid = c.uuid LEFT JOIN companies_metadata com ON com.uuid = c.company_id WHERE (com.website ILIKE $1 AND lower(cm.country) = $2) ORDER BY c.created_at DESC, c.uuid DESC LIMIT $3
              $1 text = "%example%"
              $2 text = "germany"
              $3 int8 = 26
        "#]],
    );
}

#[test]
fn projection_and_sort_join_their_tables_too() {
    check(
        Entity::Contacts,
        json!({"fields": ["first_name", "company.name", "contact_meta.city"],
               "sort": [{"field": "company.employees_count", "dir": "desc"}], "limit": 10}),
        expect![[r#"
            tier: full
            SELECT c.first_name, co.name, cm.city, co.employees_count AS k0, c.uuid AS k1 FROM contacts c LEFT JOIN companies co ON co.uuid = c.company_id LEFT JOIN contacts_metadata cm ON cm.uuid = c.uuid ORDER BY co.employees_count DESC, c.uuid DESC LIMIT $1
              $1 int8 = 11
        "#]],
    );
}

#[test]
fn arrays_use_gin_operators_and_groups_nest() {
    check(
        Entity::Contacts,
        json!({"filters": {"departments": {"any": ["Engineering", "Sales"]},
                           "company.technologies": {"all": ["Kubernetes"]},
                           "any_of": [{"title": {"starts_with": "vp"}}, {"seniority": {"eq": "VP"}}],
                           "not": {"email": {"is_null": true}}},
               "fields": ["uuid"]}),
        expect![[r#"
            tier: company
            SELECT c.uuid, c.created_at AS k0, c.uuid AS k1 FROM contacts c LEFT JOIN companies co ON co.uuid = c.company_id WHERE ((c.title ILIKE $1 OR c.seniority = $2) AND co.technologies_lower @> $3 AND c.departments_lower && $4 AND NOT coalesce((c.email IS NULL), false)) ORDER BY c.created_at DESC, c.uuid DESC LIMIT $5
              $1 text = "vp%"
              $2 text = "vp"
              $3 text[] = ["kubernetes"]
              $4 text[] = ["engineering","sales"]
              $5 int8 = 26
        "#]],
    );
}

#[test]
fn counts_use_exists_and_never_join() {
    check_count(
        Entity::Contacts,
        json!({"filters": {"first_name": {"eq": "Ada"}, "company.name": {"contains": "acme"},
                           "company.employees_count": {"gt": 10}, "contact_meta.city": {"is_null": true}}}),
        expect![[r#"
            SELECT count(*) FROM contacts c WHERE (NOT EXISTS (SELECT 1 FROM contacts_metadata cm WHERE cm.uuid = c.uuid AND cm.city IS NOT NULL) AND lower(c.first_name) = $3 AND EXISTS (SELECT 1 FROM companies co WHERE co.uuid = c.company_id AND co.employees_count > $1 AND co.name ILIKE $2))
              $1 int4 = 10
              $2 text = "%acme%"
              $3 text = "ada"
        "#]],
    );
}

#[test]
fn with_total_counts_beside_the_page() {
    check(
        Entity::Companies,
        json!({"filters": {"company_meta.country": {"eq": "germany"}}, "with_total": true, "fields": ["name"]}),
        expect![[r#"
            tier: metadata
            SELECT co.name, co.created_at AS k0, co.uuid AS k1 FROM companies co LEFT JOIN companies_metadata com ON com.uuid = co.uuid WHERE lower(com.country) = $1 ORDER BY co.created_at DESC, co.uuid DESC LIMIT $2
              $1 text = "germany"
              $2 int8 = 26
            total: SELECT count(*) FROM companies co WHERE EXISTS (SELECT 1 FROM companies_metadata com WHERE com.uuid = co.uuid AND lower(com.country) = $1)
              $1 text = "germany"
        "#]],
    );
}

#[test]
fn free_text_and_similarity() {
    check(
        Entity::Contacts,
        json!({"q": "Ada  Lovelace", "fields": ["uuid"]}),
        expect![[r#"
            tier: minimal
            SELECT c.uuid, c.created_at AS k0, c.uuid AS k1 FROM contacts c WHERE c.text_search ILIKE $1 AND c.text_search ILIKE $2 ORDER BY c.created_at DESC, c.uuid DESC LIMIT $3
              $1 text = "%ada%"
              $2 text = "%lovelace%"
              $3 int8 = 26
        "#]],
    );
    check(
        Entity::Contacts,
        json!({"q": " Jon  Smth", "rank": "similarity", "fields": ["uuid"]}),
        expect![[r#"
            tier: minimal
            SELECT c.uuid, (SELECT sum(word_similarity(w, c.text_search)) FROM unnest(string_to_array($1, ' ')) AS w) AS k0, c.uuid AS k1 FROM contacts c WHERE $1 <% c.text_search ORDER BY (SELECT sum(word_similarity(w, c.text_search)) FROM unnest(string_to_array($1, ' ')) AS w) DESC, c.uuid DESC LIMIT $2
              $1 text = "jon smth"
              $2 int8 = 26
        "#]],
    );
}

#[test]
fn cursors_become_keyset_conditions() {
    let p = planner();
    let first: SearchRequest =
        serde_json::from_value(json!({"fields": ["uuid"], "limit": 2})).unwrap();
    let plan = p.search(Entity::Contacts, &first).unwrap();
    let keys = vec![
        super::datum::Datum::Timestamp("2024-02-03T00:00:00Z".parse().unwrap()),
        super::datum::Datum::Uuid(uuid::Uuid::nil()),
    ];
    let cursor = p.next_cursor(&plan, &keys);
    check(
        Entity::Contacts,
        json!({"fields": ["uuid"], "limit": 2, "cursor": cursor}),
        expect![[r#"
            tier: minimal
            SELECT c.uuid, c.created_at AS k0, c.uuid AS k1 FROM contacts c WHERE (c.created_at, c.uuid) < ($1, $2) ORDER BY c.created_at DESC, c.uuid DESC LIMIT $3
              $1 timestamptz = "2024-02-03T00:00:00Z"
              $2 uuid = "00000000-0000-0000-0000-000000000000"
              $3 int8 = 3
        "#]],
    );
    // Nullable keys in mixed directions expand into an OR of ties.
    let sorted: SearchRequest = serde_json::from_value(
        json!({"fields": ["uuid"], "sort": [{"field": "last_name", "dir": "asc"}]}),
    )
    .unwrap();
    let plan = p.search(Entity::Contacts, &sorted).unwrap();
    let cursor = p.next_cursor(
        &plan,
        &[
            super::datum::Datum::Text("smith".into()),
            super::datum::Datum::Uuid(uuid::Uuid::nil()),
        ],
    );
    check(
        Entity::Contacts,
        json!({"fields": ["uuid"], "sort": [{"field": "last_name", "dir": "asc"}], "cursor": cursor}),
        expect![[r#"
            tier: minimal
            SELECT c.uuid, lower(c.last_name) AS k0, c.uuid AS k1 FROM contacts c WHERE (((lower(c.last_name) > $1 OR lower(c.last_name) IS NULL)) OR (lower(c.last_name) = $2 AND c.uuid > $3)) ORDER BY lower(c.last_name) ASC, c.uuid ASC LIMIT $4
              $1 text = "smith"
              $2 text = "smith"
              $3 uuid = "00000000-0000-0000-0000-000000000000"
              $4 int8 = 26
        "#]],
    );
}

#[test]
fn facets_unnest_arrays_and_share_the_filter() {
    check_facets(
        Entity::Contacts,
        json!({"filters": {"company.name": {"contains": "acme"}}, "facets": ["seniority", "departments", "company.industries"], "size": 5}),
        expect![[r#"
            (SELECT 0 AS facet, c.seniority::text AS value, count(*) AS n FROM contacts c LEFT JOIN companies co ON co.uuid = c.company_id WHERE co.name ILIKE $1 AND c.seniority IS NOT NULL GROUP BY 2 ORDER BY 3 DESC, 2 LIMIT $2) UNION ALL (SELECT 1 AS facet, (array_agg(value ORDER BY n DESC, value COLLATE "C"))[1] AS value, sum(n)::int8 AS n FROM (SELECT fv AS value, count(*) AS n FROM contacts c LEFT JOIN companies co ON co.uuid = c.company_id CROSS JOIN LATERAL unnest(c.departments) fv WHERE co.name ILIKE $1 AND c.departments IS NOT NULL GROUP BY 1) spelled GROUP BY lower(value) ORDER BY 3 DESC, 2 LIMIT $2) UNION ALL (SELECT 2 AS facet, (array_agg(value ORDER BY n DESC, value COLLATE "C"))[1] AS value, sum(n)::int8 AS n FROM (SELECT fv AS value, count(*) AS n FROM contacts c LEFT JOIN companies co ON co.uuid = c.company_id CROSS JOIN LATERAL unnest(co.industries) fv WHERE co.name ILIKE $1 AND co.industries IS NOT NULL GROUP BY 1) spelled GROUP BY lower(value) ORDER BY 3 DESC, 2 LIMIT $2)
              $1 text = "%acme%"
              $2 int8 = 5
        "#]],
    );
}

#[test]
fn a_facet_named_twice_is_counted_once() {
    check_facets(
        Entity::Contacts,
        json!({"facets": ["seniority", "seniority"], "size": 1}),
        expect![[r#"
            (SELECT 0 AS facet, c.seniority::text AS value, count(*) AS n FROM contacts c WHERE c.seniority IS NOT NULL GROUP BY 2 ORDER BY 3 DESC, 2 LIMIT $1)
              $1 int8 = 1
        "#]],
    );
}

#[test]
fn injection_strings_only_ever_become_binds() {
    let evil = "x'; DROP TABLE contacts; --";
    let req: SearchRequest = serde_json::from_value(json!({
        "filters": {"first_name": {"eq": evil}, "company.name": {"contains": evil}, "departments": {"any": [evil]}},
        "q": evil})).unwrap();
    let plan = planner().search(Entity::Contacts, &req).unwrap();
    assert!(
        !plan.page.sql.text.contains("DROP"),
        "{}",
        plan.page.sql.text
    );
    assert!(
        !plan.page.sql.text.contains('\''),
        "no literal ever reaches the SQL text"
    );
}
