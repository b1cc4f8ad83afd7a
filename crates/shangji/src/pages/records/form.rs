//! Create and edit pages for accounts, contacts and leads: every built-in field and the kind's
//! custom fields, the error beside the field that caused it (in the user's language, what was
//! typed kept), the record's version carried so that a change made meanwhile by someone else is
//! a conflict shown with the current values, and archive / restore. The pages build the same
//! JSON body the API takes and call the same `ops` functions, so the rules are the API's.

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::{Map, Value};
use shangji_core::custom_fields::CustomFieldType;
use shangji_core::duplicates::DuplicateMatch;
use shangji_core::model::*;

use super::err_text;
use crate::error::AppError;
use crate::i18n::Tr;
use crate::ops;
use crate::ops::lists::Listed;
use crate::ops::merge::Mergeable;
use crate::pages::{custom_fields, render, shown_in_form, Choice, Errors, FormData, Nav, Viewer};
use crate::state::AppState;

/// How a built-in field is entered.
#[derive(Clone, Copy)]
pub(crate) enum Input {
    Text,
    Long,
    Tel,
    Email,
    /// One of a closed set: its values, and the key prefix of their labels.
    Choice(&'static [&'static str], &'static str),
    /// Words separated by commas (、 and ， too).
    Tags,
    /// A user who may own records.
    Owner,
    /// An account the user can see.
    Account,
}

/// A built-in field of a form: its key in the API body, the key of its label, how it is
/// entered, whether it must be filled.
pub(crate) struct Spec {
    key: &'static str,
    label: &'static str,
    input: Input,
    required: bool,
}

const fn spec(key: &'static str, label: &'static str, input: Input) -> Spec {
    Spec {
        key,
        label,
        input,
        required: false,
    }
}

const fn required(key: &'static str, label: &'static str, input: Input) -> Spec {
    Spec {
        key,
        label,
        input,
        required: true,
    }
}

/// A record kind with create and edit pages.
pub(crate) trait Editable: Mergeable + Listed + Send + 'static {
    /// The path of its pages (`accounts`, `contacts`, `leads`): its list's.
    fn path() -> &'static str {
        <Self as Listed>::KIND.path()
    }
    const SPECS: &'static [Spec];
    /// The i18n keys of the page titles.
    const NEW_TITLE: &'static str;
    const EDIT_TITLE: &'static str;
}

/// A built-in field of `T` in words, for the merge page: its label and `value` as stored
/// (a user by name, an account through `account`, a choice by its label); `None` for a field
/// the forms do not have.
pub(crate) fn in_words<T: Editable>(
    tr: Tr,
    key: &str,
    value: &Value,
    users: &[User],
    account: &dyn Fn(i64) -> String,
) -> Option<(String, String)> {
    let spec = T::SPECS.iter().find(|s| s.key == key)?;
    let shown = match (spec.input, value) {
        (_, Value::Null) => "—".to_string(),
        (Input::Owner, Value::Number(n)) => n
            .as_i64()
            .and_then(|id| users.iter().find(|u| u.id == id))
            .map_or_else(|| n.to_string(), |u| u.display_name.clone()),
        (Input::Account, Value::Number(n)) => n.as_i64().map_or_else(String::new, account),
        (Input::Choice(_, prefix), Value::String(v)) => tr.t(&format!("{prefix}{v}")).to_string(),
        (_, Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join("、"),
        (_, Value::String(v)) if v.is_empty() => "—".to_string(),
        (_, Value::String(v)) => v.clone(),
        (_, other) => other.to_string(),
    };
    Some((tr.t(spec.label).to_string(), shown))
}

impl Editable for Account {
    const SPECS: &'static [Spec] = &[
        required("name", "lists.col.name", Input::Text),
        spec("credit_code", "lists.col.credit_code", Input::Text),
        spec("industry", "lists.col.industry", Input::Text),
        spec("region", "lists.col.region", Input::Text),
        spec(
            "size",
            "lists.col.size",
            Input::Choice(AccountSize::NAMES, "lists.size."),
        ),
        spec(
            "source",
            "lists.col.source",
            Input::Choice(Source::NAMES, "source."),
        ),
        spec("owner_id", "lists.col.owner", Input::Owner),
        spec("tags", "lists.col.tags", Input::Tags),
        spec("address", "records.account.address", Input::Text),
        spec("notes", "form.notes", Input::Long),
    ];
    const NEW_TITLE: &'static str = "form.new.accounts";
    const EDIT_TITLE: &'static str = "form.edit.accounts";
}

