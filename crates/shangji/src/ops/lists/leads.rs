//! Working a lead: qualify it into account, contact and opportunity in one transaction, or
//! disqualify it with a reason.

use serde::{Deserialize, Serialize};
use shangji_core::model::*;
use shangji_core::opportunity::{self, OpportunityInput};
use shangji_core::records::{AccountInput, ContactInput};
use shangji_core::FieldError;
use shangji_store::{Db, LeadOutcome, Match, NewAccount, NewContact, NewOpportunity};
use time::Date;

use crate::error::AppError;
use crate::ops::{
    apply_custom, check_owner, check_version, for_update, pipeline_for, Ctx, Record, Resource,
};

/// An opportunity created with a lead's qualification.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConvertOpportunity {
    pub title: String,
    #[serde(default)]
    pub amount_minor: Option<i64>,
    /// Default CNY.
    #[serde(default)]
    pub currency: Option<String>,
    /// Default: the default pipeline.
    #[serde(default)]
    pub pipeline_id: Option<PipelineId>,
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Date)]
    pub close_date: Option<Date>,
}

/// Qualifying a lead: the account (an existing one by `account_id`, else a new one named
/// `account_name` or the lead's company), the contact (`contact_name` or the lead's contact,
/// with the lead's mobile, email, WeChat and title) and optionally an opportunity.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConvertInput {
    #[serde(default)]
    pub version: Option<i64>,
    #[serde(default)]
    pub account_id: Option<AccountId>,
    #[serde(default)]
    pub account_name: Option<String>,
    #[serde(default)]
    pub credit_code: Option<String>,
    #[serde(default)]
    pub contact_name: Option<String>,
    #[serde(default)]
    pub opportunity: Option<ConvertOpportunity>,
    /// Create the new account even though it looks like an existing one (a
    /// `possible_duplicate` answer).
    #[serde(default)]
    pub allow_duplicate: bool,
}

/// What a qualification wrote.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Converted {
    pub lead: Lead,
    pub account: Account,
    /// False when an existing account was linked.
    pub account_created: bool,
    pub contact: Contact,
    pub opportunity: Option<Opportunity>,
}

/// Disqualifying a lead: the reason is required.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisqualifyInput {
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub version: Option<i64>,
}

/// Names an error of one of the new records by the form field it comes from.
fn prefixed(e: AppError, map: &[(&str, &str)], prefix: &str) -> AppError {
    let rename = |mut f: FieldError| {
        f.field = map
            .iter()
            .find(|(from, _)| *from == f.field)
            .map_or_else(|| format!("{prefix}.{}", f.field), |(_, to)| to.to_string());
        f
    };
    match e {
        AppError::Invalid(f) => AppError::Invalid(rename(f)),
        AppError::BadRequest(f) => AppError::BadRequest(rename(f)),
        e => e,
    }
}

fn input_of<I: serde::de::DeserializeOwned>(v: serde_json::Value) -> Result<I, AppError> {
    serde_json::from_value(v).map_err(|e| AppError::invalid("", "invalid_value", e.to_string()))
}

/// A lead still being worked (new or working) may be qualified or disqualified.
async fn open_lead(db: &Db, ctx: &Ctx, id: LeadId, version: Option<i64>) -> Result<Lead, AppError> {
    let lead = for_update::<Lead>(db, ctx, id).await?;
    check_version(lead.version, version)?;
    if !matches!(lead.status, LeadStatus::New | LeadStatus::Working) {
        return Err(AppError::invalid(
            "status",
            "lead_closed",
            format!("the lead is already {}", lead.status.as_str()),
        ));
    }
    Ok(lead)
}

/// Accounts in the caller's scope that a lead may be the same company as: the same credit
/// code, or the same name.
pub async fn matching_accounts(
    db: &Db,
    ctx: &Ctx,
    name: Option<&str>,
    credit_code: Option<&str>,
) -> Result<Vec<Account>, AppError> {
    let mut m = Vec::new();
    if let Some(c) = credit_code.map(str::trim).filter(|c| !c.is_empty()) {
        m.push(Match::Eq("credit_code", c.to_ascii_uppercase()));
    }
    if let Some(n) = name.map(str::trim).filter(|n| !n.is_empty()) {
        m.push(Match::Eq("name", n.to_string()));
    }
    Ok(db.search::<Account>(&ctx.scope, &m, 5).await?)
}

