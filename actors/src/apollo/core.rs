//! The Apollo.io URL parser. Apollo keeps its search state in the hash route:
//! `https://app.apollo.io/#/people?personTitles[]=cto&page=2`. Keys come as `name[]`,
//! `name[0]`, `name[min]` or `name`, repeated, percent-encoded, `+` for spaces
//! (`form_urlencoded` decodes them). Lists become `in`/`any` conditions, alternatives
//! (several titles, locations, employee ranges) `any_of` groups under one `all_of`, and every
//! exclusion one `not: {any_of: [...]}`. The output is accepted by `<entity>.search` as-is.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use url::Url;

use crate::error::ApiError;
use crate::normalize::Industries;
use crate::planner::core::fields::Entity;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalyzeRequest {
    pub url: String,
}

/// A parameter the analysis could not map, and why.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Unmapped {
    pub param: String,
    pub value: String,
    pub reason: String,
}

/// The reply: a ready search request (`filters`, `sort`, `q`, `limit`, `offset`) for `entity`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Analysis {
    pub entity: Entity,
    pub filters: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sort: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    pub unmapped: Vec<Unmapped>,
}

/// Where a parameter first appeared, and its (index, value) pairs.
type Slot = (usize, Vec<(usize, String)>);

/// One search parameter: its base name, sub-key (`min` of `revenueRange[min]`) and values.
#[derive(Debug)]
struct Param {
    name: String,
    sub: Option<String>,
    values: Vec<String>,
}

struct Parsed {
    entity: Entity,
    params: Vec<Param>,
    outside: Vec<(String, String)>,
}

fn not_apollo(why: impl Into<String>) -> ApiError {
    ApiError::NotApolloUrl(why.into())
}

