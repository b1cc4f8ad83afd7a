//! Export, backup and restore: the archive holds every table; a demo company goes SQLite →
//! SQLite, SQLite → PostgreSQL and PostgreSQL → SQLite with every table's count and checksum
//! unchanged and its history and custom values intact; restore refuses altered, newer,
//! garbage archives and non-empty databases; the daily backup keeps days and weeks and
//! records a failed verification; admins alone see, take and download backups.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use axum::http::StatusCode;
use serde_json::json;
use shangji::ops::{self, backups, Ctx};
use shangji_core::model::Opportunity;
use shangji_store::archive::{self, ArchiveError};
use shangji_store::Db;
use time::Duration;

use crate::common::browser::browser;
use crate::common::{now, shared_test_db, TestApp};

/// A new, empty folder under the build's temporary folder.
fn temp_dir(what: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "backups-{what}-{}-{}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn sqlite() -> Db {
    Db::connect_and_migrate("sqlite::memory:").await.unwrap()
}

/// A fresh PostgreSQL schema when the tests run against PostgreSQL.
async fn postgres() -> Option<Db> {
    match std::env::var("SHANGJI_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(shared_test_db().await.0),
        _ => None,
    }
}

async fn admin_ctx(db: &Db) -> Ctx {
    let (admin, _) = db.user_by_login("admin").await.unwrap().unwrap();
    Ctx::for_cli(db, &admin, now()).await.unwrap()
}

/// The demo company (400 deals) with a custom field on opportunities whose value is set on
/// deal 1.
async fn demo_company(db: &Db) {
    shangji::demo::load(db, 400, now()).await.unwrap();
    let ctx = admin_ctx(db).await;
    let input = serde_json::from_value(json!({
        "record_kind": "opportunity", "key": "budget_code",
        "label_zh": "预算编号", "label_en": "Budget code", "field_type": "text"
    }))
    .unwrap();
    ops::create_custom_field(db, &ctx, input).await.unwrap();
    let ctx = admin_ctx(db).await;
    let opp = ops::get::<Opportunity>(db, &ctx, 1).await.unwrap();
    let input = serde_json::from_value(json!({
        "version": opp.version, "custom": {"budget_code": "预算-2024/7 \"A\""}
    }))
    .unwrap();
    ops::update_opportunity(db, &ctx, 1, input).await.unwrap();
}

/// `from` archived into `file` and restored into `into`: every table's count and checksum
/// the same on both sides, deal 1's history and custom value there.
async fn round_trip(from: &Db, into: &Db, file: &Path) {
    let manifest = backups::export(from, file, None, now()).await.unwrap();
    assert_eq!(manifest.dialect, from.dialect());
    let restored = backups::restore(into, file).await.unwrap();
    assert_eq!(restored.manifest, manifest);
    // The audit log is the one table that moves: the export is written down in `from` and
    // the restore in `into`, each after the archive's tables were read or loaded.
    let audit = |sums: &[shangji_store::archive::TableSum]| {
        sums.iter().find(|t| t.name == "audit_log").unwrap().rows
    };
    let logged = audit(&manifest.tables);
    let without_log = |mut sums: Vec<shangji_store::archive::TableSum>| {
        sums.retain(|t| t.name != "audit_log");
        sums
    };
    let (a, b) = (
        from.table_sums().await.unwrap(),
        into.table_sums().await.unwrap(),
    );
    assert_eq!((audit(&a), audit(&b)), (logged + 1, logged + 1));
    let (a, b) = (without_log(a), without_log(b));
    assert_eq!(a, b, "{} → {}", from.dialect(), into.dialect());
    assert_eq!(a, without_log(manifest.tables.clone()));
    let count = |name: &str| a.iter().find(|t| t.name == name).unwrap().rows;
    assert!(count("opportunity_events") > 400 && count("custom_values") >= 1);

    let (ctx_from, ctx_into) = (admin_ctx(from).await, admin_ctx(into).await);
    let history = ops::opportunity_events(into, &ctx_into, 1).await.unwrap();
    assert!(history.len() >= 2, "deal 1 has its stage history");
    assert_eq!(
        history,
        ops::opportunity_events(from, &ctx_from, 1).await.unwrap()
    );
    let opp = ops::get::<Opportunity>(into, &ctx_into, 1).await.unwrap();
    assert_eq!(
        serde_json::to_value(&opp.custom).unwrap()["budget_code"],
        json!("预算-2024/7 \"A\"")
    );
    // New records get new ids after the restored ones.
    let before = into.count("accounts").await.unwrap();
    let input =
        serde_json::from_value(json!({"name": "还原后新建有限公司", "allow_duplicate": true}))
            .unwrap();
    let created = ops::create::<shangji_core::model::Account>(into, &ctx_into, input, None)
        .await
        .unwrap();
    assert!(
        created.record.id > before,
        "{} after {before}",
        created.record.id
    );
}

