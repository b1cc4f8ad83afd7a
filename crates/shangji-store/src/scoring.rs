//! Lead scoring: what a lead is scored on (the lead with its custom values, its follow-ups and
//! accepted web form submissions), saving scores in batches with the history of changes, and
//! the closed leads the model learns from.

use std::collections::BTreeMap;

use shangji_core::model::{ActivityType, Lead, LeadId};
use shangji_core::scoring::{LeadGrade, Scored, Touch, TouchKind};
use time::OffsetDateTime;

use crate::db::{bind_all, ms, Db, RowExt, Sql};
use crate::entity::Entity;
use crate::error::StoreError;
use crate::on_pool;

/// Leads a statement of [`Db::save_lead_scores`] writes (4 parameters each): SQLite looks a
/// numbered parameter up by a walk of the statement's list, so a statement's binding costs
/// the square of its parameters — 100 rows keep it small beside the statement's work.
const SCORE_ROWS: usize = 100;

/// One change of a lead's score or grade.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct ScoreEvent {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub score: i32,
    pub grade: LeadGrade,
    pub previous_score: Option<i32>,
    pub previous_grade: Option<LeadGrade>,
}

/// A lead's score as stored: what the lead row holds now.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredScore {
    pub score: Option<i32>,
    pub grade: Option<LeadGrade>,
    pub detail: Option<Scored>,
}

/// A score to save.
#[derive(Debug, Clone)]
pub struct NewScore {
    pub lead_id: LeadId,
    pub scored: Scored,
    /// `scored` as JSON (what is stored and compared).
    pub detail: String,
    /// What the lead had, to tell whether the history gets a row.
    pub previous: (Option<i32>, Option<LeadGrade>),
}

impl NewScore {
    /// Whether the score or the grade changed (the lead's history gets a row).
    pub fn changed(&self) -> bool {
        self.previous != (Some(self.scored.score), Some(self.scored.grade))
    }
}

impl Db {
    /// Leads with ids above `after`, by id, at most `limit`, with their custom values: a
    /// batch of the whole-company rescoring (archived leads included: their history stays
    /// true).
    pub async fn leads_after(&self, after: LeadId, limit: i64) -> Result<Vec<Lead>, StoreError> {
        let mut sql = Sql::new("SELECT * FROM leads WHERE id > ");
        sql.bind(after).push(" ORDER BY id LIMIT ").bind(limit);
        let mut items: Vec<Lead> = on_pool!(self, p => {
            let rows = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?;
            rows.iter().map(Lead::from_row).collect::<Result<Vec<_>, _>>()?
        });
        self.fill_custom(&mut items).await?;
        Ok(items)
    }

    /// The touches of each lead with an id from `first` to `last`: unarchived follow-ups
    /// (kind and time) and accepted web form submissions. By id range, so that a batch of
    /// consecutive leads costs two queries.
    pub async fn lead_touches(
        &self,
        first: LeadId,
        last: LeadId,
    ) -> Result<BTreeMap<LeadId, Vec<Touch>>, StoreError> {
        let mut out: BTreeMap<LeadId, Vec<Touch>> = BTreeMap::new();
        // Follow-ups (with their kind), then accepted submissions (kind NULL), in one read.
        let mut sql = Sql::new(
            "SELECT lead_id, kind, occurred_at AS at, 0 AS src, id FROM activities WHERE archived = ",
        );
        sql.bind(false).push(" AND lead_id BETWEEN ").bind(first);
        sql.push(" AND ").bind(last);
        sql.push(
            " UNION ALL SELECT lead_id, NULL, at, 1, id FROM web_form_submissions WHERE outcome = ",
        );
        sql.bind("accepted")
            .push(" AND lead_id BETWEEN ")
            .bind(first);
        sql.push(" AND ")
            .bind(last)
            .push(" ORDER BY lead_id, src, id");
        on_pool!(self, p => {
            for r in bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?.iter() {
                let kind = match r.opt_parse::<ActivityType>("kind")? {
                    Some(a) => TouchKind::Activity(a),
                    None => TouchKind::FormSubmission,
                };
                out.entry(r.i64("lead_id")?).or_default().push(Touch {
                    kind,
                    at: r.ts("at")?,
                });
            }
        });
        Ok(out)
    }

    /// The stored explanations (JSON) of the leads with an id from `first` to `last`: a score
    /// that says the same is not written again.
    pub async fn lead_score_details(
        &self,
        first: LeadId,
        last: LeadId,
    ) -> Result<BTreeMap<LeadId, String>, StoreError> {
        let mut sql = Sql::new("SELECT id, score_detail FROM leads WHERE id BETWEEN ");
        sql.bind(first).push(" AND ").bind(last);
        sql.push(" AND score_detail IS NOT NULL");
        on_pool!(self, p => {
            let rows = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?;
            rows.iter().map(|r| Ok((r.i64("id")?, r.text("score_detail")?))).collect()
        })
    }

