//! Web-to-lead forms (the checked definition as JSON) and the log of their submissions,
//! which the rate limits count.

use std::collections::BTreeMap;

use shangji_core::model::{Id, UserId};
use shangji_core::web_forms::{count_since, minute_of, Submission, WebForm, WebFormInput};
use time::OffsetDateTime;

use crate::db::{bind_all, Db, RowExt, Sql};
use crate::error::StoreError;
use crate::on_pool;

fn form_from_row<R: RowExt>(r: &R) -> Result<WebForm, StoreError> {
    let input: WebFormInput = r.json("form")?;
    Ok(WebForm {
        id: r.i64("id")?,
        slug: r.text("slug")?,
        name: input.name,
        enabled: input.enabled,
        heading: input.heading,
        intro: input.intro,
        thank_you: input.thank_you,
        language: input.language,
        source: input.source,
        fields: input.fields,
        owner_id: input.owner_id,
        team_id: input.team_id,
        anti_spam: input.anti_spam,
        secret: r.text("secret")?,
        archived: r.bool("archived")?,
        version: r.i64("version")?,
        created_at: r.ts("created_at")?,
        updated_at: r.ts("updated_at")?,
    })
}

fn form_json(form: &WebForm) -> Result<String, StoreError> {
    let mut input = form.to_input();
    input.slug = None;
    serde_json::to_string(&input).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn json_of(map: &BTreeMap<String, String>) -> String {
    serde_json::to_string(map).unwrap_or_else(|_| "{}".into())
}

fn submission_from_row<R: RowExt>(r: &R) -> Result<Submission, StoreError> {
    Ok(Submission {
        id: r.i64("id")?,
        form_id: r.i64("form_id")?,
        at: r.ts("at")?,
        via: r.parse("via")?,
        outcome: r.parse("outcome")?,
        refusal: r.opt_parse("refusal")?,
        address: r.text("address")?,
        lead_id: r.opt_i64("lead_id")?,
        utm: r.json("utm")?,
        values: r.json("submitted")?,
    })
}

impl Db {
    /// Every form, newest first (archived ones included).
    pub async fn web_forms(&self) -> Result<Vec<WebForm>, StoreError> {
        on_pool!(self, p => {
            let rows = sqlx::query("SELECT * FROM web_forms ORDER BY id DESC").fetch_all(p).await?;
            rows.iter().map(form_from_row).collect()
        })
    }

    pub async fn web_form(&self, id: Id) -> Result<Option<WebForm>, StoreError> {
        let mut sql = Sql::new("SELECT * FROM web_forms WHERE id = ");
        sql.bind(id);
        self.one_form(sql).await
    }

    pub async fn web_form_by_slug(&self, slug: &str) -> Result<Option<WebForm>, StoreError> {
        let mut sql = Sql::new("SELECT * FROM web_forms WHERE slug = ");
        sql.bind(slug);
        self.one_form(sql).await
    }

    async fn one_form(&self, sql: Sql) -> Result<Option<WebForm>, StoreError> {
        on_pool!(self, p => {
            let row = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_optional(p).await?;
            row.as_ref().map(form_from_row).transpose()
        })
    }

    /// Stores a new form; its id. A slug in use is a conflict on `slug`.
    pub async fn insert_web_form(&self, form: &WebForm) -> Result<Id, StoreError> {
        let mut sql = Sql::new(
            "INSERT INTO web_forms (slug, form, secret, archived, version, created_at, updated_at) VALUES (",
        );
        sql.bind(form.slug.clone())
            .push(", ")
            .bind(form_json(form)?);
        sql.push(", ")
            .bind(form.secret.clone())
            .push(", ")
            .bind(form.archived);
        sql.push(", 1, ")
            .bind(form.created_at)
            .push(", ")
            .bind(form.updated_at);
        sql.push(") RETURNING id");
        let _writer = self.writer().await;
        on_pool!(self, p => Ok(bind_all!(sqlx::query_scalar(&sql.text), &sql.args).fetch_one(p).await?))
    }

    /// Replaces a form if its version is still `expected_version`; the new version.
    pub async fn update_web_form(
        &self,
        form: &WebForm,
        expected_version: i64,
    ) -> Result<i64, StoreError> {
        let mut sql = Sql::new("UPDATE web_forms SET slug = ");
        sql.bind(form.slug.clone())
            .push(", form = ")
            .bind(form_json(form)?);
        sql.push(", secret = ").bind(form.secret.clone());
        sql.push(", archived = ").bind(form.archived);
        sql.push(", version = version + 1, updated_at = ")
            .bind(form.updated_at);
        sql.push(" WHERE id = ").bind(form.id);
        sql.push(" AND version = ").bind(expected_version);
        if self.execute(&sql).await? == 0 {
            return match self.web_form(form.id).await? {
                None => Err(StoreError::NotFound),
                Some(f) => Err(StoreError::Conflict {
                    current_version: f.version,
                }),
            };
        }
        Ok(expected_version + 1)
    }

    /// Submissions to `form_id` since `since`, and from `address` (to any form) since
    /// `address_since`: what the rate limits count, each up to its `cap` (more is refused
    /// alike). Read from the per-minute counts (`web_forms::count_since`), so that a flood
    /// costs no more to count than a quiet day.
    pub async fn recent_submissions(
        &self,
        (form_id, since, form_cap): (Id, OffsetDateTime, u32),
        (address, address_since, address_cap): (&str, OffsetDateTime, u32),
    ) -> Result<(u32, u32), StoreError> {
        let mut sql = Sql::new("SELECT scope, minute, n FROM web_form_rates WHERE (scope = ");
        sql.bind(format!("form:{form_id}"))
            .push(" AND minute >= ")
            .bind(minute_of(since));
        sql.push(") OR (scope = ")
            .bind(format!("address:{address}"))
            .push(" AND minute >= ")
            .bind(minute_of(address_since))
            .push(")");
        let (mut form, mut from) = (Vec::new(), Vec::new());
        on_pool!(self, p => {
            for r in bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?.iter() {
                let bucket = (r.i64("minute")?, r.i64("n")? as u32);
                if r.text("scope")?.starts_with("form:") {
                    form.push(bucket);
                } else {
                    from.push(bucket);
                }
            }
        });
        Ok((
            count_since(&form, since).min(form_cap),
            count_since(&from, address_since).min(address_cap),
        ))
    }

    /// Logs a submission; its id.
    pub async fn log_submission(&self, s: &Submission) -> Result<Id, StoreError> {
        let mut sql = Sql::new(
            "INSERT INTO web_form_submissions (form_id, at, via, outcome, refusal, address, lead_id, utm, submitted) VALUES (",
        );
        sql.bind(s.form_id).push(", ").bind(s.at);
        sql.push(", ")
            .bind(s.via.as_str())
            .push(", ")
            .bind(s.outcome.as_str());
        sql.push(", ").bind(s.refusal.map(|r| r.as_str()));
        sql.push(", ")
            .bind(s.address.clone())
            .push(", ")
            .bind(s.lead_id);
        sql.push(", ").bind(json_of(&s.utm));
        sql.push(", ")
            .bind(json_of(&s.values))
            .push(") RETURNING id");
        let _writer = self.writer().await;
        on_pool!(self, p => Ok(bind_all!(sqlx::query_scalar(&sql.text), &sql.args).fetch_one(p).await?))
    }

    /// Deletes the refused submissions logged before `before` (accepted ones stay: they tell
    /// where a lead came from); how many.
    pub async fn prune_refused_submissions(
        &self,
        before: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let mut sql = Sql::new("DELETE FROM web_form_submissions WHERE outcome = ");
        sql.bind("refused").push(" AND at < ").bind(before);
        self.execute(&sql).await
    }

    /// Deletes the per-minute submission counts before `before` (older than any rate limit's
    /// window); how many.
    pub async fn prune_submission_rates(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        let mut sql = Sql::new("DELETE FROM web_form_rates WHERE minute < ");
        sql.bind(minute_of(before));
        self.execute(&sql).await
    }

    /// A form's latest submissions, newest first.
    pub async fn submissions(
        &self,
        form_id: Id,
        limit: i64,
    ) -> Result<Vec<Submission>, StoreError> {
        let mut sql = Sql::new("SELECT * FROM web_form_submissions WHERE form_id = ");
        sql.bind(form_id)
            .push(" ORDER BY at DESC, id DESC LIMIT ")
            .bind(limit);
        self.some_submissions(sql).await
    }

    /// The submission that made a lead, if it came in through a form.
    pub async fn submission_of_lead(&self, lead_id: Id) -> Result<Option<Submission>, StoreError> {
        let mut sql = Sql::new("SELECT * FROM web_form_submissions WHERE lead_id = ");
        sql.bind(lead_id).push(" ORDER BY id LIMIT 1");
        Ok(self.some_submissions(sql).await?.pop())
    }

    /// Accepted and refused submissions per form.
    pub async fn submission_counts(&self) -> Result<BTreeMap<Id, (u32, u32)>, StoreError> {
        let sql = "SELECT form_id, outcome, COUNT(*) AS n FROM web_form_submissions GROUP BY form_id, outcome";
        on_pool!(self, p => {
            let rows = sqlx::query(sql).fetch_all(p).await?;
            let mut out: BTreeMap<Id, (u32, u32)> = BTreeMap::new();
            for r in &rows {
                let e = out.entry(r.i64("form_id")?).or_default();
                let n = r.i64("n")? as u32;
                if r.text("outcome")? == "accepted" {
                    e.0 += n;
                } else {
                    e.1 += n;
                }
            }
            Ok(out)
        })
    }

    /// Open leads (new or working, not archived) of each of `owners` and the newest creation
    /// time of a lead that became theirs: what the least-loaded pick of a team reads, from
    /// the counts kept as leads are written (migration 0029).
    pub async fn open_lead_load(
        &self,
        owners: &[UserId],
    ) -> Result<(BTreeMap<UserId, u32>, BTreeMap<UserId, OffsetDateTime>), StoreError> {
        if owners.is_empty() {
            return Ok(Default::default());
        }
        let mut sql =
            Sql::new("SELECT owner_id, open_leads, latest FROM lead_loads WHERE owner_id IN ");
        sql.bind_list(owners);
        on_pool!(self, p => {
            let rows = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?;
            let (mut load, mut latest) = (BTreeMap::new(), BTreeMap::new());
            for r in &rows {
                let owner = r.i64("owner_id")?;
                load.insert(owner, r.i64("open_leads")? as u32);
                latest.insert(owner, r.ts("latest")?);
            }
            Ok((load, latest))
        })
    }

    async fn some_submissions(&self, sql: Sql) -> Result<Vec<Submission>, StoreError> {
        on_pool!(self, p => {
            let rows = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?;
            rows.iter().map(submission_from_row).collect()
        })
    }
}