#[tokio::test]
async fn an_archive_holds_every_table_the_migrations_create() {
    let db = sqlite().await;
    shangji::demo::install_defaults(&db, now()).await.unwrap();
    let file = temp_dir("tables").join("a.zip");
    let manifest = backups::export(&db, &file, None, now()).await.unwrap();
    let archived: BTreeSet<&str> = manifest.tables.iter().map(|t| t.name.as_str()).collect();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shangji-store/migrations");
    let mut created = BTreeSet::new();
    for dialect in ["sqlite", "postgres"] {
        for entry in std::fs::read_dir(root.join(dialect)).unwrap() {
            let sql = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            for part in sql.split("CREATE TABLE ").skip(1) {
                let name: String = part
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                created.insert(name);
            }
        }
    }
    assert!(created.len() > 40, "{created:?}");
    for name in &created {
        assert!(
            archived.contains(name.as_str()),
            "table {name} is not archived"
        );
    }
    assert!(!archived.contains("_sqlx_migrations"));
    assert_eq!(manifest.schema_version, archive::latest_schema_version());
    let newest = std::fs::read_dir(root.join("sqlite"))
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            name.split('_').next()?.parse::<i64>().ok()
        })
        .max()
        .unwrap();
    assert_eq!(manifest.schema_version, newest);
    assert_eq!(manifest.app_version, env!("CARGO_PKG_VERSION"));
    assert_eq!(archive::check_archive(&file).await.unwrap(), manifest);
}

#[tokio::test]
async fn sqlite_to_sqlite_keeps_every_table() {
    let from = sqlite().await;
    demo_company(&from).await;
    let into = Db::connect("sqlite::memory:").await.unwrap();
    round_trip(&from, &into, &temp_dir("s2s").join("a.zip")).await;
}

/// The indexes and triggers of a SQLite database, as its schema holds them.
async fn sqlite_schema(db: &Db) -> Vec<(String, String, Option<String>)> {
    let shangji_store::db::Pool::Sqlite(p) = db.pool() else {
        panic!("a SQLite database");
    };
    sqlx::query_as(
        "SELECT type, name, sql FROM sqlite_master WHERE type IN ('index', 'trigger') ORDER BY type, name",
    )
    .fetch_all(p)
    .await
    .unwrap()
}

