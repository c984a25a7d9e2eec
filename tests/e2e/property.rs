//! Property test: random filter trees over a small generated dataset give exactly the rows, in
//! order, that an independent evaluation of the same filters in Rust gives — for search and
//! for count (which takes the EXISTS path instead of joins).

use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};
use serde_json::{json, Map, Value};

use crate::harness::Instance;

const FIRST: [Option<&str>; 6] = [
    Some("Ann"),
    Some("bob"),
    Some("Cara"),
    Some("dan"),
    Some("Eve"),
    None,
];
const LAST: [Option<&str>; 4] = [Some("Smith"), Some("jones"), Some("Brown"), None];
const TITLE: [Option<&str>; 5] = [
    Some("VP Sales"),
    Some("Engineer"),
    Some("Senior Engineer"),
    Some("Director"),
    None,
];
const SENIORITY: [Option<&str>; 5] = [
    Some("vp"),
    Some("senior"),
    Some("entry"),
    Some("director"),
    None,
];
const DEPARTMENTS: [&str; 3] = ["Sales", "Engineering", "Research"];
const COMPANY: [&str; 6] = [
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Acme Labs",
];
const TECH: [&str; 3] = ["Rust", "Go", "Kubernetes"];
const COUNTRY: [Option<&str>; 3] = [Some("Germany"), Some("France"), None];

#[derive(Debug, Clone)]
enum V {
    Null,
    Text(String),
    Int(i64),
    Array(Vec<String>),
}

/// One contact as the independent model sees it: every field of the filter table, flattened.
#[derive(Debug, Clone)]
struct Contact {
    uuid: String,
    fields: Vec<(&'static str, V)>,
}

impl Contact {
    fn get(&self, field: &str) -> V {
        self.fields
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, v)| v.clone())
            .unwrap_or(V::Null)
    }
}

fn text(v: Option<&str>) -> V {
    v.map_or(V::Null, |s| V::Text(s.to_owned()))
}

fn subset<'a>(all: &[&'a str], bits: usize) -> Vec<&'a str> {
    all.iter()
        .enumerate()
        .filter(|(i, _)| bits & (1 << i) != 0)
        .map(|(_, s)| *s)
        .collect()
}

fn sql_text(v: Option<&str>) -> String {
    v.map_or("NULL".into(), |s| format!("'{s}'"))
}

fn sql_array(items: &[&str]) -> String {
    format!(
        "ARRAY[{}]::text[]",
        items
            .iter()
            .map(|s| format!("'{s}'"))
            .collect::<Vec<_>>()
            .join(",")
    )
}

/// The dataset as SQL and as the model.
fn dataset() -> (String, Vec<Contact>) {
    let mut sql = String::new();
    // (uuid, name, employees, technologies, metadata country)
    type Company = (
        String,
        &'static str,
        Option<i64>,
        Vec<&'static str>,
        Option<&'static str>,
    );
    let companies: Vec<Company> = (0..COMPANY.len())
        .map(|k| {
            let employees = if k % 4 == 3 {
                None
            } else {
                Some(10 + 70 * k as i64)
            };
            (
                format!("00000000-0000-0000-0000-0000000c{k:04}"),
                COMPANY[k],
                employees,
                subset(&TECH, k % 8),
                COUNTRY[k % 3],
            )
        })
        .collect();
    for (uuid, name, employees, tech, country) in &companies {
        let emp = employees.map_or("NULL".into(), |e| e.to_string());
        sql.push_str(&format!(
            "INSERT INTO companies (uuid, name, employees_count, technologies) VALUES ('{uuid}', '{name}', {emp}, {});\n",
            sql_array(tech)
        ));
        sql.push_str(&format!(
            "INSERT INTO companies_metadata (uuid, country) VALUES ('{uuid}', {});\n",
            sql_text(*country)
        ));
    }
    let mut model = Vec::new();
    for n in 0..90usize {
        let uuid = format!("00000000-0000-0000-0000-{n:012}");
        let first = FIRST[n % FIRST.len()];
        let last = LAST[(n / 2) % LAST.len()];
        let title = TITLE[(n / 3) % TITLE.len()];
        let seniority = SENIORITY[(n * 7) % SENIORITY.len()];
        let departments = subset(&DEPARTMENTS, n % 8);
        let company = (n % 7 != 0).then(|| &companies[n % companies.len()]);
        let country = (n % 3 != 0).then(|| COUNTRY[(n / 5) % 3]);
        sql.push_str(&format!(
            "INSERT INTO contacts (uuid, first_name, last_name, title, seniority, departments, company_id, created_at) \
             VALUES ('{uuid}', {}, {}, {}, {}, {}, {}, '2024-01-01'::timestamptz + {n} * interval '1 minute');\n",
            sql_text(first),
            sql_text(last),
            sql_text(title),
            sql_text(seniority),
            sql_array(&departments),
            company.map_or("NULL".into(), |c| format!("'{}'", c.0)),
        ));
        if let Some(country) = country {
            sql.push_str(&format!(
                "INSERT INTO contacts_metadata (uuid, country) VALUES ('{uuid}', {});\n",
                sql_text(country)
            ));
        }
        let fields = vec![
            ("first_name", text(first)),
            ("last_name", text(last)),
            ("title", text(title)),
            ("seniority", text(seniority)),
            (
                "departments",
                V::Array(departments.iter().map(|s| s.to_string()).collect()),
            ),
            ("created_at", V::Int(n as i64)),
            (
                "company.name",
                company.map_or(V::Null, |c| V::Text(c.1.into())),
            ),
            (
                "company.employees_count",
                company.and_then(|c| c.2).map_or(V::Null, V::Int),
            ),
            (
                "company.technologies",
                company.map_or(V::Null, |c| {
                    V::Array(c.3.iter().map(|s| s.to_string()).collect())
                }),
            ),
            (
                "contact_meta.country",
                country.flatten().map_or(V::Null, |c| V::Text(c.into())),
            ),
            (
                "company_meta.country",
                company
                    .and_then(|c| c.4)
                    .map_or(V::Null, |c| V::Text(c.into())),
            ),
        ];
        model.push(Contact { uuid, fields });
    }
    (sql, model)
}

