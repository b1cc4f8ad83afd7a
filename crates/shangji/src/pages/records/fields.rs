//! The opportunity's fields edited in place: the view of a field, reading what was typed
//! as a change, and the fragment or small page htmx swaps in.

use crate::pages::custom_fields;
use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use shangji_core::custom_fields::{CustomFieldDef, CustomFieldType};
use shangji_core::model::*;
use shangji_core::opportunity::OpportunityInput;
use shangji_core::Field;

use crate::error::AppError;
use crate::i18n::Tr;
use crate::ops;
use crate::pages::admin::forecast_label;
use crate::pages::opportunity::{source_label, yuan_to_fen};
use crate::pages::{render, shown_in_form, Choice, FormData, Nav, Viewer};
use crate::state::AppState;

use super::{date_of, err_text, is_htmx};

/// One field of the opportunity, shown or being edited.
pub(in crate::pages) struct FieldView {
    pub(in crate::pages) key: String,
    /// The part of the element ids: `opp-<dom>` holds the value.
    pub(in crate::pages) dom: String,
    pub(in crate::pages) label: String,
    pub(in crate::pages) shown: String,
    pub(in crate::pages) editing: bool,
    /// `text`, `amount`, `date`, `number`, `select`, `multi`, `bool`, `textarea`, `step`
    /// (next step and its date).
    pub(in crate::pages) input: &'static str,
    pub(in crate::pages) value: String,
    pub(in crate::pages) value2: String,
    pub(in crate::pages) options: Vec<Choice>,
    pub(in crate::pages) error: Option<String>,
    pub(in crate::pages) error2: Option<String>,
    pub(in crate::pages) version: i64,
    pub(in crate::pages) editable: bool,
    /// A value to confirm before it is saved (a close date far from today): the box's words.
    pub(in crate::pages) confirm: Option<String>,
}

pub(super) const BUILTIN: &[&str] = &[
    "title",
    "amount",
    "close_date",
    "probability",
    "forecast_category",
    "grade",
    "source",
    "next_step",
    "tags",
];

fn dom_of(key: &str) -> String {
    match key {
        "title" => "title-edit".into(),
        k if k.starts_with("cf.") => format!("cf-{}", &k[3..]),
        k => k.replace('_', "-"),
    }
}

fn label_of(tr: Tr, key: &str, defs: &[&CustomFieldDef]) -> String {
    match key {
        "title" => tr.t("records.field.title").into(),
        "amount" => tr.t("col.amount").into(),
        "close_date" => tr.t("col.close_date").into(),
        "probability" => tr.t("opp.probability").into(),
        "forecast_category" => tr.t("stage.forecast_category").into(),
        "grade" => tr.t("records.field.grade").into(),
        "source" => tr.t("records.field.source").into(),
        "next_step" => tr.t("opp.next_step").into(),
        "tags" => tr.t("records.field.tags").into(),
        k => defs
            .iter()
            .find(|d| Some(d.key.as_str()) == k.strip_prefix("cf."))
            .map_or_else(
                || k.to_string(),
                |d| crate::pages::custom_fields::label(tr, d),
            ),
    }
}

fn choices(tr: Tr, all: Vec<(String, String)>, current: &str, with_none: bool) -> Vec<Choice> {
    let mut v = Vec::new();
    if with_none {
        v.push(Choice::new("", tr.t("value.none"), current.is_empty()));
    }
    v.extend(all.into_iter().map(|(value, label)| {
        let checked = value == current;
        Choice::new(value, label, checked)
    }));
    v
}

