//! Lead scoring on the pages: a lead's score, grade and factors in words (shown on the lead
//! page), and the admin page of the scoring settings and the predictive model.

use askama::Template;
use axum::extract::{Form, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use shangji_core::custom_fields::CustomFieldDef;
use shangji_core::model::{ActivityType, LeadGrade, RecordKind, Source};
use shangji_core::scoring::{
    Factor, FactorKind, FitRule, GradeThresholds, ScoringSettings, TouchPoints, FEATURES,
};

use super::opportunity::source_label;
use super::records::activity_label;
use super::{field_text, render, Choice, Errors, FormData, Nav, Viewer};
use crate::error::AppError;
use crate::i18n::Tr;
use crate::ops::scoring::{self, LeadScore, ModelStatus};
use crate::state::AppState;

const PAGE: &str = "/admin/scoring";
/// Blank fit rule rows offered under the rules.
const SPARE_RULES: usize = 3;

fn feature_label(tr: Tr, defs: &[CustomFieldDef], field: &str) -> String {
    if let Some(key) = field.strip_prefix(shangji_core::scoring::CUSTOM_PREFIX) {
        return defs
            .iter()
            .find(|d| d.record_kind == RecordKind::Lead && d.key == key)
            .map_or_else(|| key.to_string(), |d| super::custom_fields::label(tr, d));
    }
    tr.t(&format!("scoring.feature.{field}")).to_string()
}

fn value_label(tr: Tr, field: &str, value: &str) -> String {
    match field {
        "source" => value
            .parse::<Source>()
            .map_or_else(|_| value.to_string(), |s| source_label(tr, s).to_string()),
        "has_email" | "has_mobile" | "email_kind" => {
            tr.t(&format!("scoring.value.{value}")).to_string()
        }
        _ if value.is_empty() => tr.t("scoring.value.empty").to_string(),
        _ => value.to_string(),
    }
}

fn signed(n: i32) -> String {
    if n > 0 {
        format!("+{n}")
    } else {
        format!("−{}", n.unsigned_abs())
    }
}

fn touch_label(tr: Tr, kind: &str) -> String {
    match kind.parse::<ActivityType>() {
        Ok(a) => activity_label(tr, a).to_string(),
        Err(_) => tr.t("scoring.touch.form_submission").to_string(),
    }
}

/// A factor in words: 「行业=机械制造 +15」, 「7 天前 拜访 +7（原 10 分，已衰减）」,
/// 「预测：来源=转介绍 +4（转化几率 ×2.8）」.
pub(crate) fn factor_text(tr: Tr, defs: &[CustomFieldDef], f: &Factor) -> String {
    match f.kind {
        FactorKind::Fit => format!(
            "{}={} {}",
            feature_label(tr, defs, &f.field),
            value_label(tr, &f.field, &f.value),
            signed(f.points)
        ),
        FactorKind::Engagement if f.field == "cap" => tr
            .t("scoring.factor.cap")
            .replace("{cap}", &f.value)
            .replace("{points}", &signed(f.points)),
        FactorKind::Engagement => {
            let age = f.age_days.unwrap_or(0);
            let decayed = f.base_points.is_some_and(|b| b != f.points);
            let mut text = tr
                .t(if age == 0 {
                    "scoring.factor.touch_today"
                } else {
                    "scoring.factor.touch"
                })
                .replace("{days}", &age.to_string())
                .replace("{kind}", &touch_label(tr, &f.value))
                .replace("{points}", &signed(f.points));
            if decayed {
                text.push_str(
                    &tr.t("scoring.factor.decayed")
                        .replace("{base}", &f.base_points.unwrap_or(0).to_string()),
                );
            }
            text
        }
        FactorKind::Model => {
            let ratio = f.odds_ratio_milli.unwrap_or(1000) as f64 / 1000.0;
            tr.t("scoring.factor.model")
                .replace("{field}", &feature_label(tr, defs, &f.field))
                .replace("{value}", &value_label(tr, &f.field, &f.value))
                .replace("{points}", &signed(f.points))
                .replace("{ratio}", &format!("{ratio:.1}"))
        }
    }
}

/// A lead's score as the lead page shows it.
pub(crate) struct ScoreView {
    pub score: i32,
    pub grade: &'static str,
    pub factors: Vec<(bool, String)>,
    pub model_percent: Option<i32>,
    pub history: Vec<String>,
}

pub(super) fn grade_text(g: LeadGrade) -> &'static str {
    match g {
        LeadGrade::A => "A",
        LeadGrade::B => "B",
        LeadGrade::C => "C",
        LeadGrade::D => "D",
    }
}

