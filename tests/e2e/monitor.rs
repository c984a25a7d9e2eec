//! Seeing inside: metrics after a known workload, the slow-query log with captured plans, and
//! health endpoints that follow PostgreSQL's availability.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::{test_config, wait_until, Instance, SMALL_DATASET};
use crate::proxy::Proxy;

async fn get(i: &Instance, path: &str) -> (u16, String) {
    let url = format!("http://{}{path}", i.http.expect("http listener"));
    let r = reqwest::get(url).await.expect("HTTP answers");
    (r.status().as_u16(), r.text().await.unwrap())
}

/// Samples of /metrics as name{sorted labels} → value, through a real Prometheus parser.
pub async fn scrape(i: &Instance) -> HashMap<String, f64> {
    let (status, text) = get(i, "/metrics").await;
    assert_eq!(status, 200);
    let lines = text.lines().map(|l| Ok(l.to_owned()));
    let parsed = prometheus_parse::Scrape::parse(lines).expect("valid Prometheus text");
    let mut out = HashMap::new();
    for s in parsed.samples {
        let mut labels: Vec<String> = s.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        labels.sort();
        let value = match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            prometheus_parse::Value::Histogram(h) => h.iter().map(|b| b.count).fold(0.0, f64::max),
            prometheus_parse::Value::Summary(_) => continue,
        };
        out.insert(format!("{}{{{}}}", s.metric, labels.join(",")), value);
    }
    out
}

#[tokio::test]
async fn after_a_known_workload_the_counters_say_exactly_that() {
    let mut config = test_config("mon_counts");
    // Every search reaches the database, so query counts equal request counts.
    config.cache.enabled = false;
    let i = Instance::start_with(config).await;
    i.sql(SMALL_DATASET).await;
    for _ in 0..3 {
        i.ok(
            "contacts.search",
            json!({"filters": {"first_name": {"contains": "jo"}}}),
        )
        .await;
    }
    for _ in 0..2 {
        i.err("contacts.search", json!({"filters": {"nope": {"eq": 1}}}))
            .await;
    }
    i.err(
        "contacts.get",
        json!({"uuid": "00000000-0000-0000-0000-0000000000ff"}),
    )
    .await;
    i.ok(
        "contacts.count",
        json!({"filters": {"company.name": {"contains": "acme"}}}),
    )
    .await;

    let m = scrape(&i).await;
    let v = |k: &str| {
        m.get(k)
            .copied()
            .unwrap_or_else(|| panic!("no sample {k}; have {:?}", m.keys().collect::<Vec<_>>()))
    };
    assert_eq!(v("rolodex_requests_total{endpoint=contacts-search}"), 5.0);
    assert_eq!(
        v("rolodex_request_errors_total{code=unknown_field,endpoint=contacts-search}"),
        2.0
    );
    assert_eq!(v("rolodex_requests_total{endpoint=contacts-get}"), 1.0);
    assert_eq!(
        v("rolodex_request_errors_total{code=not_found,endpoint=contacts-get}"),
        1.0
    );
    assert_eq!(v("rolodex_requests_total{endpoint=contacts-count}"), 1.0);
    assert_eq!(
        v("rolodex_query_duration_seconds_count{class=interactive,tier=minimal}"),
        3.0
    );
    assert_eq!(
        v("rolodex_query_duration_seconds_count{class=interactive,tier=count}"),
        1.0
    );
    assert_eq!(
        v("rolodex_query_duration_seconds_count{class=interactive,tier=get}"),
        1.0
    );
    assert_eq!(v("rolodex_slow_queries_total{}"), 0.0);
    assert_eq!(
        v("rolodex_pool_ration{class=interactive}"),
        f64::from(i.config.pool.rations.interactive)
    );
    assert_eq!(v("rolodex_pool_leases_in_use{class=interactive}"), 0.0);
    assert!(v("rolodex_pool_connections{state=open}") >= 1.0);
    // The cache is off in this test: every lookup of the workload went to the database.
    assert_eq!(v("rolodex_cache_operations{kind=hit}"), 0.0);
    i.stop().await.unwrap();
}

#[tokio::test]
async fn with_a_low_threshold_a_query_is_logged_slow_and_its_plan_captured() {
    let mut config = test_config("mon_slow");
    config.monitor.slow_ms = 0;
    config.monitor.explain_ms = 0;
    config.monitor.explain_per_minute = 2;
    config.cache.enabled = false;
    let i = Instance::start_with(config).await;
    i.sql(SMALL_DATASET).await;
    for _ in 0..4 {
        i.ok(
            "contacts.search",
            json!({"filters": {"last_name": {"eq": "lovelace"}}}),
        )
        .await;
    }
    let plans = |v: &Value| {
        v["slow_queries"]
            .as_array()
            .map_or(0, |l| l.iter().filter(|e| e["plan"].is_string()).count())
    };
    let ok = wait_until(Duration::from_secs(10), || async {
        plans(&i.ok("admin.slow_queries", json!({"limit": 10})).await) == 2
    })
    .await;
    let captured = i.ok("admin.slow_queries", json!({"limit": 10})).await;
    assert!(
        ok,
        "two plans captured (the rate limit allows two a minute): {captured}"
    );
    let list = captured["slow_queries"].as_array().unwrap();
    assert_eq!(list.len(), 4, "every slow query is logged");
    let with_plan = list.iter().find(|e| e["plan"].is_string()).unwrap();
    assert!(
        with_plan["plan"].as_str().unwrap().contains("actual time"),
        "{with_plan}"
    );
    assert_eq!(with_plan["tier"], "minimal");
    assert_eq!(with_plan["bind_types"], json!(["text", "int8"]));
    // The searched value never appears in the log.
    assert!(!captured.to_string().contains("lovelace"));
    let m = scrape(&i).await;
    assert_eq!(m["rolodex_slow_queries_total{}"], 4.0);
    i.stop().await.unwrap();
}

#[tokio::test]
async fn readyz_follows_postgresql_and_healthz_the_process() {
    let proxy = Proxy::start("127.0.0.1:5432").await;
    let mut config = test_config("mon_ready");
    let db = config.database.url.rsplit('/').next().unwrap().to_owned();
    config.database.url = format!("postgres://postgres@127.0.0.1:{}/{db}", proxy.port);
    config.pool.timeout_secs = 1;
    let i = Instance::start_with(config).await;
    assert_eq!(get(&i, "/healthz").await.0, 200);
    let (status, body) = get(&i, "/readyz").await;
    assert_eq!(status, 200, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        body,
        json!({"ready": true, "nats": "ok", "postgres": "ok", "migrations": "ok"})
    );

    proxy.cut();
    let unready = wait_until(Duration::from_secs(10), || async {
        get(&i, "/readyz").await.0 == 503
    })
    .await;
    assert!(unready, "readyz turns 503 while PostgreSQL is away");
    let (_, body) = get(&i, "/readyz").await;
    assert!(body.contains("\"postgres\":\"unavailable\""), "{body}");
    assert_eq!(get(&i, "/healthz").await.0, 200, "still alive");

    proxy.restore();
    let ready = wait_until(Duration::from_secs(10), || async {
        get(&i, "/readyz").await.0 == 200
    })
    .await;
    assert!(ready, "ready again once PostgreSQL is back");
    // And searches work again.
    let page = i.ok("contacts.search", json!({})).await;
    assert!(page["items"].is_array());
    i.stop().await.unwrap();
}
