//! `shangji bench --import`: an accounts file of `--accounts` rows, each with its contact
//! (company names as Chinese companies are named, so that some of them look alike), imported
//! into a demo company of 2,000 opportunities with the duplicate check on. Times reading and
//! checking the file (the preview), then the run (matched again and written), and prints the
//! counts.

use std::fmt::Write as _;
use std::time::Instant;

use anyhow::bail;
use shangji_core::import::{ImportKind, ImportOptions};
use time::OffsetDateTime;

use super::open_db;
use crate::config::Config;
use crate::ops;

/// A CSV of `rows` accounts with their contacts, the same for every run.
fn file(rows: usize) -> String {
    const CITIES: [&str; 12] = [
        "北京", "上海", "广州", "深圳", "杭州", "南京", "苏州", "成都", "武汉", "西安", "厦门",
        "宁波",
    ];
    const CHARS: [&str; 24] = [
        "华", "信", "达", "恒", "泰", "盛", "鑫", "源", "瑞", "丰", "宏", "博", "远", "安", "康",
        "新", "天", "中", "金", "汇", "通", "海", "嘉", "辰",
    ];
    const TRADES: [&str; 10] = [
        "科技",
        "机械",
        "电子",
        "化工",
        "物流",
        "软件",
        "能源",
        "新材料",
        "自动化",
        "仪器",
    ];
    let mut out = String::from("客户名称,所属行业,负责人,联系人,手机号,邮箱,地址\n");
    let mut x: u64 = 7;
    let mut pick = |n: usize| {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (x >> 33) as usize % n
    };
    for i in 1..=rows {
        let name = format!(
            "{}{}{}{}{}有限公司",
            CITIES[pick(CITIES.len())],
            CHARS[pick(CHARS.len())],
            CHARS[pick(CHARS.len())],
            CHARS[pick(CHARS.len())],
            TRADES[pick(TRADES.len())]
        );
        let trade = TRADES[pick(TRADES.len())];
        let _ = writeln!(
            out,
            "{name},{trade},rep.east1,联系人{i},13{}{i:08},c{i}@example.com,第{i}号",
            i % 10
        );
    }
    out
}

pub async fn run(config: &Config, explicit_url: Option<&str>, rows: usize) -> anyhow::Result<()> {
    if explicit_url.is_none() {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(config.data_dir.join(format!("bench-import.db{suffix}")));
        }
    }
    let (db, url) = open_db(config, explicit_url, "bench-import.db").await?;
    if db.count("users").await? > 0 {
        bail!("--import needs an empty database ({url} has data)");
    }
    let now = OffsetDateTime::now_utc();
    crate::demo::load(&db, 2000, now).await?;
    let admin = db
        .user_by_login("admin")
        .await?
        .map(|(u, _)| u)
        .ok_or_else(|| anyhow::anyhow!("the demo company has no admin"))?;
    let ctx = ops::Ctx::for_cli(&db, &admin, now)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let text = file(rows);
    println!(
        "importing {rows} accounts with their contacts ({:.1} MB) into {url} ({} accounts, {} contacts stored)",
        text.len() as f64 / 1e6,
        db.count("accounts").await?,
        db.count("contacts").await?
    );
    let fail = |e: crate::error::AppError| anyhow::anyhow!("{e}");
    let t = Instant::now();
    let batch = ops::import::upload(
        &db,
        &ctx,
        ImportKind::Accounts,
        "bench.csv",
        text.as_bytes(),
    )
    .await
    .map_err(fail)?;
    let preview = ops::import::preview(&db, &ctx, batch.id, None, Some(ImportOptions::default()))
        .await
        .map_err(fail)?;
    let previewed = t.elapsed().as_secs_f64();
    println!(
        "preview (read, checked, matched): {previewed:.1} s — {} to create, {} duplicates, {} with problems",
        preview.summary.created, preview.duplicates, preview.summary.failed
    );
    let t = Instant::now();
    ops::import::start(&db, &ctx, batch.id)
        .await
        .map_err(fail)?;
    let done = ops::import::run(&db, &ctx, batch.id, &|_, _| {})
        .await
        .map_err(fail)?;
    let ran = t.elapsed().as_secs_f64();
    let s = &done.summary;
    println!(
        "run (checked, matched, written): {ran:.1} s — {} created, {} skipped; {:.0} rows/s",
        s.created,
        s.skipped,
        rows as f64 / ran
    );
    if let Some(e) = done.error {
        bail!("the import failed: {e}");
    }
    Ok(())
}
