//! Database bootstrap: create the database when it is missing, and apply the migrations.

use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};

/// The migrations in `migrations/`, embedded at build time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(
        "cannot reach PostgreSQL at {addr}: {source}\n  Is it running? Start it with \
         `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`, or \
         `docker compose up -d postgres`; the address is `database.url` (ROLODEX_DATABASE__URL)."
    )]
    Unreachable { addr: String, source: sqlx::Error },
    #[error("invalid database.url: {0}")]
    BadUrl(sqlx::Error),
    #[error("database name `{0}` must be letters, digits, `_` or `-`")]
    BadName(String),
    #[error("could not create database `{name}`: {source}")]
    Create { name: String, source: sqlx::Error },
    #[error("migrations failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// `host:port` of a database URL, for messages.
pub fn address(options: &PgConnectOptions) -> String {
    format!("{}:{}", options.get_host(), options.get_port())
}

/// Create the database named in `url` if it does not exist yet.
pub async fn ensure_database(url: &str) -> Result<(), DbError> {
    let options = PgConnectOptions::from_str(url).map_err(DbError::BadUrl)?;
    let name = options.get_database().unwrap_or("postgres").to_owned();
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(DbError::BadName(name));
    }
    let admin = options.clone().database("postgres");
    let mut conn =
        PgConnection::connect_with(&admin)
            .await
            .map_err(|source| DbError::Unreachable {
                addr: address(&options),
                source,
            })?;
    let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(&name)
        .fetch_optional(&mut conn)
        .await
        .map_err(|source| DbError::Create {
            name: name.clone(),
            source,
        })?;
    if exists.is_none() {
        // Identifiers cannot be bound; the name was checked against a strict alphabet above.
        let created = sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(&mut conn)
            .await;
        match created {
            Ok(_) => tracing::info!(database = %name, "Database created."),
            // Someone else created it between our check and our CREATE: fine.
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P04") => {}
            Err(source) => return Err(DbError::Create { name, source }),
        }
    }
    let _ = conn.close().await;
    Ok(())
}

/// Drop a database (tests and the benchmark use throw-away ones).
pub async fn drop_database(url: &str) -> Result<(), DbError> {
    let options = PgConnectOptions::from_str(url).map_err(DbError::BadUrl)?;
    let name = options.get_database().unwrap_or_default().to_owned();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(DbError::BadName(name));
    }
    let mut conn = PgConnection::connect_with(&options.clone().database("postgres"))
        .await
        .map_err(|source| DbError::Unreachable {
            addr: address(&options),
            source,
        })?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .execute(&mut conn)
        .await
        .map_err(|source| DbError::Create { name, source })?;
    Ok(())
}
