//! Normalisation shared by queries, the Apollo URL analysis and imports: the industry mapping
//! (`config/industries.csv`) and canonical job titles (`config/titles.toml`). Pure lookups,
//! loaded once at start; the files are read by [`load`] so the types themselves never do I/O.

pub mod industries;
pub mod titles;

use std::path::Path;

pub use industries::Industries;
pub use titles::{TitleCache, TitleRules};

/// Why a data file could not be loaded; names the file and the config key.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path} ({key}): {source}")]
    Read {
        path: String,
        key: &'static str,
        source: std::io::Error,
    },
    #[error("{path} ({key}): {reason}")]
    Parse {
        path: String,
        key: &'static str,
        reason: String,
    },
}

/// Read the industry mapping and the title rules named by the configuration.
pub fn load(
    config: &crate::config::NormalizeConfig,
) -> Result<(Industries, TitleRules), LoadError> {
    let read = |path: &str, key: &'static str| {
        std::fs::read_to_string(Path::new(path)).map_err(|source| LoadError::Read {
            path: path.to_owned(),
            key,
            source,
        })
    };
    let ind_key = "normalize.industries_csv";
    let industries =
        Industries::parse(&read(&config.industries_csv, ind_key)?).map_err(|reason| {
            LoadError::Parse {
                path: config.industries_csv.clone(),
                key: ind_key,
                reason,
            }
        })?;
    let title_key = "normalize.titles_toml";
    let titles = TitleRules::parse(&read(&config.titles_toml, title_key)?).map_err(|reason| {
        LoadError::Parse {
            path: config.titles_toml.clone(),
            key: title_key,
            reason,
        }
    })?;
    Ok((industries, titles))
}
