//! The binary as a user runs it: start-up errors that name what is wrong, the ready line,
//! `rolodex req`, and SIGTERM draining to exit code 0.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::harness::{test_config, SMALL_DATASET};

fn rolodex() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rolodex"));
    c.env_remove("RUST_LOG").env("NO_COLOR", "1");
    for (k, _) in std::env::vars() {
        if k.starts_with("ROLODEX_") || k.starts_with("DATABASE_") {
            c.env_remove(k);
        }
    }
    c.env(
        "ROLODEX_CONFIG_DIR",
        concat!(env!("CARGO_MANIFEST_DIR"), "/config"),
    );
    c
}

#[test]
fn an_unknown_or_invalid_key_stops_start_up_naming_it() {
    let out = rolodex()
        .args(["--set", "pool.sise=3", "config"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("sise"));
    let out = rolodex()
        .env("ROLODEX_POOL__SIZE", "lots")
        .arg("config")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("pool.size"));
}

#[test]
fn config_shows_where_each_value_came_from_with_secrets_redacted() {
    let out = rolodex()
        .env("DATABASE_POOL_SIZE", "7")
        .args([
            "--set",
            "nats.prefix=fromflag",
            "--database-url",
            "postgres://u:hunter2@h/db",
            "config",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let line = |key: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{key} =")))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(
        line("pool.size").contains("= 7") && line("pool.size").contains("environment"),
        "{text}"
    );
    assert!(line("nats.prefix").contains("fromflag"), "{text}");
    assert!(
        line("database.url").contains("<redacted>") && !text.contains("hunter2"),
        "{text}"
    );
    assert!(line("pool.max_overflow").contains("TOML file"), "{text}");
}

#[test]
fn unreachable_services_are_named_with_their_address() {
    let out = rolodex()
        .args([
            "--database-url",
            "postgres://postgres@127.0.0.1:1/x",
            "serve",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot reach PostgreSQL at 127.0.0.1:1") && err.contains("pg_ctlcluster"),
        "{err}"
    );
    let config = test_config("cli_nats");
    let out = rolodex()
        .args([
            "--database-url",
            &config.database.url,
            "--nats-url",
            "nats://127.0.0.1:1",
            "serve",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot reach NATS at nats://127.0.0.1:1"),
        "{err}"
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        rolodex::db::drop_database(&config.database.url)
            .await
            .unwrap()
    });
}

#[tokio::test]
async fn serve_says_ready_answers_req_and_drains_on_sigterm() {
    let config = test_config("cli_serve");
    let mut child = rolodex()
        .args([
            "--database-url",
            &config.database.url,
            "--prefix",
            &config.nats.prefix,
        ])
        .args([
            "--set",
            "pool.size=1",
            "--set",
            "pool.max_overflow=2",
            "--set",
            "http.enabled=false",
        ])
        .arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let ready = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .any(|l| l.contains("Rolodex ready."))
    });
    assert!(
        tokio::time::timeout(Duration::from_secs(30), ready)
            .await
            .unwrap()
            .unwrap(),
        "ready line"
    );

    let db = sqlx::PgPool::connect(&config.database.url).await.unwrap();
    sqlx::raw_sql(SMALL_DATASET).execute(&db).await.unwrap();
    db.close().await;
    let out = rolodex()
        .args(["--prefix", &config.nats.prefix, "req"])
        .arg(format!("{}.contacts.search", config.nats.prefix))
        .arg(r#"{"filters":{"first_name":{"contains":"jo"}}}"#)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reply: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(reply["items"].as_array().unwrap().len(), 2);
    let out = rolodex()
        .args(["--prefix", &config.nats.prefix, "req", "--json"])
        .arg(format!("{}.contacts.get", config.nats.prefix))
        .arg(r#"{"uuid":"00000000-0000-0000-0000-0000000000ff"}"#)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("error 404 not_found"));

    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.code(), Some(0), "SIGTERM drains and exits 0");
    let nats = async_nats::connect(crate::harness::NATS).await.unwrap();
    crate::harness::delete_event_stream(&nats, &config.nats.prefix).await;
    rolodex::db::drop_database(&config.database.url)
        .await
        .unwrap();
}
