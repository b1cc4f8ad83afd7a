//! Users, teams, sign-in sessions, API tokens and pipelines.

use std::sync::Arc;

use shangji_core::approval::ApprovalPolicy;
use shangji_core::custom_fields::CustomFieldDef;
use shangji_core::model::*;
use shangji_core::process::{LossReason, StageSpec, TransitionPolicy};
use shangji_core::visibility::Org;
use time::OffsetDateTime;

use crate::db::{bind_all, Db, RowExt, Sql};
use crate::entity::{stage_from_row, tags_json, team_from_row, user_columns, user_from_row};
use crate::error::StoreError;
use crate::on_pool;

/// An API token as listed to its owner (the secret itself is never stored).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct ApiToken {
    pub id: i64,
    pub user_id: UserId,
    pub name: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
}

/// What visibility and the opportunity rules read on every request: the organisation chart,
/// the pipelines and the custom field definitions. Each instance keeps the last one read and reuses it while
/// `directory_version` is unchanged; triggers move that version on every change to teams,
/// users, pipelines, stages, custom fields and rules, whichever instance makes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Directory {
    pub version: i64,
    pub org: Org,
    /// Every user, inactive ones too, by id: who may own a record, receive a lead, be named
    /// in a file — read on every write without a query.
    pub users: Vec<User>,
    pub pipelines: Vec<Pipeline>,
    /// The loss-reason taxonomy, archived reasons included.
    pub loss_reasons: Vec<LossReason>,
    /// The approval policies, inactive ones included.
    pub approval_policies: Vec<ApprovalPolicy>,
    /// Every custom field, archived ones too, by record kind and position.
    pub custom_fields: Vec<CustomFieldDef>,
    /// The enabled event-triggered rules (scheduled ones are the scheduler's), by id: read
    /// after every write of a deal, lead or account.
    pub event_rules: Vec<shangji_core::rules::Rule>,
}

impl Directory {
    pub fn pipeline(&self, id: PipelineId) -> Option<&Pipeline> {
        self.pipelines.iter().find(|p| p.id == id)
    }

    pub fn user(&self, id: UserId) -> Option<&User> {
        self.users.iter().find(|u| u.id == id)
    }

    pub fn custom_field(&self, id: Id) -> Option<&CustomFieldDef> {
        self.custom_fields.iter().find(|f| f.id == id)
    }

    /// The custom fields of one record kind, archived ones too, in order.
    pub fn custom_fields_of(&self, kind: RecordKind) -> impl Iterator<Item = &CustomFieldDef> {
        self.custom_fields
            .iter()
            .filter(move |f| f.record_kind == kind)
    }
}

/// The directory version, as a column of the sign-in queries (which so cost no extra query).
const DIRECTORY_VERSION: &str =
    "(SELECT version FROM directory_version WHERE id = 1) AS directory_version";

/// A signed-in user: by session (with its CSRF token) or by API token.
#[derive(Debug, Clone, PartialEq)]
pub struct Authenticated {
    pub user: User,
    pub csrf: Option<String>,
    /// The directory version when the user was read.
    pub directory_version: i64,
}

impl Db {
    /// The current directory: the cached one while its version holds (one small query),
    /// otherwise read afresh.
    pub async fn directory(&self) -> Result<Arc<Directory>, StoreError> {
        let version: i64 = on_pool!(self, p => {
            sqlx::query_scalar("SELECT version FROM directory_version WHERE id = 1").fetch_one(p).await?
        });
        self.directory_at(version).await
    }

