//! The follow-ups and tasks of an import (`shangji_core::import::activities`): the records
//! each row names are found once per distinct name for the whole file — an account by name or
//! credit code (as duplicates are found), an opportunity by external id or title (within the
//! row's account), a contact by name (within the account, or the opportunity's), a lead by
//! company or contact name — and each row is then checked and written as any follow-up or
//! task is created (`check_part`, `create_part`: links readable by the importer, owner rules).
//! A follow-up on an opportunity or a contact also carries its account, as one logged on the
//! pages does. Every row creates: there are no duplicates to decide.

use std::collections::{BTreeSet, HashMap};

use serde_json::{Map, Value};
use shangji_core::import::activities::{self as core, Found, Named};
use shangji_core::import::{ImportBatch, ImportKind, ImportedRecord, OnDuplicate, Problem};
use shangji_core::model::*;
use shangji_store::Db;

use super::{
    account_named, check_part, column_of, create_part, errors_of, placed, write_part, written, Ctx,
    Planned,
};
use crate::error::AppError;
use crate::ops::records::check_owner;

/// Records a follow-up as written by the user its row names: the importer may name
/// themselves or anyone they may give records to (an active user within their scope — the
/// rule for an owner); without a name, the importer wrote it. The one place this is decided:
/// the preview and the run both call it.
fn set_author(ctx: &Ctx, activity: &mut Activity, author: Option<UserId>) -> Result<(), AppError> {
    let Some(author) = author else {
        return Ok(());
    };
    check_owner(ctx, "author_id", Some(author), Some(ctx.actor.user_id))?;
    activity.author_id = author;
    Ok(())
}

/// The records a file's rows name, each looked up once.
struct Known {
    /// Account texts (trimmed) → the account, if any.
    accounts: HashMap<String, Option<AccountId>>,
    contacts: Vec<Named>,
    deals: Vec<Named>,
    leads: Vec<Named>,
}

async fn known(db: &Db, plans: &[Planned]) -> Result<Known, AppError> {
    let distinct = |key: &str| -> Vec<String> {
        plans
            .iter()
            .filter_map(|p| p.inputs.refs.get(key))
            .map(|t| t.trim().to_string())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    };
    let named = async |kind: RecordKind, key: &str| -> Result<Vec<Named>, AppError> {
        let texts = distinct(key);
        if texts.is_empty() {
            return Ok(vec![]);
        }
        Ok(db.records_named(kind, &texts).await?)
    };
    let mut accounts = HashMap::new();
    let names: BTreeSet<String> = plans
        .iter()
        .filter_map(|p| p.inputs.account_ref.as_deref())
        .map(|t| t.trim().to_string())
        .collect();
    for name in names {
        let id = account_named(db, &name).await?;
        accounts.insert(name, id);
    }
    Ok(Known {
        accounts,
        contacts: named(RecordKind::Contact, "contact").await?,
        deals: named(RecordKind::Opportunity, "opportunity").await?,
        leads: named(RecordKind::Lead, "lead").await?,
    })
}

/// What a row is about, as found.
#[derive(Default)]
struct Links {
    account: Option<AccountId>,
    contact: Option<ContactId>,
    opportunity: Option<OpportunityId>,
    lead: Option<LeadId>,
}

/// Finds the records a row names; each name that finds none, or several, is a problem at its
/// column.
fn resolve(known: &Known, p: &mut Planned, column: &dyn Fn(&str) -> String) -> Links {
    let mut l = Links::default();
    let (account_ref, refs) = (p.inputs.account_ref.clone(), p.inputs.refs.clone());
    let inputs = &mut p.inputs;
    let row = inputs.row;
    let mut miss = |key: &str, code: &str, message: String| {
        inputs.problems.push(Problem {
            row,
            column: column(key),
            code: code.into(),
            message,
        })
    };
    let mut named_account = None;
    if let Some(name) = account_ref {
        match known.accounts.get(name.trim()).copied().flatten() {
            Some(id) => named_account = Some(id),
            None => miss(
                "account",
                "unknown_account",
                format!("no account is called or has the credit code “{name}”"),
            ),
        }
    }
    l.account = named_account;
    let kinds: [(&str, &[Named], &str, &str); 3] = [
        (
            "opportunity",
            &known.deals,
            "unknown_deal",
            "opportunity has the external id or title",
        ),
        (
            "contact",
            &known.contacts,
            "unknown_contact",
            "contact is called",
        ),
        (
            "lead",
            &known.leads,
            "unknown_lead",
            "lead has the company or contact name",
        ),
    ];
    for (key, named, code, what) in kinds {
        let Some(text) = refs.get(key).cloned() else {
            continue;
        };
        // A lead has no account; a deal and a contact are looked for within the row's.
        let within = if key == "lead" { None } else { l.account };
        let place = if within.is_some() {
            " at that account"
        } else {
            ""
        };
        match core::find(named, &text, within) {
            Found::One(id, account) => {
                match key {
                    "opportunity" => l.opportunity = Some(id),
                    "contact" => l.contact = Some(id),
                    _ => l.lead = Some(id),
                }
                if key != "lead" && l.account.is_none() {
                    l.account = account;
                }
            }
            Found::Nothing => miss(key, code, format!("no {what} “{text}”{place}")),
            Found::Several(n) => miss(
                key,
                "ambiguous_reference",
                format!("{n} records are called “{text}”{place}: name it more exactly"),
            ),
            Found::Elsewhere => miss(
                key,
                "reference_mismatch",
                format!("the opportunity “{text}” belongs to another account than the row's"),
            ),
        }
    }
    l
}

