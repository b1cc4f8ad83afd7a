//! The lead page: qualify a lead into account, contact and opportunity, or disqualify it
//! with a reason.

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use shangji_core::model::*;

use crate::error::AppError;
use crate::i18n::Tr;
use crate::ops::lists::{self, ConvertInput, ConvertOpportunity, DisqualifyInput};
use crate::pages::opportunity::yuan_to_fen;
use crate::pages::{error_text, render, shown_in_form, Choice, Errors, Nav, Viewer};
use crate::state::AppState;

/// What the qualification form holds (as typed, kept when refused).
#[derive(Default)]
struct ConvertForm {
    /// `new`, or the id of an existing account.
    account: String,
    account_name: String,
    credit_code: String,
    contact_name: String,
    with_opp: bool,
    opp_title: String,
    opp_amount: String,
    opp_pipeline: String,
    opp_close: String,
}

struct Fact {
    label: String,
    value: String,
}

struct OutcomeView {
    qualified: bool,
    who: String,
    when: String,
    reason: String,
    links: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "lists_lead.html")]
struct LeadPage {
    tr: Tr,
    csrf: String,
    here: String,
    nav: Nav,
    id: i64,
    version: i64,
    title: String,
    status: &'static str,
    status_label: String,
    open: bool,
    facts: Vec<Fact>,
    outcomes: Vec<OutcomeView>,
    matches: Vec<Choice>,
    pipelines: Vec<Choice>,
    form: ConvertForm,
    reason: String,
    errors: Errors,
    notice: Option<String>,
    archived: bool,
    /// The new account looked like an existing one: offer to create it anyway.
    may_allow_duplicate: bool,
    /// What it looked like (as far as the user may see each record).
    duplicates: Vec<crate::pages::records::form::DuplicateView>,
    /// The follow-ups logged with the lead.
    timeline: Vec<crate::pages::opportunity::Entry>,
    /// The web form it came in through, with its UTM parameters and referring page.
    origin: Option<(String, Vec<(String, String)>)>,
    /// Its score, grade and the reasons, in words.
    score: Option<crate::pages::scoring::ScoreView>,
    /// The merges it took part in (`pages::merge::notes`).
    merges: Vec<(String, String)>,
    /// Its place in the public pool.
    pool: crate::pages::assignment::PoolBox,
}

