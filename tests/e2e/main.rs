//! Black-box tests over the real NATS and PostgreSQL: one binary (it links once, which matters
//! on 2 cores), one module per capability.

mod harness;

mod bench;
mod service;
mod wire;
