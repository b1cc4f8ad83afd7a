//! The public pool (公海) page — what waits, how long, claiming and handing over — the
//! "return to the pool" form of an opportunity, and the admin page of assignment rules and
//! the pool's settings.

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use shangji_core::assignment::{
    AssignmentRuleInput, MemberCapacity, Method, OwnershipChange, PoolSettings,
};
use shangji_core::model::{Account, ActivityType, Lead, RecordKind, Role};
use shangji_core::rules::FactsConfig;
use shangji_core::rules::{Condition, RecordType};
use time::Duration;

use super::automation::comparison_text;
use super::opportunity::{source_label, stage_name, user_name};
use super::records::activity_label;
use super::scoring::grade_text;
use super::{error_text, render, Choice, FormData, Nav, Viewer};
use crate::error::AppError;
use crate::i18n::Tr;
use crate::ops::assignment::{self, AssignInput, PoolRecord, ReleaseInput};
use crate::ops::automation;
use crate::state::AppState;

const POOL: &str = "/pool";
const ADMIN: &str = "/admin/assignment";

/// A wait in words: "2 天 3 小时" / "2 d 3 h".
fn wait_text(tr: Tr, minutes: i64) -> String {
    let (d, h, m) = (minutes / 1440, minutes % 1440 / 60, minutes % 60);
    let n = |v: i64| v.to_string();
    if d > 0 {
        tr.fmt("pool.wait_dh", &[("d", &n(d)), ("h", &n(h))])
    } else if h > 0 {
        tr.fmt("pool.wait_hm", &[("h", &n(h)), ("m", &n(m))])
    } else {
        tr.fmt("pool.wait_m", &[("m", &n(m))])
    }
}

struct PoolRow {
    id: i64,
    title: String,
    account: String,
    amount: String,
    stage: String,
    source: String,
    last_owner: String,
    waited: String,
    past_sla: bool,
}

struct SlaView {
    hours: u32,
    assigned: usize,
    within: String,
    median: String,
    waiting_past: usize,
}

impl SlaView {
    fn of(tr: Tr, s: &shangji_core::assignment::SlaSummary) -> SlaView {
        SlaView {
            hours: s.sla_hours,
            assigned: s.assigned,
            within: s
                .within_sla_permille
                .map_or_else(|| "—".into(), |p| format!("{}%", p / 10)),
            median: s
                .median_wait_minutes
                .map_or_else(|| "—".into(), |m| wait_text(tr, m)),
            waiting_past: s.waiting_past_sla,
        }
    }
}

#[derive(Template)]
#[template(path = "pool.html")]
struct PoolPage {
    tr: Tr,
    csrf: String,
    here: String,
    nav: Nav,
    rows: Vec<PoolRow>,
    may_claim: bool,
    claims_left: u32,
    limit: u32,
    may_assign: bool,
    notice: Option<String>,
    error: Option<String>,
    sla: Option<SlaView>,
}

#[derive(serde::Deserialize)]
struct PoolQuery {
    claimed: Option<i64>,
    assigned: Option<i64>,
    released: Option<i64>,
    page: Option<i64>,
}

async fn pool_page(State(s): State<AppState>, v: Viewer, Query(q): Query<PoolQuery>) -> Response {
    let notice = match (q.claimed, q.assigned) {
        (Some(_), _) => Some(v.tr.t("pool.claimed").to_string()),
        (_, Some(_)) => Some(v.tr.t("pool.assigned").to_string()),
        _ => None,
    };
    match page(&s, &v, notice, None).await {
        Ok(p) => render(p),
        Err(e) => v.error(POOL, e),
    }
}

