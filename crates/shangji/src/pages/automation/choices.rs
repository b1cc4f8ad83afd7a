//! The rule's form: what the page offers (the selects' options, grouped fields, the value
//! control a field and operator call for).

use shangji_core::rules::{FieldCatalog, FieldType, RecordType};
use shangji_store::Directory;

use crate::i18n::Tr;

use super::form::{takes_list, takes_no_value};

/// A choice of a select.
#[derive(Debug, Clone, serde::Serialize)]
pub(super) struct Choice {
    pub(super) value: String,
    label: String,
}

pub(super) fn choice(value: impl Into<String>, label: impl Into<String>) -> Choice {
    Choice {
        value: value.into(),
        label: label.into(),
    }
}

/// An option of a select, chosen or not.
pub(super) struct Opt {
    pub(super) value: String,
    pub(super) label: String,
    pub(super) selected: bool,
}

pub(super) struct OptGroup {
    pub(super) label: String,
    pub(super) options: Vec<Opt>,
}

/// A field a row may name, as the selects and the page's script see it.
#[derive(Debug, Clone, serde::Serialize)]
pub(super) struct FieldChoice {
    pub(super) name: String,
    pub(super) label: String,
    #[serde(rename = "type")]
    field_type: &'static str,
    #[serde(skip)]
    pub(super) origin: shangji_core::rules::FieldOrigin,
    /// The operators of its type.
    pub(super) ops: Vec<Choice>,
    /// The values to choose from (stages, users, yes / no, options); empty: typed.
    options: Vec<Choice>,
    pub(super) settable: bool,
}

/// What the rule's form offers, in the page's language.
pub(super) struct Choices {
    pub(super) cat: FieldCatalog,
    pub(super) fields: Vec<FieldChoice>,
    pub(super) stages: Vec<Choice>,
    pub(super) users: Vec<Choice>,
    pub(super) assignment_rules: Vec<Choice>,
    pub(super) policies: Vec<Choice>,
}

pub(super) const TRIGGER_KINDS: [&str; 6] = [
    "schedule",
    "created",
    "updated",
    "field_changed",
    "stage_entered",
    "stage_left",
];
pub(super) const ACTION_KINDS: [&str; 6] = [
    "notify",
    "create_task",
    "set_field",
    "assign",
    "return_to_pool",
    "request_approval",
];
pub(super) const RECIPIENTS: [&str; 5] = ["owner", "manager", "director", "role", "user"];

/// An enum option's label: deal statuses, forecast categories and sources by name.
fn option_label(tr: Tr, field: &str, value: &str) -> String {
    let key = match field {
        "stage_kind" => format!("kind.{value}"),
        "forecast_category" => format!("forecast.{value}"),
        "source" => format!("source.{value}"),
        "status" => format!("lists.lead.{value}"),
        "size" => format!("records.size.{value}"),
        "grade" => return value.to_uppercase(),
        _ => return value.to_string(),
    };
    tr.get(&key).unwrap_or(value).to_string()
}

impl Choices {
    pub(super) fn build(
        tr: Tr,
        dir: &Directory,
        users: &[shangji_core::model::User],
        assignment_rules: Vec<Choice>,
        record_type: RecordType,
    ) -> Choices {
        let cat = match record_type {
            RecordType::Opportunity => {
                FieldCatalog::opportunity(&dir.custom_fields, &dir.pipelines, &[])
            }
            RecordType::Lead => FieldCatalog::lead(&dir.custom_fields, &[]),
            RecordType::Account => FieldCatalog::account(&dir.custom_fields, &[]),
        };
        let open: Vec<&shangji_core::model::Pipeline> =
            dir.pipelines.iter().filter(|p| !p.archived).collect();
        let stages: Vec<Choice> = dir
            .pipelines
            .iter()
            .flat_map(|p| p.stages.iter().filter(|s| !s.archived).map(move |s| (p, s)))
            .map(|(p, s)| {
                let name = s.name(tr.lang);
                choice(
                    s.id.to_string(),
                    if open.len() > 1 {
                        format!("{} · {name}", p.name)
                    } else {
                        name.to_string()
                    },
                )
            })
            .collect();
        let user_choices: Vec<Choice> = users
            .iter()
            .filter(|u| u.active)
            .map(|u| choice(u.id.to_string(), u.display_name.clone()))
            .collect();
        let fields = cat
            .fields
            .iter()
            .map(|f| {
                let options = match f.field_type {
                    FieldType::Stage => stages.clone(),
                    FieldType::User => user_choices.clone(),
                    FieldType::Bool => vec![
                        choice("true", tr.t("auto.form.yes")),
                        choice("false", tr.t("auto.form.no")),
                    ],
                    _ => {
                        let def = cat.custom_def(&f.name);
                        f.options
                            .iter()
                            .map(|o| {
                                let label = match def
                                    .and_then(|d| d.options.iter().find(|x| &x.value == o))
                                {
                                    Some(x) if !tr.is_zh() => {
                                        x.label_en.clone().unwrap_or_else(|| o.clone())
                                    }
                                    Some(_) => o.clone(),
                                    None => option_label(tr, &f.name, o),
                                };
                                choice(o.clone(), label)
                            })
                            .collect()
                    }
                };
                FieldChoice {
                    name: f.name.clone(),
                    label: if tr.is_zh() {
                        f.label_zh.clone()
                    } else {
                        f.label_en.clone()
                    },
                    field_type: f.field_type.as_str(),
                    origin: f.origin,
                    ops: f
                        .field_type
                        .ops()
                        .iter()
                        .map(|o| {
                            choice(
                                o.as_str(),
                                tr.get(&format!("auto.op.{o}")).unwrap_or(o.as_str()),
                            )
                        })
                        .collect(),
                    options,
                    settable: f.settable,
                }
            })
            .collect();
        Choices {
            cat,
            fields,
            stages,
            users: user_choices,
            assignment_rules,
            policies: dir
                .approval_policies
                .iter()
                .filter(|p| p.active)
                .map(|p| choice(p.id.to_string(), p.name.clone()))
                .collect(),
        }
    }

