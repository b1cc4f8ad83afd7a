//! Who a firing notifies, and how: each recipient gets their firings one by one, or — when
//! there are more than a handful at once, as after a downtime when the scheduler catches up
//! — one digest listing them all.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::eval::Firing;
use super::{Action, Recipient};
use crate::approval::{resolve_chain, Approver};
use crate::model::{Role, TeamId, UserId};
use crate::visibility::Org;

/// What one recipient is sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", content = "firings", rename_all = "snake_case")]
pub enum Delivery {
    /// One message per firing.
    Individual(Vec<Firing>),
    /// One message listing every firing.
    Digest(Vec<Firing>),
}

/// The delivery of one recipient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Batch {
    pub user_id: UserId,
    pub delivery: Delivery,
}

/// The users a recipient of a firing resolves to, along the team line of the record's
/// owner (`firing.owner_id`, the last owner while it is in the public pool). `users` are
/// (id, role, team, active); inactive users are never addressed.
///
/// - owner: the owner, if the record has one and they are active;
/// - manager / director: as approval chains find them (`approval::resolve_chain`): the
///   nearest on the owner's team line (for directors, else any), never the owner — except
///   that a manager who is the last owner of a record in the public pool is its manager;
/// - a role: every active user with it on the owner's team or a team above it (every
///   active admin for `admin`);
/// - a user: that user, if active.
pub fn resolve_recipient(
    to: &Recipient,
    firing: &Firing,
    org: &Org,
    users: &[(UserId, Role, Option<TeamId>, bool)],
) -> Vec<UserId> {
    let owner = firing.owner_id;
    let active = |id: UserId| users.iter().any(|u| u.0 == id && u.3);
    match to {
        Recipient::Owner => {
            if firing.assigned && active(owner) {
                vec![owner]
            } else {
                vec![]
            }
        }
        Recipient::Manager => {
            // In the pool the last owner owns nothing: a manager who put it there (or had
            // it last) is the manager to tell.
            let last_is_manager = users
                .iter()
                .any(|u| u.0 == owner && u.1 == Role::Manager && u.3);
            if !firing.assigned && last_is_manager {
                vec![owner]
            } else {
                resolve_chain(&[Approver::OwnerManager], owner, org, users)
            }
        }
        Recipient::Director => resolve_chain(&[Approver::Director], owner, org, users),
        Recipient::User { user_id } => {
            if active(*user_id) {
                vec![*user_id]
            } else {
                vec![]
            }
        }
        Recipient::Role { role } => {
            let mut line: Vec<TeamId> = Vec::new();
            let mut t = users.iter().find(|u| u.0 == owner).and_then(|u| u.2);
            while let Some(id) = t {
                if line.contains(&id) {
                    break;
                }
                line.push(id);
                t = org
                    .teams
                    .iter()
                    .find(|x| x.id == id)
                    .and_then(|x| x.parent_id);
            }
            users
                .iter()
                .filter(|u| u.1 == *role && u.3)
                .filter(|u| *role == Role::Admin || u.2.is_some_and(|t| line.contains(&t)))
                .map(|u| u.0)
                .collect()
        }
    }
}

/// Groups the notifications of `firings` by recipient: `recipients` resolves a `notify`
/// action's recipient for a firing (e.g. with [`resolve_recipient`]). A recipient with at
/// most `max_individual` firings gets them one by one, one with more gets a single digest.
/// A firing reaches a user once however many of its actions name them. Recipients in
/// user-id order, firings in the order given.
pub fn batch_for_delivery(
    firings: &[Firing],
    recipients: impl Fn(&Firing, &Recipient) -> Vec<UserId>,
    max_individual: usize,
) -> Vec<Batch> {
    let mut per_user: std::collections::BTreeMap<UserId, Vec<usize>> = Default::default();
    for (n, f) in firings.iter().enumerate() {
        for a in &f.actions {
            if let Action::Notify { to, .. } = a {
                for user in recipients(f, to) {
                    let list = per_user.entry(user).or_default();
                    if list.last() != Some(&n) {
                        list.push(n);
                    }
                }
            }
        }
    }
    per_user
        .into_iter()
        .map(|(user_id, idx)| {
            let list: Vec<Firing> = idx.into_iter().map(|n| firings[n].clone()).collect();
            Batch {
                user_id,
                delivery: if list.len() > max_individual {
                    Delivery::Digest(list)
                } else {
                    Delivery::Individual(list)
                },
            }
        })
        .collect()
}
