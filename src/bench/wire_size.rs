//! Wire size of result pages: a 25-row and a 1,000-row page of contacts, with the default
//! fields and with every field (company and both metadata tables joined), encoded as JSON,
//! MessagePack, MessagePack + zstd (at the daemon's level) and JSON + gzip (level 6); and
//! what encoding each page costs the daemon (its codec, from the rows PostgreSQL sent).

use std::io::Write as _;
use std::time::{Duration, Instant};

use rolodex_actors::config::WireConfig;
use rolodex_actors::model::{Page, SearchRequest};
use rolodex_actors::planner::core::fields::Entity;
use rolodex_actors::planner::core::Planner;
use rolodex_actors::planner::exec;
use rolodex_actors::planner::exec::PgItem;
use rolodex_actors::wire::codec::{compress, encode_body};
use rolodex_actors::wire::{Codec, ContentType, Negotiated};
use serde::Serialize;
use serde_json::{json, Value};
use sqlx::PgPool;

use super::BenchError;

#[derive(Debug, Clone, Serialize)]
pub struct WireSize {
    pub rows: usize,
    /// `default` (the contact's own columns) or `full` (every field).
    pub shape: String,
    pub encoding: String,
    pub bytes: usize,
    /// Median time the daemon's codec takes to encode the page in this encoding (µs; not
    /// measured for JSON + gzip, which the daemon does not speak).
    pub encode_us: Option<f64>,
}

/// Page sizes, each with how many times its encoding is timed: enough passes for a stable
/// median, a few seconds in all.
const PAGES: [(usize, usize); 2] = [(25, 400), (1000, 20)];

/// Measure every page shape and encoding.
pub async fn measure(
    planner: &Planner,
    pool: &PgPool,
    wire: &WireConfig,
) -> Result<Vec<WireSize>, BenchError> {
    let codec = Codec::new(wire.clone());
    let all: Vec<&str> = Entity::Contacts
        .fields()
        .filter(|f| f.column != "text_search")
        .filter_map(|f| f.scope(Entity::Contacts))
        .collect();
    let mut out = Vec::new();
    for (rows, passes) in PAGES {
        for (shape, fields) in [("default", Value::Null), ("full", json!(all))] {
            let req: SearchRequest =
                serde_json::from_value(json!({"limit": rows, "fields": fields}))
                    .map_err(|e| invalid(e.to_string()))?;
            let page = page(planner, pool, &req).await?;
            for (encoding, bytes) in encodings(&page, wire.zstd_level)? {
                let encode_us = match negotiated(encoding) {
                    Some(n) => Some(encode_cost(planner, pool, &req, &codec, n, passes).await?),
                    None => None,
                };
                out.push(WireSize {
                    rows,
                    shape: shape.into(),
                    encoding: encoding.into(),
                    bytes,
                    encode_us,
                });
            }
        }
    }
    Ok(out)
}

fn invalid(e: String) -> BenchError {
    BenchError::Invalid(format!("wire-size page: {e}"))
}

/// How the daemon is asked for an encoding (`None`: one it does not produce).
fn negotiated(encoding: &str) -> Option<Negotiated> {
    let (content_type, accepts_zstd) = match encoding {
        "json" => (ContentType::Json, false),
        "msgpack" => (ContentType::MsgPack, false),
        "msgpack+zstd" => (ContentType::MsgPack, true),
        _ => return None,
    };
    Some(Negotiated {
        content_type,
        accepts_zstd,
    })
}

/// The median time of the daemon's own path from rows to reply bytes: the page's rows as
/// PostgreSQL sent them ([`PgItem`]), through [`Codec::encode`]. Each pass fetches the page
/// again (rows are consumed), untimed.
async fn encode_cost(
    planner: &Planner,
    pool: &PgPool,
    req: &SearchRequest,
    codec: &Codec,
    n: Negotiated,
    passes: usize,
) -> Result<f64, BenchError> {
    let plan = planner
        .search(Entity::Contacts, req)
        .map_err(|e| invalid(e.to_string()))?;
    let limit = plan.limit as usize;
    let mut conn = pool.acquire().await?;
    let mut times: Vec<Duration> = Vec::with_capacity(passes);
    for _ in 0..passes {
        let mut rows = exec::fetch_all(&mut conn, &plan.page.sql)
            .await
            .map_err(|e| invalid(e.to_string()))?;
        rows.truncate(limit);
        let started = Instant::now();
        let page = Page {
            items: PgItem::all(Entity::Contacts, &plan.page.columns, rows),
            next_cursor: None,
            total: None,
        };
        codec.encode(n, &page).map_err(|e| invalid(e.to_string()))?;
        times.push(started.elapsed());
    }
    times.sort_unstable();
    Ok(times[times.len() / 2].as_secs_f64() * 1e6)
}

async fn page(planner: &Planner, pool: &PgPool, req: &SearchRequest) -> Result<Page, BenchError> {
    let limit = req.limit.unwrap_or_default() as usize;
    let plan = planner
        .search(Entity::Contacts, req)
        .map_err(|e| invalid(e.to_string()))?;
    let mut conn = pool.acquire().await?;
    let rows = exec::fetch_all(&mut conn, &plan.page.sql)
        .await
        .map_err(|e| invalid(e.to_string()))?;
    let items = rows
        .iter()
        .take(limit)
        .map(|r| exec::row(Entity::Contacts, &plan.page.columns, r))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(e.to_string()))?;
    Ok(Page {
        items,
        next_cursor: None,
        total: None,
    })
}

/// `(encoding, bytes)` of a page in each encoding.
pub fn encodings<T: Serialize>(
    value: &T,
    zstd_level: i32,
) -> Result<Vec<(&'static str, usize)>, BenchError> {
    let fail = |e: String| BenchError::Invalid(format!("encoding a page: {e}"));
    let json = encode_body(ContentType::Json, value).map_err(|e| fail(e.to_string()))?;
    let msgpack = encode_body(ContentType::MsgPack, value).map_err(|e| fail(e.to_string()))?;
    let zstd = compress(&msgpack, zstd_level).map_err(|e| fail(e.to_string()))?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&json).map_err(|e| fail(e.to_string()))?;
    let gzip = gz.finish().map_err(|e| fail(e.to_string()))?;
    Ok(vec![
        ("json", json.len()),
        ("msgpack", msgpack.len()),
        ("msgpack+zstd", zstd.len()),
        ("json+gzip", gzip.len()),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compressed_encodings_shrink_repetitive_pages() {
        let rows: Vec<Value> = (0..100)
            .map(|i| json!({"first_name": "Ada", "title": "Senior Software Engineer", "n": i}))
            .collect();
        let sizes = encodings(&json!({ "items": rows }), 1).expect("encodes");
        let get = |name| sizes.iter().find(|(e, _)| *e == name).map(|(_, b)| *b);
        assert!(get("msgpack") < get("json"));
        assert!(get("msgpack+zstd") < get("msgpack"));
        assert!(get("json+gzip") < get("json"));
    }
}
