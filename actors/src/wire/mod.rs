//! The wire contract of DESIGN §4: how request bodies are decoded and replies encoded.
//!
//! Pure code: the gateway hands in the header values it read and gets bytes plus the header
//! values to set back. Decompression is always bounded; `zstd::decode_all` and friends are
//! banned in `clippy.toml` so [`codec::decompress_bounded`] stays the only way in.

pub mod codec;
pub mod timestamp;

pub use codec::{Codec, ContentType, Encoded, Negotiated, RequestMeta};

/// Header names of the contract, in one place.
pub mod headers {
    pub const CONTENT_TYPE: &str = "Content-Type";
    pub const CONTENT_ENCODING: &str = "Content-Encoding";
    pub const ACCEPT_ENCODING: &str = "Accept-Encoding";
    pub const SERVICE_ERROR: &str = "Nats-Service-Error";
    pub const SERVICE_ERROR_CODE: &str = "Nats-Service-Error-Code";
    pub const USER: &str = "Rolodex-User";
    pub const REQUEST_ID: &str = "Rolodex-Request-Id";
    pub const CACHE: &str = "Rolodex-Cache";
    pub const JSON: &str = "application/json";
    pub const MSGPACK: &str = "application/msgpack";
    pub const ZSTD: &str = "zstd";
}