fn parse(input: &str) -> Result<Parsed, ApiError> {
    let url = Url::parse(input.trim())
        .map_err(|e| ApiError::invalid("url", format!("not a valid URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(not_apollo(format!("scheme `{}`", url.scheme())));
    }
    let host = url.host_str().unwrap_or_default().to_lowercase();
    if host != "apollo.io" && !host.ends_with(".apollo.io") {
        return Err(not_apollo(format!(
            "host `{host}` is not apollo.io; expected https://app.apollo.io/#/people?..."
        )));
    }
    let (route, query) = match url.fragment() {
        Some(f) => f.split_once('?').unwrap_or((f, "")),
        None => (url.path(), ""),
    };
    let entity = match route
        .trim_matches('/')
        .split('/')
        .next()
        .unwrap_or_default()
    {
        "people" | "contacts" => Entity::Contacts,
        "companies" | "organizations" | "accounts" => Entity::Companies,
        other => {
            return Err(not_apollo(format!(
                "route `#/{other}` is not a people or company search"
            )))
        }
    };
    let outside = if url.fragment().is_some() {
        url.query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    } else {
        Vec::new()
    };
    let query = if url.fragment().is_some() {
        query.to_owned()
    } else {
        url.query().unwrap_or_default().to_owned()
    };
    // Indexed forms (`x[2]`) keep their index order; the rest keep their order of appearance.
    let mut params: Vec<Param> = Vec::new();
    let mut order: BTreeMap<(String, Option<String>), Slot> = BTreeMap::new();
    for (n, (key, value)) in url::form_urlencoded::parse(query.as_bytes()).enumerate() {
        let (name, sub, index) = split_key(&key);
        let at = index.unwrap_or(n);
        let slot = order.entry((name, sub)).or_insert((n, Vec::new()));
        slot.1.push((at, value.into_owned()));
    }
    let mut ordered: Vec<_> = order.into_iter().collect();
    ordered.sort_by_key(|(_, (first, _))| *first);
    for ((name, sub), (_, mut values)) in ordered {
        values.sort_by_key(|(i, _)| *i);
        params.push(Param {
            name,
            sub,
            values: values.into_iter().map(|(_, v)| v).collect(),
        });
    }
    Ok(Parsed {
        entity,
        params,
        outside,
    })
}

/// `a[]` → (a, None, None); `a[3]` → (a, None, Some(3)); `a[min]` → (a, Some(min), None).
fn split_key(key: &str) -> (String, Option<String>, Option<usize>) {
    if let (Some(open), true) = (key.find('['), key.ends_with(']')) {
        let name = key[..open].to_owned();
        let inner = &key[open + 1..key.len() - 1];
        if inner.is_empty() {
            return (name, None, None);
        }
        if let Ok(i) = inner.parse::<usize>() {
            return (name, None, Some(i));
        }
        return (name, Some(inner.to_owned()), None);
    }
    (key.to_owned(), None, None)
}

/// The URL in a canonical spelling (host, route, decoded parameters sorted), for cache keys.
pub fn normalize_url(input: &str) -> Result<String, ApiError> {
    let p = parse(input)?;
    let mut pairs: Vec<String> = p
        .params
        .iter()
        .flat_map(|param| {
            let mut values = param.values.clone();
            values.sort();
            values
                .into_iter()
                .map(move |v| format!("{}[{}]={v}", param.name, param.sub.as_deref().unwrap_or("")))
        })
        .collect();
    pairs.sort();
    Ok(format!("{:?}?{}", p.entity, pairs.join("&")))
}

/// Builds the filter object.
struct Out<'a> {
    entity: Entity,
    industries: &'a Industries,
    top: Map<String, Value>,
    all_of: Vec<Value>,
    nots: Vec<Value>,
    unmapped: Vec<Unmapped>,
    sort: Option<Value>,
    q: Option<String>,
    page: Option<u64>,
    per_page: Option<u32>,
}

impl Out<'_> {
    fn company(&self, field: &str) -> String {
        match self.entity {
            Entity::Contacts => format!("company.{field}"),
            Entity::Companies => field.to_owned(),
        }
    }

    /// `field: {op: value}`, merged into the top level unless that operator is taken.
    fn cond(&mut self, field: &str, op: &str, value: Value) {
        let ops = self
            .top
            .entry(field.to_owned())
            .or_insert_with(|| json!({}));
        match ops.as_object_mut() {
            Some(o) if !o.contains_key(op) => {
                o.insert(op.to_owned(), value);
            }
            _ => self.all_of.push(json!({ field: { op: value } })),
        }
    }

    /// At least one of `alternatives` (one needs no group).
    fn any(&mut self, mut alternatives: Vec<Value>) {
        match alternatives.len() {
            0 => {}
            1 => self.all_of.push(alternatives.remove(0)),
            _ => self.all_of.push(json!({ "any_of": alternatives })),
        }
    }

    fn skip(&mut self, p: &Param, reason: &str) {
        for v in &p.values {
            self.unmapped.push(Unmapped {
                param: display_name(p),
                value: v.clone(),
                reason: reason.to_owned(),
            });
        }
    }

    fn person_only(&mut self, p: &Param) -> bool {
        if self.entity == Entity::Companies {
            self.skip(p, "a person filter has no meaning in a company search");
            return false;
        }
        true
    }

    fn finish(mut self) -> Analysis {
        if !self.nots.is_empty() {
            self.top
                .insert("not".into(), json!({ "any_of": self.nots }));
        }
        if !self.all_of.is_empty() {
            self.top.insert("all_of".into(), Value::Array(self.all_of));
        }
        let limit = self.per_page;
        let offset = self
            .page
            .filter(|p| *p > 1)
            .map(|p| (p - 1) * u64::from(limit.unwrap_or(25)));
        Analysis {
            entity: self.entity,
            filters: Value::Object(self.top),
            sort: self.sort,
            q: self.q,
            limit,
            offset,
            unmapped: self.unmapped,
        }
    }
}

fn display_name(p: &Param) -> String {
    match &p.sub {
        Some(s) => format!("{}[{s}]", p.name),
        None => p.name.clone(),
    }
}

fn values(p: &Param) -> Vec<String> {
    p.values
        .iter()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .collect()
}

/// Analyse an Apollo.io search URL.
pub fn analyze(input: &str, industries: &Industries) -> Result<Analysis, ApiError> {
    let parsed = parse(input)?;
    let mut out = Out {
        entity: parsed.entity,
        industries,
        top: Map::new(),
        all_of: Vec::new(),
        nots: Vec::new(),
        unmapped: Vec::new(),
        sort: None,
        q: None,
        page: None,
        per_page: None,
    };
    for (k, v) in parsed.outside {
        out.unmapped.push(Unmapped {
            param: k,
            value: v,
            reason: "outside the search route (before `#`)".into(),
        });
    }
    let mut sort_dir_asc = None;
    let mut sort_field = None;
    for p in &parsed.params {
        map_param(&mut out, p, &mut sort_field, &mut sort_dir_asc);
    }
    if let Some((param, field)) = sort_field {
        match sort_for(out.entity, &field) {
            Ok(keys) => {
                let dir = if sort_dir_asc == Some(true) {
                    "asc"
                } else {
                    "desc"
                };
                out.sort = Some(Value::Array(
                    keys.iter()
                        .map(|f| json!({"field": f, "dir": dir}))
                        .collect(),
                ));
            }
            Err(reason) => out.unmapped.push(Unmapped {
                param,
                value: field,
                reason: reason.into(),
            }),
        }
    }
    Ok(out.finish())
}

