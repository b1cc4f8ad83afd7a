//! The move form: as the user filled it in, read as a move, and the panel of a refused move
//! with an input for each thing the stage's gate still needs.

use serde_json::Value;
use shangji_core::custom_fields::{CustomFieldDef, CustomFieldType};
use shangji_core::model::{Contact, Grade, Pipeline, RecordKind, Source, User};
use shangji_core::opportunity::{MoveInput, OpportunityInput};
use shangji_core::process::{self, Unmet};
use shangji_core::Field;
use shangji_store::Directory;

use crate::error::AppError;
use crate::i18n::Tr;
use crate::pages::{error_text, field_text, Choice, Errors, FormData};

use super::{action_label, checklist_label, source_label, yuan_to_fen};

/// A requirement of the refused move, with the input that supplies it. `met` items were
/// supplied in the refused submit and are kept so that the next submit sends them again.
pub(in crate::pages) struct PanelItem {
    /// `check`, `date`, `datetime`, `amount`, `text`, `textarea`, `select`, `multi` (a box
    /// per option), `bool` (one box), `ref` (the loss-reason select above), or `none`
    /// (nothing to type here).
    pub(in crate::pages) input: &'static str,
    pub(in crate::pages) id: String,
    pub(in crate::pages) name: String,
    pub(in crate::pages) value: String,
    pub(in crate::pages) checked: bool,
    pub(in crate::pages) message: String,
    pub(in crate::pages) met: bool,
    pub(in crate::pages) error: Option<String>,
    pub(in crate::pages) options: Vec<Choice>,
    /// For `text`: the input's type and the keyboard a phone shows.
    pub(in crate::pages) html_type: &'static str,
    pub(in crate::pages) inputmode: &'static str,
    pub(in crate::pages) maxlength: usize,
    /// A custom field's help text.
    pub(in crate::pages) hint: String,
}

/// The move form as the user filled it in.
#[derive(Default)]
pub(in crate::pages) struct MoveForm {
    pub(in crate::pages) stage_id: String,
    pub(in crate::pages) loss_reason: String,
    pub(in crate::pages) loss_note: String,
    pub(in crate::pages) competitor: String,
    pub(in crate::pages) checklist: Vec<String>,
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
    pub(in crate::pages) fn posted(f: &FormData) -> MoveForm {
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
    pub(super) fn value(&self, field: &str) -> &str {
        self.fields
            .iter()
            .find(|(f, _)| *f == field)
            .map_or("", |(_, v)| v.as_str())
    }

    /// The move the form asks for, or the form's own errors (a date that is not a date…),
    /// by the field they belong to.
    pub(in crate::pages) fn input(
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

/// The panel of a refused move: what is missing, in the order the gate gave, then what the
/// user supplied that is no longer missing.
pub(in crate::pages) fn panel(
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
                let label = crate::pages::custom_fields::option_label(tr, def, &o.value);
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

/// Where an error of a move is shown: the stage select, the loss fields, the panel input of
/// a gate field, or the form as a whole.
pub(in crate::pages) fn place(errors: &mut Errors, tr: Tr, e: &AppError) {
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
