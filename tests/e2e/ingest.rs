//! Event ingestion (DESIGN §4 Events, issue 5) over the real NATS and PostgreSQL: ordering by
//! version, duplicates, tombstones, partial updates, dead letters, a PostgreSQL outage through
//! a proxy, and the real binary killed with SIGKILL mid-stream.

use std::time::Duration;

use async_nats::jetstream;
use futures::StreamExt;
use rolodex::Config;
use rolodex_actors::persist::core::{validate, Entity, Op};
use rolodex_actors::persist::{settled, write_batch, ORIGINAL_SUBJECT, REASON};
use serde_json::{json, Value};
use sqlx::Row;

use crate::harness::{delete_event_stream, test_config, wait_until, Instance, PG};
use crate::proxy::Proxy;

fn u(n: u32) -> String {
    format!("00000000-0000-0000-0000-{n:012}")
}

/// Publish one event as JSON (or MessagePack when `msgpack`), waiting for the stream's ack.
async fn publish_as(
    nats: &async_nats::Client,
    prefix: &str,
    kind: &str,
    body: &Value,
    msg_id: Option<&str>,
    msgpack: bool,
) -> bool {
    let js = jetstream::new(nats.clone());
    let mut h = async_nats::HeaderMap::new();
    let payload = if msgpack {
        h.insert("Content-Type", "application/msgpack");
        let mut buf = Vec::new();
        let mut ser = rmp_serde::Serializer::new(&mut buf).with_struct_map();
        serde::Serialize::serialize(body, &mut ser).expect("msgpack");
        buf
    } else {
        serde_json::to_vec(body).expect("json")
    };
    if let Some(id) = msg_id {
        h.insert("Nats-Msg-Id", id);
    }
    let ack = js
        .publish_with_headers(format!("{prefix}.events.{kind}"), h, payload.into())
        .await
        .expect("publish")
        .await
        .expect("stream ack");
    ack.duplicate
}

async fn publish(i: &Instance, kind: &str, body: Value) {
    publish_as(&i.nats, &i.config.nats.prefix, kind, &body, None, false).await;
}

async fn wait_settled(i: &Instance) {
    let ok = wait_until(Duration::from_secs(30), || {
        settled(&i.nats, &i.config.nats.prefix)
    })
    .await;
    assert!(ok, "events were not all settled within 30 s");
}

/// `(first_name, last_name, title, email, version)` of a contact, if it exists.
async fn contact(db: &sqlx::PgPool, uuid: &str) -> Option<Value> {
    let row = sqlx::query(
        "SELECT first_name, last_name, title, email, departments, version, \
         (SELECT city FROM contacts_metadata m WHERE m.uuid = c.uuid) AS city, \
         (SELECT country FROM contacts_metadata m WHERE m.uuid = c.uuid) AS country \
         FROM contacts c WHERE uuid = $1::uuid",
    )
    .bind(uuid)
    .fetch_optional(db)
    .await
    .expect("query")?;
    Some(json!({
        "first_name": row.get::<Option<String>, _>("first_name"),
        "last_name": row.get::<Option<String>, _>("last_name"),
        "title": row.get::<Option<String>, _>("title"),
        "email": row.get::<Option<String>, _>("email"),
        "departments": row.get::<Vec<String>, _>("departments"),
        "version": row.get::<i64, _>("version"),
        "city": row.get::<Option<String>, _>("city"),
        "country": row.get::<Option<String>, _>("country"),
    }))
}

async fn count(db: &sqlx::PgPool, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
        .fetch_one(db)
        .await
        .expect("count")
}

