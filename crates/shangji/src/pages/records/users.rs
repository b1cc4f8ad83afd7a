//! Settings: the users (the list, creating one, one user's form).

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use shangji_core::model::*;
use shangji_core::records::UserInput;
use shangji_core::Field;

use crate::error::AppError;
use crate::i18n::Tr;
use crate::ops;
use crate::pages::{render, role_key, shown_in_form, Choice, Errors, FormData, Nav, Viewer};
use crate::state::AppState;

use super::{date_of, err_text, NoticeQuery};

struct UserRow {
    id: i64,
    login: String,
    name: String,
    role: &'static str,
    team: String,
    active: bool,
    language: String,
}

#[derive(Template)]
#[template(path = "records_users.html")]
struct UsersPage {
    tr: Tr,
    csrf: String,
    here: String,
    nav: Nav,
    tab: &'static str,
    users: Vec<UserRow>,
    form: UserForm,
    errors: Errors,
    notice: Option<String>,
}

/// The user form as typed.
struct UserForm {
    id: i64,
    login: String,
    display_name: String,
    email: String,
    mobile: String,
    roles: Vec<Choice>,
    teams: Vec<Choice>,
    languages: Vec<Choice>,
    active: bool,
    leaves: String,
}

#[derive(Template)]
#[template(path = "records_user.html")]
struct UserPage {
    tr: Tr,
    csrf: String,
    here: String,
    nav: Nav,
    tab: &'static str,
    form: UserForm,
    errors: Errors,
    notice: Option<String>,
    /// The user's handovers: `(id, when, status)`.
    handovers: Vec<(i64, String, String)>,
    /// The viewer's own page: their password is changed on `/password`, with the current one.
    own: bool,
}

fn team_path(teams: &[Team], id: TeamId) -> String {
    let mut names = Vec::new();
    let mut at = Some(id);
    while let Some(t) = at.and_then(|i| teams.iter().find(|t| t.id == i)) {
        names.push(t.name.clone());
        at = t.parent_id;
        if names.len() > 20 {
            break;
        }
    }
    names.reverse();
    names.join(" › ")
}

fn role_choices(tr: Tr, current: &str) -> Vec<Choice> {
    Role::ALL
        .iter()
        .map(|r| Choice::new(r.as_str(), tr.t(role_key(*r)), r.as_str() == current))
        .collect()
}

pub(super) fn team_choices(
    tr: Tr,
    teams: &[Team],
    current: &str,
    skip: Option<TeamId>,
) -> Vec<Choice> {
    let mut v = vec![Choice::new("", tr.t("records.no_team"), current.is_empty())];
    let mut all: Vec<(String, &Team)> = teams
        .iter()
        .filter(|t| Some(t.id) != skip && (!t.archived || t.id.to_string() == current))
        .map(|t| (team_path(teams, t.id), t))
        .collect();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    v.extend(all.into_iter().map(|(path, t)| {
        let id = t.id.to_string();
        let checked = id == current;
        Choice::new(id, path, checked)
    }));
    v
}

fn language_choices(tr: Tr, current: &str) -> Vec<Choice> {
    vec![
        Choice::new("", tr.t("records.lang_browser"), current.is_empty()),
        Choice::new("zh-CN", "中文", current == "zh-CN"),
        Choice::new("en", "English", current == "en"),
    ]
}

