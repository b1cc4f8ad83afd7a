//! The opportunity page, the move posted from it and withdrawing a move that waits for
//! approval.

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use shangji_core::custom_fields::CustomFieldDef;
use shangji_core::model::{Account, Contact, Opportunity, RecordKind, Stage, StageKind};
use shangji_core::process::Unmet;

use crate::error::AppError;
use crate::i18n::Tr;
use crate::notices::user_name;
use crate::ops;
use crate::pages::admin::kind_label;
use crate::pages::approvals::{request_view, RequestView};
use crate::pages::{error_text, render, shown_in_form, Choice, Errors, Nav, Viewer};
use crate::state::AppState;

use super::history::{timeline, Entry};
use super::move_form::{panel, place, MoveForm, PanelItem};

struct PathStep {
    name: String,
    /// `done`, `current` or `todo`.
    state: &'static str,
    kind: &'static str,
}

struct CheckView {
    label: String,
    done: bool,
}

struct ActionView {
    name: String,
    done: bool,
    required: bool,
}

struct StageOption {
    id: i64,
    name: String,
    kind: &'static str,
    selected: bool,
}

#[derive(Template)]
#[template(path = "opportunity.html")]
struct OpportunityPage {
    tr: Tr,
    csrf: String,
    here: String,
    nav: Nav,
    id: i64,
    title: String,
    account: String,
    owner: String,
    stage: String,
    status: &'static str,
    status_label: &'static str,
    pipeline: String,
    archived: bool,
    path: Vec<PathStep>,
    guidance: String,
    checklist: Vec<CheckView>,
    actions: Vec<ActionView>,
    stages: Vec<StageOption>,
    reasons: Vec<Choice>,
    loss_note: String,
    competitor: String,
    version: i64,
    errors: Errors,
    panel: Vec<PanelItem>,
    /// The gate refused the move (the panel lists what is missing).
    refused: bool,
    notice: Option<String>,
    timeline: Vec<Entry>,
    /// The move waiting for approval, if any.
    approval: Option<RequestView>,
    /// The viewer asked for it (and may withdraw it).
    can_withdraw: bool,
    /// The viewer is the approver to act now.
    can_decide: bool,
    /// Why withdrawing was refused.
    approval_error: Option<String>,
    /// Editable fields, contacts, tasks and the follow-up form.
    extras: crate::pages::records::OppExtras,
    /// Since when it has waited in the public pool (formatted), if it is there.
    pool_since: Option<String>,
    /// The viewer may put it in the public pool.
    can_release: bool,
    pipeline_id: i64,
    stage_id: i64,
    /// Just won by a move from the stage with this id, which the viewer may take back
    /// (撤销): the undo bar's form posts that move.
    undo_to: Option<i64>,
}

