//! The invariants of ARCHITECTURE.md, checked on the sources: which layer may name which.
//! Stated as absences, so a new file that breaks one fails here with its path and line.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out.sort();
    out
}

fn crate_src(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(name)
        .join("src")
}

/// Every line of `files` that contains one of `needles`, as `path:line: text`.
fn lines_with(files: &[PathBuf], needles: &[&str]) -> Vec<String> {
    let mut hits = vec![];
    for f in files {
        let text = std::fs::read_to_string(f).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            if needles.iter().any(|x| line.contains(x)) {
                hits.push(format!("{}:{}: {}", f.display(), n + 1, line.trim()));
            }
        }
    }
    hits
}

fn app_files(sub: &str) -> Vec<PathBuf> {
    let src = crate_src("shangji");
    let mut files = rust_files(&src.join(sub));
    let root = src.join(format!("{sub}.rs"));
    if root.exists() {
        files.push(root);
    }
    files
}

#[test]
fn ops_never_names_pages_api_or_auth() {
    let hits = lines_with(
        &app_files("ops"),
        &["crate::pages", "crate::api", "crate::auth", "crate::state"],
    );
    assert!(hits.is_empty(), "ops reaches up:\n{}", hits.join("\n"));
}

#[test]
fn pages_and_api_do_not_name_each_other() {
    let hits = lines_with(&app_files("pages"), &["crate::api"]);
    assert!(
        hits.is_empty(),
        "pages reach into api:\n{}",
        hits.join("\n")
    );
    let hits = lines_with(&app_files("api"), &["crate::pages"]);
    assert!(
        hits.is_empty(),
        "api reaches into pages:\n{}",
        hits.join("\n")
    );
}

/// The API is routed only through its route tables (`routes!` of handlers carrying
/// `#[utoipa::path]`), so that the OpenAPI document, built from the same tables, lists every
/// route the router serves.
#[test]
fn api_routes_are_declared_only_in_the_documented_tables() {
    let hits = lines_with(
        &app_files("api"),
        &[
            ".route(",
            ".route_service(",
            ".nest(",
            ".nest_service(",
            "routing::",
        ],
    );
    assert!(
        hits.is_empty(),
        "routes outside the documented tables:\n{}",
        hits.join("\n")
    );
}

#[test]
fn the_wording_of_notifications_depends_on_no_layer_above_it() {
    let files = vec![
        crate_src("shangji").join("notices.rs"),
        crate_src("shangji").join("i18n.rs"),
    ];
    let hits = lines_with(&files, &["crate::ops", "crate::pages", "crate::api"]);
    assert!(hits.is_empty(), "{}", hits.join("\n"));
}

#[test]
fn core_has_no_io_and_no_clock() {
    let files = rust_files(&crate_src("shangji-core"));
    let hits = lines_with(
        &files,
        &[
            "now_utc",
            "SystemTime",
            "Instant::now",
            "std::fs",
            "TcpStream",
            "UdpSocket",
            "ToSocketAddrs",
            "std::env",
            "tokio",
            "sqlx",
            "reqwest",
            "shangji_store",
        ],
    );
    assert!(
        hits.is_empty(),
        "core does I/O or reads the clock:\n{}",
        hits.join("\n")
    );
}

#[test]
fn every_sql_string_lives_in_the_store() {
    let mut files = rust_files(&crate_src("shangji"));
    files.extend(rust_files(&crate_src("shangji-core")));
    let hits = lines_with(
        &files,
        &[
            "\"SELECT ",
            "\"INSERT INTO",
            "\"UPDATE ",
            "\"DELETE FROM",
            "sqlx::query",
        ],
    );
    assert!(
        hits.is_empty(),
        "SQL outside the store:\n{}",
        hits.join("\n")
    );
}

#[test]
fn the_store_never_names_the_app() {
    let hits = lines_with(&rust_files(&crate_src("shangji-store")), &["shangji::"]);
    assert!(hits.is_empty(), "{}", hits.join("\n"));
}

/// The longest a source file of the app may be; past it, a module becomes a directory of
/// its parts.
const MAX_FILE_LINES: usize = 1_200;

#[test]
fn no_app_file_is_over_the_line_limit() {
    let src = crate_src("shangji");
    let long: Vec<String> = rust_files(&src)
        .into_iter()
        .filter_map(|f| {
            let lines = std::fs::read_to_string(&f).unwrap().lines().count();
            (lines > MAX_FILE_LINES).then(|| format!("{}: {lines} lines", f.display()))
        })
        .collect();
    assert!(
        long.is_empty(),
        "over {MAX_FILE_LINES} lines (split by sub-capability):\n{}",
        long.join("\n")
    );
}
