//! The opportunity page: its facts, where it stands in its pipeline (path, guidance,
//! checklist, standard actions), the move form and the history in words. A move the stage's
//! gate refuses comes back with exactly what is missing, each with an input to supply it in
//! the next submit; what the user typed stays.

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;
use shangji_core::custom_fields::{CustomFieldDef, CustomFieldType};
use shangji_core::model::{
    Account, Contact, Grade, Opportunity, Pipeline, RecordKind, Source, Stage, StageKind, User,
};
use shangji_core::opportunity::{EventKind, MoveInput, OpportunityEvent, OpportunityInput};
use shangji_core::process::{self, Unmet};
use shangji_core::{Field, Money};
use shangji_store::Directory;

use super::admin::{forecast_label, kind_label};
use super::approvals::{request_view, RequestView};
use super::{error_text, field_text, render, shown_in_form, Choice, Errors, FormData, Nav, Viewer};
use crate::error::AppError;
use crate::i18n::Tr;
pub(super) use crate::notices::{stage_name, user_name};
use crate::ops;
use crate::state::AppState;

struct PathStep {
    name: String,
    /// `done`, `current` or `todo`.
    state: &'static str,
    kind: &'static str,
}

struct CheckView {
    label: String,
    done: bool,
}

struct ActionView {
    name: String,
    done: bool,
    required: bool,
}

struct StageOption {
    id: i64,
    name: String,
    kind: &'static str,
    selected: bool,
}

/// A requirement of the refused move, with the input that supplies it. `met` items were
/// supplied in the refused submit and are kept so that the next submit sends them again.
pub(super) struct PanelItem {
    /// `check`, `date`, `datetime`, `amount`, `text`, `textarea`, `select`, `multi` (a box
    /// per option), `bool` (one box), `ref` (the loss-reason select above), or `none`
    /// (nothing to type here).
    pub(super) input: &'static str,
    pub(super) id: String,
    pub(super) name: String,
    pub(super) value: String,
    pub(super) checked: bool,
    pub(super) message: String,
    pub(super) met: bool,
    pub(super) error: Option<String>,
    pub(super) options: Vec<Choice>,
    /// For `text`: the input's type and the keyboard a phone shows.
    pub(super) html_type: &'static str,
    pub(super) inputmode: &'static str,
    pub(super) maxlength: usize,
    /// A custom field's help text.
    pub(super) hint: String,
}

/// One moment of the history: who did what, in words (a move is several events at once),
/// or a follow-up (`activity`).
pub(super) struct Entry {
    pub(super) who: String,
    pub(super) when: String,
    pub(super) iso: String,
    pub(super) lines: Vec<String>,
    /// `event` or `activity`.
    pub(super) kind: &'static str,
    /// When, for merging follow-ups and events newest first.
    pub(super) at: time::OffsetDateTime,
}

#[derive(Template)]
#[template(path = "opportunity.html")]
struct OpportunityPage {
    tr: Tr,
    csrf: String,
    here: String,
    nav: Nav,
    id: i64,
    title: String,
    account: String,
    owner: String,
    stage: String,
    status: &'static str,
    status_label: &'static str,
    pipeline: String,
    archived: bool,
    path: Vec<PathStep>,
    guidance: String,
    checklist: Vec<CheckView>,
    actions: Vec<ActionView>,
    stages: Vec<StageOption>,
    reasons: Vec<Choice>,
    loss_note: String,
    competitor: String,
    version: i64,
    errors: Errors,
    panel: Vec<PanelItem>,
    /// The gate refused the move (the panel lists what is missing).
    refused: bool,
    notice: Option<String>,
    timeline: Vec<Entry>,
    /// The move waiting for approval, if any.
    approval: Option<RequestView>,
    /// The viewer asked for it (and may withdraw it).
    can_withdraw: bool,
    /// The viewer is the approver to act now.
    can_decide: bool,
    /// Why withdrawing was refused.
    approval_error: Option<String>,
    /// Editable fields, contacts, tasks and the follow-up form.
    extras: super::records::OppExtras,
    /// Since when it has waited in the public pool (formatted), if it is there.
    pool_since: Option<String>,
    /// The viewer may put it in the public pool.
    can_release: bool,
}

/// The move form as the user filled it in.
#[derive(Default)]
pub(super) struct MoveForm {
    pub(super) stage_id: String,
    pub(super) loss_reason: String,
    pub(super) loss_note: String,
    pub(super) competitor: String,
    pub(super) checklist: Vec<String>,
    actions_done: Vec<String>,
    /// Values for the fields a gate requires, by the gate's name for them, as typed.
    fields: Vec<(&'static str, String)>,
    /// Values for custom fields (`set.custom.<key>`), by key, as typed (a multi-select has
    /// several).
    custom: Vec<(String, Vec<String>)>,
}

/// The gate fields the panel offers an input for, and the form's name for each.
const SUPPLIED: &[(&str, &str)] = &[
    ("amount_minor", "amount"),
    ("close_date", "close_date"),
    ("next_step", "next_step"),
    ("next_step_date", "next_step_date"),
    ("primary_contact_id", "primary_contact_id"),
    ("grade", "grade"),
    ("source", "source"),
    ("competitor", "gate_competitor"),
];

fn input_name(field: &str) -> Option<&'static str> {
    SUPPLIED.iter().find(|(f, _)| *f == field).map(|(_, n)| *n)
}