fn map_param(
    out: &mut Out<'_>,
    p: &Param,
    sort_field: &mut Option<(String, String)>,
    sort_asc: &mut Option<bool>,
) {
    let vals = values(p);
    if vals.is_empty() && p.sub.is_none() {
        return;
    }
    match p.name.as_str() {
        "personTitles" if out.person_only(p) => {
            let alts = vals
                .iter()
                .map(|t| json!({"title": {"contains": t}}))
                .collect();
            out.any(alts);
        }
        "personNotTitles" if out.person_only(p) => {
            out.nots
                .extend(vals.iter().map(|t| json!({"title": {"contains": t}})));
        }
        "personSeniorities" if out.person_only(p) => {
            let v: Vec<String> = vals.iter().map(|s| s.to_lowercase()).collect();
            out.cond("seniority", "in", json!(v));
        }
        "personDepartmentOrSubdepartments" if out.person_only(p) => {
            let mut names = Vec::new();
            for v in &vals {
                match department(v) {
                    Some(d) => names.push(d),
                    None => out.unmapped.push(Unmapped {
                        param: display_name(p),
                        value: v.clone(),
                        reason: "unknown Apollo department".into(),
                    }),
                }
            }
            if !names.is_empty() {
                out.cond("departments", "any", json!(names));
            }
        }
        "personLocations" if out.person_only(p) => {
            let alts = vals
                .iter()
                .flat_map(|l| location("contact_meta", l))
                .collect();
            out.any(alts);
        }
        "personNotLocations" if out.person_only(p) => {
            let alts: Vec<Value> = vals
                .iter()
                .flat_map(|l| location("contact_meta", l))
                .collect();
            out.nots.extend(alts);
        }
        "contactEmailStatusV2" | "contactEmailStatus" if out.person_only(p) => {
            let v: Vec<String> = vals.iter().map(|s| s.to_lowercase()).collect();
            out.cond("email_status", "in", json!(v));
        }
        "organizationLocations" => {
            let alts = vals
                .iter()
                .flat_map(|l| location("company_meta", l))
                .collect();
            out.any(alts);
        }
        "organizationNotLocations" => {
            let alts: Vec<Value> = vals
                .iter()
                .flat_map(|l| location("company_meta", l))
                .collect();
            out.nots.extend(alts);
        }
        "organizationNumEmployeesRanges" => {
            let field = out.company("employees_count");
            let mut alts = Vec::new();
            for v in &vals {
                match range(v) {
                    Some(ops) => alts.push(json!({ field.clone(): ops })),
                    None => out.unmapped.push(Unmapped {
                        param: display_name(p),
                        value: v.clone(),
                        reason: "expected a range like \"11,50\" or \"10001,\"".into(),
                    }),
                }
            }
            out.any(alts);
        }
        "organizationIndustryTagIds" | "organizationNotIndustryTagIds" => {
            let mut names = Vec::new();
            for v in &vals {
                match out.industries.name(v) {
                    Some(n) => names.push(n.to_owned()),
                    None => out.unmapped.push(Unmapped {
                        param: display_name(p),
                        value: v.clone(),
                        reason: "unknown industry tag id; add it to the industries CSV \
                                 (normalize.industries_csv)"
                            .into(),
                    }),
                }
            }
            if !names.is_empty() {
                let op = if p.name.contains("Not") {
                    "none"
                } else {
                    "any"
                };
                let field = out.company("industries");
                out.cond(&field, op, json!(names));
            }
        }
        "qOrganizationKeywordTags" | "qNotOrganizationKeywordTags" => {
            let v: Vec<String> = vals.iter().map(|s| s.to_lowercase()).collect();
            let op = if p.name.contains("Not") {
                "none"
            } else {
                "any"
            };
            let field = out.company("keywords");
            out.cond(&field, op, json!(v));
        }
        "qOrganizationName" => {
            let field = out.company("name");
            out.cond(&field, "contains", json!(vals.join(" ")));
        }
        "currentlyUsingAnyOfTechnologyUids" | "currentlyNotUsingAnyOfTechnologyUids" => {
            // Stored technology names are compared exactly: match the uid and its title case.
            let mut names: Vec<String> = vals
                .iter()
                .flat_map(|u| [u.clone(), tech_name(u)])
                .collect();
            names.dedup();
            let op = if p.name.contains("Not") {
                "none"
            } else {
                "any"
            };
            let field = out.company("technologies");
            out.cond(&field, op, json!(names));
        }
        "currentlyUsingAllOfTechnologyUids" => {
            let names: Vec<String> = vals.iter().map(|u| tech_name(u)).collect();
            let field = out.company("technologies");
            out.cond(&field, "all", json!(names));
        }
        "revenueRange" | "organizationRevenueRange" => {
            let op = match p.sub.as_deref() {
                Some("min") => "gte",
                Some("max") => "lte",
                _ => return out.skip(p, "expected revenueRange[min] or revenueRange[max]"),
            };
            match vals
                .first()
                .and_then(|v| v.replace([',', '_'], "").parse::<i64>().ok())
            {
                Some(n) => {
                    let field = out.company("annual_revenue");
                    out.cond(&field, op, json!(n));
                }
                None => out.skip(p, "expected a whole number of dollars"),
            }
        }
        "qKeywords" => out.q = Some(vals.join(" ")),
        "sortByField" => {
            *sort_field = vals.first().map(|v| (display_name(p), v.clone()));
        }
        "sortAscending" => *sort_asc = vals.first().map(|v| v == "true"),
        "page" => match vals.first().and_then(|v| v.parse::<u64>().ok()) {
            Some(n) if n >= 1 => out.page = Some(n),
            _ => out.skip(p, "expected a page number from 1"),
        },
        "per_page" | "perPage" => match vals.first().and_then(|v| v.parse::<u32>().ok()) {
            Some(n) if n >= 1 => out.per_page = Some(n),
            _ => out.skip(p, "expected a page size from 1"),
        },
        "personTitles"
        | "personNotTitles"
        | "personSeniorities"
        | "personDepartmentOrSubdepartments"
        | "personLocations"
        | "personNotLocations"
        | "contactEmailStatusV2"
        | "contactEmailStatus" => {} // reported by person_only
        "finderViewId"
        | "finderTableLayoutId"
        | "uniqueUrlId"
        | "tour"
        | "sequenceId"
        | "prospectedByCurrentTeam"
        | "contactLabelIds"
        | "notContactLabelIds"
        | "organizationLabelIds"
        | "includedOrganizationKeywordFields"
        | "qOrganizationSearchListId"
        | "qNotOrganizationSearchListId"
        | "savedSearchId"
        | "recommendationConfigId"
        | "searchSignalIds" => out.skip(p, "Apollo view or account state, not a filter"),
        "includeSimilarTitles" => out.skip(
            p,
            "no similar-title expansion; titles match as case-insensitive substrings",
        ),
        _ => out.skip(p, "no Rolodex equivalent"),
    }
}