impl Editable for Contact {
    const SPECS: &'static [Spec] = &[
        required("name", "lists.col.name", Input::Text),
        spec("account_id", "lists.col.account", Input::Account),
        spec("title", "lists.col.job_title", Input::Text),
        spec("mobile", "lists.col.mobile", Input::Tel),
        spec("phone", "form.phone", Input::Tel),
        spec("email", "lists.col.email", Input::Email),
        spec("wechat", "lists.col.wechat", Input::Text),
        spec(
            "buying_role",
            "lists.col.buying_role",
            Input::Choice(BuyingRole::NAMES, "lists.role."),
        ),
        spec("owner_id", "lists.col.owner", Input::Owner),
    ];
    const NEW_TITLE: &'static str = "form.new.contacts";
    const EDIT_TITLE: &'static str = "form.edit.contacts";
}

impl Editable for Lead {
    const SPECS: &'static [Spec] = &[
        spec("company_name", "lists.col.company_name", Input::Text),
        spec("contact_name", "lists.col.contact_name", Input::Text),
        spec("title", "lists.col.job_title", Input::Text),
        spec("mobile", "lists.col.mobile", Input::Tel),
        spec("email", "lists.col.email", Input::Email),
        spec("wechat", "lists.col.wechat", Input::Text),
        spec("region", "lists.col.region", Input::Text),
        spec("industry", "lists.col.industry", Input::Text),
        spec(
            "source",
            "lists.col.source",
            Input::Choice(Source::NAMES, "source."),
        ),
        spec("owner_id", "lists.col.owner", Input::Owner),
        spec("notes", "form.notes", Input::Long),
    ];
    const NEW_TITLE: &'static str = "form.new.leads";
    const EDIT_TITLE: &'static str = "form.edit.leads";
}

/// One input of the form as the template shows it.
struct FieldBox {
    /// The input's name: the API key, `cf.<key>` for a custom field.
    name: String,
    /// The element id: `f-<name>` with dots as dashes.
    id: String,
    label: String,
    /// `text`, `textarea`, `tel`, `email`, `select`, `multi`, `bool`, `date`, `datetime`,
    /// `amount`, `tags`.
    input: &'static str,
    value: String,
    options: Vec<Choice>,
    required: bool,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "records_form.html")]
struct FormPage {
    tr: Tr,
    csrf: String,
    here: String,
    nav: Nav,
    title: String,
    /// Where the form posts.
    action: String,
    /// Where cancel goes.
    back: String,
    list_label: String,
    list_href: String,
    version: Option<i64>,
    fields: Vec<FieldBox>,
    /// The error of the form as a whole (a conflict, a refusal not tied to a field).
    form_error: Option<String>,
    archived: bool,
    /// The archive / restore form's address (edit pages only).
    archive_action: Option<String>,
    /// The records this one matches, when saving was refused for it.
    duplicates: Vec<DuplicateView>,
    /// Saving anyway is not allowed (a blocked duplicate).
    duplicate_blocked: bool,
}

/// A record the one being saved matches, as the form tells it.
pub(crate) struct DuplicateView {
    pub(crate) text: String,
    /// Its page, when the user can read it.
    pub(crate) href: Option<String>,
}

fn kind_path(k: RecordKind) -> &'static str {
    match k {
        RecordKind::Account => "accounts",
        RecordKind::Contact => "contacts",
        RecordKind::Lead => "leads",
        RecordKind::Opportunity => "opportunities",
    }
}

/// Shows on `page` the matches of a save refused as a duplicate; the status to answer with.
fn with_duplicates(
    tr: Tr,
    page: &mut FormPage,
    e: &Option<AppError>,
    status: StatusCode,
) -> StatusCode {
    match e {
        Some(AppError::Duplicate { matches, blocked }) => {
            page.duplicates = duplicate_views(tr, matches);
            page.duplicate_blocked = *blocked;
            StatusCode::CONFLICT
        }
        _ => status,
    }
}

