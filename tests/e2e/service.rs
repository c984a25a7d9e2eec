//! The service as a user meets it: get, search basics, the micro protocol, the pool's rations
//! and supervision.

use std::time::Duration;

use ractor::ActorRef;
use rolodex::actor_name;
use rolodex::client::Format;
use rolodex_actors::pool::{Class, Pool};
use rolodex_actors::supervisor::SupervisorMsg;
use serde_json::json;

use crate::harness::{short, test_config, uuids, wait_until, Instance, SMALL_DATASET};

#[tokio::test]
async fn get_returns_the_entity_with_its_company_and_metadata_or_404() {
    let i = Instance::start("svc_get").await;
    i.sql(SMALL_DATASET).await;
    let john = i
        .ok(
            "contacts.get",
            json!({"uuid": "00000000-0000-0000-0000-000000000001"}),
        )
        .await;
    assert_eq!(john["first_name"], "John");
    assert_eq!(john["company"]["name"], "Acme Tech");
    assert_eq!(
        john["company"]["technologies"],
        json!(["Kubernetes", "Rust"])
    );
    assert_eq!(john["metadata"]["city"], "Berlin");
    assert_eq!(john["company_metadata"]["founded_year"], 2010);

    let acme = i
        .ok(
            "companies.get",
            json!({"uuid": "00000000-0000-0000-0000-00000000c001"}),
        )
        .await;
    assert_eq!(acme["employees_count"], 120);
    assert_eq!(acme["metadata"]["website"], "https://acme.example");

    let missing = json!({"uuid": "00000000-0000-0000-0000-0000000000ff"});
    assert_eq!(
        i.err("contacts.get", missing.clone()).await,
        (404, "not_found".into())
    );
    assert_eq!(
        i.err("companies.get", missing).await,
        (404, "not_found".into())
    );
    assert_eq!(
        i.err("contacts.get", json!({"uuid": "nope"})).await,
        (400, "invalid_value".into())
    );
    i.stop().await.unwrap();
}

#[tokio::test]
async fn search_filters_with_eq_and_contains_in_default_order_with_limit() {
    let i = Instance::start("svc_search").await;
    i.sql(SMALL_DATASET).await;
    // Newest first by default.
    let all = i.ok("contacts.search", json!({})).await;
    assert_eq!(short(&uuids(&all)), ["4", "3", "2", "1"]);
    let jo = i
        .ok(
            "contacts.search",
            json!({"filters": {"first_name": {"contains": "JO"}}}),
        )
        .await;
    assert_eq!(short(&uuids(&jo)), ["2", "1"]);
    let eq = i
        .ok(
            "contacts.search",
            json!({"filters": {"last_name": {"eq": "o'brien"}}}),
        )
        .await;
    assert_eq!(short(&uuids(&eq)), ["4"]);
    let limited = i.ok("contacts.search", json!({"limit": 2})).await;
    assert_eq!(short(&uuids(&limited)), ["4", "3"]);
    assert!(limited["next_cursor"].is_string());
    let companies = i
        .ok(
            "companies.search",
            json!({"filters": {"name": {"contains": "acme"}}}),
        )
        .await;
    assert_eq!(companies["items"][0]["name"], "Acme Tech");
    i.stop().await.unwrap();
}

