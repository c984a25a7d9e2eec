//! The `rolodex` command line: serve, migrate, config, req.

pub mod args;
pub mod req;

pub use args::{Cli, Command};
