//! Notifications in words: what an approval request, a decision, a rule's firing or a digest
//! says to a person, in their language. Used by the pages (the notification list), by
//! `ops::delivery` (what a notification sends out) and by the digests, so a notification reads
//! the same everywhere. Beside `i18n`, whose catalogues hold the texts.

use serde_json::Value;
use shangji_core::model::{Notification, Stage, User};
use shangji_store::Directory;

use crate::i18n::Tr;

/// A notification in words, from its kind and payload, in the user's language.
pub fn note_text(tr: Tr, dir: &Directory, users: &[User], n: &Notification) -> String {
    let p = &n.payload;
    let person = |key: &str| {
        p.get(key)
            .and_then(Value::as_i64)
            .map_or_else(|| tr.t("value.none").to_string(), |id| user_name(users, id))
    };
    let title = p
        .get("title")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let stage = stage_name(tr, dir, p.get("to_stage_id").and_then(Value::as_i64));
    let args = |who: &str| {
        [
            ("who", who.to_string()),
            ("title", title.clone()),
            ("stage", stage.clone()),
        ]
    };
    let fmt = |key: &str, who: &str| {
        let a = args(who);
        let refs: Vec<(&str, &str)> = a.iter().map(|(k, v)| (*k, v.as_str())).collect();
        tr.fmt(key, &refs)
    };
    match n.kind.as_str() {
        "approval_requested" if p.get("requester_id").is_some() => {
            fmt("notify.approval_requested", &person("requester_id"))
        }
        // The next step of a chain: the previous approver approved.
        "approval_requested" => fmt("notify.approval_next", &person("approver_id")),
        "approval_approved" => fmt("notify.approval_approved", &person("approver_id")),
        "approval_rejected" => fmt("notify.approval_rejected", &person("approver_id")),
        "duplicate_review" => fmt("notify.duplicate_review", &person("requester_id")),
        "rule" => tr.fmt(
            "auto.note.rule",
            &[("rule", &rule_label(tr, p)), ("title", &title)],
        ),
        "rule_digest" => tr.fmt(
            "auto.note.digest",
            &[(
                "count",
                &p.get("count")
                    .and_then(Value::as_i64)
                    .unwrap_or(0)
                    .to_string(),
            )],
        ),
        // Kinds worded by whoever wrote them bring their own title.
        _ if !title.is_empty() => title,
        _ => tr.t("notify.other").to_string(),
    }
}

/// The rule a notification of a firing is about, by its stored name and template.
pub fn rule_label(tr: Tr, p: &Value) -> String {
    rule_name(
        tr,
        p.get("rule_name")
            .and_then(Value::as_str)
            .unwrap_or_default(),
        p.get("template_key").and_then(Value::as_str),
    )
}

/// A rule's name: a template's in the user's language while the admin kept its name.
pub fn rule_name(tr: Tr, name: &str, template: Option<&str>) -> String {
    let shipped = template.and_then(|k| tr.get(&format!("auto.template.{k}")));
    match shipped {
        Some(t) if !tr.is_zh() && !name.is_ascii() => t.to_string(),
        _ => name.to_string(),
    }
}

fn stage_in(dir: &Directory, id: i64) -> Option<&Stage> {
    dir.pipelines.iter().find_map(|p| p.stage(id))
}

/// A stage by id in any pipeline, in the user's language ("—" for none or an unknown id).
pub fn stage_name(tr: Tr, dir: &Directory, id: Option<i64>) -> String {
    id.and_then(|id| stage_in(dir, id))
        .map_or_else(|| "—".to_string(), |s| s.name(tr.lang).to_string())
}

/// A user's display name (`#id` for an unknown user).
pub fn user_name(users: &[User], id: i64) -> String {
    users
        .iter()
        .find(|u| u.id == id)
        .map_or_else(|| format!("#{id}"), |u| u.display_name.clone())
}