async fn page(
    s: &AppState,
    v: &Viewer,
    notice: Option<String>,
    error: Option<String>,
) -> Result<PoolPage, AppError> {
    let tr = v.tr;
    let view = assignment::pool_view(&s.db, &v.ctx).await?;
    let users = s.db.users().await?;
    let rows = view
        .items
        .iter()
        .map(|i| PoolRow {
            id: i.id,
            title: i.title.clone(),
            account: i.account_name.clone(),
            amount: tr.money(&i.amount),
            stage: stage_name(tr, &v.ctx.dir, Some(i.stage_id)),
            source: i.source.map_or("", |s| source_label(tr, s)).to_string(),
            last_owner: user_name(&users, i.last_owner_id),
            waited: wait_text(tr, i.waited_minutes),
            past_sla: i.past_sla,
        })
        .collect();
    let sla = if v.ctx.scope.is_manager() {
        let to = v.ctx.now;
        let s = assignment::sla(&s.db, &v.ctx, to - Duration::days(30), to).await?;
        Some(SlaView::of(tr, &s))
    } else {
        None
    };
    Ok(PoolPage {
        tr,
        csrf: v.csrf.clone(),
        here: POOL.into(),
        nav: v.nav("pool"),
        rows,
        may_claim: view.may_claim,
        claims_left: view.claims_left,
        limit: view.settings.claim_limit_per_day,
        may_assign: view.may_assign,
        notice,
        error,
        sla,
    })
}

/// An operation's error shown on the pool page, in the user's language.
async fn pool_error(s: &AppState, v: &Viewer, e: AppError) -> Response {
    let (_, text) = error_text(v.tr, &e);
    match page(s, v, None, Some(text)).await {
        Ok(p) => render(p),
        Err(e) => v.error(POOL, e),
    }
}

async fn claim(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    if let Err(page) = v.posted(f, POOL) {
        return page;
    }
    match assignment::claim(&s.db, &v.ctx, id).await {
        Ok(_) => Redirect::to(&format!("/opportunities/{id}")).into_response(),
        Err(e) => pool_error(&s, &v, e).await,
    }
}

async fn assign(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    if let Err(page) = v.posted(f, POOL) {
        return page;
    }
    match assignment::assign(&s.db, &v.ctx, id, AssignInput::default()).await {
        Ok(_) => Redirect::to(&format!("{POOL}?assigned={id}")).into_response(),
        Err(e) => pool_error(&s, &v, e).await,
    }
}

async fn release(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let here = format!("/opportunities/{id}");
    let form = match v.posted(f, &here) {
        Ok(f) => f,
        Err(page) => return page,
    };
    let reason = form.text("reason");
    let input = ReleaseInput {
        reason: (!reason.trim().is_empty()).then_some(reason),
        version: form.get("version").parse().ok(),
    };
    match assignment::release(&s.db, &v.ctx, id, input).await {
        Ok(_) => Redirect::to(&here).into_response(),
        Err(e) => v.error(&here, e),
    }
}

// ---- Admin: assignment rules and the pool's settings. ----

struct RuleRow {
    id: i64,
    name: String,
    /// What it hands out, in words.
    kind: String,
    enabled: bool,
    team: String,
    method: String,
    members: String,
    conditions: Vec<String>,
}

struct MemberRow {
    id: i64,
    name: String,
    team: String,
    checked: bool,
    capacity: String,
}

#[derive(Template)]
#[template(path = "admin_assignment.html")]
struct AdminPage {
    tr: Tr,
    csrf: String,
    here: String,
    nav: Nav,
    tab: &'static str,
    rows: Vec<RuleRow>,
    settings: PoolSettings,
    settings_errors: Vec<String>,
    saved: bool,
    /// The rule form: 0 for a new rule.
    form_id: i64,
    form_version: i64,
    form_name: String,
    form_enabled: bool,
    form_conditions: String,
    form_default_capacity: u32,
    record_types: Vec<Choice>,
    teams: Vec<Choice>,
    methods: Vec<Choice>,
    members: Vec<MemberRow>,
    form_errors: Vec<String>,
}

/// What an assignment rule hands out, in words.
fn record_type_label(tr: Tr, t: RecordType) -> String {
    tr.t(&format!("assign.kind.{}", t.as_str())).to_string()
}

