//! `shangji bench --backup`: backup and restore of the `--opportunities` benchmark database.
//! Times writing the archive (the backup proper, read in one snapshot), verifying it (restored
//! into a scratch SQLite database and compared table by table, as the daily backup does), and
//! restoring it into a new database — a SQLite file, or the empty database `--restore-url`
//! names — with its counts and checksums compared. Prints each time, the size and the rows.

use std::time::Instant;

use anyhow::Context;
use shangji_store::Db;
use time::OffsetDateTime;

use super::open_db;
use crate::config::{sqlite_url, Config};
use crate::ops::backups;

pub async fn run(
    config: &Config,
    explicit_url: Option<&str>,
    opportunities: usize,
    restore_url: Option<&str>,
) -> anyhow::Result<()> {
    let (db, url) = open_db(config, explicit_url, &format!("bench-{opportunities}.db")).await?;
    let now = OffsetDateTime::now_utc();
    if db.count("users").await? == 0 {
        println!("generating {opportunities} opportunities with their history into {url} …");
        let t = Instant::now();
        crate::demo::load(&db, opportunities, now).await?;
        println!("generated and stored in {:.1} s", t.elapsed().as_secs_f64());
    }
    println!(
        "database: {} ({} opportunities, {} events)",
        db.dialect(),
        db.count("opportunities").await?,
        db.count("opportunity_events").await?
    );
    let dir = config.data_dir.join("bench-backup");
    std::fs::create_dir_all(&dir)?;
    let file = dir.join("bench.zip");

    let t = Instant::now();
    let manifest = db.export_archive(&file, backups::APP_VERSION, now).await?;
    let backup = t.elapsed();
    let size = std::fs::metadata(&file)?.len();
    println!(
        "backup   {:>8.2} s  {} tables, {} rows, {:.1} MB",
        backup.as_secs_f64(),
        manifest.tables.len(),
        manifest.rows(),
        size as f64 / 1e6
    );

    let t = Instant::now();
    backups::verify(&file, &dir.join(".verify")).await?;
    println!(
        "verify   {:>8.2} s  (restored into scratch SQLite and compared)",
        t.elapsed().as_secs_f64()
    );

    let target = match restore_url {
        Some(u) => u.to_string(),
        None => {
            let path = dir.join("restored.db");
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(dir.join(format!("restored.db{suffix}")));
            }
            sqlite_url(&path)
        }
    };
    let target_db = Db::connect(&target)
        .await
        .with_context(|| format!("cannot open {}", crate::config::redact_url(&target)))?;
    let t = Instant::now();
    let restored = backups::restore(&target_db, &file).await?;
    println!(
        "restore  {:>8.2} s  into {} ({} rows; counts and checksums identical)",
        t.elapsed().as_secs_f64(),
        target_db.dialect(),
        restored.manifest.rows()
    );
    target_db.close().await;
    println!("targets: backup ≤ 10 s, restore ≤ 60 s");
    Ok(())
}
