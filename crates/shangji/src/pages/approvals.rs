//! The approvals inbox (requests waiting for the signed-in user, to approve or reject with a
//! comment; the last approval performs the move), the requests the user sent with their
//! decisions, and the notifications. Each post is one `ops` call; what it refuses is shown
//! beside the request it is about, in the user's language.

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;
use shangji_core::approval::{ApprovalRequest, ApprovalStatus};
use shangji_core::model::{Opportunity, RecordKind, User};
use shangji_core::Money;
use shangji_store::Directory;

use super::{error_text, render, shown_in_form, Nav, Viewer};
use crate::error::AppError;
use crate::i18n::Tr;
use crate::notices::{note_text, rule_label, rule_name, stage_name, user_name};
use crate::ops::{self, ApprovalItem};
use crate::state::AppState;

const APPROVALS: &str = "/approvals";
const NOTIFICATIONS: &str = "/notifications";

pub(super) struct DecisionView {
    pub(super) who: String,
    pub(super) approved: bool,
    pub(super) comment: String,
    pub(super) when: String,
}

/// An approval request as people read it.
pub(super) struct RequestView {
    pub(super) id: i64,
    pub(super) opp_id: i64,
    pub(super) title: String,
    /// The viewer may open the opportunity.
    pub(super) readable: bool,
    pub(super) requester: String,
    pub(super) requester_id: i64,
    pub(super) from: String,
    pub(super) to: String,
    pub(super) amount: String,
    pub(super) when: String,
    pub(super) iso: String,
    pub(super) policy: String,
    pub(super) status: &'static str,
    pub(super) status_label: &'static str,
    /// "Step 1 of 2".
    pub(super) step: String,
    /// Who must act now, while pending.
    pub(super) waiting_for: String,
    pub(super) waiting_for_id: Option<i64>,
    /// Every approver in order.
    pub(super) chain: String,
    pub(super) decisions: Vec<DecisionView>,
    /// The comment as typed, when a decision was refused.
    pub(super) comment: String,
    pub(super) error: Option<String>,
    /// What the move still misses, when the last approval could not move the deal.
    pub(super) missing: Vec<String>,
}

pub(super) fn status_label(tr: Tr, s: ApprovalStatus) -> &'static str {
    match s {
        ApprovalStatus::Pending => tr.t("approval.pending"),
        ApprovalStatus::Approved => tr.t("approval.approved"),
        ApprovalStatus::Rejected => tr.t("approval.rejected"),
        ApprovalStatus::Withdrawn => tr.t("approval.withdrawn"),
    }
}

/// The amount the move asks for: the one sent with it, else the deal's.
fn requested_amount(req: &ApprovalRequest, opp: Option<&Opportunity>) -> Option<Money> {
    let currency = opp.map_or("CNY", |o| o.amount.currency.as_str());
    let sent = req
        .move_input
        .get("set")
        .and_then(|s| s.get("amount_minor"))
        .and_then(Value::as_i64);
    match sent {
        Some(amount_minor) => Some(Money {
            amount_minor,
            currency: currency.to_string(),
        }),
        None => opp.map(|o| o.amount.clone()),
    }
}

pub(super) fn request_view(
    tr: Tr,
    dir: &Directory,
    users: &[User],
    req: &ApprovalRequest,
    opp: Option<&Opportunity>,
    readable: bool,
) -> RequestView {
    let policy = req
        .policy_id
        .and_then(|id| dir.approval_policies.iter().find(|p| p.id == id))
        .map_or_else(
            || tr.t("approval.stage_gate").to_string(),
            |p| p.name.clone(),
        );
    let waiting_for_id = req.current_approver();
    RequestView {
        id: req.id,
        opp_id: req.opportunity_id,
        title: opp.map_or_else(|| format!("#{}", req.opportunity_id), |o| o.title.clone()),
        readable,
        requester: user_name(users, req.requester_id),
        requester_id: req.requester_id,
        from: stage_name(tr, dir, Some(req.from_stage_id)),
        to: stage_name(tr, dir, Some(req.to_stage_id)),
        amount: requested_amount(req, opp)
            .map_or_else(|| tr.t("value.none").to_string(), |m| tr.money(&m)),
        when: tr.datetime(req.created_at),
        iso: req
            .created_at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        policy,
        status: req.status.as_str(),
        status_label: status_label(tr, req.status),
        step: tr.fmt(
            "approval.step",
            &[
                (
                    "n",
                    &(req.step as usize + 1)
                        .min(req.approver_ids.len())
                        .to_string(),
                ),
                ("of", &req.approver_ids.len().to_string()),
            ],
        ),
        waiting_for: waiting_for_id.map_or_else(String::new, |id| user_name(users, id)),
        waiting_for_id,
        chain: req
            .approver_ids
            .iter()
            .map(|id| user_name(users, *id))
            .collect::<Vec<_>>()
            .join(" → "),
        decisions: req
            .decisions
            .iter()
            .map(|d| DecisionView {
                who: user_name(users, d.approver_id),
                approved: d.approved,
                comment: d.comment.clone().unwrap_or_default(),
                when: tr.datetime(d.at),
            })
            .collect(),
        comment: String::new(),
        error: None,
        missing: vec![],
    }
}

