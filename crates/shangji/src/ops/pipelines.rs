//! Pipeline administration: pipelines from templates, stages with their gates and standard
//! actions, reordering, archiving, migrating deals between pipelines, loss reasons.

use serde::Serialize;
use shangji_core::model::*;
use shangji_core::opportunity::{self};
use shangji_core::process::{
    self, LossReason, PipelineTemplate, StageGate, StageSpec, StandardAction, TransitionPolicy,
};
use shangji_core::visibility::Scope;
use shangji_core::{Field, FieldError};
use shangji_store::{Db, ListQuery, Save};

use super::*;

// ---- Pipelines, stages and loss reasons (admin configuration). ----

/// A new pipeline: from a template (`b2b`, `transactional`, `tender`) or with its stages.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PipelineInput {
    pub name: String,
    #[serde(default)]
    pub template: Option<String>,
    #[serde(default)]
    pub stages: Option<Vec<StageSpec>>,
    #[serde(default)]
    pub policy: Option<TransitionPolicy>,
    #[serde(default)]
    pub is_default: bool,
}

/// A change to a pipeline (its stages change through the stage calls).
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PipelinePatch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub is_default: Option<bool>,
    #[serde(default)]
    pub archived: Option<bool>,
    #[serde(default)]
    pub policy: Option<TransitionPolicy>,
}

/// A change to a stage; absent fields stay as they are.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StagePatch {
    pub name_zh: Option<String>,
    pub name_en: Option<String>,
    pub kind: Option<StageKind>,
    pub probability: Option<i32>,
    pub forecast_category: Option<ForecastCategory>,
    /// `null` clears.
    #[serde(default)]
    pub rotting_days: Field<i32>,
    /// `null` clears.
    #[serde(default)]
    pub guidance: Field<String>,
    pub gate: Option<StageGate>,
    pub actions: Option<Vec<StandardAction>>,
    pub archived: Option<bool>,
}

/// A new stage, inserted before `position` (default: before the won and lost stages).
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
pub struct NewStageInput {
    #[serde(flatten)]
    pub stage: StageSpec,
    #[serde(default)]
    pub position: Option<i32>,
}

pub(crate) fn template(key: &str) -> Result<PipelineTemplate, AppError> {
    process::templates()
        .into_iter()
        .find(|t| t.key == key)
        .ok_or_else(|| {
            AppError::invalid(
                "template",
                "unknown_template",
                format!("`{key}` is not a template: b2b, transactional or tender"),
            )
        })
}

pub(crate) fn pipeline_name(name: &str) -> Result<String, AppError> {
    Ok(shangji_core::input::required_text(
        "name",
        name.to_string(),
        shangji_core::input::SHORT_TEXT,
    )?)
}

/// The keys of the opportunity custom fields a gate may require.
pub(crate) fn opportunity_custom_keys(ctx: &Ctx) -> Vec<String> {
    custom_labels(ctx).into_iter().map(|(k, _, _)| k).collect()
}

pub async fn create_pipeline(
    db: &Db,
    ctx: &Ctx,
    input: PipelineInput,
) -> Result<Pipeline, AppError> {
    ctx.require_admin()?;
    let name = pipeline_name(&input.name)?;
    let (policy, stages) = match (&input.template, input.stages) {
        (Some(_), Some(_)) => {
            return Err(AppError::invalid(
                "stages",
                "template_or_stages",
                "give a template or stages, not both",
            ))
        }
        (Some(key), None) => {
            let t = template(key)?;
            (input.policy.unwrap_or(t.policy), t.stages)
        }
        (None, Some(stages)) => (input.policy.unwrap_or_default(), stages),
        (None, None) => {
            return Err(AppError::invalid(
                "stages",
                "required",
                "give a template or stages",
            ))
        }
    };
    let mut stages = stages;
    process::fill_pipeline_keys(&mut stages);
    process::check_pipeline_stages(&stages, &opportunity_custom_keys(ctx))?;
    super::audit::setting(db, ctx, "pipelines::create_pipeline", "").await?;
    Ok(db
        .insert_pipeline(&name, input.is_default, &policy, &stages, ctx.now)
        .await?)
}

/// A pipeline as an admin may change it (archived ones included).
pub(crate) fn admin_pipeline(ctx: &Ctx, id: PipelineId) -> Result<Pipeline, AppError> {
    ctx.require_admin()?;
    ctx.dir.pipeline(id).cloned().ok_or(AppError::NotFound)
}

