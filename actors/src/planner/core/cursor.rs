//! Opaque keyset cursors: the last row's sort key, bound to the query it came from by a
//! fingerprint, and signed with HMAC-SHA256 so a caller can neither forge nor edit one.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::datum::Datum;
use crate::error::ApiError;

type HmacSha256 = Hmac<Sha256>;

/// Bytes of the MAC kept at the end of a cursor.
const MAC_LEN: usize = 16;
/// Longest cursor accepted; real ones are far shorter.
const MAX_CURSOR_CHARS: usize = 4096;

/// Identifies the query a cursor belongs to: entity, filters, text and sort, canonicalised.
pub type Fingerprint = [u8; 16];

pub fn fingerprint(parts: &serde_json::Value) -> Fingerprint {
    let bytes = serde_json::to_vec(parts).unwrap_or_default();
    let digest = Sha256::digest(bytes);
    let mut out = [0u8; 16];
    out.copy_from_slice(&digest[..16]);
    out
}

#[derive(Serialize, Deserialize)]
struct Payload {
    f: Fingerprint,
    k: Vec<Datum>,
}

/// Signs and checks cursors with one secret.
#[derive(Clone)]
pub struct CursorCodec {
    /// HMAC keyed once: each cursor clones it instead of hashing the padded key again.
    keyed: HmacSha256,
}

impl std::fmt::Debug for CursorCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorCodec(..)")
    }
}

impl CursorCodec {
    pub fn new(secret: &[u8]) -> Self {
        Self {
            keyed: <HmacSha256 as Mac>::new_from_slice(secret)
                .expect("HMAC accepts keys of any length"),
        }
    }

    fn mac(&self) -> HmacSha256 {
        self.keyed.clone()
    }

    pub fn encode(&self, fingerprint: Fingerprint, keys: &[Datum]) -> String {
        let payload = Payload {
            f: fingerprint,
            k: keys.to_vec(),
        };
        let mut bytes = rmp_serde::to_vec(&payload).unwrap_or_default();
        let mut mac = self.mac();
        mac.update(&bytes);
        bytes.extend_from_slice(&mac.finalize().into_bytes()[..MAC_LEN]);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The sort key a cursor holds, if it is genuine and was made for this query.
    pub fn decode(
        &self,
        cursor: &str,
        fingerprint: Fingerprint,
        keys: usize,
    ) -> Result<Vec<Datum>, ApiError> {
        let bad = |why: &str| ApiError::InvalidCursor(why.to_owned());
        if cursor.len() > MAX_CURSOR_CHARS {
            return Err(bad("too long"));
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(cursor)
            .map_err(|_| bad("not a Rolodex cursor"))?;
        if bytes.len() <= MAC_LEN {
            return Err(bad("not a Rolodex cursor"));
        }
        let (body, tag) = bytes.split_at(bytes.len() - MAC_LEN);
        let mut mac = self.mac();
        mac.update(body);
        mac.verify_truncated_left(tag).map_err(|_| {
            bad("signature does not match (tampered, or made by another deployment)")
        })?;
        let payload: Payload = rmp_serde::from_slice(body).map_err(|_| bad("unreadable"))?;
        if payload.f != fingerprint {
            return Err(bad(
                "made for a different query; cursors only page the query they came from",
            ));
        }
        if payload.k.len() != keys {
            return Err(bad("does not fit the sort order"));
        }
        Ok(payload.k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper_detection() {
        let codec = CursorCodec::new(b"secret");
        let fp = fingerprint(&serde_json::json!({"a": 1}));
        let keys = vec![Datum::Text("x".into()), Datum::Uuid(uuid::Uuid::nil())];
        let c = codec.encode(fp, &keys);
        assert_eq!(codec.decode(&c, fp, 2).unwrap(), keys);

        let mut tampered = c.clone().into_bytes();
        let i = tampered.len() / 2;
        tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert_eq!(
            codec.decode(&tampered, fp, 2).unwrap_err().code(),
            "invalid_cursor"
        );

        let other = fingerprint(&serde_json::json!({"a": 2}));
        assert!(codec
            .decode(&c, other, 2)
            .unwrap_err()
            .to_string()
            .contains("different query"));
        assert!(CursorCodec::new(b"other").decode(&c, fp, 2).is_err());
        assert!(codec.decode("%%%", fp, 2).is_err());
    }
}
