//! The CI smoke test of `rolodex bench`: generate a small dataset into a throw-away database,
//! run `queries --quick` against it, and check that every class produced results over every
//! way and that the report files were written. No timing is asserted.

use rolodex::bench::queries::{self, QueriesOptions, Way};
use rolodex::bench::{generate, report};

use crate::harness::{test_config, PG};

#[tokio::test]
async fn bench_generates_and_measures_every_class() {
    let config = test_config("bench");
    let url = format!("{PG}/rolodex_{}", config.nats.prefix);
    let summary = generate::run(&generate::GenerateOptions {
        contacts: 20_000,
        seed: 7,
        database_url: url.clone(),
        quiet: true,
        normalize: config.normalize.clone(),
    })
    .await
    .expect("generate loads");
    assert_eq!(summary.contacts, 20_000);
    assert_eq!(summary.companies, 2_000);
    assert!(summary.indexes > 10, "{summary}");
    // Titles arrive with their canonical form, as Rolodex's writers leave them: nothing for a
    // daemon's backfill to do.
    let db = sqlx::PgPool::connect(&url)
        .await
        .expect("the bench database");
    let (titled, unnormalized): (i64, i64) = sqlx::query_as(
        "SELECT count(title), count(*) FILTER (WHERE title IS NOT NULL AND title_normalized IS NULL) \
         FROM contacts",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert!(titled > 0);
    assert_eq!(unnormalized, 0);
    let rules = rolodex_actors::normalize::load(&config.normalize)
        .unwrap()
        .1;
    let (title, normalized): (String, String) = sqlx::query_as(
        "SELECT title, title_normalized FROM contacts WHERE title IS NOT NULL LIMIT 1",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(normalized, rules.normalize(&title));
    db.close().await;

    let out = tempfile::tempdir().expect("a temp dir");
    let mut opts = QueriesOptions::new(config);
    opts.database_url = url.clone();
    opts.out_dir = out.path().to_owned();
    opts.quiet = true;
    opts.quick();
    let results = queries::run(&opts).await;
    let _ = rolodex::db::drop_database(&url).await;
    let results = results.expect("queries run");

    assert!(
        results.classes.len() >= 12,
        "{} classes",
        results.classes.len()
    );
    for class in &results.classes {
        for way in [Way::Floor, Way::MsgpackZstd, Way::Json] {
            for &n in &opts.concurrency {
                let cell = class
                    .cell(way, n)
                    .unwrap_or_else(|| panic!("{} has no {way:?} cell at {n}", class.name));
                // Results only: a loaded CI machine may time a request out, and no timing
                // (nor its consequences) is asserted here.
                assert!(cell.stats.count > 0, "{} {way:?} {n}", class.name);
            }
        }
    }
    let low = *opts.concurrency.iter().min().unwrap();
    for class in &results.classes {
        let paced = class.cell(Way::PacedFloor, low);
        assert!(
            paced.is_some_and(|c| c.stats.count > 0),
            "{} has no paced floor at {low}",
            class.name
        );
    }
    assert!(!results.transport.is_empty());
    assert_eq!(results.wire.len(), 16);
    // The daemon encodes every page in the three encodings it speaks, and only those.
    for w in &results.wire {
        let speaks = w.encoding != "json+gzip";
        assert_eq!(w.encode_us.is_some(), speaks, "{w:?}");
        assert!(w.encode_us.is_none_or(|us| us > 0.0), "{w:?}");
    }

    let markdown = report::queries_markdown(&results);
    assert!(markdown.contains("deep_cursor"), "{markdown}");
    assert!(markdown.contains("Encoding cost"), "{markdown}");
    assert!(markdown.contains("Planning cost"), "{markdown}");
    // Every class says what a server adding nothing but the wire would have scored.
    for class in &results.classes {
        let v = report::verdict(&results, class, Way::Json).expect("a verdict");
        assert!(v.bound_ratio.is_some_and(|b| b > 0.0), "{v:?}");
    }
    assert!(markdown.contains("| bound"), "{markdown}");
    // A cell gives its requests' CPU only when it used enough to tell (the quick run's cells
    // are short), and then a positive figure.
    for class in &results.classes {
        for way in [Way::Floor, Way::PacedFloor, Way::MsgpackZstd, Way::Json] {
            let cell = class.cell(way, low).unwrap();
            assert!(
                cell.cpu_us.is_none_or(|us| us > 0.0),
                "{} {way:?}",
                class.name
            );
        }
    }
    assert!(results.classes.iter().all(|c| c.plan_us > 0.0));
    // The daemon's cells carry its monitor's plan captures; the report says at what settings.
    let m = &opts.config.monitor;
    let states = format!("statements over {} ms are logged", m.slow_ms);
    assert!(markdown.contains(&states), "{markdown}");
    let written = report::write_queries(&results, out.path()).expect("report files");
    for path in &written {
        assert!(
            path.exists()
                && std::fs::metadata(path)
                    .map(|m| m.len() > 0)
                    .unwrap_or(false)
        );
    }
    assert!(written
        .iter()
        .any(|p| p.extension().is_some_and(|e| e == "svg")));
}
