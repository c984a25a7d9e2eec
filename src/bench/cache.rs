//! `rolodex bench cache`: the latency of a result-cache hit and of a miss over NATS, beside
//! the raw NATS round trip to an echo responder on the same server (the floor a hit can
//! approach). Runs against a daemon already serving the configured prefix; requests are
//! pre-encoded (MessagePack + zstd) and replies are not decoded, so the figures are the
//! service's, not the client's codec.

use std::time::{Duration, Instant};

use futures::StreamExt;
use serde::Serialize;
use serde_json::json;

use crate::client::{self, Format};
use crate::Config;

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(transparent)]
    Serve(#[from] crate::ServeError),
    #[error("NATS: {0}")]
    Nats(String),
    #[error("the daemon answered with an error: {0}")]
    Reply(String),
    #[error("expected a cache {wanted} but the reply said {got:?}; is the cache enabled?")]
    Cache {
        wanted: &'static str,
        got: Option<String>,
    },
}

/// Percentiles of one series, in microseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Series {
    pub n: usize,
    pub p50_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
}

impl Series {
    fn of(mut samples: Vec<Duration>) -> Series {
        samples.sort();
        let at = |q: f64| {
            let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
            samples.get(i).map_or(0.0, |d| d.as_secs_f64() * 1e6)
        };
        Series {
            n: samples.len(),
            p50_us: at(0.5),
            p90_us: at(0.9),
            p99_us: at(0.99),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// 100 B request to an echo responder in this (the benchmark's) process.
    pub raw_nats: Series,
    /// `$SRV.PING` to the daemon itself: the round trip to the same process and connection
    /// a hit takes, with no cache work (the fairer floor on a busy machine).
    pub daemon_ping: Series,
    pub hit: Series,
    pub miss: Series,
    /// hit p50 / raw NATS p50 (goal: at most 1.5).
    pub hit_over_raw: f64,
    /// hit p50 / daemon ping p50.
    pub hit_over_ping: f64,
    pub reply_bytes: usize,
}

/// Run the benchmark: `iterations` sequential requests per series. The echo, the daemon's
/// `$SRV.PING` and the cache hit take turns request by request, so load drifting over the run
/// weighs on all three alike; the echo carries the hit's own request and reply sizes.
pub async fn run(config: &Config, iterations: usize) -> Result<Report, BenchError> {
    let nats = crate::connect_nats(config).await?;
    let echo_client = crate::connect_nats(config).await?;
    let prefix = &config.nats.prefix;
    let search = format!("{prefix}.contacts.search");
    let ping_subject = format!("$SRV.PING.rolodex.{}", service_id(&nats, &search).await?);
    let hot = json!({"filters": {"seniority": {"eq": "vp"}}, "limit": 25});
    let (h, body) = client::encode_request(&hot, Format::MsgPackZstd, Some("bench"))
        .map_err(|e| BenchError::Reply(e.to_string()))?;
    let body = bytes::Bytes::from(body);
    let ask_hot = || nats.request_with_headers(search.clone(), h.clone(), body.clone());
    // The first ask fills the cache (or finds it filled); its reply size sizes the echo.
    let first = ask_hot()
        .await
        .map_err(|e| BenchError::Nats(format!("hit series: {e}")))?;
    check(&first, None)?;
    let reply_bytes = first.payload.len();

    let echo_subject = format!("{prefix}.bench.echo.{}", uuid::Uuid::new_v4().simple());
    let mut echo = echo_client
        .subscribe(echo_subject.clone())
        .await
        .map_err(|e| BenchError::Nats(e.to_string()))?;
    let responder = echo_client.clone();
    let echo_reply = bytes::Bytes::from(vec![b'x'; reply_bytes]);
    let echo_task = tokio::spawn(async move {
        while let Some(msg) = echo.next().await {
            if let Some(reply) = msg.reply {
                let _ = responder.publish(reply, echo_reply.clone()).await;
            }
        }
    });
    rolodex_actors::nats_sync::round_trip(&echo_client)
        .await
        .map_err(|e| BenchError::Nats(e.to_string()))?;

    let echo_request = bytes::Bytes::from(vec![b'x'; body.len()]);
    let warmup = iterations / 10;
    let mut samples: [Vec<Duration>; 3] = Default::default();
    for i in 0..iterations + warmup {
        let t = Instant::now();
        nats.request(echo_subject.clone(), echo_request.clone())
            .await
            .map_err(|e| BenchError::Nats(format!("echo: {e}")))?;
        let echo_took = t.elapsed();
        let t = Instant::now();
        nats.request(ping_subject.clone(), bytes::Bytes::new())
            .await
            .map_err(|e| BenchError::Nats(format!("{ping_subject}: {e}")))?;
        let ping_took = t.elapsed();
        let t = Instant::now();
        let msg = ask_hot()
            .await
            .map_err(|e| BenchError::Nats(format!("hit series: {e}")))?;
        let hit_took = t.elapsed();
        check(&msg, Some("hit"))?;
        if i >= warmup {
            for (series, took) in samples.iter_mut().zip([echo_took, ping_took, hit_took]) {
                series.push(took);
            }
        }
    }
    let [raw, daemon_ping, hit] = samples.map(Series::of);

    let miss = {
        let mut samples = Vec::with_capacity(iterations);
        let run = uuid::Uuid::new_v4().simple().to_string();
        for i in 0..iterations {
            // A distinct question each time: a real miss (query, encode, store).
            let body = json!({"filters": {"seniority": {"eq": "vp"}, "first_name": {"ne": format!("{run}{i}")}}, "limit": 25});
            let (h, body) = client::encode_request(&body, Format::MsgPackZstd, Some("bench"))
                .map_err(|e| BenchError::Reply(e.to_string()))?;
            let t = Instant::now();
            let msg = nats
                .request_with_headers(search.clone(), h, body.into())
                .await
                .map_err(|e| BenchError::Nats(format!("miss series: {e}")))?;
            samples.push(t.elapsed());
            check(&msg, Some("miss"))?;
        }
        Series::of(samples)
    };
    echo_task.abort();
    let hit_over_raw = if raw.p50_us > 0.0 {
        hit.p50_us / raw.p50_us
    } else {
        0.0
    };
    let hit_over_ping = if daemon_ping.p50_us > 0.0 {
        hit.p50_us / daemon_ping.p50_us
    } else {
        0.0
    };
    Ok(Report {
        raw_nats: raw,
        daemon_ping,
        hit_over_ping,
        hit,
        miss,
        hit_over_raw,
        reply_bytes,
    })
}

/// The micro-protocol id of the daemon serving `search` (other services may share the server).
async fn service_id(nats: &async_nats::Client, search: &str) -> Result<String, BenchError> {
    let inbox = nats.new_inbox();
    let mut replies = nats
        .subscribe(inbox.clone())
        .await
        .map_err(|e| BenchError::Nats(e.to_string()))?;
    nats.publish_with_reply("$SRV.INFO.rolodex", inbox, bytes::Bytes::new())
        .await
        .map_err(|e| BenchError::Nats(e.to_string()))?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    while let Ok(Some(msg)) = tokio::time::timeout_at(deadline, replies.next()).await {
        let info: serde_json::Value = serde_json::from_slice(&msg.payload).unwrap_or_default();
        let ours = info["endpoints"]
            .as_array()
            .is_some_and(|eps| eps.iter().any(|e| e["subject"] == search));
        if let (true, Some(id)) = (ours, info["id"].as_str()) {
            return Ok(id.to_owned());
        }
    }
    Err(BenchError::Nats(format!(
        "no daemon answers $SRV.INFO with the endpoint {search}; start `rolodex serve` first"
    )))
}

fn check(msg: &async_nats::Message, wanted: Option<&'static str>) -> Result<(), BenchError> {
    let h = msg.headers.as_ref();
    if let Some(err) = h.and_then(|h| h.get("Nats-Service-Error")) {
        return Err(BenchError::Reply(err.to_string()));
    }
    let got = h
        .and_then(|h| h.get(rolodex_actors::wire::headers::CACHE))
        .map(|v| v.to_string());
    match wanted {
        Some(w) if got.as_deref() != Some(w) => Err(BenchError::Cache { wanted: w, got }),
        _ => Ok(()),
    }
}

#[derive(Debug, Clone, clap::Args)]
pub struct CacheArgs {
    /// Sequential requests per series
    #[arg(long, default_value_t = 2000)]
    pub iterations: usize,
}
