//! Black-box tests over the real NATS and PostgreSQL: one binary (it links once, which matters
//! on 2 cores), one module per capability.

mod harness;
mod proxy;

mod bench;
mod cache;
mod cli;
mod ingest;
mod monitor;
mod pool;
mod property;
mod query;
mod service;
mod tidy;
mod wire;