pub(crate) fn score_view(tr: Tr, defs: &[CustomFieldDef], s: LeadScore) -> Option<ScoreView> {
    let scored = s.scored?;
    Some(ScoreView {
        score: scored.score,
        grade: grade_text(scored.grade),
        factors: scored
            .factors
            .iter()
            .take(8)
            .map(|f| (f.points >= 0, factor_text(tr, defs, f)))
            .collect(),
        model_percent: scored.model_percent,
        history: s
            .history
            .iter()
            .rev()
            .take(10)
            .map(|e| {
                format!(
                    "{} · {} {} → {} {}",
                    tr.datetime(e.at),
                    e.previous_score
                        .map_or_else(|| "—".to_string(), |p| p.to_string()),
                    e.previous_grade.map_or("", grade_text),
                    e.score,
                    grade_text(e.grade)
                )
            })
            .collect(),
    })
}

// ---------------------------------------------------------------- the admin page

struct RuleRow {
    i: usize,
    fields: Vec<Choice>,
    values: String,
    points: String,
}

#[derive(Template)]
#[template(path = "admin_scoring.html")]
struct AdminPage {
    tr: Tr,
    csrf: String,
    here: String,
    nav: Nav,
    tab: &'static str,
    rules: Vec<RuleRow>,
    touches: Vec<(String, String, String)>,
    half_life_days: String,
    engagement_cap: String,
    model_weight_percent: String,
    min_closed: String,
    grade_a: String,
    grade_b: String,
    grade_c: String,
    errors: Errors,
    notice: Option<String>,
    closed_leads: u32,
    model: Option<ModelLine>,
}

struct ModelLine {
    trained_at: String,
    auc: String,
    auc_fit: String,
    n_closed: u32,
    n_test: u32,
}

const TOUCHES: [&str; 10] = [
    "visit",
    "meeting",
    "demo",
    "call",
    "email",
    "wechat",
    "sms",
    "note",
    "internal",
    "form_submission",
];

fn touch_points(t: &TouchPoints) -> [i32; 10] {
    [
        t.visit,
        t.meeting,
        t.demo,
        t.call,
        t.email,
        t.wechat,
        t.sms,
        t.note,
        t.internal,
        t.form_submission,
    ]
}

fn admin_page(
    v: &Viewer,
    s: &ScoringSettings,
    status: &ModelStatus,
    errors: Errors,
    notice: Option<String>,
) -> AdminPage {
    let tr = v.tr;
    let defs = &v.ctx.dir.custom_fields;
    let mut fields: Vec<(String, String)> = FEATURES
        .iter()
        .map(|f| (f.to_string(), feature_label(tr, defs, f)))
        .collect();
    fields.extend(
        defs.iter()
            .filter(|d| d.record_kind == RecordKind::Lead && !d.archived)
            .map(|d| {
                (
                    format!("custom.{}", d.key),
                    super::custom_fields::label(tr, d),
                )
            }),
    );
    let blank = FitRule {
        field: String::new(),
        values: vec![],
        points: 0,
    };
    let rules = s
        .fit_rules
        .iter()
        .chain(std::iter::repeat_n(&blank, SPARE_RULES))
        .enumerate()
        .map(|(i, r)| {
            let mut choices = vec![Choice::new(
                "",
                tr.t("scoring.rule.unused"),
                r.field.is_empty(),
            )];
            choices.extend(
                fields
                    .iter()
                    .map(|(k, label)| Choice::new(k.clone(), label.clone(), *k == r.field)),
            );
            RuleRow {
                i,
                fields: choices,
                values: r.values.join("、"),
                points: if r.field.is_empty() {
                    String::new()
                } else {
                    r.points.to_string()
                },
            }
        })
        .collect();
    let touches = TOUCHES
        .iter()
        .zip(touch_points(&s.touch_points))
        .map(|(k, p)| (k.to_string(), touch_label(tr, k), p.to_string()))
        .collect();
    AdminPage {
        tr,
        csrf: v.csrf.clone(),
        here: PAGE.into(),
        nav: v.nav("settings"),
        tab: "scoring",
        rules,
        touches,
        half_life_days: s.half_life_days.to_string(),
        engagement_cap: s.engagement_cap.to_string(),
        model_weight_percent: s.model_weight_percent.to_string(),
        min_closed: s.min_closed.to_string(),
        grade_a: s.thresholds.a.to_string(),
        grade_b: s.thresholds.b.to_string(),
        grade_c: s.thresholds.c.to_string(),
        errors,
        notice,
        closed_leads: status.closed_leads,
        model: status.model.as_ref().map(|m| ModelLine {
            trained_at: m.trained_at.map(|t| tr.datetime(t)).unwrap_or_default(),
            auc: m.auc.map_or_else(|| "—".into(), |a| format!("{a:.3}")),
            auc_fit: m.auc_fit.map_or_else(|| "—".into(), |a| format!("{a:.3}")),
            n_closed: m.n_closed,
            n_test: m.n_test,
        }),
    }
}