/// The matches of a refused save in words: what matched, the record (when the user may see
/// it), and its owner.
pub(crate) fn duplicate_views(tr: Tr, matches: &[DuplicateMatch]) -> Vec<DuplicateView> {
    matches
        .iter()
        .map(|m| {
            let kind = tr
                .t(&format!("lists.kind.{}", m.record_kind.as_str()))
                .to_string();
            let on = tr
                .t(&format!("dup.on.{}", m.matched_on.as_str()))
                .to_string();
            let owner = match (&m.owner_name, &m.owner_team) {
                (Some(n), Some(t)) => format!("{n}（{t}）"),
                (Some(n), None) => n.clone(),
                _ => tr.t("dup.no_owner").to_string(),
            };
            let who = format!("{}{}{owner}", tr.t("dup.owner"), tr.t("records.sep"));
            match (&m.name, m.id) {
                (Some(name), Some(id)) => DuplicateView {
                    text: format!("{kind}「{name}」 · {on} · {who}"),
                    href: Some(format!("/{}/{id}", kind_path(m.record_kind))),
                },
                _ => DuplicateView {
                    text: format!("{kind} · {on} · {who} · {}", tr.t("dup.hidden")),
                    href: None,
                },
            }
        })
        .collect()
}

/// What an input holds for `value` of the record as JSON (`""` for none).
fn shown_value(input: Input, v: Option<&Value>) -> String {
    match (input, v) {
        (_, None | Some(Value::Null)) => String::new(),
        (Input::Tags, Some(Value::Array(a))) => a
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(", "),
        (_, Some(Value::String(s))) => s.clone(),
        (_, Some(other)) => other.to_string(),
    }
}

/// The owners a record may be given: active users (the operation checks the scope).
fn owner_choices(tr: Tr, users: &[User], current: &str) -> Vec<Choice> {
    let mut out = vec![Choice::new("", tr.t("value.none"), current.is_empty())];
    out.extend(users.iter().filter(|u| u.active).map(|u| {
        let id = u.id.to_string();
        Choice::new(id.clone(), u.display_name.clone(), id == current)
    }));
    out
}

/// The inputs of the form for `T`: values from `values` (the record as JSON, or what was
/// posted), errors by input name.
async fn boxes<T: Editable>(
    s: &AppState,
    v: &Viewer,
    values: &(dyn Fn(&str) -> Option<Value> + Sync),
    errors: &Errors,
) -> Result<Vec<FieldBox>, AppError> {
    let tr = v.tr;
    let users = s.db.users().await?;
    let mut out = Vec::new();
    for sp in T::SPECS {
        let value = shown_value(sp.input, values(sp.key).as_ref());
        let (input, options) = match sp.input {
            Input::Text => ("text", vec![]),
            Input::Long => ("textarea", vec![]),
            Input::Tel => ("tel", vec![]),
            Input::Email => ("email", vec![]),
            Input::Tags => ("tags", vec![]),
            Input::Choice(names, prefix) => {
                let mut o = vec![Choice::new("", tr.t("value.none"), value.is_empty())];
                o.extend(
                    names
                        .iter()
                        .map(|n| Choice::new(*n, tr.t(&format!("{prefix}{n}")), *n == value)),
                );
                ("select", o)
            }
            Input::Owner => ("select", owner_choices(tr, &users, &value)),
            Input::Account => {
                let params = [("per_page".to_string(), "200".to_string())];
                let mut accounts = ops::list::<Account>(&s.db, &v.ctx, &params).await?.items;
                // The current account stays offered even when it is not among the latest.
                if let Ok(id) = value.parse::<i64>() {
                    if !accounts.iter().any(|a| a.id == id) {
                        if let Ok(a) = ops::get::<Account>(&s.db, &v.ctx, id).await {
                            accounts.push(a);
                        }
                    }
                }
                let mut o = vec![Choice::new("", tr.t("value.none"), value.is_empty())];
                o.extend(accounts.into_iter().map(|a| {
                    let id = a.id.to_string();
                    let checked = id == value;
                    Choice::new(id, a.name, checked)
                }));
                ("select", o)
            }
        };
        out.push(FieldBox {
            name: sp.key.to_string(),
            id: format!("f-{}", sp.key),
            label: tr.t(sp.label).to_string(),
            input,
            value,
            options,
            required: sp.required,
            error: errors.get(sp.key).map(str::to_string),
        });
    }
    for def in v
        .ctx
        .dir
        .custom_fields_of(T::RECORD_KIND)
        .filter(|d| !d.archived)
    {
        let name = format!("cf.{}", def.key);
        let current = values(&name);
        let value = custom_fields::raw(def, current.as_ref());
        let (input, options) = custom_fields::input_of(tr, def, &value, &users);
        out.push(FieldBox {
            id: format!("f-cf-{}", def.key),
            label: custom_fields::label(tr, def),
            input,
            value,
            options,
            required: def.required,
            error: errors.get(&name).map(str::to_string),
            name,
        });
    }
    Ok(out)
}