async fn lead_page(
    s: &AppState,
    v: &Viewer,
    id: i64,
    form: Option<ConvertForm>,
    reason: String,
    errors: Errors,
) -> Result<LeadPage, AppError> {
    let tr = v.tr;
    let lead = crate::ops::get::<Lead>(&s.db, &v.ctx, id).await?;
    let users = s.db.users().await?;
    let user = |id: Option<i64>| {
        id.and_then(|id| users.iter().find(|u| u.id == id))
            .map_or_else(
                || tr.t("lists.pool").to_string(),
                |u| u.display_name.clone(),
            )
    };
    let txt = |v: &Option<String>| v.clone().unwrap_or_default();
    let facts = [
        ("company_name", txt(&lead.company_name)),
        ("contact_name", txt(&lead.contact_name)),
        ("mobile", txt(&lead.mobile)),
        ("email", txt(&lead.email)),
        ("wechat", txt(&lead.wechat)),
        ("job_title", txt(&lead.title)),
        ("region", txt(&lead.region)),
        ("industry", txt(&lead.industry)),
        (
            "source",
            lead.source
                .map(|s| tr.t(&format!("source.{}", s.as_str())).to_string())
                .unwrap_or_default(),
        ),
        ("owner", user(lead.owner_id)),
    ]
    .into_iter()
    .filter(|(_, v)| !v.is_empty())
    .map(|(k, value)| Fact {
        label: tr.t(&format!("lists.col.{k}")).to_string(),
        value,
    })
    .collect();
    let outcomes =
        s.db.lead_outcomes(id)
            .await?
            .into_iter()
            .map(|o| {
                let mut links = vec![];
                if let Some(a) = o.account_id {
                    links.push((
                        tr.t("lists.kind.account").to_string(),
                        format!("/accounts/{a}"),
                    ));
                }
                if let Some(c) = o.contact_id {
                    links.push((
                        tr.t("lists.kind.contact").to_string(),
                        format!("/contacts/{c}"),
                    ));
                }
                if let Some(op) = o.opportunity_id {
                    links.push((
                        tr.t("lists.kind.opportunity").to_string(),
                        format!("/opportunities/{op}"),
                    ));
                }
                OutcomeView {
                    qualified: o.outcome == "qualified",
                    who: user(Some(o.actor_id)),
                    when: tr.datetime(o.at),
                    reason: o.reason.unwrap_or_default(),
                    links,
                }
            })
            .collect();
    // Qualified or disqualified by whoever may change it: a rep claims a pool lead first (the
    // pool box offers it).
    let open = matches!(lead.status, LeadStatus::New | LeadStatus::Working)
        && (lead.owner_id.is_some() || v.ctx.scope.is_manager());
    let form = form.unwrap_or_else(|| ConvertForm {
        account: String::new(),
        account_name: lead.company_name.clone().unwrap_or_default(),
        contact_name: lead.contact_name.clone().unwrap_or_default(),
        opp_title: lead.company_name.clone().unwrap_or_default(),
        ..Default::default()
    });
    let found = if open {
        lists::matching_accounts(
            &s.db,
            &v.ctx,
            Some(form.account_name.as_str())
                .filter(|n| !n.is_empty())
                .or(lead.company_name.as_deref()),
            Some(form.credit_code.as_str()),
        )
        .await?
    } else {
        vec![]
    };
    // A matching account is offered first; creating a new one stays a choice.
    let chosen = if form.account.is_empty() {
        found
            .first()
            .map_or_else(|| "new".to_string(), |a| a.id.to_string())
    } else {
        form.account.clone()
    };
    let mut matches: Vec<Choice> = found
        .iter()
        .map(|a| {
            let detail = a
                .credit_code
                .clone()
                .map(|c| format!(" · {c}"))
                .unwrap_or_default();
            Choice::new(
                a.id.to_string(),
                format!("{}{detail}", a.name),
                chosen == a.id.to_string(),
            )
        })
        .collect();
    matches.push(Choice::new(
        "new",
        tr.t("lists.convert.new_account"),
        chosen == "new",
    ));
    let pipelines = v
        .ctx
        .dir
        .pipelines
        .iter()
        .filter(|p| !p.archived)
        .map(|p| {
            let sel = if form.opp_pipeline.is_empty() {
                p.is_default
            } else {
                form.opp_pipeline == p.id.to_string()
            };
            Choice::new(p.id.to_string(), p.name.clone(), sel)
        })
        .collect();
    let title = lists::Listed::title(&lead);
    Ok(LeadPage {
        pool: crate::pages::assignment::pool_box(s, v, &lead).await?,
        merges: crate::pages::merge::notes::<Lead>(s, v, id, "leads").await?,
        tr,
        csrf: v.csrf.clone(),
        here: format!("/leads/{id}"),
        nav: v.nav("leads"),
        id,
        version: lead.version,
        title,
        status: lead.status.as_str(),
        status_label: tr
            .t(&format!("lists.lead.{}", lead.status.as_str()))
            .to_string(),
        open,
        facts,
        outcomes,
        matches,
        pipelines,
        form: ConvertForm {
            account: chosen,
            ..form
        },
        reason,
        errors,
        notice: None,
        archived: lead.archived,
        may_allow_duplicate: false,
        duplicates: vec![],
        timeline: crate::pages::records::merge_follow_ups(
            tr,
            &users,
            vec![],
            crate::ops::records::record_activities(&s.db, &v.ctx, RecordKind::Lead, id).await?,
        ),
        origin: crate::ops::web_forms::origin_of_lead(&s.db, id)
            .await?
            .map(|(form, sub)| (form.name, sub.utm.into_iter().collect())),
        score: crate::pages::scoring::score_view(
            tr,
            &v.ctx.dir.custom_fields,
            crate::ops::scoring::lead_score(&s.db, &v.ctx, id).await?,
        ),
    })
}

#[derive(Debug, serde::Deserialize)]
pub(super) struct LeadQuery {
    #[serde(default)]
    done: Option<String>,
    logged: Option<String>,
}

pub(super) async fn lead_show(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Query(q): Query<LeadQuery>,
) -> Response {
    match lead_page(&s, &v, id, None, String::new(), Errors::default()).await {
        Ok(mut p) => {
            p.notice = match q.done.as_deref() {
                Some("qualified") => Some(v.tr.t("lists.convert.done").to_string()),
                Some("disqualified") => Some(v.tr.t("lists.disqualify.done").to_string()),
                _ if q.logged.as_deref() == Some("1") => Some(v.tr.t("follow.logged").to_string()),
                _ => None,
            };
            render(p)
        }
        Err(e) => v.error(&format!("/leads/{id}"), e),
    }
}

