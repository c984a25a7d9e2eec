//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::Sources;

#[derive(Debug, Parser)]
#[command(
    name = "rolodex",
    version,
    about = "Contacts-and-companies search and ingestion engine over NATS and PostgreSQL."
)]
pub struct Cli {
    #[command(flatten)]
    pub config: ConfigArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Where configuration comes from; flags beat every other source.
#[derive(Debug, Args, Clone, Default)]
pub struct ConfigArgs {
    /// Folder with default.toml and <profile>.toml [env: ROLODEX_CONFIG_DIR; default: config]
    #[arg(long, global = true)]
    pub config_dir: Option<PathBuf>,
    /// Profile whose <profile>.toml is layered over default.toml [env: ROLODEX_PROFILE]
    #[arg(long, global = true)]
    pub profile: Option<String>,
    /// One more TOML file layered on top [env: ROLODEX_CONFIG]
    #[arg(long = "config", global = true)]
    pub file: Option<PathBuf>,
    /// Set any key, e.g. `--set pool.size=10` (repeatable; highest precedence)
    #[arg(long = "set", short = 's', global = true, value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// Shorthand for --set database.url=...
    #[arg(long, global = true)]
    pub database_url: Option<String>,
    /// Shorthand for --set nats.url=...
    #[arg(long, global = true)]
    pub nats_url: Option<String>,
    /// Shorthand for --set nats.prefix=...
    #[arg(long, global = true)]
    pub prefix: Option<String>,
}

impl ConfigArgs {
    pub fn sources(&self) -> Sources {
        let mut overrides = self.overrides.clone();
        let shorthand = [
            ("database.url", &self.database_url),
            ("nats.url", &self.nats_url),
            ("nats.prefix", &self.prefix),
        ];
        for (key, value) in shorthand {
            if let Some(v) = value {
                overrides.push(format!("{key}={v}"));
            }
        }
        Sources {
            config_dir: self.config_dir.clone(),
            profile: self.profile.clone(),
            file: self.file.clone(),
            overrides,
        }
        .with_env_defaults()
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon until SIGINT or SIGTERM.
    Serve,
    /// Create the database if needed and apply the migrations, then exit.
    Migrate,
    /// Print the effective configuration, secrets redacted, with where each value came from.
    Config,
    /// Send one request in the wire format and pretty-print the reply.
    Req(ReqArgs),
    /// Pretty-print every instance's statistics ($SRV.STATS): endpoints, pool, query times.
    Stats {
        /// Print the raw JSON instead
        #[arg(long)]
        json: bool,
    },
    /// Benchmarks: `bench generate` (dataset), `bench queries` (Rolodex vs the floor).
    Bench(crate::bench::BenchArgs),
}

#[derive(Debug, Args)]
pub struct ReqArgs {
    /// Subject, e.g. rolodex.contacts.search
    pub subject: String,
    /// Request body as JSON (default `{}`); `-` reads it from standard input
    pub body: Option<String>,
    /// Send JSON instead of MessagePack + zstd
    #[arg(long)]
    pub json: bool,
    /// Send MessagePack without zstd
    #[arg(long, conflicts_with = "json")]
    pub no_zstd: bool,
    /// The Rolodex-User header
    #[arg(long)]
    pub user: Option<String>,
    /// Seconds to wait for the reply
    #[arg(long, default_value_t = 35)]
    pub timeout: u64,
    /// Print reply headers and sizes too
    #[arg(long, short)]
    pub verbose: bool,
}
