//! The result cache as a user meets it: `Rolodex-Cache` headers, equal spellings sharing an
//! entry, freshness after writes (change notices, broadcasts, a second instance), single
//! flight, and `apollo.analyze`.

use std::time::Duration;

use rolodex::client::Format;
use rolodex_actors::cache::{self, Tables};
use serde_json::{json, Value};

use crate::harness::{short, uuids, wait_until, Instance, SMALL_DATASET};

/// The micro-protocol ids of the `n` instances serving this prefix (other tests' instances
/// answer `$SRV.INFO` too, so they are told apart by their subjects).
async fn service_ids(i: &Instance, n: usize) -> Vec<String> {
    let inbox = i.nats.new_inbox();
    let mut sub = i.nats.subscribe(inbox.clone()).await.unwrap();
    i.nats
        .publish_with_reply("$SRV.INFO.rolodex", inbox, "".into())
        .await
        .unwrap();
    let ours = i.subject("contacts.search");
    let mut ids: Vec<String> = Vec::new();
    while ids.len() < n {
        let msg = tokio::time::timeout(Duration::from_secs(5), futures::StreamExt::next(&mut sub))
            .await
            .expect("our instances answer $SRV.INFO")
            .unwrap();
        let info: Value = serde_json::from_slice(&msg.payload).unwrap();
        let mine = info["endpoints"]
            .as_array()
            .is_some_and(|eps| eps.iter().any(|e| e["subject"] == ours.as_str()));
        let id = info["id"].as_str().unwrap().to_owned();
        if mine && !ids.contains(&id) {
            ids.push(id);
        }
    }
    ids
}

async fn service_id(i: &Instance) -> String {
    service_ids(i, 1).await.remove(0)
}

/// The cache metrics of the instance with this service id.
async fn metrics(i: &Instance, id: &str) -> Value {
    let reply = i
        .nats
        .request(format!("$SRV.STATS.rolodex.{id}"), "".into())
        .await
        .unwrap();
    let stats: Value = serde_json::from_slice(&reply.payload).unwrap();
    stats["endpoints"][0]["data"]["cache"].clone()
}

async fn search(i: &Instance, body: Value) -> (Vec<String>, String) {
    let reply = i.req("contacts.search", body).await;
    let cache = reply.header("Rolodex-Cache").unwrap_or("none").to_owned();
    let body = reply.ok().expect("search succeeds");
    (short(&uuids(&body)), cache)
}

const NEW_CONTACT: &str = "INSERT INTO contacts (uuid, first_name, seniority, created_at) VALUES
 ('00000000-0000-0000-0000-000000000009', 'Newcomer', 'vp', '2025-01-01T00:00:00Z')";

#[tokio::test]
async fn replies_say_hit_or_miss_and_equal_spellings_share_an_entry() {
    let i = Instance::start("cache_hdr").await;
    i.sql(SMALL_DATASET).await;
    let a = json!({"filters": {"seniority": {"in": ["VP", "senior"]}, "first_name": {"contains": "JO"}}});
    let b = json!({"filters": {"first_name": {"contains": "jo"}, "seniority": {"in": ["senior", "vp"]}},
                   "limit": 25, "offset": 0, "sort": [{"field": "created_at", "dir": "desc"}]});
    assert_eq!(
        search(&i, a.clone()).await,
        (vec!["2".into(), "1".into()], "miss".into())
    );
    assert_eq!(search(&i, a.clone()).await.1, "hit");
    assert_eq!(
        search(&i, b).await,
        (vec!["2".into(), "1".into()], "hit".into())
    );
    // Opting out computes (and says so); another format is another entry.
    let mut off = a.clone();
    off["cache"] = json!(false);
    assert_eq!(search(&i, off).await.1, "miss");
    let json_reply = i.req_as("contacts.search", a.clone(), Format::Json).await;
    assert_eq!(json_reply.header("Rolodex-Cache"), Some("miss"));
    let json_reply = i.req_as("contacts.search", a, Format::Json).await;
    assert_eq!(json_reply.header("Rolodex-Cache"), Some("hit"));
    assert_eq!(json_reply.header("Content-Type"), Some("application/json"));

    for (suffix, body) in [
        (
            "contacts.count",
            json!({"filters": {"seniority": {"eq": "vp"}}}),
        ),
        ("companies.facets", json!({"facets": ["industries"]})),
    ] {
        let first = i.req(suffix, body.clone()).await;
        let second = i.req(suffix, body).await;
        assert_eq!(first.header("Rolodex-Cache"), Some("miss"), "{suffix}");
        assert_eq!(second.header("Rolodex-Cache"), Some("hit"), "{suffix}");
        assert_eq!(first.body, second.body);
    }
    // Errors are never cached; gets are not cacheable.
    let bad = i
        .req("contacts.search", json!({"filters": {"bogus": {"eq": 1}}}))
        .await;
    assert!(bad.error.is_some());
    assert_eq!(bad.header("Rolodex-Cache"), None);
    let get = i
        .req(
            "contacts.get",
            json!({"uuid": "00000000-0000-0000-0000-000000000001"}),
        )
        .await;
    assert_eq!(get.header("Rolodex-Cache"), None);

    let id = service_id(&i).await;
    let m = metrics(&i, &id).await;
    assert!(m["hits"].as_u64().unwrap() >= 5, "{m}");
    assert!(m["hit_rate"].as_f64().unwrap() > 0.0, "{m}");
    i.stop().await.unwrap();
}

