//! Loading demo and benchmark data, and the defaults a new database starts with.

use std::collections::HashMap;

use shangji_core::approval::{ApprovalPolicy, Approver, CompareOp, Condition};
use shangji_core::demo::{generate, DemoConfig, DemoData};
use shangji_core::process::{b2b_template, tender_template, transactional_template};
use shangji_store::Db;
use time::OffsetDateTime;

use crate::error::AppError;

/// The demo sign-ins printed by `shangji demo`: (login, password, who).
pub const SIGN_INS: &[(&str, &str, &str)] = &[
    ("admin", "admin1234", "管理员 admin"),
    ("director", "director123", "销售总监 director, all teams"),
    ("mgr.east", "manager123", "华东经理 manager, East"),
    ("rep.east1", "sales1234", "华东销售 rep, East"),
];

/// A new, empty database gets the default pipeline (the loss reasons come with the schema).
pub async fn install_defaults(db: &Db, now: OffsetDateTime) -> Result<(), AppError> {
    let t = b2b_template();
    db.insert_pipeline(t.name, true, &t.policy, &t.stages, now)
        .await?;
    crate::ops::automation::seed_templates(db, now).await?;
    Ok(())
}

/// Generates a company with `opportunities` opportunities and their history and stores it
/// in an empty database, with the three pipeline templates and an approval policy for
/// deals of ¥1,000,000 or more entering Negotiation.
pub async fn load(db: &Db, opportunities: usize, now: OffsetDateTime) -> Result<(), AppError> {
    let data = generate(&DemoConfig {
        opportunities,
        ..DemoConfig::standard(now)
    });
    store(db, &data, now).await
}

/// Stores generated data (see [`load`]) in an empty database.
pub async fn store(db: &Db, data: &DemoData, now: OffsetDateTime) -> Result<(), AppError> {
    // Hash each distinct demo password once.
    let mut hashes: HashMap<&str, String> = HashMap::new();
    let mut users = Vec::new();
    for u in &data.users {
        let hash = match hashes.get(u.password) {
            Some(h) => h.clone(),
            None => {
                let h = crate::ops::hash_password(u.password)?;
                hashes.insert(u.password, h.clone());
                h
            }
        };
        users.push((u.user.clone(), hash));
    }
    db.bulk_insert_teams(&data.teams, now).await?;
    db.bulk_insert_users(&users).await?;
    let t = b2b_template();
    let pipeline = db
        .insert_pipeline(t.name, true, &t.policy, &t.stages, now)
        .await?;
    if pipeline.id != data.pipeline.id
        || pipeline
            .stages
            .iter()
            .map(|s| s.id)
            .ne(data.pipeline.stages.iter().map(|s| s.id))
    {
        return Err(AppError::Internal(
            "demo data needs an empty database".into(),
        ));
    }
    // The other two templates, and big deals entering Negotiation need approval.
    for t in [tender_template(), transactional_template()] {
        db.insert_pipeline(t.name, false, &t.policy, &t.stages, now)
            .await?;
    }
    let policy = ApprovalPolicy {
        id: 0,
        name: "百万大单审批".into(),
        active: true,
        pipeline_id: Some(pipeline.id),
        stage_id: Some(pipeline.stages[3].id),
        conditions: vec![Condition {
            field: "amount_minor".into(),
            op: CompareOp::Gte,
            value: 100_000_000.into(),
        }],
        chain: vec![Approver::OwnerManager, Approver::Director],
    };
    db.save_approval_policy(&policy, now).await?;
    db.bulk_insert(&data.accounts).await?;
    db.bulk_insert(&data.contacts).await?;
    db.bulk_insert(&data.leads).await?;
    db.bulk_insert(&data.opportunities).await?;
    db.bulk_insert_events(&data.events).await?;
    db.bulk_insert(&data.activities).await?;
    db.bulk_insert(&data.tasks).await?;
    db.reset_sequences().await?;
    db.analyze().await?;
    crate::ops::automation::seed_templates(db, now).await?;
    seed_pool(db, now).await?;
    seed_web_form(db, now).await?;
    // Every lead scored, with a model learned from the demo's closed leads.
    crate::ops::scoring::train(db, now).await?;
    Ok(())
}

