//! `rolodex bench generate`: a deterministic synthetic dataset loaded with COPY.
//!
//! The database is dropped, recreated and migrated with Rolodex's own migrations. Secondary
//! indexes are read from `pg_indexes`, dropped, the four tables are loaded with COPY (text
//! format; the GENERATED `text_search` columns are left to PostgreSQL), and the same index
//! definitions are re-executed, two at a time; the resulting set is checked against the one
//! the migrations created. `VACUUM ANALYZE` ends the load so plans and index-only scans are
//! what a settled database would see.
//!
//! Job titles are loaded with their canonical form (`title_normalized`, by the configured
//! title rules, as Rolodex's writers fill it), so a daemon started on the dataset has no
//! backfill to run.
//!
//! The same seed and count give the same rows: one ChaCha stream draws everything in a fixed
//! order (companies first, then contacts), and time is a fixed base, not the clock.

use std::fmt::{self, Write as _};
use std::str::FromStr;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use clap::Args;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions as _, Connection, PgConnection};
use uuid::Uuid;

use rolodex_actors::config::NormalizeConfig;
use rolodex_actors::normalize::TitleRules;

use super::vocab::{self, Function};
use super::{progress, BenchError, DEFAULT_DATABASE_URL, DEFAULT_SEED};

/// The tables loaded, in load order.
pub const TABLES: [&str; 4] = [
    "companies",
    "companies_metadata",
    "contacts",
    "contacts_metadata",
];
/// Bytes buffered per COPY message.
const CHUNK: usize = 1 << 20;

#[derive(Debug, Clone, Args)]
pub struct GenerateArgs {
    /// How many contacts (companies: one per ten contacts)
    #[arg(long, default_value_t = 100_000)]
    pub contacts: u64,
    /// Seed of the generator: the same seed and count give the same rows
    #[arg(long, default_value_t = DEFAULT_SEED)]
    pub seed: u64,
    /// No progress bars
    #[arg(long)]
    pub quiet: bool,
    /// Set by the CLI from the global --database-url (never from the daemon's configured
    /// database: generate drops what it loads into).
    #[arg(skip)]
    pub database_url: Option<String>,
}

impl GenerateArgs {
    pub fn options(&self, normalize: &NormalizeConfig) -> GenerateOptions {
        GenerateOptions {
            normalize: normalize.clone(),
            contacts: self.contacts,
            seed: self.seed,
            database_url: self
                .database_url
                .clone()
                .unwrap_or_else(|| DEFAULT_DATABASE_URL.into()),
            quiet: self.quiet,
        }
    }
}

#[derive(Debug, Clone)]
pub struct GenerateOptions {
    pub contacts: u64,
    pub seed: u64,
    /// Dropped and recreated.
    pub database_url: String,
    pub quiet: bool,
    /// Where the title rules are (`normalize.titles_toml`).
    pub normalize: NormalizeConfig,
}

/// What a load did and how long each phase took.
#[derive(Debug, Clone, serde::Serialize)]
pub struct GenerateSummary {
    pub contacts: u64,
    pub companies: u64,
    pub indexes: usize,
    pub copy_secs: f64,
    pub index_secs: f64,
    pub analyze_secs: f64,
    pub total_secs: f64,
}

impl fmt::Display for GenerateSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rows = (self.contacts + self.companies) * 2;
        write!(
            f,
            "Loaded {} contacts and {} companies ({} rows with metadata): COPY {:.1} s \
             ({:.0} rows/s), {} indexes rebuilt {:.1} s, VACUUM ANALYZE {:.1} s; total {:.1} s.",
            self.contacts,
            self.companies,
            rows,
            self.copy_secs,
            rows as f64 / self.copy_secs.max(1e-9),
            self.indexes,
            self.index_secs,
            self.analyze_secs,
            self.total_secs
        )
    }
}