#[derive(Template)]
#[template(path = "approvals.html")]
struct ApprovalsPage {
    tr: Tr,
    csrf: String,
    here: String,
    nav: Nav,
    /// `inbox` or `sent`.
    tab: &'static str,
    waiting: i64,
    rows: Vec<RequestView>,
    notice: Option<String>,
    /// An error about a request no longer listed.
    error: Option<String>,
    /// The caller decides duplicates sent to managers.
    dupes: bool,
}

/// What a refused post shows beside its request.
struct Refused {
    id: i64,
    comment: String,
    error: String,
    missing: Vec<String>,
}

async fn approvals_page(
    s: &AppState,
    v: &Viewer,
    inbox: bool,
    notice: Option<String>,
    refused: Option<Refused>,
) -> Result<ApprovalsPage, AppError> {
    let tr = v.tr;
    let items = ops::approval_items(&s.db, &v.ctx, inbox).await?;
    let users = s.db.users().await?;
    let mut rows: Vec<RequestView> = items
        .iter()
        .map(
            |ApprovalItem {
                 request,
                 opportunity,
                 readable,
             }| {
                request_view(
                    tr,
                    &v.ctx.dir,
                    &users,
                    request,
                    opportunity.as_ref(),
                    *readable,
                )
            },
        )
        .collect();
    let mut error = None;
    if let Some(r) = refused {
        match rows.iter_mut().find(|row| row.id == r.id) {
            Some(row) => {
                row.comment = r.comment;
                row.error = Some(r.error);
                row.missing = r.missing;
            }
            None => error = Some(r.error),
        }
    }
    let here = if inbox {
        APPROVALS.to_string()
    } else {
        format!("{APPROVALS}?box=sent")
    };
    Ok(ApprovalsPage {
        dupes: v.ctx.scope.is_manager(),
        tr,
        csrf: v.csrf.clone(),
        here,
        nav: v.nav("approvals"),
        tab: if inbox { "inbox" } else { "sent" },
        waiting: v.counts.0,
        rows,
        notice,
        error,
    })
}

#[derive(serde::Deserialize)]
struct BoxQuery {
    r#box: Option<String>,
    /// A request just decided or withdrawn.
    done: Option<i64>,
}

/// The notice after a decision or a withdrawal, from the request as it now is.
async fn done_notice(s: &AppState, v: &Viewer, id: i64) -> Option<String> {
    let req = ops::approval(&s.db, &v.ctx, id).await.ok()?;
    let tr = v.tr;
    let to = stage_name(tr, &v.ctx.dir, Some(req.to_stage_id));
    Some(match req.status {
        ApprovalStatus::Approved => tr.fmt("approval.done_moved", &[("stage", &to)]),
        ApprovalStatus::Rejected => tr.t("approval.done_rejected").to_string(),
        ApprovalStatus::Withdrawn => tr.t("approval.done_withdrawn").to_string(),
        ApprovalStatus::Pending => {
            let users = s.db.users().await.ok()?;
            let next = req
                .current_approver()
                .map(|id| user_name(&users, id))
                .unwrap_or_default();
            tr.fmt("approval.done_next", &[("name", &next)])
        }
    })
}

async fn approvals(State(s): State<AppState>, v: Viewer, Query(q): Query<BoxQuery>) -> Response {
    let inbox = q.r#box.as_deref() != Some("sent");
    let notice = match q.done {
        Some(id) => done_notice(&s, &v, id).await,
        None => None,
    };
    match approvals_page(&s, &v, inbox, notice, None).await {
        Ok(p) => render(p),
        Err(e) => v.error(APPROVALS, e),
    }
}

