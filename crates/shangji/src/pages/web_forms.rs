//! Web-to-lead forms: the public page a visitor fills in (`/f/{slug}`, also inside the frame
//! the embed snippet makes), the snippet's script, and the admin pages that define a form,
//! show its snippet, inbound address and secret, and its submission log. Each handler calls
//! one `ops::web_forms` function.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use shangji_core::model::{Language, Source, Team, User};
use shangji_core::web_forms::{
    self as wf, AntiSpam, FormField, FormInput, FormTarget, Refusal, Submission, SubmissionVia,
    WebForm, WebFormInput, HONEYPOT, UTM_KEYS,
};

use super::opportunity::source_label;
use super::{error_text, field_text, render, Choice, Errors, FormData, Nav, Viewer};
use crate::error::AppError;
use crate::i18n::Tr;
use crate::ops::web_forms::{self, Incoming, Outcome, WithSecret};
use crate::state::AppState;

const LIST: &str = "/admin/web-forms";
/// Blank field rows offered under a form's fields.
const SPARE_ROWS: usize = 2;

fn target_label(tr: Tr, t: FormTarget) -> &'static str {
    tr.t(match t {
        FormTarget::ContactName => "webform.target.contact_name",
        FormTarget::CompanyName => "webform.target.company_name",
        FormTarget::Mobile => "webform.target.mobile",
        FormTarget::Email => "webform.target.email",
        FormTarget::Wechat => "webform.target.wechat",
        FormTarget::Title => "webform.target.title",
        FormTarget::Region => "webform.target.region",
        FormTarget::Industry => "webform.target.industry",
        FormTarget::Notes => "webform.target.notes",
        FormTarget::Custom => "webform.target.custom",
    })
}

fn refusal_label(tr: Tr, r: Refusal) -> String {
    tr.t(&format!("webform.refusal.{}", r.as_str())).to_string()
}

// ---------------------------------------------------------------- the public page

/// One input of the public page.
struct PublicField {
    name: String,
    label: String,
    input: &'static str,
    required: bool,
    value: String,
    options: Vec<String>,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "web_form_public.html")]
struct PublicPage {
    tr: Tr,
    form_heading: String,
    intro: String,
    action: String,
    token: String,
    honeypot: &'static str,
    fields: Vec<PublicField>,
    /// UTM parameters and the referrer, carried as hidden inputs.
    carried: Vec<(String, String)>,
    form_error: Option<String>,
    /// After sending: the thank-you text instead of the form.
    thanks: Option<String>,
}

fn input_kind(i: FormInput) -> &'static str {
    match i {
        FormInput::Text => "text",
        FormInput::Email => "email",
        FormInput::Tel => "tel",
        FormInput::Textarea => "textarea",
        FormInput::Select => "select",
    }
}

fn public_page(
    form: &WebForm,
    now: time::OffsetDateTime,
    values: &BTreeMap<String, String>,
    errors: &[shangji_core::error::FieldError],
) -> PublicPage {
    let tr = Tr::new(form.language);
    let fields = form
        .fields
        .iter()
        .map(|f| PublicField {
            name: f.name.clone(),
            label: f.label(form.language).to_string(),
            input: input_kind(f.input),
            required: f.required,
            value: values.get(&f.name).cloned().unwrap_or_default(),
            options: f.options.clone(),
            error: errors
                .iter()
                .find(|e| e.field == f.name)
                .map(|e| field_text(tr, &e.field, &e.code)),
        })
        .collect();
    let form_error = errors
        .iter()
        .find(|e| !form.fields.iter().any(|f| f.name == e.field))
        .map(|e| field_text(tr, &e.field, &e.code));
    PublicPage {
        tr,
        form_heading: if form.heading.is_empty() {
            form.name.clone()
        } else {
            form.heading.clone()
        },
        intro: form.intro.clone(),
        action: format!("/f/{}", form.slug),
        token: web_forms::render_token(form, now),
        honeypot: HONEYPOT,
        fields,
        carried: wf::utm_of(values).into_iter().collect(),
        form_error,
        thanks: None,
    }
}

/// Public pages may be framed by any site (that is what the embed snippet does).
fn frameable(page: Response) -> Response {
    let mut page = page;
    let h = page.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(crate::headers::CSP_FRAMEABLE),
    );
    // Browsers that know CSP ignore this; the others must not be told DENY.
    h.insert(
        header::X_FRAME_OPTIONS,
        HeaderValue::from_static("ALLOWALL"),
    );
    page
}