pub(crate) async fn reread_pipeline(db: &Db, id: PipelineId) -> Result<Pipeline, AppError> {
    db.pipeline(id).await?.ok_or(AppError::NotFound)
}

pub async fn update_pipeline(
    db: &Db,
    ctx: &Ctx,
    id: PipelineId,
    patch: PipelinePatch,
) -> Result<Pipeline, AppError> {
    let mut p = admin_pipeline(ctx, id)?;
    if let Some(name) = &patch.name {
        p.name = pipeline_name(name)?;
    }
    if let Some(policy) = patch.policy {
        p.policy = policy;
    }
    if let Some(d) = patch.is_default {
        if !d && p.is_default {
            return Err(AppError::invalid(
                "is_default",
                "default_required",
                "make another pipeline the default instead",
            ));
        }
        p.is_default = d;
    }
    if let Some(a) = patch.archived {
        p.archived = a;
    }
    if p.archived && p.is_default {
        return Err(AppError::invalid(
            "archived",
            "default_pipeline",
            "the default pipeline cannot be archived",
        ));
    }
    db.update_pipeline(&p).await?;
    super::audit::setting(db, ctx, "pipelines::update_pipeline", &id.to_string()).await?;
    reread_pipeline(db, id).await
}

pub(crate) fn stage_of(p: &Pipeline, stage_id: StageId) -> Result<Stage, AppError> {
    p.stage(stage_id).cloned().ok_or(AppError::NotFound)
}

/// Checks that the pipeline's stages, with `changed` in place of the stage of the same id
/// (or added), still make a valid pipeline.
pub(crate) fn check_stages_with(ctx: &Ctx, p: &Pipeline, changed: &Stage) -> Result<(), AppError> {
    let mut stages: Vec<Stage> = p.stages.clone();
    match stages.iter_mut().find(|s| s.id == changed.id) {
        Some(s) => *s = changed.clone(),
        None => stages.push(changed.clone()),
    }
    let specs: Vec<StageSpec> = stages
        .iter()
        .filter(|s| !s.archived)
        .map(StageSpec::from)
        .collect();
    let index = stages
        .iter()
        .filter(|s| !s.archived)
        .position(|s| s.id == changed.id);
    process::check_pipeline_stages(&specs, &opportunity_custom_keys(ctx)).map_err(|e| {
        // Name the stage by the request's fields rather than by its place in the pipeline.
        let prefix = index.map(|i| format!("stages[{i}]."));
        let field = match prefix {
            Some(p) if e.field.starts_with(&p) => e.field[p.len()..].to_string(),
            _ => e.field.clone(),
        };
        AppError::Invalid(FieldError { field, ..e })
    })
}

/// Fills in the checklist and action keys left empty of stage `stage_id` (a new one when
/// `None`) of pipeline `p` ([`process::fill_keys`]): stable on edit, unique in the pipeline.
fn fill_stage_keys(
    p: &Pipeline,
    stage_id: Option<StageId>,
    checklist: &mut [process::ChecklistItem],
    actions: &mut [process::StandardAction],
) {
    fn keys(s: &Stage) -> process::StageKeys<'_> {
        process::StageKeys {
            checklist: &s.gate.checklist,
            actions: &s.actions,
        }
    }
    let before = stage_id.and_then(|id| p.stage(id)).map_or(
        process::StageKeys {
            checklist: &[],
            actions: &[],
        },
        keys,
    );
    let others: Vec<process::StageKeys> = p
        .stages
        .iter()
        .filter(|s| Some(s.id) != stage_id)
        .map(keys)
        .collect();
    process::fill_keys(checklist, actions, before, &others);
}

pub async fn add_stage(
    db: &Db,
    ctx: &Ctx,
    pipeline_id: PipelineId,
    input: NewStageInput,
) -> Result<Pipeline, AppError> {
    let p = admin_pipeline(ctx, pipeline_id)?;
    let end = p
        .stages
        .iter()
        .filter(|s| s.kind == StageKind::Open)
        .map(|s| s.position + 1)
        .max()
        .unwrap_or(0);
    let position = match input.position {
        Some(at) => shangji_core::input::position("position", at)?,
        None => end,
    }
    .min(p.stages.len() as i32);
    let mut input = input;
    fill_stage_keys(
        &p,
        None,
        &mut input.stage.gate.checklist,
        &mut input.stage.actions,
    );
    let candidate = input.stage.to_stage(-1, pipeline_id, position);
    check_stages_with(ctx, &p, &candidate)?;
    db.insert_stage(pipeline_id, position, &input.stage).await?;
    // The stays' meaning follows the stages' kinds and order.
    db.mark_pipeline_dirty(pipeline_id).await?;
    reread_pipeline(db, pipeline_id).await
}