#[tokio::test]
async fn change_notices_and_broadcasts_make_the_next_search_fresh() {
    let i = Instance::start("cache_fresh").await;
    i.sql(SMALL_DATASET).await;
    let id = service_id(&i).await;
    let vps = json!({"filters": {"seniority": {"eq": "vp"}}});
    assert_eq!(
        search(&i, vps.clone()).await,
        (vec!["1".into()], "miss".into())
    );
    assert_eq!(search(&i, vps.clone()).await.1, "hit");

    // A write that nobody announces is not seen until the TTL (the cache is a cache)...
    i.sql(NEW_CONTACT).await;
    assert_eq!(
        search(&i, vps.clone()).await,
        (vec!["1".into()], "hit".into())
    );
    // ...the ingestion's after-commit notice makes the next search fresh.
    let before = metrics(&i, &id).await["invalidations"].as_u64().unwrap();
    i.nats
        .publish(i.subject("changes.contacts"), "{}".into())
        .await
        .unwrap();
    assert!(
        wait_until(Duration::from_secs(5), || async {
            metrics(&i, &id).await["invalidations"].as_u64().unwrap() > before
        })
        .await
    );
    assert_eq!(
        search(&i, vps.clone()).await,
        (vec!["9".into(), "1".into()], "miss".into())
    );

    // A contact search joining companies dies with a company notice, not a contact-only one.
    let joined = json!({"filters": {"company.name": {"contains": "acme"}}});
    assert_eq!(
        search(&i, joined.clone()).await,
        (vec!["4".into(), "1".into()], "miss".into())
    );
    assert_eq!(search(&i, vps.clone()).await.1, "hit");
    i.sql("UPDATE companies SET name = 'Renamed' WHERE name = 'Acme Tech'")
        .await;
    let before = metrics(&i, &id).await["invalidations"].as_u64().unwrap();
    i.nats
        .publish(i.subject("changes.companies"), "{}".into())
        .await
        .unwrap();
    assert!(
        wait_until(Duration::from_secs(5), || async {
            metrics(&i, &id).await["invalidations"].as_u64().unwrap() > before
        })
        .await
    );
    assert_eq!(search(&i, joined).await, (vec![], "miss".into()));
    assert_eq!(
        search(&i, vps.clone()).await.1,
        "hit",
        "contacts did not change"
    );

    // A writer elsewhere uses cache::Handle::invalidate, which broadcasts.
    i.sql("DELETE FROM contacts WHERE first_name = 'Newcomer'")
        .await;
    let writer = cache::Handle::new(
        &i.config.cache,
        "another-process",
        "nowhere/cache",
        Some(cache::Broadcast {
            client: i.nats.clone(),
            subject: i.subject("cache.invalidate"),
        }),
    );
    let before = metrics(&i, &id).await["invalidations"].as_u64().unwrap();
    writer.invalidate(Tables::of_change("contacts")).await;
    assert!(
        wait_until(Duration::from_secs(5), || async {
            metrics(&i, &id).await["invalidations"].as_u64().unwrap() > before
        })
        .await
    );
    assert_eq!(search(&i, vps).await, (vec!["1".into()], "miss".into()));
    i.stop().await.unwrap();
}

#[tokio::test]
async fn invalidation_reaches_a_second_instance() {
    let one = Instance::start("cache_two").await;
    one.sql(SMALL_DATASET).await;
    let two = Instance::start_with(one.config.clone()).await;
    let ids = service_ids(&one, 2).await;
    let (id1, id2) = (&ids[0], &ids[1]);
    let vps = json!({"filters": {"seniority": {"eq": "vp"}}});
    // Requests spread over the queue group: ask until both instances hold the entry.
    assert!(
        wait_until(Duration::from_secs(10), || async {
            search(&one, vps.clone()).await;
            metrics(&one, id1).await["entries"].as_u64().unwrap() >= 1
                && metrics(&one, id2).await["entries"].as_u64().unwrap() >= 1
        })
        .await
    );
    one.sql(NEW_CONTACT).await;
    let before1 = metrics(&one, id1).await["invalidations"].as_u64().unwrap();
    let before2 = metrics(&one, id2).await["invalidations"].as_u64().unwrap();
    let writer = cache::Handle::new(
        &one.config.cache,
        "writer",
        "nowhere/cache",
        Some(cache::Broadcast {
            client: one.nats.clone(),
            subject: one.subject("cache.invalidate"),
        }),
    );
    writer.invalidate(Tables::of_change("contacts")).await;
    assert!(
        wait_until(Duration::from_secs(5), || async {
            metrics(&one, id1).await["invalidations"].as_u64().unwrap() > before1
                && metrics(&one, id2).await["invalidations"].as_u64().unwrap() > before2
        })
        .await
    );
    // Whichever instance answers, the write is there.
    for _ in 0..10 {
        assert_eq!(search(&one, vps.clone()).await.0, ["9", "1"]);
    }
    drop(two);
    one.stop().await.unwrap();
}