#[derive(Debug, Clone)]
enum Node {
    Cond(&'static str, &'static str, Value),
    AnyOf(Vec<Vec<Node>>),
    Not(Vec<Node>),
}

fn words(options: &[Option<&'static str>]) -> Vec<&'static str> {
    options.iter().flatten().copied().collect()
}

/// A random condition from the table of (field, operator, value) the model understands.
fn cond() -> impl Strategy<Value = Node> {
    let text_field = prop_oneof![
        Just(("first_name", words(&FIRST))),
        Just(("last_name", words(&LAST))),
        Just(("title", words(&TITLE))),
        Just(("company.name", COMPANY.to_vec())),
        Just(("contact_meta.country", words(&COUNTRY))),
        Just(("company_meta.country", words(&COUNTRY))),
    ];
    let text_cond = (text_field, 0usize..6, 0usize..100, any::<bool>()).prop_map(
        |((field, vocab), op, pick, upper)| {
            let word = vocab[pick % vocab.len()];
            let word = if upper {
                word.to_uppercase()
            } else {
                word.to_owned()
            };
            let fragment: String = word.chars().take(2 + pick % 3).collect();
            let (op, value) = match op {
                0 => ("eq", json!(word)),
                1 => ("ne", json!(word)),
                2 => ("in", json!([word, vocab[(pick + 1) % vocab.len()]])),
                3 => ("not_in", json!([word])),
                4 => ("contains", json!(fragment)),
                _ => ("starts_with", json!(fragment)),
            };
            Node::Cond(field, op, value)
        },
    );
    let keyword = (0usize..3, 0usize..10).prop_map(|(op, pick)| {
        let word = words(&SENIORITY)[pick % 4];
        match op {
            0 => Node::Cond("seniority", "eq", json!(word.to_uppercase())),
            1 => Node::Cond("seniority", "not_contains", json!(&word[..2])),
            _ => Node::Cond("seniority", "in", json!([word, "vp"])),
        }
    });
    let number = (
        prop_oneof![Just("company.employees_count"), Just("created_at")],
        0usize..4,
        0i64..400,
    )
        .prop_map(|(field, op, n)| {
            let op = ["gt", "gte", "lt", "lte"][op];
            let value = if field == "created_at" {
                json!(
                    (chrono::DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z").unwrap()
                        + chrono::Duration::minutes(n % 90))
                    .to_rfc3339()
                )
            } else {
                json!(n)
            };
            Node::Cond(field, op, value)
        });
    let array = (
        prop_oneof![
            Just(("departments", DEPARTMENTS.to_vec())),
            Just(("company.technologies", TECH.to_vec()))
        ],
        0usize..3,
        1usize..8,
    )
        .prop_map(|((field, vocab), op, bits)| {
            let items: Vec<&str> = subset(&vocab, bits);
            let items = if items.is_empty() {
                vec![vocab[0]]
            } else {
                items
            };
            // Half the time in another case than stored: arrays match case-insensitively.
            let items: Vec<String> = items
                .iter()
                .map(|s| match bits % 2 {
                    0 => s.to_uppercase(),
                    _ => s.to_string(),
                })
                .collect();
            Node::Cond(field, ["any", "all", "none"][op], json!(items))
        });
    let null = (
        prop_oneof![
            Just("first_name"),
            Just("company.name"),
            Just("contact_meta.country"),
            Just("company.employees_count"),
            Just("company_meta.country")
        ],
        any::<bool>(),
    )
        .prop_map(|(field, b)| Node::Cond(field, "is_null", json!(b)));
    prop_oneof![4 => text_cond, 1 => keyword, 2 => number, 2 => array, 2 => null]
}

fn tree() -> impl Strategy<Value = Vec<Node>> {
    let leaf = prop::collection::vec(cond(), 1..3);
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop::collection::vec(
            prop_oneof![
                2 => cond(),
                1 => prop::collection::vec(inner.clone(), 1..3).prop_map(Node::AnyOf),
                1 => inner.prop_map(Node::Not),
            ],
            1..4,
        )
    })
}

