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
    /// Records owned by `user_id` or by any user on one of `teams`.
    Teams {
        user_id: UserId,
        teams: Vec<TeamId>,
    },
    /// Records owned by `user_id` only.
    Own {
        user_id: UserId,
    },
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

pub fn scope(actor: &Actor, teams: &[Team]) -> Scope {
    let own = Scope::Own {
        user_id: actor.user_id,
    };
    let team_scope = |team: TeamId| Scope::Teams {
        user_id: actor.user_id,
        teams: subtree(teams, team),
    };
    match (actor.role, actor.team_id) {
        (Role::Admin, _) => Scope::All,
        (Role::Director, None) => Scope::All,
        (Role::Director, Some(team)) => {
            let at_root = teams.iter().any(|t| t.id == team && t.parent_id.is_none());
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
    /// Whether a record owned by `owner` (who is on `owner_team`) is in scope.
    pub fn covers(&self, owner: Option<UserId>, owner_team: Option<TeamId>) -> bool {
        match self {
            Scope::All => true,
            Scope::Own { user_id } => owner == Some(*user_id),
            Scope::Teams { user_id, teams } => {
                owner == Some(*user_id) || owner_team.is_some_and(|t| teams.contains(&t))
            }
        }
    }

    /// Whether the actor may manage other people's records (assign owners, see unowned ones).
    pub fn is_manager(&self) -> bool {
        !matches!(self, Scope::Own { .. })
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

    #[test]
    fn scope_by_role_and_team() {
        let t = tree();
        let actor = |role, team| Actor {
            user_id: 9,
            role,
            team_id: team,
        };
        let cases = [
            (actor(Role::Admin, Some(4)), Scope::All),
            (actor(Role::Director, Some(1)), Scope::All),
            (actor(Role::Director, None), Scope::All),
            (
                actor(Role::Director, Some(2)),
                Scope::Teams {
                    user_id: 9,
                    teams: vec![2, 4, 5],
                },
            ),
            (
                actor(Role::Manager, Some(4)),
                Scope::Teams {
                    user_id: 9,
                    teams: vec![4],
                },
            ),
            (actor(Role::Manager, None), Scope::Own { user_id: 9 }),
            (actor(Role::Rep, Some(4)), Scope::Own { user_id: 9 }),
        ];
        for (a, want) in cases {
            assert_eq!(scope(&a, &t), want, "{a:?}");
        }
    }

    #[test]
    fn covers_owner_and_team() {
        let s = Scope::Teams {
            user_id: 9,
            teams: vec![2, 4],
        };
        assert!(s.covers(Some(9), None));
        assert!(s.covers(Some(1), Some(4)));
        assert!(!s.covers(Some(1), Some(3)));
        assert!(!s.covers(None, None));
        let own = Scope::Own { user_id: 9 };
        assert!(own.covers(Some(9), Some(3)));
        assert!(!own.covers(Some(8), Some(3)));
        assert!(Scope::All.covers(None, None));
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
