//! The list of rules, with the switch that turns one on or off.

use askama::Template;
use axum::extract::{Form, Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use shangji_store::Directory;

use crate::i18n::Tr;
use crate::notices::rule_name;
use crate::ops::automation::{self, RuleView};
use crate::pages::{render, Nav, Viewer};
use crate::state::AppState;

use super::reasons::trigger_text;
use super::RULES;

struct RuleRow {
    id: i64,
    name: String,
    /// What it watches, in words.
    record_type: String,
    trigger: String,
    enabled: bool,
    template: String,
    last_fired: String,
}

#[derive(Template)]
#[template(path = "automation_rules.html")]
struct RulesPage {
    tr: Tr,
    csrf: String,
    here: String,
    nav: Nav,
    tab: &'static str,
    rows: Vec<RuleRow>,
}

fn rows(tr: Tr, dir: &Directory, rules: &[RuleView]) -> Vec<RuleRow> {
    rules
        .iter()
        .map(|r| RuleRow {
            id: r.rule.id,
            name: rule_name(tr, &r.rule.name, r.rule.template_key.as_deref()),
            record_type: tr
                .t(&format!("auto.record_type.{}", r.rule.record_type.as_str()))
                .to_string(),
            trigger: trigger_text(tr, dir, &r.rule.trigger),
            enabled: r.rule.enabled,
            template: r
                .rule
                .template_key
                .as_deref()
                .map(|k| {
                    tr.get(&format!("auto.template.{k}"))
                        .unwrap_or(k)
                        .to_string()
                })
                .unwrap_or_default(),
            last_fired: r
                .last_fired_at
                .map_or_else(|| tr.t("auto.never").to_string(), |t| tr.datetime(t)),
        })
        .collect()
}

pub(super) async fn rules_page(State(s): State<AppState>, v: Viewer) -> Response {
    match automation::list_rules(&s.db, &v.ctx).await {
        Ok(list) => render(RulesPage {
            tr: v.tr,
            csrf: v.csrf.clone(),
            here: RULES.into(),
            nav: v.nav("settings"),
            tab: "rules",
            rows: rows(v.tr, &v.ctx.dir, &list),
        }),
        Err(e) => v.error(RULES, e),
    }
}

pub(super) async fn toggle(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let form = match v.posted(f, RULES) {
        Ok(f) => f,
        Err(page) => return page,
    };
    let on = form.get("enabled") == "true";
    match automation::set_rule_enabled(&s.db, &v.ctx, id, on).await {
        Ok(_) => Redirect::to(&format!("{RULES}#rule-{id}")).into_response(),
        Err(e) => v.error(RULES, e),
    }
}