/// Reads the follow-ups or tasks of a file (read by the generic plan): their references found,
/// each checked as its record would be created; problems go on their rows.
pub(super) async fn plan(
    db: &Db,
    ctx: &Ctx,
    batch: &ImportBatch,
    plans: &mut [Planned],
    headers: &[String],
) -> Result<(), AppError> {
    let known = known(db, plans).await?;
    let column = |key: &str| column_of(headers, &batch.mapping, key);
    // Where the rule "about something" is told: the first column saying what it is about.
    let about = ["opportunity", "account", "contact", "lead"]
        .into_iter()
        .map(column)
        .find(|c| !c.is_empty())
        .unwrap_or_default();
    for p in plans.iter_mut() {
        let links = resolve(&known, p, &column);
        let (input, author) = match batch.kind {
            ImportKind::Activities => {
                let Some(mut input) = p.inputs.activity.take() else {
                    continue;
                };
                let author = core::take_author(&mut input);
                for (field, key, id) in [
                    ("account_id", "account", links.account),
                    ("contact_id", "contact", links.contact),
                    ("opportunity_id", "opportunity", links.opportunity),
                    ("lead_id", "lead", links.lead),
                ] {
                    if let Some(id) = id {
                        input.insert(field.into(), Value::from(id));
                    }
                    let at = Some(column(key)).filter(|c| !c.is_empty());
                    let at = at.unwrap_or_else(|| about.clone());
                    p.inputs.columns.insert(field.into(), at);
                }
                (input, author)
            }
            _ => {
                let Some(mut input) = p.inputs.task.take() else {
                    continue;
                };
                let (kind, id, key) = match (links.opportunity, links.account) {
                    (Some(o), _) => (RecordKind::Opportunity, Some(o), "opportunity"),
                    (None, a) => (RecordKind::Account, a, "account"),
                };
                if let Some(id) = id {
                    input.insert("record_kind".into(), Value::from(kind.as_str()));
                    input.insert("record_id".into(), Value::from(id));
                }
                let columns = &mut p.inputs.columns;
                columns.insert("record_id".into(), column(key));
                columns.insert("owner_id".into(), column("assignee_id"));
                (input, None)
            }
        };
        let before = p.inputs.problems.len();
        let record = check(db, ctx, batch.kind, p, input.clone(), author).await?;
        if before > 0 {
            // A rule's "required" where a cell was read with a problem already says that.
            let mut n = 0;
            p.inputs.problems.retain(|x| {
                n += 1;
                n <= before || x.code != "required"
            });
        }
        p.record = record;
        let mut input = input;
        if let Some(a) = author {
            input.insert("author_id".into(), Value::from(a));
        }
        match batch.kind {
            ImportKind::Activities => p.inputs.activity = Some(input),
            _ => p.inputs.task = Some(input),
        }
    }
    Ok(())
}

/// A follow-up or task checked as it would be created (a follow-up with its author): the
/// record as it would be stored, or its problems on the row.
async fn check(
    db: &Db,
    ctx: &Ctx,
    kind: ImportKind,
    p: &mut Planned,
    input: Map<String, Value>,
    author: Option<UserId>,
) -> Result<Option<Value>, AppError> {
    if kind != ImportKind::Activities {
        let c = check_part::<Task>(db, ctx, &mut p.inputs, "", Some(input), false).await?;
        return Ok(c.record.and_then(|r| serde_json::to_value(r).ok()));
    }
    let c = check_part::<Activity>(db, ctx, &mut p.inputs, "", Some(input), false).await?;
    let Some(mut a) = c.record else {
        return Ok(None);
    };
    match set_author(ctx, &mut a, author) {
        Ok(()) => Ok(serde_json::to_value(a).ok()),
        Err(e) => {
            for fe in errors_of(e)? {
                p.inputs.problems.push(placed(&p.inputs, "", fe));
            }
            Ok(None)
        }
    }
}

/// Writes a planned follow-up or task: created, as any other (a follow-up with its author).
pub(super) async fn write(
    db: &Db,
    ctx: &Ctx,
    batch: &ImportBatch,
    p: &Planned,
) -> Result<Vec<ImportedRecord>, AppError> {
    let row = p.inputs.row;
    if batch.kind == ImportKind::Tasks {
        let Some(input) = p.inputs.task.clone() else {
            return Ok(vec![]);
        };
        let create = OnDuplicate::Create;
        let (_, w) = write_part::<Task>(db, ctx, batch, row, input, create, None).await?;
        return Ok(w.into_iter().collect());
    }
    let Some(mut input) = p.inputs.activity.clone() else {
        return Ok(vec![]);
    };
    let author = core::take_author(&mut input);
    let adjust = move |a: &mut Activity| set_author(ctx, a, author);
    let a = create_part::<Activity>(db, ctx, (batch, row), input, false, &adjust).await?;
    Ok(vec![written(batch, row, None, &a)])
}
