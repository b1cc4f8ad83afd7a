//! The OpenAPI 3 document, served at `/api/v1/openapi.json`. Schemas are derived from the
//! very types the handlers read and write; the paths are listed from the same resource
//! table as the router (a test checks every routed path is documented).

use shangji_core::custom_fields::{
    CustomFieldDef, CustomFieldInput, CustomFieldType, OptionRename, SelectOption, Validation,
};
use shangji_core::model::*;
use shangji_core::opportunity::{EventKind, MoveInput, OpportunityEvent, OpportunityInput};
use shangji_core::records::*;
use shangji_core::Money;
use utoipa::openapi::path::{
    HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItem,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, Required, ResponseBuilder};
use utoipa::{OpenApi as _, PartialSchema};

use crate::api::{DecisionInput, NewToken, StageOrder, TemplateView, TokenInput};
use crate::error::{ErrorBody, MissingItem};
use crate::ops::records::{ContactLinkInput, FollowUp, OpportunityContact};
use crate::ops::{
    ApprovalPolicyInput, ChangePipelineInput, LossReasonInput, MigrateInput, Migrated,
    NewStageInput, PipelineInput, PipelinePatch, StageMapping, StagePatch,
};
use shangji_core::approval::{
    ApprovalPolicy, ApprovalRequest, ApprovalStatus, Approver, CompareOp, Condition, Decision,
};
use shangji_core::follow_up::FollowUpInput;
use shangji_core::process::{
    ChecklistItem, LossReason, StageGate, StageSpec, StandardAction, TransitionPolicy, UnmetCode,
};

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "shangji API",
        version = "1",
        description = "Opportunities, accounts, contacts, leads, follow-ups and tasks, with custom fields. Authenticate with `Authorization: Bearer <token>`. Errors are `{code, message, field}`."
    ),
    components(schemas(
        Account,
        AccountInput,
        Contact,
        ContactInput,
        Lead,
        LeadInput,
        Opportunity,
        OpportunityInput,
        MoveInput,
        OpportunityEvent,
        EventKind,
        Activity,
        ActivityInput,
        Task,
        TaskInput,
        CustomFieldDef,
        CustomFieldInput,
        CustomFieldType,
        SelectOption,
        Validation,
        OptionRename,
        Pipeline,
        Stage,
        User,
        UserInput,
        Team,
        TeamInput,
        Leave,
        Money,
        Role,
        Language,
        StageKind,
        ForecastCategory,
        Grade,
        BuyingRole,
        LeadStatus,
        ActivityType,
        AccountSize,
        Source,
        RecordKind,
        ErrorBody,
        TokenInput,
        NewToken,
        shangji_store::ApiToken,
        MissingItem,
        UnmetCode,
        StageGate,
        ChecklistItem,
        StandardAction,
        TransitionPolicy,
        StageSpec,
        LossReason,
        ChangePipelineInput,
        PipelineInput,
        PipelinePatch,
        StagePatch,
        NewStageInput,
        LossReasonInput,
        StageOrder,
        TemplateView,
        ApprovalRequest,
        ApprovalPolicy,
        ApprovalStatus,
        Approver,
        Condition,
        CompareOp,
        Decision,
        DecisionInput,
        ApprovalPolicyInput,
        Notification,
        MigrateInput,
        StageMapping,
        Migrated,
        FollowUpInput,
        FollowUp,
        ContactLinkInput,
        OpportunityContact,
        shangji_store::SavedView,
        shangji_store::LeadOutcomeRow,
        crate::ops::lists::ViewInput,
        crate::ops::lists::Hit,
        crate::ops::lists::SearchResults,
        crate::ops::lists::ConvertInput,
        crate::ops::lists::ConvertOpportunity,
        crate::ops::lists::Converted,
        crate::ops::lists::DisqualifyInput,
        crate::ops::forecast::ForecastRow,
        crate::ops::forecast::Rollup,
        shangji_core::rollup::Node,
        shangji_core::rollup::Numbers,
        shangji_core::rollup::Adjustment,
        shangji_core::rollup::AdjustmentInput,
        shangji_core::analytics::Weighting,
        crate::ops::review::ReviewReport,
        crate::ops::delivery::ChannelInput,
        crate::ops::delivery::ChannelView,
        crate::ops::delivery::AllowList,
        crate::ops::delivery::PrefsInput,
        crate::ops::delivery::PrefsView,
        crate::api::delivery::QueuedTest,
        shangji_store::Delivery,
        crate::ops::review::ReviewDeal,
        crate::ops::review::RecordedDecision,
        crate::ops::review::DecisionInput,
        crate::ops::review::ActionItem,
        crate::ops::review::DecisionRecorded,
        crate::ops::review::HoldInput,
        shangji_core::review::HeldReview,
        shangji_core::review::Review,
        shangji_core::review::ReviewItem,
        shangji_core::review::RiskReason,
        crate::ops::history_import::ImportOutcome,
        shangji_core::history_import::Problem,
        shangji_core::rules::RuleInput,
        shangji_core::rules::Rule,
        shangji_core::rules::Trigger,
        shangji_core::rules::Condition,
        shangji_core::rules::Comparison,
        shangji_core::rules::Op,
        shangji_core::rules::Action,
        shangji_core::rules::Recipient,
        shangji_core::rules::RecordType,
        shangji_core::rules::Reason,
        shangji_core::calendar::CalendarData,
        shangji_core::calendar::HoursData,
        shangji_core::calendar::HolidayData,
        shangji_core::calendar::MakeUpData,
        crate::ops::automation::RuleView,
        crate::ops::automation::DryRunItem,
        crate::ops::automation::FiringView,
        crate::ops::automation::PrefsView,
        shangji_core::rules::FactsConfig,
        shangji_core::assignment::AssignmentRuleInput,
        shangji_core::assignment::AssignmentRule,
        shangji_core::assignment::MemberCapacity,
        shangji_core::assignment::Method,
        shangji_core::assignment::PoolSettings,
        shangji_core::assignment::SlaSummary,
        shangji_core::assignment::Skipped,
        shangji_core::assignment::Skip,
        crate::ops::assignment::AssignmentRuleView,
        crate::ops::assignment::PoolView,
        crate::ops::assignment::PoolItem,
        crate::ops::assignment::AssignInput,
        crate::ops::assignment::ReleaseInput,
        crate::ops::assignment::Decision,
        crate::ops::assignment::AssignOutcome,
    ))
)]
struct Components;

