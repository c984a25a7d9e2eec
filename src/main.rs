//! The `rolodex` binary: parse the command line, load the configuration, run the command.

use clap::Parser;
use rolodex::cli::{Cli, Command};
use rolodex::config::Sources;
use rolodex::telemetry::Sink;

/// Every request allocates rows, buffers and messages across threads; mimalloc serves those
/// from per-thread pages at a fraction of the system allocator's cost.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    let code = runtime.block_on(run(cli)).unwrap_or_else(|e| {
        eprintln!("error: {e:#}");
        1
    });
    std::process::exit(code);
}

async fn run(cli: Cli) -> anyhow::Result<i32> {
    let sources: Sources = cli.config.sources();
    let config = match sources.load() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(2);
        }
    };
    // Only the daemon logs at the configured level, to stdout; commands log warnings to
    // stderr and keep stdout for their answers. A bench drives its in-process daemon into
    // slow statements by the thousand (the monitor's and sqlx's own warnings): their lines
    // would bury its progress, and its report states the monitor's settings instead.
    let mut log = config.log.clone();
    let sink = match cli.command {
        Command::Serve => Sink::Stdout,
        _ => Sink::Stderr,
    };
    if sink == Sink::Stderr && std::env::var_os("RUST_LOG").is_none() {
        log.level = match cli.command {
            Command::Bench(_) => "warn,rolodex_actors::monitor=error,sqlx::query=error",
            _ => "warn",
        }
        .into();
    }
    rolodex::telemetry::init(&log, sink);
    match &cli.command {
        Command::Serve => {
            rolodex::serve(config, shutdown_signal()).await?;
            Ok(0)
        }
        Command::Migrate => {
            rolodex::db::ensure_database(&config.database.url).await?;
            let pool = sqlx::PgPool::connect(&config.database.url).await?;
            rolodex::db::MIGRATOR.run(&pool).await?;
            println!(
                "Migrations applied to {}.",
                rolodex::config::redact("database.url", config.database.url.clone())
            );
            Ok(0)
        }
        Command::Config => {
            let fig = sources.figment()?;
            for (key, value, from) in rolodex::config::explain(&fig, &config) {
                println!("{key} = {value}    # {from}");
            }
            Ok(0)
        }
        Command::Req(args) => rolodex::cli::req::run(&config, args).await,
        Command::Stats { json } => rolodex::cli::stats::run(&config, *json).await,
        Command::Bench(args) => {
            // The bench database comes from --database-url or the bench default, never from
            // the daemon's configured database: `bench generate` drops what it loads into.
            let mut args = args.clone();
            args.set_database_url(cli.config.database_url.clone());
            rolodex::bench::run(&config, &args).await?;
            Ok(0)
        }
    }
}

/// Completes on the first SIGINT or SIGTERM; a second one exits at once.
async fn shutdown_signal() {
    wait_for_signal().await;
    tokio::spawn(async {
        wait_for_signal().await;
        eprintln!("Second signal: exiting now.");
        std::process::exit(130);
    });
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
