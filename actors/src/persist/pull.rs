//! The shell of the pull consumer: one inbox subscription for the life of the loop, pull
//! requests sent as [`PullCredit`] says, and the server's status replies read back into it.
//! Messages already delivered are never dropped on our side: they wait in the subscription
//! while the loop pauses or its batches are full.

use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer::pull};
use async_nats::{StatusCode, Subject, Subscriber};
use futures::StreamExt;

use super::actor::PersistError;
use super::core::credit::PullCredit;

/// How long a pull request waits on the server for messages; an idle consumer sends one
/// request per this interval.
const PULL_EXPIRES: Duration = Duration::from_secs(5);
/// Silence after which outstanding requests are taken as lost (the server answers every
/// expired request, so only a lost connection or server stays silent this long).
const PULL_LOST_AFTER: Duration = Duration::from_secs(10);

pub(super) struct Puller {
    js: jetstream::Context,
    consumer: jetstream::consumer::Consumer<pull::Config>,
    inbox: Subject,
    replies: Subscriber,
    credit: PullCredit,
    last_heard: Instant,
}

impl Puller {
    pub(super) async fn new(
        js: jetstream::Context,
        consumer: jetstream::consumer::Consumer<pull::Config>,
        size: usize,
    ) -> Result<Self, PersistError> {
        let client = js.client();
        let inbox = Subject::from(client.new_inbox());
        let replies = client
            .subscribe(inbox.clone())
            .await
            .map_err(|e| PersistError::Consume(format!("cannot subscribe for events: {e}")))?;
        Ok(Self {
            js,
            consumer,
            inbox,
            replies,
            credit: PullCredit::new(size),
            last_heard: Instant::now(),
        })
    }

    /// Send a pull request if one is due.
    pub(super) async fn request(&mut self) -> Result<(), PersistError> {
        if self.last_heard.elapsed() > PULL_LOST_AFTER {
            self.credit.forget();
            self.last_heard = Instant::now();
        }
        let Some(n) = self.credit.due() else {
            return Ok(());
        };
        self.credit.requested(n);
        let request = pull::BatchConfig {
            batch: n,
            expires: Some(PULL_EXPIRES),
            ..Default::default()
        };
        self.consumer
            .request_batch(request, self.inbox.clone())
            .await
            .map_err(|e| PersistError::Consume(format!("cannot pull events: {e}")))
    }

    /// The next event message; `None` when a request ended or the server stayed silent (the
    /// caller then sends what is due). Cancel-safe.
    pub(super) async fn next(&mut self) -> Result<Option<jetstream::Message>, PersistError> {
        let deadline = self.last_heard + PULL_LOST_AFTER;
        let reply = tokio::select! {
            biased;
            reply = self.replies.next() => reply,
            _ = tokio::time::sleep_until(deadline.into()) => return Ok(None),
        };
        let Some(message) = reply else {
            return Err(PersistError::Consume("the event subscription ended".into()));
        };
        self.last_heard = Instant::now();
        match message.status {
            None | Some(StatusCode::OK) => {
                self.credit.received();
                Ok(Some(jetstream::Message {
                    message,
                    context: self.js.clone(),
                }))
            }
            Some(StatusCode::IDLE_HEARTBEAT) => Ok(None),
            Some(StatusCode::TIMEOUT | StatusCode::NOT_FOUND | StatusCode::REQUEST_TERMINATED) => {
                let description = message.description.as_deref().unwrap_or_default();
                if description.contains("Consumer Deleted") {
                    return Err(PersistError::Consume(
                        "the events consumer was deleted".into(),
                    ));
                }
                let left = message
                    .headers
                    .as_ref()
                    .and_then(|h| h.get("Nats-Pending-Messages"))
                    .and_then(|v| v.as_str().parse().ok());
                self.credit.ended(left);
                Ok(None)
            }
            Some(status) => Err(PersistError::Consume(format!(
                "unexpected reply to a pull request: {status} {:?}",
                message.description
            ))),
        }
    }
}