#[tokio::test]
async fn out_of_order_versions_end_with_the_newest() {
    let i = Instance::start("ing_order").await;
    for v in [3, 1, 2] {
        publish(
            &i,
            "contact.upserted",
            json!({"uuid": u(1), "version": v, "data": {"first_name": format!("v{v}")}}),
        )
        .await;
    }
    for v in [5, 4] {
        publish(
            &i,
            "company.upserted",
            json!({"uuid": u(2), "version": v, "data": {"name": format!("Co v{v}"),
                "industries": ["Software"], "metadata": {"founded_year": 2000 + v}}}),
        )
        .await;
    }
    wait_settled(&i).await;
    let c = contact(&i.db, &u(1)).await.expect("contact");
    assert_eq!(
        (c["first_name"].as_str(), c["version"].as_i64()),
        (Some("v3"), Some(3))
    );
    // An older event in a later batch is a no-op too.
    publish(
        &i,
        "contact.upserted",
        json!({"uuid": u(1), "version": 2, "data": {"first_name": "late"}}),
    )
    .await;
    wait_settled(&i).await;
    assert_eq!(contact(&i.db, &u(1)).await.unwrap()["first_name"], "v3");
    let (name, year): (String, i32) = sqlx::query_as(
        "SELECT c.name, m.founded_year FROM companies c JOIN companies_metadata m USING (uuid)",
    )
    .fetch_one(&i.db)
    .await
    .unwrap();
    assert_eq!((name.as_str(), year), ("Co v5", 2005));
    // The newest is also what the search endpoint serves.
    let got = i.ok("contacts.get", json!({"uuid": u(1)})).await;
    assert_eq!(got["first_name"], "v3");
    i.stop().await.unwrap();
}

#[tokio::test]
async fn duplicates_and_redeliveries_change_nothing() {
    let i = Instance::start("ing_dup").await;
    let p = i.config.nats.prefix.clone();
    let body = json!({"uuid": u(7), "version": 1, "data": {"first_name": "Ada", "departments": ["R&D", "Ops \"x\""]}});
    assert!(!publish_as(&i.nats, &p, "contact.upserted", &body, Some("ev-1"), true).await);
    assert!(
        publish_as(&i.nats, &p, "contact.upserted", &body, Some("ev-1"), true).await,
        "the stream drops a repeated Nats-Msg-Id"
    );
    wait_settled(&i).await;
    let first = contact(&i.db, &u(7)).await.expect("contact");
    assert_eq!(first["departments"], json!(["R&D", "Ops \"x\""]));
    let stamp = |db: sqlx::PgPool| async move {
        sqlx::query_scalar::<_, chrono::DateTime<chrono::Utc>>("SELECT updated_at FROM contacts")
            .fetch_one(&db)
            .await
            .unwrap()
    };
    let before = stamp(i.db.clone()).await;
    // The same event again (a redelivery after a lost ack looks exactly like this).
    publish_as(
        &i.nats,
        &p,
        "contact.upserted",
        &body,
        Some("ev-1-again"),
        false,
    )
    .await;
    wait_settled(&i).await;
    assert_eq!(contact(&i.db, &u(7)).await.unwrap(), first);
    assert_eq!(
        stamp(i.db.clone()).await,
        before,
        "the row was not rewritten"
    );
    assert_eq!(count(&i.db, "contacts").await, 1);
    i.stop().await.unwrap();
}

#[tokio::test]
async fn deletes_beat_older_upserts() {
    let i = Instance::start("ing_del").await;
    publish(&i, "contact.upserted", json!({"uuid": u(1), "version": 1, "data": {"first_name": "a", "metadata": {"city": "Rome"}}})).await;
    wait_settled(&i).await;
    publish(&i, "contact.deleted", json!({"uuid": u(1), "version": 3})).await;
    publish(
        &i,
        "contact.upserted",
        json!({"uuid": u(1), "version": 2, "data": {"first_name": "b"}}),
    )
    .await;
    // A delete for an entity never seen still leaves its tombstone.
    publish(&i, "contact.deleted", json!({"uuid": u(2), "version": 5})).await;
    wait_settled(&i).await;
    publish(
        &i,
        "contact.upserted",
        json!({"uuid": u(2), "version": 4, "data": {"first_name": "late"}}),
    )
    .await;
    wait_settled(&i).await;
    assert_eq!(contact(&i.db, &u(1)).await, None);
    assert_eq!(contact(&i.db, &u(2)).await, None);
    assert_eq!(count(&i.db, "contacts_metadata").await, 0);
    let tomb: i64 = sqlx::query_scalar("SELECT version FROM tombstones WHERE uuid = $1::uuid")
        .bind(u(1))
        .fetch_one(&i.db)
        .await
        .unwrap();
    assert_eq!(tomb, 3);
    // A newer upsert brings it back.
    publish(
        &i,
        "contact.upserted",
        json!({"uuid": u(1), "version": 4, "data": {"first_name": "back"}}),
    )
    .await;
    wait_settled(&i).await;
    let c = contact(&i.db, &u(1)).await.expect("re-created");
    assert_eq!(
        (c["first_name"].as_str(), c["city"].as_str()),
        (Some("back"), None)
    );
    i.stop().await.unwrap();
}

