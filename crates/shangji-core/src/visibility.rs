//! Who may see and edit what. Decided here, once; the store turns a [`Scope`] into SQL in
//! exactly one function, and every list, get, search, update and export goes through it.
//!
//! - admin: everything;
//! - director: their team's subtree, or the whole company when placed at the root (or on
//!   no team);
//! - manager: their team's subtree (plus what they own themselves);
//! - rep: what they own; read-only, the accounts (and their contacts) on which they own an
//!   opportunity.

use serde::{Deserialize, Serialize};

use crate::model::{Role, Team, TeamId, UserId};

/// The signed-in user (or API token holder) on whose behalf an operation runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub user_id: UserId,
    pub role: Role,
    pub team_id: Option<TeamId>,
}

/// The set of owners whose records an actor sees and edits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    All,
    /// Records owned by `user_id` or by any user on one of `teams` — listed in `members`
    /// (sorted, with `user_id`), so that the store filters on an owner list the database can
    /// use an index for. Users who left stay members: their records stay visible.
    Teams {
        user_id: UserId,
        teams: Vec<TeamId>,
        members: Vec<UserId>,
    },
    /// Records owned by `user_id` only.
    Own {
        user_id: UserId,
    },
}

/// The organisation chart visibility is decided from: every team, and the team of every
/// user (active or not).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Org {
    pub teams: Vec<Team>,
    pub users: Vec<(UserId, Option<TeamId>)>,
}

impl Org {
    /// The users (active or not) on any team of the subtree rooted at `team`, by id.
    pub fn members(&self, team: TeamId) -> Vec<UserId> {
        let teams = subtree(&self.teams, team);
        self.users
            .iter()
            .filter(|(_, t)| t.is_some_and(|t| teams.contains(&t)))
            .map(|(u, _)| *u)
            .collect()
    }
}

/// All team ids in the subtree rooted at `root` (including `root`), in breadth-first order.
pub fn subtree(teams: &[Team], root: TeamId) -> Vec<TeamId> {
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() {
        let parent = out[i];
        for t in teams {
            if t.parent_id == Some(parent) && !out.contains(&t.id) {
                out.push(t.id);
            }
        }
        i += 1;
    }
    out
}

pub fn scope(actor: &Actor, org: &Org) -> Scope {
    let own = Scope::Own {
        user_id: actor.user_id,
    };
    let team_scope = |team: TeamId| {
        let mut members = org.members(team);
        members.push(actor.user_id);
        members.sort_unstable();
        members.dedup();
        Scope::Teams {
            user_id: actor.user_id,
            teams: subtree(&org.teams, team),
            members,
        }
    };
    match (actor.role, actor.team_id) {
        (Role::Admin, _) => Scope::All,
        (Role::Director, None) => Scope::All,
        (Role::Director, Some(team)) => {
            let at_root = org
                .teams
                .iter()
                .any(|t| t.id == team && t.parent_id.is_none());
            if at_root {
                Scope::All
            } else {
                team_scope(team)
            }
        }
        (Role::Manager, Some(team)) => team_scope(team),
        (Role::Manager, None) | (Role::Rep, _) => own,
    }
}

impl Scope {
    /// Whether a record owned by `owner` is in scope.
    pub fn covers(&self, owner: Option<UserId>) -> bool {
        match self {
            Scope::All => true,
            Scope::Own { user_id } => owner == Some(*user_id),
            Scope::Teams { members, .. } => {
                owner.is_some_and(|o| members.binary_search(&o).is_ok())
            }
        }
    }

    /// Whether the actor may manage other people's records (assign owners, see unowned ones).
    pub fn is_manager(&self) -> bool {
        !matches!(self, Scope::Own { .. })
    }
}

/// The public pool (公海). Everyone signed in sees what waits in it; reps and managers may
/// claim from it (within the daily limit, `assignment::check_claim`); anyone who manages
/// others may hand a pool opportunity to a user in their scope, or by the assignment rules.
pub mod pool {
    use super::{Role, Scope, UserId};

    /// Whether a user with `role` may claim a pool opportunity for themselves.
    pub fn may_claim(role: Role) -> bool {
        matches!(role, Role::Rep | Role::Manager)
    }

    /// Whether the actor may give a pool opportunity to `to` (`None`: by the rules).
    pub fn may_assign(scope: &Scope, to: Option<UserId>) -> bool {
        scope.is_manager() && to.is_none_or(|u| scope.covers(Some(u)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn team(id: TeamId, parent: Option<TeamId>) -> Team {
        Team {
            id,
            name: format!("t{id}"),
            parent_id: parent,
            archived: false,
        }
    }

    // 1 company → 2 华东 → 4 上海组, 5 杭州组; 1 → 3 华南
    fn tree() -> Vec<Team> {
        vec![
            team(1, None),
            team(2, Some(1)),
            team(3, Some(1)),
            team(4, Some(2)),
            team(5, Some(2)),
        ]
    }

    // Users: 9 the actor; 20 on 上海组 (4); 21 on 杭州组 (5); 22 on 华南 (3); 23 on no team.
    fn org() -> Org {
        Org {
            teams: tree(),
            users: vec![
                (9, Some(4)),
                (20, Some(4)),
                (21, Some(5)),
                (22, Some(3)),
                (23, None),
            ],
        }
    }

    #[test]
    fn scope_by_role_and_team() {
        let o = org();
        let actor = |role, team| Actor {
            user_id: 9,
            role,
            team_id: team,
        };
        let teams = |teams: &[TeamId], members: &[UserId]| Scope::Teams {
            user_id: 9,
            teams: teams.to_vec(),
            members: members.to_vec(),
        };
        let cases = [
            (actor(Role::Admin, Some(4)), Scope::All),
            (actor(Role::Director, Some(1)), Scope::All),
            (actor(Role::Director, None), Scope::All),
            (
                actor(Role::Director, Some(2)),
                teams(&[2, 4, 5], &[9, 20, 21]),
            ),
            (actor(Role::Manager, Some(4)), teams(&[4], &[9, 20])),
            // A manager placed on 华南 still sees their own records.
            (actor(Role::Manager, Some(3)), teams(&[3], &[9, 22])),
            (actor(Role::Manager, None), Scope::Own { user_id: 9 }),
            (actor(Role::Rep, Some(4)), Scope::Own { user_id: 9 }),
        ];
        for (a, want) in cases {
            assert_eq!(scope(&a, &o), want, "{a:?}");
        }
        // Members of a subtree, people on no team excluded.
        assert_eq!(o.members(2), vec![9, 20, 21]);
        assert_eq!(o.members(1), vec![9, 20, 21, 22]);
    }

    #[test]
    fn covers_members_only() {
        let s = Scope::Teams {
            user_id: 9,
            teams: vec![2, 4],
            members: vec![9, 20, 21],
        };
        let cases = [
            (s.clone(), Some(9), true),
            (s.clone(), Some(21), true),
            (s.clone(), Some(22), false),
            (s, None, false),
            (Scope::Own { user_id: 9 }, Some(9), true),
            (Scope::Own { user_id: 9 }, Some(8), false),
            (Scope::Own { user_id: 9 }, None, false),
            (Scope::All, None, true),
        ];
        for (scope, owner, want) in cases {
            assert_eq!(scope.covers(owner), want, "{scope:?} {owner:?}");
        }
    }

    #[test]
    fn subtree_survives_a_cycle() {
        let mut t = tree();
        t[0].parent_id = Some(5);
        let mut got = subtree(&t, 1);
        got.sort();
        assert_eq!(got, vec![1, 2, 3, 4, 5]);
    }
}