pub async fn update_stage(
    db: &Db,
    ctx: &Ctx,
    pipeline_id: PipelineId,
    stage_id: StageId,
    patch: StagePatch,
) -> Result<Pipeline, AppError> {
    let p = admin_pipeline(ctx, pipeline_id)?;
    let mut s = stage_of(&p, stage_id)?;
    if let Some(kind) = patch.kind.filter(|k| *k != s.kind) {
        if db.stage_in_use(stage_id).await? {
            return Err(AppError::invalid(
                "kind",
                "stage_in_use",
                "opportunities have been in this stage: its kind cannot change",
            ));
        }
        s.kind = kind;
    }
    macro_rules! set {
        ($($f:ident),*) => { $(if let Some(v) = patch.$f { s.$f = v; })* };
    }
    set!(
        name_zh,
        name_en,
        probability,
        forecast_category,
        gate,
        actions,
        archived
    );
    patch.rotting_days.apply_opt(&mut s.rotting_days);
    patch.guidance.apply_opt(&mut s.guidance);
    fill_stage_keys(&p, Some(stage_id), &mut s.gate.checklist, &mut s.actions);
    check_stages_with(ctx, &p, &s)?;
    db.update_stage(&s).await?;
    // The stays' meaning follows the stages' kinds and order.
    db.mark_pipeline_dirty(pipeline_id).await?;
    reread_pipeline(db, pipeline_id).await
}

/// Deletes a stage no opportunity has ever been in; a stage in use can only be archived.
pub async fn delete_stage(
    db: &Db,
    ctx: &Ctx,
    pipeline_id: PipelineId,
    stage_id: StageId,
) -> Result<Pipeline, AppError> {
    let p = admin_pipeline(ctx, pipeline_id)?;
    let s = stage_of(&p, stage_id)?;
    if db.stage_in_use(stage_id).await? {
        return Err(AppError::invalid(
            "stage_id",
            "stage_in_use",
            "opportunities have been in this stage: archive it instead",
        ));
    }
    check_stages_with(
        ctx,
        &p,
        &Stage {
            archived: true,
            ..s
        },
    )?;
    db.delete_stage(stage_id).await?;
    reread_pipeline(db, pipeline_id).await
}

/// Puts a pipeline's stages in the given order (every stage once).
pub async fn reorder_stages(
    db: &Db,
    ctx: &Ctx,
    pipeline_id: PipelineId,
    stage_ids: Vec<StageId>,
) -> Result<Pipeline, AppError> {
    let p = admin_pipeline(ctx, pipeline_id)?;
    let mut given = stage_ids.clone();
    given.sort_unstable();
    let mut have: Vec<StageId> = p.stages.iter().map(|s| s.id).collect();
    have.sort_unstable();
    if given != have {
        return Err(AppError::invalid(
            "stage_ids",
            "stage_list_mismatch",
            "list every stage of the pipeline exactly once",
        ));
    }
    db.reorder_stages(pipeline_id, &stage_ids).await?;
    // The stays' meaning follows the stages' kinds and order.
    db.mark_pipeline_dirty(pipeline_id).await?;
    reread_pipeline(db, pipeline_id).await
}

/// Moving every opportunity of a pipeline into another, stage by stage.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MigrateInput {
    pub to_pipeline_id: PipelineId,
    /// For each stage of the source pipeline, the stage of the target it maps to.
    pub mapping: Vec<StageMapping>,
}

#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StageMapping {
    pub from_stage_id: StageId,
    pub to_stage_id: StageId,
}

/// How many opportunities a migration moved.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Migrated {
    pub moved: i64,
}

