//! `shangji bench --duplicates`: the duplicate check as a rep entering a customer meets it,
//! over a generated company of N accounts and 2·N contacts (names of Chinese companies with
//! regions and legal forms, valid credit codes, mobiles and emails). Prints p50 / p95 / p99 of
//! each kind of check, run one after another.

use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use shangji_core::model::*;
use shangji_core::records::{blank_account, blank_contact};
use time::OffsetDateTime;

use super::percentile;
use crate::config::Config;
use crate::ops::duplicates::{self, DuplicateQuery};
use crate::ops::Ctx;

const REGIONS: &[&str] = &[
    "北京", "上海", "广州", "深圳", "杭州", "苏州", "南京", "成都", "武汉", "西安", "天津", "重庆",
    "宁波", "青岛", "厦门",
];
const SYLLABLES: &[&str] = &[
    "华", "明", "川", "恒", "远", "新", "达", "盛", "通", "宏", "泰", "中", "兴", "嘉", "瑞", "安",
    "信", "和", "德", "鑫", "海", "天", "金", "永", "福", "昌", "博", "科", "创", "联",
];
const TRADES: &[&str] = &[
    "机械",
    "科技",
    "电子",
    "精密制造",
    "物流",
    "医疗器械",
    "新材料",
    "软件",
    "化工",
    "贸易",
    "建设",
    "汽车零部件",
    "环保",
    "食品",
    "纺织",
];
const FORMS: &[&str] = &["有限公司", "股份有限公司", "有限责任公司", "集团有限公司"];

/// A valid credit code for `n`.
fn credit_code(n: usize) -> String {
    let base = format!("91{:06}{:09}", 110000 + n % 600_000, n);
    let check = shangji_core::credit_code::check_char(base.as_bytes()).expect("17 characters");
    format!("{base}{check}")
}

fn mobile(n: usize) -> String {
    format!("13{:09}", n)
}

/// The `n`th company's region, trade name (three syllables) and trade.
fn company(n: usize) -> (&'static str, String, &'static str, &'static str) {
    let s = SYLLABLES.len();
    let name = format!(
        "{}{}{}",
        SYLLABLES[n % s],
        SYLLABLES[(n / s) % s],
        SYLLABLES[(n / s / s) % s]
    );
    (
        REGIONS[(n / s / s / s) % REGIONS.len()],
        name,
        TRADES[(n / 7) % TRADES.len()],
        FORMS[n % FORMS.len()],
    )
}

async fn generate(
    db: &shangji_store::Db,
    accounts: usize,
    now: OffsetDateTime,
) -> anyhow::Result<()> {
    let owner = db.users().await?.first().map_or(1, |u| u.id);
    let mut batch = Vec::with_capacity(10_000);
    for n in 0..accounts {
        let (region, name, trade, form) = company(n);
        let mut a = blank_account(owner, now);
        a.id = n as i64 + 1;
        a.name = format!("{region}{name}{trade}{form}");
        a.credit_code = Some(credit_code(n));
        a.version = 1;
        batch.push(a);
        if batch.len() == 10_000 {
            db.bulk_insert(&batch).await?;
            batch.clear();
        }
    }
    db.bulk_insert(&batch).await?;
    let mut batch = Vec::with_capacity(10_000);
    for n in 0..accounts * 2 {
        let mut c = blank_contact(owner, now);
        c.id = n as i64 + 1;
        c.account_id = Some((n / 2) as i64 + 1);
        c.name = format!("联系人{n}");
        c.mobile = Some(mobile(n));
        c.email = Some(format!("c{n}@example.cn"));
        c.version = 1;
        batch.push(c);
        if batch.len() == 10_000 {
            db.bulk_insert(&batch).await?;
            batch.clear();
        }
    }
    db.bulk_insert(&batch).await?;
    Ok(())
}

/// Runs the benchmark (see the module's description).
pub async fn run(
    config: &Config,
    explicit_url: Option<&str>,
    accounts: usize,
    seconds: u64,
) -> anyhow::Result<()> {
    let file = format!("bench-duplicates-{accounts}.db");
    let (db, url) = super::open_db(config, explicit_url, &file).await?;
    let now = OffsetDateTime::now_utc();
    if db.users().await?.is_empty() {
        crate::demo::install_defaults(&db, now).await?;
        let input = shangji_core::records::UserInput {
            login: shangji_core::Field::Value("bench_rep".into()),
            role: shangji_core::Field::Value(Role::Rep),
            ..Default::default()
        };
        crate::ops::create_user(&db, None, input, now).await?;
    }
    if db.count("accounts").await? == 0 {
        println!(
            "generating {accounts} accounts and {} contacts into {url} …",
            accounts * 2
        );
        let t = Instant::now();
        generate(&db, accounts, now).await?;
        println!("generated in {:.1} s", t.elapsed().as_secs_f64());
    }
    let rep = db
        .users()
        .await?
        .into_iter()
        .find(|u| u.role == Role::Rep)
        .ok_or_else(|| anyhow::anyhow!("no rep in {url}"))?;
    let ctx = Ctx::for_cli(&db, &rep, now).await?;
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    println!(
        "{:<28} {:>7} {:>8} {:>8} {:>8} {:>8}",
        "check", "runs", "matches", "p50 ms", "p95 ms", "p99 ms"
    );
    let kinds = [
        "name variant (existing)",
        "new company name",
        "mobile +86 (existing)",
        "credit code (existing)",
    ];
    for kind in kinds {
        let mut times: Vec<Duration> = Vec::new();
        let mut matched = 0;
        let until = Instant::now() + Duration::from_secs(seconds);
        while Instant::now() < until {
            let n = rng.gen_range(0..accounts);
            let (region, name, trade, _) = company(n);
            let mut q = DuplicateQuery {
                kind: RecordKind::Account,
                name: None,
                credit_code: None,
                mobile: None,
                email: None,
            };
            match kind {
                "name variant (existing)" => {
                    q.name = Some(format!("{name}{trade}（{region}）有限公司"))
                }
                "new company name" => q.name = Some(format!("{name}{trade}控股{n}号有限公司")),
                "mobile +86 (existing)" => {
                    q.kind = RecordKind::Contact;
                    q.mobile = Some(format!("+86 {}", mobile(n * 2)));
                }
                _ => q.credit_code = Some(credit_code(n)),
            }
            let t = Instant::now();
            let found = duplicates::check(&db, &ctx, q).await?;
            times.push(t.elapsed());
            matched += usize::from(!found.is_empty());
        }
        times.sort();
        println!(
            "{:<28} {:>7} {:>8} {:>8.2} {:>8.2} {:>8.2}",
            kind,
            times.len(),
            matched,
            percentile(&times, 0.5),
            percentile(&times, 0.95),
            percentile(&times, 0.99)
        );
    }
    Ok(())
}