/// Approve or reject, with a comment. Approving the last step moves the deal; if the move is
/// refused then (a gate no longer met…), nothing is saved and the reason is shown.
async fn decide(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let f = match v.posted(f, APPROVALS) {
        Ok(f) => f,
        Err(page) => return page,
    };
    let approve = match f.get("decision") {
        "approve" => true,
        "reject" => false,
        _ => {
            return v.error(
                APPROVALS,
                AppError::bad_request("decision", "invalid_value", "approve or reject"),
            )
        }
    };
    let comment = f.get("comment").to_string();
    let sent = Some(comment.trim().to_string()).filter(|c| !c.is_empty());
    match ops::decide_approval(&s.db, &v.ctx, id, approve, sent).await {
        Ok(_) => Redirect::to(&format!("{APPROVALS}?done={id}")).into_response(),
        Err(e) if shown_in_form(&e) => {
            let missing = match &e {
                AppError::Unmet { missing, .. } => {
                    missing.iter().map(|u| u.message(v.tr.lang)).collect()
                }
                _ => vec![],
            };
            let refused = Refused {
                id,
                comment,
                error: error_text(v.tr, &e).1,
                missing,
            };
            match approvals_page(&s, &v, true, None, Some(refused)).await {
                Ok(p) => (e.status(), render(p)).into_response(),
                Err(e) => v.error(APPROVALS, e),
            }
        }
        Err(e) => v.error(APPROVALS, e),
    }
}

async fn withdraw(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let here = format!("{APPROVALS}?box=sent");
    if let Err(page) = v.posted(f, &here) {
        return page;
    }
    match ops::withdraw_approval(&s.db, &v.ctx, id).await {
        Ok(_) => Redirect::to(&format!("{here}&done={id}")).into_response(),
        Err(e) if shown_in_form(&e) => {
            let refused = Refused {
                id,
                comment: String::new(),
                error: error_text(v.tr, &e).1,
                missing: vec![],
            };
            match approvals_page(&s, &v, false, None, Some(refused)).await {
                Ok(p) => (e.status(), render(p)).into_response(),
                Err(e) => v.error(&here, e),
            }
        }
        Err(e) => v.error(&here, e),
    }
}

// ---- Notifications. ----

struct NoteView {
    id: i64,
    text: String,
    comment: String,
    when: String,
    iso: String,
    unread: bool,
    /// Opening it leads to the opportunity.
    opens: bool,
    /// A rule's reasons, in words.
    reasons: Vec<String>,
    /// A digest's notifications: (the record's page, text).
    items: Vec<(String, String)>,
}

struct RuleChoice {
    id: i64,
    name: String,
    muted: bool,
}

#[derive(Template)]
#[template(path = "notifications.html")]
struct NotificationsPage {
    tr: Tr,
    csrf: String,
    here: String,
    nav: Nav,
    notes: Vec<NoteView>,
    rules: Vec<RuleChoice>,
}