async fn closed(form_lang: Language) -> Response {
    let tr = Tr::new(form_lang);
    (
        StatusCode::NOT_FOUND,
        render(super::ErrorPage {
            tr,
            csrf: String::new(),
            here: "/".into(),
            message: "webform.closed",
        }),
    )
        .into_response()
}

async fn show(
    State(s): State<AppState>,
    Path(slug): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    match web_forms::public_form(&s.db, &slug).await {
        Ok(Some(form)) => {
            let mut carried = q;
            if !carried.contains_key("referrer") {
                if let Some(r) = headers.get(header::REFERER).and_then(|v| v.to_str().ok()) {
                    carried.insert("referrer".into(), r.to_string());
                }
            }
            let carried = wf::utm_of(&carried);
            frameable(render(public_page(&form, s.now(), &carried, &[])))
        }
        Ok(None) => closed(crate::i18n::choose(None, &headers)).await,
        Err(e) => e.into_response(),
    }
}

async fn submit(
    State(s): State<AppState>,
    Path(slug): Path<String>,
    req: axum::extract::Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let lang = crate::i18n::choose(None, &parts.headers);
    let Ok(raw) = axum::body::to_bytes(body, wf::MAX_SUBMISSION_BYTES * 4).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "").into_response();
    };
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&raw).unwrap_or_default();
    let mut values = BTreeMap::new();
    for (k, v) in pairs {
        values.entry(k).or_insert(v);
    }
    let incoming = Incoming {
        via: SubmissionVia::Form,
        address: crate::auth::client_addr(&parts),
        token: values.remove("_t"),
        values: values.clone(),
        secret: None,
        bytes: raw.len(),
    };
    let now = s.now();
    let (form, outcome) = match web_forms::submit(&s.db, now, &slug, incoming).await {
        Ok(done) => done,
        Err(AppError::NotFound) => return closed(lang).await,
        Err(e) => return e.into_response(),
    };
    let tr = Tr::new(form.language);
    let page = match outcome {
        Outcome::Accepted { .. } => {
            let mut page = public_page(&form, now, &BTreeMap::new(), &[]);
            page.thanks = Some(if form.thank_you.is_empty() {
                tr.t("webform.thanks_default").to_string()
            } else {
                form.thank_you.clone()
            });
            render(page)
        }
        Outcome::Invalid(errors) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            render(public_page(&form, now, &values, &errors)),
        )
            .into_response(),
        Outcome::RateLimited => {
            let mut page = public_page(&form, now, &values, &[]);
            page.form_error = Some(tr.t("webform.rate_limited").to_string());
            (StatusCode::TOO_MANY_REQUESTS, render(page)).into_response()
        }
        Outcome::Closed => return closed(form.language).await,
    };
    frameable(page)
}

/// The embed snippet's script: puts the form in a frame where the script tag stands, with
/// the page's UTM parameters and address, and lets the frame grow to its content.
async fn embed_js(
    State(s): State<AppState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
) -> Response {
    let base = origin(&headers);
    let slug = match web_forms::public_form(&s.db, &slug).await {
        Ok(Some(f)) => f.slug,
        _ => return (StatusCode::NOT_FOUND, "").into_response(),
    };
    let js = include_str!("../../static/web-form-embed.js")
        .replace(
            "__FORM_URL__",
            &super::script_json(&format!("{base}/f/{slug}")),
        )
        .replace(
            "__UTM_KEYS__",
            &serde_json::to_string(&UTM_KEYS).unwrap_or_default(),
        );
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        js,
    )
        .into_response()
}

/// This server's address as the browser reached it (the scheme a trusted proxy forwarded;
/// `client::identify` removes the header from anyone else).
fn origin(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    let proto = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("http");
    format!("{proto}://{host}")
}

// ---------------------------------------------------------------- admin

struct FormRow {
    name: String,
    heading: String,
    href: String,
    public_href: String,
    state: &'static str,
    accepted: u32,
    refused: u32,
}

#[derive(Template)]
#[template(path = "admin_web_forms.html")]
struct ListPage {
    tr: Tr,
    csrf: String,
    here: String,
    nav: Nav,
    tab: &'static str,
    rows: Vec<FormRow>,
}

