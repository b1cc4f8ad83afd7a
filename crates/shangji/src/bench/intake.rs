//! `shangji bench --intake`: the front door under load. Over a generated company with
//! `--leads` extra leads: scoring every lead (the daily job's work) timed twice — scores new,
//! then scores standing — then web-to-lead
//! submissions over HTTP from concurrent clients — through the public page (with a page token
//! and the honeypot, as a browser sends them) and through the inbound endpoint with the form's
//! secret. Prints leads scored per second and submissions accepted per second with p50/p95.

use std::sync::Arc;
use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use shangji_core::model::*;
use shangji_core::records::blank_lead;
use time::{Duration, OffsetDateTime};

use super::{measure, open_db, report};
use crate::config::Config;
use crate::ops::{self, Ctx};
use crate::state::AppState;

const SOURCES: [Source; 6] = [
    Source::Website,
    Source::Referral,
    Source::Exhibition,
    Source::ColdCall,
    Source::Advertising,
    Source::Partner,
];
const INDUSTRIES: [&str; 6] = ["机械制造", "新能源", "医药", "电子", "纺织", "化工"];
const TITLES: [&str; 5] = ["总经理", "采购经理", "设备部部长", "技术总监", "采购专员"];
/// First characters of company names: names spread over 900 two-character stems, as real ones
/// do (the duplicate check looks candidates up by stem).
const SYLLABLES: [char; 30] = [
    '华', '明', '川', '恒', '远', '新', '达', '盛', '通', '宏', '泰', '中', '兴', '嘉', '瑞', '安',
    '信', '和', '德', '鑫', '海', '天', '金', '永', '福', '昌', '博', '科', '创', '联',
];

/// The `n`th made-up company name.
fn company(n: usize, trade: &str) -> String {
    let (a, b) = (SYLLABLES[n % 30], SYLLABLES[(n / 30) % 30]);
    format!("{a}{b}{n}{trade}有限公司")
}

/// `n` leads with varied features, half of them closed, ids after `first`.
fn synthetic_leads(first: i64, n: usize, now: OffsetDateTime) -> Vec<Lead> {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    (0..n)
        .map(|i| {
            let mut l = blank_lead(now - Duration::days(rng.gen_range(0..365)));
            l.id = first + i as i64;
            l.source = Some(SOURCES[rng.gen_range(0..SOURCES.len())]);
            l.industry = Some(INDUSTRIES[rng.gen_range(0..INDUSTRIES.len())].into());
            l.title = Some(TITLES[rng.gen_range(0..TITLES.len())].into());
            l.company_name = Some(company(i, "机械"));
            l.mobile = Some(format!("15{:09}", i));
            l.status = match rng.gen_range(0..4) {
                0 => LeadStatus::Qualified,
                1 => LeadStatus::Disqualified,
                2 => LeadStatus::Working,
                _ => LeadStatus::New,
            };
            l
        })
        .collect()
}

pub async fn run(
    config: &Config,
    explicit_url: Option<&str>,
    leads: usize,
    clients: usize,
    seconds: u64,
) -> anyhow::Result<()> {
    let (db, url) = open_db(config, explicit_url, &format!("bench-intake-{leads}.db")).await?;
    let now = OffsetDateTime::now_utc();
    if db.count("users").await? == 0 {
        println!("generating a company and {leads} leads into {url} …");
        let t = Instant::now();
        crate::demo::load(&db, 2_000, now).await?;
        let first = db.count("leads").await? as i64 + 1;
        for chunk in synthetic_leads(first, leads, now).chunks(50_000) {
            db.bulk_insert(chunk).await?;
        }
        db.reset_sequences().await?;
        println!("generated in {:.1} s", t.elapsed().as_secs_f64());
    }
    let total = db.count("leads").await?;
    db.forget_lead_scores().await?;

    // Scoring every lead, as the daily job does (training included): once where the leads'
    // scores are new, once where they stand.
    for pass in ["first scoring", "daily rescoring"] {
        let t = Instant::now();
        let status = ops::scoring::train(&db, now)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let took = t.elapsed().as_secs_f64();
        println!(
            "{pass}: {total} leads (model trained on {} closed) in {took:.1} s — {:.0} leads/s; held-out AUC {}",
            status.closed_leads,
            total as f64 / took,
            status
                .model
                .and_then(|m| m.auc)
                .map_or_else(|| "—".into(), |a| format!("{a:.3}")),
        );
    }

    // A form that lets the benchmark's one address send as much as it can.
    let admin = db
        .users()
        .await?
        .into_iter()
        .find(|u| u.role == Role::Admin)
        .ok_or_else(|| anyhow::anyhow!("no admin"))?;
    let ctx = Ctx::for_cli(&db, &admin, now)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut form = ops::web_forms::get(
        &db,
        &ctx,
        db.web_form_by_slug("demo")
            .await?
            .ok_or_else(|| anyhow::anyhow!("no demo form"))?
            .id,
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?
    .to_input();
    form.anti_spam.per_address_per_hour = 100_000;
    form.anti_spam.per_form_per_minute = 1_000_000;
    let id = db
        .web_form_by_slug("demo")
        .await?
        .map(|f| f.id)
        .unwrap_or(0);
    let form = ops::web_forms::update(&db, &ctx, id, form)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let secret = ops::web_forms::rotate_secret(&db, &ctx, id)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    // Pages shown a minute ago: past the minimum fill time.
    let token = ops::web_forms::render_token(&secret.form, now - Duration::minutes(1));

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app = crate::app(AppState::new(db.clone(), false));
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
    });
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(clients * 2)
        .build()?;
    println!("\n{clients} concurrent clients, {seconds} s each, over HTTP on {addr}");
    println!(
        "{:<28} {:>8} {:>10} {:>9} {:>9} {:>7}",
        "operation", "requests", "ops/s", "p50 ms", "p95 ms", "errors"
    );
    let page = format!("http://{addr}/f/{}", form.slug);
    let (c, t) = (client.clone(), Arc::new(token));
    let o = measure(clients, seconds, move |k, n| {
        let (c, page, t) = (c.clone(), page.clone(), t.clone());
        async move {
            let body = serde_urlencoded::to_string([
                ("_t", t.as_str()),
                ("homepage", ""),
                ("contact_name", &format!("访客{k}-{n}")),
                ("company", &company(k * 1_000_000 + n, "科技")),
                ("mobile", &format!("17{k:02}{n:07}")),
                ("utm_source", "bench"),
            ])
            .unwrap_or_default();
            c.post(&page)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
        }
    })
    .await;
    report("web form submission", &o);
    let inbound = format!("http://{addr}/api/v1/inbound/forms/{}", form.slug);
    let secret = Arc::new(secret.secret);
    let o = measure(clients, seconds, move |k, n| {
        let (c, inbound, secret) = (client.clone(), inbound.clone(), secret.clone());
        async move {
            c.post(&inbound)
                .header("x-form-secret", secret.as_str())
                .json(&serde_json::json!({
                    "contact_name": format!("对接{k}-{n}"),
                    "mobile": format!("18{k:02}{n:07}"),
                    "company": company(k * 1_000_000 + n + 500_000, "贸易"),
                }))
                .send()
                .await
                .is_ok_and(|r| r.status() == reqwest::StatusCode::CREATED)
        }
    })
    .await;
    report("inbound lead", &o);
    Ok(())
}