    /// The triggers a rule on this record type may have: no stage triggers but on
    /// opportunities.
    pub(super) fn trigger_kinds(&self) -> Vec<&'static str> {
        let stages = self.cat.record_type == RecordType::Opportunity;
        TRIGGER_KINDS
            .into_iter()
            .filter(|k| stages || !k.starts_with("stage_"))
            .collect()
    }

    /// The actions it may take: approvals on opportunities only, assignment rules for
    /// opportunities and leads.
    pub(super) fn action_kinds(&self) -> Vec<&'static str> {
        let t = self.cat.record_type;
        ACTION_KINDS
            .into_iter()
            .filter(|k| match *k {
                "request_approval" => t == RecordType::Opportunity,
                "assign" => t != RecordType::Account,
                _ => true,
            })
            .collect()
    }

    pub(super) fn field(&self, name: &str) -> Option<&FieldChoice> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The page script's view: each field's type, operators and options, and the words it
    /// needs.
    pub(super) fn script_json(&self, tr: Tr) -> String {
        let labels = serde_json::json!({
            "blank": tr.t("auto.form.choose"),
            "clear": tr.t("auto.form.clear"),
            "none": tr.t("auto.form.no_value"),
            "list": tr.t("auto.form.list_hint"),
            "yuan": tr.t("auto.form.yuan_hint"),
            "instant": tr.t("auto.form.instant_hint"),
        });
        crate::pages::script_json(&serde_json::json!({"fields": self.fields, "labels": labels}))
    }
}

/// `choices` as options, `selected` chosen; a chosen value not among them is kept, named as
/// it is.
pub(super) fn opts(choices: &[Choice], selected: &[&str]) -> Vec<Opt> {
    let mut out: Vec<Opt> = choices
        .iter()
        .map(|c| Opt {
            value: c.value.clone(),
            label: c.label.clone(),
            selected: selected.contains(&c.value.as_str()),
        })
        .collect();
    for s in selected {
        if !s.is_empty() && !choices.iter().any(|c| c.value == *s) {
            out.push(Opt {
                value: s.to_string(),
                label: s.to_string(),
                selected: true,
            });
        }
    }
    out
}

pub(super) fn word_opts(tr: Tr, prefix: &str, values: &[&str], selected: &str) -> Vec<Opt> {
    let choices: Vec<Choice> = values
        .iter()
        .map(|v| choice(*v, tr.t(&format!("{prefix}{v}"))))
        .collect();
    opts(&choices, &[selected])
}

/// How a value is entered: nothing, a select (one or several), or an input.
pub(super) struct Control {
    /// The posted name (`c0_value`, `a1_value`).
    pub(super) name: String,
    /// `none`, `select` or `input`.
    pub(super) kind: &'static str,
    pub(super) multiple: bool,
    /// The input's type (`text`, `date`) and input mode (`text`, `decimal`).
    pub(super) input: &'static str,
    pub(super) mode: &'static str,
    pub(super) placeholder: String,
    pub(super) value: String,
    pub(super) options: Vec<Opt>,
}

/// The value control of `field` compared by `op` (a `set_field` value when `clearing`: a
/// blank choice clears the field). The page's script builds the same controls.
pub(super) fn control(
    tr: Tr,
    ch: &Choices,
    name: String,
    field: &str,
    op: &str,
    values: &[String],
    clearing: bool,
) -> Control {
    let mut c = Control {
        name,
        kind: "input",
        multiple: false,
        input: "text",
        mode: "text",
        placeholder: String::new(),
        value: values.join(", "),
        options: vec![],
    };
    if takes_no_value(op) {
        c.kind = "none";
        return c;
    }
    let info = ch.field(field);
    if let Some(f) = info.filter(|f| !f.options.is_empty()) {
        c.kind = "select";
        c.multiple = takes_list(op);
        let chosen: Vec<&str> = values.iter().map(String::as_str).collect();
        c.options = opts(&f.options, &chosen);
        if !c.multiple {
            c.options.insert(
                0,
                Opt {
                    value: String::new(),
                    label: tr
                        .t(if clearing {
                            "auto.form.clear"
                        } else {
                            "auto.form.choose"
                        })
                        .to_string(),
                    selected: values.iter().all(|v| v.is_empty()),
                },
            );
        }
        return c;
    }
    if takes_list(op) {
        c.placeholder = tr.t("auto.form.list_hint").to_string();
        return c;
    }
    match info.map(|f| f.field_type) {
        Some("date") => c.input = "date",
        Some("number") => c.mode = "decimal",
        Some("money") => {
            c.mode = "decimal";
            c.placeholder = tr.t("auto.form.yuan_hint").to_string();
        }
        Some("instant") => c.placeholder = tr.t("auto.form.instant_hint").to_string(),
        _ => {}
    }
    c
}
