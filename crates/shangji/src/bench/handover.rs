//! `shangji bench --handover`: a rep holding `--records` records (a fifth each of accounts,
//! contacts, open deals, leads and open tasks) hands their book over to a colleague. Times
//! the preview and the handover itself — set-based moves in batches, each batch with its
//! history — and prints the counts.

use std::time::Instant;

use anyhow::{bail, Context};
use shangji_core::handover::{HandoverInput, HandoverMethod};
use shangji_core::model::*;
use shangji_core::opportunity::{self, OpportunityInput};
use shangji_core::records::{blank_account, blank_contact, blank_lead, blank_task, UserInput};
use shangji_core::{Actor, Field};
use time::OffsetDateTime;

use super::open_db;
use crate::config::Config;
use crate::ops;

async fn user(
    db: &shangji_store::Db,
    login: &str,
    role: Role,
    now: OffsetDateTime,
) -> anyhow::Result<User> {
    let input = UserInput {
        login: Field::Value(login.into()),
        display_name: Field::Value(login.into()),
        role: Field::Value(role),
        ..Default::default()
    };
    ops::create_user(db, None, input, now)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))
}

/// Fills an empty database: the leaver's book of `records` records.
async fn seed(
    db: &shangji_store::Db,
    leaver: UserId,
    records: usize,
    now: OffsetDateTime,
) -> anyhow::Result<()> {
    let n = (records / 5).max(1) as i64;
    let pipeline = db
        .pipelines()
        .await?
        .into_iter()
        .find(|p| p.is_default)
        .context("no default pipeline")?;
    let actor = Actor {
        user_id: leaver,
        role: Role::Rep,
        team_id: None,
    };
    let mut accounts = Vec::new();
    let mut contacts = Vec::new();
    let mut opps = Vec::new();
    let mut leads = Vec::new();
    let mut tasks = Vec::new();
    let close = shangji_core::calendar::china_date(now) + time::Duration::days(30);
    for i in 1..=n {
        let mut a = blank_account(leaver, now);
        a.id = i;
        a.name = format!("交接客户 {i}");
        accounts.push(a);
        let mut c = blank_contact(leaver, now);
        c.id = i;
        c.name = format!("联系人 {i}");
        c.account_id = Some(i);
        contacts.push(c);
        let input = OpportunityInput {
            title: Field::Value(format!("交接商机 {i}")),
            account_id: Field::Value(i),
            amount_minor: Field::Value(1_000_000 + i),
            close_date: Field::Value(close),
            owner_id: Field::Value(leaver),
            ..Default::default()
        };
        let (mut o, _) = opportunity::create(input, &pipeline, &actor, now)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        o.id = i;
        opps.push(o);
        let mut l = blank_lead(now);
        l.id = i;
        l.company_name = Some(format!("线索公司 {i}"));
        l.owner_id = Some(leaver);
        l.pool_since = None;
        leads.push(l);
        let mut t = blank_task(leaver, now);
        t.id = i;
        t.title = format!("回访 {i}");
        t.record_kind = Some(RecordKind::Account);
        t.record_id = Some(i);
        tasks.push(t);
    }
    db.bulk_insert(&accounts).await?;
    db.bulk_insert(&contacts).await?;
    db.bulk_insert(&opps).await?;
    db.bulk_insert(&leads).await?;
    db.bulk_insert(&tasks).await?;
    Ok(())
}

pub async fn run(
    config: &Config,
    explicit_url: Option<&str>,
    records: usize,
) -> anyhow::Result<()> {
    if explicit_url.is_none() {
        for suffix in ["", "-wal", "-shm"] {
            let _ =
                std::fs::remove_file(config.data_dir.join(format!("bench-handover.db{suffix}")));
        }
    }
    let (db, url) = open_db(config, explicit_url, "bench-handover.db").await?;
    if db.count("users").await? > 0 {
        bail!("--handover needs an empty database ({url} has data)");
    }
    let now = OffsetDateTime::now_utc();
    crate::demo::install_defaults(&db, now).await?;
    let admin = user(&db, "bench_admin", Role::Admin, now).await?;
    let leaver = user(&db, "leaver", Role::Rep, now).await?;
    let receiver = user(&db, "receiver", Role::Rep, now).await?;
    let t = Instant::now();
    seed(&db, leaver.id, records, now).await?;
    println!(
        "database: {} — seeded the leaver's book of {records} records in {:.1} s",
        db.dialect(),
        t.elapsed().as_secs_f64()
    );
    let ctx = ops::Ctx::for_cli(&db, &admin, now)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let input = HandoverInput {
        from_user_id: leaver.id,
        receivers: vec![receiver.id],
        method: HandoverMethod::One,
        deactivate: true,
        dry_run: true,
    };
    let t = Instant::now();
    let preview = ops::handover::hand_over(&db, &ctx, input.clone())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("preview  {:>8.2} s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    let done = ops::handover::hand_over(
        &db,
        &ctx,
        HandoverInput {
            dry_run: false,
            ..input
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let took = t.elapsed().as_secs_f64();
    let moved: i64 = done.counts.iter().map(|c| c.count).sum();
    let previewed: i64 = preview.counts.iter().map(|c| c.count).sum();
    println!(
        "handover {took:>8.2} s  {moved} records moved ({previewed} previewed), {:.0} records/s",
        moved as f64 / took.max(1e-9)
    );
    for c in &done.counts {
        println!("  {:<12} {}", c.kind.as_str(), c.count);
    }
    if moved != previewed {
        bail!("moved {moved} records, previewed {previewed}");
    }
    Ok(())
}