/// Render a group as the request language: fields as keys while they are unique, the rest
/// through `all_of`.
fn render(group: &[Node]) -> Value {
    let mut map = Map::new();
    let mut extra = Vec::new();
    for node in group {
        let (key, value) = match node {
            Node::Cond(f, op, v) => {
                let slot = map.entry(f.to_string()).or_insert_with(|| json!({}));
                if slot.get(*op).is_none() {
                    slot[*op] = v.clone();
                    continue;
                }
                (f.to_string(), json!({ *op: v }))
            }
            Node::AnyOf(groups) => (
                "any_of".to_string(),
                Value::Array(groups.iter().map(|g| render(g)).collect()),
            ),
            Node::Not(g) => ("not".to_string(), render(g)),
        };
        if map.contains_key(&key) {
            extra.push(json!({ key: value }));
        } else {
            map.insert(key, value);
        }
    }
    if !extra.is_empty() {
        map.insert("all_of".into(), Value::Array(extra));
    }
    Value::Object(map)
}

fn holds(c: &Contact, group: &[Node]) -> bool {
    group.iter().all(|node| match node {
        Node::Cond(f, op, v) => cond_holds(&c.get(f), op, v),
        Node::AnyOf(groups) => groups.iter().any(|g| holds(c, g)),
        Node::Not(g) => !holds(c, g),
    })
}

fn minutes(v: &Value) -> i64 {
    let t = chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap();
    (t - chrono::DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z").unwrap()).num_minutes()
}

fn cond_holds(value: &V, op: &str, arg: &Value) -> bool {
    let s = |v: &Value| v.as_str().unwrap().to_lowercase();
    let list = |v: &Value| {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    match (value, op) {
        (V::Null, "is_null") => arg.as_bool().unwrap(),
        (_, "is_null") => !arg.as_bool().unwrap(),
        (V::Null, _) => false,
        (V::Text(t), _) => {
            let t = t.to_lowercase();
            match op {
                "eq" => t == s(arg),
                "ne" => t != s(arg),
                "in" => list(arg).iter().any(|x| x.to_lowercase() == t),
                "not_in" => !list(arg).iter().any(|x| x.to_lowercase() == t),
                "contains" => t.contains(&s(arg)),
                "not_contains" => !t.contains(&s(arg)),
                "starts_with" => t.starts_with(&s(arg)),
                _ => unreachable!("{op}"),
            }
        }
        (V::Int(n), _) => {
            let a = arg.as_i64().unwrap_or_else(|| minutes(arg));
            match op {
                "gt" => *n > a,
                "gte" => *n >= a,
                "lt" => *n < a,
                "lte" => *n <= a,
                _ => unreachable!("{op}"),
            }
        }
        (V::Array(items), _) => {
            // Case-insensitive, as every text comparison.
            let has = |w: &String| items.iter().any(|i| i.to_lowercase() == w.to_lowercase());
            let wanted = list(arg);
            match op {
                "any" => wanted.iter().any(has),
                "all" => wanted.iter().all(has),
                "none" => !wanted.iter().any(has),
                _ => unreachable!("{op}"),
            }
        }
    }
}

#[test]
fn random_filter_trees_match_an_independent_evaluation() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (sql, model) = dataset();
    let i = rt.block_on(async {
        let mut config = crate::harness::test_config("prop");
        // Rendering through all_of adds levels; the trees themselves are at most 4 deep.
        config.query.max_depth = 10;
        let i = Instance::start_with(config).await;
        i.sql(&sql).await;
        i
    });
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 96,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let result = runner.run(&tree(), |group| {
        let filters = render(&group);
        let mut expected: Vec<&Contact> = model.iter().filter(|c| holds(c, &group)).collect();
        // Newest first: created_at grows with n.
        expected.reverse();
        let expected: Vec<String> = expected.iter().map(|c| c.uuid.clone()).collect();
        let (got, count) = rt.block_on(async {
            let page = i
                .ok(
                    "contacts.search",
                    json!({"filters": filters, "fields": ["uuid"], "limit": 1000}),
                )
                .await;
            let count = i.ok("contacts.count", json!({"filters": filters})).await;
            (
                crate::harness::uuids(&page),
                count["count"].as_u64().unwrap(),
            )
        });
        prop_assert_eq!(&got, &expected, "search of {}", filters);
        prop_assert_eq!(count as usize, expected.len(), "count of {}", filters);
        Ok(())
    });
    rt.block_on(async { i.stop().await.unwrap() });
    if let Err(e) = result {
        panic!("{e}");
    }
}