/// A SQLite file is read on two connections in one snapshot, their tables joined into one
/// archive; restored into another file, whose load sets indexes and triggers aside and puts
/// them back.
#[tokio::test]
async fn a_sqlite_file_to_a_sqlite_file_keeps_every_table() {
    let dir = temp_dir("f2f");
    let url = |name: &str| format!("sqlite://{}", dir.join(name).display());
    let from = Db::connect_and_migrate(&url("from.db")).await.unwrap();
    demo_company(&from).await;
    let into = Db::connect(&url("into.db")).await.unwrap();
    round_trip(&from, &into, &dir.join("a.zip")).await;
    let schema = sqlite_schema(&from).await;
    assert!(schema.iter().any(|(kind, ..)| kind == "trigger"));
    assert_eq!(sqlite_schema(&into).await, schema);
    // The file is a plain zip: every table once, the manifest last.
    let mut zip = zip::ZipArchive::new(std::fs::File::open(dir.join("a.zip")).unwrap()).unwrap();
    let names: Vec<String> = zip.file_names().map(String::from).collect();
    let unique: BTreeSet<&String> = names.iter().collect();
    assert_eq!(unique.len(), names.len());
    let manifest = archive::read_manifest(&dir.join("a.zip")).unwrap();
    assert_eq!(names.len(), manifest.tables.len() + 1);
    assert_eq!(
        zip.by_index(names.len() - 1).unwrap().name(),
        "manifest.json"
    );
}

/// The values of `column` in every row of `table` in the archive at `file`.
fn archived_column(file: &Path, table: &str, column: &str) -> Vec<serde_json::Value> {
    let manifest = archive::read_manifest(file).unwrap();
    let t = manifest.tables.iter().find(|t| t.name == table).unwrap();
    let i = t.columns.iter().position(|c| c == column).unwrap();
    let mut zip = zip::ZipArchive::new(std::fs::File::open(file).unwrap()).unwrap();
    let mut text = String::new();
    zip.by_name(&format!("tables/{table}.jsonl"))
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    text.lines()
        .map(|l| serde_json::from_str::<Vec<serde_json::Value>>(l).unwrap()[i].clone())
        .collect()
}

#[tokio::test]
async fn a_backup_taken_while_deals_are_created_reads_one_moment() {
    let dir = temp_dir("busy");
    let db = Db::connect_and_migrate(&format!("sqlite://{}", dir.join("busy.db").display()))
        .await
        .unwrap();
    demo_company(&db).await;
    let ctx = admin_ctx(&db).await;
    let account = ops::get::<Opportunity>(&db, &ctx, 1)
        .await
        .unwrap()
        .account_id;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (db, stop) = (db.clone(), stop.clone());
        tokio::spawn(async move {
            let ctx = admin_ctx(&db).await;
            let mut created = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let input = serde_json::from_value(json!({
                    "title": format!("备份时新建 {created}"), "account_id": account,
                    "amount_minor": 1_000_000
                }))
                .unwrap();
                ops::create_opportunity(&db, &ctx, input, None)
                    .await
                    .unwrap();
                created += 1;
            }
            created
        })
    };
    let mut deals = Vec::new();
    for k in 0..4 {
        let file = dir.join(format!("busy-{k}.zip"));
        backups::export(&db, &file, None, now()).await.unwrap();
        // The deals and their history are read on different connections: every deal the
        // archive holds has its `created` event there, and no event is of a deal it lacks.
        let ids: BTreeSet<i64> = archived_column(&file, "opportunities", "id")
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect();
        let kinds = archived_column(&file, "opportunity_events", "kind");
        let of = archived_column(&file, "opportunity_events", "opportunity_id");
        let created: BTreeSet<i64> = of
            .iter()
            .zip(&kinds)
            .filter(|(_, k)| k.as_str() == Some("created"))
            .map(|(o, _)| o.as_i64().unwrap())
            .collect();
        let with_events: BTreeSet<i64> = of.iter().map(|o| o.as_i64().unwrap()).collect();
        assert_eq!(created, ids, "archive {k}");
        assert!(with_events.is_subset(&ids), "archive {k}");
        deals.push(ids.len());
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let created = writer.await.unwrap();
    assert!(
        created > 0 && deals.windows(2).any(|w| w[0] < w[1]),
        "writes went on: {deals:?}"
    );
}

