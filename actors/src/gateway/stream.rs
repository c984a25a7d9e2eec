//! Streaming large results (`<prefix>.{contacts,companies}.stream`) with flow control.
//!
//! The caller sends a request with a reply inbox as usual. The gateway publishes chunks to that
//! inbox, each with header `Rolodex-Stream: chunk` and a reply subject of its own; the caller
//! acknowledges a chunk by replying to it (any body). At most `query.stream_window` chunks are
//! unacknowledged at a time, and the planner fetches the next batch only when the bounded
//! channel between them has room, so a slow client slows the stream instead of growing a
//! buffer. The last message has `Rolodex-Stream: end` and body `{end, count, chunks}`. A client
//! that stops acknowledging for `query.stream_ack_timeout_secs` is dropped.

use std::time::Duration;

use async_nats::{HeaderMap, Message};
use bytes::Bytes;
use futures::StreamExt;

use super::request::Ctx;
use crate::error::ApiError;
use crate::model::{StreamChunk, StreamEnd, StreamRequest};
use crate::planner::core::fields::Entity;
use crate::planner::exec::PgItem;
use crate::planner::StreamItem;
use crate::wire::{headers, Encoded, Negotiated, RequestMeta};

/// The header that marks stream messages.
pub const STREAM: &str = "Rolodex-Stream";

/// Run one stream to its end; an error before or during it is returned for the usual reply.
pub(super) async fn run(
    ctx: &Ctx,
    entity: Entity,
    meta: RequestMeta<'_>,
    n: Negotiated,
    msg: &Message,
) -> Result<(), ApiError> {
    let req: StreamRequest = ctx.codec.decode(meta, n, &msg.payload)?;
    let reply = msg
        .reply
        .clone()
        .ok_or_else(|| ApiError::invalid("reply", "a stream needs a reply subject"))?;
    let mut items = ctx.planner.stream(entity, req, 1)?;
    let ack_inbox = ctx.client.new_inbox();
    let mut acks = ctx
        .client
        .subscribe(ack_inbox.clone())
        .await
        .map_err(|e| ApiError::Unavailable(format!("NATS: {e}")))?;
    // Leave room for headers under the server's payload limit.
    let max_payload = ctx
        .client
        .server_info()
        .max_payload
        .saturating_sub(4096)
        .max(64 * 1024);
    let mut sent = Sent { seq: 0, unacked: 0 };
    while let Some(item) = items.recv().await {
        match item {
            StreamItem::Rows(rows) => {
                for chunk in encode_chunks(ctx, n, &rows, &mut sent.seq, max_payload)? {
                    while sent.unacked >= ctx.stream_window {
                        wait_ack(&mut acks, ctx.stream_ack_timeout).await?;
                        sent.unacked -= 1;
                    }
                    publish(ctx, reply.clone(), Some(ack_inbox.clone()), "chunk", chunk).await?;
                    sent.unacked += 1;
                }
            }
            StreamItem::Done(count) => {
                let end = StreamEnd {
                    end: true,
                    count,
                    chunks: sent.seq,
                };
                let body = ctx.codec.encode(n, &end)?;
                return publish(ctx, reply, None, "end", body).await;
            }
            StreamItem::Failed(e) => return Err(e),
        }
    }
    Err(ApiError::Unavailable(
        "the planner stopped during the stream; retry".into(),
    ))
}

struct Sent {
    seq: u64,
    unacked: usize,
}

async fn wait_ack(acks: &mut async_nats::Subscriber, timeout: Duration) -> Result<(), ApiError> {
    match tokio::time::timeout(timeout, acks.next()).await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(ApiError::Unavailable("NATS subscription closed".into())),
        Err(_) => Err(ApiError::Timeout(format!(
            "the stream's client did not acknowledge a chunk within {} s",
            timeout.as_secs()
        ))),
    }
}

/// Encode rows as chunks that each fit the payload limit, halving a chunk that does not.
fn encode_chunks(
    ctx: &Ctx,
    n: Negotiated,
    rows: &[PgItem],
    seq: &mut u64,
    max: usize,
) -> Result<Vec<Encoded>, ApiError> {
    let chunk = StreamChunk {
        seq: *seq,
        items: rows,
    };
    let encoded = ctx.codec.encode(n, &chunk)?;
    if encoded.body.len() <= max {
        *seq += 1;
        return Ok(vec![encoded]);
    }
    if rows.len() <= 1 {
        return Err(ApiError::PayloadTooLarge(
            "one row is larger than the NATS payload limit".into(),
        ));
    }
    let (a, b) = rows.split_at(rows.len() / 2);
    let mut out = encode_chunks(ctx, n, a, seq, max)?;
    out.extend(encode_chunks(ctx, n, b, seq, max)?);
    Ok(out)
}

async fn publish(
    ctx: &Ctx,
    to: async_nats::Subject,
    ack: Option<String>,
    kind: &str,
    enc: Encoded,
) -> Result<(), ApiError> {
    let mut h = HeaderMap::new();
    h.insert(STREAM, kind);
    h.insert(headers::CONTENT_TYPE, enc.content_type);
    if enc.zstd {
        h.insert(headers::CONTENT_ENCODING, headers::ZSTD);
    }
    let body = Bytes::from(enc.body);
    let sent = match ack {
        Some(ack) => {
            ctx.client
                .publish_with_reply_and_headers(to, ack, h, body)
                .await
        }
        None => ctx.client.publish_with_headers(to, h, body).await,
    };
    sent.map_err(|e| ApiError::Unavailable(format!("NATS: {e}")))
}
