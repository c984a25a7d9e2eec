//! One request, start to finish: negotiate, decode, route to the planner, encode, reply.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::{HeaderMap, Message};
use bytes::Bytes;
use tokio::sync::Semaphore;
use tracing::Instrument;
use uuid::Uuid;

use super::core::{EndpointStats, Route};
use crate::error::ApiError;
use crate::model::{
    CountRequest, FacetsRequest, GetRequest, SearchRequest, SlowQueriesReply, SlowQueriesRequest,
};
use crate::monitor::Monitor;
use crate::planner::{Answer, Handle, PlannerMsg};
use crate::wire::{headers, Codec, Negotiated, RequestMeta};

/// What every request task shares.
pub(super) struct Ctx {
    pub client: async_nats::Client,
    pub codec: Codec,
    pub planner: Handle,
    pub in_flight: Arc<Semaphore>,
    pub deadline: Duration,
    pub stream_window: usize,
    pub stream_ack_timeout: Duration,
    pub monitor: Monitor,
}

fn header<'a>(h: Option<&'a HeaderMap>, name: &str) -> Option<&'a str> {
    h.and_then(|h| h.get(name)).map(|v| v.as_str())
}

/// Handle one request and send its one reply.
pub(super) async fn handle(ctx: Arc<Ctx>, route: Route, stats: Arc<EndpointStats>, msg: Message) {
    let started = Instant::now();
    let h = msg.headers.as_ref();
    let user = header(h, headers::USER).unwrap_or("-").to_owned();
    let request_id = header(h, headers::REQUEST_ID).unwrap_or("-").to_owned();
    let span = tracing::info_span!("request", subject = %msg.subject, user = %user, request_id = %request_id);
    async {
        let meta = RequestMeta {
            content_type: header(h, headers::CONTENT_TYPE),
            content_encoding: header(h, headers::CONTENT_ENCODING),
            accept_encoding: header(h, headers::ACCEPT_ENCODING),
        };
        let negotiated = ctx.codec.negotiate(meta, &msg.payload);
        let result = match ctx.in_flight.clone().try_acquire_owned() {
            Ok(_permit) => match route {
                // A stream sends its own messages; only an error is left to reply with.
                Route::Stream(e) => super::stream::run(&ctx, e, meta, negotiated, &msg)
                    .await
                    .map(|()| None),
                _ => answer(&ctx, route, meta, negotiated, &msg.payload)
                    .await
                    .map(Some),
            },
            Err(_) => Err(ApiError::Overloaded(
                "too many requests in flight on this instance; retry shortly".into(),
            )),
        };
        let endpoint = route.endpoint_name();
        let result = match result {
            Ok(None) => {
                stats.record(started.elapsed().as_nanos() as u64, None);
                ctx.monitor
                    .record_request(&endpoint, None, started.elapsed());
                return;
            }
            Ok(Some(answer)) => Ok(answer),
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
            .record_request(&endpoint, code, started.elapsed());
    }
    .instrument(span)
    .await
}

async fn answer(
    ctx: &Ctx,
    route: Route,
    meta: RequestMeta<'_>,
    n: Negotiated,
    body: &[u8],
) -> Result<Answer, ApiError> {
    let deadline = ctx.deadline;
    let planner = &ctx.planner;
    match route {
        Route::Search(e) => {
            let req: SearchRequest = ctx.codec.decode(meta, n, body)?;
            planner
                .ask(|r| PlannerMsg::Search(e, Box::new(req), r), deadline)
                .await
        }
        Route::Count(e) => {
            let req: CountRequest = ctx.codec.decode(meta, n, body)?;
            planner
                .ask(|r| PlannerMsg::Count(e, req, r), deadline)
                .await
        }
        Route::Facets(e) => {
            let req: FacetsRequest = ctx.codec.decode(meta, n, body)?;
            planner
                .ask(|r| PlannerMsg::Facets(e, req, r), deadline)
                .await
        }
        Route::Get(e) => {
            let req: GetRequest = ctx.codec.decode(meta, n, body)?;
            let uuid = Uuid::parse_str(req.uuid.trim())
                .map_err(|_| ApiError::invalid("uuid", "expected a UUID"))?;
            planner.ask(|r| PlannerMsg::Get(e, uuid, r), deadline).await
        }
        Route::Stream(_) => Err(ApiError::Internal("streams are not single answers".into())),
        Route::SlowQueries => {
            let req: SlowQueriesRequest = ctx.codec.decode(meta, n, body)?;
            let slow_queries = ctx
                .monitor
                .slow_queries(req.limit.unwrap_or(20).min(1000))
                .await?;
            Ok(Answer::SlowQueries(SlowQueriesReply { slow_queries }))
        }
    }
}

/// The reply's headers and body: the answer, or the error in headers and body.
fn reply(codec: &Codec, n: Negotiated, result: Result<Answer, ApiError>) -> (HeaderMap, Bytes) {
    let mut h = HeaderMap::new();
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