impl MoveForm {
    pub(super) fn posted(f: &FormData) -> MoveForm {
        let strings = |name: &str| f.all(name).iter().map(|s| s.to_string()).collect();
        MoveForm {
            stage_id: f.text("stage_id"),
            loss_reason: f.text("loss_reason"),
            loss_note: f.get("loss_note").to_string(),
            competitor: f.get("competitor").to_string(),
            checklist: strings("checklist"),
            actions_done: strings("actions_done"),
            fields: SUPPLIED
                .iter()
                .map(|(field, name)| (*field, f.get(name).to_string()))
                .collect(),
            custom: {
                let mut custom: Vec<(String, Vec<String>)> = Vec::new();
                for (name, value) in &f.0 {
                    let Some(key) = name.strip_prefix("set.custom.") else {
                        continue;
                    };
                    match custom.iter_mut().find(|(k, _)| k == key) {
                        Some((_, values)) => values.push(value.clone()),
                        None => custom.push((key.to_string(), vec![value.clone()])),
                    }
                }
                custom
            },
        }
    }

    /// What the user typed for a custom field (empty values left out).
    fn custom_values(&self, key: &str) -> Vec<&str> {
        self.custom
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| {
                v.iter()
                    .map(|s| s.trim())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// What the user typed for a gate field ("" when nothing).
    fn value(&self, field: &str) -> &str {
        self.fields
            .iter()
            .find(|(f, _)| *f == field)
            .map_or("", |(_, v)| v.as_str())
    }

    /// The move the form asks for, or the form's own errors (a date that is not a date…),
    /// by the field they belong to.
    pub(super) fn input(
        &self,
        tr: Tr,
        version: Option<i64>,
        dir: &Directory,
    ) -> Result<MoveInput, Errors> {
        let mut errors = Errors::default();
        let stage_id = match self.stage_id.parse::<i64>() {
            Ok(id) => id,
            Err(_) => {
                errors.add("stage_id", field_text(tr, "stage_id", "required"));
                0
            }
        };
        let mut set = OpportunityInput::default();
        let mut any = false;
        let date = |field: &str, v: &str, errors: &mut Errors| {
            time::Date::parse(v, &time::format_description::well_known::Iso8601::DATE)
                .map_err(|_| errors.add(field, field_text(tr, field, "invalid_date")))
                .ok()
        };
        for (field, value) in &self.fields {
            let v = value.trim();
            if v.is_empty() {
                continue;
            }
            any = true;
            match *field {
                "amount_minor" => match yuan_to_fen(v) {
                    Some(fen) => set.amount_minor = Field::Value(fen),
                    None => errors.add(*field, field_text(tr, field, "invalid_amount")),
                },
                "close_date" => {
                    if let Some(d) = date(field, v, &mut errors) {
                        set.close_date = Field::Value(d);
                    }
                }
                "next_step_date" => {
                    if let Some(d) = date(field, v, &mut errors) {
                        set.next_step_date = Field::Value(d);
                    }
                }
                "next_step" => set.next_step = Field::Value(v.to_string()),
                "primary_contact_id" => match v.parse() {
                    Ok(id) => set.primary_contact_id = Field::Value(id),
                    Err(_) => errors.add(*field, field_text(tr, field, "unknown_choice")),
                },
                "grade" => match v.parse::<Grade>() {
                    Ok(g) => set.grade = Field::Value(g),
                    Err(_) => errors.add(*field, field_text(tr, field, "unknown_choice")),
                },
                "source" => match v.parse::<Source>() {
                    Ok(s) => set.source = Field::Value(s),
                    Err(_) => errors.add(*field, field_text(tr, field, "unknown_choice")),
                },
                _ => {}
            }
        }
        let mut custom = shangji_core::model::CustomValues::new();
        for (key, _) in &self.custom {
            let values = self.custom_values(key);
            if values.is_empty() {
                continue;
            }
            let def = dir
                .custom_fields_of(RecordKind::Opportunity)
                .find(|d| &d.key == key);
            let value = match def.map(|d| d.field_type) {
                Some(CustomFieldType::Money) => match yuan_to_fen(values[0]) {
                    Some(fen) => serde_json::json!({ "amount_minor": fen, "currency": "CNY" }),
                    None => {
                        let field = format!("custom.{key}");
                        errors.add(&field, field_text(tr, "amount", "invalid_amount"));
                        continue;
                    }
                },
                Some(CustomFieldType::Boolean) => Value::Bool(values.contains(&"true")),
                Some(CustomFieldType::MultiSelect) => {
                    Value::Array(values.iter().map(|v| Value::from(*v)).collect())
                }
                // A datetime-local input gives minutes in China Standard Time.
                Some(CustomFieldType::DateTime) if values[0].len() == 16 => {
                    Value::from(format!("{}:00+08:00", values[0]))
                }
                _ => Value::from(values[0]),
            };
            custom.insert(key.clone(), value);
        }
        if !custom.is_empty() {
            any = true;
            set.custom = Some(custom);
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let competitor = [&self.competitor, self.value("competitor")]
            .into_iter()
            .map(|c| c.trim())
            .find(|c| !c.is_empty())
            .map(str::to_string);
        let text = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
        Ok(MoveInput {
            stage_id,
            version,
            loss_reason: text(&self.loss_reason),
            loss_note: text(&self.loss_note),
            competitor,
            checklist: self.checklist.clone(),
            actions_done: self.actions_done.clone(),
            set: any.then_some(set),
        })
    }
}

/// Yuan as people type them (`120000`, `1,234.5`, `¥8,000.00`) to fen, without floats.
/// `None` when it is not an amount of at most two decimals.
pub(super) fn yuan_to_fen(typed: &str) -> Option<i64> {
    let cleaned: String = typed
        .trim()
        .trim_start_matches(['¥', '￥'])
        .chars()
        .filter(|c| *c != ',' && *c != '，' && !c.is_whitespace())
        .collect();
    let (whole, fraction) = match cleaned.split_once('.') {
        Some((w, f)) => (w, f),
        None => (cleaned.as_str(), ""),
    };
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(fraction) || fraction.len() > 2 {
        return None;
    }
    let cents = format!("{fraction:0<2}").parse::<i64>().ok()?;
    whole
        .parse::<i64>()
        .ok()?
        .checked_mul(100)?
        .checked_add(cents)
}

fn checklist_label(tr: Tr, p: &Pipeline, key: &str) -> String {
    p.stages
        .iter()
        .flat_map(|s| &s.gate.checklist)
        .find(|c| c.key == key)
        .map_or_else(
            || key.to_string(),
            |c| {
                if tr.is_zh() {
                    c.label_zh.clone()
                } else {
                    c.label_en.clone()
                }
            },
        )
}

fn action_label(tr: Tr, p: &Pipeline, key: &str) -> String {
    p.stages
        .iter()
        .flat_map(|s| &s.actions)
        .find(|a| a.key == key)
        .map_or_else(
            || key.to_string(),
            |a| {
                if tr.is_zh() {
                    a.name_zh.clone()
                } else {
                    a.name_en.clone()
                }
            },
        )
}

pub(super) fn source_label(tr: Tr, s: Source) -> &'static str {
    match s {
        Source::Website => tr.t("source.website"),
        Source::Referral => tr.t("source.referral"),
        Source::Exhibition => tr.t("source.exhibition"),
        Source::ColdCall => tr.t("source.cold_call"),
        Source::Partner => tr.t("source.partner"),
        Source::Advertising => tr.t("source.advertising"),
        Source::Wechat => tr.t("source.wechat"),
        Source::Tender => tr.t("source.tender"),
        Source::Existing => tr.t("source.existing"),
        Source::Other => tr.t("source.other"),
    }
}

/// The panel of a refused move: what is missing, in the order the gate gave, then what the
/// user supplied that is no longer missing.
pub(super) fn panel(
    tr: Tr,
    p: &Pipeline,
    missing: &[Unmet],
    form: &MoveForm,
    errors: &Errors,
    contacts: &[Contact],
    (defs, users): (&[&CustomFieldDef], &[User]),
) -> Vec<PanelItem> {
    let item = |field: &str, message: String, met: bool| -> PanelItem {
        let mut it = PanelItem {
            input: "none",
            id: format!("gate-{}", field.replace('.', "-")),
            name: String::new(),
            value: String::new(),
            checked: false,
            message,
            met,
            error: errors.get(field).map(str::to_string),
            options: vec![],
            html_type: "text",
            inputmode: "text",
            maxlength: 200,
            hint: String::new(),
        };
        if let Some(def) = field
            .strip_prefix("custom.")
            .and_then(|key| defs.iter().find(|d| d.key == key))
        {
            custom_input(tr, &mut it, def, &form.custom_values(&def.key), users);
            return it;
        }
        if let Some(key) = field.strip_prefix("checklist.") {
            it.input = "check";
            it.name = "checklist".into();
            it.value = key.into();
            it.checked = form.checklist.iter().any(|k| k == key);
        } else if let Some(key) = field.strip_prefix("actions.") {
            it.input = "check";
            it.name = "actions_done".into();
            it.value = key.into();
            it.checked = form.actions_done.iter().any(|k| k == key);
        } else if field == "loss_reason" {
            it.input = "ref";
        } else if let Some(name) = input_name(field) {
            it.name = name.into();
            it.value = form.value(field).to_string();
            let choices = |all: Vec<(String, String)>| {
                let mut v = vec![Choice::new("", tr.t("form.choose"), it.value.is_empty())];
                v.extend(all.into_iter().map(|(value, label)| {
                    let checked = value == it.value;
                    Choice::new(value, label, checked)
                }));
                v
            };
            match field {
                "amount_minor" => it.input = "amount",
                "close_date" | "next_step_date" => it.input = "date",
                "primary_contact_id" => {
                    it.options = choices(
                        contacts
                            .iter()
                            .map(|c| (c.id.to_string(), c.name.clone()))
                            .collect(),
                    );
                    it.input = "select";
                }
                "grade" => {
                    it.options = choices(
                        Grade::ALL
                            .iter()
                            .map(|g| (g.as_str().into(), g.as_str().to_uppercase()))
                            .collect(),
                    );
                    it.input = "select";
                }
                "source" => {
                    it.options = choices(
                        Source::ALL
                            .iter()
                            .map(|s| (s.as_str().into(), source_label(tr, *s).into()))
                            .collect(),
                    );
                    it.input = "select";
                }
                _ => it.input = "text",
            }
        }
        it
    };
    let custom_labels: Vec<(String, String, String)> = defs
        .iter()
        .map(|d| (d.key.clone(), d.label_zh.clone(), d.label_en.clone()))
        .collect();
    let label = |field: &str| -> String {
        if let Some(key) = field.strip_prefix("checklist.") {
            checklist_label(tr, p, key)
        } else if let Some(key) = field.strip_prefix("actions.") {
            action_label(tr, p, key)
        } else {
            let (zh, en) = process::field_label(field, &custom_labels);
            if tr.is_zh() {
                zh
            } else {
                en
            }
        }
    };
    let mut items: Vec<PanelItem> = missing
        .iter()
        .map(|u| item(&u.field, u.message(tr.lang), false))
        .collect();
    let mut supplied: Vec<String> = Vec::new();
    supplied.extend(form.checklist.iter().map(|k| format!("checklist.{k}")));
    supplied.extend(form.actions_done.iter().map(|k| format!("actions.{k}")));
    supplied.extend(
        form.fields
            .iter()
            .filter(|(_, v)| !v.trim().is_empty())
            .map(|(f, _)| f.to_string()),
    );
    supplied.extend(
        form.custom
            .iter()
            .filter(|(k, _)| !form.custom_values(k).is_empty())
            .map(|(k, _)| format!("custom.{k}")),
    );
    for field in supplied {
        if !missing.iter().any(|u| u.field == field) {
            items.push(item(&field, label(&field), true));
        }
    }
    items
}

/// The input of a custom field in the gate panel, matching its type; `typed` is what the
/// user sent last.
fn custom_input(tr: Tr, it: &mut PanelItem, def: &CustomFieldDef, typed: &[&str], users: &[User]) {
    use CustomFieldType as T;
    it.name = format!("set.custom.{}", def.key);
    it.value = typed.first().map_or_else(String::new, |v| v.to_string());
    it.hint = if tr.is_zh() {
        def.help_zh.clone()
    } else {
        def.help_en.clone()
    }
    .unwrap_or_default();
    it.maxlength = def
        .validation
        .max_length
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(usize::MAX)
        .min(def.field_type.max_chars());
    let choose = |it: &PanelItem| Choice::new("", tr.t("form.choose"), it.value.is_empty());
    let options = |it: &PanelItem| {
        def.options
            .iter()
            .filter(|o| !o.archived)
            .map(|o| {
                let checked = typed.contains(&o.value.as_str());
                let label = super::custom_fields::option_label(tr, def, &o.value);
                Choice::new(o.value.clone(), label, checked || o.value == it.value)
            })
            .collect::<Vec<_>>()
    };
    match def.field_type {
        T::Text => it.input = "text",
        T::LongText => it.input = "textarea",
        T::Integer => (it.input, it.inputmode) = ("text", "numeric"),
        T::Decimal => (it.input, it.inputmode) = ("text", "decimal"),
        T::Money => it.input = "amount",
        T::Date => it.input = "date",
        T::DateTime => it.input = "datetime",
        T::Url => (it.input, it.html_type, it.inputmode) = ("text", "url", "url"),
        T::Phone => (it.input, it.html_type, it.inputmode) = ("text", "tel", "tel"),
        T::Email => (it.input, it.html_type, it.inputmode) = ("text", "email", "email"),
        T::Boolean => {
            it.input = "bool";
            it.checked = typed.contains(&"true");
        }
        T::SingleSelect => {
            it.input = "select";
            it.options = vec![choose(it)];
            let mut all = options(it);
            it.options.append(&mut all);
        }
        T::MultiSelect => {
            it.input = "multi";
            it.options = options(it);
        }
        T::User => {
            it.input = "select";
            it.options = vec![choose(it)];
            it.options
                .extend(users.iter().filter(|u| u.active).map(|u| {
                    let id = u.id.to_string();
                    let checked = id == it.value;
                    Choice::new(id, u.display_name.clone(), checked)
                }));
        }
    }
}

fn money_of(v: &Value) -> Option<Money> {
    Some(Money {
        amount_minor: v.get("amount_minor")?.as_i64()?,
        currency: v.get("currency")?.as_str()?.to_string(),
    })
}

fn keys_of(v: Option<&Value>, list: &str) -> Vec<String> {
    v.and_then(|v| v.get(list))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|k| k.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// What an event did, in words, in the user's language (one line, or a few for a
/// checklist change).
pub(super) fn describe(
    tr: Tr,
    dir: &Directory,
    p: &Pipeline,
    users: &[User],
    e: &OpportunityEvent,
) -> Vec<String> {
    let none = || tr.t("value.none").to_string();
    let (old, new) = (e.old_value.as_ref(), e.new_value.as_ref());
    let text = |v: Option<&Value>| match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => none(),
    };
    let money = |v: Option<&Value>| v.and_then(money_of).map_or_else(none, |m| tr.money(&m));
    let forecast = |v: Option<&Value>| {
        v.and_then(Value::as_str)
            .and_then(|s| s.parse().ok())
            .map_or_else(none, |f| forecast_label(tr, f).to_string())
    };
    let person = |v: Option<&Value>| {
        v.and_then(Value::as_i64)
            .map_or_else(none, |id| user_name(users, id))
    };
    let line = match e.kind {
        EventKind::Created => tr.fmt(
            "event.created",
            &[
                ("stage", &stage_name(tr, dir, e.to_stage_id)),
                ("amount", &money(new.and_then(|v| v.get("amount")))),
            ],
        ),
        EventKind::StageChanged => tr.fmt(
            "event.stage_changed",
            &[
                ("from", &stage_name(tr, dir, e.from_stage_id)),
                ("to", &stage_name(tr, dir, e.to_stage_id)),
            ],
        ),
        EventKind::AmountChanged => tr.fmt(
            "event.amount_changed",
            &[("old", &money(old)), ("new", &money(new))],
        ),
        EventKind::CloseDateChanged => tr.fmt(
            "event.close_date_changed",
            &[("old", &text(old)), ("new", &text(new))],
        ),
        EventKind::ProbabilityChanged => tr.fmt(
            "event.probability_changed",
            &[("old", &text(old)), ("new", &text(new))],
        ),
        EventKind::ForecastCategoryChanged => tr.fmt(
            "event.forecast_category_changed",
            &[("old", &forecast(old)), ("new", &forecast(new))],
        ),
        EventKind::OwnerChanged => tr.fmt(
            "event.owner_changed",
            &[("old", &person(old)), ("new", &person(new))],
        ),
        EventKind::Won => tr.t("event.won").to_string(),
        EventKind::Lost => {
            let field = |k: &str| {
                new.and_then(|v| v.get(k))
                    .and_then(Value::as_str)
                    .map(str::to_string)
            };
            let reason = field("loss_reason").map_or_else(none, |key| {
                dir.loss_reasons
                    .iter()
                    .find(|r| r.key == key)
                    .map_or(key, |r| {
                        if tr.is_zh() {
                            r.name_zh.clone()
                        } else {
                            r.name_en.clone()
                        }
                    })
            });
            let mut lines = vec![tr.fmt("event.lost", &[("reason", &reason)])];
            if let Some(c) = field("competitor") {
                lines.push(tr.fmt("event.lost_competitor", &[("competitor", &c)]));
            }
            if let Some(n) = field("loss_note") {
                lines.push(tr.fmt("event.lost_note", &[("note", &n)]));
            }
            return lines;
        }
        EventKind::Pooled => match new.and_then(|v| v.get("reason")).and_then(Value::as_str) {
            Some(r) => tr.fmt("event.pooled_because", &[("reason", r)]),
            None => tr.t("event.pooled").to_string(),
        },
        EventKind::Assigned => {
            let how = new
                .and_then(|v| v.get("how"))
                .and_then(Value::as_str)
                .unwrap_or("manual");
            tr.fmt(
                "event.assigned",
                &[
                    ("user", &person(new.and_then(|v| v.get("owner_id")))),
                    ("how", tr.t(&format!("pool.how.{how}"))),
                ],
            )
        }
        EventKind::Reopened => tr.t("event.reopened").to_string(),
        EventKind::Archived => tr.t("event.archived").to_string(),
        EventKind::Restored => tr.t("event.restored").to_string(),
        EventKind::ChecklistChanged => {
            let sep = tr.t("list.sep");
            let diff = |list: &str, label: &dyn Fn(&str) -> String| {
                let (before, after) = (keys_of(old, list), keys_of(new, list));
                let added: Vec<String> = after
                    .iter()
                    .filter(|k| !before.contains(k))
                    .map(|k| label(k))
                    .collect();
                let removed: Vec<String> = before
                    .iter()
                    .filter(|k| !after.contains(k))
                    .map(|k| label(k))
                    .collect();
                (added.join(sep), removed.join(sep))
            };
            let (checked, unchecked) = diff("checklist", &|k| checklist_label(tr, p, k));
            let (done, undone) = diff("actions_done", &|k| action_label(tr, p, k));
            let lines: Vec<String> = [
                ("event.checklist_checked", checked),
                ("event.checklist_unchecked", unchecked),
                ("event.actions_done", done),
                ("event.actions_undone", undone),
            ]
            .into_iter()
            .filter(|(_, items)| !items.is_empty())
            .map(|(key, items)| tr.fmt(key, &[("items", &items)]))
            .collect();
            if lines.is_empty() {
                return vec![tr.t("event.checklist_changed").to_string()];
            }
            return lines;
        }
        EventKind::PipelineChanged => {
            let place = |v: Option<&Value>| {
                let pipeline = v
                    .and_then(|v| v.get("pipeline_id"))
                    .and_then(Value::as_i64)
                    .and_then(|id| dir.pipeline(id))
                    .map_or_else(none, |p| p.name.clone());
                let stage = stage_name(
                    tr,
                    dir,
                    v.and_then(|v| v.get("stage_id")).and_then(Value::as_i64),
                );
                format!("{pipeline} / {stage}")
            };
            tr.fmt(
                "event.pipeline_changed",
                &[("from", &place(old)), ("to", &place(new))],
            )
        }
        EventKind::CustomFieldChanged => {
            let key = new
                .or(old)
                .and_then(|v| v.get("key"))
                .and_then(Value::as_str)
                .unwrap_or_default();
            let def = dir
                .custom_fields_of(RecordKind::Opportunity)
                .find(|f| f.key == key);
            let label = def.map_or_else(|| key.to_string(), |f| super::custom_fields::label(tr, f));
            let raw = |v: Option<&Value>| match v {
                None | Some(Value::Null) => none(),
                Some(Value::String(s)) => s.clone(),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string))
                    .collect::<Vec<_>>()
                    .join(tr.t("list.sep")),
                Some(m @ Value::Object(_)) => money(Some(m)),
                Some(other) => other.to_string(),
            };
            let shown = |v: Option<&Value>| match (def, v.and_then(|v| v.get("value"))) {
                (Some(def), Some(value)) => {
                    super::custom_fields::display_value(tr, def, value, users)
                }
                (_, value) => raw(value),
            };
            tr.fmt(
                "event.custom_field_changed",
                &[
                    ("field", &label),
                    ("old", &shown(old)),
                    ("new", &shown(new)),
                ],
            )
        }
        EventKind::ApprovalRequested => {
            let approvers = new
                .and_then(|v| v.get("approver_ids"))
                .and_then(Value::as_array)
                .map(|ids| {
                    ids.iter()
                        .filter_map(Value::as_i64)
                        .map(|id| user_name(users, id))
                        .collect::<Vec<_>>()
                        .join(" → ")
                })
                .unwrap_or_default();
            tr.fmt(
                "event.approval_requested_to",
                &[
                    ("stage", &stage_name(tr, dir, e.to_stage_id)),
                    ("approvers", &approvers),
                ],
            )
        }
        EventKind::ApprovalDecided => {
            let flag = |k: &str| new.and_then(|v| v.get(k)).and_then(Value::as_bool);
            let stage = stage_name(tr, dir, e.to_stage_id);
            let key = match (flag("withdrawn"), flag("approved")) {
                (Some(true), _) => "event.approval_withdrawn",
                (_, Some(true)) => "event.approval_approved",
                (_, Some(false)) => "event.approval_rejected",
                _ => return vec![tr.t("event.approval_decided").to_string()],
            };
            let mut lines = vec![tr.fmt(key, &[("stage", &stage)])];
            if let Some(c) = new
                .and_then(|v| v.get("comment"))
                .and_then(Value::as_str)
                .filter(|c| !c.is_empty())
            {
                lines.push(tr.fmt("event.approval_comment", &[("comment", c)]));
            }
            return lines;
        }
        EventKind::ReviewDecision => tr.fmt(
            "rv.event_decision",
            &[(
                "decision",
                new.and_then(|v| v.get("decision"))
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
            )],
        ),
    };
    vec![line]
}

