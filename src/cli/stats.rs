//! `rolodex stats`: every instance's `$SRV.STATS` for this prefix, pretty-printed.

use std::time::Duration;

use futures::StreamExt;
use rolodex_actors::Config;
use serde_json::Value;

/// Ask every instance, wait briefly for all answers, print ours.
pub async fn run(config: &Config, json: bool) -> anyhow::Result<i32> {
    let nats = crate::connect_nats(config).await?;
    let inbox = nats.new_inbox();
    let mut sub = nats.subscribe(inbox.clone()).await?;
    nats.publish_with_reply(
        format!("$SRV.STATS.{}", crate::SERVICE_NAME),
        inbox,
        "".into(),
    )
    .await?;
    let prefix = format!("{}.", config.nats.prefix);
    let mut instances = Vec::new();
    while let Ok(Some(msg)) = tokio::time::timeout(Duration::from_millis(500), sub.next()).await {
        let Ok(stats) = serde_json::from_slice::<Value>(&msg.payload) else {
            continue;
        };
        let ours = stats["endpoints"].as_array().is_some_and(|eps| {
            eps.iter().any(|e| {
                e["subject"]
                    .as_str()
                    .is_some_and(|s| s.starts_with(&prefix))
            })
        });
        if ours {
            instances.push(stats);
        }
    }
    if instances.is_empty() {
        eprintln!(
            "no Rolodex instance answers for prefix `{}`",
            config.nats.prefix
        );
        return Ok(1);
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&instances)?);
        return Ok(0);
    }
    for stats in &instances {
        print_instance(stats);
    }
    Ok(0)
}

fn print_instance(stats: &Value) {
    println!(
        "instance {} (version {}, started {})",
        stats["id"], stats["version"], stats["started"]
    );
    println!(
        "  {:<28} {:>10} {:>8} {:>10}",
        "endpoint", "requests", "errors", "avg ms"
    );
    let empty = Vec::new();
    let endpoints = stats["endpoints"].as_array().unwrap_or(&empty);
    for e in endpoints {
        println!(
            "  {:<28} {:>10} {:>8} {:>10.3}",
            e["name"].as_str().unwrap_or_default(),
            e["num_requests"].as_u64().unwrap_or(0),
            e["num_errors"].as_u64().unwrap_or(0),
            e["average_processing_time"].as_f64().unwrap_or(0.0) / 1e6
        );
    }
    let data = endpoints
        .first()
        .map(|e| &e["data"])
        .cloned()
        .unwrap_or_default();
    let pool = &data["pool"];
    println!(
        "  pool: {} open, {} idle, at most {}",
        pool["size"], pool["idle"], pool["max"]
    );
    for c in pool["classes"].as_array().unwrap_or(&empty) {
        println!(
            "    {:<12} in use {:>3} / {:<3} waiting {:>3}  granted {:>8}  timeouts {}",
            c["class"].as_str().unwrap_or_default(),
            c["in_use"].as_u64().unwrap_or(0),
            c["ration"].as_u64().unwrap_or(0),
            c["waiting"].as_u64().unwrap_or(0),
            c["granted"].as_u64().unwrap_or(0),
            c["timeouts"].as_u64().unwrap_or(0)
        );
    }
    println!("  queries:");
    for q in data["queries"].as_array().unwrap_or(&empty) {
        println!(
            "    {:<12} {:<10} count {:>8}  avg {:>8.3} ms  p99 <= {:>8.3} ms",
            q["class"].as_str().unwrap_or_default(),
            q["tier"].as_str().unwrap_or_default(),
            q["count"].as_u64().unwrap_or(0),
            q["avg_ms"].as_f64().unwrap_or(0.0),
            q["p99_ms"].as_f64().unwrap_or(0.0)
        );
    }
}
