//! Lead scoring (`shangji_core::scoring` decides): the settings and the trained model are
//! kept as settings documents; a lead is scored again whenever something it is scored on
//! changes — it is created or edited (API, pages, import, web forms), a follow-up is logged
//! on it, a form submission lands on it — and every lead once a day, when engagement decays
//! and the model is trained again. Every change of score or grade is a row of the lead's
//! history.

use std::collections::BTreeMap;
use std::sync::Arc;

use shangji_core::model::*;
use shangji_core::scoring::{self, LeadFeatures, Model, Scored, ScoringSettings, Touch};
use shangji_store::scoring::{NewScore, ScoreEvent};
use shangji_store::Db;
use time::OffsetDateTime;

use super::Ctx;
use crate::error::AppError;

/// The settings key of the scoring settings (JSON of `ScoringSettings`).
pub const SETTINGS_KEY: &str = "scoring";
/// The settings key of the trained model (JSON of `Model`; absent while there is none).
pub const MODEL_KEY: &str = "scoring_model";
/// Leads scored per batch by [`rescore_all`].
const BATCH: i64 = 5000;

/// What the model is, as the admin sees it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ModelStatus {
    /// Closed leads (qualified or disqualified) there are, and how many a model needs.
    pub closed_leads: u32,
    pub min_closed: u32,
    /// The model in use, if any (with its held-out AUC beside the fit points').
    pub model: Option<Model>,
}

/// A lead's score, its explanation and its history.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct LeadScore {
    pub scored: Option<Scored>,
    pub history: Vec<ScoreEvent>,
}

fn parsed<T: serde::de::DeserializeOwned>(
    key: &str,
    json: Option<String>,
) -> Result<Option<T>, AppError> {
    match json {
        Some(json) => serde_json::from_str(&json)
            .map(Some)
            .map_err(|e| AppError::Internal(format!("stored {key}: {e}"))),
        None => Ok(None),
    }
}

/// The scoring settings in force: the saved ones, else the defaults.
pub async fn settings(db: &Db) -> Result<ScoringSettings, AppError> {
    Ok(parsed(SETTINGS_KEY, db.setting(SETTINGS_KEY).await?)?.unwrap_or_default())
}

/// The model in use, if one was trained.
pub async fn model(db: &Db) -> Result<Option<Model>, AppError> {
    parsed(MODEL_KEY, db.setting(MODEL_KEY).await?)
}

/// The settings and the model, in one read.
async fn settings_and_model(db: &Db) -> Result<(ScoringSettings, Option<Model>), AppError> {
    let [settings, model] = db.settings_of([SETTINGS_KEY, MODEL_KEY]).await?;
    Ok((
        parsed(SETTINGS_KEY, settings)?.unwrap_or_default(),
        parsed(MODEL_KEY, model)?,
    ))
}

/// Replaces the settings (admin) and scores every lead again by them; how many leads' scores
/// changed.
pub async fn save_settings(
    db: &Db,
    ctx: &Ctx,
    s: ScoringSettings,
) -> Result<(ScoringSettings, usize), AppError> {
    ctx.require_admin()?;
    s.validate().map_err(AppError::InvalidMany)?;
    let json = serde_json::to_string(&s).map_err(|e| AppError::Internal(e.to_string()))?;
    db.set_setting(SETTINGS_KEY, &json, ctx.now).await?;
    let changed = rescore_all(db, ctx.now).await?;
    super::audit::setting(db, ctx, "scoring::save_settings", "").await?;
    Ok((s, changed))
}

/// The closed leads the model learns from: (id, features, qualified).
async fn examples(db: &Db) -> Result<Vec<(LeadId, LeadFeatures, bool)>, AppError> {
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let batch = db.closed_leads_after(after, BATCH).await?;
        let Some((last, _)) = batch.last() else { break };
        after = last.id;
        out.extend(
            batch
                .iter()
                .map(|(l, qualified)| (l.id, LeadFeatures::of(l), *qualified)),
        );
    }
    Ok(out)
}

/// What the model is now (admin).
pub async fn status(db: &Db, ctx: &Ctx) -> Result<ModelStatus, AppError> {
    ctx.require_admin()?;
    let settings = settings(db).await?;
    Ok(ModelStatus {
        closed_leads: examples(db).await?.len() as u32,
        min_closed: settings.min_closed,
        model: model(db).await?,
    })
}

/// Trains the model on the closed leads (kept only when there are enough of them), then
/// scores every lead again. The scheduler calls it daily; an admin may at any time.
pub async fn train(db: &Db, now: OffsetDateTime) -> Result<ModelStatus, AppError> {
    let settings = settings(db).await?;
    let examples = examples(db).await?;
    let model = scoring::train_for_use(&examples, &settings, now);
    match &model {
        Some(m) => {
            let json = serde_json::to_string(m).map_err(|e| AppError::Internal(e.to_string()))?;
            db.set_setting(MODEL_KEY, &json, now).await?;
        }
        None => db.delete_setting(MODEL_KEY).await?,
    }
    rescore_all(db, now).await?;
    Ok(ModelStatus {
        closed_leads: examples.len() as u32,
        min_closed: settings.min_closed,
        model,
    })
}

