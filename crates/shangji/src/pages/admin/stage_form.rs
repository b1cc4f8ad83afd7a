//! A stage's edit form: from the stage or as the admin posted it, read as the stage's
//! change, and shown with its choices translated.

use shangji_core::custom_fields::CustomFieldDef;
use shangji_core::model::{ForecastCategory, Stage, StageKind};
use shangji_core::process::{ChecklistItem, StageGate, StandardAction, GATE_FIELDS};
use shangji_core::Field;

use crate::error::AppError;
use crate::i18n::Tr;
use crate::ops::StagePatch;
use crate::pages::{error_text, field_text, Choice, Errors, FormData};

use super::{forecast_choices, kind_choices, role_choices, roles_of, whole_number};

pub(super) struct ItemRow {
    pub(super) key: String,
    pub(super) zh: String,
    pub(super) en: String,
    pub(super) remove: bool,
    pub(super) error: Option<String>,
}

pub(super) struct ActionRow {
    pub(super) key: String,
    pub(super) zh: String,
    pub(super) en: String,
    pub(super) create_task: bool,
    pub(super) due: String,
    pub(super) required: bool,
    pub(super) remove: bool,
    pub(super) error: Option<String>,
}

/// A stage's edit form as shown: from the stage, or as the admin posted it.
pub(super) struct StageForm {
    name_zh: String,
    name_en: String,
    kind: String,
    probability: String,
    forecast: String,
    rotting_days: String,
    guidance: String,
    fields: Vec<String>,
    pub(super) checklist: Vec<ItemRow>,
    roles: Vec<String>,
    requires_approval: bool,
    actions: Vec<ActionRow>,
    pub(super) notice: Option<String>,
}

impl StageForm {
    pub(super) fn of(s: &Stage) -> StageForm {
        StageForm {
            name_zh: s.name_zh.clone(),
            name_en: s.name_en.clone(),
            kind: s.kind.as_str().into(),
            probability: s.probability.to_string(),
            forecast: s.forecast_category.as_str().into(),
            rotting_days: s.rotting_days.map(|d| d.to_string()).unwrap_or_default(),
            guidance: s.guidance.clone().unwrap_or_default(),
            fields: s.gate.required_fields.clone(),
            checklist: s
                .gate
                .checklist
                .iter()
                .map(|c| ItemRow {
                    key: c.key.clone(),
                    zh: c.label_zh.clone(),
                    en: c.label_en.clone(),
                    remove: false,
                    error: None,
                })
                .collect(),
            roles: s
                .gate
                .allowed_roles
                .iter()
                .map(|r| r.as_str().to_string())
                .collect(),
            requires_approval: s.gate.requires_approval,
            actions: s
                .actions
                .iter()
                .map(|a| ActionRow {
                    key: a.key.clone(),
                    zh: a.name_zh.clone(),
                    en: a.name_en.clone(),
                    create_task: a.create_task,
                    due: a
                        .due_working_days
                        .map(|d| d.to_string())
                        .unwrap_or_default(),
                    required: a.required_to_leave,
                    remove: false,
                    error: None,
                })
                .collect(),
            notice: None,
        }
    }