/// "11,50" → {gte: 11, lte: 50}; "10001," → {gte: 10001}.
fn range(v: &str) -> Option<Value> {
    let (lo, hi) = v.split_once(',')?;
    let num = |s: &str| -> Option<Option<i64>> {
        let s = s.trim();
        if s.is_empty() {
            Some(None)
        } else {
            s.parse().ok().map(Some)
        }
    };
    let (lo, hi) = (num(lo)?, num(hi)?);
    let mut ops = Map::new();
    if let Some(l) = lo {
        ops.insert("gte".into(), json!(l));
    }
    if let Some(h) = hi {
        ops.insert("lte".into(), json!(h));
    }
    (!ops.is_empty()).then_some(Value::Object(ops))
}

fn country(s: &str) -> String {
    match s.trim().to_lowercase().as_str() {
        "us" | "usa" | "u.s." | "united states of america" => "united states".into(),
        "uk" | "u.k." | "great britain" => "united kingdom".into(),
        "uae" => "united arab emirates".into(),
        other => other.to_owned(),
    }
}

/// "Germany" → country, state or city; "Berlin, Germany" / "California, US" → (city or state)
/// and country. The alternatives are OR'ed with the other locations.
fn location(prefix: &str, loc: &str) -> Vec<Value> {
    let parts: Vec<&str> = loc
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    let f = |col: &str| format!("{prefix}.{col}");
    match parts.as_slice() {
        [] => Vec::new(),
        [one] => vec![
            json!({ f("country"): {"eq": country(one)} }),
            json!({ f("state"): {"eq": one.to_lowercase()} }),
            json!({ f("city"): {"eq": one.to_lowercase()} }),
        ],
        [first, .., last] => {
            let c = country(last);
            vec![
                json!({ f("city"): {"eq": first.to_lowercase()}, f("country"): {"eq": c.clone()} }),
                json!({ f("state"): {"eq": first.to_lowercase()}, f("country"): {"eq": c} }),
            ]
        }
    }
}

