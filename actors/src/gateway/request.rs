//! One request, start to finish: negotiate, decode, look in the result cache, route to the
//! planner, encode, reply. The cache lookup is a hash-map read; a miss asks the planner as
//! before (single flight), so the gateway still never waits on the database itself.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::{HeaderMap, Message};
use bytes::Bytes;
use tokio::sync::Semaphore;
use tracing::Instrument;
use uuid::Uuid;

use super::core::{EndpointStats, Route};
use crate::apollo::{self, AnalyzeRequest};
use crate::cache::core::key::dependencies;
use crate::cache::{self, Cached, Key, Source, Tables};
use crate::error::ApiError;
use crate::model::{
    CountRequest, FacetsRequest, GetRequest, SearchRequest, SlowQueriesReply, SlowQueriesRequest,
};
use crate::monitor::Monitor;
use crate::normalize::Industries;
use crate::planner::core::canon;
use crate::planner::{Answer, Handle, PlannerMsg};
use crate::wire::{headers, Codec, Negotiated, RequestMeta};

/// What every request task shares.
pub(super) struct Ctx {
    pub client: async_nats::Client,
    pub codec: Codec,
    pub planner: Handle,
    pub in_flight: Arc<Semaphore>,
    pub deadline: Duration,
    pub cache: cache::Handle,
    pub industries: Arc<Industries>,
    /// `query.default_limit`, made explicit in cache keys.
    pub default_limit: u32,
    pub stream_window: usize,
    pub stream_ack_timeout: Duration,
    pub monitor: Monitor,
}

/// What a route produced: an answer still to encode, or bytes from (or for) the cache.
enum Out {
    /// `Some` on cacheable routes that bypassed the cache (`cache: false`, `explain`).
    Answer(Answer, Option<Source>),
    Cached(Cached, Source),
}

/// The header values of a request that the gateway reads.
#[derive(Default, Clone, Copy)]
struct Incoming<'a> {
    /// What the codec looks at.
    meta: RequestMeta<'a>,
    user: Option<&'a str>,
    request_id: Option<&'a str>,
}

/// Read the request's headers in one pass: `HeaderMap::get(&str)` builds and allocates a
/// header name for every lookup, five per request.
fn incoming(h: Option<&HeaderMap>) -> Incoming<'_> {
    let mut out = Incoming::default();
    for (name, values) in h.into_iter().flat_map(HeaderMap::iter) {
        let name: &str = name.as_ref();
        let slot = match name {
            headers::CONTENT_TYPE => &mut out.meta.content_type,
            headers::CONTENT_ENCODING => &mut out.meta.content_encoding,
            headers::ACCEPT_ENCODING => &mut out.meta.accept_encoding,
            headers::USER => &mut out.user,
            headers::REQUEST_ID => &mut out.request_id,
            _ => continue,
        };
        *slot = values.first().map(|v| v.as_str());
    }
    out
}

/// Take one request from an intake loop: a request whose exact bytes were answered from the
/// cache before is answered right here, a hash lookup and a publish with no task of its own;
/// anything else gets its own task.
pub(super) async fn dispatch(
    ctx: &Arc<Ctx>,
    route: Route,
    stats: &Arc<EndpointStats>,
    msg: Message,
) {
    let started = Instant::now();
    let incoming = incoming(msg.headers.as_ref());
    let span = request_span(&msg, incoming);
    let meta = incoming.meta;
    let negotiated = ctx.codec.negotiate(meta, &msg.payload);
    let raw = raw_key(ctx, route, meta, negotiated, &msg.payload);
    if let Some(hit) = raw.and_then(|key| ctx.cache.raw_hit(key)) {
        let out = Ok(Some(Out::Cached(hit, Source::Hit)));
        finish(ctx, route, stats, &msg, negotiated, out, started)
            .instrument(span)
            .await;
        return;
    }
    let task = handle(
        ctx.clone(),
        route,
        stats.clone(),
        msg,
        negotiated,
        raw,
        started,
    );
    tokio::spawn(task.instrument(span));
}

fn request_span(msg: &Message, incoming: Incoming<'_>) -> tracing::Span {
    let user = incoming.user.unwrap_or("-");
    let request_id = incoming.request_id.unwrap_or("-");
    tracing::info_span!("request", subject = %msg.subject, user = %user, request_id = %request_id)
}

/// Handle one request on its own task and send its one reply.
async fn handle(
    ctx: Arc<Ctx>,
    route: Route,
    stats: Arc<EndpointStats>,
    msg: Message,
    negotiated: Negotiated,
    raw: Option<Key>,
    started: Instant,
) {
    let meta = incoming(msg.headers.as_ref()).meta;
    let result = match ctx.in_flight.clone().try_acquire_owned() {
        Ok(_permit) => match route {
            // A stream sends its own messages; only an error is left to reply with.
            Route::Stream(e) => super::stream::run(&ctx, e, meta, negotiated, &msg)
                .await
                .map(|()| None),
            _ => answer(&ctx, route, meta, negotiated, raw, &msg.payload)
                .await
                .map(Some),
        },
        Err(_) => Err(ApiError::Overloaded(
            "too many requests in flight on this instance; retry shortly".into(),
        )),
    };
    finish(&ctx, route, &stats, &msg, negotiated, result, started).await;
}