    /// The form as posted; rows left blank are dropped.
    pub(super) fn posted(f: &FormData) -> StageForm {
        let (ck_key, ck_zh, ck_en) = (f.all("ck_key"), f.all("ck_zh"), f.all("ck_en"));
        let at = |v: &[&str], i: usize| v.get(i).map_or(String::new(), |s| s.trim().to_string());
        let checklist = (0..ck_key.len())
            .map(|i| ItemRow {
                key: at(&ck_key, i),
                zh: at(&ck_zh, i),
                en: at(&ck_en, i),
                remove: f.has("ck_remove", &i.to_string()),
                error: None,
            })
            .filter(|r| !(r.key.is_empty() && r.zh.is_empty() && r.en.is_empty()))
            .collect();
        let (a_key, a_zh, a_en, a_due) = (
            f.all("act_key"),
            f.all("act_zh"),
            f.all("act_en"),
            f.all("act_due"),
        );
        let actions = (0..a_key.len())
            .map(|i| ActionRow {
                key: at(&a_key, i),
                zh: at(&a_zh, i),
                en: at(&a_en, i),
                create_task: f.has("act_task", &i.to_string()),
                due: at(&a_due, i),
                required: f.has("act_required", &i.to_string()),
                remove: f.has("act_remove", &i.to_string()),
                error: None,
            })
            .filter(|r| !(r.key.is_empty() && r.zh.is_empty() && r.en.is_empty()))
            .collect();
        StageForm {
            name_zh: f.get("name_zh").to_string(),
            name_en: f.get("name_en").to_string(),
            kind: f.text("kind"),
            probability: f.get("probability").to_string(),
            forecast: f.text("forecast_category"),
            rotting_days: f.get("rotting_days").to_string(),
            guidance: f.get("guidance").to_string(),
            fields: f
                .all("required_field")
                .iter()
                .map(|s| s.to_string())
                .collect(),
            checklist,
            roles: f
                .all("allowed_role")
                .iter()
                .map(|s| s.to_string())
                .collect(),
            requires_approval: f.has("requires_approval", "1"),
            actions,
            notice: None,
        }
    }

    /// The change the form asks for, with where each checklist item and action of the
    /// patch sits among the form's rows; or the form's own errors (numbers not numbers).
    pub(super) fn patch(&mut self, tr: Tr) -> Result<(StagePatch, Vec<usize>, Vec<usize>), Errors> {
        let mut errors = Errors::default();
        let probability = whole_number("probability", &self.probability, &mut errors, tr);
        let rotting_days = match self.rotting_days.trim() {
            "" => Field::Null,
            v => {
                whole_number("rotting_days", v, &mut errors, tr).map_or(Field::Absent, Field::Value)
            }
        };
        let kind = self.kind.parse::<StageKind>().ok();
        if kind.is_none() {
            errors.add("kind", field_text(tr, "kind", "unknown_choice"));
        }
        let forecast = self.forecast.parse::<ForecastCategory>().ok();
        if forecast.is_none() {
            errors.add(
                "forecast_category",
                field_text(tr, "forecast_category", "unknown_choice"),
            );
        }
        let mut ck_rows = Vec::new();
        let checklist = self
            .checklist
            .iter()
            .enumerate()
            .filter(|(_, r)| !r.remove)
            .map(|(i, r)| {
                ck_rows.push(i);
                ChecklistItem {
                    key: r.key.clone(),
                    label_zh: r.zh.clone(),
                    label_en: r.en.clone(),
                }
            })
            .collect();
        let mut act_rows = Vec::new();
        let mut actions = Vec::new();
        let mut bad_row = false;
        for (i, r) in self
            .actions
            .iter_mut()
            .enumerate()
            .filter(|(_, r)| !r.remove)
        {
            let due = match r.due.trim() {
                "" => None,
                d => match d.parse::<i32>() {
                    Ok(n) => Some(n),
                    Err(_) => {
                        r.error = Some(field_text(tr, "actions", "not_a_number"));
                        bad_row = true;
                        None
                    }
                },
            };
            act_rows.push(i);
            actions.push(StandardAction {
                key: r.key.clone(),
                name_zh: r.zh.clone(),
                name_en: r.en.clone(),
                create_task: r.create_task,
                due_working_days: due,
                required_to_leave: r.required,
            });
        }
        if bad_row || !errors.is_empty() {
            return Err(errors);
        }
        let guidance = match self.guidance.trim() {
            "" => Field::Null,
            g => Field::Value(g.to_string()),
        };
        let patch = StagePatch {
            name_zh: Some(self.name_zh.trim().to_string()),
            name_en: Some(self.name_en.trim().to_string()),
            kind,
            probability,
            forecast_category: forecast,
            rotting_days,
            guidance,
            gate: Some(StageGate {
                required_fields: self.fields.clone(),
                checklist,
                allowed_roles: roles_of(&self.roles.iter().map(String::as_str).collect::<Vec<_>>()),
                requires_approval: self.requires_approval,
            }),
            actions: Some(actions),
            archived: None,
        };
        Ok((patch, ck_rows, act_rows))
    }