/// The page of opportunity `id` as `v` may see it, with the move form as given.
async fn page(
    s: &AppState,
    v: &Viewer,
    id: i64,
    form: MoveForm,
    missing: Vec<Unmet>,
    errors: Errors,
) -> Result<OpportunityPage, AppError> {
    let tr = v.tr;
    let dir = v.ctx.dir.clone();
    let opp: Opportunity = ops::get(&s.db, &v.ctx, id).await?;
    let p = dir
        .pipeline(opp.pipeline_id)
        .ok_or_else(|| AppError::Internal(format!("pipeline {} is missing", opp.pipeline_id)))?;
    let events = ops::opportunity_events(&s.db, &v.ctx, id).await?;
    let done_actions = ops::actions_done(&s.db, &opp).await?;
    let users = s.db.users().await?;
    let approval = ops::pending_approval(&s.db, &v.ctx, id)
        .await?
        .map(|req| request_view(tr, &dir, &users, &req, Some(&opp), true));
    let me = v.user.id;
    let account = match ops::get::<Account>(&s.db, &v.ctx, opp.account_id).await {
        Ok(a) => a.name,
        Err(AppError::NotFound) => format!("#{}", opp.account_id),
        Err(e) => return Err(e),
    };
    let current = p.stage(opp.stage_id);
    let mut stages: Vec<&Stage> = p.stages.iter().collect();
    stages.sort_by_key(|s| s.position);

    // The path: the open stages, and the outcome once closed.
    let here_pos = current.map_or(-1, |s| s.position);
    let mut path: Vec<PathStep> = stages
        .iter()
        .filter(|s| s.kind == StageKind::Open && (!s.archived || s.id == opp.stage_id))
        .map(|s| PathStep {
            name: s.name(tr.lang).to_string(),
            state: match opp.status {
                StageKind::Open if s.id == opp.stage_id => "current",
                StageKind::Open if s.position < here_pos => "done",
                StageKind::Won => "done",
                _ => "todo",
            },
            kind: "open",
        })
        .collect();
    if let Some(c) = current.filter(|c| c.kind != StageKind::Open) {
        path.push(PathStep {
            name: c.name(tr.lang).to_string(),
            state: "current",
            kind: c.kind.as_str(),
        });
    }

    // The stages to move to; by default the next open one.
    let next_open = stages
        .iter()
        .find(|s| s.kind == StageKind::Open && !s.archived && s.position > here_pos)
        .filter(|_| opp.status == StageKind::Open)
        .map(|s| s.id);
    let chosen = form
        .stage_id
        .parse::<i64>()
        .ok()
        .or(if form.stage_id.is_empty() {
            next_open
        } else {
            None
        });
    let options = stages
        .iter()
        .filter(|s| !s.archived && s.id != opp.stage_id)
        .map(|s| StageOption {
            id: s.id,
            name: s.name(tr.lang).to_string(),
            kind: s.kind.as_str(),
            selected: Some(s.id) == chosen,
        })
        .collect();
    let mut reasons = vec![Choice::new(
        "",
        tr.t("form.choose"),
        form.loss_reason.is_empty(),
    )];
    reasons.extend(dir.loss_reasons.iter().filter(|r| !r.archived).map(|r| {
        let label = if tr.is_zh() { &r.name_zh } else { &r.name_en };
        Choice::new(r.key.clone(), label.clone(), r.key == form.loss_reason)
    }));

    let wants_contact = missing.iter().any(|u| u.field == "primary_contact_id")
        || !form.value("primary_contact_id").is_empty();
    let contacts = if wants_contact {
        let params = [
            ("account_id".to_string(), opp.account_id.to_string()),
            ("per_page".to_string(), "200".to_string()),
        ];
        ops::list::<Contact>(&s.db, &v.ctx, &params).await?.items
    } else {
        vec![]
    };
    let mut defs: Vec<&CustomFieldDef> = dir.custom_fields_of(RecordKind::Opportunity).collect();
    defs.sort_by_key(|d| (d.position, d.id));
    let panel = panel(tr, p, &missing, &form, &errors, &contacts, (&defs, &users));

    let status_label = kind_label(tr, opp.status);
    Ok(OpportunityPage {
        tr,
        csrf: v.csrf.clone(),
        here: format!("/opportunities/{id}"),
        nav: v.nav("opportunity"),
        id,
        title: opp.title.clone(),
        account,
        owner: user_name(&users, opp.owner_id),
        pool_since: opp.pool_since.map(|t| tr.datetime(t)),
        can_release: opp.pool_since.is_none()
            && opp.status == StageKind::Open
            && !opp.archived
            && v.ctx.scope.covers(Some(opp.owner_id)),
        stage: current.map_or_else(String::new, |s| s.name(tr.lang).to_string()),
        status: opp.status.as_str(),
        status_label,
        pipeline: p.name.clone(),
        archived: opp.archived,
        path,
        guidance: current.and_then(|s| s.guidance.clone()).unwrap_or_default(),
        checklist: current.map_or_else(Vec::new, |s| {
            s.gate
                .checklist
                .iter()
                .map(|c| CheckView {
                    label: if tr.is_zh() {
                        c.label_zh.clone()
                    } else {
                        c.label_en.clone()
                    },
                    done: opp.checklist.contains(&c.key),
                })
                .collect()
        }),
        actions: current.map_or_else(Vec::new, |s| {
            s.actions
                .iter()
                .map(|a| ActionView {
                    name: if tr.is_zh() {
                        a.name_zh.clone()
                    } else {
                        a.name_en.clone()
                    },
                    done: done_actions.contains(&a.key),
                    required: a.required_to_leave,
                })
                .collect()
        }),
        stages: options,
        reasons,
        loss_note: form.loss_note,
        competitor: form.competitor,
        version: opp.version,
        errors,
        refused: !missing.is_empty(),
        panel,
        notice: None,
        timeline: crate::pages::records::merge_follow_ups(
            tr,
            &users,
            timeline(tr, &dir, p, &users, &events),
            ops::records::opportunity_activities(&s.db, &v.ctx, id).await?,
        ),
        extras: crate::pages::records::opp_extras(s, v, &opp, &users).await?,
        can_withdraw: approval.as_ref().is_some_and(|a| a.requester_id == me),
        can_decide: approval
            .as_ref()
            .is_some_and(|a| a.waiting_for_id == Some(me)),
        approval,
        approval_error: None,
        undo_to: None,
        pipeline_id: opp.pipeline_id,
        stage_id: opp.stage_id,
    })
}

