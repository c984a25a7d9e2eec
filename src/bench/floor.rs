//! The floor's connections: opened up front and handed out with nothing on the way in or out.
//!
//! A pool adds work between two queries (sqlx's pings every connection it takes back, one more
//! round trip to PostgreSQL); the floor is "the same SQL run directly", so it keeps its own
//! stack of plain connections: take one, run the statements, put it back.

use std::sync::Mutex;

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions as _, PgConnection};
use tokio::sync::Semaphore;

use rolodex_actors::planner::core::sql::Sql;
use rolodex_actors::planner::exec;

use super::BenchError;

pub(super) struct RawConnections {
    idle: Mutex<Vec<PgConnection>>,
    free: Semaphore,
}

impl RawConnections {
    /// Open `n` connections (statement logging off, as a client measuring would have it).
    pub async fn open(options: &PgConnectOptions, n: usize) -> Result<RawConnections, BenchError> {
        let options = options.clone().disable_statement_logging();
        let mut idle = Vec::with_capacity(n);
        for _ in 0..n.max(1) {
            idle.push(options.connect().await?);
        }
        Ok(RawConnections {
            free: Semaphore::new(idle.len()),
            idle: Mutex::new(idle),
        })
    }

    /// Run `statements` on a free connection (waiting for one when all are busy), reading
    /// every row, then put the connection back.
    pub async fn run(&self, statements: &[Sql]) -> Result<(), String> {
        let _permit = self.free.acquire().await.map_err(|e| e.to_string())?;
        let mut taken = Taken {
            conn: Some(self.lock().pop().ok_or("no free connection")?),
            home: self,
        };
        let conn = taken.conn.as_mut().ok_or("no free connection")?;
        for sql in statements {
            exec::fetch_all(conn, sql)
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<PgConnection>> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Close every connection politely.
    pub async fn close(self) {
        let conns = std::mem::take(&mut *self.lock());
        for conn in conns {
            let _ = sqlx::Connection::close(conn).await;
        }
    }
}

/// A connection out of the stack; back it goes however the work ended (even cancelled: sqlx
/// reads what is left of an interrupted query before the next one).
struct Taken<'a> {
    conn: Option<PgConnection>,
    home: &'a RawConnections,
}

impl Drop for Taken<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.home.lock().push(conn);
        }
    }
}