    /// The closed leads with ids above `after` (at most `limit`, by id): id, whether it was
    /// qualified, and the columns the model learns from — what training reads, without the
    /// rest of the row.
    pub async fn closed_leads_after(
        &self,
        after: LeadId,
        limit: i64,
    ) -> Result<Vec<(Lead, bool)>, StoreError> {
        let mut sql =
            Sql::new("SELECT * FROM leads WHERE status IN ('qualified', 'disqualified') AND id > ");
        sql.bind(after).push(" ORDER BY id LIMIT ").bind(limit);
        let mut leads: Vec<Lead> = on_pool!(self, p => {
            let rows = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?;
            rows.iter().map(Lead::from_row).collect::<Result<Vec<_>, _>>()?
        });
        // Custom values are features too.
        self.fill_custom(&mut leads).await?;
        Ok(leads
            .into_iter()
            .map(|lead| {
                let qualified = lead.status == shangji_core::model::LeadStatus::Qualified;
                (lead, qualified)
            })
            .collect())
    }

    /// A lead's stored score and its explanation.
    pub async fn lead_score(&self, id: LeadId) -> Result<Option<StoredScore>, StoreError> {
        let mut sql = Sql::new("SELECT score, grade, score_detail FROM leads WHERE id = ");
        sql.bind(id);
        on_pool!(self, p => {
            let Some(r) = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_optional(p).await? else {
                return Ok(None);
            };
            let detail = r
                .opt_text("score_detail")?
                .and_then(|j| serde_json::from_str(&j).ok());
            Ok(Some(StoredScore {
                score: r.opt_i32("score")?,
                grade: r.opt_parse("grade")?,
                detail,
            }))
        })
    }

    /// Saves scores in one transaction; a lead whose score or grade changed gets a row in its
    /// history. Does not change the lead's version: a score is derived, not edited. Written
    /// [`SCORE_ROWS`] leads a statement: the daily scoring writes every lead.
    pub async fn save_lead_scores(
        &self,
        scores: &[NewScore],
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        if scores.is_empty() {
            return Ok(());
        }
        let mut statements = Vec::new();
        for chunk in scores.chunks(SCORE_ROWS) {
            let mut update = Sql::new("WITH v (id, score, grade, detail) AS (VALUES ");
            for (i, s) in chunk.iter().enumerate() {
                update.push(if i == 0 { "(" } else { ", (" });
                update
                    .bind(s.lead_id)
                    .push(", ")
                    .bind(s.scored.score)
                    .push(", ");
                update.bind(s.scored.grade.as_str()).push(", ");
                update.bind(s.detail.as_str()).push(")");
            }
            update.push(
                ") UPDATE leads SET score = v.score, grade = v.grade, score_detail = v.detail \
                 FROM v WHERE leads.id = v.id",
            );
            statements.push(update);
            let changed: Vec<&NewScore> = chunk.iter().filter(|s| s.changed()).collect();
            if changed.is_empty() {
                continue;
            }
            let mut events = Sql::new(
                "INSERT INTO lead_score_events (lead_id, at, score, grade, previous_score, previous_grade) VALUES ",
            );
            for (i, s) in changed.iter().enumerate() {
                events.push(if i == 0 { "(" } else { ", (" });
                events.bind(s.lead_id).push(", ").bind(ms(now)).push(", ");
                events
                    .bind(s.scored.score)
                    .push(", ")
                    .bind(s.scored.grade.as_str());
                events.push(", ").bind(s.previous.0).push(", ");
                events.bind(s.previous.1.map(|g| g.as_str())).push(")");
            }
            statements.push(events);
        }
        let _writer = self.writer().await;
        on_pool!(self, p => {
            let mut tx = p.begin_with(self.write_begin()).await?;
            for sql in &statements {
                bind_all!(sqlx::query(&sql.text), &sql.args).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// Forgets every lead's score and score history: the intake benchmark times a first
    /// scoring on each run.
    pub async fn forget_lead_scores(&self) -> Result<(), StoreError> {
        self.execute(&Sql::new(
            "UPDATE leads SET score = NULL, grade = NULL, score_detail = NULL",
        ))
        .await?;
        self.execute(&Sql::new("DELETE FROM lead_score_events"))
            .await?;
        Ok(())
    }

    /// A lead's score history, oldest first.
    pub async fn lead_score_events(&self, id: LeadId) -> Result<Vec<ScoreEvent>, StoreError> {
        let mut sql = Sql::new("SELECT * FROM lead_score_events WHERE lead_id = ");
        sql.bind(id).push(" ORDER BY at, id");
        on_pool!(self, p => {
            let rows = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?;
            rows.iter()
                .map(|r| {
                    Ok(ScoreEvent {
                        at: r.ts("at")?,
                        score: r.i32("score")?,
                        grade: r.parse("grade")?,
                        previous_score: r.opt_i32("previous_score")?,
                        previous_grade: r.opt_parse("previous_grade")?,
                    })
                })
                .collect()
        })
    }
}
