//! A customer seen whole: the account 360 page's data, the contact page's data, and the
//! follow-ups logged with an account, a contact or a lead.

use serde::Serialize;
use shangji_core::model::*;
use shangji_core::opportunity::OpportunityEvent;
use shangji_core::Money;
use shangji_store::{Access, Db, ListQuery};
use utoipa::ToSchema;

use super::get;
use crate::error::AppError;
use crate::ops::Ctx;

/// Counts and amounts of an account's opportunities of one kind (open, won, lost); amounts
/// by currency, never mixed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindTotal {
    pub kind: StageKind,
    pub count: usize,
    pub amounts: Vec<Money>,
}

/// An account seen whole: its facts, contacts, opportunities, follow-ups and history.
#[derive(Debug, Clone)]
pub struct Account360 {
    pub account: Account,
    pub contacts: Vec<Contact>,
    /// Every opportunity on the account the caller can read, newest changed first.
    pub opportunities: Vec<Opportunity>,
    pub totals: Vec<KindTotal>,
    /// The latest customer-facing follow-up on the account or its opportunities.
    pub last_follow_up: Option<Activity>,
    /// Follow-ups, newest first.
    pub activities: Vec<Activity>,
    /// Events of its opportunities, newest first.
    pub events: Vec<OpportunityEvent>,
}

/// Open, won and lost totals of some opportunities (archived ones left out).
pub fn kind_totals(opps: &[Opportunity]) -> Vec<KindTotal> {
    [StageKind::Open, StageKind::Won, StageKind::Lost]
        .into_iter()
        .map(|kind| {
            let mut amounts: Vec<Money> = Vec::new();
            let mut count = 0;
            for o in opps.iter().filter(|o| o.status == kind && !o.archived) {
                count += 1;
                match amounts.iter_mut().find(|m| m.currency == o.amount.currency) {
                    Some(m) => m.amount_minor += o.amount.amount_minor,
                    None => amounts.push(o.amount.clone()),
                }
            }
            if amounts.is_empty() {
                amounts.push(Money::cny(0));
            }
            KindTotal {
                kind,
                count,
                amounts,
            }
        })
        .collect()
}

pub async fn account_360(db: &Db, ctx: &Ctx, id: AccountId) -> Result<Account360, AppError> {
    let account = get::<Account>(db, ctx, id).await?;
    let by_account = |limit| ListQuery {
        eq: vec![("account_id", id.into())],
        limit,
        ..Default::default()
    };
    let contacts = db
        .list::<Contact>(&ctx.scope, &by_account(200))
        .await?
        .items;
    let opportunities = db
        .list::<Opportunity>(&ctx.scope, &by_account(200))
        .await?
        .items;
    let ids: Vec<OpportunityId> = opportunities.iter().map(|o| o.id).collect();
    let activities = db.activities_about(&ctx.scope, Some(id), &ids, 200).await?;
    let events = db.events_of(&ids, 200).await?;
    let config = super::facts::facts_config(db).await?;
    let meaningful = |a: &Activity| !a.archived && config.meaningful.contains(&a.kind);
    let mut last_follow_up = activities.iter().find(|a| meaningful(a)).cloned();
    // A follow-up older than the ones listed can still be the latest meaningful one.
    if last_follow_up.is_none() {
        let latest = db
            .last_follow_ups(&ids, &config.kinds(), ctx.now)
            .await?
            .into_iter()
            .map(|(_, t)| t)
            .max();
        if let Some(at) = latest {
            last_follow_up = db
                .activities_about(&ctx.scope, None, &ids, 1000)
                .await?
                .into_iter()
                .find(|a| meaningful(a) && a.occurred_at == at);
        }
    }
    Ok(Account360 {
        totals: kind_totals(&opportunities),
        account,
        contacts,
        opportunities,
        last_follow_up,
        activities,
        events,
    })
}

/// A deal a contact takes part in, with the role they play in it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ContactDeal {
    pub opportunity: Opportunity,
    pub buying_role: Option<BuyingRole>,
    /// The contact is the deal's primary contact.
    pub primary: bool,
}

/// A contact with what its page shows.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Contact360 {
    pub contact: Contact,
    /// The contact's account, when the caller can read it.
    pub account: Option<Account>,
    /// The deals the contact takes part in (linked with a buying role, or as primary contact)
    /// that the caller can read, newest first.
    pub deals: Vec<ContactDeal>,
    /// Follow-ups logged with the contact, newest first.
    pub activities: Vec<Activity>,
}

/// The contact page's data: the contact, its account, its deals with buying roles and its
/// follow-ups — each within what the caller can read.
pub async fn contact_360(db: &Db, ctx: &Ctx, id: ContactId) -> Result<Contact360, AppError> {
    let contact = get::<Contact>(db, ctx, id).await?;
    let account = match contact.account_id {
        Some(a) => db.get::<Account>(a, &ctx.scope, Access::Read).await?,
        None => None,
    };
    let mut deals: Vec<ContactDeal> = Vec::new();
    for (opp_id, role) in db.contact_opportunities(id, 200).await? {
        if let Some(o) = db
            .get::<Opportunity>(opp_id, &ctx.scope, Access::Read)
            .await?
        {
            deals.push(ContactDeal {
                primary: o.primary_contact_id == Some(id),
                opportunity: o,
                buying_role: role,
            });
        }
    }
    let as_primary = ListQuery {
        eq: vec![("primary_contact_id", id.into())],
        limit: 200,
        ..Default::default()
    };
    for o in db.list::<Opportunity>(&ctx.scope, &as_primary).await?.items {
        if !deals.iter().any(|d| d.opportunity.id == o.id) {
            deals.push(ContactDeal {
                opportunity: o,
                buying_role: None,
                primary: true,
            });
        }
    }
    deals.sort_by_key(|d| std::cmp::Reverse(d.opportunity.updated_at));
    let activities = record_activities(db, ctx, RecordKind::Contact, id).await?;
    Ok(Contact360 {
        contact,
        account,
        deals,
        activities,
    })
}

/// The follow-ups logged with an account, a contact or a lead (not those of its deals), newest
/// first, within what the caller can read.
pub async fn record_activities(
    db: &Db,
    ctx: &Ctx,
    kind: RecordKind,
    id: i64,
) -> Result<Vec<Activity>, AppError> {
    let column = match kind {
        RecordKind::Account => "account_id",
        RecordKind::Contact => "contact_id",
        RecordKind::Lead => "lead_id",
        RecordKind::Opportunity => "opportunity_id",
    };
    let q = ListQuery {
        eq: vec![(column, id.into())],
        sort: "occurred_at",
        desc: true,
        limit: 200,
        ..Default::default()
    };
    Ok(db.list::<Activity>(&ctx.scope, &q).await?.items)
}