/// The API body the posted form stands for, or the errors by input name. On create a blank
/// input is left out; on edit it clears the field.
fn body_of<T: Editable>(v: &Viewer, f: &FormData, editing: bool) -> Result<Value, Errors> {
    let mut errors = Errors::default();
    let mut body = Map::new();
    for sp in T::SPECS {
        // An input the form did not send leaves its field as it is.
        if editing && f.all(sp.key).is_empty() {
            continue;
        }
        let raw = f.text(sp.key);
        let value = match sp.input {
            Input::Tags => Value::Array(
                raw.split([',', '，', '、', ';', '；'])
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(Value::from)
                    .collect(),
            ),
            _ if raw.is_empty() => Value::Null,
            Input::Owner | Input::Account => match raw.parse::<i64>() {
                Ok(n) => Value::from(n),
                Err(_) => {
                    errors.add(
                        sp.key,
                        crate::pages::field_text(v.tr, sp.key, "not_a_number"),
                    );
                    continue;
                }
            },
            _ => Value::from(raw),
        };
        let blank = value.is_null() || value.as_array().is_some_and(Vec::is_empty);
        if editing || !blank {
            body.insert(sp.key.to_string(), value);
        }
    }
    let mut custom = Map::new();
    for def in v
        .ctx
        .dir
        .custom_fields_of(T::RECORD_KIND)
        .filter(|d| !d.archived)
    {
        let name = format!("cf.{}", def.key);
        let posted = f.all(&name);
        // Unticked checkboxes send nothing: on edit, a boolean or multi-select is always
        // shown, so its absence means "none"; any other absent input is left as it is.
        let always_sent = matches!(
            def.field_type,
            CustomFieldType::Boolean | CustomFieldType::MultiSelect
        );
        if editing && posted.is_empty() && !always_sent {
            continue;
        }
        match custom_fields::value_of(def, &posted) {
            Ok(Value::Null) if !editing => {}
            Ok(value) => {
                custom.insert(def.key.clone(), value);
            }
            Err(code) => errors.add(&name, crate::pages::field_text(v.tr, &name, code)),
        }
    }
    if !custom.is_empty() {
        body.insert("custom".into(), Value::Object(custom));
    }
    if f.get("allow_duplicate") == "true" {
        body.insert("allow_duplicate".into(), Value::Bool(true));
    }
    if let Ok(version) = f.text("version").parse::<i64>() {
        body.insert("version".into(), Value::from(version));
    }
    if errors.is_empty() {
        Ok(Value::Object(body))
    } else {
        Err(errors)
    }
}

/// The input an operation's error belongs beside: `custom.x` is the input `cf.x`; a field the
/// form does not show is the form's.
fn error_at<T: Editable>(v: &Viewer, field: &str) -> String {
    if let Some(k) = field.strip_prefix("custom.") {
        return format!("cf.{k}");
    }
    let shown = T::SPECS.iter().any(|s| s.key == field)
        || v.ctx
            .dir
            .custom_fields_of(T::RECORD_KIND)
            .any(|d| d.key == field);
    if shown {
        field.to_string()
    } else {
        "form".to_string()
    }
}

