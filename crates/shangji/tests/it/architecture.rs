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

/// The longest a production function may be, in lines from `fn` to its closing brace.
const MAX_FN_LINES: usize = 200;

/// Functions that are tables rather than logic, exempt from [`MAX_FN_LINES`].
const LONG_TABLES: &[&str] = &[];

/// Every function and method outside tests, with its length in lines.
struct FnLengths {
    path: String,
    found: Vec<(String, usize, usize)>,
}

impl FnLengths {
    fn record(&mut self, name: String, sig: &syn::Signature, block: &syn::Block) {
        let start = sig.fn_token.span.start().line;
        let end = block.brace_token.span.close().end().line;
        self.found.push((name, start, end - start + 1));
    }
}

fn is_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        let path = a.path();
        path.is_ident("test")
            || path.segments.last().is_some_and(|s| s.ident == "test")
            || (path.is_ident("cfg") && a.parse_args::<syn::Ident>().is_ok_and(|i| i == "test"))
    })
}

impl<'ast> syn::visit::Visit<'ast> for FnLengths {
    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        if !is_test(&m.attrs) {
            syn::visit::visit_item_mod(self, m);
        }
    }
    fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
        if !is_test(&f.attrs) {
            self.record(f.sig.ident.to_string(), &f.sig, &f.block);
            syn::visit::visit_item_fn(self, f);
        }
    }
    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        if !is_test(&f.attrs) {
            self.record(f.sig.ident.to_string(), &f.sig, &f.block);
            syn::visit::visit_impl_item_fn(self, f);
        }
    }
}

#[test]
fn no_production_function_is_over_200_lines() {
    use syn::visit::Visit;
    let mut long = vec![];
    for krate in ["shangji-core", "shangji-store", "shangji"] {
        for f in rust_files(&crate_src(krate)) {
            let name = f.file_name().unwrap().to_string_lossy().to_string();
            if name == "tests.rs" || name.ends_with("_tests.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&f).unwrap();
            let file = syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            let mut v = FnLengths {
                path: f.display().to_string(),
                found: vec![],
            };
            v.visit_file(&file);
            for (fn_name, line, len) in v.found {
                if len > MAX_FN_LINES && !LONG_TABLES.contains(&fn_name.as_str()) {
                    long.push(format!("{}:{line}: fn {fn_name} is {len} lines", v.path));
                }
            }
        }
    }
    assert!(
        long.is_empty(),
        "functions over {MAX_FN_LINES} lines (split them):\n{}",
        long.join("\n")
    );
}

/// PostgreSQL ids are identity columns: a restore moves identity sequences past the restored
/// ids, and a `SERIAL` column's sequence would be left behind (the next insert collides).
#[test]
fn postgres_ids_are_identity_columns() {
    let dir = crate_src("shangji-store").join("../migrations/postgres");
    let mut serial = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for line in text.lines() {
            if line.to_uppercase().contains("SERIAL") && !line.trim_start().starts_with("--") {
                serial.push(format!("{}: {line}", path.display()));
            }
        }
    }
    assert!(
        serial.is_empty(),
        "use GENERATED BY DEFAULT AS IDENTITY: {serial:#?}"
    );
}