#[tokio::test]
async fn the_micro_protocol_lists_endpoints_and_counts_errors() {
    let i = Instance::start("svc_micro").await;
    let ok = i.ok("contacts.search", json!({})).await;
    assert!(ok["items"].as_array().unwrap().is_empty());
    i.err("contacts.search", json!({"filters": {"bogus": {"eq": 1}}}))
        .await;

    // Every instance answers $SRV.INFO (other tests run in parallel): find ours.
    let info = micro_replies(&i, "$SRV.INFO.rolodex")
        .await
        .into_iter()
        .find(|info| {
            info["endpoints"].as_array().is_some_and(|eps| {
                eps.iter()
                    .any(|e| e["subject"] == i.subject("contacts.search").as_str())
            })
        })
        .expect("our instance answers $SRV.INFO");
    assert_eq!(info["type"], "io.nats.micro.v1.info_response");
    assert!(info["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["queue_group"] == i.config.nats.queue_group.as_str()));

    let id = info["id"].as_str().unwrap();
    let stats = i
        .nats
        .request(format!("$SRV.STATS.rolodex.{id}"), "".into())
        .await
        .unwrap();
    let stats: serde_json::Value = serde_json::from_slice(&stats.payload).unwrap();
    let search = stats["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "contacts-search")
        .unwrap()
        .clone();
    assert_eq!(search["num_requests"], 2);
    assert_eq!(search["num_errors"], 1);
    assert!(search["last_error"].as_str().unwrap().contains("bogus"));
    assert!(search["data"]["pool"]["classes"].is_array());
    i.stop().await.unwrap();
}

/// Every reply to a micro verb within half a second.
async fn micro_replies(i: &Instance, subject: &str) -> Vec<serde_json::Value> {
    use futures::StreamExt;
    let inbox = i.nats.new_inbox();
    let mut sub = i.nats.subscribe(inbox.clone()).await.unwrap();
    i.nats
        .publish_with_reply(subject.to_owned(), inbox, "".into())
        .await
        .unwrap();
    let mut out = Vec::new();
    while let Ok(Some(msg)) = tokio::time::timeout(Duration::from_millis(500), sub.next()).await {
        out.push(serde_json::from_slice(&msg.payload).unwrap());
    }
    out
}

#[tokio::test]
async fn an_exhausted_class_gets_503_while_searches_are_still_served() {
    let mut config = test_config("svc_pool");
    config.pool.timeout_secs = 1;
    let i = Instance::start_with(config.clone()).await;
    i.sql(crate::harness::SMALL_DATASET).await;
    // A second pool on the same configuration stands in for jobs holding their whole ration.
    let options =
        rolodex_actors::pool::connect_options(&config.database.url, &config.pool).unwrap();
    let pool = Pool::new(&config.pool, options);
    let mut held = Vec::new();
    for _ in 0..config.pool.rations.jobs {
        held.push(pool.lease(Class::Jobs).await.expect("within the ration"));
    }
    let err = pool.lease(Class::Jobs).await.unwrap_err();
    assert_eq!((err.status(), err.code()), (503, "pool_exhausted"));
    assert!(err.to_string().contains("jobs"));
    let stats = pool.stats();
    assert_eq!(
        stats.class(Class::Jobs).unwrap().in_use,
        u64::from(config.pool.rations.jobs)
    );
    assert_eq!(stats.class(Class::Jobs).unwrap().timeouts, 1);
    // Interactive work is untouched by the jobs ration.
    let lease = pool
        .lease(Class::Interactive)
        .await
        .expect("interactive still leases");
    drop(lease);
    // And over NATS the daemon still answers searches.
    let page = i.ok("contacts.search", json!({"limit": 1})).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    drop(held);
    assert_eq!(pool.stats().class(Class::Jobs).unwrap().in_use, 0);
    pool.close().await;
    i.stop().await.unwrap();
}

#[tokio::test]
async fn a_killed_child_is_restarted_and_the_service_answers_again() {
    let i = Instance::start("svc_crash").await;
    i.sql(SMALL_DATASET).await;
    let prefix = i.config.nats.prefix.clone();
    for child in ["planner", "gateway"] {
        let cell =
            ractor::registry::where_is(actor_name(&prefix, child)).expect("child is registered");
        let old = cell.get_id();
        cell.kill();
        let restarted = wait_until(Duration::from_secs(5), || async {
            ractor::registry::where_is(actor_name(&prefix, child))
                .is_some_and(|c| c.get_id() != old)
        })
        .await;
        assert!(restarted, "{child} was not restarted");
        // Until the new gateway has subscribed, a request finds no responders: keep asking.
        let answered = wait_until(Duration::from_secs(5), || async {
            let r = i
                .try_req_as("contacts.search", json!({"limit": 1}), Format::MsgPackZstd)
                .await;
            r.is_ok_and(|r| {
                r.error.is_none() && r.body["items"].as_array().is_some_and(|a| a.len() == 1)
            })
        })
        .await;
        assert!(answered, "no answer after {child} restarted");
    }
    let sup: ActorRef<SupervisorMsg> =
        ractor::registry::where_is(actor_name(&prefix, "supervisor"))
            .unwrap()
            .into();
    let restarts = ractor::call!(sup, SupervisorMsg::Restarts).unwrap();
    let count = |name: &str| {
        restarts
            .iter()
            .find(|(n, _)| n.ends_with(name))
            .map(|(_, c)| *c)
    };
    assert_eq!(count("/planner"), Some(1));
    assert_eq!(count("/gateway"), Some(1));
    // After a gateway restart there is exactly one subscriber per endpoint: one reply each.
    let page = i.ok("contacts.search", json!({})).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 4);
    i.stop().await.unwrap();
}

#[tokio::test]
async fn a_child_that_keeps_crashing_stops_serve_with_an_error() {
    let mut config = test_config("svc_escalate");
    config.supervisor.max_restarts = 2;
    config.supervisor.backoff_ms = 10;
    let i = Instance::start_with(config).await;
    let name = actor_name(&i.config.nats.prefix, "planner");
    for _ in 0..3 {
        let Some(cell) = ractor::registry::where_is(name.clone()) else {
            break;
        };
        let old = cell.get_id();
        cell.kill();
        wait_until(Duration::from_secs(5), || async {
            ractor::registry::where_is(name.clone()).is_none_or(|c| c.get_id() != old)
        })
        .await;
    }
    let result = i.stop().await;
    assert!(
        matches!(result, Err(rolodex::ServeError::Escalated(_))),
        "serve reports the escalation: {result:?}"
    );
}
