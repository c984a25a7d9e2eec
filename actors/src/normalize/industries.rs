//! Apollo industry tag id → industry name, from `config/industries.csv` (`tag_id,industry`,
//! `#` comments, double quotes around names with commas). Used by the Apollo URL analysis
//! (tag ids in `organizationIndustryTagIds[]`) and by imports (names in either spelling).

use std::collections::HashMap;

#[derive(Debug, Clone, Default)]
pub struct Industries {
    by_id: HashMap<String, String>,
    /// Lower-cased name → the canonical spelling.
    by_name: HashMap<String, String>,
}

impl Industries {
    pub fn parse(text: &str) -> Result<Industries, String> {
        let mut out = Industries::default();
        let mut header_seen = false;
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (id, name) = split_row(line)
                .ok_or_else(|| format!("line {}: expected `tag_id,industry`", n + 1))?;
            if !header_seen && id.eq_ignore_ascii_case("tag_id") {
                header_seen = true;
                continue;
            }
            header_seen = true;
            if id.is_empty() || name.is_empty() {
                return Err(format!("line {}: empty tag id or industry", n + 1));
            }
            out.by_name.insert(name.to_lowercase(), name.clone());
            out.by_id.insert(id.to_lowercase(), name);
        }
        Ok(out)
    }

    /// The industry a tag id stands for.
    pub fn name(&self, tag_id: &str) -> Option<&str> {
        self.by_id
            .get(&tag_id.trim().to_lowercase())
            .map(String::as_str)
    }

    /// The canonical spelling of an industry name (`computer software` → `Computer Software`).
    pub fn canonical(&self, name: &str) -> Option<&str> {
        self.by_name
            .get(&name.trim().to_lowercase())
            .map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

fn split_row(line: &str) -> Option<(String, String)> {
    let (id, rest) = line.split_once(',')?;
    let rest = rest.trim();
    let name = match rest.strip_prefix('"') {
        Some(quoted) => quoted.strip_suffix('"')?.replace("\"\"", "\""),
        None => rest.to_owned(),
    };
    Some((id.trim().to_owned(), name.trim().to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_file_parses_and_looks_up_both_ways() {
        let i = Industries::parse(include_str!("../../../config/industries.csv")).unwrap();
        assert!(i.len() >= 140, "{}", i.len());
        assert_eq!(
            i.name("dc37eff7c84c04839f345caf"),
            Some("Computer Software")
        );
        assert_eq!(
            i.canonical("glass, ceramics & concrete"),
            Some("Glass, Ceramics & Concrete")
        );
        assert!(Industries::parse("tag_id,industry\nnocomma\n").is_err());
    }
}
