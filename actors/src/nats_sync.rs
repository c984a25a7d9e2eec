//! A round trip through the NATS server, so what this connection sent before it is in effect.
//!
//! `Client::flush` only writes the buffer to the socket; it does not wait for the server. A
//! subscription is registered when the server has read the `SUB`, and the server reads one
//! connection's commands in order, so once a message this connection published to itself
//! comes back, every subscription made before it is live for all other connections. Readiness
//! ("every endpoint is subscribed") and "no change notice can be missed from here on" wait on it.

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;

/// Long enough for a loaded server; a server that cannot echo in this time is not usable.
const ROUND_TRIP_TIMEOUT: Duration = Duration::from_secs(10);

/// Return once the server has processed everything this client sent before the call.
pub async fn round_trip(client: &async_nats::Client) -> Result<(), async_nats::Error> {
    let inbox = client.new_inbox();
    let mut echo = client.subscribe(inbox.clone()).await?;
    client.publish(inbox, Bytes::new()).await?;
    client.flush().await?;
    match tokio::time::timeout(ROUND_TRIP_TIMEOUT, echo.next()).await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err("the connection closed during a round trip to the NATS server".into()),
        Err(_) => Err(format!(
            "the NATS server did not answer a round trip within {} s",
            ROUND_TRIP_TIMEOUT.as_secs()
        )
        .into()),
    }
}