/// Two instances sharing the consumer can hold events of one entity in two transactions at
/// once. Here the test plays the other instance: it writes a new entity (version 5) with the
/// daemon's own `write_batch` and keeps its transaction open while the daemon applies a newer
/// delete (version 6). The delete must wait for the entity's lock and then win; were it not
/// to wait, it would find no row to delete and the entity would live on past its delete.
#[tokio::test]
async fn a_delete_racing_another_instances_insert_waits_for_it_and_wins() {
    let i = Instance::start("ing_race").await;
    let upsert = validate(
        Entity::Contact,
        Op::Upserted,
        json!({"uuid": u(7), "version": 5, "data": {"first_name": "elsewhere"}}),
        &str::to_owned,
    )
    .expect("a valid event");
    let mut other = i.db.begin().await.unwrap();
    write_batch(&mut other, &[&upsert]).await.expect("written");

    publish(&i, "contact.deleted", json!({"uuid": u(7), "version": 6})).await;
    let waits = wait_until(Duration::from_secs(10), || async {
        sqlx::query_scalar::<_, bool>(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted \
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))",
        )
        .fetch_one(&i.db)
        .await
        .unwrap()
    })
    .await;
    assert!(
        waits,
        "the daemon's delete does not wait for the open insert"
    );
    other.commit().await.unwrap();

    wait_settled(&i).await;
    assert_eq!(contact(&i.db, &u(7)).await, None, "the delete won");
    let tomb: i64 = sqlx::query_scalar("SELECT version FROM tombstones WHERE uuid = $1::uuid")
        .bind(u(7))
        .fetch_one(&i.db)
        .await
        .unwrap();
    assert_eq!(tomb, 6);
    i.stop().await.unwrap();
}

#[tokio::test]
async fn partial_updates_keep_other_fields() {
    let i = Instance::start("ing_partial").await;
    let mut changes = i
        .nats
        .subscribe(format!("{}.changes.>", i.config.nats.prefix))
        .await
        .unwrap();
    publish(
        &i,
        "contact.upserted",
        json!({"uuid": u(1), "version": 1, "data": {
        "first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.org",
        "departments": ["Research"], "metadata": {"city": "London", "country": "UK"}}}),
    )
    .await;
    wait_settled(&i).await;
    publish(
        &i,
        "contact.upserted",
        json!({"uuid": u(1), "version": 2, "data": {
        "title": "Countess", "metadata": {"city": "Paris"}}}),
    )
    .await;
    publish(
        &i,
        "contact.upserted",
        json!({"uuid": u(1), "version": 3, "data": {"email": null}}),
    )
    .await;
    wait_settled(&i).await;
    let c = contact(&i.db, &u(1)).await.unwrap();
    assert_eq!(
        c,
        json!({"first_name": "Ada", "last_name": "Lovelace", "title": "Countess", "email": null,
               "departments": ["Research"], "version": 3, "city": "Paris", "country": "UK"})
    );
    let notice = tokio::time::timeout(Duration::from_secs(5), changes.next())
        .await
        .expect("a change notice")
        .expect("message");
    assert_eq!(
        notice.subject.as_str(),
        format!("{}.changes.contacts", i.config.nats.prefix)
    );
    let body: Value = serde_json::from_slice(&notice.payload).unwrap();
    assert_eq!(
        body,
        json!({"entity": "contacts", "count": 1, "uuids": [u(1)]})
    );
    // text_search follows the generated column.
    let ts: String = sqlx::query_scalar("SELECT text_search FROM contacts")
        .fetch_one(&i.db)
        .await
        .unwrap();
    assert!(ts.contains("countess"), "{ts}");
    i.stop().await.unwrap();
}

