//! Content negotiation, bounded decompression and (de)serialisation.

use std::cell::RefCell;
use std::io::Read;

use serde::{de::DeserializeOwned, Serialize};

use crate::config::WireConfig;
use crate::error::ApiError;

/// The header values of a request that matter to the codec.
#[derive(Debug, Default, Clone, Copy)]
pub struct RequestMeta<'a> {
    pub content_type: Option<&'a str>,
    pub content_encoding: Option<&'a str>,
    pub accept_encoding: Option<&'a str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentType {
    MsgPack,
    Json,
}

impl ContentType {
    pub fn mime(self) -> &'static str {
        match self {
            Self::MsgPack => super::headers::MSGPACK,
            Self::Json => super::headers::JSON,
        }
    }
}

/// What the reply must look like, decided from the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    pub content_type: ContentType,
    /// The caller accepts zstd (said so, or sent zstd itself).
    pub accepts_zstd: bool,
}

impl Default for Negotiated {
    fn default() -> Self {
        Self {
            content_type: ContentType::MsgPack,
            accepts_zstd: false,
        }
    }
}

/// A reply body and the headers that describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    pub body: Vec<u8>,
    pub content_type: &'static str,
    pub zstd: bool,
}

/// The codec with its limits.
#[derive(Debug, Clone)]
pub struct Codec {
    limits: WireConfig,
}

impl Codec {
    pub fn new(limits: WireConfig) -> Self {
        Self { limits }
    }

    pub fn limits(&self) -> &WireConfig {
        &self.limits
    }

    /// Decide the reply's shape from the request's headers and first byte. Never fails, so
    /// even a request that cannot be decoded gets its error in a format the caller reads.
    pub fn negotiate(&self, meta: RequestMeta<'_>, body: &[u8]) -> Negotiated {
        let compressed = meta.content_encoding.is_some_and(is_zstd);
        let content_type = match meta.content_type.map(str::trim) {
            Some(ct) if ct.starts_with(super::headers::JSON) => ContentType::Json,
            Some(_) => ContentType::MsgPack,
            // A MessagePack map never begins with `{` (0x7b is a positive fixint).
            None if !compressed && body.trim_ascii_start().first() == Some(&b'{') => {
                ContentType::Json
            }
            None => ContentType::MsgPack,
        };
        Negotiated {
            content_type,
            accepts_zstd: compressed || meta.accept_encoding.is_some_and(accepts_zstd),
        }
    }

    /// Decode a request body: size check, bounded decompression, then MessagePack or JSON.
    pub fn decode<T: DeserializeOwned>(
        &self,
        meta: RequestMeta<'_>,
        negotiated: Negotiated,
        body: &[u8],
    ) -> Result<T, ApiError> {
        if body.len() > self.limits.max_request_bytes {
            return Err(ApiError::PayloadTooLarge(format!(
                "body of {} bytes exceeds {} bytes",
                body.len(),
                self.limits.max_request_bytes
            )));
        }
        let plain;
        let body = match meta.content_encoding {
            Some(enc) if is_zstd(enc) => {
                plain = decompress_bounded(body, self.limits.max_decompressed_bytes)?;
                &plain[..]
            }
            Some(enc) if !enc.trim().is_empty() && !enc.trim().eq_ignore_ascii_case("identity") => {
                return Err(ApiError::MalformedBody(format!(
                    "unsupported Content-Encoding `{enc}` (use zstd or none)"
                )))
            }
            _ => body,
        };
        decode_body(negotiated.content_type, body)
    }

    /// Encode a reply in the negotiated format, compressing when asked and worth it.
    pub fn encode<T: Serialize>(
        &self,
        negotiated: Negotiated,
        value: &T,
    ) -> Result<Encoded, ApiError> {
        let (body, zstd) = with_encoded(negotiated.content_type, value, |raw| {
            if negotiated.accepts_zstd && raw.len() > self.limits.compress_threshold_bytes {
                compress(raw, self.limits.zstd_level).map(|body| (body, true))
            } else {
                Ok((raw.to_vec(), false))
            }
        })?
        .map_err(|e| ApiError::Internal(format!("zstd compression failed: {e}")))?;
        Ok(Encoded {
            body,
            content_type: negotiated.content_type.mime(),
            zstd,
        })
    }
}

fn is_zstd(value: &str) -> bool {
    value.trim().eq_ignore_ascii_case(super::headers::ZSTD)
}

fn accepts_zstd(value: &str) -> bool {
    value
        .split(',')
        .any(|part| is_zstd(part.split(';').next().unwrap_or_default()))
}