/// Send the reply (none when a stream already answered) and count the request.
async fn finish(
    ctx: &Ctx,
    route: Route,
    stats: &EndpointStats,
    msg: &Message,
    negotiated: Negotiated,
    result: Result<Option<Out>, ApiError>,
    started: Instant,
) {
    let endpoint = route.endpoint_name();
    let result = match result {
        Ok(None) => {
            stats.record(started.elapsed().as_nanos() as u64, None);
            ctx.monitor
                .record_request(endpoint, None, started.elapsed());
            return;
        }
        Ok(Some(out)) => Ok(out),
        Err(e) => Err(e),
    };
    let code = result.as_ref().err().map(|e| e.code());
    let error = result.as_ref().err().map(|e| e.to_string());
    if let Some(e) = &error {
        tracing::debug!(error = %e, "Request failed.");
    }
    let (reply_headers, body) = reply(&ctx.codec, negotiated, result);
    if let Some(to) = msg.reply.clone() {
        if let Err(e) = ctx
            .client
            .publish_with_headers(to, reply_headers, body)
            .await
        {
            tracing::warn!(error = %e, "Could not publish a reply.");
        }
    }
    stats.record(started.elapsed().as_nanos() as u64, error);
    ctx.monitor
        .record_request(endpoint, code, started.elapsed());
}

/// The key of a cacheable request's exact bytes (`None` for other routes or with the cache off).
fn raw_key(
    ctx: &Ctx,
    route: Route,
    meta: RequestMeta<'_>,
    n: Negotiated,
    body: &[u8],
) -> Option<Key> {
    match route {
        Route::Search(_) | Route::Count(_) | Route::Facets(_) | Route::ApolloAnalyze
            if ctx.cache.enabled() =>
        {
            Some(Key::of_raw(
                route.suffix(),
                n.into(),
                meta.content_type,
                meta.content_encoding,
                body,
            ))
        }
        _ => None,
    }
}

async fn answer(
    ctx: &Ctx,
    route: Route,
    meta: RequestMeta<'_>,
    n: Negotiated,
    raw: Option<Key>,
    body: &[u8],
) -> Result<Out, ApiError> {
    let deadline = ctx.deadline;
    let planner = &ctx.planner;
    let use_cache = |opt: Option<bool>| ctx.cache.enabled() && opt != Some(false);
    match route {
        Route::Search(e) => {
            let req: SearchRequest = ctx.codec.decode(meta, n, body)?;
            let cacheable = (use_cache(req.cache) && !req.explain).then(|| {
                let mut names: Vec<&str> = req.sort.iter().map(|s| s.field.as_str()).collect();
                names.extend(req.fields.iter().flatten().map(String::as_str));
                (
                    canon::search(e, &req, ctx.default_limit),
                    dependencies(e, &req.filters, &names),
                )
            });
            let ask = || planner.ask(|r| PlannerMsg::Search(e, Box::new(req), r), deadline);
            planned(ctx, route, n, raw, cacheable, ask).await
        }
        Route::Count(e) => {
            let req: CountRequest = ctx.codec.decode(meta, n, body)?;
            let cacheable = use_cache(req.cache)
                .then(|| (canon::count(e, &req), dependencies(e, &req.filters, &[])));
            let ask = || planner.ask(|r| PlannerMsg::Count(e, req, r), deadline);
            planned(ctx, route, n, raw, cacheable, ask).await
        }
        Route::Facets(e) => {
            let req: FacetsRequest = ctx.codec.decode(meta, n, body)?;
            let cacheable = use_cache(req.cache).then(|| {
                let names: Vec<&str> = req.facets.iter().map(String::as_str).collect();
                (
                    canon::facets(e, &req),
                    dependencies(e, &req.filters, &names),
                )
            });
            let ask = || planner.ask(|r| PlannerMsg::Facets(e, req, r), deadline);
            planned(ctx, route, n, raw, cacheable, ask).await
        }
        Route::Get(e) => {
            let req: GetRequest = ctx.codec.decode(meta, n, body)?;
            let uuid = Uuid::parse_str(req.uuid.trim())
                .map_err(|_| ApiError::invalid("uuid", "expected a UUID"))?;
            let a = planner
                .ask(|r| PlannerMsg::Get(e, uuid, r), deadline)
                .await?;
            Ok(Out::Answer(a, None))
        }
        Route::Stream(_) => Err(ApiError::Internal("streams are not single answers".into())),
        Route::SlowQueries => {
            let req: SlowQueriesRequest = ctx.codec.decode(meta, n, body)?;
            let slow_queries = ctx
                .monitor
                .slow_queries(req.limit.unwrap_or(20).min(1000))
                .await?;
            Ok(Out::Answer(
                Answer::SlowQueries(SlowQueriesReply { slow_queries }),
                None,
            ))
        }
        Route::ApolloAnalyze => {
            let req: AnalyzeRequest = ctx.codec.decode(meta, n, body)?;
            let canonical = serde_json::Value::String(apollo::normalize_url(&req.url)?);
            let industries = &ctx.industries;
            let run = || async move { apollo::analyze(&req.url, industries) };
            let ttl = ctx.cache.apollo_ttl_ms();
            through_cache(ctx, route, n, raw, &canonical, Tables::NONE, ttl, run).await
        }
    }
}