async fn list(State(s): State<AppState>, v: Viewer) -> Response {
    match web_forms::list(&s.db, &v.ctx).await {
        Ok(forms) => render(ListPage {
            tr: v.tr,
            csrf: v.csrf.clone(),
            here: LIST.into(),
            nav: v.nav("settings"),
            tab: "web_forms",
            rows: forms
                .into_iter()
                .map(|f| FormRow {
                    href: format!("{LIST}/{}", f.form.id),
                    public_href: format!("/f/{}", f.form.slug),
                    state: if f.form.archived {
                        "webform.state.archived"
                    } else if f.form.enabled {
                        "webform.state.on"
                    } else {
                        "webform.state.off"
                    },
                    name: f.form.name,
                    heading: f.form.heading,
                    accepted: f.accepted,
                    refused: f.refused,
                })
                .collect(),
        }),
        Err(e) => v.error(LIST, e),
    }
}

/// A field row of the edit page.
struct FieldRow {
    i: usize,
    label_zh: String,
    label_en: String,
    name: String,
    targets: Vec<Choice>,
    inputs: Vec<Choice>,
    required: bool,
    options: String,
    error: Option<String>,
}

struct LogRow {
    at: String,
    via: &'static str,
    accepted: bool,
    why: String,
    address: String,
    lead_href: Option<String>,
    summary: String,
}

#[derive(Template)]
#[template(path = "admin_web_form.html")]
struct EditPage {
    tr: Tr,
    csrf: String,
    here: String,
    nav: Nav,
    tab: &'static str,
    title: String,
    action: String,
    /// Stored forms only.
    id: Option<i64>,
    version: Option<i64>,
    archived: bool,
    name: String,
    slug: String,
    enabled: bool,
    form_heading: String,
    intro: String,
    thank_you: String,
    languages: Vec<Choice>,
    sources: Vec<Choice>,
    owners: Vec<Choice>,
    teams: Vec<Choice>,
    min_fill_seconds: String,
    per_address_per_hour: String,
    per_form_per_minute: String,
    rows: Vec<FieldRow>,
    errors: Errors,
    form_error: Option<String>,
    /// The secret, right after it was made.
    secret: Option<String>,
    public_url: String,
    iframe_snippet: String,
    script_snippet: String,
    inbound_url: String,
    log: Vec<LogRow>,
}

fn default_fields() -> Vec<FormField> {
    let f = |zh: &str, en: &str, target, required, input| FormField {
        name: String::new(),
        label_zh: zh.into(),
        label_en: en.into(),
        target,
        custom_key: None,
        required,
        input,
        options: vec![],
    };
    vec![
        f(
            "姓名",
            "Name",
            FormTarget::ContactName,
            true,
            FormInput::Text,
        ),
        f(
            "公司",
            "Company",
            FormTarget::CompanyName,
            false,
            FormInput::Text,
        ),
        f("手机", "Mobile", FormTarget::Mobile, true, FormInput::Tel),
        f("邮箱", "Email", FormTarget::Email, false, FormInput::Email),
        f(
            "需求",
            "What you need",
            FormTarget::Notes,
            false,
            FormInput::Textarea,
        ),
    ]
}

fn blank_input() -> WebFormInput {
    WebFormInput {
        name: String::new(),
        slug: None,
        enabled: true,
        heading: String::new(),
        intro: String::new(),
        thank_you: String::new(),
        language: Language::ZhCn,
        source: Source::Website,
        fields: default_fields(),
        owner_id: None,
        team_id: None,
        anti_spam: AntiSpam::default(),
        version: None,
    }
}

struct Context<'a> {
    users: &'a [User],
    teams: &'a [Team],
    custom: Vec<(String, String)>,
}

async fn context_of(s: &AppState) -> Result<(Vec<User>, Vec<Team>), AppError> {
    Ok((s.db.users().await?, s.db.teams().await?))
}

fn target_value(f: &FormField) -> String {
    match (&f.target, &f.custom_key) {
        (FormTarget::Custom, Some(k)) => format!("custom:{k}"),
        (t, _) => t.as_str().to_string(),
    }
}

