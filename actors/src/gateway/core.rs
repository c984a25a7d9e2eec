//! Routes and the NATS micro protocol's bodies. Pure: the shell does the I/O.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use serde::Serialize;
use serde_json::{json, Value};

use crate::planner::core::fields::Entity;

/// What an endpoint does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Search(Entity),
    Count(Entity),
    Facets(Entity),
    Get(Entity),
    Stream(Entity),
    /// `admin.slow_queries`: the monitor's recent slow queries with their plans.
    SlowQueries,
    /// `apollo.analyze`: an Apollo.io search URL → Rolodex filters.
    ApolloAnalyze,
}

impl Route {
    pub const ALL: [Route; 12] = [
        Route::Search(Entity::Contacts),
        Route::Count(Entity::Contacts),
        Route::Facets(Entity::Contacts),
        Route::Get(Entity::Contacts),
        Route::Stream(Entity::Contacts),
        Route::Search(Entity::Companies),
        Route::Count(Entity::Companies),
        Route::Facets(Entity::Companies),
        Route::Get(Entity::Companies),
        Route::Stream(Entity::Companies),
        Route::SlowQueries,
        Route::ApolloAnalyze,
    ];

    /// The subject after the prefix (`contacts.search`) and the micro endpoint name
    /// (`contacts-search`): static, so a request names its route without allocating.
    fn names(self) -> (&'static str, &'static str) {
        use Entity::{Companies, Contacts};
        match self {
            Route::Search(Contacts) => ("contacts.search", "contacts-search"),
            Route::Count(Contacts) => ("contacts.count", "contacts-count"),
            Route::Facets(Contacts) => ("contacts.facets", "contacts-facets"),
            Route::Get(Contacts) => ("contacts.get", "contacts-get"),
            Route::Stream(Contacts) => ("contacts.stream", "contacts-stream"),
            Route::Search(Companies) => ("companies.search", "companies-search"),
            Route::Count(Companies) => ("companies.count", "companies-count"),
            Route::Facets(Companies) => ("companies.facets", "companies-facets"),
            Route::Get(Companies) => ("companies.get", "companies-get"),
            Route::Stream(Companies) => ("companies.stream", "companies-stream"),
            Route::SlowQueries => ("admin.slow_queries", "admin-slow_queries"),
            Route::ApolloAnalyze => ("apollo.analyze", "apollo-analyze"),
        }
    }

    /// The subject after the prefix, e.g. `contacts.search`.
    pub fn suffix(self) -> &'static str {
        self.names().0
    }

    /// The micro endpoint name (`contacts-search`).
    pub fn endpoint_name(self) -> &'static str {
        self.names().1
    }
}

/// Who this service instance is, for the micro protocol.
#[derive(Debug, Clone)]
pub struct ServiceIdentity {
    pub name: String,
    pub id: String,
    pub version: String,
    pub description: String,
    pub started: String,
    pub queue_group: String,
}

/// Counters of one endpoint, kept across gateway restarts.
#[derive(Debug, Default)]
pub struct EndpointStats {
    pub requests: AtomicU64,
    pub errors: AtomicU64,
    pub processing_nanos: AtomicU64,
    pub last_error: Mutex<Option<String>>,
}

impl EndpointStats {
    pub fn record(&self, nanos: u64, error: Option<String>) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.processing_nanos.fetch_add(nanos, Ordering::Relaxed);
        if let Some(e) = error {
            self.errors.fetch_add(1, Ordering::Relaxed);
            if let Ok(mut last) = self.last_error.lock() {
                *last = Some(e);
            }
        }
    }
}

#[derive(Serialize)]
struct EndpointInfo<'a> {
    name: &'static str,
    subject: &'a str,
    queue_group: &'a str,
    metadata: Value,
}

/// `$SRV.PING` reply.
pub fn ping(id: &ServiceIdentity) -> Value {
    json!({
        "type": "io.nats.micro.v1.ping_response",
        "name": id.name, "id": id.id, "version": id.version, "metadata": {},
    })
}

/// `$SRV.INFO` reply.
pub fn info(id: &ServiceIdentity, endpoints: &[(Route, String)]) -> Value {
    let eps: Vec<_> = endpoints
        .iter()
        .map(|(r, subject)| EndpointInfo {
            name: r.endpoint_name(),
            subject,
            queue_group: &id.queue_group,
            metadata: json!({}),
        })
        .collect();
    json!({
        "type": "io.nats.micro.v1.info_response",
        "name": id.name, "id": id.id, "version": id.version,
        "description": id.description, "metadata": {}, "endpoints": eps,
    })
}

/// `$SRV.STATS` reply; `data` carries Rolodex's own figures (pool, restarts).
pub fn stats(
    id: &ServiceIdentity,
    endpoints: &[(Route, String, &EndpointStats)],
    data: &Value,
) -> Value {
    let eps: Vec<Value> = endpoints
        .iter()
        .map(|(r, subject, s)| {
            let requests = s.requests.load(Ordering::Relaxed);
            let nanos = s.processing_nanos.load(Ordering::Relaxed);
            let last_error = s
                .last_error
                .lock()
                .ok()
                .and_then(|e| e.clone())
                .unwrap_or_default();
            json!({
                "name": r.endpoint_name(), "subject": subject, "queue_group": id.queue_group,
                "num_requests": requests, "num_errors": s.errors.load(Ordering::Relaxed),
                "processing_time": nanos,
                "average_processing_time": nanos.checked_div(requests).unwrap_or(0),
                "last_error": last_error, "data": data,
            })
        })
        .collect();
    json!({
        "type": "io.nats.micro.v1.stats_response",
        "name": id.name, "id": id.id, "version": id.version,
        "started": id.started, "endpoints": eps,
    })
}

/// The subjects the micro verbs are asked on: all services, all of this name, this instance.
pub fn verb_subjects(verb: &str, id: &ServiceIdentity) -> [String; 3] {
    [
        format!("$SRV.{verb}"),
        format!("$SRV.{verb}.{}", id.name),
        format!("$SRV.{verb}.{}.{}", id.name, id.id),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_have_the_contract_subjects() {
        let suffixes: Vec<&str> = Route::ALL.iter().map(|r| r.suffix()).collect();
        assert!(suffixes.contains(&"contacts.search"));
        assert!(suffixes.contains(&"companies.get"));
        let distinct: std::collections::BTreeSet<&str> = suffixes.iter().copied().collect();
        assert_eq!(
            distinct.len(),
            Route::ALL.len(),
            "every route has its own subject"
        );
        for r in Route::ALL {
            assert_eq!(r.endpoint_name(), r.suffix().replace('.', "-"));
        }
    }

    #[test]
    fn stats_average_divides_safely() {
        let id = ServiceIdentity {
            name: "rolodex".into(),
            id: "x".into(),
            version: "0.1.0".into(),
            description: String::new(),
            started: String::new(),
            queue_group: "rolodex".into(),
        };
        let s = EndpointStats::default();
        let v = stats(
            &id,
            &[(Route::Get(Entity::Contacts), "p.contacts.get".into(), &s)],
            &json!(null),
        );
        assert_eq!(v["endpoints"][0]["average_processing_time"], 0);
        s.record(10, Some("boom".into()));
        s.record(30, None);
        let v = stats(
            &id,
            &[(Route::Get(Entity::Contacts), "p.contacts.get".into(), &s)],
            &json!(null),
        );
        assert_eq!(v["endpoints"][0]["num_errors"], 1);
        assert_eq!(v["endpoints"][0]["average_processing_time"], 20);
        assert_eq!(v["endpoints"][0]["last_error"], "boom");
    }
}