/// Drop, recreate, migrate and load the bench database.
pub async fn run(opts: &GenerateOptions) -> Result<GenerateSummary, BenchError> {
    let started = Instant::now();
    let companies = (opts.contacts / 10).max(1);
    let (_, rules) = rolodex_actors::normalize::load(&opts.normalize)
        .map_err(|e| BenchError::Invalid(e.to_string()))?;
    crate::db::drop_database(&opts.database_url).await?;
    crate::db::ensure_database(&opts.database_url).await?;
    // Index builds run for seconds by design: no slow-statement warnings over the bars.
    let options = PgConnectOptions::from_str(&opts.database_url)?.disable_statement_logging();
    let mut a = load_connection(&options).await?;
    let mut b = load_connection(&options).await?;
    crate::db::MIGRATOR
        .run(&mut a)
        .await
        .map_err(crate::db::DbError::from)?;

    let indexes = secondary_indexes(&mut a).await?;
    for (name, _) in &indexes {
        // Names come from the catalog, quoted as identifiers.
        sqlx::raw_sql(&format!("DROP INDEX \"{}\"", name.replace('"', "\"\"")))
            .execute(&mut a)
            .await?;
    }

    let copy_started = Instant::now();
    let mut gen = Generator::new(opts.seed, &rules);
    let bar = progress(companies, "companies", opts.quiet);
    let lite = copy_pair(
        &mut a,
        &mut b,
        ["companies", "companies_metadata"],
        companies,
        &bar,
        |buf_a, buf_b| gen.company(buf_a, buf_b),
    )
    .await?;
    bar.finish();
    let bar = progress(opts.contacts, "contacts", opts.quiet);
    copy_pair(
        &mut a,
        &mut b,
        ["contacts", "contacts_metadata"],
        opts.contacts,
        &bar,
        |buf_a, buf_b| {
            gen.contact(&lite, buf_a, buf_b);
        },
    )
    .await?;
    bar.finish();
    let copy_secs = copy_started.elapsed().as_secs_f64();

    let index_started = Instant::now();
    rebuild_indexes(&mut a, &mut b, &indexes, opts.quiet).await?;
    let after = secondary_indexes(&mut a).await?;
    if after != indexes {
        return Err(BenchError::Invalid(format!(
            "the rebuilt index set differs from the migrations' ({} vs {} indexes)",
            after.len(),
            indexes.len()
        )));
    }
    let index_secs = index_started.elapsed().as_secs_f64();

    let analyze_started = Instant::now();
    let bar = progress(TABLES.len() as u64, "vacuum analyze", opts.quiet);
    for table in TABLES {
        bar.set_message(table);
        sqlx::raw_sql(&format!("VACUUM (ANALYZE) {table}"))
            .execute(&mut a)
            .await?;
        bar.inc(1);
    }
    bar.finish();
    let _ = a.close().await;
    let _ = b.close().await;
    Ok(GenerateSummary {
        contacts: opts.contacts,
        companies,
        indexes: indexes.len(),
        copy_secs,
        index_secs,
        analyze_secs: analyze_started.elapsed().as_secs_f64(),
        total_secs: started.elapsed().as_secs_f64(),
    })
}

async fn load_connection(options: &PgConnectOptions) -> Result<PgConnection, BenchError> {
    let mut conn = PgConnection::connect_with(options).await?;
    sqlx::raw_sql(
        "SET synchronous_commit = off; SET maintenance_work_mem = '1GB'; \
         SET statement_timeout = 0",
    )
    .execute(&mut conn)
    .await?;
    Ok(conn)
}

/// `(name, definition)` of every index of the bench tables that backs no constraint (the
/// primary keys stay), sorted by name.
async fn secondary_indexes(conn: &mut PgConnection) -> Result<Vec<(String, String)>, BenchError> {
    let tables: Vec<String> = TABLES.iter().map(|t| (*t).to_owned()).collect();
    Ok(sqlx::query_as(
        "SELECT i.indexname::text, i.indexdef FROM pg_indexes i \
         JOIN pg_class c ON c.relname = i.indexname AND c.relkind = 'i' \
         JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = i.schemaname \
         WHERE i.schemaname = current_schema() AND i.tablename = ANY($1) \
           AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = c.oid) \
         ORDER BY 1",
    )
    .bind(&tables)
    .fetch_all(conn)
    .await?)
}