#[tokio::test]
async fn sqlite_to_postgres_and_back_keeps_every_table() {
    let Some(pg) = postgres().await else {
        return; // PostgreSQL runs of the suite cover it.
    };
    let dir = temp_dir("s2p");
    let from = sqlite().await;
    demo_company(&from).await;
    round_trip(&from, &pg, &dir.join("from-sqlite.zip")).await;
    let back = Db::connect("sqlite::memory:").await.unwrap();
    round_trip(&pg, &back, &dir.join("from-postgres.zip")).await;
}

#[tokio::test]
async fn postgres_to_sqlite_keeps_every_table() {
    let Some(pg) = postgres().await else {
        return;
    };
    demo_company(&pg).await;
    let into = Db::connect("sqlite::memory:").await.unwrap();
    round_trip(&pg, &into, &temp_dir("p2s").join("a.zip")).await;
}

/// A copy of the archive `from` with `change` applied to each entry's bytes.
fn rewrite(from: &Path, to: &Path, change: impl Fn(&str, Vec<u8>) -> Vec<u8>) {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(from).unwrap()).unwrap();
    let mut out = zip::ZipWriter::new(std::fs::File::create(to).unwrap());
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).unwrap();
        let name = entry.name().to_string();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        out.start_file(name.clone(), zip::write::SimpleFileOptions::default())
            .unwrap();
        out.write_all(&change(&name, bytes)).unwrap();
    }
    out.finish().unwrap();
}

fn with_manifest(from: &Path, to: &Path, edit: impl Fn(&mut serde_json::Value)) {
    rewrite(from, to, |name, bytes| {
        if name != "manifest.json" {
            return bytes;
        }
        let mut m: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        edit(&mut m);
        serde_json::to_vec(&m).unwrap()
    });
}

#[tokio::test]
async fn restore_refuses_what_it_cannot_trust() {
    let dir = temp_dir("refusals");
    let source = crate::common::test_db().await;
    shangji::demo::install_defaults(&source, now())
        .await
        .unwrap();
    let good = dir.join("good.zip");
    backups::export(&source, &good, None, now()).await.unwrap();

    // A row changed after the archive was written.
    let altered = dir.join("altered.zip");
    rewrite(&good, &altered, |name, bytes| {
        if name == "tables/pipelines.jsonl" {
            let text = String::from_utf8(bytes).unwrap();
            assert!(text.contains("B2B 标准流程"), "{text}");
            text.replacen("B2B 标准流程", "B2C 标准流程", 1)
                .into_bytes()
        } else {
            bytes
        }
    });
    let target = Db::connect("sqlite::memory:").await.unwrap();
    let e = target.restore_archive(&altered).await.unwrap_err();
    assert!(
        matches!(&e, ArchiveError::Checksum { table } if table == "pipelines"),
        "{e}"
    );
    assert!(e.to_string().contains("does not match its checksum"), "{e}");
    // A checksum changed in the manifest.
    let tampered = dir.join("tampered.zip");
    with_manifest(&good, &tampered, |m| {
        m["tables"][0]["sha256"] = json!("0".repeat(64));
    });
    assert!(matches!(
        target.restore_archive(&tampered).await.unwrap_err(),
        ArchiveError::Checksum { .. }
    ));
    // From a newer shangji.
    let newer = dir.join("newer.zip");
    with_manifest(&good, &newer, |m| {
        m["schema_version"] = json!(archive::latest_schema_version() + 1)
    });
    let e = target.restore_archive(&newer).await.unwrap_err();
    assert!(matches!(e, ArchiveError::NewerSchema { .. }), "{e}");
    assert!(e.to_string().contains("upgrade shangji"), "{e}");
    let format = dir.join("format.zip");
    with_manifest(&good, &format, |m| {
        m["format"] = json!(archive::FORMAT_VERSION + 1)
    });
    let e = target.restore_archive(&format).await.unwrap_err();
    assert!(matches!(e, ArchiveError::NewerFormat { .. }), "{e}");
    // Not an archive at all, or cut short.
    let garbage = dir.join("garbage.zip");
    std::fs::write(
        &garbage,
        b"this is not a zip file, just some text\n".repeat(50),
    )
    .unwrap();
    let e = target.restore_archive(&garbage).await.unwrap_err();
    assert!(matches!(e, ArchiveError::NotAnArchive(_)), "{e}");
    let cut = dir.join("cut.zip");
    let bytes = std::fs::read(&good).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let e = target.restore_archive(&cut).await.unwrap_err();
    assert!(matches!(e, ArchiveError::NotAnArchive(_)), "{e}");
    // Nothing of it was written: the good archive restores, once.
    target.restore_archive(&good).await.unwrap();
    let e = target.restore_archive(&good).await.unwrap_err();
    assert!(
        matches!(&e, ArchiveError::NotEmpty { rows, .. } if *rows > 0),
        "{e}"
    );
    assert!(e.to_string().contains("not empty"), "{e}");
    // The source itself is not empty either.
    assert!(matches!(
        source.restore_archive(&good).await.unwrap_err(),
        ArchiveError::NotEmpty { .. }
    ));
}

