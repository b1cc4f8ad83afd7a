//! Automation: the rules (the checked rule as JSON), their firings under the unique key
//! (rule, record type, record, episode), settings kept as JSON documents (the working
//! calendar), notification preferences, and what the scheduler reads about open
//! opportunities in a few grouped queries.

use std::collections::{BTreeMap, BTreeSet};

use shangji_core::model::{Account, Lead, Opportunity, UserId};
use shangji_core::rules::Rule;
use time::{Date, OffsetDateTime};

use crate::db::{bind_all, Db, RowExt, Sql};
use crate::entity::Entity;
use crate::error::StoreError;
use crate::on_pool;

const CHUNK: usize = 500;

/// A rule as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRule {
    pub rule: Rule,
    pub version: i64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// A firing as logged.
#[derive(Debug, Clone, PartialEq)]
pub struct FiringRow {
    pub id: i64,
    pub rule_id: i64,
    pub record_type: String,
    pub record_id: i64,
    pub episode: String,
    pub fired_at: OffsetDateTime,
    /// The reasons (JSON list).
    pub reasons: serde_json::Value,
    /// What the actions did (JSON list).
    pub outcome: serde_json::Value,
}

/// A user's choice of rule notifications (email and the daily digest are
/// [`crate::NotificationPrefs`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RulePrefs {
    /// Rules whose notifications the user does not want in the app.
    pub muted_rules: Vec<i64>,
}

/// What rule evaluation needs beyond the opportunity row, for a batch of opportunities.
#[derive(Debug, Clone, Default)]
pub struct RuleFactRows {
    /// The latest meaningful follow-up (of the given kinds, unarchived, not after `now`).
    pub last_follow_up: BTreeMap<i64, OffsetDateTime>,
    /// Due dates of open tasks.
    pub open_task_due: BTreeMap<i64, Vec<Date>>,
    /// Standard actions done through tasks.
    pub actions_by_tasks: BTreeMap<i64, BTreeSet<String>>,
    /// The account's industry.
    pub industry: BTreeMap<i64, String>,
}

fn rule_from_row<R: RowExt>(r: &R) -> Result<StoredRule, StoreError> {
    let mut rule: Rule = r.json("rule")?;
    rule.id = r.i64("id")?;
    rule.enabled = r.bool("enabled")?;
    Ok(StoredRule {
        rule,
        version: r.i64("version")?,
        created_at: r.ts("created_at")?,
        updated_at: r.ts("updated_at")?,
    })
}