/// Where an error of the qualification is shown.
fn convert_field(field: &str) -> &'static str {
    match field {
        "account_id" => "account",
        "account_name" | "account.name" => "account_name",
        "credit_code" | "account.credit_code" => "credit_code",
        "contact_name" => "contact_name",
        "opportunity.title" => "opp_title",
        "opportunity.amount_minor" | "opportunity.currency" => "opp_amount",
        "opportunity.pipeline_id" => "opp_pipeline",
        "opportunity.close_date" => "opp_close",
        _ => "convert",
    }
}

pub(super) async fn convert_submit(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let here = format!("/leads/{id}");
    let f = match v.posted(f, &here) {
        Ok(f) => f,
        Err(page) => return page,
    };
    let tr = v.tr;
    let form = ConvertForm {
        account: f.text("account"),
        account_name: f.text("account_name"),
        credit_code: f.text("credit_code"),
        contact_name: f.text("contact_name"),
        with_opp: f.has("with_opp", "1"),
        opp_title: f.text("opp_title"),
        opp_amount: f.text("opp_amount"),
        opp_pipeline: f.text("opp_pipeline"),
        opp_close: f.text("opp_close"),
    };
    let mut errors = Errors::default();
    let mut opportunity = None;
    if form.with_opp {
        let amount = if form.opp_amount.is_empty() {
            None
        } else {
            match yuan_to_fen(&form.opp_amount) {
                Some(a) => Some(a),
                None => {
                    errors.add("opp_amount", tr.t("err.invalid_amount"));
                    None
                }
            }
        };
        let close_date = if form.opp_close.is_empty() {
            None
        } else {
            match time::Date::parse(
                &form.opp_close,
                &time::format_description::well_known::Iso8601::DATE,
            ) {
                Ok(d) => Some(d),
                Err(_) => {
                    errors.add("opp_close", tr.t("err.invalid_date"));
                    None
                }
            }
        };
        if form.opp_title.is_empty() {
            errors.add("opp_title", tr.t("err.required"));
        }
        opportunity = Some(ConvertOpportunity {
            title: form.opp_title.clone(),
            amount_minor: amount,
            currency: None,
            pipeline_id: form.opp_pipeline.parse().ok(),
            close_date,
        });
    }
    let result = if errors.is_empty() {
        let input = ConvertInput {
            version: f.text("version").parse().ok(),
            account_id: form.account.parse().ok(),
            account_name: Some(form.account_name.clone()),
            credit_code: Some(form.credit_code.clone()),
            contact_name: Some(form.contact_name.clone()),
            opportunity,
            allow_duplicate: f.get("allow_duplicate") == "true",
        };
        lists::convert_lead(&s.db, &v.ctx, id, input)
            .await
            .map(|_| ())
    } else {
        Err(AppError::invalid("", "invalid_value", "see the fields"))
    };
    let e = match result {
        Ok(()) => return Redirect::to(&format!("{here}?done=qualified")).into_response(),
        Err(e) if shown_in_form(&e) => e,
        Err(e) => return v.error(&here, e),
    };
    if errors.is_empty() {
        let (field, text) = error_text(tr, &e);
        errors.add(convert_field(&field), text);
    }
    match lead_page(&s, &v, id, Some(form), String::new(), errors).await {
        Ok(mut p) => {
            p.may_allow_duplicate = matches!(e, AppError::Duplicate { blocked: false, .. });
            if let AppError::Duplicate { matches, .. } = &e {
                p.duplicates = crate::pages::records::form::duplicate_views(tr, matches);
            }
            (e.status(), render(p)).into_response()
        }
        Err(e) => v.error(&here, e),
    }
}

pub(super) async fn disqualify_submit(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let here = format!("/leads/{id}");
    let f = match v.posted(f, &here) {
        Ok(f) => f,
        Err(page) => return page,
    };
    let input = DisqualifyInput {
        reason: f.get("reason").to_string(),
        version: f.text("version").parse().ok(),
    };
    let e = match lists::disqualify_lead(&s.db, &v.ctx, id, input).await {
        Ok(_) => return Redirect::to(&format!("{here}?done=disqualified")).into_response(),
        Err(e) if shown_in_form(&e) => e,
        Err(e) => return v.error(&here, e),
    };
    let mut errors = Errors::default();
    let (field, text) = error_text(v.tr, &e);
    errors.add(
        if field == "reason" {
            "reason"
        } else {
            "disqualify"
        },
        text,
    );
    match lead_page(&s, &v, id, None, f.get("reason").to_string(), errors).await {
        Ok(p) => (e.status(), render(p)).into_response(),
        Err(e) => v.error(&here, e),
    }
}