/// The archive files in a backup folder.
fn files_in(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".zip"))
        .collect()
}

#[tokio::test]
async fn the_daily_backup_keeps_the_last_days_and_weeks() {
    let app = TestApp::new().await;
    let settings = backups::Settings {
        dir: temp_dir("daily"),
        keep_daily: 3,
        keep_weekly: 2,
    };
    let start = now() - Duration::days(30);
    let mut taken = Vec::new();
    for day in 0..16 {
        app.state.clock.set(Some(start + Duration::days(day)));
        backups::daily_turn(&app.db, &settings, app.state.now()).await;
        // Once a day: a second turn that day takes none.
        app.state
            .clock
            .set(Some(start + Duration::days(day) + Duration::minutes(5)));
        backups::daily_turn(&app.db, &settings, app.state.now()).await;
        taken.push(start + Duration::days(day));
    }
    let all = app.db.backups(100).await.unwrap();
    assert_eq!(all.len(), 16);
    assert!(all
        .iter()
        .all(|b| b.status == "verified" && b.origin == "scheduled"));
    let kept: Vec<_> = all.iter().filter(|b| b.removed_at.is_none()).collect();
    assert_eq!(
        files_in(&settings.dir),
        kept.iter().map(|b| b.file.clone()).collect::<BTreeSet<_>>()
    );
    // The last three days…
    for b in &all[..3] {
        assert!(b.removed_at.is_none(), "{} kept", b.file);
    }
    // …and the newest of the week before the last backup's week.
    let week = |t: time::OffsetDateTime| shangji_core::calendar::china_date(t).iso_week();
    let last_week = week(all[0].started_at);
    let before = all
        .iter()
        .find(|b| week(b.started_at) != last_week)
        .unwrap();
    assert!(before.removed_at.is_none(), "{} kept", before.file);
    assert!((3..=5).contains(&kept.len()), "{} kept", kept.len());
    assert!(all[..].iter().rev().take(5).all(|b| b.removed_at.is_some()));
}

#[tokio::test]
async fn a_backup_that_does_not_verify_is_recorded_as_failed() {
    let app = TestApp::new().await;
    let settings = backups::Settings {
        dir: temp_dir("failed"),
        keep_daily: 1,
        keep_weekly: 0,
    };
    // The scratch folder cannot be made: a file stands where it goes.
    std::fs::write(settings.dir.join(".verify"), b"in the way").unwrap();
    let day = now() - Duration::days(2);
    let b = backups::take(&app.db, &settings, backups::Origin::Scheduled, None, day)
        .await
        .unwrap();
    assert_eq!(b.status, "failed");
    assert!(
        b.detail
            .as_deref()
            .unwrap()
            .starts_with("verification failed"),
        "{:?}",
        b.detail
    );
    assert_eq!(app.db.backups(10).await.unwrap(), vec![b.clone()]);
    // A failed backup stays until a good one replaces it.
    assert!(settings.dir.join(&b.file).exists());
    std::fs::remove_file(settings.dir.join(".verify")).unwrap();
    let good = backups::take(
        &app.db,
        &settings,
        backups::Origin::Scheduled,
        None,
        day + Duration::days(1),
    )
    .await
    .unwrap();
    assert_eq!(good.status, "verified", "{:?}", good.detail);
    assert!(!settings.dir.join(&b.file).exists());
    assert_eq!(files_in(&settings.dir), BTreeSet::from([good.file.clone()]));
}

