//! Settings: the team tree (the list, creating a team, one team's form).

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use shangji_core::model::*;
use shangji_core::records::TeamInput;
use shangji_core::Field;

use crate::error::AppError;
use crate::i18n::Tr;
use crate::ops;
use crate::pages::{render, shown_in_form, Choice, Errors, FormData, Nav, Viewer};
use crate::state::AppState;

use super::users::{team_choices, users_data};
use super::{err_text, NoticeQuery};

struct TeamRow {
    id: i64,
    name: String,
    depth: usize,
    archived: bool,
    members: usize,
    regions: String,
}

#[derive(Template)]
#[template(path = "records_teams.html")]
struct TeamsPage {
    tr: Tr,
    csrf: String,
    here: String,
    nav: Nav,
    tab: &'static str,
    teams: Vec<TeamRow>,
    /// The team being edited, if any: (id, name, archived).
    editing: Option<(i64, String, bool)>,
    name: String,
    /// The pool regions, comma-separated as typed.
    regions: String,
    parents: Vec<Choice>,
    errors: Errors,
    notice: Option<String>,
}

fn team_rows(teams: &[Team], users: &[User]) -> Vec<TeamRow> {
    fn walk(
        teams: &[Team],
        users: &[User],
        parent: Option<TeamId>,
        depth: usize,
        out: &mut Vec<TeamRow>,
    ) {
        let mut kids: Vec<&Team> = teams.iter().filter(|t| t.parent_id == parent).collect();
        kids.sort_by(|a, b| a.name.cmp(&b.name));
        for t in kids {
            if out.iter().any(|r| r.id == t.id) || depth > 20 {
                continue;
            }
            out.push(TeamRow {
                id: t.id,
                name: t.name.clone(),
                depth,
                archived: t.archived,
                regions: t.regions.join("、"),
                members: users
                    .iter()
                    .filter(|u| u.team_id == Some(t.id) && u.active)
                    .count(),
            });
            walk(teams, users, Some(t.id), depth + 1, out);
        }
    }
    let mut out = Vec::new();
    walk(teams, users, None, 0, &mut out);
    out
}

async fn teams_view(
    s: &AppState,
    v: &Viewer,
    editing: Option<TeamId>,
    f: Option<&FormData>,
    errors: Errors,
    notice: Option<String>,
) -> Result<TeamsPage, AppError> {
    let (users, teams) = users_data(s).await?;
    let team = match editing {
        Some(id) => Some(
            teams
                .iter()
                .find(|t| t.id == id)
                .ok_or(AppError::NotFound)?,
        ),
        None => None,
    };
    let parent = f.map_or_else(
        || {
            team.and_then(|t| t.parent_id)
                .map(|p| p.to_string())
                .unwrap_or_default()
        },
        |f| f.text("parent_id"),
    );
    let name = f.map_or_else(
        || team.map(|t| t.name.clone()).unwrap_or_default(),
        |f| f.get("name").to_string(),
    );
    let regions = f.map_or_else(
        || team.map(|t| t.regions.join(", ")).unwrap_or_default(),
        |f| f.get("regions").to_string(),
    );
    Ok(TeamsPage {
        regions,
        tr: v.tr,
        csrf: v.csrf.clone(),
        here: editing.map_or_else(|| "/admin/teams".into(), |id| format!("/admin/teams/{id}")),
        nav: v.nav("settings"),
        tab: "teams",
        teams: team_rows(&teams, &users),
        editing: team.map(|t| (t.id, t.name.clone(), t.archived)),
        name,
        parents: team_choices(v.tr, &teams, &parent, editing),
        errors,
        notice,
    })
}

pub(super) async fn teams_page(
    State(s): State<AppState>,
    v: Viewer,
    Query(q): Query<NoticeQuery>,
) -> Response {
    if let Err(e) = v.ctx.require_admin() {
        return v.error("/admin/teams", e);
    }
    let notice = q.saved.map(|_| v.tr.t("form.saved").to_string());
    match teams_view(&s, &v, None, None, Errors::default(), notice).await {
        Ok(p) => render(p),
        Err(e) => v.error("/admin/teams", e),
    }
}

pub(super) async fn team_page(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Query(q): Query<NoticeQuery>,
) -> Response {
    let here = format!("/admin/teams/{id}");
    if let Err(e) = v.ctx.require_admin() {
        return v.error(&here, e);
    }
    let notice = q.saved.map(|_| v.tr.t("form.saved").to_string());
    match teams_view(&s, &v, Some(id), None, Errors::default(), notice).await {
        Ok(p) => render(p),
        Err(e) => v.error(&here, e),
    }
}

/// Creates a team (`/admin/teams`) or changes one (`/admin/teams/{id}`: name, parent,
/// archive or restore).
async fn team_save(s: AppState, v: Viewer, id: Option<TeamId>, f: FormData) -> Response {
    let here = id.map_or_else(|| "/admin/teams".into(), |id| format!("/admin/teams/{id}"));
    if let Err(e) = v.check_csrf(&f).and_then(|_| v.ctx.require_admin()) {
        return v.error(&here, e);
    }
    let parent_id = match f.text("parent_id").parse::<i64>() {
        Ok(p) => Field::Value(p),
        Err(_) => Field::Null,
    };
    let mut input = TeamInput {
        name: Field::Value(f.get("name").to_string()),
        parent_id,
        archived: Field::Absent,
        regions: Field::Value(split_list(f.get("regions"))),
    };
    match f.get("op") {
        "archive" => {
            input = TeamInput {
                archived: Field::Value(true),
                ..Default::default()
            }
        }
        "restore" => {
            input = TeamInput {
                archived: Field::Value(false),
                ..Default::default()
            }
        }
        _ => {}
    }
    let result = match id {
        Some(id) => ops::update_team(&s.db, &v.ctx, id, input).await,
        None => ops::create_team(&s.db, &v.ctx, input).await,
    };
    let e = match result {
        Ok(t) => return Redirect::to(&format!("/admin/teams/{}?saved=1", t.id)).into_response(),
        Err(e) if shown_in_form(&e) => e,
        Err(e) => return v.error(&here, e),
    };
    let mut errors = Errors::default();
    let (field, text) = err_text(v.tr, &e);
    errors.add(
        if ["name", "parent_id", "regions"].contains(&field.as_str()) {
            field
        } else {
            "form".into()
        },
        text,
    );
    match teams_view(&s, &v, id, Some(&f), errors, None).await {
        Ok(p) => (StatusCode::UNPROCESSABLE_ENTITY, render(p)).into_response(),
        Err(e) => v.error(&here, e),
    }
}

pub(super) async fn teams_create(
    State(s): State<AppState>,
    v: Viewer,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    team_save(s, v, None, FormData(f)).await
}

pub(super) async fn team_update(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    team_save(s, v, Some(id), FormData(f)).await
}

/// A list typed in one input: separated by commas (full-width too), 、 or semicolons.
fn split_list(text: &str) -> Vec<String> {
    text.split([',', '，', '、', ';', '；'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}