/// Re-execute index definitions on two connections at once (PostgreSQL builds each in its
/// own backend, so two cores work in parallel).
async fn rebuild_indexes(
    a: &mut PgConnection,
    b: &mut PgConnection,
    indexes: &[(String, String)],
    quiet: bool,
) -> Result<(), BenchError> {
    let bar = progress(indexes.len() as u64, "indexes", quiet);
    bar.enable_steady_tick(Duration::from_millis(250));
    // A shared queue, the slow GIN builds first, so the two builders finish together.
    let mut order: Vec<&(String, String)> = indexes.iter().collect();
    order.sort_by_key(|(_, def)| !def.contains("USING gin"));
    let queue = std::sync::Mutex::new(order.into_iter());
    let (ra, rb) = tokio::join!(
        build_indexes(a, &queue, &bar),
        build_indexes(b, &queue, &bar)
    );
    bar.finish();
    ra?;
    rb?;
    Ok(())
}

async fn build_indexes<'a>(
    conn: &mut PgConnection,
    queue: &std::sync::Mutex<impl Iterator<Item = &'a (String, String)>>,
    bar: &indicatif::ProgressBar,
) -> Result<(), sqlx::Error> {
    loop {
        let next = queue.lock().ok().and_then(|mut q| q.next());
        let Some((name, def)) = next else {
            return Ok(());
        };
        bar.set_message(name.clone());
        sqlx::raw_sql(def).execute(&mut *conn).await?;
        bar.inc(1);
    }
}

/// Fill two COPY streams (a table and its metadata) from one generator, row by row.
async fn copy_pair<T>(
    a: &mut PgConnection,
    b: &mut PgConnection,
    tables: [&str; 2],
    rows: u64,
    bar: &indicatif::ProgressBar,
    mut next: impl FnMut(&mut String, &mut String) -> T,
) -> Result<Vec<T>, BenchError> {
    let mut copy_a = a.copy_in_raw(&copy_statement(tables[0])).await?;
    let mut copy_b = b.copy_in_raw(&copy_statement(tables[1])).await?;
    let (mut buf_a, mut buf_b) = (
        String::with_capacity(CHUNK * 2),
        String::with_capacity(CHUNK * 2),
    );
    let mut out = Vec::new();
    for i in 0..rows {
        out.push(next(&mut buf_a, &mut buf_b));
        if buf_a.len() >= CHUNK || buf_b.len() >= CHUNK || i + 1 == rows {
            copy_a.send(std::mem::take(&mut buf_a).into_bytes()).await?;
            copy_b.send(std::mem::take(&mut buf_b).into_bytes()).await?;
            bar.set_position(i + 1);
        }
    }
    copy_a.finish().await?;
    copy_b.finish().await?;
    Ok(out)
}

fn copy_statement(table: &str) -> String {
    let columns = match table {
        "companies" => {
            "uuid, name, employees_count, annual_revenue, industries, keywords, \
                        technologies, created_at, updated_at"
        }
        "companies_metadata" => {
            "uuid, website, linkedin_url, city, state, country, phone, founded_year"
        }
        "contacts" => {
            "uuid, first_name, last_name, email, title, title_normalized, seniority, \
                       departments, mobile_phone, email_status, company_id, created_at, \
                       updated_at"
        }
        _ => "uuid, linkedin_url, city, state, country, website, facebook_url, twitter_url",
    };
    format!("COPY {table} ({columns}) FROM STDIN (FORMAT text)")
}

/// What a contact needs to know about its company.
#[derive(Debug, Clone)]
pub struct CompanyLite {
    pub uuid: Uuid,
    pub domain: String,
    pub place: usize,
}

/// A job title with its seniority and department.
#[derive(Debug, Clone)]
struct Title {
    title: String,
    /// The title's canonical form by the configured rules (`title_normalized`).
    normalized: String,
    seniority: &'static str,
    department: &'static str,
}

/// Seniorities with their share of contacts (per mille).
const SENIORITIES: &[(&str, u32)] = &[
    ("entry", 280),
    ("senior", 300),
    ("manager", 150),
    ("head", 30),
    ("director", 100),
    ("vp", 50),
    ("c_suite", 40),
    ("owner", 35),
    ("partner", 15),
];