fn rule_json(rule: &Rule) -> Result<String, StoreError> {
    serde_json::to_string(rule).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn trigger_kind(rule: &Rule) -> String {
    serde_json::to_value(&rule.trigger)
        .ok()
        .and_then(|v| v.get("kind").and_then(|k| k.as_str()).map(str::to_string))
        .unwrap_or_default()
}

impl Db {
    /// Every rule, in id order.
    pub async fn rules(&self) -> Result<Vec<StoredRule>, StoreError> {
        on_pool!(self, p => {
            let rows = sqlx::query("SELECT * FROM automation_rules ORDER BY id").fetch_all(p).await?;
            rows.iter().map(rule_from_row).collect()
        })
    }

    /// The enabled rules that run on the scheduler's scan (`scheduled`) or on a change, in
    /// id order.
    pub async fn enabled_rules(&self, scheduled: bool) -> Result<Vec<StoredRule>, StoreError> {
        let mut sql = Sql::new("SELECT * FROM automation_rules WHERE enabled = ");
        sql.bind(true);
        sql.push(if scheduled {
            " AND trigger_kind = "
        } else {
            " AND trigger_kind <> "
        });
        sql.bind("schedule").push(" ORDER BY id");
        on_pool!(self, p => {
            let rows = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?;
            rows.iter().map(rule_from_row).collect()
        })
    }

    pub async fn rule(&self, id: i64) -> Result<Option<StoredRule>, StoreError> {
        on_pool!(self, p => {
            let row = sqlx::query("SELECT * FROM automation_rules WHERE id = $1").bind(id).fetch_optional(p).await?;
            row.as_ref().map(rule_from_row).transpose()
        })
    }

    /// Stores a new rule (its id is ignored) and returns its id.
    pub async fn insert_rule(&self, rule: &Rule, now: OffsetDateTime) -> Result<i64, StoreError> {
        let mut sql = Sql::new(
            "INSERT INTO automation_rules (name, enabled, trigger_kind, template_key, rule, version, created_at, updated_at) VALUES (",
        );
        sql.bind(rule.name.clone()).push(", ").bind(rule.enabled);
        sql.push(", ").bind(trigger_kind(rule));
        sql.push(", ").bind(rule.template_key.clone());
        sql.push(", ").bind(rule_json(rule)?);
        sql.push(", 1, ").bind(now).push(", ").bind(now);
        sql.push(") RETURNING id");
        let _writer = self.writer().await;
        on_pool!(self, p => Ok(bind_all!(sqlx::query_scalar(&sql.text), &sql.args).fetch_one(p).await?))
    }

    /// Replaces a rule if its version is still `expected_version`; returns the new version.
    pub async fn update_rule(
        &self,
        rule: &Rule,
        expected_version: i64,
        now: OffsetDateTime,
    ) -> Result<i64, StoreError> {
        let mut sql = Sql::new("UPDATE automation_rules SET name = ");
        sql.bind(rule.name.clone());
        sql.push(", enabled = ").bind(rule.enabled);
        sql.push(", trigger_kind = ").bind(trigger_kind(rule));
        sql.push(", template_key = ")
            .bind(rule.template_key.clone());
        sql.push(", rule = ").bind(rule_json(rule)?);
        sql.push(", version = version + 1, updated_at = ").bind(now);
        sql.push(" WHERE id = ").bind(rule.id);
        sql.push(" AND version = ").bind(expected_version);
        if self.execute(&sql).await? == 0 {
            return match self.rule(rule.id).await? {
                None => Err(StoreError::NotFound),
                Some(r) => Err(StoreError::Conflict {
                    current_version: r.version,
                }),
            };
        }
        Ok(expected_version + 1)
    }

    /// Deletes a rule and its firings; `false` when there was none.
    pub async fn delete_rule(&self, id: i64) -> Result<bool, StoreError> {
        let _writer = self.writer().await;
        on_pool!(self, p => {
            let mut tx = p.begin_with(self.write_begin()).await?;
            sqlx::query("DELETE FROM rule_firings WHERE rule_id = $1").bind(id).execute(&mut *tx).await?;
            let n = sqlx::query("DELETE FROM automation_rules WHERE id = $1").bind(id).execute(&mut *tx).await?.rows_affected();
            tx.commit().await?;
            Ok(n > 0)
        })
    }

    /// Stores `rules` unless `marker` was set before: the marker (a settings key) and the
    /// rules are written in one transaction, so that rules are seeded once per database,
    /// whatever the number of instances starting together. Returns whether they were.
    pub async fn seed_rules_once(
        &self,
        marker: &str,
        rules: &[Rule],
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let _writer = self.writer().await;
        on_pool!(self, p => {
            let mut tx = p.begin_with(self.write_begin()).await?;
            let n = sqlx::query("INSERT INTO app_settings (key, value, updated_at) VALUES ($1, $2, $3) ON CONFLICT (key) DO NOTHING")
                .bind(marker)
                .bind("true")
                .bind(crate::db::ms(now))
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n == 0 {
                return Ok(false);
            }
            for rule in rules {
                sqlx::query("INSERT INTO automation_rules (name, enabled, trigger_kind, template_key, rule, version, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 1, $6, $6)")
                    .bind(rule.name.clone())
                    .bind(rule.enabled)
                    .bind(trigger_kind(rule))
                    .bind(rule.template_key.clone())
                    .bind(rule_json(rule)?)
                    .bind(crate::db::ms(now))
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(true)
        })
    }

    /// Records a firing unless its (rule, record, episode) has fired before: the id when
    /// this call inserted it, `None` when it existed (another tick, instance or an earlier
    /// run got there first). Only an inserted firing runs its actions.
    pub async fn insert_firing(
        &self,
        rule_id: i64,
        record_type: &str,
        record_id: i64,
        episode: &str,
        at: OffsetDateTime,
        reasons: &serde_json::Value,
    ) -> Result<Option<i64>, StoreError> {
        let mut sql = Sql::new(
            "INSERT INTO rule_firings (rule_id, record_type, record_id, episode, fired_at, reasons) VALUES (",
        );
        sql.bind(rule_id).push(", ").bind(record_type);
        sql.push(", ").bind(record_id).push(", ").bind(episode);
        sql.push(", ").bind(at).push(", ").bind(reasons.to_string());
        sql.push(
            ") ON CONFLICT (rule_id, record_type, record_id, episode) DO NOTHING RETURNING id",
        );
        let _writer = self.writer().await;
        on_pool!(self, p => Ok(bind_all!(sqlx::query_scalar(&sql.text), &sql.args).fetch_optional(p).await?))
    }

    /// Notes what a firing's actions did.
    pub async fn set_firing_outcome(
        &self,
        id: i64,
        outcome: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let mut sql = Sql::new("UPDATE rule_firings SET outcome = ");
        sql.bind(outcome.to_string()).push(" WHERE id = ").bind(id);
        self.execute(&sql).await?;
        Ok(())
    }

    /// The (rule, record, episode) keys that have fired, of these rules.
    pub async fn fired_keys(
        &self,
        rule_ids: &[i64],
    ) -> Result<BTreeSet<(i64, i64, String)>, StoreError> {
        let mut out = BTreeSet::new();
        for ids in rule_ids.chunks(CHUNK) {
            let mut sql =
                Sql::new("SELECT rule_id, record_id, episode FROM rule_firings WHERE rule_id IN ");
            sql.bind_list(ids);
            on_pool!(self, p => {
                let rows = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?;
                for r in &rows {
                    out.insert((r.i64("rule_id")?, r.i64("record_id")?, r.text("episode")?));
                }
            });
        }
        Ok(out)
    }

    /// The latest firings of a rule, newest first.
    pub async fn firings_of(&self, rule_id: i64, limit: i64) -> Result<Vec<FiringRow>, StoreError> {
        on_pool!(self, p => {
            let rows = sqlx::query("SELECT * FROM rule_firings WHERE rule_id = $1 ORDER BY fired_at DESC, id DESC LIMIT $2")
                .bind(rule_id)
                .bind(limit)
                .fetch_all(p)
                .await?;
            rows.iter()
                .map(|r| {
                    let json = |c: &str| -> Result<serde_json::Value, StoreError> { r.json(c) };
                    Ok(FiringRow {
                        id: r.i64("id")?,
                        rule_id: r.i64("rule_id")?,
                        record_type: r.text("record_type")?,
                        record_id: r.i64("record_id")?,
                        episode: r.text("episode")?,
                        fired_at: r.ts("fired_at")?,
                        reasons: json("reasons")?,
                        outcome: json("outcome")?,
                    })
                })
                .collect()
        })
    }

    /// When each rule last fired (rules that never did are left out).
    pub async fn last_fired(&self) -> Result<BTreeMap<i64, OffsetDateTime>, StoreError> {
        on_pool!(self, p => {
            let rows = sqlx::query("SELECT rule_id, MAX(fired_at) AS at FROM rule_firings GROUP BY rule_id").fetch_all(p).await?;
            rows.iter().map(|r| Ok((r.i64("rule_id")?, r.ts("at")?))).collect()
        })
    }

    /// A user's rule notification preferences (the defaults when never saved).
    pub async fn rule_prefs(&self, user_id: UserId) -> Result<RulePrefs, StoreError> {
        on_pool!(self, p => {
            let row = sqlx::query("SELECT * FROM notification_preferences WHERE user_id = $1").bind(user_id).fetch_optional(p).await?;
            match row {
                None => Ok(RulePrefs::default()),
                Some(r) => Ok(RulePrefs {
                    muted_rules: r.json("muted_rules")?,
                }),
            }
        })
    }

    /// Every user's muted rules (users who muted none are left out).
    pub async fn muted_rules(&self) -> Result<BTreeMap<UserId, Vec<i64>>, StoreError> {
        on_pool!(self, p => {
            let rows = sqlx::query("SELECT user_id, muted_rules FROM notification_preferences").fetch_all(p).await?;
            let mut out = BTreeMap::new();
            for r in &rows {
                let muted: Vec<i64> = r.json("muted_rules")?;
                if !muted.is_empty() {
                    out.insert(r.i64("user_id")?, muted);
                }
            }
            Ok(out)
        })
    }

    pub async fn save_rule_prefs(
        &self,
        user_id: UserId,
        prefs: &RulePrefs,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let muted = serde_json::to_string(&prefs.muted_rules)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut sql = Sql::new(
            "INSERT INTO notification_preferences (user_id, muted_rules, updated_at) VALUES (",
        );
        sql.bind(user_id).push(", ").bind(muted);
        sql.push(", ").bind(now);
        sql.push(") ON CONFLICT (user_id) DO UPDATE SET muted_rules = excluded.muted_rules, updated_at = excluded.updated_at");
        self.execute(&sql).await?;
        Ok(())
    }

    /// Marks every unread notification of a user read; returns how many.
    pub async fn mark_all_read(
        &self,
        user_id: UserId,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let mut sql = Sql::new("UPDATE notifications SET read_at = ");
        sql.bind(now).push(" WHERE user_id = ").bind(user_id);
        sql.push(" AND read_at IS NULL");
        self.execute(&sql).await
    }

    /// Open, unarchived opportunities with ids above `after`, in id order, at most `limit`
    /// (with their custom values): the scheduler's pages.
    pub async fn open_opportunities_after(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<Opportunity>, StoreError> {
        let mut sql = Sql::new("SELECT * FROM opportunities WHERE status = ");
        sql.bind("open").push(" AND archived = ").bind(false);
        sql.push(" AND id > ").bind(after);
        sql.push(" ORDER BY id LIMIT ").bind(limit);
        let mut items: Vec<Opportunity> = on_pool!(self, p => {
            let rows = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?;
            rows.iter().map(Opportunity::from_row).collect::<Result<Vec<_>, _>>()?
        });
        self.fill_custom(&mut items).await?;
        Ok(items)
    }

    /// What rules read about these opportunities beyond their rows, in four grouped
    /// queries per 500: the latest follow-up of a meaningful kind (`kinds`) not after
    /// `now` (`Db::last_follow_ups`), the due dates of open tasks, the standard actions done through tasks, and the
    /// account's industry.
    pub async fn rule_facts(
        &self,
        opportunity_ids: &[i64],
        kinds: &[&str],
        now: OffsetDateTime,
    ) -> Result<RuleFactRows, StoreError> {
        let mut out = RuleFactRows {
            last_follow_up: self
                .last_follow_ups(opportunity_ids, kinds, now)
                .await?
                .into_iter()
                .collect(),
            ..Default::default()
        };
        for ids in opportunity_ids.chunks(CHUNK) {
            let mut tasks = Sql::new(
                "SELECT record_id, due_date, done, action_key, archived FROM tasks WHERE record_kind = ",
            );
            tasks
                .bind("opportunity")
                .push(" AND record_id IN ")
                .bind_list(ids);
            let mut industry = Sql::new(
                "SELECT o.id AS id, a.industry AS industry FROM opportunities o JOIN accounts a ON a.id = o.account_id WHERE a.industry IS NOT NULL AND o.id IN ",
            );
            industry.bind_list(ids);
            on_pool!(self, p => {
                for r in bind_all!(sqlx::query(&tasks.text), &tasks.args).fetch_all(p).await?.iter() {
                    if r.bool("archived")? {
                        continue;
                    }
                    let id = r.i64("record_id")?;
                    if r.bool("done")? {
                        if let Some(k) = r.opt_text("action_key")? {
                            out.actions_by_tasks.entry(id).or_default().insert(k);
                        }
                    } else if let Some(d) = r.opt_date("due_date")? {
                        out.open_task_due.entry(id).or_default().push(d);
                    }
                }
                for r in bind_all!(sqlx::query(&industry.text), &industry.args).fetch_all(p).await?.iter() {
                    let v = r.text("industry")?;
                    if !v.is_empty() {
                        out.industry.insert(r.i64("id")?, v);
                    }
                }
            });
        }
        Ok(out)
    }

    /// The leads rules watch (new or being worked, unarchived) after id `after`, by id.
    pub async fn open_leads_after(&self, after: i64, limit: i64) -> Result<Vec<Lead>, StoreError> {
        let mut sql = Sql::new("SELECT * FROM leads WHERE status IN ");
        sql.bind_text_list(&["new", "working"]);
        sql.push(" AND archived = ").bind(false);
        sql.push(" AND id > ").bind(after);
        sql.push(" ORDER BY id LIMIT ").bind(limit);
        let mut items: Vec<Lead> = on_pool!(self, p => {
            let rows = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?;
            rows.iter().map(Lead::from_row).collect::<Result<Vec<_>, _>>()?
        });
        self.fill_custom(&mut items).await?;
        Ok(items)
    }

    /// The unarchived accounts after id `after`, by id.
    pub async fn live_accounts_after(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<Account>, StoreError> {
        let mut sql = Sql::new("SELECT * FROM accounts WHERE archived = ");
        sql.bind(false).push(" AND id > ").bind(after);
        sql.push(" ORDER BY id LIMIT ").bind(limit);
        let mut items: Vec<Account> = on_pool!(self, p => {
            let rows = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?;
            rows.iter().map(Account::from_row).collect::<Result<Vec<_>, _>>()?
        });
        self.fill_custom(&mut items).await?;
        Ok(items)
    }

    /// For each of these leads with one: its first and latest unarchived follow-up of a
    /// kind in `kinds`, not after `now`.
    pub async fn lead_follow_up_span(
        &self,
        lead_ids: &[i64],
        kinds: &[&str],
        now: OffsetDateTime,
    ) -> Result<BTreeMap<i64, (OffsetDateTime, OffsetDateTime)>, StoreError> {
        let mut out = BTreeMap::new();
        for ids in lead_ids.chunks(CHUNK) {
            let mut sql = Sql::new(
                "SELECT lead_id, MIN(occurred_at) AS first_at, MAX(occurred_at) AS last_at FROM activities WHERE archived = ",
            );
            sql.bind(false).push(" AND kind IN ").bind_text_list(kinds);
            sql.push(" AND occurred_at <= ").bind(now);
            sql.push(" AND lead_id IN ").bind_list(ids);
            sql.push(" GROUP BY lead_id");
            on_pool!(self, p => {
                for r in bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?.iter() {
                    out.insert(r.i64("lead_id")?, (r.ts("first_at")?, r.ts("last_at")?));
                }
            });
        }
        Ok(out)
    }

    /// For these accounts: the latest unarchived follow-up of a kind in `kinds` not after
    /// `now` (on the account or any of its opportunities), and how many open, unarchived
    /// opportunities each has.
    pub async fn account_rule_facts(
        &self,
        account_ids: &[i64],
        kinds: &[&str],
        now: OffsetDateTime,
    ) -> Result<(BTreeMap<i64, OffsetDateTime>, BTreeMap<i64, u32>), StoreError> {
        let (mut last, mut open) = (BTreeMap::new(), BTreeMap::new());
        for ids in account_ids.chunks(CHUNK) {
            let mut touches = Sql::new(
                "SELECT COALESCE(a.account_id, o.account_id) AS account_id, MAX(a.occurred_at) AS last_at FROM activities a LEFT JOIN opportunities o ON o.id = a.opportunity_id WHERE a.archived = ",
            );
            touches
                .bind(false)
                .push(" AND a.kind IN ")
                .bind_text_list(kinds);
            touches.push(" AND a.occurred_at <= ").bind(now);
            touches
                .push(" AND COALESCE(a.account_id, o.account_id) IN ")
                .bind_list(ids);
            touches.push(" GROUP BY COALESCE(a.account_id, o.account_id)");
            let mut opps =
                Sql::new("SELECT account_id, COUNT(*) AS n FROM opportunities WHERE status = ");
            opps.bind("open").push(" AND archived = ").bind(false);
            opps.push(" AND account_id IN ").bind_list(ids);
            opps.push(" GROUP BY account_id");
            on_pool!(self, p => {
                for r in bind_all!(sqlx::query(&touches.text), &touches.args).fetch_all(p).await?.iter() {
                    last.insert(r.i64("account_id")?, r.ts("last_at")?);
                }
                for r in bind_all!(sqlx::query(&opps.text), &opps.args).fetch_all(p).await?.iter() {
                    open.insert(r.i64("account_id")?, r.i64("n")? as u32);
                }
            });
        }
        Ok((last, open))
    }
}