#[tokio::test]
async fn admins_see_take_and_download_backups() {
    let mut app = TestApp::new().await;
    let dir = temp_dir("page");
    let state = app
        .state
        .clone()
        .with_backups(backups::Settings::in_dir(&dir));
    app.router = shangji::app(state);

    let rep = browser(&app, "rep_sh").await;
    assert_eq!(
        rep.get("/admin/backups").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        rep.post("/admin/backups", &[]).await.status,
        StatusCode::FORBIDDEN
    );
    let (s, _) = app.get("/api/v1/backups", "rep_sh").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = app.post("/api/v1/backups", "mgr_east", "{}").await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    let admin = browser(&app, "admin").await;
    let page = admin.get("/admin/backups").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("还没有备份"), "{}", page.body);
    let done = admin.post("/admin/backups", &[]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let location = done.location.unwrap();
    let page = admin.get(&location).await;
    assert!(page.body.contains("备份完成，已验证"), "{}", page.body);
    let list = app.db.backups(10).await.unwrap();
    assert_eq!(list.len(), 1);
    let b = &list[0];
    assert_eq!(
        (b.origin.as_str(), b.status.as_str()),
        ("manual", "verified")
    );
    assert_eq!(b.actor_id, Some(app.user_id("admin")));
    let row =
        crate::common::browser::between(&page.body, &format!("id=\"backup-{}\"", b.id), "</tr>");
    assert!(row.contains("已验证") && row.contains(&b.file), "{row}");

    let (status, content_type, bytes) = download(
        &app,
        &admin.cookie,
        &format!("/admin/backups/{}/file", b.id),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "application/zip");
    assert_eq!(bytes, std::fs::read(dir.join(&b.file)).unwrap());
    let other = rep.get(&format!("/admin/backups/{}/file", b.id)).await;
    assert!(
        [StatusCode::FORBIDDEN, StatusCode::NOT_FOUND].contains(&other.status),
        "{}",
        other.status
    );

    // The API: list, back up, download.
    let (s, made) = app.post("/api/v1/backups", "admin", "{}").await;
    assert_eq!(s, StatusCode::CREATED, "{made}");
    assert_eq!(made["status"], "verified");
    let (s, listed) = app.get("/api/v1/backups", "admin").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert_eq!(listed[0]["id"], made["id"]);
    let (s, _) = app
        .get(&format!("/api/v1/backups/{}/file", made["id"]), "rep_east")
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = app.get("/api/v1/backups/999999/file", "admin").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // What was downloaded restores.
    let copy = dir.join("downloaded.zip");
    std::fs::write(&copy, bytes).unwrap();
    let restored = archive::verify_by_restoring(&copy, &dir.join("scratch.db"))
        .await
        .unwrap();
    assert!(restored.manifest.rows() > 0);
}

/// A file downloaded with a session cookie: status, content type, bytes.
async fn download(app: &TestApp, cookie: &str, path: &str) -> (StatusCode, String, Vec<u8>) {
    use tower::ServiceExt;
    let req = axum::http::Request::get(path)
        .header(axum::http::header::COOKIE, cookie)
        .body(axum::body::Body::empty())
        .unwrap();
    let resp = app.router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let content_type = resp
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 26)
        .await
        .unwrap();
    (status, content_type, bytes.to_vec())
}
