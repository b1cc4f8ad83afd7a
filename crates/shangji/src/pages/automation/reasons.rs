//! How a rule's reasons read in the user's language: values, fields, comparisons and
//! triggers — for the rule pages and the pages that show what a rule did.

use serde_json::Value;
use shangji_core::rules::{Comparison, FieldCatalog, FieldType, Reason, Trigger};
use shangji_core::Money;
use shangji_store::Directory;

use crate::i18n::Tr;

/// A value of a reason as people read it.
pub(super) fn value_text(v: &Value) -> String {
    match v {
        Value::Null => "—".into(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(value_text).collect::<Vec<_>>().join("、"),
        Value::Object(m) => match (m.get("amount_minor"), m.get("currency")) {
            (Some(a), Some(c)) => format!("{} {}", value_text(a), value_text(c)),
            _ => v.to_string(),
        },
        other => other.to_string(),
    }
}

/// A value of a reason for a field of `field_type`, as people read it: money as money
/// (`currency` of the record's own amount when the rule gave none), a deal's status and its
/// stages by name; anything else as [`value_text`] words it.
fn typed_value_text(
    tr: Tr,
    dir: &Directory,
    field_type: Option<FieldType>,
    v: &Value,
    currency: &str,
) -> String {
    match (field_type, v) {
        (_, Value::Array(items)) => items
            .iter()
            .map(|i| typed_value_text(tr, dir, field_type, i, currency))
            .collect::<Vec<_>>()
            .join("、"),
        (Some(FieldType::Money), Value::Number(n)) => match n.as_i64() {
            Some(minor) => tr.money(&Money {
                amount_minor: minor,
                currency: currency.to_string(),
            }),
            None => value_text(v),
        },
        (Some(FieldType::Money), Value::Object(m)) => {
            match (
                m.get("amount_minor").and_then(Value::as_i64),
                m.get("currency").and_then(Value::as_str),
            ) {
                (Some(minor), Some(c)) => tr.money(&Money {
                    amount_minor: minor,
                    currency: c.to_string(),
                }),
                (Some(minor), None) => tr.money(&Money {
                    amount_minor: minor,
                    currency: currency.to_string(),
                }),
                _ => value_text(v),
            }
        }
        (Some(FieldType::Stage), Value::Number(n)) if n.as_i64().is_some() => {
            crate::pages::opportunity::stage_name(tr, dir, n.as_i64())
        }
        (Some(FieldType::Enum), Value::String(s))
            if matches!(s.as_str(), "open" | "won" | "lost") =>
        {
            tr.get(&format!("kind.{s}")).unwrap_or(s).to_string()
        }
        _ => value_text(v),
    }
}

/// A field's label in the user's language (the catalog's, else its name).
fn field_label(tr: Tr, dir: &Directory, field: &str) -> String {
    let cat = FieldCatalog::opportunity(&dir.custom_fields, &dir.pipelines, &[]);
    cat.field(field).map_or_else(
        || field.to_string(),
        |f| {
            if tr.is_zh() {
                f.label_zh.clone()
            } else {
                f.label_en.clone()
            }
        },
    )
}

/// The words of one comparison: the field's label, the operator and the compared value (and
/// the record's actual value) as people read them.
fn comparison_words(
    tr: Tr,
    dir: &Directory,
    field: &str,
    op: shangji_core::rules::Op,
    value: &Value,
    actual: &Value,
) -> [String; 4] {
    let op = tr
        .get(&format!("auto.op.{op}"))
        .unwrap_or(op.as_str())
        .to_string();
    let cat = FieldCatalog::opportunity(&dir.custom_fields, &dir.pipelines, &[]);
    let field_type = cat.field(field).map(|f| f.field_type);
    // Only `stage_kind` among the enums has the deal statuses as its values.
    let field_type = field_type.filter(|t| *t != FieldType::Enum || field == "stage_kind");
    let currency = actual
        .get("currency")
        .or_else(|| value.get("currency"))
        .and_then(Value::as_str)
        .unwrap_or("CNY");
    [
        field_label(tr, dir, field),
        op,
        typed_value_text(tr, dir, field_type, value, currency),
        typed_value_text(tr, dir, field_type, actual, currency),
    ]
}

/// One reason in words: "在当前阶段天数 ≥ 7（实际 9）" / "Days in stage ≥ 7 (actual 9)".
pub(super) fn reason_text(tr: Tr, dir: &Directory, r: &Reason) -> String {
    let [field, op, value, actual] = comparison_words(tr, dir, &r.field, r.op, &r.value, &r.actual);
    tr.fmt(
        if r.held {
            "auto.reason"
        } else {
            "auto.reason_not"
        },
        &[
            ("field", &field),
            ("op", &op),
            ("value", &value),
            ("actual", &actual),
        ],
    )
}

/// A condition's comparison in words: "来源 = 官网" / "Source = Website".
pub(in crate::pages) fn comparison_text(tr: Tr, dir: &Directory, c: &Comparison) -> String {
    let [field, op, value, _] = comparison_words(tr, dir, &c.field, c.op, &c.value, &Value::Null);
    tr.fmt(
        "auto.comparison",
        &[("field", &field), ("op", &op), ("value", &value)],
    )
}

/// Reasons stored as JSON, in words.
pub(in crate::pages) fn reasons_text(tr: Tr, dir: &Directory, v: &Value) -> Vec<String> {
    serde_json::from_value::<Vec<Reason>>(v.clone())
        .unwrap_or_default()
        .iter()
        .map(|r| reason_text(tr, dir, r))
        .collect()
}

pub(super) fn trigger_text(tr: Tr, dir: &Directory, t: &Trigger) -> String {
    let kind = match t {
        Trigger::Created => "created",
        Trigger::Updated => "updated",
        Trigger::FieldChanged { .. } => "field_changed",
        Trigger::StageEntered { .. } => "stage_entered",
        Trigger::StageLeft { .. } => "stage_left",
        Trigger::Schedule => "schedule",
    };
    let base = tr.t(match kind {
        "created" => "auto.trigger.created",
        "updated" => "auto.trigger.updated",
        "field_changed" => "auto.trigger.field_changed",
        "stage_entered" => "auto.trigger.stage_entered",
        "stage_left" => "auto.trigger.stage_left",
        _ => "auto.trigger.schedule",
    });
    match t {
        Trigger::FieldChanged { field } => format!("{base}: {}", field_label(tr, dir, field)),
        Trigger::StageEntered { stage: Some(s) } | Trigger::StageLeft { stage: Some(s) } => {
            format!(
                "{base}: {}",
                crate::pages::opportunity::stage_name(tr, dir, Some(*s))
            )
        }
        _ => base.to_string(),
    }
}