/// Runs the posted form: the record's id, or the errors to show beside the inputs.
async fn save<T: Editable>(
    s: &AppState,
    v: &Viewer,
    f: &FormData,
    id: Option<i64>,
) -> Result<i64, (Errors, Option<AppError>)> {
    let body = body_of::<T>(v, f, id.is_some()).map_err(|e| (e, None))?;
    let input: T::Input = match serde_path_to_error::deserialize(body) {
        Ok(input) => input,
        Err(e) => {
            let mut errors = Errors::default();
            let field = e.path().to_string();
            let at = error_at::<T>(v, field.split('.').next().unwrap_or(""));
            errors.add(at, crate::pages::field_text(v.tr, &field, "unknown_choice"));
            return Err((errors, None));
        }
    };
    let result = match id {
        None => ops::create::<T>(&s.db, &v.ctx, input, None)
            .await
            .map(|c| c.record.id()),
        Some(id) => ops::update::<T>(&s.db, &v.ctx, id, input).await.map(|_| id),
    };
    result.map_err(|e| {
        let mut errors = Errors::default();
        if shown_in_form(&e) {
            let (field, text) = err_text(v.tr, &e);
            errors.add(error_at::<T>(v, &field), text);
        }
        (errors, Some(e))
    })
}

#[allow(clippy::too_many_arguments)]
async fn form_page<T: Editable>(
    s: &AppState,
    v: &Viewer,
    record: Option<&T>,
    values: &(dyn Fn(&str) -> Option<Value> + Sync),
    errors: &Errors,
    version: Option<i64>,
    query_back: Option<String>,
) -> Result<FormPage, AppError> {
    let tr = v.tr;
    let (title, action, back, archive_action, archived) = match record {
        Some(r) => {
            let page = format!("/{}/{}", T::path(), r.id());
            (
                format!(
                    "{}{}{}",
                    tr.t(T::EDIT_TITLE),
                    tr.t("records.sep"),
                    r.title()
                ),
                format!("{page}/edit"),
                page.clone(),
                Some(format!("{page}/archive")),
                r.is_archived(),
            )
        }
        None => (
            tr.t(T::NEW_TITLE).to_string(),
            format!("/{}/new", T::path()),
            query_back.unwrap_or_else(|| format!("/{}", T::path())),
            None,
            false,
        ),
    };
    Ok(FormPage {
        tr,
        csrf: v.csrf.clone(),
        here: action.clone(),
        nav: v.nav(T::path()),
        title,
        action,
        back,
        list_label: tr.t(&format!("nav.{}", T::path())).to_string(),
        list_href: format!("/{}", T::path()),
        version,
        fields: boxes::<T>(s, v, values, errors).await?,
        form_error: errors.get("form").map(str::to_string),
        archived,
        archive_action,
        duplicates: vec![],
        duplicate_blocked: false,
    })
}

/// The record as JSON, read by input name (`cf.<key>` from its custom values).
fn record_values<T: Editable>(record: &T) -> impl Fn(&str) -> Option<Value> + Sync {
    let json = serde_json::to_value(record).unwrap_or_default();
    move |name: &str| match name.strip_prefix("cf.") {
        Some(k) => json.get("custom").and_then(|c| c.get(k)).cloned(),
        None => json.get(name).cloned(),
    }
}

/// What was posted, read by input name (every value of a multi-select, one per line).
fn posted_values(f: &FormData) -> impl Fn(&str) -> Option<Value> + Sync + '_ {
    move |name: &str| {
        let all = f.all(name);
        match all.len() {
            0 => None,
            1 => Some(Value::from(all[0])),
            _ => Some(Value::from(all.join("\n"))),
        }
    }
}

#[derive(serde::Deserialize)]
pub(super) struct NewQuery {
    account_id: Option<i64>,
}

pub(super) async fn new_page<T: Editable>(
    State(s): State<AppState>,
    v: Viewer,
    Query(q): Query<NewQuery>,
) -> Response {
    let here = format!("/{}/new", T::path());
    // A contact added from an account page starts on that account.
    let preset = q.account_id;
    // A new record is the user's own unless they choose another owner.
    let me = v.user.id;
    let values = move |name: &str| match (name, preset) {
        ("account_id", Some(a)) => Some(Value::from(a)),
        ("owner_id", _) => Some(Value::from(me)),
        _ => None,
    };
    let back = preset.map(|a| format!("/accounts/{a}"));
    match form_page::<T>(&s, &v, None, &values, &Errors::default(), None, back).await {
        Ok(p) => render(p),
        Err(e) => v.error(&here, e),
    }
}