/// The history, newest first; events of one moment by one person are one entry.
pub(super) fn timeline(
    tr: Tr,
    dir: &Directory,
    p: &Pipeline,
    users: &[User],
    events: &[OpportunityEvent],
) -> Vec<Entry> {
    let mut entries: Vec<(i64, i64, Entry)> = Vec::new();
    for e in events {
        let lines = describe(tr, dir, p, users, e);
        let at_ms = (e.at.unix_timestamp_nanos() / 1_000_000) as i64;
        match entries.last_mut() {
            Some((at, who, entry)) if *at == at_ms && *who == e.actor_id => {
                entry.lines.extend(lines)
            }
            _ => entries.push((
                at_ms,
                e.actor_id,
                Entry {
                    kind: "event",
                    at: e.at,
                    who: user_name(users, e.actor_id),
                    when: tr.datetime(e.at),
                    iso: e
                        .at
                        .format(&time::format_description::well_known::Rfc3339)
                        .unwrap_or_default(),
                    lines,
                },
            )),
        }
    }
    entries.into_iter().rev().map(|(_, _, e)| e).collect()
}

/// The page of opportunity `id` as `v` may see it, with the move form as given.
async fn page(
    s: &AppState,
    v: &Viewer,
    id: i64,
    form: MoveForm,
    missing: Vec<Unmet>,
    errors: Errors,
) -> Result<OpportunityPage, AppError> {
    let tr = v.tr;
    let dir = v.ctx.dir.clone();
    let opp: Opportunity = ops::get(&s.db, &v.ctx, id).await?;
    let p = dir
        .pipeline(opp.pipeline_id)
        .ok_or_else(|| AppError::Internal(format!("pipeline {} is missing", opp.pipeline_id)))?;
    let events = ops::opportunity_events(&s.db, &v.ctx, id).await?;
    let done_actions = ops::actions_done(&s.db, &opp).await?;
    let users = s.db.users().await?;
    let approval = ops::pending_approval(&s.db, &v.ctx, id)
        .await?
        .map(|req| request_view(tr, &dir, &users, &req, Some(&opp), true));
    let me = v.user.id;
    let account = match ops::get::<Account>(&s.db, &v.ctx, opp.account_id).await {
        Ok(a) => a.name,
        Err(AppError::NotFound) => format!("#{}", opp.account_id),
        Err(e) => return Err(e),
    };
    let current = p.stage(opp.stage_id);
    let mut stages: Vec<&Stage> = p.stages.iter().collect();
    stages.sort_by_key(|s| s.position);

    // The path: the open stages, and the outcome once closed.
    let here_pos = current.map_or(-1, |s| s.position);
    let mut path: Vec<PathStep> = stages
        .iter()
        .filter(|s| s.kind == StageKind::Open && (!s.archived || s.id == opp.stage_id))
        .map(|s| PathStep {
            name: s.name(tr.lang).to_string(),
            state: match opp.status {
                StageKind::Open if s.id == opp.stage_id => "current",
                StageKind::Open if s.position < here_pos => "done",
                StageKind::Won => "done",
                _ => "todo",
            },
            kind: "open",
        })
        .collect();
    if let Some(c) = current.filter(|c| c.kind != StageKind::Open) {
        path.push(PathStep {
            name: c.name(tr.lang).to_string(),
            state: "current",
            kind: c.kind.as_str(),
        });
    }

    // The stages to move to; by default the next open one.
    let next_open = stages
        .iter()
        .find(|s| s.kind == StageKind::Open && !s.archived && s.position > here_pos)
        .filter(|_| opp.status == StageKind::Open)
        .map(|s| s.id);
    let chosen = form
        .stage_id
        .parse::<i64>()
        .ok()
        .or(if form.stage_id.is_empty() {
            next_open
        } else {
            None
        });
    let options = stages
        .iter()
        .filter(|s| !s.archived && s.id != opp.stage_id)
        .map(|s| StageOption {
            id: s.id,
            name: s.name(tr.lang).to_string(),
            kind: s.kind.as_str(),
            selected: Some(s.id) == chosen,
        })
        .collect();
    let mut reasons = vec![Choice::new(
        "",
        tr.t("form.choose"),
        form.loss_reason.is_empty(),
    )];
    reasons.extend(dir.loss_reasons.iter().filter(|r| !r.archived).map(|r| {
        let label = if tr.is_zh() { &r.name_zh } else { &r.name_en };
        Choice::new(r.key.clone(), label.clone(), r.key == form.loss_reason)
    }));

    let wants_contact = missing.iter().any(|u| u.field == "primary_contact_id")
        || !form.value("primary_contact_id").is_empty();
    let contacts = if wants_contact {
        let params = [
            ("account_id".to_string(), opp.account_id.to_string()),
            ("per_page".to_string(), "200".to_string()),
        ];
        ops::list::<Contact>(&s.db, &v.ctx, &params).await?.items
    } else {
        vec![]
    };
    let mut defs: Vec<&CustomFieldDef> = dir.custom_fields_of(RecordKind::Opportunity).collect();
    defs.sort_by_key(|d| (d.position, d.id));
    let panel = panel(tr, p, &missing, &form, &errors, &contacts, (&defs, &users));

    let status_label = kind_label(tr, opp.status);
    Ok(OpportunityPage {
        tr,
        csrf: v.csrf.clone(),
        here: format!("/opportunities/{id}"),
        nav: v.nav("opportunity"),
        id,
        title: opp.title.clone(),
        account,
        owner: user_name(&users, opp.owner_id),
        pool_since: opp.pool_since.map(|t| tr.datetime(t)),
        can_release: opp.pool_since.is_none()
            && opp.status == StageKind::Open
            && !opp.archived
            && v.ctx.scope.covers(Some(opp.owner_id)),
        stage: current.map_or_else(String::new, |s| s.name(tr.lang).to_string()),
        status: opp.status.as_str(),
        status_label,
        pipeline: p.name.clone(),
        archived: opp.archived,
        path,
        guidance: current.and_then(|s| s.guidance.clone()).unwrap_or_default(),
        checklist: current.map_or_else(Vec::new, |s| {
            s.gate
                .checklist
                .iter()
                .map(|c| CheckView {
                    label: if tr.is_zh() {
                        c.label_zh.clone()
                    } else {
                        c.label_en.clone()
                    },
                    done: opp.checklist.contains(&c.key),
                })
                .collect()
        }),
        actions: current.map_or_else(Vec::new, |s| {
            s.actions
                .iter()
                .map(|a| ActionView {
                    name: if tr.is_zh() {
                        a.name_zh.clone()
                    } else {
                        a.name_en.clone()
                    },
                    done: done_actions.contains(&a.key),
                    required: a.required_to_leave,
                })
                .collect()
        }),
        stages: options,
        reasons,
        loss_note: form.loss_note,
        competitor: form.competitor,
        version: opp.version,
        errors,
        refused: !missing.is_empty(),
        panel,
        notice: None,
        timeline: super::records::merge_follow_ups(
            tr,
            &users,
            timeline(tr, &dir, p, &users, &events),
            ops::records::opportunity_activities(&s.db, &v.ctx, id).await?,
        ),
        extras: super::records::opp_extras(s, v, &opp, &users).await?,
        can_withdraw: approval.as_ref().is_some_and(|a| a.requester_id == me),
        can_decide: approval
            .as_ref()
            .is_some_and(|a| a.waiting_for_id == Some(me)),
        approval,
        approval_error: None,
    })
}