/// One documented route: method, path, summary, request schema, response schema, status.
pub struct Route {
    pub method: HttpMethod,
    pub path: String,
    pub summary: String,
    pub body: Option<&'static str>,
    pub response: Option<String>,
    pub status: &'static str,
    pub list: bool,
}

fn route(
    method: HttpMethod,
    path: &str,
    summary: &str,
    body: Option<&'static str>,
    response: Option<&str>,
    status: &'static str,
) -> Route {
    Route {
        method,
        path: path.to_string(),
        summary: summary.to_string(),
        body,
        response: response.map(str::to_string),
        status,
        list: false,
    }
}

/// The record kinds with the standard list/get/create/update/archive routes.
pub const CRUD: &[(&str, &str, &str)] = &[
    ("accounts", "Account", "AccountInput"),
    ("contacts", "Contact", "ContactInput"),
    ("leads", "Lead", "LeadInput"),
    ("activities", "Activity", "ActivityInput"),
    ("tasks", "Task", "TaskInput"),
    ("opportunities", "Opportunity", "OpportunityInput"),
];

pub fn routes() -> Vec<Route> {
    use HttpMethod::*;
    let mut r = Vec::new();
    for (res, schema, input) in CRUD {
        let base = format!("/api/v1/{res}");
        let item = format!("{base}/{{id}}");
        r.push(Route {
            list: true,
            ..route(
                Get,
                &base,
                &format!("List {res} (filters, sort, pagination)"),
                None,
                Some(schema),
                "200",
            )
        });
        r.push(Route {
            list: true,
            ..route(
                Get,
                &format!("{base}/export.csv"),
                &format!("Export {res} as CSV: the list's filters, every page, one column per custom field"),
                None,
                None,
                "200",
            )
        });
        r.push(Route {
            list: true,
            ..route(
                Get,
                &format!("{base}/export.xlsx"),
                &format!("Export {res} as XLSX: the list's filters and sort, every page, the columns of `cols` (repeat it or separate by commas; all when absent), labels in your language; money as numbers with a currency column, dates as dates"),
                None,
                None,
                "200",
            )
        });
        r.push(route(
            Post,
            &base,
            &format!("Create in {res} (honours Idempotency-Key)"),
            Some(input),
            Some(schema),
            "201",
        ));
        r.push(route(
            Get,
            &item,
            &format!("Get one of {res}"),
            None,
            Some(schema),
            "200",
        ));
        r.push(route(
            Patch,
            &item,
            &format!("Partly update one of {res} (send `version`)"),
            Some(input),
            Some(schema),
            "200",
        ));
        r.push(route(
            Delete,
            &item,
            &format!("Archive one of {res}"),
            None,
            Some(schema),
            "200",
        ));
    }
    r.push(route(
        Post,
        "/api/v1/opportunities/{id}/move",
        "Move to another stage (the one way to win, lose or reopen)",
        Some("MoveInput"),
        Some("Opportunity"),
        "200",
    ));
    r.push(route(
        Post,
        "/api/v1/opportunities/{id}/follow-ups",
        "Log a follow-up: the activity, the next step's task for the owner and the opportunity's next step, in one transaction",
        Some("FollowUpInput"),
        Some("FollowUp"),
        "201",
    ));
    r.push(route(
        Get,
        "/api/v1/opportunities/{id}/contacts",
        "The contacts taking part in the opportunity, with their buying roles",
        None,
        None,
        "200",
    ));
    r.push(route(
        Post,
        "/api/v1/opportunities/{id}/contacts",
        "Link a contact of the account with a buying role (or change the role)",
        Some("ContactLinkInput"),
        None,
        "200",
    ));
    r.push(route(
        Delete,
        "/api/v1/opportunities/{id}/contacts/{contact_id}",
        "Take a contact off the opportunity",
        None,
        None,
        "204",
    ));
    r.push(route(
        Get,
        "/api/v1/opportunities/{id}/events",
        "The opportunity's history, oldest first",
        None,
        None,
        "200",
    ));
    r.push(route(
        Get,
        "/api/v1/custom-fields",
        "Custom field definitions (`record_kind`, `include_archived`)",
        None,
        None,
        "200",
    ));
    r.push(route(
        Post,
        "/api/v1/custom-fields",
        "Define a custom field (admin)",
        Some("CustomFieldInput"),
        Some("CustomFieldDef"),
        "201",
    ));
    r.push(route(
        Get,
        "/api/v1/custom-fields/{id}",
        "One custom field",
        None,
        Some("CustomFieldDef"),
        "200",
    ));
    r.push(route(
        Patch,
        "/api/v1/custom-fields/{id}",
        "Change a custom field (admin; key and record kind stay; a type change must keep every value; `rename_options` renames stored values)",
        Some("CustomFieldInput"),
        Some("CustomFieldDef"),
        "200",
    ));
    r.push(route(
        Delete,
        "/api/v1/custom-fields/{id}",
        "Archive a custom field (admin; its values are kept)",
        None,
        Some("CustomFieldDef"),
        "200",
    ));
    r.push(route(
        Get,
        "/api/v1/pipelines",
        "Pipelines with their stages",
        None,
        None,
        "200",
    ));
    r.push(route(
        Get,
        "/api/v1/pipelines/{id}",
        "One pipeline with its stages",
        None,
        Some("Pipeline"),
        "200",
    ));
    r.push(route(
        Post,
        "/api/v1/opportunities/{id}/change-pipeline",
        "Move into another pipeline at a mapped stage (managers and up)",
        Some("ChangePipelineInput"),
        Some("Opportunity"),
        "200",
    ));
    r.push(route(
        Post,
        "/api/v1/pipelines",
        "Create a pipeline from a template or from stages (admin)",
        Some("PipelineInput"),
        Some("Pipeline"),
        "201",
    ));
    r.push(route(
        Patch,
        "/api/v1/pipelines/{id}",
        "Rename, make default, archive or change the transition policy (admin)",
        Some("PipelinePatch"),
        Some("Pipeline"),
        "200",
    ));
    r.push(route(
        Post,
        "/api/v1/pipelines/{id}/stages",
        "Add a stage (admin)",
        Some("NewStageInput"),
        Some("Pipeline"),
        "201",
    ));
    r.push(route(
        Patch,
        "/api/v1/pipelines/{id}/stages/{stage_id}",
        "Change a stage: names, probability, gate, standard actions, archive (admin)",
        Some("StagePatch"),
        Some("Pipeline"),
        "200",
    ));
    r.push(route(
        Delete,
        "/api/v1/pipelines/{id}/stages/{stage_id}",
        "Delete a stage no opportunity was ever in (admin; otherwise archive it)",
        None,
        Some("Pipeline"),
        "200",
    ));
    r.push(route(
        Put,
        "/api/v1/pipelines/{id}/stage-order",
        "Reorder a pipeline's stages (admin)",
        Some("StageOrder"),
        Some("Pipeline"),
        "200",
    ));
    r.push(route(
        Post,
        "/api/v1/pipelines/{id}/migrate",
        "Move every opportunity of this pipeline into another, by a stage mapping (admin)",
        Some("MigrateInput"),
        Some("Migrated"),
        "200",
    ));
    r.push(route(
        Get,
        "/api/v1/pipeline-templates",
        "The shipped pipeline templates (b2b, transactional, tender)",
        None,
        None,
        "200",
    ));
    r.push(route(
        Get,
        "/api/v1/loss-reasons",
        "The loss-reason taxonomy",
        None,
        None,
        "200",
    ));
    r.push(route(
        Post,
        "/api/v1/loss-reasons",
        "Add a loss reason (admin)",
        Some("LossReasonInput"),
        Some("LossReason"),
        "201",
    ));
    r.push(route(
        Patch,
        "/api/v1/loss-reasons/{id}",
        "Rename, reorder or archive a loss reason (admin)",
        Some("LossReasonInput"),
        Some("LossReason"),
        "200",
    ));
    r.push(route(
        Get,
        "/api/v1/approvals",
        "Approval requests: `box=inbox` (waiting for you, the default) or `box=sent`",
        None,
        None,
        "200",
    ));
    r.push(route(
        Get,
        "/api/v1/approvals/{id}",
        "One approval request",
        None,
        Some("ApprovalRequest"),
        "200",
    ));
    for (verb, what) in [
        ("approve", "Approve (the last approval performs the move)"),
        ("reject", "Reject (the opportunity stays where it is)"),
    ] {
        r.push(route(
            Post,
            &format!("/api/v1/approvals/{{id}}/{verb}"),
            what,
            Some("DecisionInput"),
            Some("ApprovalRequest"),
            "200",
        ));
    }
    r.push(route(
        Post,
        "/api/v1/approvals/{id}/withdraw",
        "Withdraw your pending request",
        None,
        Some("ApprovalRequest"),
        "200",
    ));
    r.push(route(
        Get,
        "/api/v1/approval-policies",
        "Approval policies",
        None,
        None,
        "200",
    ));
    r.push(route(
        Post,
        "/api/v1/approval-policies",
        "Add an approval policy (admin)",
        Some("ApprovalPolicyInput"),
        Some("ApprovalPolicy"),
        "201",
    ));
    r.push(route(
        Put,
        "/api/v1/approval-policies/{id}",
        "Replace an approval policy (admin)",
        Some("ApprovalPolicyInput"),
        Some("ApprovalPolicy"),
        "200",
    ));
    r.push(route(
        Get,
        "/api/v1/notifications",
        "Your notifications, newest first",
        None,
        None,
        "200",
    ));
    r.push(route(
        Post,
        "/api/v1/notifications/{id}/read",
        "Mark a notification read",
        None,
        None,
        "204",
    ));
    for (m, path, what, body, resp, status) in [
        (
            Post,
            "/api/v1/notifications/read-all",
            "Mark all your notifications read",
            None,
            None,
            "204",
        ),
        (
            Get,
            "/api/v1/notification-preferences",
            "Your notification preferences",
            None,
            Some("PrefsView"),
            "200",
        ),
        (
            Put,
            "/api/v1/notification-preferences",
            "Replace your notification preferences (muted rules, daily digest)",
            Some("PrefsView"),
            Some("PrefsView"),
            "200",
        ),
        (
            Get,
            "/api/v1/rules",
            "Automation rules (admin), with when each last fired",
            None,
            None,
            "200",
        ),
        (
            Post,
            "/api/v1/rules",
            "Add a rule (admin); a refused rule lists every mistake in `errors`",
            Some("RuleInput"),
            Some("RuleView"),
            "201",
        ),
        (
            Get,
            "/api/v1/rules/{id}",
            "A rule (admin)",
            None,
            Some("RuleView"),
            "200",
        ),
        (
            Put,
            "/api/v1/rules/{id}",
            "Replace a rule (admin)",
            Some("RuleInput"),
            Some("RuleView"),
            "200",
        ),
        (
            Delete,
            "/api/v1/rules/{id}",
            "Delete a rule and its firing log (admin)",
            None,
            None,
            "204",
        ),
        (
            Post,
            "/api/v1/rules/{id}/dry-run",
            "Which records a saved rule would fire for now, and why (admin)",
            None,
            None,
            "200",
        ),
        (
            Post,
            "/api/v1/rules/dry-run",
            "Which records a rule not saved would fire for now, and why (admin)",
            Some("RuleInput"),
            None,
            "200",
        ),
        (
            Get,
            "/api/v1/rules/{id}/firings",
            "A rule's firing log, newest first (admin)",
            None,
            None,
            "200",
        ),
        (
            Get,
            "/api/v1/settings/calendar",
            "The working calendar",
            None,
            Some("CalendarData"),
            "200",
        ),
        (
            Put,
            "/api/v1/settings/calendar",
            "Replace the working calendar (admin); the first problem is refused with its place",
            Some("CalendarData"),
            Some("CalendarData"),
            "200",
        ),
    ] {
        r.push(route(m, path, what, body, resp, status));
    }
    for (path, what) in [
        (
            "funnel",
            "Stage conversion by entry cohort (docs/metrics.md)",
        ),
        ("time-in-stage", "Median, P75 and P90 hours in each stage"),
        (
            "win-rate",
            "Win rate by count and by amount among deals closed in the period",
        ),
        (
            "waterfall",
            "Open pipeline at the start, each kind of change, open pipeline at the end",
        ),
        (
            "calibration",
            "P(won | reached stage) with a 95% Wilson interval beside the configured probability",
        ),
        (
            "sources",
            "Leads, converted, opportunities and won by source channel (format=csv|xlsx too)",
        ),
        (
            "time-in-stage-trend",
            "Median, P75 and P90 hours in each stage for each of 12 months",
        ),
        (
            "sales-cycle",
            "Median, P75 and P90 days from creation to won, deals won in the period",
        ),
    ] {
        r.push(route(
            Get,
            &format!("/api/v1/analytics/{path}"),
            what,
            None,
            None,
            "200",
        ));
    }
    r.push(route(Get, "/api/v1/users", "Users", None, None, "200"));
    r.push(route(
        Post,
        "/api/v1/users",
        "Create a user (admin)",
        Some("UserInput"),
        Some("User"),
        "201",
    ));
    r.push(route(
        Get,
        "/api/v1/users/me",
        "The calling user",
        None,
        Some("User"),
        "200",
    ));
    r.push(route(
        Get,
        "/api/v1/users/{id}",
        "One user",
        None,
        Some("User"),
        "200",
    ));
    r.push(route(
        Patch,
        "/api/v1/users/{id}",
        "Change a user (admin, or oneself for name, contact details, language, password)",
        Some("UserInput"),
        Some("User"),
        "200",
    ));
    r.push(route(
        Get,
        "/api/v1/teams",
        "Teams (a tree by parent_id)",
        None,
        None,
        "200",
    ));
    r.push(route(
        Post,
        "/api/v1/teams",
        "Create a team (admin)",
        Some("TeamInput"),
        Some("Team"),
        "201",
    ));
    r.push(route(
        Get,
        "/api/v1/teams/{id}",
        "One team",
        None,
        Some("Team"),
        "200",
    ));
    r.push(route(
        Patch,
        "/api/v1/teams/{id}",
        "Change a team (admin)",
        Some("TeamInput"),
        Some("Team"),
        "200",
    ));
    r.push(route(
        Get,
        "/api/v1/tokens",
        "The caller's API tokens",
        None,
        None,
        "200",
    ));
    r.push(route(
        Post,
        "/api/v1/tokens",
        "Create an API token (the secret is returned once)",
        Some("TokenInput"),
        Some("NewToken"),
        "201",
    ));
    r.push(route(
        Delete,
        "/api/v1/tokens/{id}",
        "Revoke an API token",
        None,
        None,
        "204",
    ));
    r.push(route(
        Get,
        "/api/v1/views",
        "Your saved list views (`kind` = opportunities, accounts, contacts, leads, activities or tasks); views are private to their owner",
        None,
        None,
        "200",
    ));
    r.push(route(
        Post,
        "/api/v1/views",
        "Save a list view: its list, a name of your own for that list, the list's query string (checked as the list reads it)",
        Some("ViewInput"),
        Some("SavedView"),
        "201",
    ));
    r.push(route(
        Get,
        "/api/v1/views/{id}",
        "One of your saved views",
        None,
        Some("SavedView"),
        "200",
    ));
    r.push(route(
        Delete,
        "/api/v1/views/{id}",
        "Delete one of your saved views",
        None,
        None,
        "204",
    ));
    r.push(route(
        Get,
        "/api/v1/search",
        "Search accounts, contacts, opportunities and leads in your visibility (`q`): digits a mobile prefix, an email exactly, 18 letters and digits a credit code, other text part of a name or title",
        None,
        Some("SearchResults"),
        "200",
    ));
    r.push(route(
        Post,
        "/api/v1/leads/{id}/convert",
        "Qualify a lead: the account (existing `account_id` or new), the contact and optionally an opportunity, written with the lead's new status in one transaction",
        Some("ConvertInput"),
        Some("Converted"),
        "200",
    ));
    r.push(route(
        Post,
        "/api/v1/leads/{id}/disqualify",
        "Disqualify a lead with a reason (required)",
        Some("DisqualifyInput"),
        Some("Lead"),
        "200",
    ));
    r.push(route(
        Get,
        "/api/v1/leads/{id}/outcomes",
        "A lead's outcomes (qualified with the records it became, or disqualified with the reason)",
        None,
        None,
        "200",
    ));
    // Horizons, forecast snapshots, accuracy (docs/metrics.md, docs/api.md).
    for (method, path, what, status) in [
        (Get, "/api/v1/analytics/horizon", "P10 / P50 / P90 per period with the pipeline not yet created: level=rep|team|company, owner_id, team_id, grain, periods, runs, seed", "200"),
        (Get, "/api/v1/analytics/snapshots", "Forecast snapshots, newest first", "200"),
        (Post, "/api/v1/analytics/snapshots", "Take a forecast snapshot now (admin, director, manager)", "201"),
        (Get, "/api/v1/analytics/snapshots/{id}", "One snapshot with the rows you may see", "200"),
        (Get, "/api/v1/analytics/accuracy", "Forecast (last snapshot at or before the start of the period) against won, per period, team and rep: grain, method, from, to, level", "200"),
    ] {
        r.push(route(method, path, what, None, None, status));
    }
    // Outgoing notifications (docs/automation.md).
    for (method, path, what, body, resp, status) in [
        (Get, "/api/v1/notification-channels", "Notification channels (admin)", None, None, "200"),
        (Post, "/api/v1/notification-channels", "Add a channel: webhook, wecom, dingtalk or feishu; the URL must pass the allow-list (admin)", Some("ChannelInput"), Some("ChannelView"), "201"),
        (Get, "/api/v1/notification-channels/{id}", "One channel, its secret masked (admin)", None, Some("ChannelView"), "200"),
        (Put, "/api/v1/notification-channels/{id}", "Replace a channel; an absent secret keeps the stored one (admin)", Some("ChannelInput"), Some("ChannelView"), "200"),
        (Delete, "/api/v1/notification-channels/{id}", "Delete a channel; its log stays (admin)", None, None, "204"),
        (Post, "/api/v1/notification-channels/{id}/test", "Queue a test message to the channel (admin)", None, Some("QueuedTest"), "202"),
        (Get, "/api/v1/settings/webhook-allow-list", "The webhook URL allow-list (admin)", None, Some("AllowList"), "200"),
        (Put, "/api/v1/settings/webhook-allow-list", "Replace the webhook URL allow-list (admin)", Some("AllowList"), Some("AllowList"), "200"),
        (Get, "/api/v1/deliveries", "The delivery log, newest first: status, channel_id (admin)", None, None, "200"),
        (Post, "/api/v1/deliveries/{id}/retry", "Send a failed delivery again now (admin)", None, Some("Delivery"), "200"),
        (Get, "/api/v1/me/notification-preferences", "Your email preferences", None, Some("PrefsView"), "200"),
        (Put, "/api/v1/me/notification-preferences", "Set your email preferences", Some("PrefsInput"), Some("PrefsView"), "200"),
    ] {
        r.push(route(method, path, what, body, resp, status));
    }
    // Assignment and the public pool (docs/automation.md).
    for (method, path, what, body, resp, status) in [
        (Get, "/api/v1/assignment-rules", "Assignment rules in the order they are tried (admin)", None, None, "200"),
        (Post, "/api/v1/assignment-rules", "Add an assignment rule, last in the order (admin)", Some("AssignmentRuleInput"), Some("AssignmentRuleView"), "201"),
        (Get, "/api/v1/assignment-rules/{id}", "An assignment rule (admin)", None, Some("AssignmentRuleView"), "200"),
        (Put, "/api/v1/assignment-rules/{id}", "Replace an assignment rule; a stale version is a conflict (admin)", Some("AssignmentRuleInput"), Some("AssignmentRuleView"), "200"),
        (Delete, "/api/v1/assignment-rules/{id}", "Delete an assignment rule (admin)", None, None, "204"),
        (Post, "/api/v1/assignment-rules/{id}/move", "Move a rule one place: {\"direction\": \"up\" | \"down\"} (admin)", None, None, "200"),
        (Get, "/api/v1/settings/follow-up", "Which activity types count as a meaningful follow-up, and which standard actions send the proposal", None, Some("FactsConfig"), "200"),
        (Put, "/api/v1/settings/follow-up", "Replace the follow-up setting (admin); every follow-up count and rule reads it", Some("FactsConfig"), Some("FactsConfig"), "200"),
        (Get, "/api/v1/settings/pool", "The public pool's settings: daily claim limit, assignment SLA", None, Some("PoolSettings"), "200"),
        (Put, "/api/v1/settings/pool", "Replace the public pool's settings (admin)", Some("PoolSettings"), Some("PoolSettings"), "200"),
        (Get, "/api/v1/pool", "The public pool (公海): what waits, how long, and your claims left today", None, Some("PoolView"), "200"),
        (Get, "/api/v1/pool/sla", "The assignment SLA from `from` to `to` (RFC 3339; default the last 30 days) and what waits now (managers)", None, Some("SlaSummary"), "200"),
        (Post, "/api/v1/opportunities/{id}/claim", "Claim a pool opportunity for yourself, within the daily limit", None, Some("Opportunity"), "200"),
        (Post, "/api/v1/opportunities/{id}/release", "Return an opportunity to the public pool, with an optional reason", Some("ReleaseInput"), Some("Opportunity"), "200"),
        (Post, "/api/v1/opportunities/{id}/assign", "Hand an opportunity over: to `user_id`, or by the assignment rules (managers)", Some("AssignInput"), Some("AssignOutcome"), "200"),
        (Get, "/api/v1/opportunities/{id}/assignment-preview", "Which rule and rep the assignment rules would choose now, and who is skipped (managers)", None, Some("Decision"), "200"),
    ] {
        r.push(route(method, path, what, body, resp, status));
    }
    r.push(route(
        Get,
        "/api/v1/openapi.json",
        "This document",
        None,
        None,
        "200",
    ));
    r.extend(forecast_routes());
    r.push(route(
        Get,
        "/api/v1/review",
        "The funnel review of a team since its last review (team_id, large in yuan)",
        None,
        Some("ReviewReport"),
        "200",
    ));
    r.push(route(
        Post,
        "/api/v1/review/decisions",
        "Record a decision and/or action items (tasks) on a deal",
        Some("DecisionInput"),
        Some("DecisionRecorded"),
        "201",
    ));
    r.push(route(
        Get,
        "/api/v1/reviews",
        "A team's reviews held, newest first (team_id)",
        None,
        None,
        "200",
    ));
    r.push(route(
        Post,
        "/api/v1/reviews",
        "Mark a team's review held (managers, directors, admins)",
        Some("HoldInput"),
        Some("HeldReview"),
        "201",
    ));
    r.push(route(
        Post,
        "/api/v1/import/history",
        "Import stage history from a CSV body (admin; valid_only=true imports the valid rows)",
        None,
        Some("ImportOutcome"),
        "200",
    ));
    r
}

