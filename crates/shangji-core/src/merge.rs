//! Merging two records of one kind (accounts, contacts, leads): the survivor keeps its id and
//! takes, field by field, the values the user picked from the merged record; everything that
//! pointed at the merged record (contacts, deals, follow-ups, tasks, custom values it has and
//! the survivor lacks, history) moves to the survivor, and the merged record is archived with a
//! copy of what it was kept in the merge log. Pure: which fields may be picked, and picking.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::error::FieldError;
use crate::model::{Id, RecordKind, UserId};

/// The fields a user picks between, per kind (their JSON names).
pub fn fields(kind: RecordKind) -> &'static [&'static str] {
    match kind {
        RecordKind::Account => &[
            "name",
            "credit_code",
            "industry",
            "region",
            "size",
            "source",
            "owner_id",
            "tags",
            "address",
            "notes",
        ],
        RecordKind::Contact => &[
            "name",
            "account_id",
            "title",
            "mobile",
            "phone",
            "email",
            "wechat",
            "buying_role",
            "owner_id",
        ],
        RecordKind::Lead => &[
            "company_name",
            "contact_name",
            "title",
            "mobile",
            "email",
            "wechat",
            "region",
            "industry",
            "source",
            "owner_id",
            "notes",
        ],
        RecordKind::Opportunity => &[],
    }
}

/// A merge as the API and the page send it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeInput {
    /// The record merged into this one (archived afterwards).
    pub merged_id: Id,
    /// Fields whose value the survivor takes from the merged record; the others keep the
    /// survivor's.
    #[serde(default)]
    pub take: Vec<String>,
    /// The survivor's version as read (a stale one is refused).
    #[serde(default)]
    pub version: Option<i64>,
}

/// One merge, as the log keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Merge {
    pub id: Id,
    pub record_kind: RecordKind,
    pub survivor_id: Id,
    pub merged_id: Id,
    pub actor_id: UserId,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The fields taken from the merged record.
    pub taken: Vec<String>,
    /// The merged record as it was just before the merge.
    #[schema(value_type = Object)]
    pub merged: Value,
}

/// The survivor (as JSON) with the `take` fields of `merged`; a field that cannot be picked
/// is refused by name.
pub fn pick(
    kind: RecordKind,
    survivor: &Value,
    merged: &Value,
    take: &[String],
) -> Result<Value, Vec<FieldError>> {
    let allowed = fields(kind);
    let errors: Vec<FieldError> = take
        .iter()
        .enumerate()
        .filter(|(_, f)| !allowed.contains(&f.as_str()))
        .map(|(i, f)| {
            FieldError::new(
                &format!("take[{i}]"),
                "unknown_field",
                format!(
                    "`{f}` is not a field a merge picks; use one of {}",
                    allowed.join(", ")
                ),
            )
        })
        .collect();
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut out = survivor.clone();
    for f in take {
        out[f.as_str()] = merged.get(f.as_str()).cloned().unwrap_or(Value::Null);
    }
    Ok(out)
}

/// The fields worth offering: those whose values differ, and which the survivor should take
/// by default (it has none, the merged record has one).
pub fn differences(
    kind: RecordKind,
    survivor: &Value,
    merged: &Value,
) -> Vec<(&'static str, bool)> {
    let empty = |v: Option<&Value>| match v {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        _ => false,
    };
    fields(kind)
        .iter()
        .filter(|f| survivor.get(**f) != merged.get(**f))
        .map(|f| (*f, empty(survivor.get(*f)) && !empty(merged.get(*f))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_survivor_takes_only_the_fields_picked() {
        let s =
            json!({"id": 1, "name": "字节跳动", "industry": null, "notes": "老客户", "version": 4});
        let m = json!({"id": 2, "name": "北京字节跳动科技有限公司", "industry": "互联网", "notes": "展会", "version": 9});
        let out = pick(
            RecordKind::Account,
            &s,
            &m,
            &["name".into(), "industry".into()],
        )
        .unwrap();
        assert_eq!(out["name"], "北京字节跳动科技有限公司");
        assert_eq!(out["industry"], "互联网");
        assert_eq!(out["notes"], "老客户");
        assert_eq!(out["id"], 1);
        assert_eq!(out["version"], 4);
        let e = pick(RecordKind::Account, &s, &m, &["id".into()]).unwrap_err();
        assert_eq!(
            (e[0].field.as_str(), e[0].code.as_str()),
            ("take[0]", "unknown_field")
        );
        let e = pick(RecordKind::Lead, &s, &m, &["credit_code".into()]).unwrap_err();
        assert_eq!(e.len(), 1);
    }

    #[test]
    fn differences_suggest_filling_what_the_survivor_lacks() {
        let s = json!({"name": "甲", "industry": null, "tags": [], "notes": "a", "region": "华东"});
        let m = json!({"name": "乙", "industry": "制造", "tags": ["重点"], "notes": "", "region": "华东"});
        let d = differences(RecordKind::Account, &s, &m);
        assert_eq!(
            d,
            [
                ("name", false),
                ("industry", true),
                ("tags", true),
                ("notes", false)
            ]
        );
    }
}
