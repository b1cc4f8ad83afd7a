//! The filters of a list's form, with what the address holds.

use shangji_core::model::*;

use crate::i18n::Tr;
use crate::ops::lists::ListKind;
use crate::pages::{Choice, Viewer};

use super::param;

/// A filter of a list's form.
pub(super) struct FilterField {
    pub(super) name: String,
    pub(super) label: String,
    /// `select`, `text` or `date`.
    pub(super) input: &'static str,
    pub(super) value: String,
    pub(super) options: Vec<Choice>,
}

fn options(tr: Tr, names: &[&str], prefix: Option<&str>, current: &str) -> Vec<Choice> {
    let mut v = vec![Choice::new("", tr.t("lists.any"), current.is_empty())];
    v.extend(names.iter().map(|n| {
        let label = match prefix {
            Some(p) => tr
                .get(&format!("{p}.{n}"))
                .map_or_else(|| n.to_string(), str::to_string),
            None => n.to_uppercase(),
        };
        Choice::new(*n, label, *n == current)
    }));
    v
}

pub(super) fn users_in_scope(v: &Viewer, users: &[User]) -> Vec<User> {
    users
        .iter()
        .filter(|u| u.active && v.ctx.scope.covers(Some(u.id)))
        .cloned()
        .collect()
}

/// The filters of a kind's form, with what the address holds.
pub(super) fn filters(
    v: &Viewer,
    kind: ListKind,
    users: &[User],
    params: &[(String, String)],
) -> Vec<FilterField> {
    let tr = v.tr;
    let field = |name: &str, input: &'static str, options: Vec<Choice>| FilterField {
        name: name.to_string(),
        label: tr.t(&format!("lists.f.{name}")).to_string(),
        input,
        value: param(params, name).to_string(),
        options,
    };
    let select = |name: &str, names: &[&str], prefix: Option<&str>| {
        field(
            name,
            "select",
            options(tr, names, prefix, param(params, name)),
        )
    };
    let mut out = Vec::new();
    let owner = param(params, "owner_id");
    let mut owners = vec![Choice::new("", tr.t("lists.any"), owner.is_empty())];
    owners.extend(users_in_scope(v, users).iter().map(|u| {
        Choice::new(
            u.id.to_string(),
            u.display_name.clone(),
            u.id.to_string() == owner,
        )
    }));
    let owner_label = match kind {
        ListKind::Activities => "author_id",
        ListKind::Tasks => "assignee_id",
        _ => "owner_id",
    };
    out.push(FilterField {
        label: tr.t(&format!("lists.f.{owner_label}")).to_string(),
        ..field("owner_id", "select", owners)
    });
    let yes_no = |name: &str| {
        let cur = param(params, name);
        field(
            name,
            "select",
            vec![
                Choice::new("", tr.t("lists.any"), cur.is_empty()),
                Choice::new("true", tr.t("value.yes"), cur == "true"),
                Choice::new("false", tr.t("value.no"), cur == "false"),
            ],
        )
    };
    match kind {
        ListKind::Opportunities => {
            let cur = param(params, "pipeline_id");
            let mut pipelines = vec![Choice::new("", tr.t("lists.any"), cur.is_empty())];
            let mut stages = vec![Choice::new(
                "",
                tr.t("lists.any"),
                param(params, "stage_id").is_empty(),
            )];
            for p in v.ctx.dir.pipelines.iter().filter(|p| !p.archived) {
                pipelines.push(Choice::new(
                    p.id.to_string(),
                    p.name.clone(),
                    p.id.to_string() == cur,
                ));
                for s in p.stages.iter().filter(|s| !s.archived) {
                    stages.push(Choice::new(
                        s.id.to_string(),
                        format!("{} · {}", p.name, s.name(tr.lang)),
                        s.id.to_string() == param(params, "stage_id"),
                    ));
                }
            }
            out.push(field("pipeline_id", "select", pipelines));
            out.push(field("stage_id", "select", stages));
            out.push(select("status", StageKind::NAMES, Some("kind")));
            out.push(select("grade", Grade::NAMES, None));
            out.push(select("source", Source::NAMES, Some("source")));
            out.push(field("tag", "text", vec![]));
            out.push(field("close_from", "date", vec![]));
            out.push(field("close_to", "date", vec![]));
        }
        ListKind::Accounts => {
            out.push(select("source", Source::NAMES, Some("source")));
            out.push(select("size", AccountSize::NAMES, Some("lists.size")));
            out.push(field("region", "text", vec![]));
            out.push(field("industry", "text", vec![]));
            out.push(field("tag", "text", vec![]));
        }
        ListKind::Contacts => {
            out.push(select("buying_role", BuyingRole::NAMES, Some("lists.role")));
        }
        ListKind::Leads => {
            out.push(select("status", LeadStatus::NAMES, Some("lists.lead")));
            out.push(select("source", Source::NAMES, Some("source")));
            out.push(field("region", "text", vec![]));
        }
        ListKind::Activities => {
            out.push(select("kind", ActivityType::NAMES, Some("lists.activity")));
            out.push(yes_no("customer_facing"));
        }
        ListKind::Tasks => {
            out.push(yes_no("done"));
            out.push(field("due_from", "date", vec![]));
            out.push(field("due_to", "date", vec![]));
        }
    }
    out.push(field("created_from", "date", vec![]));
    out.push(field("created_to", "date", vec![]));
    let custom_kind = match kind {
        ListKind::Opportunities => Some(RecordKind::Opportunity),
        ListKind::Accounts => Some(RecordKind::Account),
        ListKind::Contacts => Some(RecordKind::Contact),
        ListKind::Leads => Some(RecordKind::Lead),
        _ => None,
    };
    if let Some(ck) = custom_kind {
        for d in v.ctx.dir.custom_fields_of(ck).filter(|d| !d.archived) {
            let name = format!("cf.{}", d.key);
            let cur = param(params, &name).to_string();
            let label = if tr.is_zh() {
                d.label_zh.clone()
            } else {
                d.label_en.clone()
            };
            let label = if label.trim().is_empty() {
                d.key.clone()
            } else {
                label
            };
            let live: Vec<_> = d.options.iter().filter(|o| !o.archived).collect();
            let (input, opts) = if live.is_empty() {
                ("text", vec![])
            } else {
                let mut o = vec![Choice::new("", tr.t("lists.any"), cur.is_empty())];
                o.extend(live.iter().map(|opt| {
                    let l = if tr.is_zh() {
                        opt.value.clone()
                    } else {
                        opt.label_en.clone().unwrap_or_else(|| opt.value.clone())
                    };
                    Choice::new(opt.value.clone(), l, opt.value == cur)
                }));
                ("select", o)
            };
            out.push(FilterField {
                name,
                label,
                input,
                value: cur,
                options: opts,
            });
        }
    }
    out
}