#[tokio::test]
async fn an_events_title_lands_with_its_canonical_form_in_the_same_write() {
    let mut config = test_config("ing_title");
    config.normalize.backfill_ms = 0; // no backfill: only the event's own write can fill it
    let i = Instance::start_with(config).await;
    let canonical = || async {
        sqlx::query_scalar::<_, Option<String>>(
            "SELECT title_normalized FROM contacts WHERE uuid = $1::uuid",
        )
        .bind(u(1))
        .fetch_one(&i.db)
        .await
        .unwrap()
    };
    let upsert = |version: i64, data: Value| {
        publish(
            &i,
            "contact.upserted",
            json!({"uuid": u(1), "version": version, "data": data}),
        )
    };
    upsert(1, json!({"first_name": "Ada", "title": "VP Sales"})).await;
    wait_settled(&i).await;
    assert_eq!(
        canonical().await.as_deref(),
        Some("vice president of sales")
    );

    upsert(2, json!({"last_name": "Lovelace"})).await;
    wait_settled(&i).await;
    assert_eq!(
        canonical().await.as_deref(),
        Some("vice president of sales"),
        "an event without a title keeps the stored canonical one"
    );

    upsert(3, json!({"title": "Sr. SW Eng"})).await;
    wait_settled(&i).await;
    assert_eq!(
        canonical().await.as_deref(),
        Some("senior software engineer")
    );

    // Another spelling of the same title: the canonical form is unchanged, and stays.
    upsert(4, json!({"title": "Senior Software Engineer"})).await;
    wait_settled(&i).await;
    assert_eq!(
        canonical().await.as_deref(),
        Some("senior software engineer"),
        "a new spelling with the same canonical form keeps it"
    );

    // A writer other than Rolodex's that changes the title alone still clears it.
    sqlx::query("UPDATE contacts SET title = 'Chief Executive Officer' WHERE uuid = $1::uuid")
        .bind(u(1))
        .execute(&i.db)
        .await
        .unwrap();
    assert_eq!(canonical().await, None);

    upsert(5, json!({"title": null})).await;
    wait_settled(&i).await;
    assert_eq!(canonical().await, None);
    i.stop().await.unwrap();
}

#[tokio::test]
async fn malformed_events_are_dead_lettered_while_neighbours_commit() {
    let i = Instance::start("ing_dead").await;
    let p = i.config.nats.prefix.clone();
    let mut dead = i.nats.subscribe(format!("{p}.events.dead")).await.unwrap();
    rolodex_actors::nats_sync::round_trip(&i.nats)
        .await
        .unwrap();
    publish(
        &i,
        "contact.upserted",
        json!({"uuid": u(1), "version": 1, "data": {"first_name": "ok1"}}),
    )
    .await;
    publish(
        &i,
        "contact.upserted",
        json!({"uuid": u(2), "version": 0, "data": {}}),
    )
    .await;
    // Valid to the validator, refused by PostgreSQL (text cannot hold NUL): found by splitting.
    publish(
        &i,
        "contact.upserted",
        json!({"uuid": u(3), "version": 1, "data": {"first_name": "bad\u{0}"}}),
    )
    .await;
    publish(
        &i,
        "contact.upserted",
        json!({"uuid": u(4), "version": 1, "data": {"first_name": "ok4"}}),
    )
    .await;
    let js = jetstream::new(i.nats.clone());
    js.publish(
        format!("{p}.events.contact.upserted"),
        "not json at all".into(),
    )
    .await
    .unwrap()
    .await
    .unwrap();
    publish(
        &i,
        "company.upserted",
        json!({"uuid": u(5), "version": 1, "data": {"text_search": "x"}}),
    )
    .await;
    publish(
        &i,
        "contact.upserted",
        json!({"uuid": u(6), "version": 1, "data": {"first_name": "ok6"}}),
    )
    .await;
    wait_settled(&i).await;
    let mut reasons = Vec::new();
    for _ in 0..4 {
        let m = tokio::time::timeout(Duration::from_secs(5), dead.next())
            .await
            .expect("a dead letter")
            .expect("message");
        let h = m.headers.clone().expect("headers");
        let orig = h
            .get(ORIGINAL_SUBJECT)
            .expect("original subject")
            .to_string();
        assert!(orig.starts_with(&format!("{p}.events.")), "{orig}");
        reasons.push(h.get(REASON).expect("reason").to_string());
    }
    let all = reasons.join(" | ");
    for want in ["`version`", "PostgreSQL rejected", "invalid", "text_search"] {
        assert!(all.contains(want), "{all} should mention {want}");
    }
    let names: Vec<String> =
        sqlx::query_scalar("SELECT first_name FROM contacts ORDER BY first_name")
            .fetch_all(&i.db)
            .await
            .unwrap();
    assert_eq!(names, vec!["ok1", "ok4", "ok6"]);
    let m = crate::monitor::scrape(&i).await;
    assert_eq!(m["rolodex_dead_letters_total{}"], 4.0);
    assert_eq!(m["rolodex_events_applied_total{}"], 3.0);
    i.stop().await.unwrap();
}

