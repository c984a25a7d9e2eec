//! The filter language over NATS (issue: search that joins only what it needs): every
//! operator, groups, cursors through a whole result, facets, counts, streams, explain, and
//! hostile values.

use std::collections::HashSet;
use std::time::Duration;

use rolodex::client::{self, Format};
use serde_json::{json, Value};

use crate::harness::{short, uuids, Instance, SMALL_DATASET};

async fn found(i: &Instance, filters: Value) -> Vec<String> {
    short(&uuids(
        &i.ok(
            "contacts.search",
            json!({"filters": filters, "fields": ["uuid"]}),
        )
        .await,
    ))
}

#[tokio::test]
async fn every_operator_selects_what_it_says() {
    let i = Instance::start("q_ops").await;
    i.sql(SMALL_DATASET).await;
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (json!({"first_name": {"eq": "JOHN"}}), vec!["1"]),
        (json!({"first_name": {"ne": "john"}}), vec!["4", "3", "2"]),
        (
            json!({"seniority": {"in": ["VP", "director"]}}),
            vec!["3", "1"],
        ),
        (
            json!({"seniority": {"not_in": ["vp", "director"]}}),
            vec!["4", "2"],
        ),
        (json!({"title": {"contains": "engineer"}}), vec!["3", "2"]),
        (
            json!({"title": {"not_contains": "engineer"}}),
            vec!["4", "1"],
        ),
        (json!({"email": {"starts_with": "jo"}}), vec!["2", "1"]),
        (json!({"email": {"contains": "%"}}), vec![]),
        (
            json!({"created_at": {"gt": "2024-02-02T00:00:00Z"}}),
            vec!["4", "3"],
        ),
        (
            json!({"created_at": {"gte": "2024-02-02T00:00:00Z"}}),
            vec!["4", "3", "2"],
        ),
        (
            json!({"created_at": {"lt": "2024-02-02T00:00:00Z"}}),
            vec!["1"],
        ),
        (
            json!({"created_at": {"lte": "2024-02-02T00:00:00Z"}}),
            vec!["2", "1"],
        ),
        // A bare date is that day's midnight UTC.
        (
            json!({"created_at": {"gte": "2024-02-02"}}),
            vec!["4", "3", "2"],
        ),
        (
            json!({"departments": {"any": ["Research", "Sales"]}}),
            vec!["4", "3", "1"],
        ),
        (
            json!({"departments": {"all": ["Engineering", "Research"]}}),
            vec!["3"],
        ),
        (json!({"departments": {"none": ["Sales"]}}), vec!["3", "2"]),
        // Arrays match case-insensitively, as text does.
        (
            json!({"departments": {"any": ["research", "SALES"]}}),
            vec!["4", "3", "1"],
        ),
        (json!({"departments": {"none": ["sales"]}}), vec!["3", "2"]),
        (json!({"email": {"is_null": true}}), vec!["4"]),
        (
            json!({"email_status": {"is_null": false}}),
            vec!["3", "2", "1"],
        ),
        (
            json!({"company.name": {"contains": "acme"}}),
            vec!["4", "1"],
        ),
        (
            json!({"company.employees_count": {"gte": 50, "lte": 500}}),
            vec!["4", "1"],
        ),
        (
            json!({"company.technologies": {"all": ["Kubernetes"]}}),
            vec!["4", "1"],
        ),
        (
            json!({"company.technologies": {"all": ["kubernetes"]}}),
            vec!["4", "1"],
        ),
        (json!({"company.name": {"is_null": true}}), vec!["3"]),
        (
            json!({"company_meta.website": {"contains": "acme"}}),
            vec!["4", "1"],
        ),
        (
            json!({"contact_meta.country": {"eq": "germany"}}),
            vec!["1"],
        ),
        (
            json!({"contact_meta.city": {"is_null": true}}),
            vec!["4", "2"],
        ),
        (
            json!({"company.uuid": {"eq": "00000000-0000-0000-0000-00000000c002"}}),
            vec!["2"],
        ),
    ];
    for (filters, expected) in cases {
        let got = found(&i, filters.clone()).await;
        assert_eq!(got, expected, "{filters}");
        // The count agrees with the search, through EXISTS instead of joins.
        let count = i.ok("contacts.count", json!({"filters": filters})).await;
        assert_eq!(count["count"], expected.len(), "count of {filters}");
    }
    i.stop().await.unwrap();
}