thread_local! {
    /// One compression context per thread, kept: creating one per reply cost more than
    /// compressing a page (profiled in BENCHMARKS.md).
    static COMPRESSOR: RefCell<Option<(i32, zstd::bulk::Compressor<'static>)>> = const { RefCell::new(None) };
    static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
}

/// Bodies up to this size are compressed with a small match table (see [`hash_log_for`]).
const SMALL_BODY: usize = 16 * 1024;
/// 2^12 four-byte entries: 16 KiB, which stays in cache beside the page being compressed.
const SMALL_BODY_HASH_LOG: u32 = 12;

/// The match table size for a body of `len` bytes (`0`: zstd's own choice for the level).
/// For small inputs zstd picks a large table (2^14–2^15 entries at level 1), which is right
/// in a hot loop; behind a server it is cold at every reply. With the small table a 25-row
/// page took about a fifth less compression time in place (BENCHMARKS.md, eighth round) and
/// came out 11 bytes longer (3,438 against 3,427). Large bodies keep zstd's choice, where the
/// small table would cost ratio.
fn hash_log_for(len: usize) -> u32 {
    if len <= SMALL_BODY {
        SMALL_BODY_HASH_LOG
    } else {
        0
    }
}

/// zstd-compress with this thread's reusable context.
pub fn compress(raw: &[u8], level: i32) -> std::io::Result<Vec<u8>> {
    COMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.as_ref().is_none_or(|(l, _)| *l != level) {
            *slot = Some((level, zstd::bulk::Compressor::new(level)?));
        }
        match slot.as_mut() {
            Some((_, c)) => {
                c.set_parameter(zstd::zstd_safe::CParameter::HashLog(hash_log_for(
                    raw.len(),
                )))?;
                c.compress(raw)
            }
            None => zstd::bulk::compress(raw, level),
        }
    })
}

/// Decompress a zstd body, refusing to produce more than `max` bytes. Memory stays bounded
/// whatever the frame header claims: a frame that declares its size (ours and most encoders'
/// do) is decoded in one call into exactly that much, only if it is within `max`; any other
/// frame is streamed, its output growing only as bytes actually decode.
pub fn decompress_bounded(body: &[u8], max: usize) -> Result<Vec<u8>, ApiError> {
    let declared = zstd::zstd_safe::get_frame_content_size(body).ok().flatten();
    match declared {
        Some(size) if size > max as u64 => Err(ApiError::PayloadTooLarge(format!(
            "body decompresses to more than {max} bytes"
        ))),
        Some(size)
            if zstd::zstd_safe::find_frame_compressed_size(body).ok() == Some(body.len()) =>
        {
            DECOMPRESSOR.with(|cell| {
                let mut slot = cell.borrow_mut();
                if slot.is_none() {
                    *slot = Some(
                        zstd::bulk::Decompressor::new()
                            .map_err(|e| ApiError::Internal(e.to_string()))?,
                    );
                }
                let d = slot
                    .as_mut()
                    .ok_or_else(|| ApiError::Internal("no zstd context".into()))?;
                d.decompress(body, size as usize)
                    .map_err(|e| ApiError::MalformedBody(format!("bad zstd stream: {e}")))
            })
        }
        _ => decompress_streaming(body, max),
    }
}

#[allow(clippy::disallowed_methods)] // The one sanctioned streaming decoder: it is capped below.
fn decompress_streaming(body: &[u8], max: usize) -> Result<Vec<u8>, ApiError> {
    let decoder = zstd::stream::read::Decoder::new(body)
        .map_err(|e| ApiError::MalformedBody(format!("bad zstd stream: {e}")))?;
    let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(max));
    decoder
        .take(max as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| ApiError::MalformedBody(format!("bad zstd stream: {e}")))?;
    if out.len() > max {
        return Err(ApiError::PayloadTooLarge(format!(
            "body decompresses to more than {max} bytes"
        )));
    }
    Ok(out)
}

/// Deserialize a body of a known content type. MessagePack is read human-readable, so uuids and
/// timestamps are strings exactly as in JSON.
pub fn decode_body<T: DeserializeOwned>(
    content_type: ContentType,
    body: &[u8],
) -> Result<T, ApiError> {
    match content_type {
        ContentType::Json => serde_json::from_slice(body)
            .map_err(|e| ApiError::MalformedBody(format!("invalid JSON: {e}"))),
        ContentType::MsgPack => {
            let mut de = rmp_serde::Deserializer::from_read_ref(body).with_human_readable();
            T::deserialize(&mut de)
                .map_err(|e| ApiError::MalformedBody(format!("invalid MessagePack: {e}")))
        }
    }
}

/// Serialize a value as a struct-map, human-readable MessagePack or as JSON.
pub fn encode_body<T: Serialize>(
    content_type: ContentType,
    value: &T,
) -> Result<Vec<u8>, ApiError> {
    with_encoded(content_type, value, <[u8]>::to_vec)
}

/// A scratch buffer kept by each thread above this capacity is dropped after use, so one
/// large stream chunk does not pin its memory.
const SCRATCH_KEPT_BYTES: usize = 1 << 20;