/// The settings an admin posted; a number that cannot be read is kept as an impossible
/// value so that the check names its field.
fn posted(form: &FormData) -> ScoringSettings {
    let number = |name: &str| form.text(name).parse::<i64>().unwrap_or(-1);
    let mut fit_rules = Vec::new();
    for i in 0..shangji_core::scoring::MAX_RULES + SPARE_RULES {
        let field = form.text(&format!("r{i}_field"));
        if field.is_empty() {
            continue;
        }
        fit_rules.push(FitRule {
            field,
            values: form
                .get(&format!("r{i}_values"))
                .split(['、', ',', '，', '\n'])
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .collect(),
            points: number(&format!("r{i}_points")).clamp(-1000, 1000) as i32,
        });
    }
    let t = |k: &str| number(&format!("t_{k}")).clamp(-1, 1000) as i32;
    ScoringSettings {
        fit_rules,
        touch_points: TouchPoints {
            call: t("call"),
            visit: t("visit"),
            meeting: t("meeting"),
            email: t("email"),
            wechat: t("wechat"),
            sms: t("sms"),
            demo: t("demo"),
            note: t("note"),
            internal: t("internal"),
            form_submission: t("form_submission"),
        },
        half_life_days: number("half_life_days").clamp(0, 100_000) as u32,
        engagement_cap: number("engagement_cap").clamp(-1, 1000) as i32,
        model_weight_percent: number("model_weight_percent").clamp(0, 1000) as u32,
        min_closed: number("min_closed").clamp(0, 100_000_000) as u32,
        thresholds: GradeThresholds {
            a: number("grade_a").clamp(-1, 1000) as i32,
            b: number("grade_b").clamp(-1, 1000) as i32,
            c: number("grade_c").clamp(-1, 1000) as i32,
        },
    }
}

async fn show(State(s): State<AppState>, v: Viewer) -> Response {
    let page = async {
        let status = scoring::status(&s.db, &v.ctx).await?;
        let settings = scoring::settings(&s.db).await?;
        Ok::<_, AppError>(admin_page(&v, &settings, &status, Errors::default(), None))
    };
    match page.await {
        Ok(p) => render(p),
        Err(e) => v.error(PAGE, e),
    }
}

async fn save(
    State(s): State<AppState>,
    v: Viewer,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let form = match v.posted(form, PAGE) {
        Ok(f) => f,
        Err(page) => return page,
    };
    let input = posted(&form);
    match scoring::save_settings(&s.db, &v.ctx, input.clone()).await {
        Ok(_) => Redirect::to(&format!("{PAGE}?saved=1")).into_response(),
        Err(AppError::InvalidMany(list)) => {
            let mut errors = Errors::default();
            for f in &list {
                errors.add(f.field.clone(), field_text(v.tr, &f.field, &f.code));
            }
            match scoring::status(&s.db, &v.ctx).await {
                Ok(status) => (
                    axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                    render(admin_page(&v, &input, &status, errors, None)),
                )
                    .into_response(),
                Err(e) => v.error(PAGE, e),
            }
        }
        Err(e) => v.error(PAGE, e),
    }
}

async fn train(
    State(s): State<AppState>,
    v: Viewer,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    if let Err(page) = v.posted(form, PAGE) {
        return page;
    }
    let done = async {
        let status = scoring::train_now(&s.db, &v.ctx).await?;
        let settings = scoring::settings(&s.db).await?;
        let notice = v.tr.t(if status.model.is_some() {
            "scoring.trained"
        } else {
            "scoring.too_few"
        });
        Ok::<_, AppError>(admin_page(
            &v,
            &settings,
            &status,
            Errors::default(),
            Some(notice.replace("{n}", &status.closed_leads.to_string())),
        ))
    };
    match done.await {
        Ok(p) => render(p),
        Err(e) => v.error(PAGE, e),
    }
}

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route(PAGE, get(show).post(save))
        .route("/admin/scoring/train", post(train))
}