async fn notifications(State(s): State<AppState>, v: Viewer) -> Response {
    let result = async {
        let notes = ops::notifications(&s.db, &v.ctx).await?;
        let users = s.db.users().await?;
        let prefs = crate::ops::automation::preferences(&s.db, &v.ctx).await?;
        let rules = s.db.rules().await?;
        Ok::<_, AppError>((notes, users, prefs, rules))
    }
    .await;
    let (notes, users, prefs, rules) = match result {
        Ok(x) => x,
        Err(e) => return v.error(NOTIFICATIONS, e),
    };
    let tr = v.tr;
    let notes = notes
        .iter()
        .map(|n| NoteView {
            id: n.id,
            text: note_text(tr, &v.ctx.dir, &users, n),
            comment: n
                .payload
                .get("comment")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            when: tr.datetime(n.created_at),
            iso: n
                .created_at
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            unread: n.read_at.is_none(),
            opens: n.record_kind == Some(RecordKind::Opportunity) && n.record_id.is_some(),
            reasons: match n.kind.as_str() {
                "rule" => {
                    let mut out: Vec<String> = n
                        .payload
                        .get("messages")
                        .and_then(Value::as_array)
                        .map(|m| {
                            m.iter()
                                .filter_map(Value::as_str)
                                .map(str::to_string)
                                .collect()
                        })
                        .unwrap_or_default();
                    out.extend(super::automation::reasons_text(
                        tr,
                        &v.ctx.dir,
                        n.payload.get("reasons").unwrap_or(&Value::Null),
                    ));
                    out
                }
                _ => vec![],
            },
            items: n
                .payload
                .get("items")
                .and_then(Value::as_array)
                .filter(|_| n.kind == "rule_digest")
                .map(|items| {
                    items
                        .iter()
                        .map(|i| {
                            (
                                // The record's page (digests from before links: a deal).
                                i.get("link").and_then(Value::as_str).map_or_else(
                                    || {
                                        let id = i.get("record_id").and_then(Value::as_i64);
                                        format!("/opportunities/{}", id.unwrap_or(0))
                                    },
                                    str::to_string,
                                ),
                                tr.fmt(
                                    "auto.note.rule",
                                    &[
                                        ("rule", &rule_label(tr, i)),
                                        (
                                            "title",
                                            i.get("title").and_then(Value::as_str).unwrap_or(""),
                                        ),
                                    ],
                                ),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect();
    render(NotificationsPage {
        tr,
        csrf: v.csrf.clone(),
        here: NOTIFICATIONS.into(),
        nav: v.nav("notifications"),
        notes,
        rules: rules
            .iter()
            .map(|r| RuleChoice {
                id: r.rule.id,
                name: rule_name(tr, &r.rule.name, r.rule.template_key.as_deref()),
                muted: prefs.muted_rules.contains(&r.rule.id),
            })
            .collect(),
    })
}

/// Opening a notification marks it read and leads to its opportunity.
async fn open_notification(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    if let Err(page) = v.posted(f, NOTIFICATIONS) {
        return page;
    }
    let found = match ops::notifications(&s.db, &v.ctx).await {
        Ok(notes) => notes.into_iter().find(|n| n.id == id),
        Err(e) => return v.error(NOTIFICATIONS, e),
    };
    let Some(note) = found else {
        return v.error(NOTIFICATIONS, AppError::NotFound);
    };
    if let Err(e) = ops::mark_notification_read(&s.db, &v.ctx, id).await {
        return v.error(NOTIFICATIONS, e);
    }
    match (note.record_kind, note.record_id) {
        (Some(RecordKind::Opportunity), Some(opp)) if note.kind == "rule" => {
            Redirect::to(&format!("/opportunities/{opp}")).into_response()
        }
        (Some(RecordKind::Opportunity), Some(opp)) => {
            Redirect::to(&format!("/opportunities/{opp}#approval")).into_response()
        }
        _ => Redirect::to(NOTIFICATIONS).into_response(),
    }
}

/// Marks every notification of the user read.
async fn read_all(
    State(s): State<AppState>,
    v: Viewer,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    if let Err(page) = v.posted(f, NOTIFICATIONS) {
        return page;
    }
    match crate::ops::automation::mark_all_read(&s.db, &v.ctx).await {
        Ok(_) => Redirect::to(NOTIFICATIONS).into_response(),
        Err(e) => v.error(NOTIFICATIONS, e),
    }
}

/// Saves which rules' notifications the user does not want, and the daily digest.
async fn save_preferences(
    State(s): State<AppState>,
    v: Viewer,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let form = match v.posted(f, NOTIFICATIONS) {
        Ok(f) => f,
        Err(page) => return page,
    };
    let prefs = crate::ops::automation::PrefsView {
        muted_rules: form
            .all("muted")
            .iter()
            .filter_map(|v| v.parse().ok())
            .collect(),
    };
    match crate::ops::automation::save_preferences(&s.db, &v.ctx, prefs).await {
        Ok(_) => Redirect::to(&format!("{NOTIFICATIONS}#preferences")).into_response(),
        Err(e) => v.error(NOTIFICATIONS, e),
    }
}

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/approvals", get(approvals))
        .route("/approvals/{id}/decide", post(decide))
        .route("/approvals/{id}/withdraw", post(withdraw))
        .route("/notifications", get(notifications))
        .route("/notifications/{id}/open", post(open_notification))
        .route("/notifications/read-all", post(read_all))
        .route("/notifications/preferences", post(save_preferences))
}