#[derive(serde::Deserialize)]
struct MovedQuery {
    moved: Option<String>,
    approval: Option<String>,
    withdrawn: Option<String>,
}

async fn show(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Query(q): Query<MovedQuery>,
) -> Response {
    match page(&s, &v, id, MoveForm::default(), vec![], Errors::default()).await {
        Ok(mut p) => {
            if q.moved.is_some() {
                p.notice = Some(v.tr.fmt("opp.moved", &[("stage", &p.stage)]));
            }
            if q.approval.is_some() {
                p.notice = Some(v.tr.t("opp.approval_requested").to_string());
            }
            if q.withdrawn.is_some() {
                p.notice = Some(v.tr.t("approval.done_withdrawn").to_string());
            }
            render(p)
        }
        Err(e) => v.error(&format!("/opportunities/{id}"), e),
    }
}

/// Where an error of a move is shown: the stage select, the loss fields, the panel input of
/// a gate field, or the form as a whole.
pub(super) fn place(errors: &mut Errors, tr: Tr, e: &AppError) {
    let (field, text) = error_text(tr, e);
    let at = match e {
        AppError::Forbidden("stage_role_forbidden" | "reopen_forbidden") => "stage_id",
        _ if ["stage_id", "loss_reason", "loss_note", "competitor"].contains(&field.as_str()) => {
            field.as_str()
        }
        _ if input_name(&field).is_some() => field.as_str(),
        // A custom value sent with the move: beside its input in the panel.
        _ if field.starts_with("set.custom.") => &field["set.".len()..],
        _ => "form",
    };
    errors.add(at, text);
}