    /// The directory at `version` (just read from the database), from the cache when it
    /// holds that version.
    pub async fn directory_at(&self, version: i64) -> Result<Arc<Directory>, StoreError> {
        let cached = self
            .shared
            .directory
            .lock()
            .expect("directory cache")
            .clone();
        if let Some(d) = cached.filter(|d| d.version == version) {
            return Ok(d);
        }
        // Read after the version: what is read is at least as new as `version`.
        let teams = self.teams().await?;
        let people = self.users().await?;
        let users = people.iter().map(|u| (u.id, u.team_id)).collect();
        let pipelines = self.pipelines().await?;
        let loss_reasons = self.loss_reasons().await?;
        let approval_policies = self.approval_policies().await?;
        let custom_fields = self.custom_fields().await?;
        let event_rules = self.enabled_rules(false).await?;
        let fresh = Arc::new(Directory {
            version,
            org: Org { teams, users },
            users: people,
            pipelines,
            loss_reasons,
            approval_policies,
            custom_fields,
            event_rules: event_rules.into_iter().map(|r| r.rule).collect(),
        });
        let mut cache = self.shared.directory.lock().expect("directory cache");
        if cache.as_ref().is_none_or(|d| d.version <= version) {
            *cache = Some(fresh.clone());
        }
        Ok(fresh)
    }

    pub async fn teams(&self) -> Result<Vec<Team>, StoreError> {
        on_pool!(self, p => {
            let rows = sqlx::query("SELECT * FROM teams ORDER BY id").fetch_all(p).await?;
            rows.iter().map(team_from_row).collect()
        })
    }

    pub async fn insert_team(&self, t: &Team, now: OffsetDateTime) -> Result<TeamId, StoreError> {
        let mut sql =
            Sql::new("INSERT INTO teams (name, parent_id, archived, regions, created_at) VALUES (");
        sql.bind(t.name.clone())
            .push(", ")
            .bind(t.parent_id)
            .push(", ")
            .bind(t.archived)
            .push(", ")
            .bind(tags_json(&t.regions));
        sql.push(", ").bind(now).push(") RETURNING id");
        on_pool!(self, p => Ok(bind_all!(sqlx::query_scalar(&sql.text), &sql.args).fetch_one(p).await?))
    }

    pub async fn update_team(&self, t: &Team) -> Result<(), StoreError> {
        let mut sql = Sql::new("UPDATE teams SET name = ");
        sql.bind(t.name.clone())
            .push(", parent_id = ")
            .bind(t.parent_id);
        sql.push(", archived = ")
            .bind(t.archived)
            .push(", regions = ")
            .bind(tags_json(&t.regions))
            .push(" WHERE id = ")
            .bind(t.id);
        match self.execute(&sql).await? {
            0 => Err(StoreError::NotFound),
            _ => Ok(()),
        }
    }

    pub async fn insert_user(
        &self,
        u: &User,
        password_hash: Option<&str>,
    ) -> Result<UserId, StoreError> {
        let cols = user_columns(u);
        let mut sql = Sql::new("INSERT INTO users (");
        sql.push(&cols.iter().map(|(c, _)| *c).collect::<Vec<_>>().join(", "));
        sql.push(", password_hash) VALUES (");
        for (_, v) in cols {
            sql.bind(v).push(", ");
        }
        sql.bind(password_hash).push(") RETURNING id");
        on_pool!(self, p => Ok(bind_all!(sqlx::query_scalar(&sql.text), &sql.args).fetch_one(p).await?))
    }

    /// Inserts users with their own ids (demo data).
    pub async fn bulk_insert_users(&self, users: &[(User, String)]) -> Result<(), StoreError> {
        for (u, hash) in users {
            let cols = user_columns(u);
            let mut sql = Sql::new("INSERT INTO users (id, ");
            sql.push(&cols.iter().map(|(c, _)| *c).collect::<Vec<_>>().join(", "));
            sql.push(", password_hash) VALUES (").bind(u.id).push(", ");
            for (_, v) in cols {
                sql.bind(v).push(", ");
            }
            sql.bind(hash.clone()).push(")");
            self.execute(&sql).await?;
        }
        Ok(())
    }

