//! Health for the operator: whether this instance is ready to serve (the database answers,
//! its schema is this build's, the background jobs run) and the numbers the metrics carry.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;
use shangji_store::Db;

/// Each job's turns as they go, for the readiness probe and the metrics.
#[derive(Debug, Default)]
pub struct JobsStatus {
    jobs: Mutex<Vec<JobState>>,
}

/// One job: its period, and when its latest turn began and ended.
#[derive(Debug, Clone)]
pub struct JobState {
    pub name: &'static str,
    pub period: Duration,
    pub started: Option<Instant>,
    pub ended: Option<Instant>,
    pub turns: u64,
}

impl JobState {
    /// Running as it should: in a turn, or its latest turn began less than its period and
    /// a minute ago (a job that stopped or hangs between turns is not).
    pub fn healthy(&self, now: Instant) -> bool {
        match (self.started, self.ended) {
            (Some(s), Some(e)) if e < s => true,
            (Some(_), None) => true,
            (Some(s), Some(_)) => now.duration_since(s) <= self.period + Duration::from_secs(60),
            (None, _) => false,
        }
    }
}

impl JobsStatus {
    pub fn jobs(&self) -> Vec<JobState> {
        self.jobs.lock().map(|j| j.clone()).unwrap_or_default()
    }

    pub fn add(&self, job: JobState) {
        if let Ok(mut jobs) = self.jobs.lock() {
            jobs.push(job);
        }
    }

    pub fn update(&self, name: &'static str, f: impl FnOnce(&mut JobState)) {
        if let Ok(mut jobs) = self.jobs.lock() {
            if let Some(j) = jobs.iter_mut().find(|j| j.name == name) {
                f(j);
            }
        }
    }
}

/// What the readiness probe answers.
#[derive(Debug, Clone, Serialize)]
pub struct Readiness {
    pub ready: bool,
    /// `ok`, or what the database answered.
    pub database: String,
    /// The latest migration applied to the database, and this build's.
    pub schema_version: Option<i64>,
    pub schema_expected: i64,
    /// Each background job (none when this process runs no jobs) and whether it runs as it
    /// should.
    pub jobs: Vec<JobHealth>,
}

#[derive(Debug, Clone, Serialize)]
pub struct JobHealth {
    pub name: String,
    pub healthy: bool,
    /// Seconds since its latest turn began (none before the first).
    pub since_turn_seconds: Option<f64>,
    pub turns: u64,
}

/// Ready when the database answers at this build's schema and every job runs.
pub async fn readiness(db: &Db, jobs: Option<&JobsStatus>) -> Readiness {
    let expected = shangji_store::archive::latest_schema_version();
    let (database, schema_version) = match db.ping().await {
        Ok(()) => match db.schema_version().await {
            Ok(v) => ("ok".to_string(), Some(v)),
            Err(e) => (e.to_string(), None),
        },
        Err(e) => (e.to_string(), None),
    };
    let jobs = job_health(jobs);
    Readiness {
        ready: database == "ok"
            && schema_version == Some(expected)
            && jobs.iter().all(|j| j.healthy),
        database,
        schema_version,
        schema_expected: expected,
        jobs,
    }
}

pub fn job_health(jobs: Option<&JobsStatus>) -> Vec<JobHealth> {
    let now = Instant::now();
    jobs.map(JobsStatus::jobs)
        .unwrap_or_default()
        .into_iter()
        .map(|j| JobHealth {
            name: j.name.to_string(),
            healthy: j.healthy(now),
            since_turn_seconds: j.started.map(|s| now.duration_since(s).as_secs_f64()),
            turns: j.turns,
        })
        .collect()
}

/// The numbers read at each scrape of the metrics.
#[derive(Debug, Clone)]
pub struct Gauges {
    pub pool: shangji_store::health::PoolStats,
    /// Deals whose analytics projection is not yet brought up to date.
    pub projection_backlog: i64,
    /// Outgoing deliveries by status.
    pub deliveries: Vec<(String, i64)>,
    pub jobs: Vec<JobHealth>,
}

pub async fn gauges(db: &Db, jobs: Option<&JobsStatus>) -> Result<Gauges, crate::error::AppError> {
    Ok(Gauges {
        pool: db.pool_stats(),
        projection_backlog: db.analytics_backlog().await?,
        deliveries: db.delivery_counts().await?,
        jobs: job_health(jobs),
    })
}
