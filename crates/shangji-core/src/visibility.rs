//! Who may see and edit what. Decided here, once; the store turns a [`Scope`] into SQL in
//! exactly one function, and every list, get, search, update and export goes through it.
//!
//! - admin: everything;
//! - director: their team's subtree, or the whole company when placed at the root (or on
//!   no team);
//! - manager: their team's subtree (plus what they own themselves);
//! - rep: what they own; read-only, the accounts (and their contacts) on which they own an
//!   opportunity.
//!
//! Leads and accounts without an owner wait in the public pool (公海). Who sees which of
//! them is [`PoolRegions`]: a team may cover regions, and the people under it see the pool
//! records of those regions (and those of no region, or of a region no team covers).

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
        pool: PoolRegions,
    },
    /// Records owned by `user_id` only.
    Own {
        user_id: UserId,
        pool: PoolRegions,
    },
}

/// Which public-pool leads and accounts (no owner) a user sees, by the record's `region`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum PoolRegions {
    /// The whole pool: no team on the user's line covers a region.
    #[default]
    All,
    /// Records of `mine` (the regions of the nearest team on the user's line that covers
    /// any), of no region, or of a region outside `covered` (no team covers it, so that
    /// nothing in the pool is out of everyone's sight).
    Only {
        mine: Vec<String>,
        covered: Vec<String>,
    },
}

impl PoolRegions {
    /// The pool regions of a user on `team`: see [`PoolRegions::Only`].
    pub fn of(team: Option<TeamId>, teams: &[Team]) -> PoolRegions {
        let mut line = Vec::new();
        let mut t = team;
        while let Some(id) = t {
            if line.contains(&id) {
                break;
            }
            line.push(id);
            t = teams.iter().find(|x| x.id == id).and_then(|x| x.parent_id);
        }
        let clean = |list: &[String]| -> Vec<String> {
            let mut out: Vec<String> = list
                .iter()
                .map(|r| r.trim().to_string())
                .filter(|r| !r.is_empty())
                .collect();
            out.sort();
            out.dedup();
            out
        };
        let mine = line.iter().find_map(|id| {
            let own = clean(&teams.iter().find(|x| x.id == *id)?.regions);
            (!own.is_empty()).then_some(own)
        });
        match mine {
            None => PoolRegions::All,
            Some(mine) => {
                let all: Vec<String> = teams
                    .iter()
                    .filter(|t| !t.archived)
                    .flat_map(|t| t.regions.iter().cloned())
                    .collect();
                PoolRegions::Only {
                    mine,
                    covered: clean(&all),
                }
            }
        }
    }

