//! What the cells of choice, region, pipeline, stage and loss-reason columns may name, with
//! their labels in both languages: the value questions of the preview ask with them, the
//! core reads cells with them, the templates list them.

use shangji_core::import as core;
use shangji_core::model::*;

use super::Ctx;
use crate::i18n::Tr;

/// The choice fields an import fills, the prefix of their codes' labels in the catalogues,
/// and their codes.
const CHOICE_FIELDS: [(&str, &str, &[&str]); 5] = [
    ("size", "lists.size", AccountSize::NAMES),
    ("source", "source", Source::NAMES),
    ("status", "lists.lead", LeadStatus::NAMES),
    ("buying_role", "lists.role", BuyingRole::NAMES),
    ("kind", "lists.activity", ActivityType::NAMES),
];

/// What a cell of the field `key` may be mapped to, each with its label in the user's
/// language: the choice's codes, the company's regions, pipelines, stages (of the default
/// pipeline first) or loss reasons.
pub fn value_options(ctx: &Ctx, tr: Tr, key: &str) -> Vec<(String, String)> {
    let field = key.trim_start_matches("contact.");
    let zh = tr.is_zh();
    let pipelines = || {
        let mut p: Vec<&Pipeline> = ctx.dir.pipelines.iter().filter(|p| !p.archived).collect();
        p.sort_by_key(|p| !p.is_default);
        p
    };
    match field {
        "region" => return regions(ctx).into_iter().map(|r| (r.clone(), r)).collect(),
        "pipeline_id" => {
            return pipelines()
                .iter()
                .map(|p| (p.id.to_string(), p.name.clone()))
                .collect()
        }
        "stage" => {
            let several = pipelines().len() > 1;
            return pipelines()
                .iter()
                .flat_map(|p| {
                    p.stages.iter().filter(|s| !s.archived).map(move |s| {
                        let name = if zh { &s.name_zh } else { &s.name_en };
                        let label = match several {
                            true => format!("{} · {name}", p.name),
                            false => name.clone(),
                        };
                        (s.id.to_string(), label)
                    })
                })
                .collect();
        }
        "loss_reason" => {
            return ctx
                .dir
                .loss_reasons
                .iter()
                .filter(|r| !r.archived)
                .map(|r| {
                    (
                        r.key.clone(),
                        if zh { &r.name_zh } else { &r.name_en }.clone(),
                    )
                })
                .collect()
        }
        _ => {}
    }
    CHOICE_FIELDS
        .iter()
        .find(|(f, _, _)| *f == field)
        .map(|(_, prefix, codes)| {
            codes
                .iter()
                .map(|c| (c.to_string(), tr.t(&format!("{prefix}.{c}")).to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// The labels naming each choice code, in both languages.
pub(super) fn choices() -> core::Choices {
    let mut out = core::Choices::new();
    for (field, prefix, codes) in CHOICE_FIELDS {
        out.insert(
            field,
            codes
                .iter()
                .map(|c| {
                    let key = format!("{prefix}.{c}");
                    let labels = [Language::ZhCn, Language::En]
                        .into_iter()
                        .map(|l| Tr::new(l).t(&key).to_string())
                        .filter(|l| *l != key)
                        .collect();
                    (*c, labels)
                })
                .collect(),
        );
    }
    out
}

/// The regions a row may name: the teams' (when the company has none, a region is free
/// text).
pub(super) fn regions(ctx: &Ctx) -> Vec<String> {
    let mut out: Vec<String> = ctx
        .dir
        .org
        .teams
        .iter()
        .flat_map(|t| t.regions.iter().cloned())
        .collect();
    out.sort();
    out.dedup();
    out
}