/// A planner request: through the cache under its canonical form and the tables it reads, or
/// straight to the planner when the caller or the configuration turned the cache off.
async fn planned<F, Fut>(
    ctx: &Ctx,
    route: Route,
    n: Negotiated,
    raw: Option<Key>,
    cacheable: Option<(serde_json::Value, Tables)>,
    ask: F,
) -> Result<Out, ApiError>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<Answer, ApiError>>,
{
    match cacheable {
        None => Ok(Out::Answer(ask().await?, Some(Source::Miss))),
        Some((canonical, deps)) => {
            let ttl = ctx.cache.result_ttl_ms();
            through_cache(ctx, route, n, raw, &canonical, deps, ttl, ask).await
        }
    }
}

/// Serve from the cache, or run `compute` (once for identical concurrent misses), encode its
/// answer in the caller's format and keep the bytes.
#[allow(clippy::too_many_arguments)]
async fn through_cache<T, F, Fut>(
    ctx: &Ctx,
    route: Route,
    n: Negotiated,
    raw: Option<Key>,
    canonical: &serde_json::Value,
    deps: Tables,
    ttl_ms: u64,
    compute: F,
) -> Result<Out, ApiError>
where
    T: serde::Serialize,
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<T, ApiError>>,
{
    let key = Key::of(route.suffix(), n.into(), canonical);
    if let Some(raw) = raw {
        ctx.cache.alias(raw, key);
    }
    let codec = &ctx.codec;
    let (cached, source) = ctx
        .cache
        .fetch(key, deps, ttl_ms, || async move {
            let answer = compute().await?;
            let enc = codec.encode(n, &answer)?;
            Ok(Cached {
                body: Bytes::from(enc.body),
                content_type: enc.content_type,
                zstd: enc.zstd,
            })
        })
        .await?;
    Ok(Out::Cached(cached, source))
}

/// The reply's headers and body: the answer, or the error in headers and body.
fn reply(codec: &Codec, n: Negotiated, result: Result<Out, ApiError>) -> (HeaderMap, Bytes) {
    let mut h = HeaderMap::new();
    let result = match result {
        Ok(Out::Cached(c, source)) => {
            h.insert(headers::CONTENT_TYPE, c.content_type);
            if c.zstd {
                h.insert(headers::CONTENT_ENCODING, headers::ZSTD);
            }
            h.insert(headers::CACHE, source.header());
            return (h, c.body);
        }
        Ok(Out::Answer(a, source)) => {
            if let Some(source) = source {
                h.insert(headers::CACHE, source.header());
            }
            Ok(a)
        }
        Err(e) => Err(e),
    };
    let encoded = result.and_then(|a| codec.encode(n, &a)).or_else(|e| {
        h.insert(headers::SERVICE_ERROR_CODE, e.status().to_string().as_str());
        // Header values are one line.
        h.insert(
            headers::SERVICE_ERROR,
            e.to_string().replace(['\r', '\n'], " ").as_str(),
        );
        codec.encode(n, &e.body())
    });
    match encoded {
        Ok(enc) => {
            h.insert(headers::CONTENT_TYPE, enc.content_type);
            if enc.zstd {
                h.insert(headers::CONTENT_ENCODING, headers::ZSTD);
            }
            (h, Bytes::from(enc.body))
        }
        Err(_) => {
            h.insert(headers::CONTENT_TYPE, headers::JSON);
            (
                h,
                Bytes::from_static(
                    br#"{"code":"internal","message":"could not encode the reply"}"#,
                ),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_pass_reads_the_headers_the_gateway_uses_and_nothing_else() {
        let mut h = HeaderMap::new();
        h.insert(headers::CONTENT_TYPE, headers::JSON);
        h.insert(headers::ACCEPT_ENCODING, "gzip, zstd");
        h.insert(headers::USER, "ada");
        h.insert(headers::REQUEST_ID, "r-1");
        h.insert("content-encoding", "zstd"); // header names are case-sensitive, as `get` is
        h.insert("X-Other", "x");
        let seen = incoming(Some(&h));
        assert_eq!(seen.meta.content_type, Some(headers::JSON));
        assert_eq!(seen.meta.accept_encoding, Some("gzip, zstd"));
        assert_eq!(seen.meta.content_encoding, None);
        assert_eq!((seen.user, seen.request_id), (Some("ada"), Some("r-1")));
        let none = incoming(None);
        assert_eq!((none.meta.content_type, none.user), (None, None));
    }
}