/// Qualifies a lead: checks every new record as its own create would, then writes the
/// account (unless an existing one is linked), the contact, the opportunity with its
/// history, the lead (now qualified) and the outcome linking them — in one transaction.
pub async fn convert_lead(
    db: &Db,
    ctx: &Ctx,
    id: LeadId,
    input: ConvertInput,
) -> Result<Converted, AppError> {
    let mut lead = open_lead(db, ctx, id, input.version).await?;
    let owner = lead.owner_id.unwrap_or(ctx.actor.user_id);
    check_owner(ctx, "owner_id", Some(owner), Some(ctx.actor.user_id))?;
    let clean = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };

    // The account: linked, or new.
    let mut account_review = None;
    let (account, account_changes, created) = match input.account_id {
        Some(account_id) => {
            let a = db
                .get::<Account>(account_id, &ctx.scope, shangji_store::Access::Read)
                .await?
                .ok_or_else(|| {
                    AppError::invalid(
                        "account_id",
                        "unknown_reference",
                        format!("account {account_id} does not exist"),
                    )
                })?;
            (a, vec![], false)
        }
        None => {
            let name = clean(&input.account_name).or_else(|| clean(&lead.company_name));
            let Some(name) = name else {
                return Err(AppError::invalid(
                    "account_name",
                    "required",
                    "name the account",
                ));
            };
            let mut a = Account::blank(ctx);
            let body = serde_json::json!({
                "name": name,
                "credit_code": clean(&input.credit_code),
                "region": lead.region,
                "industry": lead.industry,
                "source": lead.source,
                "owner_id": owner,
            });
            let map = [("name", "account_name"), ("credit_code", "credit_code")];
            a.apply(input_of::<AccountInput>(body)?, true, ctx.now)
                .map_err(|e| prefixed(e.into(), &map, "account"))?;
            let changes = apply_custom(db, ctx, &mut a, None, true)
                .await
                .map_err(|e| prefixed(e, &map, "account"))?;
            // A new account is matched like any other (the lead itself aside).
            let mut keys = a.match_keys();
            if let Some(k) = keys.as_mut() {
                k.probe.exclude = Some((RecordKind::Lead, lead.id));
            }
            account_review =
                crate::ops::duplicates::guard(db, ctx, keys, input.allow_duplicate).await?;
            (a, changes, true)
        }
    };

    // The contact.
    let Some(contact_name) = clean(&input.contact_name).or_else(|| clean(&lead.contact_name))
    else {
        return Err(AppError::invalid(
            "contact_name",
            "required",
            "name the contact",
        ));
    };
    let mut contact = Contact::blank(ctx);
    let body = serde_json::json!({
        "name": contact_name,
        "mobile": lead.mobile,
        "email": lead.email,
        "wechat": lead.wechat,
        "title": lead.title,
        "owner_id": owner,
    });
    let map = [("name", "contact_name")];
    contact
        .apply(input_of::<ContactInput>(body)?, true, ctx.now)
        .map_err(|e| prefixed(e.into(), &map, "contact"))?;
    let contact_changes = apply_custom(db, ctx, &mut contact, None, true)
        .await
        .map_err(|e| prefixed(e, &map, "contact"))?;
    // The new contact is matched too: its mobile and email are the lead's, so the lead
    // itself aside.
    let mut keys = contact.match_keys();
    if let Some(k) = keys.as_mut() {
        k.probe.exclude = Some((RecordKind::Lead, lead.id));
    }
    let contact_review =
        crate::ops::duplicates::guard(db, ctx, keys, input.allow_duplicate).await?;

    // The opportunity, if asked for.
    let mut opportunity = None;
    if let Some(o) = &input.opportunity {
        let map: [(&str, &str); 0] = [];
        let pipeline =
            pipeline_for(ctx, o.pipeline_id).map_err(|e| prefixed(e, &map, "opportunity"))?;
        let mut body = serde_json::json!({
            "title": o.title,
            // The account's id is known once it is written; the store sets it.
            "account_id": account.id,
            "owner_id": owner,
            "source": lead.source,
        });
        if let Some(a) = o.amount_minor {
            body["amount_minor"] = a.into();
        }
        if let Some(c) = &o.currency {
            body["currency"] = c.clone().into();
        }
        if let Some(d) = o.close_date {
            body["close_date"] = d.to_string().into();
        }
        let opp_input: OpportunityInput = input_of(body)?;
        let (mut opp, mut events) = opportunity::create(opp_input, pipeline, &ctx.actor, ctx.now)
            .map_err(|e| prefixed(e.into(), &map, "opportunity"))?;
        let changes = apply_custom(db, ctx, &mut opp, None, true)
            .await
            .map_err(|e| prefixed(e, &map, "opportunity"))?;
        opportunity::note_custom_values(&mut events, &opp.custom);
        opportunity = Some((opp, events, changes));
    }

    let before = lead.version;
    lead.status = LeadStatus::Qualified;
    lead.updated_at = ctx.now;
    let ids = db
        .save_lead_outcome(&LeadOutcome {
            lead: &lead,
            expected_version: before,
            outcome: "qualified",
            reason: None,
            new_account: created.then_some(NewAccount {
                account: &account,
                custom: &account_changes,
            }),
            account_id: (!created).then_some(account.id),
            contact: Some(NewContact {
                contact: &contact,
                custom: &contact_changes,
            }),
            opportunity: opportunity
                .as_ref()
                .map(|(opp, events, custom)| NewOpportunity {
                    opp,
                    events,
                    custom,
                }),
            actor_id: ctx.actor.user_id,
            at: ctx.now,
        })
        .await?;
    let account_id = ids.account_id.unwrap_or(account.id);
    let contact_id = ids.contact_id.unwrap_or_default();
    for (kind, id, review) in [
        (RecordKind::Account, account_id, account_review),
        (RecordKind::Contact, contact_id, contact_review),
    ] {
        if let Some(matched) = review {
            crate::ops::duplicates::send_for_review(db, ctx, kind, id, matched).await?;
        }
    }
    let account = if created {
        account.stored(account_id, 1)
    } else {
        account
    };
    contact.account_id = Some(account_id);
    let opportunity = opportunity.map(|(mut o, _, _)| {
        o.account_id = account_id;
        o.primary_contact_id = Some(contact_id);
        o.stored(ids.opportunity_id.unwrap_or_default(), 1)
    });
    if let Some(o) = &opportunity {
        crate::ops::automation::after_opportunity_write(db, ctx, None, o).await;
    }
    Ok(Converted {
        lead: lead.stored(id, before + 1),
        account,
        account_created: created,
        contact: contact.stored(contact_id, 1),
        opportunity,
    })
}

/// Disqualifies a lead with the reason, kept with the lead's outcomes.
pub async fn disqualify_lead(
    db: &Db,
    ctx: &Ctx,
    id: LeadId,
    input: DisqualifyInput,
) -> Result<Lead, AppError> {
    let reason = input.reason.trim().to_string();
    if reason.is_empty() {
        return Err(AppError::invalid(
            "reason",
            "required",
            "say why the lead is disqualified",
        ));
    }
    if reason.chars().count() > 500 {
        return Err(AppError::invalid(
            "reason",
            "too_long",
            "a reason has at most 500 characters",
        ));
    }
    let mut lead = open_lead(db, ctx, id, input.version).await?;
    let before = lead.version;
    lead.status = LeadStatus::Disqualified;
    lead.updated_at = ctx.now;
    db.save_lead_outcome(&LeadOutcome {
        lead: &lead,
        expected_version: before,
        outcome: "disqualified",
        reason: Some(reason),
        new_account: None,
        account_id: None,
        contact: None,
        opportunity: None,
        actor_id: ctx.actor.user_id,
        at: ctx.now,
    })
    .await?;
    Ok(lead.stored(id, before + 1))
}