#[tokio::test]
async fn fifty_identical_concurrent_misses_run_one_query() {
    let i = Instance::start("cache_flight").await;
    i.sql(SMALL_DATASET).await;
    let id = service_id(&i).await;
    let before = metrics(&i, &id).await;
    let body = json!({"filters": {"company.employees_count": {"gte": 10}}, "with_total": true});
    let replies =
        futures::future::join_all((0..50).map(|_| i.req("contacts.search", body.clone()))).await;
    for r in &replies {
        assert_eq!(r.body["total"], 3, "{:?}", r.error);
    }
    let after = metrics(&i, &id).await;
    let delta = |k: &str| after[k].as_u64().unwrap() - before[k].as_u64().unwrap();
    assert_eq!(delta("queries"), 1, "{after}");
    assert_eq!(delta("coalesced") + delta("hits"), 49, "{after}");
    i.stop().await.unwrap();
}

#[tokio::test]
async fn apollo_urls_become_filters_the_search_accepts() {
    let i = Instance::start("cache_apollo").await;
    i.sql(SMALL_DATASET).await;
    let url = "https://app.apollo.io/#/people?finderViewId=abc&personTitles[]=vp%20of%20sales\
               &personSeniorities[]=vp&organizationNumEmployeesRanges[]=11%2C200\
               &organizationNumEmployeesRanges[]=5001%2C&personLocations[]=Germany\
               &sortByField=person_name.raw&sortAscending=true&qKeywords=john";
    let first = i.req("apollo.analyze", json!({"url": url})).await;
    assert_eq!(first.header("Rolodex-Cache"), Some("miss"));
    let a = first.ok().unwrap();
    assert_eq!(a["entity"], "contacts");
    assert_eq!(a["unmapped"][0]["param"], "finderViewId");
    let again = i.req("apollo.analyze", json!({"url": url})).await;
    assert_eq!(again.header("Rolodex-Cache"), Some("hit"));
    let page = i
        .ok(
            "contacts.search",
            json!({"filters": a["filters"], "sort": a["sort"], "q": a["q"]}),
        )
        .await;
    assert_eq!(short(&uuids(&page)), ["1"]);

    let companies = i
        .ok(
            "apollo.analyze",
            json!({"url": "https://app.apollo.io/#/companies?organizationNumEmployeesRanges[0]=100%2C500&qOrganizationKeywordTags[]=saas"}),
        )
        .await;
    assert_eq!(companies["entity"], "companies");
    let page = i
        .ok("companies.search", json!({"filters": companies["filters"]}))
        .await;
    assert_eq!(page["items"][0]["name"], "Acme Tech");

    assert_eq!(
        i.err(
            "apollo.analyze",
            json!({"url": "https://www.linkedin.com/search/results/people/"})
        )
        .await,
        (400, "not_apollo_url".into())
    );
    assert_eq!(
        i.err("apollo.analyze", json!({"url": "::::"})).await,
        (400, "invalid_value".into())
    );
    i.stop().await.unwrap();
}

#[tokio::test]
async fn title_normalized_matches_the_canonical_title_after_the_backfill() {
    let mut config = crate::harness::test_config("cache_titles");
    config.normalize.backfill_ms = 50;
    let i = Instance::start_with(config).await;
    i.sql(SMALL_DATASET).await;
    let found = |filters: Value| {
        let i = &i;
        async move {
            let (ids, _) = search(i, json!({"filters": filters, "cache": false})).await;
            ids
        }
    };
    // "VP Sales" and the stored "VP of Sales" are both "vice president of sales".
    assert!(
        wait_until(Duration::from_secs(10), || async {
            found(json!({"title_normalized": {"eq": "VP Sales"}})).await == ["1"]
        })
        .await
    );
    assert_eq!(
        found(json!({"title_normalized": {"contains": "Sr. Eng"}})).await,
        ["2"]
    );
    // A title update clears the canonical one (trigger) and the backfill fills it again.
    i.sql("UPDATE contacts SET title = 'CEO' WHERE first_name = 'Bob'")
        .await;
    assert!(
        wait_until(Duration::from_secs(10), || async {
            found(json!({"title_normalized": {"in": ["Chief Executive Officer"]}})).await == ["4"]
        })
        .await
    );
    i.stop().await.unwrap();
}
