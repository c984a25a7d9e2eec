//! A small Rolodex client over NATS in the wire format of DESIGN §4, used by `rolodex req`, the
//! benchmark and the tests: MessagePack + zstd by default, or JSON.

use std::time::Duration;

use async_nats::HeaderMap;
use bytes::Bytes;
use rolodex_actors::error::ErrorBody;
use rolodex_actors::wire::codec::{decode_body, decompress_bounded, encode_body};
use rolodex_actors::wire::{headers, ContentType};
use serde_json::Value;

/// Request bodies larger than this are zstd-compressed in [`Format::MsgPackZstd`] (the
/// server's default `wire.compress_threshold_bytes`).
pub const COMPRESS_ABOVE_BYTES: usize = 1024;

/// Largest reply the client will decompress.
const MAX_REPLY_BYTES: usize = 256 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// MessagePack body, zstd-compressed above 1 KiB, replies accepted compressed.
    MsgPackZstd,
    MsgPack,
    Json,
}

/// A reply: its body as JSON, the error (if any), and what came over the wire.
#[derive(Debug, Clone)]
pub struct Reply {
    pub body: Value,
    pub error: Option<(u16, ErrorBody)>,
    pub headers: HeaderMap,
    /// Bytes of the body as received (compressed or not).
    pub wire_bytes: usize,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.as_str())
    }

    /// The body, or the error as `Err((status, code))`.
    pub fn ok(self) -> Result<Value, (u16, String)> {
        match self.error {
            None => Ok(self.body),
            Some((status, body)) => Err((status, body.code)),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("request failed: {0}")]
    Request(#[from] async_nats::RequestError),
    #[error("could not encode the request: {0}")]
    Encode(String),
    #[error("could not decode the reply: {0}")]
    Decode(String),
}

/// The request's headers and body for a format.
pub fn encode_request(
    body: &Value,
    format: Format,
    user: Option<&str>,
) -> Result<(HeaderMap, Vec<u8>), ClientError> {
    let mut h = HeaderMap::new();
    if let Some(user) = user {
        h.insert(headers::USER, user);
    }
    let bytes = match format {
        Format::Json => {
            h.insert(headers::CONTENT_TYPE, headers::JSON);
            encode_body(ContentType::Json, body)
        }
        Format::MsgPack | Format::MsgPackZstd => {
            h.insert(headers::CONTENT_TYPE, headers::MSGPACK);
            encode_body(ContentType::MsgPack, body)
        }
    }
    .map_err(|e| ClientError::Encode(e.to_string()))?;
    if format == Format::MsgPackZstd {
        h.insert(headers::ACCEPT_ENCODING, headers::ZSTD);
        // Like the server's replies: a body under the threshold is cheaper to send as it is
        // than to compress on one side and decompress on the other.
        if bytes.len() <= COMPRESS_ABOVE_BYTES {
            return Ok((h, bytes));
        }
        h.insert(headers::CONTENT_ENCODING, headers::ZSTD);
        let packed = rolodex_actors::wire::codec::compress(&bytes, 1)
            .map_err(|e| ClientError::Encode(e.to_string()))?;
        return Ok((h, packed));
    }
    Ok((h, bytes))
}

/// Decode a reply message.
pub fn decode_reply(msg: &async_nats::Message) -> Result<Reply, ClientError> {
    let h = msg.headers.clone().unwrap_or_default();
    let get = |n: &str| h.get(n).map(|v| v.as_str().to_owned());
    let plain = if get(headers::CONTENT_ENCODING).is_some_and(|e| e.eq_ignore_ascii_case("zstd")) {
        decompress_bounded(&msg.payload, MAX_REPLY_BYTES)
            .map_err(|e| ClientError::Decode(e.to_string()))?
    } else {
        msg.payload.to_vec()
    };
    let ct = if get(headers::CONTENT_TYPE).is_some_and(|c| c.starts_with(headers::JSON)) {
        ContentType::Json
    } else {
        ContentType::MsgPack
    };
    let body: Value = if plain.is_empty() {
        Value::Null
    } else {
        decode_body(ct, &plain).map_err(|e| ClientError::Decode(e.to_string()))?
    };
    let error = get(headers::SERVICE_ERROR_CODE).map(|code| {
        let status = code.parse().unwrap_or(500);
        let body = serde_json::from_value(body.clone()).unwrap_or(ErrorBody {
            code: "unknown".into(),
            message: get(headers::SERVICE_ERROR).unwrap_or_default(),
            details: Value::Null,
        });
        (status, body)
    });
    Ok(Reply {
        body,
        error,
        headers: h,
        wire_bytes: msg.payload.len(),
    })
}

/// Send one request and wait for its reply.
pub async fn request(
    client: &async_nats::Client,
    subject: &str,
    body: &Value,
    format: Format,
    user: Option<&str>,
    timeout: Duration,
) -> Result<Reply, ClientError> {
    let (h, bytes) = encode_request(body, format, user)?;
    let req = async_nats::Request::new()
        .headers(h)
        .payload(bytes.into())
        .timeout(Some(timeout));
    let msg = client.send_request(subject.to_owned(), req).await?;
    decode_reply(&msg)
}

/// How a stream ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSummary {
    pub count: u64,
    pub chunks: u64,
}

/// Run a stream request: `on_chunk` gets each chunk's items; each chunk is acknowledged after
/// `on_chunk` returns, which is what paces the server (see docs/requests.md, Stream).
pub async fn stream(
    client: &async_nats::Client,
    subject: &str,
    body: &Value,
    format: Format,
    idle_timeout: Duration,
    mut on_chunk: impl FnMut(Vec<Value>),
) -> Result<Result<StreamSummary, (u16, ErrorBody)>, ClientError> {
    use futures::StreamExt;
    let (h, bytes) = encode_request(body, format, None)?;
    let inbox = client.new_inbox();
    let mut sub = client
        .subscribe(inbox.clone())
        .await
        .map_err(|e| ClientError::Decode(e.to_string()))?;
    client
        .publish_with_reply_and_headers(subject.to_owned(), inbox, h, bytes.into())
        .await
        .map_err(|e| ClientError::Decode(e.to_string()))?;
    loop {
        let msg = match tokio::time::timeout(idle_timeout, sub.next()).await {
            Ok(Some(msg)) => msg,
            _ => return Err(ClientError::Decode("the stream went silent".into())),
        };
        let reply = decode_reply(&msg)?;
        if let Some(err) = reply.error {
            return Ok(Err(err));
        }
        match reply.header("Rolodex-Stream") {
            Some("chunk") => {
                let items = reply.body["items"].as_array().cloned().unwrap_or_default();
                on_chunk(items);
                if let Some(ack) = msg.reply {
                    client
                        .publish(ack, Bytes::new())
                        .await
                        .map_err(|e| ClientError::Decode(e.to_string()))?;
                }
            }
            Some("end") => {
                return Ok(Ok(StreamSummary {
                    count: reply.body["count"].as_u64().unwrap_or_default(),
                    chunks: reply.body["chunks"].as_u64().unwrap_or_default(),
                }))
            }
            _ => return Err(ClientError::Decode("not a stream message".into())),
        }
    }
}