async fn move_submit(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let here = format!("/opportunities/{id}");
    let f = match v.posted(f, &here) {
        Ok(f) => f,
        Err(page) => return page,
    };
    let form = MoveForm::posted(&f);
    let version = f.text("version").parse().ok();
    let (result, mut errors) = match form.input(v.tr, version, &v.ctx.dir) {
        Ok(input) => (
            ops::move_opportunity(&s.db, &v.ctx, id, input).await,
            Errors::default(),
        ),
        Err(errors) => (
            Err(AppError::invalid("", "invalid_value", "see the fields")),
            errors,
        ),
    };
    let e = match result {
        Ok(_) => return Redirect::to(&format!("{here}?moved=1#opp-title")).into_response(),
        // Held for approval: the opportunity stays; say so.
        Err(AppError::AwaitingApproval(_)) => {
            return Redirect::to(&format!("{here}?approval=1#opp-title")).into_response()
        }
        Err(e) if shown_in_form(&e) => e,
        Err(e) => return v.error(&here, e),
    };
    let missing = match &e {
        AppError::Unmet { missing, .. } => missing.clone(),
        _ => vec![],
    };
    // A refused gate is the panel; anything else goes beside its field.
    if errors.is_empty() && missing.is_empty() {
        place(&mut errors, v.tr, &e);
    }
    let status = e.status();
    match page(&s, &v, id, form, missing, errors).await {
        Ok(p) => (status, render(p)).into_response(),
        Err(e) => v.error(&here, e),
    }
}