#[allow(clippy::too_many_arguments)]
fn edit_page(
    v: &Viewer,
    c: &Context<'_>,
    stored: Option<&WebForm>,
    input: &WebFormInput,
    errors: Errors,
    form_error: Option<String>,
    secret: Option<String>,
    log: &[Submission],
    origin: &str,
) -> EditPage {
    let tr = v.tr;
    let mut fields = input.fields.clone();
    fields.extend((0..SPARE_ROWS).map(|_| FormField {
        name: String::new(),
        label_zh: String::new(),
        label_en: String::new(),
        target: FormTarget::Notes,
        custom_key: None,
        required: false,
        input: FormInput::Text,
        options: vec![],
    }));
    let spare_from = input.fields.len();
    let rows = fields
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let chosen = if i >= spare_from {
                String::new()
            } else {
                target_value(f)
            };
            let mut targets = vec![Choice::new(
                "",
                tr.t("webform.target.none"),
                chosen.is_empty(),
            )];
            targets.extend(
                FormTarget::ALL
                    .iter()
                    .filter(|t| **t != FormTarget::Custom)
                    .map(|t| Choice::new(t.as_str(), target_label(tr, *t), chosen == t.as_str())),
            );
            targets.extend(c.custom.iter().map(|(k, label)| {
                let value = format!("custom:{k}");
                let checked = chosen == value;
                Choice::new(value, label.clone(), checked)
            }));
            let inputs = FormInput::ALL
                .iter()
                .map(|k| {
                    Choice::new(
                        k.as_str(),
                        tr.t(&format!("webform.input.{}", k.as_str())),
                        *k == f.input,
                    )
                })
                .collect();
            let prefix = format!("fields[{i}]");
            FieldRow {
                i,
                label_zh: f.label_zh.clone(),
                label_en: f.label_en.clone(),
                name: if i >= spare_from {
                    String::new()
                } else {
                    f.name.clone()
                },
                targets,
                inputs,
                required: f.required,
                options: f.options.join("\n"),
                error: errors
                    .0
                    .iter()
                    .find(|(k, _)| k.starts_with(&prefix))
                    .map(|(_, t)| t.clone()),
            }
        })
        .collect();
    let slug = stored
        .map(|f| f.slug.clone())
        .or(input.slug.clone())
        .unwrap_or_default();
    let public_url = format!("{origin}/f/{slug}");
    let users: Vec<&User> = c.users.iter().filter(|u| u.active).collect();
    let mut owners = vec![Choice::new(
        "",
        tr.t("webform.owner.none"),
        input.owner_id.is_none(),
    )];
    owners.extend(users.iter().map(|u| {
        Choice::new(
            u.id.to_string(),
            u.display_name.clone(),
            input.owner_id == Some(u.id),
        )
    }));
    let mut teams = vec![Choice::new(
        "",
        tr.t("webform.team.none"),
        input.team_id.is_none(),
    )];
    teams.extend(c.teams.iter().map(|t| {
        Choice::new(
            t.id.to_string(),
            t.name.clone(),
            input.team_id == Some(t.id),
        )
    }));
    EditPage {
        tr,
        csrf: v.csrf.clone(),
        here: stored.map_or_else(|| format!("{LIST}/new"), |f| format!("{LIST}/{}", f.id)),
        nav: v.nav("settings"),
        tab: "web_forms",
        title: stored.map_or_else(|| tr.t("webform.new").to_string(), |f| f.name.clone()),
        action: stored.map_or_else(|| format!("{LIST}/new"), |f| format!("{LIST}/{}", f.id)),
        id: stored.map(|f| f.id),
        version: stored.map(|f| f.version),
        archived: stored.is_some_and(|f| f.archived),
        name: input.name.clone(),
        slug: slug.clone(),
        enabled: input.enabled,
        form_heading: input.heading.clone(),
        intro: input.intro.clone(),
        thank_you: input.thank_you.clone(),
        languages: [Language::ZhCn, Language::En]
            .iter()
            .map(|l| {
                Choice::new(
                    l.as_str(),
                    if *l == Language::ZhCn { "中文" } else { "English" },
                    *l == input.language,
                )
            })
            .collect(),
        sources: Source::ALL
            .iter()
            .map(|x| Choice::new(x.as_str(), source_label(tr, *x), *x == input.source))
            .collect(),
        owners,
        teams,
        min_fill_seconds: input.anti_spam.min_fill_seconds.to_string(),
        per_address_per_hour: input.anti_spam.per_address_per_hour.to_string(),
        per_form_per_minute: input.anti_spam.per_form_per_minute.to_string(),
        rows,
        errors,
        form_error,
        secret,
        iframe_snippet: format!(
            "<iframe src=\"{public_url}\" style=\"width:100%;min-height:640px;border:0\" title=\"{}\"></iframe>",
            input.name
        ),
        script_snippet: format!("<script src=\"{public_url}/embed.js\" async></script>"),
        inbound_url: format!("{origin}/api/v1/inbound/forms/{slug}"),
        public_url,
        log: log
            .iter()
            .map(|l| LogRow {
                at: tr.datetime(l.at),
                via: if l.via == SubmissionVia::Inbound {
                    "webform.via.inbound"
                } else {
                    "webform.via.form"
                },
                accepted: l.refusal.is_none(),
                why: l.refusal.map(|r| refusal_label(tr, r)).unwrap_or_default(),
                address: l.address.clone(),
                lead_href: l.lead_id.map(|id| format!("/leads/{id}")),
                summary: l
                    .values
                    .iter()
                    .filter(|(k, _)| k.as_str() != HONEYPOT)
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(" · ")
                    .chars()
                    .take(160)
                    .collect(),
            })
            .collect(),
    }
}