/// Moves every opportunity of pipeline `from` (archived ones too) into another pipeline at
/// the mapped stages, each with its `pipeline_changed` event (admin). The mapping must
/// cover every stage of the source and name stages of the target.
pub async fn migrate_pipeline(
    db: &Db,
    ctx: &Ctx,
    from: PipelineId,
    input: MigrateInput,
) -> Result<Migrated, AppError> {
    let source = admin_pipeline(ctx, from)?;
    let target = pipeline_for(ctx, Some(input.to_pipeline_id))
        .map_err(|_| AppError::invalid("to_pipeline_id", "unknown_pipeline", "no such pipeline"))?;
    if target.id == source.id {
        return Err(AppError::invalid(
            "to_pipeline_id",
            "same_pipeline",
            "migrate into another pipeline",
        ));
    }
    for (i, m) in input.mapping.iter().enumerate() {
        if source.stage(m.from_stage_id).is_none() {
            return Err(AppError::invalid(
                &format!("mapping[{i}].from_stage_id"),
                "unknown_stage",
                "not a stage of the source pipeline",
            ));
        }
        if target.stage(m.to_stage_id).is_none_or(|s| s.archived) {
            return Err(AppError::invalid(
                &format!("mapping[{i}].to_stage_id"),
                "unknown_stage",
                "not a usable stage of the target pipeline",
            ));
        }
    }
    if let Some(s) = source
        .stages
        .iter()
        .find(|s| !input.mapping.iter().any(|m| m.from_stage_id == s.id))
    {
        return Err(AppError::invalid(
            "mapping",
            "incomplete_mapping",
            format!("stage {} ({}) has no target", s.id, s.name_en),
        ));
    }
    let mut moved = 0;
    loop {
        let q = ListQuery {
            eq: vec![("pipeline_id", from.into())],
            include_archived: true,
            sort: "created_at",
            desc: false,
            limit: 200,
            ..Default::default()
        };
        let page = db.list::<Opportunity>(&Scope::All, &q).await?;
        if page.items.is_empty() {
            break;
        }
        for mut opp in page.items {
            let to = input
                .mapping
                .iter()
                .find(|m| m.from_stage_id == opp.stage_id)
                .map(|m| m.to_stage_id)
                .unwrap_or_default();
            let expected_version = opp.version;
            let events = opportunity::change_pipeline(&mut opp, target, to, &ctx.actor, ctx.now)
                .map_err(|e| AppError::from_move(e, ctx.lang))?;
            db.save(&opp, Save::Update { expected_version }, &events)
                .await?;
            moved += 1;
        }
    }
    Ok(Migrated { moved })
}

/// A loss reason to add, or a change to one (the key is fixed once created).
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LossReasonInput {
    pub key: Option<String>,
    pub name_zh: Option<String>,
    pub name_en: Option<String>,
    pub position: Option<i32>,
    pub archived: Option<bool>,
}

pub async fn create_loss_reason(
    db: &Db,
    ctx: &Ctx,
    input: LossReasonInput,
) -> Result<LossReason, AppError> {
    ctx.require_admin()?;
    let mut r = LossReason {
        id: 0,
        key: input.key.clone().unwrap_or_default(),
        name_zh: String::new(),
        name_en: String::new(),
        position: ctx.dir.loss_reasons.len() as i32,
        archived: false,
    };
    process::check_key("key", &r.key)?;
    if ctx.dir.loss_reasons.iter().any(|l| l.key == r.key) {
        return Err(AppError::invalid(
            "key",
            "duplicate",
            format!("loss reason `{}` exists", r.key),
        ));
    }
    apply_loss_reason(&mut r, input)?;
    r.id = db.insert_loss_reason(&r).await?;
    super::audit::setting(db, ctx, "pipelines::create_loss_reason", "").await?;
    Ok(r)
}

pub async fn update_loss_reason(
    db: &Db,
    ctx: &Ctx,
    id: i64,
    input: LossReasonInput,
) -> Result<LossReason, AppError> {
    ctx.require_admin()?;
    let mut r = ctx
        .dir
        .loss_reasons
        .iter()
        .find(|l| l.id == id)
        .cloned()
        .ok_or(AppError::NotFound)?;
    if input.key.as_ref().is_some_and(|k| *k != r.key) {
        return Err(AppError::invalid(
            "key",
            "read_only",
            "a loss reason's key never changes",
        ));
    }
    apply_loss_reason(&mut r, input)?;
    db.update_loss_reason(&r).await?;
    super::audit::setting(db, ctx, "pipelines::update_loss_reason", "").await?;
    Ok(r)
}

pub(crate) fn apply_loss_reason(
    r: &mut LossReason,
    input: LossReasonInput,
) -> Result<(), AppError> {
    if let Some(v) = input.name_zh {
        r.name_zh = v;
    }
    if let Some(v) = input.name_en {
        r.name_en = v;
    }
    process::check_label("name_zh", &r.name_zh)?;
    process::check_label("name_en", &r.name_en)?;
    if let Some(v) = input.position {
        r.position = v;
    }
    if let Some(v) = input.archived {
        r.archived = v;
    }
    Ok(())
}
