//! Canonical job titles: "Sr. SW Eng" → "senior software engineer", "VP Sales" → "vice
//! president of sales", "CEO & Founder" → "chief executive officer and founder". The rules
//! (abbreviations, where "of" goes) come from `config/titles.toml`; [`TitleRules::normalize`]
//! is the pure function imports call, and [`TitleCache`] puts a bounded LRU in front of it,
//! warmed with the common titles at start.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct File {
    abbreviations: HashMap<String, String>,
    of: OfRules,
    common: Common,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct OfRules {
    heads: Vec<String>,
    roles: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Common {
    titles: Vec<String>,
}

/// The loaded rules.
#[derive(Debug, Clone, Default)]
pub struct TitleRules {
    abbreviations: HashMap<String, Vec<String>>,
    heads: HashSet<String>,
    roles: HashSet<String>,
    common: Vec<String>,
}

impl TitleRules {
    pub fn parse(text: &str) -> Result<TitleRules, String> {
        let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
        let lower = |v: Vec<String>| v.into_iter().map(|s| s.to_lowercase()).collect();
        Ok(TitleRules {
            abbreviations: file
                .abbreviations
                .into_iter()
                .map(|(k, v)| {
                    let words = v.split_whitespace().map(str::to_lowercase).collect();
                    (k.to_lowercase(), words)
                })
                .collect(),
            heads: lower(file.of.heads),
            roles: lower(file.of.roles),
            common: file.common.titles,
        })
    }

    /// The titles to pre-load into a [`TitleCache`].
    pub fn common(&self) -> &[String] {
        &self.common
    }

    /// The canonical form of a title: lower-case words separated by single spaces.
    pub fn normalize(&self, title: &str) -> String {
        let cleaned: String = title
            .to_lowercase()
            .replace('&', " and ")
            .chars()
            .map(|c| {
                if c.is_alphanumeric() || c == '-' {
                    c
                } else {
                    ' '
                }
            })
            .collect();
        let mut words: Vec<String> = Vec::new();
        for raw in cleaned.split_whitespace() {
            let word = raw.trim_matches('-');
            if word.is_empty() {
                continue;
            }
            match self.abbreviations.get(word) {
                Some(expansion) => words.extend(expansion.iter().cloned()),
                None => words.push(word.to_owned()),
            }
        }
        let mut out: Vec<String> = Vec::with_capacity(words.len() + 1);
        for (i, word) in words.iter().enumerate() {
            out.push(word.clone());
            let next = words.get(i + 1);
            if self.heads.contains(word) && next.is_some_and(|n| !self.roles.contains(n)) {
                out.push("of".into());
            }
        }
        out.join(" ")
    }
}

type Generation = HashMap<String, Arc<str>>;

/// An approximate LRU of normalised titles: two generations of at most `capacity / 2` entries
/// each; a hit in the old generation moves the entry to the new one, and when the new one is
/// full the old one is dropped. Bounded, O(1), and what was used recently stays.
#[derive(Debug)]
pub struct TitleCache {
    rules: Arc<TitleRules>,
    capacity: usize,
    /// (new generation, old generation).
    gens: Mutex<(Generation, Generation)>,
}

impl TitleCache {
    /// A cache of `capacity` entries, warmed with the rules' common titles.
    pub fn new(rules: Arc<TitleRules>, capacity: usize) -> Self {
        let cache = Self {
            rules,
            capacity: capacity.max(2),
            gens: Mutex::new((HashMap::new(), HashMap::new())),
        };
        for t in cache.rules.common().to_vec() {
            cache.normalize(&t);
        }
        cache
    }

    pub fn rules(&self) -> &TitleRules {
        &self.rules
    }

    pub fn len(&self) -> usize {
        self.gens.lock().map(|g| g.0.len() + g.1.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn normalize(&self, title: &str) -> Arc<str> {
        let Ok(mut g) = self.gens.lock() else {
            return self.rules.normalize(title).into();
        };
        if let Some(v) = g.0.get(title) {
            return v.clone();
        }
        let value = match g.1.remove(title) {
            Some(v) => v,
            None => self.rules.normalize(title).into(),
        };
        if g.0.len() >= self.capacity / 2 {
            g.1 = std::mem::take(&mut g.0);
        }
        g.0.insert(title.to_owned(), value.clone());
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> TitleRules {
        TitleRules::parse(include_str!("../../../config/titles.toml")).unwrap()
    }

    #[test]
    fn titles_take_their_canonical_form() {
        let r = rules();
        for (raw, want) in [
            ("Sr. SW Eng", "senior software engineer"),
            ("VP Sales", "vice president of sales"),
            ("VP of Sales", "vice president of sales"),
            (
                "vp, sales & marketing",
                "vice president of sales and marketing",
            ),
            ("CEO & Founder", "chief executive officer and founder"),
            ("CTO", "chief technology officer"),
            ("Director, Engineering", "director of engineering"),
            ("Head Marketing", "head of marketing"),
            ("Senior Vice President", "senior vice president"),
            ("President and CEO", "president and chief executive officer"),
            ("Co-Founder", "co-founder"),
            ("  Account   Executive ", "account executive"),
            ("SVP, Global Sales", "senior vice president of global sales"),
            ("", ""),
        ] {
            assert_eq!(r.normalize(raw), want, "{raw}");
        }
    }

    #[test]
    fn the_cache_is_bounded_warm_and_keeps_recent_titles() {
        let c = TitleCache::new(Arc::new(rules()), 10);
        assert!(!c.is_empty());
        assert_eq!(&*c.normalize("CFO"), "chief financial officer");
        for i in 0..100 {
            c.normalize(&format!("engineer {i}"));
        }
        assert!(c.len() <= 10);
        assert_eq!(&*c.normalize("Sr. SW Eng"), "senior software engineer");
    }
}
