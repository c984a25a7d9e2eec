//! Mechanical invariants of ARCHITECTURE.md: every source file opens with a `//!` doc comment,
//! and pure cores import no I/O crate.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable source tree") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn sources() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["src", "actors/src", "tests"] {
        rust_files(&root.join(dir), &mut files);
    }
    assert!(files.len() > 20, "found the source tree");
    files
}

#[test]
fn every_file_opens_with_a_doc_comment() {
    let missing: Vec<_> = sources()
        .into_iter()
        .filter(|p| {
            !std::fs::read_to_string(p)
                .unwrap_or_default()
                .starts_with("//!")
        })
        .collect();
    assert!(
        missing.is_empty(),
        "files without a leading //! doc comment: {missing:?}"
    );
}

#[test]
fn pure_cores_import_no_io_crate() {
    let io = ["ractor", "sqlx", "async_nats", "tokio"];
    let mut offenders = Vec::new();
    for path in sources() {
        let p = path.to_string_lossy();
        let is_core =
            p.contains("/actors/src/") && (p.ends_with("/core.rs") || p.contains("/core/"));
        if !is_core {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        for krate in io {
            if text.contains(&format!("{krate}::")) || text.contains(&format!("use {krate}")) {
                offenders.push(format!("{p} uses {krate}"));
            }
        }
    }
    assert!(offenders.is_empty(), "{offenders:?}");
}