    /// Whether a pool record of `region` is in sight.
    pub fn sees(&self, region: Option<&str>) -> bool {
        match (self, region.map(str::trim).filter(|r| !r.is_empty())) {
            (PoolRegions::All, _) | (_, None) => true,
            (PoolRegions::Only { mine, covered }, Some(r)) => {
                mine.iter().any(|m| m == r) || !covered.iter().any(|c| c == r)
            }
        }
    }
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
    let pool = PoolRegions::of(actor.team_id, &org.teams);
    let own = Scope::Own {
        user_id: actor.user_id,
        pool: pool.clone(),
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
            pool: pool.clone(),
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
            Scope::Own { user_id, .. } => owner == Some(*user_id),
            Scope::Teams { members, .. } => {
                owner.is_some_and(|o| members.binary_search(&o).is_ok())
            }
        }
    }

    /// Whether the actor sees a user's contact details (email, mobile), leave and language:
    /// their own, those of the people they manage — the users their scope covers — and, for
    /// admins and directors at the top, everyone's. Everyone signed in sees who a user is:
    /// name, login, role, team and whether active.
    pub fn sees_details_of(&self, user: UserId) -> bool {
        self.covers(Some(user))
    }

    /// Whether the actor may manage other people's records (assign owners, see unowned ones).
    pub fn is_manager(&self) -> bool {
        !matches!(self, Scope::Own { .. })
    }

    /// Which public-pool leads and accounts are in sight.
    pub fn pool(&self) -> &PoolRegions {
        const ALL: &PoolRegions = &PoolRegions::All;
        match self {
            Scope::All => ALL,
            Scope::Teams { pool, .. } | Scope::Own { pool, .. } => pool,
        }
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
            regions: vec![],
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
    fn user_details_are_seen_by_the_user_their_managers_and_admins() {
        let o = org();
        let sees = |role, team, user| {
            let actor = Actor {
                user_id: 9,
                role,
                team_id: team,
            };
            scope(&actor, &o).sees_details_of(user)
        };
        for (role, team, user, want) in [
            (Role::Rep, Some(4), 9, true),
            (Role::Rep, Some(4), 20, false),
            (Role::Manager, Some(4), 20, true),
            (Role::Manager, Some(4), 21, false),
            (Role::Director, Some(2), 21, true),
            (Role::Director, Some(2), 22, false),
            (Role::Director, Some(1), 23, true),
            (Role::Admin, None, 22, true),
        ] {
            assert_eq!(
                sees(role, team, user),
                want,
                "{role:?} on {team:?} → {user}"
            );
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
            pool: PoolRegions::All,
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
            (actor(Role::Manager, None), own(9)),
            (actor(Role::Rep, Some(4)), own(9)),
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
            pool: PoolRegions::All,
        };
        let cases = [
            (s.clone(), Some(9), true),
            (s.clone(), Some(21), true),
            (s.clone(), Some(22), false),
            (s, None, false),
            (own(9), Some(9), true),
            (own(9), Some(8), false),
            (own(9), None, false),
            (Scope::All, None, true),
        ];
        for (scope, owner, want) in cases {
            assert_eq!(scope.covers(owner), want, "{scope:?} {owner:?}");
        }
    }

    fn own(user_id: UserId) -> Scope {
        Scope::Own {
            user_id,
            pool: PoolRegions::All,
        }
    }

    #[test]
    fn pool_regions_from_the_nearest_team_that_covers_any() {
        // 华东 (2) covers 华东 and 上海; 华南 (3) covers 华南; 上海组 (4) and 杭州组 (5)
        // cover nothing of their own.
        let mut teams = tree();
        teams[1].regions = vec!["华东".into(), " 上海 ".into()];
        teams[2].regions = vec!["华南".into()];
        let covered: Vec<String> = ["上海", "华东", "华南"].map(String::from).to_vec();
        let only = |mine: &[&str]| PoolRegions::Only {
            mine: mine.iter().map(|s| s.to_string()).collect(),
            covered: covered.clone(),
        };
        assert_eq!(PoolRegions::of(Some(4), &teams), only(&["上海", "华东"]));
        assert_eq!(PoolRegions::of(Some(2), &teams), only(&["上海", "华东"]));
        assert_eq!(PoolRegions::of(Some(3), &teams), only(&["华南"]));
        assert_eq!(PoolRegions::of(Some(1), &teams), PoolRegions::All);
        assert_eq!(PoolRegions::of(None, &teams), PoolRegions::All);
        let east = only(&["上海", "华东"]);
        let cases = [
            (Some("华东"), true),
            (Some("上海"), true),
            (Some("华南"), false),
            // No region, or one no team covers: everyone's.
            (None, true),
            (Some(" "), true),
            (Some("西北"), true),
        ];
        for (region, want) in cases {
            assert_eq!(east.sees(region), want, "{region:?}");
            assert!(PoolRegions::All.sees(region));
        }
        // The scope carries them; admins see the whole pool.
        let o = Org {
            teams,
            users: vec![(9, Some(4))],
        };
        let rep = Actor {
            user_id: 9,
            role: Role::Rep,
            team_id: Some(4),
        };
        assert_eq!(scope(&rep, &o).pool(), &east);
        let admin = Actor {
            role: Role::Admin,
            ..rep
        };
        assert_eq!(scope(&admin, &o).pool(), &PoolRegions::All);
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