#[tokio::test]
async fn groups_combine_across_tables() {
    let i = Instance::start("q_groups").await;
    i.sql(SMALL_DATASET).await;
    let any = json!({"any_of": [{"seniority": {"eq": "vp"}}, {"company.name": {"eq": "globex"}}]});
    assert_eq!(found(&i, any).await, ["2", "1"]);
    let not = json!({"not": {"company.name": {"contains": "acme"}}});
    assert_eq!(
        found(&i, not).await,
        ["3", "2"],
        "no company counts as not acme"
    );
    let nested = json!({"departments": {"any": ["Engineering", "Sales"]},
                        "not": {"any_of": [{"contact_meta.country": {"eq": "germany"}}, {"email": {"is_null": true}}]}});
    assert_eq!(found(&i, nested).await, ["3", "2"]);
    let all_of =
        json!({"all_of": [{"title": {"contains": "of"}}, {"title": {"not_contains": "sales"}}]});
    assert_eq!(found(&i, all_of).await, ["3"]);
    assert_eq!(
        i.err(
            "contacts.search",
            json!({"filters": {"not": {"not": {"not": {"not": {"email": {"is_null": true}}}}}}})
        )
        .await,
        (400, "limit_exceeded".into())
    );
    // A blank nested group would make `any_of` match every row: refused, like an empty list.
    assert_eq!(
        i.err(
            "contacts.search",
            json!({"filters": {"any_of": [{}, {"seniority": {"eq": "vp"}}]}})
        )
        .await,
        (400, "invalid_value".into())
    );
    i.stop().await.unwrap();
}

/// 137 contacts whose created_at repeats (ties broken by uuid), a third without a last name.
const MANY: &str = "INSERT INTO contacts (uuid, first_name, last_name, created_at)
    SELECT md5(g::text)::uuid, 'n' || g, CASE WHEN g % 3 = 0 THEN NULL ELSE 'l' || (g % 17) END,
           '2024-01-01'::timestamptz + (g % 40) * interval '1 hour'
    FROM generate_series(1, 137) g";

async fn page_through(i: &Instance, base: Value) -> Vec<String> {
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut req = base.clone();
        req["cursor"] = json!(cursor);
        let page = i.ok("contacts.search", req).await;
        seen.extend(uuids(&page));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return seen,
        }
    }
}

async fn sql_order(i: &Instance, order: &str) -> Vec<String> {
    sqlx::query_scalar::<_, uuid::Uuid>(&format!("SELECT uuid FROM contacts c ORDER BY {order}"))
        .fetch_all(&i.db)
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.to_string())
        .collect()
}

#[tokio::test]
async fn cursors_page_through_every_row_exactly_once_in_order() {
    let i = Instance::start("q_cursor").await;
    i.sql(MANY).await;
    let default = page_through(&i, json!({"limit": 10, "fields": ["uuid"]})).await;
    assert_eq!(default, sql_order(&i, "created_at DESC, uuid DESC").await);
    let by_name = page_through(
        &i,
        json!({"limit": 7, "fields": ["uuid"], "sort": [{"field": "last_name", "dir": "asc"}, {"field": "created_at", "dir": "desc"}]}),
    )
    .await;
    assert_eq!(
        by_name,
        sql_order(&i, "lower(last_name) ASC, created_at DESC, uuid DESC").await
    );
    let by_name_desc = page_through(
        &i,
        json!({"limit": 9, "fields": ["uuid"], "sort": [{"field": "last_name", "dir": "desc"}]}),
    )
    .await;
    assert_eq!(
        by_name_desc,
        sql_order(&i, "lower(last_name) DESC, uuid DESC").await
    );
    assert_eq!(default.iter().collect::<HashSet<_>>().len(), 137);
    i.stop().await.unwrap();
}