fn json_ref(schema: &str) -> utoipa::openapi::Content {
    ContentBuilder::new()
        .schema(Some(Ref::from_schema_name(schema)))
        .build()
}

fn query_param(name: &str, description: &str) -> utoipa::openapi::path::Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Query)
        .required(Required::False)
        .description(Some(description))
        .schema(Some(String::schema()))
        .build()
}

pub fn document() -> OpenApi {
    let mut doc = Components::openapi();
    for r in routes() {
        let mut op = OperationBuilder::new().summary(Some(r.summary.clone()));
        for name in ["id", "stage_id", "contact_id"] {
            if r.path.contains(&format!("{{{name}}}")) {
                op = op.parameter(
                    ParameterBuilder::new()
                        .name(name)
                        .parameter_in(ParameterIn::Path)
                        .required(Required::True)
                        .schema(Some(i64::schema())),
                );
            }
        }
        if r.path == "/api/v1/deliveries" {
            op = op.parameter(query_param(
                "status",
                "pending, retrying, delivered, failed, held or digested",
            ));
            op = op.parameter(query_param("channel_id", "one channel's deliveries"));
        }
        if r.path == "/api/v1/search" {
            op = op.parameter(query_param("q", "what to look for"));
        }
        if r.path == "/api/v1/views" && matches!(r.method, HttpMethod::Get) {
            op = op.parameter(query_param("kind", "one list's views only"));
        }
        if r.path.ends_with("/export.xlsx") {
            op = op.parameter(query_param(
                "cols",
                "columns to export (keys as in the list page)",
            ));
        }
        if r.path == "/api/v1/custom-fields" && matches!(r.method, HttpMethod::Get) {
            for (name, desc) in [
                ("record_kind", "account, contact, lead or opportunity"),
                ("include_archived", "true to include archived fields"),
            ] {
                op = op.parameter(query_param(name, desc));
            }
        }
        if r.list {
            for (name, desc) in [
                ("q", "free text"),
                ("owner_id", "owner"),
                ("team_id", "owners on this team or below"),
                ("page", "1-based page"),
                ("per_page", "rows per page, 1 to 200 (default 50)"),
                ("sort", "column, `-column` for descending"),
                ("updated_since", "RFC 3339 time"),
                ("include_archived", "true to include archived records"),
                (
                    "created_from",
                    "created on or after this day (YYYY-MM-DD, China time)",
                ),
                (
                    "created_to",
                    "created on or before this day (YYYY-MM-DD, China time)",
                ),
            ] {
                op = op.parameter(query_param(name, desc));
            }
            if ["accounts", "contacts", "leads", "opportunities"]
                .iter()
                .any(|res| r.path.contains(&format!("/{res}")))
            {
                for (name, desc) in [
                    (
                        "cf.<key>",
                        "custom field equals this value (a multi-select: has this option); an unknown key is 400 unknown_filter",
                    ),
                    (
                        "cf.<key>_from",
                        "custom field at least this value (integer, decimal, money in minor units, date, date_time)",
                    ),
                    ("cf.<key>_to", "custom field at most this value"),
                ] {
                    op = op.parameter(query_param(name, desc));
                }
            }
            if r.path.contains("/opportunities") || r.path.contains("/accounts") {
                op = op.parameter(query_param("tag", "carries this tag"));
            }
            if r.path.contains("/opportunities") {
                for (name, desc) in [
                    ("pipeline_id", "pipeline"),
                    ("stage_id", "stage"),
                    ("status", "open, won or lost"),
                    ("close_from", "expected close date from (YYYY-MM-DD)"),
                    ("close_to", "expected close date to (YYYY-MM-DD)"),
                ] {
                    op = op.parameter(query_param(name, desc));
                }
            }
        }
        if r.path.starts_with("/api/v1/analytics/forecast/") {
            op = forecast_params(op, &r.path);
        } else if r.path.starts_with("/api/v1/analytics/") {
            for (name, desc) in [
                ("pipeline_id", "pipeline (default: the default pipeline)"),
                (
                    "from",
                    "first day (YYYY-MM-DD, China time; default 90 days ago)",
                ),
                ("to", "last day, inclusive (default today)"),
                ("owner_id", "one owner"),
                ("team_id", "owners on this team or below"),
                (
                    "close_from",
                    "waterfall: expected close from (with close_to)",
                ),
                ("close_to", "waterfall: expected close to"),
                ("currency", "waterfall: currency (default CNY)"),
                (
                    "target_minor",
                    "4S: the amount to win (fen) the shape is measured against",
                ),
                (
                    "source",
                    "the opportunities' source channel (website, referral, …)",
                ),
                ("industry", "the industry of the opportunities' accounts"),
                ("format", "json (default), csv or xlsx"),
                (
                    "baseline",
                    "funnel: trailing periods of the baseline (default 4)",
                ),
            ] {
                op = op.parameter(query_param(name, desc));
            }
        }
        if let Some(body) = r.body {
            op = op.request_body(Some(
                RequestBodyBuilder::new()
                    .content("application/json", json_ref(body))
                    .required(Some(Required::True))
                    .build(),
            ));
        }
        let mut ok = ResponseBuilder::new().description("success");
        if let Some(schema) = &r.response {
            ok = ok.content("application/json", json_ref(schema));
        }
        let err = ResponseBuilder::new()
            .description("the caller's mistake: 400 unreadable, 401, 404 (also outside your visibility), 409 stale version, 422 invalid value")
            .content("application/json", json_ref("ErrorBody"));
        op = op
            .response(r.status, ok.build())
            .response("4XX", err.build());
        let item = PathItem::new(r.method, op.build());
        match doc.paths.paths.get_mut(&r.path) {
            Some(existing) => existing.merge_operations(item),
            None => {
                doc.paths.paths.insert(r.path.clone(), item);
            }
        }
    }
    doc.components
        .get_or_insert_with(Default::default)
        .add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    doc
}