#[derive(serde::Deserialize)]
pub(super) struct MovedQuery {
    moved: Option<String>,
    approval: Option<String>,
    withdrawn: Option<String>,
    /// Set after a move to won: the stage it came from, offered as an undo.
    undo: Option<i64>,
}

pub(super) async fn show(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Query(q): Query<MovedQuery>,
) -> Response {
    match page(&s, &v, id, MoveForm::default(), vec![], Errors::default()).await {
        Ok(mut p) => {
            if q.moved.is_some() {
                p.notice = Some(v.tr.fmt("opp.moved", &[("stage", &p.stage)]));
            }
            if q.approval.is_some() {
                p.notice = Some(v.tr.t("opp.approval_requested").to_string());
            }
            if q.withdrawn.is_some() {
                p.notice = Some(v.tr.t("approval.done_withdrawn").to_string());
            }
            p.undo_to = q.undo.filter(|from| may_undo(&v, &p, *from));
            render(p)
        }
        Err(e) => v.error(&format!("/opportunities/{id}"), e),
    }
}

/// Whether the undo bar may offer to take the deal on page `p` back to stage `from`: it is
/// won, in the won stage of its pipeline, and the viewer may reopen it into `from`
/// (`process::may_undo_won`).
fn may_undo(v: &Viewer, p: &OpportunityPage, from: i64) -> bool {
    let Some(pipeline) = v.ctx.dir.pipeline(p.pipeline_id) else {
        return false;
    };
    match (pipeline.stage(from), pipeline.stage(p.stage_id)) {
        (Some(f), Some(won)) => {
            shangji_core::process::may_undo_won(pipeline, f, won, v.ctx.actor.role)
        }
        _ => false,
    }
}

pub(super) async fn move_submit(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let here = format!("/opportunities/{id}");
    let f = match v.posted(f, &here) {
        Ok(f) => f,
        Err(page) => return page,
    };
    let form = MoveForm::posted(&f);
    let version = f.text("version").parse().ok();
    let from = ops::get::<Opportunity>(&s.db, &v.ctx, id)
        .await
        .ok()
        .filter(|o| o.status == StageKind::Open)
        .map(|o| o.stage_id);
    let (result, mut errors) = match form.input(v.tr, version, &v.ctx.dir) {
        Ok(input) => (
            ops::move_opportunity(&s.db, &v.ctx, id, input).await,
            Errors::default(),
        ),
        Err(errors) => (
            Err(AppError::invalid("", "invalid_value", "see the fields")),
            errors,
        ),
    };
    let e = match result {
        // Won: offer to take it back to the stage it came from for a few seconds.
        Ok(after) => {
            let undo = match from.filter(|_| after.status == StageKind::Won) {
                Some(from) => format!("&undo={from}"),
                None => String::new(),
            };
            return Redirect::to(&format!("{here}?moved=1{undo}#opp-title")).into_response();
        }
        // Held for approval: the opportunity stays; say so.
        Err(AppError::AwaitingApproval(_)) => {
            return Redirect::to(&format!("{here}?approval=1#opp-title")).into_response()
        }
        Err(e) if shown_in_form(&e) => e,
        Err(e) => return v.error(&here, e),
    };
    let missing = match &e {
        AppError::Unmet { missing, .. } => missing.clone(),
        _ => vec![],
    };
    // A refused gate is the panel; anything else goes beside its field.
    if errors.is_empty() && missing.is_empty() {
        place(&mut errors, v.tr, &e);
    }
    let status = e.status();
    match page(&s, &v, id, form, missing, errors).await {
        Ok(p) => (status, render(p)).into_response(),
        Err(e) => v.error(&here, e),
    }
}

/// The requester takes back the move waiting for approval; the deal stays where it is.
pub(super) async fn withdraw_submit(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let here = format!("/opportunities/{id}");
    let f = match v.posted(f, &here) {
        Ok(f) => f,
        Err(page) => return page,
    };
    let Ok(request) = f.text("approval_id").parse::<i64>() else {
        return v.error(&here, AppError::NotFound);
    };
    let e = match ops::withdraw_approval(&s.db, &v.ctx, request).await {
        Ok(_) => return Redirect::to(&format!("{here}?withdrawn=1#opp-title")).into_response(),
        Err(e) if shown_in_form(&e) => e,
        Err(e) => return v.error(&here, e),
    };
    match page(&s, &v, id, MoveForm::default(), vec![], Errors::default()).await {
        Ok(mut p) => {
            p.approval_error = Some(error_text(v.tr, &e).1);
            (e.status(), render(p)).into_response()
        }
        Err(e) => v.error(&here, e),
    }
}