/// The view of field `key` of `opp`; `typed` holds what the user typed when editing.
#[allow(clippy::too_many_arguments)]
pub(super) fn field_view(
    tr: Tr,
    opp: &Opportunity,
    key: &str,
    defs: &[&CustomFieldDef],
    users: &[User],
    editing: bool,
    typed: Option<&FormData>,
    editable: bool,
) -> FieldView {
    let none = || tr.t("value.none").to_string();
    let def = key
        .strip_prefix("cf.")
        .and_then(|k| defs.iter().find(|d| d.key == k).copied());
    let (shown, raw, raw2): (String, String, String) = match key {
        "title" => (opp.title.clone(), opp.title.clone(), String::new()),
        "amount" => (
            tr.money(&opp.amount),
            format!(
                "{}.{:02}",
                opp.amount.amount_minor / 100,
                opp.amount.amount_minor % 100
            ),
            String::new(),
        ),
        "close_date" => (
            opp.close_date.map_or_else(none, |d| d.to_string()),
            opp.close_date.map(|d| d.to_string()).unwrap_or_default(),
            String::new(),
        ),
        "probability" => (
            format!("{}%", opp.probability),
            opp.probability.to_string(),
            String::new(),
        ),
        "forecast_category" => (
            forecast_label(tr, opp.forecast_category).to_string(),
            opp.forecast_category.as_str().to_string(),
            String::new(),
        ),
        "grade" => (
            opp.grade.map_or_else(none, |g| g.as_str().to_uppercase()),
            opp.grade
                .map(|g| g.as_str().to_string())
                .unwrap_or_default(),
            String::new(),
        ),
        "source" => (
            opp.source
                .map_or_else(none, |s| source_label(tr, s).to_string()),
            opp.source
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            String::new(),
        ),
        "next_step" => (
            match (&opp.next_step, opp.next_step_date) {
                (Some(s), Some(d)) => format!("{s} ({d})"),
                (Some(s), None) => s.clone(),
                (None, Some(d)) => d.to_string(),
                (None, None) => none(),
            },
            opp.next_step.clone().unwrap_or_default(),
            opp.next_step_date
                .map(|d| d.to_string())
                .unwrap_or_default(),
        ),
        "tags" => (
            if opp.tags.is_empty() {
                none()
            } else {
                opp.tags.join("、")
            },
            opp.tags.join(", "),
            String::new(),
        ),
        _ => match def {
            Some(d) => (
                opp.custom.get(&d.key).map_or_else(none, |v| {
                    crate::pages::custom_fields::display_value(tr, d, v, users)
                }),
                custom_fields::raw(d, opp.custom.get(&d.key)),
                String::new(),
            ),
            None => (none(), String::new(), String::new()),
        },
    };
    let (value, value2) = match typed {
        Some(f) => match def.map(|d| d.field_type) {
            Some(CustomFieldType::MultiSelect) => (f.all("value").join("\n"), String::new()),
            Some(CustomFieldType::Boolean) => (
                if f.get("value") == "true" {
                    "true".into()
                } else {
                    String::new()
                },
                String::new(),
            ),
            _ => (f.get("value").to_string(), f.get("value2").to_string()),
        },
        None => (raw, raw2),
    };
    let mut options = Vec::new();
    let input = match key {
        "title" | "tags" => "text",
        "amount" => "amount",
        "close_date" => "date",
        "probability" => "number",
        "next_step" => "step",
        "forecast_category" => {
            options = choices(
                tr,
                ForecastCategory::ALL
                    .iter()
                    .map(|c| (c.as_str().into(), forecast_label(tr, *c).into()))
                    .collect(),
                &value,
                false,
            );
            "select"
        }
        "grade" => {
            options = choices(
                tr,
                Grade::ALL
                    .iter()
                    .map(|g| (g.as_str().into(), g.as_str().to_uppercase()))
                    .collect(),
                &value,
                true,
            );
            "select"
        }
        "source" => {
            options = choices(
                tr,
                Source::ALL
                    .iter()
                    .map(|s| (s.as_str().into(), source_label(tr, *s).into()))
                    .collect(),
                &value,
                true,
            );
            "select"
        }
        _ => match def.map(|d| d.field_type) {
            Some(_) => {
                let (input, choices) =
                    custom_fields::input_of(tr, def.expect("a custom field"), &value, users);
                options = choices;
                input
            }
            _ => "text",
        },
    };
    FieldView {
        key: key.to_string(),
        dom: dom_of(key),
        label: label_of(tr, key, defs),
        shown,
        editing,
        input,
        value,
        value2,
        options,
        error: None,
        error2: None,
        version: opp.version,
        editable,
        confirm: None,
    }
}