fn custom_choices(v: &Viewer) -> Vec<(String, String)> {
    let allowed: Vec<String> = web_forms::custom_keys(&v.ctx);
    v.ctx
        .dir
        .custom_fields
        .iter()
        .filter(|d| {
            allowed.contains(&d.key) && d.record_kind == shangji_core::model::RecordKind::Lead
        })
        .map(|d| (d.key.clone(), super::custom_fields::label(v.tr, d)))
        .collect()
}

/// The input an admin posted; rows without a label and a target are left out.
fn posted_input(form: &FormData) -> WebFormInput {
    let number = |name: &str, default: u32| form.text(name).parse().unwrap_or(default);
    let mut fields = Vec::new();
    for i in 0..wf::MAX_FIELDS + SPARE_ROWS {
        let at = |n: &str| format!("f{i}_{n}");
        let target = form.text(&at("target"));
        let label_zh = form.text(&at("label_zh"));
        if target.is_empty() && label_zh.is_empty() {
            continue;
        }
        let (target, custom_key) = match target.strip_prefix("custom:") {
            Some(k) => (FormTarget::Custom, Some(k.to_string())),
            None => (target.parse().unwrap_or(FormTarget::Notes), None),
        };
        fields.push(FormField {
            name: form.text(&at("name")),
            label_zh,
            label_en: form.text(&at("label_en")),
            target,
            custom_key,
            required: form.has(&at("required"), "true"),
            input: form.text(&at("input")).parse().unwrap_or(FormInput::Text),
            options: form
                .get(&at("options"))
                .lines()
                .map(str::to_string)
                .collect(),
        });
    }
    let defaults = AntiSpam::default();
    WebFormInput {
        name: form.text("name"),
        slug: Some(form.text("slug")).filter(|s| !s.is_empty()),
        enabled: form.has("enabled", "true"),
        heading: form.text("heading"),
        intro: form.text("intro"),
        thank_you: form.text("thank_you"),
        language: form.text("language").parse().unwrap_or(Language::ZhCn),
        source: form.text("source").parse().unwrap_or(Source::Website),
        fields,
        owner_id: form.text("owner_id").parse().ok(),
        team_id: form.text("team_id").parse().ok(),
        anti_spam: AntiSpam {
            min_fill_seconds: number("min_fill_seconds", defaults.min_fill_seconds),
            per_address_per_hour: number("per_address_per_hour", defaults.per_address_per_hour),
            per_form_per_minute: number("per_form_per_minute", defaults.per_form_per_minute),
        },
        version: form.text("version").parse().ok(),
    }
}

/// The errors of a refused save: each beside its field or row, the rest above the form.
fn errors_of(tr: Tr, e: &AppError) -> (Errors, Option<String>) {
    let mut errors = Errors::default();
    let list = match e {
        AppError::InvalidMany(list) => list.clone(),
        AppError::Invalid(one) => vec![one.clone()],
        other => return (errors, Some(error_text(tr, other).1)),
    };
    let mut general = Vec::new();
    for f in list {
        let text = field_text(tr, &f.field, &f.code);
        if f.field.is_empty() || f.field == "fields" {
            general.push(text);
        } else {
            errors.add(f.field.clone(), text);
        }
    }
    (errors, (!general.is_empty()).then(|| general.join("; ")))
}