#[tokio::test]
async fn tampered_or_reused_cursors_are_400_and_offset_is_bounded() {
    let i = Instance::start("q_badcursor").await;
    i.sql(MANY).await;
    let page = i
        .ok(
            "contacts.search",
            json!({"limit": 5, "filters": {"first_name": {"starts_with": "n"}}}),
        )
        .await;
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let mut tampered = cursor.clone().into_bytes();
    tampered[3] = if tampered[3] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let bad = |c: &str, filters: Value| json!({"limit": 5, "cursor": c, "filters": filters});
    let same = json!({"first_name": {"starts_with": "n"}});
    assert_eq!(
        i.err("contacts.search", bad(&tampered, same.clone())).await,
        (400, "invalid_cursor".into())
    );
    assert_eq!(
        i.err(
            "contacts.search",
            bad(&cursor, json!({"first_name": {"starts_with": "x"}}))
        )
        .await,
        (400, "invalid_cursor".into())
    );
    assert_eq!(
        i.err("contacts.search", bad("garbage", same.clone())).await,
        (400, "invalid_cursor".into())
    );
    // The genuine cursor with the same query still works.
    let next = i.ok("contacts.search", bad(&cursor, same)).await;
    assert_eq!(next["items"].as_array().unwrap().len(), 5);

    let reply = i.req("contacts.search", json!({"offset": 10_001})).await;
    let (status, err) = reply.error.unwrap();
    assert_eq!((status, err.code.as_str()), (400, "limit_exceeded"));
    assert!(err.message.contains("cursor"), "{}", err.message);
    let offset = i
        .ok(
            "contacts.search",
            json!({"offset": 130, "fields": ["uuid"]}),
        )
        .await;
    assert_eq!(offset["items"].as_array().unwrap().len(), 7);

    // Sort mistakes are named: a field twice, a field no index orders by.
    let twice = json!({"sort": [{"field": "created_at", "dir": "asc"}, {"field": "created_at"}]});
    let (status, err) = i.req("contacts.search", twice).await.error.unwrap();
    assert_eq!((status, err.code.as_str()), (400, "invalid_value"));
    assert!(
        err.message.contains("created_at") && err.message.contains("twice"),
        "{}",
        err.message
    );
    let (status, err) = i
        .req("contacts.search", json!({"sort": [{"field": "title"}]}))
        .await
        .error
        .unwrap();
    assert_eq!((status, err.code.as_str()), (400, "invalid_value"));
    assert!(
        err.message.contains("title") && err.message.contains("sortable"),
        "{}",
        err.message
    );
    i.stop().await.unwrap();
}

#[tokio::test]
async fn facets_count_top_values_with_arrays_unnested() {
    let i = Instance::start("q_facets").await;
    i.sql(SMALL_DATASET).await;
    // One more spelling of a department: filters match it in any case, and so do the counts.
    i.sql("INSERT INTO contacts (uuid, first_name, last_name, title, departments, created_at) VALUES \
           ('00000000-0000-0000-0000-000000000005', 'Eve', 'Quiet', 'vp of sales', '{sales}', '2024-02-05T00:00:00Z')")
        .await;
    let f = i
        .ok("contacts.facets", json!({"facets": ["departments", "seniority", "company.industries", "contact_meta.country", "title"]}))
        .await;
    assert_eq!(
        f["facets"]["departments"],
        json!([{"value": "Sales", "count": 3}, {"value": "Engineering", "count": 2}, {"value": "Research", "count": 1}])
    );
    let sales = i
        .ok(
            "contacts.search",
            json!({"filters": {"departments": {"any": ["Sales"]}}, "with_total": true}),
        )
        .await;
    assert_eq!(
        sales["total"], 3,
        "a facet's count is what filtering on its value finds"
    );
    // Two spellings equally frequent: the one first in byte order (capitals) stands for both.
    assert_eq!(
        f["facets"]["title"][0],
        json!({"value": "VP of Sales", "count": 2})
    );
    assert_eq!(
        f["facets"]["company.industries"],
        json!([{"value": "Software", "count": 2}, {"value": "Manufacturing", "count": 1}])
    );
    assert_eq!(f["facets"]["seniority"].as_array().unwrap().len(), 4);
    let filtered = i
        .ok("contacts.facets", json!({"filters": {"company.name": {"contains": "acme"}}, "facets": ["departments"], "size": 1}))
        .await;
    assert_eq!(
        filtered["facets"]["departments"],
        json!([{"value": "Sales", "count": 2}])
    );
    assert_eq!(
        i.err("contacts.facets", json!({"facets": ["uuid"]})).await,
        (400, "invalid_value".into())
    );
    // A contact's email or profile names one contact: no sidebar counts by it. A company's
    // website is shared by its contacts, so contacts may be counted by it.
    for one_each in ["email", "mobile_phone", "contact_meta.linkedin_url"] {
        assert_eq!(
            i.err("contacts.facets", json!({"facets": [one_each]}))
                .await,
            (400, "invalid_value".into()),
            "{one_each}"
        );
    }
    assert_eq!(
        i.err(
            "companies.facets",
            json!({"facets": ["company_meta.website"]})
        )
        .await,
        (400, "invalid_value".into())
    );
    let by_site = i
        .ok(
            "contacts.facets",
            json!({"facets": ["company_meta.website"], "size": 1}),
        )
        .await;
    assert_eq!(
        by_site["facets"]["company_meta.website"],
        json!([{"value": "https://acme.example", "count": 2}])
    );
    // A facet named twice is one list of `size` values, not the list twice over.
    let twice = i
        .ok(
            "contacts.facets",
            json!({"facets": ["seniority", "seniority"], "size": 1, "cache": false}),
        )
        .await;
    assert_eq!(twice["facets"]["seniority"].as_array().unwrap().len(), 1);
    i.stop().await.unwrap();
}

