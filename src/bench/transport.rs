//! The transport floor: a raw NATS request/reply round trip against an echo responder on its
//! own connection, with the payload sizes Rolodex replies carry, at the same concurrencies as
//! the query classes. Rolodex's overhead is what it adds above this plus the SQL floor.

use futures::StreamExt;
use serde::Serialize;

use super::queries::{measure, QueriesOptions};
use super::{BenchError, Stats};

#[derive(Debug, Clone, Serialize)]
pub struct TransportCell {
    pub payload_bytes: usize,
    pub concurrency: usize,
    pub stats: Stats,
}

/// An echo responder on a connection of its own: what every reply costs the wire, and nothing
/// else.
pub(super) struct Echo {
    pub subject: String,
    responder: async_nats::Client,
    task: tokio::task::JoinHandle<()>,
}

impl Echo {
    /// Connect, subscribe, and return once the server knows the subscription.
    pub async fn start(nats_url: &str) -> Result<Echo, BenchError> {
        let responder = async_nats::connect(nats_url)
            .await
            .map_err(|e| BenchError::Nats(e.to_string()))?;
        let subject = format!("bench_echo_{}", uuid::Uuid::new_v4().simple());
        let mut sub = responder
            .subscribe(subject.clone())
            .await
            .map_err(|e| BenchError::Nats(e.to_string()))?;
        let echo_client = responder.clone();
        let task = tokio::spawn(async move {
            while let Some(msg) = sub.next().await {
                if let Some(reply) = msg.reply {
                    if let Err(e) = echo_client.publish(reply, msg.payload).await {
                        tracing::debug!(error = %e, "Echo reply failed.");
                    }
                }
            }
        });
        rolodex_actors::nats_sync::round_trip(&responder)
            .await
            .map_err(|e| BenchError::Nats(e.to_string()))?;
        Ok(Echo {
            subject,
            responder,
            task,
        })
    }

    pub async fn stop(self) {
        self.task.abort();
        let _ = self.responder.drain().await;
    }
}

/// Echo round trips for each payload size and concurrency.
pub async fn measure_echo(
    requester: &async_nats::Client,
    opts: &QueriesOptions,
    sizes: &[usize],
) -> Result<Vec<TransportCell>, BenchError> {
    let echo = Echo::start(opts.config.nats.url.as_str()).await?;
    let mut out = Vec::new();
    for &size in sizes {
        let payload = bytes::Bytes::from(vec![b'x'; size]);
        for &n in &opts.concurrency {
            let nats = requester.clone();
            let subject = echo.subject.clone();
            let payload = payload.clone();
            let m = measure(opts, n, move |_| {
                let nats = nats.clone();
                let subject = subject.clone();
                let payload = payload.clone();
                async move {
                    nats.request(subject, payload)
                        .await
                        .map(|m| m.payload.len())
                        .map_err(|e| e.to_string())
                }
            })
            .await;
            if m.samples.is_empty() {
                echo.stop().await;
                return Err(BenchError::Nats(format!(
                    "echo round trips failed: {}",
                    m.errors.first().map_or("", String::as_str)
                )));
            }
            out.push(TransportCell {
                payload_bytes: size,
                concurrency: n,
                stats: Stats::from_durations(&m.samples, m.wall),
            });
        }
    }
    echo.stop().await;
    Ok(out)
}

/// The echo round trip closest in payload size to `bytes`, at a concurrency.
pub fn nearest(
    cells: &[TransportCell],
    bytes: usize,
    concurrency: usize,
) -> Option<&TransportCell> {
    cells
        .iter()
        .filter(|c| c.concurrency == concurrency)
        .min_by_key(|c| c.payload_bytes.abs_diff(bytes))
}
