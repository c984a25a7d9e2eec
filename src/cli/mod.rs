//! The `rolodex` command line: serve, migrate, config, req.

pub mod args;
pub mod req;
pub mod stats;

pub use args::{Cli, Command};