/// The requester takes back the move waiting for approval; the deal stays where it is.
async fn withdraw_submit(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let here = format!("/opportunities/{id}");
    let f = match v.posted(f, &here) {
        Ok(f) => f,
        Err(page) => return page,
    };
    let Ok(request) = f.text("approval_id").parse::<i64>() else {
        return v.error(&here, AppError::NotFound);
    };
    let e = match ops::withdraw_approval(&s.db, &v.ctx, request).await {
        Ok(_) => return Redirect::to(&format!("{here}?withdrawn=1#opp-title")).into_response(),
        Err(e) if shown_in_form(&e) => e,
        Err(e) => return v.error(&here, e),
    };
    match page(&s, &v, id, MoveForm::default(), vec![], Errors::default()).await {
        Ok(mut p) => {
            p.approval_error = Some(error_text(v.tr, &e).1);
            (e.status(), render(p)).into_response()
        }
        Err(e) => v.error(&here, e),
    }
}

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/opportunities/{id}", get(show))
        .route("/opportunities/{id}/move", post(move_submit))
        .route("/opportunities/{id}/withdraw", post(withdraw_submit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yuan_become_fen_without_floats() {
        let cases = [
            ("120000", Some(12_000_000)),
            ("1,234.5", Some(123_450)),
            ("¥8,000.00", Some(800_000)),
            (" 0.07 ", Some(7)),
            ("12.345", None),
            ("-5", None),
            ("1e5", None),
            ("", None),
            (".5", None),
            ("99999999999999999999", None),
        ];
        for (typed, want) in cases {
            assert_eq!(yuan_to_fen(typed), want, "{typed}");
        }
    }
}