fn titles(rules: &TitleRules) -> Vec<Title> {
    let mut out = Vec::new();
    let mut add = |title: String, seniority, department| {
        out.push(Title {
            normalized: rules.normalize(&title),
            title,
            seniority,
            department,
        })
    };
    for Function {
        department,
        area,
        roles,
    } in vocab::FUNCTIONS
    {
        for role in *roles {
            add((*role).to_owned(), "entry", department);
            add(format!("Junior {role}"), "entry", department);
            add(format!("Senior {role}"), "senior", department);
            add(format!("Lead {role}"), "senior", department);
            add(format!("Principal {role}"), "senior", department);
        }
        add(format!("{area} Manager"), "manager", department);
        add(format!("Senior {area} Manager"), "manager", department);
        add(format!("Head of {area}"), "head", department);
        add(format!("Director of {area}"), "director", department);
        add(format!("Senior Director of {area}"), "director", department);
        add(format!("VP of {area}"), "vp", department);
        add(format!("Vice President, {area}"), "vp", department);
        add(format!("SVP of {area}"), "vp", department);
    }
    for t in vocab::C_SUITE {
        add((*t).to_owned(), "c_suite", "Executive");
    }
    for t in vocab::OWNER_TITLES {
        let seniority = if t.contains("Partner") {
            "partner"
        } else {
            "owner"
        };
        add((*t).to_owned(), seniority, "Executive");
    }
    out
}

/// Draws rows from one seeded stream.
pub struct Generator {
    rng: ChaCha8Rng,
    /// Titles grouped by seniority, in [`SENIORITIES`] order.
    titles: Vec<Vec<Title>>,
    departments: Vec<&'static str>,
    base: DateTime<Utc>,
}

/// Three years, in seconds: the spread of `created_at`.
const SPREAD_SECS: i64 = 3 * 365 * 24 * 3600;

impl Generator {
    pub fn new(seed: u64, rules: &TitleRules) -> Generator {
        let all = titles(rules);
        let titles = SENIORITIES
            .iter()
            .map(|(s, _)| all.iter().filter(|t| t.seniority == *s).cloned().collect())
            .collect();
        let mut departments: Vec<&'static str> =
            vocab::FUNCTIONS.iter().map(|f| f.department).collect();
        departments.push("Executive");
        Generator {
            rng: ChaCha8Rng::seed_from_u64(seed),
            titles,
            departments,
            base: Utc
                .with_ymd_and_hms(2023, 1, 1, 0, 0, 0)
                .single()
                .unwrap_or_default(),
        }
    }

    fn uuid(&mut self) -> Uuid {
        uuid::Builder::from_random_bytes(self.rng.gen()).into_uuid()
    }