/// Once a day (China time) across all instances: trains the model again and scores every
/// lead, so that engagement decays and new outcomes count.
pub async fn daily_turn(db: &Db, now: OffsetDateTime) {
    let day = shangji_core::calendar::china_date(now).to_string();
    let turn = async {
        if db.claim_setting("scoring_last_day", &day, now).await? {
            let status = train(db, now).await?;
            tracing::info!(
                closed = status.closed_leads,
                model = status.model.is_some(),
                "leads scored"
            );
        }
        Ok::<(), AppError>(())
    };
    if let Err(e) = turn.await {
        tracing::warn!(error = ?e, "lead scoring failed");
    }
}

/// [`train`] for an admin.
pub async fn train_now(db: &Db, ctx: &Ctx) -> Result<ModelStatus, AppError> {
    ctx.require_admin()?;
    train(db, ctx.now).await
}

/// Leads above which a batch is scored on a blocking thread (beside the async tasks) rather
/// than inline: one lead just written is scored where it is.
const INLINE_LEADS: usize = 64;

/// The scores of `leads` that say something new beside what is `stored` (the explanation
/// moves as touches age even when the score does not).
fn new_scores(
    leads: &[Lead],
    touches: &BTreeMap<LeadId, Vec<Touch>>,
    stored: &BTreeMap<LeadId, String>,
    now: OffsetDateTime,
    settings: &ScoringSettings,
    model: Option<&Model>,
) -> Result<Vec<NewScore>, AppError> {
    let mut scores = Vec::new();
    for l in leads {
        let scored = scoring::score(
            &LeadFeatures::of(l),
            touches.get(&l.id).map_or(&[][..], Vec::as_slice),
            now,
            settings,
            model,
        );
        let detail =
            serde_json::to_string(&scored).map_err(|e| AppError::Internal(e.to_string()))?;
        if stored.get(&l.id) != Some(&detail) {
            scores.push(NewScore {
                lead_id: l.id,
                scored,
                detail,
                previous: (l.score, l.grade),
            });
        }
    }
    Ok(scores)
}

/// Scores `leads` (consecutive by id) and saves the scores that say something new; how many
/// leads' score or grade changed.
async fn score_batch(
    db: &Db,
    now: OffsetDateTime,
    leads: Vec<Lead>,
    settings: &Arc<ScoringSettings>,
    model: &Arc<Option<Model>>,
) -> Result<usize, AppError> {
    let (Some(first), Some(last)) = (leads.first(), leads.last()) else {
        return Ok(0);
    };
    let (touches, stored) = tokio::try_join!(
        db.lead_touches(first.id, last.id),
        db.lead_score_details(first.id, last.id)
    )?;
    let scores = if leads.len() <= INLINE_LEADS {
        new_scores(
            &leads,
            &touches,
            &stored,
            now,
            settings,
            model.as_ref().as_ref(),
        )?
    } else {
        let (settings, model) = (settings.clone(), model.clone());
        tokio::task::spawn_blocking(move || {
            new_scores(
                &leads,
                &touches,
                &stored,
                now,
                &settings,
                model.as_ref().as_ref(),
            )
        })
        .await
        .map_err(|e| AppError::Internal(e.to_string()))??
    };
    db.save_lead_scores(&scores, now).await?;
    Ok(scores.iter().filter(|c| c.changed()).count())
}

/// Scores one lead again; whether its score or grade changed.
pub async fn rescore_lead(db: &Db, now: OffsetDateTime, id: LeadId) -> Result<bool, AppError> {
    let Some(lead) = db
        .leads_after(id - 1, 1)
        .await?
        .pop()
        .filter(|l| l.id == id)
    else {
        return Ok(false);
    };
    let (settings, model) = settings_and_model(db).await?;
    Ok(score_batch(db, now, vec![lead], &Arc::new(settings), &Arc::new(model)).await? > 0)
}

/// Scores a lead just created, as it is held (its touches are read: a form's submission is
/// logged before it is scored); its score and grade, `None` when it had one already.
pub async fn score_new_lead(
    db: &Db,
    now: OffsetDateTime,
    lead: &Lead,
) -> Result<Option<(i32, LeadGrade)>, AppError> {
    let (touches, (settings, model)) = tokio::try_join!(
        async { Ok::<_, AppError>(db.lead_touches(lead.id, lead.id).await?) },
        settings_and_model(db)
    )?;
    let scores = new_scores(
        std::slice::from_ref(lead),
        &touches,
        &BTreeMap::new(),
        now,
        &settings,
        model.as_ref(),
    )?;
    db.save_lead_scores(&scores, now).await?;
    Ok(scores.first().map(|s| (s.scored.score, s.scored.grade)))
}

/// Scores every lead again, in batches — the next read while one is scored and saved; how
/// many leads' score or grade changed.
pub async fn rescore_all(db: &Db, now: OffsetDateTime) -> Result<usize, AppError> {
    let (settings, model) = settings_and_model(db).await?;
    let (settings, model) = (Arc::new(settings), Arc::new(model));
    let mut batch = db.leads_after(0, BATCH).await?;
    let mut changed = 0;
    while let Some(last) = batch.last() {
        let after = last.id;
        let (next, done) = tokio::join!(
            db.leads_after(after, BATCH),
            score_batch(db, now, batch, &settings, &model)
        );
        changed += done?;
        batch = next?;
    }
    Ok(changed)
}

/// A lead's score, explanation and history, for those who may read the lead.
pub async fn lead_score(db: &Db, ctx: &Ctx, id: LeadId) -> Result<LeadScore, AppError> {
    super::get::<Lead>(db, ctx, id).await?;
    Ok(LeadScore {
        scored: db.lead_score(id).await?.and_then(|s| s.detail),
        history: db.lead_score_events(id).await?,
    })
}