#[tokio::test]
async fn exact_and_estimated_counts() {
    let i = Instance::start("q_count").await;
    i.sql(MANY).await;
    i.sql("ANALYZE contacts").await;
    let exact = i
        .ok(
            "contacts.count",
            json!({"filters": {"last_name": {"is_null": true}}}),
        )
        .await;
    assert_eq!(exact, json!({"count": 45, "mode": "exact"}));
    let est = i.ok("contacts.count", json!({"mode": "estimated"})).await;
    assert_eq!(est["mode"], "estimated");
    let n = est["count"].as_u64().unwrap();
    assert!((100..=200).contains(&n), "estimate {n} for 137 rows");
    let total = i
        .ok("contacts.search", json!({"limit": 1, "with_total": true}))
        .await;
    assert_eq!(total["total"], 137);
    i.stop().await.unwrap();
}

#[tokio::test]
async fn a_stream_delivers_more_than_ten_thousand_rows_in_bounded_chunks() {
    let i = Instance::start("q_stream").await;
    i.sql(
        "INSERT INTO contacts (uuid, first_name, title, created_at)
         SELECT md5(g::text)::uuid, 'n' || g, 'title ' || (g % 50), now() - g * interval '1 second'
         FROM generate_series(1, 12345) g",
    )
    .await;
    for format in [Format::MsgPackZstd, Format::Json] {
        let mut seen = HashSet::new();
        let mut largest = 0;
        let mut chunks = 0;
        let outcome = client::stream(
            &i.nats,
            &i.subject("contacts.stream"),
            &json!({"filters": {"first_name": {"starts_with": "n"}}}),
            format,
            Duration::from_secs(30),
            |items| {
                chunks += 1;
                largest = largest.max(items.len());
                for item in items {
                    seen.insert(item["uuid"].as_str().unwrap().to_owned());
                }
            },
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(outcome.count, 12345, "{format:?}");
        assert_eq!(seen.len(), 12345, "{format:?}: every row exactly once");
        assert_eq!(outcome.chunks, chunks);
        assert!(
            largest <= 5000,
            "chunks of at most 5,000 rows, got {largest}"
        );
    }
    // A filter error comes back as an error, not a silent empty stream.
    let bad = client::stream(
        &i.nats,
        &i.subject("contacts.stream"),
        &json!({"filters": {"nope": {"eq": 1}}}),
        Format::Json,
        Duration::from_secs(5),
        |_| {},
    )
    .await
    .unwrap()
    .unwrap_err();
    assert_eq!(bad.0, 400);
    i.stop().await.unwrap();
}

#[tokio::test]
async fn injection_strings_in_every_value_position_are_only_ever_values() {
    let i = Instance::start("q_inject").await;
    i.sql(SMALL_DATASET).await;
    let evil = [
        "'; DROP TABLE contacts; --",
        "\" OR 1=1 --",
        "%",
        "_",
        "\\",
        "$1",
        "ʼ OR ʼ1ʼ=ʼ1",
        ")) OR ((1=1",
    ];
    for e in evil {
        let filters = json!({
            "first_name": {"eq": e, "contains": e, "starts_with": e, "in": [e], "ne": e, "not_contains": e, "gt": e},
            "departments": {"any": [e], "all": [e], "none": [e]},
            "company.name": {"contains": e},
            "contact_meta.city": {"not_in": [e]},
            "any_of": [{"title": {"eq": e}}, {"company_meta.website": {"starts_with": e}}]
        });
        let page = i
            .ok(
                "contacts.search",
                json!({"filters": filters.clone(), "q": e}),
            )
            .await;
        assert!(page["items"].as_array().unwrap().is_empty(), "{e}");
        i.ok(
            "contacts.count",
            json!({"filters": filters.clone(), "q": e}),
        )
        .await;
        i.ok(
            "contacts.facets",
            json!({"filters": filters, "facets": ["seniority"]}),
        )
        .await;
        let (status, code) = i
            .err("contacts.search", json!({"filters": {e: {"eq": 1}}}))
            .await;
        assert_eq!((status, code.as_str()), (400, "unknown_field"));
        let (status, _) = i
            .err("contacts.search", json!({"sort": [{"field": e}]}))
            .await;
        assert_eq!(status, 400);
        let (status, _) = i.err("contacts.search", json!({"fields": [e]})).await;
        assert_eq!(status, 400);
        let (status, _) = i.err("contacts.get", json!({"uuid": e})).await;
        assert_eq!(status, 400);
    }
    // Everything is still there.
    let all = i.ok("contacts.search", json!({})).await;
    assert_eq!(all["items"].as_array().unwrap().len(), 4);
    i.stop().await.unwrap();
}

#[tokio::test]
async fn explain_shows_tier_sql_and_binds_without_running() {
    let i = Instance::start("q_explain").await;
    let e = i
        .ok("contacts.search", json!({"explain": true, "filters": {"company.name": {"contains": "x"}, "first_name": {"eq": "Ada"}}}))
        .await;
    assert_eq!(e["tier"], "company");
    let sql = e["sql"].as_str().unwrap();
    assert!(sql.contains("LEFT JOIN companies co"), "{sql}");
    assert!(!sql.contains("contacts_metadata"), "{sql}");
    let binds = e["binds"].as_array().unwrap();
    assert!(
        binds.contains(&json!({"type": "text", "value": "ada"})),
        "{binds:?}"
    );
    assert!(
        binds.contains(&json!({"type": "text", "value": "%x%"})),
        "{binds:?}"
    );
    let mut config = crate::harness::test_config("q_noexplain");
    config.query.allow_explain = false;
    let j = Instance::start_with(config).await;
    assert_eq!(
        j.err("contacts.search", json!({"explain": true})).await.0,
        400
    );
    j.stop().await.unwrap();
    i.stop().await.unwrap();
}

#[tokio::test]
async fn similarity_ranking_forgives_typos() {
    let i = Instance::start("q_similar").await;
    i.sql(SMALL_DATASET).await;
    let page = i
        .ok(
            "contacts.search",
            json!({"q": "lovelase", "rank": "similarity", "fields": ["uuid", "last_name"]}),
        )
        .await;
    assert_eq!(page["items"][0]["last_name"], "Lovelace");
    let plain = i.ok("contacts.search", json!({"q": "ada lovelace"})).await;
    assert_eq!(short(&uuids(&plain)), ["3"]);
    i.stop().await.unwrap();
}

/// Every text array of both entities, filtered in another case than stored, matches as the
/// stored case does: each has its lower-cased twin column (an array field added without one
/// fails here).
#[tokio::test]
async fn every_array_field_matches_in_any_case() {
    use rolodex_actors::planner::core::fields::{Entity, Kind};
    let i = Instance::start("q_array_case").await;
    i.sql(SMALL_DATASET).await;
    for (entity, subject) in [
        (Entity::Contacts, "contacts.count"),
        (Entity::Companies, "companies.count"),
    ] {
        let arrays = entity
            .fields()
            .filter(|f| f.kind == Kind::TextArray && f.table == entity.base());
        for f in arrays {
            let name = f.scope(entity).unwrap();
            let (table, column) = (f.table.name(), f.column);
            let instance = &i;
            let value: String =
                sqlx::query_scalar(&format!("SELECT min(v) FROM {table}, unnest({column}) v"))
                    .fetch_one(&i.db)
                    .await
                    .unwrap();
            // The truth, in the stored case, straight from PostgreSQL.
            let truth = |op: &str| {
                let sql = format!("SELECT count(*) FROM {table} WHERE {op}");
                let value = value.clone();
                async move {
                    sqlx::query_scalar::<_, i64>(&sql)
                        .bind(vec![value])
                        .fetch_one(&instance.db)
                        .await
                        .unwrap() as u64
                }
            };
            let count = |op: &str, v: String| {
                let body = json!({"filters": {name: {op: [v]}}, "mode": "exact"});
                async move { instance.ok(subject, body).await["count"].as_u64().unwrap() }
            };
            let any = truth(&format!("{column} && $1")).await;
            assert!(any > 0, "{name} {value}");
            assert_eq!(count("any", value.to_uppercase()).await, any, "{name}");
            assert_eq!(count("all", value.to_lowercase()).await, any, "{name}");
            assert_eq!(
                count("none", value.to_uppercase()).await,
                truth(&format!("NOT ({column} && $1)")).await,
                "{name}"
            );
        }
    }
    i.stop().await.unwrap();
}

/// Similarity ranks each word of `q` on its own: for `jon smith` the best stretch of the whole
/// text scores "Aaron Smith" above "Jonas Smith" (the trigrams of "on " and "smith" outnumber
/// those of "jon"), which no one searching for Jon wants. Cursors page that order exactly.
#[tokio::test]
async fn similarity_ranks_word_by_word_and_pages_by_cursor() {
    let i = Instance::start("q_similar_words").await;
    i.sql(
        "INSERT INTO contacts (uuid, first_name, last_name, created_at)
         SELECT md5(n)::uuid, n, 'Smith', '2024-01-01'
         FROM unnest(ARRAY['Aaron', 'Jonas', 'Jon', 'Madison', 'Jason', 'Manon', 'Jonathan',
                           'Aaron2', 'Jonas2', 'Ron', 'Don', 'Jo']) n",
    )
    .await;
    let fields = json!(["uuid", "first_name"]);
    let page = i
        .ok(
            "contacts.search",
            json!({"q": "Jon  SMITH", "rank": "similarity", "fields": fields, "limit": 4}),
        )
        .await;
    let names: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["first_name"].as_str().unwrap())
        .collect();
    assert_eq!(names[0], "Jon", "{names:?}");
    assert!(
        names[1..].iter().all(|n| n.starts_with("Jon")),
        "every Jon-name before Aaron: {names:?}"
    );
    let whole = i
        .ok(
            "contacts.search",
            json!({"q": "jon smith", "rank": "similarity", "fields": fields, "limit": 100}),
        )
        .await;
    let paged = page_through(
        &i,
        json!({"q": "jon smith", "rank": "similarity", "fields": fields, "limit": 2}),
    )
    .await;
    assert!(paged.len() >= 5, "{paged:?}");
    assert_eq!(paged, uuids(&whole));
    i.stop().await.unwrap();
}