/// The forecast part's routes: the forecast by period with categories, the roll-up and the
/// adjustments.
fn forecast_routes() -> Vec<Route> {
    use HttpMethod::*;
    vec![
        route(
            Get,
            "/api/v1/analytics/forecast/overview",
            "Per period: won, open, weighted, open amount by forecast category, the call (won + commit) and the Monte Carlo P10 / P50 / P90; CSV with format=csv",
            None,
            None,
            "200",
        ),
        route(
            Get,
            "/api/v1/analytics/forecast/rollup",
            "The manager roll-up of a month or quarter along the team tree: each row's system forecast, call, latest adjustment and adjusted total",
            None,
            Some("Rollup"),
            "200",
        ),
        route(
            Post,
            "/api/v1/analytics/forecast/adjustments",
            "Record an adjustment of a team's or a person's number for a period (managers on their subtree, directors and admins); 403 adjust_forbidden otherwise",
            Some("AdjustmentInput"),
            Some("Adjustment"),
            "201",
        ),
        route(
            Get,
            "/api/v1/analytics/forecast/adjustments",
            "Adjustments on teams and people you see, newest first",
            None,
            None,
            "200",
        ),
    ]
}

fn forecast_params(
    mut op: utoipa::openapi::path::OperationBuilder,
    path: &str,
) -> utoipa::openapi::path::OperationBuilder {
    let params: &[(&str, &str)] = if path.ends_with("/overview") {
        &[
            ("grain", "month (default), quarter or year"),
            (
                "periods",
                "how many periods from the current one, 1 to 36 (default 3)",
            ),
            ("weighting", "configured (default), empirical or blended"),
            ("runs", "Monte Carlo runs, 1 to 100000 (default 10000)"),
            ("seed", "Monte Carlo seed (default 1)"),
            ("pipeline_id", "pipeline (default: the default pipeline)"),
            ("owner_id", "one owner"),
            ("team_id", "owners on this team or below"),
        ]
    } else if path.ends_with("/rollup") {
        &[
            ("period", "YYYY-MM or YYYY-Qn (default this month)"),
            ("weighting", "configured (default), empirical or blended"),
            ("pipeline_id", "one pipeline (default: all)"),
        ]
    } else {
        &[
            ("period", "YYYY-MM or YYYY-Qn"),
            ("team_id", "adjustments of this team"),
            ("user_id", "adjustments of this person"),
        ]
    };
    for (name, desc) in params {
        op = op.parameter(query_param(name, desc));
    }
    op
}