#[tokio::test]
async fn a_postgres_outage_loses_nothing() {
    let proxy = Proxy::start("127.0.0.1:5432").await;
    let mut config = test_config("ing_outage");
    let db_name = config.database.url.rsplit('/').next().unwrap().to_owned();
    config.database.url = format!("postgres://postgres@127.0.0.1:{}/{db_name}", proxy.port);
    config.persist.batch_size = 50;
    config.persist.retry_backoff_ms = 50;
    config.persist.max_backoff_ms = 500;
    config.pool.timeout_secs = 2;
    let i = Instance::start_with(config).await;
    // The test's own view of the database goes around the proxy.
    let direct = sqlx::PgPool::connect(&format!("{PG}/{db_name}"))
        .await
        .unwrap();
    let n = 3000u32;
    let publisher = {
        let nats = i.nats.clone();
        let prefix = i.config.nats.prefix.clone();
        tokio::spawn(async move {
            for k in 0..n {
                let body =
                    json!({"uuid": u(k), "version": 1, "data": {"first_name": format!("n{k}")}});
                publish_as(&nats, &prefix, "contact.upserted", &body, None, false).await;
            }
        })
    };
    assert!(
        wait_until(Duration::from_secs(30), || async {
            count(&direct, "contacts").await > 100
        })
        .await,
        "ingestion started"
    );
    proxy.cut();
    let during = count(&direct, "contacts").await;
    tokio::time::sleep(Duration::from_secs(3)).await; // the outage itself, not a synchronisation
    proxy.restore();
    publisher.await.unwrap();
    let all_in = wait_until(Duration::from_secs(60), || async {
        count(&direct, "contacts").await == i64::from(n)
    })
    .await;
    assert!(
        all_in,
        "only {} of {n} rows after the outage",
        count(&direct, "contacts").await
    );
    assert!(during < i64::from(n), "the outage happened mid-stream");
    wait_settled(&i).await;
    direct.close().await;
    i.stop().await.unwrap();
}

/// The real binary, as a child process, on the test's database and prefix.
fn spawn_daemon(config: &Config) -> tokio::process::Child {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_rolodex"))
        .arg("--config-dir")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/config"))
        .args(["--database-url", &config.database.url])
        .args(["--prefix", &config.nats.prefix])
        .args([
            "--set",
            &format!("nats.queue_group={}", config.nats.queue_group),
        ])
        .args(["--set", "pool.size=1", "--set", "pool.max_overflow=3"])
        .args([
            "--set",
            "http.listen=127.0.0.1:0",
            "--set",
            "persist.max_bytes=67108864",
        ])
        .args([
            "--set",
            "persist.batch_size=100",
            "--set",
            "persist.ack_wait_secs=5",
        ])
        .arg("serve")
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("the rolodex binary starts")
}