/// What the posted field form asks to change, or the error beside the field.
fn field_input(
    key: &str,
    f: &FormData,
    defs: &[&CustomFieldDef],
) -> Result<OpportunityInput, (String, &'static str)> {
    let v = f.text("value");
    let mut input = OpportunityInput {
        version: f.text("version").parse().ok(),
        ..Default::default()
    };
    let opt_text = |v: &str| {
        if v.is_empty() {
            Field::Null
        } else {
            Field::Value(v.to_string())
        }
    };
    let bad = |code: &'static str| Err(("value".to_string(), code));
    match key {
        "title" => input.title = Field::Value(v),
        "amount" => match yuan_to_fen(&v) {
            Some(fen) => input.amount_minor = Field::Value(fen),
            None => return bad("invalid_amount"),
        },
        "close_date" => match date_of(&v) {
            Ok(d) => input.close_date = d.map_or(Field::Null, Field::Value),
            Err(_) => return bad("invalid_date"),
        },
        "probability" => match v.trim_end_matches('%').trim() {
            "" => input.probability = Field::Null,
            n => match n.parse::<i32>() {
                Ok(p) => input.probability = Field::Value(p),
                Err(_) => return bad("not_a_number"),
            },
        },
        "forecast_category" => match v.parse() {
            Ok(c) => input.forecast_category = Field::Value(c),
            Err(_) => return bad("unknown_choice"),
        },
        "grade" => match v.as_str() {
            "" => input.grade = Field::Null,
            g => match g.parse() {
                Ok(g) => input.grade = Field::Value(g),
                Err(_) => return bad("unknown_choice"),
            },
        },
        "source" => match v.as_str() {
            "" => input.source = Field::Null,
            x => match x.parse() {
                Ok(x) => input.source = Field::Value(x),
                Err(_) => return bad("unknown_choice"),
            },
        },
        "next_step" => {
            input.next_step = opt_text(&v);
            match date_of(f.get("value2")) {
                Ok(d) => input.next_step_date = d.map_or(Field::Null, Field::Value),
                Err(_) => return Err(("value2".into(), "invalid_date")),
            }
        }
        "tags" => {
            input.tags = Field::Value(
                v.split([',', '，', '、', ';', '；'])
                    .map(|t| t.trim().to_string())
                    .filter(|t| !t.is_empty())
                    .collect(),
            )
        }
        _ => {
            let Some(def) = key
                .strip_prefix("cf.")
                .and_then(|k| defs.iter().find(|d| d.key == k))
            else {
                return bad("unknown_field");
            };
            let value = custom_fields::value_of(def, &f.all("value"))
                .map_err(|code| ("value".to_string(), code))?;
            let mut custom = CustomValues::new();
            custom.insert(def.key.clone(), value);
            input.custom = Some(custom);
        }
    }
    Ok(input)
}

#[derive(Template)]
#[template(path = "records_field.html")]
struct FieldFragment {
    tr: Tr,
    csrf: String,
    id: i64,
    f: FieldView,
}

#[derive(Template)]
#[template(path = "records_field_page.html")]
struct FieldPage {
    tr: Tr,
    csrf: String,
    here: String,
    nav: Nav,
    id: i64,
    title: String,
    f: FieldView,
}

#[derive(serde::Deserialize)]
pub(super) struct ShowQuery {
    show: Option<String>,
}

fn custom_defs(v: &Viewer) -> Vec<&CustomFieldDef> {
    v.ctx
        .dir
        .custom_fields_of(RecordKind::Opportunity)
        .collect()
}

fn known_field(v: &Viewer, key: &str) -> bool {
    BUILTIN.contains(&key)
        || key
            .strip_prefix("cf.")
            .is_some_and(|k| custom_defs(v).iter().any(|d| d.key == k && !d.archived))
}

/// The field's edit form (or, with `show`, its value again): a fragment for htmx, a small
/// page otherwise.
pub(super) async fn field_get(
    State(s): State<AppState>,
    v: Viewer,
    headers: HeaderMap,
    Path((id, key)): Path<(i64, String)>,
    Query(q): Query<ShowQuery>,
) -> Response {
    let here = format!("/opportunities/{id}");
    let opp = match ops::get::<Opportunity>(&s.db, &v.ctx, id).await {
        Ok(o) => o,
        Err(e) => return v.error(&here, e),
    };
    if !known_field(&v, &key) {
        return v.error(&here, AppError::NotFound);
    }
    let users = match s.db.users().await {
        Ok(u) => u,
        Err(e) => return v.error(&here, e.into()),
    };
    let can_edit = v.ctx.scope.covers(Some(opp.owner_id));
    let editing = q.show.is_none() && can_edit;
    let f = field_view(
        v.tr,
        &opp,
        &key,
        &custom_defs(&v),
        &users,
        editing,
        None,
        can_edit,
    );
    field_response(&v, &headers, id, &opp.title, f, StatusCode::OK)
}