/// The first active admin's context, which the demo's settings are made in.
async fn admin_ctx(db: &Db, now: OffsetDateTime) -> Result<Option<crate::ops::Ctx>, AppError> {
    let admin = db
        .users()
        .await?
        .into_iter()
        .find(|u| u.role == shangji_core::model::Role::Admin && u.active);
    Ok(match admin {
        Some(a) => Some(crate::ops::Ctx::for_cli(db, &a, now).await?),
        None => None,
    })
}

/// A web form at `/f/demo` whose leads go to 华东大区, to try the public page and its snippet.
async fn seed_web_form(db: &Db, now: OffsetDateTime) -> Result<(), AppError> {
    let Some(ctx) = admin_ctx(db, now).await? else {
        return Ok(());
    };
    let team = ctx
        .dir
        .org
        .teams
        .iter()
        .find(|t| t.name == "华东大区")
        .map(|t| t.id);
    let input = serde_json::from_value(serde_json::json!({
        "name": "官网预约演示",
        "slug": "demo",
        "heading": "预约产品演示",
        "intro": "留下联系方式，顾问会在一个工作日内联系您。",
        "thank_you": "谢谢！顾问会在一个工作日内联系您。",
        "source": "website",
        "team_id": team,
        "fields": [
            {"label_zh": "姓名", "label_en": "Name", "target": "contact_name", "required": true},
            {"label_zh": "公司", "label_en": "Company", "target": "company_name", "name": "company"},
            {"label_zh": "手机", "label_en": "Mobile", "target": "mobile", "required": true, "input": "tel"},
            {"label_zh": "邮箱", "label_en": "Email", "target": "email", "input": "email"},
            {"label_zh": "职务", "label_en": "Job title", "target": "title"},
            {"label_zh": "需求", "label_en": "What you need", "target": "notes", "input": "textarea"}
        ]
    }))
    .map_err(|e| AppError::Internal(e.to_string()))?;
    crate::ops::web_forms::create(db, &ctx, input).await?;
    Ok(())
}

/// Two assignment rules (website sign-ups → 华东大区 in turn; the rest → 华南大区 by daily
/// capacity) and a few open deals returned to the public pool in the last two days, so the
/// pool page, the SLA and the `unassigned_48h` rule have something to show.
async fn seed_pool(db: &Db, now: OffsetDateTime) -> Result<(), AppError> {
    use crate::ops::{assignment, Ctx};
    use shangji_core::assignment::{AssignmentRuleInput, Method};
    use shangji_core::model::StageKind;
    let Some(base) = admin_ctx(db, now).await? else {
        return Ok(());
    };
    let dir = base.dir.clone();
    let ctx_at = |at: OffsetDateTime| Ctx {
        now: at,
        ..base.clone()
    };
    let team = |name: &str| dir.org.teams.iter().find(|t| t.name == name).map(|t| t.id);
    let (Some(east), Some(south)) = (team("华东大区"), team("华南大区")) else {
        return Ok(());
    };
    let ctx = ctx_at(now);
    let rule = |name: &str, team_id, method, conditions: serde_json::Value| {
        serde_json::from_value::<AssignmentRuleInput>(serde_json::json!({
            "name": name, "team_id": team_id, "method": method, "conditions": conditions,
            "default_capacity": 5,
        }))
    };
    for input in [
        rule(
            "官网注册 → 华东大区（轮流）",
            east,
            Method::RoundRobin,
            serde_json::json!({"field": "source", "op": "eq", "value": "website"}),
        ),
        rule(
            "其余 → 华南大区（按产能）",
            south,
            Method::Capacity,
            serde_json::json!({"all": []}),
        ),
    ] {
        let input = input.map_err(|e| AppError::Internal(e.to_string()))?;
        assignment::create_rule(db, &ctx, input).await?;
    }
    let params = [
        ("status".to_string(), StageKind::Open.as_str().to_string()),
        ("per_page".to_string(), "6".to_string()),
        ("sort".to_string(), "created_at".to_string()),
    ];
    let open = crate::ops::list::<shangji_core::model::Opportunity>(db, &ctx, &params).await?;
    let reasons = ["客户暂无预算", "负责人离职交接", "长期未跟进，收回公海"];
    for (n, (opp, hours)) in open.items.iter().zip([3, 9, 20, 30, 40, 47]).enumerate() {
        let input = assignment::ReleaseInput {
            reason: Some(reasons[n % reasons.len()].to_string()),
            version: None,
        };
        let at = now - time::Duration::hours(hours);
        assignment::release(db, &ctx_at(at), opp.id, input).await?;
    }
    Ok(())
}