fn method_label(tr: Tr, m: Method) -> String {
    tr.t(&format!("assign.method.{}", m.as_str())).to_string()
}

fn team_name(v: &Viewer, id: i64) -> String {
    v.ctx
        .dir
        .org
        .teams
        .iter()
        .find(|t| t.id == id)
        .map_or_else(|| format!("#{id}"), |t| t.name.clone())
}

/// The form's state: a rule being edited (or the defaults), and what was posted.
struct RuleForm {
    id: i64,
    version: i64,
    input: AssignmentRuleInput,
    conditions_text: String,
}

impl RuleForm {
    fn blank(v: &Viewer) -> RuleForm {
        let team = v.ctx.dir.org.teams.first().map_or(0, |t| t.id);
        let input = AssignmentRuleInput {
            name: String::new(),
            enabled: true,
            record_type: RecordType::Opportunity,
            conditions: Condition::default(),
            team_id: team,
            method: Method::RoundRobin,
            members: vec![],
            capacities: vec![],
            default_capacity: 10,
            version: None,
        };
        RuleForm {
            id: 0,
            version: 0,
            conditions_text: pretty(&input.conditions),
            input,
        }
    }
}

fn pretty(v: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

async fn admin_page(
    s: &AppState,
    v: &Viewer,
    form: RuleForm,
    form_errors: Vec<String>,
    settings_errors: Vec<String>,
    saved: bool,
) -> Result<AdminPage, AppError> {
    let tr = v.tr;
    let rules = assignment::list_rules(&s.db, &v.ctx).await?;
    let users = s.db.users().await?;
    let settings = assignment::settings(&s.db).await?;
    let rows = rules
        .iter()
        .map(|r| {
            let members = shangji_core::assignment::members(&r.rule, &v.ctx.dir.org.teams, &users);
            RuleRow {
                id: r.rule.id,
                name: r.rule.name.clone(),
                kind: record_type_label(tr, r.rule.record_type),
                enabled: r.rule.enabled,
                team: team_name(v, r.rule.team_id),
                method: method_label(tr, r.rule.method),
                members: members
                    .iter()
                    .map(|id| {
                        let name = user_name(&users, *id);
                        if r.rule.method == Method::Capacity {
                            format!("{name} ({})", r.rule.capacity(*id))
                        } else {
                            name
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(tr.t("list.sep")),
                conditions: r
                    .rule
                    .conditions
                    .comparisons()
                    .iter()
                    .map(|(_, c)| comparison_text(tr, &v.ctx.dir, c))
                    .collect(),
            }
        })
        .collect();
    let input = &form.input;
    let capacity = |id: i64| {
        input
            .capacities
            .iter()
            .find(|c| c.user_id == id)
            .map(|c| c.per_day.to_string())
            .unwrap_or_default()
    };
    let members = users
        .iter()
        .filter(|u| u.active && matches!(u.role, Role::Rep | Role::Manager))
        .map(|u| MemberRow {
            id: u.id,
            name: u.display_name.clone(),
            team: u.team_id.map(|t| team_name(v, t)).unwrap_or_default(),
            checked: input.members.contains(&u.id),
            capacity: capacity(u.id),
        })
        .collect();
    Ok(AdminPage {
        tr,
        csrf: v.csrf.clone(),
        here: ADMIN.into(),
        nav: v.nav("settings"),
        tab: "assignment",
        rows,
        settings,
        settings_errors,
        saved,
        form_id: form.id,
        form_version: form.version,
        form_name: input.name.clone(),
        form_enabled: input.enabled,
        form_conditions: form.conditions_text.clone(),
        form_default_capacity: input.default_capacity,
        record_types: [RecordType::Opportunity, RecordType::Lead]
            .iter()
            .map(|t| {
                Choice::new(
                    t.as_str(),
                    record_type_label(tr, *t),
                    *t == input.record_type,
                )
            })
            .collect(),
        teams: v
            .ctx
            .dir
            .org
            .teams
            .iter()
            .filter(|t| !t.archived)
            .map(|t| Choice::new(t.id.to_string(), t.name.clone(), t.id == input.team_id))
            .collect(),
        methods: Method::ALL
            .iter()
            .map(|m| Choice::new(m.as_str(), method_label(tr, *m), *m == input.method))
            .collect(),
        members,
        form_errors,
    })
}

#[derive(serde::Deserialize)]
struct AdminQuery {
    edit: Option<i64>,
    saved: Option<i64>,
}

async fn admin(State(s): State<AppState>, v: Viewer, Query(q): Query<AdminQuery>) -> Response {
    let result = async {
        let mut form = RuleForm::blank(&v);
        if let Some(id) = q.edit {
            let r = assignment::get_rule(&s.db, &v.ctx, id).await?;
            form = RuleForm {
                id,
                version: r.version,
                conditions_text: pretty(&r.rule.conditions),
                input: r.rule.to_input(),
            };
        }
        admin_page(&s, &v, form, vec![], vec![], q.saved.is_some()).await
    }
    .await;
    match result {
        Ok(p) => render(p),
        Err(e) => v.error(ADMIN, e),
    }
}

/// Every mistake of a refused save as "place: words".
fn errors_of(tr: Tr, e: &AppError) -> Vec<String> {
    super::automation::errors_of(tr, e)
        .into_iter()
        .map(|(field, text)| {
            if field.is_empty() {
                text
            } else {
                format!("{field}: {text}")
            }
        })
        .collect()
}

/// The rule form as posted: the input, or what cannot be read (with the field).
fn posted_rule(tr: Tr, form: &FormData) -> (RuleForm, Vec<String>) {
    let mut errors = Vec::new();
    let conditions_text = form.text("conditions");
    let conditions = if conditions_text.trim().is_empty() {
        Condition::default()
    } else {
        match serde_json::from_str::<Condition>(&conditions_text) {
            Ok(c) => c,
            Err(e) => {
                errors.push(format!(
                    "{}: {} ({e})",
                    tr.t("auto.form.conditions"),
                    tr.t("auto.invalid_json")
                ));
                Condition::default()
            }
        }
    };
    let members: Vec<i64> = form
        .all("member")
        .iter()
        .filter_map(|m| m.parse().ok())
        .collect();
    let mut capacities = Vec::new();
    for (key, value) in form.0.iter() {
        let Some(id) = key.strip_prefix("capacity_").and_then(|i| i.parse().ok()) else {
            continue;
        };
        if value.trim().is_empty() {
            continue;
        }
        match value.trim().parse::<u32>() {
            Ok(per_day) => capacities.push(MemberCapacity {
                user_id: id,
                per_day,
            }),
            Err(_) => errors.push(format!(
                "{}: {}",
                tr.t("assign.form.capacity"),
                tr.t("err.invalid_value")
            )),
        }
    }
    let default_capacity = match form.get("default_capacity").trim().parse::<u32>() {
        Ok(n) => n,
        Err(_) => {
            errors.push(format!(
                "{}: {}",
                tr.t("assign.form.default_capacity"),
                tr.t("err.invalid_value")
            ));
            10
        }
    };
    let input = AssignmentRuleInput {
        name: form.text("name"),
        enabled: form.get("enabled") == "on",
        record_type: form
            .get("record_type")
            .parse()
            .unwrap_or(RecordType::Opportunity),
        conditions,
        team_id: form.get("team_id").parse().unwrap_or(0),
        method: form.get("method").parse().unwrap_or(Method::RoundRobin),
        members,
        capacities,
        default_capacity,
        version: form.get("version").parse().ok().filter(|v| *v > 0),
    };
    (
        RuleForm {
            id: form.get("id").parse().unwrap_or(0),
            version: input.version.unwrap_or(0),
            input,
            conditions_text,
        },
        errors,
    )
}

async fn save_rule(
    State(s): State<AppState>,
    v: Viewer,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let form = match v.posted(f, ADMIN) {
        Ok(f) => f,
        Err(page) => return page,
    };
    let (rule, errors) = posted_rule(v.tr, &form);
    let errors = if errors.is_empty() {
        let saved = if rule.id > 0 {
            assignment::update_rule(&s.db, &v.ctx, rule.id, rule.input.clone()).await
        } else {
            assignment::create_rule(&s.db, &v.ctx, rule.input.clone()).await
        };
        match saved {
            Ok(r) => {
                return Redirect::to(&format!("{ADMIN}?saved={}#arule-{}", r.rule.id, r.rule.id))
                    .into_response()
            }
            Err(e) => errors_of(v.tr, &e),
        }
    } else {
        errors
    };
    match admin_page(&s, &v, rule, errors, vec![], false).await {
        Ok(p) => render(p),
        Err(e) => v.error(ADMIN, e),
    }
}

/// Up, down, on/off and delete from the list.
async fn rule_action(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let form = match v.posted(f, ADMIN) {
        Ok(f) => f,
        Err(page) => return page,
    };
    let db = &s.db;
    let done: Result<(), AppError> = match form.get("do") {
        "up" | "down" => assignment::move_rule(db, &v.ctx, id, form.get("do") == "up")
            .await
            .map(|_| ()),
        "delete" => assignment::delete_rule(db, &v.ctx, id).await,
        "toggle" => {
            async {
                let r = assignment::get_rule(db, &v.ctx, id).await?;
                let mut input = r.rule.to_input();
                input.enabled = !input.enabled;
                input.version = Some(r.version);
                assignment::update_rule(db, &v.ctx, id, input)
                    .await
                    .map(|_| ())
            }
            .await
        }
        _ => Err(AppError::invalid("do", "invalid_value", "unknown action")),
    };
    match done {
        Ok(()) => Redirect::to(&format!("{ADMIN}#assignment-rules")).into_response(),
        Err(e) => v.error(ADMIN, e),
    }
}

async fn save_settings(
    State(s): State<AppState>,
    v: Viewer,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let form = match v.posted(f, ADMIN) {
        Ok(f) => f,
        Err(page) => return page,
    };
    let number = |k: &str| form.get(k).trim().parse::<u32>().ok();
    let numbers = [
        "claim_limit_per_day",
        "sla_hours",
        "lead_claim_limit_per_day",
        "account_claim_limit_per_day",
        "lead_sla_hours",
    ]
    .map(number);
    let errors = match numbers {
        [Some(claim_limit_per_day), Some(sla_hours), Some(lead_claim_limit_per_day), Some(account_claim_limit_per_day), Some(lead_sla_hours)] =>
        {
            let settings = PoolSettings {
                claim_limit_per_day,
                sla_hours,
                lead_claim_limit_per_day,
                account_claim_limit_per_day,
                lead_sla_hours,
            };
            match assignment::save_settings(&s.db, &v.ctx, settings).await {
                Ok(_) => return Redirect::to(&format!("{ADMIN}#pool-settings")).into_response(),
                Err(e) => errors_of(v.tr, &e),
            }
        }
        _ => vec![v.tr.t("err.invalid_value").to_string()],
    };
    match admin_page(&s, &v, RuleForm::blank(&v), vec![], errors, false).await {
        Ok(p) => render(p),
        Err(e) => v.error(ADMIN, e),
    }
}

// ---- Admin: which follow-ups count. ----

#[derive(Template)]
#[template(path = "admin_follow_up.html")]
struct FollowUpPage {
    tr: Tr,
    csrf: String,
    here: String,
    nav: Nav,
    tab: &'static str,
    kinds: Vec<Choice>,
    proposal_actions: String,
    errors: Vec<String>,
    saved: bool,
}

const FOLLOW_UP: &str = "/admin/follow-up";

fn follow_up_page(
    v: &Viewer,
    config: &FactsConfig,
    errors: Vec<String>,
    saved: bool,
) -> FollowUpPage {
    FollowUpPage {
        tr: v.tr,
        csrf: v.csrf.clone(),
        here: FOLLOW_UP.into(),
        nav: v.nav("settings"),
        tab: "follow_up",
        kinds: ActivityType::ALL
            .iter()
            .map(|k| {
                Choice::new(
                    k.as_str(),
                    activity_label(v.tr, *k),
                    config.meaningful.contains(k),
                )
            })
            .collect(),
        proposal_actions: config.proposal_actions.join(", "),
        errors,
        saved,
    }
}

#[derive(serde::Deserialize)]
struct SavedFlag {
    saved: Option<u8>,
}

async fn follow_up(State(s): State<AppState>, v: Viewer, Query(q): Query<SavedFlag>) -> Response {
    if let Err(e) = v.ctx.require_admin() {
        return v.error(FOLLOW_UP, e);
    }
    match crate::ops::facts::facts_config(&s.db).await {
        Ok(c) => render(follow_up_page(&v, &c, vec![], q.saved.is_some())),
        Err(e) => v.error(FOLLOW_UP, e),
    }
}

async fn save_follow_up(
    State(s): State<AppState>,
    v: Viewer,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let form = match v.posted(f, FOLLOW_UP) {
        Ok(f) => f,
        Err(page) => return page,
    };
    let config = FactsConfig {
        meaningful: form
            .all("meaningful")
            .iter()
            .filter_map(|k| k.parse().ok())
            .collect(),
        proposal_actions: form
            .get("proposal_actions")
            .split([',', '，', ' '])
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(str::to_string)
            .collect(),
    };
    match automation::save_facts_config(&s.db, &v.ctx, config.clone()).await {
        Ok(_) => Redirect::to(&format!("{FOLLOW_UP}?saved=1")).into_response(),
        Err(e) => render(follow_up_page(&v, &config, errors_of(v.tr, &e), false)),
    }
}

// ---- The pool of leads and accounts. ----

struct RecordPoolRow {
    id: i64,
    name: String,
    href: String,
    region: String,
    source: String,
    score: String,
    grade: String,
    waited: String,
    past_sla: bool,
}

#[derive(Template)]
#[template(path = "pool_records.html")]
struct RecordPoolPage {
    tr: Tr,
    csrf: String,
    here: String,
    nav: Nav,
    /// `leads` or `accounts`: the tab, and the path of its forms.
    kind: &'static str,
    tab_title: String,
    intro: String,
    empty: String,
    rows: Vec<RecordPoolRow>,
    may_claim: bool,
    claims_left: u32,
    limit: u32,
    /// Managers hand pool leads over by the lead assignment rules.
    may_route: bool,
    notice: Option<String>,
    error: Option<String>,
    /// The lead SLA (managers, leads tab).
    sla: Option<SlaView>,
    /// "page 2 of 24 · 1,176 in all", and the pages before and after (if any).
    paging: String,
    prev: Option<i64>,
    next: Option<i64>,
}

/// The path segment of a pool record kind.
fn kind_path(kind: RecordKind) -> &'static str {
    if kind == RecordKind::Lead {
        "leads"
    } else {
        "accounts"
    }
}

async fn record_pool_view<T: PoolRecord>(
    s: &AppState,
    v: &Viewer,
    page: i64,
    notice: Option<String>,
    error: Option<String>,
) -> Result<RecordPoolPage, AppError> {
    let tr = v.tr;
    let view = assignment::record_pool::<T>(&s.db, &v.ctx, page).await?;
    let pages = (view.total + assignment::POOL_PAGE - 1) / assignment::POOL_PAGE;
    let settings = assignment::settings(&s.db).await?;
    let kind = kind_path(T::KIND);
    let past = i64::from(settings.lead_sla_hours) * 60;
    let rows = view
        .items
        .iter()
        .map(|i| RecordPoolRow {
            id: i.id,
            name: i.name.clone(),
            href: format!("/{kind}/{}", i.id),
            region: i.region.clone().unwrap_or_default(),
            source: i.source.map_or("", |s| source_label(tr, s)).to_string(),
            score: i.score.map(|s| s.to_string()).unwrap_or_default(),
            grade: i.grade.map_or("", grade_text).to_string(),
            waited: wait_text(tr, i.waited_minutes),
            past_sla: T::KIND == RecordKind::Lead && i.waited_minutes > past,
        })
        .collect();
    let is_lead = T::KIND == RecordKind::Lead;
    let sla = if is_lead && v.ctx.scope.is_manager() {
        let to = v.ctx.now;
        let s = assignment::lead_sla(&s.db, &v.ctx, to - Duration::days(30), to).await?;
        Some(SlaView::of(tr, &s))
    } else {
        None
    };
    Ok(RecordPoolPage {
        tr,
        csrf: v.csrf.clone(),
        here: format!("{POOL}/{kind}"),
        nav: v.nav("pool"),
        kind,
        tab_title: tr.t(&format!("pool.tab.{kind}")).to_string(),
        intro: tr.t(&format!("pool.intro.{kind}")).to_string(),
        empty: tr.t(&format!("pool.empty.{kind}")).to_string(),
        rows,
        may_claim: view.may_claim,
        claims_left: view.claims_left,
        limit: view.claim_limit,
        may_route: is_lead && view.may_assign,
        notice,
        error,
        sla,
        paging: tr.fmt(
            "pool.paging",
            &[
                ("page", &view.page.to_string()),
                ("pages", &pages.max(1).to_string()),
                ("total", &view.total.to_string()),
            ],
        ),
        prev: (view.page > 1).then(|| view.page - 1),
        next: (view.page < pages).then(|| view.page + 1),
    })
}

async fn record_pool_page<T: PoolRecord>(
    State(s): State<AppState>,
    v: Viewer,
    Query(q): Query<PoolQuery>,
) -> Response {
    let here = format!("{POOL}/{}", kind_path(T::KIND));
    let notice = match (q.claimed, q.assigned, q.released) {
        (Some(_), _, _) => Some(v.tr.t("pool.claimed").to_string()),
        (_, Some(_), _) => Some(v.tr.t("pool.assigned").to_string()),
        (_, _, Some(_)) => Some(v.tr.t("pool.released").to_string()),
        _ => None,
    };
    match record_pool_view::<T>(&s, &v, q.page.unwrap_or(1), notice, None).await {
        Ok(p) => render(p),
        Err(e) => v.error(&here, e),
    }
}

/// A refused pool operation, said on the pool page of `T` in the user's language.
async fn refused<T: PoolRecord>(s: &AppState, v: &Viewer, e: AppError) -> Response {
    let (_, text) = error_text(v.tr, &e);
    match record_pool_view::<T>(s, v, 1, None, Some(text)).await {
        Ok(p) => render(p),
        Err(e) => v.error(&format!("{POOL}/{}", kind_path(T::KIND)), e),
    }
}

/// Claims a pool lead or account: from the pool page (back to the record), or from the
/// record's page; a refusal is shown on the pool page.
async fn claim_record<T: PoolRecord>(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let kind = kind_path(T::KIND);
    if let Err(page) = v.posted(f, &format!("{POOL}/{kind}")) {
        return page;
    }
    match assignment::claim_record::<T>(&s.db, &v.ctx, id).await {
        Ok(_) => Redirect::to(&format!("/{kind}/{id}")).into_response(),
        Err(e) => refused::<T>(&s, &v, e).await,
    }
}

/// Hands a pool lead over by the lead assignment rules (managers).
async fn route_lead(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let here = format!("{POOL}/leads");
    if let Err(page) = v.posted(f, &here) {
        return page;
    }
    match assignment::assign_record::<Lead>(&s.db, &v.ctx, id, AssignInput::default()).await {
        Ok(_) => Redirect::to(&format!("{here}?assigned={id}")).into_response(),
        Err(e) => refused::<Lead>(&s, &v, e).await,
    }
}

/// Gives a lead or an account back to the pool from its page, then shows the pool (where
/// the record may be out of the caller's sight: another region's).
async fn release_record<T: PoolRecord>(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let kind = kind_path(T::KIND);
    let here = format!("/{kind}/{id}");
    let form = match v.posted(f, &here) {
        Ok(f) => f,
        Err(page) => return page,
    };
    let reason = form.text("reason");
    let input = ReleaseInput {
        reason: (!reason.trim().is_empty()).then_some(reason),
        version: form.get("version").parse().ok(),
    };
    match assignment::release_record::<T>(&s.db, &v.ctx, id, input).await {
        Ok(_) => Redirect::to(&format!("{POOL}/{kind}?released={id}")).into_response(),
        Err(e) => v.error(&here, e),
    }
}

/// A lead's or an account's place in the pool, on its page: waiting since when (claim it),
/// or whose (give it back), and who had it before.
pub(super) struct PoolBox {
    pub(super) kind: &'static str,
    pub(super) id: i64,
    pub(super) version: i64,
    pub(super) in_pool: bool,
    pub(super) since: String,
    pub(super) may_claim: bool,
    pub(super) may_release: bool,
    pub(super) history: Vec<String>,
}

pub(super) async fn pool_box<T: PoolRecord>(
    s: &AppState,
    v: &Viewer,
    rec: &T,
) -> Result<PoolBox, AppError> {
    let tr = v.tr;
    let users = s.db.users().await?;
    let owner = shangji_core::assignment::Pooled::owner(rec);
    let history = s
        .db
        .ownership_events(T::KIND, rec.id())
        .await?
        .iter()
        .rev()
        .take(20)
        .map(|e| {
            let who = e.owner_id.map(|u| user_name(&users, u)).unwrap_or_default();
            let what = match (e.kind, e.how) {
                (OwnershipChange::Released, _) => tr.fmt("pool.history.released", &[("who", &who)]),
                (_, Some(how)) => tr.fmt(
                    "pool.history.assigned",
                    &[
                        ("who", &who),
                        ("how", tr.t(&format!("pool.how.{}", how.as_str()))),
                    ],
                ),
                _ => who,
            };
            let reason = e
                .reason
                .as_deref()
                .map(|r| format!(" · {r}"))
                .unwrap_or_default();
            format!("{} {what}{reason}", tr.datetime(e.at))
        })
        .collect();
    let in_pool = owner.is_none();
    Ok(PoolBox {
        kind: kind_path(T::KIND),
        id: rec.id(),
        version: rec.version(),
        in_pool,
        since: rec
            .pool_since()
            .map(|t| wait_text(tr, (v.ctx.now - t).whole_minutes().max(0)))
            .unwrap_or_default(),
        may_claim: in_pool && shangji_core::visibility::pool::may_claim(v.ctx.actor.role),
        may_release: !in_pool && v.ctx.scope.covers(owner),
        history,
    })
}

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route(POOL, get(pool_page))
        .route("/pool/leads", get(record_pool_page::<Lead>))
        .route("/pool/accounts", get(record_pool_page::<Account>))
        .route("/pool/leads/{id}/claim", post(claim_record::<Lead>))
        .route("/pool/accounts/{id}/claim", post(claim_record::<Account>))
        .route("/pool/leads/{id}/assign", post(route_lead))
        .route("/leads/{id}/release", post(release_record::<Lead>))
        .route("/accounts/{id}/release", post(release_record::<Account>))
        .route("/pool/{id}/claim", post(claim))
        .route("/pool/{id}/assign", post(assign))
        .route("/opportunities/{id}/release", post(release))
        .route(ADMIN, get(admin))
        .route("/admin/assignment/rules", post(save_rule))
        .route("/admin/assignment/rules/{id}", post(rule_action))
        .route("/admin/assignment/settings", post(save_settings))
        .route(FOLLOW_UP, get(follow_up).post(save_follow_up))
}