fn field_response(
    v: &Viewer,
    headers: &HeaderMap,
    id: i64,
    title: &str,
    f: FieldView,
    status: StatusCode,
) -> Response {
    if is_htmx(headers) {
        // htmx swaps only successful answers: an error comes back as 200 with the form.
        return render(FieldFragment {
            tr: v.tr,
            csrf: v.csrf.clone(),
            id,
            f,
        });
    }
    let page = FieldPage {
        tr: v.tr,
        csrf: v.csrf.clone(),
        here: format!("/opportunities/{id}/fields/{}", f.key),
        nav: v.nav("opportunity"),
        id,
        title: title.to_string(),
        f,
    };
    (status, render(page)).into_response()
}

pub(super) async fn field_post(
    State(s): State<AppState>,
    v: Viewer,
    headers: HeaderMap,
    Path((id, key)): Path<(i64, String)>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let here = format!("/opportunities/{id}");
    let f = match v.posted(f, &here) {
        Ok(f) => f,
        Err(page) => return page,
    };
    if !known_field(&v, &key) {
        return v.error(&here, AppError::NotFound);
    }
    let defs = custom_defs(&v);
    let users = match s.db.users().await {
        Ok(u) => u,
        Err(e) => return v.error(&here, e.into()),
    };
    let parsed = field_input(&key, &f, &defs);
    // A close date far from today is asked about once before it is saved.
    if let Some(w) = parsed
        .as_ref()
        .ok()
        .and_then(|input| ops::input_warnings(&v.ctx, input).into_iter().next())
        .filter(|_| f.get("date_ok") != "1")
    {
        let opp = match ops::get::<Opportunity>(&s.db, &v.ctx, id).await {
            Ok(o) => o,
            Err(e) => return v.error(&here, e),
        };
        let mut fv = field_view(v.tr, &opp, &key, &defs, &users, true, Some(&f), true);
        fv.version = f.text("version").parse().unwrap_or(opp.version);
        fv.error = Some(crate::pages::warning_text(v.tr, &w, f.get("value")));
        fv.confirm = Some(v.tr.t("ux.warn.confirm").to_string());
        return field_response(&v, &headers, id, &opp.title, fv, StatusCode::OK);
    }
    let result = match parsed {
        Ok(input) => ops::update_opportunity(&s.db, &v.ctx, id, input)
            .await
            .map_err(|e| (None, e)),
        Err((field, code)) => Err((
            Some((field, code)),
            AppError::invalid("value", code, "see the field"),
        )),
    };
    match result {
        Ok(opp) => {
            if is_htmx(&headers) {
                let fv = field_view(v.tr, &opp, &key, &defs, &users, false, None, true);
                render(FieldFragment {
                    tr: v.tr,
                    csrf: v.csrf.clone(),
                    id,
                    f: fv,
                })
            } else {
                Redirect::to(&format!("{here}#f-{}", dom_of(&key))).into_response()
            }
        }
        Err((local, e)) if local.is_some() || shown_in_form(&e) => {
            let opp = match ops::get::<Opportunity>(&s.db, &v.ctx, id).await {
                Ok(o) => o,
                Err(e) => return v.error(&here, e),
            };
            let mut fv = field_view(v.tr, &opp, &key, &defs, &users, true, Some(&f), true);
            let (field, text) = match &local {
                Some((field, code)) => {
                    (field.clone(), crate::pages::field_text(v.tr, "value", code))
                }
                None => err_text(v.tr, &e),
            };
            // The version the user read stays, so that saving again does not overwrite the
            // other change unseen; the message says to reload.
            fv.version = f.text("version").parse().unwrap_or(opp.version);
            if field == "value2" || field == "next_step_date" {
                fv.error2 = Some(text);
            } else {
                fv.error = Some(text);
            }
            field_response(&v, &headers, id, &opp.title, fv, e.status())
        }
        Err((_, e)) => v.error(&here, e),
    }
}
