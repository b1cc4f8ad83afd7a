//! The background jobs of `shangji serve`, started together and stopped together: the rule
//! scheduler, the notification sender (and daily digest), the analytics projection refresher
//! the weekly forecast snapshot, the daily lead scoring and the daily backup. Each job runs one turn of its `ops` function, then waits
//! for its period or for shutdown; on shutdown a job finishes the turn it is in and stops, and
//! [`Jobs::shutdown`] waits for all of them. Every instance may run them: the turns are safe
//! to run concurrently on one database (firings, claims and snapshots are unique).

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use shangji_store::Db;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::clock::Clock;
use crate::config::Config;
use crate::ops;
use crate::ops::health::{JobState, JobsStatus};

/// How long shutdown waits for a job to finish its turn.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// The running jobs.
pub struct Jobs {
    stop: watch::Sender<bool>,
    running: Vec<(&'static str, JoinHandle<()>)>,
    status: Arc<JobsStatus>,
}

impl Jobs {
    /// Starts every job. `rule_every` is the rule scheduler's period.
    pub fn start(db: &Db, config: &Config, clock: Clock, rule_every: Duration) -> Jobs {
        let (stop, stopped) = watch::channel(false);
        let status = Arc::new(JobsStatus::default());
        let sender = ops::delivery::send::Sender::new(config);
        let running = vec![
            every("rule scheduler", rule_every, &stopped, db, &status, {
                let clock = clock.clone();
                move |db| {
                    let now = clock.now();
                    async move { ops::automation::scheduler_turn(&db, now).await }
                }
            }),
            every(
                "notification sender",
                Duration::from_secs(5),
                &stopped,
                db,
                &status,
                move |db| {
                    let sender = sender.clone();
                    async move { ops::delivery::send::turn(&db, &sender).await }
                },
            ),
            every(
                "analytics projection",
                Duration::from_secs(5),
                &stopped,
                db,
                &status,
                |db| async move { ops::analytics::refresh_projection(&db).await },
            ),
            every(
                "weekly snapshot",
                Duration::from_secs(3600),
                &stopped,
                db,
                &status,
                |db| async move {
                    ops::snapshots::weekly_turn(&db, time::OffsetDateTime::now_utc()).await
                },
            ),
            every(
                "submission log",
                Duration::from_secs(3600),
                &stopped,
                db,
                &status,
                {
                    let clock = clock.clone();
                    move |db| {
                        let now = clock.now();
                        async move {
                            if let Err(e) = ops::web_forms::prune_log(&db, now).await {
                                tracing::warn!(error = ?e, "pruning the submission log failed");
                            }
                        }
                    }
                },
            ),
            every(
                "interrupted imports",
                Duration::from_secs(300),
                &stopped,
                db,
                &status,
                |db| async move {
                    let wall = time::OffsetDateTime::now_utc();
                    if let Err(e) = ops::import::recover_stalled(&db, wall).await {
                        tracing::warn!(error = ?e, "undoing interrupted imports failed");
                    }
                },
            ),
            every(
                "daily backup",
                Duration::from_secs(3600),
                &stopped,
                db,
                &status,
                {
                    let clock = clock.clone();
                    let settings = config.backups.settings();
                    move |db| {
                        let now = clock.now();
                        let settings = settings.clone();
                        async move { ops::backups::daily_turn(&db, &settings, now).await }
                    }
                },
            ),
            every(
                "lead scoring",
                Duration::from_secs(3600),
                &stopped,
                db,
                &status,
                move |db| {
                    let now = clock.now();
                    async move { ops::scoring::daily_turn(&db, now).await }
                },
            ),
        ];
        Jobs {
            stop,
            running,
            status,
        }
    }

    /// Each job's turns as they go.
    pub fn status(&self) -> Arc<JobsStatus> {
        self.status.clone()
    }

    /// Asks every job to stop and waits until each has finished its turn (at most
    /// `SHUTDOWN_GRACE` each; a job still busy then is abandoned with a warning).
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for (name, handle) in self.running {
            match tokio::time::timeout(SHUTDOWN_GRACE, handle).await {
                Ok(Ok(())) => tracing::debug!(job = name, "stopped"),
                Ok(Err(e)) => tracing::warn!(job = name, error = %e, "job ended abnormally"),
                Err(_) => tracing::warn!(job = name, "job did not stop in time"),
            }
        }
    }
}

/// Runs `turn` now and then every `period` until `stop` says so.
fn every<F, Fut>(
    name: &'static str,
    period: Duration,
    stop: &watch::Receiver<bool>,
    db: &Db,
    status: &Arc<JobsStatus>,
    mut turn: F,
) -> (&'static str, JoinHandle<()>)
where
    F: FnMut(Db) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let mut stop = stop.clone();
    let db = db.clone();
    status.add(JobState {
        name,
        period,
        started: None,
        ended: None,
        turns: 0,
    });
    let status = status.clone();
    let handle = tokio::spawn(async move {
        while !*stop.borrow() {
            status.update(name, |j| j.started = Some(Instant::now()));
            turn(db.clone()).await;
            status.update(name, |j| {
                j.ended = Some(Instant::now());
                j.turns += 1;
            });
            tokio::select! {
                _ = tokio::time::sleep(period) => {}
                _ = stop.changed() => {}
            }
        }
    });
    (name, handle)
}
