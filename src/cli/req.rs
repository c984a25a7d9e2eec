//! `rolodex req SUBJECT [JSON]`: the first request without writing code.

use std::io::Read;
use std::time::{Duration, Instant};

use rolodex_actors::Config;

use super::args::ReqArgs;
use crate::client::{self, Format};

/// Send the request; print the reply (exit 0) or the error code and message (exit 1).
pub async fn run(config: &Config, args: &ReqArgs) -> anyhow::Result<i32> {
    let text = match args.body.as_deref() {
        None => "{}".to_owned(),
        Some("-") => {
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s)?;
            s
        }
        Some(s) => s.to_owned(),
    };
    let body: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("the request body is not valid JSON: {e}"))?;
    let format = if args.json {
        Format::Json
    } else if args.no_zstd {
        Format::MsgPack
    } else {
        Format::MsgPackZstd
    };
    let nats = crate::connect_nats(config).await?;
    if args.subject.ends_with(".stream") {
        return stream(&nats, args, &body, format).await;
    }
    let started = Instant::now();
    let reply = client::request(
        &nats,
        &args.subject,
        &body,
        format,
        args.user.as_deref(),
        Duration::from_secs(args.timeout),
    )
    .await
    .map_err(|e| match e {
        client::ClientError::Request(r)
            if r.kind() == async_nats::RequestErrorKind::NoResponders =>
        {
            anyhow::anyhow!(
                "no service answers on `{}`: is `rolodex serve` running with this prefix?",
                args.subject
            )
        }
        other => other.into(),
    })?;
    let elapsed = started.elapsed();
    if args.verbose {
        for (name, values) in reply.headers.iter() {
            for v in values {
                eprintln!("{name}: {}", v.as_str());
            }
        }
        eprintln!(
            "({} bytes on the wire, {:.2} ms)",
            reply.wire_bytes,
            elapsed.as_secs_f64() * 1e3
        );
    }
    match &reply.error {
        None => {
            println!("{}", serde_json::to_string_pretty(&reply.body)?);
            Ok(0)
        }
        Some((status, body)) => {
            eprintln!("error {status} {}: {}", body.code, body.message);
            if !body.details.is_null() {
                eprintln!("details: {}", body.details);
            }
            Ok(1)
        }
    }
}

/// A stream prints one JSON line per row, then the summary on standard error.
async fn stream(
    nats: &async_nats::Client,
    args: &ReqArgs,
    body: &serde_json::Value,
    format: Format,
) -> anyhow::Result<i32> {
    let timeout = Duration::from_secs(args.timeout);
    let outcome = client::stream(nats, &args.subject, body, format, timeout, |items| {
        for item in items {
            println!("{item}");
        }
    })
    .await?;
    match outcome {
        Ok(summary) => {
            eprintln!("{} rows in {} chunks", summary.count, summary.chunks);
            Ok(0)
        }
        Err((status, body)) => {
            eprintln!("error {status} {}: {}", body.code, body.message);
            Ok(1)
        }
    }
}