/// Pages go out serialised straight from PostgreSQL's row buffers (`exec::PgItem`); rows
/// decoded into owned values (`exec::row`) are what the tests and the stream reasoning are
/// written against. Both must give the same bytes, in both formats, for every field of both
/// entities (nulls left out, related tables nested).
#[tokio::test]
async fn rows_serialised_from_postgres_buffers_match_decoded_rows() {
    use rolodex_actors::model::SearchRequest;
    use rolodex_actors::planner::core::fields::Entity;
    use rolodex_actors::planner::core::Planner;
    use rolodex_actors::planner::exec::{self, PgItem};
    use rolodex_actors::wire::codec::encode_body;
    use rolodex_actors::wire::ContentType;

    let i = Instance::start("q_pgitem").await;
    i.sql(SMALL_DATASET).await;
    let planner = Planner::new(i.config.query.clone(), b"test");
    for entity in [Entity::Contacts, Entity::Companies] {
        let fields: Vec<&str> = entity.fields().filter_map(|f| f.scope(entity)).collect();
        let req: SearchRequest =
            serde_json::from_value(json!({"fields": fields, "limit": 100})).unwrap();
        let plan = planner.search(entity, &req).unwrap();
        let mut conn = i.db.acquire().await.unwrap();
        let rows = exec::fetch_all(&mut conn, &plan.page.sql).await.unwrap();
        assert!(rows.len() >= 2, "{entity:?}: the dataset has rows");
        let decoded: Vec<_> = rows
            .iter()
            .map(|r| exec::row(entity, &plan.page.columns, r).unwrap())
            .collect();
        let direct = PgItem::all(entity, &plan.page.columns, rows);
        for ct in [ContentType::Json, ContentType::MsgPack] {
            assert_eq!(
                encode_body(ct, &direct).unwrap(),
                encode_body(ct, &decoded).unwrap(),
                "{entity:?} {ct:?}"
            );
        }
        let json: Value =
            serde_json::from_slice(&encode_body(ContentType::Json, &direct).unwrap()).unwrap();
        assert!(
            json.as_array().unwrap().iter().any(|row| row
                .as_object()
                .unwrap()
                .values()
                .any(Value::is_object)),
            "{entity:?}: some row has a nested related table"
        );
    }
    i.stop().await.unwrap();
}
