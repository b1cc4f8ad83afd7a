//! Users, teams, sign-in sessions, API tokens and pipelines.

use std::sync::Arc;

use shangji_core::custom_fields::CustomFieldDef;
use shangji_core::model::*;
use shangji_core::visibility::Org;
use time::OffsetDateTime;

use crate::db::{bind_all, Db, RowExt, Sql};
use crate::entity::{stage_from_row, team_from_row, user_columns, user_from_row};
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
/// users, pipelines, stages and custom fields, whichever instance makes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Directory {
    pub version: i64,
    pub org: Org,
    pub pipelines: Vec<Pipeline>,
    /// Every custom field, archived ones too, by record kind and position.
    pub custom_fields: Vec<CustomFieldDef>,
}

impl Directory {
    pub fn pipeline(&self, id: PipelineId) -> Option<&Pipeline> {
        self.pipelines.iter().find(|p| p.id == id)
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
        let users = on_pool!(self, p => {
            let rows = sqlx::query("SELECT id, team_id FROM users ORDER BY id").fetch_all(p).await?;
            rows.iter()
                .map(|r| Ok((r.i64("id")?, r.opt_i64("team_id")?)))
                .collect::<Result<Vec<_>, StoreError>>()?
        });
        let pipelines = self.pipelines().await?;
        let custom_fields = self.custom_fields().await?;
        let fresh = Arc::new(Directory {
            version,
            org: Org { teams, users },
            pipelines,
            custom_fields,
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
            Sql::new("INSERT INTO teams (name, parent_id, archived, created_at) VALUES (");
        sql.bind(t.name.clone())
            .push(", ")
            .bind(t.parent_id)
            .push(", ")
            .bind(t.archived);
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
            let mut sql =
                Sql::new("INSERT INTO teams (id, name, parent_id, archived, created_at) VALUES (");
            sql.bind(t.id)
                .push(", ")
                .bind(t.name.clone())
                .push(", ")
                .bind(t.parent_id);
            sql.push(", ")
                .bind(t.archived)
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

    /// Creates a pipeline with its stages (in the given order) and returns it.
    pub async fn insert_pipeline(
        &self,
        name: &str,
        is_default: bool,
        stages: &[StageTemplate],
        now: OffsetDateTime,
    ) -> Result<Pipeline, StoreError> {
        let writer = self.writer().await;
        let id = on_pool!(self, p => {
            let mut tx = p.begin().await?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO pipelines (name, is_default, archived, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
            )
            .bind(name)
            .bind(is_default)
            .bind(false)
            .bind(crate::db::ms(now))
            .fetch_one(&mut *tx)
            .await?;
            for (i, s) in stages.iter().enumerate() {
                sqlx::query(
                    "INSERT INTO stages (pipeline_id, position, name_zh, name_en, kind, probability, forecast_category, rotting_days, guidance, archived) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                )
                .bind(id)
                .bind(i as i32)
                .bind(s.name_zh)
                .bind(s.name_en)
                .bind(s.kind.as_str())
                .bind(s.probability)
                .bind(s.forecast_category.as_str())
                .bind(s.rotting_days)
                .bind(s.guidance)
                .bind(false)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            id
        });
        drop(writer);
        self.pipeline(id).await?.ok_or(StoreError::NotFound)
    }

    pub async fn pipelines(&self) -> Result<Vec<Pipeline>, StoreError> {
        let (pipes, stages) = on_pool!(self, p => {
            let pipes = sqlx::query("SELECT * FROM pipelines ORDER BY id").fetch_all(p).await?;
            let stages = sqlx::query("SELECT * FROM stages ORDER BY pipeline_id, position, id").fetch_all(p).await?;
            let stages: Vec<Stage> = stages.iter().map(stage_from_row).collect::<Result<_, StoreError>>()?;
            let pipes = pipes
                .iter()
                .map(|r| Ok((r.i64("id")?, r.text("name")?, r.bool("is_default")?, r.bool("archived")?)))
                .collect::<Result<Vec<_>, StoreError>>()?;
            (pipes, stages)
        });
        Ok(pipes
            .into_iter()
            .map(|(id, name, is_default, archived)| Pipeline {
                id,
                name,
                is_default,
                archived,
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
