//! The one error shape every request boundary speaks.
//!
//! Each variant maps to a NATS micro status (`Nats-Service-Error-Code`) and a stable machine
//! `code` in exactly one place ([`ApiError::status`], [`ApiError::code`]), so clients can match
//! on codes that never change with the wording of a message.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// An error a caller gets back as `{code, message, details}`.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum ApiError {
    /// The body could not be decoded (bad MessagePack, JSON or zstd, wrong shape).
    #[error("malformed request body: {0}")]
    MalformedBody(String),
    /// A filter, sort or projection names a field that is not on the whitelist.
    #[error("unknown field `{field}`{hint}")]
    UnknownField { field: String, hint: String },
    /// A filter uses an operator that does not exist or does not fit the field's type.
    #[error("operator `{op}` is not allowed on field `{field}`")]
    UnknownOperator { field: String, op: String },
    /// A value has the wrong type or is out of range for its field.
    #[error("invalid value for `{field}`: {reason}")]
    InvalidValue { field: String, reason: String },
    /// A cursor that was tampered with, expired or reused with another query.
    #[error("invalid cursor: {0}")]
    InvalidCursor(String),
    /// A request goes past one of the configured caps (limit, offset, filter count, depth...).
    #[error("{what} exceeds the maximum of {max}{hint}")]
    LimitExceeded {
        what: String,
        max: u64,
        hint: String,
    },
    /// `apollo.analyze` was given a URL that is not an Apollo.io people or company search.
    #[error("not an Apollo.io search URL: {0}")]
    NotApolloUrl(String),
    /// The entity does not exist.
    #[error("{entity} {key} not found")]
    NotFound { entity: String, key: String },
    /// The body, or what it decompresses to, is larger than allowed.
    #[error("payload too large: {0}")]
    PayloadTooLarge(String),
    /// The request ran past its deadline.
    #[error("timed out: {0}")]
    Timeout(String),
    /// The request conflicts with the current state (e.g. cancelling a finished job).
    #[error("conflict: {0}")]
    Conflict(String),
    /// Too many requests in flight on this instance.
    #[error("overloaded: {0}")]
    Overloaded(String),
    /// No connection could be leased for the request's class within the acquire timeout.
    #[error("no database connection free for {class} work after {waited_ms} ms; try again")]
    PoolExhausted { class: String, waited_ms: u64 },
    /// A dependency (PostgreSQL, an actor being restarted) is not available.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// A bug or an unexpected failure; the message says what failed, never the SQL values.
    #[error("internal error: {0}")]
    Internal(String),
}

/// The wire form of an error body.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub details: Value,
}

impl ApiError {
    /// The NATS micro status code (`Nats-Service-Error-Code`).
    pub fn status(&self) -> u16 {
        match self {
            Self::MalformedBody(_)
            | Self::UnknownField { .. }
            | Self::UnknownOperator { .. }
            | Self::InvalidValue { .. }
            | Self::InvalidCursor(_)
            | Self::LimitExceeded { .. }
            | Self::NotApolloUrl(_) => 400,
            Self::NotFound { .. } => 404,
            Self::Timeout(_) => 408,
            Self::Conflict(_) => 409,
            Self::PayloadTooLarge(_) => 413,
            Self::Overloaded(_) => 429,
            Self::PoolExhausted { .. } | Self::Unavailable(_) => 503,
            Self::Internal(_) => 500,
        }
    }

    /// The stable machine code clients match on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MalformedBody(_) => "malformed_body",
            Self::UnknownField { .. } => "unknown_field",
            Self::UnknownOperator { .. } => "unknown_operator",
            Self::InvalidValue { .. } => "invalid_value",
            Self::InvalidCursor(_) => "invalid_cursor",
            Self::LimitExceeded { .. } => "limit_exceeded",
            Self::NotApolloUrl(_) => "not_apollo_url",
            Self::NotFound { .. } => "not_found",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::Timeout(_) => "timeout",
            Self::Conflict(_) => "conflict",
            Self::Overloaded(_) => "overloaded",
            Self::PoolExhausted { .. } => "pool_exhausted",
            Self::Unavailable(_) => "unavailable",
            Self::Internal(_) => "internal",
        }
    }

    /// Machine-readable details: which field, which operator, which class.
    pub fn details(&self) -> Value {
        match self {
            Self::UnknownField { field, .. } => json!({ "field": field }),
            Self::UnknownOperator { field, op } => json!({ "field": field, "operator": op }),
            Self::InvalidValue { field, .. } => json!({ "field": field }),
            Self::LimitExceeded { what, max, .. } => json!({ "what": what, "max": max }),
            Self::NotFound { entity, key } => json!({ "entity": entity, "key": key }),
            Self::PoolExhausted { class, waited_ms } => {
                json!({ "class": class, "waited_ms": waited_ms })
            }
            _ => Value::Null,
        }
    }

    /// The body sent to the caller.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            code: self.code().to_owned(),
            message: self.to_string(),
            details: self.details(),
        }
    }

    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::InvalidValue {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub fn limit(what: impl Into<String>, max: u64) -> Self {
        Self::LimitExceeded {
            what: what.into(),
            max,
            hint: String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_has_a_micro_status_and_a_snake_case_code() {
        let all = [
            ApiError::MalformedBody("x".into()),
            ApiError::UnknownField {
                field: "f".into(),
                hint: String::new(),
            },
            ApiError::NotFound {
                entity: "contact".into(),
                key: "k".into(),
            },
            ApiError::PayloadTooLarge("x".into()),
            ApiError::PoolExhausted {
                class: "jobs".into(),
                waited_ms: 5,
            },
            ApiError::Internal("x".into()),
        ];
        let statuses: Vec<u16> = all.iter().map(ApiError::status).collect();
        assert_eq!(statuses, [400, 400, 404, 413, 503, 500]);
        for e in &all {
            assert!(e.code().chars().all(|c| c.is_ascii_lowercase() || c == '_'));
        }
    }

    #[test]
    fn details_name_the_offending_field() {
        let body = ApiError::UnknownOperator {
            field: "first_name".into(),
            op: "near".into(),
        }
        .body();
        assert_eq!(body.code, "unknown_operator");
        assert_eq!(body.details["field"], "first_name");
        assert_eq!(body.details["operator"], "near");
    }
}
