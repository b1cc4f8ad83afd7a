//! `shangji bench`: serves a generated database on a local port and measures the JSON API
//! over HTTP with concurrent clients. Prints operations per second and p50/p95 latency.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::config::{sqlite_url, Config};
use crate::state::AppState;

mod backup;
mod duplicates;
mod handover;
mod import;
mod intake;
pub use backup::run as run_backup;
pub use duplicates::run as run_duplicates;
pub use handover::run as run_handover;
pub use import::run as run_import;
pub use intake::run as run_intake;

struct Outcome {
    latencies: Vec<Duration>,
    errors: usize,
    elapsed: Duration,
}

/// The benchmark's database: `--database-url`, else `file` in the data folder.
async fn open_db(
    config: &Config,
    explicit_url: Option<&str>,
    file: &str,
) -> anyhow::Result<(shangji_store::Db, String)> {
    let url = match explicit_url {
        Some(u) => u.to_string(),
        None => sqlite_url(&config.data_dir.join(file)),
    };
    let db = crate::cli::open(&Config {
        database_url: url.clone(),
        ..config.clone()
    })
    .await?;
    Ok((db, url))
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

/// Runs `op` from `clients` tasks for `seconds`; `op(client, n)` performs request `n`.
async fn measure<F, Fut>(clients: usize, seconds: u64, op: F) -> Outcome
where
    F: Fn(usize, usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let op = Arc::new(op);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for c in 0..clients {
        let op = op.clone();
        tasks.push(tokio::spawn(async move {
            let (mut lat, mut errors, mut n) = (Vec::new(), 0, 0);
            while Instant::now() < deadline {
                let t = Instant::now();
                if !op(c, n).await {
                    errors += 1;
                }
                lat.push(t.elapsed());
                n += 1;
            }
            (lat, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await.expect("bench client");
        latencies.extend(l);
        errors += e;
    }
    latencies.sort();
    Outcome {
        latencies,
        errors,
        elapsed: started.elapsed(),
    }
}

fn report(name: &str, o: &Outcome) {
    let n = o.latencies.len();
    println!(
        "{name:<28} {n:>8} {:>10.0} {:>9.2} {:>9.2} {:>7}",
        n as f64 / o.elapsed.as_secs_f64(),
        percentile(&o.latencies, 0.50),
        percentile(&o.latencies, 0.95),
        o.errors
    );
}

/// What every measured request needs: the HTTP client, the `authorization` header and the
/// API's base address.
type Api = (reqwest::Client, String, String);

pub async fn run(
    config: &Config,
    explicit_url: Option<&str>,
    opportunities: usize,
    clients: usize,
    seconds: u64,
) -> anyhow::Result<()> {
    let (db, url) = open_db(config, explicit_url, &format!("bench-{opportunities}.db")).await?;
    let now = OffsetDateTime::now_utc();
    if db.count("users").await? == 0 {
        println!("generating {opportunities} opportunities with their history into {url} …");
        let t = Instant::now();
        crate::demo::load(&db, opportunities, now).await?;
        println!("generated and stored in {:.1} s", t.elapsed().as_secs_f64());
    }
    let stored = db.count("opportunities").await?;
    let events = db.count("opportunity_events").await?;
    println!(
        "database: {} ({stored} opportunities, {events} events)",
        db.dialect()
    );

    let (manager, _) = db
        .user_by_login("mgr.east")
        .await?
        .context("the bench database has no mgr.east")?;
    let (token, _) = crate::ops::create_token(&db, None, manager.id, "bench", now)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app = crate::app(AppState::new(db.clone(), false));
    tokio::spawn(async move { axum::serve(listener, app).await });
    let base = format!("http://{addr}/api/v1");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(clients * 2)
        .build()?;
    let auth = format!("Bearer {token}");
    let api: Api = (client, auth, base);
    let (account_ids, stages) = targets(&api).await?;

    println!("\n{clients} concurrent clients, {seconds} s per operation, over HTTP on {addr}");
    println!(
        "{:<28} {:>8} {:>10} {:>9} {:>9} {:>7}",
        "operation", "requests", "ops/s", "p50 ms", "p95 ms", "errors"
    );
    let (o, created) = measure_creates(api.clone(), account_ids, clients, seconds).await;
    report("create opportunity", &o);
    let ids = Arc::new(created);
    let o = measure_moves(api.clone(), ids.clone(), stages, clients, seconds).await;
    report("stage move", &o);
    let o = measure_lists(api.clone(), stages, clients, seconds).await;
    report("list 50 (filtered, sorted)", &o);
    let o = measure_gets(api, ids, clients, seconds).await;
    report("get opportunity", &o);
    Ok(())
}

/// What the measured requests work on, read through the API as the manager: the accounts
/// to create opportunities on, and the first two stages of the first pipeline.
async fn targets(api: &Api) -> anyhow::Result<(Arc<Vec<i64>>, (i64, i64))> {
    let get_json = |path: String| {
        let (client, auth, base) = api.clone();
        async move {
            let r = client
                .get(format!("{base}{path}"))
                .header("authorization", auth)
                .send()
                .await?;
            anyhow::Ok(r.json::<Value>().await?)
        }
    };
    let accounts = get_json("/accounts?per_page=50&sort=-updated_at".into()).await?;
    let account_ids: Vec<i64> = accounts["items"]
        .as_array()
        .map(|a| a.iter().filter_map(|x| x["id"].as_i64()).collect())
        .unwrap_or_default();
    if account_ids.is_empty() {
        bail!("the manager sees no account to create opportunities on");
    }
    let pipelines = get_json("/pipelines".into()).await?;
    let stages: Vec<i64> = pipelines[0]["stages"]
        .as_array()
        .map(|a| a.iter().filter_map(|s| s["id"].as_i64()).collect())
        .unwrap_or_default();
    Ok((Arc::new(account_ids), (stages[0], stages[1])))
}

/// Creating opportunities; also the ids each client created, for the measures after it.
async fn measure_creates(
    api: Api,
    accounts: Arc<Vec<i64>>,
    clients: usize,
    seconds: u64,
) -> (Outcome, Vec<Vec<i64>>) {
    let created: Arc<std::sync::Mutex<Vec<Vec<i64>>>> =
        Arc::new(std::sync::Mutex::new(vec![Vec::new(); clients]));
    let o = {
        let (client, auth, base) = api;
        let created = created.clone();
        measure(clients, seconds, move |c, n| {
            let (client, auth, base, accounts, created) = (
                client.clone(),
                auth.clone(),
                base.clone(),
                accounts.clone(),
                created.clone(),
            );
            async move {
                let body = json!({
                    "title": format!("压测商机 {c}-{n}"),
                    "account_id": accounts[(c * 7919 + n) % accounts.len()],
                    "amount_minor": 10_000_000 + (n as i64 % 100) * 100_000,
                    "close_date": "2027-06-30",
                });
                let Ok(r) = client
                    .post(format!("{base}/opportunities"))
                    .header("authorization", &auth)
                    .json(&body)
                    .send()
                    .await
                else {
                    return false;
                };
                if r.status() != 201 {
                    return false;
                }
                match r.json::<Value>().await.ok().and_then(|v| v["id"].as_i64()) {
                    Some(id) => {
                        created.lock().expect("lock")[c].push(id);
                        true
                    }
                    None => false,
                }
            }
        })
        .await
    };
    let ids = created.lock().expect("lock").clone();
    (o, ids)
}

/// Moving each client's opportunities between the first two stages, back and forth.
async fn measure_moves(
    api: Api,
    ids: Arc<Vec<Vec<i64>>>,
    (first_stage, second_stage): (i64, i64),
    clients: usize,
    seconds: u64,
) -> Outcome {
    let (client, auth, base) = api;
    measure(clients, seconds, move |c, n| {
        let (client, auth, base, ids) = (client.clone(), auth.clone(), base.clone(), ids.clone());
        async move {
            let mine = &ids[c];
            if mine.is_empty() {
                return false;
            }
            let id = mine[n % mine.len()];
            // Each id is visited once per round: odd rounds move forward, even rounds back.
            let stage = if (n / mine.len()) % 2 == 0 {
                second_stage
            } else {
                first_stage
            };
            let r = client
                .post(format!("{base}/opportunities/{id}/move"))
                .header("authorization", &auth)
                // What the second stage's gate asks for, answered with the move.
                .json(&json!({ "stage_id": stage, "checklist": ["need_confirmed"] }))
                .send()
                .await;
            matches!(r, Ok(r) if r.status() == 200)
        }
    })
    .await
}

/// Pages of 50 open opportunities of one stage, newest change first.
async fn measure_lists(
    api: Api,
    (first_stage, second_stage): (i64, i64),
    clients: usize,
    seconds: u64,
) -> Outcome {
    let (client, auth, base) = api;
    measure(clients, seconds, move |_, n| {
        let (client, auth, base) = (client.clone(), auth.clone(), base.clone());
        async move {
            let stage = if n % 2 == 0 { first_stage } else { second_stage };
            let r = client
                .get(format!("{base}/opportunities?status=open&stage_id={stage}&sort=-updated_at&per_page=50"))
                .header("authorization", &auth)
                .send()
                .await;
            match r {
                Ok(r) if r.status() == 200 => r.bytes().await.is_ok(),
                _ => false,
            }
        }
    })
    .await
}

/// Reading one of the client's opportunities.
async fn measure_gets(api: Api, ids: Arc<Vec<Vec<i64>>>, clients: usize, seconds: u64) -> Outcome {
    let (client, auth, base) = api;
    measure(clients, seconds, move |c, n| {
        let (client, auth, base, ids) = (client.clone(), auth.clone(), base.clone(), ids.clone());
        async move {
            let mine = &ids[c];
            if mine.is_empty() {
                return false;
            }
            let id = mine[(n * 31) % mine.len()];
            let r = client
                .get(format!("{base}/opportunities/{id}"))
                .header("authorization", &auth)
                .send()
                .await;
            match r {
                Ok(r) if r.status() == 200 => r.bytes().await.is_ok(),
                _ => false,
            }
        }
    })
    .await
}

/// `shangji bench --board`: the pipeline board and the forecast board as a manager sees
/// them (a session cookie, as a browser sends it), over a generated database whose
/// opportunities are all open (the closed ones of the generated history are put back into
/// the open stages; their histories are left as generated). Prints the page size and the
/// server time per page.
pub async fn run_board(
    config: &Config,
    explicit_url: Option<&str>,
    opportunities: usize,
    clients: usize,
    seconds: u64,
) -> anyhow::Result<()> {
    use shangji_core::demo::{generate, DemoConfig};
    use shangji_core::model::StageKind;

    let (db, url) = open_db(
        config,
        explicit_url,
        &format!("bench-board-{opportunities}.db"),
    )
    .await?;
    let now = OffsetDateTime::now_utc();
    if db.count("users").await? == 0 {
        println!("generating {opportunities} open opportunities into {url} …");
        let t = Instant::now();
        let mut data = generate(&DemoConfig {
            opportunities,
            ..DemoConfig::standard(now)
        });
        let open: Vec<_> = data
            .pipeline
            .stages
            .iter()
            .filter(|s| s.kind == StageKind::Open)
            .cloned()
            .collect();
        for o in data
            .opportunities
            .iter_mut()
            .filter(|o| o.status != StageKind::Open)
        {
            let stage = &open[(o.id as usize) % open.len()];
            o.stage_id = stage.id;
            o.status = StageKind::Open;
            o.probability = stage.probability;
            o.forecast_category = stage.forecast_category;
            o.closed_at = None;
            o.loss_reason = None;
            o.loss_note = None;
        }
        crate::demo::store(&db, &data, now).await?;
        println!("generated and stored in {:.1} s", t.elapsed().as_secs_f64());
    }
    let stored = db.count("opportunities").await?;
    println!("database: {} ({stored} opportunities)", db.dialect());

    let (manager, _) = db
        .user_by_login("mgr.east")
        .await?
        .context("the bench database has no mgr.east")?;
    let token = crate::ops::directory::random_token("");
    let csrf = crate::ops::directory::random_token("");
    db.insert_session(
        &crate::ops::directory::digest(&token),
        manager.id,
        &csrf,
        now,
        now + time::Duration::days(1),
    )
    .await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app = crate::app(AppState::new(db.clone(), false));
    tokio::spawn(async move { axum::serve(listener, app).await });
    let base = format!("http://{addr}");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(clients * 2)
        .build()?;
    let cookie = format!("{}={token}", crate::auth::SESSION_COOKIE);

    let pages = [
        ("GET /board", "/board".to_string()),
        (
            "GET /board?close_from…",
            "/board?close_from=2020-01-01&grade=a".to_string(),
        ),
        (
            "GET /board/column (more)",
            "/board/column?key=1&offset=20".to_string(),
        ),
        ("GET /forecast", "/forecast".to_string()),
    ];
    println!("\npage sizes as sent (uncompressed):");
    for (name, path) in &pages {
        let r = client
            .get(format!("{base}{path}"))
            .header("cookie", &cookie)
            .send()
            .await?;
        if r.status() != 200 {
            bail!("{path} answered {}", r.status());
        }
        let body = r.bytes().await?;
        println!("{name:<28} {:>8.1} KB", body.len() as f64 / 1024.0);
    }

    println!("\n{clients} concurrent clients, {seconds} s per page, over HTTP on {addr}");
    println!(
        "{:<28} {:>8} {:>10} {:>9} {:>9} {:>7}",
        "page", "requests", "ops/s", "p50 ms", "p95 ms", "errors"
    );
    for (name, path) in pages {
        let (client, cookie, base) = (client.clone(), cookie.clone(), base.clone());
        let o = measure(clients, seconds, move |_, _| {
            let (client, cookie, url) = (client.clone(), cookie.clone(), format!("{base}{path}"));
            async move {
                match client.get(url).header("cookie", cookie).send().await {
                    Ok(r) if r.status() == 200 => r.bytes().await.is_ok(),
                    _ => false,
                }
            }
        })
        .await;
        report(name, &o);
    }
    Ok(())
}

/// Measures the analytics reports on a generated database (`data/bench-reports-N.db`, or
/// `--database-url`): first the projection's full build, then each report requested
/// one after another for `seconds` (at least 5 times), as the admin and as the 华东 manager,
/// printing the median and p95.
pub async fn run_reports(
    config: &Config,
    explicit_url: Option<&str>,
    opportunities: usize,
    seconds: u64,
) -> anyhow::Result<()> {
    let (db, url) = open_db(
        config,
        explicit_url,
        &format!("bench-reports-{opportunities}.db"),
    )
    .await?;
    let now = OffsetDateTime::now_utc();
    if db.count("users").await? == 0 {
        println!("generating {opportunities} opportunities with their history into {url} …");
        let t = Instant::now();
        crate::demo::load(&db, opportunities, now).await?;
        println!("generated and stored in {:.1} s", t.elapsed().as_secs_f64());
    }
    let stored = db.count("opportunities").await?;
    let events = db.count("opportunity_events").await?;
    println!(
        "database: {} ({stored} opportunities, {events} events)",
        db.dialect()
    );
    let backlog = db.analytics_backlog().await?;
    let t = Instant::now();
    let dir = db.directory().await?;
    db.refresh_analytics(&dir.pipelines).await?;
    println!(
        "projection: {backlog} opportunities rebuilt in {:.1} s ({} stays, {} versions)",
        t.elapsed().as_secs_f64(),
        db.count("analytics_stays").await?,
        db.count("analytics_versions").await?,
    );
    db.analyze().await?;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app = crate::app(AppState::new(db.clone(), false));
    tokio::spawn(async move { axum::serve(listener, app).await });
    let base = format!("http://{addr}/api/v1/analytics");
    let client = reqwest::Client::new();
    let reports = [
        "funnel",
        "4s",
        "waterfall",
        "time-in-stage",
        "win-rate",
        "calibration",
        "win-loss",
        "leaderboard",
        "sources",
        "forecast",
        "monte-carlo",
        "forecast/overview",
        "forecast/rollup",
        "horizon",
        "accuracy",
    ];
    for login in ["admin", "mgr.east"] {
        let (user, _) = db
            .user_by_login(login)
            .await?
            .with_context(|| format!("the bench database has no {login}"))?;
        let (token, _) = crate::ops::create_token(&db, None, user.id, "bench", now)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let auth = format!("Bearer {token}");
        println!("\n{login}: default period (the last 90 days), sequential requests over HTTP");
        println!(
            "{:<18} {:>6} {:>9} {:>9}",
            "report", "runs", "p50 ms", "p95 ms"
        );
        for report in reports {
            let mut times = vec![];
            let started = Instant::now();
            while times.len() < 5 || started.elapsed() < Duration::from_secs(seconds) {
                let t = Instant::now();
                let r = client
                    .get(format!("{base}/{report}"))
                    .header("authorization", &auth)
                    .send()
                    .await?;
                if r.status() != 200 {
                    bail!("{report} answered {}: {}", r.status(), r.text().await?);
                }
                r.bytes().await?;
                times.push(t.elapsed());
                if times.len() >= 200 {
                    break;
                }
            }
            times.sort();
            println!(
                "{report:<18} {:>6} {:>9.1} {:>9.1}",
                times.len(),
                percentile(&times, 0.5),
                percentile(&times, 0.95)
            );
        }
    }
    let t = Instant::now();
    crate::ops::snapshots::take_snapshot(&db, now, false, None, crate::ops::snapshots::RUNS)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "\nsnapshot (every pipeline; the company, each team and each rep): {:.1} s",
        t.elapsed().as_secs_f64()
    );
    Ok(())
}
