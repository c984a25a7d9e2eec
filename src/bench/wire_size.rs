//! Wire size of result pages: a 25-row and a 1,000-row page of contacts, with the default
//! fields and with every field (company and both metadata tables joined), encoded as JSON,
//! MessagePack, MessagePack + zstd (at the daemon's level) and JSON + gzip (level 6).

use std::io::Write as _;

use rolodex_actors::model::{Page, SearchRequest};
use rolodex_actors::planner::core::fields::Entity;
use rolodex_actors::planner::core::Planner;
use rolodex_actors::planner::exec;
use rolodex_actors::wire::codec::encode_body;
use rolodex_actors::wire::ContentType;
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
}

/// Measure every page shape and encoding.
pub async fn measure(
    planner: &Planner,
    pool: &PgPool,
    zstd_level: i32,
) -> Result<Vec<WireSize>, BenchError> {
    let all: Vec<&str> = Entity::Contacts
        .fields()
        .filter(|f| f.column != "text_search")
        .filter_map(|f| f.scope(Entity::Contacts))
        .collect();
    let mut out = Vec::new();
    for rows in [25usize, 1000] {
        for (shape, fields) in [("default", Value::Null), ("full", json!(all))] {
            let page = page(planner, pool, rows, fields).await?;
            for (encoding, bytes) in encodings(&page, zstd_level)? {
                out.push(WireSize {
                    rows,
                    shape: shape.into(),
                    encoding: encoding.into(),
                    bytes,
                });
            }
        }
    }
    Ok(out)
}

async fn page(
    planner: &Planner,
    pool: &PgPool,
    limit: usize,
    fields: Value,
) -> Result<Page, BenchError> {
    let invalid = |e: String| BenchError::Invalid(format!("wire-size page: {e}"));
    let req: SearchRequest = serde_json::from_value(json!({"limit": limit, "fields": fields}))
        .map_err(|e| invalid(e.to_string()))?;
    let plan = planner
        .search(Entity::Contacts, &req)
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
    let zstd = zstd::bulk::compress(&msgpack, zstd_level).map_err(|e| fail(e.to_string()))?;
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