    /// Puts an error of `ops::update_stage` beside its field: a checklist item or an action
    /// by its row, a stage field by its name, anything else on the form.
    pub(super) fn place(
        &mut self,
        errors: &mut Errors,
        tr: Tr,
        e: &AppError,
        ck_rows: &[usize],
        act_rows: &[usize],
    ) {
        let (field, text) = error_text(tr, e);
        let index = |prefix: &str| -> Option<usize> {
            field.strip_prefix(prefix)?.split(']').next()?.parse().ok()
        };
        if let Some(row) = index("gate.checklist[").and_then(|i| ck_rows.get(i)) {
            self.checklist[*row].error = Some(text);
        } else if let Some(row) = index("actions[").and_then(|i| act_rows.get(i)) {
            self.actions[*row].error = Some(text);
        } else if field.starts_with("gate.required_fields") {
            errors.add("required_fields", text);
        } else if [
            "name_zh",
            "name_en",
            "kind",
            "probability",
            "forecast_category",
            "rotting_days",
            "guidance",
        ]
        .contains(&field.as_str())
        {
            errors.add(field, text);
        } else {
            errors.add("form", text);
        }
    }
}

/// A stage form ready for the template: choices built and translated.
pub(super) struct StageFormView {
    pub(super) name_zh: String,
    pub(super) name_en: String,
    pub(super) kinds: Vec<Choice>,
    pub(super) probability: String,
    pub(super) forecasts: Vec<Choice>,
    pub(super) rotting_days: String,
    pub(super) guidance: String,
    pub(super) fields: Vec<Choice>,
    pub(super) checklist: Vec<ItemRow>,
    pub(super) roles: Vec<Choice>,
    pub(super) requires_approval: bool,
    pub(super) actions: Vec<ActionRow>,
    pub(super) notice: Option<String>,
}

impl StageFormView {
    /// `custom` are the opportunity custom fields (a gate names them `custom.<key>`).
    pub(super) fn new(tr: Tr, f: StageForm, custom: &[&CustomFieldDef]) -> StageFormView {
        let mut fields: Vec<Choice> = GATE_FIELDS
            .iter()
            .map(|(name, zh, en)| {
                let label = if tr.is_zh() { *zh } else { *en };
                Choice::new(*name, label, f.fields.iter().any(|x| x == name))
            })
            .collect();
        // Archived fields only while a gate still names them, so that saving keeps them.
        for def in custom {
            let name = format!("custom.{}", def.key);
            let checked = f.fields.contains(&name);
            if def.archived && !checked {
                continue;
            }
            let mut label = crate::pages::custom_fields::label(tr, def);
            if def.archived {
                label = format!("{label} ({})", tr.t("pipelines.archived"));
            }
            fields.push(Choice::new(name, label, checked));
        }
        // A custom field the directory no longer has, still named by the gate.
        for name in &f.fields {
            if !fields.iter().any(|c| &c.value == name) {
                fields.push(Choice::new(name.clone(), name.clone(), true));
            }
        }
        let roles: Vec<&str> = f.roles.iter().map(String::as_str).collect();
        StageFormView {
            kinds: kind_choices(tr, &f.kind),
            forecasts: forecast_choices(tr, &f.forecast),
            roles: role_choices(tr, &roles),
            fields,
            name_zh: f.name_zh,
            name_en: f.name_en,
            probability: f.probability,
            rotting_days: f.rotting_days,
            guidance: f.guidance,
            checklist: f.checklist,
            requires_approval: f.requires_approval,
            actions: f.actions,
            notice: f.notice,
        }
    }
}