pub(super) async fn create_submit<T: Editable>(
    State(s): State<AppState>,
    v: Viewer,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let here = format!("/{}/new", T::path());
    let f = match v.posted(form, &here) {
        Ok(f) => f,
        Err(page) => return page,
    };
    match save::<T>(&s, &v, &f, None).await {
        Ok(id) => Redirect::to(&format!("/{}/{id}", T::path())).into_response(),
        // An error no input can show ends on the error page.
        Err((errors, Some(e))) if errors.is_empty() => v.error(&here, e),
        Err((errors, e)) => {
            let values = posted_values(&f);
            match form_page::<T>(&s, &v, None, &values, &errors, None, None).await {
                Ok(mut p) => {
                    let status =
                        with_duplicates(v.tr, &mut p, &e, StatusCode::UNPROCESSABLE_ENTITY);
                    (status, render(p)).into_response()
                }
                Err(e) => v.error(&here, e),
            }
        }
    }
}

pub(super) async fn edit_page<T: Editable>(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
) -> Response {
    let here = format!("/{}/{id}/edit", T::path());
    let record = match ops::records::for_update::<T>(&s.db, &v.ctx, id).await {
        Ok(r) => r,
        Err(e) => return v.error(&here, e),
    };
    let values = record_values(&record);
    let version = Some(record.version());
    match form_page::<T>(
        &s,
        &v,
        Some(&record),
        &values,
        &Errors::default(),
        version,
        None,
    )
    .await
    {
        Ok(p) => render(p),
        Err(e) => v.error(&here, e),
    }
}

pub(super) async fn edit_submit<T: Editable>(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let here = format!("/{}/{id}/edit", T::path());
    let f = match v.posted(form, &here) {
        Ok(f) => f,
        Err(page) => return page,
    };
    match save::<T>(&s, &v, &f, Some(id)).await {
        Ok(id) => Redirect::to(&format!("/{}/{id}", T::path())).into_response(),
        Err((errors, Some(e))) if errors.is_empty() => v.error(&here, e),
        Err((mut errors, e)) => {
            let record = match ops::records::for_update::<T>(&s.db, &v.ctx, id).await {
                Ok(r) => r,
                Err(e) => return v.error(&here, e),
            };
            // A conflict: what is stored now, to compare with what was typed (kept in the
            // inputs), and the current version so that saving again overwrites knowingly.
            let conflict = matches!(e, Some(AppError::Conflict { .. }));
            if conflict {
                errors = Errors::default();
                errors.add("form", v.tr.t("form.conflict"));
            }
            let values = posted_values(&f);
            let version = Some(record.version());
            match form_page::<T>(&s, &v, Some(&record), &values, &errors, version, None).await {
                Ok(mut p) => {
                    let status = if conflict {
                        StatusCode::CONFLICT
                    } else {
                        StatusCode::UNPROCESSABLE_ENTITY
                    };
                    let status = with_duplicates(v.tr, &mut p, &e, status);
                    (status, render(p)).into_response()
                }
                Err(e) => v.error(&here, e),
            }
        }
    }
}

/// Archives the record, or restores it (`restore=1`); back to its page.
pub(super) async fn archive_submit<T: Editable>(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let here = format!("/{}/{id}", T::path());
    let f = match v.posted(form, &here) {
        Ok(f) => f,
        Err(page) => return page,
    };
    let mut body = Map::new();
    body.insert("archived".into(), Value::Bool(f.get("restore") != "1"));
    let input: T::Input = match serde_json::from_value(Value::Object(body)) {
        Ok(i) => i,
        Err(e) => return v.error(&here, AppError::Internal(e.to_string())),
    };
    match ops::update::<T>(&s.db, &v.ctx, id, input).await {
        Ok(_) => Redirect::to(&here).into_response(),
        Err(e) => v.error(&here, e),
    }
}