    /// Inserts teams with their own ids, parents first (demo data).
    pub async fn bulk_insert_teams(
        &self,
        teams: &[Team],
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        for t in teams {
            let mut sql = Sql::new(
                "INSERT INTO teams (id, name, parent_id, archived, regions, created_at) VALUES (",
            );
            sql.bind(t.id)
                .push(", ")
                .bind(t.name.clone())
                .push(", ")
                .bind(t.parent_id);
            sql.push(", ")
                .bind(t.archived)
                .push(", ")
                .bind(tags_json(&t.regions))
                .push(", ")
                .bind(now)
                .push(")");
            self.execute(&sql).await?;
        }
        Ok(())
    }

    pub async fn update_user(&self, u: &User) -> Result<(), StoreError> {
        let mut sql = Sql::new("UPDATE users SET ");
        for (col, v) in user_columns(u)
            .into_iter()
            .filter(|(c, _)| *c != "login" && *c != "created_at")
        {
            sql.push(&format!("{col} = ")).bind(v).push(", ");
        }
        sql.push("id = id WHERE id = ").bind(u.id);
        match self.execute(&sql).await? {
            0 => Err(StoreError::NotFound),
            _ => Ok(()),
        }
    }

    pub async fn set_password(&self, user_id: UserId, hash: &str) -> Result<(), StoreError> {
        let mut sql = Sql::new("UPDATE users SET password_hash = ");
        sql.bind(hash).push(" WHERE id = ").bind(user_id);
        match self.execute(&sql).await? {
            0 => Err(StoreError::NotFound),
            _ => {
                // A new password ends every open session.
                let mut del = Sql::new("DELETE FROM sessions WHERE user_id = ");
                del.bind(user_id);
                self.execute(&del).await?;
                Ok(())
            }
        }
    }

    pub async fn users(&self) -> Result<Vec<User>, StoreError> {
        on_pool!(self, p => {
            let rows = sqlx::query("SELECT * FROM users ORDER BY id").fetch_all(p).await?;
            rows.iter().map(user_from_row).collect()
        })
    }

