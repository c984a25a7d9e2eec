//! `rolodex.apollo.analyze`: turn an Apollo.io people or company search URL into Rolodex
//! search filters, reporting every parameter that has no equivalent. Pure ([`core`]); the
//! gateway answers it through the result cache (one hour, keyed by the normalised URL).

pub mod core;

pub use core::{analyze, normalize_url, Analysis, AnalyzeRequest, Unmapped};