#[tokio::test]
async fn sigkill_mid_stream_then_restart_ends_with_exactly_the_expected_rows() {
    let config = test_config("ing_kill");
    let prefix = config.nats.prefix.clone();
    let nats = async_nats::connect(crate::harness::NATS).await.unwrap();
    let js = jetstream::new(nats.clone());
    rolodex_actors::persist::ensure_stream(&js, &prefix, &config.persist)
        .await
        .unwrap();
    // 4,000 contacts, each upserted twice (v2 first for half of them), 500 of them deleted.
    let n = 4000u32;
    let mut expected_rows = 0;
    let mut acks = Vec::new();
    for k in 0..n {
        let order: [i64; 2] = if k % 2 == 0 { [1, 2] } else { [2, 1] };
        for v in order {
            let body = serde_json::to_vec(&json!({"uuid": u(k), "version": v,
                "data": {"first_name": format!("k{k}v{v}")}}))
            .unwrap();
            acks.push(
                js.publish(format!("{prefix}.events.contact.upserted"), body.into())
                    .await
                    .unwrap(),
            );
        }
        if acks.len() >= 256 {
            for ack in acks.drain(..) {
                ack.await.expect("stream ack");
            }
        }
        if k % 8 == 0 {
            let body = serde_json::to_vec(&json!({"uuid": u(k), "version": 3})).unwrap();
            acks.push(
                js.publish(format!("{prefix}.events.contact.deleted"), body.into())
                    .await
                    .unwrap(),
            );
        } else {
            expected_rows += 1;
        }
    }
    for ack in acks {
        ack.await.expect("stream ack");
    }
    let mut child = spawn_daemon(&config);
    let db_ready = wait_until(Duration::from_secs(30), || async {
        match sqlx::PgPool::connect(&config.database.url).await {
            Ok(db) => {
                let c: i64 = sqlx::query_scalar("SELECT count(*) FROM contacts")
                    .fetch_one(&db)
                    .await
                    .unwrap_or(0);
                db.close().await;
                c > 200
            }
            Err(_) => false,
        }
    })
    .await;
    assert!(db_ready, "the daemon started applying events");
    child.kill().await.expect("SIGKILL");
    let db = sqlx::PgPool::connect(&config.database.url).await.unwrap();
    let at_kill = count(&db, "contacts").await;
    assert!(
        at_kill < expected_rows,
        "killed mid-stream ({at_kill} rows)"
    );
    let mut child = spawn_daemon(&config);
    let done = wait_until(Duration::from_secs(90), || settled(&nats, &prefix)).await;
    assert!(done, "the restarted daemon settles every event");
    assert_eq!(count(&db, "contacts").await, expected_rows);
    let wrong: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM contacts WHERE version <> 2 OR first_name <> 'k' || \
         (right(uuid::text, 12))::int || 'v2'",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(wrong, 0, "every row holds its newest version");
    let tombs: i64 = sqlx::query_scalar("SELECT count(*) FROM tombstones")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(tombs, i64::from(n / 8));
    child.kill().await.ok();
    db.close().await;
    let _ = rolodex::db::drop_database(&config.database.url).await;
    delete_event_stream(&nats, &prefix).await;
}

#[tokio::test]
async fn a_search_after_an_event_lands_sees_it_even_when_cached() {
    let i = Instance::start("ingest_fresh").await;
    publish(
        &i,
        "contact.upserted",
        json!({"uuid": u(1), "version": 1, "data": {"first_name": "Grace", "last_name": "Hopper"}}),
    )
    .await;
    wait_settled(&i).await;
    let query = json!({"filters": {"last_name": {"eq": "hopper"}}, "fields": ["first_name"]});
    let first = i.req("contacts.search", query.clone()).await;
    assert_eq!(first.body["items"][0]["first_name"], "Grace");
    let again = i.req("contacts.search", query.clone()).await;
    assert_eq!(
        again.header("Rolodex-Cache"),
        Some("hit"),
        "the second search is served from the cache"
    );

    publish(
        &i,
        "contact.upserted",
        json!({"uuid": u(1), "version": 2, "data": {"first_name": "Amazing Grace"}}),
    )
    .await;
    // Once the event is acknowledged it has landed; the very next search must see it.
    wait_settled(&i).await;
    let after = i.req("contacts.search", query).await;
    assert_eq!(after.header("Rolodex-Cache"), Some("miss"));
    assert_eq!(after.body["items"][0]["first_name"], "Amazing Grace");
    // The metrics counted both events, in batches, and no dead letter.
    let m = crate::monitor::scrape(&i).await;
    assert_eq!(m["rolodex_events_applied_total{}"], 2.0);
    assert_eq!(m["rolodex_event_batch_size_count{}"], 2.0);
    assert_eq!(m["rolodex_dead_letters_total{}"], 0.0);
    i.stop().await.unwrap();
}