    pub async fn user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        on_pool!(self, p => {
            let row = sqlx::query("SELECT * FROM users WHERE id = $1").bind(id).fetch_optional(p).await?;
            row.as_ref().map(user_from_row).transpose()
        })
    }

    /// A user and their password hash, by login.
    pub async fn user_by_login(
        &self,
        login: &str,
    ) -> Result<Option<(User, Option<String>)>, StoreError> {
        on_pool!(self, p => {
            let row = sqlx::query("SELECT * FROM users WHERE login = $1")
                .bind(login.trim().to_lowercase())
                .fetch_optional(p)
                .await?;
            row.as_ref().map(|r| Ok((user_from_row(r)?, r.opt_text("password_hash")?))).transpose()
        })
    }

    pub async fn insert_session(
        &self,
        token_hash: &str,
        user_id: UserId,
        csrf: &str,
        now: OffsetDateTime,
        expires: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut sql = Sql::new("INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) VALUES (");
        sql.bind(token_hash)
            .push(", ")
            .bind(user_id)
            .push(", ")
            .bind(csrf);
        sql.push(", ").bind(now).push(", ").bind(expires).push(")");
        self.execute(&sql).await?;
        Ok(())
    }

    /// The active user of a live session, with the session's CSRF token.
    pub async fn session(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<Authenticated>, StoreError> {
        let mut sql = Sql::new(&format!(
            "SELECT u.*, s.csrf_token, {DIRECTORY_VERSION} FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = "
        ));
        sql.bind(token_hash)
            .push(" AND s.expires_at > ")
            .bind(now)
            .push(" AND u.active = ")
            .bind(true);
        on_pool!(self, p => {
            let row = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_optional(p).await?;
            row.as_ref().map(|r| Ok(Authenticated {
                user: user_from_row(r)?,
                csrf: Some(r.text("csrf_token")?),
                directory_version: r.i64("directory_version")?,
            })).transpose()
        })
    }

    pub async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
        let mut sql = Sql::new("DELETE FROM sessions WHERE token_hash = ");
        sql.bind(token_hash);
        self.execute(&sql).await?;
        Ok(())
    }

    pub async fn insert_token(
        &self,
        user_id: UserId,
        name: &str,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> Result<i64, StoreError> {
        let mut sql =
            Sql::new("INSERT INTO api_tokens (user_id, name, token_hash, created_at) VALUES (");
        sql.bind(user_id)
            .push(", ")
            .bind(name)
            .push(", ")
            .bind(token_hash)
            .push(", ")
            .bind(now);
        sql.push(") RETURNING id");
        on_pool!(self, p => Ok(bind_all!(sqlx::query_scalar(&sql.text), &sql.args).fetch_one(p).await?))
    }

    pub async fn tokens(&self, user_id: UserId) -> Result<Vec<ApiToken>, StoreError> {
        on_pool!(self, p => {
            let rows = sqlx::query("SELECT * FROM api_tokens WHERE user_id = $1 ORDER BY id")
                .bind(user_id)
                .fetch_all(p)
                .await?;
            rows.iter()
                .map(|r| {
                    Ok(ApiToken {
                        id: r.i64("id")?,
                        user_id: r.i64("user_id")?,
                        name: r.text("name")?,
                        created_at: r.ts("created_at")?,
                        revoked_at: r.opt_ts("revoked_at")?,
                    })
                })
                .collect()
        })
    }

    pub async fn revoke_token(
        &self,
        user_id: UserId,
        token_id: i64,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut sql = Sql::new("UPDATE api_tokens SET revoked_at = ");
        sql.bind(now)
            .push(" WHERE id = ")
            .bind(token_id)
            .push(" AND user_id = ")
            .bind(user_id);
        sql.push(" AND revoked_at IS NULL");
        match self.execute(&sql).await? {
            0 => Err(StoreError::NotFound),
            _ => Ok(()),
        }
    }

    /// Revokes every live API token of `user_id`; how many.
    pub async fn revoke_tokens_of(
        &self,
        user_id: UserId,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let mut sql = Sql::new("UPDATE api_tokens SET revoked_at = ");
        sql.bind(now)
            .push(" WHERE user_id = ")
            .bind(user_id)
            .push(" AND revoked_at IS NULL");
        self.execute(&sql).await
    }

    /// The active user holding a live (not revoked) token.
    pub async fn user_by_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<Authenticated>, StoreError> {
        let mut sql = Sql::new(&format!(
            "SELECT u.*, {DIRECTORY_VERSION} FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = "
        ));
        sql.bind(token_hash)
            .push(" AND t.revoked_at IS NULL AND u.active = ")
            .bind(true);
        on_pool!(self, p => {
            let row = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_optional(p).await?;
            row.as_ref().map(|r| Ok(Authenticated {
                user: user_from_row(r)?,
                csrf: None,
                directory_version: r.i64("directory_version")?,
            })).transpose()
        })
    }

    /// Creates a pipeline with its stages (in the given order) and returns it. A default
    /// pipeline takes the default from any other.
    pub async fn insert_pipeline(
        &self,
        name: &str,
        is_default: bool,
        policy: &TransitionPolicy,
        stages: &[StageSpec],
        now: OffsetDateTime,
    ) -> Result<Pipeline, StoreError> {
        let writer = self.writer().await;
        let id = on_pool!(self, p => {
            let mut tx = p.begin_with(self.write_begin()).await?;
            if is_default {
                sqlx::query("UPDATE pipelines SET is_default = $1 WHERE is_default = $2")
                    .bind(false)
                    .bind(true)
                    .execute(&mut *tx)
                    .await?;
            }
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO pipelines (name, is_default, archived, created_at, policy) VALUES ($1, $2, $3, $4, $5) RETURNING id",
            )
            .bind(name)
            .bind(is_default)
            .bind(false)
            .bind(crate::db::ms(now))
            .bind(to_json(policy))
            .fetch_one(&mut *tx)
            .await?;
            for (i, s) in stages.iter().enumerate() {
                let mut sql = Sql::new("");
                push_stage_insert(&mut sql, id, i as i32, s);
                bind_all!(sqlx::query(&sql.text), &sql.args).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            id
        });
        drop(writer);
        self.pipeline(id).await?.ok_or(StoreError::NotFound)
    }

    /// Saves a pipeline's name, default flag, archived flag and policy (not its stages).
    pub async fn update_pipeline(&self, p: &Pipeline) -> Result<(), StoreError> {
        let _writer = self.writer().await;
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.write_begin()).await?;
            if p.is_default {
                sqlx::query("UPDATE pipelines SET is_default = $1 WHERE is_default = $2 AND id <> $3")
                    .bind(false)
                    .bind(true)
                    .bind(p.id)
                    .execute(&mut *tx)
                    .await?;
            }
            let n = sqlx::query("UPDATE pipelines SET name = $1, is_default = $2, archived = $3, policy = $4 WHERE id = $5")
                .bind(&p.name)
                .bind(p.is_default)
                .bind(p.archived)
                .bind(to_json(&p.policy))
                .bind(p.id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// Adds a stage at `position` (later stages move down one) and returns its id.
    pub async fn insert_stage(
        &self,
        pipeline_id: PipelineId,
        position: i32,
        spec: &StageSpec,
    ) -> Result<StageId, StoreError> {
        let _writer = self.writer().await;
        on_pool!(self, p => {
            let mut tx = p.begin_with(self.write_begin()).await?;
            sqlx::query("UPDATE stages SET position = position + 1 WHERE pipeline_id = $1 AND position >= $2")
                .bind(pipeline_id)
                .bind(position)
                .execute(&mut *tx)
                .await?;
            let mut sql = Sql::new("");
            push_stage_insert(&mut sql, pipeline_id, position, spec);
            sql.push(" RETURNING id");
            let id: i64 = bind_all!(sqlx::query_scalar(&sql.text), &sql.args).fetch_one(&mut *tx).await?;
            tx.commit().await?;
            Ok(id)
        })
    }

    /// Saves everything of a stage but its pipeline and position.
    pub async fn update_stage(&self, s: &Stage) -> Result<(), StoreError> {
        let mut sql = Sql::new("UPDATE stages SET name_zh = ");
        sql.bind(s.name_zh.clone())
            .push(", name_en = ")
            .bind(s.name_en.clone());
        sql.push(", kind = ")
            .bind(s.kind.as_str())
            .push(", probability = ")
            .bind(s.probability as i64);
        sql.push(", forecast_category = ")
            .bind(s.forecast_category.as_str())
            .push(", rotting_days = ")
            .bind(s.rotting_days.map(i64::from));
        sql.push(", guidance = ")
            .bind(s.guidance.clone())
            .push(", gate = ")
            .bind(to_json(&s.gate));
        sql.push(", actions = ")
            .bind(to_json(&s.actions))
            .push(", archived = ")
            .bind(s.archived);
        sql.push(" WHERE id = ").bind(s.id);
        match self.execute(&sql).await? {
            0 => Err(StoreError::NotFound),
            _ => Ok(()),
        }
    }

    /// Gives a pipeline's stages the order of `stage_ids` (which lists each of them once).
    pub async fn reorder_stages(
        &self,
        pipeline_id: PipelineId,
        stage_ids: &[StageId],
    ) -> Result<(), StoreError> {
        let _writer = self.writer().await;
        on_pool!(self, p => {
            let mut tx = p.begin_with(self.write_begin()).await?;
            for (i, id) in stage_ids.iter().enumerate() {
                sqlx::query("UPDATE stages SET position = $1 WHERE id = $2 AND pipeline_id = $3")
                    .bind(i as i32)
                    .bind(id)
                    .bind(pipeline_id)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// Whether any opportunity is or ever was in the stage.
    pub async fn stage_in_use(&self, stage_id: StageId) -> Result<bool, StoreError> {
        on_pool!(self, p => {
            let n: i64 = sqlx::query_scalar(
                "SELECT (SELECT COUNT(*) FROM opportunities WHERE stage_id = $1) + (SELECT COUNT(*) FROM opportunity_events WHERE from_stage_id = $1 OR to_stage_id = $1)",
            )
            .bind(stage_id)
            .fetch_one(p)
            .await?;
            Ok(n > 0)
        })
    }

    /// Deletes a stage no opportunity has ever been in (callers check [`Db::stage_in_use`];
    /// the foreign keys refuse otherwise).
    pub async fn delete_stage(&self, stage_id: StageId) -> Result<(), StoreError> {
        let mut sql = Sql::new("DELETE FROM stages WHERE id = ");
        sql.bind(stage_id);
        match self.execute(&sql).await? {
            0 => Err(StoreError::NotFound),
            _ => Ok(()),
        }
    }

    pub async fn approval_policies(&self) -> Result<Vec<ApprovalPolicy>, StoreError> {
        on_pool!(self, p => {
            let rows = sqlx::query("SELECT * FROM approval_policies ORDER BY id").fetch_all(p).await?;
            rows.iter()
                .map(|r| {
                    Ok(ApprovalPolicy {
                        id: r.i64("id")?,
                        name: r.text("name")?,
                        active: r.bool("active")?,
                        pipeline_id: r.opt_i64("pipeline_id")?,
                        stage_id: r.opt_i64("stage_id")?,
                        conditions: r.json("conditions")?,
                        chain: r.json("chain")?,
                    })
                })
                .collect()
        })
    }

    /// Adds (id 0) or saves an approval policy; returns its id.
    pub async fn save_approval_policy(
        &self,
        a: &ApprovalPolicy,
        now: OffsetDateTime,
    ) -> Result<i64, StoreError> {
        let mut sql = if a.id == 0 {
            Sql::new("INSERT INTO approval_policies (name, active, pipeline_id, stage_id, conditions, chain, created_at) VALUES (")
        } else {
            Sql::new("UPDATE approval_policies SET (name, active, pipeline_id, stage_id, conditions, chain, created_at) = (")
        };
        sql.bind(a.name.clone()).push(", ").bind(a.active);
        sql.push(", ")
            .bind(a.pipeline_id)
            .push(", ")
            .bind(a.stage_id);
        sql.push(", ")
            .bind(to_json(&a.conditions))
            .push(", ")
            .bind(to_json(&a.chain));
        if a.id == 0 {
            sql.push(", ").bind(now).push(") RETURNING id");
            let _writer = self.writer().await;
            return on_pool!(self, p => Ok(bind_all!(sqlx::query_scalar(&sql.text), &sql.args).fetch_one(p).await?));
        }
        sql.push(", created_at) WHERE id = ").bind(a.id);
        match self.execute(&sql).await? {
            0 => Err(StoreError::NotFound),
            _ => Ok(a.id),
        }
    }

    pub async fn loss_reasons(&self) -> Result<Vec<LossReason>, StoreError> {
        on_pool!(self, p => {
            let rows = sqlx::query("SELECT * FROM loss_reasons ORDER BY position, id").fetch_all(p).await?;
            rows.iter()
                .map(|r| {
                    Ok(LossReason {
                        id: r.i64("id")?,
                        key: r.text("key")?,
                        name_zh: r.text("name_zh")?,
                        name_en: r.text("name_en")?,
                        position: r.i32("position")?,
                        archived: r.bool("archived")?,
                    })
                })
                .collect()
        })
    }

    /// Adds a loss reason (its key is new: a duplicate is [`StoreError::Duplicate`]).
    pub async fn insert_loss_reason(&self, r: &LossReason) -> Result<i64, StoreError> {
        let mut sql = Sql::new(
            "INSERT INTO loss_reasons (key, name_zh, name_en, position, archived) VALUES (",
        );
        sql.bind(r.key.clone()).push(", ").bind(r.name_zh.clone());
        sql.push(", ")
            .bind(r.name_en.clone())
            .push(", ")
            .bind(r.position as i64);
        sql.push(", ").bind(r.archived).push(") RETURNING id");
        let _writer = self.writer().await;
        on_pool!(self, p => Ok(bind_all!(sqlx::query_scalar(&sql.text), &sql.args).fetch_one(p).await?))
    }

    /// Saves a loss reason's names, position and archived flag (the key never changes).
    pub async fn update_loss_reason(&self, r: &LossReason) -> Result<(), StoreError> {
        let mut sql = Sql::new("UPDATE loss_reasons SET name_zh = ");
        sql.bind(r.name_zh.clone())
            .push(", name_en = ")
            .bind(r.name_en.clone());
        sql.push(", position = ").bind(r.position as i64);
        sql.push(", archived = ")
            .bind(r.archived)
            .push(" WHERE id = ")
            .bind(r.id);
        match self.execute(&sql).await? {
            0 => Err(StoreError::NotFound),
            _ => Ok(()),
        }
    }

    pub async fn pipelines(&self) -> Result<Vec<Pipeline>, StoreError> {
        let (pipes, stages) = on_pool!(self, p => {
            let pipes = sqlx::query("SELECT * FROM pipelines ORDER BY id").fetch_all(p).await?;
            let stages = sqlx::query("SELECT * FROM stages ORDER BY pipeline_id, position, id").fetch_all(p).await?;
            let stages: Vec<Stage> = stages.iter().map(stage_from_row).collect::<Result<_, StoreError>>()?;
            let pipes = pipes
                .iter()
                .map(|r| Ok((r.i64("id")?, r.text("name")?, r.bool("is_default")?, r.bool("archived")?, r.json("policy")?)))
                .collect::<Result<Vec<_>, StoreError>>()?;
            (pipes, stages)
        });
        Ok(pipes
            .into_iter()
            .map(|(id, name, is_default, archived, policy)| Pipeline {
                id,
                name,
                is_default,
                archived,
                policy,
                stages: stages
                    .iter()
                    .filter(|s| s.pipeline_id == id)
                    .cloned()
                    .collect(),
            })
            .collect())
    }

    pub async fn pipeline(&self, id: PipelineId) -> Result<Option<Pipeline>, StoreError> {
        Ok(self.pipelines().await?.into_iter().find(|p| p.id == id))
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("configuration serialises")
}

/// Appends `INSERT INTO stages …` of one stage.
fn push_stage_insert(sql: &mut Sql, pipeline_id: PipelineId, position: i32, s: &StageSpec) {
    sql.push("INSERT INTO stages (pipeline_id, position, name_zh, name_en, kind, probability, forecast_category, rotting_days, guidance, gate, actions, archived) VALUES (");
    sql.bind(pipeline_id).push(", ").bind(position as i64);
    sql.push(", ")
        .bind(s.name_zh.clone())
        .push(", ")
        .bind(s.name_en.clone());
    sql.push(", ")
        .bind(s.kind.as_str())
        .push(", ")
        .bind(s.probability as i64);
    sql.push(", ").bind(s.forecast_category.as_str());
    sql.push(", ").bind(s.rotting_days.map(i64::from));
    sql.push(", ")
        .bind(s.guidance.clone())
        .push(", ")
        .bind(to_json(&s.gate));
    sql.push(", ")
        .bind(to_json(&s.actions))
        .push(", ")
        .bind(false)
        .push(")");
}
