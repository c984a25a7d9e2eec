//! How many messages the consumer has asked the server for and not yet received, and so when
//! to ask again. Counted before a request leaves, so a reply can never overtake its own count.
//! (async-nats's continuous pull `Stream` counts after the request is sent, from another task;
//! when the server's reply overtakes that, the count never comes back down, no request goes
//! out, and consumption stalls until the request's expiry fallback 35 s later — seen on two
//! busy cores in `bench ingest`.)

/// The pull credit of one consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullCredit {
    /// Messages per pull request.
    size: usize,
    /// Asked for, not yet delivered nor ended by the server.
    outstanding: usize,
}

impl PullCredit {
    pub fn new(size: usize) -> Self {
        Self {
            size: size.max(1),
            outstanding: 0,
        }
    }

    /// The size of the pull request to send now, if one is due: once at most half a request's
    /// worth is still to come, so the next is on its way before the current one runs dry.
    pub fn due(&self) -> Option<usize> {
        (self.outstanding <= self.size / 2).then_some(self.size)
    }

    /// A request for `n` messages is about to be sent.
    pub fn requested(&mut self, n: usize) {
        self.outstanding += n;
    }

    /// One message arrived.
    pub fn received(&mut self) {
        self.outstanding = self.outstanding.saturating_sub(1);
    }

    /// The server ended a request (it expired, or was refused) with `left` of it undelivered;
    /// unknown means the whole request.
    pub fn ended(&mut self, left: Option<usize>) {
        self.outstanding = self.outstanding.saturating_sub(left.unwrap_or(self.size));
    }

    /// Nothing heard for longer than a request lives: whatever was asked is gone (a lost
    /// connection, a restarted server).
    pub fn forget(&mut self) {
        self.outstanding = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_request_is_due_at_half_a_request_and_counts_before_it_leaves() {
        let mut c = PullCredit::new(200);
        assert_eq!(c.due(), Some(200));
        c.requested(200);
        assert_eq!(c.due(), None, "a whole request is on its way");
        for _ in 0..99 {
            c.received();
        }
        assert_eq!(c.due(), None);
        c.received();
        assert_eq!(c.due(), Some(200), "half delivered: ask for the next");
        c.requested(200);
        for _ in 0..300 {
            c.received();
        }
        assert_eq!(c.due(), Some(200));
    }

    #[test]
    fn an_ended_request_gives_back_what_it_did_not_deliver() {
        let mut c = PullCredit::new(200);
        c.requested(200);
        c.requested(200);
        for _ in 0..50 {
            c.received();
        }
        c.ended(Some(150)); // the first request expired 150 short
        assert_eq!(c.due(), None, "the second request is still whole");
        c.ended(None);
        assert_eq!(c.due(), Some(200));
        c.requested(200);
        c.forget();
        assert_eq!(c.due(), Some(200));
    }
}