fn user_form(tr: Tr, teams: &[Team], u: Option<&User>, f: Option<&FormData>) -> UserForm {
    let pick = |name: &str, stored: String| f.map_or(stored, |f| f.get(name).to_string());
    let role = pick("role", u.map_or("rep".into(), |u| u.role.as_str().into()));
    let team = pick(
        "team_id",
        u.and_then(|u| u.team_id)
            .map(|t| t.to_string())
            .unwrap_or_default(),
    );
    let lang = pick(
        "language",
        u.and_then(|u| u.language)
            .map(|l| l.as_str().to_string())
            .unwrap_or_default(),
    );
    UserForm {
        id: u.map_or(0, |u| u.id),
        login: pick("login", u.map(|u| u.login.clone()).unwrap_or_default()),
        display_name: pick(
            "display_name",
            u.map(|u| u.display_name.clone()).unwrap_or_default(),
        ),
        email: pick("email", u.and_then(|u| u.email.clone()).unwrap_or_default()),
        mobile: pick(
            "mobile",
            u.and_then(|u| u.mobile.clone()).unwrap_or_default(),
        ),
        roles: role_choices(tr, &role),
        teams: team_choices(tr, teams, &team, None),
        languages: language_choices(tr, &lang),
        active: f.map_or(u.is_none_or(|u| u.active), |f| f.has("active", "true")),
        leaves: pick(
            "leaves",
            u.map(|u| {
                u.leaves
                    .iter()
                    .map(|l| format!("{} {}", l.from, l.to))
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default(),
        ),
    }
}

/// The user body a form asks for, or the form's own errors.
fn user_input(tr: Tr, f: &FormData, creating: bool) -> Result<UserInput, Errors> {
    let mut errors = Errors::default();
    let text = |name: &str| {
        let v = f.text(name);
        if v.is_empty() {
            if creating {
                Field::Absent
            } else {
                Field::Null
            }
        } else {
            Field::Value(v)
        }
    };
    let role = match f.get("role").parse::<Role>() {
        Ok(r) => Field::Value(r),
        Err(_) => {
            errors.add("role", tr.t("err.unknown_choice"));
            Field::Absent
        }
    };
    let team_id = match f.text("team_id").as_str() {
        "" => Field::Null,
        t => match t.parse() {
            Ok(id) => Field::Value(id),
            Err(_) => {
                errors.add("team_id", tr.t("err.unknown_choice"));
                Field::Absent
            }
        },
    };
    let language = match f.text("language").as_str() {
        "" => Field::Null,
        l => match l.parse::<Language>() {
            Ok(l) => Field::Value(l),
            Err(_) => Field::Absent,
        },
    };
    let mut leaves = Vec::new();
    for line in f
        .get("leaves")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
    {
        let parts: Vec<&str> = line
            .split(|c: char| c.is_whitespace() || c == '~' || c == '～' || c == ',')
            .filter(|p| !p.is_empty())
            .collect();
        let dates: Vec<Option<time::Date>> =
            parts.iter().map(|p| date_of(p).ok().flatten()).collect();
        match dates.as_slice() {
            [Some(a), Some(b)] => leaves.push(Leave { from: *a, to: *b }),
            [Some(a)] => leaves.push(Leave { from: *a, to: *a }),
            _ => {
                errors.add("leaves", tr.t("records.err.leave_format"));
                break;
            }
        }
    }
    let input = UserInput {
        login: if creating {
            Field::Value(f.text("login"))
        } else {
            Field::Absent
        },
        display_name: text("display_name"),
        email: text("email"),
        mobile: text("mobile"),
        role,
        team_id,
        active: Field::Value(creating || f.has("active", "true")),
        leaves: Field::Value(leaves),
        language,
        password: if creating && !f.get("password").is_empty() {
            Field::Value(f.get("password").to_string())
        } else {
            Field::Absent
        },
        current_password: Field::Absent,
    };
    if errors.is_empty() {
        Ok(input)
    } else {
        Err(errors)
    }
}

fn place_user_error(tr: Tr, errors: &mut Errors, e: &AppError) {
    let (field, text) = err_text(tr, e);
    let base = field.split('[').next().unwrap_or(&field).to_string();
    let at = match base.as_str() {
        "login" | "display_name" | "email" | "mobile" | "role" | "team_id" | "leaves"
        | "password" | "language" => base,
        _ => "form".into(),
    };
    errors.add(at, text);
}

pub(super) async fn users_data(s: &AppState) -> Result<(Vec<User>, Vec<Team>), AppError> {
    Ok((s.db.users().await?, s.db.teams().await?))
}

fn user_rows(tr: Tr, users: &[User], teams: &[Team]) -> Vec<UserRow> {
    let mut rows: Vec<UserRow> = users
        .iter()
        .map(|u| UserRow {
            id: u.id,
            login: u.login.clone(),
            name: u.display_name.clone(),
            role: tr.t(role_key(u.role)),
            team: u.team_id.map(|t| team_path(teams, t)).unwrap_or_default(),
            active: u.active,
            language: u.language.map_or("", |l| l.as_str()).to_string(),
        })
        .collect();
    rows.sort_by(|a, b| (!a.active, &a.login).cmp(&(!b.active, &b.login)));
    rows
}

pub(super) async fn users_page(
    State(s): State<AppState>,
    v: Viewer,
    Query(q): Query<NoticeQuery>,
) -> Response {
    let here = "/admin/users";
    if let Err(e) = v.ctx.require_admin() {
        return v.error(here, e);
    }
    let (users, teams) = match users_data(&s).await {
        Ok(d) => d,
        Err(e) => return v.error(here, e),
    };
    render(UsersPage {
        tr: v.tr,
        csrf: v.csrf.clone(),
        here: here.into(),
        nav: v.nav("settings"),
        tab: "users",
        users: user_rows(v.tr, &users, &teams),
        form: user_form(v.tr, &teams, None, None),
        errors: Errors::default(),
        notice: q.saved.map(|_| v.tr.t("form.saved").to_string()),
    })
}

pub(super) async fn users_create(
    State(s): State<AppState>,
    v: Viewer,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let f = FormData(f);
    let here = "/admin/users";
    if let Err(e) = v.check_csrf(&f).and_then(|_| v.ctx.require_admin()) {
        return v.error(here, e);
    }
    let (result, mut errors) = match user_input(v.tr, &f, true) {
        Ok(input) => (
            ops::create_user(&s.db, Some(&v.ctx), input, v.ctx.now).await,
            Errors::default(),
        ),
        Err(errors) => (
            Err(AppError::invalid("", "invalid_value", "see the fields")),
            errors,
        ),
    };
    match result {
        Ok(u) => return Redirect::to(&format!("/admin/users/{}?saved=1", u.id)).into_response(),
        Err(e) if shown_in_form(&e) => {
            if errors.is_empty() {
                place_user_error(v.tr, &mut errors, &e);
            }
        }
        Err(e) => return v.error(here, e),
    }
    let (users, teams) = match users_data(&s).await {
        Ok(d) => d,
        Err(e) => return v.error(here, e),
    };
    let page = UsersPage {
        tr: v.tr,
        csrf: v.csrf.clone(),
        here: here.into(),
        nav: v.nav("settings"),
        tab: "users",
        users: user_rows(v.tr, &users, &teams),
        form: user_form(v.tr, &teams, None, Some(&f)),
        errors,
        notice: None,
    };
    (StatusCode::UNPROCESSABLE_ENTITY, render(page)).into_response()
}

pub(super) async fn user_page(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Query(q): Query<NoticeQuery>,
) -> Response {
    let here = format!("/admin/users/{id}");
    if let Err(e) = v.ctx.require_admin() {
        return v.error(&here, e);
    }
    let (users, teams) = match users_data(&s).await {
        Ok(d) => d,
        Err(e) => return v.error(&here, e),
    };
    let Some(u) = users.iter().find(|u| u.id == id) else {
        return v.error(&here, AppError::NotFound);
    };
    render(UserPage {
        tr: v.tr,
        csrf: v.csrf.clone(),
        nav: v.nav("settings"),
        here,
        tab: "users",
        form: user_form(v.tr, &teams, Some(u), None),
        errors: Errors::default(),
        notice: q.saved.map(|_| v.tr.t("form.saved").to_string()),
        handovers: super::super::handover::of_user(&s, &v, id).await,
        own: id == v.ctx.actor.user_id,
    })
}

pub(super) async fn user_save(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let f = FormData(f);
    let here = format!("/admin/users/{id}");
    if let Err(e) = v.check_csrf(&f).and_then(|_| v.ctx.require_admin()) {
        return v.error(&here, e);
    }
    let password = f.get("op") == "password";
    let (result, mut errors) = if password {
        (
            ops::set_password(&s.db, Some(&v.ctx), id, f.get("password"), v.ctx.now)
                .await
                .map(|_| ()),
            Errors::default(),
        )
    } else {
        match user_input(v.tr, &f, false) {
            Ok(input) => (
                ops::update_user(&s.db, &v.ctx, id, input).await.map(|_| ()),
                Errors::default(),
            ),
            Err(errors) => (
                Err(AppError::invalid("", "invalid_value", "see the fields")),
                errors,
            ),
        }
    };
    match result {
        Ok(()) => return Redirect::to(&format!("{here}?saved=1")).into_response(),
        Err(e) if shown_in_form(&e) => {
            if errors.is_empty() {
                place_user_error(v.tr, &mut errors, &e);
            }
        }
        Err(e) => return v.error(&here, e),
    }
    let (users, teams) = match users_data(&s).await {
        Ok(d) => d,
        Err(e) => return v.error(&here, e),
    };
    let Some(u) = users.iter().find(|u| u.id == id) else {
        return v.error(&here, AppError::NotFound);
    };
    let page = UserPage {
        tr: v.tr,
        csrf: v.csrf.clone(),
        nav: v.nav("settings"),
        here,
        tab: "users",
        form: user_form(v.tr, &teams, Some(u), (!password).then_some(&f)),
        errors,
        notice: None,
        handovers: super::super::handover::of_user(&s, &v, id).await,
        own: id == v.ctx.actor.user_id,
    };
    (StatusCode::UNPROCESSABLE_ENTITY, render(page)).into_response()
}
