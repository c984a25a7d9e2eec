//! Classes of work and the numbers the pool reports. Pure: no I/O.

use serde::{Deserialize, Serialize};

use crate::config::Rations;

/// A class of database work, each with its own ration of connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Class {
    /// Searches, counts, gets: what a user waits for.
    Interactive,
    /// Event and import batches.
    Ingest,
    /// Exports and other background jobs.
    Jobs,
}

impl Class {
    pub const ALL: [Class; 3] = [Class::Interactive, Class::Ingest, Class::Jobs];

    pub fn name(self) -> &'static str {
        match self {
            Class::Interactive => "interactive",
            Class::Ingest => "ingest",
            Class::Jobs => "jobs",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }

    /// How many leases this class may hold at once.
    pub fn ration(self, rations: &Rations) -> u32 {
        match self {
            Class::Interactive => rations.interactive,
            Class::Ingest => rations.ingest,
            Class::Jobs => rations.jobs,
        }
    }
}

/// Lease counters of one class.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassStats {
    pub class: String,
    pub ration: u32,
    pub in_use: u64,
    pub waiting: u64,
    pub granted: u64,
    pub timeouts: u64,
}

/// A snapshot of the pool.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolStats {
    /// Open connections.
    pub size: u32,
    /// Open and idle.
    pub idle: u32,
    /// The most connections the pool opens.
    pub max: u32,
    pub classes: Vec<ClassStats>,
}

impl PoolStats {
    pub fn class(&self, class: Class) -> Option<&ClassStats> {
        self.classes.iter().find(|c| c.class == class.name())
    }
}