thread_local! {
    /// Where replies are serialised: reused, so a page is not built through a chain of
    /// doubling reallocations; the reply takes an exact-size copy, or the compressed bytes.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Serialize `value` into this thread's scratch buffer and hand the bytes to `use_bytes`.
fn with_encoded<T: Serialize, R>(
    content_type: ContentType,
    value: &T,
    use_bytes: impl FnOnce(&[u8]) -> R,
) -> Result<R, ApiError> {
    SCRATCH.with(|cell| {
        // A serializer that somehow re-enters gets a buffer of its own.
        let mut own = Vec::new();
        let mut borrowed = cell.try_borrow_mut();
        let buf = match borrowed.as_deref_mut() {
            Ok(buf) => buf,
            Err(_) => &mut own,
        };
        buf.clear();
        let written = match content_type {
            ContentType::Json => serde_json::to_writer(&mut *buf, value)
                .map_err(|e| ApiError::Internal(format!("JSON encoding failed: {e}"))),
            ContentType::MsgPack => {
                let mut ser = rmp_serde::Serializer::new(&mut *buf)
                    .with_struct_map()
                    .with_human_readable();
                value
                    .serialize(&mut ser)
                    .map_err(|e| ApiError::Internal(format!("MessagePack encoding failed: {e}")))
            }
        };
        let out = written.map(|()| use_bytes(buf));
        if buf.capacity() > SCRATCH_KEPT_BYTES {
            *buf = Vec::new();
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    struct Probe {
        name: String,
        id: uuid::Uuid,
    }

    fn codec() -> Codec {
        Codec::new(WireConfig::default())
    }

    fn probe() -> Probe {
        Probe {
            name: "x".repeat(2000),
            id: uuid::Uuid::nil(),
        }
    }

    #[test]
    fn a_body_starting_with_a_brace_and_no_content_type_is_json() {
        let n = codec().negotiate(RequestMeta::default(), b" {\"a\":1}");
        assert_eq!(n.content_type, ContentType::Json);
        let packed = encode_body(ContentType::MsgPack, &probe()).unwrap();
        let n = codec().negotiate(RequestMeta::default(), &packed);
        assert_eq!(n.content_type, ContentType::MsgPack);
    }

    #[test]
    fn msgpack_uses_named_fields_and_string_uuids() {
        let packed = encode_body(ContentType::MsgPack, &probe()).unwrap();
        let generic: serde_json::Value = rmp_serde::from_slice(&packed).unwrap();
        assert_eq!(generic["id"], "00000000-0000-0000-0000-000000000000");
        let back: Probe = decode_body(ContentType::MsgPack, &packed).unwrap();
        assert_eq!(back, probe());
    }

    #[test]
    fn replies_compress_only_when_accepted_and_large() {
        let c = codec();
        let meta = RequestMeta {
            accept_encoding: Some("gzip, zstd"),
            ..Default::default()
        };
        let n = c.negotiate(meta, b"{}");
        let big = c.encode(n, &probe()).unwrap();
        assert!(big.zstd);
        let small = c.encode(n, &"tiny").unwrap();
        assert!(!small.zstd);
        let not_asked = c.encode(Negotiated::default(), &probe()).unwrap();
        assert!(!not_asked.zstd);
    }

    #[test]
    fn small_and_large_bodies_alternate_on_one_context_and_decompress_intact() {
        // Pseudo-random text, so the large body really needs its own table size.
        let text = |len: usize| -> Vec<u8> {
            let mut x = 0x9e37_79b9_u32;
            (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    b"abcdefgh ,.:0123"[(x % 16) as usize]
                })
                .collect()
        };
        let (small, large) = (text(SMALL_BODY), text(8 * SMALL_BODY));
        assert_eq!(hash_log_for(small.len()), SMALL_BODY_HASH_LOG);
        assert_eq!(hash_log_for(large.len()), 0);
        for body in [&small, &large, &small, &large] {
            let packed = compress(body, 1).unwrap();
            assert!(packed.len() < body.len());
            assert_eq!(&decompress_bounded(&packed, body.len()).unwrap(), body);
        }
    }

    #[test]
    fn a_zstd_bomb_is_413_not_out_of_memory() {
        let bomb = zstd::bulk::compress(&vec![0u8; 64 * 1024 * 1024], 19).unwrap();
        assert!(bomb.len() < 1024 * 1024);
        let c = codec();
        let meta = RequestMeta {
            content_encoding: Some("zstd"),
            ..Default::default()
        };
        let n = c.negotiate(meta, &bomb);
        let err = c.decode::<Probe>(meta, n, &bomb).unwrap_err();
        assert_eq!(err.status(), 413);
    }

    #[test]
    fn garbage_gets_400_with_the_format_named() {
        let c = codec();
        let n = c.negotiate(RequestMeta::default(), b"{nope");
        let err = c
            .decode::<Probe>(RequestMeta::default(), n, b"{nope")
            .unwrap_err();
        assert_eq!(err.code(), "malformed_body");
        assert!(err.to_string().contains("JSON"));
        let meta = RequestMeta {
            content_encoding: Some("zstd"),
            ..Default::default()
        };
        let err = c
            .decode::<Probe>(meta, c.negotiate(meta, b"xx"), b"not zstd")
            .unwrap_err();
        assert!(err.to_string().contains("zstd"));
    }

    #[test]
    fn oversized_bodies_are_413() {
        let c = codec();
        let body = vec![b' '; 2 * 1024 * 1024];
        let n = c.negotiate(RequestMeta::default(), &body);
        assert_eq!(
            c.decode::<Probe>(RequestMeta::default(), n, &body)
                .unwrap_err()
                .status(),
            413
        );
    }
}