    fn pick<'a, T>(&mut self, list: &'a [T]) -> &'a T {
        &list[self.rng.gen_range(0..list.len())]
    }

    /// A skewed pick: early entries of the list are much more common (like real popularity).
    fn pick_skewed<'a, T>(&mut self, list: &'a [T]) -> &'a T {
        let u: f64 = self.rng.gen();
        &list[((u * u * u) * list.len() as f64) as usize % list.len()]
    }

    /// 1 to 5 distinct skewed picks.
    fn some<'a>(&mut self, list: &'a [&'a str], max: usize) -> Vec<&'a str> {
        let n = self.rng.gen_range(1..=max);
        let mut out: Vec<&str> = Vec::with_capacity(n);
        while out.len() < n {
            let v = *self.pick_skewed(list);
            if !out.contains(&v) {
                out.push(v);
            }
        }
        out
    }

    fn timestamps(&mut self) -> (DateTime<Utc>, DateTime<Utc>) {
        let created = self.base + chrono::Duration::seconds(self.rng.gen_range(0..SPREAD_SECS));
        let updated = created + chrono::Duration::seconds(self.rng.gen_range(0..90 * 24 * 3600));
        (created, updated)
    }

    fn weighted(&mut self, weights: &[(&'static str, u32)]) -> usize {
        let total: u32 = weights.iter().map(|(_, w)| w).sum();
        let mut x = self.rng.gen_range(0..total);
        for (i, (_, w)) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    }

    /// One company row and its metadata row, as COPY text lines.
    pub fn company(&mut self, row: &mut String, meta: &mut String) -> CompanyLite {
        let uuid = self.uuid();
        let stem = *self.pick(vocab::COMPANY_STEMS);
        let suffix = *self.pick(vocab::COMPANY_SUFFIXES);
        let form = *self.pick(vocab::COMPANY_FORMS);
        let name = format!("{stem}{suffix} {form}");
        let tld = *self.pick(&[".com", ".io", ".co", ".net", ".ai"]);
        let slug = slug(&format!("{stem}{suffix}{form}"));
        let domain = format!("{slug}{}{tld}", self.rng.gen_range(1..1000));
        // Log-uniform head counts: many small companies, a few large ones.
        let employees = (10f64.powf(self.rng.gen_range(0.0..4.7))) as i32;
        let revenue = i64::from(employees) * self.rng.gen_range(40_000..300_000);
        let industries = self.some(vocab::INDUSTRIES, 5);
        let keywords = self.some(vocab::KEYWORDS, 5);
        let technologies = self.some(vocab::TECHNOLOGIES, 5);
        let (created, updated) = self.timestamps();
        let cols = [
            Some(uuid.to_string()),
            Some(name),
            Some(employees.to_string()),
            Some(revenue.to_string()),
            Some(array(&industries)),
            Some(array(&keywords)),
            Some(array(&technologies)),
            Some(created.to_rfc3339()),
            Some(updated.to_rfc3339()),
        ];
        line(row, &cols);
        let place = self.rng.gen_range(0..vocab::PLACES.len());
        let (city, state, country) = vocab::PLACES[place];
        let phone = format!(
            "+1 {} {} {}",
            self.rng.gen_range(200..999),
            self.rng.gen_range(200..999),
            self.rng.gen_range(1000..9999)
        );
        let founded = self.rng.gen_range(1950..2025).to_string();
        let cols = [
            Some(uuid.to_string()),
            Some(format!("https://www.{domain}")),
            Some(format!("https://www.linkedin.com/company/{slug}")),
            Some(city.to_owned()),
            Some(state.to_owned()),
            Some(country.to_owned()),
            Some(phone),
            Some(founded),
        ];
        line(meta, &cols);
        CompanyLite {
            uuid,
            domain,
            place,
        }
    }

    /// One contact row and its metadata row; ~15% have no company.
    pub fn contact(&mut self, companies: &[CompanyLite], row: &mut String, meta: &mut String) {
        let uuid = self.uuid();
        let first = *self.pick(vocab::FIRST_NAMES);
        let last = *self.pick(vocab::LAST_NAMES);
        let s = self.weighted(SENIORITIES);
        let t = self.rng.gen_range(0..self.titles[s].len());
        let title = self.titles[s][t].clone();
        let mut departments = vec![title.department];
        for _ in 0..self.rng.gen_range(0..=2) {
            let d = *self.pick(&self.departments.clone());
            if !departments.contains(&d) {
                departments.push(d);
            }
        }
        let company = if self.rng.gen_bool(0.85) && !companies.is_empty() {
            Some(&companies[self.rng.gen_range(0..companies.len())])
        } else {
            None
        };
        let local = format!("{}.{}", slug(first), slug(last));
        let email = match (company, self.rng.gen_bool(0.9)) {
            (_, false) => None,
            (Some(c), true) => Some(format!("{local}@{}", c.domain)),
            (None, true) => Some(format!(
                "{local}{}@{}",
                self.rng.gen_range(1..10_000),
                self.pick(vocab::FREE_MAIL)
            )),
        };
        let status = email.as_ref().map(|_| {
            vocab::EMAIL_STATUSES[self.weighted(vocab::EMAIL_STATUSES)]
                .0
                .to_owned()
        });
        let mobile = self.rng.gen_bool(0.4).then(|| {
            format!(
                "+1 {} {} {}",
                self.rng.gen_range(200..999),
                self.rng.gen_range(200..999),
                self.rng.gen_range(1000..9999)
            )
        });
        let (created, updated) = self.timestamps();
        let cols = [
            Some(uuid.to_string()),
            Some(first.to_owned()),
            Some(last.to_owned()),
            email,
            Some(title.title),
            Some(title.normalized),
            Some(title.seniority.to_owned()),
            Some(array(&departments)),
            mobile,
            status,
            company.map(|c| c.uuid.to_string()),
            Some(created.to_rfc3339()),
            Some(updated.to_rfc3339()),
        ];
        line(row, &cols);
        let place = match company {
            Some(c) if self.rng.gen_bool(0.7) => c.place,
            _ => self.rng.gen_range(0..vocab::PLACES.len()),
        };
        let (city, state, country) = vocab::PLACES[place];
        let handle = format!("{}-{}-{:x}", slug(first), slug(last), self.rng.gen::<u32>());
        let cols = [
            Some(uuid.to_string()),
            self.rng
                .gen_bool(0.8)
                .then(|| format!("https://www.linkedin.com/in/{handle}")),
            Some(city.to_owned()),
            Some(state.to_owned()),
            Some(country.to_owned()),
            self.rng
                .gen_bool(0.1)
                .then(|| format!("https://{handle}.dev")),
            self.rng
                .gen_bool(0.1)
                .then(|| format!("https://www.facebook.com/{handle}")),
            self.rng
                .gen_bool(0.2)
                .then(|| format!("https://twitter.com/{}{}", slug(first), slug(last))),
        ];
        line(meta, &cols);
    }
}

/// Lower-case ASCII letters and digits only (for domains, handles, emails).
fn slug(s: &str) -> String {
    s.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// A text[] literal with every element quoted.
fn array(values: &[&str]) -> String {
    let mut s = String::from("{");
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push('"');
        for c in v.chars() {
            if c == '"' || c == '\\' {
                s.push('\\');
            }
            s.push(c);
        }
        s.push('"');
    }
    s.push('}');
    s
}

/// Append one COPY text-format line: tab-separated, `\N` for NULL, backslash escapes.
fn line(out: &mut String, cols: &[Option<String>]) {
    for (i, c) in cols.iter().enumerate() {
        if i > 0 {
            out.push('\t');
        }
        match c {
            None => out.push_str("\\N"),
            Some(v) => {
                for ch in v.chars() {
                    match ch {
                        '\\' => out.push_str("\\\\"),
                        '\t' => out.push_str("\\t"),
                        '\n' => out.push_str("\\n"),
                        '\r' => out.push_str("\\r"),
                        _ => out.push(ch),
                    }
                }
            }
        }
    }
    let _ = writeln!(out);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> TitleRules {
        TitleRules::parse(include_str!("../../config/titles.toml")).unwrap()
    }

    fn sample(seed: u64) -> (String, String) {
        let mut g = Generator::new(seed, &rules());
        let (mut c, mut cm, mut p, mut pm) =
            (String::new(), String::new(), String::new(), String::new());
        let companies: Vec<_> = (0..3).map(|_| g.company(&mut c, &mut cm)).collect();
        for _ in 0..20 {
            g.contact(&companies, &mut p, &mut pm);
        }
        (c + &cm, p + &pm)
    }

    #[test]
    fn the_same_seed_gives_the_same_rows() {
        assert_eq!(sample(7), sample(7));
        assert_ne!(sample(7), sample(8));
    }

    #[test]
    fn copy_lines_escape_and_null() {
        let mut s = String::new();
        line(
            &mut s,
            &[Some("a\tb\\c".into()), None, Some(array(&["x, y", "q\"r"]))],
        );
        assert_eq!(s, "a\\tb\\\\c\t\\N\t{\"x, y\",\"q\\\\\"r\"}\n");
    }

    #[test]
    fn titles_cover_every_seniority_with_hundreds_of_titles() {
        let all = titles(&rules());
        assert!(all.len() > 300, "{}", all.len());
        for (s, _) in SENIORITIES {
            assert!(all.iter().any(|t| t.seniority == *s), "{s}");
        }
    }
}