async fn show_edit(
    s: &AppState,
    v: &Viewer,
    id: Option<i64>,
    input: Option<WebFormInput>,
    failed: Option<AppError>,
    secret: Option<String>,
    headers: &HeaderMap,
) -> Response {
    let here = id.map_or_else(|| format!("{LIST}/new"), |id| format!("{LIST}/{id}"));
    let stored = match id {
        Some(id) => match web_forms::get(&s.db, &v.ctx, id).await {
            Ok(f) => Some(f),
            Err(e) => return v.error(&here, e),
        },
        None => {
            if let Err(e) = v.ctx.require_admin() {
                return v.error(&here, e);
            }
            None
        }
    };
    let log = match id {
        Some(id) => web_forms::submissions(&s.db, &v.ctx, id)
            .await
            .unwrap_or_default(),
        None => vec![],
    };
    let (users, teams) = match context_of(s).await {
        Ok(x) => x,
        Err(e) => return v.error(&here, e),
    };
    let c = Context {
        users: &users,
        teams: &teams,
        custom: custom_choices(v),
    };
    let input =
        input.unwrap_or_else(|| stored.as_ref().map_or_else(blank_input, WebForm::to_input));
    let (errors, form_error) = failed
        .as_ref()
        .map(|e| errors_of(v.tr, e))
        .unwrap_or_default();
    let status = if failed.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = edit_page(
        v,
        &c,
        stored.as_ref(),
        &input,
        errors,
        form_error,
        secret,
        &log,
        &origin(headers),
    );
    (status, render(page)).into_response()
}

async fn new_page(State(s): State<AppState>, v: Viewer, headers: HeaderMap) -> Response {
    show_edit(&s, &v, None, None, None, None, &headers).await
}

async fn edit(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    headers: HeaderMap,
) -> Response {
    show_edit(&s, &v, Some(id), None, None, None, &headers).await
}

async fn create(
    State(s): State<AppState>,
    v: Viewer,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let here = format!("{LIST}/new");
    let form = match v.posted(form, &here) {
        Ok(f) => f,
        Err(page) => return page,
    };
    let input = posted_input(&form);
    match web_forms::create(&s.db, &v.ctx, input.clone()).await {
        Ok(WithSecret { form, secret }) => {
            show_edit(&s, &v, Some(form.id), None, None, Some(secret), &headers).await
        }
        Err(e) if super::shown_in_form(&e) => {
            show_edit(&s, &v, None, Some(input), Some(e), None, &headers).await
        }
        Err(e) => v.error(&here, e),
    }
}

async fn save(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let here = format!("{LIST}/{id}");
    let form = match v.posted(form, &here) {
        Ok(f) => f,
        Err(page) => return page,
    };
    let input = posted_input(&form);
    match web_forms::update(&s.db, &v.ctx, id, input.clone()).await {
        Ok(_) => Redirect::to(&here).into_response(),
        Err(e) if super::shown_in_form(&e) => {
            show_edit(&s, &v, Some(id), Some(input), Some(e), None, &headers).await
        }
        Err(e) => v.error(&here, e),
    }
}

async fn archive(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let here = format!("{LIST}/{id}");
    let form = match v.posted(form, &here) {
        Ok(f) => f,
        Err(page) => return page,
    };
    let restore = form.get("restore") == "1";
    match web_forms::set_archived(&s.db, &v.ctx, id, !restore).await {
        Ok(_) => Redirect::to(&here).into_response(),
        Err(e) => v.error(&here, e),
    }
}

async fn rotate(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let here = format!("{LIST}/{id}");
    if let Err(page) = v.posted(form, &here) {
        return page;
    }
    match web_forms::rotate_secret(&s.db, &v.ctx, id).await {
        Ok(WithSecret { secret, .. }) => {
            show_edit(&s, &v, Some(id), None, None, Some(secret), &headers).await
        }
        Err(e) => v.error(&here, e),
    }
}

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/f/{slug}", get(show).post(submit))
        .route("/f/{slug}/embed.js", get(embed_js))
        .route(LIST, get(list))
        .route("/admin/web-forms/new", get(new_page).post(create))
        .route("/admin/web-forms/{id}", get(edit).post(save))
        .route("/admin/web-forms/{id}/archive", post(archive))
        .route("/admin/web-forms/{id}/secret", post(rotate))
}