fn department(v: &str) -> Option<&'static str> {
    Some(match v.trim().trim_start_matches("master_") {
        "engineering_technical" | "engineering" => "Engineering",
        "sales" => "Sales",
        "marketing" => "Marketing",
        "finance" => "Finance",
        "human_resources" => "Human Resources",
        "operations" => "Operations",
        "information_technology" => "Information Technology",
        "legal" => "Legal",
        "product_management" => "Product Management",
        "support" => "Support",
        "design" => "Design",
        "education" => "Education",
        "consulting" => "Consulting",
        "data_science" => "Data Science",
        "medical_health" => "Medical & Health",
        "c_suite" => "C-Suite",
        "business_development" => "Business Development",
        _ => return None,
    })
}

/// `google_analytics` → `Google Analytics`.
fn tech_name(uid: &str) -> String {
    uid.split(['_', ' '])
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn sort_for(entity: Entity, field: &str) -> Result<Vec<&'static str>, &'static str> {
    let company = |f: &'static str, c: &'static str| match entity {
        Entity::Contacts => c,
        Entity::Companies => f,
    };
    Ok(match field.trim() {
        "person_name" | "person_name.raw" if entity == Entity::Contacts => {
            vec!["first_name", "last_name"]
        }
        "person_first_name" | "person_first_name.raw" if entity == Entity::Contacts => {
            vec!["first_name"]
        }
        "person_last_name" | "person_last_name.raw" if entity == Entity::Contacts => {
            vec!["last_name"]
        }
        "organization_name" | "organization_name.raw" | "sanitized_organization_name_unanalyzed" => {
            vec![company("name", "company.name")]
        }
        "organization_estimated_number_employees" | "estimated_num_employees" => {
            vec![company("employees_count", "company.employees_count")]
        }
        "organization_revenue" | "organization_revenue_in_thousands_int" | "annual_revenue" => {
            vec![company("annual_revenue", "company.annual_revenue")]
        }
        "created_at" | "contact_created_at" | "organization_created_at" => vec!["created_at"],
        "updated_at" | "contact_updated_at" | "last_activity_date" => vec!["updated_at"],
        "recommendations_score" | "relevance" | "[none]" | "" => {
            return Err("Apollo's relevance ranking has no equivalent; the default order (newest first) applies")
        }
        _ => return Err("no sortable Rolodex field for this Apollo sort"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ind() -> Industries {
        Industries::parse(include_str!("../../../config/industries.csv")).unwrap()
    }

    fn run(url: &str) -> Analysis {
        analyze(url, &ind()).unwrap()
    }

    fn unmapped_params(a: &Analysis) -> Vec<&str> {
        a.unmapped.iter().map(|u| u.param.as_str()).collect()
    }

    #[test]
    fn people_titles_seniorities_and_keywords() {
        let a = run(
            "https://app.apollo.io/#/people?finderViewId=5b6dfc5a73f47568b2e5f11c\
                     &personTitles[]=ceo&personTitles[]=VP%20Sales&personNotTitles[]=intern\
                     &personSeniorities[]=director&personSeniorities[]=vp&qKeywords=rust+berlin\
                     &contactEmailStatusV2[]=verified&page=3&per_page=50",
        );
        assert_eq!(a.entity, Entity::Contacts);
        assert_eq!(a.q.as_deref(), Some("rust berlin"));
        assert_eq!(a.filters["seniority"], json!({"in": ["director", "vp"]}));
        assert_eq!(a.filters["email_status"], json!({"in": ["verified"]}));
        assert_eq!(
            a.filters["all_of"][0],
            json!({"any_of": [{"title": {"contains": "ceo"}}, {"title": {"contains": "VP Sales"}}]})
        );
        assert_eq!(
            a.filters["not"],
            json!({"any_of": [{"title": {"contains": "intern"}}]})
        );
        assert_eq!((a.limit, a.offset), (Some(50), Some(100)));
        assert_eq!(unmapped_params(&a), ["finderViewId"]);
    }

    #[test]
    fn company_ranges_industries_revenue_technologies_and_sort() {
        let id = "dc37eff7c84c04839f345caf";
        let a = run(&format!(
            "https://app.apollo.io/#/companies?organizationNumEmployeesRanges[0]=11%2C50\
             &organizationNumEmployeesRanges[1]=10001%2C&organizationIndustryTagIds[]={id}\
             &organizationIndustryTagIds[]=ffffffffffffffffffffffff&revenueRange[min]=1000000\
             &revenueRange[max]=50000000&currentlyUsingAnyOfTechnologyUids[]=google_analytics\
             &qOrganizationKeywordTags[]=SaaS&sortByField=organization_estimated_number_employees\
             &sortAscending=true&organizationLocations[]=Berlin%2C+Germany"
        ));
        assert_eq!(a.entity, Entity::Companies);
        let f = &a.filters;
        assert_eq!(
            f["all_of"][0],
            json!({"any_of": [{"employees_count": {"gte": 11, "lte": 50}},
                              {"employees_count": {"gte": 10001}}]})
        );
        assert_eq!(f["industries"], json!({"any": ["Computer Software"]}));
        assert_eq!(
            f["annual_revenue"],
            json!({"gte": 1000000, "lte": 50000000})
        );
        assert_eq!(
            f["technologies"],
            json!({"any": ["google_analytics", "Google Analytics"]})
        );
        assert_eq!(f["keywords"], json!({"any": ["saas"]}));
        assert_eq!(
            f["all_of"][1]["any_of"][0],
            json!({"company_meta.city": {"eq": "berlin"}, "company_meta.country": {"eq": "germany"}})
        );
        assert_eq!(
            a.sort,
            Some(json!([{"field": "employees_count", "dir": "asc"}]))
        );
        assert_eq!(a.unmapped.len(), 1);
        assert!(a.unmapped[0].reason.contains("industry tag"));
    }

    #[test]
    fn indexed_and_bracket_forms_and_organizations_route_agree() {
        let a = run(
            "https://app.apollo.io/#/organizations?organizationNumEmployeesRanges%5B%5D=1%2C10",
        );
        let b = run("https://app.apollo.io/#/companies?organizationNumEmployeesRanges[0]=1,10");
        assert_eq!(a.filters, b.filters);
        assert_eq!(
            normalize_url("https://app.apollo.io/#/people?personTitles[1]=b&personTitles[0]=a")
                .unwrap(),
            normalize_url("https://APP.apollo.io/#/people?personTitles[]=a&personTitles[]=b")
                .unwrap()
        );
    }

    #[test]
    fn person_filters_on_a_company_search_and_unknown_params_are_reported() {
        let a = run("https://app.apollo.io/#/companies?personTitles[]=cto&fooBar=1&sortByField=recommendations_score");
        assert_eq!(a.filters, json!({}));
        let params = unmapped_params(&a);
        assert_eq!(params, ["personTitles", "fooBar", "sortByField"]);
    }

    #[test]
    fn locations_map_to_metadata_with_country_aliases() {
        let a = run("https://app.apollo.io/#/people?personLocations[]=California%2C+US&personNotLocations[]=France");
        assert_eq!(
            a.filters["all_of"][0]["any_of"][1],
            json!({"contact_meta.state": {"eq": "california"}, "contact_meta.country": {"eq": "united states"}})
        );
        assert_eq!(
            a.filters["not"]["any_of"][0],
            json!({"contact_meta.country": {"eq": "france"}})
        );
    }

    #[test]
    fn malformed_and_foreign_urls_are_refused_with_their_own_codes() {
        let e = |u: &str| analyze(u, &ind()).unwrap_err().code();
        assert_eq!(e("not a url"), "invalid_value");
        assert_eq!(
            e("https://example.com/#/people?personTitles[]=x"),
            "not_apollo_url"
        );
        assert_eq!(e("https://app.apollo.io/#/sequences?x=1"), "not_apollo_url");
        assert_eq!(e("ftp://app.apollo.io/#/people"), "not_apollo_url");
        assert_eq!(e("https://apollo.io.evil.com/#/people"), "not_apollo_url");
    }
}
